"""The ``--tracker``, ``--tracking-uri`` and ``--experiment`` options that train, ablate and tune share."""
from __future__ import annotations

from typing import Any, Optional

import typer

from rdf2mm.cli.app import console, is_main_worker


def tracker_option() -> Any:
    return typer.Option(None, "--tracker", help="Track the run(s) with mlflow, tensorboard and/or csv (comma list or repeated); mlflow and tensorboard need pip install 'rdf2mm\\[track]'.")


def tracking_uri_option() -> Any:
    return typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: sqlite:///mlruns/mlflow.db in the working directory, artefacts in mlruns/artifacts).")


def experiment_option() -> Any:
    return typer.Option("rdf2mm", "--experiment", help="MLflow experiment name the runs are logged under.")


def make_tracking(tracker: Optional[list[str]], uri: Optional[str], experiment: str,
                  folder: Optional[str] = None) -> Any:
    """The command's :class:`~rdf2mm.tracking.Tracking` (empty when no tracker is named or
    in the extra torchrun workers); a missing extra ends the command with exit code 2."""
    from rich.markup import escape

    from rdf2mm.tracking import Tracking, parse_trackers

    names = parse_trackers(tracker)
    if not is_main_worker():
        names = []  # worker 0 tracks for all
    return Tracking(names, uri, experiment, folder=folder,
                    warn=lambda message: console.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False))
