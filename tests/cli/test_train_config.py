"""`rdf2mm train --config RUN_DIR/config.toml` reproduces a run; flags override the file."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from rdf2mm.cli import app
from tests.conftest import EXAMPLES

runner = CliRunner()
TARGET = "http://example.org/museum#movement"


def test_saved_config_reproduces_the_run(tmp_path):
    first = tmp_path / "first"
    r1 = runner.invoke(app, ["--quiet", "train", str(EXAMPLES / "museum.ttl"), "--target", TARGET,
                             "--epochs", "4", "--modalities", "numeric,temporal", "--device", "cpu",
                             "--out", str(first), "--json"])
    assert r1.exit_code == 0, r1.output
    second = tmp_path / "second"
    r2 = runner.invoke(app, ["--quiet", "train", "--config", str(first / "config.toml"), "--out", str(second), "--json"])
    assert r2.exit_code == 0, r2.output
    m1, m2 = json.loads(r1.stdout), json.loads(r2.stdout)
    for key in ("train_accuracy", "valid_accuracy", "test_accuracy"):
        assert m1[key] == m2[key], key
    c1 = json.loads((first / "config.json").read_text())
    c2 = json.loads((second / "config.json").read_text())
    assert {k: v for k, v in c1.items() if k != "out"} == {k: v for k, v in c2.items() if k != "out"}
    # a flag overrides the file
    third = tmp_path / "third"
    r3 = runner.invoke(app, ["--quiet", "train", "--config", str(first / "config.toml"), "--epochs", "2",
                             "--out", str(third), "--json"])
    assert r3.exit_code == 0, r3.output
    assert json.loads((third / "config.json").read_text())["epochs"] == 2


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = [\n")
    r = runner.invoke(app, ["train", "--config", str(bad)])
    assert r.exit_code == 3 and "invalid TOML" in r.output
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('graph = ["x.ttl"]\nlearning_rate = 0.1\n')
    r = runner.invoke(app, ["train", "--config", str(unknown)])
    assert r.exit_code == 2 and "learning_rate" in r.output
    r = runner.invoke(app, ["train", "--target", TARGET])
    assert r.exit_code == 2 and "no input graph" in r.output


def test_shuffle_literals_flag_reaches_the_run_and_its_config(tmp_path):
    # the flag, then the saved config.toml, give the shuffled run; the file's value alone does too
    plain, shuffled, again = tmp_path / "plain", tmp_path / "shuffled", tmp_path / "again"
    common = ["--target", TARGET, "--epochs", "3", "--modalities", "numeric,temporal", "--device", "cpu", "--json"]
    r0 = runner.invoke(app, ["--quiet", "train", str(EXAMPLES / "museum.ttl"), *common, "--out", str(plain)])
    r1 = runner.invoke(app, ["--quiet", "train", str(EXAMPLES / "museum.ttl"), *common, "--shuffle-literals",
                             "--out", str(shuffled)])
    assert r0.exit_code == 0 and r1.exit_code == 0, r0.output + r1.output
    assert json.loads((plain / "config.json").read_text())["shuffle_literals"] is False
    assert json.loads((shuffled / "config.json").read_text())["shuffle_literals"] is True
    assert "shuffle_literals = true" in (shuffled / "config.toml").read_text()
    r2 = runner.invoke(app, ["--quiet", "train", "--config", str(shuffled / "config.toml"), "--out", str(again), "--json"])
    assert r2.exit_code == 0, r2.output
    assert json.loads(r2.stdout)["test_accuracy"] == json.loads(r1.stdout)["test_accuracy"]
    assert json.loads((again / "config.json").read_text())["shuffle_literals"] is True
