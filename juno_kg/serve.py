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
import multiprocessing
import os
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from . import formats

# Media types of the registry for static files (data/, dumps/) served by the app.
for _fmt in formats.FORMATS:
    mimetypes.add_type(_fmt.media_type, f".{_fmt.extension}")
mimetypes.add_type("application/ld+json", ".jsonld")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

HTML = "text/html"
RESULTS = {  # SPARQL results formats (W3C) by short name: media type
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
RESULT_ALIASES = {"application/json": "json", "application/xml": "xml", "text/xml": "xml"}
DUMP = "dumps/juno-kg.nq"


class Refused(Exception):
    """A request the endpoint will not run: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------- limits

def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


@dataclass(frozen=True)
class Limits:
    """The endpoint's limits; each has an environment variable and a ``serve`` option."""

    timeout: float = 10.0  #: seconds a query may run before its worker is stopped
    max_rows: int = 10_000  #: result rows (SELECT) or triples (CONSTRUCT/DESCRIBE) returned
    max_request: int = 32 * 1024  #: bytes of query text (GET) or request body (POST)
    workers: int = 2  #: query worker processes
    cache: int = 1024  #: answers kept (LRU) for repeated queries; 0 turns the cache off

    @classmethod
    def from_env(cls, **overrides: Any) -> Limits:
        values = {
            "timeout": _env_number("JUNO_KG_QUERY_TIMEOUT", cls.timeout),
            "max_rows": int(_env_number("JUNO_KG_MAX_ROWS", cls.max_rows)),
            "max_request": int(_env_number("JUNO_KG_MAX_REQUEST_BYTES", cls.max_request)),
            "workers": int(_env_number("JUNO_KG_WORKERS", cls.workers)),
            "cache": int(_env_number("JUNO_KG_CACHE_ENTRIES", cls.cache)),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        limits = cls(**values)
        if limits.timeout <= 0 or limits.max_rows < 1 or limits.max_request < 64 \
                or limits.workers < 1 or limits.cache < 0:
            raise ValueError(f"limits out of range: {limits}")
        return limits

    def headers(self) -> dict[str, str]:
        return {"X-Query-Time-Limit": f"{self.timeout:g}",
                "X-Result-Row-Limit": str(self.max_rows),
                "X-Request-Size-Limit": str(self.max_request)}


# --------------------------------------------------------------------------- query checks

_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_TOKEN = re.compile(r"""
      (?P<ws>\s+)
    | (?P<comment>\#[^\r\n]*)
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
                |'(?:[^'\\\r\n]|\\.)*'|"(?:[^"\\\r\n]|\\.)*")
    | (?P<var>[?$][^\s(){}\[\],;.]+)
    | (?P<word>[^\s<>"'(){}\[\],;.?$\#]+)
    | (?P<other>.)
""", re.X | re.S)
_FORMS = ("SELECT", "CONSTRUCT", "ASK", "DESCRIBE")
_UPDATES = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY",
            "WITH")


@dataclass
class Query:
    """A query that passed the checks, with its form and the graphs it names."""

    text: str
    form: str  #: SELECT, CONSTRUCT, ASK or DESCRIBE
    default_graphs: list[str] = field(default_factory=list)
    named_graphs: list[str] = field(default_factory=list)


def unescape(text: str) -> str:
    """Resolve SPARQL's ``\\uXXXX``/``\\UXXXXXXXX`` escapes, as a SPARQL parser does first."""
    def repl(match: re.Match) -> str:
        code = int(match.group(1) or match.group(2), 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise Refused(400, f"invalid code point escape {match.group(0)!r} in the query")
        return chr(code)

    return _UNICODE_ESCAPE.sub(repl, text)


def check_query(text: str, local_graphs: Iterable[str], default_graphs: Iterable[str] = (),
                named_graphs: Iterable[str] = ()) -> Query:
    """Refuse what would write, or reach outside this dataset; return the query to run.

    ``local_graphs`` are the IRIs of the dataset's named graphs: the only ones ``FROM``,
    ``FROM NAMED``, ``default-graph-uri`` and ``named-graph-uri`` may name.
    """
    return _check_query(text, tuple(local_graphs), tuple(default_graphs), tuple(named_graphs))


@lru_cache(maxsize=1024)
def _check_query(text: str, local_graphs: tuple[str, ...], default_graphs: tuple[str, ...],
                 named_graphs: tuple[str, ...]) -> Query:
    text = unescape(text)
    tokens = [(kind, value) for kind, value in
              ((m.lastgroup, m.group()) for m in _TOKEN.finditer(text))
              if kind not in ("ws", "comment")]
    form = None
    local = set(local_graphs)
    query = Query(text, "")
    for i, (kind, value) in enumerate(tokens):
        if kind != "word":
            continue
        word = value.upper()
        if word == "SERVICE":
            raise Refused(400, "SERVICE (federated query) is disabled: this endpoint never "
                               "makes outgoing requests; query this dataset only")
        if word in _UPDATES and form is None:
            raise Refused(403, f"{word}: this endpoint is read-only; SPARQL Update is refused")
        if form is None and word in _FORMS:
            form = word
        if word == "FROM":
            named = i + 1 < len(tokens) and tokens[i + 1][1].upper() == "NAMED"
            target = tokens[i + 2] if named else (tokens[i + 1] if i + 1 < len(tokens) else None)
            if target is None or target[0] != "iri":
                raise Refused(400, "FROM must be followed by a full <IRI> of one of this "
                                   "dataset's graphs")
            (query.named_graphs if named else query.default_graphs).append(target[1][1:-1])
    if form is None:
        raise Refused(400, "not a SPARQL query: expected SELECT, CONSTRUCT, ASK or DESCRIBE")
    query.form = form
    query.default_graphs += list(default_graphs)
    query.named_graphs += list(named_graphs)
    for iri in query.default_graphs + query.named_graphs:
        if iri not in local:
            raise Refused(400, f"graph <{iri}> is not in this dataset; this endpoint never "
                               f"fetches remote data. Graphs: {', '.join(sorted(local))}")
    return query


# --------------------------------------------------------------------------- negotiation

def best_match(accept: str | None, offers: list[str]) -> str | None:
    """The offer the ``Accept`` header prefers (q-values, wildcards), by werkzeug."""
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    parsed = parse_accept_header(accept or "*/*", MIMEAccept)
    return parsed.best_match(offers)


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


# --------------------------------------------------------------------------- workers

def _term_json(term: Any) -> dict:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    return {"type": "literal", "value": str(term)}



def _take(results, max_rows: int, deadline: float) -> tuple[list, bool] | None:
    """Up to ``max_rows`` items of a lazy query result, and whether more were left;
    None when the time limit passes while reading them."""
    items: list = []
    for item in results:
        if len(items) == max_rows:
            return items, True
        if time.monotonic() > deadline:
            return None
        items.append(item)
    return items, False


def _execute(store: Any, job: dict, max_rows: int, deadline: float) -> tuple:
    """Run one checked query in a worker.

    Returns ``(status, media type or error message, body, truncated)``.
    """
    import pyoxigraph as ox

    kwargs: dict[str, Any] = {}
    if job["default"] or job["named"]:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in job["default"]]
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in job["named"]]
    else:
        kwargs["use_default_graph_as_union"] = True
    try:
        result = store.query(job["text"], **kwargs)
        media = job["media"]
        if isinstance(result, ox.QueryBoolean):
            doc = {"head": {}, "boolean": bool(result)}
            return _results(doc, media, False)
        if isinstance(result, ox.QueryTriples):
            taken = _take(result, max_rows, deadline)
            if taken is None:
                return (503, "query time limit exceeded", b"", False)
            triples, truncated = taken
            if media == HTML:
                doc = {"head": {"vars": ["subject", "predicate", "object"]},
                       "results": {"bindings": [
                           {"subject": _term_json(t.subject),
                            "predicate": _term_json(t.predicate),
                            "object": _term_json(t.object)} for t in triples]}}
                return (200, HTML, json.dumps(doc).encode(), truncated)
            fmt = next(f for f in formats.FORMATS if f.media_type == media)
            if fmt.quads:
                triples = [ox.Quad(t.subject, t.predicate, t.object) for t in triples]
            body = ox.serialize(triples, format=getattr(ox.RdfFormat, fmt.oxigraph),
                                prefixes=job["prefixes"] if fmt.name in ("turtle", "trig",
                                                                         "rdfxml") else None)
            return (200, media, body, truncated)
        names = [v.value for v in result.variables]
        taken = _take(result, max_rows, deadline)
        if taken is None:
            return (503, "query time limit exceeded", b"", False)
        rows = [{name: _term_json(solution[name]) for name in names
                 if solution[name] is not None} for solution in taken[0]]
        truncated = taken[1]
        doc = {"head": {"vars": names}, "results": {"bindings": rows}}
        return _results(doc, media, truncated)
    except SyntaxError as exc:  # the readable message `juno-kg query` gives, same function
        from .sparql import syntax_error

        return (400, str(syntax_error(job["text"], exc, job["prefixes"])), b"", False)
    except Exception as exc:  # evaluation errors from the engine: report, never a traceback
        return (500, f"query failed: {type(exc).__name__}: {exc}", b"", False)


