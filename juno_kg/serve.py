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

import asyncio
import contextlib
import json
import mimetypes
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

from . import formats
from .engine import Engine, SandboxUnavailable  # noqa: F401 - part of this module's API
from .guard import Query, check_query, unescape  # noqa: F401 - part of this module's API
from .httpguard import Hardened, protocol_class
from .limits import Limits, Refused
from .workers import HTML, RESULTS

# Media types of the registry for static files (data/, dumps/) served by the app.
for _fmt in formats.FORMATS:
    mimetypes.add_type(_fmt.media_type, f".{_fmt.extension}")
mimetypes.add_type("application/ld+json", ".jsonld")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

RESULT_ALIASES = {"application/json": "json", "application/xml": "xml", "text/xml": "xml"}
DUMP = "dumps/juno-kg.nq"


# --------------------------------------------------------------------------- negotiation

def best_match(accept: str | None, offers: list[str]) -> str | None:
    """The offer the ``Accept`` header prefers (q-values, wildcards), by werkzeug."""
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    parsed = parse_accept_header(_BAD_Q.sub("", accept or "") or "*/*", MIMEAccept)
    return parsed.best_match(offers)


#: a q parameter that is not a number: dropped (q=1), not a reason to refuse the type
_BAD_Q = re.compile(r";\s*q\s*=\s*(?![01](?:\.\d{0,3})?\s*(?:[,;]|$))[^,;]*", re.I)
_HOST = re.compile(r"(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::\d{1,5})?"
                   r"|\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?")


def linkable(iri: str) -> bool:
    """Whether an IRI in results may be a link on the HTML page (never ``javascript:``)."""
    return iri.lower().startswith(("http://", "https://"))


def rdf_offers() -> list[str]:
    return [f.media_type for f in formats.FORMATS]


def format_from_param(value: str, form: str) -> str:
    """``?format=`` as a media type for a query of ``form`` (``page`` for resources)."""
    key = value.strip().lower()
    if key in ("html", "text/html"):
        return HTML
    if form in ("SELECT", "ASK"):
        if key in RESULTS:
            return RESULTS[key]
        if key in RESULTS.values():
            return key
        if key in RESULT_ALIASES:
            return RESULTS[RESULT_ALIASES[key]]
        raise Refused(400, f"unknown results format {value!r}; use one of: "
                           f"{', '.join([*RESULTS, 'html'])}")
    key = {"json": "jsonld", "n3": "turtle", "xml": "rdfxml", "rdf+xml": "rdfxml"}.get(key, key)
    try:
        return formats.get(key).media_type
    except KeyError:
        raise Refused(400, f"unknown RDF format {value!r}; use one of: "
                           f"{', '.join([*formats.names(), 'html'])}") from None


@lru_cache(maxsize=256)
def choose_type(accept: str | None, form: str, override: str | None) -> str:
    """The media type to answer a query of ``form`` with, or :class:`Refused` (406)."""
    if override:
        return format_from_param(override, form)
    if form in ("SELECT", "ASK"):
        offers = [RESULTS["json"], RESULTS["xml"], RESULTS["csv"], RESULTS["tsv"],
                  *RESULT_ALIASES, HTML]
        if form == "ASK":
            offers = [o for o in offers if o not in (RESULTS["csv"], RESULTS["tsv"])]
    else:
        offers = [*rdf_offers(), "application/json", "text/n3", "application/turtle",
                  "application/x-turtle", "text/plain", HTML]
    chosen = best_match(accept, offers)
    if chosen is None:
        raise Refused(406, f"none of the types in Accept can be produced for a {form} query; "
                           f"available: {', '.join(offers)}")
    if form in ("SELECT", "ASK"):
        return RESULTS.get(RESULT_ALIASES.get(chosen, ""), chosen)
    return {"application/json": "application/ld+json", "text/n3": "text/turtle",
            "application/turtle": "text/turtle", "application/x-turtle": "text/turtle",
            "text/plain": "application/n-triples"}.get(chosen, chosen)


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
        manifest = dist / "manifest.json"
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
            target = self.dist / "page" / f"{path}.html"
        try:
            target.resolve().relative_to(self.dist.resolve())
            return target if target.is_file() else None
        except (ValueError, OSError):  # outside the build, or a name too long to be a file
            return None


