"""Read RDF sources into a :class:`KnowledgeGraph`, through the on-disk cache.

``read_graph`` is the first stage of every command: it resolves the sources (files,
folders, stdin, stores, SPARQL endpoints), reuses a cached parse when the input's
content hash matches, and otherwise streams the triples into the builder.

Local N-Triples / N-Quads files (plain or .gz/.bz2/.xz) take a vectorised fast path
(:mod:`rdf2mm.graph.fast_ntriples`) that builds the same graph several times faster;
any input it cannot vouch for, and every other format, goes through the generic
pyoxigraph builder, which also produces the error messages (file and line).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

from rdf2mm.errors import InputError
from rdf2mm.graph.build import GraphBuilder
from rdf2mm.graph.cache import cache_key, load_cached, store_cached
from rdf2mm.graph.fast_ntriples import FastPathUnavailable, build_line_based, map_bytes
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.io.formats import line_format
from rdf2mm.io.read import describe_sources, fingerprint, read_quads

#: set to "0" to always use the generic builder (for debugging and comparisons)
FAST_PATH_ENV = "RDF2MM_FAST_NTRIPLES"


def read_graph(
    sources: Sequence[str | Path],
    *,
    format: str | None = None,
    base_iri: str | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
) -> tuple[KnowledgeGraph, str | None]:
    """Parse ``sources`` into one graph; returns it and the input's content fingerprint.

    Blank nodes are scoped per source file. Raises :class:`InputError` for unreadable
    or malformed input, naming the file and line.
    """
    kg, fp, write_cache = read_graph_deferred(sources, format=format, base_iri=base_iri, cache=cache,
                                              cache_dir=cache_dir)
    write_cache()
    return kg, fp


def read_graph_deferred(
    sources: Sequence[str | Path],
    *,
    format: str | None = None,
    base_iri: str | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
) -> tuple[KnowledgeGraph, str | None, Callable[[], None]]:
    """As :func:`read_graph`, but the parsed-graph cache is written only when the returned
    callable is called (a no-op when there is nothing to write): ``rdf2mm inspect`` writes
    it while a child process checks the images.
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    if not sources:
        raise InputError("no input given")
    t0 = time.perf_counter()
    fp_job: Future | None = None
    if cache:
        fp = fingerprint(sources, format=format)  # needed first: it is the cache key
    else:
        # nothing waits for the hash: compute it on the other core while parsing
        pool = ThreadPoolExecutor(max_workers=1)
        fp_job = pool.submit(fingerprint, sources, format=format)
        pool.shutdown(wait=False)
        fp = None
    key = cache_key(fp, {"format": format, "base_iri": base_iri}) if (cache and fp) else None
    if key:
        kg = load_cached(key, cache_dir)
        if kg is not None:
            kg.stats["read_seconds"] = time.perf_counter() - t0
            return kg, fp, _nothing
    infos = list(describe_sources(sources, format=format))
    fast = _read_fast(infos, format)
    if isinstance(fast, KnowledgeGraph):
        kg = fast
    else:
        builder = GraphBuilder()
        for info in infos:
            builder.add_quads(read_quads([info.location], format=info.format or format, base_iri=base_iri))
        kg = builder.build()
        kg.stats["reader"] = "pyoxigraph"
        kg.stats["fast_path_skipped"] = fast  # why, for reports and debugging
    if fp_job is not None:
        fp = fp_job.result()
    kg.stats["cache"] = "miss" if key else "off"
    kg.stats["read_seconds"] = time.perf_counter() - t0
    if key:
        return kg, fp, partial(store_cached, key, kg, cache_dir)
    return kg, fp, _nothing


def _nothing() -> None:
    """No cache to write."""


def _read_fast(infos: list[Any], format: str | None) -> KnowledgeGraph | str:
    """The graph via the N-Triples/N-Quads fast path, or why it was not used.

    It applies only when every source is a local line-based file; a single other source
    sends all of them through the generic builder, so blank-node scoping stays uniform.
    """
    if os.environ.get(FAST_PATH_ENV, "1") == "0":
        return f"disabled by {FAST_PATH_ENV}=0"
    paths: list[Path] = []
    formats: list[str] = []
    compression: dict[Path, str | None] = {}
    for info in infos:
        if getattr(info, "kind", "file") != "file":
            return "not a local file"
        path = Path(info.location)
        fmt = line_format(path, info.format or format)
        if fmt is None:
            return "not a line-based format"
        paths.append(path)
        formats.append(fmt)
        compression[path] = getattr(info, "compression", None)
    try:
        return build_line_based(paths, formats, reader=lambda p: map_bytes(p, compression[p]))
    except FastPathUnavailable as exc:
        return str(exc)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged/odd input: the generic reader reports it
        return f"{type(exc).__name__}: {exc}"
