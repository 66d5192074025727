"""The one HTTP client for every remote access: SPARQL reads, SPARQL Update, Graph Store Protocol.

What it guarantees, whatever the server does:

* **A total deadline per request** (``timeout`` seconds from connect to the last byte of
  the body), not a per-read timeout: a watchdog shuts the socket down when it passes, so
  a server that trickles a byte every few seconds fails on time.
* **A size cap** on every answer (``max_bytes``; default ``RDF2MM_MAX_RESPONSE_MB`` MiB,
  else 1024): a larger ``Content-Length`` is refused before reading, a body that grows
  past the cap is cut off.
* **Redirects** are followed (at most 5) only for GET/HEAD and only within the same
  origin (scheme, host, port), so credentials never go to another origin. A redirect to
  another origin, and any redirect answering a POST/PUT/DELETE (which would turn an
  update into a bodiless GET), is an error naming the target, so the user can decide.
* **Credentials** (:class:`Auth`): a bearer token with every request; a user and password
  only once the server asks (HTTP 401), as Digest when it challenges with
  ``WWW-Authenticate: Digest`` (Virtuoso's ``/sparql-auth``; RFC 7616: MD5, MD5-sess or
  SHA-256, ``qop=auth``), else as Basic. They never appear in messages.

Every failure is a :class:`~rdf2mm.errors.RemoteError` (exit code 5); a URL that cannot be
used at all is an :class:`~rdf2mm.errors.InputError`.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import os
import secrets
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Mapping

from rdf2mm.errors import InputError, RemoteError, UsageError

__all__ = ["Auth", "HttpClient", "Response", "TransientError", "default_max_bytes", "public_url", "snippet", "strip_userinfo"]

USER_AGENT = "rdf2mm (+https://pypi.org/project/rdf2mm)"
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_SAFE_METHODS = ("GET", "HEAD")
_PROBE_ABOVE = 64 << 10  # bytes of body above which credentials are negotiated first


class TransientError(RemoteError):
    """A failure that another try may not meet: a timeout, a dropped connection, an HTTP 5xx."""


def default_max_bytes() -> int:
    """The answer size cap: ``RDF2MM_MAX_RESPONSE_MB`` MiB (default 1024)."""
    raw = os.environ.get("RDF2MM_MAX_RESPONSE_MB", "").strip()
    if not raw:
        return 1024 << 20
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb > 0 or mb == float("inf"):
        raise UsageError(f"RDF2MM_MAX_RESPONSE_MB must be a positive number of MiB, not {raw!r}")
    return int(mb * (1 << 20))


@dataclass(frozen=True)
class Auth:
    """HTTP credentials; ``repr`` never shows them."""

    user: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def resolve(cls, user: str | None = None, password: str | None = None, token: str | None = None) -> Auth:
        """Explicit values first, then ``RDF2MM_SPARQL_TOKEN`` / ``_USER`` / ``_PASSWORD``."""
        token = token or os.environ.get("RDF2MM_SPARQL_TOKEN") or None
        user = user or os.environ.get("RDF2MM_SPARQL_USER") or None
        if password is None:
            password = os.environ.get("RDF2MM_SPARQL_PASSWORD")
        return cls(user, password, token)

    def with_url(self, url: str) -> Auth:
        """``user:password@`` in ``url`` counts when no other credentials are given."""
        if self.user or self.token:
            return self
        parts = urllib.parse.urlsplit(url)
        if parts.username:
            return Auth(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
        return self

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header: bearer, else Basic, else none."""
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.user:
            cred = base64.b64encode(f"{self.user}:{self.password or ''}".encode()).decode("ascii")
            return {"Authorization": f"Basic {cred}"}
        return {}

    def __repr__(self) -> str:
        return (f"Auth(user={self.user!r}, password={'***' if self.password else None}, "
                f"token={'***' if self.token else None})")


