"""Encoder of temporal literals: a feed-forward net on the date and time features."""
from __future__ import annotations

import torch
from torch import nn


class TemporalEncoder(nn.Module):
    """Maps ``[b, in_dim]`` temporal features (``in_dim`` is the parser's ``WIDTH``) to ``[b, out_dim]``."""

    def __init__(self, out_dim: int, in_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(self.net[0].weight.dtype))


# ---------------------------------------------------------------- parsing
