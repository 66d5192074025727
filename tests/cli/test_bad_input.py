"""Bad input through the CLI: a documented exit code, a one-line message, no traceback,
nothing written. The corpus is the files in tests/cli/bad_input/ (written by its
make_corpus.py), plus label and option mistakes made here."""
from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from tests.cli.bad_input.make_corpus import HERE as CORPUS
from tests.cli.bad_input.make_corpus import ILL_TYPED, UNREADABLE, labelled_graph, png

runner = CliRunner()
UNREADABLE_FILES = sorted((CORPUS / "unreadable").iterdir())
ILL_TYPED_FILES = sorted((CORPUS / "ill_typed").iterdir())


def test_corpus_is_complete():
    """The shipped files are exactly what make_corpus writes (regenerate with it)."""
    assert len(UNREADABLE_FILES) + len(ILL_TYPED_FILES) >= 30
    assert {p.name for p in UNREADABLE_FILES} == {n for n, (c, _) in UNREADABLE.items() if c is not None}
    assert {p.stem for p in ILL_TYPED_FILES} == set(ILL_TYPED)


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_input(tmp_path, name):
    _content, code = UNREADABLE[name]
    path = CORPUS / "unreadable" / name  # missing.ttl is absent on purpose
    out = tmp_path / "run"
    for args in (["inspect", str(path)], ["train", str(path), "--target", "http://e/p", "--out", str(out)]):
        result = runner.invoke(app, args)
        assert result.exit_code == code, (args, result.output)
        assert "Traceback" not in result.output
        lines = [l for l in result.output.splitlines() if l.startswith("error:")]
        assert len(lines) == 1, result.output
        assert name.split(".")[0] in lines[0] or "no input" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("name", sorted(ILL_TYPED))
