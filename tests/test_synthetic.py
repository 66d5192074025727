"""The synthetic graph generator: determinism, size, syntax, labels, splits, planted signal."""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyoxigraph as ox
import pytest
import shapely
from PIL import Image

from rdf2mm.errors import UsageError
from rdf2mm.synthetic import EX, MODALITIES, TARGET_PREDICATE, GeneratedDataset, generate, parse_signal

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
GEO = "http://www.opengis.net/ont/geosparql#"
IMG = "http://kgbench.info/dt#base64Image"
EXPECTED_DATATYPES = {
    XSD + "decimal", XSD + "integer", XSD + "double", XSD + "float",
    XSD + "date", XSD + "dateTime", XSD + "gYear",
    XSD + "string", RDF + "langString",
    IMG, GEO + "wktLiteral", XSD + "boolean",
}


# --------------------------------------------------------------------------- helpers


def read_triples(path: Path) -> list[ox.Triple]:
    fmt = ox.RdfFormat.N_TRIPLES if ".nt" in path.name else ox.RdfFormat.TURTLE
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return [q.triple for q in ox.parse(fh, format=fmt)]


def local(term) -> str:
    return term.value[len(EX):] if term.value.startswith(EX) else term.value


def item_index(term) -> int:
    return int(local(term).removeprefix("item_"))


def literals_by_predicate(triples) -> dict[str, dict[int, ox.Literal]]:
    """predicate local name -> {item index: literal} for the items' literals."""
    out: dict[str, dict[int, ox.Literal]] = defaultdict(dict)
    for t in triples:
        if isinstance(t.object, ox.Literal) and t.subject.value.startswith(EX + "item_"):
            out[local(t.predicate)][item_index(t.subject)] = t.object
    return out


def read_labels(ds: GeneratedDataset) -> tuple[np.ndarray, np.ndarray]:
    """Class per item and split per item (0 train, 1 valid, 2 test) from labels/all.tsv."""
    rows = (ds.out_dir / ds.manifest["paths"]["labels_tsv"]).read_text().splitlines()[1:]
    names = {"train": 0, "valid": 1, "test": 2}
    y = np.zeros(len(rows), dtype=int)
    split = np.zeros(len(rows), dtype=int)
    for row in rows:
        iri, cls, s = row.split("\t")
        i = int(iri.rsplit("item_", 1)[1])
        y[i] = int(cls.rsplit("class_", 1)[1])
        split[i] = names[s]
    return y, split


def nearest_centroid_accuracy(features: dict[int, np.ndarray], y: np.ndarray, split: np.ndarray) -> float:
    """Fit class centroids on training items, report accuracy on the others."""
    ids = np.array(sorted(features))
    x = np.array([np.atleast_1d(features[i]) for i in ids], dtype=float)
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    train = split[ids] == 0
    classes = np.unique(y)
    centroids = np.stack([x[train & (y[ids] == c)].mean(0) for c in classes])
    pred = classes[np.argmin(((x[~train, None, :] - centroids[None]) ** 2).sum(-1), axis=1)]
    return float((pred == y[ids][~train]).mean())


def naive_bayes_accuracy(texts: dict[int, str], y: np.ndarray, split: np.ndarray) -> float:
    """Multinomial naive Bayes on words, trained on training items."""
    k = int(y.max()) + 1
    counts = [Counter() for _ in range(k)]
    for i, s in texts.items():
        if split[i] == 0:
            counts[y[i]].update(s.split())
    vocab = set().union(*counts)
    totals = [sum(c.values()) + len(vocab) for c in counts]
    right = n = 0
    for i, s in texts.items():
        if split[i] != 0:
            scores = [sum(np.log((counts[c][w] + 1) / totals[c]) for w in s.split()) for c in range(k)]
            right += int(np.argmax(scores) == y[i])
            n += 1
    return right / n


