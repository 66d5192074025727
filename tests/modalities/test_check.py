"""``Modality.check`` (validation only, what ``rdf2mm inspect`` runs) agrees with ``parse``:
the same valid rows, the same reasons, the same lenient rows, on good and bad literals."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rdf2mm.modalities.registry import MODALITY_NAMES, get_modality
from tests.modalities.test_spatial import _TOKEN, _valid_geometry
from tests.modalities.test_visual import _b64, _jpeg, _mutations, _png, _png_header_only

IMAGE = "http://kgbench.info/dt#base64Image"
WKT = "http://www.opengis.net/ont/geosparql#wktLiteral"


def assert_same_verdicts(modality, items: list, datatypes: list[str]) -> None:
    parsed = modality.parse(items, datatypes)
    checked = modality.check(items, datatypes)
    assert checked.valid.tolist() == parsed.valid.tolist()
    assert dict(checked.errors) == dict(parsed.errors)
    assert {k: v.tolist() for k, v in checked.lenient.items()} == {k: v.tolist() for k, v in parsed.lenient.items()}
    assert len(checked) == len(items)


def test_images_of_every_kind_and_fault():
    photo = _jpeg(Image.radial_gradient("L").convert("RGB").resize((40, 30)))
    items = [
        _b64(photo), _b64(photo, urlsafe=True), "!!not base64!!", "abcde", _b64(b"hello, world"), "",
        _b64(photo[: len(photo) // 2]), _b64(_png(Image.new("RGBA", (10, 20), (0, 0, 255, 255)))),
        _b64(_png(Image.new("P", (7, 7)))), _b64(_jpeg(Image.new("CMYK", (10, 20)))),
        _b64(_png(Image.new("1", (9, 9), 1))), _b64(_png(Image.new("I;16", (5, 5)))),
        _b64(_png_header_only(100_000, 100_000)), _b64(_jpeg(Image.new("RGB", (900, 700), (9, 9, 9)))),
        "data:image/jpeg;base64," + _b64(photo), None,
    ]
    for m in (get_modality("visual", size=16), get_modality("visual", size=64, max_bytes=len(photo) - 1)):
        assert_same_verdicts(m, items, [IMAGE] * len(items))


@settings(max_examples=300, deadline=None)
@given(st.lists(_mutations(), max_size=4))
def test_mutated_images(items):
    assert_same_verdicts(get_modality("visual", size=4, workers=1), items, [IMAGE] * len(items))


def test_geometries_of_every_kind_and_fault():
    items = [
        "POINT (1 2)", "POINT EMPTY", "POLYGON EMPTY", "garbage", "", "POINT (1 2", "POLYGON ((0 0, 1 0, 1 1, 0 1))",
        "CIRCULARSTRING (0 0, 1 1, 2 0)", "POINT (nan 1)", "POINT (1e400 1)", "MULTIPOINT (1e308 1e308, -1e308 -1e308)",
        None, "<http://www.opengis.net/def/crs/OGC/1.3/CRS84> POINT (1 2)", "SRID=4326;POINT (3 4)",
        "LINESTRING (" + ", ".join(f"{i} {i % 7}" for i in range(200)) + ")",
        "GEOMETRYCOLLECTION (POINT (1 1), POLYGON ((0 0, 2 0, 2 2, 0 0), (0.5 0.5, 1 0.5, 1 1, 0.5 0.5)))",
        "POLYGON ((1e200 1e200, 2e200 1e200, 2e200 2e200, 1e200 1e200))", "(" * 40 + ")" * 40,
    ]
    assert_same_verdicts(get_modality("spatial", max_points=16, max_vertices=150), items, [WKT] * len(items))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), st.lists(_TOKEN, max_size=25).map("".join), _valid_geometry()),
                max_size=4))
def test_generated_geometries(items):
    assert_same_verdicts(get_modality("spatial", max_points=8), items, [WKT] * len(items))


@pytest.mark.parametrize("encoder", ["charcnn", "minilm"])
def test_text_needs_no_vocabulary_or_features(encoder, monkeypatch):
    from rdf2mm.modalities import textual

    def no_model(*_a, **_k):
        raise AssertionError("check must not compute sentence features")

    monkeypatch.setattr(textual, "_encode_minilm", no_model)
    m = get_modality("textual", encoder=encoder)
    items = ["plain", "", "café ☕", None, 7, "x" * 500]
    checked = m.check(items, ["http://www.w3.org/2001/XMLSchema#string"] * len(items))
    assert checked.valid.tolist() == [True, True, True, False, False, True]
    assert dict(checked.errors) == {"not a string": 2}
    if encoder == "charcnn":
        assert_same_verdicts(m, items, ["http://www.w3.org/2001/XMLSchema#string"] * len(items))


def test_inspection_report_equals_the_full_parse_report(tmp_path):
    """What inspect reports (validation only) is what training's full parse reports."""
    from rdf2mm.graph.ingest import read_graph
    from rdf2mm.modalities.preprocess import prepare_literals
    from rdf2mm.synthetic import generate

    ds = generate(tmp_path / "g", triples=3000, seed=2, ill_typed=0.1, max_images=60)
    with open(ds.graph_path, "a", encoding="utf-8") as fh:  # faults the generator does not write
        buf = io.BytesIO()
        Image.new("RGB", (20, 20), (200, 10, 10)).save(buf, "JPEG")
        cut = _b64(buf.getvalue()[:200])
        fh.write(f'<http://ex.org/a> <http://ex.org/img> "{cut}"^^<{IMAGE}> .\n')
        fh.write(f'<http://ex.org/a> <http://ex.org/shape> "POINT (1e400 2)"^^<{WKT}> .\n')
        fh.write(f'<http://ex.org/a> <http://ex.org/shape> "CIRCULARSTRING (0 0, 1 1, 2 0)"^^<{WKT}> .\n')
    kg, _ = read_graph([ds.graph_path], cache=False)
    full = prepare_literals(kg, MODALITY_NAMES)
    checked = prepare_literals(kg, MODALITY_NAMES, validate_only=True)
    assert checked.report == full.report
    assert checked.data == {} and set(full.data) == set(MODALITY_NAMES)
    assert sum(r["ill_typed"] for r in checked.report.values()) > 0
    assert np.array_equal(checked.literal_modality, full.literal_modality)
