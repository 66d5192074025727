"""MoMoK (Zhang et al., ICLR 2025, "Multiple Heads are Better than One: Mixture of Modality
Knowledge Experts for Entity Representation Learning").

For every modality ``m`` (structure, and each literal modality the graph has; an entity's
input in a literal modality as in :mod:`rdf2mm.models.modality_inputs`):

- ReMoKE: ``K`` experts ``V_{m,i} = W_{m,i} x_m`` (linear maps of the modality input), a
  gate ``G_i = softmax_i((U_m V_{m,i} + delta_i) / sigmoid(eps_r))`` with Gaussian noise
  ``delta_i ~ N(0, softplus(U'_m V_{m,i}) + 0.01)`` in training only and a learned
  per-relation temperature ``eps_r``, and the relation-aware embedding
  ``e_{m,r} = sum_i G_i V_{m,i}``;
- MuJoD: a joint "modality" ``e_{J,r} = sum_m alpha_m * P_m(e_{m,r})``, ``alpha`` a softmax
  over the modalities of ``w_attn * P_m(e_{m,r})`` per dimension (the paper's eq. 3);
- a TuckER score per modality and for the joint one, each with its own relation
  embeddings and core; each trained on its own BCE, the losses summed (the paper's eq. 6,
  through :meth:`PartsDecoder.loss_parts`), inference sums the scores;
- ExID: the CLUB upper bound on the mutual information between a modality's experts
  (:class:`ExpertCLUB`), weight ``club_weight`` (1e-4), returned by :meth:`MoMoK.extra_loss`,
  which the training loop adds to the loss.

Ranking stays exact with relation-aware candidates. The gate's logits do not depend on the
relation (only its temperature does), so ``forward()`` returns, per modality, the experts
``V`` ``[K, d]``, the gate logits ``[K]`` and the projected experts ``P_m V`` ``[K, d]``
(``P_m`` is affine, so ``P_m(e_{m,r}) = sum_i G_i P_m V_{m,i}``); the decoder builds every
candidate's relation-aware embeddings from them, once per distinct relation among a
block's queries (:func:`by_relation`): ``O(U N M K d)`` for ``U`` relations and ``N``
candidates, the size of the scoring itself, and no ``[B, N, d]`` tensor is ever formed. The
official code side-steps this by scoring relation-agnostic candidates; here the head and
the tail of a triple are embedded under the same relation, as the paper writes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from rdf2mm.models.decoders import Decoder, TuckER
from rdf2mm.models.ensemble import PartsDecoder
from rdf2mm.models.modality_inputs import ModalityEmbedding, present_modalities, structure_table

if TYPE_CHECKING:
    from rdf2mm.encoding.entity_features import EntityFeatures
    from rdf2mm.models.rgcn import RelationalAdjacency
    from rdf2mm.tasks.settings import LPSettings

#: the name of the structure modality and of the joint one
STRUCTURE, JOINT = "structure", "joint"
#: entities drawn per step for the CLUB estimate
CLUB_BATCH = 256
#: floor of the gate noise's standard deviation (the official code's noise_epsilon)
NOISE_FLOOR = 1e-2


@dataclass(frozen=True)
class Block:
    """Where one modality's columns lie in the representation: experts ``[K, d]``, gate
    logits ``[K]``, projected experts ``[K, d]``."""

    start: int
    K: int
    d: int

    @property
    def width(self) -> int:
        return 2 * self.K * self.d + self.K

    def experts(self, x: Tensor) -> Tensor:
        return x[:, self.start:self.start + self.K * self.d].reshape(-1, self.K, self.d)

    def logits(self, x: Tensor) -> Tensor:
        s = self.start + self.K * self.d
        return x[:, s:s + self.K]

    def projected(self, x: Tensor) -> Tensor:
        s = self.start + self.K * self.d + self.K
        return x[:, s:s + self.K * self.d].reshape(-1, self.K, self.d)


def mix(experts: Tensor, logits: Tensor, temperature: Tensor) -> Tensor:
    """``[n, d]``: the experts ``[n, K, d]`` weighted by ``softmax(logits / temperature)``
    (``temperature`` ``[n, 1]`` or a scalar)."""
    return (torch.softmax(logits / temperature, dim=-1).unsqueeze(-1) * experts).sum(1)


def by_relation(q: Tensor, r: Tensor, candidates_for: Callable[[Tensor], Tensor]) -> Tensor:
    """``[B, N]``: ``q[b] . c`` for every candidate ``c`` of ``candidates_for(r[b])`` ``[N, d]``,
    that table built once per distinct relation of ``r``."""
    rels, inverse = torch.unique(r, return_inverse=True)
    pieces, rows_all = [], []
    for i in range(len(rels)):
        rows = (inverse == i).nonzero().squeeze(1)
        pieces.append(q[rows] @ candidates_for(rels[i]).t())
        rows_all.append(rows)
    return torch.cat(pieces).index_select(0, torch.argsort(torch.cat(rows_all)))


class RelationTemperature(nn.Module):
    """``sigmoid(eps_r)`` per relation, shared by every modality's gate."""

    def __init__(self, num_relations: int) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.zeros(num_relations))

    def forward(self, r: Tensor) -> Tensor:
        return torch.sigmoid(self.raw[r])


