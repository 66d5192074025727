"""`rdf2mm report`: a self-contained HTML page whose charts match the run's data."""
from __future__ import annotations

import csv
import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.config import TrainConfig
from rdf2mm.pipeline import train
from rdf2mm.report import build_report, pca_2d
from tests.conftest import EXAMPLES

runner = CliRunner()
TARGET = "http://example.org/museum#movement"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "museum"
    cfg = TrainConfig(graph=[str(EXAMPLES / "museum.ttl")], target=TARGET, epochs=6, device="cpu",
                      modalities="numeric,temporal", seeds=1, out=str(out), cache=False)
    train(cfg)
    return out


def _charts(page: str) -> dict[str, ET.Element]:
    charts = {}
    for block in re.findall(r"<svg .*?</svg>", page, re.S):
        root = ET.fromstring(block)  # well-formed XML
        charts[root.get("class").split()[1]] = root
    return charts


def test_report_has_every_chart_and_matching_numbers(run_dir, tmp_path):
    target = tmp_path / "r.html"
    r = runner.invoke(app, ["--quiet", "report", str(run_dir), "-o", str(target), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["report"] == str(target)
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<link" not in page and "src=" not in page  # nothing loaded from outside
    charts = _charts(page)
    assert set(charts) == {"curve-loss", "curve-quality", "confusion", "split-accuracy", "class-accuracy", "pca"}

    metrics = json.loads((run_dir / "metrics.json").read_text())
    curve = list(csv.DictReader((run_dir / "curve.csv").open()))
    preds = list(csv.DictReader((run_dir / "predictions.tsv").open(), delimiter="\t"))
    test_rows = [p for p in preds if p["split"] == "test"]

    # curves: one polyline per (column, seed), with one point per epoch
    lines = charts["curve-loss"].findall(f"{SVG}polyline")
    assert {ln.get("data-column") for ln in lines} == {"train_loss", "valid_loss"}
    assert all(len(ln.get("points").split()) == len(curve) for ln in lines)
    assert {ln.get("data-column") for ln in charts["curve-quality"].findall(f"{SVG}polyline")} == {
        "train_accuracy", "valid_accuracy"}

    # confusion matrix counts add up to the test rows; the diagonal is the correct ones
    cells = charts["confusion"].findall(f"{SVG}rect")
    assert sum(int(c.get("data-count")) for c in cells) == len(test_rows)
    correct = sum(int(c.get("data-count")) for c in cells if c.get("data-true") == c.get("data-predicted"))
    assert correct == sum(p["true_class"] == p["predicted_class"] for p in test_rows)

    # one seed: the kept model's split accuracies are the run's metrics
    bars = {b.get("data-label"): float(b.get("data-value")) for b in charts["split-accuracy"].findall(f"{SVG}rect")}
    for split in ("train", "valid", "test"):
        assert bars[split] == pytest.approx(metrics[f"{split}_accuracy"], abs=1e-6)
    assert f"{metrics['test_accuracy']:.4f}" in page

    # PCA: one point per labelled entity, coloured by class
    points = charts["pca"].findall(f"{SVG}circle[@class='point']")
    labelled = [p for p in preds if p["true_class"]]
    assert len(points) == len(labelled)
    assert len({p.get("fill") for p in points}) == len({p["true_class"] for p in labelled})

    # config and versions tables
    assert '<table class="config">' in page and '<table class="versions">' in page
    assert "numeric,temporal" in page and "torch" in page


def test_default_output_and_errors(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    r = runner.invoke(app, ["--quiet", "report", str(copy)])
    assert r.exit_code == 0, r.output
    assert (copy / "report.html").exists()
    r = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert r.exit_code == 3 and "not a run directory" in r.output
    r = runner.invoke(app, ["report", "--help"])
    assert r.exit_code == 0 and "Examples" in r.output


def test_pca_recovers_the_main_direction():
    rng = np.random.default_rng(0)
    x = np.outer(rng.normal(size=50), [3.0, 4.0, 0.0]) + rng.normal(scale=0.01, size=(50, 3))
    p = pca_2d(x)
    assert p.shape == (50, 2)
    assert np.var(p[:, 0]) > 100 * np.var(p[:, 1])


def test_headless_browser_renders_a_non_blank_page(run_dir, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    page = tmp_path / "r.html"
    page.write_text(build_report(run_dir))
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1000,2400",
                    page.as_uri()], check=True, capture_output=True, timeout=90)
    from PIL import Image

    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert rgb.std() > 5  # not a blank page
    # Text and tables are black and grey; only the drawn charts (curves, bars, confusion
    # cells, scatter points) put saturated colour on the page.
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    assert (saturation > 60).sum() > 2000, "no chart was rendered"
    shot.replace(tmp_path / "report-screenshot.png")


def test_rank_histogram_buckets():
    from rdf2mm.report import rank_histogram

    h = rank_histogram([1, 1.5, 3, 10, 11, 2000])
    assert h["1"] == pytest.approx(1 / 6) and h["2-3"] == pytest.approx(2 / 6)
    assert h["4-10"] == pytest.approx(1 / 6) and h["11-100"] == pytest.approx(1 / 6) and h[">1000"] == pytest.approx(1 / 6)
    assert sum(h.values()) == pytest.approx(1.0)


def test_ablation_folder_report(tmp_path):
    from rdf2mm.report import build_report

    summary = {"task": "node-classification", "metric": "test_accuracy", "secondary": "test_macro_f1", "seeds": 2,
               "test": "welch-t", "cells": [
                   {"config": "none", "literals": "split", "test_accuracy": 0.5, "test_accuracy_std": 0.01, "p_value": None},
                   {"config": "numeric", "literals": "split", "test_accuracy": 0.9, "test_accuracy_std": 0.02, "p_value": 0.003},
               ]}
    (tmp_path / "ablation.json").write_text(json.dumps(summary))
    page = build_report(tmp_path)
    assert 'class="chart ablation-split"' in page or "ablation-split" in page
    assert "structure only" in page and "numeric" in page and "p = 0.0030" in page


def test_link_prediction_report_has_rank_histogram(tmp_path):
    from rdf2mm.synthetic import generate

    ds = generate(tmp_path / "g", triples=1500, signal=(), seed=1)
    out = tmp_path / "lp"
    train(TrainConfig(graph=[str(ds.lp_path("train"))], task="link-prediction", train=str(ds.lp_path("train")),
                      valid=str(ds.lp_path("valid")), test=str(ds.lp_path("test")), modalities="none",
                      epochs=3, device="cpu", out=str(out)))
    page = build_report(out)
    assert "rank-histogram" in page and "Filtered test ranks" in page


def test_nice_ticks_are_round_and_cover_the_range():
    from rdf2mm.charts.svg import nice_step, nice_ticks, tick_label

    assert nice_ticks(1, 70) == [0, 20, 40, 60, 80]
    assert nice_ticks(0.2917, 1.0) == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(1, 3, integer=True) == [1, 2, 3]  # epochs: never 1.5
    for lo, hi in [(1, 70), (0.003, 0.0071), (3.086e-06, 9.2e-06), (-4.2, 17.0), (5, 5)]:
        ticks = nice_ticks(lo, hi)
        step = ticks[1] - ticks[0]
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 5), (lo, hi, ticks)
        assert ticks[0] <= min(lo, hi) and ticks[-1] >= max(lo, hi) and len(ticks) <= 7
    assert nice_step(100, 5) == 50  # 18.25/35.5/52.75 is what a linear split gives instead
    assert [tick_label(v, 2e-6) for v in nice_ticks(3.086e-06, 9.2e-06)] == ["2e-6", "4e-6", "6e-6", "8e-6", "1e-5"]
    assert tick_label(0.25, 0.05) == "0.25" and tick_label(40, 20) == "40" and tick_label(0.0, 0.2) == "0"


def test_report_summary_best_epoch_hover_and_formatted_tables(run_dir):
    page = build_report(run_dir)
    charts = _charts(page)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    best = metrics["per_seed"][0]["best_epoch"]
    marks = charts["curve-quality"].findall(f"{SVG}line[@class='best-epoch']")
    assert [int(m.get("data-epoch")) for m in marks] == [best]
    # hover values: every curve point has a title with its value
    curve = list(csv.DictReader((run_dir / "curve.csv").open()))
    hovers = charts["curve-loss"].findall(f"{SVG}g/{SVG}circle")
    assert len(hovers) == 2 * len(curve)
    first = float(curve[0]["train_loss"])
    assert any(h.find(f"{SVG}title").text.startswith("train_loss, seed 0, epoch 1: ") for h in hovers)
    assert f"{first:.4g}" in page
    for kind in ("confusion", "split-accuracy", "class-accuracy", "pca"):
        marks = [el for el in charts[kind] if el.get("class") in ("bar", "cell", "point")]
        assert marks and all(el.find(f"{SVG}title") is not None for el in marks)
    # graph and modality summary from literals.json, with the datatypes compacted
    assert "Graph and modalities" in page and "xsd:gYear" in page and "ill-typed" in page
    literals = json.loads((run_dir / "literals.json").read_text())
    ill = sum(d["ill_typed"] for d in literals["datatypes"].values() if d["modality"] == "temporal")
    assert re.search(rf"<td>temporal</td><td>[^<]*</td><td>[\d,]+</td><td>{ill}</td>", page)
    # the kept seed is named beside its charts; full class names (compacted, never cut)
    assert f"Predictions of the kept model, seed {metrics['kept_seed']}" in page
    assert "ex:impressionism" in page and "ex:baroque" in page
    # charts scale to the page; the config table has no Python literals
    assert all(c.get("width") == "100%" and c.get("viewBox") for c in charts.values())
    config_table = re.search(r'<table class="config">.*?</table>', page, re.S).group(0)
    assert "None" not in config_table and "True" not in config_table and "[" not in config_table
    assert "<td>yes</td>" in config_table and "<td>—</td>" in config_table