def test_ill_typed_literals_are_skipped_counted_and_training_goes_on(tmp_path, name):
    g = CORPUS / "ill_typed" / f"{name}.nt"
    result = runner.invoke(app, ["inspect", str(g), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ill_typed"]["total"] == 1, report["ill_typed"]
    out = tmp_path / "run"
    result = runner.invoke(app, ["--quiet", "train", str(g), "--target", "http://e/cls", "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "metrics.json").exists()


DATA_ERRORS = {
    "absent_target": (["--target", "http://e/nothing"], 4),
    "one_class": (["--train", "{one}"], 4),
    "unknown_nodes": (["--train", "{unknown}"], 4),
    "empty_labels": (["--train", "{empty}"], 4),
    "target_and_files": (["--target", "http://e/cls", "--train", "{one}"], 2),
    "no_labels": ([], 2),
    "bad_modality": (["--target", "http://e/cls", "--modalities", "smell"], 2),
    "bad_literals": (["--target", "http://e/cls", "--literals", "sometimes"], 2),
    "cuda_absent": (["--target", "http://e/cls", "--device", "cuda"], 6),
    "bad_entity_dropout": (["--target", "http://e/cls", "--entity-dropout", "1.5"], 2),
    "bad_batching": (["--target", "http://e/cls", "--batching", "sometimes"], 2),
    "bad_fanout": (["--target", "http://e/cls", "--fanout", "ten"], 2),
    "bad_aggregation": (["--target", "http://e/cls", "--aggregation", "max"], 2),
    "auto_aggregation_for_lp": (["--task", "link-prediction", "--aggregation", "auto"], 2),
    # issue 20, finding 6/7: ordinary mistakes, not internal errors
    "lr_nan": (["--target", "http://e/cls", "--lr", "nan"], 2),
    "lr_inf": (["--target", "http://e/cls", "--lr", "inf"], 2),
    "lr_overflowing_float32": (["--target", "http://e/cls", "--lr", "1e38"], 2),
    "negative_weight_decay": (["--target", "http://e/cls", "--weight-decay", "-5"], 2),
    "zero_blocks": (["--target", "http://e/cls", "--blocks", "0"], 2),
    "negative_seed": (["--target", "http://e/cls", "--seed", "-1"], 2),
}


@pytest.mark.parametrize("name", sorted(DATA_ERRORS))
def test_unusable_labels_and_options(tmp_path, name):
    import torch

    if name == "cuda_absent" and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    g = tmp_path / "g.nt"
    g.write_text(labelled_graph())
    files = {
        "one": ("one.tsv", "http://e/i0\tc0\nhttp://e/i1\tc0\n"),
        "unknown": ("unknown.tsv", "http://x/a\tc0\nhttp://x/b\tc1\n"),
        "empty": ("empty.tsv", ""),
    }
    for key, (fname, content) in files.items():
        (tmp_path / fname).write_text(content)
    args, code = DATA_ERRORS[name]
    args = [a.format(**{k: str(tmp_path / f) for k, (f, _) in files.items()}) for a in args]
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(g), *args, "--epochs", "2", "--out", str(out)])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_empty_graph_is_refused_for_training(tmp_path):
    g = tmp_path / "empty.ttl"
    g.write_text("@prefix ex: <http://e/> .\n")
    result = runner.invoke(app, ["train", str(g), "--target", "http://e/cls", "--out", str(tmp_path / "run")])
    assert result.exit_code == 3 and "empty" in result.output
    assert not (tmp_path / "run").exists()


def test_failed_run_without_out_leaves_no_runs_folder(tmp_path, monkeypatch):
    """The default run directory is claimed before the run; a refused run removes it and
    the runs/ folder the claim created, but never a runs/ folder that was already there."""
    g = tmp_path / "empty.ttl"
    g.write_text("@prefix ex: <http://e/> .\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", str(g), "--target", "http://e/cls"])
    assert result.exit_code == 3
    assert not (tmp_path / "runs").exists()
    (tmp_path / "runs").mkdir()
    result = runner.invoke(app, ["train", str(g), "--target", "http://e/cls"])
    assert result.exit_code == 3
    assert (tmp_path / "runs").is_dir() and not any((tmp_path / "runs").iterdir())


def test_decompression_bomb_image_is_skipped_not_decoded(tmp_path):
    """A real PNG whose header claims 30000 x 30000 pixels: refused from the header alone."""
    raw = png(1, 1)
    chunk = b"IHDR" + struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    raw = raw[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + raw[33:]
    lit = f'"{base64.b64encode(raw).decode()}"^^<http://kgbench.info/dt#base64Image>'
    g = tmp_path / "g.nt"
    g.write_text(labelled_graph(f"<http://e/i0> <http://e/img> {lit} .\n"))
    result = runner.invoke(app, ["inspect", str(g), "--json"])
    assert result.exit_code == 0
    dt = json.loads(result.stdout)["datatypes"]["http://kgbench.info/dt#base64Image"]
    assert dt["ill_typed"] == 1 and "too large" in dt["ill_typed_reasons"]


def test_sparql_endpoint_down(tmp_path):
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", f"http://127.0.0.1:{port}/sparql", "--target", "http://e/p", "--out", str(out)])
    assert result.exit_code == 5, result.output
    assert "connection refused" in result.output and "Traceback" not in result.output
    assert not out.exists()


def _no_traceback(result, code):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1, result.output


@pytest.mark.parametrize("body", [
    'epochs = "ten"', "patience = 1.5", 'lr = "fast"', "inverse = 1", "fanout = [1.5]", "[train]\nseeds = true",
    'split = ["a", "b", "c"]',
])
def test_config_file_with_wrong_types(tmp_path, body):
    g = tmp_path / "g.nt"
    g.write_text(labelled_graph())
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'target = "http://e/cls"\n{body}\n')
    result = runner.invoke(app, ["train", str(g), "--config", str(cfg), "--out", str(tmp_path / "run")])
    _no_traceback(result, 2)
    assert str(cfg) in result.output
    assert not (tmp_path / "run").exists()


def test_memory_limit_that_is_not_a_size(tmp_path, monkeypatch):
    g = tmp_path / "g.nt"
    g.write_text(labelled_graph())
    monkeypatch.setenv("RDF2MM_MEMORY_LIMIT", "lots")
    result = runner.invoke(app, ["train", str(g), "--target", "http://e/cls", "--out", str(tmp_path / "run")])
    _no_traceback(result, 2)
    assert "RDF2MM_MEMORY_LIMIT" in result.output and not (tmp_path / "run").exists()


def test_out_of_memory_advice_names_a_valid_batching_value(tmp_path, monkeypatch):
    import rdf2mm.pipeline

    def out_of_memory(*_a, **_k):
        raise MemoryError

    monkeypatch.setattr(rdf2mm.pipeline, "train_node_classification", out_of_memory)
    g = tmp_path / "g.nt"
    g.write_text(labelled_graph())
    result = runner.invoke(app, ["train", str(g), "--target", "http://e/cls", "--out", str(tmp_path / "run")])
    _no_traceback(result, 6)
    advised = __import__("re").findall(r"--batching (\w+)", result.output)
    assert advised == ["mini"], result.output


def test_diverging_training_is_not_written_as_a_success(tmp_path, monkeypatch):
    import torch.nn.functional as F

    g = tmp_path / "g.nt"
    g.write_text(labelled_graph())
    real = F.cross_entropy
    monkeypatch.setattr(F, "cross_entropy", lambda *a, **k: real(*a, **k) * float("nan"))
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(g), "--target", "http://e/cls", "--epochs", "3", "--aggregation", "sum",
                                 "--checkpoint-every", "1", "--out", str(out)])
    _no_traceback(result, 4)
    assert "diverged" in result.output
    assert not out.exists() and not (tmp_path / "run.checkpoint").exists()


