"""Interrupted training resumes to the same result as an uninterrupted run (CPU, same seed)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from rdf2mm.runs.checkpoint import checkpoint_folder
from rdf2mm.config import TrainConfig
from rdf2mm.errors import InputError, UsageError
from rdf2mm.pipeline import resume, train
from rdf2mm.synthetic import generate


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("ck"), triples=2500, signal=("numeric", "temporal"), seed=5)


def cfg(ds, out, **kw) -> TrainConfig:
    base = dict(graph=[str(ds.graph_path)], train=str(ds.labels_path("train")), valid=str(ds.labels_path("valid")),
                test=str(ds.labels_path("test")), modalities="numeric,temporal,boolean", device="cpu",
                epochs=24, patience=100, seeds=2, checkpoint_every=3, out=str(out))
    base.update(kw)
    return TrainConfig(**base)


class Interrupt(KeyboardInterrupt):
    pass


def test_ctrl_c_then_resume_gives_the_same_metrics(data, tmp_path):
    torch.set_num_threads(1)
    last_epoch: dict[tuple[str | None, int], int] = {}
    now: dict[str, str | None] = {"candidate": None}

    def record(stage, info):
        if stage == "seed":
            now["candidate"] = info["aggregation"]
        if stage == "epoch":
            last_epoch[(now["candidate"], info["seed"])] = info["epoch"]

    straight = train(cfg(data, tmp_path / "straight"), record)

    out = tmp_path / "interrupted"
    seen = {"n": 0}
    candidate = {"now": None}

    def stop_midway(stage, info):
        if stage == "seed":
            candidate["now"] = info["aggregation"]
        if stage == "epoch" and info["seed"] == 1 and info["epoch"] == 11:
            raise Interrupt()  # Ctrl-C in the second seed, between checkpoints

    with pytest.raises(KeyboardInterrupt):
        train(cfg(data, out), stop_midway)
    assert not out.exists()  # nothing half-written
    # --aggregation auto (the default) keeps each candidate's seeds in a slot of its own:
    # both compared on the first seed; the second seed was training when interrupted.
    folder = checkpoint_folder(out)
    assert (folder / "aggregation-sum" / "seed-0" / "done").is_dir()
    assert (folder / "aggregation-mean" / "seed-0" / "done").is_dir()
    assert (folder / f"aggregation-{candidate['now']}" / "seed-1" / "progress").is_dir()

    def count(stage, info):
        if stage == "epoch":
            seen["n"] += 1

    resumed = resume(out, count)
    # finished seeds reused, the interrupted one continued from its epoch-9 checkpoint to
    # where the straight run stopped (early, once validation was perfect and flat), and,
    # when the first seed left the choice open, the other candidate's second seed trained
    expected = last_epoch[(candidate["now"], 1)] - 9
    if straight.metrics["aggregation_seeds_compared"] == 2 and candidate["now"] == "sum":
        expected += last_epoch[("mean", 1)]
    assert seen["n"] == expected
    for k in ("train_accuracy", "valid_accuracy", "test_accuracy", "test_macro_f1", "aggregation",
              "aggregation_selection", "aggregation_seeds_compared"):
        assert resumed.metrics[k] == straight.metrics[k], k
    a = json.loads((tmp_path / "straight" / "metrics.json").read_text())["per_seed"]
    b = json.loads((out / "metrics.json").read_text())["per_seed"]
    assert [s["best_epoch"] for s in a] == [s["best_epoch"] for s in b]
    # the whole training curve, loss by loss, is the same: optimiser and RNG state were restored
    assert (tmp_path / "straight" / "curve.csv").read_text() == (out / "curve.csv").read_text()
    assert not checkpoint_folder(out).exists()  # cleaned up on success


def test_resume_refuses_changed_settings_and_missing_checkpoint(data, tmp_path):
    with pytest.raises(InputError, match="no checkpoint"):
        resume(tmp_path / "never")
    out = tmp_path / "r"

    def stop(stage, info):
        if stage == "epoch" and info["epoch"] == 4:
            raise Interrupt()

    with pytest.raises(KeyboardInterrupt):
        train(cfg(data, out, seeds=1), stop)
    with pytest.raises(UsageError, match="epochs"):
        train(cfg(data, out, seeds=1, epochs=30), resume=True)


def test_killed_process_resumes_to_the_same_result(data, tmp_path):
    """SIGKILL (no chance to clean up) mid-training, then `rdf2mm train --resume`."""
    out = tmp_path / "killed"
    args = ["train", str(data.graph_path), "--train", str(data.labels_path("train")),
            "--valid", str(data.labels_path("valid")), "--test", str(data.labels_path("test")),
            "--modalities", "numeric,temporal,textual", "--device", "cpu", "--epochs", "60", "--patience", "100",
            "--checkpoint-every", "2", "--out", str(out), "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rdf2mm", "--quiet", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = checkpoint_folder(out) / "aggregation-sum" / "seed-0" / "progress" / "progress.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if progress.exists() and json.loads(progress.read_text())["epoch"] >= 6:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("training finished before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    resumed = subprocess.run([sys.executable, "-m", "rdf2mm", "--quiet", "train", "--resume", str(out), "--json"],
                             env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    straight = subprocess.run([sys.executable, "-m", "rdf2mm", "--quiet", *args[:-3], "--out", str(tmp_path / "s"),
                               "--json"], env=env, capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr
    m1, m2 = json.loads(resumed.stdout), json.loads(straight.stdout)
    for k in ("train_accuracy", "valid_accuracy", "test_accuracy"):
        assert m1[k] == m2[k], k


def test_link_prediction_resumes_to_the_same_result(tmp_path):
    torch.set_num_threads(1)
    ds = generate(tmp_path / "lp", triples=2000, signal=(), seed=2)
    base = dict(graph=[str(ds.lp_path("train"))], task="link-prediction", train=str(ds.lp_path("train")),
                valid=str(ds.lp_path("valid")), test=str(ds.lp_path("test")), modalities="numeric",
                device="cpu", epochs=12, patience=100, seeds=2, checkpoint_every=2, negatives=4)
    straight = train(TrainConfig(**base, out=str(tmp_path / "straight")))
    out = tmp_path / "interrupted"

    def stop(stage, info):
        if stage == "epoch" and info["seed"] == 1 and info["epoch"] == 7:
            raise Interrupt()

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**base, out=str(out)), stop)
    assert not out.exists()
    resumed = resume(out)
    for k in ("test_mrr", "test_hits@10", "valid_mrr"):
        assert resumed.metrics[k] == straight.metrics[k], k
    assert (tmp_path / "straight" / "curve.csv").read_text() == (out / "curve.csv").read_text()
