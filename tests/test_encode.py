"""``rdf2mm encode``: round trip of every term, literal tensors, options, CLI, atomic output."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from rdf2mm.cli import app
from rdf2mm.encoding import NODE_TYPES, encode, load_encoded
from rdf2mm.errors import InputError, UsageError
from rdf2mm.modalities.registry import get_modality

XSD = "http://www.w3.org/2001/XMLSchema#"

# Every kind of term, escapes and corner cases; the same literal occurs twice (split vs
# merged), one lexical form with three datatypes/languages, an ill-typed number, a
# self-referencing triple, a duplicate triple, blank nodes as subject and object.
NTRIPLES = r"""
<http://ex.org/a> <http://ex.org/p> <http://ex.org/b> .
<http://ex.org/a> <http://ex.org/p> <http://ex.org/b> .
<http://ex.org/a> <http://ex.org/p> <http://ex.org/a> .
<http://ex.org/a> <http://ex.org/knows> _:b1 .
_:b1 <http://ex.org/name> "Blank \"quoted\"\nnew line\ttab" .
_:b1 <http://ex.org/knows> _:b2 .
<http://ex.org/b> <http://ex.org/label> "chat"@fr .
<http://ex.org/b> <http://ex.org/label> "chat"@en-GB .
<http://ex.org/b> <http://ex.org/label> "chat" .
<http://ex.org/a> <http://ex.org/label> "chat" .
<http://ex.org/a> <http://ex.org/age> "42"^^<http://www.w3.org/2001/XMLSchema#integer> .
<http://ex.org/b> <http://ex.org/age> "42"^^<http://www.w3.org/2001/XMLSchema#integer> .
<http://ex.org/b> <http://ex.org/age> "forty"^^<http://www.w3.org/2001/XMLSchema#integer> .
<http://ex.org/a> <http://ex.org/born> "1999-12-31"^^<http://www.w3.org/2001/XMLSchema#date> .
<http://ex.org/a> <http://ex.org/odd> "x y"^^<http://ex.org/dt#custom> .
<http://ex.org/caf\u00E9> <http://ex.org/emoji> "smile \U0001F600 caf\u00E9" .
<http://ex.org/a> <http://ex.org/flag> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> .
<http://ex.org/a> <http://ex.org/empty> "" .
"""

TURTLE = """
@prefix ex: <http://ex.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:a ex:knows [ ex:name "anon"@en ; ex:knows [ ex:age 7 ] ] ;
     ex:height 1.85 ; ex:when "2020-01-01T10:00:00Z"^^xsd:dateTime .