class _RelationAware(Decoder):
    """A TuckER score on relation-aware embeddings built from the representation: what does
    not depend on the relation is read once (:meth:`inputs`), then mixed per relation (:meth:`mixed`)."""

    def __init__(self, temperature: RelationTemperature, num_relations: int, dim: int) -> None:
        super().__init__(num_relations, dim)
        # shared by every part and owned by the model: held outside the module tree so that
        # its parameter is saved once (safetensors refuses tensors that share memory)
        self._temperature = (temperature,)
        self.tucker = TuckER(num_relations, dim)

    @property
    def temperature(self) -> RelationTemperature:
        """The model's per-relation temperature (shared by the parts)."""
        return self._temperature[0]

    def inputs(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        """The (experts ``[n, K, d]``, gate logits ``[n, K]``) pairs this score mixes."""
        raise NotImplementedError

    def mixed(self, inputs: list[tuple[Tensor, Tensor]], tau: Tensor) -> Tensor:
        """``[n, d]``: the relation-aware embeddings under temperature ``tau``."""
        raise NotImplementedError

    def embed(self, x: Tensor, tau: Tensor) -> Tensor:
        return self.mixed(self.inputs(x), tau)

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        tau = self.temperature(r)[:, None]
        return self.tucker.score(self.embed(h, tau), r, self.embed(t, tau))

    def _all(self, q: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        cand = self.inputs(candidates)
        return by_relation(q, r, lambda rel: self.mixed(cand, self.temperature(rel)))

    def score_all_tails(self, h: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        return self._all(self.tucker.tail_query(self.embed(h, self.temperature(r)[:, None]), r), r, candidates)

    def score_all_heads(self, t: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        return self._all(self.tucker.head_query(self.embed(t, self.temperature(r)[:, None]), r), r, candidates)


class ModalityScorer(_RelationAware):
    """One modality's TuckER score on its relation-aware mixture of experts."""

    name = "momok-modality"

    def __init__(self, block: Block, temperature: RelationTemperature, num_relations: int, dim: int) -> None:
        super().__init__(temperature, num_relations, dim)
        self.block = block

    def inputs(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        return [(self.block.experts(x), self.block.logits(x))]

    def mixed(self, inputs: list[tuple[Tensor, Tensor]], tau: Tensor) -> Tensor:
        return mix(*inputs[0], tau)


class JointScorer(_RelationAware):
    """The joint modality's TuckER score: attention over the projected modality embeddings."""

    name = "momok-joint"

    def __init__(self, blocks: list[Block], temperature: RelationTemperature, num_relations: int, dim: int) -> None:
        super().__init__(temperature, num_relations, dim)
        self.blocks = list(blocks)
        # zero: the joint embedding starts as the modalities' mean
        self.attention = nn.Parameter(torch.zeros(dim))

    def inputs(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        return [(b.projected(x), b.logits(x)) for b in self.blocks]

    def mixed(self, inputs: list[tuple[Tensor, Tensor]], tau: Tensor) -> Tensor:
        projected = torch.stack([mix(v, u, tau) for v, u in inputs], dim=1)  # [n, M, d]
        alpha = torch.softmax(self.attention * projected, dim=1)
        return (alpha * projected).sum(1)


class ExpertCLUB(nn.Module):
    """CLUB (Cheng et al. 2020) between a modality's experts: ``q(V_j | V_i)`` a Gaussian whose
    mean and log-variance (tanh-bounded) a two-layer MLP reads from ``V_i`` and the one-hot of ``i``."""

    def __init__(self, dim: int, K: int) -> None:
        super().__init__()
        self.K, self.dim = K, dim
        self.net = nn.Sequential(nn.Linear(dim + K, dim), nn.ReLU(), nn.Linear(dim, 2 * K * dim))
        self.register_buffer("pairs", ~torch.eye(K, dtype=torch.bool), persistent=False)

    def _gaussian(self, params: dict[str, Tensor], v: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance ``[B, i, j, d]`` of ``V_j`` given ``V_i``."""
        B, K, d = v.shape
        x = torch.cat([v, torch.eye(K, device=v.device, dtype=v.dtype).expand(B, K, K)], dim=-1)
        out = functional_call(self.net, params, (x,)).reshape(B, K, 2, K, d)
        return out[:, :, 0], torch.tanh(out[:, :, 1])

    def forward(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """For experts ``v`` ``[B, K, d]`` of a batch of entities: the CLUB estimate (its
        gradient reaches the experts only) and ``q``'s negative log-likelihood (its
        gradient reaches ``q`` only), each averaged over the entities, summed over the
        ordered pairs ``i != j`` and divided by ``K^2`` as in the paper's eq. 8."""
        K = self.K
        frozen = {k: p.detach() for k, p in self.net.named_parameters()}
        mu, logvar = self._gaussian(frozen, v)
        half_precision = torch.exp(-logvar) / 2
        target = v.unsqueeze(1)  # [B, 1, j, d]
        positive = -((mu - target) ** 2 * half_precision).sum(-1)  # [B, i, j]
        # the mean over the batch's other entities of log q(V_j^e' | V_i^e), in closed form
        spread = v.var(0, unbiased=False).unsqueeze(0).unsqueeze(0)
        negative = -(((mu - v.mean(0)) ** 2 + spread) * half_precision).sum(-1)
        club = (positive - negative)[:, self.pairs].sum(-1).mean() / K**2
        fixed = v.detach()
        mu, logvar = self._gaussian(dict(self.net.named_parameters()), fixed)
        nll = ((mu - fixed.unsqueeze(1)) ** 2 * torch.exp(-logvar) / 2 + logvar / 2).sum(-1)
        return club, nll[:, self.pairs].sum(-1).mean() / K**2


class MoMoK(nn.Module):
    """Experts, gates, projections and CLUB estimators per modality, one shared relation
    temperature, and a :class:`PartsDecoder` summing the modalities' and the joint TuckER scores."""

    def __init__(self, features: EntityFeatures | None, num_entities: int, num_relations: int, dim: int,
                 experts: int = 3, club_weight: float = 1e-4) -> None:
        super().__init__()
        if experts < 1:
            raise ValueError(f"MoMoK needs at least one expert per modality, not {experts}")
        names = present_modalities(features) if features is not None else ()
        self.structure = structure_table(num_entities, dim)
        self.literal = nn.ModuleList([ModalityEmbedding(features.modalities[n], dim) for n in names]) \
            if features is not None else nn.ModuleList()
        self.modalities = (STRUCTURE, *names)
        M, K = len(self.modalities), experts
        self.K, self.dim, self.club_weight = K, dim, club_weight
        self.experts = nn.ModuleList([nn.Linear(dim, K * dim) for _ in range(M)])
        self.gate = nn.ModuleList([nn.Linear(dim, 1) for _ in range(M)])
        self.noise = nn.ModuleList([nn.Linear(dim, 1) for _ in range(M)])
        self.project = nn.ModuleList([nn.Linear(dim, dim) for _ in range(M)])
        self.club = nn.ModuleList([ExpertCLUB(dim, K) for _ in range(M)])
        self.temperature = RelationTemperature(num_relations)
        width = 2 * K * dim + K
        blocks = [Block(m * width, K, dim) for m in range(M)]
        parts: list[Decoder] = [ModalityScorer(b, self.temperature, num_relations, dim) for b in blocks]
        parts.append(JointScorer(blocks, self.temperature, num_relations, dim))
        self.decoder = PartsDecoder(parts, [slice(None)] * len(parts), num_relations, M * width,
                                    (*self.modalities, JOINT), train_parts=True, initial=1.0)
        self.num_entities = num_entities
        self._experts: list[Tensor] | None = None

    @classmethod
    def from_features(cls, features: EntityFeatures, num_entities: int, num_relations: int,
                      settings: LPSettings) -> MoMoK:
        """MoMoK on every modality ``features`` has (``settings.experts``, ``settings.club_weight``)."""
        return cls(features, num_entities, num_relations, settings.embed_dim,
                   getattr(settings, "experts", 3), getattr(settings, "club_weight", 1e-4))

    def forward(self, adj: RelationalAdjacency | None = None, nodes: Tensor | None = None) -> Tensor:
        """``[E, M * (2 K d + K)]``: per modality the experts, gate logits (noisy in
        training) and projected experts (``adj`` is not read); with ``nodes``, their rows."""
        inputs = [self.structure.weight, *(m() for m in self.literal)]
        E, K, d = inputs[0].shape[0], self.K, self.dim
        blocks, experts = [], []
        for m, x in enumerate(inputs):
            v = self.experts[m](x).reshape(E, K, d)
            logits = self.gate[m](v).squeeze(-1)
            if self.training:
                std = F.softplus(self.noise[m](v).squeeze(-1)) + NOISE_FLOOR
                logits = logits + torch.randn_like(logits) * std
            blocks.append(torch.cat([v.flatten(1), logits, self.project[m](v).flatten(1)], dim=1))
            experts.append(v)
        # kept for extra_loss, which reads this step's experts (with their graph)
        self._experts = experts if self.training and torch.is_grad_enabled() else None
        out = torch.cat(blocks, dim=1)
        return out if nodes is None else out[nodes]

    def extra_loss(self) -> Tensor:
        """``club_weight`` times the CLUB bound between each modality's experts, on up to
        :data:`CLUB_BATCH` entities of the last training forward. The value is that term
        alone; the variational networks' own fitting loss (the paper's eq. 9, optimised
        alternately there) rides along with zero value and its gradient, so one optimiser
        step does both."""
        experts, self._experts = self._experts, None
        zero = self.structure.weight.new_zeros(())
        if not experts or self.K < 2 or self.club_weight == 0:
            return zero
        E = experts[0].shape[0]
        pick = torch.randint(E, (min(E, CLUB_BATCH),), device=experts[0].device)
        club, nll = zero, zero
        for v, estimator in zip(experts, self.club):
            c, n = estimator(v[pick])
            club, nll = club + c, nll + n
        return self.club_weight * club + (nll - nll.detach())
