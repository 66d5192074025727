"""Put a run's graph into SPARQL stores, and read it back.

* Embedded: a pyoxigraph on-disk store (:func:`load_store`).
* Remote: SPARQL 1.1 Update (:func:`push_sparql_update`: ``DROP SILENT GRAPH <g> ;
  INSERT DATA { GRAPH <g> { … } }`` then more ``INSERT DATA`` batches) or the Graph
  Store HTTP Protocol (:func:`push_gsp`: ``PUT ?graph=<g>`` then ``POST`` batches).

Either way re-running replaces the run's named graph, never duplicates it. Every term
placed in SPARQL text is pyoxigraph's N-Triples form (IRIs validated, literals escaped),
so data cannot inject SPARQL. :func:`query` runs SPARQL on a store folder or an endpoint
URL, and :func:`similar` ranks entities by cosine similarity of their stored vectors.

Credentials: ``--token`` / ``RDF2MM_SPARQL_TOKEN`` (bearer) or ``--user``/``--password``
/ ``RDF2MM_SPARQL_USER``/``RDF2MM_SPARQL_PASSWORD`` (basic); never in messages.
"""
from __future__ import annotations

import base64
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyoxigraph as ox

from rdf2mm import vocab as V
from rdf2mm.errors import DataError, InputError, RemoteError, UsageError
from rdf2mm.io.sparql import public_url, strip_userinfo

__all__ = ["Auth", "is_endpoint", "load_store", "push_gsp", "push_sparql_update", "query", "read_vectors",
           "similar"]

QuadSource = Callable[[], Iterable[ox.Quad]]
_USER_AGENT = "rdf2mm (+https://pypi.org/project/rdf2mm)"


@dataclass(frozen=True)
class Auth:
    """HTTP credentials; ``repr`` never shows them."""

    user: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def resolve(cls, user: str | None = None, password: str | None = None, token: str | None = None) -> Auth:
        """Explicit values first, then ``RDF2MM_SPARQL_TOKEN`` / ``_USER`` / ``_PASSWORD``."""
        token = token or os.environ.get("RDF2MM_SPARQL_TOKEN") or None
        user = user or os.environ.get("RDF2MM_SPARQL_USER") or None
        if password is None:
            password = os.environ.get("RDF2MM_SPARQL_PASSWORD")
        return cls(user, password, token)

    def headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.user:
            cred = base64.b64encode(f"{self.user}:{self.password or ''}".encode()).decode("ascii")
            return {"Authorization": f"Basic {cred}"}
        return {}

    def __repr__(self) -> str:
        return f"Auth(user={self.user!r}, password={'***' if self.password else None}, token={'***' if self.token else None})"


def is_endpoint(target: str | Path) -> bool:
    return str(target).startswith(("http://", "https://"))


def _graph(iri: str) -> ox.NamedNode:
    try:
        return ox.NamedNode(iri)
    except ValueError as exc:
        raise InputError(f"not a usable graph IRI {iri!r}: {exc}") from None