def modality_accuracies(ds: GeneratedDataset) -> dict[str, float]:
    """Accuracy of a simple classifier on the raw values of one predicate per modality."""
    lits = literals_by_predicate(read_triples(ds.graph_path))
    y, split = read_labels(ds)

    def decimal_year(s: str) -> float:
        d = dt.date.fromisoformat(s[:10])
        return d.year + d.timetuple().tm_yday / 366

    def chroma(b64: str) -> np.ndarray:
        a = np.asarray(Image.open(io.BytesIO(base64.urlsafe_b64decode(b64))).convert("RGB"), dtype=float)
        r, g, b = a[..., 0].mean(), a[..., 1].mean(), a[..., 2].mean()
        return np.array([r - (g + b) / 2, g - b])

    feats = {
        "numeric": {i: float(l.value) for i, l in lits["price"].items()},
        "numeric_integer": {i: float(l.value) for i, l in lits["count"].items()},
        "temporal": {i: decimal_year(l.value) for i, l in lits["date"].items()},
        "temporal_gyear": {i: float(l.value) for i, l in lits["era"].items()},
        "visual": {i: chroma(l.value) for i, l in lits["image"].items()},
        "spatial": {i: float(len(shapely.from_wkt(l.value).exterior.coords)) for i, l in lits["footprint"].items()},
        "boolean": {i: float(l.value in ("true", "1")) for i, l in lits["flag"].items()},
    }
    acc = {m: nearest_centroid_accuracy(f, y, split) for m, f in feats.items()}
    acc["textual"] = naive_bayes_accuracy({i: l.value for i, l in lits["description"].items()}, y, split)
    return acc


@pytest.fixture(scope="module")
def default_ds(tmp_path_factory) -> GeneratedDataset:
    return generate(tmp_path_factory.mktemp("default") / "out", triples=10_000, seed=3, ill_typed=0.0)


@pytest.fixture(scope="module")
def default_triples(default_ds) -> list[ox.Triple]:
    return read_triples(default_ds.graph_path)


# --------------------------------------------------------------------------- determinism and size


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt,compress", [("nt", False), ("ttl", True)])
def test_same_seed_gives_identical_bytes(tmp_path, fmt, compress):
    a = generate(tmp_path / "a", triples=3_000, seed=7, format=fmt, compress=compress, ill_typed=0.05)
    b = generate(tmp_path / "b", triples=3_000, seed=7, format=fmt, compress=compress, ill_typed=0.05)
    c = generate(tmp_path / "c", triples=3_000, seed=8, format=fmt, compress=compress, ill_typed=0.05)
    fa, fb, fc = _files(a.out_dir), _files(b.out_dir), _files(c.out_dir)
    assert fa.keys() == fb.keys() and len(fa) == 9
    assert fa == fb
    assert fa[a.manifest["paths"]["graph"]] != fc[c.manifest["paths"]["graph"]]
    assert fa["labels/train.nt"] != fc["labels/train.nt"]


@pytest.mark.parametrize("target", [1_000, 4_000, 30_000])
def test_size_within_tolerance(tmp_path, target):
    ds = generate(tmp_path / "out", triples=target, seed=1)
    n = len(read_triples(ds.graph_path))
    assert n == ds.triples
    assert abs(n - target) <= 0.1 * target


def test_image_cap(tmp_path):
    ds = generate(tmp_path / "out", triples=5_000, seed=1, max_images=40, image_format="png", image_size=16)
    lits = literals_by_predicate(read_triples(ds.graph_path))
    assert sorted(lits["image"]) == list(range(40))
    assert ds.manifest["counts"]["images"] == 40
    raw = base64.urlsafe_b64decode(lits["image"][0].value)
    assert raw.startswith(b"\x89PNG") and Image.open(io.BytesIO(raw)).size == (16, 16)
    assert abs(ds.triples - 5_000) <= 500


# --------------------------------------------------------------------------- syntax and content


def test_every_modality_and_datatype_present_and_parseable(default_ds, default_triples):
    lits = [t.object for t in default_triples if isinstance(t.object, ox.Literal)]
    by_dt = Counter(l.datatype.value for l in lits)
    assert set(by_dt) == EXPECTED_DATATYPES
    assert dict(by_dt) == default_ds.manifest["literals"]["by_datatype"]
    assert set(default_ds.manifest["literals"]["by_modality"]) == set(MODALITIES)
    assert {l.language for l in lits if l.language} == {"en", "nl"}

    years = [l.value for l in lits if l.datatype.value == XSD + "gYear"]
    assert any(y.startswith("-") for y in years)
    assert any(len(y.lstrip("-")) < 4 for y in years)  # unpadded, as in the reference data
    wkt = [l.value for l in lits if l.datatype.value == GEO + "wktLiteral"]
    assert any(w.startswith("POINT") for w in wkt) and any(w.startswith("POLYGON") for w in wkt)
    geoms = [shapely.from_wkt(w) for w in wkt]
    assert all(g.is_valid for g in geoms)
    assert min(shapely.get_coordinates(geoms).min(0)) < 0  # negative coordinates occur
    images = [l.value for l in lits if l.datatype.value == IMG]
    decoded = [base64.urlsafe_b64decode(s) for s in images[:50]]
    assert all(Image.open(io.BytesIO(b)).size == (32, 32) for b in decoded)
    assert len(set(images)) == len(images)  # noise makes every image unique
    # every item has every modality (images: all items here, the default cap is not reached)
    n_items = default_ds.manifest["counts"]["items"]
    by_pred = literals_by_predicate(default_triples)
    for preds in default_ds.manifest["predicates"]["item_literals"].values():
        for p in preds:
            assert len(by_pred[p[len(EX):]]) == n_items


