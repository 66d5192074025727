"""Link-prediction training losses: binary cross-entropy on sampled corruptions or on every entity.

- Sampled negatives (``k`` per positive): head or tail replaced uniformly, as in the MR-GCN
  paper; cost per step ``batch x (k + 1)`` scores.
- 1-N: every entity as the tail of ``(h, r, ?)`` and as the head of ``(?, r, t)``, target 1
  for the known answers. For the decoders whose scores are a query vector times the
  candidate matrix (DistMult, ComplEx, TuckER) it runs as one fused function over
  blocks of entities: the ``[batch, entities]`` score matrix, its target and its gradient
  are never held whole, so memory is set by :data:`ONE_TO_N_BLOCK_CELLS`, not by batch x
  entities, and nothing of that size is allocated per step. The loss is the mean BCE
  over all batch x entities cells, the same figure the plain form computes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rdf2mm.models.decoders import Decoder
from rdf2mm.models.indexing import gather_rows
from rdf2mm.tasks.minibatch import forward_batch

if TYPE_CHECKING:
    from rdf2mm.graph.sampling import NeighbourSampler
    from rdf2mm.tasks.evaluation import FilterIndex

#: cells of one block of the fused 1-N loss (scores of a block of entities for the whole batch)
ONE_TO_N_BLOCK_CELLS = 2**22


class Corruptor:
    """Draws ``k`` corruptions per positive (head or tail replaced uniformly) from one generator.

    The random draws happen on the CPU generator (so a seed gives the same stream on any
    device); the 1/0 label vector of a batch size is built once and reused.
    """

    def __init__(self, k: int, num_entities: int, gen: torch.Generator) -> None:
        self.k, self.num_entities, self.gen = k, num_entities, gen
        self._labels: dict[tuple[int, torch.device], Tensor] = {}

    def labels(self, batch: int, device: torch.device) -> Tensor:
        key = (batch, device)
        if key not in self._labels:
            self._labels[key] = torch.cat([torch.ones(batch, device=device),
                                           torch.zeros(batch * self.k, device=device)])
        return self._labels[key]

    def __call__(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        """The positives followed by ``k`` corruptions each, and their 1/0 labels."""
        B, k, dev = batch.shape[0], self.k, batch.device
        neg = batch.repeat_interleave(k, dim=0)
        corrupt_head = torch.rand(B * k, generator=self.gen, device="cpu").to(dev) < 0.5
        repl = torch.randint(self.num_entities, (B * k,), generator=self.gen, device="cpu").to(dev)
        neg[:, 0] = torch.where(corrupt_head, repl, neg[:, 0])
        neg[:, 2] = torch.where(corrupt_head, neg[:, 2], repl)
        return torch.cat([batch, neg]), self.labels(B, dev)


def loss_terms(emb: Tensor, decoder: Decoder) -> list[tuple[Tensor, Decoder]]:
    """The (representation, decoder) pairs a loss is summed over: the whole and its decoder,
    or, for a multi-score decoder whose parts train on their own scores (its
    ``loss_parts()`` is not None: MoSE, MoMoK, see :mod:`rdf2mm.models.ensemble`), each
    part's columns and decoder. The one place where the losses know of multi-score models."""
    parts = getattr(decoder, "loss_parts", None)
    chosen = parts() if parts is not None else None
    if chosen is None:
        return [(emb, decoder)]
    return [(emb[:, cols], part) for part, cols in chosen]


def bce_negative_sampling(emb: Tensor, decoder: Decoder, batch: Tensor, corrupt: Corruptor) -> Tensor:
    """BCE on the positives and their corruptions, given every entity's embedding (summed
    over a multi-score decoder's parts, :func:`loss_terms`; one draw of corruptions for all)."""
    both, labels = corrupt(batch)
    total = None
    for e, dec in loss_terms(emb, decoder):
        logits = dec.score(gather_rows(e, both[:, 0]), both[:, 1], gather_rows(e, both[:, 2])).float()
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        total = loss if total is None else total + loss
    assert total is not None
    return total


def bce_negative_sampling_minibatch(
    net: nn.Module, decoder: Decoder, batch: Tensor, corrupt: Corruptor, sampler: NeighbourSampler,
    num_relations: int, device: torch.device, rng: np.random.Generator,
) -> Tensor:
    """As :func:`bce_negative_sampling`, with embeddings of only the entities the
    positives and corruptions use, from their sampled neighbourhoods."""
    # ``batch`` is on the CPU: sampling happens there, and nothing waits on the device.
    both, labels = corrupt(batch)
    entities, local = np.unique(both[:, [0, 2]].numpy(), return_inverse=True)
    emb = forward_batch(net, sampler, entities, num_relations, device, rng).float()
    local_t = torch.as_tensor(local.reshape(-1, 2)).to(device, non_blocking=True)
    rel = both[:, 1].to(device, non_blocking=True)
    logits = decoder.score(gather_rows(emb, local_t[:, 0]), rel, gather_rows(emb, local_t[:, 1])).float()
    return F.binary_cross_entropy_with_logits(logits, labels.to(device, non_blocking=True))


