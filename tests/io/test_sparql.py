"""SPARQL endpoint reading against a real ``oxigraph serve``, HTTP failures, safe terms."""
from __future__ import annotations

import base64
import http.server
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdf2mm.errors import InputError, RemoteError
from rdf2mm.io.read import read_quads
from rdf2mm.io.sparql import escape_iri, escape_literal, read_endpoint

EX = "http://example.org/"
DATA = "".join(
    [f"<{EX}s{i}> <{EX}p> <{EX}o{i % 3}> .\n" for i in range(8)]
    + [
        f'<{EX}s0> <{EX}label> "quote \\" and\\nnewline"@en .\n',
        f'<{EX}s1> <{EX}age> "7"^^<http://www.w3.org/2001/XMLSchema#integer> .\n',
        f"_:b <{EX}p> <{EX}o0> .\n",
        f"<{EX}s2> <{EX}q> _:b .\n",
    ]
)
N_DATA = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oxigraph_executable() -> str | None:
    beside = Path(sys.executable).parent / "oxigraph"
    return str(beside) if beside.is_file() else shutil.which("oxigraph")


def wait_until_up(url: str, proc: subprocess.Popen, deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"oxigraph serve exited with {proc.returncode}: {proc.stderr.read()!r}")
        try:
            with urllib.request.urlopen(url + "?query=ASK%7B%7D", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("oxigraph serve did not answer in time")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory) -> Iterator[str]:
    """``oxigraph serve`` on a free loopback port, loaded with DATA; its /query URL."""
    exe = oxigraph_executable()
    if exe is None:
        pytest.skip("the oxigraph server executable is not installed")
    tmp = tmp_path_factory.mktemp("oxigraph")
    data = tmp / "data.nt"
    data.write_text(DATA)
    location = tmp / "db"
    subprocess.run([exe, "load", "--location", str(location), "--file", str(data)],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    proc = subprocess.Popen([exe, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/query", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def expected_triples() -> set[str]:
    return {str(ox.Triple(q.subject, q.predicate, q.object))
            for q in ox.parse(DATA.encode(), format=ox.RdfFormat.N_TRIPLES) if not _has_bnode(q)}


def _has_bnode(q) -> bool:
    return isinstance(q.subject, ox.BlankNode) or isinstance(q.object, ox.BlankNode)


@pytest.mark.parametrize("page_size", [3, 4, 5, 100])  # 4 divides the data: last page empty
def test_endpoint_is_read_in_pages(endpoint, page_size):
    quads = list(read_endpoint(endpoint + "/query", page_size=page_size, timeout=10))
    assert len(quads) == N_DATA
    named = {str(ox.Triple(q.subject, q.predicate, q.object)) for q in quads if not _has_bnode(q)}
    assert named == expected_triples()
    # the one blank node keeps its identity across pages
    bnodes = {t for q in quads for t in (q.subject, q.object) if isinstance(t, ox.BlankNode)}
    assert len(bnodes) == 1


def test_read_quads_dispatches_urls(endpoint):
    assert len(list(read_quads([endpoint + "/query"], sparql_page_size=5, timeout=10))) == N_DATA


def test_http_error_has_status_and_body(endpoint):
    with pytest.raises(RemoteError, match="HTTP 404") as err:
        list(read_endpoint(endpoint + "/nope", page_size=3, timeout=10))
    assert endpoint in err.value.message


def test_connection_refused():
    port = free_port()  # bound then closed: nothing listens there
    with pytest.raises(RemoteError, match="refused") as err:
        list(read_endpoint(f"http://user:hunter2@127.0.0.1:{port}/sparql", page_size=3, timeout=2))
    assert "hunter2" not in err.value.message
    assert f"127.0.0.1:{port}" in err.value.message


# ------------------------------------------------------------------ fake endpoints
class _Server:
    """A loopback HTTP server whose GET handler is ``handler(request_handler)``."""

    def __init__(self, handler: Callable[[http.server.BaseHTTPRequestHandler], None]):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                handler(self)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/sparql"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers: list[_Server] = []

    def start(handler):
        servers.append(_Server(handler))
        return servers[-1].url

    yield start
    for s in servers:
        s.close()


def reply(status: int, body: bytes, ctype: str):
    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler


def test_html_answer_is_garbage(serve):
    url = serve(reply(200, b"<html><body>Welcome to our portal</body></html>", "text/html"))
    with pytest.raises(RemoteError, match="not RDF.*Welcome"):
        list(read_endpoint(url, page_size=3, timeout=5))


def test_unparseable_answer_is_garbage(serve):
    url = serve(reply(200, b"<html><body>oops</body></html>", "application/n-triples"))
    with pytest.raises(RemoteError, match="not valid RDF"):
        list(read_endpoint(url, page_size=3, timeout=5))


def test_server_error_body_is_cut_to_200_chars(serve):
    url = serve(reply(500, b"E" * 150 + b"F" * 150, "text/plain"))
    with pytest.raises(RemoteError, match="HTTP 500") as err:
        list(read_endpoint(url, page_size=3, timeout=5))
    assert "E" * 150 + "F" * 50 in err.value.message
    assert "F" * 51 not in err.value.message


def test_slow_endpoint_times_out(serve):
    release = threading.Event()

    def slow(h):
        release.wait(5)  # never answers before the client gives up

    url = serve(slow)
    try:
        with pytest.raises(RemoteError, match="timeout"):
            list(read_endpoint(url, page_size=3, timeout=0.3))
    finally:
        release.set()


def test_turtle_answer_is_accepted(serve):
    body = f"@prefix ex: <{EX}> . ex:a ex:p ex:b .".encode()

    def first_page_only(h):  # a real endpoint: the one triple at OFFSET 0, nothing after it
        reply(200, body if "OFFSET+0+" in h.path else b"", "text/turtle; charset=utf-8")(h)

    url = serve(first_page_only)
    (q,) = read_endpoint(url, page_size=3, timeout=5)
    assert q.object == ox.NamedNode(EX + "b")


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"RDF2MM_SPARQL_TOKEN": "t0k"}, "Bearer t0k"),
        ({"RDF2MM_SPARQL_USER": "ann", "RDF2MM_SPARQL_PASSWORD": "pw"},
         "Basic " + base64.b64encode(b"ann:pw").decode()),
        ({}, None),
    ],
)
def test_credentials_from_environment(serve, monkeypatch, env, expected):
    for k in ("RDF2MM_SPARQL_TOKEN", "RDF2MM_SPARQL_USER", "RDF2MM_SPARQL_PASSWORD"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    seen: list[str | None] = []

    def handler(h):  # asks for credentials, as a protected endpoint does
        seen.append(h.headers.get("Authorization"))
        assert "application/n-triples" in h.headers.get("Accept", "")
        if expected is not None and seen[-1] is None:
            reply(401, b"", "text/plain")(h)
        else:
            reply(200, b"", "application/n-triples")(h)

    url = serve(handler)
    assert list(read_endpoint(url, page_size=3, timeout=5)) == []
    # a token goes with the request; a password only once the server asks for it
    assert seen == ([expected] if expected is None or expected.startswith("Bearer") else [None, expected])


def test_credentials_in_the_url(serve, monkeypatch):
    for k in ("RDF2MM_SPARQL_TOKEN", "RDF2MM_SPARQL_USER", "RDF2MM_SPARQL_PASSWORD"):
        monkeypatch.delenv(k, raising=False)
    seen: list[str | None] = []

    def handler(h):
        seen.append(h.headers.get("Authorization"))
        reply(401, b"no", "text/plain")(h)

    url = serve(handler).replace("http://", "http://ann:s%40cret@")
    with pytest.raises(RemoteError, match="HTTP 401") as err:
        list(read_endpoint(url, page_size=3, timeout=5))
    assert seen == [None, "Basic " + base64.b64encode(b"ann:s@cret").decode()]
    assert "cret" not in err.value.message and "ann" not in err.value.message


# ------------------------------------------------------------------ safe terms
@pytest.mark.parametrize(
    "iri",
    ["http://x> } ; DROP ALL ; #", "http://x/a b", 'http://x/"', "http://x/{a}", "http://x/a|b",
     "http://x/^", "http://x/`", "http://x/\\", "http://x/\n", "http://x/<", ""],
)
def test_escape_iri_refuses_injection(iri):
    with pytest.raises(InputError):
        escape_iri(iri)


def test_escape_iri_accepts_normal_iris():
    assert escape_iri("http://example.org/a?b=c#d") == "<http://example.org/a?b=c#d>"
    assert escape_iri("http://example.org/é") == "<http://example.org/é>"


INJECTIONS = ['" . } DROP ALL #', '"\n} ; DROP ALL ; #', "\\", '\\"', "a\\u0022b", "tab\there\r\n", "x\x00y"]


def _roundtrip_ntriples(term: str) -> ox.Literal:
    (q,) = ox.parse(f"<{EX}s> <{EX}p> {term} .".encode(), format=ox.RdfFormat.N_TRIPLES)
    return q.object


def _roundtrip_sparql(lexical: str, term: str) -> None:
    """Insert through SPARQL Update, then look the literal up through a SPARQL query."""
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode(EX + "keep"), ox.NamedNode(EX + "p"), ox.Literal("kept")))
    store.update(f"INSERT DATA {{ <{EX}s> <{EX}p> {term} }}")
    assert len(store) == 2  # nothing dropped, exactly one triple added
    rows = list(store.query(f"SELECT ?s WHERE {{ ?s <{EX}p> {term} }}"))
    assert [r["s"] for r in rows] == [ox.NamedNode(EX + "s")]
    assert ox.Literal(lexical) in {q.object for q in store}


@pytest.mark.parametrize("lexical", INJECTIONS)
def test_escape_literal_injection_stays_one_literal(lexical):
    term = escape_literal(lexical, None, None)
    assert _roundtrip_ntriples(term) == ox.Literal(lexical)
    _roundtrip_sparql(lexical, term)


def test_escape_literal_datatype_and_language():
    assert _roundtrip_ntriples(escape_literal("7", "http://www.w3.org/2001/XMLSchema#integer", None)) == \
        ox.Literal("7", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))
    assert _roundtrip_ntriples(escape_literal('a"b', None, "en-GB")) == ox.Literal('a"b', language="en-gb")
    with pytest.raises(InputError):
        escape_literal("x", "http://x> } DROP ALL #", None)
    with pytest.raises(InputError):
        escape_literal("x", None, "en } DROP ALL #")


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_escape_literal_roundtrips_any_text(lexical):
    term = escape_literal(lexical, None, None)
    assert _roundtrip_ntriples(term) == ox.Literal(lexical)
    _roundtrip_sparql(lexical, term)
