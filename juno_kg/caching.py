"""HTTP caching for ``juno-kg serve``: validators derived from the build, one
``Cache-Control`` policy, and ``304 Not Modified`` for conditional requests.

The dataset does not change while it is served, so every answer to a ``GET``/``HEAD`` is a
function of the build, the server's code and limits, the URL and, for negotiated answers,
the ``Accept`` header. The validators say so:

- ``ETag``: ``"{build}-{answer}"``; ``build`` is a digest of the build's ``SHA256SUMS``
  (which lists the SHA-256 of every file of the build), of the package's own files (the
  templates and code that render the query page, the service description, fragments) and
  of the server's limits; ``answer`` is a digest of the path and query string, and of
  ``Accept`` when the answer varies by it (``Vary: Accept``). A new build, a new version of
  juno-kg or other limits change every ETag.
- ``Last-Modified``: the time of the build's ``manifest.json`` (written last, once per
  build) or of the newest file of the package, whichever is later.
- ``Cache-Control``: ``public, max-age=N`` (``JUNO_KG_MAX_AGE``, default 300 s) on the
  answers that are the dataset (2xx, 3xx); ``no-store`` on errors (4xx, 5xx). Answers to
  ``POST`` (a query sent in the body) are left as they are: they are not cacheable
  (use ``GET /sparql?query=`` for that).

``If-None-Match`` is answered before the app runs (no query is run, no file read): a client
holds this ETag only from a 200 of this URL, and the same build and server give the same
answer again. ``If-Modified-Since`` (only looked at without ``If-None-Match``, as RFC 9110
says) is answered once the app has answered 200. The app itself never sees the
conditional headers, so Starlette's file responses (which make validators of their own
from the file's time and size) never answer 304 by themselves.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from . import layout

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_AGE = 300
PACKAGE = Path(__file__).resolve().parent
#: headers a 304 repeats from the 200 it stands for (RFC 9110 15.4.5); the rest are dropped
KEEP_ON_304 = (b"cache-control", b"etag", b"expires", b"last-modified", b"vary",
               b"content-location", b"date")
CONDITIONAL = (b"if-none-match", b"if-modified-since")


def package_digest(root: Path = PACKAGE) -> tuple[str, float]:
    """A SHA-256 of the package's files (code, templates, queries, static assets) and the
    time of the newest of them."""
    digest = hashlib.sha256()
    newest = 0.0
    for path in sorted(p for p in root.rglob("*") if p.is_file()
                       and "__pycache__" not in p.parts and p.suffix != ".pyc"):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    return digest.hexdigest(), newest


@dataclass(frozen=True)
class Validators:
    """What the validators of one served build are made from."""

    build: str  #: 16 hex digits: the build's SHA256SUMS, the package and the server's salt
    modified: int  #: Last-Modified, seconds since the epoch
    max_age: int = DEFAULT_MAX_AGE

    @classmethod
    def of(cls, dist: Path, salt: str = "", max_age: int | None = None) -> Validators:
        """The validators of the build in ``dist``; ``salt`` is what else shapes the answers
        (the server's limits)."""
        dist = Path(dist)
        sums = (dist / layout.CHECKSUMS).read_bytes()
        code, newest = package_digest()
        build = hashlib.sha256(b"\0".join([sums, code.encode(), salt.encode()])).hexdigest()
        modified = max((dist / layout.MANIFEST).stat().st_mtime, newest)
        if max_age is None:
            max_age = int(os.environ.get("JUNO_KG_MAX_AGE") or DEFAULT_MAX_AGE)
        if max_age < 0:
            raise ValueError(f"JUNO_KG_MAX_AGE must be 0 or more, not {max_age}")
        return cls(build[:16], int(modified), max_age)

    def etag(self, target: str, accept: str | None = None) -> str:
        """The ETag of the answer to ``target`` (path and query string); with ``accept``, of
        an answer negotiated by that ``Accept`` header."""
        key = target if accept is None else f"{target}\0{accept}"
        digest = _digest(key) if len(key) <= DIGESTS_KEPT_UP_TO else _digest.__wrapped__(key)
        return f'"{self.build}-{digest}"'

    @cached_property
    def last_modified(self) -> str:
        return formatdate(self.modified, usegmt=True)

    @property
    def cache_control(self) -> str:
        return f"public, max-age={self.max_age}"


DIGESTS_KEPT_UP_TO = 8192  #: characters of a path and query whose digest is remembered


@lru_cache(maxsize=1024)
def _digest(key: str) -> str:
    """16 hex digits of the SHA-256 of ``key`` (remembered: the same URLs come again)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _tags(header: str) -> list[str]:
    """The entity tags of an ``If-None-Match`` header, weak ones as strong (RFC 9110's weak
    comparison), or ``["*"]``."""
    tags = []
    for item in header.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        if item:
            tags.append(item)
    return tags


def _not_modified_since(header: str | None, modified: int) -> bool:
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False  # an invalid date is ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        return False
    return modified <= since.timestamp()


class HTTPCaching:
    """ASGI middleware adding validators and ``Cache-Control`` to the app's answers and
    answering conditional ``GET``/``HEAD`` requests with 304 (see the module's text)."""

    def __init__(self, app: ASGIApp, dist: str | Path, salt: str = "",
                 max_age: int | None = None) -> None:
        self.app = app
        self.validators = Validators.of(Path(dist), salt, max_age)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope.get("root_path", "") + scope["path"] + (f"?{query}" if query else "")
        v = self.validators
        plain, varied = v.etag(target), v.etag(target, headers.get("accept", ""))
        match_any = False
        if "if-none-match" in headers:
            tags = _tags(headers["if-none-match"])
            if plain in tags or varied in tags:
                await self._send_304(send, plain if plain in tags else varied,
                                     vary=varied in tags and plain not in tags)
                return
            match_any = "*" in tags
        since = None if "if-none-match" in headers else headers.get("if-modified-since")
        scope = dict(scope)
        scope["headers"] = [(k, val) for k, val in scope["headers"]
                            if k.lower() not in CONDITIONAL]
        state = {"skip_body": False}

        async def send_with_validators(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = [(k, val) for k, val in message.get("headers", [])
                       if k.lower() not in (b"etag", b"last-modified", b"cache-control")]
                vary = b"accept" in b",".join(val.lower() for k, val in raw
                                              if k.lower() == b"vary").replace(b" ", b"")
                if 200 <= status < 300:
                    raw += [(b"etag", (varied if vary else plain).encode()),
                            (b"last-modified", v.last_modified.encode()),
                            (b"cache-control", v.cache_control.encode())]
                    if status == 200 and (match_any or _not_modified_since(since, v.modified)):
                        state["skip_body"] = True
                        message = {"type": "http.response.start", "status": 304,
                                   "headers": [(k, val) for k, val in raw
                                               if k.lower() in KEEP_ON_304
                                               or k.lower().startswith(b"access-control-")]}
                        await send(message)
                        return
                elif 300 <= status < 400:
                    raw.append((b"cache-control", v.cache_control.encode()))
                else:
                    raw.append((b"cache-control", b"no-store"))
                message = {**message, "headers": raw}
            elif message["type"] == "http.response.body" and state["skip_body"]:
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app(scope, receive, send_with_validators)

    async def _send_304(self, send: Send, etag: str, vary: bool) -> None:
        v = self.validators
        headers = [(b"etag", etag.encode()), (b"last-modified", v.last_modified.encode()),
                   (b"cache-control", v.cache_control.encode())]
        if vary:
            headers.append((b"vary", b"Accept"))
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
