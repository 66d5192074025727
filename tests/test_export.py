"""rdf2mm export: a trained run's vectors and predictions round-trip exactly through
RDF stores and Parquet; the README's SPARQL query works; the CLI is wired."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyoxigraph as ox
import pytest
import torch
from typer.testing import CliRunner

from rdf2mm import vocab as V
from rdf2mm.export import export_run, load_run, run_iri
from rdf2mm.io.write import parse_vector, skolem_iri
from rdf2mm.runs import save_embeddings, write_table

ROOT = Path(__file__).resolve().parents[1]
TOP_PREDICTIONS = ROOT / "examples" / "queries" / "top_predictions.rq"
EX = "http://example.org/rdf2mm/synth#"


# ------------------------------------------------------------------ run directories
def train_small_run(tmp: Path) -> Path:
    """A real node classification run on a small synthetic graph with blank-node entities."""
    from rdf2mm.config import TrainConfig
    from rdf2mm.pipeline import train
    from rdf2mm.synthetic import generate

    data = generate(tmp / "data", triples=1000, seed=0, max_images=0)
    graph = data.graph_path
    assert graph.suffix == ".nt"
    # blank nodes that link to items, so the run embeds some: they must be skolemised
    with open(graph, "a", encoding="utf-8") as fh:
        for i in range(4):
            fh.write(f"_:anon{i} <{EX}mentions> <{EX}item_{i}> .\n")
            fh.write(f"<{EX}item_{i + 1}> <{EX}mentions> _:anon{i} .\n")
    res = train(TrainConfig(graph=[str(graph)], train=str(data.labels_path("train")),
                            valid=str(data.labels_path("valid")), test=str(data.labels_path("test")),
                            epochs=5, modalities="none", literals="none", device="cpu", amp=False,
                            embed_dim=16, hidden=16, out=str(tmp / "run")))
    assert res.run_dir is not None
    return Path(res.run_dir)


def make_fake_run(folder: Path, n: int = 40, d: int = 8, link_prediction: bool = True) -> Path:
    """A run directory with the files the trainers write, plus every optional part.

    Holds blank nodes, awkward float32 values, a literal class and link prediction files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ents = [f"<http://ex.org/e{i}>" for i in range(n - 3)] + ["_:b0", "_:s1xb0", "<http://ex.org/ü?x=1#f>"]
    pq.write_table(pa.table({"term": ents}), folder / "entities.parquet")
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((n, d)).astype(np.float32)
    emb[0, :4] = [-0.0, np.float32(1e-45), np.finfo(np.float32).max, np.finfo(np.float32).tiny]
    emb[1] = (rng.standard_normal(d) * 1e-30).astype(np.float32)
    rel = rng.standard_normal((2, d)).astype(np.float32) if link_prediction else None
    save_embeddings(folder, torch.from_numpy(emb), None if rel is None else torch.from_numpy(rel))
    task = "link-prediction" if link_prediction else "node-classification"
    (folder / "config.json").write_text(json.dumps({
        "graph": ["g.nt"], "task": task, "lr": 0.01, "epochs": 5, "seed": 0, "split": [0.6, 0.2, 0.2],
        "out": str(folder), "bases": None, "inverse": True, "modalities": "all"}))
    (folder / "provenance.json").write_text(json.dumps({
        "data_fingerprint": "f" * 64, "seeds": [0, 1], "device": "cpu", "started": "2024-01-01T00:00:00+00:00",
        "ended": "2024-01-01T00:01:00+00:00", "platform": "Linux",
        "versions": {"python": "3.12.0", "rdf2mm": "0.1.0", "torch": "2.3.0", "pillow": "not installed"}}))
    (folder / "metrics.json").write_text(json.dumps({
        "task": task, "seeds": 2, "test_accuracy": 0.75, "per_seed": [{}], "kept_seed": 1}))
    (folder / "model.json").write_text(json.dumps({"task": task, "relation_names": ["http://ex.org/p", "http://ex.org/q"]}))
    write_table(folder / "predictions", {
        "entity": ents[:6] + ["_:b0"],
        "split": ["train", "valid", "test", "unlabelled", "unlabelled", "test", "test"],
        "true_class": ["<http://ex.org/A>", "<http://ex.org/B>", '"x \\"y\\""', "", "", '"7"^^<http://www.w3.org/2001/XMLSchema#integer>', "<http://ex.org/A>"],
        "predicted_class": ["<http://ex.org/A>", "<http://ex.org/A>", '"x \\"y\\""', "<http://ex.org/B>", "<http://ex.org/A>", '"lit"@en', "<http://ex.org/A>"],
        "score": [0.9, 0.8, 0.7, 0.95, 0.6, 0.5, 0.99],
    })
    if link_prediction:
        write_table(folder / "ranks", {
            "head": ["http://ex.org/e0", "_:b0"], "relation": ["http://ex.org/p"] * 2,
            "tail": ["http://ex.org/e1", "http://ex.org/e2"], "head_rank": [1.0, 3.5], "tail_rank": [2.0, 1.0],
            "head_rank_raw": [1, 5], "tail_rank_raw": [4, 1]})
        write_table(folder / "link_predictions", {
            "head": ["http://ex.org/e0"] * 2, "relation": ["http://ex.org/q"] * 2,
            "tail": ["http://ex.org/e5", "_:b0"], "score": [3.5, 2.25], "rank": [1, 2]})
    return folder


