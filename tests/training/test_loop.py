"""The training loop on a toy task: early stopping, best-weight restore, resume."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

from rdf2mm.runs.checkpoint import TrainingCheckpoint
from rdf2mm.tasks.settings import ModelSettings
from rdf2mm.training.events import EpochEnded
from rdf2mm.training.loop import TrainingLoop
from rdf2mm.training.stopping import EarlyStopper


class Toy(TrainingLoop[dict[str, Any]]):
    """Regress y = 2x with one weight; the validation figures are scripted per epoch."""

    def __init__(self, scores: list[float] | None, **kw: Any) -> None:
        settings = kw.pop("settings", ModelSettings(epochs=len(scores) if scores else 10, patience=3, lr=0.1))
        super().__init__(settings, 0, torch.device("cpu"), has_validation=scores is not None, **kw)
        self.scores = scores
        self.weights_at: dict[int, Tensor] = {}

    def build(self) -> nn.Module:
        self.x = torch.linspace(-1, 1, 16).unsqueeze(1)
        return nn.Linear(1, 1, bias=False)

    def epoch_batches(self, epoch: int) -> list[Tensor]:
        return [torch.randperm(16)[:8], torch.randperm(16)[8:]]  # draws from the seeded global RNG

    def batch_loss(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        x = self.x[idx]
        loss = ((self.net(x) - 2 * x) ** 2).mean()
        return loss, loss.detach().reshape(1)

    def epoch_figures(self, sums: Tensor, steps: int) -> dict[str, float]:
        return {"train_loss": float(sums[0]) / steps}

    def validate(self, epoch: int) -> tuple[float, dict[str, float]]:
        assert self.scores is not None
        self.weights_at[epoch] = self.model.weight.detach().clone()
        return self.scores[epoch - 1], {"valid_score": self.scores[epoch - 1]}

    def train_key(self, record: dict[str, float]) -> float:
        return -record["train_loss"]

    def finish(self, metrics: dict[str, float], curve: list[dict[str, float]]) -> dict[str, Any]:
        return {"metrics": metrics, "curve": curve, "weight": self.model.weight.detach().clone()}


def test_stopper_counts_epochs_and_stops_only_on_validation():
    s = EarlyStopper(patience=4, every=2)
    assert s.update(0.5, 2) and s.best_epoch == 2
    assert not s.update(0.5, 4) and s.stale == 2 and not s.should_stop  # a tie is no improvement
    assert not s.update(0.4, 6) and s.stale == 4 and s.should_stop
    train_only = EarlyStopper(patience=1, on_validation=False)
    train_only.update(1.0, 1)
    train_only.update(0.0, 2)
    assert train_only.stale == 1 and not train_only.should_stop
    again = EarlyStopper(patience=4)
    again.restore({"best_key": [1.0, -2.0], "best_epoch": 3, "stale": 1})
    assert again.best_key == (1.0, -2.0) and again.counters()["best_key"] == [1.0, -2.0]


def test_patience_also_waits_the_step_floor_since_the_best():
    s = EarlyStopper(patience=2, min_steps=10)
    assert s.update(0.5, 1, steps=1) and s.best_steps == 1
    assert not s.update(0.4, 2, steps=2) and not s.update(0.4, 3, steps=3)
    assert s.stale == 2 and not s.should_stop  # two stale epochs, but only 2 steps since the best
    for epoch in range(4, 11):
        s.update(0.4, epoch, steps=epoch)
        assert not s.should_stop, epoch
    s.update(0.4, 11, steps=11)  # 10 steps since the best
    assert s.should_stop and s.reason == "patience"
    # many steps per epoch: the floor is met at once, the patience in epochs decides
    wide = EarlyStopper(patience=2, min_steps=10)
    wide.update(0.5, 1, steps=50)
    wide.update(0.4, 2, steps=100)
    assert not wide.should_stop
    wide.update(0.4, 3, steps=150)
    assert wide.should_stop
    # the counters round-trip; a checkpoint from before the floor counts from where it resumes
    again = EarlyStopper(patience=2, min_steps=10)
    again.restore(wide.counters())
    assert (again.steps, again.best_steps) == (150, 50)
    old = EarlyStopper(patience=2, min_steps=10)
    old.restore({"best_key": 0.5, "best_epoch": 1, "stale": 1})
    assert (old.steps, old.best_steps) == (0, 0)


def test_the_loop_counts_its_steps_for_the_floor():
    # two steps per epoch, best at epoch 2 (step 4): patience 3 epochs alone stops at epoch 5,
    # a floor of 10 steps since the best holds on to epoch 7 (step 14)
    scores = [0.1, 0.9] + [0.2] * 8
    plain = Toy(scores).run()
    floored = Toy(scores, settings=ModelSettings(epochs=10, patience=3, patience_steps=10, lr=0.1)).run()
    assert plain["metrics"]["epochs_run"] == 5
    assert floored["metrics"]["epochs_run"] == 7 and floored["metrics"]["best_epoch"] == 2


def test_best_weights_are_a_copy_and_are_restored():
    toy = Toy([0.1, 0.9, 0.2, 0.3, 0.4, 0.5, 0.6])  # best at epoch 2; stale 3 at epoch 5
    out = toy.run()
    assert out["metrics"]["best_epoch"] == 2
    assert out["metrics"]["epochs_run"] == 5  # stopped early: patience 3
    assert torch.equal(out["weight"], toy.weights_at[2])
    assert not torch.equal(out["weight"], toy.weights_at[5])


def test_eval_every_counts_stale_in_epochs():
    toy = Toy([0.1, 0.9] + [0.1] * 8, eval_every=2)  # patience 3
    out = toy.run()
    evaluated = [r["epoch"] for r in out["curve"] if "valid_score" in r]
    # best at 2; epoch 4 adds 2 stale epochs, epoch 6 two more: 4 >= 3 stops
    assert evaluated == [2, 4, 6] and out["metrics"]["epochs_run"] == 6
    assert out["metrics"]["best_epoch"] == 2


def test_without_validation_training_never_stops_early():
    settings = ModelSettings(epochs=12, patience=1, lr=5.0)  # a rate that makes the loss bounce
    out = Toy(None, settings=settings).run()
    assert out["metrics"]["epochs_run"] == 12


def test_resume_gives_the_same_result(tmp_path):
    scores = [0.1 * i for i in range(1, 9)]
    straight = Toy(scores).run()
    ck = TrainingCheckpoint(tmp_path / "ck", every=3)

    class Stop(Exception):
        pass

    def stop(event: Any) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 5:
            raise Stop()

    with pytest.raises(Stop):
        Toy(scores, checkpoint=ck, on_event=stop).run()
    resumed = Toy(scores, checkpoint=ck).run()
    assert torch.equal(resumed["weight"], straight["weight"])
    assert [r["train_loss"] for r in resumed["curve"]] == [r["train_loss"] for r in straight["curve"]]


def test_progress_events_and_the_notes_they_become():
    from rdf2mm.training.events import EpochEnded, StepStarted, as_note

    events: list[Any] = []
    notes: list[tuple[str, dict[str, Any]]] = []
    settings = ModelSettings(epochs=2, patience=10, lr=0.1)
    out = Toy(None, settings=settings, mini=True, on_event=lambda e: (events.append(e), as_note(
        lambda stage, info: notes.append((stage, info)))(e))).run()
    assert [type(e) for e in events] == [StepStarted, StepStarted, EpochEnded] * 2
    assert events[2] == EpochEnded(0, 1, out["curve"][0])
    assert notes[0] == ("step", {"epoch": 1, "step": 1, "steps": 2})
    assert notes[2] == ("epoch", out["curve"][0])
    # full batch reports epochs only
    events.clear()
    Toy(None, settings=settings, on_event=events.append).run()
    assert [type(e) for e in events] == [EpochEnded, EpochEnded]


def test_perfect_and_flat_validation_stops_before_the_patience():
    # NC-style keys: accuracy 1.0 from epoch 2 on, the validation loss still creeping down,
    # so every evaluation is a new best and the patience would never run out
    scores = [(0.5, -2.0)] + [(1.0, -1.0 / e) for e in range(2, 61)]
    settings = ModelSettings(epochs=60, patience=30, lr=0.1)
    toy = TupleToy(scores, settings=settings)
    out = toy.run()
    m = out["metrics"]
    assert m["stopped"] == "perfect"
    assert m["epochs_run"] < 30
    # the last evaluation was the best one: its weights are kept
    assert m["best_epoch"] == m["epochs_run"]
    assert torch.equal(out["weight"], toy.weights_at[m["epochs_run"]])


class TupleToy(Toy):
    """Keys like node classification's: (accuracy, -loss)."""

    worst_key = (-1.0, float("-inf"))


