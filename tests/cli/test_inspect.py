"""`rdf2mm inspect`: counts per modality and datatype, ill-typed and non-standard literals."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from rdf2mm.cli import app
from tests.conftest import EXAMPLES, shared

runner = CliRunner()
XSD = "http://www.w3.org/2001/XMLSchema#"


def inspect_json(*args: str) -> dict:
    result = runner.invoke(app, ["inspect", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_example_graph_counts_and_quirks():
    r = inspect_json(str(EXAMPLES / "museum.ttl"))
    mods = r["literals"]["by_modality"]
    for name in ("numeric", "temporal", "textual", "visual", "spatial", "boolean"):
        assert mods[name] > 0, name
    # the two quirks planted on purpose: an impossible date and a base64 literal that is no image
    assert r["ill_typed"]["by_datatype"] == {XSD + "date": 1, "http://kgbench.info/dt#base64Image": 1}
    assert r["datatypes"][XSD + "date"]["ill_typed_reasons"]
    assert r["triples"] == r["entity_triples"] + r["literal_triples"]


def test_human_output_is_tables():
    result = runner.invoke(app, ["inspect", str(EXAMPLES / "museum.ttl")])
    assert result.exit_code == 0
    assert "Literals per modality" in result.stdout and "temporal" in result.stdout


def test_aifbplus_counts():
    r = inspect_json(str(shared("aifbplus", "aifbplus.nt.gz")))
    assert r["triples"] == 29043
    mods = r["literals"]["by_modality"]
    assert (mods["textual"], mods["temporal"], mods["numeric"]) == (7363, 1227, 115)


def test_synth_nc_nine_datatypes_and_short_years():
    r = inspect_json(str(shared("synth-nc", "context.nt.gz")))
    assert len(r["datatypes"]) == 9
    assert r["literals"]["by_modality"]["visual"] == 234 and r["literals"]["by_modality"]["spatial"] == 224
    # gYears with fewer than four digits: not canonical XSD, accepted and encoded, reported
    assert r["accepted_nonstandard"]["by_datatype"] == {XSD + "gYear": 120}


def test_missing_file_exit_code():
    result = runner.invoke(app, ["inspect", "/nonexistent/graph.ttl"])
    assert result.exit_code == 3
    assert "error:" in result.output and "Traceback" not in result.output
