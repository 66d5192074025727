"""Planted link-prediction graphs (rdf2mm.synthetic.lp_planted): the tail of the target
relation is a function of the planted literal and of nothing in the structure."""
from __future__ import annotations

import base64
import io
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyoxigraph as ox
import pytest
from PIL import Image

from rdf2mm.errors import UsageError
from rdf2mm.synthetic import EX, PLANTED_PREDICATE, generate_planted_lp
from rdf2mm.synthetic.lp_planted import TOPICS
from tests.test_synthetic import read_triples

N, K = 600, 6


def make(tmp: Path, name: str, **kw) -> dict:
    kw = {"entities": N, "classes": K, "seed": 7, "image_size": 12, **kw}
    ds = generate_planted_lp(tmp / name, **kw)
    return {"ds": ds, "dir": ds.out_dir, "manifest": ds.manifest}


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("lp_planted")
    return {p: make(tmp, p, plant=p) for p in ("numeric", "textual", "spatial", "visual", "none")}


def triples(folder: Path, name: str) -> list[ox.Triple]:
    return read_triples(folder / name)


def tails(folder: Path) -> dict[str, str]:
    """item IRI -> its hasCategory tail, from the whole graph."""
    return {t.subject.value: t.object.value for t in triples(folder, "graph.nt") if t.predicate.value == PLANTED_PREDICATE}


def literal_of(folder: Path, local: str) -> dict[str, str]:
    return {t.subject.value: t.object.value for t in triples(folder, "graph.nt") if t.predicate.value == EX + local}


def dependence(keys: dict[str, object], tail: dict[str, str]) -> float:
    """Share of items whose tail is the most common tail of their key: 1.0 when the tail is
    a function of the key, about 1/K when they are independent (keys with many items)."""
    by_key: dict[object, Counter] = defaultdict(Counter)
    for item, key in keys.items():
        by_key[key][tail[item]] += 1
    return sum(c.most_common(1)[0][1] for c in by_key.values()) / sum(sum(c.values()) for c in by_key.values())


def numeric_bin(value: str) -> int:
    return round((float(value) - 5.0) / 10.0)


def topic(text: str) -> str:
    words = set(text.split())
    hits = [name for name, vocab in TOPICS.items() if words & set(vocab)]
    assert len(hits) == 1, text
    return hits[0]


