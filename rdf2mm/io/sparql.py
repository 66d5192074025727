"""Read a remote SPARQL endpoint in pages, and build SPARQL/N-Triples terms safely.

Only the standard library talks HTTP (``urllib.request``). Each page is one
``CONSTRUCT`` over a sorted, distinct ``SELECT`` sub-query with ``LIMIT``/``OFFSET``:
the ``ORDER BY`` keeps pages stable, and the sub-query makes every full page hold
exactly ``page_size`` distinct triples, so a short page reliably means the end
(a plain ``CONSTRUCT ... LIMIT`` could collapse duplicate solutions and stop early).

Credentials come from the environment: ``RDF2MM_SPARQL_TOKEN`` (bearer) or
``RDF2MM_SPARQL_USER`` + ``RDF2MM_SPARQL_PASSWORD`` (basic). They never appear in
error messages.
"""
from __future__ import annotations

import base64
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterator

import pyoxigraph as ox

from rdf2mm.errors import InputError, RemoteError

__all__ = ["read_endpoint", "page_query", "escape_iri", "escape_literal"]

_ACCEPT = "application/n-triples, text/plain;q=0.5"
_USER_AGENT = "rdf2mm (+https://pypi.org/project/rdf2mm)"


def page_query(page_size: int, offset: int) -> str:
    """The SPARQL query for one page of the endpoint's default graph."""
    return (
        "CONSTRUCT { ?s ?p ?o } WHERE { "
        "SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } "
        f"ORDER BY ?s ?p ?o LIMIT {int(page_size)} OFFSET {int(offset)} }}"
    )


def read_endpoint(url: str, *, page_size: int = 100_000, timeout: float = 60.0) -> Iterator[ox.Quad]:
    """Stream all triples of the endpoint at ``url``, ``page_size`` per request.

    Raises :class:`RemoteError` when the endpoint is unreachable, too slow (no data
    for ``timeout`` seconds), answers with an HTTP error, or returns something that
    is not RDF.
    """
    if page_size < 1:
        raise InputError(f"SPARQL page size must be at least 1, got {page_size}")
    where = public_url(url)
    headers = _auth_headers(url)
    if headers:  # urllib would take user:password@ for part of the host name
        url = strip_userinfo(url)
    offset = 0
    while True:
        body, ctype = _fetch(url, page_query(page_size, offset), timeout, where, headers)
        fmt = _response_format(ctype, body, where)
        n = 0
        try:
            for quad in ox.parse(body, format=fmt):
                n += 1
                yield quad
        except SyntaxError as e:
            raise RemoteError(
                f"{where}: response to the page at offset {offset} is not valid RDF "
                f"({e.msg}); starts with: {_snippet(body)}"
            ) from None
        if n < page_size:
            return
        offset += page_size


def _fetch(url: str, query: str, timeout: float, where: str, auth: dict[str, str]) -> tuple[bytes, str]:
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    request = urllib.request.Request(
        url + sep + urllib.parse.urlencode({"query": query}),
        headers={"Accept": _ACCEPT, "User-Agent": _USER_AGENT, **auth},
        method="GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(), response.headers.get("Content-Type", "") or ""
    except urllib.error.HTTPError as e:
        try:
            body = e.read()
        except Exception:  # the error body is a courtesy; the status is what matters
            body = b""
        raise RemoteError(f"{where}: HTTP {e.code} {e.reason}: {_snippet(body)}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise RemoteError(f"{where}: no answer within {timeout:g} s (timeout)") from None
        if isinstance(reason, ConnectionRefusedError):
            raise RemoteError(f"{where}: connection refused (is the endpoint running?)") from None
        text = getattr(reason, "strerror", None) or str(reason)
        raise RemoteError(f"{where}: cannot connect: {text}") from None
    except (socket.timeout, TimeoutError):
        raise RemoteError(f"{where}: no answer within {timeout:g} s (timeout)") from None
    except (ConnectionError, OSError) as e:  # reset mid-body, truncated chunked response, ...
        raise RemoteError(f"{where}: connection failed while reading the answer: {e}") from None
    except ValueError as e:  # malformed URL
        raise InputError(f"{where}: not a usable SPARQL endpoint URL: {e}") from None


def _auth_headers(url: str) -> dict[str, str]:
    """Authorization from the environment (token first), else from ``user:password@`` in the URL."""
    token = os.environ.get("RDF2MM_SPARQL_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get("RDF2MM_SPARQL_USER")
    password = os.environ.get("RDF2MM_SPARQL_PASSWORD", "")
    if not user:
        parts = urllib.parse.urlsplit(url)
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
    if user:
        cred = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {cred}"}
    return {}


def _response_format(ctype: str, body: bytes, where: str) -> ox.RdfFormat:
    """The RDF format of a response, from its media type (N-Triples when unlabelled)."""
    media = ctype.split(";", 1)[0].strip().lower()
    if not media or media in ("text/plain", "application/octet-stream"):
        return ox.RdfFormat.N_TRIPLES
    fmt = ox.RdfFormat.from_media_type(media)
    if fmt is None:
        raise RemoteError(f"{where}: answered with {media!r}, not RDF; starts with: {_snippet(body)}")
    return fmt


def _snippet(body: bytes, n: int = 200) -> str:
    text = body[:n].decode("utf-8", errors="replace")
    return " ".join(text.split()) or "(empty body)"


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@``."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def public_url(url: str) -> str:
    """``url`` without user:password, query or fragment, for messages."""
    parts = urllib.parse.urlsplit(strip_userinfo(url))
    return urllib.parse.urlunsplit(parts._replace(query="", fragment=""))


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
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


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
