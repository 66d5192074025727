"""`rdf2mm train --target` on targets that cannot be learned: exit 4 with a message, or a warning."""
from __future__ import annotations

from typer.testing import CliRunner

from rdf2mm.cli import app
from tests.conftest import EXAMPLES

runner = CliRunner()
MUSEUM = str(EXAMPLES / "museum.ttl")
EX = "http://example.org/museum#"


def _train(*args: str, out) -> object:
    return runner.invoke(app, ["train", *args, "--device", "cpu", "--epochs", "2", "--no-cache", "--out", str(out)])


def test_literal_valued_target_exits_4_and_writes_nothing(tmp_path):
    r = _train(MUSEUM, "--target", EX + "year", out=tmp_path / "run")
    assert r.exit_code == 4, r.output
    assert "literal objects" in r.output and "with a single entity" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "run").exists()


def test_one_member_class_exits_4(tmp_path):
    lines = [f"<{EX}w{i}> <{EX}style> <{EX}s{i % 2}> .\n<{EX}w{i}> <{EX}next> <{EX}w{(i + 1) % 12}> ." for i in range(12)]
    lines.append(f"<{EX}w12> <{EX}style> <{EX}lonely> .\n<{EX}w12> <{EX}next> <{EX}w0> .")
    (tmp_path / "g.nt").write_text("\n".join(lines) + "\n")
    r = _train(str(tmp_path / "g.nt"), "--target", EX + "style", out=tmp_path / "run")
    assert r.exit_code == 4, r.output
    assert f"1 of the 3 classes of <{EX}style> have a single entity (<{EX}lonely>)" in r.output


def test_misspelled_target_suggests_the_predicate(tmp_path):
    r = _train(MUSEUM, "--target", EX + "movment", out=tmp_path / "run")
    assert r.exit_code == 4, r.output
    assert f"did you mean <{EX}movement>" in r.output


def test_tiny_splits_train_with_a_warning_naming_the_sizes(tmp_path):
    lines = [f"<{EX}w{i}> <{EX}style> <{EX}s{i % 2}> .\n<{EX}w{i}> <{EX}next> <{EX}w{(i + 1) % 8}> ." for i in range(8)]
    (tmp_path / "g.nt").write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["--quiet", "train", str(tmp_path / "g.nt"), "--target", EX + "style", "--device", "cpu",
                            "--epochs", "2", "--no-cache", "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    # --quiet keeps warnings: they are about the results
    assert "warning: the test split has only 2 entities (train 4, valid 2, test 2 labelled entities)" in r.output
