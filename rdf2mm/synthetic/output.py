"""Output files of the synthetic generator: term spelling (N-Triples or Turtle), byte-stable
(gzip without a timestamp) sinks, and moving the finished files into place."""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import IO

from rdf2mm.synthetic.params import EX, GZIP_LEVEL
from rdf2mm.vocab import GEO, KGB, RDF, RDFS, XSD


class _Syntax:
    """How terms are spelled in N-Triples or Turtle (prefixed names, one triple a line)."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        if fmt == "nt":
            self.ex_open, self.close = f"<{EX}", ">"
            self.rdf_type = f"<{RDF}type>"
            self.rdfs_label = f"<{RDFS}label>"
            self.header = ""
        else:
            self.ex_open, self.close = "ex:", ""
            self.rdf_type = "a"
            self.rdfs_label = "rdfs:label"
            self.header = (
                f"@prefix ex: <{EX}> .\n@prefix xsd: <{XSD}> .\n@prefix rdf: <{RDF}> .\n"
                f"@prefix rdfs: <{RDFS}> .\n@prefix geo: <{GEO}> .\n@prefix kgb: <{KGB}> .\n\n"
            )

    def ex(self, local: str) -> str:
        return f"{self.ex_open}{local}{self.close}"

    def datatype(self, iri: str | None) -> str:
        if iri is None:
            return ""
        if self.fmt == "nt":
            return f"^^<{iri}>"
        for ns, pfx in ((XSD, "xsd:"), (GEO, "geo:"), (KGB, "kgb:"), (RDF, "rdf:")):
            if iri.startswith(ns):
                return "^^" + pfx + iri[len(ns):]
        return f"^^<{iri}>"


class _Sink:
    """A text output file, optionally gzip-compressed without a timestamp (byte-stable)."""

    def __init__(self, path: Path, compress: bool, header: str):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw: IO[bytes] = open(path, "wb")
        self._fh: IO[bytes] = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=GZIP_LEVEL)
            if compress
            else self._raw
        )
        self.lines = 0
        if header:
            self._fh.write(header.encode("utf-8"))

    def write(self, lines: list[str]) -> None:
        if lines:
            self._fh.write("".join(lines).encode("utf-8"))
            self.lines += len(lines)

    def close(self) -> None:
        if self._fh is not self._raw:
            self._fh.close()
        self._raw.close()


def _move_into(tmp: Path, out: Path) -> None:
    """Move the finished files from ``tmp`` into ``out``, leaving unrelated files there alone."""
    if not out.exists():
        os.replace(tmp, out)
        return
    for src in sorted(tmp.rglob("*")):
        if src.is_file():
            dst = out / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)

