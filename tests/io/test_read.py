"""The streaming reader: formats, compression, folders, stdin, stores, errors, fingerprints."""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from rdf2mm.errors import InputError
from rdf2mm.io.formats import format_from_path, resolve_format
from rdf2mm.io.read import describe_sources, fingerprint, read_quads

EX = "http://example.org/"

TURTLE = f"""
@prefix ex: <{EX}> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:a ex:knows ex:b , _:x .
ex:a ex:age "42"^^xsd:integer .
ex:a ex:name "Ann"@en , "say \\"hi\\"\\nthere" .
_:x ex:name "X" .
ex:b a ex:Person .
"""
N_TRIPLES_IN_TURTLE = 7


def triples(quads) -> set[tuple[str, str, str]]:
    """Triples as N-Triples strings, blank nodes renamed to _:B (the graph has only one)."""
    out = set()
    for q in quads:
        terms = [q.subject, q.predicate, q.object]
        out.add(tuple("_:B" if isinstance(t, ox.BlankNode) else str(t) for t in terms))
    return out


@pytest.fixture(scope="module")
def expected() -> set[tuple[str, str, str]]:
    return triples(ox.parse(TURTLE.encode(), format=ox.RdfFormat.TURTLE))


def rdflib_graph() -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(data=TURTLE, format="turtle")
    return g


def write_serialized(path: Path, rdflib_format: str) -> Path:
    if rdflib_format in ("nquads", "trig"):
        ds = rdflib.Dataset()
        named = ds.graph(rdflib.URIRef(EX + "g1"))
        for t in rdflib_graph():
            named.add(t)
        path.write_bytes(ds.serialize(format=rdflib_format, encoding="utf-8"))
    else:
        path.write_bytes(rdflib_graph().serialize(format=rdflib_format, encoding="utf-8"))
    return path


@pytest.mark.parametrize(
    "name, rdflib_format",
    [
        ("g.ttl", "turtle"),
        ("g.nt", "nt"),
        ("g.nq", "nquads"),
        ("g.trig", "trig"),
        ("g.rdf", "xml"),
        ("g.owl", "xml"),
        ("g.xml", "xml"),
        ("g.jsonld", "json-ld"),
        ("g.json", "json-ld"),
        ("g.n3", "n3"),
        ("G.TTL", "turtle"),  # extensions are case-insensitive
    ],
)
def test_every_format_reads_the_same_triples(tmp_path, expected, name, rdflib_format):
    path = write_serialized(tmp_path / name, rdflib_format)
    assert triples(read_quads([path])) == expected
    assert len(expected) == N_TRIPLES_IN_TURTLE


@pytest.mark.parametrize(
    "name, opener, rdflib_format, compression",
    [
        ("g.nt.gz", gzip.open, "nt", "gzip"),
        ("g.ttl.bz2", bz2.open, "turtle", "bz2"),
        ("g.nq.xz", lzma.open, "nquads", "xz"),
        ("g.rdf.GZ", gzip.open, "xml", "gzip"),
    ],
)
def test_compressed_files(tmp_path, expected, name, opener, rdflib_format, compression):
    plain = write_serialized(tmp_path / "plain", rdflib_format)
    with opener(tmp_path / name, "wb") as f:
        f.write(plain.read_bytes())
    (info,) = describe_sources([tmp_path / name])
    assert (info.kind, info.compression) == ("file", compression)
    assert triples(read_quads([tmp_path / name])) == expected


def test_named_graphs_are_merged(tmp_path):
    path = tmp_path / "d.nq"
    path.write_text(
        f"<{EX}a> <{EX}p> <{EX}b> <{EX}g1> .\n"
        f"<{EX}a> <{EX}p> <{EX}c> <{EX}g2> .\n"
        f"<{EX}a> <{EX}p> <{EX}d> .\n"
    )
    objects = {q.object.value for q in read_quads([path])}
    assert objects == {EX + "b", EX + "c", EX + "d"}


