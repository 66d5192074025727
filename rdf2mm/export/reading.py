"""What an export reads of a run directory (through :mod:`rdf2mm.runs`), and the run's IRI."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rdf2mm.errors import InputError
from rdf2mm.runs import layout as L
from rdf2mm.runs.read import RunFiles

# Settings that say where output went, not what was computed: left out of the run's identity.
_NOT_IDENTITY = {"out", "cache", "predictions_format", "device"}


def run_iri(config: dict[str, Any], provenance: dict[str, Any], base: str | None = None) -> str:
    """The run's IRI: a hash of its settings, input fingerprint, seeds and start time.

    Stable for a run directory (re-exports replace the same graph); two trainings with
    the same settings are two runs, told apart by their start time.
    """
    identity = {
        "config": {k: v for k, v in sorted(config.items()) if k not in _NOT_IDENTITY},
        "fingerprint": provenance.get("data_fingerprint"),
        "seeds": provenance.get("seeds"),
        "started": provenance.get("started"),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:32]
    if base:
        return f"{base.rstrip('/')}/run/{digest}"
    return f"urn:rdf2mm:run:{digest}"


@dataclass
class RunData:
    """What a run directory holds that an export needs."""

    folder: Path
    config: dict[str, Any]
    provenance: dict[str, Any]
    metrics: dict[str, Any]
    model: dict[str, Any]
    entities: list[str]
    entity_embeddings: np.ndarray
    relation_embeddings: np.ndarray | None = None
    relations: list[str] = field(default_factory=list)
    predictions: dict[str, list[Any]] | None = None
    link_predictions: dict[str, list[Any]] | None = None
    ranks: dict[str, list[Any]] | None = None

    @property
    def fingerprint(self) -> str | None:
        return self.provenance.get("data_fingerprint")

    @property
    def task(self) -> str:
        return str(self.model.get("task") or self.config.get("task") or self.metrics.get("task") or "")


def load_run(run_dir: str | Path) -> RunData:
    """Read the parts of ``run_dir`` an export uses; absent optional parts are None."""
    run = RunFiles(run_dir)
    folder = run.folder
    if not folder.is_dir():
        raise InputError(f"{folder}: no such run directory")
    config = run.config()
    prov = run.provenance(default={})
    metrics = run.metrics(default={})
    model = run.model_meta(default={})
    entities = run.entities()
    tensors = run.embeddings()
    if "entity" not in tensors:
        raise InputError(f"{run.path(L.EMBEDDINGS)}: no 'entity' tensor")
    emb = np.ascontiguousarray(tensors["entity"], dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(entities):
        raise InputError(f"{folder}: {L.EMBEDDINGS} has shape {list(emb.shape)} "
                         f"but {L.ENTITIES} lists {len(entities)} entities")
    rel = tensors.get("relation")
    relations: list[str] = []
    if rel is not None:
        relations = list(model.get("relation_names") or [])
        rel = np.ascontiguousarray(rel, dtype=np.float32)
        if rel.ndim != 2 or len(relations) < rel.shape[0]:
            rel, relations = None, []  # cannot name the rows: skip rather than guess
        else:
            relations = relations[: rel.shape[0]]
    preds = run.table(L.PREDICTIONS)
    links = run.table(L.LINK_PREDICTIONS)
    if preds is not None and "head" in preds and "entity" not in preds:
        links, preds = links or preds, None  # a link prediction run's predictions file
    return RunData(folder, config, prov, metrics, model, entities, emb, rel, relations, preds, links,
                   run.table(L.RANKS))