def test_turtle_gzip_parses_to_the_same_graph(tmp_path):
    nt = generate(tmp_path / "nt", triples=2_000, seed=5)
    ttl = generate(tmp_path / "ttl", triples=2_000, seed=5, format="ttl", compress=True)
    assert ttl.graph_path.name == "graph.ttl.gz"
    assert set(read_triples(nt.graph_path)) == set(read_triples(ttl.graph_path))
    assert set(read_triples(nt.lp_path("test"))) == set(read_triples(ttl.lp_path("test")))


# --------------------------------------------------------------------------- labels


def test_labels_disjoint_stratified_and_not_in_graph(default_ds, default_triples):
    sets = {}
    for s in ("train", "valid", "test"):
        triples = read_triples(default_ds.labels_path(s))
        assert all(t.predicate.value == TARGET_PREDICATE for t in triples)
        sets[s] = {t.subject.value: t.object.value for t in triples}
    tr, va, te = (set(sets[s]) for s in ("train", "valid", "test"))
    assert not (tr & va) and not (tr & te) and not (va & te)
    n = default_ds.manifest["counts"]["items"]
    assert len(tr | va | te) == n
    assert abs(len(tr) / n - 0.6) < 0.02 and abs(len(te) / n - 0.2) < 0.02
    for s in sets:  # stratified: every split has both classes in (about) equal share
        per = Counter(sets[s].values())
        assert len(per) == 2 and abs(per[EX + "class_0"] - per[EX + "class_1"]) <= 1
    # the labels are nowhere in the graph: neither the predicate nor the class IRIs
    assert not any(t.predicate.value == TARGET_PREDICATE for t in default_triples)
    classes = set(default_ds.manifest["classes"])
    assert not any(t.object.value in classes for t in default_triples)
    y, split = read_labels(default_ds)
    assert sum(split == 0) == len(tr)


# --------------------------------------------------------------------------- link prediction


def entity_triples(triples) -> list[ox.Triple]:
    return [t for t in triples if isinstance(t.object, ox.NamedNode) and t.predicate.value != RDF + "type"]


def test_lp_splits_are_consistent(default_ds, default_triples):
    train = read_triples(default_ds.lp_path("train"))
    valid = read_triples(default_ds.lp_path("valid"))
    test = read_triples(default_ds.lp_path("test"))
    assert valid and test
    assert len(train) + len(valid) + len(test) == len(default_triples)
    assert set(train) | set(valid) | set(test) == set(default_triples)
    assert not (set(train) & set(valid)) and not (set(train) & set(test)) and not (set(valid) & set(test))
    # held-out triples are entity-entity triples; all literal triples are in train
    held = valid + test
    assert all(isinstance(t.object, ox.NamedNode) and t.predicate.value != RDF + "type" for t in held)
    assert sum(isinstance(t.object, ox.Literal) for t in train) == default_ds.manifest["counts"]["literal_triples"]
    # every held-out entity and relation occurs in a training entity-entity triple
    train_rel = entity_triples(train)
    ents = {t.subject for t in train_rel} | {t.object for t in train_rel}
    rels = {t.predicate for t in train_rel}
    for t in held:
        assert t.subject in ents and t.object in ents and t.predicate in rels
    assert default_ds.manifest["counts"]["lp"] == {"train": len(train), "valid": len(valid), "test": len(test)}


