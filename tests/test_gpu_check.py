"""``bench/gpu_check.sh``: on a machine without a GPU it says so and exits cleanly."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.sh"
BASH = shutil.which("bash")
TIMEOUT_BIN = shutil.which("timeout")

pytestmark = pytest.mark.skipif(BASH is None, reason="no bash")


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "OUT": str(tmp_path / "out"), "GPU_CHECK_VENV": str(tmp_path / "venv"), **env}
    return subprocess.run([BASH, str(SCRIPT)], env=full, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_without_a_gpu_it_says_so_and_exits_0(tmp_path):
    result = _run(tmp_path, GPU_CHECK_NVIDIA_SMI=str(tmp_path / "no-such-nvidia-smi"))
    assert result.returncode == 0, result.stderr
    assert "no GPU found" in result.stdout
    # nothing installed, nothing written
    assert not (tmp_path / "venv").exists() and not (tmp_path / "out").exists()


@pytest.mark.skipif(TIMEOUT_BIN is None, reason="no timeout(1)")
def test_a_torch_that_sees_no_gpu_is_reported_not_benchmarked(tmp_path):
    # nvidia-smi lists a device, but the given Python's torch sees none (a CPU build here):
    # the summary says so and the check fails instead of timing CPU runs as GPU figures
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: Fake GPU (UUID: GPU-0)'\n")
    smi.chmod(0o755)
    result = _run(tmp_path, GPU_CHECK_NVIDIA_SMI=str(smi), GPU_CHECK_PYTHON=sys.executable)
    if result.returncode == 0:  # this machine's torch does see a GPU: the real check ran
        pytest.skip("a CUDA torch is present: the no-GPU path is not reachable here")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = (tmp_path / "out" / "gpu-check.md").read_text()
    assert "Fake GPU" in summary
    assert "is not torch==" in summary and "with a usable GPU" in summary
    assert summary in result.stdout


def test_the_suite_reports_its_gpu_rows(tmp_path):
    import argparse

    from bench.run_suite import GPU_ROWS, Suite

    suite = Suite(args=argparse.Namespace(), work=tmp_path, env={})
    suite.gpu = [
        {"name": "aifb", "what": GPU_ROWS["aifb"][0], "device": "cuda", "status": "ok", "error": None,
         "wall_s": 12.5, "load": 0.3, "peak_mib": 900.0, "command": "rdf2mm -q train aifbplus.nt.gz --device cuda",
         "metrics": {"seconds_per_epoch": 0.0123, "test_accuracy": 0.94, "threads": 4},
         "per_seed": {"epochs_run": 20, "eval_seconds": 0.5}},
        {"name": "synth-lp", "what": GPU_ROWS["synth-lp"][0], "device": "cuda", "skipped": "synth-lp not found"},
    ]
    text = "\n".join(suite.md_gpu())
    assert "### Training rows on cuda" in text
    assert "| AIFB+ node classification | 20 | 0.012 | 0.50 | accuracy 0.940 | 4 |" in text
    assert "skipped: synth-lp not found" in text
    assert "`rdf2mm -q train aifbplus.nt.gz --device cuda`" in text
