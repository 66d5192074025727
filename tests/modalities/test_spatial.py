"""Spatial modality: WKT parsing, vertex sequences (signs kept), the 1-D CNN encoder."""
from __future__ import annotations

import gzip
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdf2mm.modalities import spatial
from rdf2mm.modalities.spatial import CHANNELS, MASK, SEQ_CHANNELS, SpatialModality
from tests.conftest import shared

WKT = "http://www.opengis.net/ont/geosparql#wktLiteral"
G = SEQ_CHANNELS  # first global channel


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a busy 2-core machine OpenMP spin-waits make 2 threads up to 10x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _parse(m: SpatialModality, items: list):
    return m.parse(items, [WKT] * len(items))


def _n(p, i: int) -> int:
    return int(p.data[i, :, MASK].sum())


def test_reasons_for_bad_literals():
    items = [
        "POINT (1 2)",
        "POINT EMPTY",
        "POLYGON EMPTY",
        "GEOMETRYCOLLECTION EMPTY",
        "garbage",
        "",
        "POINT (1 2",
        "POLYGON ((0 0, 1 0, 1 1, 0 1))",  # unclosed ring
        "CIRCULARSTRING (0 0, 1 1, 2 0)",
        "POINT (nan 1)",
        "POINT (1e400 1)",
        "MULTIPOINT (1e308 1e308, -1e308 -1e308)",  # extent overflows
        None,
        "<http://www.opengis.net/def/crs/OGC/1.3/CRS84 POINT (1 2)",  # unterminated IRI
    ]
    p = _parse(SpatialModality(), items)
    assert p.valid.tolist() == [True] + [False] * (len(items) - 1)
    assert p.errors == {
        "empty geometry": 3,
        "invalid WKT": 6,
        "unsupported geometry": 1,
        "coordinates out of range": 3,
    }
    assert (p.data[~p.valid] == 0).all()
    assert p.data.dtype == np.float32 and p.data.shape == (len(items), 64, CHANNELS)


def test_too_large_refused():
    m = SpatialModality(max_chars=1000, max_vertices=50)
    many = "LINESTRING (" + ", ".join(f"{i} {i}" for i in range(60)) + ")"
    long_text = "POINT (1 2)" + " " * 2000
    p = _parse(m, [many, long_text, "LINESTRING (0 0, 1 1)"])
    assert p.valid.tolist() == [False, False, True]
    assert p.errors == {"too large": 2}


def test_deep_nesting_refused_before_geos_sees_it():
    # GEOS recurses per level and would crash the whole process on this
    deep = "GEOMETRYCOLLECTION (" * 50_000 + "POINT (1 2)" + ")" * 50_000
    ok = "GEOMETRYCOLLECTION (" * 5 + "POINT (1 2)" + ")" * 5
    p = _parse(SpatialModality(), [deep, ok])
    assert p.valid.tolist() == [False, True]
    assert p.errors == {"too large": 1}


def test_negative_coordinates_are_kept():
    square = "POLYGON ((-10 -10, -6 -10, -6 -6, -10 -6, -10 -10))"
    p = _parse(SpatialModality(), [square, "POINT (-3.5 -7)"])
    assert p.valid.all()
    d = p.data[0]
    assert _n(p, 0) == 4  # closing vertex dropped
    xy = d[:4, :2]
    np.testing.assert_allclose(xy, [[-1, -1], [1, -1], [1, 1], [-1, 1]], atol=1e-6)
    # centre (-8, -8) is kept, with its sign, as a global feature; extent 4 -> half 2
    assert d[0, G + 1] == pytest.approx(-math.log1p(8)) and d[0, G + 2] == pytest.approx(-math.log1p(8))
    assert d[0, G] == pytest.approx(math.log10(2))
    assert p.data[1, 0, G + 1] == pytest.approx(-math.log1p(3.5))
    assert p.data[1, 0, G + 2] == pytest.approx(-math.log1p(7))


def test_location_and_size_only_change_global_features():
    a = "POLYGON ((0 0, 1 0, 0 1, 0 0))"
    b = "POLYGON ((-500 300, -300 300, -500 500, -500 300))"  # same shape, x200, moved
    p = _parse(SpatialModality(), [a, b])
    np.testing.assert_allclose(p.data[0, :, :G], p.data[1, :, :G], atol=1e-5)
    assert p.data[1, 0, G] - p.data[0, 0, G] == pytest.approx(math.log10(200), abs=1e-5)
    assert p.data[0, 0, G + 1] > 0 > p.data[1, 0, G + 1]


