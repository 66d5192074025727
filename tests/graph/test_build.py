"""The graph builder: coding, literal identity, duplicates, blank-node scoping, cache."""
from __future__ import annotations

import numpy as np
import pyoxigraph as ox

from rdf2mm.graph.build import build_graph
from rdf2mm.graph.cache import load_graph, save_graph


TTL = b"""
@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:a ex:knows ex:b , _:x .
ex:a ex:knows ex:b .
ex:a ex:age "42"^^xsd:integer .
ex:b ex:age "42"^^xsd:integer .
ex:b ex:age "042"^^xsd:integer .
ex:a ex:name "Ann"@en , "Ann"@nl , "Ann" .
_:x ex:name "X" .
"""


def parse(data: bytes):
    return ox.parse(input=data, format=ox.RdfFormat.TURTLE)


def test_coding_and_literal_identity():
    kg = build_graph([parse(TTL)])
    # the duplicate ex:a ex:knows ex:b is dropped: RDF graphs are sets
    assert len(kg.edges) == 2
    assert kg.num_triples == 2 + 7
    assert set(kg.entities) == {"<http://example.org/a>", "<http://example.org/b>", "_:x"}
    # identity = (lexical, datatype, language): "42" shared, "042" distinct, three "Ann"s distinct
    terms = {kg.literal_term(i) for i in range(kg.num_literals)}
    xsd = "http://www.w3.org/2001/XMLSchema#"
    assert ("42", xsd + "integer", "") in terms and ("042", xsd + "integer", "") in terms
    assert ("Ann", "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString", "en") in terms
    assert ("Ann", "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString", "nl") in terms
    assert ("Ann", xsd + "string", "") in terms
    assert kg.num_literals == 6
    # every literal edge points at a literal with the right text
    a = kg.find_entity("http://example.org/a")
    rows = kg.literal_edges[kg.literal_edges[:, 0] == a]
    assert sorted(kg.literal_lexical[i] for i in rows[:, 2]) == ["42", "Ann", "Ann", "Ann"]


def test_blank_nodes_are_scoped_per_source():
    one = b'_:x <http://p> <http://o> .'
    kg = build_graph([ox.parse(input=one, format=ox.RdfFormat.N_TRIPLES),
                      ox.parse(input=one, format=ox.RdfFormat.N_TRIPLES)])
    assert kg.num_entities == 3  # two different _:x and <http://o>
    assert len(kg.edges) == 2


def test_cache_round_trip(tmp_path):
    kg = build_graph([parse(TTL)])
    save_graph(kg, tmp_path / "g")
    back = load_graph(tmp_path / "g")
    assert back.entities == kg.entities and back.relations == kg.relations
    assert back.literal_lexical == kg.literal_lexical and back.literal_language == kg.literal_language
    assert back.datatypes == kg.datatypes
    np.testing.assert_array_equal(back.edges, kg.edges)
    np.testing.assert_array_equal(back.literal_edges, kg.literal_edges)
    np.testing.assert_array_equal(back.literal_datatype, kg.literal_datatype)


def test_read_graph_uses_cache_and_is_never_stale(tmp_path):
    from rdf2mm.graph.ingest import read_graph

    f = tmp_path / "g.ttl"
    f.write_bytes(TTL)
    kg1, fp1 = read_graph([f])
    assert kg1.stats["cache"] == "miss"
    kg2, fp2 = read_graph([f])
    assert kg2.stats["cache"] == "hit" and fp1 == fp2
    assert kg2.entities == kg1.entities
    # changing the content changes the key: the old entry is not used
    f.write_bytes(TTL + b"<http://example.org/c> <http://example.org/knows> <http://example.org/a> .\n")
    kg3, fp3 = read_graph([f])
    assert fp3 != fp1 and kg3.stats["cache"] == "miss"
    assert kg3.num_entities == kg1.num_entities + 1


def test_damaged_cache_entry_is_rebuilt(tmp_path):
    from rdf2mm.graph.ingest import read_graph

    f = tmp_path / "g.ttl"
    f.write_bytes(TTL)
    read_graph([f])
    import os

    root = os.environ["RDF2MM_CACHE"]
    from pathlib import Path

    for p in Path(root).rglob("edges.npy"):
        p.write_bytes(b"garbage")
    kg, _ = read_graph([f])
    assert kg.stats["cache"] == "miss" and len(kg.edges) == 2
