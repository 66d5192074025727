"""A node classifier over frozen entity representations, and the pair it makes with the
entity-table model that produced them.

:class:`FeatureClassifier` is softmax regression (or, with ``hidden``, one ReLU layer
before it) on an entity representation that is not trained with it: the entity
embeddings a KGE model's decoder scores. The features are standardised per column with
statistics of every entity (no label is read), held as buffers so that a saved
classifier standardises as it was trained.

:class:`TwoStageClassifier` is what a two-stage run saves and ``predict`` rebuilds: the
entity-table model (``embedder``) and the classifier on its output (``classifier``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class FeatureClassifier(nn.Module):
    """Class logits from frozen features ``[N, in_dim]`` (softmax regression, or one hidden layer)."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("scale", torch.ones(in_dim))
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(in_dim, hidden) if hidden > 0 else None
        self.out = nn.Linear(hidden if hidden > 0 else in_dim, num_classes)

    @torch.no_grad()
    def fit_scaling(self, features: Tensor) -> None:
        """Standardise with the per-column mean and spread of ``features`` (every entity's)."""
        x = features.float()
        self.mean.copy_(x.mean(0))
        # A constant column keeps scale 1: dividing by ~0 would blow it up.
        std = x.std(0, unbiased=False)
        self.scale.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    def embed(self, features: Tensor) -> Tensor:
        """The entity representation a run exports: the frozen features themselves."""
        return features

    def forward(self, features: Tensor) -> Tensor:
        z = self.dropout((features.float() - self.mean) / self.scale)
        if self.hidden is not None:
            z = self.dropout(torch.relu(self.hidden(z)))
        return self.out(z)


class TwoStageClassifier(nn.Module):
    """An entity-table model and the classifier trained on its (frozen) entity embeddings."""

    def __init__(self, embedder: nn.Module, classifier: FeatureClassifier) -> None:
        super().__init__()
        self.embedder = embedder
        self.classifier = classifier

    @torch.no_grad()
    def features(self) -> Tensor:
        """Every entity's representation: what the embedder's decoder scores, ``[E, d]``."""
        self.embedder.eval()
        return self.embedder().float()

    def forward(self, adj: object = None) -> Tensor:
        """Class logits of every entity (``adj`` is ignored: an entity table passes no messages)."""
        return self.classifier(self.features())
