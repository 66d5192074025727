"""Entity-level literal features: ragged data (several literals, none, ill-typed), exact values
and masks, the report's counts, memoisation, and the shuffled-literal control."""
from __future__ import annotations

import base64
import hashlib
import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from rdf2mm.encoding.entity_features import EntityFeatures, entity_features
from rdf2mm.graph.ingest import read_graph
from rdf2mm.modalities import pretrained_images, textual
from rdf2mm.modalities.temporal import FEATURES, TemporalModality
from rdf2mm.tasks.inputs import prepare_inputs

EX = "http://example.org/f#"


def _png(rgb: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), rgb).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _ttl() -> str:
    img = "<http://kgbench.info/dt#base64Image>"
    return f"""
@prefix ex: <{EX}> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
ex:a ex:price "10"^^xsd:decimal , "20"^^xsd:decimal ; ex:height "1.5"^^xsd:double ;
     ex:photo "{_png((255, 0, 0))}"^^{img} , "{_png((0, 255, 0))}"^^{img} , "{_png((0, 0, 255))}"^^{img} ;
     ex:label "alpha" ; ex:born "1990-01-01"^^xsd:date ; ex:flag "true"^^xsd:boolean ;
     ex:loc "POINT (1 2)"^^geo:wktLiteral .
ex:b ex:price "30"^^xsd:decimal , "abc"^^xsd:decimal ; ex:flag "yes"^^xsd:boolean ; ex:label "beta" ;
     ex:loc "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0))"^^geo:wktLiteral .
ex:c ex:knows ex:a ; ex:photo "@@not-base64@@"^^{img} .
ex:d ex:height "2.5"^^xsd:double , "1e5"^^xsd:integer ; ex:knows ex:b .
"""


def _fake_features(images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Stands in for the pretrained CNN's inference: per image its mean colour (0..1) and a
    constant 1, in the first four of the 1280 columns."""
    calls.append(len(images))
    out = np.zeros((len(images), 1280), np.float32)
    out[:, :3] = images.astype(np.float64).mean(axis=(2, 3)) / 255.0
    out[:, 3] = 1.0
    return out


calls: list[int] = []


def _fake_minilm(texts: list[str], batch_size: int) -> np.ndarray:
    """Stands in for MiniLM (the path and the cache are the textual modality's own)."""
    out = np.zeros((len(texts), textual.MINILM_DIM), np.float32)
    for i, t in enumerate(texts):
        out[i, :8] = np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], np.uint8) / 255.0
    return out


@pytest.fixture()
def frozen(monkeypatch, tmp_path):
    """The frozen encoders' inference replaced by cheap exact stand-ins (EfficientNet-Lite0's
    and MiniLM's; their caches and parse paths stay real)."""
    calls.clear()
    monkeypatch.setenv("RDF2MM_CACHE", str(tmp_path / "cache"))  # no features from other tests
    monkeypatch.setattr(pretrained_images, "compute_features", _fake_features)
    monkeypatch.setattr(textual, "_encode_minilm", _fake_minilm)


@pytest.fixture()
def graph(tmp_path):
    path = tmp_path / "ragged.ttl"
    path.write_text(_ttl())
    kg, _ = read_graph([str(path)], cache=False)
    return kg


def _ent(kg, name: str) -> int:
    return kg.find_entity(EX + name)


