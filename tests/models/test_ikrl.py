"""IKRL (rdf2mm.models.ikrl): the four TransE energies, attention over an entity's images,
entities without images, and learning a tail planted in the images."""
from __future__ import annotations

import pytest
import torch

from rdf2mm.models.ikrl import IKRL, IKRLDecoder
from rdf2mm.tasks.link_prediction import random_baseline_mrr
from tests.models import literal_fixtures as F


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    return F.planted(tmp_path_factory.mktemp("ikrl"), items=120, seed=0)


@pytest.fixture(scope="module")
def feats(graph):
    return F.features(graph, F.image_features(graph, missing=0.2, seed=1))


def _model(graph, feats, **kw):
    return IKRL.from_features(feats, graph.num_entities, graph.num_relations, F.settings(**kw))


def test_the_score_is_minus_the_four_energies():
    dec = IKRLDecoder(1, 2)
    with torch.no_grad():
        dec.relation.copy_(torch.tensor([[1.0, 0.0]]))
    h = torch.tensor([[0.0, 0.0, 1.0, 1.0]])  # e_s = (0, 0), e_i = (1, 1)
    t = torch.tensor([[1.0, 0.0, 0.0, 2.0]])  # e_s = (1, 0), e_i = (0, 2)
    # L1: ss |(1,0)-(1,0)| = 0, ii |(2,1)-(0,2)| = 3, si |(1,0)-(0,2)| = 3, is |(2,1)-(1,0)| = 2
    assert dec.score(h, torch.tensor([0]), t).item() == pytest.approx(-8.0)


def test_batched_scores_are_the_per_triple_scores(graph, feats):
    torch.manual_seed(0)
    F.assert_batched_scores_match(_model(graph, feats), graph.num_relations)


def test_images_are_pooled_by_attention_and_entities_without_take_their_structure(graph, feats):
    torch.manual_seed(0)
    model = _model(graph, feats)
    mf = feats.modalities["visual"]
    with torch.no_grad():
        out = model()
        s, i = out[:, :32], out[:, 32:]
        counts = torch.bincount(mf.item_entity, minlength=graph.num_entities)
        none = counts == 0
        assert int(none.sum()) > 0 and int((counts == 3).sum()) > 0
        assert torch.equal(i[none], s[none])  # no image: e_i = e_s
        e = int((counts == 3).nonzero()[0])
        p = model.project(mf.item_values[mf.item_entity == e])
        att = torch.softmax(p @ s[e], 0)
        torch.testing.assert_close(i[e], att @ p)
    assert model.image_entities == int((counts > 0).sum())


def test_ikrl_reads_the_planted_images(graph, feats):
    """Beats chance, plain TransE and its own shuffled-image control on held-out triples."""
    s = F.settings(batch_size=256)
    ikrl = F.train(graph, s, lambda st: IKRL.from_features(feats, graph.num_entities, graph.num_relations, st))
    shuffled = F.train(graph, s, lambda st: IKRL.from_features(feats.shuffled(0), graph.num_entities,
                                                               graph.num_relations, st))
    transe = F.train(graph, F.settings(model="transe", batch_size=256))
    d = graph.data
    chance = random_baseline_mrr(d.splits.test, graph.num_entities, d.filter_index)
    got = ikrl.metrics["test_mrr"]
    assert got > 3 * chance, (got, chance)
    assert got > transe.metrics["test_mrr"] + 0.1, (got, transe.metrics["test_mrr"])
    assert got > shuffled.metrics["test_mrr"] + 0.1, (got, shuffled.metrics["test_mrr"])
    # the kept weights round-trip: a model rebuilt from the same features scores identically
    again = _model(graph, feats, batch_size=256)
    again.load_state_dict(ikrl.model.state_dict())
    F.assert_same_scores(ikrl.model, again, graph.num_relations)


def test_a_graph_without_images_trains_structure_only(graph):
    feats = F.features(graph, F.empty_features(graph, "visual"), F.numeric_features(graph))
    model = _model(graph, feats)
    assert model.image_entities == 0
    with torch.no_grad():
        out = model()
    assert torch.equal(out[:, :32], out[:, 32:])
    res = F.train(graph, F.settings(epochs=5, eval_every=5), lambda st: IKRL.from_features(
        feats, graph.num_entities, graph.num_relations, st))
    assert res.metrics["test_mrr"] == res.metrics["test_mrr"]  # trained and ranked (not NaN)
