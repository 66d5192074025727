"""CSV: one long table of every tracked run, ``tracking.csv`` beside the run directories
(``rdf2mm tune``: in the search folder).

Each row is ``time, run, run_dir, kind, key, step, value`` with ``kind`` one of param,
tag, curve, metric, artifact or status: rows are appended as the run goes, so several
runs (a search's trials, an ablation's cells) share one file that pivots into a table.
No extra package is needed.
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from rdf2mm.tracking.base import RunRecord, Tracker

FILE = "tracking.csv"
COLUMNS = ("time", "run", "run_dir", "kind", "key", "step", "value")


class CsvTracker(Tracker):
    name = "csv"

    def __init__(self, folder: Path | None = None):
        #: where tracking.csv goes; None: beside each run directory
        self.folder = folder

    def _write(self, run: RunRecord, rows: list[tuple[str, str, object, object]]) -> None:
        folder = self.folder or (run.out.parent if run.out is not None else Path.cwd())
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILE
        new = not path.exists()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with path.open("a", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            if new:
                w.writerow(COLUMNS)
            for kind, key, step, value in rows:
                w.writerow((now, run.name, str(run.out or ""), kind, key, "" if step is None else step, value))

    def start(self, run: RunRecord) -> None:
        self._write(run, [("param", k, None, v) for k, v in run.params.items()]
                    + [("tag", k, None, v) for k, v in run.tags.items()])

    def log_curve(self, run: RunRecord, key: str, value: float, step: int) -> None:
        self._write(run, [("curve", key, step, repr(value))])

    def finish(self, run: RunRecord, run_dir: Path | None, metrics: dict[str, float], tags: dict[str, str],
               status: str) -> None:
        self._write(run, [("metric", k, None, repr(v)) for k, v in metrics.items()]
                    + [("tag", k, None, v) for k, v in tags.items()]
                    + ([("artifact", "run_dir", None, str(run_dir))] if run_dir is not None else [])
                    + [("status", "status", None, status)])
