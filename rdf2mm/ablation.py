"""The MR-GCN paper's ablation grid: structure only, each modality alone, all modalities,
and the shuffled-literal control (all modalities, values permuted among the entities of
their predicate: :mod:`rdf2mm.encoding.shuffle`).

:func:`run_ablation` trains every cell of the grid (for each literal mode, split and/or
merged) over the same seeds through :func:`rdf2mm.pipeline.train`, and compares each
cell with structure only, and with the shuffled control, in the same literal mode by
Welch's t-test over the seeds.
The t distribution is computed here (regularised incomplete beta function), so the
test needs no SciPy.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.io.atomic import write_json
from rdf2mm.io.targets import check_folder_target, is_ablation_dir
from rdf2mm.modalities.registry import MODALITY_NAMES

Progress = Callable[[str, dict[str, Any]], None]

#: per task: the headline metric (node classification: accuracy; link prediction: filtered
#: MRR) and the secondary one
METRICS: dict[str, tuple[str, str]] = {
    "node-classification": ("test_accuracy", "test_macro_f1"),
    "link-prediction": ("test_mrr", "test_hits@10"),
}
LITERAL_MODES = ("split", "merged")
STRUCTURE = "none"
#: the grid row of the shuffled-literal control: every modality, literals shuffled
SHUFFLED = "shuffled"


# --------------------------------------------------------------------------- statistics


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0) or not 0.0 <= x <= 1.0:
        raise ValueError("betainc needs a, b > 0 and 0 <= x <= 1")
    if x == 0.0 or x == 1.0:
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Cumulative distribution function of Student's t with ``df`` (> 0, real) degrees of freedom."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def welch_t_test(a: list[float], b: list[float]) -> tuple[float | None, float | None]:
    """Two-sided Welch's t-test of mean(a) != mean(b): ``(t, p)``; ``(None, None)`` with < 2 values each.

    When both samples have zero variance, p is 1 for equal means and 0 otherwise.
    """
    a = [x for x in a if not math.isnan(x)]
    b = [x for x in b if not math.isnan(x)]
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return None, None
    m1, m2 = sum(a) / n1, sum(b) / n2
    v1 = sum((x - m1) ** 2 for x in a) / (n1 - 1)
    v2 = sum((x - m2) ** 2 for x in b) / (n2 - 1)
    se2 = v1 / n1 + v2 / n2
    if se2 == 0.0:
        if m1 == m2:
            return 0.0, 1.0
        return math.copysign(math.inf, m1 - m2), 0.0
    t = (m1 - m2) / math.sqrt(se2)
    df = se2 ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    p = 2.0 * t_cdf(-abs(t), df)
    return t, min(1.0, max(0.0, p))


# --------------------------------------------------------------------------- the grid


@dataclass
class AblationCell:
    """One configuration of the grid, trained over all seeds."""

    name: str  #: "none" (structure only), a modality name, "all", or "shuffled" (the control)
    literals: str
    metrics: dict[str, Any]
    per_seed: list[dict[str, Any]]
    run_dir: str | None
    #: Welch's t-test of the headline metric against structure only in the same literal mode
    t: float | None = None
    p_value: float | None = None
    #: the same against the shuffled-literal control (None without one, and for the control itself)
    t_shuffled: float | None = None
    p_value_shuffled: float | None = None

    @property
    def label(self) -> str:
        return f"{'structure only' if self.name == STRUCTURE else self.name} ({self.literals})"

    def values(self, key: str) -> list[float]:
        return [float(s.get(key, float("nan"))) for s in self.per_seed]


@dataclass
class AblationResult:
    task: str
    metric: str
    secondary: str
    seeds: int
    cells: list[AblationCell] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One flat record per cell (what ``--json`` and ``--csv`` write)."""
        out = []
        for c in self.cells:
            m = c.metrics
            out.append({
                "config": c.name, "literals": c.literals, "seeds": self.seeds,
                self.metric: m.get(self.metric), f"{self.metric}_std": m.get(f"{self.metric}_std"),
                self.secondary: m.get(self.secondary), f"{self.secondary}_std": m.get(f"{self.secondary}_std"),
                "t": c.t, "p_value": c.p_value, "t_shuffled": c.t_shuffled, "p_value_shuffled": c.p_value_shuffled,
                "run_dir": c.run_dir,
            })
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task, "metric": self.metric, "secondary": self.secondary, "seeds": self.seeds,
            "baseline": STRUCTURE, "test": "welch-t, two-sided, over seeds",
            "control": SHUFFLED if any(c.name == SHUFFLED for c in self.cells) else None,
            "cells": [{**row, "per_seed": [{k: s.get(k) for k in (self.metric, self.secondary)} for s in c.per_seed]}
                      for row, c in zip(self.rows(), self.cells)],
        }


def present_modalities(cfg: TrainConfig) -> list[str]:
    """Modalities that have at least one literal in ``cfg``'s graph, in canonical order."""
    import numpy as np

    from rdf2mm.graph.ingest import read_graph
    from rdf2mm.modalities.preprocess import MODALITY_CODES, infer_modalities
    from rdf2mm.modalities.registry import ModalityMap

    modality_map = ModalityMap.from_toml(cfg.modality_map) if cfg.modality_map else ModalityMap()
    kg, _ = read_graph(cfg.graph, format=cfg.format, cache=cfg.cache)
    _, lit_mod = infer_modalities(kg, modality_map)
    if len(kg.literal_edges) == 0:
        return []
    counts = np.bincount(lit_mod[kg.literal_edges[:, 2]], minlength=len(MODALITY_CODES))
    return [m for m in MODALITY_NAMES if counts[MODALITY_CODES.index(m)] > 0]