# ------------------------------------------------------------------ embedded store
def open_store(path: str | Path, create: bool = True) -> ox.Store:
    """A pyoxigraph on-disk store; :class:`InputError` if it is locked or unreadable."""
    path = Path(path)
    if not create and not path.is_dir():
        raise InputError(f"{path}: no such store folder")
    try:
        return ox.Store(str(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot open the store (is another process, e.g. oxigraph serve, using it?): "
                         f"{exc}") from None


def load_store(path: str | Path, graph: str, quads: QuadSource) -> dict[str, Any]:
    """Replace named graph ``graph`` in the store at ``path`` with ``quads()``."""
    g = _graph(graph)
    store = open_store(path)
    try:
        store.update(f"DROP SILENT GRAPH {g}")
        n = 0

        def counted() -> Iterator[ox.Quad]:
            nonlocal n
            for q in quads():
                n += 1
                yield q

        store.bulk_extend(counted())
        store.flush()
        total = len(store)
    finally:
        del store  # release the RocksDB lock now, not at garbage collection
    return {"graph": graph, "quads": n, "store_quads": total}


# ------------------------------------------------------------------ remote
def _request(url: str, data: bytes, content_type: str, auth: Auth, timeout: float, method: str = "POST",
             accept: str | None = None) -> tuple[bytes, str]:
    where = public_url(url)
    headers = {"Content-Type": content_type, "User-Agent": _USER_AGENT, **auth.headers()}
    if accept:
        headers["Accept"] = accept
    req = urllib.request.Request(strip_userinfo(url), data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read(), resp.headers.get("Content-Type", "") or ""
    except urllib.error.HTTPError as e:
        try:
            body = e.read()[:300].decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - the error body is a courtesy
            body = ""
        raise RemoteError(f"{where}: HTTP {e.code} {e.reason}: {' '.join(body.split()) or '(empty body)'}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise RemoteError(f"{where}: no answer within {timeout:g} s (timeout)") from None
        if isinstance(reason, ConnectionRefusedError):
            raise RemoteError(f"{where}: connection refused (is the endpoint running?)") from None
        raise RemoteError(f"{where}: cannot connect: {getattr(reason, 'strerror', None) or reason}") from None
    except (socket.timeout, TimeoutError):
        raise RemoteError(f"{where}: no answer within {timeout:g} s (timeout)") from None
    except (ConnectionError, OSError) as e:
        raise RemoteError(f"{where}: connection failed: {e}") from None
    except ValueError as e:
        raise InputError(f"{where}: not a usable endpoint URL: {e}") from None


def _url_auth(url: str, auth: Auth) -> Auth:
    """``user:password@`` in the URL counts when no other credentials are given."""
    if auth.user or auth.token:
        return auth
    parts = urllib.parse.urlsplit(url)
    if parts.username:
        return Auth(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
    return auth


def _batches(quads: QuadSource, batch_bytes: int) -> Iterator[tuple[list[str], int]]:
    """N-Triples lines of the quads' triples, in batches of about ``batch_bytes``."""
    lines: list[str] = []
    size = 0
    for q in quads():
        line = f"{q.triple} .\n"
        lines.append(line)
        size += len(line)
        if size >= batch_bytes:
            yield lines, len(lines)
            lines, size = [], 0
    if lines:
        yield lines, len(lines)


def push_sparql_update(url: str, graph: str, quads: QuadSource, *, auth: Auth | None = None, timeout: float = 60.0,
                       batch_bytes: int = 8 << 20) -> dict[str, Any]:
    """Replace graph ``graph`` at a SPARQL 1.1 Update endpoint with ``quads()``'s triples.

    The first request drops the graph and inserts the first batch together (one update
    request: atomic on stores that run requests as transactions); the rest append.
    """
    g = _graph(graph)
    auth = _url_auth(url, auth or Auth())
    n = requests = 0
    first = True
    for lines, count in _batches(quads, batch_bytes):
        body = f"INSERT DATA {{ GRAPH {g} {{\n{''.join(lines)}}} }}"
        if first:
            body = f"DROP SILENT GRAPH {g} ;\n" + body
            first = False
        _request(url, body.encode("utf-8"), "application/sparql-update; charset=utf-8", auth, timeout)
        n += count
        requests += 1
    if first:  # nothing to insert: still replace the old graph with an empty one
        _request(url, f"DROP SILENT GRAPH {g}".encode(), "application/sparql-update; charset=utf-8", auth, timeout)
        requests += 1
    return {"endpoint": public_url(url), "graph": graph, "quads": n, "requests": requests}


def push_gsp(url: str, graph: str, quads: QuadSource, *, auth: Auth | None = None, timeout: float = 60.0,
             batch_bytes: int = 8 << 20) -> dict[str, Any]:
    """Replace graph ``graph`` through the Graph Store Protocol at ``url``: PUT, then POST batches."""
    g = _graph(graph)
    auth = _url_auth(url, auth or Auth())
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    target = f"{url}{sep}{urllib.parse.urlencode({'graph': g.value})}"
    n = requests = 0
    method = "PUT"
    for lines, count in _batches(quads, batch_bytes):
        _request(target, "".join(lines).encode("utf-8"), "application/n-triples", auth, timeout, method=method)
        method = "POST"
        n += count
        requests += 1
    if method == "PUT":
        _request(target, b"", "application/n-triples", auth, timeout, method="PUT")
        requests += 1
    return {"endpoint": public_url(url), "graph": graph, "quads": n, "requests": requests}


# ------------------------------------------------------------------ reading back
_ACCEPT = ("application/sparql-results+json, application/n-triples;q=0.9, text/turtle;q=0.5")


def query(target: str | Path, sparql: str, *, auth: Auth | None = None, timeout: float = 60.0) -> Any:
    """Run SPARQL on a store folder or endpoint URL.

    Returns pyoxigraph results: ``QuerySolutions`` (SELECT), ``QueryBoolean`` (ASK) or an
    iterable of triples (CONSTRUCT/DESCRIBE).
    """
    if is_endpoint(target):
        url = str(target)
        body, ctype = _request(url, urllib.parse.urlencode({"query": sparql}).encode(),
                               "application/x-www-form-urlencoded", _url_auth(url, auth or Auth()), timeout,
                               accept=_ACCEPT)
        media = ctype.split(";", 1)[0].strip().lower()
        try:
            fmt = ox.QueryResultsFormat.from_media_type(media) if media else None
            if fmt is not None:
                return ox.parse_query_results(body, format=fmt)
            rdf = ox.RdfFormat.from_media_type(media) or ox.RdfFormat.N_TRIPLES
            return list(ox.parse(body, format=rdf))
        except (SyntaxError, ValueError) as exc:
            raise RemoteError(f"{public_url(url)}: cannot read the answer ({media or 'no media type'}): {exc}") from None
    store = open_store(target, create=False)
    try:
        result = store.query(sparql)
        # Materialise while the store is open: results are lazy.
        if isinstance(result, ox.QuerySolutions):
            rows = [list(s) for s in result]
            return _Solutions([v.value for v in result.variables], rows)
        if isinstance(result, ox.QueryBoolean):
            return result
        return list(result)
    except SyntaxError as exc:
        raise UsageError(f"SPARQL syntax error: {exc}") from None
    finally:
        del store


class _Solutions:
    """Materialised SELECT results with the shape of pyoxigraph's QuerySolutions."""

    def __init__(self, variables: list[str], rows: list[list[Any]]) -> None:
        self.variables = [ox.Variable(v) for v in variables]
        self.rows = rows

    def __iter__(self) -> Iterator[list[Any]]:
        return iter(self.rows)


def solutions(result: Any) -> tuple[list[str], list[list[Any]]]:
    """(variable names, rows of terms or None) from a SELECT result, local or remote."""
    if isinstance(result, _Solutions):
        return [v.value for v in result.variables], result.rows
    names = [v.value for v in result.variables]
    return names, [[s[n] for n in names] for s in result]


def results_json(result: Any) -> dict[str, Any]:
    """SPARQL 1.1 Query Results JSON for a SELECT or ASK result."""
    if isinstance(result, ox.QueryBoolean):
        return {"head": {}, "boolean": bool(result)}
    names, rows = solutions(result)
    bindings = []
    for row in rows:
        b: dict[str, Any] = {}
        for name, term in zip(names, row):
            if term is None:
                continue
            if isinstance(term, ox.NamedNode):
                b[name] = {"type": "uri", "value": term.value}
            elif isinstance(term, ox.BlankNode):
                b[name] = {"type": "bnode", "value": term.value}
            elif isinstance(term, ox.Literal):
                d: dict[str, Any] = {"type": "literal", "value": term.value}
                if term.language:
                    d["xml:lang"] = term.language
                elif term.datatype.value != V.XSD + "string":
                    d["datatype"] = term.datatype.value
                b[name] = d
            else:  # quoted triples (RDF 1.2)
                b[name] = {"type": "triple", "value": str(term)}
        bindings.append(b)
    return {"head": {"vars": names}, "results": {"bindings": bindings}}


def read_vectors(target: str | Path, run: str | None = None, *, relations: bool = False,
                 auth: Auth | None = None, timeout: float = 60.0) -> tuple[dict[str, tuple[list[str], np.ndarray]], dict[str, str]]:
    """Vectors per run graph: ``{run: (iris, matrix)}`` and ``{run: startedAtTime}``."""
    prop = V.relationEmbedding if relations else V.embedding
    graph = f"VALUES ?g {{ {_graph(run)} }} " if run else ""
    sparql = (f"SELECT ?g ?e ?v ?t WHERE {{ {graph}GRAPH ?g {{ ?e <{prop}> ?v . "
              f"OPTIONAL {{ ?g <{V.PROV}startedAtTime> ?t }} }} }}")
    names, rows = solutions(query(target, sparql, auth=auth, timeout=timeout))
    by_run: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    started: dict[str, str] = {}
    from rdf2mm.io.write import parse_vector

    for g, e, v, t in rows:
        if not isinstance(v, ox.Literal) or g is None:
            continue
        iris, vecs = by_run.setdefault(g.value, ([], []))
        iris.append(e.value)
        vecs.append(parse_vector(v.value, v.datatype.value).ravel())
        if t is not None:
            started[g.value] = t.value
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for g, (iris, vecs) in by_run.items():
        dims = {len(x) for x in vecs}
        if len(dims) > 1:
            raise DataError(f"run <{g}> holds vectors of different lengths {sorted(dims)}")
        out[g] = (iris, np.stack(vecs).astype(np.float32))
    return out, started


def similar(target: str | Path, iri: str, top: int = 10, run: str | None = None, *, auth: Auth | None = None,
            timeout: float = 60.0) -> dict[str, Any]:
    """Entities nearest to ``iri`` by cosine similarity of their embeddings in one run's graph.

    Without ``run``, the latest run (by prov:startedAtTime) that embeds ``iri`` is used.
    Returns ``{"run", "iri", "neighbours": [{"iri", "score", "rank"}]}``.
    """
    iri = iri.strip()
    iri = iri[1:-1] if iri.startswith("<") and iri.endswith(">") else iri
    _graph(iri)  # validates before it goes anywhere near a query
    if top < 1:
        raise UsageError("--top must be at least 1")
    runs, started = read_vectors(target, run, auth=auth, timeout=timeout)
    having = [g for g, (iris, _m) in runs.items() if iri in iris]
    if not having:
        where = f"run <{run}>" if run else "any run graph"
        raise DataError(f"<{iri}> has no r2m:embedding in {where} of {target}")
    chosen = max(having, key=lambda g: (started.get(g, ""), g))
    iris, m = runs[chosen]
    m64 = m.astype(np.float64)  # float32 squares overflow for large components
    norms = np.linalg.norm(m64, axis=1)
    norms[norms == 0] = 1.0
    unit = m64 / norms[:, None]
    i = iris.index(iri)
    scores = unit @ unit[i]
    scores[i] = -np.inf
    k = min(top, len(iris) - 1)
    order = np.argsort(-scores, kind="stable")[:k]
    return {"run": chosen, "iri": iri, "runs_with_entity": sorted(having),
            "neighbours": [{"rank": r + 1, "iri": iris[j], "score": float(scores[j])} for r, j in enumerate(order)]}
