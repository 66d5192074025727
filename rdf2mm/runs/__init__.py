"""The run directory: everything a run produced, next to what it was run on.

Layout (the names are defined once, in :mod:`rdf2mm.runs.layout`)::

    RUN_DIR/
      config.toml, config.json   resolved settings (``rdf2mm train --config RUN_DIR/config.toml``)
      provenance.json            versions, seed(s), input fingerprint, times, device
      metrics.json               final metrics (per seed, and mean/std)
      curve.csv                  per-epoch training curve
      predictions.tsv|.parquet   per-entity predictions (node classification)
      ranks.tsv|.parquet         per-test-triple ranks (link prediction)
      literals.json              per-datatype modality and ill-typed report
      entities.parquet           the graph's entities; row i = embedding row i
      embeddings.safetensors     entity embeddings (float32), and relation embeddings for link prediction
      model.safetensors          weights (no pickle: loading runs no code)
      model.json                 what is needed to rebuild the model around the weights

Every writer goes through :func:`rdf2mm.runs.write.write_run` (each task adds its files
from :mod:`rdf2mm.runs.node_classification` or :mod:`rdf2mm.runs.link_prediction`),
every reader through :class:`rdf2mm.runs.read.RunFiles` and :mod:`rdf2mm.runs.weights`.
The folder is assembled under a temporary name and renamed into place at the end, so
an interrupted run never leaves a half-written run directory.

The names below are importable from ``rdf2mm.runs`` itself; they are loaded on first
use, so that reading a run's JSON files (export, report) does not import torch.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

_HOME = {
    "RunResult": "result",
    "claim_run_dir": "naming", "release_run_dir": "naming",
    "RunFiles": "read", "read_json": "read", "load_run_config": "read", "trained_in_minibatches": "read",
    "save_embeddings": "weights", "load_embeddings": "weights", "save_model": "weights",
    "load_model_state": "weights", "check_weights_fit_config": "weights", "check_model_meta": "weights",
    "non_finite": "weights",
    "versions": "write", "provenance": "write", "write_config": "write", "write_curve": "write",
    "write_table": "write", "write_entities": "write", "write_run": "write",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    module: ModuleType
    if home == "result":
        from rdf2mm.runs import result as module
    elif home == "naming":
        from rdf2mm.runs import naming as module
    elif home == "read":
        from rdf2mm.runs import read as module
    elif home == "weights":
        from rdf2mm.runs import weights as module
    elif home == "write":
        from rdf2mm.runs import write as module
    else:
        raise AttributeError(f"module 'rdf2mm.runs' has no attribute {name!r}")
    return getattr(module, name)
