"""Run folders and checkpoints are untrusted input: every field is checked before use, and
``--resume`` continues only the run it checkpointed, on the same inputs (issue 20,
findings 4, 6 and 7)."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from rdf2mm.runs.checkpoint import checkpoint_folder
from rdf2mm.cli import app
from rdf2mm.config import TrainConfig
from rdf2mm.pipeline import train
from tests.cli.bad_input.make_corpus import labelled_graph

runner = CliRunner()
TARGET = "http://e/cls"


def refused(result, code, *words):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small trained node-classification run (with unlabelled candidates to predict)."""
    root = tmp_path_factory.mktemp("tampered")
    g = root / "g.nt"
    extra = "".join(f"<http://e/u{i}> <http://e/near> <http://e/i{i}> .\n" for i in range(3))
    types = "".join(f"<http://e/{n}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://e/Item> .\n"
                    for n in [*(f"i{i}" for i in range(12)), "u0", "u1", "u2"])
    g.write_text(labelled_graph(extra + types))
    out = root / "run"
    result = runner.invoke(app, ["--quiet", "train", str(g), "--target", TARGET, "--epochs", "3",
                                 "--aggregation", "sum", "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["predict", str(out), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["predictions"], result.output
    return out


def copy(run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


def edit_json(path, change):
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


TAMPERING = {
    "metrics_not_an_object": lambda d: (d / "metrics.json").write_text("[1, 2, 3]"),
    "metrics_not_json": lambda d: (d / "metrics.json").write_text("{not json"),
    "class_names_not_strings": lambda d: edit_json(d / "model.json", lambda m: {**m, "class_names": [1, {"a": 2}]}),
    "class_names_not_a_list": lambda d: edit_json(d / "model.json", lambda m: {**m, "class_names": "c0"}),
    "duplicate_class_names": lambda d: edit_json(d / "model.json", lambda m: {**m, "class_names": ["c", "c"]}),
    "model_json_a_list": lambda d: (d / "model.json").write_text("[]"),
    "config_wrong_type": lambda d: edit_json(d / "config.json", lambda c: {**c, "hidden": "wide"}),
    "config_out_of_range": lambda d: edit_json(d / "config.json", lambda c: {**c, "layers": 0}),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampered_run_files_are_refused_by_predict(run, tmp_path, name):
    folder = copy(run, tmp_path)
    TAMPERING[name](folder)
    refused(runner.invoke(app, ["predict", str(folder), "--json"]), 3)


def test_metrics_that_are_not_an_object_are_refused_by_export_and_report(run, tmp_path):
    folder = copy(run, tmp_path)
    TAMPERING["metrics_not_an_object"](folder)
    for args in (["export", str(folder), "--out", str(tmp_path / "exp")], ["report", str(folder)]):
        refused(runner.invoke(app, args), 3, "metrics.json")
    assert not (tmp_path / "exp").exists()


def test_huge_shape_in_config_is_refused_before_any_allocation(run, tmp_path, monkeypatch):
    folder = copy(run, tmp_path)
    edit_json(folder / "config.json", lambda c: {**c, "embed_dim": 10**11})
    import rdf2mm.tasks.prediction

    def must_not_build(*_a, **_k):
        raise AssertionError("a model was built around a tampered size")

    monkeypatch.setattr(rdf2mm.tasks.prediction, "build_classifier", must_not_build)
    refused(runner.invoke(app, ["predict", str(folder)]), 3, "embed_dim", "does not match")


def test_bit_flip_in_the_safetensors_header_is_a_corrupt_file(run, tmp_path):
    folder = copy(run, tmp_path)
    raw = bytearray((folder / "model.safetensors").read_bytes())
    i = raw.find(b"features.entity.weight")
    raw[i + 3] ^= 0x01  # a name the model does not have
    (folder / "model.safetensors").write_bytes(bytes(raw))
    line = refused(runner.invoke(app, ["predict", str(folder)]), 3, "corrupt")
    assert "literals differ" not in line
    raw[8] ^= 0x40  # the header's JSON itself
    (folder / "model.safetensors").write_bytes(bytes(raw))
    refused(runner.invoke(app, ["predict", str(folder)]), 3, "model.safetensors")


def test_all_nan_weights_are_refused_not_predicted_with_confidence(run, tmp_path):
    folder = copy(run, tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()},
              str(folder / "model.safetensors"))
    refused(runner.invoke(app, ["predict", str(folder), "--json"]), 3, "NaN")


def test_export_base_iri_with_a_space_is_a_usage_error(run, tmp_path):
    folder = copy(run, tmp_path)
    refused(runner.invoke(app, ["export", str(folder), "--base", "http://example.org/my results"]), 2, "--base")
    refused(runner.invoke(app, ["export", str(folder), "--base", "results"]), 2, "--base")
    assert not (folder / "export").exists()


# ------------------------------------------------------------------ resume
class Interrupt(KeyboardInterrupt):
    pass


def interrupted(tmp_path, graph_text=None, name="run", epochs=8):
    """A run stopped (Ctrl-C) after its epoch-4 checkpoint; returns (graph, out)."""
    g = tmp_path / "g.nt"
    if not g.exists():
        g.write_text(graph_text or labelled_graph())
    out = tmp_path / name

    def stop(stage, info):
        if stage == "epoch" and info["epoch"] == 5:
            raise Interrupt()

    cfg = TrainConfig(graph=[str(g)], target=TARGET, epochs=epochs, patience=100, aggregation="sum",
                      checkpoint_every=2, device="cpu", out=str(out))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, stop)
    assert (checkpoint_folder(out) / "seed-0" / "progress" / "progress.json").is_file()
    return g, out


def resume_cli(out):
    return runner.invoke(app, ["--quiet", "train", "--resume", str(out), "--json"])


def test_resume_refuses_a_graph_that_changed_with_the_same_shapes(tmp_path):
    g, out = interrupted(tmp_path)
    g.write_text(g.read_text().replace("<http://e/i0> <http://e/near> <http://e/i1>",
                                       "<http://e/i0> <http://e/near> <http://e/i5>"))
    refused(resume_cli(out), 4, "input changed", "data_fingerprint")
    assert not out.exists()


def test_resume_refuses_a_graph_of_another_shape_without_a_size_mismatch_traceback(tmp_path):
    g, out = interrupted(tmp_path)
    g.write_text(g.read_text() + "<http://e/new> <http://e/near> <http://e/i1> .\n")
    line = refused(resume_cli(out), 4, "input changed")
    assert "size mismatch" not in line


def test_resume_continues_exactly_the_folder_named(tmp_path):
    _, out = interrupted(tmp_path)
    moved = tmp_path / "moved"
    checkpoint_folder(out).rename(checkpoint_folder(moved))
    result = resume_cli(moved)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_dir"] == str(moved)
    assert (moved / "metrics.json").is_file() and not out.exists()
    assert not checkpoint_folder(moved).exists()


def _progress(out):
    return checkpoint_folder(out) / "seed-0" / "progress"


CHECKPOINT_TAMPERING = {
    "progress_not_json": (lambda out: (_progress(out) / "progress.json").write_text("{"), 3),
    "progress_a_list": (lambda out: (_progress(out) / "progress.json").write_text("[]"), 3),
    "absurd_epoch": (lambda out: edit_json(_progress(out) / "progress.json", lambda p: {**p, "epoch": 10**9}), 3),
    "epoch_a_string": (lambda out: edit_json(_progress(out) / "progress.json", lambda p: {**p, "epoch": "4"}), 3),
    "counters_missing": (lambda out: edit_json(_progress(out) / "progress.json",
                                               lambda p: {k: v for k, v in p.items() if k != "counters"}), 3),
    "config_a_list": (lambda out: (checkpoint_folder(out) / "config.json").write_text("[]"), 3),
    "config_wrong_type": (lambda out: edit_json(checkpoint_folder(out) / "config.json",
                                                lambda c: {**c, "epochs": "many"}), 3),
    "config_out_of_range": (lambda out: edit_json(checkpoint_folder(out) / "config.json",
                                                  lambda c: {**c, "lr": -1.0}), 3),
    "weights_reshaped": (lambda out: _reshape_first_weight(_progress(out) / "state.safetensors"), 4),
    "weights_garbage": (lambda out: (_progress(out) / "state.safetensors").write_bytes(b"\x08" + b"\0" * 20), 3),
    "inputs_record_missing": (lambda out: (checkpoint_folder(out) / "inputs.json").unlink(), 4),
}


def _reshape_first_weight(path):
    state = load_file(str(path))
    key = next(k for k in sorted(state) if k.startswith("model.") and state[k].dim() == 2)
    state[key] = torch.zeros(state[key].shape[0] + 1, state[key].shape[1])
    save_file(state, str(path))


@pytest.mark.parametrize("name", sorted(CHECKPOINT_TAMPERING))
def test_tampered_checkpoint_is_refused_with_a_reason(tmp_path, name):
    tamper, code = CHECKPOINT_TAMPERING[name]
    _, out = interrupted(tmp_path)
    tamper(out)
    refused(resume_cli(out), code)
    assert not out.exists()  # never a fake "finished" run
