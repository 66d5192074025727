"""Triple scoring functions (decoders) on top of the MR-GCN entity embeddings.

All decoders share one interface so training and ranking never look at which one is
used:

- ``score(h, r, t)``: one score per triple, ``h``/``t`` embeddings ``[B, d]``, ``r``
  relation ids ``[B]``;
- ``score_all_tails(h, r, candidates)``: ``[B, N]`` scores of every candidate tail;
- ``score_all_heads(t, r, candidates)``: ``[B, N]`` scores of every candidate head.

The batched forms of the bilinear decoders are a query vector times the candidate
matrix, so ranking 10^5 entities is one matrix product per block (see
:mod:`rdf2mm.tasks.evaluation`). The distance decoders (TransE, RotatE) score a query
point's distance to every candidate with ``torch.cdist``, which never materialises the
``[B, N, d]`` differences (L2 by the ``|q|^2 - 2 q.c + |c|^2`` expansion, L1 natively),
forward and backward.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from rdf2mm.models import registry
from rdf2mm.models.indexing import gather_rows

#: the registered decoder names (see :data:`rdf2mm.models.registry.DECODERS`)
DECODERS = registry.DECODERS.names()


class Decoder(nn.Module):
    """Scores triples from entity embeddings and learned relation parameters."""

    name = "decoder"

    def __init__(self, num_relations: int, dim: int) -> None:
        super().__init__()
        self.num_relations = num_relations
        self.dim = dim

    def tail_query(self, h: Tensor, r: Tensor) -> Tensor:
        """``[B, d]`` vector whose dot product with a tail embedding is the score."""
        raise NotImplementedError

    def head_query(self, t: Tensor, r: Tensor) -> Tensor:
        """``[B, d]`` vector whose dot product with a head embedding is the score."""
        raise NotImplementedError

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        return (self.tail_query(h, r) * t).sum(-1)

    def score_all_tails(self, h: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        return self.tail_query(h, r) @ candidates.t()

    def score_all_heads(self, t: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        return self.head_query(t, r) @ candidates.t()

    def relation_rows(self, r: Tensor) -> Tensor:
        """The relation parameters of ``r`` (:func:`~rdf2mm.models.indexing.gather_rows`:
        a training step gathers one row per scored triple)."""
        return gather_rows(self.relation, r)

    def regulariser(self) -> Tensor:
        """Squared norm of the relation parameters (for optional L2 on the decoder)."""
        return sum((p.pow(2).sum() for p in self.parameters()), torch.zeros(()))


class DistMult(Decoder):
    """``<h, diag(w_r), t>`` (Yang et al. 2015), the MR-GCN paper's decoder; symmetric in h, t."""

    name = "distmult"

    def __init__(self, num_relations: int, dim: int) -> None:
        super().__init__(num_relations, dim)
        self.relation = nn.Parameter(torch.empty(num_relations, dim))
        nn.init.xavier_uniform_(self.relation)

    def tail_query(self, h: Tensor, r: Tensor) -> Tensor:
        return h * self.relation_rows(r)

    def head_query(self, t: Tensor, r: Tensor) -> Tensor:
        return t * self.relation_rows(r)


class ComplEx(Decoder):
    """``Re(<h, w_r, conj(t)>)`` (Trouillon et al. 2016): embeddings split into real and imaginary halves."""

    name = "complex"

    def __init__(self, num_relations: int, dim: int) -> None:
        if dim % 2:
            raise ValueError(f"ComplEx needs an even embedding size, got {dim}")
        super().__init__(num_relations, dim)
        self.relation = nn.Parameter(torch.empty(num_relations, dim))
        nn.init.xavier_uniform_(self.relation)

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        half = x.shape[-1] // 2
        return x[..., :half], x[..., half:]

    def tail_query(self, h: Tensor, r: Tensor) -> Tensor:
        hr, hi = self._split(h)
        rr, ri = self._split(self.relation_rows(r))
        # Re(h * r * conj(t)) = t_re * Re(h r) + t_im * Im(h r)
        return torch.cat([hr * rr - hi * ri, hr * ri + hi * rr], dim=-1)

    def head_query(self, t: Tensor, r: Tensor) -> Tensor:
        tr, ti = self._split(t)
        rr, ri = self._split(self.relation_rows(r))
        # Re(h * r * conj(t)) = h_re * Re(r conj(t)) - h_im * Im(r conj(t))
        return torch.cat([rr * tr + ri * ti, rr * ti - ri * tr], dim=-1)


