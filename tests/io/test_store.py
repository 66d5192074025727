"""Stores: embedded pyoxigraph and a real `oxigraph serve` on loopback; replace, never
duplicate; crafted IRIs and literals cannot inject SPARQL."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pyoxigraph as ox
import pytest

from rdf2mm import vocab as V
from rdf2mm.errors import InputError, RemoteError
from rdf2mm.export import export_run
from rdf2mm.io.store import (Auth, load_store, push_gsp, push_sparql_update, query, similar, solutions,
                             staging_graph)
from rdf2mm.io.write import parse_vector
from tests.test_export import make_fake_run, model_vectors

EVIL = 'x" } } ; DROP ALL ; INSERT DATA { GRAPH <urn:evil> { <urn:a> <urn:b> "pwned" } } #\\u0022 \n'


def _oxigraph_binary() -> str | None:
    here = Path(sys.executable).parent / "oxigraph"
    return str(here) if here.exists() else shutil.which("oxigraph")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    binary = _oxigraph_binary()
    if binary is None:
        pytest.skip("the oxigraph server binary is not installed (pip install oxigraph)")
    port = _free_port()
    proc = subprocess.Popen([binary, "serve", "--location", str(tmp_path_factory.mktemp("oxi")),
                             "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/query?query=ASK%7B%7D", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"oxigraph serve exited: {proc.stderr.read().decode()[:500]}")
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("oxigraph serve did not start")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def _count(endpoint: str, graph: str | None = None) -> int:
    where = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "{ ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } }"
    _names, rows = solutions(query(endpoint + "/query", f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}"))
    return int(rows[0][0].value)


def _evil_quads(graph: str):
    g = ox.NamedNode(graph)
    return lambda: iter([ox.Quad(ox.NamedNode("http://ex.org/s"), ox.NamedNode("http://ex.org/p"), ox.Literal(EVIL), g),
                         ox.Quad(ox.NamedNode("http://ex.org/s"), ox.NamedNode("http://ex.org/q"),
                                 ox.Literal(EVIL, language="en"), g)])


@pytest.mark.parametrize("protocol", ["sparql-update", "gsp"])
def test_push_to_oxigraph_serve_round_trips_and_replaces(server, tmp_path, protocol):
    run = make_fake_run(tmp_path / "run")
    target = {"sparql_update": server + "/update"}
    if protocol == "gsp":  # GSP carries the batches, the Update endpoint swaps them in
        target["gsp"] = server + "/store"
    # tiny batches so that the multi-request path (staging graph, then MOVE) is exercised
    first = export_run(run, (), batch_bytes=4096, **target)
    key = protocol.replace("-", "_")
    assert first[key]["requests"] > 2
    assert _count(server, staging_graph(first["graph"]).value) == 0
    g = first["graph"]
    n = _count(server, g)
    assert n == first["counts"]["quads"] > 0
    again = export_run(run, (), batch_bytes=4096, **target)
    assert again["graph"] == g
    assert _count(server, g) == n  # replaced, not duplicated
    expected = model_vectors(run)
    _names, rows = solutions(query(server + "/query", f"SELECT ?e ?v WHERE {{ GRAPH <{g}> {{ ?e <{V.embedding}> ?v }} }}"))
    got = {e.value: parse_vector(v.value, v.datatype.value) for e, v in rows}
    assert set(got) == set(expected)
    for iri, vec in expected.items():
        assert np.array_equal(got[iri].view(np.uint32), vec.view(np.uint32))
    res = similar(server + "/query", "http://ex.org/e3", top=2, run=g)
    assert res["run"] == g and len(res["neighbours"]) == 2


@pytest.mark.parametrize("push", [push_sparql_update, push_gsp])
def test_crafted_literals_cannot_inject(server, push):
    url = server + ("/update" if push is push_sparql_update else "/store")
    before = _count(server)
    res = push(url, "urn:rdf2mm:test:evil", _evil_quads("urn:rdf2mm:test:evil"))
    assert res["quads"] == 2
    assert _count(server) == before + 2 or _count(server, "urn:rdf2mm:test:evil") == 2
    _names, rows = solutions(query(server + "/query", "SELECT ?o WHERE { GRAPH <urn:rdf2mm:test:evil> { ?s ?p ?o } }"))
    assert sorted(r[0].value for r in rows) == [EVIL, EVIL]
    assert _count(server, "urn:evil") == 0


def test_crafted_graph_iri_is_refused_before_any_request(server):
    with pytest.raises(InputError):
        push_sparql_update(server + "/update", "urn:g> } ; DROP ALL ; #", lambda: iter([]))
    with pytest.raises(InputError):
        similar(server + "/query", "http://ex.org/a> } ; DROP ALL ; #")


def test_gsp_alone_sends_one_put_whatever_the_batch_size(server, tmp_path):
    run = make_fake_run(tmp_path / "run")
    res = export_run(run, (), gsp=server + "/store", batch_bytes=1024)
    assert res["gsp"]["requests"] == 1
    assert _count(server, res["graph"]) == res["counts"]["quads"]


def test_embedded_store_replaces_graph(tmp_path):
    g = "urn:rdf2mm:test:g"
    one = load_store(tmp_path / "s", g, _evil_quads(g))
    two = load_store(tmp_path / "s", g, _evil_quads(g))
    assert one["store_quads"] == two["store_quads"] == 2
    _names, rows = solutions(query(tmp_path / "s", f"SELECT ?o WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}"))
    assert [r[0].value for r in rows] == [EVIL, EVIL]


def test_remote_errors_are_remote_errors_without_credentials(monkeypatch):
    port = _free_port()  # nothing listens there
    auth = Auth.resolve(user="alice", password="s3cret")
    assert "s3cret" not in repr(auth)
    with pytest.raises(RemoteError) as err:
        push_gsp(f"http://alice:s3cret@127.0.0.1:{port}/store", "urn:g", lambda: iter([]), auth=auth, timeout=2)
    assert "s3cret" not in str(err.value) and "refused" in str(err.value)


def test_auth_from_environment(monkeypatch):
    monkeypatch.setenv("RDF2MM_SPARQL_TOKEN", "tok")
    assert Auth.resolve().headers() == {"Authorization": "Bearer tok"}
    monkeypatch.delenv("RDF2MM_SPARQL_TOKEN")
    monkeypatch.setenv("RDF2MM_SPARQL_USER", "u")
    monkeypatch.setenv("RDF2MM_SPARQL_PASSWORD", "p")
    assert Auth.resolve().headers() == {"Authorization": "Basic dTpw"}
