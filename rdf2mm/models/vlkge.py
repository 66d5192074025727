"""A VL-KGE-style model (after "Vision-Language Knowledge Graph Embeddings", arXiv
2603.02435): frozen pretrained features of each entity's images and texts (and of its
other literals) projected into the entity space and fused into the entity embedding of
a KGE model (``--model vlkge --decoder NAME``).

VL-KGE takes its features from a vision-language model (CLIP, ALIGN) that puts an
entity's images and texts in one aligned space, and it does not assume that every entity
has every modality. **No such model ships its weights in a wheel here** (see the design
note on the field's methods), so this model reads the features rdf2mm computes offline,
which are *not* jointly aligned: MiniLM sentence features for text, ImageNet
EfficientNet-Lite0 features for images, and the fixed featurisations of numbers, dates,
booleans and geometries (:mod:`rdf2mm.encoding.entity_features`). Each is given its own
learned projection into the entity space, which is where the alignment VL-KGE gets from
its encoder has to be learned instead, from the graph's triples.

Per entity, every (modality, predicate) the entity has is one *view*: the mean frozen
feature of its literals of that predicate (several images of one predicate are averaged),
projected by that predicate's own linear layer
``W_{m,p} f + b_{m,p}`` to ``d`` columns. The fused embedding is::

    e' = e_s + mean over the views the entity has of (W_{m,p} f_{m,p} + b_{m,p})

with ``e_s`` the entity's structure embedding (a learned table). Missing modalities are
handled explicitly by that masked mean (the paper summary in the seeds says that VL-KGE
drops the assumption that every entity has every modality, not by which mechanism; this
is ours): an entity with only a caption is its structure
plus its caption's view, one with an image and a caption the mean of both, and one with
no literal at all keeps ``e_s`` alone; nothing is imputed for what is absent, so an
absent image never pulls an entity towards a shared "missing" vector.

View dropout (``--view-dropout``, default 0.5): in training, each entity's views are left
out of its fused embedding with that probability, per step. The projections are wide
(1280 image and 384 text columns per predicate), so without it they memorise the
training entities' links through their features, and on a graph whose literals carry no
signal the fused embeddings of unseen entities are noise far larger than their structure
rows (filtered MRR 0.04 against plain DistMult's 0.10 on a planted graph without
signal; 0.13 with the dropout, which also helped on graphs with signal, see
bench/RESULTS.md). Evaluation always fuses every view.
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


class ViewProjection(nn.Module):
    """One modality's projections, one per predicate: ``weight`` ``[P, D, d]``, ``bias`` ``[P, d]``
    (initialised as ``nn.Linear`` is)."""

    def __init__(self, predicates: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / in_dim**0.5
        self.weight = nn.Parameter(torch.empty(predicates, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(predicates, out_dim).uniform_(-bound, bound))

    def forward(self, values: Tensor) -> Tensor:
        """``[n, P, D]`` -> ``[n, P, d]``."""
        return torch.einsum("npd,pdk->npk", values, self.weight) + self.bias


class VLKGE(nn.Module):
    """Structure table ``entity`` (``[E, dim]``, Xavier-uniform), one :class:`ViewProjection`
    per modality read, and a decoder scoring ``e' = e_s + masked mean of the views``."""

    def __init__(self, frozen: FrozenFeatures, num_entities: int, num_relations: int, dim: int,
                 decoder: str = "distmult", view_dropout: float = 0.0) -> None:
        super().__init__()
        #: probability, per entity and training step, that its views are left out
        self.view_dropout = float(view_dropout)
        self.entity = nn.Embedding(num_entities, dim)
        nn.init.xavier_uniform_(self.entity.weight)
        self.frozen = frozen
        self.project = nn.ModuleDict({b.modality: ViewProjection(len(b.predicates), b.dim, dim)
                                      for b in frozen.blocks})
        self.decoder: Decoder = make_decoder(decoder, num_relations, dim)
        self.num_entities = num_entities

    @classmethod
    def from_features(cls, features: EntityFeatures, num_entities: int, num_relations: int,
                      settings: LPSettings) -> VLKGE:
        """VL-KGE on ``features`` with ``settings.embed_dim`` columns and ``settings.decoder``;
        a :class:`~rdf2mm.errors.UsageError` when no entity has any of the literals."""
        return cls(FrozenFeatures(features, num_entities, "vlkge"), num_entities, num_relations,
                   settings.embed_dim, settings.decoder, settings.view_dropout)

    def views(self, nodes: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The sum of each entity's projected views ``[n, d]`` and how many it has ``[n]``."""
        total: Tensor | None = None
        count: Tensor | None = None
        for block in self.frozen.blocks:
            mask = self.frozen.mask(block.modality, nodes)  # [n, P]
            projected = self.project[block.modality](self.frozen.values(block.modality, nodes))
            part = (projected * mask.unsqueeze(-1).to(projected.dtype)).sum(1)
            n = mask.sum(1)
            total = part if total is None else total + part
            count = n if count is None else count + n
        assert total is not None and count is not None  # FrozenFeatures keeps at least one modality
        return total, count

    def forward(self, adj: RelationalAdjacency | None = None, nodes: Tensor | None = None) -> Tensor:
        """The fused entity embeddings ``[E, d]`` (``adj`` is not read); with ``nodes``, their rows."""
        e = self.entity.weight if nodes is None else self.entity(nodes)
        total, count = self.views(nodes)
        fused = total / count.clamp(min=1).unsqueeze(-1).to(total.dtype)
        if self.training and self.view_dropout > 0:
            keep = torch.rand(fused.shape[0], 1, device=fused.device) >= self.view_dropout
            fused = fused * keep.to(fused.dtype)
        return e + fused