def band(point: str) -> int:
    lon = float(point.removeprefix("POINT (").split()[0])
    return int((lon + 180.0) // (360.0 / K))


KEYS = {"numeric": ("measure", numeric_bin), "textual": ("description", topic), "spatial": ("location", band)}


@pytest.mark.parametrize("plant", ["numeric", "textual", "spatial"])
def test_the_planted_tail_is_a_function_of_the_literal(graphs, plant):
    g = graphs[plant]["dir"]
    tail = tails(g)
    local, key = KEYS[plant]
    keys = {item: key(v) for item, v in literal_of(g, local).items()}
    assert len(keys) == N - round(0.2 * N)
    assert dependence(keys, tail) == 1.0
    # the other modalities carry no information about the tail
    for other, (local2, key2) in KEYS.items():
        if other != plant:
            keys2 = {item: key2(v) for item, v in literal_of(g, local2).items()}
            assert dependence(keys2, tail) < 0.35


def test_plant_none_has_no_dependence_and_the_same_structure(graphs):
    g, num = graphs["none"]["dir"], graphs["numeric"]["dir"]
    tail = tails(g)
    assert tail == tails(num)  # same latent, same hubs
    for local, key in KEYS.values():
        keys = {item: key(v) for item, v in literal_of(g, local).items()}
        assert dependence(keys, tail) < 0.35
    # the structure and the splits do not depend on what is planted
    for name in ("lp/valid.nt", "lp/test.nt", "lp/valid-structure.nt", "lp/test-structure.nt"):
        assert (g / name).read_bytes() == (num / name).read_bytes()


def test_images_are_drawn_and_decodable(graphs):
    images = literal_of(graphs["visual"]["dir"], "image")
    assert len(images) == N - round(0.2 * N)
    img = Image.open(io.BytesIO(base64.urlsafe_b64decode(next(iter(images.values())))))
    assert img.size == (12, 12)


def test_structure_does_not_predict_the_tail(graphs):
    """The best structural guess (the commonest hub among the training items of a test
    item's group) is at chance."""
    g = graphs["numeric"]["dir"]
    train = triples(g, "lp/train.nt")
    group = {t.subject.value: t.object.value for t in train if t.predicate.value == EX + "inGroup"}
    by_group: dict[str, Counter] = defaultdict(Counter)
    for t in train:
        if t.predicate.value == PLANTED_PREDICATE and t.subject.value in group:
            by_group[group[t.subject.value]][t.object.value] += 1
    test = [t for t in triples(g, "lp/test.nt")]
    hits = [by_group[group[t.subject.value]].most_common(1)[0][0] == t.object.value
            for t in test if t.subject.value in group and by_group[group[t.subject.value]]]
    assert len(hits) > 30
    assert np.mean(hits) < 0.35  # chance is 1/6


def test_missing_rate_is_honoured(tmp_path):
    g = make(tmp_path, "m", plant="numeric", missing=0.35, modalities="numeric,spatial")
    counts = g["manifest"]["counts"]["literals"]
    assert counts == {"numeric": N - round(0.35 * N), "spatial": N - round(0.35 * N)}
    rows = (g["dir"] / "latent.tsv").read_text().splitlines()
    header, body = rows[0].split("\t"), [r.split("\t") for r in rows[1:]]
    assert header[-2:] == ["has_numeric", "has_spatial"]
    missing = np.array([[r[-2] == "0", r[-1] == "0"] for r in body])
    assert abs(missing.mean(axis=0) - 0.35).max() < 0.01
    assert missing[:, 0].tolist() != missing[:, 1].tolist()  # drawn independently per modality
    assert set(literal_of(g["dir"], "measure")) == {r[0] for r in body if r[-2] == "1"}
    assert not literal_of(g["dir"], "description")


def test_splits_are_disjoint_and_every_held_out_entity_is_trained(graphs):
    g = graphs["numeric"]["dir"]
    sets = {name: {(t.subject.value, t.predicate.value, t.object.value) for t in triples(g, f"lp/{name}.nt")}
            for name in ("train", "valid", "test", "valid-structure", "test-structure")}
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not sets[a] & sets[b], (a, b)
    assert {p for _, p, _ in sets["valid"] | sets["test"]} == {PLANTED_PREDICATE}
    assert PLANTED_PREDICATE not in {p for _, p, _ in sets["valid-structure"] | sets["test-structure"]}
    entity_triples = [(s, o) for s, p, o in sets["train"] if o.startswith(EX)]
    seen = {s for s, _ in entity_triples} | {o for _, o in entity_triples}
    for name in ("valid", "test", "valid-structure", "test-structure"):
        held = {s for s, _, _ in sets[name]} | {o for _, _, o in sets[name]}
        assert held <= seen, name
    # every hub is the tail of some training triple
    train_tails = {o for _, p, o in sets["train"] if p == PLANTED_PREDICATE}
    assert train_tails == {f"{EX}category_{k}" for k in range(K)}
    split = graphs["numeric"]["manifest"]["counts"]["planted_split"]
    assert split == {"train": N - 2 * round(0.1 * N), "valid": round(0.1 * N), "test": round(0.1 * N)}


def test_deterministic_by_seed(tmp_path, graphs):
    a = make(tmp_path, "a", plant="textual")["dir"]
    b = make(tmp_path, "b", plant="textual", seed=8)["dir"]
    ref = graphs["textual"]["dir"]
    files = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file())
    assert len(files) == 9
    assert all((a / f).read_bytes() == (ref / f).read_bytes() for f in files)
    assert (b / "lp" / "test.nt").read_bytes() != (ref / "lp" / "test.nt").read_bytes()


@pytest.mark.parametrize("kw, message", [
    ({"plant": "smell"}, "plant must be"),
    ({"plant": "visual", "classes": 7}, "at most 6"),
    ({"plant": "numeric", "modalities": "textual"}, "not among the modalities"),
    ({"missing": 1.0}, "missing must be"),
    ({"entities": 20}, "at least 10 per class"),
    ({"modalities": "temporal"}, "unknown or unsupported"),
    ({"lp_split": (0.9, 0.1, 0.0)}, "valid and for test"),
])
def test_bad_parameters(tmp_path, kw, message):
    with pytest.raises(UsageError, match=message):
        generate_planted_lp(tmp_path / "bad", **{"entities": N, "classes": K, **kw})
    assert not (tmp_path / "bad").exists()
