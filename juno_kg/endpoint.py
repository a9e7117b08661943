"""The ``/sparql`` endpoint of ``juno-kg serve``: the SPARQL 1.1 Protocol in front of the
query workers.

A request is read (GET, POST form, POST ``application/sparql-query``; bodies bounded in size
and time), checked (:mod:`juno_kg.guard`: read-only, no ``SERVICE``, only this dataset's
graphs, bounded nesting), given a media type (:mod:`juno_kg.negotiation`) and run by a query
worker (:mod:`juno_kg.engine`) while the client stays connected. Without a query it is the
service description (RDF) or, in a browser, the query page with YASGUI.
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from . import formats, yasgui
from .engine import Engine
from .guard import check_query
from .httpguard import DISCONNECT_EXTENSION
from .limits import Limits, Refused
from .model import short_iri
from .negotiation import best_match, choose_type, format_from_param, rdf_offers
from .workers import HTML, RESULTS

DEFAULT_PORT = 8000

_HOST = re.compile(r"(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::\d{1,5})?"
                   r"|\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?")


def linkable(iri: str) -> bool:
    """Whether an IRI in results may be a link on the HTML page (never ``javascript:``)."""
    return iri.lower().startswith(("http://", "https://"))



class Endpoint:
    """The views of ``/sparql``: the site served (``site``), its limits, the query workers
    (``engine``), the templates, and the site's views for error pages."""

    def __init__(self, site: Any, limits: Limits, engine: Engine, templates: Any,
                 views: Any) -> None:
        self.site, self.limits, self.engine = site, limits, engine
        self.templates, self.views = templates, views
        self.sd_cache: dict[tuple[str, str], bytes] = {}  # by media type and endpoint IRI

    async def sparql(self, request: Request) -> Response:
        headers = {"Vary": "Accept", **self.limits.headers()}
        try:
            return await self.answer(request, headers)
        except Refused as exc:
            if exc.retry_after:
                headers["Retry-After"] = str(exc.retry_after)
            return self.views.html_error(exc.status, "SPARQL request refused", exc.message, request,
                              headers)

    async def read_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.limits.max_request:
            raise Refused(413, f"request body of {length} bytes is over the limit of "
                               f"{self.limits.max_request} bytes")
        body = b""
        try:
            async with asyncio.timeout(self.limits.header_timeout):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > self.limits.max_request:
                        raise Refused(413, f"request body is over the limit of "
                                           f"{self.limits.max_request} bytes")
        except TimeoutError:
            raise Refused(408, f"the request body did not arrive within "
                               f"{self.limits.header_timeout:g} s") from None
        return body

    async def answer(self, request: Request, headers: dict[str, str]) -> Response:
        params: dict[str, list[str]] = {}
        for key, value in query_parameters(request.scope.get("query_string", b"")):
            params.setdefault(key, []).append(value)
        if request.method == "POST":
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            body = await self.read_body(request)
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
            return self.describe_service(request, headers)
        text = queries[0]
        if len(text.encode("utf-8")) > self.limits.max_request:
            raise Refused(414 if request.method == "GET" else 413,
                          f"query of {len(text.encode('utf-8'))} bytes is over the limit of "
                          f"{self.limits.max_request} bytes")
        query = check_query(text, self.site.graphs, params.get("default-graph-uri", []),
                            params.get("named-graph-uri", []), self.limits.max_nesting)
        override = (params.get("format") or [None])[0]
        media = choose_type(request.headers.get("accept"), query.form, override)
        status, what, body, truncated, retry_after = await run_while_connected(
            request, self.engine.run(query, media, self.site.prefixes, client_of(request)))
        if status == 400 and media == HTML:  # in the browser: the error above the query box
            return Response(self.query_page(text, None, False, query.form, error=what),
                            status_code=400, headers=headers, media_type="text/html")
        if status != 200:
            raise Refused(status, what, retry_after)
        if truncated:
            headers["X-Results-Truncated"] = "true"
            headers["Warning"] = (f'199 - "results truncated at {self.limits.max_rows} rows or '
                                  f'{self.limits.max_answer} bytes"')
        if what == HTML:
            doc = json.loads(body)
            page_html = self.query_page(text, doc, truncated, query.form)
            return Response(page_html, headers=headers, media_type="text/html")
        charset = "; charset=utf-8" if what.startswith("text/") or "json" in what else ""
        return Response(body, headers=headers, media_type=what + charset)

    def describe_service(self, request: Request, headers: dict[str, str]) -> Response:
        override = request.query_params.get("format")
        media = (format_from_param(override, "service") if override else
                 best_match(request.headers.get("accept"), [*rdf_offers(), HTML]))
        if media is None:
            raise Refused(406, f"the service description is available as: "
                               f"{', '.join([*rdf_offers(), HTML])}")
        if media == HTML:
            return Response(self.query_page(None, None, False, None), headers=headers,
                            media_type="text/html")
        key = (media, endpoint_of(request))
        if key not in self.sd_cache:
            while len(self.sd_cache) >= 32:
                self.sd_cache.pop(next(iter(self.sd_cache)))
            self.sd_cache[key] = service_description(key[1], self.site, self.limits, media)
        return Response(self.sd_cache[key], headers=headers, media_type=media)

    def query_page(self, text: str | None, doc: dict | None, truncated: bool,
                   form: str | None, error: str | None = None) -> str:
        from .site import named_queries
        from .sparql import declare_prefixes

        example = declare_prefixes("SELECT ?album ?name WHERE {\n"
                                   "  ?album a schema:MusicAlbum ; schema:name ?name .\n}\n",
                                   self.site.prefixes)
        title = ("SPARQL query error" if error else "SPARQL query results" if doc is not None
                 else "SPARQL endpoint")
        return self.templates.get_template("sparql.html").render(
            root="", title=title, query=text or example, doc=doc, truncated=truncated,
            form=form, error=error, limits=self.limits, examples=named_queries(self.site.base),
            result_formats=RESULTS, rdf_formats=formats.FORMATS,
            base=self.site.base, graphs=self.site.graphs,
            label=lambda iri, prefixes: self.site.labels.get(iri) or short_iri(iri,
                                                                                     prefixes),
            prefixes=self.site.prefixes, yasgui=yasgui.page(self.site.base), linkable=linkable)


