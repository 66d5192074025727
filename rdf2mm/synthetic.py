"""Synthetic multimodal RDF graphs with planted, known label signal.

:func:`generate` writes a context graph whose target entities (``ex:Item``) carry
literals of every modality (numeric, temporal, textual, visual, spatial, boolean) plus
random entity structure (``ex:Group``, ``ex:Tag``, item-item links). The class label is
planted only where asked:

* each literal of a modality listed in ``signal`` follows its item's class distribution
  with probability ``strength`` and a random class's distribution otherwise; literals
  of other modalities always follow a random class's distribution, so their marginal
  is the same but they carry no information;
* with ``structure_signal = p`` an item joins a group of its own class block with
  probability ``p`` (``p = 0``: group choice is independent of the label).

Structure for link prediction is planted independently of the label: every item has
a latent cluster, and with probability ``link_strength`` its group, tags and related
item come from that cluster, so held-out links are predictable.

Class-conditional distributions (``z`` = the class a literal follows, ``K`` classes):

==========  ================================================================
numeric     ``x = z + N(0, 0.12)``, affinely mapped per predicate (decimal,
            integer incl. negatives, double in E-notation, float)
temporal    xsd:date year in ``[1900+10z, 1908+10z]``, dateTime year in
            ``[1950+5z, 1953+5z]``, gYear in a block of ``[-500, 2000)`` (so
            negative and < 4-digit years occur, half of them unpadded like the
            MR-GCN reference data)
textual     class-specific pseudo-words mixed into shared words (xsd:string,
            plain literal, ``@en``/``@nl`` language-tagged)
visual      small JPEG (or PNG): a filled shape (disk/square/triangle by
            ``z % 3``) with hue ``z / K`` on a noisy grey background
spatial     POLYGON with ``3 + z`` vertices (random centre, size, rotation,
            jitter; negative coordinates); the POINT location is always
            class-independent, since a point centred on itself has no shape
boolean     ``z % 2 == 1`` (a boolean carries at most two classes of signal)
==========  ================================================================

Output scales from 10^3 to 10^7 triples: lines are built and written in chunks of
items; only integer arrays for the whole graph are held in memory. Images are the
expensive part, so only the first ``max_images`` items (default 20,000) get one.
Everything is deterministic given the parameters (gzip output carries no timestamp).
"""
from __future__ import annotations

import base64
import gzip
import io
import json
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

import numpy as np

from rdf2mm.errors import UsageError
from rdf2mm.io.atomic import public_mode
from rdf2mm.vocab import GEO, KGB, RDF, RDFS, XSD

__all__ = [
    "EX",
    "MODALITIES",
    "TARGET_CLASS",
    "TARGET_PREDICATE",
    "GeneratedDataset",
    "class_iri",
    "generate",
    "item_iri",
    "parse_signal",
]

EX = "http://example.org/rdf2mm/synth#"

TARGET_CLASS = EX + "Item"
TARGET_PREDICATE = EX + "hasClass"
MODALITIES: tuple[str, ...] = ("numeric", "temporal", "textual", "visual", "spatial", "boolean")

MAX_CLASSES = 50  # polygons carry 3 + class vertices; keep rings under ~64 points
CHUNK_ITEMS = 10_000  # items per written chunk: bounds memory, fixed so output is seed-stable
ENTITY_CHUNK = 200_000
IMAGE_BATCH = 2_000
GZIP_LEVEL = 3  # level 6 roughly halves throughput on 10^7-triple graphs for ~10% smaller files

# datatype IRI -> modality, for every datatype the generator writes
DATATYPE_MODALITY: dict[str, str] = {
    XSD + "decimal": "numeric",
    XSD + "integer": "numeric",
    XSD + "double": "numeric",
    XSD + "float": "numeric",
    XSD + "date": "temporal",
    XSD + "dateTime": "temporal",
    XSD + "gYear": "temporal",
    XSD + "string": "textual",
    RDF + "langString": "textual",
    KGB + "base64Image": "visual",
    GEO + "wktLiteral": "spatial",
    XSD + "boolean": "boolean",
}

# deliberately ill-typed lexical forms, per datatype (textual literals cannot be ill-typed)
_BAD: dict[str, list[str]] = {
    XSD + "decimal": ["abc", "1.2.3", "12,50", "--3", "n/a"],
    XSD + "integer": ["abc", "12.5", "1,000", "seven", "0x1F"],
    XSD + "double": ["abc", "1.2.3", "1,5e3", "e10x", "--1.0"],
    XSD + "float": ["abc", "1.2.3", "3,14", "NaNa", "1e"],
    XSD + "date": ["1990-02-30", "2001-02-29", "1999-13-01", "2010-04-31", "1985-00-10", "not a date"],
    XSD + "dateTime": ["1990-02-30T10:00:00", "1999-01-01T25:00:00", "2003-06-15T12:61:00", "2001-02-29T00:00:00", "yesterday"],
    XSD + "gYear": ["19x4", "MCMXC", "year", "12.5", "--1999"],
    XSD + "boolean": ["yes", "no", "TRUE", "maybe", "2"],
    # not base64 at all / bad padding / valid base64 of bytes that are no image
    KGB + "base64Image": [
        "@@not-base64@@",
        "abc",
        base64.urlsafe_b64encode(bytes(range(7, 55))).decode("ascii"),
    ],
    GEO + "wktLiteral": ["POLYGON ((0 0, 1 1, 1 0)", "POINT (abc def)", "CIRCLE (0 0, 5)", "POINT 1 2", "POLYGON 0 0"],
}