@dataclass
class Response:
    """A complete answer (status 2xx; redirects and errors raise instead)."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str

    @property
    def media_type(self) -> str:
        """The media type without parameters, lower case ('' when absent)."""
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@``."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def public_url(url: str) -> str:
    """``url`` without user:password, query or fragment, for messages."""
    parts = urllib.parse.urlsplit(strip_userinfo(url))
    return urllib.parse.urlunsplit(parts._replace(query="", fragment=""))


def snippet(body: bytes, n: int = 200) -> str:
    """The first ``n`` bytes of a body as one line of text."""
    text = body[:n].decode("utf-8", errors="replace")
    return " ".join(text.split()) or "(empty body)"


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"{public_url(parts.geturl())}: not a usable URL (bad port)") from None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


@dataclass
class _Digest:
    """A server's Digest challenge, remembered per origin so later requests answer it directly."""

    params: dict[str, str]
    count: int = 0

    def header(self, auth: Auth, method: str, uri: str) -> str:
        p = self.params
        algorithm = p.get("algorithm", "MD5")
        base = algorithm.upper().removesuffix("-SESS")
        hasher = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}.get(base)
        if hasher is None:
            raise RemoteError(f"the server asks for Digest algorithm {algorithm!r}, which rdf2mm does not support")

        def h(text: str) -> str:
            return hasher(text.encode("utf-8")).hexdigest()

        realm, nonce = p.get("realm", ""), p.get("nonce", "")
        self.count += 1
        nc, cnonce = f"{self.count:08x}", secrets.token_hex(8)
        ha1 = h(f"{auth.user}:{realm}:{auth.password or ''}")
        if algorithm.upper().endswith("-SESS"):
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        ha2 = h(f"{method}:{uri}")
        qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
        fields = [f'username="{auth.user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
                  f"algorithm={algorithm}"]
        if "auth" in qops:
            fields += [f'response="{h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")}"', "qop=auth", f"nc={nc}",
                       f'cnonce="{cnonce}"']
        elif not qops:
            fields.append(f'response="{h(f"{ha1}:{nonce}:{ha2}")}"')
        else:
            raise RemoteError(f"the server offers Digest qop {p.get('qop')!r}; rdf2mm supports only qop=auth")
        if "opaque" in p:
            fields.append(f'opaque="{p["opaque"]}"')
        return "Digest " + ", ".join(fields)


def _digest_challenge(headers: http.client.HTTPMessage) -> dict[str, str] | None:
    for value in headers.get_all("WWW-Authenticate") or []:
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "digest":
            return urllib.request.parse_keqv_list(urllib.request.parse_http_list(rest))
    return None


