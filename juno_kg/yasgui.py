"""YASGUI (the SPARQL editor and result views of ``@triply/yasgui``, MIT) on the ``/sparql``
page of ``juno-kg serve``, from assets shipped in the package.

``juno_kg/static/yasgui/`` holds the npm package's built ``yasgui.min.js`` and
``yasgui.min.css`` with their licences, a ``VERSION`` and a ``SHA256SUMS`` of them, as
``scripts/update-yasgui.sh`` fetched them (a pinned version, checked against the registry's
integrity), and ``juno-kg.js``/``juno-kg.css``, ours: they configure YASGUI for this
endpoint (the named queries as tabs, the dataset's prefixes for completion, the row limit)
and turn off everything that would fetch from elsewhere (prefix.cc, LOV). The server serves
them at ``/static/yasgui/``; the page keeps its plain form for browsers without JavaScript.
See docs/yasgui.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .vocab import prefix_map

ASSETS = Path(__file__).resolve().parent / "static" / "yasgui"
PATH = "/static/yasgui"
#: the query page's Content-Security-Policy (a header of its HTML answers): everything from
#: this server only; YASGUI also needs the ``data:`` images of its icons and ``<style>``
#: elements of its tables (DataTables), nothing else
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


def version() -> str:
    """The version of ``@triply/yasgui`` shipped."""
    return (ASSETS / "VERSION").read_text("utf-8").strip()


def verify() -> list[str]:
    """The shipped files that differ from their ``SHA256SUMS`` line (none, unless edited)."""
    import hashlib

    wrong = []
    for line in (ASSETS / "SHA256SUMS").read_text("utf-8").splitlines():
        digest, name = line.split("  ", 1)
        path = ASSETS / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            wrong.append(name)
    return wrong


def page(base: str) -> dict[str, Any]:
    """What the query page's template needs for YASGUI (beside the named queries and the
    limits it has): the prefixes to complete and the version."""
    return {"prefixes": prefix_map(base), "version": version()}


def mount():
    """The route serving the assets at ``/static/yasgui/``."""
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    return Mount(PATH, app=StaticFiles(directory=ASSETS), name="yasgui")


class PagePolicy:
    """ASGI middleware: the HTML answers of ``/sparql`` carry :data:`CSP` (so a stricter
    site-wide policy added further out, which keeps a policy already there, does not block
    YASGUI's icons and table styles)."""

    def __init__(self, app: Any, path: str = "/sparql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"content-security-policy"]
                media = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
                if media.startswith(b"text/html"):
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)
