"""Build a :class:`KnowledgeGraph` from a stream of parsed RDF terms.

The hot loop codes every triple with three dictionary look-ups keyed on pyoxigraph's
term objects (hashed in Rust); the strings of a term are only materialised once per
distinct term, at the end. Blank nodes are scoped per source: ``_:b`` in two files
are two nodes, as RDF's semantics require.
"""
from __future__ import annotations

from array import array
from collections import Counter
from typing import Iterable

import numpy as np
import pyoxigraph as ox

from rdf2mm.graph.knowledge_graph import KnowledgeGraph


class GraphBuilder:
    """Accumulates coded triples from one or more sources, then freezes them."""

    def __init__(self) -> None:
        self._ent: dict = {}
        self._rel: dict = {}
        self._lit: dict = {}
        self._s = array("q")
        self._p = array("q")
        self._o = array("q")  # literal objects are stored as ~literal_id (negative)
        self._skipped: Counter = Counter()
        self._sources = 0
        self._read = 0

    def add_quads(self, quads: Iterable[ox.Quad]) -> None:
        """Code all quads of one source (named graphs are merged into one graph)."""
        source = self._sources
        self._sources += 1
        ent, rel, lit = self._ent, self._rel, self._lit
        es, rs, ls = ent.setdefault, rel.setdefault, lit.setdefault
        sa, pa, oa = self._s.append, self._p.append, self._o.append
        Literal, BlankNode, NamedNode = ox.Literal, ox.BlankNode, ox.NamedNode
        n = 0
        for s, p, o, _g in quads:
            n += 1
            ts, to = type(s), type(o)
            if ts is not NamedNode:
                if ts is BlankNode:
                    s = (source, s)  # blank nodes are local to their source
                else:  # RDF-star quoted triple as subject: not a graph node
                    self._skipped["quoted triple (RDF-star)"] += 1
                    continue
            if to is Literal:
                oa(~ls(o, len(lit)))
            elif to is NamedNode:
                oa(es(o, len(ent)))
            elif to is BlankNode:
                oa(es((source, o), len(ent)))
            else:
                self._skipped["quoted triple (RDF-star)"] += 1
                continue
            sa(es(s, len(ent)))
            pa(rs(p, len(rel)))
        self._read += n

    def build(self) -> KnowledgeGraph:
        """Freeze into a duplicate-free :class:`KnowledgeGraph`."""
        entities = [_entity_string(t, self._sources) for t in self._ent]
        relations = [p.value for p in self._rel]
        lexical: list[str] = []
        language: list[str] = []
        dt_codes = np.empty(len(self._lit), dtype=np.int32)
        dt_index: dict[str, int] = {}
        for i, lit in enumerate(self._lit):
            lexical.append(lit.value)
            language.append(lit.language or "")
            dt = lit.datatype.value
            code = dt_index.get(dt)
            if code is None:
                code = dt_index[dt] = len(dt_index)
            dt_codes[i] = code
        s = np.frombuffer(self._s, dtype=np.int64)
        p = np.frombuffer(self._p, dtype=np.int64)
        o = np.frombuffer(self._o, dtype=np.int64)
        is_lit = o < 0
        edges = _unique_rows(np.stack([s[~is_lit], p[~is_lit], o[~is_lit]], axis=1))
        literal_edges = _unique_rows(np.stack([s[is_lit], p[is_lit], ~o[is_lit]], axis=1))
        total = int(len(s))
        stats = {
            "quads_read": self._read,
            "duplicates_removed": total - int(len(edges) + len(literal_edges)),
            "skipped": dict(self._skipped),
            "sources": self._sources,
        }
        return KnowledgeGraph(
            entities=entities,
            relations=relations,
            literal_lexical=lexical,
            literal_datatype=dt_codes,
            literal_language=language,
            datatypes=list(dt_index),
            edges=edges,
            literal_edges=literal_edges,
            stats=stats,
        )


def _entity_string(term: object, n_sources: int) -> str:
    """N-Triples form of an entity; blank nodes of later sources get a source prefix."""
    if isinstance(term, tuple):
        source, node = term
        if n_sources == 1 or source == 0:
            return str(node)
        return f"_:s{source}x{node.value}"
    return str(term)


def _unique_rows(rows: np.ndarray) -> np.ndarray:
    """Drop duplicate (s, r, o) rows, keeping first-seen order (RDF graphs are sets)."""
    rows = np.ascontiguousarray(rows, dtype=np.int64).reshape(-1, 3)
    if len(rows) < 2:
        return rows
    # A structured view lets np.unique compare whole rows in one pass.
    view = rows.view([("s", np.int64), ("p", np.int64), ("o", np.int64)]).ravel()
    _, first = np.unique(view, return_index=True)
    if len(first) == len(rows):
        return rows
    return rows[np.sort(first)]


def build_graph(sources_quads: Iterable[Iterable[ox.Quad]]) -> KnowledgeGraph:
    """Build one graph from several sources, each an iterable of quads."""
    builder = GraphBuilder()
    for quads in sources_quads:
        builder.add_quads(quads)
    return builder.build()
