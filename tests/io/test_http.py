"""The HTTP client against misbehaving loopback servers: redirects, credentials, deadlines,
size caps, repeated pages, truncated answers, Digest authentication; and the CLI's exit
codes for them."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.parse

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.errors import ExitCode, RemoteError
from rdf2mm.export import export_run
from rdf2mm.io.http import Auth, HttpClient
from rdf2mm.io.sparql import read_endpoint
from rdf2mm.io.store import push_gsp, push_sparql_update, query
from tests.io.loopback import reply
from tests.test_export import make_fake_run

runner = CliRunner()
EX = "http://example.org/"
NT = "application/n-triples"


@pytest.fixture(autouse=True)
def _no_env_credentials(monkeypatch):
    for k in ("RDF2MM_SPARQL_TOKEN", "RDF2MM_SPARQL_USER", "RDF2MM_SPARQL_PASSWORD", "RDF2MM_MAX_RESPONSE_MB"):
        monkeypatch.delenv(k, raising=False)


def redirect_to(location: str, status: int = 302):
    return reply(status, b"moved", headers={"Location": location})


def one_triple(h) -> None:
    """A paging endpoint holding one triple: served at OFFSET 0, empty after it."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query).get("query", [""])[0]
    body = f"<{EX}a> <{EX}p> <{EX}b> .\n".encode() if "OFFSET 0 " in query else b""
    reply(200, body, NT)(h)


# ------------------------------------------------------------------ redirects and credentials
def test_redirect_to_another_origin_gets_no_token(loopback):
    other = loopback(one_triple)
    first = loopback(redirect_to(other.base + "/sparql"))
    with pytest.raises(RemoteError, match="another origin") as err:
        list(read_endpoint(first.base + "/sparql", auth=Auth(token="s3cret-token"), timeout=5))
    assert err.value.exit_code == ExitCode.REMOTE
    assert first.requests[0].headers.get("Authorization") == "Bearer s3cret-token"
    assert other.requests == []  # not followed at all, so the token went nowhere else
    assert "s3cret" not in err.value.message


def test_redirect_within_the_origin_is_followed_with_credentials(loopback):
    basic = "Basic " + base64.b64encode(b"ann:pw").decode()

    def handler(h):
        if h.headers.get("Authorization") != basic:
            reply(401, b"who?", headers={"WWW-Authenticate": 'Basic realm="x"'})(h)
        elif h.path.startswith("/old"):
            redirect_to("/sparql" + h.path[len("/old"):], 301)(h)
        else:
            one_triple(h)

    server = loopback(handler)
    quads = list(read_endpoint(server.base + "/old", auth=Auth(user="ann", password="pw"), timeout=5))
    assert [q.object for q in quads] == [ox.NamedNode(EX + "b")]
    # asked once, then sent with every request of the job, redirected ones included
    assert [r.headers.get("Authorization") for r in server.requests] == [None] + [basic] * 4
    assert [r.path.split("?")[0] for r in server.requests] == ["/old", "/old", "/sparql", "/old", "/sparql"]


@pytest.mark.parametrize("push", [push_sparql_update, push_gsp])
def test_push_redirected_to_another_origin_sends_nothing_there(loopback, push):
    other = loopback(reply(204))
    first = loopback(redirect_to(other.base + "/update", 307))
    quads = lambda: iter([ox.Quad(ox.NamedNode(EX + "s"), ox.NamedNode(EX + "p"), ox.Literal("x"), None)])  # noqa: E731
    with pytest.raises(RemoteError, match="redirect") as err:
        push(first.base + "/update", "urn:g", quads, auth=Auth(token="tok"), timeout=5)
    assert err.value.exit_code == ExitCode.REMOTE
    assert other.requests == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_update_answered_by_a_redirect_fails_with_exit_5(loopback, tmp_path, status):
    """Today's bug: urllib turns the POST into a bodiless GET and export reports success."""
    gets: list[str] = []

    def handler(h):
        if h.command == "POST":
            redirect_to("/elsewhere", status)(h)
        else:
            gets.append(h.path)
            reply(200, b"ok")(h)

    server = loopback(handler)
    run = make_fake_run(tmp_path / "run")
    result = runner.invoke(app, ["export", str(run), "--sparql-update", server.base + "/update"])
    assert result.exit_code == ExitCode.REMOTE, result.output
    assert "redirect" in result.output and "Traceback" not in result.output
    assert gets == []
    assert [r.method for r in server.requests] == ["POST"]


