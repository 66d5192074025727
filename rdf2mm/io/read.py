"""Streaming RDF reader: files, folders, stdin, oxigraph stores and SPARQL endpoints.

:func:`read_quads` is the single entry point of the graph builder. It never loads a
whole file in memory: files are parsed by pyoxigraph as a stream (uncompressed files
straight from their path, which is the fastest; compressed ones through
``gzip``/``bz2``/``lzma`` file objects). Any syntax error ends the read with an
:class:`InputError` naming the file and line -- a half-read file is never accepted.

Named graphs are merged: the consumer only looks at subject, predicate and object.
Blank nodes are local to their source: when one call reads several sources, their
blank-node labels are prefixed with the source's index so ``_:b0`` in two files
stays two nodes (deterministically, unlike pyoxigraph's random renaming).
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

import pyoxigraph as ox

from rdf2mm.errors import InputError
from rdf2mm.io.formats import (
    compression_from_path,
    format_from_path,
    open_decompressed,
    rdf_format,
    resolve_format,
)

__all__ = ["SourceInfo", "read_quads", "describe_sources", "fingerprint"]

_STORE_MARKERS = ("CURRENT",)
# Files of a RocksDB folder that change without the data changing (locks, logs).
_STORE_VOLATILE = re.compile(r"^(LOCK|LOG(\.old.*)?|IDENTITY)$")
_XML_PROLOG_LIMIT = 16 << 20  # bytes scanned for a DOCTYPE before the root element
# Truncated/corrupt compressed data (EOFError, LZMAError) and unreadable files (OSError);
# ValueError: pyoxigraph rejects an invalid base IRI.
_READ_ERRORS = (OSError, EOFError, lzma.LZMAError, ValueError)
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}


@dataclass(frozen=True)
class SourceInfo:
    """One resolved input: a file, stdin, an oxigraph store or a SPARQL endpoint."""

    kind: str  # "file" | "stdin" | "store" | "sparql"
    location: str  # file/store path, "-" or the endpoint URL
    format: str | None  # canonical format name (None for stores and endpoints)
    compression: str | None = None  # "gzip" | "bz2" | "xz" | None
    size: int | None = None  # bytes on disk; None when unknown (stdin, endpoint)
    origin: str | None = None  # the folder argument this file was found in
    notes: tuple[str, ...] = field(default=())

    @property
    def path(self) -> Path | None:
        """The local path (files and stores), else None."""
        return Path(self.location) if self.kind in ("file", "store") else None

    @property
    def url(self) -> str | None:
        """The endpoint URL (SPARQL sources), else None."""
        return self.location if self.kind == "sparql" else None


# ------------------------------------------------------------------ resolving sources
def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def _is_store(path: Path) -> bool:
    """A folder that looks like an oxigraph (RocksDB) store; opening it is left to the reader."""
    return path.is_dir() and all((path / m).is_file() for m in _STORE_MARKERS) and (
        any(path.glob("OPTIONS-*")) or any(path.glob("MANIFEST-*"))
    )


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _file_info(path: Path, format: str | None, origin: str | None = None) -> SourceInfo:
    fmt = resolve_format(format) if format else format_from_path(path)
    if fmt is None:
        raise InputError(
            f"{path}: unknown RDF file extension {''.join(path.suffixes) or '(none)'!r}; "
            "give the format with --format"
        )
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    return SourceInfo("file", str(path), fmt, compression_from_path(path), size, origin)


def _walk_dir(root: Path) -> list[SourceInfo]:
    """All RDF files (and nested stores) under ``root``, sorted; notes what was skipped."""
    found: list[SourceInfo] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
        here = Path(dirpath)
        # sorted in place so os.walk descends in a stable order
        dirnames.sort()
        keep = []
        for d in dirnames:
            sub = here / d
            if d.startswith("."):
                skipped.append(str(sub.relative_to(root)) + "/")
            elif _is_store(sub):
                found.append(SourceInfo("store", str(sub), None, None, _dir_size(sub), str(root)))
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            p = here / name
            if name.startswith(".") or format_from_path(p) is None:
                skipped.append(str(p.relative_to(root)))
                continue
            found.append(_file_info(p, None, str(root)))
    found.sort(key=lambda i: i.location)
    if not found:
        extra = f" (skipped: {_short_list(skipped)})" if skipped else ""
        raise InputError(f"{root}: folder contains no RDF files{extra}")
    if skipped:
        note = f"skipped {len(skipped)} file(s) with unknown extensions in {root}: {_short_list(skipped)}"
        first = found[0]
        found[0] = SourceInfo(first.kind, first.location, first.format, first.compression, first.size,
                              first.origin, first.notes + (note,))
    return found


def _short_list(items: Sequence[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f", ... (+{len(items) - n})" if len(items) > n else "")


def describe_sources(sources: Sequence[str | Path] | str | Path, *, format: str | None = None) -> list[SourceInfo]:
    """Resolve the inputs into a flat list of sources, in reading order.

    Folders expand to their RDF files (recursively, sorted, unknown extensions skipped
    with a note on the first file found). ``format`` applies to named files and stdin;
    files found in folders are read by their extension. Raises :class:`InputError`
    for missing paths, unknown formats or extensions, and stdin without ``format``.
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    if format is not None:
        format = resolve_format(format)  # fail early on an unknown name
    infos: list[SourceInfo] = []
    stdin_seen = False
    for src in sources:
        text = str(src)
        if text == "-":
            if stdin_seen:
                raise InputError("stdin ('-') can be read only once")
            if format is None:
                raise InputError("reading from stdin ('-') needs --format")
            stdin_seen = True
            infos.append(SourceInfo("stdin", "-", format))
        elif isinstance(src, str) and _is_url(text):
            infos.append(SourceInfo("sparql", text, None))
        else:
            path = Path(src)
            if not path.exists():
                raise InputError(f"{path}: no such file or folder")
            if _is_store(path):
                infos.append(SourceInfo("store", str(path), None, None, _dir_size(path)))
            elif path.is_dir():
                infos.extend(_walk_dir(path))
            else:
                infos.append(_file_info(path, format))
    return infos


