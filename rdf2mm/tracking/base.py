"""What every tracker implements, and what a finished run directory tells them."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdf2mm.errors import Rdf2mmError
from rdf2mm.runs import layout as L
from rdf2mm.runs.read import RunFiles


@dataclass
class RunRecord:
    """One tracked run as the trackers see it."""

    name: str
    params: dict[str, str]
    tags: dict[str, str]
    #: where the run directory will be written (parent of the csv log, the TensorBoard files)
    out: Path | None
    curve: list[tuple[str, float, int]] = field(default_factory=list)


class Tracker:
    """A tracking backend: one run at a time, from :meth:`start` to :meth:`finish`."""

    name = "tracker"

    def start(self, run: RunRecord) -> None:
        """A run begins: its parameters and tags are known."""

    def log_curve(self, run: RunRecord, key: str, value: float, step: int) -> None:
        """A per-epoch figure (``key`` like ``epoch/valid_accuracy``)."""

    def finish(self, run: RunRecord, run_dir: Path | None, metrics: dict[str, float], tags: dict[str, str],
               status: str) -> None:
        """The run ended (``status``: FINISHED, FAILED or KILLED); ``run_dir`` is ``None``
        when it wrote none (failed, or a pruned trial)."""


def final_metrics(run_dir: Path | None) -> dict[str, float]:
    """The finite numbers at the top level of ``RUN_DIR/metrics.json`` (what is logged as
    the run's final metrics; lists such as ``per_seed`` and strings stay in the artefact)."""
    data = _read(run_dir, L.METRICS)
    return {k: float(v) for k, v in data.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}


def finish_tags(run_dir: Path | None) -> dict[str, str]:
    """Tags only the written run directory knows: the data fingerprint and the aggregation kept."""
    tags = {}
    prov, metrics = _read(run_dir, L.PROVENANCE), _read(run_dir, L.METRICS)
    if prov.get("data_fingerprint"):
        tags["rdf2mm.data_fingerprint"] = str(prov["data_fingerprint"])
    if isinstance(metrics.get("aggregation"), str):
        tags["rdf2mm.aggregation"] = metrics["aggregation"]
    if run_dir is not None:
        tags["rdf2mm.run_dir"] = str(run_dir)
    return tags


def _read(run_dir: Path | None, name: str) -> dict[str, Any]:
    """A JSON object of the run directory; empty when there is none or it is unreadable
    (tracking reports what it can and never fails the run)."""
    if run_dir is None:
        return {}
    try:
        return RunFiles(run_dir).json(name, default={})
    except Rdf2mmError:
        return {}