def test_markers_for_holes_parts_and_collections():
    items = [
        "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
        "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
        "GEOMETRYCOLLECTION (POINT (9 9), MULTILINESTRING ((0 0, 1 1), (2 2, 3 3, 4 4)))",
        "multipoint ((1 2), (3 4))",
    ]
    p = _parse(SpatialModality(), items)
    assert p.valid.all(), p.errors
    d = p.data
    # polygon with hole: 4 exterior + 3 interior vertices
    assert _n(p, 0) == 7
    assert d[0, :7, 2].tolist() == [1, 0, 0, 0, 1, 0, 0]  # ring starts
    assert d[0, :7, 3].tolist() == [1, 0, 0, 0, 0, 0, 0]  # one part
    assert d[0, :7, 4].tolist() == [0, 0, 0, 0, 1, 1, 1]  # hole
    assert d[0, :7, 5].tolist() == [0, 0, 0, 0, 0, 0, 1]  # end
    assert d[0, 0, G + 5] == pytest.approx(math.log1p(1))  # one hole
    # two polygons: two parts
    assert _n(p, 1) == 6 and d[1, :6, 3].tolist() == [1, 0, 0, 1, 0, 0]
    assert d[1, 0, G + 4] == pytest.approx(math.log1p(2))
    # collection, document order: point, then both lines
    assert _n(p, 2) == 6 and d[2, :6, 3].tolist() == [1, 1, 0, 1, 0, 0]
    assert d[2, 0, G + 6 : G + 9].tolist() == [1, 1, 0]  # points and lines, no polygons
    assert d[2, 0, :2].tolist() == pytest.approx([(9 - 19 / 6) / 4.5, (9 - 19 / 6) / 4.5])
    assert _n(p, 3) == 2


def test_crs_iri_srid_and_z_m_coordinates():
    items = [
        "<http://www.opengis.net/def/crs/EPSG/0/4326> POINT (52.1 4.3)",
        "  SRID=4326;POINT(52.1 4.3)  ",
        "POINT Z (52.1 4.3 10)",
        "POINT M (52.1 4.3 7)",
        "POINT ZM (52.1 4.3 10 7)",
        "POINT (52.1 4.3)",
    ]
    p = _parse(SpatialModality(), items)
    assert p.valid.all(), p.errors
    for i in range(1, len(items)):
        np.testing.assert_array_equal(p.data[i], p.data[0])


def test_long_geometries_are_resampled_keeping_ring_starts():
    ring = lambda cx, k: ", ".join(f"{cx + math.cos(2 * math.pi * j / k):.6f} {math.sin(2 * math.pi * j / k):.6f}" for j in list(range(k)) + [0])
    wkt = f"MULTIPOLYGON ((({ring(0, 100)})), (({ring(5, 100)})), (({ring(10, 100)})))"
    p = _parse(SpatialModality(max_points=16), [wkt])
    assert p.valid[0] and _n(p, 0) == 16
    assert p.data[0, :, 3].sum() == 3  # every part's start survived
    assert p.data[0, 0, G + 10] == 1  # resampled flag
    assert p.data[0, 15, 5] == 1  # end marker on the last kept vertex
    assert p.data[0, 0, G + 3] == pytest.approx(math.log1p(303))  # count before resampling


@pytest.mark.shared_data
def test_synth_nc_polygons_parse():
    with gzip.open(shared("synth-nc", "context.nt.gz"), "rt") as fh:
        lits = [re.search(r'"(.*)"\^\^', line).group(1) for line in fh if "wktLiteral" in line]
    p = _parse(SpatialModality(), lits)
    assert len(lits) > 200 and p.valid.all()
    assert (p.data[:, :, 0] < 0).any()  # centred coordinates have both signs


def test_encoder_shape_gradients_and_padding_invariance():
    m = SpatialModality(max_points=32)
    p = _parse(m, ["POINT (1 2)", "POLYGON ((0 0, 1 0, 1 1, 0 0))", "bad"])
    enc = m.make_encoder(p, 5)
    x = torch.as_tensor(p.data)
    out = enc(x)
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(prm.grad is not None for prm in enc.parameters())
    assert enc.convs[0].weight.grad.abs().sum() > 0
    # a longer max_points only adds padding: the same embedding
    p64 = _parse(SpatialModality(max_points=64), ["POLYGON ((0 0, 1 0, 1 1, 0 0))"])
    enc.eval()
    with torch.no_grad():
        torch.testing.assert_close(enc(torch.as_tensor(p64.data)), enc(x[1:2]))


