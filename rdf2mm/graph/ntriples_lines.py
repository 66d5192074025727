"""Cutting N-Triples / N-Quads data into integer-coded term tokens, one row per line
(the first step of :mod:`rdf2mm.graph.fast_ntriples`)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rdf2mm.graph.ntriples_arrays import (
    FastPathUnavailable,
    _EMPTY_LINE,
    _GRAPH_SUFFIX,
    _LINE_NQ,
    _LINE_NT,
    _LT,
    _POOL,
    _Phases,
    _QUOTE,
    _US,
    _concat,
    _encode,
    _first_bytes,
    _newlines_spaces,
    _now,
    _split_run,
    _string_array,
    _views,
)


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
