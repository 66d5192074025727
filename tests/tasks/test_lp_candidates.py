"""A relation's candidate heads and tails for `predict`: from rdf:type in training, else the entities seen."""
from __future__ import annotations

import pyoxigraph as ox

from rdf2mm.graph.build import build_graph
from rdf2mm.tasks.lp_candidates import relation_candidates

EX = "http://e/"
A = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _kg(lines: list[str]):
    return build_graph([ox.parse(input="\n".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES)])


def _names(kg, ids) -> set[str]:
    return {kg.entities[int(i)].strip("<>").removeprefix(EX) for i in ids}


def test_typed_tails_give_every_entity_of_those_types():
    lines = [f"<{EX}i{i}> <{EX}inGroup> <{EX}g{i % 2}> ." for i in range(4)]
    lines += [f"<{EX}i{i}> <{A}> <{EX}Item> ." for i in range(5)]
    lines += [f"<{EX}g{g}> <{A}> <{EX}Group> ." for g in range(3)]  # g2 is in no inGroup triple yet
    lines += [f"<{EX}i0> <{EX}near> <{EX}i1> ."]
    kg = _kg(lines)
    rel = kg.relation_index()[EX + "inGroup"]
    tails = relation_candidates(kg, rel, "tail")
    assert tails.rule == "rdf:type" and tails.types == [EX + "Group"]
    assert _names(kg, tails.entities) == {"g0", "g1", "g2"}
    assert "3 candidates: entities of type <http://e/Group>" in tails.describe("tail", EX + "inGroup")
    heads = relation_candidates(kg, rel, "head")
    assert _names(kg, heads.entities) == {"i0", "i1", "i2", "i3", "i4"}  # i4: an Item in no inGroup triple


def test_untyped_relation_uses_the_entities_seen_there():
    kg = _kg([f"<{EX}a{i}> <{EX}likes> <{EX}b{i % 3}> ." for i in range(6)] + [f"<{EX}b0> <{EX}likes> <{EX}c> ."])
    rel = kg.relation_index()[EX + "likes"]
    tails = relation_candidates(kg, rel, "tail")
    assert tails.rule == "seen" and _names(kg, tails.entities) == {"b0", "b1", "b2", "c"}
    assert "seen as tails of <http://e/likes> in training" in tails.describe("tail", EX + "likes")
    # rdf:type itself: its tails are the classes used
    kg2 = _kg([f"<{EX}x> <{A}> <{EX}K1> .", f"<{EX}y> <{A}> <{EX}K2> .", f"<{EX}x> <{EX}r> <{EX}y> ."])
    types = relation_candidates(kg2, kg2.relation_index()[A], "tail")
    assert _names(kg2, types.entities) == {"K1", "K2"}
