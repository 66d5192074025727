"""The two tasks' former drift, fixed once in the training loop: both restore the CUDA RNG
a checkpoint saved, and ``seconds_per_epoch`` means training time only for both.

These go through the public pipeline (``train``/``resume``), so they also run against the
code before the loop was shared, where the link-prediction resume and the node
classification timing fail.
"""
from __future__ import annotations

import time

import pytest
import torch

from rdf2mm.config import TrainConfig
from rdf2mm.models.mrgcn import MRGCN
from rdf2mm.pipeline import resume, train
from rdf2mm.synthetic import generate


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("drift"), triples=800, signal=("numeric",), seed=4)


def config(ds, task: str, **kw) -> TrainConfig:
    if task == "node-classification":
        paths = {s: str(ds.labels_path(s)) for s in ("train", "valid", "test")}
        base = dict(graph=[str(ds.graph_path)], **paths)
    else:
        paths = {s: str(ds.lp_path(s)) for s in ("train", "valid", "test")}
        base = dict(graph=[paths["train"]], task=task, **paths, negatives=2)
    base.update(modalities="numeric", device="cpu", seeds=1, patience=100, embed_dim=8, hidden=8, cache=False,
                aggregation="mean")  # one candidate: "auto" would train twice
    base.update(kw)
    return TrainConfig(**base)


class Interrupt(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("task", ["node-classification", "link-prediction"])
def test_resume_restores_the_cuda_rng_the_checkpoint_saved(ds, task, tmp_path, monkeypatch):
    """On CPU: CUDA is faked as present, so the checkpoint saves a (fake) CUDA RNG state,
    and resuming must hand exactly that state back to ``torch.cuda.set_rng_state_all``."""
    torch.set_num_threads(1)
    saved_state = [torch.arange(16, dtype=torch.uint8), torch.arange(16, 32, dtype=torch.uint8)]
    restored: list[list[torch.Tensor]] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in saved_state])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: restored.append(list(states)))
    out = tmp_path / "run"

    def stop(stage, info):
        if stage == "epoch" and info["epoch"] == 5:
            raise Interrupt()

    with pytest.raises(KeyboardInterrupt):
        train(config(ds, task, epochs=8, checkpoint_every=2, out=str(out)), stop)
    assert not restored
    resume(out)
    assert len(restored) == 1, "the resumed seed did not restore the CUDA RNG"
    assert len(restored[0]) == len(saved_state)
    for got, want in zip(restored[0], saved_state):
        assert torch.equal(got, want)


class FakeClock:
    """A clock that only model forwards move: 1 s in training mode, 100 s in eval mode."""

    def __init__(self) -> None:
        self.now = 0.0
        self.train_forwards = 0
        self.eval_forwards = 0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("task", ["node-classification", "link-prediction"])
def test_seconds_per_epoch_is_training_time_only(ds, task, monkeypatch):
    """Validation made slow on a fake clock: ``seconds_per_epoch`` must not grow with it,
    and ``eval_seconds`` must hold it, for both tasks alike."""
    torch.set_num_threads(1)
    clock = FakeClock()
    forward = MRGCN.forward

    def timed_forward(self, *args, **kwargs):
        if self.training:
            clock.now += 1.0
            clock.train_forwards += 1
        else:
            clock.now += 100.0
            clock.eval_forwards += 1
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(MRGCN, "forward", timed_forward)
    monkeypatch.setattr(time, "perf_counter", clock)
    res = train(config(ds, task, epochs=6, out=None))
    m = res.per_seed[0]
    assert m["epochs_run"] == 6
    assert clock.eval_forwards >= 6  # validated every epoch
    assert m["train_seconds"] == pytest.approx(clock.train_forwards)
    assert m["seconds_per_epoch"] == pytest.approx(clock.train_forwards / 6)
    assert m["eval_seconds"] >= 100.0 * 6
