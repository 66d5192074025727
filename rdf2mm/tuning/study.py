"""Hyperparameter search with Optuna: the library behind ``rdf2mm tune``.

:func:`run_search` keeps an Optuna study (TPE sampler, median pruning) in SQLite under
the output folder, trains every trial through :func:`rdf2mm.pipeline.train` into a normal
run directory, and selects on the validation figure only (node classification: accuracy;
link prediction: filtered MRR). The default configuration is the study's first trial, so
the best trial is never worse on validation than the defaults. The best configuration is
then retrained over ``seeds`` seeds and evaluated on test once; its settings are written
as ``config.toml`` (``rdf2mm train --config`` reproduces that final run).

Output folder::

    OUT/
      study.db          the Optuna study (SQLite): --resume continues it
      tune.json         the search's settings (base config, space, metric)
      trials/trial-NNNN run directory of each finished trial (pruned trials stop early, without one)
      final/            run directory of the best configuration over --seeds seeds (test evaluated here)
      config.toml       the best configuration: rdf2mm train --config OUT/config.toml
      trials.json       every trial, the best, the default and the final figures
      tune.html         optimisation history and parameter importances (inline SVG)

Node-classification trials never see the test labels when they come from files (their
``--test`` is dropped). With ``--target`` the split is drawn inside each run, and link
prediction needs its test triples for the entity vocabulary and the filtered ranking, so
there the trials' run directories hold test figures that the search never reads.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdf2mm.config import TrainConfig, to_toml
from rdf2mm.errors import DataError, DivergedError, InputError, Rdf2mmError, RemoteError, UsageError
from rdf2mm.io.atomic import atomic_open, write_json
from rdf2mm.tuning.report import write_tune_report
from rdf2mm.tuning.space import SearchSpace

Progress = Callable[[str, dict[str, Any]], None]
#: called around each training run of the search (trials and the final run): ``(cfg, name,
#: tags)`` returns the progress callback to train with and a function ``(run_dir, status)``
#: to call when the run ends; see :mod:`rdf2mm.tracking`
RunHook = Callable[[TrainConfig, str, dict[str, str], Progress], tuple[Progress, Callable[[Any, str], None]]]

STUDY_NAME = "rdf2mm-tune"
SETTINGS_FILE = "tune.json"
SUMMARY_FILE = "trials.json"

#: per task: the validation figure a trial is judged by (higher is better)
OBJECTIVES = {"node-classification": "valid_accuracy", "link-prediction": "valid_mrr"}

#: data problems are the same for every trial: they stop the search instead of failing one trial
_FATAL = (InputError, DataError, RemoteError)


def require_optuna() -> Any:
    """The ``optuna`` module, or a :class:`UsageError` (exit 2) saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise UsageError("rdf2mm tune needs Optuna, an optional extra: pip install 'rdf2mm[tune]'") from None
    return optuna


@dataclass
class TuneResult:
    """What :func:`run_search` returns (also written as ``trials.json``)."""

    out: Path
    metric: str
    trials: list[dict[str, Any]]
    best: dict[str, Any]
    default: dict[str, Any] | None
    final: dict[str, Any]
    config_path: Path
    importances: dict[str, float] | None = None
    importance_method: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "metric": self.metric, "best": self.best, "default": self.default,
                "final": self.final, "config": str(self.config_path), "importances": self.importances,
                "importance_method": self.importance_method, "notes": self.notes, "trials": self.trials}


class PruningMonitor:
    """A progress callback that reports a trial's validation curve to Optuna and stops
    the trial (raising ``optuna.TrialPruned``) when the pruner says so.

    The figure reported at epoch ``e`` is the best validation figure up to ``e`` (what
    early stopping would keep). Only the trial's first training sequence (first seed, and
    first aggregation under ``auto``) is reported: steps must not repeat.
    """

    def __init__(self, trial: Any, metric: str, inner: Progress | None, prune: bool):
        self.trial, self.metric, self.inner, self.prune = trial, metric, inner, prune
        self.first: tuple[Any, Any] | None = None
        self.current: tuple[Any, Any] | None = None
        self.best = -math.inf

    def __call__(self, stage: str, info: dict[str, Any]) -> None:
        if self.inner:
            self.inner(stage, info)
        if stage == "seed":
            self.current = (info.get("aggregation"), info.get("seed"))
            if self.first is None:
                self.first = self.current
        elif stage == "epoch" and self.current == self.first and self.metric in info:
            value = float(info[self.metric])
            if math.isfinite(value):
                self.best = max(self.best, value)
                self.trial.report(self.best, int(info["epoch"]))
                if self.prune and self.trial.should_prune():
                    import optuna

                    raise optuna.TrialPruned(f"epoch {info['epoch']}: best {self.metric} {self.best:.4f}")


