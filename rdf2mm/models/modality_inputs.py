"""An entity's learned vector in one modality, built from its frozen literal features.

What the multi-score literal models (MoSE, MoMoK) share: for each modality of an
:class:`~rdf2mm.encoding.entity_features.EntityFeatures`, a ``[E, dim]`` table whose rows are

- for an entity with at least one valid literal of the modality, a two-layer MLP of its
  features: per predicate the mean of its literals' frozen feature vectors, flattened,
  with the per-predicate presence mask appended (a predicate the entity lacks is seen as
  missing, not as a zero value); each column standardised over the entities that have it;
- for an entity with none, a learned vector of its own. Real graphs are ragged (class
  nodes, dates without pictures): a shared "missing" vector would make every such entity
  the same point in that modality, so that modality's score could never tell two of them
  apart, e.g. two class nodes that are the tails of a relation planted in the modality.
  With its own vector the entity is embedded in that modality's space as a structure
  embedding would be, and that modality's model ranks it from the triples it is in.

The features are buffers that are not saved: a model is rebuilt from the graph's
features and then loads its weights.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from rdf2mm.encoding.entity_features import EntityFeatures, ModalityFeatures


def present_modalities(features: EntityFeatures) -> tuple[str, ...]:
    """The modalities of ``features`` that at least one entity has, in the features' order."""
    return tuple(name for name, mf in features.modalities.items() if bool(mf.mask.any()))


class ModalityEmbedding(nn.Module):
    """``forward() -> [E, dim]``: each entity's vector in modality ``mf.modality`` (see the module docstring)."""

    def __init__(self, mf: ModalityFeatures, dim: int) -> None:
        super().__init__()
        self.modality = mf.modality
        E = mf.mask.shape[0]
        values = mf.values.reshape(E, -1).float()
        mask = mf.mask.float()
        present = mf.mask.any(1)
        x = values[present]
        if len(x):
            # standardise each column over the entities that have the modality (a feature
            # of one predicate is 0 where the entity lacks it; the mask says so)
            x = (x - x.mean(0)) / x.std(0, unbiased=False).clamp_min(1e-6)
        inputs = torch.cat([x, mask[present]], dim=1)
        self.register_buffer("inputs", inputs, persistent=False)
        idx_present = present.nonzero().squeeze(1)
        idx_absent = (~present).nonzero().squeeze(1)
        # row of each entity in cat([mlp(inputs), absent]): entity order restored by one gather
        order = torch.empty(E, dtype=torch.long)
        order[idx_present] = torch.arange(len(idx_present))
        order[idx_absent] = len(idx_present) + torch.arange(len(idx_absent))
        self.register_buffer("order", order, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(inputs.shape[1], dim), nn.ReLU(), nn.Linear(dim, dim))
        self.absent = nn.Parameter(torch.empty(len(idx_absent), dim))
        if len(idx_absent):
            nn.init.xavier_uniform_(self.absent)
        #: entities with / without the modality
        self.num_present, self.num_absent = len(idx_present), len(idx_absent)

    def forward(self) -> Tensor:
        return torch.cat([self.mlp(self.inputs), self.absent])[self.order]


def structure_table(num_entities: int, dim: int) -> nn.Embedding:
    """A structure embedding table, Xavier-uniform as the plain KGE models start theirs."""
    table = nn.Embedding(num_entities, dim)
    nn.init.xavier_uniform_(table.weight)
    return table
