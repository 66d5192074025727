"""Misbehaving HTTP servers on 127.0.0.1 for the remote-access tests.

A :class:`Server` runs in a daemon thread and hands every request (any method) to
``handler(h)``; it records what it saw in ``requests``. Servers stop when the test's
``serve`` fixture ends, and every handler's loops are bounded, so nothing outlives a test.
"""
from __future__ import annotations

import http.server
import threading
from dataclasses import dataclass, field
from typing import Callable

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = field(repr=False, default=b"")


class Server:
    """A loopback HTTP server whose every request goes to ``handler(request_handler)``."""

    def __init__(self, handler: Handler):
        self.requests: list[Seen] = []
        seen = self.requests

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                seen.append(Seen(self.command, self.path, {k: v for k, v in self.headers.items()}, body))
                self.request_body = body
                try:
                    handler(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: what the tests want to see

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any  # noqa: N815 (http.server's naming)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(status: int, body: bytes = b"", ctype: str = "text/plain", headers: dict[str, str] | None = None,
          length: int | None = None) -> Handler:
    """A handler answering ``status`` with ``body`` (``length`` overrides Content-Length)."""

    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()
        if length is not None and length != len(body):
            h.close_connection = True

    return handler
