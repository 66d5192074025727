"""A run's weights and embeddings: safetensors files (no pickle: loading runs no code),
checked before anything is built around them."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rdf2mm.config import AGGREGATIONS, TrainConfig
from rdf2mm.errors import DivergedError, InputError
from rdf2mm.io.atomic import atomic_path, write_json
from rdf2mm.runs import layout as L
from rdf2mm.runs.read import RunFiles


def save_embeddings(folder: Path, entity: torch.Tensor, relation: torch.Tensor | None = None) -> None:
    """Entity (and relation) embeddings, row i = ``entities.parquet`` row i, as float32 safetensors."""
    tensors = {"entity": entity.detach().float().cpu().contiguous()}
    if relation is not None:
        tensors["relation"] = relation.detach().float().cpu().contiguous()
    with atomic_path(folder / L.EMBEDDINGS) as tmp:
        save_file(tensors, str(tmp))


def load_embeddings(folder: Path) -> dict[str, torch.Tensor]:
    """Embeddings written by :func:`save_embeddings` (no pickle), as tensors."""
    return {name: torch.from_numpy(array) for name, array in RunFiles(Path(folder)).embeddings().items()}


def save_model(folder: Path, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Weights as safetensors plus a JSON description (no pickle anywhere)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if bad := non_finite(state):
        raise DivergedError(f"training diverged: the weights hold NaN or infinity ({', '.join(bad[:3])}); "
                        "nothing was written (try a lower --lr)")
    with atomic_path(folder / L.MODEL_WEIGHTS) as tmp:
        save_file(state, str(tmp))
    write_json(folder / L.MODEL_META, meta)


def load_model_state(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load weights and meta; a damaged or tampered file is refused with InputError."""
    run = RunFiles(folder)
    meta = run.model_meta()
    check_model_meta(meta, run.path(L.MODEL_META))
    weights = run.path(L.MODEL_WEIGHTS)
    try:
        state = load_file(str(weights))
    except FileNotFoundError:
        raise InputError(f"{run.folder}: not a run directory (missing {L.MODEL_WEIGHTS})") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure means the file cannot be trusted
        raise InputError(f"{weights}: corrupt or unreadable weights file: {exc}") from None
    if bad := non_finite(state):
        raise InputError(f"{weights}: the weights hold NaN or infinity ({', '.join(bad[:3])}): "
                         "the run diverged or the file is damaged; retrain it")
    return state, meta


def check_weights_fit_config(cfg: TrainConfig, state: dict[str, torch.Tensor], where: Path) -> None:
    """The sizes ``config.json`` gives must be those of the saved weights: a model is then
    built only as large as the weights file, never around a tampered size (a 400 GB
    allocation for an ``embed_dim`` of 10^9)."""
    problems = []
    # MR-GCN's input embeddings, or a plain KGE model's entity table (``entity.weight``; under
    # ``embedder.`` in a two-stage node classifier)
    state = {k.removeprefix("embedder."): v for k, v in state.items()}
    entity = next((v for k, v in state.items() if k.endswith("features.entity.weight") or k == "entity.weight"), None)
    if entity is not None and (entity.dim() != 2 or entity.shape[1] != cfg.embed_dim):
        problems.append(f"embed_dim is {cfg.embed_dim} but the entity embeddings are {tuple(entity.shape)}")
    # LiteralE's projections of wide features: [literal_dim, D] each
    for key, value in state.items():
        if key.startswith("literals.project.") and key.endswith(".weight") and \
                (value.dim() != 2 or value.shape[0] != cfg.literal_dim):
            problems.append(f"literal_dim is {cfg.literal_dim} but {key} is {tuple(value.shape)}")
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
