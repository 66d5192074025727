"""Readable output and options that agree: CURIEs, compaction, --version, global flags, metavars,
file modes, off-terminal progress lines."""
from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.cli.app import out
from tests.conftest import EXAMPLES

runner = CliRunner()
MUSEUM = str(EXAMPLES / "museum.ttl")
EX = "http://example.org/museum#"


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A small museum run trained through the CLI, off a terminal, with a heartbeat every epoch."""
    folder = tmp_path_factory.mktemp("readable") / "run"
    r = runner.invoke(app, ["train", MUSEUM, "--target", "ex:movement", "--epochs", "3", "--modalities", "none",
                            "--aggregation", "mean", "--device", "cpu", "--out", str(folder), "--no-cache"],
                      env={"RDF2MM_PROGRESS_INTERVAL": "0"})
    return folder, r


def test_target_curie_is_expanded_with_the_graphs_prefixes(cli_run):
    folder, r = cli_run
    assert r.exit_code == 0, r.output
    assert json.loads((folder / "config.json").read_text())["target"] == EX + "movement"
    assert json.loads((folder / "metrics.json").read_text())["test_accuracy"] is not None


def test_off_terminal_progress_lines_and_sentences(cli_run):
    _, r = cli_run
    # one heartbeat line per epoch at interval 0, with the seed, epoch, losses and validation figures
    for epoch in (1, 2, 3):
        assert f"seed 0 epoch {epoch}/3: train loss" in r.output
    assert "valid accuracy" in r.output
    assert "seed 0 (mean): training, up to 3 epochs" in r.output and "seed 0 done: test accuracy" in r.output
    assert "read 2,134 triples" in r.output and "labels: 3 classes; train 108 / valid 36 / test 36" in r.output
    assert "KnowledgeGraph(" not in r.output and "{'" not in r.output  # no Python reprs


def test_heartbeat_respects_the_interval():
    from rdf2mm.cli.progress import LogProgress

    now = [0.0]
    lines: list[str] = []
    log = LogProgress(lines.append, epochs=100, interval=10.0, clock=lambda: now[0])
    log("seed", {"seed": 3})
    for epoch in range(1, 101):
        now[0] = float(epoch)  # one epoch a second
        log("epoch", {"epoch": epoch, "train_loss": 0.5, "valid_accuracy": 0.75})
    log("seed_done", {"seed": 3, "test_accuracy": 0.8, "best_epoch": 42})
    beats = [ln for ln in lines if " epoch " in ln and "done" not in ln]
    assert len(beats) == 10  # epochs 10, 20, ..., 100
    assert beats[0] == "seed 3 epoch 10/100: train loss 0.5000, valid accuracy 0.7500"
    assert lines[0] == "seed 3: training, up to 100 epochs"
    assert lines[-1] == "seed 3 done: test accuracy 0.8000, best epoch 42"


def test_progress_interval_from_the_environment(monkeypatch):
    from rdf2mm.cli.progress import DEFAULT_INTERVAL, progress_interval

    monkeypatch.setenv("RDF2MM_PROGRESS_INTERVAL", "2.5")
    assert progress_interval() == 2.5
    monkeypatch.setenv("RDF2MM_PROGRESS_INTERVAL", "soon")
    assert progress_interval() == DEFAULT_INTERVAL


def test_predict_node_shows_the_full_compacted_class(cli_run, monkeypatch):
    folder, _ = cli_run
    monkeypatch.setattr(out, "_width", 44)  # a narrow terminal: nothing may be cut
    r = runner.invoke(app, ["predict", str(folder), "--node", "ex:work0", "--node", EX + "work1", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    classes = {p["predicted_class"] for p in json.loads(runner.invoke(
        app, ["predict", str(folder), "--node", "ex:work0", "--node", "ex:work1", "--json"]).stdout)["predictions"]}
    assert all(c.startswith(f"<{EX}") for c in classes)  # --json keeps full IRIs
    for c in classes:
        assert "ex:" + c.strip("<>").rsplit("#", 1)[1] in r.stdout
    assert "ex:work0" in r.stdout and "ex:work1" in r.stdout
    assert "…" not in r.stdout and "http://" not in r.stdout


def test_unknown_prefix_is_a_usage_error(cli_run):
    folder, _ = cli_run
    r = runner.invoke(app, ["predict", str(folder), "--node", "nope:work0"])
    assert r.exit_code == 2
    assert "unknown prefix 'nope:'" in r.output and "ex:" in r.output
    r = runner.invoke(app, ["train", MUSEUM, "--target", "exx:movement", "--epochs", "1"])
    assert r.exit_code == 2 and "unknown prefix 'exx:' in --target" in r.output


def test_version():
    for flag in ("--version", "-V"):
        r = runner.invoke(app, [flag])
        assert r.exit_code == 0
        assert r.stdout.strip() == f"rdf2mm {__import__('rdf2mm').__version__}"


def test_global_flags_after_the_command(tmp_path):
    missing = str(tmp_path / "missing.ttl")
    plain = runner.invoke(app, ["inspect", missing])
    debug = runner.invoke(app, ["inspect", missing, "--debug"])
    assert plain.exit_code == debug.exit_code == 3
    assert "Traceback" not in plain.output and "Traceback" in debug.output
    r = runner.invoke(app, ["generate", str(tmp_path / "g"), "--triples", "1000", "--quiet"])
    assert r.exit_code == 0 and r.output == ""
    r = runner.invoke(app, ["--debug", "inspect", missing, "--quiet"])  # one before, one after
    assert r.exit_code == 3 and "Traceback" in r.output


def test_help_has_readable_metavars_and_one_way_of_defaults():
    for command in ("", "train", "predict", "export", "report", "ablate", "encode", "generate", "inspect", "query"):
        r = runner.invoke(app, [command, "--help"] if command else ["--help"], env={"COLUMNS": "200"})
        assert r.exit_code == 0
        assert "<list[str]>" not in r.output and "<str>" not in r.output and "<bool>" not in r.output
        assert "[default:" not in r.output
    r = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "MOD[,MOD...]" in r.output and "FILE" in r.output
    assert "(default: 10)" in runner.invoke(app, ["predict", "--help"], env={"COLUMNS": "200"}).output


def test_inspect_compacts_datatypes_and_predicates():
    r = runner.invoke(app, ["inspect", MUSEUM, "--no-cache"])
    assert r.exit_code == 0, r.output
    assert "xsd:gYear" in r.stdout and "kgb:base64Image" in r.stdout and "ex:movement" in r.stdout
    assert "http://www.w3" not in r.stdout
    full = json.loads(runner.invoke(app, ["inspect", MUSEUM, "--json", "--no-cache"]).stdout)
    assert "http://www.w3.org/2001/XMLSchema#gYear" in full["datatypes"]


def test_o_means_an_output_path_everywhere(cli_run, tmp_path):
    folder, _ = cli_run
    r = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "a.html")])
    assert r.exit_code == 0 and (tmp_path / "a.html").is_file()
    r = runner.invoke(app, ["report", str(folder), "--output", str(tmp_path / "b.html")])
    assert r.exit_code == 0 and (tmp_path / "b.html").is_file() and "deprecated" in r.output
    r = runner.invoke(app, ["export", str(folder), "-o", str(tmp_path / "exp"), "--output", "nt", "--json"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "exp").is_dir() and any(p.suffix == ".nt" for p in (tmp_path / "exp").iterdir())
    # the old meaning of export -o (formats) still works, with a note
    r = runner.invoke(app, ["export", str(folder), "-o", "ttl"])
    assert r.exit_code == 0, r.output
    assert "deprecated" in r.output and any(p.suffix == ".ttl" for p in (folder / "export").iterdir())


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_output_modes_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    from rdf2mm.io.atomic import atomic_dir, atomic_path, write_json

    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_path(tmp_path / "b.bin") as tmp:
            # a writer that replaces the file with a private one (as safetensors does)
            tmp.unlink()
            os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))
        with atomic_dir(tmp_path / "folder") as d:
            (d / "inner.txt").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == dir_mode


def test_run_directory_files_are_readable_by_others(cli_run):
    from rdf2mm.io.atomic import current_umask

    folder, _ = cli_run
    if current_umask() & 0o044:  # the test process's umask hides files from others anyway
        pytest.skip("umask removes read permission for others")
    for path in [folder, *folder.iterdir()]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o044 == 0o044, f"{path.name}: {oct(mode)}"