# ------------------------------------------------------------------ deadline and size cap
def test_trickling_endpoint_fails_within_its_deadline(loopback):
    """A byte every 0.2 s would take 40 s in all; a per-read timeout of 1 s never fires."""
    sent = []
    total = 200

    def trickle(h):
        h.send_response(200)
        h.send_header("Content-Type", NT)
        h.send_header("Content-Length", str(total))
        h.end_headers()
        for _ in range(total):
            h.wfile.write(b" ")
            h.wfile.flush()
            sent.append(1)
            time.sleep(0.2)

    server = loopback(trickle)
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match="within 1 s") as err:
        list(read_endpoint(server.base + "/sparql", timeout=1.0))
    assert err.value.exit_code == ExitCode.REMOTE
    assert time.monotonic() - t0 < total * 0.2 / 2  # gave up long before the server would have finished
    assert len(sent) < total


def test_trickling_headers_fail_within_the_deadline(loopback):
    def trickle(h):
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):
            h.wfile.write(b"X-Slow: 1\r\n")
            h.wfile.flush()
            time.sleep(0.2)

    server = loopback(trickle)
    with pytest.raises(RemoteError, match="timeout"):
        HttpClient(timeout=1.0).request("GET", server.base + "/")


def test_answer_over_the_size_cap_is_refused(loopback, monkeypatch):
    chunks_sent = []

    def endless(h):  # no Content-Length: the cap must cut the stream itself
        h.send_response(200)
        h.send_header("Content-Type", NT)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        line = f"<{EX}a> <{EX}p> \"{'x' * 1000}\" .\n".encode()
        for _ in range(20_000):  # 20 MB at most
            h.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            chunks_sent.append(1)
        h.wfile.write(b"0\r\n\r\n")

    server = loopback(endless)
    monkeypatch.setenv("RDF2MM_MAX_RESPONSE_MB", "0.25")
    with pytest.raises(RemoteError, match="larger than 0.25 MiB") as err:
        list(read_endpoint(server.base + "/sparql", timeout=10))
    assert err.value.exit_code == ExitCode.REMOTE
    big = loopback(reply(200, b"", NT, length=10 << 30))  # announces 10 GiB
    with pytest.raises(RemoteError, match="larger than"):
        list(read_endpoint(big.base + "/sparql", timeout=10))


def test_bad_size_cap_setting_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("RDF2MM_MAX_RESPONSE_MB", "lots")
    with pytest.raises(Exception, match="RDF2MM_MAX_RESPONSE_MB") as err:
        HttpClient()
    assert err.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf"])
def test_bad_timeout_is_a_usage_error_before_any_request(loopback, timeout):
    server = loopback(reply(200, b"{}", "application/sparql-results+json"))
    result = runner.invoke(app, ["query", server.base + "/sparql", "ASK {}", "--timeout", timeout])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert server.requests == [] and "Traceback" not in result.output


# ------------------------------------------------------------------ paging
def test_endpoint_ignoring_offset_stops_instead_of_paging_forever(loopback):
    page = "".join(f"<{EX}s{i}> <{EX}p> <{EX}o> .\n" for i in range(3)).encode()
    server = loopback(reply(200, page, NT))  # the same page whatever the OFFSET
    with pytest.raises(RemoteError, match="ignores OFFSET") as err:
        list(read_endpoint(server.base + "/sparql", page_size=3, timeout=5))
    assert err.value.exit_code == ExitCode.REMOTE
    assert len(server.requests) == 2


def test_endpoint_capping_its_answers_is_read_in_full(loopback):
    """Like Virtuoso's ResultSetMaxRows: at most 2 triples per answer, whatever LIMIT says."""
    data = [f"<{EX}s{i}> <{EX}p> <{EX}o> .\n" for i in range(7)]

    def capped(h):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)["query"][0]
        offset = int(re.search(r"OFFSET (\d+)", q).group(1))
        reply(200, "".join(data[offset:offset + 2]).encode(), NT)(h)

    server = loopback(capped)
    quads = list(read_endpoint(server.base + "/sparql", page_size=5, timeout=5))
    assert len(quads) == 7 and len({str(q) for q in quads}) == 7


def test_graph_option_pages_one_named_graph(loopback):
    seen = []

    def handler(h):
        seen.append(urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)["query"][0])
        reply(200, b"", NT)(h)

    server = loopback(handler)
    assert list(read_endpoint(server.base + "/sparql", graph="http://example.org/g", timeout=5)) == []
    assert "GRAPH <http://example.org/g> { ?s ?p ?o }" in seen[0]


# ------------------------------------------------------------------ truncated answers
TRUNCATED_JSON = b'{"head":{"vars":["s"]},"results":{"bindings":[{"s":{"type":"uri","value":"http://ex'


