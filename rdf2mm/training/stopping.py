"""Early stopping on a validation figure, the same rule for every task.

The watched figure is a *key*: anything ordered, larger is better (node classification
watches ``(accuracy, -loss)``, link prediction the MRR). Staleness is counted in epochs:
an evaluation that does not improve on the best adds ``every`` (the epochs since the
previous evaluation), and training stops once ``stale >= patience``. Without a
validation split the key is a training figure, which picks the weights kept but never
stops training early: a falling training loss says nothing about overfitting.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class EarlyStopper:
    """The best key so far, its epoch, and the epochs since it (``stale``)."""

    patience: int
    #: epochs between two evaluations: what one evaluation without improvement adds to ``stale``
    every: int = 1
    #: whether the key is a validation figure (only then does training stop early)
    on_validation: bool = True
    best_key: Any = float("-inf")
    best_epoch: int = 0
    stale: int = 0

    def update(self, key: Any, epoch: int) -> bool:
        """Record an evaluation at ``epoch``; True when ``key`` is a new best."""
        if key > self.best_key:
            self.best_key, self.best_epoch, self.stale = key, epoch, 0
            return True
        self.stale += self.every
        return False

    @property
    def should_stop(self) -> bool:
        return self.on_validation and self.stale >= self.patience

    def counters(self) -> dict[str, Any]:
        """JSON for a checkpoint (a tuple key becomes a list)."""
        key = list(self.best_key) if isinstance(self.best_key, tuple) else self.best_key
        return {"best_key": key, "best_epoch": self.best_epoch, "stale": self.stale}

    def restore(self, counters: dict[str, Any]) -> None:
        """Take back what :meth:`counters` saved."""
        key = counters["best_key"]
        self.best_key = tuple(key) if isinstance(key, list) else key
        self.best_epoch, self.stale = counters["best_epoch"], counters["stale"]
