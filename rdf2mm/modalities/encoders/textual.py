"""Encoders of textual literals: a character CNN (charcnn) and an MLP on frozen sentence features (minilm)."""
from __future__ import annotations

import torch
from torch import nn

from rdf2mm.modalities.layouts import PAD


class CharCNN(nn.Module):
    """Character CNN (Zhang et al. 2015, scaled down): embed, conv/pool stack, global max, linear.

    Inputs shorter than the pooling stack needs are right-padded, so any ``max_length``
    works.
    """

    def __init__(
        self,
        vocab_size: int,
        out_dim: int,
        emb_dim: int = 32,
        channels: int = 64,
        kernel: int = 5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(max(vocab_size, 2), emb_dim, padding_idx=PAD)
        pad = kernel // 2
        self.convs = nn.Sequential(
            nn.Conv1d(emb_dim, channels, kernel, padding=pad),
            nn.ReLU(),
            nn.MaxPool1d(3),
            nn.Conv1d(channels, channels, kernel, padding=pad),
            nn.ReLU(),
            nn.MaxPool1d(3),
            nn.Conv1d(channels, channels, 3, padding=1),
            nn.ReLU(),
        )
        self.min_len = 9  # two pools of 3 must leave at least one position
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels, out_dim)

    #: strings are encoded in chunks of similar length, each trimmed to its longest string
    bucket_size: int = 512

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.long()
        if x.shape[0] <= self.bucket_size:
            return self._encode(x, int((x != PAD).sum(1).max()) if x.numel() else 0)
        # Real text is mostly much shorter than max_length: sorting by length and trimming
        # each chunk's padding cuts the convolution work several-fold (AIFB: median 19 of 128).
        lengths = (x != PAD).sum(1)
        order = torch.argsort(lengths)
        chunks = torch.split(order, self.bucket_size)
        outs = [self._encode(x[idx], int(lengths[idx[-1]])) for idx in chunks]
        return torch.cat(outs)[torch.argsort(order)]

    def _encode(self, x: torch.Tensor, length: int) -> torch.Tensor:
        x = x[:, : max(length, self.min_len)]
        if x.shape[1] < self.min_len:
            x = nn.functional.pad(x, (0, self.min_len - x.shape[1]), value=PAD)
        # Each string is encoded as if alone (padded to min_len only): positions past its
        # own length are zeroed after every convolution, so the result does not depend on
        # which other strings share the batch (mini-batches, buckets) or how long they are.
        valid = (x != PAD).sum(1).clamp(min=self.min_len)
        h = self.embed(x).transpose(1, 2)  # [b, emb, L]
        for layer in self.convs:
            h = layer(h)
            if isinstance(layer, nn.MaxPool1d):
                valid = valid // 3
            if not isinstance(layer, nn.Conv1d):
                keep = torch.arange(h.shape[2], device=h.device) < valid.unsqueeze(1)
                h = h * keep.unsqueeze(1).to(h.dtype)
        h = h.amax(dim=2)
        return self.out(self.dropout(h))


class FeatureMLP(nn.Module):
    """LayerNorm, then a one-hidden-layer MLP: frozen features to ``out_dim``."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        # frozen features come at their model's scale (MiniLM's are unit-norm, entries
        # ~0.05; EfficientNet's pooled ReLU6 outputs 0..6): normalise to unit scale
        self.net = nn.Sequential(
            nn.LayerNorm(in_dim),
            nn.Linear(in_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())
