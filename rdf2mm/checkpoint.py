"""Training checkpoints, so an interrupted run continues to the same result.

While a run trains, ``RUN_DIR.checkpoint/`` (next to the run directory, which is only
written when the run completes) holds the resolved config and, per seed, either the
state of the seed in progress (model, optimiser, torch RNG, best weights so far,
early-stopping counters, curve) or the finished seed's result. Every save goes to a
temporary folder that is renamed into place, so a kill at any moment leaves the last
complete checkpoint. Everything is safetensors or JSON: loading runs no code.
``rdf2mm train --resume RUN_DIR`` picks up from there; on success the checkpoint
folder is deleted.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rdf2mm.errors import InputError
from rdf2mm.io.atomic import atomic_dir, write_json


def checkpoint_folder(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    return run_dir.with_name(run_dir.name + ".checkpoint")


def _tensors(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in state.items()}


def _split(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimiser's state as flat tensors plus JSON (param groups, non-tensor values)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, entry in sd["state"].items():
        for name, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{name}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    for key, value in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


class TrainingCheckpoint:
    """Reads and writes one run's checkpoint folder."""

    def __init__(self, folder: str | Path, every: int = 10) -> None:
        self.folder = Path(folder)
        self.every = every

    def slot(self, name: str) -> TrainingCheckpoint:
        """The checkpoint of one candidate of the run (its own seeds), inside this folder:
        removed with it, and resumed from on its own."""
        return TrainingCheckpoint(self.folder / name, self.every)

    # ------------------------------------------------------------------ config
    def save_config(self, settings: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.folder / "config.json", settings)

    def load_config(self) -> dict[str, Any]:
        path = self.folder / "config.json"
        if not path.is_file():
            raise InputError(f"{self.folder}: no checkpoint to resume from (the run finished, or never started)")
        return json.loads(path.read_text())

    # ------------------------------------------------------------ in progress
    def _seed(self, seed: int) -> Path:
        return self.folder / f"seed-{seed}"

    def save_progress(self, seed: int, *, epoch: int, model: torch.nn.Module, opt: torch.optim.Optimizer,
                      best_state: dict[str, torch.Tensor] | None, counters: dict[str, Any],
                      curve: list[dict[str, float]], extra: dict[str, torch.Tensor] | None = None) -> None:
        """Save a seed in progress; ``extra`` holds task-specific tensors (e.g. a sampler's RNG)."""
        opt_tensors, opt_meta = optimizer_state(opt)
        tensors = {
            **_tensors("model.", model.state_dict()),
            **_tensors("extra.", extra or {}),
            **_tensors("opt.", opt_tensors),
            **(_tensors("best.", best_state) if best_state is not None else {}),
            "rng.torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            tensors.update({f"rng.cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
        with atomic_dir(self._seed(seed) / "progress", replace=True) as tmp:
            save_file(tensors, str(tmp / "state.safetensors"))
            write_json(tmp / "progress.json", {"epoch": epoch, "optimizer": opt_meta, "counters": counters,
                                               "curve": curve, "has_best": best_state is not None})

    def load_progress(self, seed: int) -> dict[str, Any] | None:
        folder = self._seed(seed) / "progress"
        if not (folder / "progress.json").is_file():
            return None
        try:
            meta = json.loads((folder / "progress.json").read_text())
            tensors = load_file(str(folder / "state.safetensors"))
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint must not be trusted
            raise InputError(f"{folder}: damaged checkpoint: {exc}") from None
        meta["model"] = _split("model.", tensors)
        meta["opt_tensors"] = _split("opt.", tensors)
        meta["best"] = _split("best.", tensors) if meta["has_best"] else None
        meta["extra"] = _split("extra.", tensors)
        meta["rng_torch"] = tensors["rng.torch"]
        meta["rng_cuda"] = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda")]
        return meta

    # ---------------------------------------------------------------- finished
    def save_done(self, seed: int, *, model: torch.nn.Module, metrics: dict[str, Any],
                  curve: list[dict[str, float]], extra: dict[str, torch.Tensor]) -> None:
        with atomic_dir(self._seed(seed) / "done", replace=True) as tmp:
            save_file({**_tensors("model.", model.state_dict()), **_tensors("extra.", extra)},
                      str(tmp / "result.safetensors"))
            write_json(tmp / "result.json", {"metrics": metrics, "curve": curve})
        shutil.rmtree(self._seed(seed) / "progress", ignore_errors=True)

    def load_done(self, seed: int) -> dict[str, Any] | None:
        folder = self._seed(seed) / "done"
        if not (folder / "result.json").is_file():
            return None
        try:
            meta = json.loads((folder / "result.json").read_text())
            tensors = load_file(str(folder / "result.safetensors"))
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{folder}: damaged checkpoint: {exc}") from None
        meta["model"] = _split("model.", tensors)
        meta["extra"] = _split("extra.", tensors)
        return meta

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
