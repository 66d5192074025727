"""MoMoK (rdf2mm.models.momok): relation-aware experts ranked exactly, the CLUB term, missing
modalities, and learning a tail planted in one modality."""
from __future__ import annotations

import math

import pytest
import torch

from rdf2mm.models.momok import MoMoK
from rdf2mm.tasks.link_prediction import random_baseline_mrr
from tests.models import literal_fixtures as F


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    return F.planted(tmp_path_factory.mktemp("momok"), items=120, seed=0)


@pytest.fixture(scope="module")
def feats(graph):
    return F.features(graph, F.image_features(graph, missing=0.2, seed=1))


def _make(feats, graph):
    return lambda st: MoMoK.from_features(feats, graph.num_entities, graph.num_relations, st)


def test_relation_aware_candidates_are_ranked_exactly(graph, feats):
    torch.manual_seed(0)
    model = _make(feats, graph)(F.settings(embed_dim=16))
    with torch.no_grad():
        model.temperature.raw.copy_(torch.tensor([-2.0, 2.0]))  # relations mix the experts differently
    F.assert_batched_scores_match(model, graph.num_relations)
    model.eval()
    with torch.no_grad():
        emb = model()
        scorer = model.decoder.parts[1]
        under = [scorer.embed(emb[:3], model.temperature(torch.tensor([r] * 3))[:, None]) for r in (0, 1)]
    assert not torch.allclose(under[0], under[1])  # an entity's embedding depends on the relation
    assert model.decoder.part_names == ("structure", "visual", "joint")


def test_extra_loss_is_finite_and_reaches_the_experts_and_the_estimator(graph, feats):
    torch.manual_seed(0)
    model = _make(feats, graph)(F.settings(embed_dim=16))
    model.train()
    model()
    extra = model.extra_loss()
    assert extra.dim() == 0 and math.isfinite(extra.item())
    extra.backward()
    assert model.experts[1].weight.grad.abs().sum() > 0  # CLUB pushes the experts apart
    assert model.club[1].net[0].weight.grad.abs().sum() > 0  # the variational network fits itself
    # once per forward: the next call has no experts to read; weight 0 adds nothing
    assert model.extra_loss().item() == 0.0
    off = MoMoK.from_features(feats, graph.num_entities, graph.num_relations, F.settings(embed_dim=16, club_weight=0.0))
    off.train()
    off()
    assert not off.extra_loss().requires_grad


def test_momok_reads_the_planted_modality(graph, feats):
    """Beats chance, plain TuckER and its shuffled control; the weights round-trip."""
    s = F.settings(batch_size=256, lr=0.005, epochs=150, patience=150, embed_dim=16)
    momok = F.train(graph, s, _make(feats, graph))
    shuffled = F.train(graph, s, _make(feats.shuffled(0), graph))
    plain = F.train(graph, F.settings(model="tucker", batch_size=256, lr=0.005, epochs=150, patience=150,
                                      embed_dim=16))
    d = graph.data
    chance = random_baseline_mrr(d.splits.test, graph.num_entities, d.filter_index)
    got = momok.metrics["test_mrr"]
    assert got > 3 * chance, (got, chance)
    assert got > plain.metrics["test_mrr"] + 0.1, (got, plain.metrics["test_mrr"])
    assert got > shuffled.metrics["test_mrr"] + 0.1, (got, shuffled.metrics["test_mrr"])
    again = _make(feats, graph)(s)
    again.load_state_dict(momok.model.state_dict())
    F.assert_same_scores(momok.model, again, graph.num_relations)


def test_missing_modalities_are_handled(graph):
    feats = F.features(graph, F.numeric_features(graph, missing=0.2), F.empty_features(graph, "visual"),
                       F.noise_features(graph, "textual", 0.3))
    model = _make(feats, graph)(F.settings(embed_dim=8))
    assert model.modalities == ("structure", "numeric", "textual")
    res = F.train(graph, F.settings(embed_dim=8, epochs=6, eval_every=3, experts=2), _make(feats, graph))
    assert 0 < res.metrics["test_mrr"] <= 1
    assert res.model.K == 2


def test_every_parameter_is_saved_once(graph, feats, tmp_path):
    # the parts share the model's temperature; a run directory's safetensors file refuses
    # tensors that share memory
    from safetensors.torch import load_file, save_file

    model = MoMoK.from_features(feats, graph.num_entities, graph.num_relations, F.settings(embed_dim=16))
    state = model.state_dict()
    assert len({t.data_ptr() for t in state.values()}) == len(state)
    save_file(state, tmp_path / "m.safetensors")
    fresh = MoMoK.from_features(feats, graph.num_entities, graph.num_relations, F.settings(embed_dim=16))
    fresh.load_state_dict(load_file(tmp_path / "m.safetensors"))
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in state.items())