def test_json_output_is_valid_json_even_for_non_finite_numbers(capsys):
    from rdf2mm.cli.app import print_json

    def refuse(token):
        raise AssertionError(f"{token} is not JSON")

    print_json({"loss": float("nan"), "per_seed": [{"x": float("inf")}, {"y": -float("inf")}], "ok": 1.5})
    assert json.loads(capsys.readouterr().out, parse_constant=refuse) == {
        "loss": None, "per_seed": [{"x": None}, {"y": None}], "ok": 1.5}


def test_label_file_with_a_byte_order_mark_and_crlf_keeps_every_label(tmp_path):
    g = tmp_path / "g.nt"
    g.write_text(labelled_graph())
    rows = [f"http://e/i{i}\tc{i % 2}" for i in range(12)]
    for name, text in (("tsv", "\r\n".join(rows)), ("csv", "\r\n".join(r.replace("\t", ",") for r in rows))):
        path = tmp_path / f"train.{name}"
        path.write_bytes(b"\xef\xbb\xbf" + text.encode() + b"\r\n")
        from rdf2mm.tasks.labels import read_label_file

        pairs, _ = read_label_file(path)
        assert len(pairs) == 12 and pairs[0] == ("<http://e/i0>", "c0"), pairs[:2]
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b'\xef\xbb\xbftarget = "http://e/cls"\r\nepochs = 2\r\naggregation = "sum"\r\n')
    result = runner.invoke(app, ["--quiet", "train", str(g), "--config", str(cfg), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epochs"] == 2
    bom_graph = tmp_path / "bom.nt"
    bom_graph.write_bytes(b"\xef\xbb\xbf" + labelled_graph().replace("\n", "\r\n").encode())
    result = runner.invoke(app, ["inspect", str(bom_graph), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["triples"] == 24


def test_modality_map_and_query_file_with_a_byte_order_mark(tmp_path):
    import pyoxigraph as ox

    from rdf2mm.modalities.registry import ModalityMap

    mapping = tmp_path / "map.toml"
    mapping.write_bytes(b'\xef\xbb\xbf[datatypes]\r\n"http://e/dt" = "numeric"\r\n')
    assert ModalityMap.from_toml(mapping).modality_of("http://e/dt") == "numeric"
    store = tmp_path / "store"
    s = ox.Store(str(store))
    s.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("x")))
    del s
    rq = tmp_path / "q.rq"
    rq.write_bytes(b"\xef\xbb\xbfSELECT ?o WHERE {\r\n  ?s ?p ?o\r\n}\r\n")
    result = runner.invoke(app, ["query", str(store), f"@{rq}", "--json"])
    assert result.exit_code == 0, result.output
    assert "x" in result.stdout
