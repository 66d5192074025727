"""Encoder of visual literals: a small MobileNet-style CNN trained from scratch."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class _ConvNorm(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1, act: bool = True) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
            # GroupNorm, not BatchNorm: rdf2mm trains full-batch and switches to eval for
            # validation every epoch, where BatchNorm's lagging running statistics made
            # evaluation disagree with training.
            nn.GroupNorm(min(8, c_out), c_out),
        ]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class SeparableBlock(nn.Module):
    """Depthwise 3x3 conv + pointwise 1x1 conv (each GroupNorm + ReLU6); residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_ConvNorm(c_in, c_in, 3, stride, groups=c_in), _ConvNorm(c_in, c_out, 1, 1))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetEncoder(nn.Module):
    """A small MobileNet-style CNN: uint8 images ``[b, 3, H, W]`` to ``[b, out_dim]``.

    Input is scaled to 0..1 and standardised per channel with the statistics from
    parsing. The stack downsamples by up to 16, but never below a 2x2 map for the
    parsed ``size`` (normalisation needs more than one value per channel even for a
    single-image batch), so small images stay cheap instead of being upsampled.
    """

    def __init__(
        self,
        out_dim: int,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.25, 0.25, 0.25),
        size: int = 64,
        width: int = 16,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, 3, 1, 1))
        w = int(width)
        n_down = max(0, min(4, int(size).bit_length() - 2))  # 64 -> 4 (4x4 map), 16 -> 3 (2x2), 4 -> 1
        strides = iter([2] * n_down + [1] * (4 - n_down))
        self.features = nn.Sequential(
            _ConvNorm(3, w, 3, next(strides)),
            SeparableBlock(w, 2 * w, next(strides)),
            SeparableBlock(2 * w, 2 * w, 1),
            SeparableBlock(2 * w, 4 * w, next(strides)),
            SeparableBlock(4 * w, 4 * w, 1),
            SeparableBlock(4 * w, 8 * w, next(strides)),
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(8 * w, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() / 255.0 - self.mean) / self.std
        h = self.features(x).mean(dim=(2, 3))
        return self.out(self.dropout(h))
