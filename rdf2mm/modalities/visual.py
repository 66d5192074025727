"""Visual literals: base64-encoded images (``kgbench:base64Image``, ``xsd:base64Binary``, ...).

Parsing decodes base64 (standard or url-safe alphabet, padding optional, whitespace
ignored, an optional ``data:...;base64,`` prefix dropped), opens the bytes with pillow,
converts to RGB and resizes to ``size x size``: ``data`` is uint8 ``[n, 3, size, size]``.
``meta`` holds the size and the per-channel mean / std (on the 0..1 scale) of the valid
images, which the encoder uses to standardise its input.

Safety and speed:

* the base64 text is measured before it is decoded ("too many bytes"), and the image's
  header dimensions are checked before any pixel is decoded ("too large"); pillow's own
  decompression-bomb warning / error is turned into the same rejection;
* JPEGs are decoded in draft mode, i.e. already scaled down by the decoder (up to 8x),
  and literals are decoded on a thread pool (pillow releases the GIL while decoding).

Two encoders (``encoder``, :data:`rdf2mm.models.registry.IMAGE_ENCODERS`):

``mobilenet`` (default)
    ``data`` is the pixels, uint8 ``[n, 3, size, size]`` (size 64 by default), and a small
    MobileNet-style CNN is trained on them from scratch.
``pretrained``
    ``data`` is float32 ``[n, 1280]``: frozen EfficientNet-Lite0 (ImageNet) features of
    each valid image (zero rows for the others), from images decoded at 224 x 224 (the
    model's input size) in chunks, so the pixels of only one chunk are held at a time;
    computed once and cached on disk by content
    (:mod:`rdf2mm.modalities.pretrained_images`). The encoder is a trainable MLP on them.

Ill-typed reasons: "not base64", "too many bytes", "not an image", "truncated image",
"too large". Parsing never raises.
"""
from __future__ import annotations

import base64
import binascii
import io
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image, ImageOps

from rdf2mm.errors import UsageError
from rdf2mm.modalities.base import Modality, ParsedLiterals
from rdf2mm.models.registry import IMAGE_ENCODERS

if TYPE_CHECKING:  # pragma: no cover - parsing must not import torch
    from torch import nn

#: formats tried when opening a literal; fewer decoders means less attack surface
FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")
_URLSAFE = str.maketrans("-_", "+/")
#: the registered image encoder names (see :data:`rdf2mm.models.registry.IMAGE_ENCODERS`)
ENCODERS = IMAGE_ENCODERS.names()
#: literals decoded per chunk by the pretrained path (224 x 224 x 3 bytes each)
PRETRAINED_CHUNK = 512


