"""Link-prediction losses: the blocked 1-N loss is the plain one; negatives chosen by size."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rdf2mm.models.decoders import make_decoder
from rdf2mm.tasks.lp_losses import Corruptor, bce_one_to_n
from rdf2mm.tasks.lp_training import FilterIndex
from rdf2mm.tasks.settings import AUTO_NEGATIVES, MINI_BATCH_NEGATIVES, ONE_TO_N_MAX_CELLS, resolve_negatives


def _plain_one_to_n(emb, decoder, batch, index):
    h, r, t = (torch.as_tensor(batch[:, i]) for i in range(3))
    losses = []
    for scores, (rows, answers) in (
        (decoder.score_all_tails(emb[h], r, emb), index.tails.lookup(batch[:, 0], batch[:, 1])),
        (decoder.score_all_heads(emb[t], r, emb), index.heads.lookup(batch[:, 2], batch[:, 1])),
    ):
        target = torch.zeros(len(batch), emb.shape[0], dtype=emb.dtype)
        target[rows, answers] = 1.0
        losses.append(F.binary_cross_entropy_with_logits(scores, target))
    return (losses[0] + losses[1]) / 2


@pytest.mark.parametrize("name", ["distmult", "complex", "tucker"])
@pytest.mark.parametrize("block_cells", [1, 37 * 7, 10**6])
def test_blocked_one_to_n_loss_and_gradients_equal_the_plain_form(name, block_cells):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    E, R, d = 50, 4, 8
    triples = np.unique(np.stack([rng.integers(0, E, 300), rng.integers(0, R, 300), rng.integers(0, E, 300)], 1), axis=0)
    index = FilterIndex.build(triples, R)
    decoder = make_decoder(name, R, d).double()
    emb = torch.randn(E, d, dtype=torch.float64, requires_grad=True)
    batch = triples[:37]
    params = [emb, *decoder.parameters()]
    blocked = bce_one_to_n(emb, decoder, batch, index, block_cells=block_cells)
    g_blocked = torch.autograd.grad(blocked, params)
    plain = _plain_one_to_n(emb, decoder, batch, index)
    g_plain = torch.autograd.grad(plain, params)
    assert float(blocked) == pytest.approx(float(plain), abs=1e-12)
    for a, b in zip(g_blocked, g_plain):
        assert torch.allclose(a, b, atol=1e-12)


def test_negatives_default_to_one_to_n_on_small_graphs_and_sampled_on_large():
    assert resolve_negatives(None, 5_000, 135, mini=False)[0] == 0  # UMLS-sized
    k, why = resolve_negatives(None, 86_835, 40_943, mini=False)  # WN18RR-sized
    assert k == AUTO_NEGATIVES and "sampled" in why
    edge = ONE_TO_N_MAX_CELLS // 2
    assert resolve_negatives(None, edge, 1, mini=False)[0] == 0
    assert resolve_negatives(None, edge + 1, 1, mini=False)[0] == AUTO_NEGATIVES


def test_asked_negatives_win_and_mini_batches_never_score_every_entity():
    assert resolve_negatives(4, 10**6, 10**6, mini=False) == (4, "asked")
    assert resolve_negatives(0, 86_835, 40_943, mini=False) == (0, "asked")  # 1-N when asked, even if costly
    assert resolve_negatives(0, 100, 10, mini=True)[0] == MINI_BATCH_NEGATIVES
    assert resolve_negatives(None, 100, 10, mini=True)[0] == MINI_BATCH_NEGATIVES


def test_corruptions_replace_one_side_and_keep_the_relation():
    batch = torch.tensor([[0, 1, 2], [3, 0, 4]])
    both, labels = Corruptor(5, 10, torch.Generator().manual_seed(0))(batch)
    assert both.shape == (12, 3) and labels.tolist() == [1, 1] + [0] * 10
    neg, orig = both[2:], batch.repeat_interleave(5, dim=0)
    assert torch.equal(neg[:, 1], orig[:, 1])
    assert bool(((neg[:, 0] == orig[:, 0]) | (neg[:, 2] == orig[:, 2])).all())
