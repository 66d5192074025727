"""The shuffled-literal control on MR-GCN's inputs: values permuted among the literal nodes of
their predicate (distribution kept, link destroyed), and a model reading a planted literal
signal loses it."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rdf2mm.encoding.shuffle import shuffled_literal_edges
from rdf2mm.graph.ingest import read_graph
from rdf2mm.modalities.preprocess import MODALITY_CODES
from rdf2mm.pipeline import train
from rdf2mm.tasks.inputs import prepare_inputs
from tests.conftest import label_config

NUM, TEXT, OTHER = MODALITY_CODES.index("numeric"), MODALITY_CODES.index("textual"), MODALITY_CODES.index("other")


def _groups(edges: np.ndarray, lit_mod: np.ndarray) -> dict[tuple[int, int], Counter]:
    out: dict[tuple[int, int], Counter] = {}
    for s, p, lid in edges.tolist():
        out.setdefault((p, int(lit_mod[lid])), Counter())[lid] += 1
    return out


def test_shuffled_literal_edges_permute_within_predicate_and_modality():
    rng = np.random.default_rng(0)
    n = 400
    lit_mod = np.array([NUM] * 50 + [TEXT] * 50 + [OTHER] * 20, dtype=np.int8)
    edges = np.stack([rng.integers(0, 100, n), rng.integers(0, 3, n), rng.integers(0, len(lit_mod), n)], axis=1)
    out = shuffled_literal_edges(edges, lit_mod, [NUM, TEXT], seed=5)
    assert out.shape == edges.shape and out is not edges
    assert np.array_equal(out[:, :2], edges[:, :2])  # subjects and predicates stay
    assert _groups(out, lit_mod) == _groups(edges, lit_mod)  # each (predicate, modality) keeps its values
    other = lit_mod[edges[:, 2]] == OTHER
    assert np.array_equal(out[other], edges[other])  # a modality not asked for does not move
    moved = (out[:, 2] != edges[:, 2]) & ~other
    assert moved.sum() > 0.8 * (~other).sum()
    assert np.array_equal(shuffled_literal_edges(edges, lit_mod, [NUM, TEXT], seed=5), out)
    assert not np.array_equal(shuffled_literal_edges(edges, lit_mod, [NUM, TEXT], seed=6), out)
    only_text = shuffled_literal_edges(edges, lit_mod, [TEXT], seed=5)
    num = lit_mod[edges[:, 2]] == NUM
    assert np.array_equal(only_text[num], edges[num])
    assert len(shuffled_literal_edges(np.zeros((0, 3), np.int64), lit_mod, [NUM], 1)) == 0


@pytest.mark.parametrize("literals", ["split", "merged"])
def test_shuffled_inputs_keep_parsed_values_and_move_them(numeric_only, literals):
    kg, _ = read_graph([str(numeric_only.graph_path)], cache=False)
    plain = prepare_inputs(kg, "numeric,boolean", literals)
    shuf = prepare_inputs(kg, "numeric,boolean", literals, shuffle_seed=0)
    assert plain.shuffle_seed is None and shuf.shuffle_seed == 0
    # the same literals parsed to the same arrays, the same graph shape
    for name in ("numeric", "boolean"):
        assert np.array_equal(plain.prepared.data[name].literal_ids, shuf.prepared.data[name].literal_ids)
        assert np.array_equal(plain.prepared.data[name].parsed.data, shuf.prepared.data[name].parsed.data)
    assert plain.mg.num_relations == shuf.mg.num_relations
    assert plain.mg.edge_index.shape == shuf.mg.edge_index.shape
    E = kg.num_entities

    def literal_triples(inp) -> np.ndarray:
        """(entity, predicate, literal id) of every entity -> literal node edge."""
        mg = inp.mg
        s, d = mg.edge_index
        keep = (s < E) & (d >= E) & (mg.edge_type < kg.num_relations)
        return np.stack([s[keep], mg.edge_type[keep], mg.node_literal[d[keep] - E]], axis=1)

    a, b = literal_triples(plain), literal_triples(shuf)
    lit_mod = plain.prepared.literal_modality
    assert _groups(a, lit_mod) == _groups(b, lit_mod)
    encoded = np.isin(lit_mod[a[:, 2]], [NUM, MODALITY_CODES.index("boolean")])
    ea = {tuple(t) for t in a[encoded].tolist()}
    eb = {tuple(t) for t in b[encoded].tolist()}
    assert len(ea & eb) < 0.6 * len(ea)  # most entity-value links are new
    # the other modalities' literals (not encoded in this run) keep their entities
    assert sorted(map(tuple, a[~encoded].tolist())) == sorted(map(tuple, b[~encoded].tolist()))


def test_mrgcn_with_real_literals_beats_its_shuffled_control(numeric_only, tmp_path):
    common = dict(modalities="numeric", epochs=40, seed=1, seeds=1, threads="1")
    real = train(label_config(numeric_only, **common))
    shuffled = train(label_config(numeric_only, shuffle_literals=True, out=str(tmp_path / "shuffled"), **common))
    assert real.metrics["test_accuracy"] >= shuffled.metrics["test_accuracy"] + 0.2, (real.metrics, shuffled.metrics)
    saved = (tmp_path / "shuffled" / "config.toml").read_text()
    assert "shuffle_literals = true" in saved