_TRAINED: dict[str, Path] = {}


def get_trained_run(tmp_path_factory) -> Path:
    """One real training per test session, shared by the modules that need it."""
    if "run" not in _TRAINED:
        _TRAINED["run"] = train_small_run(tmp_path_factory.mktemp("trained"))
    return _TRAINED["run"]


@pytest.fixture()
def trained_run(tmp_path_factory) -> Path:
    return get_trained_run(tmp_path_factory)


@pytest.fixture()
def fake_run(tmp_path) -> Path:
    return make_fake_run(tmp_path / "fake")


def model_vectors(run_dir: Path) -> dict[str, np.ndarray]:
    """Skolemised entity IRI -> the model's float32 vector, straight from the run files."""
    from safetensors.numpy import load_file

    run = load_run(run_dir)
    emb = load_file(str(run_dir / "embeddings.safetensors"))["entity"]
    out = {}
    for i, term in enumerate(run.entities):
        iri = skolem_iri(term, run.fingerprint) if term.startswith("_:") else term[1:-1]
        out[iri] = emb[i]
    return out


def store_vectors(store: Path, graph: str) -> dict[str, np.ndarray]:
    s = ox.Store(str(store))
    try:
        rows = s.query(f"SELECT ?e ?v WHERE {{ GRAPH <{graph}> {{ ?e <{V.embedding}> ?v }} }}")
        return {r["e"].value: parse_vector(r["v"].value, r["v"].datatype.value) for r in rows}
    finally:
        del s


def assert_bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype == np.float32
    assert a.shape == b.shape
    assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("vectors", ["tensor", "base64"])
def test_trained_run_round_trips_exactly_through_store_and_parquet(trained_run, tmp_path, vectors):
    store = tmp_path / "store"
    summary = export_run(trained_run, "parquet", tmp_path / "out", vectors=vectors, store=store)
    expected = model_vectors(trained_run)
    assert any("/.well-known/genid/" in iri for iri in expected), "the run should embed blank nodes"
    got = store_vectors(store, summary["graph"])
    assert set(got) == set(expected)
    for iri, vec in expected.items():
        assert_bits_equal(got[iri], vec)
    table = pq.read_table(tmp_path / "out" / "embeddings.parquet")
    assert pa.types.is_fixed_size_list(table.schema.field("embedding").type)
    assert table.schema.field("embedding").type.value_type == pa.float32()
    assert set(table.column("run").to_pylist()) == {summary["run"]}
    for iri, vec in zip(table.column("iri").to_pylist(), table.column("embedding").to_numpy()):
        assert_bits_equal(np.asarray(vec, dtype=np.float32), expected[iri])


