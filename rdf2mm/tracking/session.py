"""The trackers of one command, fed from the pipeline's progress events.

:class:`Tracking` holds the trackers a command was given and tracks one run at a time:
:meth:`Tracking.begin` before ``train``, :meth:`Tracking.wrap` around its progress
callback (per-epoch curves), :meth:`Tracking.end` with the written run directory (final
metrics from its ``metrics.json``, the folder as an artefact). A tracker that raises is
reported through ``warn`` once and dropped; the run is never stopped by it.
"""
from __future__ import annotations

import contextlib
import copy
import importlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.tracking.base import RunRecord, Tracker, final_metrics, finish_tags

Progress = Callable[[str, dict[str, Any]], None]

TRACKERS = ("mlflow", "tensorboard", "csv")
INSTALL_HINT = "pip install 'rdf2mm[track]'"
#: the package each tracker needs (from the ``track`` extra)
REQUIRES = {"mlflow": "mlflow", "tensorboard": "tensorboard"}


def parse_trackers(values: Sequence[str] | None) -> list[str]:
    """``["mlflow,tensorboard", "csv"]`` to ``["mlflow", "tensorboard", "csv"]`` (checked, no repeats)."""
    names: list[str] = []
    for value in values or []:
        for name in value.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in TRACKERS:
                raise UsageError(f"--tracker must be one or more of {', '.join(TRACKERS)}, not {name!r}")
            if name not in names:
                names.append(name)
    return names


def _make(name: str, uri: str | None, experiment: str, folder: Path | None) -> Tracker:
    """The tracker called ``name``; a :class:`UsageError` (exit 2) when its extra is missing."""
    try:
        if name in REQUIRES:
            importlib.import_module(REQUIRES[name])
        if name == "mlflow":
            from rdf2mm.tracking.mlflow_tracker import MlflowTracker

            return MlflowTracker(uri, experiment)
        if name == "tensorboard":
            from rdf2mm.tracking.tensorboard_tracker import TensorboardTracker

            return TensorboardTracker()
    except ImportError as exc:
        raise UsageError(f"--tracker {name} needs the optional extra: {INSTALL_HINT} ({exc})") from None
    from rdf2mm.tracking.csv_tracker import CsvTracker

    return CsvTracker(folder)


def run_params(cfg: TrainConfig) -> dict[str, str]:
    """The run's resolved settings as tracker parameters (lists as JSON)."""
    resolved = copy.deepcopy(cfg).resolve().to_dict()
    return {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) else str(v)) for k, v in resolved.items()}


def run_tags(cfg: TrainConfig) -> dict[str, str]:
    resolved = copy.deepcopy(cfg).resolve()
    if resolved.model != "mrgcn":
        model = resolved.model  # a plain KGE baseline: its decoder is its name
    else:
        model = "mrgcn" if resolved.task == "node-classification" else f"mrgcn+{resolved.decoder}"
    return {"rdf2mm.task": resolved.task, "rdf2mm.model": model, "rdf2mm.modalities": resolved.modalities,
            "rdf2mm.literals": str(resolved.literals)}


class Tracking:
    """The trackers named on the command line; see the module docstring."""

    def __init__(self, names: Sequence[str], uri: str | None = None, experiment: str = "rdf2mm",
                 warn: Callable[[str], None] | None = None, folder: str | Path | None = None):
        """``folder``: where the csv tracker writes (default: beside each run directory)."""
        self.warn = warn or (lambda message: None)
        self.trackers: list[Tracker] = [_make(n, uri, experiment, Path(folder) if folder else None) for n in names]
        self.run: RunRecord | None = None
        self.multi = False  # --aggregation auto: each candidate's curves get their own keys
        self.seeds = 1
        self.aggregation: str | None = None

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def _call(self, method: str, *args: Any) -> None:
        for tracker in list(self.trackers):
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:
                self.trackers.remove(tracker)
                self.warn(f"tracking with {tracker.name} failed ({type(exc).__name__}: {exc}); "
                          f"it stops for this command, results are unaffected")

    def begin(self, cfg: TrainConfig, name: str | None = None, tags: dict[str, str] | None = None) -> None:
        """A run of ``cfg`` starts (a previous one still open ends as FAILED)."""
        if self.run is not None:
            self.end(None, "FAILED")
        if not self.trackers:
            return
        self.multi, self.seeds, self.aggregation = False, cfg.seeds, None
        out = Path(cfg.out) if cfg.out else None
        self.run = RunRecord(name=name or (out.name if out else "run"), params=run_params(cfg),
                             tags={**run_tags(cfg), **(tags or {})}, out=out)
        self._call("start", self.run)

    def note(self, stage: str, info: dict[str, Any]) -> None:
        """A progress event of the open run: epochs become curve points."""
        if self.run is None:
            return
        if stage == "candidate":
            self.multi = True
        elif stage == "seed":
            self.aggregation = info.get("aggregation")
        elif stage == "epoch":
            step = int(info.get("epoch", 0))
            prefix = "epoch/" + (f"{self.aggregation}/" if self.multi else "")
            prefix += f"seed{info['seed']}/" if self.seeds > 1 and "seed" in info else ""
            for key, value in info.items():
                if key in ("epoch", "seed") or not isinstance(value, (int, float)):
                    continue
                self.run.curve.append((prefix + key, float(value), step))
                self._call("log_curve", self.run, prefix + key, float(value), step)

    def wrap(self, inner: Progress | None) -> Progress:
        """A progress callback feeding both ``inner`` and the trackers."""
        def progress(stage: str, info: dict[str, Any]) -> None:
            if inner:
                inner(stage, info)
            self.note(stage, info)
        return progress

    def end(self, run_dir: str | Path | None, status: str = "FINISHED") -> None:
        """The open run ended: final metrics and tags from ``run_dir``, which is logged too."""
        run, self.run = self.run, None
        if run is None:
            return
        folder = Path(run_dir) if run_dir else None
        self._call("finish", run, folder, final_metrics(folder), finish_tags(folder), status)

    @contextlib.contextmanager
    def closing(self) -> Iterator[None]:
        """End the open run as KILLED (Ctrl-C) or FAILED when the block raises."""
        try:
            yield
        except KeyboardInterrupt:
            self.end(None, "KILLED")
            raise
        except BaseException:
            self.end(None, "FAILED")
            raise

    def hook(self, cfg: TrainConfig, name: str, tags: dict[str, str],
             inner: Progress) -> tuple[Progress, Callable[[Any, str], None]]:
        """The :data:`rdf2mm.tuning.study.RunHook` form: begin, and return (progress, end)."""
        self.begin(cfg, name, tags)
        return self.wrap(inner), self.end
