"""Put a run's graph into SPARQL stores, and read it back.

* Embedded: a pyoxigraph on-disk store (:func:`load_store`).
* Remote: SPARQL 1.1 Update (:func:`push_sparql_update`) or the Graph Store HTTP
  Protocol (:func:`push_gsp`), through :class:`rdf2mm.io.http.HttpClient`.

Re-running replaces the run's named graph, never duplicates it, and a replacement is
all or nothing: a reader (or a kill at any moment) sees the old graph or the new one,
never none or half. Embedded: the triples are bulk-loaded under a staging graph name and
moved over the run's graph in one transaction. Remote: a graph that fits in one batch
goes in one request (``DROP + INSERT DATA``, or a GSP ``PUT``); a larger one is sent in
bounded batches into a staging graph (each batch retried on timeouts, dropped
connections and 5xx answers: inserting ground triples twice changes nothing), then one
``MOVE`` request swaps it in; if a batch fails for good the staging graph is dropped and
the run's graph is left as it was. GSP alone has no move, so without an Update endpoint
``push_gsp`` sends the whole graph as one ``PUT``.

Every term placed in SPARQL text is pyoxigraph's N-Triples form (IRIs validated, literals
escaped), so data cannot inject SPARQL. :func:`query` runs SPARQL on a store folder or an
endpoint URL, and :func:`similar` ranks entities by cosine similarity of their stored vectors.

Credentials: ``--token`` / ``RDF2MM_SPARQL_TOKEN`` (bearer) or ``--user``/``--password``
/ ``RDF2MM_SPARQL_USER``/``RDF2MM_SPARQL_PASSWORD`` (Basic, or Digest when the server
asks); never in messages.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import sys
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyoxigraph as ox

from rdf2mm import vocab as V
from rdf2mm.errors import DataError, InputError, RemoteError, UsageError
from rdf2mm.io.http import Auth, HttpClient, TransientError, public_url

__all__ = ["Auth", "STAGING_PREFIX", "is_endpoint", "load_store", "push_gsp", "push_sparql_update", "query",
           "read_vectors", "similar", "staging_graph"]

QuadSource = Callable[[], Iterable[ox.Quad]]
STAGING_PREFIX = "urn:rdf2mm:staging:"
_UPDATE_TYPE = "application/sparql-update; charset=utf-8"
RETRIES = 2  # extra tries of a failed batch
UPDATE_BATCH_TRIPLES = 1_000


def is_endpoint(target: str | Path) -> bool:
    return str(target).startswith(("http://", "https://"))


def _graph(iri: str) -> ox.NamedNode:
    try:
        return ox.NamedNode(iri)
    except ValueError as exc:
        raise InputError(f"not a usable graph IRI {iri!r}: {exc}") from None


def staging_graph(graph: str) -> ox.NamedNode:
    """The graph a replacement of ``graph`` is loaded into before it is moved over ``graph``.

    Derived from ``graph``, so the next export finds and drops what a killed one left.
    """
    return ox.NamedNode(STAGING_PREFIX + hashlib.sha256(graph.encode("utf-8")).hexdigest()[:32])


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
    """Replace named graph ``graph`` in the store at ``path`` with ``quads()``, atomically.

    Killed at any moment, the store holds the old graph or the new one, never none or
    half. On Linux the change is made in a hard-linked checkpoint of the store beside it
    (``.NAME.rdf2mm-export``: drop the graph, bulk-load the new one, at bulk-load speed),
    which then trades places with the store in one ``renameat2(RENAME_EXCHANGE)``. The
    store is closed meanwhile (RocksDB writes by path name on close); a lock file beside
    it (``.NAME.rdf2mm-lock``) keeps other rdf2mm exports out, but not other writers. Where that is unavailable,
    the quads are bulk-loaded under :func:`staging_graph` and one SPARQL ``MOVE`` (one
    transaction, but about ten times slower) replaces the graph. Leftovers of a killed
    export are removed by the next one.
    """
    g = _graph(graph)
    path = Path(path)
    side = path.parent / f".{path.name}.rdf2mm-export"
    with _export_lock(path):
        store = open_store(path)
        try:
            if side.exists():
                shutil.rmtree(side)  # what a killed export left
            if _can_exchange():
                store.flush()
                store.backup(str(side))  # a checkpoint: hard links, not a copy
                del store  # RocksDB writes by path name on close: closed before the exchange
                store = None
                n, total = _load_beside(side, g, quads)
                try:
                    _exchange(path, side)
                    return {"graph": graph, "quads": n, "store_quads": total}
                except _NoExchange:
                    shutil.rmtree(side, ignore_errors=True)
                store = open_store(path)
            n, total = _load_staged(store, g, staging_graph(graph), quads)
        except OSError as exc:
            raise InputError(f"{path}: cannot write to the store: {exc}") from None
        finally:
            del store  # release the RocksDB lock now, not at garbage collection
            shutil.rmtree(side, ignore_errors=True)  # after an exchange: the old store
    return {"graph": graph, "quads": n, "store_quads": total}


@contextlib.contextmanager
def _export_lock(path: Path) -> Iterator[None]:
    """Serialise rdf2mm's exports into one store while it is closed for the exchange."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.rdf2mm-lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _counted(quads: QuadSource, graph: ox.NamedNode, counter: list[int]) -> Iterator[ox.Quad]:
    for q in quads():
        counter[0] += 1
        yield ox.Quad(q.subject, q.predicate, q.object, graph)