# (predicate local name, datatype IRI or None for plain / "lang" for language-tagged)
_ITEM_LITERALS: dict[str, list[tuple[str, str | None]]] = {
    "numeric": [("price", XSD + "decimal"), ("count", XSD + "integer"), ("score", XSD + "double"), ("weight", XSD + "float")],
    "temporal": [("date", XSD + "date"), ("timestamp", XSD + "dateTime"), ("era", XSD + "gYear")],
    "textual": [("description", XSD + "string"), ("title", None), ("note", "lang")],
    "visual": [("image", KGB + "base64Image")],
    "spatial": [("footprint", GEO + "wktLiteral"), ("location", GEO + "wktLiteral")],
    "boolean": [("flag", XSD + "boolean")],
}
_RELATIONS = ("inGroup", "hasTag", "relatedTo", "subGroupOf")
_ITEM_TRIPLES_NO_IMAGE = 1 + 4 + 3 + 3 + 2 + 1 + 1 + 2 + 1  # type, literals, inGroup, ~2 tags, relatedTo
_GROUP_TRIPLES = 4  # type, name, founded, subGroupOf
_TAG_TRIPLES = 2  # type, label

# stream ids for SeedSequence: each part of the output draws from its own stream, so
# changing one part (e.g. max_images) does not reshuffle the others
_S_LABELS, _S_STRUCT, _S_LP, _S_GROUPS, _S_ITEMS = 1, 2, 3, 4, 5


# --------------------------------------------------------------------------- API


@dataclass(frozen=True)
class GeneratedDataset:
    """What :func:`generate` wrote: the folder, its manifest, and the time it took."""

    out_dir: Path
    manifest: dict[str, Any]
    elapsed_s: float

    @property
    def graph_path(self) -> Path:
        return self.out_dir / self.manifest["paths"]["graph"]

    def labels_path(self, split: str) -> Path:
        """``labels/<split>.nt`` for ``train``, ``valid`` or ``test``."""
        return self.out_dir / self.manifest["paths"]["labels"][split]

    def lp_path(self, split: str) -> Path:
        """Link-prediction split file for ``train``, ``valid`` or ``test``."""
        return self.out_dir / self.manifest["paths"]["lp"][split]

    @property
    def triples(self) -> int:
        return int(self.manifest["counts"]["triples"])


def item_iri(i: int) -> str:
    """The IRI of item ``i``."""
    return f"{EX}item_{i}"


def class_iri(k: int) -> str:
    """The IRI of class ``k`` (object of the label triples)."""
    return f"{EX}class_{k}"


def parse_signal(signal: str | Iterable[str] | None) -> tuple[str, ...]:
    """Normalise a signal spec: ``"all"``, ``"none"``, ``"numeric,visual"`` or a list of names."""
    if signal is None:
        return ()
    if isinstance(signal, str):
        text = signal.strip().lower()
        if text == "all":
            return MODALITIES
        if text in ("none", ""):
            return ()
        names = [s.strip() for s in text.split(",") if s.strip()]
    else:
        names = [str(s).strip().lower() for s in signal]
        if names == ["all"]:
            return MODALITIES
        if names == ["none"]:
            return ()
    unknown = [n for n in names if n not in MODALITIES]
    if "structure" in unknown:
        raise UsageError("structure is not a literal modality: use --structure-signal / structure_signal instead")
    if unknown:
        raise UsageError(f"unknown modality {', '.join(unknown)!s} in signal; choose from {', '.join(MODALITIES)}, all or none")
    return tuple(m for m in MODALITIES if m in names)  # canonical order, duplicates dropped


