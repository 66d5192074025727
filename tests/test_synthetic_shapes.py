"""``rdf2mm generate --modalities visual --image-style shapes``: a graph of small images
whose class is only in the kind of shape drawn, not in any colour statistic."""
from __future__ import annotations

import base64
import csv
import io

import numpy as np
import pytest
from PIL import Image

from rdf2mm.errors import UsageError
from rdf2mm.synthetic import EX, generate
from tests.test_synthetic import literals_by_predicate, read_triples


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("shapes"), triples=6000, classes=4, modalities="visual",
                    image_style="shapes", image_size=16, seed=2)


def images_and_classes(ds) -> tuple[np.ndarray, np.ndarray]:
    triples = read_triples(ds.graph_path)
    images = literals_by_predicate(triples)["image"]
    with open(ds.out_dir / ds.manifest["paths"]["labels_tsv"], encoding="utf-8") as fh:
        cls = {int(r["iri"].removeprefix(EX + "item_")): int(r["class"].rsplit("_", 1)[1])
               for r in csv.DictReader(fh, delimiter="\t")}
    ids = sorted(images)
    pixels = np.stack([np.asarray(Image.open(io.BytesIO(base64.urlsafe_b64decode(images[i].value))).convert("RGB"))
                       for i in ids])
    return pixels, np.array([cls[i] for i in ids])


def test_only_images_every_item_has_one_and_classes_are_balanced(shapes):
    m = shapes.manifest
    assert m["literals"]["by_modality"] == {"visual": m["counts"]["items"]}
    assert m["parameters"]["signal"] == ["visual"] and m["parameters"]["image_style"] == "shapes"
    assert abs(m["counts"]["triples"] - 6000) / 6000 < 0.1
    pixels, y = images_and_classes(shapes)
    assert pixels.shape == (m["counts"]["items"], 16, 16, 3)  # every image decodes at its size
    counts = np.bincount(y, minlength=4)
    assert counts.max() - counts.min() <= 1


def test_colour_statistics_carry_no_class_signal(shapes):
    pixels, y = images_and_classes(shapes)
    x = pixels.reshape(len(pixels), -1, 3).astype(np.float64)
    # per-channel 8-bin histograms, means and standard deviations, and the saturation histogram
    sat = x.max(2) - x.min(2)
    feats = np.concatenate([
        *[np.stack([np.histogram(img[:, c], bins=8, range=(0, 256))[0] for img in x]) for c in range(3)],
        np.stack([np.histogram(s, bins=8, range=(0, 256))[0] for s in sat]),
        x.mean(1), x.std(1),
    ], axis=1)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-9)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[: len(y) // 2], order[len(y) // 2:]
    # nearest class mean and a least-squares linear classifier, both fitted on half
    means = np.stack([feats[train][y[train] == c].mean(0) for c in range(4)])
    nearest = np.argmin(((feats[test][:, None] - means[None]) ** 2).sum(2), axis=1)
    onehot = np.eye(4)[y[train]]
    a = np.c_[feats[train], np.ones(len(train))]
    w = np.linalg.lstsq(a, onehot, rcond=None)[0]
    linear = np.argmax(np.c_[feats[test], np.ones(len(test))] @ w, axis=1)
    for pred in (nearest, linear):
        assert (pred == y[test]).mean() < 0.25 + 0.1  # chance is 0.25
    # the outline does carry it: how much of its bounding box the shape fills tells
    # disk (pi/4), square (1), triangle (1/2) and cross (5/9) apart
    mask = (sat > 60).reshape(len(y), 16, 16)
    fill = np.array([m.sum() / max(1, np.ptp(np.nonzero(m)[0]) + 1) / max(1, np.ptp(np.nonzero(m)[1]) + 1)
                     if m.any() else 0.0 for m in mask])
    centre = np.array([np.median(fill[train][y[train] == c]) for c in range(4)])
    assert (np.argmin(np.abs(fill[test][:, None] - centre[None]), axis=1) == y[test]).mean() > 0.6


def test_default_graph_is_unchanged_by_the_new_options(tmp_path):
    a = generate(tmp_path / "a", triples=1500, seed=4)
    b = generate(tmp_path / "b", triples=1500, seed=4, modalities="all", image_style="blob")
    assert a.graph_path.read_bytes() == b.graph_path.read_bytes()


@pytest.mark.parametrize("kw", [{"image_style": "stars"}, {"image_style": "shapes", "classes": 7},
                                {"modalities": "visual,colour"}])
def test_bad_shape_parameters(tmp_path, kw):
    with pytest.raises(UsageError):
        generate(tmp_path / "out", triples=3000, **kw)
