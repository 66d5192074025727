"""The vectorised N-Triples / N-Quads reader builds exactly the generic builder's graph."""
from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdf2mm.errors import InputError
from rdf2mm.graph.build import GraphBuilder
from rdf2mm.graph.fast_ntriples import FastPathUnavailable, build_line_based, line_format, map_bytes, read_bytes
from rdf2mm.graph.ntriples_arrays import _SAFE_LITERAL_RE, SAFE_BNODE, SAFE_IRI, _match, _views
from rdf2mm.graph.ntriples_terms import _safe_literals
from rdf2mm.graph.knowledge_graph import KnowledgeGraph
from tests.conftest import shared

XSD = "http://www.w3.org/2001/XMLSchema#"

TRICKY_NT = (
    "# a comment line\n"
    "\n"
    "   \t\n"
    '<http://ex.org/a> <http://ex.org/name> "Ann" .\n'
    '<http://ex.org/a> <http://ex.org/name> "Ann"^^<http://www.w3.org/2001/XMLSchema#string> .\n'
    '<http://ex.org/a> <http://ex.org/name> "Ann"@EN .\n'
    '<http://ex.org/a> <http://ex.org/name> "Ann"@en .\n'
    '<http://ex.org/a> <http://ex.org/name> "Ann"@en-GB .\n'
    '<http://ex.org/a> <http://ex.org/name> "\\u0041nn" .\n'
    '<http://ex.org/a> <http://ex.org/note> "spaces  and # hash and > and \\"quotes\\" ." .\n'
    '<http://ex.org/a> <http://ex.org/note> "tab\\there\\nnew line \\\\ backslash" .\n'
    '<http://ex.org/a> <http://ex.org/note> "" .\n'
    '<http://ex.org/a> <http://ex.org/note> "x"^^<http://ex.org/dt> . # trailing comment\n'
    '<http://ex.org/a>\t<http://ex.org/note>\t"tabbed"\t.\n'
    '<http://ex.org/a>   <http://ex.org/note>    "many spaces"   .   \n'
    '<http://ex.org/a> <http://ex.org/note>  "two spaces before the object" .\n'
    "<http://ex.org/a><http://ex.org/knows><http://ex.org/b>.\n"
    "<http://ex.org/a> <http://ex.org/knows> <http://ex.org/b> .\n"
    "<http://ex.org/a> <http://ex.org/knows> <http://ex.org/b> .\n"
    "<http://ex.org/\\u0062> <http://ex.org/knows> <http://ex.org/a> .\n"
    "<http://ex.org/a> <http://ex.org/kn\\u006Fws> _:b1.\n"
    "_:b1 <http://ex.org/knows> _:b.2 .\n"
    "_:b.2 <http://ex.org/knows> _:b-3 .\n"
    '<http://ex.org/caf\u00e9> <http://ex.org/name> "caf\u00e9 \U0001F600"@fr .\n'
    '<http://ex.org/a> <http://ex.org/age> "42"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
    '<http://ex.org/b> <http://ex.org/age> "042"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
    '<http://ex.org/b> <http://ex.org/age> "abc"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
    '<http://ex.org/b> <http://ex.org/w> "1.5E3"^^<http://www.w3.org/2001/XMLSchema#double> .\n'
    '<http://ex.org/b> <http://ex.org/d> "2020-01-02"^^<http://www.w3.org/2001/XMLSchema#date> .\n'
    '<http://ex.org/b> <http://ex.org/y> "1999"^^<http://www.w3.org/2001/XMLSchema#gYear> .\n'
    '<http://ex.org/b> <http://ex.org/t> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> .\n'
    '<http://ex.org/b> <http://ex.org/g> "POINT (1 2)"^^<http://www.opengis.net/ont/geosparql#wktLiteral> .\n'
    '<http://ex.org/b> <http://ex.org/img> "iVBORw0KGgo="^^<http://kgbench.info/dt#base64Image> .\n'
    '<http://ex.org/b> <http://ex.org/i> "7"^^<http://www.w3.org/2001/XMLSchema#\\u0069nteger> .\n'
    '<http://ex.org/b> <http://ex.org/i> "7"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
    "<http://ex.org/p?q=1&r=%20#frag> <http://ex.org/k> <urn:isbn:0451450523> .\n"
    "<http://user@ex.org:8080/x> <http://ex.org/k> <x:> .\n"
    "<http://ex.org/a> <http://ex.org/k> <http://ex.org/a> .\r\n"
    '<http://ex.org/a> <http://ex.org/k> "crlf" .\r\n'
    '<http://ex.org/last> <http://ex.org/k> "no final newline" .'
)

