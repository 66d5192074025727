"""Choosing between candidates on validation figures."""
from __future__ import annotations

import math

import pytest

from rdf2mm.tasks.model_selection import clear_winner, select_on_validation, validation_summary


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


def test_a_lead_of_two_validation_nodes_is_clear_after_one_seed():
    # 100 validation nodes: 0.02 is two nodes
    assert clear_winner({"sum": seeds((0.74, 0.5)), "mean": seeds((0.72, 0.4))}, 100) == "sum"
    assert clear_winner({"sum": seeds((0.72, 0.5)), "mean": seeds((0.74, 0.6))}, 100) == "mean"


def test_a_lead_of_one_node_needs_more_seeds():
    assert clear_winner({"sum": seeds((0.73, 0.5)), "mean": seeds((0.72, 0.5))}, 100) is None
    # ... and more seeds can make it clear: two seeds, two nodes ahead on average
    assert clear_winner({"sum": seeds((0.73, 0.5), (0.75, 0.5)), "mean": seeds((0.72, 0.5), (0.72, 0.5))}, 100) == "sum"


def test_level_accuracy_is_decided_by_a_much_lower_loss_only():
    assert clear_winner({"sum": seeds((0.9, 0.5)), "mean": seeds((0.9, 0.2))}, 28) == "mean"
    assert clear_winner({"sum": seeds((0.9, 0.25)), "mean": seeds((0.9, 0.2))}, 28) is None
    assert clear_winner({"sum": seeds((0.9, 0.5)), "mean": seeds((0.9, 0.51))}, 28) is None


def test_perfect_ties_keep_the_first_candidate_whatever_the_losses():
    # Both perfect: the losses say when each seed stopped, not which is better.
    assert clear_winner({"mean": seeds((1.0, 1.8e-5)), "sum": seeds((1.0, 0.0))}, 28) == "mean"
    assert clear_winner({"sum": seeds((1.0, 0.02)), "mean": seeds((1.0, 0.008))}, 28) == "sum"
    # one perfect and one a node behind: not clear, more seeds
    assert clear_winner({"mean": seeds((1.0, 0.02)), "sum": seeds((27 / 28, 0.01))}, 28) is None


def test_losses_near_zero_are_level():
    # a small ratio of small losses is no lead, when not perfect
    assert clear_winner({"mean": seeds((0.9, 0.004)), "sum": seeds((0.9, 0.001))}, 28) is None


def test_race_trains_the_other_seeds_once_when_the_lead_is_clear():
    from rdf2mm.pipeline import race_candidates

    class Result:
        def __init__(self, seed, agg):
            self.seed, self.metrics = seed, {"valid_accuracy": {"sum": 0.9, "mean": 0.5}[agg], "valid_loss": 0.1,
                                             "test_accuracy": 0.5}

        def release(self):
            pass

    calls = []

    def train(agg, some, racing):
        calls.append((agg, tuple(some), racing))
        return [Result(s, agg) for s in some]

    chosen, results, summary, compared = race_candidates(("sum", "mean"), [0, 1, 2], train, 10, lambda *_: None)
    assert chosen == "sum" and compared == 1 and [r.seed for r in results] == [0, 1, 2]
    assert calls == [("sum", (0,), True), ("mean", (0,), True), ("sum", (1, 2), False)]


def test_race_compares_every_seed_on_a_close_call():
    from rdf2mm.pipeline import race_candidates

    class Result:
        def __init__(self, seed):
            self.seed, self.metrics = seed, {"valid_accuracy": 0.5, "valid_loss": 0.1}

        def release(self):
            pass

    calls = []

    def train(agg, some, racing):
        calls.append((agg, tuple(some)))
        return [Result(s) for s in some]

    chosen, results, _summary, compared = race_candidates(("sum", "mean"), [0, 1], train, 10, lambda *_: None)
    assert chosen == "sum" and compared == 2  # an exact tie keeps the first
    assert calls == [("sum", (0,)), ("mean", (0,)), ("sum", (1,)), ("mean", (1,))]
