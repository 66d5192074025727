"""Which runs an ablation trains: each model's rows of the grid, in the literal modes that
mean something for it, each with its train config and run directory.

- ``mrgcn``: every grid row in every literal mode (split, merged); structure only is
  mrgcn with ``--modalities none``.
- a literal KGE model (``LITERAL_KGE_MODELS``): the modality rows it reads
  (:func:`~rdf2mm.models.registry.reads_modality`: IKRL only images), all and shuffled,
  once: it reads entity-level literal features, which no literal mode changes (its
  cells' literals column says ``entity``); structure only is its plain KGE counterpart
  (:func:`~rdf2mm.models.registry.plain_counterpart`).
- a plain KGE model: its one structure-only row (literals ``none``).

Cells whose train configs are equal are one training (:attr:`PlannedCell.key`): LiteralE
and VL-KGE on DistMult, and DistMult itself, share one structure-only run.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rdf2mm.ablation.grid import ALL, SHUFFLED, STRUCTURE, row_label
from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.models.registry import (
    LITERAL_KGE_MODELS, MODALITIES_READ, MODELS, PLAIN_KGE_MODELS, choices_text, plain_counterpart, reads_modality,
)
from rdf2mm.modalities.registry import MODALITY_NAMES

#: the literals column of a literal KGE model's cells: entity-level features, whatever --literals says
ENTITY = "entity"
#: the literals column of a plain KGE model's cell: it reads no literals
NO_LITERALS = "none"


def literals_label(literals: str) -> str:
    """How a heading or a progress line says a cell's literals column."""
    return {NO_LITERALS: "no literals", ENTITY: "entity literal features"}.get(literals, f"{literals} literals")


def config_label(row: str, model: str | None, trained: str | None) -> str:
    """How a table names a cell's row: a literal KGE model's structure row says which plain
    model was trained for it ("structure only (distmult)")."""
    return row_label(row) + (f" ({trained})" if trained and trained != model else "")


@dataclass
class PlannedCell:
    """One row of one model's table: what it trains, and within which rows it is compared."""

    model: str  #: the model whose row this is
    row: str  #: the grid row: none (structure only), a modality, all, shuffled
    literals: str  #: split or merged (mrgcn), entity (a literal KGE model), none (a plain one)
    #: the rows a cell is tested against share its model and block: mrgcn's literal mode, else ENTITY
    block: str
    trained: str  #: the model trained (a literal KGE model's structure row: its plain counterpart)
    cfg: TrainConfig

    @property
    def key(self) -> str:
        """The training's identity: cells with equal keys are one run."""
        settings = {k: v for k, v in self.cfg.to_dict().items() if k != "out"}
        return json.dumps(settings, sort_keys=True, default=str)


def parse_models(text: str | None, default: str) -> list[str]:
    """The models of ``--models a,b,c`` (deduplicated, in order; None: ``[default]``); an
    unknown name is a UsageError listing the choices."""
    names = [default] if text is None else [m.strip().lower() for m in text.split(",") if m.strip()]
    if not names:
        raise UsageError("--models needs at least one model name, e.g. --models mrgcn,literale,distmult")
    out: list[str] = []
    for name in names:
        if name not in MODELS.names():
            raise UsageError(f"unknown model {name!r} in --models: choose among {choices_text(MODELS.names())}")
        if name not in out:
            out.append(name)
    return out


def cell_config(base_cfg: TrainConfig, name: str, mode: str | None, seeds: int, model: str | None = None,
                dir_name: str | None = None) -> TrainConfig:
    """The train config of grid row ``name`` for ``model`` (default: ``base_cfg.model``):
    its modalities (the control: all of them, shuffled), literal mode ``mode`` (None: the
    base config's, for models that read no literal nodes), ``seeds`` seeds, and its run
    directory ``dir_name`` (default ``<mode>-<name>``) under ``base_cfg.out``."""
    cfg = copy.deepcopy(base_cfg)
    cfg.model, cfg.seeds = model or base_cfg.model, seeds
    if cfg.model in PLAIN_KGE_MODELS:
        # what resolve() would make of it, so that every plain run of the grid is one config
        cfg.modalities, cfg.literals, cfg.shuffle_literals = "none", "none", False
    else:
        cfg.modalities = ALL if name == SHUFFLED else name
        if name == SHUFFLED:
            cfg.shuffle_literals = True
        if mode is not None:
            cfg.literals = mode
    cfg.out = str(Path(base_cfg.out) / (dir_name or f"{mode}-{name}")) if base_cfg.out else None
    return cfg


