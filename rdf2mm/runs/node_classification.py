"""What a node-classification run adds to its run directory: the predictions table and
the ``model.json`` that rebuilds the classifier (written by :func:`rdf2mm.runs.write.write_run`)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Protocol, Sequence

import torch

from rdf2mm.config import TrainConfig
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.runs import layout as L
from rdf2mm.runs.write import SeedRun, write_run
from rdf2mm.tasks.inputs import PreparedInputs
from rdf2mm.tasks.label_graph import unlabelled_candidates
from rdf2mm.tasks.labels import Labels

SPLITS = ("train", "valid", "test")


class NCSeedRun(SeedRun, Protocol):
    """A classifier seed's result: also the class probabilities of every node."""

    probabilities: torch.Tensor | None


def predictions_table(kg: KnowledgeGraph, labels: Labels, probabilities: torch.Tensor) -> dict[str, list[Any]]:
    """``predictions.tsv``: the labelled entities (with their split and true class), then
    the unlabelled ones like them; each with its predicted class and that class's score."""
    split_of = {}
    true_of = {}
    for name in SPLITS:
        s = labels.split(name)
        for n, c in zip(s.nodes.tolist(), s.classes.tolist()):
            split_of[n] = name
            true_of[n] = labels.class_names[c]
    nodes = sorted(split_of) + unlabelled_candidates(kg, set(split_of))
    p = probabilities[torch.as_tensor(nodes, dtype=torch.long)]
    score, cls = p.max(1)
    return {
        "entity": [kg.entities[n] for n in nodes],
        "split": [split_of.get(n, "unlabelled") for n in nodes],
        "true_class": [true_of.get(n, "") for n in nodes],
        "predicted_class": [labels.class_names[c] for c in cls.tolist()],
        "score": [round(float(x), 6) for x in score.tolist()],
    }


def model_meta(cfg: TrainConfig, kg: KnowledgeGraph, inputs: PreparedInputs, labels: Labels,
               seed: int, aggregation: str) -> dict[str, Any]:
    """``model.json`` of a classifier: classes, graph shapes, encoders' fitted parameters."""
    return {
        "format": 1,
        "task": cfg.task,
        "class_names": labels.class_names,
        "num_entities": kg.num_entities,
        "num_nodes": inputs.mg.num_nodes,
        "num_relations": inputs.mg.num_relations,
        "relation_names": inputs.mg.relation_names,
        "modalities": list(inputs.modalities),
        "parsed_meta": {m: d.parsed.meta for m, d in inputs.prepared.data.items()},
        "seed": seed,
        "aggregation": aggregation,  # the one trained with (config.json may say auto)
        "target_predicates": labels.target_predicates,
        "datatypes": kg.datatypes,
        "labelled_entities": [kg.entities[n] for name in SPLITS for n in labels.split(name).nodes.tolist()],
    }


def write_nc_run(
    folder: Path,
    cfg: TrainConfig,
    kg: KnowledgeGraph,
    inputs: PreparedInputs,
    labels: Labels,
    results: Sequence[SeedRun],
    kept: NCSeedRun,
    metrics: dict[str, Any],
    fingerprint: str | None,
    seeds: list[int],
    device: str,
    started: dt.datetime,
) -> Path:
    """Write a node-classification run directory atomically, with the ``kept`` seed's model;
    ``kept`` must carry its ``probabilities`` and ``embeddings``."""
    probabilities = kept.probabilities
    assert kept.model is not None and probabilities is not None and kept.embeddings is not None
    return write_run(
        folder, cfg, results, kept, metrics, fingerprint=fingerprint, seeds=seeds, device=device, started=started,
        literals={"datatypes": inputs.prepared.report, "labels": labels.report},
        tables={L.PREDICTIONS: predictions_table(kg, labels, probabilities)},
        model_meta=model_meta(cfg, kg, inputs, labels, kept.seed, getattr(kept.model, "aggr", cfg.aggregation)),
        entities=kg.entities,
    )
