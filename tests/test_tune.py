"""`rdf2mm tune`: search spaces, the study, resuming a killed search, the final run and its config."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.synthetic import generate
from rdf2mm.tuning.space import DEFAULT_SPACES, SearchSpace, default_space, parse_space

runner = CliRunner()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("tune"), triples=1500, seed=1)


def _args(ds, out: Path, *extra: str) -> list[str]:
    return ["tune", str(ds.graph_path), "--train", str(ds.labels_path("train")),
            "--valid", str(ds.labels_path("valid")), "--test", str(ds.labels_path("test")),
            "--epochs", "4", "--device", "cpu", "--out", str(out), *extra]


# ----------------------------------------------------------------- spaces


@pytest.mark.parametrize("task", list(DEFAULT_SPACES))
def test_default_spaces_hold_the_defaults(task):
    point, outside = default_space(task).default_point(TrainConfig(task=task))
    assert outside == []
    resolved = TrainConfig(task=task).resolve()
    assert point == {name: getattr(resolved, name) for name in point}


@pytest.mark.parametrize("table,message", [
    ({"nonsense": {"type": "float", "low": 0, "high": 1}}, "not a train setting"),
    ({"graph": {"type": "categorical", "choices": ["a"]}}, "cannot be searched"),
    ({"lr": {"type": "normal", "low": 0, "high": 1}}, "type must be one of"),
    ({"lr": {"type": "float", "low": 0.1, "high": 0.01}}, "must be below high"),
    ({"lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}, "needs low > 0"),
    ({"lr": {"type": "float", "low": 0.001, "high": 0.1, "mean": 1}}, "unknown key"),
    ({"hidden": {"type": "int", "low": 1.5, "high": 8}}, "must be an integer"),
    ({"aggregation": {"type": "categorical", "choices": []}}, "non-empty list"),
    ({"aggregation": {"type": "categorical", "choices": ["sum", "max"]}}, "value 'max' is not valid"),
    ({"dropout": {"type": "float", "low": 0.0, "high": 1.0}}, "value 1.0 is not valid"),
    ({"lr": 0.01}, "must be a table"),
    ({}, "empty"),
])
def test_bad_spaces_are_refused_with_the_table_named(table, message):
    with pytest.raises(UsageError, match=message):
        parse_space(table, TrainConfig(), source="space.toml")


def test_a_toml_space_replaces_the_default(small, tmp_path):
    pytest.importorskip("optuna")
    space = tmp_path / "space.toml"
    space.write_text('[lr]\ntype = "float"\nlow = 0.005\nhigh = 0.02\nlog = true\n\n'
                     '[aggregation]\ntype = "categorical"\nchoices = ["sum", "mean"]\n')
    out = tmp_path / "search"
    r = runner.invoke(app, _args(small, out, "--trials", "2", "--seeds", "1", "--space", str(space), "--json"))
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert all(set(t["params"]) == {"lr", "aggregation"} for t in summary["trials"])
    assert all(0.005 <= t["params"]["lr"] <= 0.02 for t in summary["trials"])
    # the default aggregation (auto) is outside this space: trial 0 says it is not the default
    assert any("outside the search space" in n for n in summary["notes"])
    bad = tmp_path / "bad.toml"
    bad.write_text('[lr]\ntype = "float"\nlow = 1\n')
    r = runner.invoke(app, _args(small, tmp_path / "other", "--space", str(bad)))
    assert r.exit_code == 2 and "[lr]" in r.output


# ----------------------------------------------------------------- pruning


class _FakeTrial:
    def __init__(self, prune_at: int):
        self.reports: list[tuple[float, int]] = []
        self.prune_at = prune_at

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return len(self.reports) >= self.prune_at


def test_pruning_reports_the_best_so_far_of_the_first_sequence_and_stops():
    optuna = pytest.importorskip("optuna")
    from rdf2mm.tuning.study import PruningMonitor

    trial = _FakeTrial(prune_at=99)
    monitor = PruningMonitor(trial, "valid_accuracy", None, prune=True)
    monitor("seed", {"seed": 0, "aggregation": "sum"})
    for epoch, acc in enumerate([0.5, 0.7, 0.6], 1):
        monitor("epoch", {"epoch": epoch, "seed": 0, "valid_accuracy": acc})
    monitor("seed", {"seed": 0, "aggregation": "mean"})  # the second candidate is not reported
    monitor("epoch", {"epoch": 1, "seed": 0, "valid_accuracy": 0.9})
    assert trial.reports == [(0.5, 1), (0.7, 2), (0.7, 3)]
    stopping = PruningMonitor(_FakeTrial(prune_at=2), "valid_accuracy", None, prune=True)
    stopping("seed", {"seed": 0, "aggregation": "sum"})
    stopping("epoch", {"epoch": 1, "seed": 0, "valid_accuracy": 0.5})
    with pytest.raises(optuna.TrialPruned):
        stopping("epoch", {"epoch": 2, "seed": 0, "valid_accuracy": 0.5})


# ----------------------------------------------------------------- the search end to end


def test_tune_selects_on_validation_and_its_config_reproduces_the_final_run(small, tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "search"
    r = runner.invoke(app, _args(small, out, "--trials", "3", "--seeds", "2", "--json"))
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    trials = summary["trials"]
    assert len(trials) == 3 and trials[0]["default"] and trials[0]["number"] == 0
    defaults = TrainConfig().resolve()
    assert trials[0]["params"] == {k: getattr(defaults, k) for k in trials[0]["params"]}
    completed = [t for t in trials if t["state"] == "COMPLETE"]
    assert summary["best"]["value"] == max(t["value"] for t in completed) >= summary["default"]["value"]
    for t in completed:  # trials are normal run directories that never saw the test labels
        run = Path(t["run_dir"])
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["valid_accuracy"] == pytest.approx(t["value"])
        assert "test_accuracy" not in metrics
        assert json.loads((run / "config.json").read_text())["test"] is None
        assert "\ttest\t" not in (run / "predictions.tsv").read_text()
    final = json.loads((out / "final" / "metrics.json").read_text())
    assert final["seeds"] == 2 and summary["final"]["test_accuracy"] == pytest.approx(final["test_accuracy"])
    best_params = summary["best"]["params"]
    saved = json.loads((out / "final" / "config.json").read_text())
    assert {k: saved[k] for k in best_params} == best_params
    # config.toml reproduces the final run (CPU, same seeds)
    again = tmp_path / "again"
    r = runner.invoke(app, ["train", "--config", str(out / "config.toml"), "--out", str(again), "--json"])
    assert r.exit_code == 0, r.output
    repeat = json.loads((again / "metrics.json").read_text())
    assert repeat["test_accuracy"] == pytest.approx(final["test_accuracy"])
    assert repeat["valid_accuracy"] == pytest.approx(final["valid_accuracy"])
    page = (out / "tune.html").read_text()
    assert "<svg" in page and 'class="chart history"' in page and "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    # the same folder again without --resume is refused (exit 2), and so is --resume of an empty one
    assert runner.invoke(app, _args(small, out, "--trials", "3")).exit_code == 2
    assert runner.invoke(app, _args(small, tmp_path / "none", "--resume")).exit_code == 2
    r = runner.invoke(app, ["tune", "--out", str(out), "--resume", "--epochs", "9"])
    assert r.exit_code == 2 and "epochs differ" in r.output


def _study_counts(out: Path) -> dict[str, int]:
    import optuna

    study = optuna.load_study(study_name="rdf2mm-tune", storage=f"sqlite:///{out / 'study.db'}")
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "rdf2mm", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _completed_now(out: Path) -> int:
    """Completed trials so far (0 while the other process is still creating the study)."""
    if not (out / "study.db").exists():
        return 0
    try:
        return _study_counts(out).get("COMPLETE", 0)
    except Exception:  # noqa: BLE001 - the database or study is not set up yet
        return 0


def _wait_for_complete(out: Path, n: int, proc: subprocess.Popen, limit: float = 300) -> None:
    """Until the study holds ``n`` completed trials."""
    deadline = time.monotonic() + limit
    while _completed_now(out) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no {n} completed trials"
        time.sleep(0.5)


def test_a_killed_search_resumes_the_same_study(small, tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "search"
    args = _args(small, out, "--trials", "4", "--seeds", "1", "--no-prune")
    # Ctrl-C after the first trial: exit 130, the study is kept
    proc = _start(args)
    _wait_for_complete(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err
    first = _study_counts(out)
    assert first.get("COMPLETE", 0) >= 1
    # resumed, then killed outright while a later trial runs
    proc = _start([*args, "--resume"])
    _wait_for_complete(out, first["COMPLETE"] + 1, proc)
    time.sleep(1.0)  # into the next trial
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    second = _study_counts(out)
    assert second.get("RUNNING", 0) <= 1 and second["COMPLETE"] > first["COMPLETE"]
    # resumed to the end: the interrupted trial is failed and run again, and the
    # finished trials add up to --trials
    r = subprocess.run([sys.executable, "-m", "rdf2mm", *args, "--resume", "--json"], capture_output=True,
                       text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    final = _study_counts(out)
    assert final.get("COMPLETE", 0) == 4 and final.get("RUNNING", 0) == 0
    assert final.get("FAIL", 0) == first.get("FAIL", 0) + second.get("RUNNING", 0)
    assert [t["number"] for t in summary["trials"]] == list(range(len(summary["trials"])))
    assert summary["trials"][0]["default"]
    assert summary["default"] is not None and summary["best"]["value"] >= summary["default"]["value"]
    retried = [t for t in summary["trials"] if t["retry_of"] is not None]
    failed = [t for t in summary["trials"] if t["state"] == "FAIL"]
    assert {t["retry_of"] for t in retried} == {t["number"] for t in failed}
    by_number = {t["number"]: t for t in failed}
    for t in retried:  # what the interrupted trial had drawn (a kill may come before it drew all) is kept
        assert by_number[t["retry_of"]]["params"].items() <= t["params"].items()


def test_missing_optuna_says_how_to_install(small, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    r = runner.invoke(app, _args(small, tmp_path / "s", "--trials", "1"))
    assert r.exit_code == 2, r.output
    assert "pip install 'rdf2mm[tune]'" in r.output


def test_tune_refuses_without_validation(small, tmp_path):
    pytest.importorskip("optuna")
    r = runner.invoke(app, ["tune", str(small.graph_path), "--train", str(small.labels_path("train")),
                            "--out", str(tmp_path / "s")])
    assert r.exit_code == 2 and "validation" in r.output


def test_tune_refuses_under_torchrun(small, tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.setenv("WORLD_SIZE", "2")
    r = runner.invoke(app, _args(small, tmp_path / "s"))
    assert r.exit_code == 2 and "torchrun" in r.output


def test_space_round_trips_through_its_dict():
    space = default_space("link-prediction")
    again = parse_space(space.to_dict(), TrainConfig(task="link-prediction"))
    assert isinstance(again, SearchSpace) and again == space


def test_tune_tracks_every_trial_and_the_final_run(small, tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    out, uri = tmp_path / "search", f"sqlite:///{tmp_path / 'ml' / 'mlflow.db'}"
    r = runner.invoke(app, _args(small, out, "--trials", "2", "--seeds", "1", "--tracker", "mlflow,csv",
                                 "--tracking-uri", uri, "--experiment", "tune-test"))
    assert r.exit_code == 0, r.output
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("tune-test").experiment_id])
    trials = {run.data.tags["rdf2mm.trial"]: run for run in runs if "rdf2mm.trial" in run.data.tags}
    (final,) = [run for run in runs if run.data.tags.get("rdf2mm.role") == "final"]
    assert set(trials) == {"0", "1"}
    final_metrics = json.loads((out / "final" / "metrics.json").read_text())
    assert final.data.metrics["test_accuracy"] == pytest.approx(final_metrics["test_accuracy"])
    assert all("test_accuracy" not in run.data.metrics for run in trials.values())
    assert (out / "tracking.csv").is_file() and not (out / "trials" / "tracking.csv").exists()


def test_tune_link_prediction_selects_on_valid_mrr(small, tmp_path):
    pytest.importorskip("optuna")
    lp = small.out_dir / "lp"
    out = tmp_path / "search"
    r = runner.invoke(app, ["tune", str(lp / "train.nt"), "--task", "link-prediction", "--train", str(lp / "train.nt"),
                            "--valid", str(lp / "valid.nt"), "--test", str(lp / "test.nt"), "--trials", "2",
                            # with 1-N over a split smaller than a batch an epoch is one step:
                            # two would leave either trial near random
                            "--epochs", "10", "--seeds", "1", "--device", "cpu", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["metric"] == "valid_mrr" and summary["trials"][0]["default"]
    assert set(summary["trials"][0]["params"]) == {p.name for p in DEFAULT_SPACES["link-prediction"]}
    for t in summary["trials"]:
        if t["state"] == "COMPLETE":
            metrics = json.loads((Path(t["run_dir"]) / "metrics.json").read_text())
            assert metrics["valid_mrr"] == pytest.approx(t["value"])
    assert summary["final"]["test_mrr"] > summary["final"]["test_mrr_random"]


def test_tune_passes_shuffle_literals_to_every_run(small, tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "search"
    r = runner.invoke(app, _args(small, out, "--trials", "1", "--seeds", "1", "--shuffle-literals", "--json"))
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert json.loads((Path(summary["trials"][0]["run_dir"]) / "config.json").read_text())["shuffle_literals"] is True
    assert json.loads((out / "final" / "config.json").read_text())["shuffle_literals"] is True
    assert "shuffle_literals = true" in (out / "config.toml").read_text()
