"""Read a remote SPARQL endpoint in pages, and build SPARQL/N-Triples terms safely.

HTTP goes through :class:`rdf2mm.io.http.HttpClient` (total deadline, size cap,
same-origin redirects). Each page is one ``CONSTRUCT`` over a sorted, distinct
``SELECT`` sub-query with ``LIMIT``/``OFFSET``: the ``ORDER BY`` keeps pages stable, and
the sub-query makes every page hold distinct triples. The next page starts after the
triples received, and reading ends at the first empty page, so an endpoint that caps
its answers below the page size (Virtuoso's ``ResultSetMaxRows``, 10,000 by default) is
still read in full. An endpoint that ignores ``OFFSET`` (the same page again) is
detected and stops the read with an error instead of paging forever.

``graph``: read that named graph instead of the endpoint's default graph (Virtuoso's
default graph is the union of all its graphs, system graphs included).

Credentials come from the environment: ``RDF2MM_SPARQL_TOKEN`` (bearer) or
``RDF2MM_SPARQL_USER`` + ``RDF2MM_SPARQL_PASSWORD`` (Basic, or Digest when the
server asks for it), else ``user:password@`` in the URL. They never appear in messages.
"""
from __future__ import annotations

import hashlib
import re
import urllib.parse
from typing import Iterator

import pyoxigraph as ox

from rdf2mm.errors import InputError, RemoteError
from rdf2mm.io.http import Auth, HttpClient, public_url, snippet, strip_userinfo
from rdf2mm.vocab import XSD_STRING

__all__ = ["read_endpoint", "page_query", "escape_iri", "escape_literal", "public_url", "strip_userinfo"]

_ACCEPT = "application/n-triples, text/plain;q=0.5"


def page_query(page_size: int, offset: int, graph: str | None = None) -> str:
    """The SPARQL query for one page of the endpoint's default graph, or of named ``graph``."""
    pattern = f"GRAPH {escape_iri(graph)} {{ ?s ?p ?o }}" if graph else "?s ?p ?o"
    return (
        "CONSTRUCT { ?s ?p ?o } WHERE { "
        f"SELECT DISTINCT ?s ?p ?o WHERE {{ {pattern} }} "
        f"ORDER BY ?s ?p ?o LIMIT {int(page_size)} OFFSET {int(offset)} }}"
    )


def read_endpoint(url: str, *, page_size: int = 100_000, timeout: float = 60.0, graph: str | None = None,
                  auth: Auth | None = None, max_bytes: int | None = None) -> Iterator[ox.Quad]:
    """Stream all triples of the endpoint at ``url`` (of its named ``graph`` if given), in pages.

    Raises :class:`RemoteError` when the endpoint is unreachable, slower than ``timeout``
    seconds for one page, answers with an HTTP error, a page over the size cap, something
    that is not RDF, or the same page for two offsets.
    """
    if page_size < 1:
        raise InputError(f"SPARQL page size must be at least 1, got {page_size}")
    if graph is not None:
        escape_iri(graph)  # refuse a crafted graph IRI before any request
    client = HttpClient(auth=auth or Auth.resolve(), timeout=timeout)
    if max_bytes is not None:
        client.max_bytes = max_bytes
    where = public_url(url)
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    offset = 0
    seen: dict[str, int] = {}  # page digest -> the offset it was first served at
    while True:
        query = urllib.parse.urlencode({"query": page_query(page_size, offset, graph)})
        try:
            resp = client.request("GET", url + sep + query, headers={"Accept": _ACCEPT})
        except RemoteError as exc:
            if "SR353" in exc.message:  # Virtuoso's limit on sorted pages
                raise RemoteError(f"{exc.message[:300]} (Virtuoso: raise MaxSortedTopRows in the [Parameters] "
                                  "section of virtuoso.ini above the graph's triple count)") from None
            raise
        fmt = _response_format(resp.media_type, resp.body, where)
        try:
            page = list(ox.parse(resp.body, format=fmt))
        except SyntaxError as e:
            raise RemoteError(
                f"{where}: response to the page at offset {offset} is not valid RDF "
                f"({e.msg}); starts with: {snippet(resp.body)}"
            ) from None
        if not page:
            return
        digest = _page_digest(page)
        if digest in seen:
            raise RemoteError(
                f"{where}: the page at offset {offset} is the same as the one at offset {seen[digest]}: the "
                "endpoint ignores OFFSET, so it cannot be read in pages (stopped instead of paging forever)")
        seen[digest] = offset
        yield from page
        offset += len(page)