def _load_beside(side: Path, g: ox.NamedNode, quads: QuadSource) -> tuple[int, int]:
    copy = ox.Store(str(side))
    try:
        copy.update(f"DROP SILENT GRAPH {g}")
        count = [0]
        copy.bulk_extend(_counted(quads, g, count))
        copy.flush()
        return count[0], len(copy)
    finally:
        del copy


def _load_staged(store: ox.Store, g: ox.NamedNode, tmp: ox.NamedNode, quads: QuadSource) -> tuple[int, int]:
    store.update(f"DROP SILENT GRAPH {tmp}")
    count = [0]
    store.bulk_extend(_counted(quads, tmp, count))
    store.update(f"MOVE SILENT GRAPH {tmp} TO GRAPH {g}")
    store.flush()
    return count[0], len(store)


class _NoExchange(Exception):
    """The file system cannot exchange two folders atomically."""


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _can_exchange() -> bool:
    return sys.platform.startswith("linux") and _renameat2() is not None and os.environ.get(
        "RDF2MM_STORE_EXCHANGE", "1") != "0"


def _renameat2() -> Any:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return getattr(libc, "renameat2", None)
    except OSError:
        return None


def _exchange(a: Path, b: Path) -> None:
    """Swap folders ``a`` and ``b`` in one step (Linux ``renameat2``)."""
    import ctypes

    fn = _renameat2()
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.ENOTSUP):
            raise _NoExchange
        raise OSError(err, os.strerror(err))


# ------------------------------------------------------------------ remote
def _batches(quads: QuadSource, batch_bytes: int, batch_triples: int | None = None) -> Iterator[tuple[str, int]]:
    """N-Triples text of the quads' triples, in batches of about ``batch_bytes`` and at most
    ``batch_triples`` triples (and their counts)."""
    lines: list[str] = []
    size = 0
    for q in quads():
        line = f"{q.triple} .\n"
        lines.append(line)
        size += len(line)
        if size >= batch_bytes or len(lines) == batch_triples:
            yield "".join(lines), len(lines)
            lines, size = [], 0
    if lines:
        yield "".join(lines), len(lines)


def _with_retries(send: Callable[[], Any], what: str) -> None:
    for attempt in range(RETRIES + 1):
        try:
            send()
            return
        except TransientError as exc:
            if attempt == RETRIES:
                raise RemoteError(f"{what} failed {RETRIES + 1} times: {exc.message}") from None