def test_relative_iris_use_the_file_uri_or_the_given_base(tmp_path):
    path = tmp_path / "rel.ttl"
    path.write_text("<a> <p> <b> .\n")
    (q,) = read_quads([path])
    assert q.subject.value == (tmp_path / "a").resolve().as_uri()
    (q,) = read_quads([path], base_iri=EX)
    assert q.subject.value == EX + "a"


def test_directory_is_read_recursively_sorted_and_skips_unknown_files(tmp_path):
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "b.nt").write_text(f"<{EX}b> <{EX}p> <{EX}o> .\n")
    (root / "sub" / "a.ttl").write_text(f"<{EX}a> <{EX}p> <{EX}o> .\n")
    with gzip.open(root / "c.nt.gz", "wt") as f:
        f.write(f"<{EX}c> <{EX}p> <{EX}o> .\n")
    (root / "README.md").write_text("# not RDF\n")
    (root / ".hidden.ttl").write_text("garbage")
    infos = describe_sources([root])
    assert [Path(i.location).name for i in infos] == ["b.nt", "c.nt.gz", "a.ttl"]
    assert all(i.origin == str(root) for i in infos)
    notes = " ".join(n for i in infos for n in i.notes)
    assert "README.md" in notes and ".hidden.ttl" in notes
    assert [q.subject.value for q in read_quads([root])] == [EX + "b", EX + "c", EX + "a"]


def test_folder_without_rdf_files_is_an_input_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="no RDF files"):
        describe_sources([tmp_path])


def test_several_files_keep_blank_nodes_apart(tmp_path):
    for name in ("one.nt", "two.nt"):
        (tmp_path / name).write_text(f"_:b <{EX}p> <{EX}o> .\n")
    quads = list(read_quads([tmp_path / "one.nt", tmp_path / "two.nt"]))
    assert len(quads) == 2
    assert quads[0].subject != quads[1].subject
    # ... and deterministically so (reproducible node names between runs)
    again = list(read_quads([tmp_path / "one.nt", tmp_path / "two.nt"]))
    assert [q.subject for q in again] == [q.subject for q in quads]


class _Stdin:
    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)


def test_stdin_needs_a_format(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Stdin(b""))
    with pytest.raises(InputError, match="--format"):
        list(read_quads(["-"]))


@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress, lzma.compress])
def test_stdin(monkeypatch, expected, compress):
    data = TURTLE.encode()
    monkeypatch.setattr(sys, "stdin", _Stdin(compress(data) if compress else data))
    (info,) = describe_sources(["-"], format="ttl")
    assert (info.kind, info.format) == ("stdin", "turtle")
    assert triples(read_quads(["-"], format="turtle")) == expected


def test_stdin_syntax_error_is_named(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Stdin(b"<http://a> <http://b> <http://c> .\n<http://a> oops\n"))
    with pytest.raises(InputError, match=r"<stdin>:2:"):
        list(read_quads(["-"], format="nt"))


def test_store_directory(tmp_path):
    store_dir = tmp_path / "store"
    store = ox.Store(str(store_dir))
    store.add(ox.Quad(ox.NamedNode(EX + "a"), ox.NamedNode(EX + "p"), ox.Literal("x")))
    store.add(ox.Quad(ox.NamedNode(EX + "a"), ox.NamedNode(EX + "p"), ox.NamedNode(EX + "b"), ox.NamedNode(EX + "g")))
    store.flush()
    del store
    (info,) = describe_sources([store_dir])
    assert info.kind == "store" and info.size and info.size > 0
    got = {(q.subject.value, q.predicate.value, q.object.value) for q in read_quads([store_dir])}
    assert got == {(EX + "a", EX + "p", "x"), (EX + "a", EX + "p", EX + "b")}
    assert fingerprint([store_dir]) == fingerprint([store_dir])


