"""Choosing between candidates on validation figures."""
from __future__ import annotations

import math

import pytest

from rdf2mm.tasks.model_selection import select_on_validation, validation_summary


def seeds(*pairs: tuple[float, float]) -> list[dict[str, float]]:
    return [{"valid_accuracy": a, "valid_loss": loss, "test_accuracy": 1.0} for a, loss in pairs]


def test_mean_validation_accuracy_decides():
    chosen, summary = select_on_validation({
        "sum": seeds((0.70, 5.0), (0.80, 4.0)),
        "mean": seeds((0.90, 0.1), (0.50, 0.1)),  # one lucky seed, lower mean
    })
    assert chosen == "sum"
    assert summary["sum"]["valid_accuracy"] == pytest.approx(0.75)
    assert summary["mean"]["valid_loss"] == pytest.approx(0.1)


def test_loss_breaks_an_accuracy_tie_and_an_exact_tie_keeps_the_first():
    assert select_on_validation({"sum": seeds((1.0, 0.05)), "mean": seeds((1.0, 0.01))})[0] == "mean"
    assert select_on_validation({"sum": seeds((1.0, 0.01)), "mean": seeds((1.0, 0.01))})[0] == "sum"
    assert select_on_validation({"mean": seeds((1.0, 0.01)), "sum": seeds((1.0, 0.01))})[0] == "mean"


def test_test_figures_play_no_part():
    a = [{"valid_accuracy": 0.8, "valid_loss": 0.5, "test_accuracy": 0.1}]
    b = [{"valid_accuracy": 0.7, "valid_loss": 0.5, "test_accuracy": 1.0}]
    assert select_on_validation({"a": a, "b": b})[0] == "a"


def test_missing_figures_lose_and_no_candidates_is_an_error():
    summary = validation_summary([{"train_accuracy": 1.0}])
    assert math.isnan(summary["valid_accuracy"]) and math.isnan(summary["valid_loss"])
    assert select_on_validation({"blind": [{}], "seen": seeds((0.1, 9.0))})[0] == "seen"
    with pytest.raises(ValueError):
        select_on_validation({})
