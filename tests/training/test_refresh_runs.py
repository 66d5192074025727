"""Runs with subsampled encoder refresh (the default on graphs with images) are still
reproducible: the same seed gives the same curve, and a resumed run the uninterrupted one's."""
from __future__ import annotations

import pytest
import torch

from rdf2mm.pipeline import resume, train
from rdf2mm.synthetic import generate
from tests.conftest import label_config


class Interrupt(KeyboardInterrupt):
    pass


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_fixed_seed_and_resume_give_the_same_curve_with_images(tmp_path, one_thread):
    ds = generate(tmp_path / "data", triples=1500, signal=("visual",), seed=3, image_size=16)
    kw = dict(modalities="visual,textual", epochs=8, patience=100, aggregation="mean", cache=False,
              checkpoint_every=3)
    runs = [train(label_config(ds, out=str(tmp_path / name), **kw)) for name in ("a", "b")]
    curve = (tmp_path / "a" / "curve.csv").read_text()
    assert curve == (tmp_path / "b" / "curve.csv").read_text()
    assert runs[0].metrics["test_accuracy"] == runs[1].metrics["test_accuracy"]
    train(label_config(ds, out=str(tmp_path / "exact"), encoder_refresh="1", **kw))
    assert (tmp_path / "exact" / "curve.csv").read_text() != curve  # the setting is in effect

    def stop(stage, info):
        if stage == "epoch" and info["epoch"] == 5:
            raise Interrupt()

    with pytest.raises(KeyboardInterrupt):
        train(label_config(ds, out=str(tmp_path / "c"), **kw), stop)
    resumed = resume(tmp_path / "c")
    assert (tmp_path / "c" / "curve.csv").read_text() == curve
    assert resumed.metrics["test_accuracy"] == runs[0].metrics["test_accuracy"]