class _BlockedOneToN(torch.autograd.Function):
    """Mean over ``[B, E]`` of ``BCE(q @ C.T, Y)`` where ``Y`` is 1 at ``(rows, cols)``.

    BCE with logits is ``softplus(s) - y * s``, so the loss is the blocked sum of
    ``softplus(q @ C_block.T)`` minus the scores of the known answers, and its gradient
    with respect to the scores is ``sigmoid(s) - y``. Training always backpropagates
    this loss, so the gradients are formed in the same pass over the blocks (three
    matrix products per block instead of four with a recomputing backward) and
    backward only scales them.
    """

    @staticmethod
    def forward(ctx: Any, q: Tensor, cand: Tensor, rows: Tensor, cols: Tensor, block: int) -> Tensor:
        n = q.shape[0] * cand.shape[0]
        total = q.new_zeros(())
        grad_q = torch.zeros_like(q)
        grad_c = torch.empty_like(cand)
        # The known answers, sorted by entity, so each block's answers are one slice.
        # They are subtracted from that block's scores and probabilities as scalars: a
        # relation with thousands of answers per query (rdf:type, a hub) must not cost a
        # gather and a scatter of a whole embedding row per answer.
        order = torch.argsort(cols)
        rows_s, cols_s = rows[order], cols[order]
        starts = torch.arange(0, cand.shape[0] + block, block, device=cols.device)
        bounds = torch.searchsorted(cols_s, starts).tolist()
        for i, s in enumerate(range(0, cand.shape[0], block)):
            c = cand[s:s + block]
            scores = q @ c.t()
            total += F.softplus(scores).sum()
            r_b, c_b = rows_s[bounds[i]:bounds[i + 1]], cols_s[bounds[i]:bounds[i + 1]] - s
            total -= scores[r_b, c_b].sum()
            p = scores.sigmoid_()
            p.index_put_((r_b, c_b), p.new_full((len(r_b),), -1.0), accumulate=True)
            grad_q.addmm_(p, c)
            torch.mm(p.t(), q, out=grad_c[s:s + block])
        ctx.save_for_backward(grad_q, grad_c)
        ctx.n = n
        return total / n

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        grad_q, grad_c = ctx.saved_tensors
        scale = grad / ctx.n
        return grad_q * scale, grad_c * scale, None, None, None


def _dot_product_scores(decoder: Decoder) -> bool:
    """Whether the decoder's 1-N scores are its query vector times the candidates (the blocked form applies)."""
    cls = type(decoder)
    return cls.score_all_tails is Decoder.score_all_tails and cls.score_all_heads is Decoder.score_all_heads


def bce_one_to_n(emb: Tensor, decoder: Decoder, batch: np.ndarray, index: FilterIndex,
                 block_cells: int = ONE_TO_N_BLOCK_CELLS) -> Tensor:
    """BCE of every entity as tail of (h, r, ?) and as head of (?, r, t): 1 for the known
    answers of ``index`` (the training triples); the mean of both directions (summed over
    a multi-score decoder's parts, :func:`loss_terms`)."""
    dev = emb.device
    answers = (index.tails.lookup(batch[:, 0], batch[:, 1]), index.heads.lookup(batch[:, 2], batch[:, 1]))
    known = [(torch.as_tensor(rows, device=dev), torch.as_tensor(cols, device=dev)) for rows, cols in answers]
    total = None
    for e, dec in loss_terms(emb, decoder):
        loss = _one_to_n(e, dec, batch, known, block_cells)
        total = loss if total is None else total + loss
    assert total is not None
    return total


def _one_to_n(emb: Tensor, decoder: Decoder, batch: np.ndarray, known: list[tuple[Tensor, Tensor]],
              block_cells: int) -> Tensor:
    """:func:`bce_one_to_n` of one decoder, the known answers looked up (tails, then heads)."""
    dev = emb.device
    E, B = emb.shape[0], len(batch)
    h, r, t = (torch.as_tensor(batch[:, i], device=dev) for i in range(3))
    directions = ((gather_rows(emb, h), "tail", known[0]), (gather_rows(emb, t), "head", known[1]))
    block = max(1, block_cells // max(B, 1))
    losses = []
    for given, side, (rows_t, cols_t) in directions:
        if _dot_product_scores(decoder):
            q = decoder.tail_query(given, r) if side == "tail" else decoder.head_query(given, r)
            losses.append(_BlockedOneToN.apply(q.to(emb.dtype), emb, rows_t, cols_t, block))
            continue
        # A decoder with its own scoring: the plain form (memory batch x entities).
        scores = (decoder.score_all_tails if side == "tail" else decoder.score_all_heads)(given, r, emb).float()
        target = torch.zeros(B, E, device=dev)
        target[rows_t, cols_t] = 1.0
        losses.append(F.binary_cross_entropy_with_logits(scores, target))
    return (losses[0] + losses[1]) / 2
