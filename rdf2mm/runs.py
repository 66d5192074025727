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
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import torch
from safetensors.torch import load_file, save_file

from rdf2mm.config import AGGREGATIONS, TrainConfig, to_toml
from rdf2mm.errors import DataError, DivergedError, InputError, UsageError
from rdf2mm.io.atomic import atomic_open, atomic_path, write_json
from rdf2mm.io.run_files import read_json

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
    if bad := non_finite(state):
        raise DivergedError(f"training diverged: the weights hold NaN or infinity ({', '.join(bad[:3])}); "
                        "nothing was written (try a lower --lr)")
    with atomic_path(folder / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    write_json(folder / "model.json", meta)


def load_model_state(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load weights and meta; a damaged or tampered file is refused with InputError."""
    folder = Path(folder)
    meta = read_json(folder / "model.json")
    check_model_meta(meta, folder / "model.json")
    try:
        state = load_file(str(folder / "model.safetensors"))
    except FileNotFoundError:
        raise InputError(f"{folder}: not a run directory (missing model.safetensors)") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure means the file cannot be trusted
        raise InputError(f"{folder / 'model.safetensors'}: corrupt or unreadable weights file: {exc}") from None
    if bad := non_finite(state):
        raise InputError(f"{folder / 'model.safetensors'}: the weights hold NaN or infinity ({', '.join(bad[:3])}): "
                         "the run diverged or the file is damaged; retrain it")
    return state, meta


def check_weights_fit_config(cfg: TrainConfig, state: dict[str, torch.Tensor], where: Path) -> None:
    """The sizes ``config.json`` gives must be those of the saved weights: a model is then
    built only as large as the weights file, never around a tampered size (a 400 GB
    allocation for an ``embed_dim`` of 10^9)."""
    problems = []
    entity = next((v for k, v in state.items() if k.endswith("features.entity.weight")), None)
    if entity is not None and (entity.dim() != 2 or entity.shape[1] != cfg.embed_dim):
        problems.append(f"embed_dim is {cfg.embed_dim} but the entity embeddings are {tuple(entity.shape)}")
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if m := re.search(r"(?:^|\.)layers\.(\d+)\.(\w+)$", key):
            layers.setdefault(int(m.group(1)), {})[m.group(2)] = value
    if layers and sorted(layers) != list(range(cfg.layers)):
        problems.append(f"layers is {cfg.layers} but the weights have {len(layers)} R-GCN layers")
    for i, params in layers.items():
        bias = params.get("bias")
        if i < cfg.layers - 1 and bias is not None and tuple(bias.shape) != (cfg.hidden,):
            problems.append(f"hidden is {cfg.hidden} but layer {i} has {tuple(bias.shape)} outputs")
        basis = params.get("basis")
        if basis is not None and cfg.bases and basis.shape[0] != cfg.bases:
            problems.append(f"bases is {cfg.bases} but layer {i} has {basis.shape[0]}")
    if problems:
        raise InputError(f"{where}: config.json does not match model.safetensors ({'; '.join(problems[:3])}): "
                         "one of them is damaged")


def non_finite(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors in ``state`` holding NaN or infinity."""
    return [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def check_model_meta(meta: dict[str, Any], where: Path) -> None:
    """Types of the ``model.json`` fields that rebuilding a model reads."""
    problems = []
    for key in ("class_names", "relation_names", "modalities", "target_predicates", "datatypes",
                "labelled_entities"):
        if key in meta and not _is_str_list(meta[key]):
            problems.append(f"{key} is not a list of strings")
    names = meta.get("class_names")
    if meta.get("task") == "node-classification":
        if not _is_str_list(names) or len(names) < 2:
            problems.append("class_names must list at least two class names")
        elif len(set(names)) != len(names) or any(not n for n in names):
            problems.append("class_names holds duplicate or empty names")
    for key in ("num_entities", "num_nodes", "num_relations", "seed"):
        if key in meta and (not isinstance(meta[key], int) or isinstance(meta[key], bool) or meta[key] < 0):
            problems.append(f"{key} is not a non-negative integer")
    if "aggregation" in meta and meta["aggregation"] not in (*AGGREGATIONS, None):
        problems.append(f"aggregation {meta['aggregation']!r} is not one of {', '.join(AGGREGATIONS)}")
    if "parsed_meta" in meta and not isinstance(meta["parsed_meta"], dict):
        problems.append("parsed_meta is not an object")
    if problems:
        raise InputError(f"{where}: damaged model.json: {'; '.join(problems)}")


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The resolved config a run saved (``config.json``), type- and range-checked: a
    damaged or tampered file is an InputError, not a setting the user got wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: run directory not found")
    path = run_dir / "config.json"
    try:
        cfg = TrainConfig.from_dict(read_json(path), source=str(path))
        cfg.resolve().validate()
    except UsageError as exc:
        raise InputError(f"{path}: damaged run config: {exc.message}") from None
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
    return read_json(Path(run_dir) / "metrics.json", default={}).get("batching") == "mini"


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