class TuckER(Decoder):
    """``W x1 h x2 w_r x3 t`` (Balazevic et al. 2019) with a shared core tensor."""

    name = "tucker"

    def __init__(self, num_relations: int, dim: int, relation_dim: int | None = None) -> None:
        super().__init__(num_relations, dim)
        rdim = relation_dim or min(dim, 32)
        self.relation = nn.Parameter(torch.empty(num_relations, rdim))
        nn.init.xavier_uniform_(self.relation)
        self.core = nn.Parameter(torch.empty(dim, rdim, dim).uniform_(-1.0 / dim**0.5, 1.0 / dim**0.5))

    def tail_query(self, h: Tensor, r: Tensor) -> Tensor:
        w = torch.einsum("ijk,bj->bik", self.core, self.relation_rows(r))  # [B, d, d]
        return torch.einsum("bi,bik->bk", h, w)

    def head_query(self, t: Tensor, r: Tensor) -> Tensor:
        w = torch.einsum("ijk,bj->bik", self.core, self.relation_rows(r))
        return torch.einsum("bik,bk->bi", w, t)


class _Distance(Decoder):
    """Base of the decoders scoring ``-||query - candidate||_p``: subclasses give the
    query points of (h, r) among tails and of (r, t) among heads."""

    #: the norm of the distance
    p: float = 2.0

    def tail_point(self, h: Tensor, r: Tensor) -> Tensor:
        """``[B, d]`` point whose distance to a tail embedding is minus the score."""
        raise NotImplementedError

    def head_point(self, t: Tensor, r: Tensor) -> Tensor:
        """``[B, d]`` point whose distance to a head embedding is minus the score."""
        raise NotImplementedError

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        return -torch.linalg.vector_norm(self.tail_point(h, r) - t, ord=self.p, dim=-1)

    def _all(self, q: Tensor, candidates: Tensor) -> Tensor:
        dtype = torch.promote_types(q.dtype, candidates.dtype)
        if dtype in (torch.float16, torch.bfloat16):
            dtype = torch.float32  # cdist has no half-precision kernels (bfloat16 autocast on CUDA)
        q, candidates = q.to(dtype), candidates.to(dtype)
        # "use_mm_for_euclid_dist": the expansion even for small blocks, so scores of one
        # entity do not depend on how many candidates share its block (clamped at 0 inside)
        mode = "use_mm_for_euclid_dist" if self.p == 2 else "donot_use_mm_for_euclid_dist"
        return -torch.cdist(q.unsqueeze(0), candidates.unsqueeze(0), p=self.p, compute_mode=mode)[0]

    def score_all_tails(self, h: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        return self._all(self.tail_point(h, r), candidates)

    def score_all_heads(self, t: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        return self._all(self.head_point(t, r), candidates)


class TransE(_Distance):
    """``-||h + w_r - t||_p`` (Bordes et al. 2013); ``p`` = 1 by default, as PyKEEN's
    ``TransE`` (``scoring_fct_norm=1``); 2 is accepted."""

    name = "transe"

    def __init__(self, num_relations: int, dim: int, p: int = 1) -> None:
        if p not in (1, 2):
            raise ValueError(f"TransE takes the L1 or L2 norm, not p={p}")
        super().__init__(num_relations, dim)
        self.p = float(p)
        self.relation = nn.Parameter(torch.empty(num_relations, dim))
        nn.init.xavier_uniform_(self.relation)

    def tail_point(self, h: Tensor, r: Tensor) -> Tensor:
        return h + self.relation_rows(r)

    def head_point(self, t: Tensor, r: Tensor) -> Tensor:
        return t - self.relation_rows(r)


class RotatE(_Distance):
    """``-||h o w_r - t||`` (Sun et al. 2019): embeddings as complex vectors (real half,
    imaginary half), each relation a rotation ``w_r = exp(i theta_r)`` kept as its phases
    ``theta_r`` (``relation``, ``[R, d/2]``), so ``|w_r| = 1`` always holds. The norm is
    the complex vector's L2 norm, as PyKEEN's ``RotatE``; since a rotation keeps lengths,
    the head side is ``-||h - t o conj(w_r)||``."""

    name = "rotate"

    def __init__(self, num_relations: int, dim: int) -> None:
        if dim % 2:
            raise ValueError(f"RotatE needs an even embedding size, got {dim}")
        super().__init__(num_relations, dim)
        self.relation = nn.Parameter(torch.empty(num_relations, dim // 2).uniform_(-torch.pi, torch.pi))

    def _rotate(self, x: Tensor, r: Tensor, sign: float) -> Tensor:
        half = x.shape[-1] // 2
        xr, xi = x[..., :half], x[..., half:]
        theta = self.relation_rows(r)
        c, s = torch.cos(theta), sign * torch.sin(theta)
        return torch.cat([xr * c - xi * s, xr * s + xi * c], dim=-1)

    def tail_point(self, h: Tensor, r: Tensor) -> Tensor:
        return self._rotate(h, r, 1.0)

    def head_point(self, t: Tensor, r: Tensor) -> Tensor:
        return self._rotate(t, r, -1.0)


def make_decoder(name: str, num_relations: int, dim: int) -> Decoder:
    """Decoder by name, from :data:`rdf2mm.models.registry.DECODERS` (``distmult``,
    ``complex``, ``tucker``, ``transe``, ``rotate``)."""
    return registry.DECODERS.make(name, num_relations, dim)