PARSES_KEPT_UP_TO = 8192  #: bytes of a query string whose parse is remembered


def query_parameters(raw: bytes) -> tuple[tuple[str, str], ...]:
    """The parameters of a URL's query string, as Starlette's ``request.query_params``
    reads them; the parse of a short one is remembered (the same queries come again, and
    unquoting a long %-encoded query is the largest cost of reading a request)."""
    if len(raw) <= PARSES_KEPT_UP_TO:
        return _parse_query_string(raw)
    return _parse_query_string.__wrapped__(raw)


@lru_cache(maxsize=256)
def _parse_query_string(raw: bytes) -> tuple[tuple[str, str], ...]:
    return tuple(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


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
    """Await ``work`` (a coroutine, run in this task) unless the client disconnects first:
    then it is cancelled (its query's worker is killed) and the request ends.

    Under ``juno-kg serve`` the server says when the connection is lost
    (:data:`httpguard.DISCONNECT_EXTENSION`); elsewhere a task watches ``receive()``."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    def cancel() -> None:
        nonlocal gone
        gone = True
        task.cancel()

    hook = request.scope.get("extensions", {}).get(DISCONNECT_EXTENSION)
    watcher = None
    if hook is not None:
        hook.add(cancel)
    else:
        async def watch() -> None:
            await _disconnected(request)
            cancel()

        watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()
        raise Refused(499, "the client went away") from None
    finally:
        if hook is not None:
            hook.discard(cancel)
        if watcher is not None:
            watcher.cancel()


async def _disconnected(request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def service_description(endpoint: str, site: Any, limits: Limits, media: str) -> bytes:
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