def _random_polygon(rng: np.random.Generator, k: int, scale: float) -> str:
    ang = rng.uniform(0, 2 * np.pi) + np.arange(k) * 2 * np.pi / k
    cx, cy = rng.uniform(-100, 100, 2)
    r = scale * rng.uniform(0.8, 1.2)
    pts = [(cx + r * np.cos(a) + rng.normal(0, 0.03 * r), cy + r * np.sin(a) + rng.normal(0, 0.03 * r)) for a in ang]
    pts.append(pts[0])
    return "POLYGON ((" + ", ".join(f"{x:.6f} {y:.6f}" for x, y in pts) + "))"


@pytest.mark.parametrize("task", ["triangle_vs_square", "small_vs_large"])
def test_encoder_learns(task):
    rng = np.random.default_rng(0)
    items, labels = [], []
    for i in range(240):
        y = i % 2
        if task == "triangle_vs_square":
            items.append(_random_polygon(rng, 3 if y else 4, scale=10 ** rng.uniform(-1, 2)))
        else:
            items.append(_random_polygon(rng, int(rng.integers(3, 8)), scale=10 ** rng.uniform(1.5, 2) if y else 10 ** rng.uniform(0, 0.5)))
        labels.append(y)
    m = SpatialModality(max_points=16)
    p = _parse(m, items)
    assert p.valid.all()
    x, y = torch.as_tensor(p.data), torch.tensor(labels)
    torch.manual_seed(0)
    model = torch.nn.Sequential(m.make_encoder(p, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[:160]), y[:160]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x[160:]).argmax(1) == y[160:]).float().mean().item()
    assert acc > 0.9


# ------------------------------------------------------------------ property tests
_NUM = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["1e400", "-1e400", "nan", "inf", "-0", "1e308", "-1e308", "", "x"]),
)
_TOKEN = st.one_of(
    st.sampled_from(
        ["POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTIPOLYGON", "GEOMETRYCOLLECTION", "EMPTY", "Z", "M", "(", ")", ",", " ", "<http://x/crs>", "SRID=1;"]
    ),
    _NUM,
)


@st.composite
def _valid_geometry(draw) -> str:
    coord = st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v!r}")
    pt = st.tuples(coord, coord).map(" ".join)
    kind = draw(st.sampled_from(["POINT", "LINESTRING", "POLYGON", "MULTIPOINT"]))
    if kind == "POINT":
        return f"POINT ({draw(pt)})"
    pts = draw(st.lists(pt, min_size=3, max_size=80))
    if kind == "POLYGON":
        pts = pts + [pts[0]]
    if kind == "MULTIPOINT":
        return "MULTIPOINT (" + ", ".join(f"({p})" for p in pts) + ")"
    if kind == "POLYGON":
        return "POLYGON ((" + ", ".join(pts) + "))"
    return f"{kind} (" + ", ".join(pts) + ")"


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=30), st.lists(_TOKEN, max_size=25).map("".join), _valid_geometry()),
        max_size=4,
    )
)
def test_parse_never_raises(items):
    p = _parse(SpatialModality(max_points=8), items)
    assert p.data.shape == (len(items), 8, CHANNELS)
    assert np.isfinite(p.data).all()
    assert (p.data[~p.valid] == 0).all()
    assert sum(p.errors.values()) == p.n_invalid
    assert (p.data[p.valid, 0, MASK] == 1).all()  # every valid row has a first vertex
    assert (np.abs(p.data[:, :, :2]) <= 2 + 1e-5).all()  # centred and scaled


@settings(max_examples=300, deadline=None)
@given(_valid_geometry())
def test_generated_geometries_are_valid(wkt):
    p = _parse(SpatialModality(max_points=8), [wkt])
    assert p.valid[0], (wkt, p.errors)


def test_flatten_keeps_document_order():
    import shapely

    g = shapely.from_wkt("GEOMETRYCOLLECTION (MULTIPOINT (1 1, 2 2), POINT (3 3), GEOMETRYCOLLECTION (POINT (4 4)), POINT (5 5))")
    parts, owner = spatial._flatten_parts(np.asarray([g], dtype=object))
    assert [p.x for p in parts] == [1, 2, 3, 4, 5] and owner.tolist() == [0] * 5
