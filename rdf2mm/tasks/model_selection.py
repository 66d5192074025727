"""Choosing between trained candidates on the validation split (never on test).

A candidate is one setting (say, ``aggregation = "sum"``) trained with every seed of the
run. The chosen one has the best mean validation accuracy over the seeds; mean
validation cross-entropy breaks ties, as it does for early stopping. Averaging over the
seeds before comparing makes the choice one decision for the whole run, not a per-seed
pick that would favour whichever candidate got a lucky seed.
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