def test_ragged_values_masks_and_counts(graph, frozen, tmp_path):
    kg = graph
    inputs = prepare_inputs(kg, "all", "split")
    feats = entity_features(inputs, cache_dir=tmp_path / "cache")
    a, b, c, d = (_ent(kg, n) for n in "abcd")
    E = kg.num_entities
    assert feats.num_entities == E
    assert list(feats.modalities) == ["numeric", "temporal", "textual", "visual", "spatial", "boolean"]

    # numeric: two predicates of one modality; scaled, then standardised per predicate
    num = feats.modalities["numeric"]
    assert num.predicates == (EX + "price", EX + "height") or num.predicates == (EX + "height", EX + "price")
    price, height = num.predicates.index(EX + "price"), num.predicates.index(EX + "height")
    assert num.dim == 1 and num.values.shape == (E, 2, 1) and num.values.dtype == torch.float32
    r = math.sqrt(1.5)  # three symmetric values standardise to -sqrt(3/2), 0, +sqrt(3/2)
    assert num.values[a, price, 0].item() == pytest.approx((-r + 0.0) / 2, abs=1e-5)  # mean of 10 and 20
    assert num.values[b, price, 0].item() == pytest.approx(r, abs=1e-5)                # "abc" skipped
    assert num.values[a, height, 0].item() == pytest.approx(-1.0, abs=1e-5)
    assert num.values[d, height, 0].item() == pytest.approx(1.0, abs=1e-5)             # "1e5" integer skipped
    expected_mask = torch.zeros(E, 2, dtype=torch.bool)
    expected_mask[a, :] = True
    expected_mask[b, price] = True
    expected_mask[d, height] = True
    assert torch.equal(num.mask, expected_mask)
    assert torch.all(num.values[~num.mask] == 0)
    assert num.item_values.shape == (5, 1) and sorted(num.item_entity.tolist()) == sorted([a, a, a, b, d])
    rep = feats.report["modalities"]["numeric"]
    assert rep["literals"] == 5 and rep["skipped"] == 2
    assert rep["skipped_by_reason"] == {"not a number": 1, "not an integer": 1}
    assert rep["entities_with"] == 3 and rep["entities_without"] == E - 3 and rep["predicates"] == 2

    # visual: three images of one predicate -> their mean in values, three items; one ill-typed
    vis = feats.modalities["visual"]
    assert vis.values.shape == (E, 1, 1280) and vis.item_values.shape == (3, 1280)
    assert vis.item_entity.tolist() == [a, a, a] and vis.item_predicate.tolist() == [0, 0, 0]
    assert vis.values[a, 0, :4].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0], abs=1e-6)
    assert sorted(map(tuple, vis.item_values[:, :3].round().tolist())) == [(0, 0, 1), (0, 1, 0), (1, 0, 0)]
    assert vis.mask[:, 0].tolist() == [i == a for i in range(E)]
    assert feats.report["modalities"]["visual"]["skipped_by_reason"] == {"not base64": 1}
    assert calls == [3]  # only the valid images are encoded

    # boolean: one ill-typed ("yes"), one reason
    boo = feats.modalities["boolean"]
    assert boo.values[a, 0, 0].item() == 1.0 and not boo.mask[b, 0]
    assert feats.report["modalities"]["boolean"]["skipped_by_reason"] == {"not a boolean": 1}

    # temporal: the modality's own 28 features
    tem = feats.modalities["temporal"]
    own = TemporalModality().parse(["1990-01-01"], ["http://www.w3.org/2001/XMLSchema#date"]).data[0]
    assert tem.dim == len(FEATURES) == 28
    got = tem.values[a, 0].numpy()
    skip = FEATURES.index("time_local")  # scaled within the predicate: one date alone gives 0 either way
    assert np.allclose(np.delete(got, skip), np.delete(own, skip), atol=1e-6)

    # spatial: 11 global features standardised over the two geometries, then the centroid
    # (x 1 and 2, y 2 and 2) standardised per predicate
    spa = feats.modalities["spatial"]
    assert spa.dim == 13 and spa.mask[:, 0].sum() == 2
    two = spa.values[[a, b], 0]
    assert torch.allclose(two.sum(0), torch.zeros(13), atol=1e-5)
    assert set(np.round(np.abs(two.numpy()), 4).ravel()) <= {0.0, 1.0}
    assert two[:, 11].tolist() == pytest.approx([-1.0, 1.0]) and two[:, 12].tolist() == pytest.approx([0.0, 0.0])

    # textual: MiniLM features through the textual modality's own path and cache
    tex = feats.modalities["textual"]
    assert tex.dim == 384
    assert np.allclose(tex.values[a, 0].numpy(), _fake_minilm(["alpha"], 1)[0])
    assert list((tmp_path / "cache" / "minilm").glob("shard-*.safetensors"))

    # an entity with no literal at all: masked out everywhere, zero vectors
    for mf in feats.modalities.values():
        assert not mf.mask[c].any()
        assert torch.all(mf.values[c] == 0)
    assert feats.report["skipped"] == 2 + 1 + 1