def test_the_aggregation_kept_is_the_exported_setting(trained_run, tmp_path):
    """A run trained with --aggregation auto exports the aggregation its model ran with."""
    chosen = json.loads((trained_run / "metrics.json").read_text())["aggregation"]
    assert json.loads((trained_run / "config.json").read_text())["aggregation"] == "auto"
    store = tmp_path / "store"
    summary = export_run(trained_run, (), store=store)
    s = ox.Store(str(store))
    try:
        rows = list(s.query(f"""PREFIX mls: <{V.MLS}> SELECT ?v WHERE {{ GRAPH <{summary['graph']}> {{
            ?set mls:specifiedBy ?hp ; mls:hasValue ?v . ?hp <{V.RDFS}label> "aggregation" }} }}"""))
        assert [r["v"].value for r in rows] == [chosen]
    finally:
        del s


def test_parquet_reads_back_in_duckdb(fake_run, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    export_run(fake_run, "parquet", tmp_path / "out")
    expected = model_vectors(fake_run)
    rows = duckdb.sql(f"SELECT iri, embedding FROM '{tmp_path / 'out' / 'embeddings.parquet'}'").fetchall()
    assert len(rows) == len(expected)
    for iri, vec in rows:
        assert_bits_equal(np.asarray(vec, dtype=np.float32), expected[iri])


def test_awkward_floats_and_blank_nodes_round_trip_through_every_rdf_format(fake_run, tmp_path):
    summary = export_run(fake_run, "nt,ttl,trig,nq", tmp_path / "out")
    expected = model_vectors(fake_run)
    for name in ("run.nt", "run.ttl", "run.trig", "run.nq"):
        got = {}
        for q in ox.parse(path=str(tmp_path / "out" / name)):
            if q.predicate.value == V.embedding:
                got[q.subject.value] = parse_vector(q.object.value, q.object.datatype.value)
            if name in ("run.trig", "run.nq"):
                assert q.graph_name.value == summary["graph"]
        assert set(got) == set(expected), name
        for iri, vec in expected.items():
            assert_bits_equal(got[iri], vec)


def test_realistic_ranks_export_as_integers_or_decimals(fake_run, tmp_path):
    # The trainers write realistic ranks as floats ("245.0"; a tie gives "3.5"): export once
    # stopped at int("245.0").
    export_run(fake_run, "nt,parquet", tmp_path / "out")
    assert pq.read_table(tmp_path / "out" / "ranks.parquet").column("head_rank").to_pylist() == [1.0, 3.5]
    ranks = {(q.subject.value, q.predicate.value): q.object for q in ox.parse(path=str(tmp_path / "out" / "run.nt"))
             if q.predicate.value in (V.headRank, V.tailRank)}
    got = sorted((o.value, o.datatype.value.rsplit("#", 1)[1]) for o in ranks.values())
    assert got == [("1", "integer"), ("1", "integer"), ("2", "integer"), ("3.5", "decimal")]


def test_reexport_replaces_the_run_graph_and_keeps_iris_stable(fake_run, tmp_path):
    store = tmp_path / "store"
    first = export_run(fake_run, (), store=store)
    second = export_run(fake_run, (), store=store, vectors="base64")
    assert first["run"] == second["run"]
    assert first["store"]["store_quads"] == second["store"]["store_quads"] == first["counts"]["quads"]
    a = export_run(fake_run, "nq", tmp_path / "a")
    b = export_run(fake_run, "nq", tmp_path / "b")
    assert (tmp_path / "a" / "run.nq").read_bytes() == (tmp_path / "b" / "run.nq").read_bytes()
    assert a["run"] == b["run"]


def test_two_runs_live_in_two_graphs(fake_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(fake_run, other)
    prov = json.loads((other / "provenance.json").read_text())
    prov["started"] = "2025-01-01T00:00:00+00:00"
    (other / "provenance.json").write_text(json.dumps(prov))
    store = tmp_path / "store"
    a = export_run(fake_run, (), store=store)
    b = export_run(other, (), store=store)
    assert a["run"] != b["run"]
    assert b["store"]["store_quads"] == a["counts"]["quads"] + b["counts"]["quads"]


def test_run_iri_is_stable_and_base_is_honoured(fake_run):
    run = load_run(fake_run)
    assert run_iri(run.config, run.provenance) == run_iri(dict(run.config), dict(run.provenance))
    assert run_iri(run.config, run.provenance).startswith("urn:rdf2mm:run:")
    assert run_iri(run.config, run.provenance, "https://data.example/ml/").startswith("https://data.example/ml/run/")
    moved = {**run.config, "out": "/elsewhere"}  # where a run was written is not what it is
    assert run_iri(moved, run.provenance) == run_iri(run.config, run.provenance)
    assert run_iri({**run.config, "lr": 0.1}, run.provenance) != run_iri(run.config, run.provenance)


# ------------------------------------------------------------------ what the graph says
def test_predictions_are_nodes_not_facts_and_metadata_is_queryable(fake_run, tmp_path):
    store = tmp_path / "store"
    summary = export_run(fake_run, (), store=store)
    g = summary["graph"]
    s = ox.Store(str(store))
    try:
        # no prediction is asserted as a fact about the entity
        assert not s.query("ASK { GRAPH ?g { <http://ex.org/e0> a ?c } }")
        preds = list(s.query(f"""PREFIX r2m: <{V.R2M}>
            SELECT ?e ?c ?score ?split ?true WHERE {{ GRAPH <{g}> {{ ?p a r2m:Prediction ; r2m:inRun <{g}> ;
              r2m:about ?e ; r2m:predictedClass ?c ; r2m:score ?score ; r2m:split ?split .
              OPTIONAL {{ ?p r2m:trueClass ?true }} }} }}"""))
        assert len(preds) == 7
        by_entity = {r["e"].value: r for r in preds}
        assert by_entity["http://ex.org/e2"]["c"] == ox.Literal('x "y"')
        assert by_entity["http://ex.org/e5"]["c"] == ox.Literal("lit", language="en")
        assert by_entity["http://ex.org/e3"]["true"] is None
        assert skolem_iri("b0", "f" * 64) in by_entity
        lp = list(s.query(f"""PREFIX r2m: <{V.R2M}> SELECT ?t ?score ?rank WHERE {{ GRAPH <{g}> {{
            ?l a r2m:LinkPrediction ; r2m:head <http://ex.org/e0> ; r2m:relation <http://ex.org/q> ;
               r2m:tail ?t ; r2m:score ?score ; r2m:rank ?rank }} }} ORDER BY ?rank"""))
        assert [r["rank"].value for r in lp] == ["1", "2"]
        assert lp[1]["t"].value == skolem_iri("b0", "f" * 64)
        assert s.query(f"""PREFIX r2m: <{V.R2M}> ASK {{ GRAPH <{g}> {{ ?x a r2m:RankedTriple ;
            r2m:headRank 3.5 ; r2m:tailRankRaw 1 ; r2m:head <{skolem_iri('b0', 'f' * 64)}> }} }}""")
        assert len(list(s.query(f"SELECT ?r WHERE {{ GRAPH <{g}> {{ ?r <{V.relationEmbedding}> ?v }} }}"))) == 2
        meta = f"""PREFIX mls: <{V.MLS}> PREFIX prov: <{V.PROV}> PREFIX r2m: <{V.R2M}>
            ASK {{ GRAPH <{g}> {{ <{g}> a mls:Run ; prov:used ?data ; prov:startedAtTime ?t0 ;
              prov:endedAtTime ?t1 ; mls:executes ?impl ; mls:hasInput ?set ; mls:hasOutput ?ev ;
              r2m:usedSoftware ?pkg .
              ?data r2m:fingerprint "{'f' * 64}" .
              ?set a mls:HyperParameterSetting ; mls:specifiedBy ?hp ; mls:hasValue 0.01e0 .
              ?hp a mls:HyperParameter ; <{V.RDFS}label> "lr" .
              ?ev a mls:ModelEvaluation ; mls:specifiedBy ?m ; mls:hasValue 0.75e0 .
              ?pkg r2m:packageName "torch" ; r2m:version "2.3.0" . }} }}"""
        assert s.query(meta)
        assert not s.query(f'ASK {{ ?p <{V.packageName}> "pillow" }}')  # "not installed" is left out
    finally:
        del s


def test_top_predictions_query_file_lists_best_first(trained_run, fake_run, tmp_path):
    store = tmp_path / "store"
    a = export_run(trained_run, (), store=store)
    b = export_run(fake_run, (), store=store)
    text = TOP_PREDICTIONS.read_text()
    s = ox.Store(str(store))
    try:
        rows = list(s.query(text))
        assert 0 < len(rows) <= 20
        scores = [float(r["score"].value) for r in rows]
        assert scores == sorted(scores, reverse=True)
        assert {r["run"].value for r in rows} <= {a["run"], b["run"]}
        assert rows[0]["run"].value == b["run"] and rows[0]["score"].value == "0.99"
        # the documented edit: one run only
        one = list(s.query(text.replace("VALUES ?run { UNDEF }", f"VALUES ?run {{ <{a['run']}> }}")))
        assert one and {r["run"].value for r in one} == {a["run"]}
        preds = {l.split("\t")[0]: float(l.split("\t")[4]) for l in
                 (trained_run / "predictions.tsv").read_text().splitlines()[1:]}
        assert max(preds.values()) == pytest.approx(float(one[0]["score"].value))
    finally:
        del s


# ------------------------------------------------------------------ CLI
def test_cli_export_query_similar(fake_run, tmp_path):
    from rdf2mm.cli import app

    runner = CliRunner()
    store = tmp_path / "store"
    res = runner.invoke(app, ["export", str(fake_run), "--store", str(store), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["files"] == {} and summary["store"]["quads"] > 0
    res = runner.invoke(app, ["export", str(fake_run), "--output", "parquet,ttl", "--out", str(tmp_path / "o"),
                              "--vectors", "base64"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "run.ttl").exists() and (tmp_path / "o" / "embeddings.parquet").exists()
    res = runner.invoke(app, ["export", str(fake_run), "--output", "xml"])
    assert res.exit_code == 2 and "unknown --output" in res.output
    res = runner.invoke(app, ["export", str(tmp_path / "missing")])
    assert res.exit_code == 3

    res = runner.invoke(app, ["query", str(store), f"@{TOP_PREDICTIONS}", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["head"]["vars"] == ["run", "entity", "class", "score", "split"]
    assert out["results"]["bindings"][0]["score"] == {"type": "literal", "value": "0.99",
                                                      "datatype": V.XSD + "double"}
    res = runner.invoke(app, ["query", str(store), "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"])
    assert res.exit_code == 0 and str(summary["counts"]["quads"]) in res.stdout
    res = runner.invoke(app, ["query", str(store), "SELEKT nonsense"])
    assert res.exit_code == 2 and "SPARQL syntax error" in res.output

    res = runner.invoke(app, ["similar", str(store), "http://ex.org/e3", "--top", "3", "--json"])
    assert res.exit_code == 0, res.output
    sim = json.loads(res.stdout)
    emb = model_vectors(fake_run)
    m = {k: v.astype(np.float64) / np.linalg.norm(v.astype(np.float64)) for k, v in emb.items()}
    want = sorted((k for k in m if k != "http://ex.org/e3"), key=lambda k: -float(m[k] @ m["http://ex.org/e3"]))[:3]
    assert [n["iri"] for n in sim["neighbours"]] == want
    assert sim["run"] == summary["run"]
    res = runner.invoke(app, ["similar", str(store), "http://ex.org/nope"])
    assert res.exit_code == 4
