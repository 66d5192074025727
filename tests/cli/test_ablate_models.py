"""``rdf2mm ablate --models a,b,c`` and ``rdf2mm tune --model`` on a tiny planted
link-prediction graph (the tails of ``hasCategory`` follow the items' numeric literal)."""
from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.synthetic.lp_planted import generate_planted_lp

runner = CliRunner()
FAST = ["--embed-dim", "16", "--batch-size", "512", "--threads", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return generate_planted_lp(tmp_path_factory.mktemp("lp"), entities=300, plant="numeric", missing=0.2,
                               modalities="numeric", seed=2)


def lp_args(planted) -> list[str]:
    lp = planted.out_dir / "lp"
    return [str(lp / "train.nt"), "--task", "link-prediction", "--train", str(lp / "train.nt"),
            "--valid", str(lp / "valid.nt"), "--test", str(lp / "test.nt")]


@pytest.fixture(scope="module")
def two_models(planted, tmp_path_factory):
    """literale and vlkge (both on distmult) over none, numeric and the shuffled control, 2 seeds."""
    tmp = tmp_path_factory.mktemp("ablate")
    out, csv_path = tmp / "runs", tmp / "ablation.csv"
    r = runner.invoke(app, ["ablate", *lp_args(planted), "--models", "literale,vlkge", *FAST, "--epochs", "25",
                            "--seeds", "2", "--out", str(out), "--csv", str(csv_path)],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    return r, out, csv_path


def test_two_models_share_one_structure_run_and_beat_it(two_models):
    r, out, _ = two_models
    summary = json.loads((out / "ablation.json").read_text())
    assert summary["models"] == ["literale", "vlkge"] and summary["control"] == "shuffled"
    cells = {(c["model"], c["config"]): c for c in summary["cells"]}
    assert set(cells) == {(m, row) for m in ("literale", "vlkge") for row in ("none", "numeric", "shuffled")}
    # the structure row of both is plain DistMult, trained once (one run directory, one "cell" line)
    for model in ("literale", "vlkge"):
        structure = cells[(model, "none")]
        assert (structure["trained_model"], structure["literals"]) == ("distmult", "none")
        assert structure["dir"] == "distmult-none" and structure["p_value"] is None
        assert cells[(model, "numeric")]["literals"] == "entity"
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "distmult-none", "literale-numeric", "literale-shuffled", "vlkge-numeric", "vlkge-shuffled"]
    assert r.output.count("distmult: structure only") == 1 and "[5/5]" in r.output
    for model in ("literale", "vlkge"):
        numeric = cells[(model, "numeric")]
        # the planted literal is what predicts the held-out tails
        assert numeric["test_mrr"] > cells[(model, "none")]["test_mrr"], (model, numeric)
        assert 0.0 <= numeric["p_value"] <= 1.0 and 0.0 <= numeric["p_value_shuffled"] <= 1.0
        assert cells[(model, "shuffled")]["p_value"] is not None
        assert cells[(model, "shuffled")]["p_value_shuffled"] is None
        metrics = json.loads((out / numeric["dir"] / "metrics.json").read_text())
        assert metrics["test_mrr"] == pytest.approx(numeric["test_mrr"])
        assert json.loads((out / numeric["dir"] / "config.json").read_text())["model"] == model


def test_the_table_csv_and_report_carry_the_model(two_models):
    from rdf2mm.report import build_report

    r, out, csv_path = two_models
    table = [line for line in r.output.splitlines() if "│" in line]
    assert any("literale" in line and "numeric" in line for line in table)
    # the table may fold a long name onto the next line
    row = next(i for i, line in enumerate(table) if "vlkge" in line and "structure only" in line)
    assert "(distmult)" in table[row] + table[row + 1]
    rows = list(csv.DictReader(csv_path.open()))
    assert [(row["model"], row["config"]) for row in rows] == [
        ("literale", "none"), ("literale", "numeric"), ("literale", "shuffled"),
        ("vlkge", "none"), ("vlkge", "numeric"), ("vlkge", "shuffled")]
    assert rows[1]["p_value"] and rows[1]["p_value_shuffled"]
    page = build_report(out)
    assert "ablation-literale-entity" in page and "ablation-vlkge-entity" in page
    assert "<th>model</th>" in page and "structure only (distmult)" in page


def test_json_output_names_the_model_of_every_cell(planted, tmp_path):
    # distmult alone: its one structure row, no test; --model is --models with one name
    r = runner.invoke(app, ["--quiet", "ablate", *lp_args(planted), "--model", "distmult", *FAST, "--epochs", "3",
                            "--seeds", "1", "--out", str(tmp_path / "runs"), "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["models"] == ["distmult"]
    assert [(c["model"], c["config"], c["literals"], c["dir"]) for c in result["cells"]] == [
        ("distmult", "none", "none", "distmult-none")]


@pytest.mark.parametrize("argv,message", [
    (["--models", "mrgcn,nosuchmodel"], "unknown model 'nosuchmodel'"),
    (["--models", " , "], "at least one model"),
    (["--models", "literale", "--model", "mrgcn"], "not both"),
])
def test_bad_models_are_refused_before_training(argv, message, planted, tmp_path):
    out = tmp_path / "runs"
    r = runner.invoke(app, ["ablate", *lp_args(planted), *argv, "--seeds", "1", "--epochs", "1", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_ablate_help_documents_models():
    r = runner.invoke(app, ["ablate", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "--models" in r.output and "counterpart" in r.output


# ----------------------------------------------------------------- tune --model


def test_tune_a_plain_model_searches_only_what_it_reads(planted, tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "tune"
    r = runner.invoke(app, ["--quiet", "tune", *lp_args(planted), "--model", "distmult", *FAST[4:],
                            "--epochs", "3", "--trials", "2", "--seeds", "1", "--no-prune", "--out", str(out),
                            "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert all(set(t["params"]) == {"lr", "embed_dim", "weight_decay"} for t in summary["trials"])
    assert isinstance(summary["final"]["test_mrr"], float)
    assert 'model = "distmult"' in (out / "config.toml").read_text()


def test_tune_refuses_a_space_setting_the_model_does_not_read(planted, tmp_path):
    pytest.importorskip("optuna")
    space = tmp_path / "space.toml"
    space.write_text('[hidden]\ntype = "int"\nlow = 16\nhigh = 64\n')
    r = runner.invoke(app, ["tune", *lp_args(planted), "--model", "ikrl", "--space", str(space),
                            "--trials", "1", "--epochs", "1", "--out", str(tmp_path / "t")])
    assert r.exit_code == 2, r.output
    assert "--model ikrl does not read hidden" in r.output
