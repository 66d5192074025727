"""MoSE (rdf2mm.models.mose): a score per modality trained on its own, the mean and the
validation-fitted ensembles, missing modalities, and learning a tail planted in one."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as Fn

from rdf2mm.models.mose import MoSE
from rdf2mm.models.registry import LITERAL_KGE_MODELS, MODELS
from rdf2mm.tasks.link_prediction import random_baseline_mrr
from rdf2mm.tasks.lp_losses import Corruptor, bce_negative_sampling
from tests.models import literal_fixtures as F


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    return F.planted(tmp_path_factory.mktemp("mose"), items=120, seed=0)


@pytest.fixture(scope="module")
def feats(graph):
    return F.features(graph, F.image_features(graph, missing=0.2, seed=1))


def _make(feats, graph):
    return lambda st: MoSE.from_features(feats, graph.num_entities, graph.num_relations, st)


def test_the_multi_score_models_are_registered():
    for name in ("ikrl", "mose", "momok"):
        assert name in MODELS and name in LITERAL_KGE_MODELS
        assert hasattr(MODELS.get(name), "from_features")
    assert {"literale", "vlkge"} <= set(LITERAL_KGE_MODELS)


@pytest.mark.parametrize("decoder", ["distmult", "transe", "tucker"])
def test_batched_scores_are_the_per_triple_scores(graph, feats, decoder):
    torch.manual_seed(0)
    model = _make(feats, graph)(F.settings(decoder=decoder))
    assert model.modalities == ("structure", "visual")
    F.assert_batched_scores_match(model, graph.num_relations)


def test_each_modality_is_trained_on_its_own_score(graph, feats):
    """The loss is the sum of the modalities' own losses, not the loss of the mean score."""
    torch.manual_seed(0)
    model = _make(feats, graph)(F.settings())
    emb = model()
    batch = torch.as_tensor(graph.data.splits.train[:16])
    loss = bce_negative_sampling(emb, model.decoder, batch, Corruptor(4, graph.num_entities,
                                                                      torch.Generator().manual_seed(0)))
    both, labels = Corruptor(4, graph.num_entities, torch.Generator().manual_seed(0))(batch)
    want = sum(Fn.binary_cross_entropy_with_logits(part.score(emb[both[:, 0]][:, cols], both[:, 1],
                                                               emb[both[:, 2]][:, cols]), labels)
               for part, cols in model.decoder.loss_parts())
    torch.testing.assert_close(loss, want)


def test_mose_reads_the_planted_modality(graph, feats):
    """Mean and fitted ensembles beat chance, plain DistMult and the shuffled control;
    the fitted weights are saved with the model."""
    s = F.settings(batch_size=256)
    mean = F.train(graph, s, _make(feats, graph))
    fitted = F.train(graph, F.settings(batch_size=256, ensemble="fitted"), _make(feats, graph))
    shuffled = F.train(graph, s, _make(feats.shuffled(0), graph))
    plain = F.train(graph, F.settings(model="distmult", batch_size=256))
    d = graph.data
    chance = random_baseline_mrr(d.splits.test, graph.num_entities, d.filter_index)
    for res in (mean, fitted):
        got = res.metrics["test_mrr"]
        assert got > 3 * chance, (got, chance)
        assert got > plain.metrics["test_mrr"] + 0.1, (got, plain.metrics["test_mrr"])
        assert got > shuffled.metrics["test_mrr"] + 0.1, (got, shuffled.metrics["test_mrr"])
    m = fitted.metrics
    assert m["ensemble_fitted"] == 1.0 and m["ensemble_valid_mrr_fitted"] >= m["ensemble_valid_mrr_mean"]
    assert m["ensemble_weight_visual"] > m["ensemble_weight_structure"]  # the modality that carries the tail
    assert "ensemble_fitted" not in mean.metrics
    weights = fitted.model.decoder.weights
    assert not torch.allclose(weights, torch.full_like(weights, 0.5))
    again = _make(feats, graph)(F.settings(ensemble="fitted"))
    again.load_state_dict(fitted.model.state_dict())
    assert torch.equal(again.decoder.weights, weights)
    F.assert_same_scores(fitted.model, again, graph.num_relations)


def test_missing_modalities_are_handled(graph):
    """A modality half the entities have, one nobody has (skipped), entities without either."""
    feats = F.features(graph, F.image_features(graph, missing=0.2), F.noise_features(graph, "textual", 0.5),
                       F.empty_features(graph, "temporal"))
    torch.manual_seed(0)
    model = _make(feats, graph)(F.settings())
    assert model.modalities == ("structure", "visual", "textual")
    text = model.literal[1]
    assert text.num_present + text.num_absent == graph.num_entities and 0 < text.num_absent < graph.num_entities
    res = F.train(graph, F.settings(epochs=10, eval_every=5), _make(feats, graph))
    assert 0 < res.metrics["test_mrr"] <= 1
    structure_only = MoSE.from_features(F.features(graph), graph.num_entities, graph.num_relations, F.settings())
    assert structure_only.modalities == ("structure",)


def test_bad_model_options_are_usage_errors():
    from rdf2mm.config import TrainConfig
    from rdf2mm.errors import UsageError

    base = dict(graph=["g.nt"], task="link-prediction", model="mose")
    with pytest.raises(UsageError, match="^--ensemble must be mean or fitted, not 'best'$"):
        TrainConfig(**base, ensemble="best").resolve().validate()
    with pytest.raises(UsageError, match="--experts must be at least 1"):
        TrainConfig(**base, experts=0).resolve().validate()
    with pytest.raises(UsageError, match="--club-weight must be a non-negative finite number"):
        TrainConfig(**base, club_weight=float("nan")).resolve().validate()
    cfg = TrainConfig(**base, ensemble="fitted", experts=2, club_weight=1e-3).resolve()
    from rdf2mm.tasks.settings import LPSettings

    s = LPSettings.from_config(cfg)
    assert (s.ensemble, s.experts, s.club_weight) == ("fitted", 2, 1e-3)
