"""Typed progress events: what the training loop reports while it runs.

The loop hands each event to its ``on_event`` callback. The pipeline's progress
callbacks (CLI bars and log lines, trackers, tuning) read ``(stage, info)`` notes;
:func:`as_note` turns an event into exactly the note they have always received, so what
they print and record is unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Union


@dataclass(frozen=True)
class StepStarted:
    """A mini-batch step is about to run (full-batch training reports no steps)."""

    seed: int
    epoch: int
    step: int
    steps: int

    stage = "step"

    def info(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step": self.step, "steps": self.steps}


@dataclass(frozen=True)
class EpochEnded:
    """An epoch finished: its curve record (epoch, seed, training and validation figures)."""

    seed: int
    epoch: int
    record: dict[str, float]

    stage = "epoch"

    def info(self) -> dict[str, Any]:
        return self.record


Event = Union[StepStarted, EpochEnded]
EventCallback = Callable[[Event], None]


def as_note(note: Callable[[str, dict[str, Any]], None]) -> EventCallback:
    """An event callback that forwards each event to ``note`` as ``(stage, info)``."""
    def forward(event: Event) -> None:
        note(event.stage, event.info())

    return forward
