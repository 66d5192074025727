"""A vectorised reader for N-Triples and N-Quads that builds a :class:`KnowledgeGraph`.

Line-based formats need no parser state, so the triples of a file can be cut apart with
array operations instead of a Python loop over pyoxigraph's quads (which costs more
than the parse itself):

1. the file is memory-mapped (when not compressed) and split into lines: one numpy pass
   (in chunks, to keep temporaries in cache; the two halves of the file on two cores)
   finds every newline and every space; the lines are UTF-8-validated once by Arrow;
2. "plain" lines -- ``S P O .`` with single spaces, by far the usual layout -- are cut
   at their first two spaces (looked up among the sorted space positions); every other
   line (tabs, comments, graph terms, CRLF...) goes through one RE2 regular expression;
3. terms are integer-coded by Arrow's hash tables (``dictionary_encode``) on zero-copy
   binary views into the file's bytes; entity and literal tokens are disjoint (their
   first bytes differ), so they are hashed concurrently on two cores;
4. only the *distinct* terms are then validated: a term matching a conservative
   "certainly valid and already canonical" pattern is taken as is, and every other
   distinct term (escapes, non-ASCII IRIs, language tags, datatypes, ...) goes through
   pyoxigraph itself, which validates it and gives its canonical value, so identity is
   exactly pyoxigraph's (``"a"`` = ``"a"^^xsd:string``, ``\\u0041`` = ``A``, ``@EN`` =
   ``@en``).

Whenever the fast path cannot vouch for a file (a line no pattern accepts, a term
pyoxigraph rejects, RDF 1.2 directional literals...), it raises
:class:`FastPathUnavailable` and the caller re-reads that input with the generic
pyoxigraph builder, which either succeeds or reports pyoxigraph's own error with file
and line. Malformed input is therefore never accepted silently.

Steps 1-2 live in :mod:`rdf2mm.graph.ntriples_lines`, step 4 in
:mod:`rdf2mm.graph.ntriples_terms`, the patterns and array helpers they share in
:mod:`rdf2mm.graph.ntriples_arrays`; this module reads the files and assembles the graph.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import mmap
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyoxigraph as ox

from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.graph.ntriples_arrays import (
    FastPathUnavailable,
    _Phases,
    _SAFE_ENTITY_RE,
    _concat,
    _encode,
    _lengths,
    _match,
    _now,
    _substrings,
    _take,
)
from rdf2mm.graph.ntriples_lines import _Source, _cut_lines
from rdf2mm.graph.ntriples_terms import _canonical_terms, _check_entities, _check_iris, _literals
from rdf2mm.io.formats import compression_from_path, line_format  # line_format: re-exported

__all__ = ["FastPathUnavailable", "line_format", "read_bytes", "map_bytes", "build_line_based"]


# ------------------------------------------------------------------ formats
# What a file name or --format value means is decided in rdf2mm.io.formats (line_format
# is re-exported from there); this module only decompresses what it was told to read.
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "bz2": bz2.decompress,
    "xz": lzma.decompress,
}


def read_bytes(path: str | Path, compression: str | None = None) -> bytes:
    """The file's bytes, decompressed by ``compression`` ("gzip", "bz2", "xz") or suffix."""
    path = Path(path)
    data = path.read_bytes()
    decompress = _DECOMPRESS.get(compression or compression_from_path(path) or "")
    return decompress(data) if decompress else data


