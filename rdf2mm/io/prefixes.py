"""Prefixed names (CURIEs): compacting IRIs for people, expanding what people type.

The prefixes are the graph's own (the ``@prefix``/``PREFIX`` lines of Turtle, TriG and
N3 files, the ``xmlns:`` declarations of RDF/XML, and a SPARQL query's ``PREFIX``
lines) over a table of common vocabularies. Human-facing tables and messages show
``ex:work3`` and ``xsd:gYear``; JSON output keeps full IRIs. Every option that takes an
IRI accepts a prefixed name too, and an unknown prefix is a one-line usage error.

Declarations are found by scanning the head of each file (the first
:data:`SCAN_BYTES`), not by a second parse: prefixes declared after that are missed,
which only costs compaction, never correctness.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from rdf2mm.errors import UsageError
from rdf2mm.vocab import GEO, KGB, MLS, PROV, R2M, RDF, RDFS, XSD

#: vocabularies common enough to compact without a declaration (a graph's own win)
COMMON_PREFIXES: dict[str, str] = {
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "schema": "http://schema.org/",
    "geo": GEO,
    "kgb": KGB,
    "prov": PROV,
    "mls": MLS,
    "r2m": R2M,
}

#: bytes read from the start of each file when looking for prefix declarations
SCAN_BYTES = 1 << 20

#: IRI schemes whose IRIs have no ``//`` and must not be read as prefixed names
_SCHEMES = ("urn", "mailto", "tag", "did", "data", "file", "http", "https")
_TURTLE = re.compile(rb"(?:@prefix|(?<![\w@])PREFIX)\s+([A-Za-z][\w.-]*)?\s*:\s*<([^<>\s]*)>", re.IGNORECASE)
_XMLNS = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=\s*[\"']([^\"']+)[\"']")
_LOCAL = re.compile(r"^[A-Za-z0-9_]([\w.-]*[\w-])?$|^$")
_NAME = re.compile(r"^[A-Za-z][\w.-]*$|^$")


class Prefixes:
    """A prefix -> namespace table that compacts IRIs and expands prefixed names."""

    def __init__(self, declared: Mapping[str, str] | None = None, common: bool = True) -> None:
        self.table: dict[str, str] = {**(COMMON_PREFIXES if common else {}), **(declared or {})}
        # longest namespace first, so ex: <http://a/b#> beats <http://a/>
        self._by_ns = sorted(((ns, name) for name, ns in self.table.items() if ns), key=lambda p: -len(p[0]))

    def __repr__(self) -> str:
        return f"Prefixes({len(self.table)} prefixes)"

    def with_declared(self, declared: Mapping[str, str]) -> Prefixes:
        """A copy with ``declared`` added (they win over existing names)."""
        return Prefixes({**self.table, **declared}, common=False)

    def compact(self, iri: str) -> str:
        """``ex:work3`` for an IRI in a known namespace, else the IRI itself (no ``<>``)."""
        iri = iri.strip()
        if iri.startswith("<") and iri.endswith(">"):
            iri = iri[1:-1]
        for ns, name in self._by_ns:
            if iri.startswith(ns) and _LOCAL.match(iri[len(ns):]):
                return f"{name}:{iri[len(ns):]}"
        return iri

    def compact_term(self, term: str) -> str:
        """An N-Triples term for people: IRIs and literal datatypes compacted, the rest as is."""
        term = str(term).strip()
        if term.startswith("<") and term.endswith(">"):
            return self.compact(term)
        if term.startswith('"') and "^^<" in term and term.endswith(">"):
            lexical, _, datatype = term.rpartition("^^")
            return f"{lexical}^^{self.compact(datatype)}"
        if "://" in term and not term.startswith(('"', "_:")) and " " not in term:
            return self.compact(term)
        return term

    def expand(self, text: str, what: str = "IRI") -> str:
        """The full IRI for ``<iri>``, an absolute IRI or a prefixed name ``ex:local``.

        Blank-node labels (``_:b0``) and names without a colon come back unchanged, so
        the caller's "not in the graph" message still names them. An undeclared prefix
        raises :class:`UsageError` listing the known ones.
        """
        text = text.strip()
        if text.startswith("<") and text.endswith(">"):
            return text[1:-1]
        if text.startswith("_:") or ":" not in text:
            return text
        prefix, _, local = text.partition(":")
        if prefix in self.table:
            return self.table[prefix] + local
        if local.startswith("//") or prefix.lower() in _SCHEMES or not _NAME.match(prefix):
            return text
        known = ", ".join(f"{p}:" for p in sorted(self.table) if p) or "none"
        raise UsageError(
            f"unknown prefix {prefix + ':'!r} in {what} {text!r}; known prefixes: {known} "
            f"(write the full IRI, e.g. <http://example.org/{local}>)"
        )

    def expand_all(self, texts: Iterable[str], what: str = "IRI") -> list[str]:
        return [self.expand(t, what) for t in texts]


def scan_declarations(head: bytes) -> dict[str, str]:
    """Prefix declarations found in the start of a Turtle/TriG/N3/SPARQL or RDF/XML text."""
    found: dict[str, str] = {}
    for name, ns in _TURTLE.findall(head):
        found.setdefault(name.decode("utf-8", "replace"), ns.decode("utf-8", "replace"))
    for name, ns in _XMLNS.findall(head):
        found.setdefault(name.decode("utf-8", "replace"), ns.decode("utf-8", "replace"))
    return found


def declared_prefixes(sources: Sequence[str | Path] | str | Path, format: str | None = None) -> dict[str, str]:
    """The prefixes the input files declare (first declaration of a name wins).

    Stores, endpoints, stdin and unreadable files contribute nothing: looking for
    prefixes never fails a command.
    """
    from rdf2mm.errors import Rdf2mmError
    from rdf2mm.io.formats import open_decompressed
    from rdf2mm.io.read import describe_sources

    if isinstance(sources, (str, Path)):
        sources = [sources]
    try:
        infos = describe_sources([s for s in sources if str(s) != "-"], format=format)
    except Rdf2mmError:
        return {}
    found: dict[str, str] = {}
    for info in infos:
        if info.kind != "file" or info.format in ("ntriples", "nquads", "jsonld"):
            continue
        try:
            with open_decompressed(Path(info.location), info.compression) as fh:
                head = fh.read(SCAN_BYTES)
        except (OSError, EOFError, ValueError):
            continue
        for name, ns in scan_declarations(head).items():
            found.setdefault(name, ns)
    return found


def prefixes_for(sources: Sequence[str | Path] | str | Path | None, format: str | None = None) -> Prefixes:
    """The common prefixes plus those ``sources`` declare."""
    return Prefixes(declared_prefixes(sources, format) if sources else {})


def run_prefixes(graph: Sequence[str | Path] | None, run_dir: str | Path | None = None) -> Prefixes:
    """Prefixes for a run's graph (as its config names it): relative paths are tried from the
    current folder, then from the folders above ``run_dir`` (a run or store folder)."""
    sources: list[str | Path] = []
    for src in graph or []:
        path = Path(src)
        if path.exists() or "://" in str(src):
            sources.append(src)
        elif run_dir is not None and not path.is_absolute():
            # the run's config names the graph as it was given, relative to where train ran
            for base in (Path(run_dir).parent, Path(run_dir).parent.parent):
                if (base / path).exists():
                    sources.append(base / path)
                    break
    return prefixes_for(sources)
