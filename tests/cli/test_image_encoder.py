"""``rdf2mm train --image-encoder pretrained``: frozen EfficientNet-Lite0 features learn a
class that is only in the image content; the run records the encoder, and ``predict``
and ``export`` on its run directory parse images the same way."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.synthetic import generate

runner = CliRunner()


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    # about 190 items, each with nothing but a 16 x 16 image of one of 4 shapes
    return generate(tmp_path_factory.mktemp("shapes"), triples=1200, classes=4, modalities="visual",
                    image_style="shapes", image_size=16, seed=4)


def test_pretrained_image_encoder_learns_shapes_and_its_run_predicts(shapes, tmp_path):
    run = tmp_path / "run"
    labels = shapes.out_dir / "labels"
    r = runner.invoke(app, ["--quiet", "train", str(shapes.graph_path), "--train", str(labels / "train.nt"),
                            "--valid", str(labels / "valid.nt"), "--test", str(labels / "test.nt"),
                            "--image-encoder", "pretrained", "--aggregation", "mean", "--epochs", "40",
                            "--threads", "1", "--device", "cpu", "--out", str(run), "--json"])
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)
    assert metrics["test_accuracy"] > 0.5, metrics  # 4 balanced classes: chance is 0.25
    assert json.loads((run / "config.json").read_text())["image_encoder"] == "pretrained"
    # predict re-parses the graph's images through the pretrained path: the same scores as the run's own
    saved = {}
    for line in (run / "predictions.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        entity, _split, _true, predicted, score = line.split("\t")
        saved[entity] = (predicted, float(score))
    nodes = sorted(saved)[:5]
    p = runner.invoke(app, ["--quiet", "predict", str(run), *[a for n in nodes for a in ("--node", n.strip("<>"))],
                            "--json"])
    assert p.exit_code == 0, p.output
    predictions = json.loads(p.stdout)["predictions"]
    assert [row["entity"] for row in predictions] == nodes
    for row in predictions:
        assert row["predicted_class"] == saved[row["entity"]][0]
        assert row["score"] == pytest.approx(saved[row["entity"]][1], abs=1e-4)
    e = runner.invoke(app, ["--quiet", "export", str(run), "--output", "parquet", "--out", str(tmp_path / "export"),
                            "--json"])
    assert e.exit_code == 0, e.output


def test_unknown_image_encoder_is_refused(shapes):
    r = runner.invoke(app, ["train", str(shapes.graph_path), "--image-encoder", "resnet"])
    assert r.exit_code == 2 and "--image-encoder must be" in r.output
