"""Link-prediction splits: held-out triples never reach the message graph; auto split keeps coverage."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyoxigraph as ox
import pytest

from rdf2mm.errors import DataError
from rdf2mm.graph.build import GraphBuilder
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.graph.message_graph import build_message_graph
from rdf2mm.tasks.lp_splits import auto_split, read_triples, splits_from_files

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def _nt(triples: list[tuple[str, str, str]]) -> str:
    def obj(o: str) -> str:
        return o if o.startswith('"') else f"<{EX}{o}>"

    return "".join(f"<{EX}{s}> <{EX}{p}> {obj(o)} .\n" for s, p, o in triples)


def _kg_from_texts(*texts: str) -> KnowledgeGraph:
    b = GraphBuilder()
    for text in texts:
        b.add_quads(ox.parse(text.encode(), format=ox.RdfFormat.N_TRIPLES))
    return b.build()


TRAIN = [("a", "knows", "b"), ("b", "knows", "c"), ("c", "likes", "a"), ("d", "likes", "b"),
         ("a", "age", f'"31"^^<{XSD}integer>'), ("d", "knows", "a")]
VALID = [("a", "likes", "c"), ("b", "age", f'"40"^^<{XSD}integer>')]
TEST = [("c", "knows", "d"), ("b", "likes", "d"), ("a", "likes", "c"), ("c", "age", f'"7"^^<{XSD}integer>')]


@pytest.fixture()
def split_files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, rows in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        p = tmp_path / f"{name}.nt.gz"
        with gzip.open(p, "wt", encoding="utf-8") as fh:
            fh.write(_nt(rows))
        paths[name] = p
    # A context graph that (wrongly) also contains a test triple and a valid literal triple.
    ctx = tmp_path / "context.nt"
    ctx.write_text(_nt([("c", "knows", "d"), ("b", "age", f'"40"^^<{XSD}integer>'), ("e", "knows", "a")]))
    paths["context"] = ctx
    return paths


def _edge_set(mg) -> set[tuple[int, int, int]]:
    return set(zip(mg.edge_index[0].tolist(), mg.edge_type.tolist(), mg.edge_index[1].tolist()))


def test_held_out_triples_are_absent_from_the_message_graph(split_files):
    texts = [split_files["context"].read_text()] + [
        gzip.open(split_files[n], "rt").read() for n in ("train", "valid", "test")
    ]
    kg = _kg_from_texts(*texts)
    splits = splits_from_files(kg, split_files["train"], split_files["valid"], split_files["test"])
    R = kg.num_relations
    for literals in ("split", "merged"):
        mg = build_message_graph(splits.graph, literals=literals, inverse=True)
        edges = _edge_set(mg)
        held = np.concatenate([splits.valid, splits.test])
        assert len(held) == 3 and len(splits.valid) == 0  # (a likes c) is in both: a test triple
        for h, r, t in held.tolist():
            assert (h, r, t) not in edges
            assert (t, r + R, h) not in edges  # nor its inverse
        # literal-valued held-out triples are gone too: their values are no literal node
        lit_values = {kg.literal_lexical[i] for i in mg.node_literal.tolist()}
        assert lit_values == {"31"}
    # the train and context triples stay
    ents = kg.entity_index()
    knows = kg.relation_index()[EX + "knows"]
    assert (ents[f"<{EX}e>"], knows, ents[f"<{EX}a>"]) in _edge_set(build_message_graph(splits.graph))
    assert {tuple(x) for x in splits.test.tolist()} >= {(ents[f"<{EX}c>"], knows, ents[f"<{EX}d>"])}
    assert splits.report["not_ranked_literal_triples"] == {"valid": 1, "test": 1}
    # the filter set holds every known true triple
    known = {tuple(x) for x in splits.known().tolist()}
    assert all(tuple(x) in known for x in np.concatenate([splits.train, splits.valid, splits.test]).tolist())


def test_target_relations_restrict_evaluated_triples(split_files):
    kg = _kg_from_texts(*[gzip.open(split_files[n], "rt").read() for n in ("train", "valid", "test")])
    splits = splits_from_files(kg, split_files["train"], split_files["valid"], split_files["test"],
                               target_relations=[f"<{EX}likes>"])
    likes = kg.relation_index()[EX + "likes"]
    assert set(splits.test[:, 1].tolist()) == {likes}
    assert len(splits.test) == 2
    # the held-out 'knows' test triple still stays out of the graph
    knows = kg.relation_index()[EX + "knows"]
    c, d = kg.find_entity(EX + "c"), kg.find_entity(EX + "d")
    assert not ((splits.graph.edges == [c, knows, d]).all(1)).any()
    with pytest.raises(DataError):
        splits_from_files(kg, split_files["train"], split_files["valid"], split_files["test"],
                          target_relations=[EX + "nope"])


def test_read_triples_counts_unknown_terms(split_files, tmp_path):
    kg = _kg_from_texts(gzip.open(split_files["train"], "rt").read())
    other = tmp_path / "other.nt"
    other.write_text(_nt([("a", "knows", "zzz"), ("a", "knows", "b")]))
    e, li, counts = read_triples(other, kg)
    assert len(e) == 1 and len(li) == 0 and counts["unknown"] == 1


def _random_kg(n_ent: int, n_rel: int, n_edges: int, seed: int) -> KnowledgeGraph:
    rng = np.random.default_rng(seed)
    rows = {(f"e{rng.integers(n_ent)}", f"r{rng.integers(n_rel)}", f"e{rng.integers(n_ent)}") for _ in range(n_edges)}
    return _kg_from_texts(_nt(sorted(rows)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_split_keeps_held_out_entities_and_relations_in_train(seed):
    kg = _random_kg(120, 12, 500, seed)
    s = auto_split(kg, (0.8, 0.1, 0.1), seed=seed)
    train_ents = set(s.train[:, 0].tolist()) | set(s.train[:, 2].tolist())
    train_rels = set(s.train[:, 1].tolist())
    held = np.concatenate([s.valid, s.test])
    assert len(s.test) > 0 and len(s.valid) > 0
    assert set(held[:, 0].tolist()) | set(held[:, 2].tolist()) <= train_ents
    assert set(held[:, 1].tolist()) <= train_rels
    assert s.report["unseen_in_train"] == {"entity": 0, "relation": 0}
    # a partition of the entity triples, and nothing held out is in the graph
    total = len(s.train) + len(s.valid) + len(s.test)
    assert total == len(kg.edges)
    graph = {tuple(x) for x in s.graph.edges.tolist()}
    assert not graph & {tuple(x) for x in held.tolist()}
    # same seed, same split
    again = auto_split(kg, (0.8, 0.1, 0.1), seed=seed)
    assert np.array_equal(again.test, s.test) and np.array_equal(again.valid, s.valid)


def test_auto_split_target_relations_leave_others_in_the_graph():
    kg = _random_kg(60, 4, 300, 3)
    s = auto_split(kg, (0.6, 0.2, 0.2), seed=0, target_relations=[EX + "r1"])
    r1 = kg.relation_index()[EX + "r1"]
    assert set(s.test[:, 1].tolist()) == {r1} and set(s.valid[:, 1].tolist()) <= {r1}
    others = kg.edges[kg.edges[:, 1] != r1]
    graph = {tuple(x) for x in s.graph.edges.tolist()}
    assert {tuple(x) for x in others.tolist()} <= graph


def test_auto_split_refuses_tiny_graphs():
    kg = _kg_from_texts(_nt([("a", "r", "b"), ("b", "r", "c")]))
    with pytest.raises(DataError):
        auto_split(kg)
