"""``rdf2mm generate``: exit codes, JSON output, files written."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_generate_json(tmp_path):
    out = tmp_path / "synth"
    result = CliRunner().invoke(app, ["generate", str(out), "--triples", "2000", "--signal", "numeric,visual", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["parameters"]["signal"] == ["numeric", "visual"]
    assert manifest["seed"] == 3
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert (out / "graph.nt").is_file() and (out / "labels" / "train.nt").is_file() and (out / "lp" / "test.nt").is_file()


def test_generate_summary_on_stderr(tmp_path):
    out = tmp_path / "synth"
    proc = subprocess.run(
        [sys.executable, "-m", "rdf2mm", "generate", str(out), "--triples", "1500", "--format", "ttl", "--gzip", "--ill-typed", "0.1"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "triples" in proc.stderr and "ill-typed" in proc.stderr
    assert (out / "graph.ttl.gz").is_file() and (out / "lp" / "train.ttl.gz").is_file()


@pytest.mark.parametrize(
    "args",
    [
        ["--signal", "numeric,smell"],
        ["--strength", "1.5"],
        ["--classes", "1"],
        ["--format", "xml"],
        ["--split", "0.5,0.5"],
        ["--split", "a,b,c"],
        ["--triples", "abc"],
        ["--triples", "10"],
    ],
)
def test_generate_bad_values_exit_2(tmp_path, args):
    result = CliRunner().invoke(app, ["generate", str(tmp_path / "out"), *args])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists()


def test_generate_planted_link_prediction(tmp_path):
    out = tmp_path / "lp"
    args = ["generate", str(out), "--task", "link-prediction", "--plant", "textual", "--missing", "0.25",
            "--entities", "300", "--classes", "3", "--seed", "4", "--modalities", "numeric,textual", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest == json.loads((out / "manifest.json").read_text())
    p = manifest["parameters"]
    assert (p["plant"], p["missing"], p["entities"], p["classes"], p["seed"]) == ("textual", 0.25, 300, 3, 4)
    assert manifest["counts"]["literals"] == {"numeric": 225, "textual": 225}
    assert manifest["planted"] == {"numeric": False, "textual": True, "visual": False, "spatial": False}
    for name in ("train", "valid", "test", "valid-structure", "test-structure"):
        assert (out / "lp" / f"{name}.nt").stat().st_size > 0
    assert "hasCategory" in (out / "README.md").read_text()
    # the same command again writes the same files
    again = CliRunner().invoke(app, ["generate", str(tmp_path / "again"), *args[2:]])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again" / "lp" / "train.nt").read_bytes() == (out / "lp" / "train.nt").read_bytes()


def test_generate_planted_summary(tmp_path):
    result = CliRunner().invoke(app, ["generate", str(tmp_path / "lp"), "--task", "lp", "--plant", "none",
                                      "--entities", "200", "--classes", "2", "--image-size", "8"])
    assert result.exit_code == 0, result.output
    assert "tail planted in none" in result.output and "held-out structure" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--task", "link-prediction", "--plant", "smell"],
        ["--task", "link-prediction", "--plant", "visual", "--classes", "7"],
        ["--task", "link-prediction", "--missing", "1.5"],
        ["--task", "link-prediction", "--entities", "5"],
        ["--task", "link-prediction", "--modalities", "boolean"],
        ["--task", "clustering"],
        ["--plant", "numeric"],  # link-prediction options without the task
        ["--missing", "0.2"],
    ],
)
def test_generate_planted_bad_values_exit_2(tmp_path, args):
    result = CliRunner().invoke(app, ["generate", str(tmp_path / "out"), *args])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists()
