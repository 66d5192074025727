"""The VL-KGE-style model (rdf2mm.models.vlkge): the fused embedding is the structure
embedding plus the mean of the views an entity has (none: the structure alone); with
images and texts missing for some entities it trains, ranks and beats plain DistMult on
a graph whose ``level`` tail is planted in those features; weights round-trip."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rdf2mm.models.registry import MODELS
from rdf2mm.models.vlkge import VLKGE
from rdf2mm.tasks.settings import LPSettings
from tests.models.features_fixture import EntityFeatures, modality, plant
from tests.models.test_literale import EX, K, lp_config, planted_graph


def image_and_text_features(numbers: dict[str, int], seed: int = 0, missing: float = 0.3):
    """Fixture features: a 48-d "image" and a 24-d "text" feature per entity, each its
    number's prototype plus noise, each missing for ``missing`` of the entities
    independently (so some have both, some one, some none)."""
    rng = np.random.default_rng(seed)
    image_proto, text_proto = rng.normal(size=(K, 48)), rng.normal(size=(K, 24))
    has_image = {iri: rng.random() >= missing for iri in numbers}
    has_text = {iri: rng.random() >= missing for iri in numbers}

    def make(inputs) -> EntityFeatures:
        kg = inputs.kg
        E = kg.num_entities
        img, txt = np.zeros((E, 1, 48), np.float32), np.zeros((E, 1, 24), np.float32)
        img_m, txt_m = np.zeros((E, 1), bool), np.zeros((E, 1), bool)
        noise = np.random.default_rng(seed + 1)
        for i, term in enumerate(kg.entities):
            iri = term.strip("<>")
            if iri not in numbers:
                continue
            k = numbers[iri]
            img[i, 0] = image_proto[k] + 0.3 * noise.normal(size=48)
            txt[i, 0] = text_proto[k] + 0.3 * noise.normal(size=24)
            img_m[i, 0], txt_m[i, 0] = has_image[iri], has_text[iri]
        return EntityFeatures(E, {"textual": modality("textual", txt, txt_m),
                                  "visual": modality("visual", img, img_m)})
    return make, has_image, has_text


def test_the_fused_embedding_is_structure_plus_the_mean_of_the_views_it_has():
    E = 4
    img_mask = np.array([[1], [1], [0], [0]], bool)
    txt_mask = np.array([[1, 0], [0, 0], [0, 1], [0, 0]], bool)
    rng = np.random.default_rng(0)
    features = EntityFeatures(E, {"visual": modality("visual", rng.normal(size=(E, 1, 5)), img_mask),
                                  "textual": modality("textual", rng.normal(size=(E, 2, 3)), txt_mask)})
    model = VLKGE.from_features(features, E, 2, LPSettings(embed_dim=6)).eval()
    with torch.no_grad():
        out = model()
        e = model.entity.weight
        img = model.project["visual"](model.frozen.values("visual"))[:, 0]  # [E, d]
        txt = model.project["textual"](model.frozen.values("textual"))  # [E, 2, d]
    torch.testing.assert_close(out[0], e[0] + (img[0] + txt[0, 0]) / 2)  # an image and one text predicate
    torch.testing.assert_close(out[1], e[1] + img[1])  # the image only
    torch.testing.assert_close(out[2], e[2] + txt[2, 1])  # the second text predicate only
    torch.testing.assert_close(out[3], e[3])  # nothing: the structure embedding alone
    torch.testing.assert_close(model(nodes=torch.tensor([2, 0])), out[[2, 0]])


def test_view_dropout_leaves_whole_entities_with_their_structure_row_in_training_only():
    E = 2000
    rng = np.random.default_rng(0)
    features = EntityFeatures(E, {"visual": modality("visual", rng.normal(size=(E, 1, 5)), np.ones((E, 1), bool))})
    model = VLKGE.from_features(features, E, 2, LPSettings(embed_dim=6, view_dropout=0.3))
    with torch.no_grad():
        fused = model.eval()()
        torch.manual_seed(0)
        dropped = model.train()()
    e = model.entity.weight.detach()
    alone = torch.isclose(dropped, e, atol=1e-7).all(1)
    kept = torch.isclose(dropped, fused, atol=1e-7).all(1)
    assert bool((alone | kept).all()) and not bool((alone & kept).any())  # whole entities, never part of one
    assert 0.25 < float(alone.float().mean()) < 0.35
    assert not torch.isclose(fused, e, atol=1e-7).all(1).any()  # evaluation fuses every view
    off = VLKGE.from_features(features, E, 2, LPSettings(embed_dim=6, view_dropout=0.0)).train()
    with torch.no_grad():
        torch.testing.assert_close(off(), off.eval()())


def test_a_state_dict_round_trip_gives_identical_scores():
    E = 6
    rng = np.random.default_rng(2)
    features = EntityFeatures(E, {"visual": modality("visual", rng.normal(size=(E, 2, 16)), rng.random((E, 2)) < 0.5)})
    s = LPSettings(embed_dim=8, decoder="rotate")
    torch.manual_seed(0)
    a = MODELS.get("vlkge").from_features(features, E, 2, s)
    torch.manual_seed(1)
    b = MODELS.get("vlkge").from_features(features, E, 2, s)
    state = a.state_dict()
    assert not any("values_" in k or "mask_" in k for k in state)  # features are recomputed, not saved
    b.load_state_dict(state)
    t, r = torch.tensor([1, 5]), torch.tensor([1, 0])
    with torch.no_grad():
        ea, eb = a.eval()(), b.eval()()
        torch.testing.assert_close(a.decoder.score_all_heads(ea[t], r, ea), b.decoder.score_all_heads(eb[t], r, eb),
                                   rtol=0, atol=0)


def test_vlkge_with_missing_images_and_texts_trains_ranks_and_beats_plain_distmult(tmp_path, monkeypatch):
    from rdf2mm.tasks.link_prediction import train_link_prediction
    from rdf2mm.tasks.prediction import predict_links

    files, numbers, _ = planted_graph(tmp_path)
    make, has_image, has_text = image_and_text_features(numbers)
    assert any(not (has_image[i] or has_text[i]) for i in numbers)  # some entities have neither
    assert any(has_image[i] != has_text[i] for i in numbers)  # some have one of them
    plant(monkeypatch, make)
    plain = train_link_prediction(lp_config(files, "distmult")).metrics
    res = train_link_prediction(lp_config(files, "vlkge", tmp_path / "run"))
    m = res.metrics
    assert m["test_mrr"] > 3 * m["test_mrr_random"], m
    assert m["test_mrr"] > plain["test_mrr"] + 0.15, (m["test_mrr"], plain["test_mrr"])
    # an entity with both modalities gets the right hub from its features
    iri = next(i for i in numbers if has_image[i] and has_text[i])
    top = predict_links(res.run_dir, head=iri, relation=f"{EX}level", top=K)
    assert [p["rank"] for p in top] == list(range(1, K + 1)) and all(p["iri"].startswith(f"{EX}hub") for p in top)