def _results(doc: dict, media: str, truncated: bool) -> tuple:
    import pyoxigraph as ox

    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    if media in (RESULTS["json"], HTML):
        return (200, media, body, truncated)
    target = {RESULTS["xml"]: ox.QueryResultsFormat.XML, RESULTS["csv"]: ox.QueryResultsFormat.CSV,
              RESULTS["tsv"]: ox.QueryResultsFormat.TSV}[media]
    parsed = ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
    return (200, media, parsed.serialize(format=target), truncated)


def _worker(conn: Any, dump: str, max_rows: int, timeout: float) -> None:
    """A query worker: one in-memory store loaded from the N-Quads dump, jobs from ``conn``.

    It ends when the server closes its end of the pipe or goes away (EOF, a broken pipe),
    quietly. Ctrl-C in the terminal reaches the whole process group; stopping the workers is
    the server's part (it kills them on shutdown), so a worker ignores SIGINT.
    """
    import signal

    import pyoxigraph as ox

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = ox.Store()
    store.bulk_load(path=dump, format=ox.RdfFormat.N_QUADS)
    try:
        conn.send(("ready",))
        while True:
            job = conn.recv()
            conn.send(_execute(store, job, max_rows, time.monotonic() + timeout))
    except (EOFError, OSError):  # the server closed the pipe, or gave up on this answer
        return


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Any
    #: the server's blocking read of this worker's answer, while one is expected
    reading: asyncio.Future | None = None


