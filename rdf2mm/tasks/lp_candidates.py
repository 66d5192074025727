"""Which entities may answer a link-prediction query: a relation's range and domain.

KGE tools rank only entities of the right kind as the answer to ``(h, r, ?)`` (the
relation's range) and ``(?, r, t)`` (its domain), instead of every entity of the graph:
"which group is item_0 in?" should list groups, not items. The kind is decided from
the training graph only (never from held-out triples):

* if some of the entities seen on that side of ``r`` in training have ``rdf:type``
  triples, the candidates are every entity of one of those types, plus the entities
  seen there (so an untyped one is never excluded);
* otherwise, the entities seen on that side of ``r`` in training.

Evaluation ranks against every entity (the field's protocol); this filter is for
answering queries (``rdf2mm predict``), and ``--all-candidates`` turns it off.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.vocab import RDF_TYPE

Side = Literal["head", "tail"]


@dataclass
class CandidateSet:
    """The entities that may fill one side of a relation, and how that was decided."""

    entities: np.ndarray  #: sorted int64 entity ids
    #: "rdf:type" (entities of the types seen there) or "seen" (entities seen there)
    rule: str
    #: the type IRIs the candidates were taken from (rule "rdf:type")
    types: list[str]

    def describe(self, side: Side, relation: str) -> str:
        """One sentence on what the candidates are, for the user."""
        where = f"{'tails' if side == 'tail' else 'heads'} of <{relation}> in training"
        if self.rule == "rdf:type":
            kinds = ", ".join(f"<{t}>" for t in self.types[:3]) + (", ..." if len(self.types) > 3 else "")
            return f"{len(self.entities)} candidates: entities of type {kinds} (the types of the {where})"
        return f"{len(self.entities)} candidates: the entities seen as {where} (they have no rdf:type)"


def relation_candidates(graph: KnowledgeGraph, relation: int, side: Side) -> CandidateSet:
    """The entities that may be the ``side`` of ``relation``, from ``graph``'s triples."""
    edges = graph.edges
    col = 2 if side == "tail" else 0
    seen = np.unique(edges[edges[:, 1] == relation, col]).astype(np.int64)
    type_id = graph.relation_index().get(RDF_TYPE)
    if type_id is None or relation == type_id or len(seen) == 0:
        return CandidateSet(seen, "seen", [])
    typed = edges[edges[:, 1] == type_id]
    types = np.unique(typed[np.isin(typed[:, 0], seen), 2])
    if len(types) == 0:
        return CandidateSet(seen, "seen", [])
    of_type = typed[np.isin(typed[:, 2], types), 0]
    entities = np.union1d(seen, of_type).astype(np.int64)
    names = sorted(graph.entities[int(t)].strip("<>") for t in types)
    return CandidateSet(entities, "rdf:type", names)
