"""`--tracker mlflow,tensorboard,csv`: what the trackers hold is what the run directory says."""
from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.errors import UsageError
from rdf2mm.synthetic import generate
from rdf2mm.tracking import parse_trackers

runner = CliRunner()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("track"), triples=1500, seed=1)


def _train(ds, out: Path, *extra: str):
    args = ["train", str(ds.graph_path), "--train", str(ds.labels_path("train")),
            "--valid", str(ds.labels_path("valid")), "--test", str(ds.labels_path("test")),
            "--epochs", "6", "--aggregation", "sum", "--device", "cpu", "--no-cache", "--out", str(out), *extra]
    return runner.invoke(app, args)


def _final(run_dir: Path) -> dict[str, float]:
    data = json.loads((run_dir / "metrics.json").read_text())
    return {k: float(v) for k, v in data.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}


def _curve(run_dir: Path, column: str) -> list[tuple[int, float]]:
    with (run_dir / "curve.csv").open() as fh:
        return [(int(r["epoch"]), float(r[column])) for r in csv.DictReader(fh) if r.get(column)]


def _same_curve(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> bool:
    return [s for s, _ in got] == [s for s, _ in want] and \
        [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)


def test_mlflow_and_tensorboard_hold_the_run_metrics(small, tmp_path):
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing import event_accumulator

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    run_dir = tmp_path / "run"
    r = _train(small, run_dir, "--tracker", "mlflow,tensorboard", "--tracking-uri", uri, "--experiment", "t")
    assert r.exit_code == 0, r.output
    final = _final(run_dir)
    assert "test_accuracy" in final and "valid_accuracy" in final

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("t")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    logged = {k: v for k, v in run.data.metrics.items() if not k.startswith("epoch/")}
    assert logged == pytest.approx(final)
    history = client.get_metric_history(run.info.run_id, "epoch/valid_accuracy")
    assert _same_curve([(m.step, m.value) for m in sorted(history, key=lambda m: m.step)],
                       _curve(run_dir, "valid_accuracy"))
    assert run.data.params["lr"] == "0.01" and run.data.params["aggregation"] == "sum"
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert run.data.tags["rdf2mm.task"] == "node-classification"
    assert run.data.tags["rdf2mm.model"] == "mrgcn"
    assert run.data.tags["rdf2mm.data_fingerprint"] == provenance["data_fingerprint"]
    artefacts = {a.path for a in client.list_artifacts(run.info.run_id, "run")}
    assert {"run/metrics.json", "run/config.toml", "run/model.safetensors"} <= artefacts

    acc = event_accumulator.EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert set(final) <= tags
    for key, value in final.items():
        assert acc.Scalars(key)[-1].value == pytest.approx(value, rel=1e-6, abs=1e-6)
    curve = [(e.step, e.value) for e in acc.Scalars("epoch/valid_accuracy")]
    assert _same_curve(curve, _curve(run_dir, "valid_accuracy"))


def test_csv_tracker_and_results_unchanged_by_tracking(small, tmp_path):
    plain, tracked = tmp_path / "plain" / "run", tmp_path / "tracked" / "run"
    assert _train(small, plain).exit_code == 0
    r = _train(small, tracked, "--tracker", "csv")
    assert r.exit_code == 0, r.output
    skip = ("seconds_per_epoch",)
    assert {k: v for k, v in _final(tracked).items() if k not in skip} == \
        {k: v for k, v in _final(plain).items() if k not in skip}
    with (tracked.parent / "tracking.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    metrics = {r["key"]: float(r["value"]) for r in rows if r["kind"] == "metric"}
    assert metrics == pytest.approx(_final(tracked))
    curve = [(int(r["step"]), float(r["value"])) for r in rows
             if r["kind"] == "curve" and r["key"] == "epoch/valid_accuracy"]
    assert _same_curve(curve, _curve(tracked, "valid_accuracy"))
    assert [r["value"] for r in rows if r["kind"] == "status"] == ["FINISHED"]
    assert {r["value"] for r in rows if r["kind"] == "artifact"} == {str(tracked)}


def test_a_failing_tracker_only_warns(small, tmp_path, monkeypatch):
    from rdf2mm.tracking.csv_tracker import CsvTracker

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(CsvTracker, "finish", broken)
    run_dir = tmp_path / "run"
    r = _train(small, run_dir, "--tracker", "csv")
    assert r.exit_code == 0, r.output
    assert "tracking with csv failed" in r.output and "disk full" in r.output
    assert (run_dir / "metrics.json").is_file()


@pytest.mark.parametrize("tracker,module", [("mlflow", "mlflow"), ("tensorboard", "tensorboard")])
def test_missing_extra_says_how_to_install(small, tmp_path, monkeypatch, tracker, module):
    monkeypatch.setitem(sys.modules, module, None)  # import of it now raises ImportError
    r = _train(small, tmp_path / "run", "--tracker", tracker)
    assert r.exit_code == 2, r.output
    assert "pip install 'rdf2mm[track]'" in r.output
    assert not (tmp_path / "run").exists()  # refused before training


def test_tracker_names_are_checked():
    assert parse_trackers(["mlflow,csv", "csv", " tensorboard "]) == ["mlflow", "csv", "tensorboard"]
    with pytest.raises(UsageError, match="--tracker must be"):
        parse_trackers(["wandb"])
    r = runner.invoke(app, ["train", "x.nt", "--target", "ex:p", "--tracker", "wandb"])
    assert r.exit_code == 2 and "--tracker must be" in r.output


def test_ablate_tracks_one_run_per_cell(small, tmp_path):
    out = tmp_path / "abl"
    r = runner.invoke(app, ["ablate", str(small.graph_path), "--train", str(small.labels_path("train")),
                            "--valid", str(small.labels_path("valid")), "--test", str(small.labels_path("test")),
                            "--seeds", "1", "--epochs", "3", "--modalities-grid", "none,numeric", "--literals", "merged",
                            "--aggregation", "sum", "--device", "cpu", "--out", str(out), "--tracker", "csv"])
    assert r.exit_code == 0, r.output
    with (out / "tracking.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    runs = {r["run"] for r in rows if r["kind"] == "status" and r["value"] == "FINISHED"}
    assert runs == {"merged-none", "merged-numeric"}
    for name in runs:
        metrics = {r["key"]: float(r["value"]) for r in rows if r["kind"] == "metric" and r["run"] == name}
        assert metrics == pytest.approx(_final(out / name))
