"""Link prediction end to end: no leakage, learning beats random, best weights restored, predict."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def _clustered_graph(n_groups: int = 6, per_group: int = 10, seed: int = 0) -> list[str]:
    """Entities in groups: ``linked`` pairs within a group, ``memberOf`` its group node,
    and an integer literal that reveals the group (learnable structure and modality)."""
    rng = np.random.default_rng(seed)
    lines = []
    for g in range(n_groups):
        members = [f"{EX}e{g}_{i}" for i in range(per_group)]
        for m in members:
            lines.append(f"<{m}> <{EX}memberOf> <{EX}group{g}> .")
            lines.append(f'<{m}> <{EX}score> "{g * 10 + int(rng.integers(0, 3))}"^^<{XSD}integer> .')
        for _ in range(per_group * 2):
            a, b = rng.choice(per_group, 2, replace=False)
            lines.append(f"<{members[a]}> <{EX}linked> <{members[b]}> .")
    return sorted(set(lines))


def _cfg(tmp_path: Path, graph: list[str], **kw) -> TrainConfig:
    base = dict(graph=graph, task="link-prediction", device="cpu", cache=False, epochs=40, patience=40,
                embed_dim=16, hidden=32, layers=1, lr=0.02, weight_decay=0.0, dropout=0.0, seed=0,
                out=str(tmp_path / "run"))
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def clustered_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lp") / "clustered.nt"
    path.write_text("\n".join(_clustered_graph()) + "\n")
    return path


@pytest.fixture(scope="module")
def trained_run(clustered_file, tmp_path_factory):
    """One short training shared by the tests that only read its results."""
    from rdf2mm.tasks.link_prediction import train_link_prediction

    return train_link_prediction(_cfg(tmp_path_factory.mktemp("run"), [str(clustered_file)], epochs=30))


def test_training_beats_the_random_baseline_and_writes_a_run(trained_run):
    res = trained_run
    m = res.metrics
    for key in ("test_mrr", "test_hits@1", "test_hits@3", "test_hits@10", "test_mrr_raw", "valid_mrr"):
        assert 0.0 <= m[key] <= 1.0, key
    # Random scores over ~66 candidates give MRR ~0.07; grouped structure is easy to learn.
    assert m["test_mrr_random"] < 0.12
    assert m["test_mrr"] > 3 * m["test_mrr_random"]
    assert m["test_mrr"] >= m["test_mrr_raw"]
    run = res.run_dir
    assert run is not None
    for name in ("config.toml", "config.json", "metrics.json", "provenance.json", "curve.csv",
                 "model.safetensors", "model.json", "ranks.tsv"):
        assert (run / name).exists(), name
    with open(run / "ranks.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert set(rows[0]) == {"head", "relation", "tail", "head_rank", "tail_rank", "head_rank_raw", "tail_rank_raw"}
    # metrics.json's MRR is recomputable from ranks.tsv
    ranks = np.array([[float(r["head_rank"]), float(r["tail_rank"])] for r in rows]).ravel()
    assert json.loads((run / "metrics.json").read_text())["test_mrr"] == pytest.approx(np.mean(1 / ranks))


def test_mini_batch_training_beats_random_too(clustered_file, tmp_path):
    from rdf2mm.tasks.link_prediction import train_link_prediction

    res = train_link_prediction(_cfg(tmp_path, [str(clustered_file)], epochs=30, batching="mini", batch_size=64))
    m = res.metrics
    assert m["batching"] == "mini"
    assert res.per_seed[0]["negatives"] > 0  # 1-N needs every entity: mini-batches sample corruptions
    assert m["test_mrr"] > 3 * m["test_mrr_random"]
    # predict on the mini-batch run (layer-wise inference) ranks like the saved embeddings do
    from rdf2mm.tasks.prediction import predict_links

    top = predict_links(tmp_path / "run", head=f"{EX}e0_0", relation=f"{EX}linked", top=5)
    assert len(top) == 5 and top[0]["score"] >= top[-1]["score"]
    members = sum(t["iri"].startswith(f"{EX}e0_") for t in top)
    assert members >= 3  # its own group's members rank first


def test_best_validation_weights_are_really_restored(clustered_file, tmp_path):
    from rdf2mm.tasks.link_prediction import LPSettings, load_lp_data, train_link_predictor

    cfg = _cfg(tmp_path, [str(clustered_file)], lr=0.2, epochs=25)  # a high rate: valid MRR wobbles
    data = load_lp_data(cfg)
    res = train_link_predictor(data.inputs, data.splits, LPSettings.from_config(cfg), 0, torch.device("cpu"),
                               data.filter_index)
    curve_best = max(r["valid_mrr"] for r in res.curve if "valid_mrr" in r)
    last = [r["valid_mrr"] for r in res.curve if "valid_mrr" in r][-1]
    assert res.metrics["valid_mrr"] == pytest.approx(curve_best, abs=1e-9)
    assert res.metrics["best_epoch"] == 1 + int(np.argmax([r["valid_mrr"] for r in res.curve]))
    if last < curve_best:  # the final weights were worse: the restore must have changed them
        assert res.metrics["valid_mrr"] > last


def test_split_files_never_reach_the_model_graph(tmp_path):
    from rdf2mm.tasks.link_prediction import load_lp_data

    lines = _clustered_graph(4, 8, seed=1)
    entity_lines = [ln for ln in lines if '"' not in ln]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(entity_lines))
    test = [entity_lines[i] for i in order[:10]]
    valid = [entity_lines[i] for i in order[10:20]]
    literal_test = [ln for ln in lines if '"' in ln][:3]
    (tmp_path / "train.nt").write_text("\n".join(sorted(set(lines) - set(test) - set(valid) - set(literal_test))) + "\n")
    (tmp_path / "valid.nt").write_text("\n".join(valid) + "\n")
    (tmp_path / "test.nt").write_text("\n".join(test + literal_test) + "\n")
    # The context graph deliberately holds everything, test triples included.
    (tmp_path / "all.nt").write_text("\n".join(lines) + "\n")
    cfg = _cfg(tmp_path, [str(tmp_path / "all.nt")], train=str(tmp_path / "train.nt"),
               valid=str(tmp_path / "valid.nt"), test=str(tmp_path / "test.nt"), literals="merged")
    data = load_lp_data(cfg)
    mg, kg = data.inputs.mg, data.inputs.kg
    R = kg.num_relations
    edges = set(zip(mg.edge_index[0].tolist(), mg.edge_type.tolist(), mg.edge_index[1].tolist()))
    assert len(data.splits.test) == 10 and len(data.splits.valid) == 10
    for h, r, t in np.concatenate([data.splits.valid, data.splits.test]).tolist():
        assert (h, r, t) not in edges and (t, r + R, h) not in edges
    # held-out literal triples are no edges either (merged: one node per distinct literal)
    node_of = {int(lit): mg.num_entities + i for i, lit in enumerate(mg.node_literal.tolist())}
    lit_id = {kg.literal_lexical[i]: i for i in range(kg.num_literals)}
    score = kg.relation_index()[EX + "score"]
    for ln in literal_test:
        s_id = kg.find_entity(ln.split(" ")[0])
        node = node_of.get(lit_id[ln.split('"')[1]])
        assert node is None or (s_id, score, node) not in edges
    assert data.splits.report["not_ranked_literal_triples"]["test"] == 3


def test_predict_links_rebuilds_the_model(trained_run):
    from rdf2mm.tasks.prediction import predict_links

    res = trained_run
    out = predict_links(res.run_dir, head=f"{EX}e2_3", relation=f"{EX}memberOf", top=5)
    assert [p["rank"] for p in out] == [1, 2, 3, 4, 5]
    assert out[0]["iri"] == f"{EX}group2"
    assert out[0]["score"] >= out[1]["score"]
    # the range of memberOf (the entities seen as its tails: no rdf:type here) is the groups
    assert all(p["iri"].startswith(f"{EX}group") for p in out)
    # all candidates: other entities too, and the groups among them keep their order
    every = predict_links(res.run_dir, head=f"{EX}e2_3", relation=f"{EX}memberOf", top=7, all_candidates=True)
    assert len(every) == 7 and any(not p["iri"].startswith(f"{EX}group") for p in every)
    groups = [p["iri"] for p in every if p["iri"].startswith(f"{EX}group")]
    assert groups and groups == [p["iri"] for p in out][: len(groups)]
    assert len(predict_links(res.run_dir, head=f"{EX}e2_3", relation=f"{EX}memberOf", top=10)) == 6
    rev = predict_links(res.run_dir, tail=f"<{EX}group2>", relation=f"{EX}memberOf", top=3, exclude_known=True)
    assert len(rev) == 3 and not any(p["known"] for p in rev)
    with pytest.raises(UsageError):
        predict_links(res.run_dir, head=f"{EX}e2_3", tail=f"{EX}group2", relation=f"{EX}memberOf")
