"""Every literal KGE model (``--model literale|vlkge|ikrl|mose|momok``) through the CLI on a
planted link-prediction graph: it trains and beats random ranking, its run directory is
written (weights saved once each), and ``predict`` and ``export`` work on it."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.models.registry import LITERAL_KGE_MODELS
from rdf2mm.synthetic.lp_planted import generate_planted_lp

runner = CliRunner()
EX = "http://example.org/rdf2mm/synth#"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return generate_planted_lp(tmp_path_factory.mktemp("lp"), entities=300, plant="numeric", missing=0.2,
                               modalities="numeric", seed=2)


@pytest.mark.parametrize("model", LITERAL_KGE_MODELS)
def test_a_literal_model_trains_predicts_and_exports_from_the_cli(model, planted, tmp_path):
    lp = planted.out_dir / "lp"
    run = tmp_path / "run"
    r = runner.invoke(app, ["--quiet", "train", str(lp / "train.nt"), "--task", "link-prediction",
                            "--train", str(lp / "train.nt"), "--valid", str(lp / "valid.nt"),
                            "--test", str(lp / "test.nt"), "--model", model, "--embed-dim", "16",
                            "--batch-size", "512", "--epochs", "25", "--threads", "1", "--device", "cpu",
                            "--out", str(run), "--json"])
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)
    assert metrics["test_mrr"] > 3 * metrics["test_mrr_random"], metrics
    assert json.loads((run / "config.json").read_text())["model"] == model
    p = runner.invoke(app, ["--quiet", "predict", str(run), "--head", EX + "item_1", "--relation", EX + "hasCategory",
                            "--top", "3", "--json"])
    assert p.exit_code == 0, p.output
    top = [c["iri"] for c in json.loads(p.stdout)["candidates"]]
    assert len(top) == 3 and all(iri.startswith(EX + "category_") for iri in top)
    e = runner.invoke(app, ["--quiet", "export", str(run), "--output", "parquet", "--out", str(tmp_path / "x"), "--json"])
    assert e.exit_code == 0, e.output
