"""Infer every literal's modality and parse the literals of the chosen modalities.

This is the "encode literals" stage of the pipeline: given a
:class:`~rdf2mm.graph.knowledge_graph.KnowledgeGraph`, it groups the distinct literals
by modality (from their datatype, once per datatype), runs each modality's parser over
its literals, and keeps a per-datatype report of what was ill-typed and why.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.modalities.base import ParsedLiterals
from rdf2mm.modalities.forked_check import MIN_LITERALS, SharedCheck, can_fork
from rdf2mm.modalities.registry import MODALITY_NAMES, ModalityMap, get_modality
from rdf2mm.vocab import RDF_LANGSTRING


@dataclass
class ModalityData:
    """The parsed literals of one modality."""

    literal_ids: np.ndarray  # int64 [n]: ids into the graph's literal table
    parsed: ParsedLiterals  # row i belongs to literal_ids[i]


@dataclass
class PreparedLiterals:
    """Modality per literal, parsed arrays per modality, and the validation report."""

    #: modality name per datatype IRI ("other" for unknown datatypes)
    datatype_modality: dict[str, str]
    #: index into MODALITY_NAMES + ("other",) per literal id
    literal_modality: np.ndarray
    data: dict[str, ModalityData] = field(default_factory=dict)
    #: per datatype IRI: {"modality", "literals", "ill_typed", "reasons"}
    report: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ill_typed_total(self) -> int:
        return sum(r["ill_typed"] for r in self.report.values())


MODALITY_CODES = (*MODALITY_NAMES, "other")


def infer_modalities(kg: KnowledgeGraph, modality_map: ModalityMap | None = None) -> tuple[dict[str, str], np.ndarray]:
    """Modality per datatype IRI and the modality code of every literal."""
    modality_map = modality_map or ModalityMap()
    per_dt = {dt: modality_map.modality_of(dt) for dt in kg.datatypes}
    code_of_dt = np.array([MODALITY_CODES.index(per_dt[dt]) for dt in kg.datatypes] or [0], dtype=np.int8)
    literal_modality = code_of_dt[kg.literal_datatype] if kg.num_literals else np.zeros(0, np.int8)
    return per_dt, literal_modality


def _first_predicate(kg: KnowledgeGraph) -> np.ndarray:
    """For per-predicate scaling: the predicate of each literal's first occurrence."""
    groups = np.full(kg.num_literals, -1, dtype=np.int64)
    le = kg.literal_edges
    if len(le):
        # reversed assignment so that the first occurrence wins
        groups[le[::-1, 2]] = le[::-1, 1]
    return groups


