"""The run directory: everything a run produced, next to what it was run on.

Layout::

    RUN_DIR/
      config.toml, config.json   resolved settings (``rdf2mm train --config RUN_DIR/config.toml``)
      provenance.json            versions, seed(s), input fingerprint, times, device
      metrics.json               final metrics (per seed, and mean/std)
      curve.csv                  per-epoch training curve
      predictions.tsv|.parquet   per-entity predictions
      literals.json              per-datatype modality and ill-typed report
      entities.parquet           the graph's entities; row i = embedding row i
      embeddings.safetensors     entity embeddings (float32), and relation embeddings for link prediction
      model.safetensors          weights (no pickle: loading runs no code)
      model.json                 what is needed to rebuild the model around the weights

The folder is assembled under a temporary name and renamed into place at the end, so
an interrupted run never leaves a half-written run directory.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import torch
from safetensors.torch import load_file, save_file

from rdf2mm.config import AGGREGATIONS, TrainConfig, to_toml
from rdf2mm.errors import DataError, InputError
from rdf2mm.io.atomic import atomic_open, atomic_path, write_json

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
    header = "# rdf2mm resolved run config: rdf2mm train --config THIS_FILE reproduces the run\n"
    with atomic_open(folder / "config.toml") as fh:
        fh.write(header + to_toml(settings))
    write_json(folder / "config.json", settings)


def write_curve(folder: Path, curve: list[dict[str, float]]) -> None:
    if not curve:
        return
    fields = sorted({k for r in curve for k in r}, key=lambda k: (k not in ("seed", "epoch"), k))
    with atomic_open(folder / "curve.csv") as fh:
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


def write_entities(folder: Path, kg: Any) -> None:
    """The entity table of the training graph (row i = embedding row i), for predict/export."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(folder / "entities.parquet") as tmp:
        pq.write_table(pa.table({"term": pa.array(kg.entities, pa.string())}), tmp)


def save_embeddings(folder: Path, entity: torch.Tensor, relation: torch.Tensor | None = None) -> None:
    """Entity (and relation) embeddings, row i = ``entities.parquet`` row i, as float32 safetensors."""
    tensors = {"entity": entity.detach().float().cpu().contiguous()}
    if relation is not None:
        tensors["relation"] = relation.detach().float().cpu().contiguous()
    with atomic_path(folder / "embeddings.safetensors") as tmp:
        save_file(tensors, str(tmp))


def load_embeddings(folder: Path) -> dict[str, torch.Tensor]:
    """Embeddings written by :func:`save_embeddings` (no pickle)."""
    path = Path(folder) / "embeddings.safetensors"
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise InputError(f"{folder}: no embeddings.safetensors in this run directory") from None
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot load embeddings: {exc}") from None


def save_model(folder: Path, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Weights as safetensors plus a JSON description (no pickle anywhere)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    write_json(folder / "model.json", meta)


def load_model_state(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load weights and meta; a damaged or tampered file is refused with InputError."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "model.json").read_text())
        state = load_file(str(folder / "model.safetensors"))
    except FileNotFoundError as exc:
        raise InputError(f"{folder}: not a run directory (missing {Path(exc.filename).name})") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure means the file cannot be trusted
        raise InputError(f"{folder}: cannot load model: {exc}") from None
    return state, meta


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON: {exc}") from None


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The resolved config a run saved (``config.json``)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: run directory not found")
    path = run_dir / "config.json"
    cfg = TrainConfig.from_dict(read_json(path), source=str(path))
    cfg.aggregation = cfg.aggregation or "mean"  # runs saved before --aggregation existed all used the mean
    if cfg.aggregation == "auto":
        # The run chose on validation; its model records which one it kept.
        chosen = read_json(run_dir / "model.json").get("aggregation")
        if chosen not in AGGREGATIONS:
            raise DataError(f"{run_dir / 'model.json'}: no aggregation recorded for a run trained with auto")
        cfg.aggregation = chosen
    return cfg


def trained_in_minibatches(run_dir: str | Path) -> bool:
    """Whether the run in ``run_dir`` trained in mini-batches (its graph may then be too big
    for a full forward pass); runs without a ``metrics.json`` count as full-batch."""
    path = Path(run_dir) / "metrics.json"
    return path.is_file() and read_json(path).get("batching") == "mini"


def claim_run_dir(root: str | Path, task: str, now: dt.datetime | None = None) -> Path:
    """A new, empty run directory ``root/<time>-<task>`` (``-2``, ``-3``... when taken).

    Creating it claims the name atomically, so two runs started in the same second never
    share a run directory or its checkpoint folder; the run later replaces it whole.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        path = root / (f"{stamp}-{task}" if n == 1 else f"{stamp}-{task}-{n}")
        if path.with_name(path.name + ".checkpoint").exists():
            continue
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free run directory name under {root} for {stamp}-{task}")


def release_run_dir(path: str | Path, remove_root: bool = False) -> None:
    """Remove a claimed run directory that a failed run left empty; with ``remove_root``
    (the claim created the root), the root too when nothing else is in it.

    A directory holding anything is kept: a failed run never deletes what it did not make.
    """
    path = Path(path)
    for folder in (path, path.parent) if remove_root else (path,):
        try:
            folder.rmdir()  # only ever removes an empty directory
        except OSError:
            return