TRICKY_NQ = (
    "<http://ex.org/a> <http://ex.org/k> <http://ex.org/b> <http://ex.org/g1> .\n"
    "<http://ex.org/a> <http://ex.org/k> <http://ex.org/b> <http://ex.org/g2> .\n"
    "<http://ex.org/a> <http://ex.org/k> <http://ex.org/b> .\n"
    '<http://ex.org/a> <http://ex.org/n> "lit <http://x> with graph-like text" <http://ex.org/g1> .\n'
    '<http://ex.org/a> <http://ex.org/n> "plain" _:g .\n'
    '<http://ex.org/a> <http://ex.org/n> "typed"^^<http://ex.org/dt> <http://ex.org/g1> .\n'
    '<http://ex.org/a> <http://ex.org/n> "tagged"@en _:g .\n'
    "_:x\t<http://ex.org/k>\t_:y\t<http://ex.org/g3>\t.\n"
    "_:x <http://ex.org/k> _:y _:g .\n"
    '<http://ex.org/a> <http://ex.org/n> "no graph" .\n'
)


# ------------------------------------------------------------------ helpers
def terms(kg: KnowledgeGraph) -> tuple[set, set]:
    """The graph as sets of triples over terms (ids are internal)."""
    e, r = kg.entities, kg.relations
    links = {(e[s], r[p], e[o]) for s, p, o in kg.edges.tolist()}
    lits = {(e[s], r[p], kg.literal_term(o)) for s, p, o in kg.literal_edges.tolist()}
    return links, lits


def generic(paths: list[Path]) -> KnowledgeGraph:
    builder = GraphBuilder()
    for path in paths:
        fmt = ox.RdfFormat.N_QUADS if line_format(path) == "nq" else ox.RdfFormat.N_TRIPLES
        builder.add_quads(ox.parse(read_bytes(path), format=fmt))
    return builder.build()


def fast(paths: list[Path]) -> KnowledgeGraph:
    return build_line_based(paths, [line_format(p) for p in paths])


def assert_same(paths: list[Path]) -> KnowledgeGraph:
    g, f = generic(paths), fast(paths)
    assert terms(f) == terms(g)
    # same identity: no term split or merged differently, no duplicate rows
    assert f.num_entities == g.num_entities
    assert f.num_literals == g.num_literals
    assert sorted(f.relations) == sorted(g.relations)
    assert sorted(f.datatypes) == sorted(g.datatypes)
    assert len(f.edges) == len(g.edges) and len(f.literal_edges) == len(g.literal_edges)
    assert f.stats["quads_read"] == g.stats["quads_read"]
    assert f.stats["duplicates_removed"] == g.stats["duplicates_removed"]
    assert f.literal_datatype.dtype == np.int32 and f.edges.dtype == np.int64
    return f


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# ------------------------------------------------------------------ equivalence
def test_tricky_ntriples_equal_generic(tmp_path):
    kg = assert_same([write(tmp_path, "t.nt", TRICKY_NT)])
    xsd_string = ("Ann", XSD + "string", "")
    lits = {kg.literal_term(i) for i in range(kg.num_literals)}
    # canonical identity: "Ann" = "Ann"^^xsd:string = "\u0041nn"; @EN = @en
    assert xsd_string in lits
    assert sum(t[0] == "Ann" for t in lits) == 3  # xsd:string, @en, @en-gb
    assert "<http://ex.org/b>" in kg.entities and "_:b1" in kg.entities
    assert "http://ex.org/knows" in kg.relations


