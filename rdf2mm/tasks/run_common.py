"""What both task pipelines (node classification in :mod:`rdf2mm.pipeline`, link
prediction in :mod:`rdf2mm.tasks.link_prediction`) share around training: the run's
checkpoint and the inputs it records, the full- or mini-batch plan, seed summaries."""
from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from rdf2mm.runs.checkpoint import TrainingCheckpoint, checkpoint_folder
from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.tasks.distributed import Workers
from rdf2mm.tasks.inputs import PreparedInputs
from rdf2mm.tasks.memory import available_memory, estimate_training_memory
from rdf2mm.tasks.minibatch import Batching, choose_batching

Progress = Callable[[str, dict[str, Any]], None]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of the non-NaN ``values`` (0 for one value)."""
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def input_identity(cfg: TrainConfig, fingerprint: str | None, inputs: PreparedInputs, num_train: int) -> dict[str, Any]:
    """What a checkpoint records of the run's inputs, so that a resume on a changed graph
    or changed label files is refused: the graph's fingerprint (None for stdin or an
    endpoint, whose shapes are then all that is compared), the label files' digests and
    the graph's shapes."""
    digests = {}
    for name in ("train", "valid", "test"):
        path = getattr(cfg, name)
        if path and Path(path).is_file():
            digests[name] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"data_fingerprint": fingerprint, "label_files": digests, "num_nodes": int(inputs.mg.num_nodes),
            "num_relations": int(inputs.mg.num_relations), "num_train": int(num_train)}


def run_checkpoint(cfg: TrainConfig, resume: bool, identity: dict[str, Any]) -> TrainingCheckpoint | None:
    """The run's checkpoint folder: reused when resuming (on the same inputs only),
    otherwise started afresh."""
    if not cfg.out or cfg.checkpoint_every <= 0:
        return None
    ckpt = TrainingCheckpoint(checkpoint_folder(cfg.out), cfg.checkpoint_every)
    if resume:
        saved, now = ckpt.load_config(), cfg.to_dict()
        # Where the run is written is not a setting of the run: a moved run resumes in place.
        changed = sorted(k for k in set(saved) | set(now) if k != "out" and saved.get(k) != now.get(k))
        if changed:
            raise UsageError(f"cannot resume: settings differ from the interrupted run ({', '.join(changed)})")
        ckpt.check_inputs(identity)
    else:
        ckpt.remove()  # a fresh run never picks up another run's leftovers
        ckpt.save_config(cfg.to_dict())
        ckpt.save_inputs(identity)
    return ckpt


def plan_batching(cfg: TrainConfig, inputs: PreparedInputs, settings: Any, out_dim: int, workers: Workers,
                  device: torch.device, note: Progress) -> tuple[Batching, dict[str, int]]:
    """Full or mini-batch training for this run (see :func:`choose_batching`), and the
    full-batch memory estimate it was chosen from."""
    estimate = estimate_training_memory(inputs, settings.embed_dim, settings.hidden, settings.layers, out_dim)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        available: int | None = int(free)
    else:
        available = available_memory()
    assert cfg.batch_size is not None
    batching = choose_batching(cfg.batching, estimate["total"], available, cfg.full_batch_fraction, workers,
                               cfg.batch_size, cfg.fanout, settings.layers)
    note("memory", {"estimated_peak_mb": estimate["total"] >> 20, **batching.report()})
    return batching, estimate


def workers_checkpoint(cfg: TrainConfig, workers: Workers, resume: bool, num_train: int,
                       what: str, identity: dict[str, Any]) -> TrainingCheckpoint | None:
    """The run's checkpoint (see :func:`run_checkpoint`), after checking that the workers
    can share the ``num_train`` training items. Several workers write no checkpoints: they
    would have to agree on one file set, so they cannot resume either."""
    if not workers.active:
        return run_checkpoint(cfg, resume, identity)
    if resume:
        raise UsageError("--resume is not supported with several workers (torchrun); resume in one process")
    if num_train < workers.world:
        raise UsageError(f"{num_train} {what} cannot be shared by {workers.world} workers")
    return None


def summarise(results: list[Any], cfg: TrainConfig) -> dict[str, Any]:
    """A node-classification run's figures over its seeds: mean and std of each accuracy,
    macro-F1 and loss, and the mean time per epoch."""
    metrics: dict[str, Any] = {"task": cfg.task, "seeds": len(results)}
    keys = [k for k in results[0].metrics if k.endswith(("accuracy", "macro_f1", "_loss"))]
    for k in keys:
        mean, std = mean_std([r.metrics.get(k, float("nan")) for r in results])
        metrics[k] = mean
        metrics[f"{k}_std"] = std
    metrics["seconds_per_epoch"] = float(np.mean([r.metrics["seconds_per_epoch"] for r in results]))
    return metrics