@dataclass
class HttpClient:
    """Requests with a total deadline, a size cap, same-origin redirects and safe credentials.

    One client serves one logical job (an export, a paged read) so that a Digest
    challenge answered once is reused by the following requests.
    """

    auth: Auth = field(default_factory=Auth)
    timeout: float = 60.0
    max_bytes: int = field(default_factory=default_max_bytes)
    _schemes: dict[tuple[str, str, int], _Digest | str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.timeout, (int, float)) or not (self.timeout > 0) or self.timeout == float("inf"):
            raise UsageError(f"--timeout must be a positive number of seconds, not {self.timeout!r}")

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Response:
        """Send one request and return its complete 2xx answer; :class:`RemoteError` otherwise."""
        method = method.upper()
        auth = self.auth.with_url(url)
        url = strip_userinfo(url)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise InputError(f"{public_url(url)}: not a usable endpoint URL (http:// or https:// with a host)")
        origin = _origin(parts)
        deadline = time.monotonic() + self.timeout
        where = public_url(url)
        for _hop in range(MAX_REDIRECTS + 1):
            status, reason, head, data = self._exchange(method, parts, origin, body, headers, auth, deadline, where)
            if status in _REDIRECTS:
                target = head.get("Location")
                if not target:
                    raise RemoteError(f"{where}: HTTP {status} {reason} without a Location to follow")
                new = urllib.parse.urlsplit(urllib.parse.urljoin(parts.geturl(), target))
                shown = public_url(new.geturl())
                if method not in _SAFE_METHODS:
                    raise RemoteError(
                        f"{where}: answered the {method} with a redirect (HTTP {status}) to {shown}; nothing was "
                        f"stored. Give the final URL directly (a redirect would turn the {method} into a "
                        "bodiless GET)")
                if _origin(new) != origin:
                    raise RemoteError(
                        f"{where}: redirected (HTTP {status}) to another origin, {shown}; not followed, so "
                        "credentials stay with the origin they were given for. Give that URL directly if you "
                        "trust it")
                parts, where = new, shown
                continue
            if status >= 400:
                raise (TransientError if status >= 500 else RemoteError)(f"{where}: HTTP {status} {reason}: {snippet(data)}")
            if status < 200 or status >= 300:
                raise RemoteError(f"{where}: unexpected HTTP {status} {reason}")
            return Response(status, head, data, parts.geturl())
        raise RemoteError(f"{where}: more than {MAX_REDIRECTS} redirects")

    def _exchange(self, method: str, parts: urllib.parse.SplitResult, origin: tuple[str, str, int],
                  body: bytes | None, headers: Mapping[str, str] | None, auth: Auth, deadline: float,
                  where: str) -> tuple[int, str, http.client.HTTPMessage, bytes]:
        """One request; a user and password are sent when the server asks (HTTP 401).

        A bearer token goes with every request. A password is not sent before the origin
        asks for it: Virtuoso refuses an unasked-for Basic header without a challenge, and
        a Digest server should never see the password. The scheme that worked is
        remembered for the origin, so later requests send it straight away.
        """
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        hdrs = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
        if auth.token:
            hdrs.update(auth.headers())
            return self._send(method, parts, path, body, hdrs, deadline, where)
        scheme = self._schemes.get(origin) if auth.user else None
        if auth.user and scheme is None and body is not None and len(body) > _PROBE_ABOVE:
            # A server asking for credentials may answer 401 and close before reading a
            # large body (a broken pipe here): learn its scheme from a bodiless HEAD first.
            status, _reason, head, _data = self._send("HEAD", parts, path, None, hdrs, deadline, where)
            if status == 401:
                challenge = _digest_challenge(head)
                scheme = _Digest(challenge) if challenge is not None else "basic"
        for attempt in range(2):
            if isinstance(scheme, _Digest):
                hdrs["Authorization"] = scheme.header(auth, method, path)
            elif scheme == "basic":
                hdrs.update(auth.headers())
            status, reason, head, data = self._send(method, parts, path, body, hdrs, deadline, where)
            if status != 401 or not auth.user or attempt:
                break
            challenge = _digest_challenge(head)
            scheme = _Digest(challenge) if challenge is not None else "basic"
        if auth.user and scheme is not None and status != 401:
            self._schemes[origin] = scheme
        return status, reason, head, data

    def _send(self, method: str, parts: urllib.parse.SplitResult, path: str, body: bytes | None,
              headers: Mapping[str, str], deadline: float, where: str) -> tuple[int, str, http.client.HTTPMessage,
                                                                                 bytes]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._late(where)
        host = parts.hostname or ""
        if parts.scheme.lower() == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, parts.port, timeout=remaining, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, parts.port, timeout=remaining)
        fired = threading.Event()

        def expire() -> None:  # the total deadline: wakes any blocked read, whatever the server sends
            fired.set()
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watchdog = threading.Timer(remaining, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.request(method, path, body=body, headers=dict(headers))
            resp = conn.getresponse()
            length = resp.getheader("Content-Length")
            if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
                raise self._too_big(where)
            chunks: list[bytes] = []
            total = 0
            while True:
                self._rearm(conn, deadline)
                chunk = resp.read1(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > self.max_bytes:
                    raise self._too_big(where)
                chunks.append(chunk)
            if fired.is_set():
                raise self._late(where)
            if resp.length:  # fewer bytes than Content-Length announced: the connection dropped
                raise TransientError(f"{where}: the connection closed after {total} of {total + resp.length} bytes")
            return resp.status, resp.reason, resp.headers, b"".join(chunks)
        except RemoteError:
            raise
        except (socket.timeout, TimeoutError):
            raise self._late(where) from None
        except ConnectionRefusedError:
            raise RemoteError(f"{where}: connection refused (is the endpoint running?)") from None
        except (http.client.HTTPException, OSError) as exc:
            if fired.is_set() or time.monotonic() >= deadline:
                raise self._late(where) from None
            if isinstance(exc, http.client.IncompleteRead):
                raise TransientError(f"{where}: the connection closed in the middle of the answer") from None
            text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise TransientError(f"{where}: connection failed: {text}") from None
        except ValueError as exc:  # a malformed URL or header value
            raise InputError(f"{where}: not a usable endpoint URL: {exc}") from None
        finally:
            watchdog.cancel()
            conn.close()

    @staticmethod
    def _rearm(conn: http.client.HTTPConnection, deadline: float) -> None:
        sock = conn.sock
        if sock is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))

    def _late(self, where: str) -> RemoteError:
        return TransientError(f"{where}: no complete answer within {self.timeout:g} s (timeout; --timeout sets it)")

    def _too_big(self, where: str) -> RemoteError:
        return RemoteError(f"{where}: the answer is larger than {self.max_bytes / (1 << 20):g} MiB "
                           "(RDF2MM_MAX_RESPONSE_MB raises the cap; for endpoint reads a smaller page size helps)")