def test_nquads_graphs_are_merged(tmp_path):
    kg = assert_same([write(tmp_path, "t.nq", TRICKY_NQ)])
    assert kg.stats["duplicates_removed"] == 3  # the same triple in three graphs, twice in two
    assert all("g1" not in e and "g3" not in e for e in kg.entities)


def test_blank_nodes_scoped_per_source(tmp_path):
    one = write(tmp_path, "a.nt", "_:x <http://p> <http://o> .\n_:x <http://p> \"v\" .\n")
    two = write(tmp_path, "b.nt", "_:x <http://p> <http://o> .\n<http://o> <http://p> _:x .\n")
    three = write(tmp_path, "c.nq", "_:x <http://p> _:y _:x .\n")
    kg = assert_same([one, two, three])
    assert {"_:x", "_:s1xx", "_:s2xx", "_:s2xy"} <= set(kg.entities)


def test_compressed_inputs(tmp_path):
    raw = TRICKY_NT.encode()
    for name, data in [("t.nt.gz", gzip.compress(raw)), ("t.nt.bz2", bz2.compress(raw)), ("t.nt.xz", lzma.compress(raw))]:
        assert_same([write(tmp_path, name, data)])


def test_empty_and_comment_only_files(tmp_path):
    kg = assert_same([write(tmp_path, "e.nt", "# nothing here\n\n")])
    assert kg.num_triples == 0
    assert fast([write(tmp_path, "z.nt", b"")]).num_triples == 0


def test_many_datatypes_and_duplicates_generated(tmp_path):
    rng = np.random.default_rng(1)
    dts = ["integer", "double", "decimal", "date", "dateTime", "gYear", "boolean", "anyURI", "string"]
    lines = []
    for i in range(3000):
        s = f"<http://ex.org/e{rng.integers(300)}>" if i % 7 else f"_:n{rng.integers(50)}"
        k = rng.integers(5)
        if k == 0:
            lines.append(f"{s} <http://ex.org/link> <http://ex.org/e{rng.integers(300)}> .")
        elif k == 1:
            lines.append(f'{s} <http://ex.org/v> "{rng.integers(20)}"^^<{XSD}{dts[rng.integers(len(dts))]}> .')
        elif k == 2:
            lines.append(f'{s} <http://ex.org/l> "w{rng.integers(30)}"@{["en", "EN", "nl", "en-us", "en-US"][rng.integers(5)]} .')
        elif k == 3:
            lines.append(f'{s} <http://ex.org/s> "w\\u00{rng.integers(40, 60)} x{rng.integers(9)}" .')
        else:
            lines.append(f'{s} <http://ex.org/s> "w{rng.integers(40, 60)} x{rng.integers(9)}" .')
    kg = assert_same([write(tmp_path, "g.nt", "\n".join(lines) + "\n")])
    assert kg.stats["duplicates_removed"] > 0