def generate(
    out_dir: str | os.PathLike[str],
    *,
    triples: int = 10_000,
    classes: int = 2,
    signal: str | Iterable[str] | None = MODALITIES,
    structure_signal: float = 0.0,
    strength: float = 1.0,
    ill_typed: float = 0.0,
    seed: int = 0,
    format: str = "nt",
    compress: bool = False,
    image_size: int = 32,
    image_format: str = "jpeg",
    max_images: int = 20_000,
    split: Sequence[float] = (0.6, 0.2, 0.2),
    lp_split: Sequence[float] = (0.8, 0.1, 0.1),
    link_strength: float = 0.8,
) -> GeneratedDataset:
    """Write a synthetic multimodal graph, labels, link-prediction splits and a manifest.

    ``triples`` sets the graph size (within a few percent); ``signal`` names the
    modalities that carry the label; ``strength`` is the probability that one of their
    literals follows its item's class; ``structure_signal`` the probability that an item
    joins a group of its class; ``ill_typed`` the share of literals per modality written
    ill-typed on purpose. Files appear in ``out_dir`` only once all are complete.
    """
    started = time.perf_counter()
    p = _validate(
        triples=triples, classes=classes, signal=signal, structure_signal=structure_signal,
        strength=strength, ill_typed=ill_typed, seed=seed, format=format, compress=compress,
        image_size=image_size, image_format=image_format, max_images=max_images,
        split=split, lp_split=lp_split, link_strength=link_strength,
    )
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output path {out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    public_mode(tmp, folder=True)  # mkdtemp's 0700 would otherwise stick to a fresh out_dir
    try:
        manifest = _Generator(p).run(tmp)
        _move_into(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return GeneratedDataset(out_dir=out, manifest=manifest, elapsed_s=time.perf_counter() - started)


# --------------------------------------------------------------------------- parameters


def _validate(**kw: Any) -> dict[str, Any]:
    def num(name: str, lo: float, hi: float) -> float:
        v = kw[name]
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise UsageError(f"{name} must be a number, got {v!r}") from None
        if not (lo <= f <= hi) or math.isnan(f):
            raise UsageError(f"{name} must be between {lo:g} and {hi:g}, got {v!r}")
        return f

    def integer(name: str, lo: int, hi: int | None = None) -> int:
        v = kw[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise UsageError(f"{name} must be an integer, got {v!r}")
        if v < lo or (hi is not None and v > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise UsageError(f"{name} must be {bound}, got {v}")
        return int(v)

    def fractions(name: str) -> tuple[float, float, float]:
        v = kw[name]
        try:
            t = tuple(float(x) for x in v)
        except (TypeError, ValueError):
            raise UsageError(f"{name} must be three fractions train,valid,test, got {v!r}") from None
        if len(t) != 3 or any(x < 0 or math.isnan(x) for x in t) or abs(sum(t) - 1.0) > 1e-6 or t[0] <= 0:
            raise UsageError(f"{name} must be three non-negative fractions summing to 1 with train > 0, got {v!r}")
        return t  # type: ignore[return-value]

    p: dict[str, Any] = {
        "classes": integer("classes", 2, MAX_CLASSES),
        "seed": integer("seed", 0, 2**63 - 1),
        "image_size": integer("image_size", 8, 256),
        "max_images": integer("max_images", 0),
        "strength": num("strength", 0.0, 1.0),
        "structure_signal": num("structure_signal", 0.0, 1.0),
        "ill_typed": num("ill_typed", 0.0, 1.0),
        "link_strength": num("link_strength", 0.0, 1.0),
        "split": fractions("split"),
        "lp_split": fractions("lp_split"),
        "signal": parse_signal(kw["signal"]),
        "compress": bool(kw["compress"]),
    }
    fmt = str(kw["format"]).lower()
    if fmt in ("turtle",):
        fmt = "ttl"
    if fmt not in ("nt", "ttl"):
        raise UsageError(f"format must be nt or ttl, got {kw['format']!r}")
    p["format"] = fmt
    imgf = str(kw["image_format"]).lower()
    if imgf == "jpg":
        imgf = "jpeg"
    if imgf not in ("jpeg", "png"):
        raise UsageError(f"image_format must be jpeg or png, got {kw['image_format']!r}")
    p["image_format"] = imgf
    p["triples"] = integer("triples", 1)
    need = _estimate(10 * p["classes"], p["classes"], p["max_images"])
    if p["triples"] < need:
        raise UsageError(
            f"triples={p['triples']} is too small for {p['classes']} classes: need at least {need} "
            f"(10 items per class)"
        )
    return p


def _sizes(n_items: int, k: int) -> tuple[int, int, int, int]:
    """(clusters, groups per (class, cluster), groups, tags) for ``n_items`` items."""
    c = int(min(64, max(2, round(math.sqrt(n_items) / 3))))
    m = max(1, round(n_items / (25 * k * c)))  # ~25 items per group
    tags_per_cluster = max(1, round(n_items / (10 * c)))  # ~2 tags per item, ~20 items per tag
    return c, m, k * c * m, c * tags_per_cluster


def _estimate(n_items: int, k: int, max_images: int) -> int:
    _, _, g, t = _sizes(n_items, k)
    return n_items * _ITEM_TRIPLES_NO_IMAGE + min(n_items, max_images) + g * _GROUP_TRIPLES + t * _TAG_TRIPLES


def _plan_items(triples: int, k: int, max_images: int) -> int:
    """The number of items whose expected triple count is closest to ``triples``."""
    lo, hi = 1, max(2, triples)
    while lo < hi:  # smallest n with estimate >= triples (the estimate grows with n)
        mid = (lo + hi) // 2
        if _estimate(mid, k, max_images) >= triples:
            hi = mid
        else:
            lo = mid + 1
    n = lo
    if n > 1 and abs(_estimate(n - 1, k, max_images) - triples) < abs(_estimate(n, k, max_images) - triples):
        n -= 1
    return max(n, 10 * k)


# --------------------------------------------------------------------------- output


class _Syntax:
    """How terms are spelled in N-Triples or Turtle (prefixed names, one triple a line)."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        if fmt == "nt":
            self.ex_open, self.close = f"<{EX}", ">"
            self.rdf_type = f"<{RDF}type>"
            self.rdfs_label = f"<{RDFS}label>"
            self.header = ""
        else:
            self.ex_open, self.close = "ex:", ""
            self.rdf_type = "a"
            self.rdfs_label = "rdfs:label"
            self.header = (
                f"@prefix ex: <{EX}> .\n@prefix xsd: <{XSD}> .\n@prefix rdf: <{RDF}> .\n"
                f"@prefix rdfs: <{RDFS}> .\n@prefix geo: <{GEO}> .\n@prefix kgb: <{KGB}> .\n\n"
            )

    def ex(self, local: str) -> str:
        return f"{self.ex_open}{local}{self.close}"

    def datatype(self, iri: str | None) -> str:
        if iri is None:
            return ""
        if self.fmt == "nt":
            return f"^^<{iri}>"
        for ns, pfx in ((XSD, "xsd:"), (GEO, "geo:"), (KGB, "kgb:"), (RDF, "rdf:")):
            if iri.startswith(ns):
                return "^^" + pfx + iri[len(ns):]
        return f"^^<{iri}>"


class _Sink:
    """A text output file, optionally gzip-compressed without a timestamp (byte-stable)."""

    def __init__(self, path: Path, compress: bool, header: str):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw: IO[bytes] = open(path, "wb")
        self._fh: IO[bytes] = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=GZIP_LEVEL)
            if compress
            else self._raw
        )
        self.lines = 0
        if header:
            self._fh.write(header.encode("utf-8"))

    def write(self, lines: list[str]) -> None:
        if lines:
            self._fh.write("".join(lines).encode("utf-8"))
            self.lines += len(lines)

    def close(self) -> None:
        if self._fh is not self._raw:
            self._fh.close()
        self._raw.close()


def _move_into(tmp: Path, out: Path) -> None:
    """Move the finished files from ``tmp`` into ``out``, leaving unrelated files there alone."""
    if not out.exists():
        os.replace(tmp, out)
        return
    for src in sorted(tmp.rglob("*")):
        if src.is_file():
            dst = out / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)


# --------------------------------------------------------------------------- content


def _vocabulary(k: int) -> tuple[list[str], list[list[str]]]:
    """Shared words and per-class words; fixed (seed-independent) so vocabularies are stable."""
    rng = np.random.default_rng(20_240_601)
    onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "kl"]
    vowels = ["a", "e", "i", "o", "u", "ei", "oo", "au"]
    codas = ["", "", "n", "r", "s", "l", "k", "m"]
    n_shared, per_class = 400, 12
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < n_shared + per_class * MAX_CLASSES:
        n_syl = int(rng.integers(2, 4))
        w = "".join(
            onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))] + codas[rng.integers(len(codas))]
            for _ in range(n_syl)
        )
        if w not in seen:
            seen.add(w)
            words.append(w)
    # a few shared words exercise UTF-8 and escaping; text is joined from escaped words
    shared = words[: n_shared - 4] + ["café", "naïve", "coöperatie", '\\"quoted\\"']
    per = [words[n_shared + per_class * c : n_shared + per_class * (c + 1)] for c in range(k)]
    return shared, per


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=1)


class _Generator:
    def __init__(self, p: dict[str, Any]):
        self.p = p
        self.k: int = p["classes"]
        self.syn = _Syntax(p["format"])
        self.ext = (".nt" if p["format"] == "nt" else ".ttl") + (".gz" if p["compress"] else "")
        self.n = _plan_items(p["triples"], self.k, p["max_images"])
        self.c, self.m, self.g, self.t = _sizes(self.n, self.k)
        self.n_images = min(self.n, p["max_images"])
        self.signal = set(p["signal"])
        self.by_datatype: Counter[str] = Counter()
        self.ill: Counter[str] = Counter()
        self.quirks: Counter[str] = Counter()
        self.shared_words, self.class_words = _vocabulary(self.k)

    def rng(self, *stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.p["seed"], *stream]))

    # ---------------------------------------------------------------- orchestration

    def run(self, tmp: Path) -> dict[str, Any]:
        p, syn = self.p, self.syn
        labels = self.make_labels()
        rels = self.make_structure(labels)
        lp_split = self.split_links(rels)

        paths = {
            "graph": "graph" + self.ext,
            "labels": {s: f"labels/{s}.nt" for s in ("train", "valid", "test")},
            "labels_tsv": "labels/all.tsv",
            "lp": {s: f"lp/{s}{self.ext}" for s in ("train", "valid", "test")},
            "manifest": "manifest.json",
        }
        graph = _Sink(tmp / paths["graph"], p["compress"], syn.header)
        lp = {s: _Sink(tmp / paths["lp"][s], p["compress"], syn.header) for s in ("train", "valid", "test")}
        sinks = [graph, *lp.values()]
        try:
            lit_count = 0
            ent_count = 0
            # rdf:type triples: schema, in the graph and the LP training split only
            for kind, count, cls in (("item", self.n, "Item"), ("group", self.g, "Group"), ("tag", self.t, "Tag")):
                for lo in range(0, count, ENTITY_CHUNK):
                    ids = range(lo, min(count, lo + ENTITY_CHUNK))
                    o, c, typ, obj = syn.ex_open, syn.close, syn.rdf_type, syn.ex(cls)
                    lines = [f"{o}{kind}_{i}{c} {typ} {obj} .\n" for i in ids]
                    graph.write(lines)
                    lp["train"].write(lines)
                    ent_count += len(lines)
            # entity-entity relations, routed to the LP split they fell into
            for r, (name, hk, tk, h, t) in enumerate(rels):
                split_r = lp_split[r]
                pred = syn.ex(name)
                o, c = syn.ex_open, syn.close
                for lo in range(0, len(h), ENTITY_CHUNK):
                    hs, ts, ss = h[lo:lo + ENTITY_CHUNK].tolist(), t[lo:lo + ENTITY_CHUNK].tolist(), split_r[lo:lo + ENTITY_CHUNK]
                    lines = [f"{o}{hk}_{a}{c} {pred} {o}{tk}_{b}{c} .\n" for a, b in zip(hs, ts)]
                    graph.write(lines)
                    for code, s in enumerate(("train", "valid", "test")):
                        sel = np.flatnonzero(ss == code).tolist()
                        lp[s].write([lines[j] for j in sel])
                    ent_count += len(lines)
            # literals: all in the graph and in the LP training split
            for lines in self.group_tag_literals():
                graph.write(lines)
                lp["train"].write(lines)
                lit_count += len(lines)
            for lo in range(0, self.n, CHUNK_ITEMS):
                lines = self.item_literals(lo, min(self.n, lo + CHUNK_ITEMS), labels)
                graph.write(lines)
                lp["train"].write(lines)
                lit_count += len(lines)
        finally:
            for s in sinks:
                s.close()

        label_counts = self.write_labels(tmp, paths, labels)
        manifest = self.manifest(paths, graph.lines, ent_count, lit_count, label_counts, {s: lp[s].lines for s in lp}, rels)
        with open(tmp / paths["manifest"], "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
        return manifest

    # ---------------------------------------------------------------- labels and structure

    def make_labels(self) -> dict[str, np.ndarray]:
        """Balanced classes and a stratified train/valid/test split (0/1/2 per item)."""
        rng = self.rng(_S_LABELS)
        y = rng.permutation(np.arange(self.n) % self.k)
        split = np.zeros(self.n, dtype=np.int8)
        fv, ft = self.p["split"][1], self.p["split"][2]
        for cls in range(self.k):
            idx = rng.permutation(np.flatnonzero(y == cls))
            nv, nt = round(len(idx) * fv), round(len(idx) * ft)
            # every split asked for gets at least one item of every class
            nv = max(nv, 1) if fv > 0 else 0
            nt = max(nt, 1) if ft > 0 else 0
            split[idx[:nv]] = 1
            split[idx[nv:nv + nt]] = 2
        return {"y": y, "split": split}

    def make_structure(self, labels: dict[str, np.ndarray]) -> list[tuple[str, str, str, np.ndarray, np.ndarray]]:
        """Entity-entity relations: (name, head kind, tail kind, heads, tails)."""
        rng = self.rng(_S_STRUCT)
        n, k, c, m, t_count = self.n, self.k, self.c, self.m, self.t
        y = labels["y"]
        # latent cluster: drawn independently of the label, drives the LP structure
        cluster = rng.permutation(np.arange(n) % c)
        ls = self.p["link_strength"]

        def pick_cluster(size: int, own: np.ndarray) -> np.ndarray:
            return np.where(rng.random(size) < ls, own, rng.integers(0, c, size))

        # group id = class part + k * (cluster part + c * j)
        class_part = np.where(rng.random(n) < self.p["structure_signal"], y, rng.integers(0, k, n))
        group = class_part + k * (pick_cluster(n, cluster) + c * rng.integers(0, m, n))

        # 1-3 tags per item from its cluster (tag id = cluster part + c * j); duplicates dropped
        per = t_count // c
        n_tags = rng.integers(1, 4, n)
        cand_h = np.repeat(np.arange(n), 3)
        cand_t = pick_cluster(3 * n, np.repeat(cluster, 3)) + c * rng.integers(0, per, 3 * n)
        keep = (np.arange(3 * n) % 3) < np.repeat(n_tags, 3)
        key = np.unique(cand_h[keep].astype(np.int64) * t_count + cand_t[keep])
        tag_h, tag_t = key // t_count, key % t_count

        # one related item per item, from its cluster; never itself
        order = np.argsort(cluster, kind="stable")
        starts = np.searchsorted(cluster[order], np.arange(c))
        sizes = np.bincount(cluster, minlength=c)
        target_cluster = pick_cluster(n, cluster)
        rel = order[starts[target_cluster] + (rng.random(n) * sizes[target_cluster]).astype(np.int64)]
        clash = rel == np.arange(n)
        rel[clash] = (rel[clash] + 1) % n

        # every group is a sub-group of another group of the same cluster part
        g_ids = np.arange(self.g)
        g_cluster = (g_ids // k) % c
        parent = rng.integers(0, k, self.g) + k * (g_cluster + c * rng.integers(0, m, self.g))
        clash = parent == g_ids
        parent[clash] = k * (parent[clash] // k) + (parent[clash] + 1) % k  # other class part, same cluster

        return [
            ("inGroup", "item", "group", np.arange(n), group),
            ("hasTag", "item", "tag", tag_h, tag_t),
            ("relatedTo", "item", "item", np.arange(n), rel),
            ("subGroupOf", "group", "group", g_ids, parent),
        ]

    def split_links(self, rels: list[tuple[str, str, str, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Assign every entity-entity triple to train/valid/test (0/1/2).

        Held-out triples whose head, tail or relation would be missing from train are
        moved back to train (one per such entity); moving back only adds train
        occurrences, so a single pass suffices.
        """
        rng = self.rng(_S_LP)
        offset = {"item": 0, "group": self.n, "tag": self.n + self.g}
        heads = np.concatenate([h + offset[hk] for _, hk, _, h, _ in rels])
        tails = np.concatenate([t + offset[tk] for _, _, tk, _, t in rels])
        rel_id = np.concatenate([np.full(len(h), r) for r, (_, _, _, h, _) in enumerate(rels)])
        total = len(heads)
        fv, ft = self.p["lp_split"][1], self.p["lp_split"][2]
        u = rng.random(total)
        split = np.where(u < fv, 1, np.where(u < fv + ft, 2, 0)).astype(np.int8)
        n_ent = self.n + self.g + self.t
        train = split == 0
        deg = np.bincount(heads[train], minlength=n_ent) + np.bincount(tails[train], minlength=n_ent)
        held = np.flatnonzero(~train)
        ents = np.concatenate([heads[held], tails[held]])
        rows = np.concatenate([held, held])
        orphan = deg[ents] == 0
        _, first = np.unique(ents[orphan], return_index=True)
        split[rows[orphan][first]] = 0
        rel_train = np.bincount(rel_id[split == 0], minlength=len(rels))
        for r in np.flatnonzero(rel_train == 0):
            split[np.flatnonzero(rel_id == r)[0]] = 0
        bounds = np.cumsum([0] + [len(h) for _, _, _, h, _ in rels])
        return [split[bounds[r]:bounds[r + 1]] for r in range(len(rels))]

    # ---------------------------------------------------------------- literals

    def emit(
        self,
        rng: np.random.Generator,
        kind: str,
        ids: list[int],
        pred: str,
        lex: list[str],
        datatype: str | None,
        langs: list[str] | None = None,
    ) -> list[str]:
        """Lines for one literal predicate; a share ``ill_typed`` replaced by bad forms."""
        dt_iri = RDF + "langString" if langs is not None else (datatype or XSD + "string")
        bad = _BAD.get(dt_iri)
        if bad and self.p["ill_typed"] > 0:
            hit = np.flatnonzero(rng.random(len(lex)) < self.p["ill_typed"])
            choice = rng.integers(0, len(bad), len(hit))
            for j, b in zip(hit.tolist(), choice.tolist()):
                lex[j] = bad[b]
            self.ill[dt_iri] += len(hit)
        self.by_datatype[dt_iri] += len(lex)
        # tags are labelled with rdfs:label, everything else uses ex: predicates
        o, c, pr = self.syn.ex_open, self.syn.close, self.syn.ex(pred) if pred != "label" else self.syn.rdfs_label
        if langs is not None:
            return [f'{o}{kind}_{i}{c} {pr} "{v}"@{lg} .\n' for i, v, lg in zip(ids, lex, langs)]
        d = self.syn.datatype(datatype)
        return [f'{o}{kind}_{i}{c} {pr} "{v}"{d} .\n' for i, v in zip(ids, lex)]

    def latent(self, modality: str, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The class each literal follows: the item's own with prob. strength if planted, else random."""
        rand = rng.integers(0, self.k, len(y))
        if modality not in self.signal:
            return rand
        return np.where(rng.random(len(y)) < self.p["strength"], y, rand)

    def group_tag_literals(self) -> Iterable[list[str]]:
        rng = self.rng(_S_GROUPS)
        for lo in range(0, self.g, ENTITY_CHUNK):
            ids = list(range(lo, min(self.g, lo + ENTITY_CHUNK)))
            yield self.emit(rng, "group", ids, "name", [f"Group {i}" for i in ids], XSD + "string")
            years = rng.integers(1500, 2021, len(ids)).tolist()
            yield self.emit(rng, "group", ids, "founded", [str(y) for y in years], XSD + "gYear")
        sw = self.shared_words
        for lo in range(0, self.t, ENTITY_CHUNK):
            ids = list(range(lo, min(self.t, lo + ENTITY_CHUNK)))
            words = rng.integers(0, len(sw), len(ids)).tolist()
            langs = np.where(rng.random(len(ids)) < 0.5, "en", "nl").tolist()
            yield self.emit(rng, "tag", ids, "label", [sw[w] for w in words], None, langs)

    def item_literals(self, lo: int, hi: int, labels: dict[str, np.ndarray]) -> list[str]:
        rng = self.rng(_S_ITEMS, lo // CHUNK_ITEMS)
        y = labels["y"][lo:hi]
        size = hi - lo
        ids = list(range(lo, hi))
        lines: list[str] = []

        # numeric: x = class + small noise, mapped per predicate
        for pred, dt in _ITEM_LITERALS["numeric"]:
            x = self.latent("numeric", y, rng) + rng.normal(0.0, 0.12, size)
            if pred == "price":
                lex = ["%.2f" % v for v in (100.0 + 100.0 * x).tolist()]
            elif pred == "count":
                lex = [str(v) for v in np.rint(1000.0 * (x - (self.k - 1) / 2)).astype(np.int64).tolist()]
            elif pred == "score":
                lex = ["%.6E" % v for v in (1e3 * x).tolist()]
            else:
                lex = ["%.4f" % v for v in (2.5 * (x - (self.k - 1) / 2)).tolist()]
            lines += self.emit(rng, "item", ids, pred, lex, dt)

        # temporal
        z = self.latent("temporal", y, rng)
        years = 1900 + 10 * z + rng.integers(0, 9, size)
        days = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]") + rng.integers(0, 365, size)
        lines += self.emit(rng, "item", ids, "date", np.datetime_as_string(days).tolist(), XSD + "date")
        z = self.latent("temporal", y, rng)
        years = 1950 + 5 * z + rng.integers(0, 4, size)
        secs = (years - 1970).astype("datetime64[Y]").astype("datetime64[s]") + rng.integers(0, 365 * 86_400, size)
        stamps = np.datetime_as_string(secs, unit="s").tolist()
        zulu = (rng.random(size) < 0.3).tolist()
        lines += self.emit(rng, "item", ids, "timestamp", [s + "Z" if zz else s for s, zz in zip(stamps, zulu)], XSD + "dateTime")
        z = self.latent("temporal", y, rng)
        width = 2500.0 / self.k
        gyear = np.floor(-500 + width * z + rng.random(size) * 0.8 * width).astype(np.int64)
        pad = (rng.random(size) < 0.5).tolist()
        lex = []
        for v, pd in zip(gyear.tolist(), pad):
            if abs(v) < 1000:
                if pd:  # the XSD form: at least four digits
                    lex.append(("-" if v < 0 else "") + "%04d" % abs(v))
                    self.quirks["gyear_padded_short"] += 1
                else:  # as in the MR-GCN reference data: fewer than four digits
                    lex.append(str(v))
                    self.quirks["gyear_unpadded_short"] += 1
            else:
                lex.append(str(v))
            if v < 0:
                self.quirks["gyear_negative"] += 1
        lines += self.emit(rng, "item", ids, "era", lex, XSD + "gYear")

        # textual: class words mixed into shared words
        lines += self.emit(rng, "item", ids, "description", self.texts(rng, y, 6, 10, 3), XSD + "string")
        lines += self.emit(rng, "item", ids, "title", self.texts(rng, y, 3, 3, 1), None)
        langs = np.where(rng.random(size) < 0.5, "en", "nl").tolist()
        lines += self.emit(rng, "item", ids, "note", self.texts(rng, y, 4, 4, 2), None, langs)

        # visual: only the first max_images items
        n_img = max(0, min(hi, self.n_images) - lo)
        if n_img:
            z = self.latent("visual", y[:n_img], rng)
            lex = []
            for b in range(0, n_img, IMAGE_BATCH):
                lex += self.images(rng, z[b:b + IMAGE_BATCH])
            lines += self.emit(rng, "item", ids[:n_img], "image", lex, KGB + "base64Image")

        # spatial
        z = self.latent("spatial", y, rng)
        lines += self.emit(rng, "item", ids, "footprint", self.polygons(rng, z), GEO + "wktLiteral")
        px = rng.uniform(-179.0, 179.0, size).tolist()
        py = rng.uniform(-89.0, 89.0, size).tolist()
        lines += self.emit(rng, "item", ids, "location", ["POINT (%.6f %.6f)" % (a, b) for a, b in zip(px, py)], GEO + "wktLiteral")

        # boolean: odd classes true; some 1/0 forms, chosen independently of the class
        z = self.latent("boolean", y, rng)
        numeric_form = (rng.random(size) < 0.1).tolist()
        values = (z % 2 == 1).tolist()
        lex = [("1" if v else "0") if nf else ("true" if v else "false") for v, nf in zip(values, numeric_form)]
        self.quirks["boolean_numeric_form"] += sum(numeric_form)
        lines += self.emit(rng, "item", ids, "flag", lex, XSD + "boolean")
        return lines

    def texts(self, rng: np.random.Generator, y: np.ndarray, lo: int, hi: int, n_class: int) -> list[str]:
        """Texts of ``lo``-``hi`` words, ``n_class`` of them from the latent class's vocabulary."""
        size = len(y)
        z = self.latent("textual", y, rng)
        n_shared = len(self.shared_words)
        per = len(self.class_words[0])
        vocab = self.shared_words + [w for ws in self.class_words for w in ws]
        words = rng.integers(0, n_shared, (size, hi))
        words[:, :n_class] = n_shared + per * z[:, None] + rng.integers(0, per, (size, n_class))
        lengths = rng.integers(lo, hi + 1, size)
        keys = rng.random((size, hi))
        keys[np.arange(hi)[None, :] >= lengths[:, None]] = 2.0  # unused slots sort last
        words = np.take_along_axis(words, np.argsort(keys, axis=1), axis=1)
        return [" ".join([vocab[w] for w in row[:ln]]) for row, ln in zip(words.tolist(), lengths.tolist())]

    def images(self, rng: np.random.Generator, z: np.ndarray) -> list[str]:
        """Url-safe base64 images: a class-coloured, class-shaped blob on a noisy background."""
        from PIL import Image

        m, s, k = len(z), self.p["image_size"], self.k
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        bg = rng.integers(60, 190, (m, 1, 1, 1)).astype(np.float32) + rng.normal(0, 18, (m, s, s, 3)).astype(np.float32)
        hue = (z / k + rng.uniform(-0.15, 0.15, m) / k) % 1.0
        rgb = 255.0 * _hsv_to_rgb(hue, rng.uniform(0.75, 1.0, m), rng.uniform(0.8, 1.0, m))
        cx, cy = rng.uniform(0.35 * s, 0.65 * s, (2, m))
        r = rng.uniform(0.25 * s, 0.35 * s, m)
        dx = xx[None] - cx[:, None, None]
        dy = yy[None] - cy[:, None, None]
        rr = r[:, None, None]
        disk = dx * dx + dy * dy < rr * rr
        square = np.maximum(np.abs(dx), np.abs(dy)) < 0.85 * rr
        triangle = (dy > -rr) & (dy < 0.8 * rr) & (np.abs(dx) < 0.6 * (dy + rr))
        shape = (z % 3)[:, None, None]
        mask = np.where(shape == 0, disk, np.where(shape == 1, square, triangle))
        fg = rgb[:, None, None, :].astype(np.float32) + rng.normal(0, 10, (m, s, s, 3)).astype(np.float32)
        img = np.clip(np.where(mask[..., None], fg, bg), 0, 255).astype(np.uint8)
        fmt = "JPEG" if self.p["image_format"] == "jpeg" else "PNG"
        out = []
        for a in img:
            buf = io.BytesIO()
            if fmt == "JPEG":
                Image.fromarray(a).save(buf, fmt, quality=90)
            else:
                Image.fromarray(a).save(buf, fmt)
            out.append(base64.urlsafe_b64encode(buf.getvalue()).decode("ascii"))
        return out

    def polygons(self, rng: np.random.Generator, z: np.ndarray) -> list[str]:
        """Star-shaped (hence simple) polygons with ``3 + z`` vertices, closed rings."""
        m = len(z)
        nv = 3 + z.astype(np.int64)
        total = int(nv.sum())
        owner = np.repeat(np.arange(m), nv)
        starts = np.concatenate([[0], np.cumsum(nv)[:-1]])
        j = np.arange(total) - starts[owner]
        step = 2 * np.pi / nv[owner]
        rot = rng.uniform(0, 2 * np.pi, m)
        # jitter stays under half a step so vertices keep their angular order
        ang = rot[owner] + step * (j + rng.uniform(-0.2, 0.2, total))
        radius = 10 ** rng.uniform(-2, 0, m)
        rad = radius[owner] * rng.uniform(0.85, 1.1, total)
        cx = rng.uniform(-170, 170, m)
        cy = rng.uniform(-80, 80, m)
        x = (cx[owner] + rad * np.cos(ang)).tolist()
        yv = (cy[owner] + rad * np.sin(ang)).tolist()
        pts = ["%.6f %.6f" % (a, b) for a, b in zip(x, yv)]
        out = []
        for st, n in zip(starts.tolist(), nv.tolist()):
            ring = pts[st:st + n]
            out.append("POLYGON ((" + ", ".join(ring) + ", " + ring[0] + "))")
        return out

    # ---------------------------------------------------------------- labels, manifest

    def write_labels(self, tmp: Path, paths: dict[str, Any], labels: dict[str, np.ndarray]) -> dict[str, Any]:
        y, split = labels["y"], labels["split"]
        pred = f"<{TARGET_PREDICATE}>"
        counts: dict[str, Any] = {}
        names = ("train", "valid", "test")
        (tmp / "labels").mkdir(parents=True, exist_ok=True)
        for code, s in enumerate(names):
            idx = np.flatnonzero(split == code)
            with open(tmp / paths["labels"][s], "w", encoding="utf-8", newline="\n") as fh:
                fh.write("".join(f"<{EX}item_{i}> {pred} <{EX}class_{c}> .\n" for i, c in zip(idx.tolist(), y[idx].tolist())))
            counts[s] = int(len(idx))
            counts[f"{s}_per_class"] = np.bincount(y[idx], minlength=self.k).tolist()
        with open(tmp / paths["labels_tsv"], "w", encoding="utf-8", newline="\n") as fh:
            fh.write("iri\tclass\tsplit\n")
            fh.write("".join(f"{EX}item_{i}\t{EX}class_{c}\t{names[s]}\n" for i, (c, s) in enumerate(zip(y.tolist(), split.tolist()))))
        return counts

    def manifest(
        self,
        paths: dict[str, Any],
        graph_lines: int,
        ent_count: int,
        lit_count: int,
        label_counts: dict[str, Any],
        lp_counts: dict[str, int],
        rels: list[tuple[str, str, str, np.ndarray, np.ndarray]],
    ) -> dict[str, Any]:
        p = self.p
        by_modality: Counter[str] = Counter()
        ill_by_modality: Counter[str] = Counter()
        for dt, n in self.by_datatype.items():
            by_modality[DATATYPE_MODALITY[dt]] += n
        for dt, n in self.ill.items():
            ill_by_modality[DATATYPE_MODALITY[dt]] += n
        k = self.k
        return {
            "generator": "rdf2mm.synthetic",
            "format_version": 1,
            "parameters": {
                "triples": p["triples"],
                "classes": k,
                "signal": list(p["signal"]),
                "structure_signal": p["structure_signal"],
                "strength": p["strength"],
                "ill_typed": p["ill_typed"],
                "seed": p["seed"],
                "format": p["format"],
                "compress": p["compress"],
                "image_size": p["image_size"],
                "image_format": p["image_format"],
                "max_images": p["max_images"],
                "split": list(p["split"]),
                "lp_split": list(p["lp_split"]),
                "link_strength": p["link_strength"],
            },
            "seed": p["seed"],
            "namespace": EX,
            "target_class": TARGET_CLASS,
            "target_predicate": TARGET_PREDICATE,
            "classes": [class_iri(c) for c in range(k)],
            "planted": {
                **{m: m in self.signal for m in MODALITIES},
                "structure": p["structure_signal"] > 0,
                # accuracy of the Bayes classifier on one planted literal (boolean: at most 2 classes)
                "literal_accuracy_bound": p["strength"] + (1 - p["strength"]) / k,
            },
            "counts": {
                "triples": graph_lines,
                "entity_triples": ent_count,
                "literal_triples": lit_count,
                "items": self.n,
                "groups": self.g,
                "tags": self.t,
                "clusters": self.c,
                "images": self.n_images,
                "relations": {name: int(len(h)) for name, _, _, h, _ in rels},
                "labels": label_counts,
                "lp": lp_counts,
            },
            "literals": {
                "by_modality": dict(sorted(by_modality.items())),
                "by_datatype": dict(sorted(self.by_datatype.items())),
            },
            "ill_typed": {
                "total": int(sum(self.ill.values())),
                "by_modality": dict(sorted(ill_by_modality.items())),
                "by_datatype": dict(sorted(self.ill.items())),
            },
            "quirks": dict(sorted(self.quirks.items())),
            "predicates": {
                "item_literals": {m: [EX + name for name, _ in preds] for m, preds in _ITEM_LITERALS.items()},
                "relations": [EX + r for r in _RELATIONS],
                "group_literals": [EX + "name", EX + "founded"],
                "tag_literals": [RDFS + "label"],
            },
            "notes": [
                "Label triples are not in the graph; they are in labels/*.nt.",
                f"Only the first {self.n_images} items carry an image (max_images caps image cost).",
                "rdf:type triples and all literal triples are in lp/train only; valid/test hold entity-entity triples.",
                "ex:location POINTs never carry signal; gYears with fewer than four digits are quirks, not ill-typed.",
                "Textual literals are never ill-typed (any string is a valid xsd:string).",
            ],
            "paths": paths,
        }