def test_truncated_sparql_json_from_query_exits_5(loopback):
    server = loopback(reply(200, TRUNCATED_JSON, "application/sparql-results+json"))
    for extra in ([], ["--json"]):
        result = runner.invoke(app, ["query", server.base + "/sparql", "SELECT ?s WHERE { ?s ?p ?o }", *extra])
        assert result.exit_code == ExitCode.REMOTE, result.output
        assert "Traceback" not in result.output and "cannot read the answer" in result.output


def test_connection_closed_mid_answer_exits_5(loopback):
    whole = json.dumps({"head": {"vars": ["s"]}, "results": {"bindings": []}}).encode()
    server = loopback(reply(200, whole[:20], "application/sparql-results+json", length=len(whole)))
    result = runner.invoke(app, ["query", server.base + "/sparql", "SELECT ?s WHERE { ?s ?p ?o }"])
    assert result.exit_code == ExitCode.REMOTE, result.output
    assert "closed" in result.output


def test_complete_json_answer_is_read(loopback):
    whole = json.dumps({"head": {"vars": ["s"]}, "results": {"bindings": [
        {"s": {"type": "uri", "value": EX + "a"}}]}}).encode()
    server = loopback(reply(200, whole, "application/sparql-results+json"))
    result = query(server.base + "/sparql", "SELECT ?s WHERE { ?s ?p ?o }", timeout=5)
    assert [row[0] for row in result] == [ox.NamedNode(EX + "a")]


# ------------------------------------------------------------------ Digest
def _digest_server(user: str, password: str, realm: str = "SPARQL", nonce: str = "n0nce"):
    """Checks RFC 7616 MD5 qop=auth responses computed here, independently of the client."""

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    def handler(h):
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Digest "):
            f = dict(re.findall(r'(\w+)="?([^",]*)"?', auth[len("Digest "):]))
            ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{h.command}:{f['uri']}")
            good = md5(f"{ha1}:{nonce}:{f['nc']}:{f['cnonce']}:auth:{ha2}")
            if f.get("username") == user and f.get("response") == good and f["uri"] == h.path:
                reply(200, b"", NT)(h)
                return
        reply(401, b"who?", headers={"WWW-Authenticate": f'Digest realm="{realm}", nonce="{nonce}", qop="auth"'})(h)

    return handler


def test_digest_authentication_as_virtuoso_asks_for_it(loopback):
    server = loopback(_digest_server("dba", "dba"))
    client = HttpClient(auth=Auth(user="dba", password="dba"), timeout=5)
    for _ in range(3):  # the challenge is answered once, then reused with a growing nonce count
        client.request("POST", server.base + "/sparql-auth", b"INSERT DATA {}", {"Content-Type": "application/x"})
    auths = [r.headers.get("Authorization", "") for r in server.requests]
    assert auths[0] == "" and all(a.startswith("Digest ") for a in auths[1:])  # the password never in clear
    assert len(server.requests) == 4
    assert [re.search(r"nc=(\w+)", a).group(1) for a in auths[1:]] == ["00000001", "00000002", "00000003"]


def test_wrong_digest_password_is_http_401_exit_5(loopback):
    server = loopback(_digest_server("dba", "dba"))
    with pytest.raises(RemoteError, match="HTTP 401") as err:
        HttpClient(auth=Auth(user="dba", password="nope"), timeout=5).request("GET", server.base + "/x")
    assert "nope" not in err.value.message
    assert len(server.requests) == 2  # one challenge answered, not a loop


# ------------------------------------------------------------------ batches
def test_failed_batch_is_retried_then_reported_and_the_staging_graph_dropped(loopback, tmp_path):
    """The third update request fails for good: the run's graph is never touched."""
    bodies: list[str] = []
    lock = threading.Lock()

    def handler(h):
        text = h.request_body.decode()
        with lock:
            bodies.append(text)
            n = len(bodies)
        if n == 2:
            reply(503, b"busy")(h)  # transient: retried
        elif n >= 4 and "DROP SILENT GRAPH" not in text:
            reply(500, b"disk full")(h)
        else:
            reply(204)(h)

    server = loopback(handler)
    run = make_fake_run(tmp_path / "run")
    with pytest.raises(RemoteError, match="failed 3 times.*left as it was") as err:
        export_run(run, (), sparql_update=server.base + "/update", batch_bytes=2048, timeout=5)
    graph = err.value.message.split("graph <")[1].split(">")[0]
    assert not any(f"GRAPH <{graph}>" in b for b in bodies)  # only the staging graph was written
    assert sum("GRAPH <urn:rdf2mm:staging:" in b for b in bodies) == len(bodies)
    assert "DROP SILENT GRAPH <urn:rdf2mm:staging:" in bodies[-1]
