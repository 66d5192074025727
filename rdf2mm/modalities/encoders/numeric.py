"""Encoder of numeric literals: a small MLP on the scaled value."""
from __future__ import annotations

import torch
from torch import nn


class ScalarEncoder(nn.Module):
    """Maps ``[b, 1]`` (or ``[b]``) scalars to ``[b, out_dim]``."""

    def __init__(self, out_dim: int, hidden: int = 32) -> None:
        super().__init__()
        if hidden and hidden > 0:
            self.net: nn.Module = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        else:
            self.net = nn.Linear(1, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(1)
        weight = next(self.net.parameters())
        return self.net(x.to(weight.dtype))
