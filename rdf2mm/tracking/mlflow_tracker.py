"""MLflow: a run per training run, in a local SQLite store unless ``--tracking-uri`` says otherwise."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag  # ImportError without the extra: see session._make
from mlflow.tracking import MlflowClient

from rdf2mm.tracking.base import RunRecord, Tracker

#: where runs go when no --tracking-uri is given (relative to the working directory)
DEFAULT_STORE = Path("mlruns") / "mlflow.db"
#: MLflow caps one batch at 1000 metrics / 100 params
_BATCH = 100


def default_uri() -> str:
    return f"sqlite:///{DEFAULT_STORE.resolve()}"


def artifact_root(uri: str) -> str | None:
    """For a SQLite store: the ``artifacts`` folder beside the database file (MLflow would
    otherwise put artefacts under the working directory)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).parent / "artifacts").resolve().as_uri()
    return None


class MlflowTracker(Tracker):
    name = "mlflow"

    def __init__(self, uri: str | None, experiment: str):
        self.uri = uri or default_uri()
        if self.uri.startswith("sqlite:///"):
            Path(self.uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        for noisy in ("mlflow", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.experiment = experiment
        self.client: MlflowClient | None = None
        self.run_id: str | None = None

    def _experiment_id(self) -> str:
        assert self.client is not None
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return str(found.experiment_id)
        return str(self.client.create_experiment(self.experiment, artifact_location=artifact_root(self.uri)))

    def start(self, run: RunRecord) -> None:
        if self.client is None:
            self.client = MlflowClient(tracking_uri=self.uri)
        created = self.client.create_run(self._experiment_id(), run_name=run.name, tags=run.tags)
        self.run_id = created.info.run_id
        params = [Param(k, v[:6000]) for k, v in run.params.items()]
        for i in range(0, len(params), _BATCH):
            self.client.log_batch(self.run_id, params=params[i:i + _BATCH])

    def log_curve(self, run: RunRecord, key: str, value: float, step: int) -> None:
        assert self.client is not None and self.run_id is not None
        self.client.log_metric(self.run_id, key, value, step=step)

    def finish(self, run: RunRecord, run_dir: Path | None, metrics: dict[str, float], tags: dict[str, str],
               status: str) -> None:
        if self.client is None or self.run_id is None:
            return
        run_id, self.run_id = self.run_id, None
        now = int(time.time() * 1000)
        batch: list[Any] = [Metric(k, v, now, 0) for k, v in metrics.items()]
        for i in range(0, len(batch), _BATCH):
            self.client.log_batch(run_id, metrics=batch[i:i + _BATCH])
        if tags:
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        if run_dir is not None:
            self.client.log_artifacts(run_id, str(run_dir), artifact_path="run")
        self.client.set_terminated(run_id, status=status)
