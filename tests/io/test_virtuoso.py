"""rdf2mm with OpenLink Virtuoso (Debian's virtuoso-opensource): export a trained run through
SPARQL 1.1 Update and the Graph Store Protocol with Virtuoso's Digest authentication,
query it, and train on a graph read back from Virtuoso's endpoint. Skips without Virtuoso."""
from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.errors import ExitCode
from rdf2mm import vocab as V
from rdf2mm.io.http import Auth, HttpClient
from rdf2mm.io.read import read_quads
from tests.io.virtuoso import PASSWORD, USER

runner = CliRunner()
QUERY = Path(__file__).parents[2] / "examples" / "queries" / "top_predictions.rq"
GRAPH = "http://example.org/rdf2mm/test/synth"
# Virtuoso rewrites geo:wktLiteral into virtrdf:Geometry (float32 coordinates), answers
# xsd:double with 6 significant digits, and these others in canonical lexical forms
# ("1" -> "true", "96.50" -> "96.5", "998" -> "0998"), which merges literal nodes
LOSSY = {"http://www.opengis.net/ont/geosparql#wktLiteral"} | {
    V.XSD + t for t in ("double", "float", "decimal", "boolean", "gYear")}


def invoke(*args: str) -> str:
    result = runner.invoke(app, ["--quiet", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A small generated graph with label files, without the literals Virtuoso changes (LOSSY)."""
    out = tmp_path_factory.mktemp("synth")
    invoke("generate", str(out / "gen"), "--triples", "1000", "--signal", "numeric", "--ill-typed", "0",
           "--seed", "0")
    quads = [q for q in ox.parse(path=str(out / "gen" / "graph.nt"))
             if not (isinstance(q.object, ox.Literal) and q.object.datatype.value in LOSSY)]
    graph = out / "graph.nt"
    graph.write_text("".join(f"{q} .\n" for q in quads), encoding="utf-8")
    return graph, out / "gen" / "labels"


def train(source: str, labels: Path, out: Path) -> dict:
    return json.loads(invoke("train", source, "--train", str(labels / "train.nt"), "--valid",
                             str(labels / "valid.nt"), "--test", str(labels / "test.nt"), "--epochs", "10",
                             "--seed", "0", "--out", str(out), "--json"))


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    graph, labels = dataset
    run = tmp_path_factory.mktemp("runs") / "file"
    return run, train(str(graph), labels, run)


def rows(stdout: str) -> list[tuple]:
    out = []
    for b in json.loads(stdout)["results"]["bindings"]:
        out.append((b["run"]["value"], b["entity"]["value"], b["class"]["value"], float(b["score"]["value"]),
                    b.get("split", {}).get("value")))
    return out


@pytest.mark.parametrize("protocol", ["sparql-update", "gsp"])
def test_export_into_virtuoso_and_top_predictions_match_the_embedded_store(virtuoso, trained, tmp_path,
                                                                           monkeypatch, protocol):
    run, _metrics = trained
    monkeypatch.setenv("RDF2MM_SPARQL_USER", USER)
    monkeypatch.setenv("RDF2MM_SPARQL_PASSWORD", PASSWORD)
    target = ["--sparql-update", virtuoso.update]
    if protocol == "gsp":  # GSP carries the batches, the Update endpoint swaps them in
        target = ["--gsp", virtuoso.gsp, *target]
    # 16 KiB batches: several requests into the staging graph, then one MOVE
    for _ in range(2):  # the second export replaces the graph, never duplicates it
        summary = json.loads(invoke("export", str(run), *target, "--batch-mb", str(16 / 1024), "--json"))
    key = "gsp" if protocol == "gsp" else "sparql_update"
    assert summary[key]["requests"] > 2
    graph = summary["graph"]
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    n = json.loads(invoke("query", virtuoso.sparql, count, "--json"))["results"]["bindings"][0]["n"]["value"]
    assert int(n) == summary["counts"]["quads"]
    staging = ("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
               "FILTER(STRSTARTS(STR(?g), \"urn:rdf2mm:staging:\")) }")
    assert json.loads(invoke("query", virtuoso.sparql, staging, "--json"))["results"]["bindings"][0]["n"]["value"] == "0"

    store = tmp_path / "store.oxigraph"
    invoke("export", str(run), "--store", str(store))
    embedded = rows(invoke("query", str(store), f"@{QUERY}", "--json"))
    remote = rows(invoke("query", virtuoso.sparql, f"@{QUERY}", "--json"))
    assert len(embedded) == 20
    assert remote == embedded


def test_virtuoso_refuses_a_wrong_password(virtuoso, trained, monkeypatch):
    run, _metrics = trained
    monkeypatch.setenv("RDF2MM_SPARQL_USER", USER)
    monkeypatch.setenv("RDF2MM_SPARQL_PASSWORD", "wrong")
    result = runner.invoke(app, ["export", str(run), "--sparql-update", virtuoso.update])
    assert result.exit_code == ExitCode.REMOTE, result.output
    assert "401" in result.output and "wrong" not in result.output


def test_train_on_a_graph_read_from_virtuoso_gives_the_file_result(virtuoso, dataset, tmp_path, monkeypatch):
    graph, labels = dataset
    # the same reader for both (the N-Triples fast path numbers literal nodes its own way)
    monkeypatch.setenv("RDF2MM_FAST_NTRIPLES", "0")
    client = HttpClient(auth=Auth(USER, PASSWORD), timeout=60)
    client.request("PUT", f"{virtuoso.gsp}?{urllib.parse.urlencode({'graph': GRAPH})}", graph.read_bytes(),
                   {"Content-Type": "application/n-triples"})
    # the SPARQL protocol's default-graph-uri names the graph to read (Virtuoso's default
    # graph is the union of all, its system graphs included)
    url = f"{virtuoso.sparql}?{urllib.parse.urlencode({'default-graph-uri': GRAPH})}"
    from_file = json.loads(invoke("inspect", str(graph), "--json"))
    from_virtuoso = json.loads(invoke("inspect", url, "--json"))
    for key in ("triples", "entities", "relations"):
        assert from_virtuoso[key] == from_file[key], key
    assert from_virtuoso["literals"] == from_file["literals"]
    assert from_virtuoso["datatypes"] == from_file["datatypes"]

    # Entities are numbered in input order, and Virtuoso serves ORDER BY ?s ?p ?o by its
    # internal ids, so the file to compare with holds the file's own triples (its lexical
    # forms) in the order Virtuoso serves them
    served = list(read_quads([url]))
    original = {_key(q): q for q in ox.parse(path=str(graph))}
    assert len(original) == len(served)  # the key tells every triple apart
    ordered = tmp_path / "graph-in-served-order.nt"
    ordered.write_text("".join(f"{original[_key(q)]} .\n" for q in served), encoding="utf-8")

    file_metrics = train(str(ordered), labels, tmp_path / "file")
    virtuoso_metrics = train(url, labels, tmp_path / "virtuoso")
    for key in ("train_accuracy", "valid_accuracy", "test_accuracy", "test_loss"):
        assert virtuoso_metrics[key] == file_metrics[key], key

    def predicted(run: Path) -> dict[str, str]:
        lines = (run / "predictions.tsv").read_text(encoding="utf-8").splitlines()
        head = lines[0].split("\t")
        rows = [line.split("\t") for line in lines[1:]]
        return {r[head.index("entity")]: r[head.index("predicted_class")] for r in rows}

    file_predictions = predicted(tmp_path / "file")
    assert len(file_predictions) > 50
    assert predicted(tmp_path / "virtuoso") == file_predictions


def _key(q: ox.Quad) -> tuple:
    """A triple's identity up to Virtuoso's canonical lexical forms ("1" -> "true", "96.50" -> "96.5")."""
    o = q.object
    if isinstance(o, ox.Literal) and o.datatype.value not in (V.XSD + "string", V.RDF + "langString"):
        return str(q.subject), str(q.predicate), o.datatype.value
    return str(q.subject), str(q.predicate), str(o)
