"""`rdf2mm ablate` and its statistics: the grid, Welch's t-test, the Student-t CDF."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rdf2mm.ablation import betainc, cell_config, check_grid, default_grid, t_cdf, welch_t_test
from rdf2mm.cli import app
from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.synthetic import generate

runner = CliRunner()


# ----------------------------------------------------------------- statistics against known values


@pytest.mark.parametrize("a,b,x,expected", [
    (2.0, 3.0, 0.4, 0.5248),          # binomial closed form
    (1.0, 1.0, 0.3, 0.3),             # uniform
    (0.5, 0.5, 0.5, 0.5),             # symmetric
    (5.0, 0.5, 0.999, None),          # just in range
])
def test_betainc_known_values(a, b, x, expected):
    value = betainc(a, b, x)
    assert 0.0 <= value <= 1.0
    if expected is not None:
        assert value == pytest.approx(expected, abs=1e-12)
    assert betainc(a, b, x) + betainc(b, a, 1 - x) == pytest.approx(1.0, abs=1e-12)


def test_t_cdf_known_values():
    assert t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-12)                               # Cauchy
    assert t_cdf(2.0, 1) == pytest.approx(0.5 + math.atan(2.0) / math.pi, abs=1e-12)
    assert t_cdf(3.0, 2) == pytest.approx(0.5 + 3.0 / (2 * math.sqrt(11.0)), abs=1e-12)  # df=2 closed form
    assert t_cdf(2.0, 5) == pytest.approx(0.9490302605850709, abs=1e-10)                 # tables / SciPy
    assert 2 * t_cdf(-2.228139, 10) == pytest.approx(0.05, abs=1e-6)                     # two-sided 5% critical value
    assert t_cdf(1.959964, 1e9) == pytest.approx(0.975, abs=1e-6)                        # normal limit
    assert t_cdf(0.0, 3.7) == pytest.approx(0.5)
    assert t_cdf(-1.3, 4.2) == pytest.approx(1 - t_cdf(1.3, 4.2), abs=1e-12)


def test_welch_t_test():
    t, p = welch_t_test([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert t == pytest.approx(-1.897366596, abs=1e-8)
    assert p == pytest.approx(0.1075312, abs=1e-6)  # R: t.test(1:5, 2*(1:5))
    assert welch_t_test([0.5], [0.4, 0.6]) == (None, None)
    assert welch_t_test([0.5, 0.5], [0.5, 0.5]) == (0.0, 1.0)
    assert welch_t_test([0.9, 0.9], [0.5, 0.5])[1] == 0.0


def test_grid_checks():
    assert check_grid(["numeric", "all"], ["split"]) == ["none", "numeric", "all"]
    assert check_grid(["numeric", "shuffled"], ["split"]) == ["none", "numeric", "shuffled"]
    assert check_grid(["shuffle-literals", "all"], ["split"]) == ["none", "shuffled", "all"]
    with pytest.raises(UsageError):
        check_grid(["colour"], ["split"])
    with pytest.raises(UsageError):
        check_grid(["none"], ["both"])


# ----------------------------------------------------------------- end to end on a tiny graph


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("g") / "data", triples=1500, signal=("numeric",), seed=0)


def test_default_grid_lists_present_modalities(tiny):
    cfg = TrainConfig(graph=[str(tiny.graph_path)], cache=False)
    grid = default_grid(cfg)
    assert grid[0] == "none" and grid[-2:] == ["all", "shuffled"] and "numeric" in grid


def test_cell_config_of_the_shuffled_row():
    base = TrainConfig(graph=["g.nt"], out="runs/a", modalities="numeric")
    cell = cell_config(base, "shuffled", "split", 3)
    assert (cell.modalities, cell.shuffle_literals, cell.literals, cell.seeds) == ("all", True, "split", 3)
    assert cell.out.endswith("split-shuffled") and not base.shuffle_literals
    plain = cell_config(base, "numeric", "merged", 2)
    assert (plain.modalities, plain.shuffle_literals) == ("numeric", False)


def test_ablate_numeric_beats_structure(tiny, tmp_path):
    csv_path = tmp_path / "ablation.csv"
    out = tmp_path / "runs"
    r = runner.invoke(app, [
        "--quiet", "ablate", str(tiny.graph_path),
        "--train", str(tiny.labels_path("train")), "--valid", str(tiny.labels_path("valid")),
        "--test", str(tiny.labels_path("test")),
        "--seeds", "2", "--epochs", "10", "--device", "cpu", "--modalities-grid", "none,numeric",
        "--literals", "split", "--out", str(out), "--json", "--csv", str(csv_path),
    ])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["metric"] == "test_accuracy" and result["seeds"] == 2
    cells = {c["config"]: c for c in result["cells"]}
    assert set(cells) == {"none", "numeric"}
    assert cells["numeric"]["test_accuracy"] > cells["none"]["test_accuracy"]
    assert cells["none"]["p_value"] is None
    assert 0.0 <= cells["numeric"]["p_value"] <= 1.0
    assert len(cells["numeric"]["per_seed"]) == 2
    for c in cells.values():
        metrics = json.loads((out / f"split-{c['config']}" / "metrics.json").read_text())
        assert metrics["test_accuracy"] == pytest.approx(c["test_accuracy"])
    rows = list(csv.DictReader(csv_path.open()))
    assert [row["config"] for row in rows] == ["none", "numeric"]
    assert float(rows[1]["test_accuracy"]) == pytest.approx(cells["numeric"]["test_accuracy"])


def test_ablate_help_has_examples():
    r = runner.invoke(app, ["ablate", "--help"])
    assert r.exit_code == 0 and "Examples" in r.output and "--modalities-grid" in r.output


@pytest.fixture(scope="module")
def numeric_literals(tmp_path_factory):
    """Items whose only literals are numeric, carrying the label: the shuffled row is numeric shuffled."""
    return generate(tmp_path_factory.mktemp("n") / "data", triples=1500, signal=("numeric",), seed=0,
                    modalities=("numeric",))


def test_ablate_shuffled_row_is_the_control(numeric_literals, tmp_path):
    from rdf2mm.report import build_report

    ds, out, csv_path = numeric_literals, tmp_path / "runs", tmp_path / "ablation.csv"
    r = runner.invoke(app, [
        "--quiet", "ablate", str(ds.graph_path),
        "--train", str(ds.labels_path("train")), "--valid", str(ds.labels_path("valid")),
        "--test", str(ds.labels_path("test")), "--aggregation", "mean",
        "--seeds", "2", "--epochs", "20", "--device", "cpu", "--modalities-grid", "none,numeric,shuffled",
        "--literals", "split", "--out", str(out), "--json", "--csv", str(csv_path),
    ])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    cells = {c["config"]: c for c in result["cells"]}
    assert list(cells) == ["none", "numeric", "shuffled"] and result["control"] == "shuffled"
    assert cells["numeric"]["test_accuracy"] > cells["shuffled"]["test_accuracy"] + 0.1
    assert 0.0 <= cells["numeric"]["p_value_shuffled"] <= 1.0
    assert cells["shuffled"]["p_value"] is not None  # the control against structure only
    assert cells["none"]["p_value_shuffled"] is None and cells["shuffled"]["p_value_shuffled"] is None
    saved = json.loads((out / "split-shuffled" / "config.json").read_text())
    assert saved["shuffle_literals"] is True and saved["modalities"] == "all"
    assert json.loads((out / "split-numeric" / "config.json").read_text())["shuffle_literals"] is False
    rows = list(csv.DictReader(csv_path.open()))
    assert [row["config"] for row in rows] == ["none", "numeric", "shuffled"]
    assert float(rows[1]["p_value_shuffled"]) == pytest.approx(cells["numeric"]["p_value_shuffled"])
    page = build_report(out)
    assert "p vs shuffled literals" in page and "shuffled" in page


# ----------------------------------------------------------------- several models: the plan


def test_plan_of_several_models_shares_equal_runs():
    from rdf2mm.ablation import model_rows, plan_cells

    base = TrainConfig(graph=["g.nt"], task="link-prediction", out="runs/m")
    grid = ["none", "numeric", "visual", "all", "shuffled"]
    present = lambda: ["numeric", "visual"]  # noqa: E731
    cells, notes = plan_cells(base, ["mrgcn", "literale", "ikrl", "distmult", "vlkge"], grid, ["split", "merged"],
                              3, present)
    rows = {}
    for c in cells:
        rows.setdefault(c.model, []).append((c.row, c.literals, c.trained, Path(c.cfg.out).name))
    assert rows["mrgcn"] == [(r, m, "mrgcn", f"mrgcn-{m}-{r}") for m in ("split", "merged") for r in grid]
    assert rows["literale"] == [("none", "none", "distmult", "distmult-none"),
                                *[(r, "entity", "literale", f"literale-{r}") for r in grid[1:]]]
    # ikrl reads images only: no numeric row, no "all" (one modality), its structure is transe
    assert rows["ikrl"] == [("none", "none", "transe", "transe-none"), ("visual", "entity", "ikrl", "ikrl-visual"),
                            ("shuffled", "entity", "ikrl", "ikrl-shuffled")]
    assert rows["distmult"] == [("none", "none", "distmult", "distmult-none")]
    assert model_rows("ikrl", grid, lambda: ["numeric"]) == ["none", "visual"]
    # literale's, vlkge's and distmult's structure rows are one training
    keys = {c.key for c in cells if c.trained == "distmult"}
    assert len(keys) == 1
    assert all(c.cfg.seeds == 3 for c in cells)
    shuffled = next(c for c in cells if c.model == "literale" and c.row == "shuffled")
    assert (shuffled.cfg.modalities, shuffled.cfg.shuffle_literals) == ("all", True)
    assert any("ikrl reads only visual" in n for n in notes)
    assert any("run once" in n and "literale" in n for n in notes)


def test_a_single_mrgcn_keeps_the_mode_row_folders():
    from rdf2mm.ablation import plan_cells

    cells, _ = plan_cells(TrainConfig(graph=["g.nt"], out="runs/a"), ["mrgcn"], ["none", "numeric"], ["split"], 2,
                          lambda: [])
    assert [Path(c.cfg.out).name for c in cells] == ["split-none", "split-numeric"]


def test_parse_models():
    from rdf2mm.ablation import parse_models

    assert parse_models(None, "mrgcn") == ["mrgcn"]
    assert parse_models("LiteralE, distmult,literale", "mrgcn") == ["literale", "distmult"]
    with pytest.raises(UsageError, match="unknown model 'gcn'"):
        parse_models("mrgcn,gcn", "mrgcn")


def test_plain_counterparts_and_modalities_read():
    from rdf2mm.models.ikrl import IMAGE_MODALITY
    from rdf2mm.models.registry import LITERAL_KGE_MODELS, PLAIN_KGE_MODELS, plain_counterpart, reads_modality

    assert [plain_counterpart(m, "complex") for m in LITERAL_KGE_MODELS] == [
        "complex", "complex", "transe", "complex", "tucker"]
    assert plain_counterpart("rotate", "distmult") == "rotate" and plain_counterpart("mrgcn", "distmult") is None
    assert reads_modality("ikrl", IMAGE_MODALITY) and not reads_modality("ikrl", "numeric")
    assert reads_modality("mose", "spatial") and reads_modality("mrgcn", "textual")
    assert not any(reads_modality(m, "numeric") for m in PLAIN_KGE_MODELS)
