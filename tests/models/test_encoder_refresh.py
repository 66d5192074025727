"""``encoder_refresh``: costly literal encoders re-encode a share of their values with
gradients per full-batch step; the forward values stay those of the current weights."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from rdf2mm.models.mrgcn import LiteralBlock, NodeFeatures
from rdf2mm.tasks.settings import AUTO_REFRESH, MIN_REFRESH, refresh_fraction


class TinyConv(nn.Module):
    """A convolutional encoder without dropout: train and eval mode give the same values."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 3, padding=1)
        self.out = nn.Linear(4, dim)
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[0])
        return self.out(torch.relu(self.conv(x.unsqueeze(1))).mean(2))


def features(u: int = 400, entities: int = 5, dim: int = 6) -> NodeFeatures:
    torch.manual_seed(0)
    nodes = torch.arange(entities, entities + u)
    block = LiteralBlock("visual", nodes=nodes, rows=torch.arange(u), data=torch.randn(u, 8), encoder=TinyConv(dim))
    return NodeFeatures(entities + u, entities, dim, [block], torch.zeros(0, dtype=torch.long),
                        torch.zeros(0, dtype=torch.long), 1)


def test_the_setting_reads_auto_or_a_fraction():
    assert refresh_fraction("auto") == AUTO_REFRESH and refresh_fraction("0.25") == 0.25 and refresh_fraction(1) == 1
    for bad in ("0", "1.5", "nan", "some"):
        with pytest.raises(ValueError):
            refresh_fraction(bad)


def test_costly_encoders_only_and_one_means_every_value():
    f = features()
    assert f.set_refresh(0.1) == {"visual": 0.1}
    assert f.set_refresh(1.0) == {}
    cheap = NodeFeatures(3, 1, 4, [LiteralBlock("numeric", torch.tensor([1, 2]), torch.tensor([0, 1]),
                                                torch.randn(2, 1), nn.Linear(1, 4))],
                         torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 1)
    assert cheap.set_refresh(0.1) == {}  # an MLP on a number costs nothing worth saving


def test_training_forward_is_exact_and_its_gradient_an_unbiased_subsample():
    f = features()
    enc = f.encoders["visual"]
    f.set_refresh(0.25, MIN_REFRESH)
    f.eval()
    with torch.no_grad():
        exact = f().clone()  # the eval pass also fills the cache
    f.train()
    enc.calls.clear()
    weights = torch.randn_like(exact)
    torch.manual_seed(7)
    out = f()
    assert torch.allclose(out, exact, atol=1e-6)  # no stale values: the cache is at the current weights
    k = max(MIN_REFRESH, 100)
    assert enc.calls == [k]  # only the picked values went through the encoder (no refill)
    (out * weights).sum().backward()
    got = [p.grad.clone() for p in enc.parameters()]
    # the gradient of exactly the picked values, scaled by u / k
    torch.manual_seed(7)
    pick = torch.randperm(400)[:k]
    enc.zero_grad()
    (enc(f.data_visual[pick]) * weights[5 + pick]).sum().backward()
    for g, p in zip(got, enc.parameters()):
        assert torch.allclose(g, p.grad * (400 / k), rtol=1e-4, atol=1e-6)


def test_a_weight_change_refills_the_cache_and_evaluation_encodes_everything():
    f = features()
    enc = f.encoders["visual"]
    f.set_refresh(0.1, MIN_REFRESH)
    f.train()
    opt = torch.optim.SGD(f.parameters(), lr=0.5)
    enc.calls.clear()
    f().sum().backward()
    assert enc.calls == [400, MIN_REFRESH]  # no cache yet: one no-gradient fill, then the subset
    opt.step()
    enc.calls.clear()
    out = f()
    assert enc.calls == [400, MIN_REFRESH]  # the step made the cache stale: refilled
    f.eval()
    with torch.no_grad():
        exact = f()
    assert torch.allclose(out.detach(), exact, atol=1e-6)
    f.train()
    enc.calls.clear()
    f()
    assert enc.calls == [MIN_REFRESH]  # the eval pass left a cache at these weights
    f.set_refresh(1.0)
    enc.calls.clear()
    f()
    assert enc.calls == [400]  # the plain scheme: every value with gradients
