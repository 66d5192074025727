"""Checking the distinct terms the N-Triples fast path cut out: IRIs, blank nodes and
literals are taken as they are when certainly canonical, else read by pyoxigraph."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyoxigraph as ox

from rdf2mm.graph.ntriples_arrays import (
    FastPathUnavailable,
    SAFE_IRI,
    _CHUNK,
    _POOL,
    _QUOTE,
    _SAFE_ENTITY_RE,
    _SAFE_IRI_RE,
    _SAFE_LITERAL_RE,
    _concat,
    _encode,
    _lengths,
    _match,
    _offsets,
    _substrings,
    _take,
    _views,
)
from rdf2mm.vocab import RDF_LANGSTRING


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