[] ex:knows ex:a .
"""


def _literal(lexical: str, datatype: str, language: str) -> ox.Literal:
    return ox.Literal(lexical, language=language) if language else ox.Literal(lexical, datatype=ox.NamedNode(datatype))


def _term(text: str) -> ox.NamedNode | ox.BlankNode:
    return ox.BlankNode(text[2:]) if text.startswith("_:") else ox.NamedNode(text[1:-1])


def reconstruct(folder: Path) -> list[ox.Triple]:
    """The RDF triples an encode output stands for, from its edges and vocabularies only."""
    f = load_encoded(folder)
    entities = f.entities.column("term").to_pylist()
    lits = f.literals.to_pydict()
    rel = f.relations.to_pydict()
    E = len(entities)
    src, dst = f.graph["edge_index"]
    node_literal = f.graph["node_literal"]
    triples = []
    for s, t, o in zip(src.tolist(), f.graph["edge_type"].tolist(), dst.tolist()):
        if rel["direction"][t] != "forward":
            continue
        if o < E:
            obj = _term(entities[o])
        else:
            k = int(node_literal[o - E])
            obj = _literal(lits["lexical"][k], lits["datatype"][k], lits["language"][k])
        triples.append(ox.Triple(_term(entities[s]), ox.NamedNode(rel["predicate"][t]), obj))
    return triples


def _as_set(triples: list[ox.Triple]) -> set[str]:
    return {str(t) for t in triples}


def _canonical(triples: list[ox.Triple]) -> set[str]:
    ds = ox.Dataset([ox.Quad(t.subject, t.predicate, t.object) for t in triples])
    ds.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return {str(q) for q in ds}


@pytest.fixture
def nt_file(tmp_path: Path) -> Path:
    path = tmp_path / "terms.nt"
    path.write_text(NTRIPLES.strip() + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("literals", ["split", "merged"])
@pytest.mark.parametrize("inverse,self_loops", [(True, False), (False, True)])
def test_round_trip_gives_back_exactly_the_input_terms(nt_file, tmp_path, literals, inverse, self_loops):
    out = tmp_path / "enc"
    encode(nt_file, out, literals=literals, inverse=inverse, self_loops=self_loops)
    expected = [q.triple for q in ox.parse(path=str(nt_file), format=ox.RdfFormat.N_TRIPLES)]
    got = reconstruct(out)
    assert _as_set(got) == _as_set(expected)
    assert len(got) == len(set(_as_set(got)))  # no triple encoded twice (the duplicate line is dropped)

    f = load_encoded(out)
    m = f.manifest
    M = len(got)
    rel = f.relations.to_pydict()
    n_self = m["counts"]["nodes"] if self_loops else 0
    assert m["counts"]["edges"] == (2 * M if inverse else M) + n_self
    assert ("self" in rel["direction"]) == self_loops
    # "chat" is one literal, used by a and b: one node merged, two split
    lex = f.literals.column("lexical").to_pylist()
    dts = f.literals.column("datatype").to_pylist()
    chat = [i for i, (x, d) in enumerate(zip(lex, dts)) if x == "chat" and d == XSD + "string"]
    assert len(chat) == 1
    nodes_of_chat = int((f.graph["node_literal"] == chat[0]).sum())
    assert nodes_of_chat == (1 if literals == "merged" else 2)


def test_inverse_edges_mirror_forward_edges(nt_file, tmp_path):
    encode(nt_file, tmp_path / "enc", self_loops=True)
    f = load_encoded(tmp_path / "enc")
    rel = f.relations.to_pydict()
    (src, dst), typ = f.graph["edge_index"], f.graph["edge_type"]
    direction = np.array(rel["direction"])[typ]
    fwd = {(s, rel["predicate"][t], d) for s, t, d in zip(src[direction == "forward"], typ[direction == "forward"], dst[direction == "forward"])}
    inv = {(d, rel["predicate"][t], s) for s, t, d in zip(src[direction == "inverse"], typ[direction == "inverse"], dst[direction == "inverse"])}
    assert fwd == inv
    loops = direction == "self"
    assert np.array_equal(np.sort(src[loops]), np.arange(f.manifest["counts"]["nodes"]))
    assert np.array_equal(src[loops], dst[loops])


def test_round_trip_turtle_with_anonymous_blank_nodes(tmp_path):
    path = tmp_path / "anon.ttl"
    path.write_text(TURTLE, encoding="utf-8")
    encode(path, tmp_path / "enc", literals="merged")
    expected = [q.triple for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)]
    got = reconstruct(tmp_path / "enc")
    assert len(got) == len(expected)
    # blank node labels are the parser's own; compare up to relabelling
    assert _canonical(got) == _canonical(expected)


def test_literal_tensors_are_the_parsed_literals(nt_file, tmp_path):
    encode(nt_file, tmp_path / "enc")
    f = load_encoded(tmp_path / "enc")
    lex = f.literals.column("lexical").to_pylist()
    dts = f.literals.column("datatype").to_pylist()
    langs = f.literals.column("language").to_pylist()
    E = f.manifest["counts"]["entities"]
    node_type = f.graph["node_type"]
    assert {"numeric", "temporal", "textual", "boolean"} <= set(f.modalities)
    for name, t in f.modalities.items():
        entry = f.manifest["modalities"][name]
        assert list(t["data"].shape) == entry["tensors"]["data"]["shape"]
        # every encoded node points at a valid row of the literal it stands for
        assert np.array_equal(f.graph["node_literal"][t["node_index"] - E], t["literal_ids"][t["node_row"]])
        assert t["valid"][t["node_row"]].all()
        assert (node_type[t["node_index"]] == NODE_TYPES.index(name)).all()
        if name == "textual":
            continue  # the character vocabulary depends on all strings parsed together
        ids = t["literal_ids"].tolist()
        again = get_modality(name).parse([lex[i] for i in ids], [dts[i] for i in ids])
        np.testing.assert_array_equal(again.valid, t["valid"])
        if name != "numeric":  # numbers are scaled per predicate group
            np.testing.assert_array_equal(again.data, t["data"])
    # the ill-typed integer is reported and stays a plain literal node
    report = f.manifest["datatypes"][XSD + "integer"]
    assert report["ill_typed"] == 1
    forty = lex.index("forty")
    node = E + int(np.flatnonzero(f.graph["node_literal"] == forty)[0])
    assert NODE_TYPES[node_type[node]] == "literal"
    assert langs[lex.index("chat")] in ("", "fr", "en-gb", "en-GB")


@pytest.mark.parametrize(
    "options,modalities,literal_nodes",
    [
        ({"literals": "none"}, set(), 0),
        ({"modalities": "none"}, set(), 13),
        ({"modalities": "numeric,boolean", "literals": "merged"}, {"numeric", "boolean"}, 11),
    ],
)
def test_options_select_what_is_encoded(nt_file, tmp_path, options, modalities, literal_nodes):
    enc = encode(nt_file, tmp_path / "enc", **options)
    f = load_encoded(tmp_path / "enc")
    assert set(f.modalities) == modalities
    assert f.manifest["counts"]["literal_nodes"] == literal_nodes == enc.mg.num_literal_nodes
    assert (tmp_path / "enc" / "modalities").exists() == bool(modalities)
    assert f.manifest["options"]["modalities"] == options.get("modalities", "all")


def test_output_is_deterministic(nt_file, tmp_path):
    encode(nt_file, tmp_path / "one")
    encode(nt_file, tmp_path / "two", cache=False)
    for name in ("graph.safetensors", "modalities/textual.safetensors"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    one = json.loads((tmp_path / "one" / "manifest.json").read_text())
    two = json.loads((tmp_path / "two" / "manifest.json").read_text())
    one["stats"].pop("fast_path_skipped", None), two["stats"].pop("fast_path_skipped", None)
    assert one == two


def test_existing_output_is_protected(nt_file, tmp_path):
    out = tmp_path / "enc"
    encode(nt_file, out, modalities="none")
    # the message names the Python argument (and the CLI flag)
    with pytest.raises(UsageError, match=r"pass overwrite=True \(on the command line: rdf2mm encode --overwrite\)"):
        encode(nt_file, out)
    encode(nt_file, out, modalities="numeric", overwrite=True)
    assert set(load_encoded(out).modalities) == {"numeric"}
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("...")
    with pytest.raises(UsageError, match="not an rdf2mm encode output"):
        encode(nt_file, other, overwrite=True)
    assert (other / "thesis.tex").read_text() == "..."


def test_failed_write_leaves_no_output(nt_file, tmp_path, monkeypatch):
    import rdf2mm.encoding.files as mod

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(mod, "_write_files", boom)
    with pytest.raises(RuntimeError):
        encode(nt_file, tmp_path / "enc")
    assert list(tmp_path.iterdir()) == [nt_file]


def test_load_encoded_refuses_other_folders(tmp_path):
    with pytest.raises(InputError, match="manifest"):
        load_encoded(tmp_path)


# ----------------------------------------------------------------------- CLI
def test_cli_json_prints_the_manifest(nt_file, tmp_path):
    out = tmp_path / "enc"
    result = CliRunner().invoke(app, ["encode", str(nt_file), "-o", str(out), "--literals", "merged", "--no-inverse",
                                      "--self-loops", "-m", "numeric,textual", "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["options"] == {"modalities": "numeric,textual", "literals": "merged", "inverse": False,
                                   "self_loops": True, "text_encoder": "charcnn", "modality_map": None,
                                   "image_encoder": "mobilenet"}
    assert set(manifest["modalities"]) == {"numeric", "textual"}


def test_cli_modality_map_moves_a_datatype(nt_file, tmp_path):
    mapping = tmp_path / "map.toml"
    mapping.write_text('[datatypes]\n"<http://ex.org/dt#custom>" = "textual"\n"xsd:boolean" = "other"\n')
    out = tmp_path / "enc"
    result = CliRunner().invoke(app, ["encode", str(nt_file), "-o", str(out), "--modality-map", str(mapping), "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert "boolean" not in manifest["modalities"]
    assert "http://ex.org/dt#custom" in manifest["modalities"]["textual"]["datatypes"]
    assert manifest["options"]["modality_map"] == str(mapping)


@pytest.mark.parametrize(
    "args,code",
    [
        (["--literals", "sometimes"], 2),
        (["--modalities", "smell"], 2),
        (["--text-encoder", "bert"], 2),
        (["--as", "csv"], 2),
        (["--hetero"], 2),
    ],
)
def test_cli_bad_options(nt_file, tmp_path, args, code):
    result = CliRunner().invoke(app, ["encode", str(nt_file), "-o", str(tmp_path / "enc"), *args])
    assert result.exit_code == code, result.output
    assert not (tmp_path / "enc").exists()


def test_cli_missing_and_malformed_input(tmp_path):
    bad = tmp_path / "bad.nt"
    bad.write_text("<http://ex.org/a> <http://ex.org/p> .\n")
    for path in (tmp_path / "absent.nt", bad):
        result = CliRunner().invoke(app, ["encode", str(path), "-o", str(tmp_path / "enc")])
        assert result.exit_code == 3, result.output
    assert not (tmp_path / "enc").exists()
