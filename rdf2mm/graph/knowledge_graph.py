"""The integer-coded knowledge graph every later stage works on.

Terms are coded once, at read time:

- entities (IRIs and blank nodes) are numbered ``0..E-1``; ``entities[i]`` is the
  term in N-Triples syntax (``<http://...>`` or ``_:label``), which is unambiguous and
  is what the output writers and label readers use as the key;
- relations (predicate IRIs, plain strings without brackets) are ``0..R-1``;
- literals are numbered ``0..L-1`` by identity (lexical form, datatype, language): two
  occurrences of the same literal share one id. Whether they also share one *node* in
  the message-passing graph is decided later (split vs merged, see
  :mod:`rdf2mm.graph.message_graph`).

Entity-entity triples are rows ``(s, r, o)`` of :attr:`KnowledgeGraph.edges`;
entity-literal triples are rows ``(s, r, literal_id)`` of
:attr:`KnowledgeGraph.literal_edges`. Both are duplicate-free.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rdf2mm.graph.converters import convert
from rdf2mm.vocab import RDF_LANGSTRING, XSD_STRING


@dataclass
class KnowledgeGraph:
    """An integer-coded RDF graph with entities, relations and literals kept apart."""

    entities: list[str]
    relations: list[str]
    literal_lexical: list[str]
    literal_datatype: np.ndarray  # int32 [L], index into ``datatypes``
    literal_language: list[str]  # "" when the literal has no language tag
    datatypes: list[str]
    edges: np.ndarray  # int64 [M, 3] (subject, relation, object entity)
    literal_edges: np.ndarray  # int64 [K, 3] (subject, relation, literal id)
    #: what was read and what was skipped while reading, for reports
    stats: dict[str, Any] = field(default_factory=dict)
    _entity_index: dict[str, int] | None = field(default=None, repr=False, compare=False)
    _relation_index: dict[str, int] | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ sizes
    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def num_literals(self) -> int:
        return len(self.literal_lexical)

    @property
    def num_triples(self) -> int:
        return int(self.edges.shape[0] + self.literal_edges.shape[0])

    def __repr__(self) -> str:
        return (
            f"KnowledgeGraph(triples={self.num_triples}, entities={self.num_entities}, "
            f"relations={self.num_relations}, literals={self.num_literals})"
        )

    # ---------------------------------------------------------------- lookups
    def entity_index(self) -> dict[str, int]:
        """Map from N-Triples term (``<iri>`` or ``_:b``) to entity id (built once)."""
        if self._entity_index is None:
            self._entity_index = {t: i for i, t in enumerate(self.entities)}
        return self._entity_index

    def relation_index(self) -> dict[str, int]:
        """Map from predicate IRI (no brackets) to relation id (built once)."""
        if self._relation_index is None:
            self._relation_index = {t: i for i, t in enumerate(self.relations)}
        return self._relation_index

    def closest_relations(self, iri: str, n: int = 3) -> list[str]:
        """The graph's predicates spelled most like ``iri`` (for "did you mean"), closest first."""
        import difflib  # noqa: PLC0415 - only needed on the error path

        iri = iri.strip().strip("<>")
        local = iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        by_local: dict[str, list[str]] = {}
        for r in self.relations:
            by_local.setdefault(r.rsplit("#", 1)[-1].rsplit("/", 1)[-1], []).append(r)
        # Whole IRIs share long namespaces, so every predicate of the graph looks alike:
        # match the local names; whole IRIs only when no local name is close (a typo in
        # the namespace).
        found = [r for name in difflib.get_close_matches(local, list(by_local), n=n, cutoff=0.6) for r in by_local[name]]
        return found[:n] or difflib.get_close_matches(iri, self.relations, n=n, cutoff=0.9)

    def find_entity(self, term: str) -> int | None:
        """Entity id of an IRI (with or without ``<>``) or ``_:blank`` label, or None."""
        term = term.strip()
        if not term.startswith(("<", "_:")):
            term = f"<{term}>"
        return self.entity_index().get(term)

    def literal_datatype_iri(self, literal_id: int) -> str:
        return self.datatypes[int(self.literal_datatype[literal_id])]

    def literal_term(self, literal_id: int) -> tuple[str, str, str]:
        """(lexical form, datatype IRI, language) of a literal."""
        return (
            self.literal_lexical[literal_id],
            self.literal_datatype_iri(literal_id),
            self.literal_language[literal_id],
        )

    # ------------------------------------------------------------- summaries
    def datatype_counts(self, occurrences: bool = True) -> Counter:
        """Literals per datatype IRI: per triple (``occurrences``) or per distinct literal."""
        if occurrences:
            codes = self.literal_datatype[self.literal_edges[:, 2]] if len(self.literal_edges) else np.zeros(0, np.int32)
        else:
            codes = self.literal_datatype
        counts = np.bincount(codes, minlength=len(self.datatypes)) if len(codes) else np.zeros(len(self.datatypes), int)
        return Counter({self.datatypes[i]: int(c) for i, c in enumerate(counts) if c})

    def predicate_counts(self) -> Counter:
        """Triples per predicate IRI."""
        rel = np.concatenate([self.edges[:, 1], self.literal_edges[:, 1]])
        counts = np.bincount(rel, minlength=self.num_relations) if len(rel) else np.zeros(self.num_relations, int)
        return Counter({self.relations[i]: int(c) for i, c in enumerate(counts) if c})

    # --------------------------------------------------------------- editing
    def without_relations(self, relation_ids: list[int] | set[int]) -> KnowledgeGraph:
        """A copy without any triple whose predicate is one of ``relation_ids``.

        Used to remove a target predicate (label leakage); entity, relation and literal
        numbering stays the same so that ids remain valid.
        """
        rel = np.asarray(sorted(relation_ids), dtype=np.int64)
        keep_e = ~np.isin(self.edges[:, 1], rel)
        keep_l = ~np.isin(self.literal_edges[:, 1], rel)
        return self.keep_triples(keep_e, keep_l, "removed_triples")

    def keep_triples(self, keep_edges: np.ndarray, keep_literal_edges: np.ndarray, stat: str) -> KnowledgeGraph:
        """A copy with only the marked triples; ids stay valid; ``stats[stat]`` counts the dropped ones."""
        stats = dict(self.stats)
        stats[stat] = int((~keep_edges).sum() + (~keep_literal_edges).sum())
        return KnowledgeGraph(
            entities=self.entities,
            relations=self.relations,
            literal_lexical=self.literal_lexical,
            literal_datatype=self.literal_datatype,
            literal_language=self.literal_language,
            datatypes=self.datatypes,
            edges=self.edges[keep_edges],
            literal_edges=self.literal_edges[keep_literal_edges],
            stats=stats,
            _entity_index=self._entity_index,
            _relation_index=self._relation_index,
        )

    # ------------------------------------------------------------ interop
    def to_pyg(self, *, hetero: bool = False, **options: Any) -> Any:
        """A torch-geometric ``Data`` (or ``HeteroData``); see :func:`rdf2mm.pyg.to_pyg` for options.

        Provided by :mod:`rdf2mm.pyg` through :mod:`rdf2mm.graph.converters` (the graph
        does not import the layers built on it).
        """
        return convert("pyg", self, hetero=hetero, **options)
