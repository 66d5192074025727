"""Encoder of boolean literals: one linear map of the value in {-1, +1}."""
from __future__ import annotations

import torch
from torch import nn


class BooleanEncoder(nn.Module):
    """Maps ``[b, 1]`` values in {-1, +1} to ``[b, out_dim]``."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(1, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(1)
        return self.linear(x.to(self.linear.weight.dtype))
