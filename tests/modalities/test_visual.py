"""Visual modality: base64 decoding, refusal of bombs and broken images, the MobileNet encoder."""
from __future__ import annotations

import base64
import gzip
import io
import re
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from rdf2mm.modalities.visual import VisualModality, decode_base64
from tests.conftest import shared

DT = "http://kgbench.info/dt#base64Image"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a busy 2-core machine OpenMP spin-waits make 2 threads up to 10x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG claiming ``w x h`` pixels whose data is a few compressed rows: a bomb."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    idat = comp.compress(b"\x00" * (3 * w + 1) * 4) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _b64(raw: bytes, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()


def _parse(m: VisualModality, items: list[str]):
    return m.parse(items, [DT] * len(items))


@pytest.fixture(scope="module")
def photo() -> bytes:
    rng = np.random.default_rng(1)
    arr = (rng.random((120, 90, 3)) * 255).astype(np.uint8)
    arr[:, :45, 0] = 250  # a structure that must survive resizing
    return _jpeg(Image.fromarray(arr))


def test_urlsafe_and_standard_base64_give_the_same_image(photo):
    std, url = _b64(photo), _b64(photo, urlsafe=True)
    assert ("+" in std or "/" in std) and std != url  # the alphabets really differ here
    wrapped = "\n".join(std[i : i + 76] for i in range(0, len(std), 76))
    items = [std, url, url.rstrip("="), wrapped, "data:image/jpeg;base64," + std]
    p = _parse(VisualModality(size=16), items)
    assert p.valid.all(), p.errors
    for i in range(1, len(items)):
        np.testing.assert_array_equal(p.data[i], p.data[0])
    assert p.data.shape == (5, 3, 16, 16) and p.data.dtype == np.uint8
    assert p.data[0, 0, :, :6].mean() > 200  # left half is red-heavy in every row


def test_meta_channel_statistics():
    red = _b64(_png(Image.new("RGB", (20, 20), (255, 0, 0))))
    grey = _b64(_png(Image.new("RGB", (20, 20), (0, 0, 0))))
    p = _parse(VisualModality(size=8), [red, grey, "???"])
    assert p.meta["size"] == 8
    assert p.meta["mean"] == pytest.approx([0.5, 0.0, 0.0])  # over valid images only
    assert p.meta["std"][0] == pytest.approx(0.5)
    assert min(p.meta["std"]) > 0


def test_reasons_for_bad_literals(photo):
    good = _b64(photo)
    items = [
        good,
        "!!not base64!!",
        "abcde",  # 5 characters cannot be base64
        _b64(b"hello, world"),
        "",
        _b64(photo[: len(photo) // 2]),
        _b64(photo),
    ]
    m = VisualModality(size=16, max_bytes=len(photo) - 1)
    p = _parse(m, items)
    assert p.valid.tolist() == [False, False, False, False, False, False, False]
    assert p.errors["too many bytes"] == 2
    p = _parse(VisualModality(size=16), items)
    assert p.valid.tolist() == [True, False, False, False, False, False, True]
    assert p.errors == {"not base64": 2, "not an image": 2, "truncated image": 1}
    assert (p.data[~p.valid] == 0).all()


def test_too_many_bytes_refused_before_decoding():
    raw, reason = decode_base64("A" * 1000, max_bytes=100)
    assert raw is None and reason == "too many bytes"


@pytest.mark.parametrize("w,h,max_pixels", [(100_000, 100_000, 50_000_000), (8_000, 8_000, 50_000_000), (10_000, 10_000, 10**12)])
def test_decompression_bombs_are_refused_before_decoding(w, h, max_pixels, monkeypatch):
    # (a) the header exceeds max_pixels; (b) pillow's bomb error (> 2x its limit) and
    # (c) pillow's bomb warning (between 1x and 2x its limit) with a permissive max_pixels
    loads = []
    real_load = ImageFile.ImageFile.load

    def counting_load(self):
        loads.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    bomb = _b64(_png_header_only(w, h))
    assert len(bomb) < 2_000_000  # small on the wire, huge when decoded
    p = _parse(VisualModality(size=8, max_pixels=max_pixels), [bomb])
    assert not p.valid[0]
    assert p.errors == {"too large": 1}
    assert loads == []  # no pixel was decoded


def test_modes_are_converted_to_rgb():
    items = [
        _b64(_png(Image.new("RGBA", (10, 20), (0, 0, 255, 255)))),
        _b64(_png(Image.new("L", (10, 20), 200))),
        _b64(_png(Image.new("P", (7, 7)))),
        _b64(_jpeg(Image.new("CMYK", (10, 20)))),
        _b64(_png(Image.new("1", (9, 9), 1))),
    ]
    p = _parse(VisualModality(size=8), items)
    assert p.valid.all(), p.errors
    assert p.data[0, :, 0, 0].tolist() == [0, 0, 255]
    assert p.data[1, :, 0, 0].tolist() == [200, 200, 200]


def test_big_jpeg_decodes_in_draft_mode():
    big = _jpeg(Image.new("RGB", (2000, 1500), (10, 200, 30)))
    p = _parse(VisualModality(size=32), [big and _b64(big)])
    assert p.valid[0]
    assert abs(int(p.data[0, 1].mean()) - 200) < 5


def test_parallel_and_serial_agree(photo):
    items = [_b64(photo)] * 20 + ["b@d!"] * 5
    a = _parse(VisualModality(size=16, workers=1), items)
    b = _parse(VisualModality(size=16, workers=4), items)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.errors == b.errors == {"not base64": 5}


@pytest.mark.shared_data
def test_synth_nc_images_decode():
    with gzip.open(shared("synth-nc", "context.nt.gz"), "rt") as fh:
        lits = [re.search(r'"(.*)"\^\^', line).group(1) for line in fh if "base64Image" in line]
    p = _parse(VisualModality(), lits)
    assert len(lits) > 200 and p.valid.all()
    assert p.data.std() > 10  # real pictures, not blank frames


@pytest.mark.parametrize("size", [8, 64])
def test_encoder_shape_and_gradients(size):
    rng = np.random.default_rng(0)
    items = [_b64(_png(Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8)))) for _ in range(3)]
    m = VisualModality(size=size)
    p = _parse(m, items)
    enc = m.make_encoder(p, 6)
    out = enc(torch.as_tensor(p.data))
    assert out.shape == (3, 6)
    out.sum().backward()
    assert all(prm.grad is not None for prm in enc.parameters())
    assert enc.features[0][0].weight.grad.abs().sum() > 0