def lp_auc(ds: GeneratedDataset) -> float:
    """AUC of a 3-walk count score (train graph) for test tails vs random tails of the same kind."""
    train = entity_triples(read_triples(ds.lp_path("train")))
    test = entity_triples(read_triples(ds.lp_path("test")))
    names = sorted({t.subject.value for t in train + test} | {t.object.value for t in train + test})
    idx = {n: i for i, n in enumerate(names)}
    a = np.zeros((len(names), len(names)))
    for t in train:
        a[idx[t.subject.value], idx[t.object.value]] = a[idx[t.object.value], idx[t.subject.value]] = 1
    walks = a @ a @ a
    kind = lambda n: local(ox.NamedNode(n)).split("_")[0]  # noqa: E731
    by_kind = defaultdict(list)
    for n in names:
        by_kind[kind(n)].append(idx[n])
    rng = np.random.default_rng(0)
    wins = []
    for t in test:
        h, o = idx[t.subject.value], idx[t.object.value]
        for fake in rng.choice(by_kind[kind(t.object.value)], 20):
            wins.append(0.5 if walks[h, o] == walks[h, fake] else float(walks[h, o] > walks[h, fake]))
    return float(np.mean(wins))


def test_lp_structure_is_planted(tmp_path):
    planted = generate(tmp_path / "a", triples=10_000, seed=2, link_strength=0.8)
    random = generate(tmp_path / "b", triples=10_000, seed=2, link_strength=0.0)
    assert lp_auc(planted) > 0.7
    assert lp_auc(random) < 0.6


# --------------------------------------------------------------------------- ill-typed literals


_PATTERNS = {
    XSD + "decimal": r"[+-]?(\d+(\.\d*)?|\.\d+)",
    XSD + "integer": r"[+-]?\d+",
    XSD + "double": r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|INF|-INF|NaN",
    XSD + "float": r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|INF|-INF|NaN",
    XSD + "gYear": r"-?\d+",  # deliberately lenient: short years are a quirk, not an error
    XSD + "boolean": r"true|false|1|0",
}


def is_valid(lit: ox.Literal) -> bool:
    """An independent validator for the datatypes the generator writes."""
    d, v = lit.datatype.value, lit.value
    try:
        if d in _PATTERNS:
            return re.fullmatch(_PATTERNS[d], v) is not None
        if d == XSD + "date":
            dt.date.fromisoformat(v)
            return re.fullmatch(r"\d{4}-\d\d-\d\d", v) is not None
        if d == XSD + "dateTime":
            dt.datetime.fromisoformat(v.removesuffix("Z"))
            return re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ?", v) is not None
        if d == IMG:
            Image.open(io.BytesIO(base64.urlsafe_b64decode(v.encode("ascii")))).verify()
            return re.fullmatch(r"[A-Za-z0-9_\-]+=*", v) is not None
        if d == GEO + "wktLiteral":
            return shapely.from_wkt(v).is_valid
    except Exception:  # noqa: BLE001 - any failure means ill-typed
        return False
    return True  # strings


def test_ill_typed_counts_match_manifest(tmp_path, default_triples, default_ds):
    ds = generate(tmp_path / "out", triples=10_000, seed=4, ill_typed=0.08)
    lits = [t.object for t in read_triples(ds.graph_path) if isinstance(t.object, ox.Literal)]
    bad = Counter(l.datatype.value for l in lits if not is_valid(l))
    assert dict(bad) == ds.manifest["ill_typed"]["by_datatype"]
    assert sum(bad.values()) == ds.manifest["ill_typed"]["total"] > 0
    assert set(bad) == EXPECTED_DATATYPES - {XSD + "string", RDF + "langString"}
    # about the requested share per modality (textual literals cannot be ill-typed)
    by_mod = ds.manifest["literals"]["by_modality"]
    for m, n in ds.manifest["ill_typed"]["by_modality"].items():
        assert 0.04 < n / by_mod[m] < 0.13
    # and none at ill_typed = 0
    assert not [l for l in default_triples if isinstance(l.object, ox.Literal) and not is_valid(l.object)]
    assert default_ds.manifest["ill_typed"]["total"] == 0


# --------------------------------------------------------------------------- planted signal


CHANCE = 0.65  # two balanced classes, ~200 test items: chance accuracy is 0.5 +- 0.035


def test_numeric_only_signal(tmp_path):
    ds = generate(tmp_path / "out", triples=10_000, seed=11, signal=("numeric",))
    acc = modality_accuracies(ds)
    assert acc["numeric"] > 0.9 and acc["numeric_integer"] > 0.9
    for m in ("temporal", "temporal_gyear", "visual", "spatial", "boolean", "textual"):
        assert acc[m] < CHANCE, (m, acc[m])


