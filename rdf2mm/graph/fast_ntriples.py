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
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import mmap
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyoxigraph as ox

from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from rdf2mm.io.formats import compression_from_path, line_format
from rdf2mm.vocab import RDF_LANGSTRING

__all__ = ["FastPathUnavailable", "line_format", "read_bytes", "map_bytes", "build_line_based"]


class FastPathUnavailable(Exception):
    """The fast path cannot decide this input; read it with the generic parser instead."""


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


# ------------------------------------------------------------------ patterns
# "Safe" patterns accept only terms that are certainly valid for pyoxigraph AND already
# in canonical form (no escapes, ASCII only), so their text can be used as is. They are
# deliberately narrower than the grammar: anything else is checked by pyoxigraph.
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRES_SUB = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRES_SUB}:@]|{_PCT})"
_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*"
_AUTH = rf"//(?:[{_UNRES_SUB}]|{_PCT})*(?::[0-9]*)?(?:/(?:{_PCHAR}|/)*)?"
_NOAUTH = rf"/?(?:{_PCHAR}(?:{_PCHAR}|/)*)?"
_QF = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
SAFE_IRI = rf"<{_SCHEME}:(?:{_AUTH}|{_NOAUTH}){_QF}>"
SAFE_BNODE = r"_:[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?"
# the lexical form has no escapes; the suffix (language / datatype) is checked apart
SAFE_LITERAL = rf'"[^"\\]*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^{SAFE_IRI})?'
_SAFE_ENTITY_RE = f"^(?:{SAFE_IRI}|{SAFE_BNODE})$"
_SAFE_IRI_RE = f"^{SAFE_IRI}$"
_SAFE_LITERAL_RE = f"^{SAFE_LITERAL}$"

# Loose term shapes for cutting non-plain lines; every piece is validated afterwards.
_IRI = r'<[^\x00-\x20<>"{}|^`]*>'
_BN = r'_:[^\x00-\x20<>"{}|^`\\.]+(?:\.+[^\x00-\x20<>"{}|^`\\.]+)*'
_LIT = rf'"(?:[^"\\\n\r]|\\.)*"(?:@[A-Za-z0-9\-]+|\^\^{_IRI})?'
_WS = r"[ \t]*"
_TAIL = rf"{_WS}\.{_WS}(?:#[^\n]*)?\r?\n?$"
_LINE_NT = rf"^{_WS}(?P<s>{_IRI}|{_BN}){_WS}(?P<p>{_IRI}){_WS}(?P<o>{_IRI}|{_BN}|{_LIT}){_TAIL}"
_LINE_NQ = (
    rf"^{_WS}(?P<s>{_IRI}|{_BN}){_WS}(?P<p>{_IRI}){_WS}(?P<o>{_IRI}|{_BN}|{_LIT})"
    rf"(?:{_WS}(?P<g>{_IRI}|{_BN}))?{_TAIL}"
)
_EMPTY_LINE = r"^[ \t]*(?:#[^\n]*)?\r?\n?$"
# a graph term at the end of a plain N-Quads object piece: " <iri>" or " _:label"
_GRAPH_SUFFIX = r'^(?P<o>.*) (?P<g><[^\x00-\x20<>"{}|^`\\]*>|_:[A-Za-z0-9_.\-]+)$'

_CHUNK = 1 << 22  # newline search block: keeps the temporary in cache
_MAX_VIEW_BUFFER = 1 << 30  # string-view offsets are int32: address the data in windows


def _memory_pool() -> pa.MemoryPool:
    """jemalloc (else the system allocator) for our large, short-lived Arrow buffers.

    Measured on a 1M-triple file: the default mimalloc pool made the first hash-encode
    of the literals 3-4x slower (fresh pages for every growing buffer); passing a pool
    per call leaves the process-wide default alone.
    """
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return pa.system_memory_pool()


_POOL = _memory_pool()