def _page_digest(page: list[ox.Quad]) -> str:
    """A digest of a page's triples for telling a repeated page.

    Blank-node labels are left out (servers may relabel them per answer) when the page
    holds a triple without blank nodes: distinct pages never share those, so two pages
    with equal digests are the same page. A page of blank-node triples only keeps its
    labels, so that two pages of alike blank-node structures are not taken for one.
    """
    ground = any(not isinstance(q.subject, ox.BlankNode) and not isinstance(q.object, ox.BlankNode) for q in page)
    h = hashlib.sha256()
    for line in sorted(_shape(q) if ground else str(q) for q in page):
        h.update(line.encode("utf-8") + b"\n")
    return h.hexdigest()


def _shape(q: ox.Quad) -> str:
    s = "_:" if isinstance(q.subject, ox.BlankNode) else str(q.subject)
    o = "_:" if isinstance(q.object, ox.BlankNode) else str(q.object)
    return f"{s} {q.predicate} {o}"


def _response_format(media: str, body: bytes, where: str) -> ox.RdfFormat:
    """The RDF format of a response, from its media type (N-Triples when unlabelled)."""
    if not media or media in ("text/plain", "application/octet-stream"):
        return ox.RdfFormat.N_TRIPLES
    fmt = ox.RdfFormat.from_media_type(media)
    if fmt is None:
        raise RemoteError(f"{where}: answered with {media!r}, not RDF; starts with: {snippet(body)}")
    return fmt


# ------------------------------------------------------------------ safe terms
# IRIREF forbids these and every code point up to U+0020 (SPARQL 1.1 / N-Triples grammar).
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_LANG = re.compile(r"^[A-Za-z]+(-[A-Za-z0-9]+)*$")
_ECHAR = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_LITERAL_SPECIAL = re.compile(r'[\\"\n\r\t\b\f\x00-\x1f\x7f]')


def escape_iri(iri: str) -> str:
    """``<iri>`` for a SPARQL query or N-Triples; :class:`InputError` if it cannot be one.

    Characters that IRIREF forbids (``<>"{}|^`\\``, spaces, controls) are refused
    rather than escaped, so a crafted IRI can never close the term early.
    """
    if not isinstance(iri, str) or not iri:
        raise InputError(f"not a usable IRI: {iri!r}")
    bad = _IRI_FORBIDDEN.search(iri)
    if bad:
        raise InputError(f"IRI {iri!r} contains a forbidden character {bad.group()!r}")
    return f"<{iri}>"


def escape_literal(lexical: str, datatype: str | None = None, language: str | None = None) -> str:
    """A quoted literal for a SPARQL query or N-Triples, with quotes, backslashes and
    line breaks escaped; ``@lang`` or ``^^<datatype>`` appended when given."""
    if datatype and language:
        raise InputError("a literal has either a language tag or a datatype, not both")
    body = _LITERAL_SPECIAL.sub(_escape_char, lexical)
    text = f'"{body}"'
    if language:
        if not _LANG.match(language):
            raise InputError(f"invalid language tag {language!r}")
        return f"{text}@{language}"
    if datatype and datatype != XSD_STRING:
        return f"{text}^^{escape_iri(datatype)}"
    return text


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    return _ECHAR.get(c) or f"\\u{ord(c):04X}"
