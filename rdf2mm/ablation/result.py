"""What an ablation found: one cell per (model, literal mode, grid row), trained over the
same seeds, with Welch's test against that model's structure-only row and shuffled control;
and its flat form (``--json``, ``--csv``, ``ablation.json``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdf2mm.ablation.grid import SHUFFLED, STRUCTURE
from rdf2mm.ablation.plan import config_label

#: what the literals column says (in ablation.json)
LITERALS_NOTE = ("split / merged: MR-GCN's literal nodes, one per occurrence / per distinct literal; "
                 "entity: a literal KGE model's entity-level literal features (one run, whatever the mode); "
                 "none: a plain KGE model, no literals")


@dataclass
class AblationCell:
    """One configuration of the grid, trained over all seeds."""

    name: str  #: "none" (structure only), a modality name, "all", or "shuffled" (the control)
    literals: str  #: split, merged (mrgcn), entity (a literal KGE model) or none (a plain KGE model)
    metrics: dict[str, Any]
    per_seed: list[dict[str, Any]]
    run_dir: str | None
    #: Welch's t-test of the headline metric against the model's structure only (same literal mode)
    t: float | None = None
    p_value: float | None = None
    #: the same against the model's shuffled-literal control (None without one, and for the control itself)
    t_shuffled: float | None = None
    p_value_shuffled: float | None = None
    #: the model whose row this is, and the model trained for it (a literal KGE model's
    #: structure row: its plain KGE counterpart, one run shared by every row that needs it)
    model: str = "mrgcn"
    trained_model: str = "mrgcn"

    @property
    def label(self) -> str:
        return f"{self.model}: {config_label(self.name, self.model, self.trained_model)} ({self.literals})"

    def values(self, key: str) -> list[float]:
        return [float(s.get(key, float("nan"))) for s in self.per_seed]


@dataclass
class AblationResult:
    task: str
    metric: str
    secondary: str
    seeds: int
    cells: list[AblationCell] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: ["mrgcn"])

    def rows(self) -> list[dict[str, Any]]:
        """One flat record per cell (what ``--json`` and ``--csv`` write)."""
        out = []
        for c in self.cells:
            m = c.metrics
            out.append({
                "model": c.model, "config": c.name, "literals": c.literals, "trained_model": c.trained_model,
                "seeds": self.seeds,
                self.metric: m.get(self.metric), f"{self.metric}_std": m.get(f"{self.metric}_std"),
                self.secondary: m.get(self.secondary), f"{self.secondary}_std": m.get(f"{self.secondary}_std"),
                "t": c.t, "p_value": c.p_value, "t_shuffled": c.t_shuffled, "p_value_shuffled": c.p_value_shuffled,
                "run_dir": c.run_dir, "dir": Path(c.run_dir).name if c.run_dir else None,
            })
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task, "metric": self.metric, "secondary": self.secondary, "seeds": self.seeds,
            "models": list(self.models),
            "baseline": STRUCTURE, "test": "welch-t, two-sided, over seeds, within each model (and literal mode)",
            "control": SHUFFLED if any(c.name == SHUFFLED for c in self.cells) else None,
            "literals": LITERALS_NOTE,
            "cells": [{**row, "per_seed": [{k: s.get(k) for k in (self.metric, self.secondary)} for s in c.per_seed]}
                      for row, c in zip(self.rows(), self.cells)],
        }
