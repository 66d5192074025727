"""Prefixed names: the graph's declarations found, IRIs compacted, CURIEs expanded, unknown prefixes refused."""
from __future__ import annotations

import gzip

import pytest

from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.io.prefixes import Prefixes, declared_prefixes, prefixes_for
from tests.conftest import EXAMPLES

EX = "http://example.org/museum#"


def test_declared_prefixes_of_turtle_gzip_and_rdfxml(tmp_path):
    assert declared_prefixes(EXAMPLES / "museum.ttl")["ex"] == EX
    gz = tmp_path / "g.ttl.gz"
    gz.write_bytes(gzip.compress(b"PREFIX a: <http://a.org/>\n@prefix : <http://empty.org/> .\na:x a:p :y .\n"))
    xml = tmp_path / "g.rdf"
    xml.write_text('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:b="http://b.org/"/>')
    found = declared_prefixes([gz, xml])
    assert found["a"] == "http://a.org/" and found[""] == "http://empty.org/" and found["b"] == "http://b.org/"
    # N-Triples declares nothing; a missing file is not an error here
    assert declared_prefixes([tmp_path / "missing.ttl"]) == {}


def test_compact_and_expand_round_trip():
    p = prefixes_for(EXAMPLES / "museum.ttl")
    assert p.compact(f"<{EX}work3>") == "ex:work3"
    assert p.compact("http://www.w3.org/2001/XMLSchema#gYear") == "xsd:gYear"
    assert p.compact("http://elsewhere.org/x") == "http://elsewhere.org/x"  # no prefix: the IRI as is
    assert p.compact(f"{EX}a/b") == f"{EX}a/b"  # not a valid local name: not compacted
    assert p.compact_term(f'"1587"^^<http://www.w3.org/2001/XMLSchema#gYear>') == '"1587"^^xsd:gYear'
    for iri in (f"{EX}work3", "http://www.w3.org/2000/01/rdf-schema#label"):
        assert p.expand(p.compact(iri)) == iri
    assert p.expand(f"<{EX}work3>") == p.expand(f"{EX}work3") == f"{EX}work3"
    assert p.expand("urn:isbn:123") == "urn:isbn:123" and p.expand("_:b0") == "_:b0"
    # the graph's own declaration wins over a common prefix of the same name
    assert Prefixes({"geo": "http://mine.org/geo#"}).expand("geo:x") == "http://mine.org/geo#x"


def test_unknown_prefix_names_the_known_ones():
    with pytest.raises(UsageError) as err:
        prefixes_for(EXAMPLES / "museum.ttl").expand("museum:movement", "--target")
    assert "unknown prefix 'museum:' in --target 'museum:movement'" in err.value.message
    assert "ex:" in err.value.message and "xsd:" in err.value.message


def test_train_config_expands_target_and_target_relations():
    cfg = TrainConfig(graph=[str(EXAMPLES / "museum.ttl")], target="ex:movement",
                      target_relations=["ex:creator", f"<{EX}heldBy>"]).resolve()
    assert cfg.target == EX + "movement"
    assert cfg.target_relations == [EX + "creator", EX + "heldBy"]