def test_all_modalities_signal(default_ds):
    acc = modality_accuracies(default_ds)
    assert all(a > 0.9 for a in acc.values()), acc


def test_no_signal_and_zero_strength(tmp_path):
    for kw in ({"signal": "none"}, {"signal": "all", "strength": 0.0}):
        acc = modality_accuracies(generate(tmp_path / str(len(kw)), triples=10_000, seed=12, **kw))
        assert all(a < CHANCE for a in acc.values()), (kw, acc)


def test_partial_strength_matches_bound(tmp_path):
    ds = generate(tmp_path / "out", triples=10_000, seed=13, signal="numeric,spatial", strength=0.6)
    acc = modality_accuracies(ds)
    bound = ds.manifest["planted"]["literal_accuracy_bound"]  # 0.6 + 0.4 / 2 = 0.8
    assert abs(acc["numeric"] - bound) < 0.08 and abs(acc["spatial"] - bound) < 0.08


def test_three_classes(tmp_path):
    ds = generate(tmp_path / "out", triples=10_000, classes=3, seed=14, signal=("numeric", "spatial", "temporal"))
    acc = modality_accuracies(ds)
    assert acc["numeric"] > 0.9 and acc["spatial"] > 0.9 and acc["temporal"] > 0.9
    assert acc["textual"] < 0.5  # chance is 1/3


def majority_neighbour_accuracy(ds: GeneratedDataset) -> float:
    """Predict an item's class as the majority training label among items it shares a group, tag or link with."""
    y, split = read_labels(ds)
    neighbours: dict[str, set[int]] = defaultdict(set)  # group/tag/item -> items attached to it
    for t in entity_triples(read_triples(ds.graph_path)):
        if t.subject.value.startswith(EX + "item_"):
            neighbours[t.object.value].add(item_index(t.subject))
            if t.object.value.startswith(EX + "item_"):
                neighbours[t.subject.value].add(item_index(t.object))
    around: dict[int, Counter] = defaultdict(Counter)
    for members in neighbours.values():
        for i in members:
            for j in members:
                if i != j and split[j] == 0:
                    around[i][y[j]] += 1
    test = np.flatnonzero(split != 0)
    pred = np.array([around[i].most_common(1)[0][0] if around[i] else 0 for i in test])
    return float((pred == y[test]).mean())


def test_structure_signal(tmp_path, default_ds):
    assert default_ds.manifest["parameters"]["structure_signal"] == 0.0
    assert majority_neighbour_accuracy(default_ds) < CHANCE
    planted = generate(tmp_path / "out", triples=10_000, seed=3, signal="none", structure_signal=1.0)
    assert majority_neighbour_accuracy(planted) > 0.9


# --------------------------------------------------------------------------- parameters and manifest


@pytest.mark.parametrize(
    "kw",
    [
        {"classes": 1},
        {"classes": 51},
        {"strength": 1.5},
        {"structure_signal": -0.1},
        {"ill_typed": 2},
        {"signal": "numeric,colour"},
        {"signal": "structure"},
        {"format": "xml"},
        {"triples": 50},
        {"split": (0.5, 0.2, 0.2)},
        {"seed": -1},
        {"image_size": 2},
    ],
)
def test_bad_parameters(tmp_path, kw):
    with pytest.raises(UsageError):
        generate(tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


def test_parse_signal():
    assert parse_signal("all") == MODALITIES
    assert parse_signal("none") == ()
    assert parse_signal("visual, numeric,visual") == ("numeric", "visual")
    assert parse_signal(["boolean"]) == ("boolean",)


def test_manifest_on_disk(default_ds):
    on_disk = json.loads((default_ds.out_dir / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(default_ds.manifest))
    m = on_disk
    assert m["target_predicate"] == TARGET_PREDICATE and m["seed"] == 3
    assert m["parameters"]["signal"] == list(MODALITIES)
    assert m["counts"]["triples"] == m["counts"]["entity_triples"] + m["counts"]["literal_triples"]
    for p in [m["paths"]["graph"], m["paths"]["labels_tsv"], *m["paths"]["labels"].values(), *m["paths"]["lp"].values()]:
        assert (default_ds.out_dir / p).is_file()


def test_regenerate_into_existing_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    first = generate(out, triples=2_000, seed=1)
    before = first.graph_path.read_bytes()
    second = generate(out, triples=2_000, seed=2)
    assert (out / "notes.txt").read_text() == "mine"  # unrelated files are left alone
    assert second.graph_path.read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