# ------------------------------------------------------------------ malformed input
MALFORMED = {
    "iri with a space": "<http://ex.org/a b> <http://ex.org/p> <http://ex.org/o> .",
    "missing final dot": "<http://ex.org/s> <http://ex.org/p> <http://ex.org/o>",
    "unterminated literal": '<http://ex.org/s> <http://ex.org/p> "abc .',
    "relative iri": "<s> <http://ex.org/p> <http://ex.org/o> .",
    "literal subject": '"s" <http://ex.org/p> <http://ex.org/o> .',
    "blank node predicate": "<http://ex.org/s> _:p <http://ex.org/o> .",
    "bad language tag": '<http://ex.org/s> <http://ex.org/p> "x"@abcdefghijk .',
    "bad percent encoding": "<http://ex.org/%zz> <http://ex.org/p> <http://ex.org/o> .",
    "bad escape": '<http://ex.org/s> <http://ex.org/p> "\\q" .',
    "graph term in n-triples": "<http://ex.org/s> <http://ex.org/p> <http://ex.org/o> <http://ex.org/g> .",
    "trailing garbage": "<http://ex.org/s> <http://ex.org/p> <http://ex.org/o> . junk",
    "two dots": "<http://ex.org/s> <http://ex.org/p> <http://ex.org/o> . .",
    "langString without tag": '<http://ex.org/s> <http://ex.org/p> "x"^^<http://www.w3.org/1999/02/22-rdf-syntax-ns#langString> .',
    "bad port": "<http://ex.org:80a/> <http://ex.org/p> <http://ex.org/o> .",
    "unbalanced angle": "<http://ex.org/s <http://ex.org/p> <http://ex.org/o> .",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_line_is_refused_with_file_and_line(tmp_path, case):
    good = "<http://ex.org/s> <http://ex.org/p> <http://ex.org/o> .\n"
    path = write(tmp_path, "bad.nt", good + good + MALFORMED[case] + "\n" + good)
    with pytest.raises(FastPathUnavailable):
        fast([path])
    from rdf2mm.graph.ingest import read_graph

    with pytest.raises(InputError) as err:
        read_graph([path], cache=False)
    # pyoxigraph's own message; a missing dot is noticed on the next line's first token
    assert err.value.message.startswith((f"{path}:3:", f"{path}:4:1:"))


def test_malformed_nquads_graph_and_bad_utf8(tmp_path):
    bad_graph = write(tmp_path, "g.nq", '<http://ex.org/s> <http://ex.org/p> <http://ex.org/o> "g" .\n')
    bad_utf8 = write(tmp_path, "u.nt", b'<http://ex.org/s> <http://ex.org/p> "\xff\xfe" .\n')
    for path in (bad_graph, bad_utf8):
        with pytest.raises(FastPathUnavailable):
            fast([path])
        from rdf2mm.graph.ingest import read_graph

        with pytest.raises(InputError) as err:
            read_graph([path], cache=False)
        assert f"{path}:1" in err.value.message


# ------------------------------------------------------------------ read_graph routing
def test_read_graph_takes_the_fast_path_and_caches(tmp_path, monkeypatch):
    from rdf2mm.graph.ingest import FAST_PATH_ENV, read_graph

    path = write(tmp_path, "t.nt.gz", gzip.compress(TRICKY_NT.encode()))
    kg, fp = read_graph([path])
    assert kg.stats["reader"] == "fast-ntriples" and kg.stats["cache"] == "miss"
    again, fp2 = read_graph([path])
    assert again.stats["cache"] == "hit" and fp2 == fp and terms(again) == terms(kg)
    monkeypatch.setenv(FAST_PATH_ENV, "0")
    slow, _ = read_graph([path], cache=False)
    assert slow.stats["reader"] == "pyoxigraph" and terms(slow) == terms(kg)


def test_read_graph_mixed_formats_use_generic_path(tmp_path):
    from rdf2mm.graph.ingest import read_graph

    nt = write(tmp_path, "a.nt", "_:x <http://p> <http://o> .\n")
    ttl = write(tmp_path, "b.ttl", "_:x <http://p> <http://o> .\n")
    kg, _ = read_graph([nt, ttl], cache=False)
    assert kg.stats["reader"] == "pyoxigraph"
    assert kg.num_entities == 3


def test_line_format():
    assert line_format("a.nt") == "nt" and line_format("a.NT.gz") == "nt" and line_format("x.nq.xz") == "nq"
    assert line_format("a.ttl") is None and line_format("a.gz") is None
    assert line_format("a.ttl", "ntriples") == "nt" and line_format("a.nt", "turtle") is None
    assert line_format("a", ox.RdfFormat.N_QUADS) == "nq"


# ------------------------------------------------------------------ internals
def test_string_views_near_the_end_of_the_buffer():
    data = b"0123456789abcdefghijklmnop"
    buf = np.frombuffer(data, np.uint8)
    starts = np.array([0, 0, 0, 3, 20, 25, 26, 14])
    lengths = np.array([0, 12, 13, 20, 6, 1, 0, 12])
    got = _views(buf, pa.py_buffer(data), starts, lengths).cast(pa.string()).to_pylist()
    assert got == [data[s : s + n].decode() for s, n in zip(starts, lengths)]


IRI_CHARS = st.sampled_from(list("ab:/?#%@[]!$&'()*+,;=-._~09AZ") + ["%2F", "%zz", "//", "é", "\\u0041", " "])


@settings(max_examples=300, deadline=None)
@given(st.lists(IRI_CHARS, max_size=12).map("".join), st.sampled_from(["http:", "x:", "", "1a:", "urn:a:"]))
def test_safe_iri_pattern_accepts_only_canonical_valid_iris(body, scheme):
    """Whatever the safe pattern accepts, pyoxigraph accepts unchanged (the converse need not hold)."""
    import re

    token = f"<{scheme}{body}>"
    if re.fullmatch(SAFE_IRI, token):
        quad = next(iter(ox.parse(input=f"{token} <http://p> {token} .".encode(), format=ox.RdfFormat.N_TRIPLES)))
        assert str(quad.subject) == token


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(list("aZ09_-.") + ["é", "\u00b7"]), min_size=1, max_size=6).map("".join))
def test_safe_blank_node_pattern(label):
    import re

    token = f"_:{label}"
    if re.fullmatch(SAFE_BNODE, token):
        quad = next(iter(ox.parse(input=f"{token} <http://p> <http://o> .".encode(), format=ox.RdfFormat.N_TRIPLES)))
        assert str(quad.subject) == token


