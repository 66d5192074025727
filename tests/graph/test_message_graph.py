"""Split vs merged literal nodes, inverse relations, self-loops."""
from __future__ import annotations

import numpy as np
import pyoxigraph as ox

from rdf2mm.graph.build import build_graph
from rdf2mm.graph.message_graph import build_message_graph

NT = b"""
<http://e/a> <http://e/year> "1990"^^<http://www.w3.org/2001/XMLSchema#gYear> .
<http://e/b> <http://e/year> "1990"^^<http://www.w3.org/2001/XMLSchema#gYear> .
<http://e/a> <http://e/knows> <http://e/b> .
"""


def kg():
    return build_graph([ox.parse(input=NT, format=ox.RdfFormat.N_TRIPLES)])


def test_split_gives_one_node_per_occurrence():
    mg = build_message_graph(kg(), literals="split", inverse=False)
    assert mg.num_entities == 2 and mg.num_literal_nodes == 2
    assert mg.edge_index.shape == (2, 3)
    # both literal nodes encode the same literal id
    assert len(set(mg.node_literal.tolist())) == 1


def test_merged_connects_entities_through_shared_literal():
    mg = build_message_graph(kg(), literals="merged", inverse=False)
    assert mg.num_literal_nodes == 1
    lit_node = mg.num_entities
    assert (mg.edge_index[1] == lit_node).sum() == 2


def test_none_drops_literals_and_inverse_doubles_edges():
    mg = build_message_graph(kg(), literals="none", inverse=True)
    assert mg.num_nodes == 2 and mg.num_literal_nodes == 0
    assert mg.edge_index.shape[1] == 2
    assert mg.num_relations == 2 * len(kg().relations)
    # the inverse edge runs the other way with relation r + R
    R = len(kg().relations)
    fwd = mg.edge_index[:, 0]
    inv = mg.edge_index[:, 1]
    assert (inv == fwd[::-1]).all() and mg.edge_type[1] == mg.edge_type[0] + R


def test_self_loops_for_export():
    mg = build_message_graph(kg(), literals="split")
    ei, et, names = mg.edges_with_self_loops()
    assert ei.shape[1] == mg.edge_index.shape[1] + mg.num_nodes
    assert names[-1] == "self" and (et[-mg.num_nodes:] == len(names) - 1).all()
    np.testing.assert_array_equal(ei[0, -mg.num_nodes:], np.arange(mg.num_nodes))
