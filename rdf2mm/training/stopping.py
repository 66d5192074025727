"""Early stopping on a validation figure, the same rule for every task.

The watched figure is a *key*: anything ordered, larger is better (node classification
watches ``(accuracy, -loss)``, link prediction the MRR). Staleness is counted in epochs:
an evaluation that does not improve on the best adds ``every`` (the epochs since the
previous evaluation), and training stops once ``stale >= patience`` *and* at least
``min_steps`` optimiser steps have been taken since the best (when the loop reports its
steps). The step floor matters where an epoch is a single step: a graph whose training
triples fit one batch (link prediction's 4096) would otherwise be stopped after
``patience`` steps, before an embedding table has moved from its initialisation (plain
DistMult, MoSE and VL-KGE kept their epoch-1 weights, random ranking; see bench/RESULTS.md,
"The field's methods on planted graphs"). Without a
validation split the key is a training figure, which picks the weights kept but never
stops training early: a falling training loss says nothing about overfitting.

A key's leading figure (the accuracy, the MRR) cannot exceed :attr:`EarlyStopper.perfect`
(1.0). Once it has sat there for ``window`` evaluations in a row and the training loss
no longer improves meaningfully, nothing is left to learn that validation could show,
and training stops at once (reason ``"perfect"``) instead of waiting out the patience:
a secondary figure such as the validation loss keeps creeping down for as long as the
weights grow, and would otherwise hold a perfectly separated problem for the whole
epoch budget. "Meaningfully": the lowest training loss of the last ``window``
evaluations is more than ``loss_tol + loss_rel * floor`` below ``floor``, the lowest
before them (minima, so that dropout's noise in the loss does not count as progress).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: why a seed's training ended, recorded as its ``stopped`` metric
STOP_REASONS = ("perfect", "patience", "epochs")


@dataclass
class EarlyStopper:
    """The best key so far, its epoch, the epochs since it (``stale``), and the run of
    perfect evaluations with their training losses."""

    patience: int
    #: epochs between two evaluations: what one evaluation without improvement adds to ``stale``
    every: int = 1
    #: whether the key is a validation figure (only then does training stop early)
    on_validation: bool = True
    best_key: Any = float("-inf")
    best_epoch: int = 0
    stale: int = 0
    #: the largest value the key's leading figure can take (None: no such value)
    perfect: float | None = 1.0
    #: evaluations in a row at :attr:`perfect` (and flat training loss) before stopping
    window: int = 5
    #: absolute and relative training-loss drop over the window that still counts as progress
    loss_tol: float = 0.01
    loss_rel: float = 0.1
    #: consecutive evaluations whose leading figure was perfect
    perfect_run: int = 0
    #: training losses of the last ``window`` evaluations, oldest first
    recent_losses: list[float] = field(default_factory=list)
    #: the lowest training loss before ``recent_losses``
    loss_floor: float = float("inf")
    #: why training should stop ("perfect" or "patience"), "" while it should go on
    reason: str = ""
    #: optimiser steps since the best that patience also requires (0: epochs only)
    min_steps: int = 0
    #: optimiser steps taken so far, and when the best was seen
    steps: int = 0
    best_steps: int = 0

    def update(self, key: Any, epoch: int, train_loss: float | None = None, steps: int | None = None) -> bool:
        """Record an evaluation at ``epoch`` (with the epoch's training loss and the
        optimiser steps taken so far); True when ``key`` is a new best. Sets
        :attr:`reason` when training should stop."""
        self._track_perfect(key, train_loss)
        if steps is not None:
            self.steps = int(steps)
        improved = key > self.best_key
        if improved:
            self.best_key, self.best_epoch, self.stale, self.best_steps = key, epoch, 0, self.steps
        else:
            self.stale += self.every
        if self.on_validation:
            if self._perfect_and_flat():
                self.reason = "perfect"
            elif not improved and self.stale >= self.patience and self.steps - self.best_steps >= self.min_steps:
                self.reason = "patience"
        return improved

    @property
    def should_stop(self) -> bool:
        return self.on_validation and bool(self.reason)

    def _track_perfect(self, key: Any, train_loss: float | None) -> None:
        lead = key[0] if isinstance(key, tuple) else key
        if train_loss is not None:
            self.recent_losses.append(float(train_loss))
            if len(self.recent_losses) > self.window:
                self.loss_floor = min(self.loss_floor, self.recent_losses.pop(0))
        if self.perfect is not None and isinstance(lead, (int, float)) and lead >= self.perfect:
            self.perfect_run += 1
        else:
            self.perfect_run = 0

    def _perfect_and_flat(self) -> bool:
        if self.perfect_run < self.window or len(self.recent_losses) < self.window:
            return False
        floor = self.loss_floor
        if floor == float("inf"):  # no loss before the window: no way to tell it is flat
            return False
        return floor - min(self.recent_losses) <= self.loss_tol + self.loss_rel * floor

    def counters(self) -> dict[str, Any]:
        """JSON for a checkpoint (a tuple key becomes a list)."""
        key = list(self.best_key) if isinstance(self.best_key, tuple) else self.best_key
        floor = None if self.loss_floor == float("inf") else self.loss_floor
        return {"best_key": key, "best_epoch": self.best_epoch, "stale": self.stale,
                "perfect_run": self.perfect_run, "recent_losses": list(self.recent_losses), "loss_floor": floor,
                "steps": self.steps, "best_steps": self.best_steps}

    def restore(self, counters: dict[str, Any]) -> None:
        """Take back what :meth:`counters` saved (a checkpoint from before the perfect
        rule starts its run afresh)."""
        key = counters["best_key"]
        self.best_key = tuple(key) if isinstance(key, list) else key
        self.best_epoch, self.stale = counters["best_epoch"], counters["stale"]
        self.perfect_run = int(counters.get("perfect_run", 0))
        self.recent_losses = [float(v) for v in counters.get("recent_losses", [])]
        floor = counters.get("loss_floor")
        self.loss_floor = float("inf") if floor is None else float(floor)
        # a checkpoint from before the step floor: its steps are unknown, the floor counts from here
        self.steps = int(counters.get("steps", 0))
        self.best_steps = int(counters.get("best_steps", self.steps))