class _Staged:
    """Batches into a staging graph, then one swap; on failure the staging graph is dropped."""

    def __init__(self, graph: str, quads: QuadSource, batch_bytes: int, batch_triples: int | None = None) -> None:
        if batch_bytes < 1:
            raise UsageError(f"the batch size must be at least 1 byte, got {batch_bytes}")
        self.g, self.tmp = _graph(graph), staging_graph(graph)
        self.batches = _batches(quads, batch_bytes, batch_triples)
        self.first = next(self.batches, None)
        self.second = next(self.batches, None) if self.first is not None else None

    @property
    def single(self) -> bool:
        return self.second is None

    def rest(self) -> Iterator[tuple[str, int]]:
        if self.second is not None:
            yield self.second
            yield from self.batches

    def run(self, put_first: Callable[[str], None], add: Callable[[str], None], swap: Callable[[], None],
            drop_tmp: Callable[[], None]) -> tuple[int, int]:
        """(triples, requests) after loading every batch into the staging graph and swapping."""
        assert self.first is not None
        n, requests = self.first[1], 1
        try:
            _with_retries(lambda: put_first(self.first[0]), "batch 1")
            for i, (text, count) in enumerate(self.rest(), start=2):
                _with_retries(lambda: add(text), f"batch {i}")
                n += count
                requests += 1
            swap()
            requests += 1
        except RemoteError as exc:
            try:
                drop_tmp()
            except RemoteError:
                pass  # the first error is the one to report; the staging graph goes on the next export
            raise RemoteError(f"{exc.message}; the run's graph {self.g} was left as it was") from None
        return n, requests


def push_sparql_update(url: str, graph: str, quads: QuadSource, *, auth: Auth | None = None, timeout: float = 60.0,
                       batch_bytes: int = 4 << 20, batch_triples: int = UPDATE_BATCH_TRIPLES) -> dict[str, Any]:
    """Replace graph ``graph`` at a SPARQL 1.1 Update endpoint with ``quads()``'s triples.

    One batch: ``DROP SILENT GRAPH <g> ; INSERT DATA …`` in one request. More: batches
    into the staging graph, then ``MOVE`` (see the module notes). A batch holds at most
    ``batch_triples`` triples: Virtuoso's SPARQL compiler runs out of memory on an
    ``INSERT DATA`` of about 5,000.
    """
    client = HttpClient(auth=auth or Auth(), timeout=timeout)
    staged = _Staged(graph, quads, batch_bytes, batch_triples)
    g, tmp = staged.g, staged.tmp

    def update(text: str) -> None:
        client.request("POST", url, text.encode("utf-8"), {"Content-Type": _UPDATE_TYPE})

    if staged.single:
        body = f"DROP SILENT GRAPH {g}"
        if staged.first is not None:
            body += f" ;\nINSERT DATA {{ GRAPH {g} {{\n{staged.first[0]}}} }}"
        _with_retries(lambda: update(body), "the update")
        n = staged.first[1] if staged.first else 0
        return {"endpoint": public_url(url), "graph": graph, "quads": n, "requests": 1}
    n, requests = staged.run(
        put_first=lambda text: update(f"DROP SILENT GRAPH {tmp} ;\nINSERT DATA {{ GRAPH {tmp} {{\n{text}}} }}"),
        add=lambda text: update(f"INSERT DATA {{ GRAPH {tmp} {{\n{text}}} }}"),
        swap=lambda: update(f"MOVE SILENT GRAPH {tmp} TO GRAPH {g}"),
        drop_tmp=lambda: update(f"DROP SILENT GRAPH {tmp}"))
    return {"endpoint": public_url(url), "graph": graph, "quads": n, "requests": requests}


def _graph_url(url: str, graph: ox.NamedNode) -> str:
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{sep}{urllib.parse.urlencode({'graph': graph.value})}"


