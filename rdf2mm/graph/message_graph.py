"""The graph the model passes messages over: entity nodes plus literal nodes.

Nodes ``0..E-1`` are the entities; nodes ``E..N-1`` are literal nodes. With
``literals="split"`` every entity-literal triple gets its own literal node (two entities
with the same birth year are *not* connected through it); with ``"merged"`` each
distinct literal is one node (they are); with ``"none"`` literals are left out.
Inverse relations (``r`` reversed, numbered ``r + R``) let information flow from
objects to subjects, which is how an entity receives its literals' encodings.
Self-loops are not edges here: the R-GCN layer has its own root weight for them, and
:meth:`MessageGraph.edges_with_self_loops` adds them explicitly for exports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

import numpy as np

from rdf2mm.config import LITERAL_MODES
from rdf2mm.graph.knowledge_graph import KnowledgeGraph

LiteralMode = TypingLiteral["split", "merged", "none"]


@dataclass
class MessageGraph:
    """Integer edge lists over entity and literal nodes."""

    num_entities: int
    num_nodes: int
    #: literal id (into the KnowledgeGraph's literal table) of each literal node, [N - E]
    node_literal: np.ndarray
    #: [2, M] source -> target node ids, and the relation type of each edge
    edge_index: np.ndarray
    edge_type: np.ndarray
    #: relation names: the graph's predicates, then (with inverses) ``"^" + predicate``
    relation_names: list[str]
    literals: str
    inverse: bool

    @property
    def num_relations(self) -> int:
        return len(self.relation_names)

    @property
    def num_literal_nodes(self) -> int:
        return self.num_nodes - self.num_entities

    def edges_with_self_loops(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Edges plus one self-loop per node, typed with an extra ``"self"`` relation."""
        loops = np.arange(self.num_nodes, dtype=np.int64)
        edge_index = np.concatenate([self.edge_index, np.stack([loops, loops])], axis=1)
        edge_type = np.concatenate([self.edge_type, np.full(self.num_nodes, self.num_relations, np.int64)])
        return edge_index, edge_type, [*self.relation_names, "self"]


def build_message_graph(
    kg: KnowledgeGraph,
    literals: LiteralMode = "split",
    inverse: bool = True,
    literal_mask: np.ndarray | None = None,
    literal_edges: np.ndarray | None = None,
) -> MessageGraph:
    """Turn ``kg`` into the node/edge lists the model uses.

    ``literal_mask`` (bool per literal id, optional) keeps only the literals it marks,
    e.g. to drop literals of unwanted modalities entirely. ``literal_edges`` replaces
    ``kg.literal_edges`` (the same shape; e.g. the shuffled-literal control's, see
    :mod:`rdf2mm.encoding.shuffle`).
    """
    if literals not in LITERAL_MODES:
        raise ValueError(f"literals must be one of {LITERAL_MODES}, not {literals!r}")
    E = kg.num_entities
    R = kg.num_relations
    src = [kg.edges[:, 0]]
    typ = [kg.edges[:, 1]]
    dst = [kg.edges[:, 2]]
    node_literal = np.zeros(0, dtype=np.int64)
    all_literal_edges = kg.literal_edges if literal_edges is None else literal_edges
    if literals != "none" and len(all_literal_edges):
        lit_edges = all_literal_edges
        if literal_mask is not None:
            lit_edges = lit_edges[literal_mask[lit_edges[:, 2]]]
        if literals == "split":
            node_literal = lit_edges[:, 2].copy()
            lit_nodes = E + np.arange(len(lit_edges), dtype=np.int64)
        else:
            node_literal, inverse_idx = np.unique(lit_edges[:, 2], return_inverse=True)
            lit_nodes = E + inverse_idx.astype(np.int64)
        src.append(lit_edges[:, 0])
        typ.append(lit_edges[:, 1])
        dst.append(lit_nodes)
    s = np.concatenate(src).astype(np.int64)
    t = np.concatenate(typ).astype(np.int64)
    d = np.concatenate(dst).astype(np.int64)
    names = list(kg.relations)
    if inverse:
        s, d, t = np.concatenate([s, d]), np.concatenate([d, s]), np.concatenate([t, t + R])
        names += ["^" + r for r in kg.relations]
    return MessageGraph(
        num_entities=E,
        num_nodes=E + len(node_literal),
        node_literal=node_literal.astype(np.int64),
        edge_index=np.stack([s, d]),
        edge_type=t,
        relation_names=names,
        literals=literals,
        inverse=inverse,
    )
