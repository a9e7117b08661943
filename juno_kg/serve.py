"""``juno-kg serve``: the built site, content negotiation and a hardened SPARQL endpoint.

A Starlette app over a ``dist/`` folder written by ``juno-kg build``:

- ``/id/{kind}/{slug}`` and ``/ontology`` answer 303 to the HTML page or to the data file
  in the format the client's ``Accept`` header prefers (q-values honoured, ``Vary: Accept``,
  ``?format=NAME`` overrides); unknown resources get a 404 page that helps;
- ``/sparql`` is a SPARQL 1.1 Protocol endpoint (GET, POST form, POST
  ``application/sparql-query``) over the union of the named graphs of the N-Quads dump.

The endpoint faces the internet, so it is read-only and never makes an outgoing request:
updates are refused (403); ``SERVICE`` is refused, and ``FROM``/``FROM NAMED`` (or the
protocol's ``default-graph-uri``/``named-graph-uri``) may only name this dataset's own
graphs (400) — all checked on the query text after SPARQL's ``\\u`` escapes are resolved,
before anything runs. Queries run in worker processes with a pyoxigraph store each, so a
query over its time limit is stopped by killing its worker (503), and results are capped
at a number of rows (the response says so). Limits are reported in every ``/sparql``
response's headers, in the service description and on the query page.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from . import formats, layout
from .engine import Engine, SandboxUnavailable
from .guard import Query, check_query, unescape  # noqa: F401 - part of this module's API
from .httpguard import Hardened, protocol_class
from .limits import Limits, Refused
from .negotiation import best_match, format_from_param, rdf_offers
from .workers import HTML, sandbox_problem

# Media types of the registry for static files (data/, dumps/) served by the app.
for _fmt in formats.FORMATS:
    mimetypes.add_type(_fmt.media_type, f".{_fmt.extension}")
mimetypes.add_type("application/ld+json", ".jsonld")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

DUMP = layout.NQUADS_DUMP


# --------------------------------------------------------------------------- the app

@dataclass
class Site:
    """What the app serves: a build folder and the dataset's graphs."""

    dist: Path
    base: str
    graphs: list[str]
    prefixes: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, dist: Path) -> Site:
        from .errors import JunoKGError

        dist = Path(dist)
        manifest = dist / layout.MANIFEST
        if not (dist / DUMP).is_file() or not manifest.is_file():
            raise JunoKGError(f"no build here (missing {DUMP} or manifest.json)", path=dist,
                              hint=f"run `juno-kg build --out {dist}` first")
        base = json.loads(manifest.read_text("utf-8"))["base"]
        import pyoxigraph as ox

        graphs: set[str] = set()
        labels: dict[str, str] = {}
        label = "http://www.w3.org/2000/01/rdf-schema#label"
        for quad in ox.parse(path=str(dist / DUMP), format=ox.RdfFormat.N_QUADS):
            if isinstance(quad.graph_name, ox.NamedNode):
                graphs.add(quad.graph_name.value)
            if quad.predicate.value == label and isinstance(quad.object, ox.Literal) and (
                    quad.object.language in (None, "en")):
                labels.setdefault(quad.subject.value, quad.object.value)
        context = {}
        with contextlib.suppress(OSError, ValueError):
            context = json.loads((dist / "context.jsonld").read_text("utf-8"))["@context"]
        prefixes = {k: v for k, v in context.items()
                    if isinstance(v, str) and v.endswith(("/", "#")) and not k.startswith("@")}
        return cls(dist, base, sorted(graphs), prefixes, labels)

    def page(self, path: str) -> Path | None:
        """The HTML file of the resource at ``/id/{path}`` (or the ontology), if published."""
        if path == "ontology":
            target = self.dist / "ontology.html"
        else:
            target = self.dist / layout.page_path(path)
        try:
            target.resolve().relative_to(self.dist.resolve())
            return target if target.is_file() else None
        except (ValueError, OSError):  # outside the build, or a name too long to be a file
            return None


