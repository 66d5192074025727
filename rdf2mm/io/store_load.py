"""Put a run's graph into SPARQL stores: an embedded pyoxigraph store or a remote endpoint.

See :mod:`rdf2mm.io.store` for how a replacement stays all or nothing.
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

import pyoxigraph as ox

from rdf2mm.errors import InputError, RemoteError, UsageError
from rdf2mm.io.http import Auth, HttpClient, TransientError, public_url

__all__ = ["STAGING_PREFIX", "graph_node", "is_endpoint", "load_store", "open_store", "push_gsp", "push_sparql_update",
           "staging_graph"]

QuadSource = Callable[[], Iterable[ox.Quad]]
STAGING_PREFIX = "urn:rdf2mm:staging:"
_UPDATE_TYPE = "application/sparql-update; charset=utf-8"
RETRIES = 2  # extra tries of a failed batch
UPDATE_BATCH_TRIPLES = 1_000


def is_endpoint(target: str | Path) -> bool:
    return str(target).startswith(("http://", "https://"))


def graph_node(iri: str) -> ox.NamedNode:
    """``iri`` as a graph name; an unusable IRI is an :class:`InputError`."""
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
    g = graph_node(graph)
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
        self.g, self.tmp = graph_node(graph), staging_graph(graph)
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
