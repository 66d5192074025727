"""LiteralE (Kristiadi et al., "Incorporating Literals into Knowledge Graph Embeddings",
ISWC 2019): an entity table whose rows are fused with each entity's literal vector by a
learned gate before a KGE decoder scores them (``--model literale --decoder NAME``).

The gate, for entity embedding ``e`` (``[d]``) and literal vector ``l`` (``[L]``)::

    z  = sigmoid(W_ze e + W_zl l + b)
    h  = tanh(W_h [e; l] + c)
    e' = z * h + (1 - z) * e

and the decoder (any of :data:`rdf2mm.models.registry.DECODERS`, DistMult by default as
in the paper's DistMult-LiteralE) scores ``e'``. One gate covers all ``d`` columns, the
real and imaginary halves of ComplEx and RotatE alike (the paper gates ComplEx's two
parts separately; one gate over their concatenation can do the same and more).

The literal vector ``l`` concatenates, over the modalities read (``--modalities``,
default every one the graph has; :mod:`rdf2mm.encoding.entity_features` builds them):

- numeric literals: one column per predicate, as in the paper (standardised; an entity
  without that predicate has 0, the paper's choice for missing values);
- any modality whose frozen feature is at most ``literal_dim`` wide (temporal, boolean,
  spatial featurisations): its columns per predicate, as they are;
- wider frozen features (MiniLM text, 384; EfficientNet-Lite0 images, 1280): per
  predicate, the entity's mean feature projected to ``literal_dim`` columns
  (``--literal-dim``) by a learned linear layer of that modality, so that a 1280-d image
  feature does not swamp a handful of numbers in the gate (the paper's text variant
  feeds sentence features the same way). Absent predicates stay 0 after projection.

The features are frozen (see :mod:`rdf2mm.models.frozen_features`): only the entity
table, the projections, the gate and the decoder learn.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from rdf2mm.models.decoders import Decoder, make_decoder
from rdf2mm.models.frozen_features import FrozenFeatures

if TYPE_CHECKING:
    from rdf2mm.encoding.entity_features import EntityFeatures
    from rdf2mm.models.rgcn import RelationalAdjacency
    from rdf2mm.tasks.settings import LPSettings


class LiteralVector(nn.Module):
    """Each entity's literal vector ``l``: numeric and narrow features per predicate as
    they are, wide ones projected per predicate to ``literal_dim`` (see the module text)."""

    def __init__(self, frozen: FrozenFeatures, literal_dim: int) -> None:
        super().__init__()
        if literal_dim < 1:
            raise ValueError(f"the literal projection size must be at least 1, not {literal_dim}")
        self.frozen = frozen
        self.project = nn.ModuleDict()
        width = 0
        for block in frozen.blocks:
            if block.dim > literal_dim:
                self.project[block.modality] = nn.Linear(block.dim, literal_dim)
                width += len(block.predicates) * literal_dim
            else:
                width += len(block.predicates) * block.dim
        #: L, the literal vector's length
        self.dim = width

    def forward(self, nodes: Tensor | None = None) -> Tensor:
        """``[E, L]`` (or the rows of ``nodes``)."""
        parts = []
        for block in self.frozen.blocks:
            values = self.frozen.values(block.modality, nodes)  # [n, P, D], 0 where absent
            if block.modality in self.project:
                mask = self.frozen.mask(block.modality, nodes)
                values = self.project[block.modality](values) * mask.unsqueeze(-1).to(values.dtype)
            parts.append(values.flatten(1))
        return torch.cat(parts, dim=1)


class LiteralGate(nn.Module):
    """``g(e, l) = z * h + (1 - z) * e`` with ``z = sigmoid(W_ze e + W_zl l + b)`` and
    ``h = tanh(W_h [e; l] + c)`` (LiteralE's equations; ``b`` is ``w_zl``'s bias, ``c``
    ``w_h``'s)."""

    def __init__(self, dim: int, literal_dim: int) -> None:
        super().__init__()
        self.w_ze = nn.Linear(dim, dim, bias=False)
        self.w_zl = nn.Linear(literal_dim, dim)
        self.w_h = nn.Linear(dim + literal_dim, dim)

    def forward(self, e: Tensor, literals: Tensor) -> Tensor:
        z = torch.sigmoid(self.w_ze(e) + self.w_zl(literals))
        h = torch.tanh(self.w_h(torch.cat([e, literals], dim=-1)))
        return z * h + (1 - z) * e


class LiteralE(nn.Module):
    """Entity table ``entity`` (``[E, dim]``, Xavier-uniform like :class:`~rdf2mm.models.kge.PlainKGE`),
    the literal vectors, the gate and a decoder. ``forward`` returns the gated embeddings
    ``e'`` that ``decoder`` scores, so training, ranking and the run directory treat it
    like a plain KGE model."""

    def __init__(self, literals: LiteralVector, num_entities: int, num_relations: int, dim: int,
                 decoder: str = "distmult") -> None:
        super().__init__()
        self.entity = nn.Embedding(num_entities, dim)
        nn.init.xavier_uniform_(self.entity.weight)
        self.literals = literals
        self.gate = LiteralGate(dim, literals.dim)
        self.decoder: Decoder = make_decoder(decoder, num_relations, dim)
        self.num_entities = num_entities

    @classmethod
    def from_features(cls, features: EntityFeatures, num_entities: int, num_relations: int,
                      settings: LPSettings) -> LiteralE:
        """LiteralE on ``features`` with ``settings.embed_dim`` columns, ``settings.decoder``
        and ``settings.literal_dim``; a :class:`~rdf2mm.errors.UsageError` when no entity
        has any of the literals."""
        frozen = FrozenFeatures(features, num_entities, "literale")
        return cls(LiteralVector(frozen, settings.literal_dim), num_entities, num_relations, settings.embed_dim,
                   settings.decoder)

    def forward(self, adj: RelationalAdjacency | None = None, nodes: Tensor | None = None) -> Tensor:
        """The gated entity embeddings ``[E, d]`` (``adj`` is not read); with ``nodes``, their rows."""
        e = self.entity.weight if nodes is None else self.entity(nodes)
        return self.gate(e, self.literals(nodes))