def test_stop_reasons_patience_and_epochs():
    assert Toy([0.1, 0.9, 0.2, 0.3, 0.4, 0.5, 0.6]).run()["metrics"]["stopped"] == "patience"
    assert Toy([0.1 * i for i in range(1, 9)]).run()["metrics"]["stopped"] == "epochs"
    assert Toy(None, settings=ModelSettings(epochs=3, patience=1, lr=0.1)).run()["metrics"]["stopped"] == "epochs"


def test_perfect_needs_a_flat_training_loss_and_a_full_window():
    s = EarlyStopper(patience=100, window=3)
    s.update(0.5, 1, train_loss=2.0)
    for epoch, loss in zip(range(2, 5), (1.0, 0.5, 0.2)):  # perfect, but the loss still falls fast
        s.update(1.0, epoch, train_loss=loss)
        assert not s.should_stop
    assert s.perfect_run == 3
    s.update(0.9, 5, train_loss=0.3)  # one imperfect evaluation restarts the run
    assert s.perfect_run == 0
    for epoch in range(6, 9):
        s.update(1.0, epoch, train_loss=0.1)
    assert not s.should_stop  # the window still holds a real drop (0.2 before it, 0.1 in it)
    s.update(1.0, 9, train_loss=0.1)
    assert s.should_stop and s.reason == "perfect"
    # without a loss, or without a perfect score, the rule never fires
    never = EarlyStopper(patience=100, window=2, perfect=None)
    for epoch in range(1, 10):
        never.update(1.0, epoch, train_loss=0.0)
    assert not never.should_stop
    # the run survives a checkpoint
    again = EarlyStopper(patience=100, window=3)
    again.restore(s.counters())
    assert (again.perfect_run, again.recent_losses, again.loss_floor) == (s.perfect_run, s.recent_losses, s.loss_floor)
    old = EarlyStopper(patience=4)
    old.restore({"best_key": 1.0, "best_epoch": 3, "stale": 1})  # written before the rule
    assert old.perfect_run == 0 and old.recent_losses == []


def test_resume_in_a_perfect_run_stops_at_the_same_epoch(tmp_path):
    scores = [(0.5, -2.0)] + [(1.0, -1.0 / e) for e in range(2, 61)]
    settings = ModelSettings(epochs=60, patience=30, lr=0.1)
    straight = TupleToy(scores, settings=settings).run()
    ck = TrainingCheckpoint(tmp_path / "ck", every=2)

    class Stop(Exception):
        pass

    def stop(event: Any) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 5:
            raise Stop()

    with pytest.raises(Stop):
        TupleToy(scores, settings=settings, checkpoint=ck, on_event=stop).run()
    resumed = TupleToy(scores, settings=settings, checkpoint=ck).run()
    assert resumed["metrics"]["epochs_run"] == straight["metrics"]["epochs_run"]
    assert resumed["metrics"]["stopped"] == "perfect"
    assert torch.equal(resumed["weight"], straight["weight"])