class Views:
    """The site's own views: content negotiation for ``/id/…``, ``/ontology``, ``/dataset``
    and ``/graph/…``, the pages, and error pages that help."""

    def __init__(self, site: Site, templates: Any) -> None:
        self.site, self.templates = site, templates

    def html_error(self, status: int, title: str, message: str, request: Request,
                   headers: dict | None = None) -> Response:
        wants_html = best_match(request.headers.get("accept"), ["text/plain", HTML]) == HTML
        if not wants_html:
            return PlainTextResponse(f"{status} {title}: {message}\n", status, headers=headers)
        depth = max(0, request.url.path.count("/") - 1)
        body = self.templates.get_template("error.html").render(
            status=status, title=title, message=message, root="../" * depth,
            kinds=self.kinds_near(request.url.path))
        return Response(body, status, headers=headers, media_type="text/html")

    def kinds_near(self, path: str) -> list[tuple[str, str]]:
        """Published resources of the same kind as ``path`` (for the 404 page)."""
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] not in ("id", "page", "data"):
            return []
        folder = self.site.dist / layout.PAGES / parts[1]
        if not folder.is_dir() or not folder.resolve().is_relative_to(self.site.dist.resolve()):
            return []
        return [(f"/id/{parts[1]}/{p.stem}", p.stem) for p in sorted(folder.glob("*.html"))][:50]

    def negotiate(self, request: Request, path: str) -> Response:
        headers = {"Vary": "Accept"}
        if self.site.page(path) is None:
            return self.html_error(404, "Not found", f"There is no resource /id/{path} in this "
                              "dataset.", request, headers)
        override = request.query_params.get("format")
        try:
            if override:
                media = format_from_param(override, "resource")
            else:
                media = best_match(request.headers.get("accept"), [HTML, *rdf_offers(),
                                                                   "application/json"])
                if media == "application/json":
                    media = "application/ld+json"
        except Refused as exc:
            return self.html_error(exc.status, "Bad request", exc.message, request, headers)
        if media is None:
            available = ", ".join([HTML, *rdf_offers()])
            return self.html_error(406, "Not acceptable", f"available types: {available}", request,
                              headers)
        if media == HTML:
            location = "/ontology.html" if path == "ontology" else f"/page/{path}"
        else:
            ext = next(f.extension for f in formats.FORMATS if f.media_type == media)
            location = f"/data/{path}.{ext}"
        return RedirectResponse(location, 303, headers=headers)

    async def resource(self, request: Request) -> Response:
        return self.negotiate(request, request.path_params["path"].rstrip("/"))

    async def ontology(self, request: Request) -> Response:
        return self.negotiate(request, "ontology")

    async def described(self, request: Request) -> Response:
        """``/dataset`` (VoID) and ``/graph/{name}``: 303 to the index or to the graph dump."""
        name = request.path_params.get("name", "meta")
        headers = {"Vary": "Accept"}
        triple_formats = [f for f in formats.FORMATS if not f.quads]
        if not (self.site.dist / layout.graph_dump_path(name, formats.get("turtle"))).is_file():
            return self.html_error(404, "Not found", f"There is no graph {name!r} in this dataset.",
                              request, headers)
        override = request.query_params.get("format")
        try:
            media = (format_from_param(override, "resource") if override else best_match(
                request.headers.get("accept"), [HTML, *(f.media_type for f in triple_formats)]))
        except Refused as exc:
            return self.html_error(exc.status, "Bad request", exc.message, request, headers)
        fmt = next((f for f in triple_formats if f.media_type == media), None)
        if media == HTML:
            return RedirectResponse("/index.html#data", 303, headers=headers)
        if fmt is None:
            return self.html_error(406, "Not acceptable", "available types: " + ", ".join(
                [HTML, *(f.media_type for f in triple_formats)]), request, headers)
        return RedirectResponse("/" + layout.graph_dump_path(name, fmt), 303, headers=headers)

    async def page(self, request: Request) -> Response:
        path = request.path_params["path"]
        path = path[:-5] if path.endswith(".html") else path
        target = self.site.page(path)
        if target is None:
            return self.html_error(404, "Not found", f"No page /page/{path}.", request)
        return FileResponse(target, media_type="text/html; charset=utf-8")

    async def void(self, request: Request) -> Response:
        return FileResponse(self.site.dist / layout.WELL_KNOWN_VOID, media_type="text/turtle")

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.html_error(404, "Not found", f"Nothing at {request.url.path}.", request)

    async def unreadable(self, request: Request, exc: Exception) -> Response:  # ENAMETOOLONG, …
        return self.html_error(404, "Not found", "No such file in this build.", request)


def create_app(dist: str | Path, limits: Limits | None = None):
    """The Starlette application serving the build in ``dist``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from . import caching, fragments, yasgui
    from . import site as site_module
    from .endpoint import Endpoint

    site = Site.open(Path(dist))
    limits = limits or Limits.from_env()
    engine = Engine(site.dist / DUMP, limits)
    templates = site_module.environment()
    views = Views(site, templates)
    endpoint = Endpoint(site, limits, engine, templates, views)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    routes = [
        Route("/id/{path:path}", views.resource),
        Route("/ontology", views.ontology),
        Route("/dataset", views.described),
        Route("/graph/{name}", views.described),
        Route("/page/{path:path}", views.page),
        Route("/sparql", endpoint.sparql, methods=["GET", "POST"]),
        Route("/.well-known/void", views.void),
        fragments.route(site.dist),
        yasgui.mount(),
        Mount("/", app=StaticFiles(directory=site.dist, html=True)),
    ]
    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                             allow_headers=["Accept", "Content-Type", "If-None-Match",
                                            "If-Modified-Since"],
                             expose_headers=["Location", "ETag", "Retry-After",
                                             "X-Results-Truncated",
                                             *limits.headers()]),
                  Middleware(caching.HTTPCaching, dist=site.dist, salt=repr(limits)),
                  Middleware(yasgui.PagePolicy)]
    return Hardened(Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                              exception_handlers={404: views.not_found,
                                                  OSError: views.unreadable}))


def serve(dist: str | Path = "dist", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          limits: Limits | None = None, echo=print) -> None:
    """Serve the build in ``dist`` until interrupted (uvicorn)."""
    import uvicorn

    limits = limits or Limits.from_env()
    app = create_app(dist, limits)
    problem = sandbox_problem() if limits.sandbox else None
    if problem:  # refused here, plainly, not by the first worker under uvicorn's lifespan
        raise SandboxUnavailable.because(problem)
    echo(f"juno-kg: serving {dist}/ at http://{host}:{port}/ "
         f"(SPARQL endpoint http://{host}:{port}/sparql)")
    raise_open_files_limit()
    # No limit_concurrency: uvicorn counts every open connection against it, so slow clients
    # holding connections would turn everyone away; the header timeout sheds them instead and
    # the query workers have their own fair queue.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                server_header=False, http=protocol_class(limits), timeout_keep_alive=5,
                backlog=4096)


def raise_open_files_limit() -> None:
    """Raise the soft limit on open files to the hard limit: one per connection."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 16
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
