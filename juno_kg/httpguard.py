"""HTTP-level guards of ``juno-kg serve``: slow and oversized requests, response headers.

- :func:`protocol_class` is uvicorn's httptools protocol with what it lacks: a request's
  headers must arrive within ``Limits.header_timeout`` seconds of the connection (or of the
  previous response), or the connection is closed (408 if anything had arrived); the request
  line may be ``Limits.max_url`` bytes (414) and the header fields ``Limits.max_header``
  bytes (431), counted as the bytes arrive, before anything is buffered beyond them. A client
  that sends a byte every few seconds, or nothing, holds a connection for a bounded time and
  no worker, task or concurrency slot at all. A request may ask to be told when its
  connection is lost (:data:`DISCONNECT_EXTENSION`).
- :class:`Hardened` wraps the app: every response carries the security headers and the CORS
  header, including a 500 from an unexpected error (which never shows a traceback).
"""

from __future__ import annotations

import logging
from typing import Any

from .limits import Limits

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; object-src 'none'; "
                                 b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
CORS = (b"access-control-allow-origin", b"*")
_REASONS = {408: "Request Timeout", 414: "URI Too Long",
            431: "Request Header Fields Too Large"}
log = logging.getLogger("juno_kg.serve")
#: the ASGI scope extension (a set) where a request's handler may put a callback to be run
#: when its client's connection is lost; the server calls it at once, without the request
#: having to watch ``receive()`` in a task of its own
DISCONNECT_EXTENSION = "juno_kg.disconnect"


def _close_with(transport: Any, status: int, message: str) -> None:
    body = f"{status} {_REASONS[status]}: {message}\n".encode()
    head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: text/plain; "
            f"charset=utf-8\r\ncontent-length: {len(body)}\r\nconnection: close\r\n"
            "access-control-allow-origin: *\r\n\r\n").encode()
    transport.write(head + body)
    transport.close()


class _DisconnectHooks:
    """A connection's requests' callbacks for its loss (:data:`DISCONNECT_EXTENSION`)."""

    def __init__(self) -> None:
        self._sets: list[set] = []

    def offer(self, scope: dict) -> None:
        """Give the request of ``scope`` a set to put its callbacks in."""
        if len(self._sets) > 4:  # those of requests answered are empty
            self._sets = [callbacks for callbacks in self._sets if callbacks]
        callbacks: set = set()
        self._sets.append(callbacks)
        scope["extensions"] = {**scope.get("extensions", {}), DISCONNECT_EXTENSION: callbacks}

    def lost(self) -> None:
        sets, self._sets = self._sets, []
        for callbacks in sets:
            for callback in list(callbacks):
                callback()


def protocol_class(limits: Limits) -> type:
    """uvicorn's httptools protocol with a header timeout and header size limits."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _timer: Any = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            self._hooks = _DisconnectHooks()
            super().connection_made(transport)
            self._expect_head()

        def _expect_head(self) -> None:
            self._in_head, self._seen, self._line, self._tail = True, 0, None, b""
            self._cancel_timer()
            self._timer = self.loop.call_later(limits.header_timeout, self._too_slow)

        def _cancel_timer(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _too_slow(self) -> None:
            self._timer = None
            if not self._in_head or self.transport.is_closing():
                return
            if self._seen:
                _close_with(self.transport, 408, f"the request headers did not arrive within "
                                                 f"{limits.header_timeout:g} s")
            else:
                self.transport.close()

        def _head_fits(self, data: bytes) -> bool:
            joined = self._tail + data
            end = joined.find(b"\r\n\r\n")
            counted = len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            if self._line is None:
                newline = joined.find(b"\n")
                if newline >= 0:
                    self._line = self._seen + newline - len(self._tail)
            self._seen += counted
            self._tail = joined[-3:]
            line = self._line if self._line is not None else self._seen
            if line > limits.max_url:
                status, message = 414, f"the request line is over {limits.max_url} bytes"
            elif self._seen - line > limits.max_header:
                status, message = 431, f"the header fields are over {limits.max_header} bytes"
            else:
                return True
            self._in_head = False
            self._cancel_timer()
            _close_with(self.transport, status, message)
            return False

        def data_received(self, data: bytes) -> None:
            if self._in_head and not self._head_fits(data):
                return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._cancel_timer()
            self._hooks.offer(self.scope)
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            idle = self.cycle is None or self.cycle.response_complete
            if idle and not self.transport.is_closing():
                self._expect_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timer()
            super().connection_lost(exc)
            self._hooks.lost()

    return GuardedHttpToolsProtocol


class Hardened:
    """ASGI wrapper: security and CORS headers on every response, a plain 500 for errors."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:  # app.state, app.routes, … of the wrapped app
        return getattr(self.app, name)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_hardened(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in [*SECURITY_HEADERS, CORS] if h[0] not in names]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_hardened)
        except Exception:
            log.exception("unexpected error answering %s", scope.get("path"))
            if not started:
                await send_hardened({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8")]})
                await send({"type": "http.response.body",
                            "body": b"500 Internal Server Error: an unexpected error\n"})
