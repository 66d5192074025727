"""``--deterministic``: CPU results bit-exact whatever the thread count (issue 20, finding 7)."""
from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.pipeline import train
from rdf2mm.synthetic import generate
from tests.conftest import label_config


def test_deterministic_runs_match_bit_for_bit_at_any_thread_count(tmp_path):
    ds = generate(tmp_path / "data", triples=1500, signal=("numeric",), seed=4)
    before = torch.get_num_threads()
    curves = []
    try:
        for threads in (2, 1, 2):
            torch.set_num_threads(threads)
            out = tmp_path / f"run-{len(curves)}"
            train(label_config(ds, epochs=8, aggregation="sum", deterministic=True, cache=False, out=str(out)))
            assert torch.get_num_threads() == threads  # the run's pinning is undone afterwards
            assert not torch.are_deterministic_algorithms_enabled()
            curves.append((out / "curve.csv").read_text())
            assert json.loads((out / "config.json").read_text())["deterministic"] is True
            assert json.loads((out / "provenance.json").read_text())["torch_threads"] == 1
    finally:
        torch.set_num_threads(before)
    assert curves[0] == curves[1] == curves[2]
    losses = [float(line.split(",")[3]) for line in curves[0].splitlines()[1:]]
    assert len(losses) == 8 and all(l == l for l in losses)  # a real curve, not NaN


def test_deterministic_is_a_train_option_stored_in_the_config(tmp_path):
    from tests.cli.bad_input.make_corpus import labelled_graph

    g = tmp_path / "g.nt"
    g.write_text(labelled_graph())
    runs = []
    for name in ("a", "b"):
        result = CliRunner().invoke(app, ["--quiet", "train", str(g), "--target", "http://e/cls", "--epochs", "4",
                                          "--deterministic", "--out", str(tmp_path / name), "--json"])
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout))
        assert json.loads((tmp_path / name / "config.json").read_text())["deterministic"] is True
    assert (tmp_path / "a" / "curve.csv").read_text() == (tmp_path / "b" / "curve.csv").read_text()
    assert {k: v for k, v in runs[0].items() if "seconds" not in k and k != "run_dir"} == \
        {k: v for k, v in runs[1].items() if "seconds" not in k and k != "run_dir"}