def prepare_literals(
    kg: KnowledgeGraph,
    modalities: Iterable[str] = MODALITY_NAMES,
    modality_map: ModalityMap | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    literal_ids: np.ndarray | None = None,
    on_stage: Callable[[str, str], None] | None = None,
    validate_only: bool = False,
    while_checking: Callable[[], None] | None = None,
) -> PreparedLiterals:
    """Parse the literals of ``modalities`` (all six by default).

    ``options`` maps a modality name to keyword options for its constructor (e.g.
    ``{"textual": {"encoder": "minilm"}}``). ``literal_ids`` restricts parsing to the
    literals a model will use (default: all). Ill-typed literals are counted per
    datatype, never fatal. ``on_stage(modality, "start" | "end")`` brackets the work on
    each modality that has literals to parse (for timings). With ``validate_only`` only
    the report is filled (each modality's :meth:`~rdf2mm.modalities.base.Modality.check`,
    no arrays are kept in ``data``): what ``rdf2mm inspect`` needs. ``while_checking`` is
    other work of the caller's (inspect writes the parsed-graph cache), run once the
    image check's child process has started (beside it), or else after the checks.
    """
    options = options or {}
    per_dt, lit_mod = infer_modalities(kg, modality_map)
    prepared = PreparedLiterals(datatype_modality=per_dt, literal_modality=lit_mod)
    counts = np.bincount(kg.literal_datatype, minlength=len(kg.datatypes)) if kg.num_literals else np.zeros(len(kg.datatypes), int)
    for i, dt in enumerate(kg.datatypes):
        prepared.report[dt] = {"modality": per_dt[dt], "literals": int(counts[i]), "ill_typed": 0, "reasons": {},
                               "accepted_nonstandard": {}}
    wanted = set(modalities)
    selected = np.zeros(kg.num_literals, dtype=bool)
    if literal_ids is None:
        selected[:] = True
    else:
        selected[np.asarray(literal_ids, dtype=np.int64)] = True
    groups = _first_predicate(kg)
    # counts are per triple (occurrence), like the literal counts they sit next to
    occurrences = np.bincount(kg.literal_edges[:, 2], minlength=kg.num_literals) if len(kg.literal_edges) else np.zeros(kg.num_literals, np.int64)
    # Validation only: the images (by far the costliest literals to check) are checked by
    # a forked child on the second CPU and by this process once its other work is done
    # (rdf2mm.modalities.forked_check): the child is started first.
    order = [(code, name) for code, name in enumerate(MODALITY_NAMES) if name in wanted]
    shared: dict[str, tuple[np.ndarray, SharedCheck]] = {}
    if validate_only and "visual" in wanted and can_fork():
        order.sort(key=lambda item: item[1] != "visual")
    for code, name in order:
        ids = np.flatnonzero((lit_mod == code) & selected)
        if len(ids) == 0:
            continue
        lexical = [kg.literal_lexical[i] for i in ids]
        dts = [kg.datatypes[c] for c in kg.literal_datatype[ids]]
        if name == "textual":
            dts = [RDF_LANGSTRING if kg.literal_language[i] else d for i, d in zip(ids, dts)]
        modality = get_modality(name, **options.get(name, {}))
        if validate_only and name == "visual" and len(ids) >= MIN_LITERALS and can_fork():
            shared[name] = ids, SharedCheck(modality, lexical, dts, groups[ids])
            if while_checking is not None:
                while_checking()
                while_checking = None
            continue
        if on_stage:
            on_stage(name, "start")
        if validate_only:
            parsed = modality.check(lexical, dts, groups[ids])
        else:
            parsed = modality.parse(lexical, dts, groups[ids])
            prepared.data[name] = ModalityData(literal_ids=ids.astype(np.int64), parsed=parsed)
        _record(prepared, kg, ids, parsed, modality, occurrences)
        if on_stage:
            on_stage(name, "end")
    if while_checking is not None:
        while_checking()
    for name, (ids, job) in shared.items():
        if on_stage:
            on_stage(name, "start")
        _record(prepared, kg, ids, job.result(), job.modality, occurrences)
        if on_stage:
            on_stage(name, "end")
    return prepared


def _record(
    prepared: PreparedLiterals, kg: KnowledgeGraph, ids: np.ndarray, parsed: ParsedLiterals, modality: Any,
    occurrences: np.ndarray,
) -> None:
    """One modality's ill-typed and accepted-but-nonstandard counts, into the report."""
    _count_invalid(prepared, kg, ids, parsed, modality, occurrences)
    for reason, rows in parsed.lenient.items():
        hit = ids[rows]
        per_dt = np.bincount(kg.literal_datatype[hit], weights=occurrences[hit], minlength=len(kg.datatypes))
        for code in np.flatnonzero(per_dt):
            prepared.report[kg.datatypes[code]]["accepted_nonstandard"][reason] = int(per_dt[code])


def _count_invalid(
    prepared: PreparedLiterals, kg: KnowledgeGraph, ids: np.ndarray, parsed: ParsedLiterals, modality: Any,
    occurrences: np.ndarray,
) -> None:
    """Ill-typed counts per datatype: triples (``ill_typed``) and distinct literals; reasons per distinct literal."""
    bad = ids[~parsed.valid]
    if len(bad) == 0:
        return
    per_dt = Counter(kg.literal_datatype[bad].tolist())
    weighted = np.bincount(kg.literal_datatype[bad], weights=occurrences[bad], minlength=len(kg.datatypes))
    for code, n in per_dt.items():
        entry = prepared.report[kg.datatypes[code]]
        entry["ill_typed"] += int(weighted[code])
        entry["ill_typed_distinct"] = entry.get("ill_typed_distinct", 0) + int(n)
        if len(per_dt) == 1:
            entry["reasons"] = dict(parsed.errors)
        else:
            # Several datatypes share the modality: re-parse just their ill-typed
            # literals (few) to attribute the reasons exactly.
            these = bad[kg.literal_datatype[bad] == code]
            again = modality.check([kg.literal_lexical[i] for i in these], [kg.datatypes[code]] * len(these))
            entry["reasons"] = dict(again.errors)
