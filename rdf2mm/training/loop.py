"""The training loop: one implementation of what every task's training shares.

:class:`TrainingLoop` owns, once for all tasks:

- seeding (:func:`~rdf2mm.training.seeding.seed_everything`, before the model is built),
  AMP autocast (bfloat16 on CUDA when ``settings.amp``), the DDP wrap of the model when
  the task trains in mini-batches on several workers;
- the epochs and their batches, the optimiser step (Adam, gradient clipping at
  ``settings.clip``), the per-epoch sums of the batch statistics kept on the device (no
  host sync per step, one all-reduce per epoch), the non-finite-loss check;
- evaluation every ``eval_every`` epochs (and at the last one) when there is a
  validation split, early stopping (:class:`~rdf2mm.training.stopping.EarlyStopper`:
  patience, or at once when validation is perfect and flat) with a true best-weight
  restore (copied tensors), and why the seed stopped (its ``stopped`` metric);
- checkpoint save and resume: model, optimiser, torch CPU RNG, CUDA RNG, best weights,
  counters, curve, plus the task's own RNG state (:meth:`TrainingLoop.rng_state`);
- timing, and the progress reports: typed events (:mod:`rdf2mm.training.events`) to
  ``on_event``.

Timing means the same for every task: ``train_seconds`` is the time spent in the
training part of the epochs (making the batches, the steps, the epoch's loss), without
validation, checkpoint saves or callbacks; ``eval_seconds`` is the time spent in
validation during training plus the final evaluation of the kept weights;
``seconds_per_epoch = train_seconds / epochs_run``.

A task subclasses :class:`TrainingLoop` and fills in the hooks: :meth:`build` (the model,
drawn from the freshly seeded RNG), :meth:`epoch_batches`, :meth:`batch_loss`,
:meth:`epoch_figures`, :meth:`validate` (the key early stopping watches, and the
record's fields), :meth:`train_key`, and :meth:`finish` (the result).
"""
from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from typing import Any, Callable, ContextManager, Generic, Sequence, TypedDict, TypeVar, Unpack

import torch
from torch import Tensor, nn

from rdf2mm.runs.checkpoint import TrainingCheckpoint, restore_optimizer
from rdf2mm.tasks.distributed import Workers
from rdf2mm.tasks.settings import ModelSettings
from rdf2mm.training.events import EpochEnded, EventCallback, StepStarted
from rdf2mm.training.seeding import seed_everything
from rdf2mm.training.state import copy_weights, restore_global_rngs
from rdf2mm.training.allocator import keep_freed_memory
from rdf2mm.training.stopping import EarlyStopper

#: called after every epoch with (epoch, record) for progress display
#: called before every mini-batch step with (epoch, step, steps): epochs of a big graph take minutes

R = TypeVar("R")


def amp_autocast(settings: ModelSettings, device: torch.device) -> Callable[[], ContextManager[Any]]:
    """The context that forward passes run in: bfloat16 autocast on CUDA when
    ``settings.amp``, else nothing."""
    if settings.amp and device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


class LoopOptions(TypedDict, total=False):
    """What a caller may hand any task's training loop, beside its data and settings."""

    #: torchrun workers (default: one process)
    workers: Workers | None
    #: saved every ``checkpoint.every`` epochs and resumed from when present
    checkpoint: TrainingCheckpoint | None
    on_event: EventCallback | None


