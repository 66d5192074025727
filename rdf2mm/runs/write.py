"""Writing a run directory: the one writer both tasks go through.

:func:`write_run` writes the files every run has (see :mod:`rdf2mm.runs.layout`) and
the task's own tables, given by the task's module (:mod:`rdf2mm.runs.node_classification`,
:mod:`rdf2mm.runs.link_prediction`). The folder is assembled under a temporary name and
renamed into place at the end, so an interrupted run never leaves a half-written run
directory.
"""
from __future__ import annotations

import csv
import datetime as dt
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

import torch

from rdf2mm.config import TrainConfig, to_toml
from rdf2mm.io.atomic import atomic_dir, atomic_open, atomic_path, write_json
from rdf2mm.runs import layout as L
from rdf2mm.runs.weights import save_embeddings, save_model

PACKAGES = ("rdf2mm", "torch", "torch-geometric", "numpy", "pyoxigraph", "rdflib", "pillow", "shapely",
            "sentence-transformers", "pyarrow", "safetensors")


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(fingerprint: str | None, seeds: Iterable[int], device: str, started: dt.datetime) -> dict[str, Any]:
    """``provenance.json``: what the results depend on, and when and where they were made."""
    return {
        "data_fingerprint": fingerprint,
        "seeds": list(seeds),
        "device": device,
        "started": started.isoformat(timespec="seconds"),
        "ended": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
        "torch_threads": torch.get_num_threads(),
    }


def write_config(folder: Path, settings: dict[str, Any]) -> None:
    """The resolved settings as ``config.toml`` (for ``train --config``) and ``config.json``."""
    header = "# rdf2mm resolved run config: rdf2mm train --config THIS_FILE reproduces the run\n"
    with atomic_open(folder / L.CONFIG_TOML) as fh:
        fh.write(header + to_toml(settings))
    write_json(folder / L.CONFIG_JSON, settings)


def write_curve(folder: Path, curve: list[dict[str, float]]) -> None:
    """``curve.csv``: one row per seed and epoch (nothing when no epoch ran)."""
    if not curve:
        return
    fields = sorted({k for r in curve for k in r}, key=lambda k: (k not in ("seed", "epoch"), k))
    with atomic_open(folder / L.CURVE) as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(curve)


def write_table(path: Path, columns: dict[str, list[Any]], fmt: str = "tsv") -> Path:
    """Write a column table as TSV or Parquet, atomically; returns the written path."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = path.with_suffix(".parquet")
        with atomic_path(path) as tmp:
            pq.write_table(pa.table(columns), tmp)
        return path
    path = path.with_suffix(".tsv")
    names = list(columns)
    with atomic_open(path) as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(names)
        w.writerows(zip(*(columns[n] for n in names)))
    return path


def write_entities(folder: Path, entities: Sequence[str]) -> None:
    """The entity table of the training graph (row i = embedding row i), for predict/export."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(folder / L.ENTITIES) as tmp:
        pq.write_table(pa.table({"term": pa.array(entities, pa.string())}), tmp)


class SeedRun(Protocol):
    """What the writer reads of one seed's result (both tasks' result types have it)."""

    seed: int
    metrics: dict[str, Any]
    curve: list[dict[str, float]]
    model: Any
    embeddings: torch.Tensor | None


def write_run(
    folder: Path,
    cfg: TrainConfig,
    results: Sequence[SeedRun],
    kept: SeedRun,
    metrics: Mapping[str, Any],
    *,
    fingerprint: str | None,
    seeds: Sequence[int],
    device: str,
    started: dt.datetime,
    literals: Mapping[str, Any],
    model_meta: Mapping[str, Any],
    entities: Sequence[str],
    tables: Mapping[str, dict[str, list[Any]]] | None = None,
    extra_metrics: Mapping[str, Any] | None = None,
    relation_embeddings: torch.Tensor | None = None,
) -> Path:
    """Write the run directory ``folder`` atomically, replacing an earlier one.

    Common to both tasks: the config, provenance, ``metrics`` with every seed's figures and
    the ``kept`` seed (then ``extra_metrics``), ``literals``, the curves of all seeds, the
    kept model's weights with ``model_meta``, the ``entities`` and the kept model's
    embeddings (with ``relation_embeddings`` when given). The task adds its ``tables``
    (stem -> columns), written in ``cfg.predictions_format``.
    """
    with atomic_dir(folder, replace=True) as tmp:
        write_config(tmp, cfg.to_dict())
        write_json(tmp / L.PROVENANCE, provenance(fingerprint, seeds, device, started))
        write_json(tmp / L.METRICS, {**metrics, "per_seed": [r.metrics for r in results], "kept_seed": kept.seed,
                                     **(extra_metrics or {})})
        write_json(tmp / L.LITERALS, dict(literals))
        write_curve(tmp, [rec for r in results for rec in r.curve])
        for stem, columns in (tables or {}).items():
            write_table(tmp / stem, columns, cfg.predictions_format)
        save_model(tmp, kept.model, dict(model_meta))
        write_entities(tmp, entities)
        if kept.embeddings is not None:
            save_embeddings(tmp, kept.embeddings, relation_embeddings)
    return folder