def test_syntax_error_names_file_and_line_and_stops_the_read(tmp_path):
    path = tmp_path / "bad.ttl"
    path.write_text(f"<{EX}a> <{EX}p> <{EX}b> .\n\n<{EX}a> <{EX}p> \"unterminated .\n")
    seen = []
    with pytest.raises(InputError) as err:
        for q in read_quads([path]):
            seen.append(q)
    assert len(seen) == 1  # what came before the error was streamed, then the run stops
    msg = err.value.message
    assert msg.startswith(f"{path}:3:")
    assert "\n" not in msg


def test_syntax_error_in_compressed_file_has_decompressed_line(tmp_path):
    path = tmp_path / "bad.nt.gz"
    with gzip.open(path, "wt") as f:
        f.write(f"<{EX}a> <{EX}p> <{EX}b> .\n" * 4 + "not a triple\n")
    with pytest.raises(InputError, match=r"bad\.nt\.gz:5:"):
        list(read_quads([path]))


def test_truncated_gzip_is_an_input_error(tmp_path):
    path = tmp_path / "cut.nt.gz"
    path.write_bytes(gzip.compress(f"<{EX}a> <{EX}p> <{EX}b> .\n".encode() * 500)[:-20])
    with pytest.raises(InputError, match="cut.nt.gz"):
        list(read_quads([path]))
    path.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="cut.nt.gz"):
        list(read_quads([path]))


