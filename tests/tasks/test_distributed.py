"""Data-parallel training with torchrun: 2 CPU processes (gloo) match one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from rdf2mm.pipeline import train
from tests.conftest import label_config

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")


def torchrun(args: list[str], cwd, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "rdf2mm", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def test_two_processes_reach_the_quality_of_one(numeric_only, tmp_path):
    torch.set_num_threads(1)
    # textual too: its int16 character arrays are buffers gloo cannot broadcast
    common = dict(modalities="numeric,textual", epochs=40, batch_size=64, fanout=[10])
    one = train(label_config(numeric_only, batching="mini", **common))
    out = tmp_path / "run"
    proc = torchrun(
        ["train", str(numeric_only.graph_path), "--train", str(numeric_only.labels_path("train")),
         "--valid", str(numeric_only.labels_path("valid")), "--test", str(numeric_only.labels_path("test")),
         "--modalities", "numeric,textual", "--epochs", "40", "--batch-size", "64", "--fanout", "10",
         "--device", "cpu", "--json", "--out", str(out)],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # one JSON object: only worker 0 reports
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, proc.stdout
    two = json.loads(lines[0])
    assert two["workers"] == 2 and two["batching"] == "mini"
    assert two["test_accuracy"] >= 0.90
    assert abs(two["test_accuracy"] - one.metrics["test_accuracy"]) <= 0.05
    # the run directory is written once, by worker 0, and records both workers
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["workers"] == 2
    assert "Traceback" not in proc.stderr


def test_two_processes_link_prediction(numeric_only, tmp_path):
    lp = numeric_only.lp_path
    proc = torchrun(
        ["train", str(lp("train")), "--task", "link-prediction", "--train", str(lp("train")),
         "--valid", str(lp("valid")), "--test", str(lp("test")), "--modalities", "none", "--epochs", "5",
         "--batch-size", "256", "--device", "cpu", "--json", "--out", str(tmp_path / "lp")],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][0])
    assert res["workers"] == 2 and res["test_mrr"] > res["test_mrr_random"]