class VisualModality(Modality):
    """Images as base64 literals, encoded by a small MobileNet-style CNN trained from
    scratch (``encoder="mobilenet"``) or by an MLP on frozen EfficientNet-Lite0 features
    (``encoder="pretrained"``).

    Options: ``size``, the side images are resized to (default 64; the pretrained path
    224, the model's input); ``max_pixels`` / ``max_bytes`` refuse oversized images;
    ``workers`` decoding threads; ``cache_dir`` and ``batch_size`` of the pretrained
    features (default cache: ``$RDF2MM_CACHE/efficientnet-lite0``).
    """

    name: ClassVar[str] = "visual"

    def __init__(
        self,
        *,
        encoder: str = "mobilenet",
        size: int | None = None,
        max_pixels: int = 50_000_000,
        max_bytes: int = 20_000_000,
        workers: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        # 16 at 224 x 224: about twice the images per second of 64 on a 2-core CPU
        # (the feature maps of a batch of 16 stay in cache)
        batch_size: int = 16,
    ) -> None:
        if encoder not in ENCODERS:
            raise UsageError(f"unknown image encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
        if size is None:
            size = 224 if encoder == "pretrained" else 64
        if size < 2:
            raise UsageError(f"image size must be at least 2, got {size}")
        if max_pixels < 1 or max_bytes < 1:
            raise UsageError("image max_pixels and max_bytes must be positive")
        if batch_size < 1:
            raise UsageError(f"image batch_size must be at least 1, got {batch_size}")
        self.encoder = encoder
        self.size = int(size)
        self.max_pixels = int(max_pixels)
        self.max_bytes = int(max_bytes)
        self.workers = workers if workers is not None else min(8, os.cpu_count() or 1)
        self.cache_dir = cache_dir
        self.batch_size = int(batch_size)

    def parse(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Decode, convert to RGB and resize every image (pretrained: then take its frozen
        features); ill-typed ones are zero rows."""
        if self.encoder == "pretrained":
            return self._parse_pretrained(lexical)
        n = len(lexical)
        s = self.size
        data = np.zeros((n, 3, s, s), dtype=np.uint8)
        valid = np.zeros(n, dtype=bool)
        reasons: list[str] = [""] * n  # one slot per literal: no shared counter between threads
        self._decode_into(lexical, range(n), data, valid, reasons)
        mean, std = channel_stats(data, valid)
        meta = {"size": s, "mean": mean, "std": std}
        errors = Counter(r for r, ok in zip(reasons, valid) if not ok)
        return ParsedLiterals(data=data, valid=valid, errors=errors, meta=meta)

    def _decode_into(self, lexical: Sequence[str], rows: range, data: np.ndarray, valid: np.ndarray,
                     reasons: list[str]) -> None:
        """Decode literals ``rows`` into ``data[i - rows.start]``; marks ``valid`` / ``reasons`` by literal."""
        s, lo = self.size, rows.start

        def one(i: int) -> None:
            arr, reason = decode_image(lexical[i], s, self.max_pixels, self.max_bytes)
            if arr is None:
                reasons[i] = reason
            else:
                data[i - lo] = arr.transpose(2, 0, 1)
                valid[i] = True

        with warnings.catch_warnings():
            # pillow warns (rather than raises) between 1x and 2x MAX_IMAGE_PIXELS: make it
            # an exception so that the image is refused; the filter is process-wide, so it
            # also covers the worker threads while they run
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if self.workers > 1 and len(rows) >= 16:
                with ThreadPoolExecutor(max_workers=self.workers) as pool:
                    list(pool.map(one, rows))
            else:
                for i in rows:
                    one(i)

    def _parse_pretrained(self, lexical: Sequence[str]) -> ParsedLiterals:
        from rdf2mm.modalities.pretrained_images import FEATURE_DIM, MODEL_ID, cached_features, feature_cache

        n, s = len(lexical), self.size
        data = np.zeros((n, FEATURE_DIM), dtype=np.float32)
        valid = np.zeros(n, dtype=bool)
        reasons: list[str] = [""] * n
        cache = feature_cache(self.cache_dir, defer=True)  # one shard for the whole parse
        pixels = np.zeros((min(n, PRETRAINED_CHUNK), 3, s, s), dtype=np.uint8)
        for lo in range(0, n, PRETRAINED_CHUNK):
            rows = range(lo, min(n, lo + PRETRAINED_CHUNK))
            pixels[:] = 0
            self._decode_into(lexical, rows, pixels, valid, reasons)
            ok = np.flatnonzero(valid[lo : rows.stop])
            if len(ok):
                data[lo + ok] = cached_features(pixels[ok], cache, self.batch_size)
        cache.flush()
        meta = {"encoder": "pretrained", "model": MODEL_ID, "dim": FEATURE_DIM, "size": s,
                "cache_hits": cache.hits, "encoded": cache.computed}
        errors = Counter(r for r, ok in zip(reasons, valid) if not ok)
        return ParsedLiterals(data=data, valid=valid, errors=errors, meta=meta)

    def check(self, lexical: Sequence[str], datatypes: Sequence[str], groups: np.ndarray | None = None) -> ParsedLiterals:
        """Validate only: decode every image (so truncated ones are found) but build no pixel array.

        One thread: the checks are mostly Python (pillow's header parsing), where a pool
        of threads only adds hand-over costs.
        """
        n = len(lexical)
        valid = np.zeros(n, dtype=bool)
        errors: Counter = Counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # as in parse
            for i in range(n):
                reason = image_reason(lexical[i], self.size, self.max_pixels, self.max_bytes)
                if reason:
                    errors[reason] += 1
                else:
                    valid[i] = True
        return ParsedLiterals(data=np.zeros((n, 0), dtype=np.uint8), valid=valid, errors=errors, meta={"size": self.size})

    def make_encoder(self, parsed: ParsedLiterals, out_dim: int, **options: Any) -> nn.Module:
        """A MobileNet-style CNN trained from scratch (options: ``width``, ``dropout``), or
        for pretrained features an MLP on them (options: ``hidden``, ``dropout``)."""
        if parsed.meta.get("encoder", self.encoder) == "pretrained":
            from rdf2mm.modalities.encoders.textual import FeatureMLP

            return FeatureMLP(in_dim=int(parsed.meta.get("dim", 1280)), out_dim=out_dim, **options)
        from rdf2mm.modalities.encoders.visual import MobileNetEncoder

        return MobileNetEncoder(
            out_dim=out_dim,
            mean=parsed.meta.get("mean", [0.5] * 3),
            std=parsed.meta.get("std", [0.25] * 3),
            size=int(parsed.meta.get("size", self.size)),
            **options,
        )


# ------------------------------------------------------------------------- decoding
def decode_base64(text: str, max_bytes: int) -> tuple[bytes | None, str]:
    """Bytes of a base64 literal (either alphabet, padding optional), or ``(None, reason)``."""
    if not isinstance(text, str):
        return None, "not base64"
    if text[:5].lower() == "data:":
        comma = text.find(",")
        if comma < 0 or ";base64" not in text[:comma].lower():
            return None, "not base64"
        text = text[comma + 1 :]
    # refuse by length before building any copy
    limit = (max_bytes * 4) // 3 + 4
    if len(text) > limit and len(text) - sum(text.count(c) for c in " \t\r\n") > limit:
        return None, "too many bytes"
    text = "".join(text.split()).rstrip("=").translate(_URLSAFE)
    if len(text) % 4 == 1:
        return None, "not base64"
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None, "not base64"
    if len(raw) > max_bytes:
        return None, "too many bytes"
    return raw, ""


def decode_image(text: str, size: int, max_pixels: int, max_bytes: int) -> tuple[np.ndarray | None, str]:
    """One literal to a uint8 ``[size, size, 3]`` RGB array, or ``(None, reason)``; never raises."""
    return _decode(text, size, max_pixels, max_bytes, pixels=True)


def image_reason(text: str, size: int, max_pixels: int, max_bytes: int) -> str:
    """Why :func:`decode_image` would refuse the literal (``""``: it would not); never raises.

    Decodes as :func:`decode_image` does (the same mode conversions; JPEGs at the
    smallest draft scale, which entropy-decodes the same bit stream) but skips what cannot
    fail once the pixels are loaded: EXIF orientation, resizing and the copy into an array.
    """
    return _decode(text, size, max_pixels, max_bytes, pixels=False)[1]


#: what a successful :func:`image_reason` decode returns in place of the pixels
_CHECKED = np.zeros((0, 0, 3), dtype=np.uint8)


def _decode(text: str, size: int, max_pixels: int, max_bytes: int, pixels: bool) -> tuple[np.ndarray | None, str]:
    raw, reason = decode_base64(text, max_bytes)
    if raw is None:
        return None, reason
    try:
        img = Image.open(io.BytesIO(raw), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, "too large"
    except Exception:  # noqa: BLE001 - any failure to identify the bytes
        return None, "not an image"
    try:
        w, h = img.size
        if w <= 0 or h <= 0:
            return None, "not an image"
        if w * h > max_pixels:
            return None, "too large"
        if img.format == "JPEG":
            # decode at 1/2, 1/4 or 1/8 scale directly, as long as the result is >= size; a
            # check decodes at the smallest scale: the whole bit stream is still entropy-decoded
            # (so a truncated or corrupt image fails alike), only the inverse DCT shrinks
            img.draft("RGB", (size, size) if pixels else (1, 1))
        img.load()
        if pixels:
            img = _orient(img)  # never raises (bad EXIF keeps the pixels): skipped when only checking
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGBA" if img.mode in ("P", "PA", "LA") else img.mode).convert("RGB")
        if not pixels:
            return _CHECKED, ""
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        if img.mode != "RGB":
            img = img.convert("RGB")
        arr = np.asarray(img, dtype=np.uint8)
        if arr.shape != (size, size, 3):
            return None, "not an image"
        return arr, ""
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, "too large"
    except EOFError:
        return None, "truncated image"
    except OSError as exc:
        msg = str(exc).lower()
        if "truncated" in msg or "broken data stream" in msg or "unexpected end" in msg:
            return None, "truncated image"
        return None, "not an image"
    except Exception:  # noqa: BLE001 - a corrupt image must never end the run
        return None, "not an image"
    finally:
        img.close()


def _orient(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag, if any (cameras store rotated pixels)."""
    try:
        if img.getexif().get(0x0112, 1) != 1:
            return ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001, S110 - bad EXIF: keep the pixels as they are
        pass
    return img


def channel_stats(data: np.ndarray, valid: np.ndarray, chunk: int = 1024) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (0..1 scale) over the valid images, in chunks to bound memory."""
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    s1 = np.zeros(3)
    s2 = np.zeros(3)
    count = 0
    for start in range(0, len(idx), chunk):
        x = data[idx[start : start + chunk]].astype(np.float64) / 255.0
        s1 += x.sum(axis=(0, 2, 3))
        s2 += (x * x).sum(axis=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = s1 / count
    std = np.sqrt(np.maximum(s2 / count - mean * mean, 0.0))
    # constant images would divide by ~0
    std = np.maximum(std, 1e-2)
    return [float(v) for v in mean], [float(v) for v in std]
