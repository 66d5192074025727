"""The shuffled-literal control: literal values permuted among the triples of their predicate.

A model that beats structure only may do so because it reads the literals, or only
because it has more parameters or more nodes to pass messages through. The control
tells these apart: each modality's literals are permuted among the entity-literal
triples of the same predicate, so that every predicate keeps exactly its distribution
of values (and the graph its shape), while the link between an entity and its values
is destroyed. A model that reads the literals should lose its edge over structure only
on the shuffled graph.

:func:`shuffled_literal_edges` does it for MR-GCN's literal nodes (applied once, before
the message graph is built, see :func:`rdf2mm.encoding.encode_graph`);
:meth:`rdf2mm.encoding.entity_features.EntityFeatures.shuffled` does the same for
entity-level features, and both draw their permutations from :func:`group_permutation`.
"""
from __future__ import annotations

import numpy as np


def group_permutation(seed: int, *key: int) -> np.random.Generator:
    """The generator of one group's permutation: fixed by the seed and the group's key
    (e.g. modality and predicate), so a group's shuffle does not depend on which other
    groups the graph has."""
    return np.random.default_rng([int(seed), *(int(k) for k in key)])


def shuffled_literal_edges(
    literal_edges: np.ndarray, literal_modality: np.ndarray, codes: list[int] | tuple[int, ...], seed: int,
) -> np.ndarray:
    """``literal_edges`` (int64 ``[K, 3]``: subject, predicate, literal id) with the literal
    ids permuted among the rows of the same predicate and modality.

    Only literals whose modality code (``literal_modality[literal id]``) is in ``codes`` move;
    the others (modalities not encoded, ``other`` datatypes) keep their subject. Rows stay in
    place, so subjects and predicates are unchanged: only which value a triple carries is.
    """
    out = np.array(literal_edges, dtype=np.int64, copy=True)
    if len(out) == 0:
        return out
    mod = literal_modality[out[:, 2]].astype(np.int64)
    for code in sorted(set(int(c) for c in codes)):
        rows = np.flatnonzero(mod == code)
        if len(rows) < 2:
            continue
        preds = out[rows, 1]
        for p in np.unique(preds):
            group = rows[preds == p]
            if len(group) < 2:
                continue
            perm = group_permutation(seed, code, int(p)).permutation(len(group))
            out[group, 2] = out[group[perm], 2]
    return out
