"""Train / valid / test triples for link prediction, and the graph the model may see.

Two sources of splits:

- given files (``--train/--valid/--test``, any RDF format, plain or .gz/.bz2/.xz):
  the graph is read from GRAPH together with these files, so every term they name has
  an id; the message-passing graph is GRAPH ∪ train **minus every valid and test
  triple** (literal-valued ones included), so held-out triples never reach the model;
- an automatic split of the entity-entity triples (fractions, seed) that keeps at least
  one training triple for every entity and relation of a held-out triple, so no valid or
  test triple asks about something the model never saw.

``target_relations`` restricts which triples are prediction targets: other triples are
neither split off nor evaluated (in an automatic split they stay in the graph; in given
valid/test files they are still kept out of the graph, since the user held them out).

Ranking is over entities; triples whose object is a literal are not ranked (they are
counted in the report).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyoxigraph as ox

from rdf2mm.errors import DataError, InputError
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.io.formats import format_from_path
from rdf2mm.io.read import read_quads


@dataclass
class LinkSplits:
    """Integer triples ``(h, r, t)`` over the ids of :attr:`graph`."""

    graph: KnowledgeGraph  # what message passing sees: no valid/test triple in it
    train: np.ndarray  # int64 [n, 3]: training targets (all in ``graph``)
    valid: np.ndarray
    test: np.ndarray
    #: relation ids that are prediction targets (None: every relation)
    target_relations: list[int] | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def known(self) -> np.ndarray:
        """Every known true entity triple: the graph's, valid's and test's (for filtering)."""
        return np.unique(np.concatenate([self.graph.edges, self.train, self.valid, self.test]), axis=0)