class TrainingLoop(ABC, Generic[R]):
    """Trains one model with one seed; :meth:`run` returns the task's result (see the
    module docstring for what the loop does and what a task fills in)."""

    #: how many numbers :meth:`batch_loss` returns per batch (summed over the epoch)
    stats_size: int = 1

    def __init__(
        self,
        settings: ModelSettings,
        seed: int,
        device: torch.device,
        *,
        eval_every: int = 1,
        has_validation: bool = True,
        mini: bool = False,
        **options: Unpack[LoopOptions],
    ) -> None:
        self.settings = settings
        self.seed = seed
        self.device = device
        self.workers = options.get("workers") or Workers()
        self.checkpoint = options.get("checkpoint")
        self.on_event = options.get("on_event")
        self.eval_every = max(1, int(eval_every))
        self.has_validation = has_validation
        #: mini-batch training: steps are reported, and the model is DDP-wrapped
        self.mini = mini
        self.autocast = amp_autocast(settings, device)
        self.train_seconds = 0.0
        self.eval_seconds = 0.0
        #: optimiser steps taken (this worker's), for early stopping's step floor
        self.total_steps = 0

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def build(self) -> nn.Module:
        """The task's model on ``self.device`` (and whatever else it needs per seed); called
        right after seeding, so that the initial weights depend on the seed only."""

    @abstractmethod
    def epoch_batches(self, epoch: int) -> Sequence[Any]:
        """This worker's batches of ``epoch`` (any objects :meth:`batch_loss` takes); the
        place to draw the epoch's shuffle and set up its sampling RNGs."""

    def skip_batch(self, batch: Any) -> bool:
        """True for a batch that gets no step (still reported as a :class:`StepStarted`)."""
        return False

    @abstractmethod
    def batch_loss(self, batch: Any) -> tuple[Tensor, Tensor]:
        """The loss to back-propagate and the batch's ``[stats_size]`` statistics (detached,
        on the device, summed over the epoch); use ``self.net`` for a forward that DDP syncs."""

    @abstractmethod
    def epoch_figures(self, sums: Tensor, steps: int) -> dict[str, float]:
        """The epoch's record fields (``train_loss`` first) from the statistics summed over
        the steps and workers (``sums`` on the CPU)."""

    @abstractmethod
    def validate(self, epoch: int) -> tuple[Any, dict[str, float]]:
        """Evaluate on the validation split: the key early stopping watches (larger is
        better) and the record's fields."""

    @abstractmethod
    def train_key(self, record: dict[str, float]) -> Any:
        """Without a validation split, the key that picks the weights kept."""

    #: the key every real one beats
    worst_key: Any = float("-inf")

    def on_best(self, evaluated: bool) -> None:
        """Called when the current weights become the best (``evaluated``: :meth:`validate`
        ran this epoch); e.g. to keep outputs of exactly these weights."""

    def rng_state(self) -> dict[str, Tensor]:
        """Task-specific RNG states to checkpoint (e.g. a sampler's generator)."""
        return {}

    def restore_rng(self, extra: dict[str, Tensor]) -> None:
        """Take back what :meth:`rng_state` saved (``extra``: the checkpoint's task tensors)."""

    @abstractmethod
    def finish(self, metrics: dict[str, float], curve: list[dict[str, float]]) -> R:
        """The result, with the best weights loaded: evaluate them and complete ``metrics``
        (the loop's own figures; the result must hold this dict, whose ``eval_seconds``
        the loop completes with the time :meth:`finish` took)."""

    # ------------------------------------------------------------------- loop
    def should_evaluate(self, epoch: int) -> bool:
        return self.has_validation and (epoch % self.eval_every == 0 or epoch == self.settings.epochs)

    def run(self) -> R:
        """Seed, build, train (resuming from the checkpoint when it holds this seed),
        restore the best weights and return :meth:`finish`'s result."""
        s = self.settings
        seed_everything(self.seed)
        keep_freed_memory()
        self.model = self.build()
        self.net = self.workers.wrap(self.model, self.device) if self.mini else self.model
        self.opt = torch.optim.Adam(self.model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        stopper = EarlyStopper(s.patience, self.eval_every, self.has_validation, self.worst_key,
                               perfect=1.0, min_steps=s.patience_steps)
        best_state: dict[str, Tensor] | None = None
        curve: list[dict[str, float]] = []
        start = 1
        saved = self.checkpoint.load_progress(self.seed, self.model, s.epochs) if self.checkpoint else None
        if saved is not None:
            self.model.load_state_dict(saved["model"])
            restore_optimizer(self.opt, saved["opt_tensors"], saved["optimizer"])
            best_state = saved["best"]
            stopper.restore(saved["counters"])
            self.total_steps = stopper.steps
            curve = saved["curve"]
            start = saved["epoch"] + 1
            restore_global_rngs(saved)
            self.restore_rng(saved["extra"])
        for epoch in range(start, s.epochs + 1):
            record = self._train_epoch(epoch)
            key: Any = None
            evaluated = self.should_evaluate(epoch)
            if evaluated:
                t = time.perf_counter()
                key, fields = self.validate(epoch)
                self.eval_seconds += time.perf_counter() - t
                record.update(fields)
            elif not self.has_validation:
                key = self.train_key(record)
            curve.append(record)
            if self.on_event:
                self.on_event(EpochEnded(self.seed, epoch, record))
            if key is not None:
                if stopper.update(key, epoch, record.get("train_loss"), steps=self.total_steps):
                    best_state = copy_weights(self.model)
                    self.on_best(evaluated)
                if stopper.should_stop:
                    break
            ck = self.checkpoint
            if ck and ck.every and epoch % ck.every == 0 and epoch < s.epochs:
                ck.save_progress(self.seed, epoch=epoch, model=self.model, opt=self.opt, best_state=best_state,
                                 curve=curve, counters=stopper.counters(), extra=self.rng_state())
        if best_state is not None:
            self.model.load_state_dict(best_state)
        metrics: dict[str, Any] = {
            "best_epoch": stopper.best_epoch,
            "epochs_run": len(curve),
            # why training ended: "perfect" (validation at its maximum and flat, the
            # training loss too), "patience" or "epochs" (the budget ran out)
            "stopped": stopper.reason or "epochs",
            "train_seconds": self.train_seconds,
            "seconds_per_epoch": self.train_seconds / max(len(curve), 1),
            "eval_seconds": self.eval_seconds,
        }
        t = time.perf_counter()
        result = self.finish(metrics, curve)
        metrics["eval_seconds"] = self.eval_seconds + time.perf_counter() - t
        return result

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch's steps; its record (epoch, seed, the task's training figures)."""
        s = self.settings
        t = time.perf_counter()
        self.model.train()
        batches = self.epoch_batches(epoch)
        sums = torch.zeros(self.stats_size, device=self.device)  # summed on the device: no host sync per step
        steps = 0
        for step_no, batch in enumerate(batches, 1):
            if self.mini and self.on_event:
                self.on_event(StepStarted(self.seed, epoch, step_no, len(batches)))
            if self.skip_batch(batch):
                continue
            self.opt.zero_grad(set_to_none=True)
            loss, stats = self.batch_loss(batch)
            loss.backward()
            if s.clip and s.clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.clip)
            self.opt.step()
            sums += stats
            steps += 1
        self.total_steps += steps
        self.workers.all_reduce(sums)
        record: dict[str, float] = {"epoch": epoch, "seed": self.seed, **self.epoch_figures(sums.cpu(), steps)}
        s.check_loss(record["train_loss"], self.seed, epoch)
        self.train_seconds += time.perf_counter() - t
        return record