def test_unknown_extension_needs_format(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text(f"<{EX}a> <{EX}p> <{EX}b> .\n")
    with pytest.raises(InputError, match=r"data\.txt.*--format"):
        list(read_quads([path]))
    assert len(list(read_quads([path], format="n-triples"))) == 1


def test_unknown_format_name_lists_known_ones(tmp_path):
    path = tmp_path / "g.ttl"
    path.write_text("")
    with pytest.raises(InputError, match="unknown RDF format 'yaml'.*turtle"):
        list(read_quads([path], format="yaml"))


@pytest.mark.parametrize(
    "name, canonical",
    [("turtle", "turtle"), ("TTL", "turtle"), ("nt", "ntriples"), ("N-Triples", "ntriples"),
     ("ntriples", "ntriples"), ("nquads", "nquads"), ("trig", "trig"), ("xml", "rdfxml"),
     ("rdfxml", "rdfxml"), ("jsonld", "jsonld"), ("n3", "n3"), ("text/turtle; charset=utf-8", "turtle")],
)
def test_format_names(name, canonical):
    assert resolve_format(name) == canonical


def test_format_from_path_skips_compression():
    assert format_from_path("x/a.NT.gz") == "ntriples"
    assert format_from_path("a.tar.gz") is None


def test_missing_file_fails_at_the_call(tmp_path):
    with pytest.raises(InputError, match="nope.ttl"):
        read_quads([tmp_path / "nope.ttl"])  # before any iteration


def test_unreadable_file(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root can read anything")
    path = tmp_path / "secret.ttl"
    path.write_text("")
    path.chmod(0)
    with pytest.raises(InputError, match="secret.ttl"):
        list(read_quads([path]))


# ------------------------------------------------------------------ RDF/XML entities
RDF_HEAD = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex/">'
# Five levels (3e5 characters) rather than nine: the shape is what matters, and a
# broken pre-scan then fails this test instead of exhausting the machine's memory.
BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
{RDF_HEAD}<rdf:Description rdf:about="http://ex/s"><ex:p>&lol5;</ex:p></rdf:Description></rdf:RDF>
"""


def external_entity(target: Path) -> str:
    return f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "{target.as_uri()}"> ]>
{RDF_HEAD}<rdf:Description rdf:about="http://ex/s"><ex:p>&x;</ex:p></rdf:Description></rdf:RDF>
"""


def test_pyoxigraph_expands_internal_entities():
    """Why the pre-scan exists: a small amplification is expanded by pyoxigraph itself."""
    doc = f"""<?xml version="1.0"?><!DOCTYPE rdf:RDF [ <!ENTITY a "aaaa"> <!ENTITY b "&a;&a;&a;"> ]>
{RDF_HEAD}<rdf:Description rdf:about="http://ex/s"><ex:p>&b;</ex:p></rdf:Description></rdf:RDF>"""
    (q,) = ox.parse(doc.encode(), format=ox.RdfFormat.RDF_XML)
    assert q.object.value == "a" * 12


def test_billion_laughs_is_refused(tmp_path):
    path = tmp_path / "bomb.rdf"
    path.write_text(BILLION_LAUGHS)
    with pytest.raises(InputError, match=r"bomb\.rdf.*ENTITY"):
        list(read_quads([path]))


def test_external_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    path = tmp_path / "xxe.owl"
    path.write_text(external_entity(secret))
    with pytest.raises(InputError, match=r"xxe\.owl.*ENTITY"):
        list(read_quads([path]))


def test_entities_hidden_behind_a_quoted_lt_or_comment_are_refused(tmp_path):
    path = tmp_path / "trick.rdf.gz"
    doc = (
        '<?xml version="1.0"?><!-- <x> --><!DOCTYPE rdf:RDF SYSTEM "><a" [ <!-- ] > <b --> '
        '<!ENTITY a "aaa"> ]>\n'
        f'{RDF_HEAD}<rdf:Description rdf:about="http://ex/s"><ex:p>&a;</ex:p></rdf:Description></rdf:RDF>'
    )
    path.write_bytes(gzip.compress(doc.encode()))
    with pytest.raises(InputError, match="ENTITY"):
        list(read_quads([path]))


def test_entities_on_stdin_are_refused(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Stdin(BILLION_LAUGHS.encode()))
    with pytest.raises(InputError, match="ENTITY"):
        list(read_quads(["-"], format="xml"))


def test_plain_rdfxml_with_doctype_but_no_entities_is_read(tmp_path, monkeypatch):
    doc = (
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF>\n<!-- a comment -->\n'
        f'{RDF_HEAD}<rdf:Description rdf:about="http://ex/s"><ex:p>v &amp; w</ex:p></rdf:Description>'
        "<!-- <!ENTITY after the root is just text in a comment --></rdf:RDF>"
    )
    path = tmp_path / "ok.rdf"
    path.write_text(doc)
    (q,) = read_quads([path])
    assert q.object.value == "v & w"
    monkeypatch.setattr(sys, "stdin", _Stdin(doc.encode()))
    (q,) = read_quads(["-"], format="rdfxml")
    assert q.object.value == "v & w"


# ------------------------------------------------------------------ describe / fingerprint
def test_describe_sources_kinds(tmp_path):
    path = tmp_path / "g.ttl"
    path.write_text(TURTLE)
    infos = describe_sources([path, "-", "http://127.0.0.1:1/sparql"], format="turtle")
    assert [i.kind for i in infos] == ["file", "stdin", "sparql"]
    assert infos[0].size == path.stat().st_size and infos[0].path == path
    assert infos[2].url == "http://127.0.0.1:1/sparql" and infos[2].format is None


def test_stdin_only_once():
    with pytest.raises(InputError, match="once"):
        describe_sources(["-", "-"], format="nt")


def test_fingerprint(tmp_path):
    a = tmp_path / "a.nt"
    a.write_text(f"<{EX}a> <{EX}p> <{EX}b> .\n")
    b = tmp_path / "copy" / "b.nt"
    b.parent.mkdir()
    b.write_bytes(a.read_bytes())
    fp = fingerprint([a])
    assert fp is not None and len(fp) == 64
    assert fingerprint([b]) == fp  # content, not location
    assert fingerprint([a], format="turtle") != fp  # read differently
    assert fingerprint([a, b]) != fp  # two sources are not one
    a.write_text(f"<{EX}a> <{EX}p> <{EX}c> .\n")
    assert fingerprint([a]) != fp
    assert fingerprint(["-"], format="nt") is None
    assert fingerprint([a, "http://127.0.0.1:1/sparql"]) is None
