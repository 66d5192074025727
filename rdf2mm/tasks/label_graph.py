"""Node classification's labels in the graph: the graph without them (no leakage), and the
unlabelled entities that are like the labelled ones. Used when training and when predicting."""
from __future__ import annotations

from typing import Collection, Sequence

import numpy as np

from rdf2mm import vocab as V
from rdf2mm.graph.knowledge_graph import KnowledgeGraph


def remove_targets(kg: KnowledgeGraph, predicates: Sequence[str]) -> KnowledgeGraph:
    """Drop the label predicates' triples (their inverses go with them): no leakage."""
    index = kg.relation_index()
    ids = {index[p] for p in predicates if p in index}
    return kg.without_relations(ids) if ids else kg


def has_types(kg: KnowledgeGraph) -> bool:
    """Whether the graph has any rdf:type triple (to tell entities of a kind by)."""
    return V.RDF + "type" in kg.relation_index()


def unlabelled_candidates(kg: KnowledgeGraph, labelled: Collection[int]) -> list[int]:
    """Entities like the labelled ones (sharing an rdf:type with them) that carry no label,
    in id order; none when the graph has no rdf:type."""
    tid = kg.relation_index().get(V.RDF + "type")
    if tid is None:
        return []
    typed = kg.edges[kg.edges[:, 1] == tid]
    lab = np.fromiter(labelled, dtype=np.int64, count=len(labelled))
    classes = np.unique(typed[np.isin(typed[:, 0], lab), 2])
    cand = np.unique(typed[np.isin(typed[:, 2], classes), 0])
    taken = set(labelled)
    return [int(n) for n in cand if int(n) not in taken]
