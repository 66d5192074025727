"""What ``rdf2mm inspect`` reports about a graph, as one plain dictionary."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.modalities.preprocess import MODALITY_CODES, infer_modalities, prepare_literals
from rdf2mm.modalities.registry import MODALITY_NAMES, ModalityMap


def inspect_graph(
    kg: KnowledgeGraph, modality_map: ModalityMap | None = None, validate: bool = True, top: int = 10,
    while_checking: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Counts of triples, entities, relations, literals per modality and datatype, ill-typed literals.

    Literal counts are per triple (occurrences); ``distinct`` counts distinct literals
    (lexical form, datatype, language). With ``validate`` every literal of a known
    modality is parsed and ill-typed ones are counted per datatype with reasons.
    ``while_checking`` (the caller's other work) runs while the images are checked in a
    child process (see :func:`~rdf2mm.modalities.preprocess.prepare_literals`), or at once.
    """
    if not validate and while_checking is not None:
        while_checking()
    per_dt, lit_mod = infer_modalities(kg, modality_map)
    occ_dt = kg.datatype_counts(occurrences=True)
    distinct_dt = kg.datatype_counts(occurrences=False)
    report = (
        prepare_literals(kg, MODALITY_NAMES, modality_map, validate_only=True, while_checking=while_checking).report
        if validate
        else {dt: {"ill_typed": None, "reasons": {}} for dt in kg.datatypes}
    )
    occ_codes = lit_mod[kg.literal_edges[:, 2]] if len(kg.literal_edges) else np.zeros(0, np.int8)
    by_modality = {
        name: int(n)
        for name, n in zip(MODALITY_CODES, np.bincount(occ_codes, minlength=len(MODALITY_CODES)))
    }
    datatypes = {
        dt: {
            "modality": per_dt[dt],
            "literals": occ_dt.get(dt, 0),
            "distinct": distinct_dt.get(dt, 0),
            "ill_typed": report[dt]["ill_typed"],
            "ill_typed_reasons": report[dt]["reasons"],
            "accepted_nonstandard": report[dt].get("accepted_nonstandard", {}),
        }
        for dt in sorted(kg.datatypes, key=lambda d: -occ_dt.get(d, 0))
    }
    blank = sum(1 for e in kg.entities if e.startswith("_:"))
    preds = kg.predicate_counts().most_common(top)
    ill = {dt: d["ill_typed"] for dt, d in datatypes.items() if d["ill_typed"]}
    lenient = {dt: sum(d["accepted_nonstandard"].values()) for dt, d in datatypes.items() if d["accepted_nonstandard"]}
    return {
        "triples": kg.num_triples,
        "entity_triples": int(len(kg.edges)),
        "literal_triples": int(len(kg.literal_edges)),
        "entities": kg.num_entities,
        "iris": kg.num_entities - blank,
        "blank_nodes": blank,
        "relations": kg.num_relations,
        "literals": {
            "total": int(len(kg.literal_edges)),
            "distinct": kg.num_literals,
            "by_modality": by_modality,
        },
        "datatypes": datatypes,
        "ill_typed": {"total": sum(ill.values()) if validate else None, "by_datatype": ill},
        # not canonical XSD, but accepted and encoded (e.g. "120"^^xsd:gYear): reported, not skipped
        "accepted_nonstandard": {"total": sum(lenient.values()), "by_datatype": lenient},
        "top_predicates": [{"predicate": p, "triples": n} for p, n in preds],
        "read": {k: v for k, v in kg.stats.items()},
    }
