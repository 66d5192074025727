"""RDF format and compression names: what a ``--format`` value or a file name means.

Canonical format names are the keys of :data:`FORMATS` (``"turtle"``, ``"ntriples"``,
...); :func:`resolve_format` also accepts the usual aliases, extensions and media
types. Compression is recognised from the last file extension only (``.gz``, ``.bz2``,
``.xz``), so ``data.nt.gz`` is gzip-compressed N-Triples.

This module is the one place that says what a file name means: graphs, label files and
split files are all resolved here (:func:`format_from_path`, :func:`table_from_path`,
:func:`line_format`), so every input accepts the same formats and compressions.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path
from typing import IO, Callable

import pyoxigraph as ox

from rdf2mm.errors import InputError

__all__ = [
    "FORMATS",
    "COMPRESSIONS",
    "resolve_format",
    "format_from_path",
    "compression_from_path",
    "rdf_format",
    "open_decompressed",
    "known_format_names",
    "TABLE_DELIMITERS",
    "table_from_path",
    "line_format",
]

#: canonical name -> pyoxigraph format
FORMATS: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD,
    "n3": ox.RdfFormat.N3,
}

_ALIASES: dict[str, str] = {
    # turtle
    "turtle": "turtle", "ttl": "turtle", "text/turtle": "turtle", "application/x-turtle": "turtle",
    # n-triples
    "ntriples": "ntriples", "n-triples": "ntriples", "nt": "ntriples", "application/n-triples": "ntriples",
    # n-quads
    "nquads": "nquads", "n-quads": "nquads", "nq": "nquads", "application/n-quads": "nquads",
    # trig
    "trig": "trig", "application/trig": "trig",
    # rdf/xml
    "rdfxml": "rdfxml", "rdf/xml": "rdfxml", "rdf-xml": "rdfxml", "xml": "rdfxml", "rdf": "rdfxml",
    "owl": "rdfxml", "application/rdf+xml": "rdfxml",
    # json-ld
    "jsonld": "jsonld", "json-ld": "jsonld", "json": "jsonld", "application/ld+json": "jsonld",
    # n3
    "n3": "n3", "notation3": "n3", "text/n3": "n3",
}

#: file extension (lower case, no dot) -> canonical format name
_EXTENSIONS: dict[str, str] = {
    "ttl": "turtle", "turtle": "turtle",
    "nt": "ntriples", "ntriples": "ntriples",
    "nq": "nquads",
    "trig": "trig",
    "rdf": "rdfxml", "owl": "rdfxml", "xml": "rdfxml",
    "jsonld": "jsonld", "json": "jsonld",
    "n3": "n3",
}

#: compression extension -> name
COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}

_OPENERS: dict[str, Callable[..., IO[bytes]]] = {
    "gzip": gzip.open,
    "bz2": bz2.open,
    "xz": lzma.open,
}


def known_format_names() -> str:
    """The accepted ``--format`` names, for error messages."""
    return ", ".join(sorted(k for k in _ALIASES if "/" not in k))


def resolve_format(name: str | ox.RdfFormat) -> str:
    """Canonical format name for a user-given name, extension or media type.

    Raises :class:`InputError` listing the known names when ``name`` is unknown.
    """
    if isinstance(name, ox.RdfFormat):
        for canon, fmt in FORMATS.items():
            if fmt == name:
                return canon
    key = str(name).strip().lower()
    key = key.split(";", 1)[0].strip()  # media type parameters ("; charset=utf-8")
    key = key.lstrip(".")
    if key in _ALIASES:
        return _ALIASES[key]
    raise InputError(f"unknown RDF format {str(name)!r}; known formats: {known_format_names()}")


def compression_from_path(path: str | Path) -> str | None:
    """``"gzip"``, ``"bz2"``, ``"xz"`` or None, from the file's last extension."""
    return COMPRESSIONS.get(Path(path).suffix.lower())


def format_from_path(path: str | Path) -> str | None:
    """Canonical format name from the file name (compression extension skipped), or None."""
    p = Path(path)
    if compression_from_path(p):
        p = p.with_suffix("")
    return _EXTENSIONS.get(p.suffix.lower().lstrip("."))


#: tabular (label) file extension -> column delimiter
TABLE_DELIMITERS: dict[str, str] = {"tsv": "\t", "txt": "\t", "csv": ","}


def table_from_path(path: str | Path) -> str | None:
    """``"tsv"``, ``"txt"`` or ``"csv"`` for a tabular file (compression extension skipped), else None."""
    p = Path(path)
    if compression_from_path(p):
        p = p.with_suffix("")
    ext = p.suffix.lower().lstrip(".")
    return ext if ext in TABLE_DELIMITERS else None


def line_format(path: str | Path, format: str | ox.RdfFormat | None = None) -> str | None:
    """``"nt"`` / ``"nq"`` when ``path`` is read as N-Triples / N-Quads, else None.

    ``format`` (a name, extension, media type or :class:`pyoxigraph.RdfFormat`) wins over
    the file name; an unknown ``format`` is simply not line-based.
    """
    if format is not None:
        try:
            canon: str | None = resolve_format(format)
        except InputError:
            return None
    else:
        canon = format_from_path(path)
    return {"ntriples": "nt", "nquads": "nq"}.get(canon or "")


def rdf_format(name: str) -> ox.RdfFormat:
    """The pyoxigraph format for a (possibly non-canonical) name."""
    return FORMATS[resolve_format(name)]


def open_decompressed(path: str | Path, compression: str | None) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing on the fly when needed."""
    if compression is None:
        return open(path, "rb")
    return _OPENERS[compression](path, "rb")
