"""What a link-prediction run adds to its run directory: the test ranks table, the
relation embeddings, and the ``model.json`` that rebuilds the predictor (written by
:func:`rdf2mm.runs.write.write_run`)."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from rdf2mm.config import TrainConfig
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.models.registry import PLAIN_KGE_MODELS
from rdf2mm.runs import layout as L
from rdf2mm.runs.write import SeedRun, write_run
from rdf2mm.tasks.evaluation import TripleRanks
from rdf2mm.tasks.inputs import PreparedInputs


class LPSeedRun(SeedRun, Protocol):
    """A link predictor seed's result: also its test ranks."""

    test_ranks: TripleRanks | None


def plain_iri(term: str) -> str:
    """An entity term without the ``<>`` of an IRI (blank nodes and literals unchanged)."""
    return term[1:-1] if term.startswith("<") and term.endswith(">") else term


def graph_digest(inputs: PreparedInputs) -> str:
    """Hash of the message graph: a saved model only fits the graph it was trained on."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(inputs.mg.edge_index).tobytes())
    h.update(np.ascontiguousarray(inputs.mg.edge_type).tobytes())
    h.update(np.ascontiguousarray(inputs.mg.node_literal).tobytes())
    return h.hexdigest()[:16]


def ranks_table(kg: KnowledgeGraph, ranks: TripleRanks) -> dict[str, list[Any]]:
    """``ranks.tsv``: per-triple ranks (filtered and raw, both directions): every figure can be recomputed."""
    tr = ranks.triples
    return {
        "head": [plain_iri(kg.entities[i]) for i in tr[:, 0].tolist()],
        "relation": [kg.relations[i] for i in tr[:, 1].tolist()],
        "tail": [plain_iri(kg.entities[i]) for i in tr[:, 2].tolist()],
        "head_rank": ranks.head.tolist(),
        "tail_rank": ranks.tail.tolist(),
        "head_rank_raw": ranks.head_raw.tolist(),
        "tail_rank_raw": ranks.tail_raw.tolist(),
    }


def model_meta(cfg: TrainConfig, inputs: PreparedInputs, seed: int) -> dict[str, Any]:
    """``model.json`` of a link predictor: decoder, graph shapes and digest, encoders' fitted parameters."""
    return {
        "format": 1,
        "task": cfg.task,
        "model": cfg.model,
        # a plain KGE model's decoder is the one of its name (--decoder is MR-GCN's)
        "decoder": cfg.model if cfg.model in PLAIN_KGE_MODELS else cfg.decoder,
        "num_entities": inputs.kg.num_entities,
        "num_nodes": inputs.mg.num_nodes,
        "num_relations": inputs.kg.num_relations,
        "message_relations": inputs.mg.num_relations,
        "relation_names": list(inputs.kg.relations),
        "modalities": list(inputs.modalities),
        "parsed_meta": {m: d.parsed.meta for m, d in inputs.prepared.data.items()},
        "graph_digest": graph_digest(inputs),
        "seed": seed,
    }


def kept_result(results: Sequence[LPSeedRun]) -> LPSeedRun:
    """The seed a link-prediction run keeps: best validation MRR, the lower seed on ties."""
    return max(results, key=lambda r: (r.metrics.get("valid_mrr", 0.0), -r.seed))


def write_lp_run(
    folder: Path,
    cfg: TrainConfig,
    inputs: PreparedInputs,
    splits_report: dict[str, Any],
    fingerprint: str | None,
    results: Sequence[LPSeedRun],
    metrics: dict[str, Any],
    seeds: list[int],
    device: str,
    started: dt.datetime,
) -> Path:
    """Write a link-prediction run directory atomically; keeps the best-validation seed
    (:func:`kept_result`)."""
    kept = kept_result(results)
    tables = {L.RANKS: ranks_table(inputs.kg, kept.test_ranks)} if kept.test_ranks is not None else {}
    return write_run(
        folder, cfg, results, kept, metrics, fingerprint=fingerprint, seeds=seeds, device=device, started=started,
        extra_metrics={"splits": splits_report},
        literals={"datatypes": inputs.prepared.report, "splits": splits_report},
        tables=tables, model_meta=model_meta(cfg, inputs, kept.seed), entities=inputs.kg.entities,
        relation_embeddings=getattr(kept.model.decoder, "relation", None),
    )