class _TrialFailed(Exception):
    """A trial whose configuration cannot run (e.g. too big for memory): the search goes on."""


def objective_metric(task: str) -> str:
    return OBJECTIVES[task]


def check_selectable(cfg: TrainConfig) -> None:
    """Refuse a search that has no validation data to select on."""
    if cfg.task == "node-classification":
        no_valid = (cfg.train and not cfg.valid) or (not cfg.train and cfg.split[1] <= 0)
    else:
        no_valid = (cfg.train and not cfg.valid) or (not cfg.train and cfg.lp_split[1] <= 0)
    if no_valid:
        raise UsageError("tune selects on validation only: give --valid (or a split with a validation part)")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UsageError("rdf2mm tune runs its trials in one process and does not run under torchrun; "
                         "tune on one device, then train the chosen config.toml with torchrun")


def trial_config(base: TrainConfig, params: dict[str, Any], out: Path, seeds: int) -> TrainConfig:
    """A trial's run config: the base with the trial's values, no test labels, no checkpoints."""
    cfg = dataclasses.replace(copy.deepcopy(base), **params)
    cfg.seeds, cfg.out, cfg.checkpoint_every = seeds, str(out), 0
    cfg.output, cfg.store = [], None  # trials export nothing
    if cfg.train and cfg.task == "node-classification":
        # Selection uses validation only: node-classification trials never see the test
        # labels. Link prediction keeps its test triples: they name entities and filter
        # the validation ranking, as in every run, so a trial's valid MRR is the same
        # figure a normal run reports (its test figures are never read).
        cfg.test = None
    return cfg


def _settings_record(base: TrainConfig, space: SearchSpace, metric: str, trial_seeds: int) -> dict[str, Any]:
    return {"base": base.to_dict(), "space": space.to_dict(), "metric": metric, "trial_seeds": trial_seeds}


def _check_resume(saved: dict[str, Any], now: dict[str, Any], out: Path) -> None:
    changed = []
    for part in ("space", "metric", "trial_seeds"):
        if saved.get(part) != now.get(part):
            changed.append(part)
    base_saved, base_now = saved.get("base", {}), now.get("base", {})
    changed += sorted(k for k in set(base_saved) | set(base_now) if base_saved.get(k) != base_now.get(k))
    if changed:
        raise UsageError(f"cannot resume {out}: settings differ from the saved search ({', '.join(changed)}); "
                         f"resume with the same options, or start a new search in another --out")


def saved_settings(out: str | Path) -> dict[str, Any]:
    """The settings a search in ``out`` was started with (for ``--resume``)."""
    from rdf2mm.runs.read import read_json

    data = read_json(Path(out) / SETTINGS_FILE, default=None)
    if data is None:
        raise UsageError(f"{out}: no search to resume here ({SETTINGS_FILE} not found)")
    return data


def open_study(out: Path, base: TrainConfig, space: SearchSpace, metric: str, trial_seeds: int, resume: bool,
               prune: bool, warmup: int) -> tuple[Any, list[str]]:
    """Create the study under ``out`` or, with ``resume``, load it; returns it and notes."""
    optuna = require_optuna()
    db = out / "study.db"
    record = _settings_record(base, space, metric, trial_seeds)
    notes: list[str] = []
    if resume:
        if not db.is_file():
            raise UsageError(f"{out}: no study to resume (study.db not found)")
        _check_resume(saved_settings(out), record, out)
    elif db.exists():
        raise UsageError(f"{out} already holds a study: continue it with --resume, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        write_json(out / SETTINGS_FILE, record)
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup) if prune
              else optuna.pruners.NopPruner())
    # A resumed study gets a fresh sampler: TPE draws from the stored trials, not from a
    # saved random state, so a resumed search is not the same as an uninterrupted one.
    sampler = optuna.samplers.TPESampler(seed=base.seed, n_startup_trials=5)
    study = optuna.create_study(study_name=STUDY_NAME, storage=f"sqlite:///{db.resolve()}", direction="maximize",
                                sampler=sampler, pruner=pruner, load_if_exists=resume)
    states = optuna.trial.TrialState
    if resume:
        # A trial that was running when the search was killed never finishes, and one
        # stopped by Ctrl-C is failed without an error of its own: run their
        # configuration again (once per interruption).
        trials = study.get_trials(deepcopy=False)
        retried = {t.user_attrs.get("retry_of") for t in trials}
        for t in trials:
            if t.state == states.RUNNING:
                study._storage.set_trial_state_values(t._trial_id, state=states.FAIL)
            interrupted = t.state == states.RUNNING or (t.state == states.FAIL and "error" not in t.user_attrs)
            if interrupted and t.number not in retried:
                study.enqueue_trial(t.params, user_attrs={**t.user_attrs, "retry_of": t.number})
                notes.append(f"trial {t.number} was interrupted: its configuration runs again")
    else:
        point, outside = space.default_point(base)
        study.enqueue_trial(point, user_attrs={"default": True})
        if outside:
            notes.append(f"the defaults of {', '.join(outside)} lie outside the search space: "
                         f"the first trial draws them, so it is not the default configuration")
    return study, notes