# ------------------------------------------------------------------ arrays
def _newlines_spaces(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of every ``\\n`` and of every space in ``buf`` (int64), in one pass."""
    nls, spaces = [], []
    tmp = np.empty(min(_CHUNK, max(len(buf), 1)), dtype=bool)
    for i in range(0, len(buf), _CHUNK):
        block = buf[i : i + _CHUNK]
        mask = tmp[: len(block)]
        np.equal(block, 10, out=mask)
        nls.append(np.flatnonzero(mask) + i)
        np.equal(block, 32, out=mask)
        spaces.append(np.flatnonzero(mask) + i)
    if not nls:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(nls), np.concatenate(spaces)


def _split_run(pool: ThreadPoolExecutor | None, fn: Callable[[int, int], object], n: int) -> list:
    """``fn(lo, hi)`` over the two halves of ``range(n)``, the first in ``pool`` (when
    given) while this thread does the second; the results in order. For work that
    releases the GIL (numpy, Arrow compute)."""
    if pool is None or n < (1 << 16):
        return [fn(0, n)]
    half = n // 2
    job = pool.submit(fn, 0, half)
    second = fn(half, n)
    return [job.result(), second]


def _string_array(offsets: np.ndarray, data: pa.Buffer) -> pa.Array:
    """A zero-copy large_string array over ``data`` with the given (monotone) offsets."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), data)


def _views(buf: np.ndarray, data: pa.Buffer, starts: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """A string_view array of ``data[starts[i] : starts[i] + lengths[i]]`` without copying.

    Arrow's view layout: 16 bytes per string = int32 length, then either the string
    inline (up to 12 bytes, zero-padded) or a 4-byte prefix, a buffer index and an
    int32 offset into that buffer.
    """
    k = len(starts)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(buf)
    views = np.zeros((k, 4), dtype=np.int32)
    views[:, 0] = lengths
    if k == 0:
        return pa.Array.from_buffers(pa.string_view(), 0, [None, pa.py_buffer(views), data])
    if n >= 12:
        # 12-byte opaque items at every byte offset: one 12-byte copy per string (much
        # faster than gathering rows of a strided [n, 12] byte array)
        windows = np.ndarray(shape=(n - 11,), dtype="V12", buffer=buf, strides=(1,))
        head = windows[np.minimum(starts, n - 12)].view(np.uint8).reshape(k, 12)
    else:
        head = np.zeros((k, 12), dtype=np.uint8)
    for i in np.flatnonzero(starts > n - 12).tolist():  # strings in the last 12 bytes
        piece = np.frombuffer(bytes(buf[starts[i] : starts[i] + 12]), np.uint8)
        head[i] = 0
        head[i, : len(piece)] = piece
    short = np.flatnonzero(lengths < 12)
    if len(short):
        head[short] *= np.arange(12, dtype=np.int64)[None, :] < lengths[short, None]
    views.view(np.uint8).reshape(k, 16)[:, 4:] = head
    long = lengths > 12
    window = starts >> 30
    views[:, 2] = np.where(long, window, views[:, 2])
    views[:, 3] = np.where(long, starts - (window << 30), views[:, 3])
    n_windows = int(window.max()) + 1
    # overlapping windows (zero-copy slices), so that no string straddles two buffers
    buffers = [data.slice(j << 30, min(len(data) - (j << 30), 2 * _MAX_VIEW_BUFFER)) for j in range(n_windows)]
    return pa.Array.from_buffers(pa.string_view(), k, [None, pa.py_buffer(views), *buffers])


def _encode(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Integer codes (int64) and distinct values (large_string, first-seen order)."""
    if pa.types.is_string_view(arr.type):
        # hashing binary views is several times faster than string views (same bytes)
        arr = arr.view(pa.binary_view())
    enc = pc.dictionary_encode(arr, memory_pool=_POOL)
    idx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return idx, enc.dictionary.cast(pa.large_string(), memory_pool=_POOL)


def _offsets(arr: pa.Array) -> np.ndarray:
    return np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]


def _first_bytes(arr: pa.Array) -> np.ndarray:
    """First byte of every string of a large_string array (0 for empty strings)."""
    offsets = _offsets(arr)
    data = arr.buffers()[2]
    if data is None or data.size == 0:
        return np.zeros(len(arr), np.uint8)
    raw = np.frombuffer(data, dtype=np.uint8)
    first = raw[np.minimum(offsets[:-1], len(raw) - 1)]
    return np.where(offsets[1:] > offsets[:-1], first, 0).astype(np.uint8)


def _substrings(arr: pa.Array, rel_start: np.ndarray, length: np.ndarray, pos: np.ndarray | None = None) -> pa.Array:
    """``arr[i][rel_start[i] : rel_start[i] + length[i]]`` (in bytes), large_string;
    only for ``i`` in ``pos`` (in that order) when given."""
    data = arr.buffers()[2]
    if len(arr) == 0 or data is None or data.size == 0:
        return pa.array([""] * (len(arr) if pos is None else len(pos)), pa.large_string())
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = _offsets(arr)[:-1] + rel_start
    if pos is not None:
        starts, length = starts[pos], np.asarray(length)[pos]
    return _views(buf, data, starts, length).cast(pa.large_string(), memory_pool=_POOL)


def _match(arr: pa.Array, pattern: str) -> np.ndarray:
    if len(arr) == 0:
        return np.zeros(0, bool)
    return pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False)


def _take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    return pc.take(arr, pa.array(np.asarray(idx, np.int64), pa.int64()), memory_pool=_POOL)


class _Phases:
    """Wall time per phase of a read, reported in the graph's stats."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self._t, 4)
        self._t = now


# ------------------------------------------------------------------ line cutting
@dataclass
class _Source:
    """One source's triples as integer codes into its distinct term tokens.

    Entity tokens (IRIs, blank nodes) and literal tokens are coded apart: the two sets
    are disjoint (their first bytes differ), so they can be hashed concurrently.
    """

    s_idx: np.ndarray  # int64 [n], into ent_dict
    o_idx: np.ndarray  # int64 [n], into ent_dict or (where o_lit) into lit_dict
    o_lit: np.ndarray  # bool [n]
    ent_dict: pa.Array  # distinct subject / object entity tokens (large_string)
    lit_dict: pa.Array  # distinct literal tokens
    p_idx: np.ndarray  # int64 [n]
    p_dict: pa.Array  # distinct predicate tokens
    g_dict: pa.Array | None  # distinct graph tokens (N-Quads), only validated
    n: int


_LT, _US, _QUOTE = ord("<"), ord("_"), ord('"')


def _cut_lines(data: bytes, quads: bool, pool: ThreadPoolExecutor | None = None, phase: _Phases | None = None) -> _Source:
    """Cut ``data`` into integer-coded term tokens (one row per triple line)."""
    phase = phase or _Phases()
    empty = pa.array([], pa.large_string())
    if not data:
        z = np.zeros(0, np.int64)
        return _Source(z, z, np.zeros(0, bool), empty, empty, z, empty, None, 0)
    abuf = pa.py_buffer(data)
    buf = np.frombuffer(data, dtype=np.uint8)
    # two halves of the file on two cores (no line can start in both: each half finds
    # only its own newlines)
    parts = _split_run(pool, lambda lo, hi: [a + lo for a in _newlines_spaces(buf[lo:hi])], len(buf))
    nl = np.concatenate([part[0] for part in parts])
    # (two sentinels past the end for the space lookup below: "no further space")
    spaces = np.concatenate([part[1] for part in parts] + [np.array([len(buf) + 2, len(buf) + 4], np.int64)])
    starts = np.empty(len(nl) + 1, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl + 1
    ends = np.append(nl, len(data))  # each line's '\n' (or the end of the data)
    if starts[-1] == len(data):  # the data ends with a newline: no empty last line
        starts, ends = starts[:-1], ends[:-1]
    lines = _string_array(np.append(starts, len(data)), abuf)
    try:
        lines.validate(full=True)  # UTF-8, once for the whole file
    except pa.ArrowInvalid as exc:
        raise FastPathUnavailable(f"not UTF-8: {exc}") from None
    core_end = ends - (buf[np.maximum(ends - 1, 0)] == 13)  # without a CR before the LF
    phase("lines")

    # Plain lines "S P O ." with single spaces: S and P hold no space by construction,
    # and every distinct piece is validated later, so a wrong cut cannot go unnoticed.
    # first / second space at or after each line start, from the sorted positions of
    # all spaces (two sentinels past the end: "none"); a space found beyond the line's
    # end puts o_start past o_end, and the line takes the regex path
    at = np.searchsorted(spaces, starts)
    first = spaces[at] - starts
    p_start = starts + first + 1
    second = spaces[at + 1] - p_start
    del spaces, at
    o_start = p_start + second + 1
    o_end = core_end - 2
    top = len(buf) - 1
    s_byte = buf[starts]
    o_byte = buf[np.minimum(o_start, top)]
    plain = (first > 0) & (second > 0) & (o_start < o_end)
    plain &= (buf[np.maximum(core_end - 1, 0)] == 46) & (buf[np.maximum(core_end - 2, 0)] == 32)
    # the kind of a term is read off its first byte: anything unusual takes the regex path
    plain &= (s_byte == _LT) | (s_byte == _US)
    plain &= (o_byte == _LT) | (o_byte == _US) | (o_byte == _QUOTE)
    all_plain = bool(plain.all())
    if not all_plain:
        keep = np.flatnonzero(plain)
        starts, first, p_start, second, o_start, o_end, o_byte = (
            a[keep] for a in (starts, first, p_start, second, o_start, o_end, o_byte)
        )
    phase("cut")
    o_lit = o_byte == _QUOTE
    o_len = o_end - o_start
    # the other lines' pieces, after the plain lines' ones (views of those are cut below)
    s_cols: list[pa.Array] = []
    p_cols: list[pa.Array] = []
    lit_cols: list[pa.Array] = []
    ent_cols: list[pa.Array] = []
    lit_starts, lit_lens = o_start[o_lit], o_len[o_lit]
    ent_starts, ent_lens = o_start[~o_lit], o_len[~o_lit]
    graphs: list[pa.Array] = []
    if not all_plain:
        others = pc.filter(lines, pa.array(~plain), memory_pool=_POOL)
        others = others.filter(pc.invert(pc.match_substring_regex(others, _EMPTY_LINE)))
        if len(others):
            matched = pc.extract_regex(others, _LINE_NQ if quads else _LINE_NT)
            if matched.null_count:
                raise FastPathUnavailable("a line matches no N-Triples/N-Quads pattern")
            s_cols.append(matched.field("s").cast(pa.string_view()))
            p_cols.append(matched.field("p").cast(pa.string_view()))
            obj = matched.field("o").cast(pa.large_string())
            more_lit = _first_bytes(obj) == _QUOTE
            lit_cols.append(obj.filter(pa.array(more_lit)).cast(pa.string_view()))
            ent_cols.append(obj.filter(pa.array(~more_lit)).cast(pa.string_view()))
            o_lit = np.concatenate([o_lit, more_lit])
            if quads:
                g = matched.field("g")
                graphs.append(g.filter(pc.not_equal(g, "")).cast(pa.large_string()))
    # numpy and Arrow release the GIL: literals are cut and hashed on the other core
    # while entities and predicates are cut and hashed on this one
    def literals() -> tuple[np.ndarray, pa.Array]:
        return _encode(_concat([_views(buf, abuf, lit_starts, lit_lens), *lit_cols]))

    lit_job = (pool.submit if pool else _now)(literals)
    s_cols.insert(0, _views(buf, abuf, starts, first))
    p_cols.insert(0, _views(buf, abuf, p_start, second))
    ent_cols.insert(0, _views(buf, abuf, ent_starts, ent_lens))
    s = _concat(s_cols)
    n = len(s)
    phase("views")
    ent_idx, ent_dict = _encode(_concat([s, *ent_cols]))
    p_idx, p_dict = _encode(_concat(p_cols))
    lit_idx, lit_dict = lit_job.result()
    phase("encode")
    o_idx = np.empty(n, np.int64)
    o_idx[o_lit] = lit_idx
    o_idx[~o_lit] = ent_idx[n:]
    src = _Source(ent_idx[:n], o_idx, o_lit, ent_dict, lit_dict, p_idx, p_dict, None, n)
    if quads:
        # plain N-Quads lines carry the graph term at the end of the object piece; no
        # object token ends in " <iri>" or " _:label" otherwise (see _GRAPH_SUFFIX)
        src.ent_dict, src.o_idx = _strip_graphs(src.ent_dict, src.o_idx, ~o_lit, graphs)
        src.lit_dict, src.o_idx = _strip_graphs(src.lit_dict, src.o_idx, o_lit, graphs)
        if graphs:
            src.g_dict = pc.unique(pa.concat_arrays(graphs))
    return src


class _now:
    """A finished 'future', for running without a thread pool."""

    def __init__(self, fn: Callable, *args: object):
        self._value = fn(*args)

    def result(self) -> object:
        return self._value


def _concat(arrays: list[pa.Array]) -> pa.Array:
    return pa.concat_arrays(arrays, memory_pool=_POOL) if len(arrays) > 1 else arrays[0]


def _strip_graphs(
    tokens: pa.Array, o_idx: np.ndarray, rows: np.ndarray, graphs: list[pa.Array]
) -> tuple[pa.Array, np.ndarray]:
    """Remove trailing graph terms from object tokens; collects them into ``graphs``."""
    has_g = pc.match_substring_regex(tokens, _GRAPH_SUFFIX)
    if not pc.any(has_g).as_py():
        return tokens, o_idx
    parts = pc.extract_regex(tokens, _GRAPH_SUFFIX)
    stripped = pc.if_else(has_g, parts.field("o").cast(pa.large_string()), tokens)
    remap, tokens = _encode(stripped)
    o_idx = o_idx.copy()
    o_idx[rows] = remap[o_idx[rows]]
    graphs.append(parts.field("g").filter(has_g).cast(pa.large_string()))
    return tokens, o_idx


# ------------------------------------------------------------------ term checking
def _canonical_terms(tokens: list[str]) -> list[object]:
    """pyoxigraph's reading of each token in object position (validates and unescapes)."""
    if not tokens:
        return []
    doc = "".join(f"_:t{i} <x:p> {tok} .\n" for i, tok in enumerate(tokens))
    try:
        quads = list(ox.parse(input=doc.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES))
    except (SyntaxError, ValueError) as exc:
        raise FastPathUnavailable(f"a term needs the full parser: {exc}") from None
    if len(quads) != len(tokens) or any(q.subject.value != f"t{i}" for i, q in enumerate(quads)):
        raise FastPathUnavailable("a piece holds more than one term")
    return [q.object for q in quads]


def _check_iris(tokens: pa.Array) -> tuple[list[str] | None, bool]:
    """Validate predicate tokens; their IRIs (no brackets), or None when all are safe."""
    safe = _match(tokens, _SAFE_IRI_RE)
    if safe.all():
        return None, True
    bad = np.flatnonzero(~safe)
    values = _substrings(tokens, np.ones(len(tokens), np.int64), _lengths(tokens) - 2).to_pylist()
    for i, term in zip(bad.tolist(), _canonical_terms(_take(tokens, bad).to_pylist())):
        if not isinstance(term, ox.NamedNode):
            raise FastPathUnavailable("a predicate that is not an IRI")
        values[i] = term.value
    return values, False


def _check_entities(tokens: pa.Array) -> None:
    """Validate graph-name tokens (IRIs or blank nodes); the graph itself is dropped."""
    bad = np.flatnonzero(~_match(tokens, _SAFE_ENTITY_RE))
    for term in _canonical_terms(_take(tokens, bad).to_pylist()):
        if not isinstance(term, (ox.NamedNode, ox.BlankNode)):
            raise FastPathUnavailable("a graph name that is not an IRI or blank node")


def _lengths(arr: pa.Array) -> np.ndarray:
    return np.diff(_offsets(arr))


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


def _literals(tokens: pa.Array) -> tuple[np.ndarray, list[str], np.ndarray, list[str], list[str]]:
    """Literal id per literal token and the literal table (lexical, datatype code, language).

    A "regular" token (no escapes, and the first-seen spelling of its datatype/language)
    is its own literal. Every other literal token ("irregular": escapes, ``@EN`` next to
    ``@en``, ``^^xsd:string`` next to no suffix) is rewritten to the regular spelling and
    looked up among the regular tokens, so identity is exactly (lexical, datatype,
    language), as in the generic builder.
    """
    n_tok = len(tokens)
    safe, q, sfx = _safe_literals(tokens)
    unsafe_tok = np.flatnonzero(~safe)
    canon: list[ox.Literal] = []
    for term in _canonical_terms(_take(tokens, unsafe_tok).to_pylist()):
        if not isinstance(term, ox.Literal):
            raise FastPathUnavailable("a literal token that is no literal")
        canon.append(term)
    # work on all tokens (no copy of the safe ones); unsafe ones get empty pieces
    arr = tokens
    lens = _lengths(arr)
    # q: the lexical length of each safe token (0 for the others)
    sfx_idx, sfx_dict = sfx or _encode(_substrings(arr, q + 2, np.where(safe, lens - q - 2, 0)))

    def lex_of(pos: np.ndarray) -> pa.Array:  # the lexical forms of safe tokens (views)
        data = arr.buffers()[2]
        if len(pos) == 0 or data is None or data.size == 0:
            return pa.array([""] * len(pos), pa.large_string())
        return _views(np.frombuffer(data, dtype=np.uint8), data, _offsets(arr)[pos] + 1, q[pos])

    sfx_values = sfx_dict.to_pylist()
    # every distinct suffix ("", @lang, ^^<dt>) is validated and canonicalised by pyoxigraph
    pair_code: dict[tuple[str, str], int] = {}
    rep_sfx: list[str | None] = []  # the regular spelling of each (datatype, language) pair
    sfx_code = np.zeros(max(len(sfx_values), 1), np.int64)
    for i, term in enumerate(_canonical_terms([f'""{x}' for x in sfx_values])):
        if not isinstance(term, ox.Literal):
            raise FastPathUnavailable("bad literal suffix")
        code = pair_code.setdefault(_dt_lang(term), len(pair_code))
        if code == len(rep_sfx):
            rep_sfx.append(sfx_values[i])
        sfx_code[i] = code
    is_rep = np.array([rep_sfx[sfx_code[i]] == v for i, v in enumerate(sfx_values)] or [True])
    codes = sfx_code[sfx_idx]
    regular = is_rep[sfx_idx] & safe
    unsafe_codes = []
    for term in canon:
        code = pair_code.setdefault(_dt_lang(term), len(pair_code))
        if code == len(rep_sfx):
            rep_sfx.append(None)  # no regular token has this pair
        unsafe_codes.append(code)

    lit_of_tok = np.full(n_tok, -1, np.int64)
    reg_pos = np.flatnonzero(regular)
    n_reg = len(reg_pos)
    lex_values = lex_of(reg_pos).to_pylist()
    lit_of_tok[reg_pos] = np.arange(n_reg)
    all_codes = codes[reg_pos]
    new_lex: list[str] = []
    irr_pos = np.flatnonzero(~regular & safe)
    if len(irr_pos) or canon:
        # the regular spelling of every irregular token; a key no token can equal
        # (it starts with NUL) when its lexical form or pair has no regular spelling
        rep_arr = pa.array([r if r is not None else "" for r in rep_sfx], pa.large_string())
        irr_codes = codes[irr_pos]
        head = _substrings(_take(arr, irr_pos), np.zeros(len(irr_pos), np.int64), q[irr_pos] + 2)
        keys_safe = pc.binary_join_element_wise(
            head, pc.take(rep_arr, pa.array(irr_codes)), pa.scalar("", pa.large_string()), memory_pool=_POOL
        )
        keys_unsafe = [
            f'"{t.value}"{rep_sfx[c]}' if rep_sfx[c] is not None and not _needs_escape(t.value) else f"\x00{c}\x00{t.value}"
            for t, c in zip(canon, unsafe_codes)
        ]
        keys = _concat([keys_safe.cast(pa.large_string()), pa.array(keys_unsafe, pa.large_string())])
        group, group_keys = _encode(keys)
        # groups whose key is a regular token take that token's id; the others are new
        # (irregular tokens never equal a key: a key has the regular suffix spelling)
        # (only regular tokens of a key's length can equal it: look those up)
        cand = np.flatnonzero(regular & np.isin(_len_byte1(arr), _len_byte1(group_keys)))
        hit = pc.index_in(_take(arr, cand), value_set=group_keys, memory_pool=_POOL).to_numpy(zero_copy_only=False)
        group_id = np.full(len(group_keys), -1, np.int64)
        found = np.flatnonzero(~np.isnan(hit)) if np.issubdtype(hit.dtype, np.floating) else np.arange(len(hit))
        reg_id = np.cumsum(regular) - 1  # position among safe tokens -> regular literal id
        group_id[hit[found].astype(np.int64)] = reg_id[cand[found]]
        member_lex = _concat([lex_of(irr_pos).cast(pa.large_string(), memory_pool=_POOL), pa.array([t.value for t in canon], pa.large_string())])
        member_code = np.concatenate([irr_codes, np.asarray(unsafe_codes, np.int64)])
        first_member = np.full(len(group_keys), -1, np.int64)
        first_member[group[::-1]] = np.arange(len(group))[::-1]
        new_groups = np.flatnonzero(group_id < 0)
        group_id[new_groups] = n_reg + np.arange(len(new_groups))
        new_lex = _take(member_lex, first_member[new_groups]).to_pylist()
        all_codes = np.concatenate([all_codes, member_code[first_member[new_groups]]])
        lit_of_tok[np.concatenate([irr_pos, unsafe_tok])] = group_id[group]
    # datatypes numbered in first-use order of the pairs; languages per pair
    pairs = list(pair_code)
    dt_index: dict[str, int] = {}
    dt_of_pair = np.array([dt_index.setdefault(dt, len(dt_index)) for dt, _ in pairs] or [0], np.int32)
    lang_of_pair = np.array([lang for _, lang in pairs] or [""], dtype=object)
    lexical = lex_values + new_lex
    return lit_of_tok, lexical, dt_of_pair[all_codes], lang_of_pair[all_codes].tolist(), list(dt_index)


_SAFE_SUFFIX_RE = rf"^(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^{SAFE_IRI})?$"


def _safe_literals(tokens: pa.Array) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, pa.Array] | None]:
    """Which literal tokens are safe (``_SAFE_LITERAL_RE``), and their lexical lengths.

    Equivalent to matching the pattern, but with one byte scan: a token is safe when it
    starts with a quote, holds exactly two quotes and no backslash, and the suffix after
    the closing quote is a safe one (few distinct suffixes: those are matched). Also
    returns the suffixes' codes and values (empty for unsafe tokens) when it has them.
    """
    n = len(tokens)
    offsets = _offsets(tokens)
    data = tokens.buffers()[2]
    if n == 0 or data is None or data.size == 0:
        safe = _match(tokens, _SAFE_LITERAL_RE)
        return safe, np.zeros(n, np.int64), None
    raw = np.frombuffer(data, dtype=np.uint8)
    lo, hi = int(offsets[0]), int(offsets[-1])
    quotes_at, slashes_at = [], []
    tmp = np.empty(min(_CHUNK, max(hi - lo, 1)), dtype=bool)
    for i in range(lo, hi, _CHUNK):
        block = raw[i : min(i + _CHUNK, hi)]
        mask = tmp[: len(block)]
        np.equal(block, _QUOTE, out=mask)
        quotes_at.append(np.flatnonzero(mask) + i)
        np.equal(block, 92, out=mask)
        slashes_at.append(np.flatnonzero(mask) + i)
    quotes = np.concatenate(quotes_at) if quotes_at else np.zeros(0, np.int64)
    slashes = np.concatenate(slashes_at) if slashes_at else np.zeros(0, np.int64)
    has_slash = np.diff(np.searchsorted(slashes, offsets)) > 0
    at = np.searchsorted(quotes, offsets)  # each token's first quote (index into quotes)
    n_quotes = np.diff(at)
    k = at[:-1]
    starts, ends = offsets[:-1], offsets[1:]
    quotes = np.append(quotes, [hi + 1, hi + 1])  # sentinels
    core = (n_quotes == 2) & ~has_slash & (quotes[k] == starts)
    q = np.where(core, quotes[k + 1] - starts - 1, 0)  # the lexical length
    sfx_idx, sfx_dict = _encode(_views(raw, data, starts + q + 2, np.where(core, ends - starts - q - 2, 0)))
    ok = _match(sfx_dict, _SAFE_SUFFIX_RE)
    if ok.all():
        return core, q, (sfx_idx, sfx_dict)
    safe = core & ok[sfx_idx]
    return safe, np.where(safe, q, 0), None


def _len_byte1(arr: pa.Array) -> np.ndarray:
    """A cheap fingerprint of each string of a large_string array: its byte length and
    its second byte (0 for strings shorter than 2); equal strings have equal ones."""
    offsets = _offsets(arr)
    lens = np.diff(offsets)
    data = arr.buffers()[2]
    if len(arr) == 0 or data is None or data.size == 0:
        return lens * 256
    raw = np.frombuffer(data, dtype=np.uint8)
    second = np.where(lens >= 2, raw[np.minimum(offsets[:-1] + 1, len(raw) - 1)], 0)
    return lens * 256 + second


def _needs_escape(text: str) -> bool:
    return '"' in text or "\\" in text or "\n" in text or "\r" in text


def _dt_lang(term: ox.Literal) -> tuple[str, str]:
    if getattr(term, "direction", None):
        # RDF 1.2 directional literals: identity beyond (lexical, datatype, language)
        raise FastPathUnavailable("directional language-tagged literal")
    lang = term.language or ""
    return (RDF_LANGSTRING if lang else term.datatype.value), lang


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