# --------------------------------------------------------------------- helpers
def _row_keys(rows: np.ndarray, num_relations: int, num_objects: int) -> np.ndarray:
    """One int64 per ``(s, r, o)`` row, for set operations on triples."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    width = max(num_objects, 1)
    if (max(num_objects, int(rows[:, 0].max(initial=0)) + 1) * max(num_relations, 1) * width) >= 2**63:
        raise DataError("graph too large to index its triples with 64-bit keys")
    return (rows[:, 0] * num_relations + rows[:, 1]) * width + rows[:, 2]


def rows_in(rows: np.ndarray, other: np.ndarray, num_relations: int, num_objects: int) -> np.ndarray:
    """Boolean mask: which rows of ``rows`` also occur in ``other``."""
    if len(rows) == 0 or len(other) == 0:
        return np.zeros(len(rows), dtype=bool)
    return np.isin(_row_keys(rows, num_relations, num_objects), _row_keys(other, num_relations, num_objects))


def unique_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    return np.unique(rows, axis=0) if len(rows) else rows


def without_triples(kg: KnowledgeGraph, edges: np.ndarray, literal_edges: np.ndarray) -> KnowledgeGraph:
    """A copy of ``kg`` without the given entity and literal triples (ids unchanged)."""
    E, R, L = kg.num_entities, kg.num_relations, kg.num_literals
    keep_e = ~rows_in(kg.edges, edges, R, E)
    keep_l = ~rows_in(kg.literal_edges, literal_edges, R, max(L, 1))
    return kg.keep_triples(keep_e, keep_l, "held_out_triples")


def resolve_relations(kg: KnowledgeGraph, names: Sequence[str] | None) -> list[int] | None:
    """Relation ids of predicate IRIs (``<iri>`` or bare); unknown ones are an error."""
    if not names:
        return None
    index = kg.relation_index()
    ids, missing = [], []
    for name in names:
        key = name.strip().strip("<>")
        if key in index:
            ids.append(index[key])
        else:
            missing.append(key)
    if missing:
        raise DataError(f"target relation(s) not in the graph: {', '.join('<' + m + '>' for m in missing)}")
    return sorted(set(ids))


# ----------------------------------------------------------------- read files
def read_triples(
    path: str | Path, kg: KnowledgeGraph, literal_index: dict[tuple[str, str, str], int] | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Triples of a split file as ids of ``kg``: (entity triples, literal triples, counts).

    Terms absent from ``kg`` are skipped and counted (``unknown``).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: triple file not found")
    if format_from_path(path) is None:
        raise InputError(f"{path}: unknown triple file type (use an RDF file such as .nt, .nq or .ttl; "
                         "optionally .gz, .bz2 or .xz)")
    ents, rels = kg.entity_index(), kg.relation_index()
    lits = literal_index if literal_index is not None else literal_key_index(kg)
    e_rows: list[tuple[int, int, int]] = []
    l_rows: list[tuple[int, int, int]] = []
    counts: Counter = Counter()
    # read_quads: the same formats, compressions and file:line errors as the graph's reader
    for q in read_quads(path):
        counts["read"] += 1
        s = ents.get(str(q.subject))
        p = rels.get(q.predicate.value)
        o = q.object
        if s is None or p is None:
            counts["unknown"] += 1
            continue
        if isinstance(o, ox.Literal):
            lid = lits.get((o.value, o.datatype.value, o.language or ""))
            if lid is None:
                counts["unknown"] += 1
                continue
            l_rows.append((s, p, lid))
        else:
            oid = ents.get(str(o))
            if oid is None:
                counts["unknown"] += 1
                continue
            e_rows.append((s, p, oid))
    e = unique_rows(np.asarray(e_rows, dtype=np.int64))
    li = unique_rows(np.asarray(l_rows, dtype=np.int64))
    counts["entity_triples"] = len(e)
    counts["literal_triples"] = len(li)
    return e, li, dict(counts)


def literal_key_index(kg: KnowledgeGraph) -> dict[tuple[str, str, str], int]:
    """(lexical form, datatype IRI, language) -> literal id."""
    return {
        (lex, kg.datatypes[int(dt)], lang): i
        for i, (lex, dt, lang) in enumerate(zip(kg.literal_lexical, kg.literal_datatype, kg.literal_language))
    }


# -------------------------------------------------------------------- splits
def splits_from_files(
    kg: KnowledgeGraph,
    train: str | Path | None,
    valid: str | Path | None,
    test: str | Path | None,
    target_relations: Sequence[str] | None = None,
) -> LinkSplits:
    """Splits from given files; ``kg`` must have been read from GRAPH plus these files."""
    if test is None and valid is None:
        raise DataError("link prediction with split files needs --valid and/or --test triples")
    lits = literal_key_index(kg)
    report: dict[str, Any] = {"source": "files"}
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, path in (("train", train), ("valid", valid), ("test", test)):
        if path is None:
            parts[name] = (np.zeros((0, 3), np.int64), np.zeros((0, 3), np.int64))
            continue
        e, li, counts = read_triples(path, kg, lits)
        if counts.get("read", 0) == 0:
            raise DataError(f"{path}: holds no triples")
        parts[name] = (e, li)
        report[name] = counts
    held_e = unique_rows(np.concatenate([parts["valid"][0], parts["test"][0]]))
    held_l = unique_rows(np.concatenate([parts["valid"][1], parts["test"][1]]))
    graph = without_triples(kg, held_e, held_l)
    E, R = kg.num_entities, kg.num_relations
    if train is not None:
        tr = parts["train"][0]
        overlap = rows_in(tr, held_e, R, E)
        report["train_triples_also_held_out"] = int(overlap.sum())
        tr = tr[~overlap]
    else:
        tr = graph.edges
    targets = resolve_relations(kg, target_relations)
    valid_e, test_e = parts["valid"][0], parts["test"][0]
    # A triple in both valid and test is a test triple (valid only selects models).
    valid_e = valid_e[~rows_in(valid_e, test_e, R, E)]
    if targets is not None:
        valid_e = valid_e[np.isin(valid_e[:, 1], targets)]
        test_e = test_e[np.isin(test_e[:, 1], targets)]
    if len(tr) == 0:
        raise DataError("no training triple links two entities of the graph")
    if test is not None and len(test_e) == 0:
        raise DataError(f"{test}: no test triple links two known entities (with a target relation)")
    report["not_ranked_literal_triples"] = {"valid": len(parts["valid"][1]), "test": len(parts["test"][1])}
    report["sizes"] = {"train": len(tr), "valid": len(valid_e), "test": len(test_e)}
    report["unseen_in_train"] = _unseen(tr, valid_e, test_e)
    return LinkSplits(graph, tr, valid_e, test_e, targets, report)


def _unseen(train: np.ndarray, *held: np.ndarray) -> dict[str, int]:
    """Held-out triples naming an entity or relation absent from the training triples."""
    ents = np.unique(np.concatenate([train[:, 0], train[:, 2]]))
    rels = np.unique(train[:, 1])
    rows = np.concatenate(held) if held else np.zeros((0, 3), np.int64)
    bad_e = ~(np.isin(rows[:, 0], ents) & np.isin(rows[:, 2], ents))
    bad_r = ~np.isin(rows[:, 1], rels)
    return {"entity": int(bad_e.sum()), "relation": int(bad_r.sum())}


def auto_split(
    kg: KnowledgeGraph,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    target_relations: Sequence[str] | None = None,
) -> LinkSplits:
    """Split the entity-entity triples; every held-out entity and relation stays in train.

    In a random order, the first triple naming each entity (as head or tail) and the
    first of each relation are pinned to train; the valid and test triples are drawn
    from the rest, so removing them can never leave an entity or relation unseen.
    """
    fr = np.asarray(fractions, dtype=float)
    if len(fr) != 3 or (fr < 0).any() or fr.sum() <= 0:
        raise DataError("the split needs three non-negative fractions")
    fr = fr / fr.sum()
    targets = resolve_relations(kg, target_relations)
    edges = kg.edges
    is_target = np.isin(edges[:, 1], targets) if targets is not None else np.ones(len(edges), bool)
    cand = np.flatnonzero(is_target)
    if len(cand) < 3:
        raise DataError(f"only {len(cand)} entity-entity target triples: too few to split for link prediction")
    rng = np.random.default_rng(seed)
    order = cand[rng.permutation(len(cand))]
    rows = edges[order]
    pinned = np.zeros(len(order), dtype=bool)
    # Entities: first occurrence as head or tail, in the random order.
    ent_pos = np.concatenate([np.arange(len(rows)), np.arange(len(rows))])
    ent = np.concatenate([rows[:, 0], rows[:, 2]])
    # Sort by (entity, position) to find each entity's earliest triple.
    srt = np.lexsort((ent_pos, ent))
    first = np.ones(len(srt), dtype=bool)
    first[1:] = ent[srt][1:] != ent[srt][:-1]
    pinned[ent_pos[srt][first]] = True
    _, first_rel = np.unique(rows[:, 1], return_index=True)
    pinned[first_rel] = True
    free = np.flatnonzero(~pinned)
    n_valid = int(round(fr[1] * len(order)))
    n_test = int(round(fr[2] * len(order)))
    shortfall = max(0, n_valid + n_test - len(free))
    # Too few free triples: test is served first (valid only selects models).
    n_test = min(n_test, len(free))
    n_valid = min(n_valid, len(free) - n_test)
    test_idx = order[free[:n_test]]
    valid_idx = order[free[n_test:n_test + n_valid]]
    held = np.zeros(len(edges), dtype=bool)
    held[test_idx] = True
    held[valid_idx] = True
    valid, test = edges[np.sort(valid_idx)], edges[np.sort(test_idx)]
    graph = without_triples(kg, edges[held], np.zeros((0, 3), np.int64))
    train = graph.edges
    if len(test) == 0:
        raise DataError("the automatic split left no test triple (every triple is needed to keep entities in train)")
    report = {
        "source": "auto",
        "seed": seed,
        "fractions": [float(x) for x in fr],
        "sizes": {"train": len(train), "valid": len(valid), "test": len(test)},
        "pinned_to_train": int(pinned.sum()),
        "shortfall": shortfall,
    }
    report["unseen_in_train"] = _unseen(train, valid, test)
    return LinkSplits(graph, train, valid, test, targets, report)
