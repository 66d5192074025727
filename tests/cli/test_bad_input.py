"""Bad input through the CLI: a documented exit code, a one-line message, no traceback,
nothing written. Each case is a small file made here (the corpus is generated, not shipped,
so it cannot go stale)."""
from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import pytest
from PIL import Image
from typer.testing import CliRunner

from rdf2mm.cli import app

runner = CliRunner()
XSD = "http://www.w3.org/2001/XMLSchema#"
GOOD = "<http://e/a> <http://e/p> <http://e/b> .\n<http://e/b> <http://e/p> <http://e/a> .\n"


def png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


# name -> (file content, exit code); content None means the file is not created
UNREADABLE = {
    "broken.nt": ('<http://e/a> <http://e/p> .\n', 3),
    "unterminated.nt": ('<http://e/a> <http://e/p> "open .\n', 3),
    "spaced_iri.nt": ('<http://e/a b> <http://e/p> <http://e/c> .\n', 3),
    "no_dot.nt": ('<http://e/a> <http://e/p> <http://e/c>\n', 3),
    "broken.ttl": ('@prefix ex: <http://e/> .\nex:a ex:p ex:b ;; .\nex:c ex:p\n', 3),
    "undeclared_prefix.ttl": ('ex:a ex:p ex:b .\n', 3),
    "broken.rdf": ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>', 3),
    "bomb.rdf": ('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
                 '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', 3),
    "external.rdf": ('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                     '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', 3),
    "broken.jsonld": ('{"@context": ', 3),
    "broken.nq": ('<http://e/a> <http://e/p> <http://e/b> <http://e/g> <http://e/h> .\n', 3),
    "unknown.xyz": (GOOD, 3),
    "missing.ttl": (None, 3),
    "not_gzip.nt.gz": (GOOD, 3),
    "binary.nt": ("\x00\x01\x02\xff garbage", 3),
    "latin1.nt": ('<http://e/a> <http://e/p> "caf\xe9" .\n'.encode("latin-1").decode("latin-1"), 3),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_input(tmp_path, name):
    content, code = UNREADABLE[name]
    path = tmp_path / name
    if content is not None:
        data = content.encode("latin-1") if name == "latin1.nt" else content.encode("utf-8", "surrogateescape")
        path.write_bytes(data)
    out = tmp_path / "run"
    for args in (["inspect", str(path)], ["train", str(path), "--target", "http://e/p", "--out", str(out)]):
        result = runner.invoke(app, args)
        assert result.exit_code == code, (args, result.output)
        assert "Traceback" not in result.output
        lines = [l for l in result.output.splitlines() if l.startswith("error:")]
        assert len(lines) == 1, result.output
        assert name.split(".")[0] in lines[0] or "no input" in lines[0]
    assert not out.exists()


def labelled_graph(extra: str = "") -> str:
    lines = [f"<http://e/i{i}> <http://e/cls> <http://e/c{i % 2}> .\n<http://e/i{i}> <http://e/near> <http://e/i{(i + 1) % 12}> ."
             for i in range(12)]
    return "\n".join(lines) + "\n" + extra


ILL_TYPED = {
    "impossible_date": f'"1990-02-30"^^<{XSD}date>',
    "month_13": f'"2021-13-01"^^<{XSD}date>',
    "not_a_number": f'"abc"^^<{XSD}integer>',
    "nan": f'"NaN"^^<{XSD}double>',
    "inf": f'"INF"^^<{XSD}double>',
    "overflow_byte": f'"300"^^<{XSD}byte>',
    "bad_boolean": f'"yes"^^<{XSD}boolean>',
    "bad_base64": '"%%%not base64%%%"^^<http://kgbench.info/dt#base64Image>',
    "not_an_image": f'"{base64.b64encode(b"hello world, not an image").decode()}"^^<http://kgbench.info/dt#base64Image>',
    "truncated_image": f'"{base64.b64encode(png(8, 8)[:40]).decode()}"^^<http://kgbench.info/dt#base64Image>',
    "invalid_wkt": '"POLYGON((0 0, 1 1"^^<http://www.opengis.net/ont/geosparql#wktLiteral>',
    "empty_wkt": '"POINT EMPTY"^^<http://www.opengis.net/ont/geosparql#wktLiteral>',
    "bad_time": f'"25:61:00"^^<{XSD}time>',
}


@pytest.mark.parametrize("name", sorted(ILL_TYPED))
def test_ill_typed_literals_are_skipped_counted_and_training_goes_on(tmp_path, name):
    g = tmp_path / "g.nt"
    g.write_text(labelled_graph(f"<http://e/i0> <http://e/{name}> {ILL_TYPED[name]} .\n"))
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