def default_grid(cfg: TrainConfig) -> list[str]:
    """The paper's grid for ``cfg``'s graph: structure only, each present modality, all,
    and the shuffled-literal control (when the graph has any literal modality)."""
    present = present_modalities(cfg)
    return [STRUCTURE, *present, *(["all"] if len(present) > 1 else []), *([SHUFFLED] if present else [])]


def cell_config(base_cfg: TrainConfig, name: str, mode: str, seeds: int) -> TrainConfig:
    """The train config of grid entry ``name`` in literal mode ``mode``: its modalities (the
    control: all of them, shuffled), ``seeds`` seeds, and its run directory under ``base_cfg.out``."""
    cfg = copy.deepcopy(base_cfg)
    cfg.modalities, cfg.literals, cfg.seeds = ("all" if name == SHUFFLED else name), mode, seeds
    if name == SHUFFLED:
        cfg.shuffle_literals = True
    cfg.out = str(Path(base_cfg.out) / f"{mode}-{name}") if base_cfg.out else None
    return cfg


def _check_grid(modalities: list[str], literal_modes: list[str]) -> list[str]:
    grid: list[str] = []
    for name in modalities:
        name = name.strip().lower()
        if name in ("structure", "structure-only"):
            name = STRUCTURE
        if name in ("shuffle", "shuffled-literals", "shuffle-literals"):
            name = SHUFFLED
        if name not in (STRUCTURE, "all", SHUFFLED, *MODALITY_NAMES):
            raise UsageError(f"unknown grid entry {name!r}: use none, all, shuffled or one of {', '.join(MODALITY_NAMES)}")
        if name not in grid:
            grid.append(name)
    if STRUCTURE not in grid:
        grid.insert(0, STRUCTURE)  # the baseline every row is tested against
    if not literal_modes:
        raise UsageError("give at least one literal mode: split, merged")
    for mode in literal_modes:
        if mode not in LITERAL_MODES:
            raise UsageError(f"literal mode must be split or merged, not {mode!r}")
    return grid


ABLATION_FILE = "ablation.json"


def run_ablation(
    base_cfg: TrainConfig,
    modalities: list[str],
    literal_modes: list[str],
    seeds: int,
    progress: Progress | None = None,
    force: bool = False,
) -> AblationResult:
    """Train every (literal mode, grid entry) cell over ``seeds`` seeds and test each against
    structure only and against the shuffled control.

    ``modalities`` lists grid entries: ``none`` (structure only, always included),
    modality names, ``all``, ``shuffled`` (all modalities with ``shuffle_literals``). Each cell's run directory is ``<base_cfg.out>/<mode>-<entry>``
    when ``base_cfg.out`` is set, and the summary is written there as ``ablation.json``;
    that folder must be absent, empty or an earlier ablation's, unless ``force``. ``progress`` gets ``("cell", {...})`` before each cell
    and the pipeline's own events.
    """
    from rdf2mm.pipeline import train

    grid = _check_grid(modalities, literal_modes)
    if seeds < 1:
        raise UsageError("--seeds must be at least 1")
    if base_cfg.out:
        # Before the first cell: a mistyped --out must not cost an hour, nor a user's folder.
        check_folder_target(base_cfg.out, is_ablation_dir, "an ablation", force)
    task = base_cfg.task
    metric, secondary = METRICS.get(task, METRICS["node-classification"])
    result = AblationResult(task=task, metric=metric, secondary=secondary, seeds=seeds)
    total = len(grid) * len(literal_modes)
    for mode in literal_modes:
        baseline: AblationCell | None = None
        for name in grid:
            cfg = cell_config(base_cfg, name, mode, seeds)
            if progress:
                progress("cell", {"config": name, "literals": mode, "index": len(result.cells) + 1, "total": total})
            run = train(cfg, progress, force=force)
            cell = AblationCell(name=name, literals=mode, metrics=run.metrics, per_seed=run.per_seed,
                                run_dir=str(run.run_dir) if run.run_dir else None)
            if name == STRUCTURE:
                baseline = cell
            elif baseline is not None:
                cell.t, cell.p_value = welch_t_test(cell.values(metric), baseline.values(metric))
            result.cells.append(cell)
            if progress:
                progress("cell_done", {"config": name, "literals": mode, metric: run.metrics.get(metric),
                                       "run_dir": cell.run_dir})
        control = next((c for c in result.cells if c.literals == mode and c.name == SHUFFLED), None)
        if control is not None:
            for cell in result.cells:
                if cell.literals == mode and cell.name not in (STRUCTURE, SHUFFLED):
                    cell.t_shuffled, cell.p_value_shuffled = welch_t_test(cell.values(metric), control.values(metric))
    if base_cfg.out:
        # the grid's summary next to its cells: `rdf2mm report` turns the folder into a page
        write_json(Path(base_cfg.out) / ABLATION_FILE, result.to_dict())
    return result