def test_pooled_means_over_present_predicates(graph, frozen):
    feats = entity_features(prepare_inputs(graph, "numeric", "split"))
    num = feats.modalities["numeric"]
    pooled, present = num.pooled()
    a, b, c = (_ent(graph, n) for n in "abc")
    r = math.sqrt(1.5)
    assert pooled[a, 0].item() == pytest.approx(((-r / 2) + (-1.0)) / 2, abs=1e-5)
    assert pooled[b, 0].item() == pytest.approx(r, abs=1e-5)
    assert present[a] and present[b] and not present[c] and pooled[c, 0] == 0


def test_memoised_and_independent_of_the_literal_mode(graph, frozen):
    inputs = prepare_inputs(graph, "numeric,boolean", "none")  # no literal nodes: parsed afresh
    feats = entity_features(inputs)
    assert entity_features(inputs) is feats
    assert list(feats.modalities) == ["numeric", "boolean"]  # the run's modalities by default
    split = entity_features(prepare_inputs(graph, "numeric,boolean", "split"))
    for name in feats.modalities:
        assert torch.equal(feats.modalities[name].values, split.modalities[name].values)
    assert entity_features(inputs, shuffle_seed=3) is entity_features(inputs, shuffle_seed=3)
    # spatial is not among the run's parsed modalities: asked for, it is parsed here
    only = entity_features(inputs, modalities=("boolean", "spatial"))
    assert list(only.modalities) == ["spatial", "boolean"] and only.report["absent"] == []
    assert int(only.modalities["spatial"].mask.sum()) == 2


def test_modalities_the_graph_lacks_are_reported_absent(tmp_path, frozen):
    path = tmp_path / "g.ttl"
    path.write_text(f'@prefix ex: <{EX}> .\nex:a ex:knows ex:b .\nex:b ex:flag "maybe"^^<http://www.w3.org/2001/XMLSchema#boolean> .\n')
    kg, _ = read_graph([str(path)], cache=False)
    feats = entity_features(prepare_inputs(kg, "all", "split"))
    assert feats.modalities == {}
    assert "boolean" in feats.report["absent"] and "numeric" in feats.report["absent"]
    assert feats.report["modalities"]["boolean"]["skipped_by_reason"] == {"not a boolean": 1}
    assert feats.shuffled(0).modalities == {}


# ---------------------------------------------------------------------------- the control


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    from rdf2mm.synthetic import generate

    ds = generate(tmp_path_factory.mktemp("g"), triples=1500, signal=("numeric",), seed=0,
                  modalities=("numeric", "boolean", "temporal"))
    kg, _ = read_graph([str(ds.graph_path)], cache=False)
    return entity_features(prepare_inputs(kg, "numeric,boolean,temporal", "split"))


def _rows(mf, p: int) -> list[tuple[float, ...]]:
    return sorted(map(tuple, mf.values[mf.mask[:, p], p].tolist()))


def test_shuffled_keeps_each_predicates_rows_and_mask_and_moves_them(many: EntityFeatures):
    shuffled = many.shuffled(7)
    assert shuffled.report["shuffle_seed"] == 7 and "shuffle_seed" not in many.report
    moved = total = 0
    for name, mf in many.modalities.items():
        sf = shuffled.modalities[name]
        assert torch.equal(sf.mask, mf.mask) and sf.predicates == mf.predicates
        for p in range(len(mf.predicates)):
            assert _rows(sf, p) == _rows(mf, p)  # the predicate's multiset of rows
            have = mf.mask[:, p]
            moved += int((sf.values[have, p] != mf.values[have, p]).any(1).sum())
            total += int(have.sum())
        # the items moved with their rows: their means are the shuffled values again
        E, P, D = sf.values.shape
        flat = sf.item_entity * P + sf.item_predicate
        mean = torch.zeros(E * P, D).index_add_(0, flat, sf.item_values)
        mean /= torch.bincount(flat, minlength=E * P).clamp(min=1).unsqueeze(1)
        assert torch.allclose(mean.view(E, P, D), sf.values, atol=1e-5)
        assert sorted(map(tuple, sf.item_values.tolist())) == sorted(map(tuple, mf.item_values.tolist()))
    assert moved > 0.5 * total  # the link between entity and row is gone for most entities
    again = many.shuffled(7)
    other = many.shuffled(8)
    assert all(torch.equal(again.modalities[n].values, shuffled.modalities[n].values) for n in many.modalities)
    assert not all(torch.equal(other.modalities[n].values, shuffled.modalities[n].values) for n in many.modalities)
