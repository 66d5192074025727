"""IKRL (Xie et al., IJCAI 2017, "Image-embodied Knowledge Representation Learning").

Every entity has a structure embedding ``e_s`` and an image-based representation ``e_i``:
each of its images' frozen feature vector ``f_j`` (the visual modality's pretrained CNN
features, one row per image in ``ModalityFeatures.item_values``) is projected by a learned
matrix, ``p_j = M f_j``, and the projections are pooled by attention with the structure
embedding as the query, ``att_j = softmax_j(p_j . e_s)``, ``e_i = sum_j att_j p_j``
(IKRL's attention-based multi-instance learning: the images that fit what the triples
say about the entity count most). A triple's energy is the sum of four TransE energies
with one relation vector, ``||h_a + r - t_b||`` for ``(a, b)`` in ss, ii, si, is; the
score is minus the energy (:class:`IKRLDecoder`). The paper's margin loss is replaced by
the training loop's BCE, as for every model here.

Entities with no image: their image-based representation is their structure embedding
(``e_i = e_s``), so their four energies are structure energies. Every candidate is then
scored on the same four terms, so an entity is neither favoured nor penalised in ranking
for lacking pictures; and a graph with no valid image at all trains a TransE whose
energy is counted four times (the model's structure-only ablation).

``forward()`` returns ``[e_s ; e_i]`` (``[E, 2 * dim]``); the decoder splits it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from rdf2mm.models.decoders import TransE
from rdf2mm.models.modality_inputs import structure_table

if TYPE_CHECKING:
    from rdf2mm.encoding.entity_features import EntityFeatures
    from rdf2mm.models.rgcn import RelationalAdjacency
    from rdf2mm.tasks.settings import LPSettings

#: the modality whose items (images) IKRL attends over
IMAGE_MODALITY = "visual"


class IKRLDecoder(TransE):
    """Minus the sum of the four TransE energies ss, ii, si, is over ``[e_s ; e_i]``
    halves, one relation vector for all four (``dim``: the width of one half)."""

    name = "ikrl"

    def _halves(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[..., : self.dim], x[..., self.dim:]

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        hs, hi = self._halves(h)
        ts, ti = self._halves(t)
        rel = self.relation[r]

        def energy(a: Tensor, b: Tensor) -> Tensor:
            return torch.linalg.vector_norm(a + rel - b, ord=self.p, dim=-1)

        return -(energy(hs, ts) + energy(hi, ti) + energy(hs, ti) + energy(hi, ts))

    def _four(self, qs: Tensor, qi: Tensor, candidates: Tensor) -> Tensor:
        cs, ci = self._halves(candidates)
        # each _all is minus a distance: their sum is minus the total energy
        return self._all(qs, cs) + self._all(qi, ci) + self._all(qs, ci) + self._all(qi, cs)

    def score_all_tails(self, h: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        hs, hi = self._halves(h)
        rel = self.relation[r]
        return self._four(hs + rel, hi + rel, candidates)

    def score_all_heads(self, t: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        # ||h_a + r - t_b|| = ||h_a - (t_b - r)||: the points are t - r, the candidates heads
        ts, ti = self._halves(t)
        rel = self.relation[r]
        ps, pi = ts - rel, ti - rel
        cs, ci = self._halves(candidates)
        return self._all(ps, cs) + self._all(pi, ci) + self._all(pi, cs) + self._all(ps, ci)


class IKRL(nn.Module):
    """Structure table, image projection ``M`` and the :class:`IKRLDecoder` (see the module docstring)."""

    def __init__(self, num_entities: int, num_relations: int, dim: int,
                 items: Tensor | None = None, item_entity: Tensor | None = None) -> None:
        super().__init__()
        self.entity = structure_table(num_entities, dim)
        self.decoder = IKRLDecoder(num_relations, dim)
        self.num_entities = num_entities
        items = items if items is not None else torch.zeros(0, 1)
        item_entity = item_entity if item_entity is not None else torch.zeros(0, dtype=torch.long)
        if len(items) != len(item_entity):
            raise ValueError(f"{len(items)} image feature rows but {len(item_entity)} entity ids")
        self.register_buffer("items", items.float(), persistent=False)
        self.register_buffer("item_entity", item_entity.long(), persistent=False)
        self.project = nn.Linear(items.shape[1], dim)
        has = torch.zeros(num_entities, dtype=torch.bool)
        has[item_entity.long()] = True
        self.register_buffer("has_image", has, persistent=False)
        #: entities with at least one image (the others take e_i = e_s)
        self.image_entities = int(has.sum())

    @classmethod
    def from_features(cls, features: EntityFeatures, num_entities: int, num_relations: int,
                      settings: LPSettings) -> IKRL:
        """IKRL on the visual modality's images (none: every entity falls back to structure)."""
        mf = features.modalities.get(IMAGE_MODALITY)
        if mf is None or len(mf.item_values) == 0:
            return cls(num_entities, num_relations, settings.embed_dim)
        return cls(num_entities, num_relations, settings.embed_dim, mf.item_values, mf.item_entity)

    def image_representation(self, structure: Tensor) -> Tensor:
        """``[E, dim]``: attention-pooled image projections; the structure row where none."""
        if len(self.items) == 0:
            return structure
        p = self.project(self.items)  # [N, d]
        owner = self.item_entity
        logits = (p * structure[owner]).sum(-1)
        # softmax over each entity's own images (a segment softmax): shift by the entity's max
        top = torch.full((self.num_entities,), float("-inf"), device=p.device, dtype=logits.dtype)
        top = top.scatter_reduce(0, owner, logits.detach(), reduce="amax")
        ex = torch.exp(logits - top[owner])
        total = torch.zeros(self.num_entities, device=p.device, dtype=ex.dtype).index_add(0, owner, ex)
        att = ex / total[owner]
        pooled = torch.zeros_like(structure).index_add(0, owner, att[:, None] * p)
        return torch.where(self.has_image[:, None], pooled, structure)

    def forward(self, adj: RelationalAdjacency | None = None, nodes: Tensor | None = None) -> Tensor:
        """``[E, 2 * dim]``: ``[e_s ; e_i]`` of every entity (``adj`` is not read); with ``nodes``, their rows."""
        s = self.entity.weight
        out = torch.cat([s, self.image_representation(s)], dim=1)
        return out if nodes is None else out[nodes]
