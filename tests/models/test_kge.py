"""Plain KGE baselines (rdf2mm.models.kge) and the distance decoders TransE and RotatE."""
from __future__ import annotations

import pytest
import torch

from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.models.decoders import RotatE, TransE, make_decoder
from rdf2mm.models.kge import PlainKGE
from rdf2mm.models.registry import DECODERS, MODELS, PLAIN_KGE_MODELS


def _decoders() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [TransE(4, 8, p=1), TransE(4, 8, p=2), RotatE(4, 8)]


@pytest.mark.parametrize("decoder", _decoders(), ids=["transe-l1", "transe-l2", "rotate"])
def test_batched_scores_equal_per_triple_scores(decoder):
    torch.manual_seed(1)
    E, B = 11, 5
    emb = torch.randn(E, 8, dtype=torch.float64).float()
    h, t = torch.randint(0, E, (B,)), torch.randint(0, E, (B,))
    r = torch.randint(0, 4, (B,))
    tails = decoder.score_all_tails(emb[h], r, emb)
    heads = decoder.score_all_heads(emb[t], r, emb)
    assert tails.shape == heads.shape == (B, E)
    for b in range(B):
        every = torch.arange(E)
        want_t = decoder.score(emb[h[b]].expand(E, 8), r[b].expand(E), emb[every])
        want_h = decoder.score(emb[every], r[b].expand(E), emb[t[b]].expand(E, 8))
        torch.testing.assert_close(tails[b], want_t, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(heads[b], want_h, atol=1e-4, rtol=1e-4)
    # the true triple's own score sits in its row
    torch.testing.assert_close(tails[torch.arange(B), t], decoder.score(emb[h], r, emb[t]), atol=1e-4, rtol=1e-4)


def test_distance_scores_are_what_the_papers_define():
    h, t = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -1.0]])
    r = torch.tensor([0])
    transe = TransE(1, 2, p=1)
    with torch.no_grad():
        transe.relation.copy_(torch.tensor([[0.25, 0.0]]))
    assert transe.score(h, r, t).item() == pytest.approx(-(0.75 + 3.0))  # -||h + r - t||_1
    rotate = RotatE(1, 2)  # one complex coordinate: h = 1 + 2i, t = 0.5 - i
    with torch.no_grad():
        rotate.relation.fill_(torch.pi / 2)  # multiply by i: h o r = -2 + i
    assert rotate.score(h, r, t).item() == pytest.approx(-abs(complex(-2, 1) - complex(0.5, -1)))
    with pytest.raises(ValueError, match="even"):
        RotatE(1, 3)
    with pytest.raises(ValueError, match="L1 or L2"):
        TransE(1, 2, p=3)


def test_gradients_flow_through_the_batched_scores():
    dec = RotatE(2, 4)
    emb = torch.randn(6, 4, requires_grad=True)
    dec.score_all_tails(emb[:2], torch.tensor([0, 1]), emb).sum().backward()
    assert emb.grad is not None and torch.isfinite(emb.grad).all() and dec.relation.grad is not None


def test_registries_list_the_plain_models_and_decoders():
    assert set(PLAIN_KGE_MODELS) <= set(MODELS.names()) and MODELS.names()[0] == "mrgcn"
    assert {"transe", "rotate"} <= set(DECODERS.names())
    assert make_decoder("TransE", 2, 4).name == "transe"


@pytest.mark.parametrize("name", PLAIN_KGE_MODELS)
def test_a_plain_model_is_the_table_and_its_decoder_only(name):
    model = MODELS.make(name, 7, 3, 8)
    assert isinstance(model, PlainKGE) and not hasattr(model, "encoder")
    assert {n.split(".")[0] for n, _ in model.named_parameters()} == {"entity", "decoder"}
    assert [type(m).__name__ for m in model.children()] == ["Embedding", type(model.decoder).__name__]
    assert model.decoder.name == name
    emb = model(None)
    assert emb.shape == (7, 8) and emb is model.entity.weight


def test_config_takes_the_model_and_refuses_what_it_cannot_do():
    cfg = TrainConfig(graph=["g.nt"], task="link-prediction", model="rotate").resolve()
    cfg.validate()
    assert (cfg.modalities, cfg.literals, cfg.batching) == ("none", "none", "full")
    assert TrainConfig(graph=["g.nt"]).resolve().model == "mrgcn"
    with pytest.raises(UsageError, match="^--model must be mrgcn, transe, .*, not 'nope'$"):
        TrainConfig(graph=["g.nt"], task="link-prediction", model="nope").resolve().validate()
    # node classification: two stages, the first trained with link prediction's defaults
    nc = TrainConfig(graph=["g.nt"], model="transe").resolve()
    nc.validate()
    assert (nc.task, nc.embed_dim, nc.patience, nc.weight_decay, nc.aggregation) == ("node-classification", 64, 10, 0.0, "mean")
    with pytest.raises(UsageError, match="--batching mini"):
        TrainConfig(graph=["g.nt"], task="link-prediction", model="transe", batching="mini").resolve().validate()


@pytest.mark.parametrize("name", ["transe", "rotate"])
def test_ranking_in_entity_blocks_gives_the_ranks_of_one_block(name):
    import numpy as np

    from rdf2mm.tasks.lp_training import FilterIndex, rank_with_embeddings

    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    E, R = 40, 3
    triples = np.unique(np.stack([rng.integers(0, E, 60), rng.integers(0, R, 60), rng.integers(0, E, 60)], 1), axis=0)
    dec, emb = make_decoder(name, R, 8), torch.randn(E, 8)
    index = FilterIndex.build(triples, R)
    with torch.no_grad():
        whole = rank_with_embeddings(emb, dec, triples, index, 1 << 30)
        blocks = rank_with_embeddings(emb, dec, triples, index, 256)  # a few entities per block
    assert np.array_equal(whole.tail, blocks.tail) and np.array_equal(whole.head, blocks.head)
    # brute force: the tail rank of each triple among the unfiltered candidates
    with torch.no_grad():
        scores = dec.score_all_tails(emb[triples[:, 0]], torch.as_tensor(triples[:, 1]), emb)
    true = scores[torch.arange(len(triples)), torch.as_tensor(triples[:, 2])]
    raw = (scores > true[:, None]).sum(1) + 1
    assert np.array_equal(whole.tail_raw.astype(int), raw.numpy()) or np.allclose(whole.tail_raw, raw.numpy(), atol=0.5)
