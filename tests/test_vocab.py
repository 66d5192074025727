"""The vocabulary parses, ships with the package, and defines every r2m: term an export emits."""
from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import rdflib

from rdf2mm import vocab as V
from rdf2mm.export import export_run
from tests.test_export import get_trained_run, make_fake_run

ROOT = Path(__file__).resolve().parents[1]
RDF_TYPE = V.RDF + "type"


def _defs() -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for q in ox.parse(path=str(ROOT / "vocab" / "rdf2mm.ttl")):
        out.setdefault(q.subject.value, {}).setdefault(q.predicate.value, set()).add(q.object.value)
    return out


def _r2m_terms(path: Path) -> set[str]:
    terms = set()
    for q in ox.parse(path=str(path)):
        for t in (q.subject, q.predicate, q.object, getattr(q.object, "datatype", None)):
            if isinstance(t, ox.NamedNode) and t.value.startswith(V.R2M):
                terms.add(t.value)
    return terms


def test_vocab_is_valid_turtle_for_both_parsers_and_shipped_identically():
    g = rdflib.Graph().parse(ROOT / "vocab" / "rdf2mm.ttl", format="turtle")
    assert len(g) > 100
    # one real file: the package data is a relative link to the published vocabulary
    # (setuptools copies the linked content into wheels and sdists)
    shipped = ROOT / "rdf2mm" / "data" / "rdf2mm.ttl"
    assert shipped.is_symlink() and shipped.resolve() == (ROOT / "vocab" / "rdf2mm.ttl").resolve()
    assert V.vocab_path().read_bytes() == (ROOT / "vocab" / "rdf2mm.ttl").read_bytes()


def test_every_constant_is_defined():
    defs = _defs()
    consts = {v for k, v in vars(V).items() if isinstance(v, str) and v.startswith(V.R2M) and v != V.R2M}
    assert len(consts) > 30
    assert consts <= set(defs), sorted(consts - set(defs))


def test_every_r2m_term_an_export_emits_is_defined(tmp_path, tmp_path_factory):
    emitted = set()
    fake = make_fake_run(tmp_path / "fake")  # every optional part: link predictions, ranks, relations
    for run, vectors in ((fake, "tensor"), (fake, "base64"), (get_trained_run(tmp_path_factory), "tensor")):
        out = tmp_path / f"{run.name}-{vectors}"
        export_run(run, "nq", out, vectors=vectors)
        emitted |= _r2m_terms(out / "run.nq")
    for needed in (V.Prediction, V.LinkPrediction, V.RankedTriple, V.base64Float32, V.relationEmbedding, V.rank):
        assert needed in emitted
    defs = _defs()
    missing = sorted(emitted - set(defs))
    assert not missing, f"emitted but not defined in vocab/rdf2mm.ttl: {missing}"
    for term in emitted:
        d = defs[term]
        assert d.get(RDF_TYPE), f"{term} has no rdf:type"
        assert d.get(V.RDFS + "label"), f"{term} has no rdfs:label"
        assert d.get(V.RDFS + "comment"), f"{term} has no rdfs:comment"