# ------------------------------------------------------------------ fingerprint
def fingerprint(sources: Sequence[str | Path] | str | Path, *, format: str | None = None) -> str | None:
    """SHA-256 of the inputs' bytes (with their formats and boundaries), for caching.

    None when an input cannot be hashed without consuming it (stdin) or can change
    behind our back (a SPARQL endpoint).
    """
    infos = describe_sources(sources, format=format)
    h = hashlib.sha256(b"rdf2mm-sources-v1\0")
    for info in infos:
        if info.kind in ("stdin", "sparql"):
            return None
        h.update(f"{info.kind}\0{info.format}\0{info.compression}\0".encode())
        if info.kind == "file":
            h.update(_file_digest(Path(info.location)))
        else:
            root = Path(info.location)
            for p in sorted(p for p in root.rglob("*") if p.is_file() and not _STORE_VOLATILE.match(p.name)):
                h.update(str(p.relative_to(root)).encode() + b"\0")
                h.update(_file_digest(p))
    return h.hexdigest()


def _file_digest(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").digest()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None


# ------------------------------------------------------------------ reading
def read_quads(
    sources: Sequence[str | Path] | str | Path,
    *,
    format: str | None = None,
    base_iri: str | None = None,
    sparql_page_size: int = 100_000,
    timeout: float = 60.0,
) -> Iterator[ox.Quad]:
    """Stream the quads of all ``sources`` (see :func:`describe_sources`).

    ``base_iri`` resolves relative IRIs; by default each file's own ``file:`` URI.
    Raises :class:`InputError` (file and line) on malformed input and
    :class:`~rdf2mm.errors.RemoteError` when a SPARQL endpoint fails.
    """
    # Resolved now, not on the first next(): a missing file or bad format fails at the call.
    infos = describe_sources(sources, format=format)
    if sparql_page_size < 1:
        raise InputError(f"SPARQL page size must be at least 1, got {sparql_page_size}")
    return _read_all(infos, base_iri, sparql_page_size, timeout)


def _read_all(infos: list[SourceInfo], base_iri: str | None, page_size: int, timeout: float) -> Iterator[ox.Quad]:
    multi = len(infos) > 1
    for i, info in enumerate(infos):
        quads = _read_one(info, base_iri=base_iri, page_size=page_size, timeout=timeout)
        yield from (_scope_blank_nodes(quads, f"s{i}x") if multi else quads)


def _scope_blank_nodes(quads: Iterable[ox.Quad], prefix: str) -> Iterator[ox.Quad]:
    """Prefix blank-node labels so that sources read together never share a blank node."""
    BlankNode, Quad = ox.BlankNode, ox.Quad
    for q in quads:
        s, o = q.subject, q.object
        bs, bo = type(s) is BlankNode, type(o) is BlankNode
        if bs or bo:
            if bs:
                s = BlankNode(prefix + s.value)
            if bo:
                o = BlankNode(prefix + o.value)
            q = Quad(s, q.predicate, o, q.graph_name)
        yield q


def _read_one(info: SourceInfo, *, base_iri: str | None, page_size: int, timeout: float) -> Iterator[ox.Quad]:
    if info.kind == "sparql":
        from rdf2mm.io.sparql import read_endpoint  # urllib is only needed for endpoints

        return read_endpoint(info.location, page_size=page_size, timeout=timeout)
    if info.kind == "store":
        return _read_store(Path(info.location))
    if info.kind == "stdin":
        return _read_stdin(info.format or "", base_iri)
    return _read_file(Path(info.location), info.format or "", info.compression, base_iri)


def _read_store(path: Path) -> Iterator[ox.Quad]:
    try:
        store = ox.Store.read_only(str(path))
    except OSError as e:
        raise InputError(f"{path}: cannot open the oxigraph store read-only: {e}") from None
    try:
        yield from store.quads_for_pattern(None, None, None, None)
    except OSError as e:
        raise InputError(f"{path}: error while reading the oxigraph store: {e}") from None


def _read_file(path: Path, fmt: str, compression: str | None, base_iri: str | None) -> Iterator[ox.Quad]:
    base = base_iri if base_iri is not None else path.resolve().as_uri()
    ofmt = rdf_format(fmt)
    try:
        if ofmt == ox.RdfFormat.RDF_XML:
            with open_decompressed(path, compression) as f:
                _refuse_xml_entities(f.read, str(path))
            with open_decompressed(path, compression) as f:
                _check_xml_well_formed(f.read, str(path))
        if compression is None and not _starts_with_bom(path):
            yield from _parse(str(path), ox.parse(path=str(path), format=ofmt, base_iri=base))
        else:
            with open_decompressed(path, compression) as f:
                yield from _parse(str(path), ox.parse(_without_bom(f), format=ofmt, base_iri=base))
    except _READ_ERRORS as e:
        raise InputError(f"{path}: cannot read{_comp(compression)}: {_oserror_text(e)}") from None


_BOM = b"\xef\xbb\xbf"


def _starts_with_bom(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(3) == _BOM


def _without_bom(stream: IO[bytes]) -> IO[bytes]:
    """``stream`` past a UTF-8 byte-order mark (editors on Windows write one; the
    parsers would take it for the first term)."""
    head = stream.read(3)
    return stream if head == _BOM else _Prefixed(head, stream)  # type: ignore[return-value]


def _comp(compression: str | None) -> str:
    return f" ({compression}-compressed)" if compression else ""


def _oserror_text(e: BaseException) -> str:
    return (e.strerror if isinstance(e, OSError) and e.strerror else str(e)) or type(e).__name__


def _parse(name: str, quads: Iterable[ox.Quad]) -> Iterator[ox.Quad]:
    """Re-raise pyoxigraph's SyntaxError as ``InputError("<name>:<line>:<col>: <msg>")``."""
    try:
        yield from quads
    except SyntaxError as e:
        raise InputError(_syntax_message(name, e)) from None


_POSITION_PREFIX = re.compile(r"^Parser error (?:at|between) [^:]*:\s*")


def _syntax_message(name: str, e: SyntaxError) -> str:
    msg = _POSITION_PREFIX.sub("", e.msg or str(e)).strip() or "syntax error"
    msg = " ".join(msg.split())  # one line, whatever the parser put in
    if e.lineno:
        where = f"{name}:{e.lineno}:{e.offset}" if e.offset else f"{name}:{e.lineno}"
    else:
        where = name  # pyoxigraph gives no position for some formats (RDF/XML, JSON-LD)
    return f"{where}: syntax error: {msg}"


def _read_stdin(fmt: str, base_iri: str | None) -> Iterator[ox.Quad]:
    raw: IO[bytes] = getattr(sys.stdin, "buffer", sys.stdin)
    head = raw.read(6)
    stream: IO[bytes] = _Prefixed(head, raw)
    compression = next((c for magic, c in _MAGIC.items() if head.startswith(magic)), None)
    if compression:  # compressed data piped in: recognised by its magic number
        opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compression]
        stream = opener(stream, "rb")  # type: ignore[operator]
    stream = _without_bom(stream)
    ofmt = rdf_format(fmt)
    try:
        if ofmt == ox.RdfFormat.RDF_XML:
            prolog = _refuse_xml_entities(stream.read, "<stdin>")
            stream = _Prefixed(prolog, stream)
        yield from _parse("<stdin>", ox.parse(stream, format=ofmt, base_iri=base_iri))
    except _READ_ERRORS as e:
        raise InputError(f"<stdin>: cannot read{_comp(compression)}: {_oserror_text(e)}") from None


class _Prefixed(io.RawIOBase):
    """A binary stream that returns ``head`` and then the rest of ``tail``."""

    def __init__(self, head: bytes, tail: IO[bytes]):
        self._head = head
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = len(b)
        if self._head:
            chunk, self._head = self._head[:n], self._head[n:]
        else:
            chunk = self._tail.read(n) or b""
        b[: len(chunk)] = chunk
        return len(chunk)


# ------------------------------------------------------------------ RDF/XML entities
_NAME_START = re.compile(rb"<[A-Za-z_:\x80-\xff]")


def _check_xml_well_formed(read, name: str) -> None:
    """Refuse XML that is not well-formed (e.g. truncated): pyoxigraph's RDF/XML parser
    returns the triples it saw without an error, which would silently lose data."""
    import xml.parsers.expat  # noqa: PLC0415

    parser = xml.parsers.expat.ParserCreate()
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        while True:
            chunk = read(1 << 20)
            parser.Parse(chunk, not chunk)
            if not chunk:
                break
    except xml.parsers.expat.ExpatError as e:
        raise InputError(f"{name}:{e.lineno}:{e.offset + 1}: XML syntax error: {xml.parsers.expat.ErrorString(e.code)}") from None


def _refuse_xml_entities(read, name: str) -> bytes:
    """Scan the XML prolog (up to the root element) and refuse ``<!ENTITY`` declarations.

    pyoxigraph expands internal entities, so a "billion laughs" document would blow
    up memory. Returns the bytes consumed, for streams that cannot be re-read.
    Conservative: ``<!ENTITY`` anywhere before the root element (even in a comment)
    is refused.
    """
    buf = b""
    eof = False
    while True:
        end = _prolog_end(buf, eof)
        if end is not None:
            if re.search(rb"<!ENTITY", buf[:end], re.IGNORECASE):
                raise InputError(
                    f"{name}: RDF/XML declares XML entities (<!ENTITY>); refused because entity "
                    "expansion can exhaust memory or read local files; convert the file to "
                    "Turtle or N-Triples first"
                )
            return buf
        if len(buf) > _XML_PROLOG_LIMIT:
            raise InputError(f"{name}: RDF/XML prolog longer than {_XML_PROLOG_LIMIT >> 20} MiB; refused")
        chunk = read(1 << 16)
        if not chunk:
            eof = True
        buf += chunk


def _prolog_end(buf: bytes, eof: bool) -> int | None:
    """Offset of the root element's ``<`` in ``buf``, or None when more bytes are needed.

    Skips the XML declaration, processing instructions, comments and a DOCTYPE
    (tracking quotes and the internal subset, so a ``<`` inside a literal is not taken
    for the root element).
    """
    i, n = 0, len(buf)
    while True:
        j = buf.find(b"<", i)
        if j < 0:
            return n if eof else None
        if n - j < 10 and not eof:
            return None
        if buf.startswith(b"<?", j):
            k = buf.find(b"?>", j + 2)
            if k < 0:
                return n if eof else None
            i = k + 2
        elif buf.startswith(b"<!--", j):
            k = buf.find(b"-->", j + 4)
            if k < 0:
                return n if eof else None
            i = k + 3
        elif buf[j: j + 9].upper() == b"<!DOCTYPE":
            k = _doctype_end(buf, j + 9)
            if k is None:
                return n if eof else None
            i = k
        elif _NAME_START.match(buf, j):
            return j
        else:
            i = j + 1


def _doctype_end(buf: bytes, i: int) -> int | None:
    """Offset just past the DOCTYPE's closing ``>``, or None if ``buf`` ends first."""
    quote = 0
    depth = 0
    n = len(buf)
    while i < n:
        c = buf[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):  # " '
            quote = c
        elif c == 0x5B:  # [
            depth += 1
        elif c == 0x5D:  # ]
            depth -= 1
        elif depth and buf.startswith(b"<!--", i):
            k = buf.find(b"-->", i + 4)
            if k < 0:
                return None
            i = k + 3
            continue
        elif c == 0x3E and depth <= 0:  # >
            return i + 1
        i += 1
    return None
