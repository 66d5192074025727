"""A multi-score decoder: several part decoders, one per modality (or view), combined.

The multi-score literal models (MoSE, MoMoK) hand the training loop and the ranking one
representation per entity, the concatenation of their parts' representations, and one
:class:`PartsDecoder`. It scores a triple with every part's decoder on that part's columns
and returns the weighted sum of the parts' scores, the weights per relation (a buffer,
saved with the model). So the loss, the filtered ranking and ``predict`` treat it like
any decoder.

Two hooks beside the Decoder interface:

- :meth:`PartsDecoder.loss_parts`: the parts and their columns when each part is trained
  on its own score (MoSE trains one model per modality, MoMoK sums one loss per modality):
  :func:`rdf2mm.tasks.lp_losses.loss_terms` then sums the loss over the parts instead of
  taking it of the combined score.
- :meth:`PartsDecoder.fit_weights`: MoSE's inference ensemble with weights learned on the
  validation split (MoSE-BI's relation-specific weights), called once when training ends
  (``LinkPredictorTraining.finish`` through the model's ``fit_ensemble``). Every part's
  scores of the validation queries are computed once with the trained weights; only the
  ensemble weights are then fitted (cross-entropy of the true answer among the filtered
  candidates, the per-relation deviations from shared weights held back by an L2
  penalty), and they are kept only if they rank that validation sample at least as well
  as the mean did. No model parameter changes and no training loop runs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rdf2mm.models.decoders import Decoder

if TYPE_CHECKING:
    from rdf2mm.tasks.evaluation import FilterIndex

#: Adam steps and step size of the ensemble-weight fit (a handful of parameters, fixed scores)
FIT_STEPS = 150
FIT_LR = 0.05
#: L2 penalty on the per-relation deviations from the shared weights (few validation triples per relation)
FIT_RELATION_PENALTY = 0.1
#: validation triples the fit reads at most (fewer when their scores would exceed the memory budget)
FIT_MAX_TRIPLES = 4096


class PartsDecoder(Decoder):
    """``score = sum_p weights[r, p] * part_p.score(h[cols_p], r, t[cols_p])``.

    ``columns[p]`` is the slice of the representation part ``p`` reads (``slice(None)``: a
    part that picks its own columns, as MoMoK's do). ``weights`` starts equal
    (``initial`` each: ``1 / P`` for a mean, 1 for a sum).
    """

    name = "parts"

    def __init__(self, parts: list[Decoder], columns: list[slice], num_relations: int, dim: int,
                 names: tuple[str, ...], *, train_parts: bool, initial: float) -> None:
        if not parts or len(parts) != len(columns) or len(parts) != len(names):
            raise ValueError("a parts decoder needs one column slice and one name per part")
        super().__init__(num_relations, dim)
        self.parts = nn.ModuleList(parts)
        self.columns = list(columns)
        #: what each part is (a modality, "joint", ...), for reports
        self.part_names = tuple(names)
        self.train_parts = train_parts
        self.register_buffer("weights", torch.full((num_relations, len(parts)), float(initial)))

    def loss_parts(self) -> list[tuple[Decoder, slice]] | None:
        """The (decoder, columns) pairs the loss is summed over, or None: the combined score."""
        return list(zip(self.parts, self.columns)) if self.train_parts else None

    def _each(self, a: Tensor, r: Tensor, b: Tensor, method: str) -> Tensor:
        total: Tensor | None = None
        w = self.weights[r]
        for p, (part, cols) in enumerate(zip(self.parts, self.columns)):
            s = getattr(part, method)(a[:, cols], r, b[:, cols])
            term = s * (w[:, p] if s.dim() == 1 else w[:, p, None])
            total = term if total is None else total + term
        assert total is not None
        return total

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        return self._each(h, r, t, "score")

    def score_all_tails(self, h: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        return self._each(h, r, candidates, "score_all_tails")

    def score_all_heads(self, t: Tensor, r: Tensor, candidates: Tensor) -> Tensor:
        return self._each(t, r, candidates, "score_all_heads")

    def part_scores(self, emb: Tensor, triples: np.ndarray, side: str) -> Tensor:
        """``[n, E, P]``: every part's scores of every entity as the tail (``side="tail"``)
        or head of the given triples' queries."""
        dev = emb.device
        h, r, t = (torch.as_tensor(triples[:, i], device=dev) for i in range(3))
        given = emb[h] if side == "tail" else emb[t]
        method = "score_all_tails" if side == "tail" else "score_all_heads"
        return torch.stack([getattr(part, method)(given[:, cols], r, emb[:, cols]).float()
                            for part, cols in zip(self.parts, self.columns)], dim=-1)

    @torch.no_grad()
    def _sample(self, emb: Tensor, triples: np.ndarray, index: FilterIndex, budget: int,
                seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The validation sample's part scores ``[2n, E, P]``, true answers, relations and
        filter mask (other known answers), tail queries then head queries."""
        E, P = emb.shape[0], len(self.parts)
        # scores, their weighted sum and its gradient: about 4 floats per score cell
        cap = max(1, min(FIT_MAX_TRIPLES, budget // (16 * 2 * E * P)))
        if len(triples) > cap:
            pick = np.random.default_rng(seed).choice(len(triples), cap, replace=False)
            triples = triples[np.sort(pick)]
        scores, trues, masks = [], [], []
        for side, anchor, answer, idx in (("tail", 0, 2, index.tails), ("head", 2, 0, index.heads)):
            scores.append(self.part_scores(emb, triples, side))
            mask = torch.zeros(len(triples), E, dtype=torch.bool)
            rows, answers = idx.lookup(triples[:, anchor], triples[:, 1])
            mask[torch.as_tensor(rows), torch.as_tensor(answers)] = True
            true = torch.as_tensor(triples[:, answer])
            mask[torch.arange(len(triples)), true] = False
            trues.append(true)
            masks.append(mask)
        rel = torch.as_tensor(np.concatenate([triples[:, 1], triples[:, 1]]))
        dev = emb.device
        return torch.cat(scores), torch.cat(trues).to(dev), rel.to(dev), torch.cat(masks).to(dev)

    def fit_weights(self, emb: Tensor, triples: np.ndarray, index: FilterIndex, budget: int,
                    seed: int) -> dict[str, float]:
        """Fit the per-relation weights on validation ``triples`` (see the module docstring);
        returns figures for the run's metrics: whether the fit was kept, the shared weights."""
        triples = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
        if len(triples) == 0:
            return {"ensemble_fitted": 0.0}
        scores, true, rel, mask = self._sample(emb.detach(), triples, index, budget, seed)
        P = scores.shape[-1]
        # each part's score spread, so that the weights start at the mean and steps are comparable
        spread = scores.flatten(0, 1).std(0).clamp_min(1e-6)
        shared = torch.log(spread / P).clone().requires_grad_(True)
        deviation = torch.zeros(self.num_relations, P, device=scores.device, requires_grad=True)
        opt = torch.optim.Adam([shared, deviation], lr=FIT_LR)

        def combined(w: Tensor) -> Tensor:
            return (scores * w[rel][:, None, :]).sum(-1)

        def effective() -> Tensor:
            return torch.exp(shared + deviation) / spread

        for _ in range(FIT_STEPS):
            opt.zero_grad()
            logits = combined(effective()).masked_fill(mask, float("-inf"))
            loss = F.cross_entropy(logits, true) + FIT_RELATION_PENALTY * deviation.pow(2).mean()
            loss.backward()
            opt.step()
        with torch.no_grad():
            fitted = effective()
            before = _mrr(combined(self.weights), true, mask)
            after = _mrr(combined(fitted), true, mask)
            keep = bool(after >= before)
            if keep:
                self.weights.copy_(fitted.to(self.weights.dtype))
            share = torch.softmax(shared, 0)
        out = {"ensemble_fitted": float(keep), "ensemble_valid_mrr_mean": float(before),
               "ensemble_valid_mrr_fitted": float(after)}
        out.update({f"ensemble_weight_{name}": float(share[p]) for p, name in enumerate(self.part_names)})
        return out


def _mrr(scores: Tensor, true: Tensor, mask: Tensor) -> Tensor:
    """Filtered MRR with realistic ties (as rdf2mm.tasks.evaluation ranks): ``mask`` True
    removes a candidate, never the true one."""
    s = scores.float()
    target = s.gather(1, true[:, None])
    keep = ~mask
    greater = ((s > target) & keep).sum(1).double()
    equal = ((s == target) & keep).sum(1).double()  # the true answer included
    return (1.0 / (greater + (equal + 1.0) / 2.0)).mean()