def push_gsp(url: str, graph: str, quads: QuadSource, *, auth: Auth | None = None, timeout: float = 60.0,
             batch_bytes: int = 4 << 20, update_url: str | None = None) -> dict[str, Any]:
    """Replace graph ``graph`` through the Graph Store Protocol at ``url``.

    One batch, or no ``update_url``: one ``PUT`` of the whole graph (atomic). With
    ``update_url`` (the same store's SPARQL Update endpoint) and more than one batch:
    ``PUT`` and ``POST`` batches into the staging graph, then ``MOVE`` it over ``graph``
    through ``update_url``.
    """
    client = HttpClient(auth=auth or Auth(), timeout=timeout)
    staged = _Staged(graph, quads, batch_bytes)
    g, tmp = staged.g, staged.tmp

    def send(method: str, target: ox.NamedNode, text: str) -> None:
        client.request(method, _graph_url(url, target), text.encode("utf-8"), {"Content-Type": "application/n-triples"})

    if staged.single or update_url is None:
        parts = [staged.first] if staged.first is not None else []
        if not staged.single:
            parts += list(staged.rest())
        text = "".join(p[0] for p in parts)
        _with_retries(lambda: send("PUT", g, text), "the PUT")
        return {"endpoint": public_url(url), "graph": graph, "quads": sum(p[1] for p in parts), "requests": 1}

    def update(text: str) -> None:
        client.request("POST", update_url, text.encode("utf-8"), {"Content-Type": _UPDATE_TYPE})

    n, requests = staged.run(
        put_first=lambda text: send("PUT", tmp, text),
        add=lambda text: send("POST", tmp, text),
        swap=lambda: update(f"MOVE SILENT GRAPH {tmp} TO GRAPH {g}"),
        drop_tmp=lambda: update(f"DROP SILENT GRAPH {tmp}"))
    return {"endpoint": public_url(url), "graph": graph, "quads": n, "requests": requests,
            "swap": public_url(update_url)}


# ------------------------------------------------------------------ reading back
_ACCEPT = ("application/sparql-results+json, application/n-triples;q=0.9, text/turtle;q=0.5")


def query(target: str | Path, sparql: str, *, auth: Auth | None = None, timeout: float = 60.0) -> Any:
    """Run SPARQL on a store folder or endpoint URL.

    Returns SELECT solutions (iterable rows with ``variables``; see :func:`solutions`), a
    ``QueryBoolean`` (ASK) or a list of triples (CONSTRUCT/DESCRIBE), read completely:
    a truncated or malformed answer is a :class:`RemoteError` here, not later.
    """
    if is_endpoint(target):
        url = str(target)
        client = HttpClient(auth=auth or Auth(), timeout=timeout)
        resp = client.request("POST", url, urllib.parse.urlencode({"query": sparql}).encode(),
                              {"Content-Type": "application/x-www-form-urlencoded", "Accept": _ACCEPT})
        media = resp.media_type
        try:
            fmt = ox.QueryResultsFormat.from_media_type(media) if media else None
            if fmt is not None:
                result = ox.parse_query_results(resp.body, format=fmt)
                if isinstance(result, ox.QuerySolutions):  # lazy: parse every row now
                    names = [v.value for v in result.variables]
                    return _Solutions(names, [[s[n] for n in names] for s in result])
                return result
            rdf = ox.RdfFormat.from_media_type(media) if media else ox.RdfFormat.N_TRIPLES
            if rdf is None:
                raise SyntaxError(f"{media!r} is neither SPARQL results nor RDF")
            return list(ox.parse(resp.body, format=rdf))
        except (SyntaxError, ValueError) as exc:
            raise RemoteError(f"{public_url(url)}: cannot read the answer ({media or 'no media type'}): {exc}; "
                              f"{len(resp.body)} bytes received") from None
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
    # a staging graph left by a killed export is not a run
    sparql = (f"SELECT ?g ?e ?v ?t WHERE {{ {graph}GRAPH ?g {{ ?e <{prop}> ?v . "
              f"OPTIONAL {{ ?g <{V.PROV}startedAtTime> ?t }} }} "
              f"FILTER(!STRSTARTS(STR(?g), \"{STAGING_PREFIX}\")) }}")
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