TERMS = [
    "<http://ex.org/a>", "<http://ex.org/\\u0061>", "_:a", "_:b.c", '"a"', '"a"^^<http://www.w3.org/2001/XMLSchema#string>',
    '"\\u0061"', '"a"@en', '"a"@EN', '"a b"@en-US', '"a\\"b"', '"a#b > c"', '"1"^^<http://ex.org/dt>', '""',
]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2), st.integers(0, len(TERMS) - 1),
                          st.sampled_from([" ", "\t", "  "])), min_size=1, max_size=25))
def test_random_documents_equal_generic(tmp_path_factory, rows):
    subjects = ["<http://ex.org/a>", "<http://ex.org/\\u0061>", "_:a", "_:b.c", "<http://ex.org/s>"]
    preds = ["<http://ex.org/p>", "<http://ex.org/\\u0070>", "<http://ex.org/q>"]
    text = "".join(f"{subjects[s]}{ws}{preds[p]}{ws}{TERMS[o]} .\n" for s, p, o, ws in rows)
    assert_same([write(tmp_path_factory.mktemp("doc"), "d.nt", text)])


# ------------------------------------------------------------------ real data
@pytest.mark.shared_data
@pytest.mark.parametrize("parts", [("aifbplus", "aifbplus.nt.gz"), ("mutag", "mutag.nt.gz")])
def test_real_datasets_equal_generic(parts):
    kg = assert_same([shared(*parts)])
    assert kg.num_triples > 20_000


LITERAL_TOKENS = [
    '"a"', '""', '"a"@en', '"a"@EN-gb', '"a"^^<http://x/y>', '"a\\"b"', '"a"@', '"a"^^<\u00e9>', '"\u00e9"',
    '"a" "b"', '"a"@en-', '"a"x', 'x"a"', '"a"^^<http://x/\u00e9>', '"\\u0041"', '"a"^^<a>', '"a b c"@de',
    '"a"@1en', '"a"^^<http://x/y> .', '"a\\\\"', '"""', '"a"^^<http://x/"y>', '"ab"^^<http://x/y#z>',
]


@pytest.mark.parametrize("start", [0, 3, 7])
def test_safe_literal_scan_equals_the_pattern(start):
    tokens = pa.array(LITERAL_TOKENS, pa.large_string()).slice(start)
    safe, q, _ = _safe_literals(tokens)
    assert safe.tolist() == _match(tokens, _SAFE_LITERAL_RE).tolist()
    for tok, ok, n in zip(tokens.to_pylist(), safe, q):
        if ok:
            assert tok[0] == '"' and tok.encode()[n + 1 : n + 2] == b'"' and b'"' not in tok.encode()[1 : n + 1]


def test_map_bytes_equals_read_bytes(tmp_path):
    for name, data in [("a.nt", b"<x:a> <x:b> <x:c> .\n"), ("e.nt", b""), ("c.nt.gz", gzip.compress(b"<x:a> <x:b> <x:c> .\n"))]:
        (tmp_path / name).write_bytes(data)
        assert bytes(map_bytes(tmp_path / name)) == read_bytes(tmp_path / name)