def finished_count(study: Any) -> int:
    import optuna

    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.PRUNED)))


def run_search(
    base: TrainConfig,
    space: SearchSpace,
    out: str | Path,
    trials: int,
    timeout: float | None = None,
    resume: bool = False,
    seeds: int = 5,
    trial_seeds: int = 1,
    prune: bool = True,
    progress: Progress | None = None,
    run_hook: RunHook | None = None,
) -> TuneResult:
    """Search ``space`` around ``base`` until the study holds ``trials`` finished trials (or
    ``timeout`` seconds pass), then retrain the best over ``seeds`` seeds; see the module
    docstring. ``run_hook`` wraps each training run (trackers)."""
    optuna = require_optuna()
    from rdf2mm.pipeline import train

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = copy.deepcopy(base).resolve()
    base.validate()
    check_selectable(base)
    if trials < 1 or seeds < 1 or trial_seeds < 1:
        raise UsageError("--trials, --seeds and --trial-seeds must be at least 1")
    out = Path(out)
    metric = objective_metric(base.task)
    warmup = max(5, min(20, (base.patience or 10) // 2))
    study, notes = open_study(out, base, space, metric, trial_seeds, resume, prune, warmup)
    note = progress or (lambda _stage, _info: None)
    for line in notes:
        note("note", {"message": line})
    already = finished_count(study)
    remaining = trials - already
    note("study", {"out": str(out), "finished": already, "to_run": max(remaining, 0), "metric": metric})

    def run_one(cfg: TrainConfig, name: str, tags: dict[str, str], inner: Progress) -> Any:
        done: Callable[[Any, str], None] = lambda _run_dir, _status: None
        if run_hook is not None:
            inner, done = run_hook(cfg, name, tags, inner)
        try:
            result = train(cfg, inner)
        except optuna.TrialPruned:
            done(None, "KILLED")
            raise
        except BaseException:
            done(None, "FAILED")
            raise
        done(result.run_dir, "FINISHED")
        return result

    def objective(trial: Any) -> float:
        params = space.suggest(trial)
        cfg = trial_config(base, params, out / "trials" / f"trial-{trial.number:04d}", trial_seeds)
        note("trial", {"number": trial.number, "params": params, "default": bool(trial.user_attrs.get("default"))})
        started = time.perf_counter()
        monitor = PruningMonitor(trial, metric, note, prune)
        try:
            result = run_one(cfg, f"trial-{trial.number:04d}",
                             {"rdf2mm.study": str(out), "rdf2mm.trial": str(trial.number)}, monitor)
        except DivergedError as exc:
            # a diverging configuration (lr too high) fails this trial, not the search
            if trial.user_attrs.get("default"):
                raise
            trial.set_user_attr("error", exc.message)
            raise _TrialFailed(exc.message) from None
        except _FATAL:
            raise
        except Rdf2mmError as exc:
            if trial.user_attrs.get("default"):
                raise  # the defaults cannot run: nothing to compare against
            trial.set_user_attr("error", exc.message)
            raise _TrialFailed(exc.message) from None
        value = result.metrics.get(metric)
        if value is None or not math.isfinite(float(value)):
            raise DataError(f"trial {trial.number} reported no {metric}: tune needs validation labels")
        trial.set_user_attr("run_dir", str(result.run_dir))
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        for key in (f"{metric}_std", "valid_loss", "aggregation"):
            if key in result.metrics:
                trial.set_user_attr(key, result.metrics[key])
        return float(value)

    def after(study_: Any, trial: Any) -> None:
        best = _best_value(study_)
        row = trial_row(trial)
        note("trial_done", {"number": trial.number, "state": trial.state.name, "value": row["value"],
                            "last_value": row["last_value"], "last_epoch": row["last_epoch"], "best": best,
                            "error": trial.user_attrs.get("error")})

    if remaining > 0:
        study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(_TrialFailed,), callbacks=[after],
                       gc_after_trial=True)
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        raise DataError("no trial completed: nothing to choose (see the trials' errors with --json)")
    best = study.best_trial
    note("final", {"number": best.number, "params": best.params, "value": best.value, "seeds": seeds})
    final_cfg = dataclasses.replace(copy.deepcopy(base), **best.params)
    final_cfg.seeds, final_cfg.out = seeds, str(out / "final")
    final_run = run_one(final_cfg, "final", {"rdf2mm.study": str(out), "rdf2mm.role": "final",
                                             "rdf2mm.best_trial": str(best.number)}, note)
    config_path = write_best_config(out, final_cfg, best.number, metric, best.value)
    trial_rows = [trial_row(t) for t in study.get_trials(deepcopy=False)]
    default = next((r for r in trial_rows if r["default"] and r["state"] == "COMPLETE"), None)
    importances, method = param_importances(study, base.seed)
    result = TuneResult(
        out=out, metric=metric, trials=trial_rows, best=trial_row(best), default=default,
        final={"run_dir": str(final_run.run_dir), "seeds": seeds,
               **{k: v for k, v in final_run.metrics.items() if isinstance(v, (int, float, str))}},
        config_path=config_path, importances=importances, importance_method=method, notes=notes,
    )
    write_json(out / SUMMARY_FILE, result.to_dict())
    write_tune_report(out, result)
    return result


def _best_value(study: Any) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:  # no completed trial yet
        return None


def trial_row(t: Any) -> dict[str, Any]:
    """One trial as a flat record (the table's row)."""
    seconds = t.user_attrs.get("seconds")
    if seconds is None and t.datetime_start and t.datetime_complete:
        seconds = round((t.datetime_complete - t.datetime_start).total_seconds(), 2)
    steps = sorted(t.intermediate_values)
    return {
        # Optuna gives a pruned trial its last reported figure as value: that is no final
        # validation figure, so only completed trials have one (last_value has the rest)
        "number": t.number, "state": t.state.name, "value": t.value if t.state.name == "COMPLETE" else None,
        "params": dict(t.params),
        "default": bool(t.user_attrs.get("default")), "run_dir": t.user_attrs.get("run_dir"),
        "seconds": seconds, "last_epoch": steps[-1] if steps else None,
        "last_value": t.intermediate_values[steps[-1]] if steps else None, "error": t.user_attrs.get("error"),
        "retry_of": t.user_attrs.get("retry_of"),
    }


def write_best_config(out: Path, cfg: TrainConfig, number: int, metric: str, value: float) -> Path:
    """``OUT/config.toml``: the final run's settings without its run directory."""
    settings = cfg.to_dict()
    settings["out"] = None
    header = (f"# rdf2mm tune: the best configuration (trial {number}, {metric} {value:.4f}),\n"
              f"# retrained over {cfg.seeds} seed(s) in {out / 'final'} ({dt.date.today().isoformat()}).\n"
              "# rdf2mm train --config THIS_FILE reproduces that final run.\n")
    path = out / "config.toml"
    with atomic_open(path) as fh:
        fh.write(header + to_toml(settings))
    return path


def param_importances(study: Any, seed: int) -> tuple[dict[str, float] | None, str]:
    """fANOVA importances of the searched settings over the completed trials (Optuna's
    evaluator, a random forest fitted to the trials' validation figures); ``None`` and the
    reason when there is too little to fit."""
    import optuna

    method = "fANOVA (optuna.importance.FanovaImportanceEvaluator) over the completed trials"
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(completed) < 2:
        return None, "not computed: fewer than two completed trials"
    try:
        values = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed))
    except (RuntimeError, ValueError, ImportError) as exc:
        return None, f"not computed: {exc}"
    return {k: float(v) for k, v in values.items()}, method
