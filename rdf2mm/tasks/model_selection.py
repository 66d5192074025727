"""Choosing between trained candidates on the validation split (never on test).

A candidate is one setting (say, ``aggregation = "sum"``). The candidates are trained
seed by seed on the run's first seeds until one leads clearly (:func:`clear_winner`),
and the run's other seeds train only the chosen one. The chosen one has the best mean
validation accuracy over the seeds compared; mean validation cross-entropy breaks ties,
as it does for early stopping. Averaging over the seeds before comparing makes the
choice one decision for the whole run, not a per-seed pick that would favour whichever
candidate got a lucky seed.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence


def validation_summary(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean validation accuracy and loss of one candidate's seeds."""
    def mean(key: str) -> float:
        values = [float(m[key]) for m in per_seed if key in m and not math.isnan(float(m[key]))]
        return sum(values) / len(values) if values else float("nan")

    return {"valid_accuracy": mean("valid_accuracy"), "valid_loss": mean("valid_loss")}


def select_on_validation(candidates: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[str, dict[str, dict[str, float]]]:
    """The name of the best candidate, and every candidate's validation summary.

    ``candidates`` maps a name to its seeds' metrics (``valid_accuracy``, ``valid_loss``).
    On an exact tie the first candidate wins, so the order given is the preference.
    """
    if not candidates:
        raise ValueError("no candidates to choose from")
    summary = {name: validation_summary(runs) for name, runs in candidates.items()}

    def key(name: str) -> tuple[float, float]:
        acc, loss = summary[name]["valid_accuracy"], summary[name]["valid_loss"]
        return (-math.inf if math.isnan(acc) else acc, -math.inf if math.isnan(loss) else -loss)

    best = next(iter(candidates))
    for name in candidates:
        if key(name) > key(best):
            best = name
    return best, summary


#: a candidate leads clearly when its mean validation accuracy is ahead by this many
#: validation nodes (one node is the smallest step accuracy can take: below two, the
#: lead is within what one seed's luck moves)
CLEAR_ACCURACY_NODES = 2
#: with accuracies level, a candidate leads clearly when its mean validation loss is at
#: most this share of every other's and at least :data:`LOSS_FLOOR` below it
CLEAR_LOSS_RATIO = 0.6
#: validation losses closer than this (nats per node) are level: 0 against 2e-5 is noise
LOSS_FLOOR = 0.005
#: the validation accuracy no candidate can exceed
PERFECT = 1.0


def clear_winner(candidates: Mapping[str, Sequence[Mapping[str, Any]]], num_valid: int) -> str | None:
    """The candidate of :func:`select_on_validation`, when its lead on the seeds compared
    so far is clear (see :data:`CLEAR_ACCURACY_NODES`, :data:`CLEAR_LOSS_RATIO`); ``None``
    when more seeds must be compared.

    This is what lets ``auto`` compare the candidates on the first seeds only and train
    the rest once: a graph where one aggregation is plainly better decides after one
    seed; a close call goes on comparing, up to every seed (the full comparison). When
    every candidate is perfect on validation the first one is kept at once.
    """
    best, summary = select_on_validation(candidates)
    if num_valid < 1 or len(summary) < 2:
        return best
    lead = summary[best]
    others = [s for name, s in summary.items() if name != best]
    margins = [lead["valid_accuracy"] - s["valid_accuracy"] for s in others]
    if any(math.isnan(m) for m in margins):
        return None
    if min(margins) * num_valid >= CLEAR_ACCURACY_NODES - 1e-9:
        return best
    if not all(abs(m) * num_valid < 0.5 for m in margins):
        return None  # a lead of less than two nodes: more seeds
    if all(s["valid_accuracy"] >= PERFECT for s in [lead, *others]):
        # Every candidate perfect: validation cannot tell them apart, and their losses say
        # when each stopped (a seed stops once validation is perfect and flat, and the loss
        # keeps falling for as long as it trains), not which generalises. More seeds would
        # tie again: the first candidate (the preferred one) is kept.
        return next(iter(candidates))
    if all(lead["valid_loss"] <= CLEAR_LOSS_RATIO * s["valid_loss"] and s["valid_loss"] - lead["valid_loss"] >= LOSS_FLOOR
           for s in others):
        return best
    return None