def create_app(dist: str | Path, limits: Limits | None = None):
    """The Starlette application serving the build in ``dist``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from . import caching, fragments, yasgui
    from . import site as site_module
    from .model import short_iri

    site = Site.open(Path(dist))
    limits = limits or Limits.from_env()
    engine = Engine(site.dist / DUMP, limits)
    templates = site_module.environment()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    def html_error(status: int, title: str, message: str, request: Request,
                   headers: dict | None = None) -> Response:
        wants_html = best_match(request.headers.get("accept"), ["text/plain", HTML]) == HTML
        if not wants_html:
            return PlainTextResponse(f"{status} {title}: {message}\n", status, headers=headers)
        depth = max(0, request.url.path.count("/") - 1)
        body = templates.get_template("error.html").render(
            status=status, title=title, message=message, root="../" * depth,
            kinds=kinds_near(request.url.path))
        return Response(body, status, headers=headers, media_type="text/html")

    def kinds_near(path: str) -> list[tuple[str, str]]:
        """Published resources of the same kind as ``path`` (for the 404 page)."""
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] not in ("id", "page", "data"):
            return []
        folder = site.dist / "page" / parts[1]
        if not folder.is_dir() or not folder.resolve().is_relative_to(site.dist.resolve()):
            return []
        return [(f"/id/{parts[1]}/{p.stem}", p.stem) for p in sorted(folder.glob("*.html"))][:50]

    def negotiate(request: Request, path: str) -> Response:
        headers = {"Vary": "Accept"}
        if site.page(path) is None:
            return html_error(404, "Not found", f"There is no resource /id/{path} in this "
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
            return html_error(exc.status, "Bad request", exc.message, request, headers)
        if media is None:
            available = ", ".join([HTML, *rdf_offers()])
            return html_error(406, "Not acceptable", f"available types: {available}", request,
                              headers)
        if media == HTML:
            location = "/ontology.html" if path == "ontology" else f"/page/{path}"
        else:
            ext = next(f.extension for f in formats.FORMATS if f.media_type == media)
            location = f"/data/{path}.{ext}"
        return RedirectResponse(location, 303, headers=headers)

    async def resource(request: Request) -> Response:
        return negotiate(request, request.path_params["path"].rstrip("/"))

    async def ontology(request: Request) -> Response:
        return negotiate(request, "ontology")

    async def described(request: Request) -> Response:
        """``/dataset`` (VoID) and ``/graph/{name}``: 303 to the index or to the graph dump."""
        name = request.path_params.get("name", "meta")
        headers = {"Vary": "Accept"}
        triple_formats = [f for f in formats.FORMATS if not f.quads]
        if not (site.dist / "dumps" / "graphs" / f"{name}.ttl").is_file():
            return html_error(404, "Not found", f"There is no graph {name!r} in this dataset.",
                              request, headers)
        override = request.query_params.get("format")
        try:
            media = (format_from_param(override, "resource") if override else best_match(
                request.headers.get("accept"), [HTML, *(f.media_type for f in triple_formats)]))
        except Refused as exc:
            return html_error(exc.status, "Bad request", exc.message, request, headers)
        fmt = next((f for f in triple_formats if f.media_type == media), None)
        if media == HTML:
            return RedirectResponse("/index.html#data", 303, headers=headers)
        if fmt is None:
            return html_error(406, "Not acceptable", "available types: " + ", ".join(
                [HTML, *(f.media_type for f in triple_formats)]), request, headers)
        return RedirectResponse(f"/dumps/graphs/{name}.{fmt.extension}", 303, headers=headers)

    async def page(request: Request) -> Response:
        path = request.path_params["path"]
        path = path[:-5] if path.endswith(".html") else path
        target = site.page(path)
        if target is None:
            return html_error(404, "Not found", f"No page /page/{path}.", request)
        return FileResponse(target, media_type="text/html; charset=utf-8")

    async def void(request: Request) -> Response:
        return FileResponse(site.dist / ".well-known" / "void", media_type="text/turtle")

    async def sparql(request: Request) -> Response:
        headers = {"Vary": "Accept", **limits.headers()}
        try:
            return await answer(request, headers)
        except Refused as exc:
            if exc.retry_after:
                headers["Retry-After"] = str(exc.retry_after)
            return html_error(exc.status, "SPARQL request refused", exc.message, request,
                              headers)

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limits.max_request:
            raise Refused(413, f"request body of {length} bytes is over the limit of "
                               f"{limits.max_request} bytes")
        body = b""
        try:
            async with asyncio.timeout(limits.header_timeout):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > limits.max_request:
                        raise Refused(413, f"request body is over the limit of "
                                           f"{limits.max_request} bytes")
        except TimeoutError:
            raise Refused(408, f"the request body did not arrive within "
                               f"{limits.header_timeout:g} s") from None
        return body

    async def answer(request: Request, headers: dict[str, str]) -> Response:
        params: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key, []).append(value)
        if request.method == "POST":
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            body = await read_body(request)
            if ctype == "application/x-www-form-urlencoded":
                try:
                    form = parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                    strict_parsing=False)
                except UnicodeDecodeError:
                    raise Refused(400, "the form body is not UTF-8") from None
                for key, values in form.items():
                    params.setdefault(key, []).extend(values)
            elif ctype == "application/sparql-query":
                try:
                    params.setdefault("query", []).append(body.decode("utf-8"))
                except UnicodeDecodeError:
                    raise Refused(400, "the query is not UTF-8") from None
            elif ctype == "application/sparql-update":
                raise Refused(403, "this endpoint is read-only; SPARQL Update is refused")
            else:
                raise Refused(415, "POST a form (application/x-www-form-urlencoded) or a "
                                   "query (application/sparql-query)")
        if "update" in params:
            raise Refused(403, "this endpoint is read-only; SPARQL Update is refused")
        queries = params.get("query", [])
        if len(queries) > 1:
            raise Refused(400, "give exactly one query parameter")
        if not queries:
            if request.method == "POST":
                raise Refused(400, "no query: send one as the query parameter")
            return describe_service(request, headers)
        text = queries[0]
        if len(text.encode("utf-8")) > limits.max_request:
            raise Refused(414 if request.method == "GET" else 413,
                          f"query of {len(text.encode('utf-8'))} bytes is over the limit of "
                          f"{limits.max_request} bytes")
        query = check_query(text, site.graphs, params.get("default-graph-uri", []),
                            params.get("named-graph-uri", []), limits.max_nesting)
        override = (params.get("format") or [None])[0]
        media = choose_type(request.headers.get("accept"), query.form, override)
        status, what, body, truncated, retry_after = await run_while_connected(
            request, engine.run(query, media, site.prefixes, client_of(request)))
        if status == 400 and media == HTML:  # in the browser: the error above the query box
            return Response(query_page(text, None, False, query.form, error=what),
                            status_code=400, headers=headers, media_type="text/html")
        if status != 200:
            raise Refused(status, what, retry_after)
        if truncated:
            headers["X-Results-Truncated"] = "true"
            headers["Warning"] = (f'199 - "results truncated at {limits.max_rows} rows or '
                                  f'{limits.max_answer} bytes"')
        if what == HTML:
            doc = json.loads(body)
            page_html = query_page(text, doc, truncated, query.form)
            return Response(page_html, headers=headers, media_type="text/html")
        charset = "; charset=utf-8" if what.startswith("text/") or "json" in what else ""
        return Response(body, headers=headers, media_type=what + charset)

    sd_cache: dict[tuple[str, str], bytes] = {}  # by media type and endpoint IRI

    def describe_service(request: Request, headers: dict[str, str]) -> Response:
        override = request.query_params.get("format")
        media = (format_from_param(override, "service") if override else
                 best_match(request.headers.get("accept"), [*rdf_offers(), HTML]))
        if media is None:
            raise Refused(406, f"the service description is available as: "
                               f"{', '.join([*rdf_offers(), HTML])}")
        if media == HTML:
            return Response(query_page(None, None, False, None), headers=headers,
                            media_type="text/html")
        key = (media, endpoint_of(request))
        if key not in sd_cache:
            while len(sd_cache) >= 32:
                sd_cache.pop(next(iter(sd_cache)))
            sd_cache[key] = service_description(key[1], site, limits, media)
        return Response(sd_cache[key], headers=headers, media_type=media)

    def query_page(text: str | None, doc: dict | None, truncated: bool,
                   form: str | None, error: str | None = None) -> str:
        from .site import named_queries
        from .sparql import declare_prefixes

        example = declare_prefixes("SELECT ?album ?name WHERE {\n"
                                   "  ?album a schema:MusicAlbum ; schema:name ?name .\n}\n",
                                   site.prefixes)
        title = ("SPARQL query error" if error else "SPARQL query results" if doc is not None
                 else "SPARQL endpoint")
        return templates.get_template("sparql.html").render(
            root="", title=title, query=text or example, doc=doc, truncated=truncated,
            form=form, error=error, limits=limits, examples=named_queries(site.base),
            result_formats=RESULTS, rdf_formats=formats.FORMATS,
            base=site.base, graphs=site.graphs,
            label=lambda iri, prefixes: site.labels.get(iri) or short_iri(iri,
                                                                                     prefixes),
            prefixes=site.prefixes, yasgui=yasgui.page(site.base), linkable=linkable)

    async def not_found(request: Request, exc: Exception) -> Response:
        return html_error(404, "Not found", f"Nothing at {request.url.path}.", request)

    async def unreadable(request: Request, exc: Exception) -> Response:  # ENAMETOOLONG, …
        return html_error(404, "Not found", "No such file in this build.", request)

    routes = [
        Route("/id/{path:path}", resource),
        Route("/ontology", ontology),
        Route("/dataset", described),
        Route("/graph/{name}", described),
        Route("/page/{path:path}", page),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/.well-known/void", void),
        fragments.route(site.dist),
        yasgui.mount(),
        Mount("/", app=StaticFiles(directory=site.dist, html=True)),
    ]
    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                             allow_headers=["Accept", "Content-Type"],
                             expose_headers=["Location", "X-Results-Truncated",
                                             *limits.headers()]),
                  Middleware(caching.HTTPCaching, dist=site.dist, salt=repr(limits)),
                  Middleware(yasgui.PagePolicy)]
    return Hardened(Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                              exception_handlers={404: not_found, OSError: unreadable}))


def client_of(request) -> str:
    """The address a client connects from: the key of its fair share of the workers."""
    return request.client.host if request.client else ""


def endpoint_of(request) -> str:
    """The endpoint's IRI as the client named it; a ``Host`` that is no host name is not
    echoed (the server's own address is used instead)."""
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        server = request.scope.get("server") or ("127.0.0.1", DEFAULT_PORT)
        host = f"{server[0]}:{server[1]}"
    return f"{request.url.scheme}://{host}/sparql"


async def run_while_connected(request, work) -> tuple:
    """Await ``work`` unless the client disconnects first: then it is cancelled (its query's
    worker is killed) and the request ends."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait([task, watch], return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
    if not task.done() or task.cancelled():
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise Refused(499, "the client went away")
    return task.result()


async def _disconnected(request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def service_description(endpoint: str, site: Site, limits: Limits, media: str) -> bytes:
    """A SPARQL 1.1 Service Description of the endpoint, in the RDF format ``media``."""
    from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef

    sd = Namespace("http://www.w3.org/ns/sparql-service-description#")
    fmt_ns = Namespace("http://www.w3.org/ns/formats/")
    void = Namespace("http://rdfs.org/ns/void#")
    g = Graph()
    g.bind("sd", sd)
    g.bind("void", void)
    service = URIRef(endpoint)
    g.add((service, RDF.type, sd.Service))
    g.add((service, sd.endpoint, service))
    g.add((service, sd.supportedLanguage, sd.SPARQL11Query))
    g.add((service, sd.feature, sd.UnionDefaultGraph))
    for name in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
                 "SPARQL_Results_TSV", "Turtle", "N-Triples", "JSON-LD", "RDF_XML", "N-Quads",
                 "TriG"):
        g.add((service, sd.resultFormat, fmt_ns[name]))
    g.add((service, RDFS.comment, Literal(
        f"Read-only; no federated queries (SERVICE) and no remote FROM graphs. Limits: "
        f"{limits.timeout:g} s per query, {limits.max_rows} result rows (or triples), "
        f"{limits.max_request} bytes per request; the same figures are in the "
        f"X-Query-Time-Limit, X-Result-Row-Limit and X-Request-Size-Limit response headers.",
        lang="en")))
    dataset = BNode("dataset")
    g.add((service, sd.defaultDataset, dataset))
    g.add((dataset, RDF.type, sd.Dataset))
    g.add((dataset, void.sparqlEndpoint, service))
    from .fragments import advertise  # the Triple Pattern Fragments at /fragments

    advertise(g, dataset, endpoint.rsplit("/", 1)[0] + "/")
    default = BNode("default")
    g.add((dataset, sd.defaultGraph, default))
    g.add((default, RDF.type, sd.Graph))
    g.add((default, RDFS.comment, Literal("The union of all the named graphs.", lang="en")))
    for iri in site.graphs:
        node = BNode("g" + re.sub(r"\W", "_", iri.rsplit("/", 1)[-1]))
        g.add((dataset, sd.namedGraph, node))
        g.add((node, RDF.type, sd.NamedGraph))
        g.add((node, sd.name, URIRef(iri)))
    fmt = next(f for f in formats.FORMATS if f.media_type == media)
    if fmt.quads:
        from rdflib import Dataset

        ds = Dataset()
        ds.bind("sd", sd)
        ds.default_context += g
        return ds.serialize(format=fmt.rdflib).encode("utf-8")
    return g.serialize(format=fmt.rdflib).encode("utf-8")


def serve(dist: str | Path = "dist", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          limits: Limits | None = None, echo=print) -> None:
    """Serve the build in ``dist`` until interrupted (uvicorn)."""
    import uvicorn

    app = create_app(dist, limits)
    echo(f"juno-kg: serving {dist}/ at http://{host}:{port}/ "
         f"(SPARQL endpoint http://{host}:{port}/sparql)")
    limits = limits or Limits.from_env()
    raise_open_files_limit()
    # No limit_concurrency: uvicorn counts every open connection against it, so slow clients
    # holding connections would turn everyone away; the header timeout sheds them instead and
    # the query workers have their own fair queue.
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False,
                http=protocol_class(limits), timeout_keep_alive=5, backlog=4096)


def raise_open_files_limit() -> None:
    """Raise the soft limit on open files to the hard limit: one per connection."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 16
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