class Engine:
    """A pool of query worker processes; a query over its time limit kills its worker.

    How an answer travels from a worker to the server: the worker sends its ``(status,
    media type, body, truncated)`` down a ``multiprocessing`` pipe, whose
    ``Connection`` frames every message (its length, then its bytes). The server reads it
    with a plain *blocking* ``conn.recv()`` in a thread of the engine's own pool (one thread
    per worker, so a read never waits for a thread) and awaits that thread with the time
    limit. The pipe is never watched with ``loop.add_reader``: an event loop may switch the
    descriptor to non-blocking (uvloop does, as libuv's poll handles do), and readiness only
    says the first bytes of an answer have arrived, so ``recv()`` after it broke every answer
    larger than the socket buffer (about 90 KB). A blocking read of a framed message is
    correct on every loop and for answers of any size, and it keeps multiprocessing's own
    framing and pickling on both ends rather than a protocol of ours over a socketpair; the
    price is one idle thread per worker. When the time limit passes or the request is
    cancelled (the client went away), the worker is killed: the kernel closes its end of the
    pipe, the blocked ``recv()`` ends with ``EOFError``, and only once that thread is free is
    the pipe closed and a fresh worker started (so no thread is left behind and none reads a
    closed descriptor).

    The dataset never changes while it is served, so answers are kept in an LRU cache
    (``Limits.cache`` entries, answers up to 1 MB, 64 MB in all: distinct texts of large
    queries must not grow the server without bound) keyed by query text, media type and
    graphs.
    """

    CACHEABLE_BYTES = 1 << 20
    CACHE_BYTES = 64 << 20

    def __init__(self, dump: Path, limits: Limits) -> None:
        self.dump = dump
        self.limits = limits
        self._cache: OrderedDict[tuple, tuple] = OrderedDict()
        self._cached_bytes = 0
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._ctx = multiprocessing.get_context("spawn")
        self._readers: Any = None  # a ThreadPoolExecutor while started
        self._replacing: set[asyncio.Task] = set()
        self._stopping = False

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker, daemon=True, name="juno-kg-query",
                                    args=(child, str(self.dump), self.limits.max_rows,
                                          self.limits.timeout))
        process.start()
        child.close()
        try:
            ready = parent.poll(60) and parent.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            process.kill()
            process.join(5)
            parent.close()
            raise RuntimeError(f"query worker did not start (loading {self.dump})")
        worker = _Worker(process, parent)
        self._all.add(worker)
        return worker

    async def start(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._stopping = False
        self._idle = asyncio.Queue()
        self._readers = ThreadPoolExecutor(self.limits.workers,
                                           thread_name_prefix="juno-kg-answer")
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(*[loop.run_in_executor(None, self._spawn)
                                         for _ in range(self.limits.workers)])
        for worker in workers:
            self._idle.put_nowait(worker)

    async def stop(self) -> None:
        self._stopping = True
        if self._replacing:  # let a replacement under way finish, so its worker is stopped too
            await asyncio.gather(*self._replacing, return_exceptions=True)
        await asyncio.gather(*[self._retire(worker) for worker in list(self._all)])
        if self._readers is not None:
            self._readers.shutdown(wait=True)  # every read has ended: its worker is dead
            self._readers = None

    async def _retire(self, worker: _Worker) -> None:
        """Kill ``worker``, wait for the read of its answer to end, close its pipe."""
        self._all.discard(worker)
        worker.process.kill()  # a no-op on a process that has already exited
        reading = worker.reading
        if reading is not None:
            await asyncio.wait([reading], timeout=10)  # the kill ends it at once
            if not reading.done():  # never seen; keep the descriptor rather than close it
                return  # under a thread still reading it
            if not reading.cancelled():
                reading.exception()  # EOFError, or an answer come too late: both dropped
        with contextlib.suppress(OSError):
            worker.conn.close()
        await asyncio.get_running_loop().run_in_executor(None, worker.process.join, 5)
        with contextlib.suppress(ValueError):  # frees its sentinel descriptor now
            worker.process.close()

    async def _replace(self, worker: _Worker) -> None:
        await self._retire(worker)
        if self._stopping:
            return
        fresh = await asyncio.get_running_loop().run_in_executor(None, self._spawn)
        assert self._idle is not None
        self._idle.put_nowait(fresh)

    def _replace_later(self, worker: _Worker) -> None:
        task = asyncio.ensure_future(self._replace(worker))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def run(self, query: Query, media: str, prefixes: dict[str, str]) -> tuple:
        """``(status, media_type or message, body, truncated)`` for a checked query."""
        key = (query.text, media, tuple(query.default_graphs), tuple(query.named_graphs))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        reply = await self._run(query, media, prefixes)
        if self.limits.cache and reply[0] == 200 and len(reply[2]) <= self.CACHEABLE_BYTES \
                and key not in self._cache:
            self._cache[key] = reply
            self._cached_bytes += len(reply[2])
            while len(self._cache) > self.limits.cache or self._cached_bytes > self.CACHE_BYTES:
                self._cached_bytes -= len(self._cache.popitem(last=False)[1][2])
        return reply

    async def _run(self, query: Query, media: str, prefixes: dict[str, str]) -> tuple:
        assert self._idle is not None and self._readers is not None, \
            "Engine.start() was not awaited"
        loop = asyncio.get_running_loop()
        try:
            # a killed worker is replaced within a second or so; wait for one that long too
            # (asyncio.timeout, not wait_for: on 3.11 a cancelled wait_for can drop the
            # worker it has just taken from the queue)
            async with asyncio.timeout(self.limits.timeout + 30):
                worker = await self._idle.get()
        except TimeoutError:
            return (503, "the endpoint is busy: no query worker became free within the "
                         "time limit; try again", b"", False)
        job = {"text": query.text, "default": query.default_graphs,
               "named": query.named_graphs, "media": media, "prefixes": prefixes}
        try:
            worker.conn.send(job)
            worker.reading = loop.run_in_executor(self._readers, worker.conn.recv)
            # shielded: on timeout or cancellation the read goes on until the kill ends it
            async with asyncio.timeout(self.limits.timeout):
                reply = await asyncio.shield(worker.reading)
        except (TimeoutError, EOFError, OSError, asyncio.CancelledError) as exc:
            self._replace_later(worker)
            if isinstance(exc, asyncio.CancelledError):
                raise
            if isinstance(exc, TimeoutError):
                return (503, f"query stopped: it ran longer than the time limit of "
                             f"{self.limits.timeout:g} s", b"", False)
            return (500, "the query worker stopped unexpectedly", b"", False)
        worker.reading = None
        self._idle.put_nowait(worker)
        return reply


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
        except ValueError:
            return None
        return target if target.is_file() else None


def create_app(dist: str | Path, limits: Limits | None = None):
    """The Starlette application serving the build in ``dist``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

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
            return html_error(exc.status, "SPARQL request refused", exc.message, request,
                              headers)

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limits.max_request:
            raise Refused(413, f"request body of {length} bytes is over the limit of "
                               f"{limits.max_request} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_request:
                raise Refused(413, f"request body is over the limit of {limits.max_request} "
                                   "bytes")
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
                            params.get("named-graph-uri", []))
        override = (params.get("format") or [None])[0]
        media = choose_type(request.headers.get("accept"), query.form, override)
        status, what, body, truncated = await engine.run(query, media, site.prefixes)
        if status == 400 and media == HTML:  # in the browser: the error above the query box
            return Response(query_page(text, None, False, query.form, error=what),
                            status_code=400, headers=headers, media_type="text/html")
        if status != 200:
            raise Refused(status, what)
        if truncated:
            headers["X-Results-Truncated"] = "true"
            headers["Warning"] = f'199 - "results truncated at {limits.max_rows} rows"'
        if what == HTML:
            doc = json.loads(body)
            page_html = query_page(text, doc, truncated, query.form)
            return Response(page_html, headers=headers, media_type="text/html")
        charset = "; charset=utf-8" if what.startswith("text/") or "json" in what else ""
        return Response(body, headers=headers, media_type=what + charset)

    sd_cache: dict[str, bytes] = {}

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
        if media not in sd_cache:
            endpoint = str(request.url.replace(query="", fragment=""))
            sd_cache[media] = service_description(endpoint, site, limits, media)
        return Response(sd_cache[media], headers=headers, media_type=media)

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
            prefixes=site.prefixes)

    async def not_found(request: Request, exc: Exception) -> Response:
        return html_error(404, "Not found", f"Nothing at {request.url.path}.", request)

    routes = [
        Route("/id/{path:path}", resource),
        Route("/ontology", ontology),
        Route("/dataset", described),
        Route("/graph/{name}", described),
        Route("/page/{path:path}", page),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/.well-known/void", void),
        Mount("/", app=StaticFiles(directory=site.dist, html=True)),
    ]
    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                             allow_headers=["Accept", "Content-Type"],
                             expose_headers=["Location", "X-Results-Truncated",
                                             *limits.headers()])]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={404: not_found})


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
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False,
                limit_concurrency=512, timeout_keep_alive=5)