def map_bytes(path: str | Path, compression: str | None = None) -> bytes | mmap.mmap:
    """Like :func:`read_bytes`, but an uncompressed file is memory-mapped (read-only).

    Mapping saves copying the whole file into a fresh ``bytes`` (a tenth of a second
    per 100 MiB); the arrays built over it keep the mapping alive as long as needed.
    """
    path = Path(path)
    if compression is not None or compression_from_path(path) is not None:
        return read_bytes(path, compression)
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return b""
            if hasattr(mmap, "MAP_POPULATE"):  # Linux: map the (cached) pages at once
                flags = mmap.MAP_SHARED | mmap.MAP_POPULATE
                return mmap.mmap(fh.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # not mappable (a pipe, a special file...): read it
        return read_bytes(path, compression)

# ------------------------------------------------------------------ building
def build_line_based(
    paths: Sequence[str | Path],
    formats: Sequence[str],
    *,
    threads: int = 2,
    reader: Callable[[str | Path], bytes] = read_bytes,
) -> KnowledgeGraph:
    """Build one graph from N-Triples / N-Quads files (``formats[i]`` is "nt" or "nq").

    Equal, as a set of triples over terms, to the generic builder's graph of the same
    sources, with blank nodes scoped per source the same way. Raises
    :class:`FastPathUnavailable` when any source needs the generic parser.
    """
    phase = _Phases()
    pool = ThreadPoolExecutor(max_workers=1) if threads > 1 else None
    try:
        return _build(paths, formats, reader, pool, phase)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _build(
    paths: Sequence[str | Path],
    formats: Sequence[str],
    reader: Callable[[str | Path], bytes],
    pool: ThreadPoolExecutor | None,
    phase: _Phases,
) -> KnowledgeGraph:
    n_sources = len(paths)
    sources: list[_Source] = []
    for k, (path, fmt) in enumerate(zip(paths, formats)):
        data = reader(path)
        phase("read")
        src = _cut_lines(data, fmt == "nq", pool, phase)
        del data  # the tables hold what they need
        if n_sources > 1 and k > 0:
            # blank nodes are local to their source: the same renaming as GraphBuilder
            src.ent_dict = pc.replace_substring_regex(src.ent_dict, "^_:", f"_:s{k}x")
        sources.append(src)
    n_total = sum(src.n for src in sources)
    for src in sources:
        if src.g_dict is not None:
            _check_entities(src.g_dict)

    # one table each of distinct entity, literal and predicate tokens over all sources
    ent_tokens, ent_maps = _merge([src.ent_dict for src in sources])
    lit_tokens, lit_maps = _merge([src.lit_dict for src in sources])
    p_tokens, p_maps = _merge([src.p_dict for src in sources])
    phase("merge")
    # literals on the other core (Arrow and numpy release the GIL for most of it)
    lit_job = (pool.submit if pool else _now)(_literals, lit_tokens)

    # ---- predicates
    rel_values, rel_plain = _check_iris(p_tokens)
    if rel_plain:
        rel_of_tok = np.arange(len(p_tokens), dtype=np.int64)
        relations = _substrings(p_tokens, np.ones(len(p_tokens), np.int64), _lengths(p_tokens) - 2).to_pylist()
    else:  # escapes may make two tokens one IRI
        rel_of_tok, rel_dict = _encode(pa.array(rel_values, pa.large_string()))
        relations = rel_dict.to_pylist()

    # ---- entities: canonical N-Triples strings (escapes may make two tokens one entity)
    unsafe = np.flatnonzero(~_match(ent_tokens, _SAFE_ENTITY_RE))
    if len(unsafe):
        values = ent_tokens.to_pylist()
        for t, term in zip(unsafe.tolist(), _canonical_terms(_take(ent_tokens, unsafe).to_pylist())):
            if not isinstance(term, (ox.NamedNode, ox.BlankNode)):
                raise FastPathUnavailable("an entity token that is no IRI or blank node")
            values[t] = str(term)
        ent_of_tok, ent_dict = _encode(pa.array(values, pa.large_string()))
        entities = ent_dict.to_pylist()
    else:
        ent_of_tok = np.arange(len(ent_tokens), dtype=np.int64)
        entities = ent_tokens.to_pylist()

    # ---- entity-entity triples, while the literals are being worked out
    s_all, p_all, o_ent, o_lit = [], [], [], []
    for src, em, pm in zip(sources, ent_maps, p_maps):
        s_all.append(ent_of_tok[em[src.s_idx]])
        p_all.append(rel_of_tok[pm[src.p_idx]])
        o_ent.append(ent_of_tok[em[src.o_idx[~src.o_lit]]])
    s, p = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (s_all, p_all))
    lit_rows = np.concatenate([src.o_lit for src in sources]) if sources else np.zeros(0, bool)
    edges = _unique_rows(s[~lit_rows], p[~lit_rows], np.concatenate(o_ent) if o_ent else np.zeros(0, np.int64))
    # entity-literal triples, deduplicated on literal *tokens* while the literals are
    # being worked out: the same rows in the same (first-seen) order as deduplicating
    # on literal ids, once tokens are mapped to literals (again below, should two
    # tokens spell one literal)
    for src, lm in zip(sources, lit_maps):
        o_lit.append(lm[src.o_idx[src.o_lit]])
    tok_edges = _unique_rows(s[lit_rows], p[lit_rows], np.concatenate(o_lit) if o_lit else np.zeros(0, np.int64))
    phase("relations+entities")

    lit_of_tok, lexical, lit_dt, language, datatypes = lit_job.result()
    phase("literals")
    if len(lexical) == len(lit_tokens):  # one literal per token (every literal has one)
        literal_edges = tok_edges
        literal_edges[:, 2] = lit_of_tok[tok_edges[:, 2]]
    else:
        literal_edges = _unique_rows(tok_edges[:, 0], tok_edges[:, 1], lit_of_tok[tok_edges[:, 2]])
    phase("triples")
    stats = {
        "quads_read": n_total,
        "duplicates_removed": n_total - int(len(edges) + len(literal_edges)),
        "skipped": {},
        "sources": n_sources,
        "reader": "fast-ntriples",
        "phase_seconds": phase.seconds,
    }
    return KnowledgeGraph(
        entities=entities,
        relations=relations,
        literal_lexical=lexical,
        literal_datatype=lit_dt,
        literal_language=language,
        datatypes=datatypes,
        edges=edges,
        literal_edges=literal_edges,
        stats=stats,
    )


def _merge(dicts: list[pa.Array]) -> tuple[pa.Array, list[np.ndarray]]:
    """Union of per-source token tables, and each source's map into it."""
    if len(dicts) == 1:
        return dicts[0], [np.arange(len(dicts[0]), dtype=np.int64)]
    if not dicts:
        return pa.array([], pa.large_string()), []
    idx, union = _encode(_concat(dicts))
    maps, pos = [], 0
    for d in dicts:
        maps.append(idx[pos : pos + len(d)])
        pos += len(d)
    return union, maps

def _unique_rows(s: np.ndarray, p: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Duplicate-free [n, 3] rows in first-seen order, hashing one int64 key per row."""
    n = len(s)
    if n < 2:
        return np.stack([s, p, o], axis=1).astype(np.int64).reshape(-1, 3)
    ns, np_, no = int(s.max()) + 1, int(p.max()) + 1, int(o.max()) + 1
    if ns * np_ * no >= 2**62:  # the key would overflow: compare whole rows instead
        from rdf2mm.graph.build import _unique_rows as by_sort

        return by_sort(np.stack([s, p, o], axis=1))
    key = (s * np_ + p) * no + o
    uniq = pc.unique(pa.array(key)).to_numpy()  # hash-based, first-seen order
    if len(uniq) == n:
        return np.stack([s, p, o], axis=1).astype(np.int64, copy=False)
    out = np.empty((len(uniq), 3), np.int64)
    rest, out[:, 2] = np.divmod(uniq, no)
    out[:, 0], out[:, 1] = np.divmod(rest, np_)
    return out
