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

from rdf2mm.config import TrainConfig
from rdf2mm.errors import DataError, InputError, UsageError
from rdf2mm.io.atomic import atomic_dir, write_json
from rdf2mm.runs import layout as L


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
    """Load what :func:`optimizer_state` saved; a state that does not fit ``opt`` is a
    damaged checkpoint (InputError), never a traceback."""
    try:
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = value
        for key, value in meta["scalars"].items():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = value
        params = {i: p for group in opt.param_groups for i, p in enumerate(group["params"])}
        for idx, entry in state.items():
            for name, value in entry.items():
                if torch.is_tensor(value) and value.dim() > 0 and idx in params and value.shape != params[idx].shape:
                    raise ValueError(f"optimizer state {idx}.{name} has shape {tuple(value.shape)}, "
                                     f"its parameter {tuple(params[idx].shape)}")
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, RuntimeError) as exc:
        raise InputError(f"damaged checkpoint: the optimiser state does not fit the model ({exc})") from None


def check_tensors(found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], where: str) -> None:
    """Refuse checkpointed weights whose names or shapes differ from the model's
    (a tampered file, or a graph of another shape): a clear message, not ``size mismatch``."""
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        raise InputError(f"{where}: damaged checkpoint: weights "
                         + (f"missing {', '.join(missing[:3])}" if missing else f"unknown {', '.join(unexpected[:3])}"))
    for key, value in found.items():
        want = expected[key]
        if tuple(value.shape) != tuple(want.shape):
            raise DataError(f"{where}: the checkpoint's {key} has shape {tuple(value.shape)} but this run's model "
                            f"needs {tuple(want.shape)}: the input changed since the run was interrupted; "
                            "start it afresh without --resume")
        if value.dtype != want.dtype:
            raise InputError(f"{where}: damaged checkpoint: {key} is {value.dtype}, not {want.dtype}")


def _read_json_object(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: damaged checkpoint ({what}): {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: damaged checkpoint ({what}): not a JSON object")
    return data


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_progress(meta: dict[str, Any], epochs: int, where: Path) -> None:
    """Types and ranges of a seed's ``progress.json``: an absurd epoch counter would
    otherwise end the run at once as if it had finished."""
    epoch, c = meta.get("epoch"), meta.get("counters")
    problems = []
    if not _is_int(epoch) or not 1 <= epoch < epochs:
        problems.append(f"epoch {epoch!r} is not between 1 and {epochs - 1}")
    if not isinstance(c, dict) or not _is_int(c.get("best_epoch")) or not _is_int(c.get("stale")) \
            or c["stale"] < 0 or not isinstance(c.get("best_key"), (list, int, float)):
        problems.append("its early-stopping counters are malformed")
    elif _is_int(epoch) and not 0 <= c["best_epoch"] <= epoch:
        problems.append(f"best epoch {c['best_epoch']} is not within the {epoch} epochs trained")
    curve = meta.get("curve")
    if not isinstance(curve, list) or not all(isinstance(r, dict) for r in curve):
        problems.append("its curve is not a list of records")
    if not isinstance(meta.get("has_best"), bool):
        problems.append("has_best is not true or false")
    opt = meta.get("optimizer")
    if not isinstance(opt, dict) or not isinstance(opt.get("param_groups"), list) \
            or not isinstance(opt.get("scalars"), dict):
        problems.append("its optimiser state is malformed")
    if problems:
        raise InputError(f"{where}: damaged checkpoint: {'; '.join(problems)}")


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
        write_json(self.folder / L.CONFIG_JSON, settings)

    def load_config(self) -> dict[str, Any]:
        path = self.folder / L.CONFIG_JSON
        if not path.is_file():
            raise InputError(f"{self.folder}: no checkpoint to resume from (the run finished, or never started)")
        return _read_json_object(path, "config")

    def saved_config(self) -> TrainConfig:
        """The interrupted run's settings, type- and range-checked (a damaged file is an
        InputError: the user did not type these)."""
        path = self.folder / L.CONFIG_JSON
        try:
            cfg = TrainConfig.from_dict(self.load_config(), source=str(path))
            TrainConfig.from_dict(cfg.to_dict()).resolve().validate()
        except UsageError as exc:
            raise InputError(f"damaged checkpoint: {exc.message}") from None
        return cfg

    # ----------------------------------------------------------------- inputs
    def save_inputs(self, identity: dict[str, Any]) -> None:
        """What the run was trained on (data fingerprint, label files, graph shapes)."""
        write_json(self.folder / "inputs.json", identity)

    def check_inputs(self, identity: dict[str, Any]) -> None:
        """Refuse to resume on inputs other than the interrupted run's (DataError)."""
        path = self.folder / "inputs.json"
        if not path.is_file():
            raise DataError(f"{self.folder}: the checkpoint records no input fingerprint (written by an older "
                            "rdf2mm), so resuming could mix two graphs; start the run afresh")
        saved = _read_json_object(path, "inputs")
        changed = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
        if changed:
            raise DataError(f"cannot resume {self.folder}: the input changed since the run was interrupted "
                            f"({', '.join(changed)} differ); start the run afresh without --resume")

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

    def load_progress(self, seed: int, model: torch.nn.Module, epochs: int) -> dict[str, Any] | None:
        """The seed in progress, checked against ``model`` (names, shapes) and ``epochs``."""
        folder = self._seed(seed) / "progress"
        if not (folder / "progress.json").is_file():
            return None
        meta = _read_json_object(folder / "progress.json", "progress")
        _check_progress(meta, epochs, folder)
        try:
            tensors = load_file(str(folder / "state.safetensors"))
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint must not be trusted
            raise InputError(f"{folder}: damaged checkpoint: {exc}") from None
        expected = model.state_dict()
        meta["model"] = _split("model.", tensors)
        check_tensors(meta["model"], expected, str(folder))
        meta["opt_tensors"] = _split("opt.", tensors)
        meta["best"] = _split("best.", tensors) if meta["has_best"] else None
        if meta["best"] is not None:
            check_tensors(meta["best"], expected, str(folder))
        meta["extra"] = _split("extra.", tensors)
        rng = tensors.get("rng.torch")
        if rng is None or rng.dtype != torch.uint8 or rng.shape != torch.get_rng_state().shape:
            raise InputError(f"{folder}: damaged checkpoint: no valid random-generator state")
        meta["rng_torch"] = rng
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

    def is_done(self, seed: int) -> bool:
        """Whether the seed finished before the run was interrupted."""
        return (self._seed(seed) / "done" / "result.json").is_file()

    def load_done(self, seed: int, model: torch.nn.Module, extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """A finished seed, checked against ``model``; ``extra`` names the task's tensors it must hold."""
        folder = self._seed(seed) / "done"
        if not (folder / "result.json").is_file():
            return None
        meta = _read_json_object(folder / "result.json", "result")
        if not isinstance(meta.get("metrics"), dict) or not isinstance(meta.get("curve"), list):
            raise InputError(f"{folder}: damaged checkpoint: its metrics or curve are malformed")
        try:
            tensors = load_file(str(folder / "result.safetensors"))
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{folder}: damaged checkpoint: {exc}") from None
        meta["model"] = _split("model.", tensors)
        check_tensors(meta["model"], model.state_dict(), str(folder))
        meta["extra"] = _split("extra.", tensors)
        if missing := [k for k in extra if k not in meta["extra"]]:
            raise InputError(f"{folder}: damaged checkpoint: no {', '.join(missing)}")
        return meta

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