def model_rows(model: str, grid: list[str], present: Callable[[], list[str]]) -> list[str]:
    """The rows of ``grid`` that mean something for ``model``: a plain KGE model's
    structure row; the modality rows a literal model reads; for a model that reads only
    some modalities (``MODALITIES_READ``), all only when it reads several of the graph's
    (``present()``) and the control only when it reads any."""
    if model in PLAIN_KGE_MODELS:
        return [STRUCTURE]
    rows = [r for r in grid if r not in MODALITY_NAMES or reads_modality(model, r)]
    if model in MODALITIES_READ and (ALL in rows or SHUFFLED in rows):
        read = [m for m in present() if reads_modality(model, m)]
        rows = [r for r in rows if (r != ALL or len(read) > 1) and (r != SHUFFLED or read)]
    return rows


def plan_cells(base_cfg: TrainConfig, models: list[str], grid: list[str], literal_modes: list[str], seeds: int,
               present: Callable[[], list[str]]) -> tuple[list[PlannedCell], list[str]]:
    """Every model's cells in table order, and notes on what was left out or run once.

    Run directories: ``<mode>-<row>`` when mrgcn is the only model (the layout of a
    single-model ablation), else ``mrgcn-<mode>-<row>`` and ``<trained model>-<row>``."""
    legacy = models == ["mrgcn"]
    cells: list[PlannedCell] = []
    notes: list[str] = []
    once = [m for m in models if m in LITERAL_KGE_MODELS and len(model_rows(m, grid, present)) > 1]
    if once and len(literal_modes) > 1:
        notes.append(f"{choices_text(once).replace(' or ', ' and ')} read entity-level literal features, the same "
                     f"in every literal mode: their rows run once (literals: {ENTITY})")
    for model in models:
        rows = model_rows(model, grid, present)
        skipped = [r for r in grid if r not in rows]
        if skipped and model not in PLAIN_KGE_MODELS:
            reads = ", ".join(MODALITIES_READ.get(model, MODALITY_NAMES))
            notes.append(f"{model} reads only {reads} literals: rows {', '.join(skipped)} left out"
                         + (" (it has its structure-only row alone)" if rows == [STRUCTURE] else ""))
        if model in PLAIN_KGE_MODELS:
            cfg = cell_config(base_cfg, STRUCTURE, None, seeds, model, f"{model}-{STRUCTURE}")
            cells.append(PlannedCell(model, STRUCTURE, NO_LITERALS, NO_LITERALS, model, cfg))
        elif model in LITERAL_KGE_MODELS:
            for row in rows:
                trained = plain_counterpart(model, base_cfg.decoder) if row == STRUCTURE else model
                assert trained is not None
                cfg = cell_config(base_cfg, row, None, seeds, trained, f"{trained}-{row}")
                literals = NO_LITERALS if trained in PLAIN_KGE_MODELS else ENTITY
                cells.append(PlannedCell(model, row, literals, ENTITY, trained, cfg))
        else:
            for mode in literal_modes:
                for row in rows:
                    name = f"{mode}-{row}" if legacy else f"{model}-{mode}-{row}"
                    cells.append(PlannedCell(model, row, mode, mode, model,
                                             cell_config(base_cfg, row, mode, seeds, model, name)))
    return cells, notes


def check_cells(cells: list[PlannedCell]) -> None:
    """Raise the UsageError of the first cell no run can use, before anything trains
    (a bad setting for one model must not fail after an hour of the others)."""
    checked: set[str] = set()
    for cell in cells:
        if cell.key not in checked:
            checked.add(cell.key)
            copy.deepcopy(cell.cfg).resolve().validate()
