"""Label and split files go through the graph's reader (rdf2mm.io.formats + rdf2mm.io.read):
every compression a graph may have works for them too, with the same ``file:line`` errors."""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.errors import ExitCode, InputError
from rdf2mm.tasks.labels import read_label_file

runner = CliRunner()
COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}
E = "http://e/"


def _graph() -> str:
    lines = []
    for i in range(24):
        lines.append(f"<{E}i{i}> <{E}cls> <{E}c{i % 2}> .")
        lines.append(f"<{E}i{i}> <{E}near> <{E}i{(i + 1) % 24}> .")
        lines.append(f"<{E}i{i}> <{E}knows> <{E}i{(i * 5 + 3) % 24}> .")
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, ext: str | None) -> Path:
    if ext is None:
        path.write_text(text)
        return path
    target = path.with_name(f"{path.name}.{ext}")
    target.write_bytes(COMPRESS[ext](text.encode()))
    return target


def _figures(run: Path) -> dict:
    """The metrics that a seeded run reproduces (no timings)."""
    metrics = json.loads((run / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if isinstance(v, float) and "seconds" not in k}


def _label_rows(ids: range) -> str:
    return "entity\tclass\n" + "".join(f"{E}i{i}\tc{i % 2}\n" for i in ids)


@pytest.mark.parametrize("ext", ["gz", "bz2", "xz"])
def test_compressed_label_files_train_like_plain_ones(tmp_path, ext):
    g = tmp_path / "g.nt"
    g.write_text(_graph())
    figures = []
    for comp in (None, ext):
        d = tmp_path / (comp or "plain")
        d.mkdir()
        files = [_write(d / f"{n}.tsv", _label_rows(ids), comp)
                 for n, ids in (("train", range(0, 12)), ("valid", range(12, 18)), ("test", range(18, 24)))]
        out = d / "run"
        result = runner.invoke(app, ["--quiet", "train", str(g), "--train", str(files[0]), "--valid", str(files[1]),
                                     "--test", str(files[2]), "--epochs", "3", "--seed", "1", "--out", str(out)])
        assert result.exit_code == 0, result.output
        figures.append(_figures(out))
    assert figures[0] == figures[1] and figures[0]


@pytest.mark.parametrize("ext", ["gz", "bz2", "xz"])
def test_compressed_rdf_label_file_reads_like_plain(tmp_path, ext):
    text = "".join(f"<{E}i{i}> <{E}cls> <{E}c{i % 2}> .\n" for i in range(6))
    plain = read_label_file(_write(tmp_path / "l.nt", text, None))
    assert read_label_file(_write(tmp_path / "l.nt", text, ext)) == plain and len(plain[0]) == 6


@pytest.mark.parametrize("ext", ["gz", "bz2", "xz"])
def test_compressed_split_files_train_like_plain_ones(tmp_path, ext):
    g = tmp_path / "g.nt"
    g.write_text(_graph())
    held = [f"<{E}i{i}> <{E}knows> <{E}i{(i * 5 + 3) % 24}> .\n" for i in range(24)]
    figures = []
    for comp in (None, ext):
        d = tmp_path / (comp or "plain")
        d.mkdir()
        train = _write(d / "train.nt", "".join(held[:16]), comp)
        valid = _write(d / "valid.nt", "".join(held[16:20]), comp)
        test = _write(d / "test.nt", "".join(held[20:]), comp)
        out = d / "run"
        result = runner.invoke(app, ["--quiet", "train", str(g), "--task", "link-prediction", "--train", str(train),
                                     "--valid", str(valid), "--test", str(test), "--epochs", "2", "--seed", "1",
                                     "--out", str(out)])
        assert result.exit_code == 0, result.output
        figures.append(_figures(out))
    assert figures[0] == figures[1] and figures[0]


@pytest.mark.parametrize("ext", ["gz", "bz2", "xz"])
def test_malformed_line_in_compressed_split_file_names_file_and_line(tmp_path, ext):
    g = tmp_path / "g.nt"
    g.write_text(_graph())
    good = f"<{E}i0> <{E}knows> <{E}i3> .\n"
    test = _write(tmp_path / "test.nt", good + good + f"<{E}i1> <{E}knows> oops .\n", ext)
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(g), "--task", "link-prediction", "--test", str(test),
                                 "--epochs", "1", "--out", str(out)])
    assert result.exit_code == ExitCode.INPUT, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{test}:3" in errors[0], result.output
    assert not out.exists()


@pytest.mark.parametrize("ext", ["gz", "bz2", "xz"])
def test_malformed_row_in_compressed_label_table_names_file_and_line(tmp_path, ext):
    path = _write(tmp_path / "train.tsv", "# a comment\n\nhttp://e/i0\tc0\nhttp://e/i1\n", ext)
    with pytest.raises(InputError, match=rf"{path.name}:4: expected two columns"):
        read_label_file(path)


def test_unknown_label_and_split_file_types_are_input_errors(tmp_path):
    from rdf2mm.tasks.lp_splits import read_triples

    odd = tmp_path / "labels.parquet.gz"
    odd.write_bytes(gzip.compress(b"x"))
    with pytest.raises(InputError, match="unknown label file type"):
        read_label_file(odd)
    with pytest.raises(InputError, match="unknown triple file type"):
        read_triples(odd, None)  # type: ignore[arg-type]  # refused before the graph is used


@pytest.mark.parametrize("ext", ["gz", "bz2", "xz"])
def test_read_triples_reports_file_and_line_of_a_compressed_split(tmp_path, ext):
    """The CLI reads split files into the graph first (which reports the line); read_triples,
    used on its own, says the same."""
    from rdf2mm.graph.ingest import read_graph
    from rdf2mm.tasks.lp_splits import read_triples

    g = tmp_path / "g.nt"
    g.write_text(_graph())
    kg, _ = read_graph([g], cache=False)
    good = f"<{E}i0> <{E}knows> <{E}i3> .\n"
    path = _write(tmp_path / "test.nt", good + good + f"<{E}i1> <{E}knows> oops .\n", ext)
    with pytest.raises(InputError, match=rf"{path.name}:3:\d+: syntax error") as info:
        read_triples(path, kg)
    assert info.value.exit_code == ExitCode.INPUT
    e, _, counts = read_triples(_write(tmp_path / "ok.nt", good, ext), kg)
    assert counts["read"] == 1 and len(e) == 1