def test_encoder_learns_red_vs_blue():
    rng = np.random.default_rng(0)
    items, labels = [], []
    for i in range(160):
        y = i % 2
        arr = (rng.random((24, 24, 3)) * 160).astype(np.uint8)
        arr[..., 0 if y == 0 else 2] += 90  # red-ish vs blue-ish under heavy noise
        items.append(_b64(_png(Image.fromarray(arr)), urlsafe=bool(i % 3)))
        labels.append(y)
    m = VisualModality(size=16)
    p = _parse(m, items)
    assert p.valid.all()
    x, y = torch.as_tensor(p.data), torch.tensor(labels)
    torch.manual_seed(0)
    model = torch.nn.Sequential(m.make_encoder(p, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(15):
        for start in range(0, 112, 28):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[start : start + 28]), y[start : start + 28])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x[112:]).argmax(1) == y[112:]).float().mean().item()
    assert acc > 0.9


def _mutations() -> st.SearchStrategy[str]:
    seed_img = _png(Image.new("RGB", (6, 5), (1, 2, 3)))
    seed_jpg = _jpeg(Image.new("RGB", (6, 5), (1, 2, 3)))

    @st.composite
    def mutated(draw) -> str:
        raw = bytearray(draw(st.sampled_from([seed_img, seed_jpg])))
        for _ in range(draw(st.integers(0, 4))):
            pos = draw(st.integers(0, len(raw) - 1))
            raw[pos] = draw(st.integers(0, 255))
        raw = raw[: draw(st.integers(0, len(raw)))]
        return _b64(bytes(raw), urlsafe=draw(st.booleans()))

    return st.one_of(
        st.text(max_size=40),
        st.binary(max_size=60).map(_b64),
        st.text(alphabet="ABCDEFGHabcdefgh0123456789+/-_= \n", max_size=60),
        mutated(),
    )


@settings(max_examples=1000, deadline=None)
@given(st.lists(_mutations(), max_size=4))
def test_parse_never_raises(items):
    p = _parse(VisualModality(size=4, workers=1), items)
    assert p.data.shape == (len(items), 3, 4, 4)
    assert (p.data[~p.valid] == 0).all()
    assert sum(p.errors.values()) == p.n_invalid
    assert all(np.isfinite(p.meta["mean"])) and all(np.isfinite(p.meta["std"]))


def test_check_finds_what_parse_finds_in_damaged_jpegs():
    # check() decodes JPEGs at the smallest draft scale: the same bit stream is entropy-
    # decoded, so truncated and corrupted images must fail (or pass) exactly as in parse()
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
    raw = buf.getvalue()
    damaged = [raw]
    damaged += [raw[: int(len(raw) * f)] for f in (0.2, 0.5, 0.8, 0.95, 0.99)]
    for at in (0.3, 0.5, 0.7):
        b = bytearray(raw)
        i = int(len(b) * at)
        b[i:i + 8] = bytes(rng.integers(0, 256, 8, dtype=np.uint8))
        damaged.append(bytes(b))
    items = [_b64(d) for d in damaged]
    for size in (8, 64):
        m = VisualModality(size=size, workers=1)
        p, c = m.parse(items, ["x"] * len(items)), m.check(items, ["x"] * len(items))
        assert c.valid.tolist() == p.valid.tolist() and c.errors == p.errors
    assert not p.valid[1:6].all()  # truncations are found
