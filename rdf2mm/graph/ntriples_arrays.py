"""Building blocks of the N-Triples fast path: term patterns, Arrow/numpy array helpers.

See :mod:`rdf2mm.graph.fast_ntriples` for how they fit together.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class FastPathUnavailable(Exception):
    """The fast path cannot decide this input; read it with the generic parser instead."""

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

# first bytes that tell term kinds apart: IRI, blank node, literal
_LT, _US, _QUOTE = ord("<"), ord("_"), ord('"')
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

class _now:
    """A finished 'future', for running without a thread pool."""

    def __init__(self, fn: Callable, *args: object):
        self._value = fn(*args)

    def result(self) -> object:
        return self._value


def _concat(arrays: list[pa.Array]) -> pa.Array:
    return pa.concat_arrays(arrays, memory_pool=_POOL) if len(arrays) > 1 else arrays[0]

def _lengths(arr: pa.Array) -> np.ndarray:
    return np.diff(_offsets(arr))
