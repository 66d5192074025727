"""Encoder of spatial literals: a 1-D CNN over the vertex sequence plus the global features."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rdf2mm.modalities.layouts import GLOBAL_CHANNELS, MASK, SEQ_CHANNELS


class VertexCNN(nn.Module):
    """1-D CNN over the vertex sequence, masked max + mean pooling, plus the global features.

    The global features are standardised with the statistics from parsing (they mix
    log-sizes, signed-log places and counts on very different scales).
    """

    def __init__(
        self,
        out_dim: int,
        global_mean: Sequence[float] | None = None,
        global_std: Sequence[float] | None = None,
        channels: int = 64,
        kernel: int = 5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        mean = torch.tensor(list(global_mean) if global_mean is not None else [0.0] * GLOBAL_CHANNELS, dtype=torch.float32)
        std = torch.tensor(list(global_std) if global_std is not None else [1.0] * GLOBAL_CHANNELS, dtype=torch.float32)
        self.register_buffer("g_mean", mean)
        self.register_buffer("g_std", std)
        pad = kernel // 2
        self.convs = nn.Sequential(
            nn.Conv1d(SEQ_CHANNELS - 1, channels, kernel, padding=pad),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel, padding=pad),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * channels + GLOBAL_CHANNELS, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        mask = x[..., MASK]  # [b, P]
        h = self.convs(x[..., :MASK].transpose(1, 2))  # [b, ch, P]
        m = mask.unsqueeze(1)
        hmax = h.masked_fill(m == 0, float("-inf")).amax(dim=2)
        hmax = torch.where(torch.isfinite(hmax), hmax, torch.zeros_like(hmax))  # all-padding rows
        hmean = (h * m).sum(dim=2) / m.sum(dim=2).clamp(min=1.0)
        # invalid (all-zero) rows stay zero rather than becoming -mean/std
        glob = (x[:, 0, SEQ_CHANNELS:] - self.g_mean) / self.g_std * mask[:, :1]
        return self.out(self.dropout(torch.cat([hmax, hmean, glob], dim=1)))
