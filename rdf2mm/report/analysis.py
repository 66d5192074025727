"""The figures a report draws, computed from a run's predictions, embeddings and ranks."""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np


def split_accuracy(predictions: list[dict[str, str]]) -> dict[str, float]:
    """Accuracy of the kept model's predictions per labelled split."""
    hits: dict[str, list[int]] = defaultdict(list)
    for row in predictions:
        if row.get("split") in ("train", "valid", "test") and row.get("true_class"):
            hits[row["split"]].append(int(row["true_class"] == row["predicted_class"]))
    return {s: sum(v) / len(v) for s in ("train", "valid", "test") if (v := hits.get(s))}


def confusion(predictions: list[dict[str, str]], split: str = "test") -> tuple[list[str], np.ndarray]:
    """Classes and the confusion matrix (rows: true class, columns: predicted) of ``split``."""
    rows = [r for r in predictions if r.get("split") == split and r.get("true_class")]
    classes = sorted({r["true_class"] for r in predictions if r.get("true_class")}
                     | {r["predicted_class"] for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for r in rows:
        matrix[index[r["true_class"]], index[r["predicted_class"]]] += 1
    return classes, matrix


def pca_2d(x: np.ndarray) -> np.ndarray:
    """Project rows of ``x`` onto their first two principal components (numpy SVD)."""
    centred = x - x.mean(axis=0, keepdims=True)
    if centred.shape[0] < 2:
        return np.zeros((centred.shape[0], 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    proj = centred @ vt[:2].T
    if proj.shape[1] < 2:
        proj = np.hstack([proj, np.zeros((proj.shape[0], 2 - proj.shape[1]))])
    return proj


RANK_BUCKETS = ((1, 1, "1"), (2, 3, "2-3"), (4, 10, "4-10"), (11, 100, "11-100"), (101, 1000, "101-1000"),
                (1001, float("inf"), ">1000"))


def rank_histogram(ranks: list[float]) -> dict[str, float]:
    """Share of ranking queries per rank bucket (realistic ranks may be .5: they round up)."""
    total = max(len(ranks), 1)
    return {label: sum(1 for r in ranks if lo <= math.ceil(r) <= hi) / total for lo, hi, label in RANK_BUCKETS}
