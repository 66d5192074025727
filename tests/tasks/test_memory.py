"""The memory estimate: grows with the work, and stops a run that would not fit."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.errors import ResourceError
from rdf2mm.graph.ingest import read_graph
from rdf2mm.tasks.inputs import prepare_inputs
from rdf2mm.tasks.memory import check_fits, estimate_training_memory, parse_size
from tests.conftest import EXAMPLES


def test_parse_size():
    assert parse_size("512M") == 512 << 20 and parse_size("2G") == 2 << 30 and parse_size("100") == 100
    assert parse_size("1.5GiB") == int(1.5 * (1 << 30))
    with pytest.raises(ValueError):
        parse_size("lots")


def test_estimate_grows_with_modalities_and_size():
    kg, _ = read_graph([EXAMPLES / "museum.ttl"])
    none = estimate_training_memory(prepare_inputs(kg, modalities="none"), 32, 32, 2, 3)
    allm = estimate_training_memory(prepare_inputs(kg, modalities="all"), 32, 32, 2, 3)
    wide = estimate_training_memory(prepare_inputs(kg, modalities="all"), 256, 256, 2, 3)
    assert 0 < none["total"] < allm["total"] < wide["total"]
    assert allm["encoders"] > 0 and none["encoders"] == 0
    with pytest.raises(ResourceError, match="GiB is available"):
        check_fits(allm, available=1000)
    check_fits(allm, available=1 << 40)


@pytest.mark.parametrize("batching", ["auto", "full", "mini"])
def test_run_that_does_not_fit_stops_with_advice(tmp_path, monkeypatch, batching):
    monkeypatch.setenv("RDF2MM_MEMORY_LIMIT", "1M")
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", str(EXAMPLES / "museum.ttl"), "--target", "http://example.org/museum#movement",
                                 "--device", "cpu", "--out", str(out), "--batching", batching])
    assert r.exit_code == 6, r.output
    assert "GiB is available" in r.output and "Traceback" not in r.output
    # full batch points to mini-batches; auto already tried them
    assert ("--batching mini" in r.output) == (batching == "full")
    assert ("mini-batch training needs" in r.output) == (batching != "full")
    assert not out.exists()
