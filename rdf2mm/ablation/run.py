"""Train an ablation: every model's cells (:mod:`rdf2mm.ablation.plan`) over the same seeds
through :func:`rdf2mm.pipeline.train`, each distinct config once, then Welch's test of
each cell against its model's structure-only row and shuffled control."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rdf2mm.ablation.grid import METRICS, SHUFFLED, STRUCTURE, check_grid, present_modalities
from rdf2mm.ablation.plan import PlannedCell, check_cells, plan_cells
from rdf2mm.ablation.result import AblationCell, AblationResult
from rdf2mm.ablation.welch import welch_t_test
from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.io.atomic import write_json
from rdf2mm.io.targets import check_folder_target, is_ablation_dir

Progress = Callable[[str, dict[str, Any]], None]

ABLATION_FILE = "ablation.json"


def run_ablation(
    base_cfg: TrainConfig,
    modalities: list[str],
    literal_modes: list[str],
    seeds: int,
    progress: Progress | None = None,
    force: bool = False,
    models: list[str] | None = None,
) -> AblationResult:
    """Train every model's cells over ``seeds`` seeds and test each against that model's
    structure only and shuffled control (within mrgcn's literal mode).

    ``modalities`` lists grid rows: ``none`` (structure only, always included), modality
    names, ``all``, ``shuffled`` (all modalities with ``shuffle_literals``); ``models``
    (default ``[base_cfg.model]``) the models, each run on the rows it reads
    (:func:`~rdf2mm.ablation.plan.plan_cells`); cells with equal configs are trained once.
    Run directories go under ``base_cfg.out`` when set, with the summary as
    ``ablation.json``; that folder must be absent, empty or an earlier ablation's, unless
    ``force``. ``progress`` gets ``("note", {"message"})`` for rows left out or run once,
    ``("cell", {..., "cfg"})`` before each training, ``("cell_done", ...)`` after it, and
    the pipeline's own events.
    """
    from rdf2mm.pipeline import train

    grid = check_grid(modalities, literal_modes)
    if seeds < 1:
        raise UsageError("--seeds must be at least 1")
    models = list(models or [base_cfg.model])
    found: list[list[str]] = []

    def present() -> list[str]:  # read the graph only for a model that needs it
        if not found:
            found.append(present_modalities(base_cfg))
        return found[0]

    planned, notes = plan_cells(base_cfg, models, grid, literal_modes, seeds, present)
    check_cells(planned)
    if base_cfg.out:
        # Before the first cell: a mistyped --out must not cost an hour, nor a user's folder.
        check_folder_target(base_cfg.out, is_ablation_dir, "an ablation", force)
    for message in notes:
        if progress:
            progress("note", {"message": message})
    metric, secondary = METRICS.get(base_cfg.task, METRICS["node-classification"])
    result = AblationResult(task=base_cfg.task, metric=metric, secondary=secondary, seeds=seeds, models=models)
    keys = [p.key for p in planned]  # now: train() resolves a config in place
    trainings: dict[str, PlannedCell] = {}
    for key, p in zip(keys, planned):
        trainings.setdefault(key, p)
    runs: dict[str, Any] = {}
    for index, (key, p) in enumerate(trainings.items(), 1):
        if progress:
            progress("cell", {"model": p.trained, "config": p.row, "literals": p.literals, "index": index,
                              "total": len(trainings), "cfg": p.cfg})
        run = runs[key] = train(p.cfg, progress, force=force)
        if progress:
            progress("cell_done", {"model": p.trained, "config": p.row, "literals": p.literals,
                                   metric: run.metrics.get(metric), "run_dir": str(run.run_dir) if run.run_dir else None})
    for key, p in zip(keys, planned):
        run = runs[key]
        result.cells.append(AblationCell(name=p.row, literals=p.literals, metrics=run.metrics, per_seed=run.per_seed,
                                         run_dir=str(run.run_dir) if run.run_dir else None, model=p.model,
                                         trained_model=p.trained))
    _test(result, [p.block for p in planned], metric)
    if base_cfg.out:
        # the grid's summary next to its cells: `rdf2mm report` turns the folder into a page
        write_json(Path(base_cfg.out) / ABLATION_FILE, result.to_dict())
    return result


def _test(result: AblationResult, blocks: list[str], metric: str) -> None:
    """Welch's t-test of every cell against the structure-only row and the shuffled
    control of its own model and block (mrgcn: literal mode)."""
    groups: dict[tuple[str, str], list[AblationCell]] = {}
    for cell, block in zip(result.cells, blocks):
        groups.setdefault((cell.model, block), []).append(cell)
    for cells in groups.values():
        baseline = next((c for c in cells if c.name == STRUCTURE), None)
        control = next((c for c in cells if c.name == SHUFFLED), None)
        for cell in cells:
            if baseline is not None and cell is not baseline:
                cell.t, cell.p_value = welch_t_test(cell.values(metric), baseline.values(metric))
            if control is not None and cell.name not in (STRUCTURE, SHUFFLED):
                cell.t_shuffled, cell.p_value_shuffled = welch_t_test(cell.values(metric), control.values(metric))
