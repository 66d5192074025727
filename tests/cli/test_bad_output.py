"""Output targets through the CLI: rdf2mm replaces only what it wrote, a full or read-only
disk is a clear error with nothing partial left, SIGTERM is Ctrl-C (issue 20, findings 1,
6 and 7)."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rdf2mm.runs.checkpoint import checkpoint_folder
from rdf2mm.cli import app
from tests.cli.bad_input.make_corpus import labelled_graph

runner = CliRunner()
TARGET = "http://e/cls"


@pytest.fixture()
def graph(tmp_path):
    g = tmp_path / "g.nt"
    g.write_text(labelled_graph())
    return g


def train(graph, out, *extra):
    return runner.invoke(app, ["--quiet", "train", str(graph), "--target", TARGET, "--epochs", "2",
                               "--aggregation", "sum", "--out", str(out), *extra])


def leftovers(folder: Path) -> list[str]:
    """rdf2mm's temporary names (``.NAME.XXXX.tmp``, ``.NAME.old``) left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and
                  (p.name.endswith(".tmp") or p.name.endswith(".old")))


def one_error_line(result, code):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_train_out_folder_holding_a_users_file_is_refused(graph, tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("three years of work")
    line = one_error_line(train(graph, thesis), 2)
    assert "did not write" in line and "--force" in line
    assert (thesis / "chapter1.tex").read_text() == "three years of work"
    assert sorted(p.name for p in thesis.iterdir()) == ["chapter1.tex"] and not leftovers(tmp_path)
    # a run directory the user added a file to is no longer only ours either
    run = tmp_path / "run"
    assert train(graph, run).exit_code == 0
    (run / "notes.txt").write_text("mine")
    one_error_line(train(graph, run), 2)
    assert (run / "notes.txt").read_text() == "mine"
    # --force is the explicit way to replace it
    assert train(graph, thesis, "--force").exit_code == 0
    assert (thesis / "metrics.json").is_file() and not (thesis / "chapter1.tex").exists()


def test_train_out_naming_a_plain_file_is_refused_and_nothing_is_hidden(graph, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    line = one_error_line(train(graph, notes), 2)
    assert "not a folder" in line
    assert notes.read_text() == "my notes"
    assert not leftovers(tmp_path) and not (tmp_path / ".notes.txt.old").exists()


def test_train_replaces_its_own_run_directory(graph, tmp_path):
    run = tmp_path / "run"
    assert train(graph, run).exit_code == 0
    first = json.loads((run / "provenance.json").read_text())["started"]
    result = train(graph, run, "--seed", "1")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["seed"] == 1 and first
    assert not leftovers(tmp_path)


def test_other_commands_replace_only_their_own_output(graph, tmp_path):
    run = tmp_path / "run"
    assert train(graph, run).exit_code == 0
    user = tmp_path / "user"
    user.mkdir()
    (user / "data.csv").write_text("a,b\n")
    for args in (["encode", str(graph), "--out", str(user), "--overwrite"],
                 ["export", str(run), "--out", str(user)],
                 ["ablate", str(graph), "--target", TARGET, "--seeds", "1", "--epochs", "1",
                  "--modalities-grid", "none", "--literals", "split", "--out", str(user / "data.csv")]):
        line = one_error_line(runner.invoke(app, args), 2)
        assert str(user) in line, args
        assert (user / "data.csv").read_text() == "a,b\n"
    page = tmp_path / "page.html"
    page.write_text("<html>my own page</html>")
    one_error_line(runner.invoke(app, ["report", str(run), "-o", str(page)]), 2)
    assert page.read_text() == "<html>my own page</html>"
    table = tmp_path / "table.csv"
    table.write_text("my,table\n")
    one_error_line(runner.invoke(app, ["ablate", str(graph), "--target", TARGET, "--seeds", "1", "--epochs", "1",
                                       "--modalities-grid", "none", "--literals", "split",
                                       "--out", str(tmp_path / "abl"), "--csv", str(table)]), 2)
    assert table.read_text() == "my,table\n" and not (tmp_path / "abl").exists()
    # their own output they replace, twice over
    for _ in range(2):
        assert runner.invoke(app, ["export", str(run), "--output", "nt"]).exit_code == 0
        assert runner.invoke(app, ["report", str(run)]).exit_code == 0
    assert sorted(p.name for p in (run / "export").iterdir()) == ["export.json", "run.nt"]
    assert train(graph, run).exit_code == 0  # a run directory with its export and report is still ours
    assert runner.invoke(app, ["export", str(run), "--out", str(user), "--force"]).exit_code == 0


def _fail_with(code):
    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))
    return fail


@pytest.mark.parametrize("code, exit_code", [(errno.ENOSPC, 6), (errno.EROFS, 3), (errno.EACCES, 3)])
def test_full_or_read_only_disk_is_a_clear_error_and_leaves_nothing(graph, tmp_path, monkeypatch, code, exit_code):
    """Root ignores chmod, so the failing write is simulated where the weights are saved."""
    import rdf2mm.runs.weights

    monkeypatch.setattr(rdf2mm.runs.weights, "save_file", _fail_with(code))
    out = tmp_path / "run"
    line = one_error_line(train(graph, out), exit_code)
    assert os.strerror(code) in line and "cannot write" in line
    assert not out.exists() and not leftovers(tmp_path)


def test_full_disk_during_a_checkpoint_leaves_only_complete_checkpoints(graph, tmp_path, monkeypatch):
    import rdf2mm.runs.checkpoint

    monkeypatch.setattr(rdf2mm.runs.checkpoint, "save_file", _fail_with(errno.ENOSPC))
    out = tmp_path / "run"
    one_error_line(train(graph, out, "--checkpoint-every", "1"), 6)
    assert not out.exists() and not leftovers(tmp_path)
    folder = checkpoint_folder(out)
    assert not list(folder.rglob("*.tmp")) and not list(folder.rglob("progress"))


def test_full_disk_during_export_keeps_the_earlier_export(graph, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert train(graph, run).exit_code == 0
    assert runner.invoke(app, ["export", str(run), "--output", "nt"]).exit_code == 0
    before = (run / "export" / "run.nt").read_bytes()
    import rdf2mm.export.targets

    monkeypatch.setattr(rdf2mm.export.targets, "write_rdf", _fail_with(errno.ENOSPC))
    one_error_line(runner.invoke(app, ["export", str(run), "--output", "parquet,trig"]), 6)
    assert sorted(p.name for p in (run / "export").iterdir()) == ["export.json", "run.nt"]
    assert (run / "export" / "run.nt").read_bytes() == before and not leftovers(run)


def test_sigterm_is_handled_like_ctrl_c(graph, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rdf2mm", "train", str(graph), "--target", TARGET,
                             "--epochs", "100000", "--patience", "100000", "--checkpoint-every", "20",
                             "--aggregation", "sum", "--device", "cpu", "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    progress = checkpoint_folder(out) / "seed-0" / "progress" / "progress.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not progress.exists():
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("training ended before it could be stopped")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not out.exists() and not leftovers(tmp_path)
    assert progress.exists()  # the last complete checkpoint stays for --resume
