"""Vector literals round-trip bit for bit; terms are validated; skolem IRIs are stable."""
from __future__ import annotations

import json

import numpy as np
import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdf2mm import vocab as V
from rdf2mm.errors import DataError, InputError, UsageError
from rdf2mm.io.write import (base64_lexicals, float32_strings, parse_term, parse_vector, skolem_iri,
                             tensor_lexicals, vector_literals, write_rdf)

EDGE = np.array([0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 1e-45, -1e-45, 1.17549435e-38, 1.1754942e-38,
                 3.4028235e38, -3.4028235e38, 16777217.0, 2.0**-149, 2.0**127, 1e-7, 123456789.0],
                dtype=np.float32)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def test_float32_strings_read_back_exactly_through_a_float64_parser():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([EDGE, x[np.isfinite(x)]])
    text = float32_strings(x).to_pylist()
    back = np.array([float(t) for t in text]).astype(np.float32)
    assert np.array_equal(_bits(back), _bits(x))
    assert max(len(t) for t in text) <= 16  # shortest forms, not 17-digit doubles


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=12))
def test_tensor_literal_round_trips_any_finite_float32(values):
    m = np.asarray([values], dtype=np.float32)
    (lex,) = tensor_lexicals(m)
    obj = json.loads(lex)
    assert obj["type"] == "float32" and obj["shape"] == [len(values)]
    assert np.array_equal(_bits(parse_vector(lex, V.RDF_TENSOR)), _bits(m[0]))
    (b64,) = base64_lexicals(m)
    assert np.array_equal(_bits(parse_vector(b64, V.base64Float32)), _bits(m[0]))


def test_tensor_lexical_form_is_the_rdf_tensor_json():
    (lex,) = tensor_lexicals(np.array([[0.5, -0.0, 1e-7]], dtype=np.float32))
    assert lex == '{"type":"float32","shape":[3],"data":[0.5,-0.0,1e-7]}'
    assert json.loads(lex)["data"] == [0.5, -0.0, 1e-7]
    lit = vector_literals(np.zeros((1, 2), np.float32))[0]
    assert lit.datatype == ox.NamedNode(V.RDF_TENSOR)
    assert vector_literals(np.zeros((1, 2), np.float32), "base64")[0].datatype == ox.NamedNode(V.base64Float32)
    with pytest.raises(UsageError):
        vector_literals(np.zeros((1, 2)), "hex")


def test_base64_is_little_endian_float32():
    (b64,) = base64_lexicals(np.array([[1.0]], dtype=np.float32))
    assert b64 == "AACAPw=="  # 0x3f800000 little-endian


def test_non_finite_vectors_and_bad_literals_are_refused():
    with pytest.raises(DataError):
        tensor_lexicals(np.array([[1.0, np.nan]], dtype=np.float32))
    with pytest.raises(DataError):
        parse_vector('{"type":"float32","shape":[3],"data":[1,2]}', V.RDF_TENSOR)
    with pytest.raises(DataError):
        parse_vector("AAA", V.base64Float32)


def test_parse_term_refuses_crafted_iris_and_parses_literals():
    with pytest.raises(InputError):
        parse_term("<http://ex.org/a> } ; DROP ALL ; INSERT DATA { <x:y>")
    with pytest.raises(InputError):
        parse_term("http://ex.org/a b")
    assert parse_term('"a \\"b\\"\\n"@en') == ox.Literal('a "b"\n', language="en")
    assert parse_term("<http://ex.org/ü>") == ox.NamedNode("http://ex.org/ü")
    assert parse_term("http://ex.org/x") == ox.NamedNode("http://ex.org/x")
    assert parse_term("_:b1", lambda label: f"urn:sk:{label}") == ox.NamedNode("urn:sk:b1")


def test_skolem_iris_are_stable_and_scoped_by_input():
    a = skolem_iri("_:b0", "fp1")
    assert a == skolem_iri("b0", "fp1")
    assert a.startswith(V.DEFAULT_BASE + "/.well-known/genid/")
    assert a != skolem_iri("b0", "fp2") and a != skolem_iri("b1", "fp1")
    assert skolem_iri("b0", "fp1", "https://data.example/").startswith("https://data.example/.well-known/genid/")


@pytest.mark.parametrize("fmt", ["nt", "ttl", "trig", "nq"])
def test_write_rdf_formats_parse_back(tmp_path, fmt):
    g = ox.NamedNode("urn:g")
    quads = [ox.Quad(ox.NamedNode("http://ex.org/s"), ox.NamedNode(V.embedding), lit, g)
             for lit in vector_literals(EDGE.reshape(1, -1))]
    path = write_rdf(lambda: iter(quads), tmp_path / f"x.{fmt}", fmt, V.PREFIXES)
    (q,) = list(ox.parse(path=str(path)))
    assert np.array_equal(_bits(parse_vector(q.object.value, q.object.datatype.value)), _bits(EDGE))
    assert (q.graph_name == g) == (fmt in ("trig", "nq"))
    with pytest.raises(UsageError):
        write_rdf(lambda: iter(quads), tmp_path / "x.xml", "xml")
