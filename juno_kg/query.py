"""Ask the knowledge graph questions with SPARQL: named queries, two in-process engines, and
any SPARQL 1.1 Protocol endpoint.

::

    from juno_kg import query
    for row in query("chart-run"):                  # a named query (juno_kg/queries/*.rq)
        print(row["week"].value, row["position"].value)
    query("ASK { ?s ?p ?o }")                       # -> True
    query("sources-of", {"resource": "https://w3id.org/juno-kg/id/person/kimya-dawson"})
    query("album", endpoint="http://127.0.0.1:7878/query")   # the same, from a store

- SELECT gives :class:`Rows` (pyoxigraph terms, whatever the engine), ASK a ``bool``,
  CONSTRUCT/DESCRIBE :class:`Triples`.
- The default engine is pyoxigraph: the built dataset (``dist/dumps/juno-kg.nq``, or the
  sources built in memory when there is no build) is loaded once per process into an
  in-memory store, queried over the union of its named graphs. ``engine="rdflib"`` runs the
  same query with rdflib's SPARQL engine on the same quads, for comparison.
- Parameters are typed RDF terms, checked before use (IRIs must be absolute and valid,
  integers and dates must parse). In-process they are substituted into the parsed query
  (pyoxigraph ``substitutions``, rdflib ``initBindings``); for a remote endpoint (and on
  pyoxigraph when the variable is not projected, which its substitution requires) they go
  in a ``VALUES`` block at the start of the query's ``WHERE`` group, written from the
  terms' N-Triples form — user text is never pasted into the query.
- Only queries run: update operations are refused before anything is sent or executed.

This module imports neither rdflib nor httpx (nor json, datetime, shutil, textwrap) unless
a query needs them, so that a cold ``juno-kg query`` starts fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from . import formats, layout, protocol
from .catalogue import resolve
from .config import BASE_ENV, DEFAULT_BASE, GRAPH_NAMES, ROOT_ENV, Settings
from .errors import EndpointError, JunoKGError, QueryError
from .params import bind, with_values
from .sparql import check_syntax, is_ordered, tokens
from .vocab import XSD, curie, prefix_map

DUMP = Path(layout.NQUADS_DUMP)
ENGINES = ("oxigraph", "rdflib")

#: ``--format`` names for SELECT/ASK results -> pyoxigraph's W3C result serializers
RESULT_FORMATS = {f.name: getattr(ox.QueryResultsFormat, f.oxigraph)
                  for f in formats.RESULTS_FORMATS}
#: ``--format`` names for CONSTRUCT/DESCRIBE results -> the format registry's names
GRAPH_FORMATS = {"ttl": "turtle", "turtle": "turtle", "nt": "ntriples", "ntriples": "ntriples",
                 "jsonld": "jsonld", "json-ld": "jsonld"}
TABLE = "table"
FORMAT_NAMES = (TABLE, *RESULT_FORMATS, "ttl", "jsonld", "nt")

#: what a remote endpoint is asked for, by query form
RESULTS_ACCEPT = "application/sparql-results+json, application/sparql-results+xml;q=0.9"
GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"



# --------------------------------------------------------------------------- named queries





















# --------------------------------------------------------------------------- lexing

















# --------------------------------------------------------------------------- parameters






























# --------------------------------------------------------------------------- checking

























# --------------------------------------------------------------------------- results

def _term_key(term: Any) -> tuple:
    if term is None:
        return (0, "")
    return (1 if isinstance(term, ox.NamedNode) else 2 if isinstance(term, ox.BlankNode)
            else 3, str(term))


@dataclass
class Rows:
    """The answer to a SELECT: variables and rows of pyoxigraph terms (unbound ones absent)."""

    variables: list[str]
    rows: list[dict[str, Any]]
    ordered: bool = False  #: the query had ORDER BY
    source: tuple[bytes, Any] = field(default=(b"", None), repr=False)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def values(self) -> list[dict[str, str]]:
        """The rows with each term as its plain value (IRI or lexical form)."""
        return [{k: t.value for k, t in row.items()} for row in self.rows]

    def normalised(self) -> list[tuple]:
        """Rows as tuples in variable order; sorted unless the query fixed the order."""
        rows = [tuple(row.get(v) for v in self.variables) for row in self.rows]
        return rows if self.ordered else sorted(rows, key=lambda r: [_term_key(t) for t in r])

    def serialize(self, fmt: str = "json") -> bytes:
        """SPARQL 1.1 Query Results JSON, XML, CSV or TSV (pyoxigraph's serializers)."""
        data, source_format = self.source
        return ox.parse_query_results(data, format=source_format).serialize(
            format=RESULT_FORMATS[fmt])

    def table(self, width: int | None = None, base: str = DEFAULT_BASE) -> str:
        """A plain-text table for a terminal (see :func:`render_table`)."""
        return render_table(self.variables, [[row.get(v) for v in self.variables]
                                             for row in self.rows], width, base=base)


@dataclass
class Triples:
    """The answer to a CONSTRUCT or DESCRIBE: its triples, sorted."""

    triples: list[Any]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.triples)

    def __len__(self) -> int:
        return len(self.triples)

    def __contains__(self, triple: Any) -> bool:
        return triple in set(self.triples)

    def normalised(self) -> list[Any]:
        return sorted(set(self.triples), key=lambda t: [_term_key(x) for x in t])

    def to_rdflib(self):
        """The triples as an rdflib ``Graph``."""
        from rdflib import Graph

        graph = Graph()
        data = ox.serialize(self.normalised(), format=ox.RdfFormat.N_TRIPLES)
        graph.parse(data=data.decode("utf-8"), format="nt")
        return graph

    def serialize(self, fmt: str = "ttl", base: str = DEFAULT_BASE) -> bytes:
        """Turtle, N-Triples or JSON-LD, written as the build writes its files."""
        from . import formats
        from .serialize import serialize_graph, shipped_context
        from .sources import bind_prefixes

        graph = self.to_rdflib()
        bind_prefixes(graph, Settings.make(base=base))
        kinds = {m.group(1) for t in self.triples for x in t
                 if isinstance(x, ox.NamedNode)
                 and (m := re.match(re.escape(base) + r"id/([a-z][a-z0-9-]*)/", x.value))}
        for kind in sorted(kinds):
            graph.bind(kind, f"{base}id/{kind}/", override=False)
        return serialize_graph(graph, formats.get(GRAPH_FORMATS[fmt]), shipped_context())


@dataclass
class Ask:
    """The answer to an ASK with the results document it came in (:func:`query` gives a bool)."""

    value: bool
    source: tuple[bytes, Any] = field(default=(b"", None), repr=False)

    def __bool__(self) -> bool:
        return self.value

    def serialize(self, fmt: str = "json") -> bytes:
        data, source_format = self.source
        return ox.parse_query_results(data, format=source_format).serialize(
            format=RESULT_FORMATS[fmt])


Answer = Rows | Ask | Triples


def _results(data: bytes, fmt: Any, ordered: bool) -> Rows | Ask:
    parsed = ox.parse_query_results(data, format=fmt)
    if isinstance(parsed, ox.QueryBoolean):
        return Ask(bool(parsed), (data, fmt))
    names = [v.value for v in parsed.variables]
    rows = []
    for solution in parsed:
        rows.append({n: t for n, t in zip(names, solution, strict=True) if t is not None})
    return Rows(names, rows, ordered, (data, fmt))


# --------------------------------------------------------------------------- engines

_STORES: dict[tuple, Any] = {}


def dataset_key(data: str | Path | None, root: str | Path | None,
                base: str | None) -> tuple[str, Any]:
    """Where the quads come from: ``("file", path)`` or ``("sources", Settings)``.

    ``data`` (a build folder or N-Quads file) wins; else a build in ``./dist`` when no
    other sources or base were asked for; else the sources, built in memory."""
    if data is not None:
        path = Path(data)
        if path.is_dir():
            path = path / DUMP
        if not path.is_file():
            raise QueryError(f"no N-Quads dump at {path}",
                             hint="run `juno-kg build` first, or leave out --data to query "
                                  "the sources directly")
        return "file", path.resolve()
    import os

    if root is None and base is None and not os.environ.get(ROOT_ENV) \
            and not os.environ.get(BASE_ENV) and (Path("dist") / DUMP).is_file():
        return "file", (Path("dist") / DUMP).resolve()
    return "sources", Settings.make(root, base)


def nquads(key: tuple[str, Any]) -> bytes:
    kind, where = key
    if kind == "file":
        return where.read_bytes()
    from .pipeline import export

    return export("nquads", None, where)


def _cache_key(engine: str, key: tuple[str, Any]) -> tuple:
    kind, where = key
    if kind == "file":
        stat = where.stat()
        return engine, kind, str(where), stat.st_mtime_ns, stat.st_size
    return engine, kind, str(where.root.resolve()), where.base


def oxigraph_store(key: tuple[str, Any]) -> ox.Store:
    """The in-memory pyoxigraph store holding the dataset (loaded once per process)."""
    cache = _cache_key("oxigraph", key)
    if cache not in _STORES:
        store = ox.Store()
        # ``load`` (one transaction) starts faster than ``bulk_load`` on a dump this size;
        # a build's own dump, written from checked data, skips IRI validation
        store.load(nquads(key), format=ox.RdfFormat.N_QUADS, lenient=_own_dump(key))
        _STORES[cache] = store
    return _STORES[cache]


def _own_dump(key: tuple[str, Any]) -> bool:
    """Whether ``key`` is the N-Quads dump of a juno-kg build (beside its manifest)."""
    kind, where = key
    return kind == "file" and where.parent.name == layout.DUMPS \
        and (where.parent.parent / layout.MANIFEST).is_file()


def rdflib_dataset(key: tuple[str, Any]):
    """The same quads in an rdflib ``Dataset`` whose default graph is the union."""
    cache = _cache_key("rdflib", key)
    if cache not in _STORES:
        from rdflib import Dataset

        ds = Dataset(default_union=True)
        ds.parse(data=nquads(key).decode("utf-8"), format="nquads")
        _STORES[cache] = ds
    return _STORES[cache]


def _run_oxigraph(text: str, form: str, bindings: dict, key: tuple) -> Answer:
    return _run_on_store(oxigraph_store(key), text, form, bindings)


def run_on_store(store: ox.Store, source: str, params: Mapping[str, Any] | None = None,
                 base: str = DEFAULT_BASE) -> Answer:
    """Run a named query, an ``.rq`` file or SPARQL text on a pyoxigraph ``store`` already
    holding the dataset (its default graph the union of the named graphs): how the site
    shows what the named queries answer."""
    text, named = resolve(source, base)
    form = check_syntax(text, base)
    return _run_on_store(store, text, form, bind(text, named, params, base))


def _run_on_store(store: ox.Store, text: str, form: str, bindings: dict) -> Answer:
    try:
        result = store.query(text, use_default_graph_as_union=True,
                             substitutions={ox.Variable(k): v for k, v in bindings.items()})
    except RuntimeError as exc:  # substitution needs the variable projected (SEP-0007)
        if not bindings:
            raise QueryError(f"query failed: {exc}") from None
        try:
            result = store.query(with_values(text, bindings), use_default_graph_as_union=True)
        except (RuntimeError, SyntaxError) as again:
            raise QueryError(f"query failed: {again}") from None
    if form in ("CONSTRUCT", "DESCRIBE"):
        return Triples(list(result))
    data = result.serialize(format=ox.QueryResultsFormat.JSON)
    return _results(data, ox.QueryResultsFormat.JSON, is_ordered(tokens(text)))


def _to_rdflib(term: Any):
    from rdflib import Literal, URIRef

    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype.value == XSD + "string":  # rdflib keeps plain literals untyped
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


def _run_rdflib(text: str, form: str, bindings: dict, key: tuple) -> Answer:
    ds = rdflib_dataset(key)
    result = ds.query(text, initBindings={k: _to_rdflib(v) for k, v in bindings.items()})
    if form in ("CONSTRUCT", "DESCRIBE"):
        data = result.graph.serialize(format="nt", encoding="utf-8")
        return Triples([q.triple for q in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)])
    data = result.serialize(format="json")
    return _results(data, ox.QueryResultsFormat.JSON, is_ordered(tokens(text)))


def dataset_graphs(base: str = DEFAULT_BASE) -> list[str]:
    """The named graphs of the dataset: a remote query's default and named graphs."""
    return [f"{base}graph/{name}" for name in GRAPH_NAMES]


def _run_remote(text: str, form: str, bindings: dict, endpoint: str, *,
                graphs: list[str] | None, timeout: float, method: str) -> Answer:
    sent = with_values(text, bindings)
    fields = [("query", sent)]
    for graph in graphs or []:
        fields += [("default-graph-uri", graph), ("named-graph-uri", graph)]
    graph_form = form in ("CONSTRUCT", "DESCRIBE")
    response = protocol.send(endpoint, fields, GRAPH_ACCEPT if graph_form else RESULTS_ACCEPT,
                             timeout=timeout, method=method)
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if graph_form:
            fmt = ox.RdfFormat.from_media_type(ctype)
            if fmt is None:
                raise EndpointError(f"{endpoint} answered {ctype or 'no content type'}, "
                                    "not an RDF format")
            return Triples([q.triple for q in ox.parse(response.content, format=fmt)])
        rfmt = ox.QueryResultsFormat.from_media_type(ctype)
        if rfmt is None:
            raise EndpointError(f"{endpoint} answered {ctype or 'no content type'}, "
                                "not SPARQL results")
        return _results(response.content, rfmt, is_ordered(tokens(text)))
    except SyntaxError as exc:
        raise EndpointError(f"{endpoint} sent an unreadable {ctype} answer: {exc}") from None


# --------------------------------------------------------------------------- the API

def run(source: str, params: Mapping[str, Any] | None = None, endpoint: str | None = None, *,
        engine: str = "oxigraph", data: str | Path | None = None,
        root: str | Path | None = None, base: str | None = None,
        graphs: list[str] | None = None, timeout: float = 30.0,
        method: str = "auto") -> Answer:
    """Run one query (see :func:`query`), an ASK answer kept with its results document."""
    base_iri = Settings.make(root, base).base if (root or base) else DEFAULT_BASE
    text, named = resolve(source, base_iri)
    form = check_syntax(text, base_iri)
    bindings = bind(text, named, params, base_iri)
    if endpoint:
        if not re.match(r"https?://", endpoint):
            raise EndpointError(f"{endpoint!r} is not an http(s) URL")
        if method not in ("auto", "get", "post"):
            raise QueryError(f"unknown method {method!r}; use auto, get or post")
        return _run_remote(text, form, bindings, endpoint, timeout=timeout, method=method,
                           graphs=dataset_graphs(base_iri) if graphs is None else graphs)
    if engine not in ENGINES:
        raise QueryError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    key = dataset_key(data, root, base)
    runner = _run_oxigraph if engine == "oxigraph" else _run_rdflib
    try:
        return runner(text, form, bindings, key)
    except JunoKGError:  # a QueryError, or the sources did not load (file:line:column)
        raise
    except Exception as exc:  # the engine's own failure: a message, never a traceback
        raise QueryError(f"{engine} could not run the query: {exc}") from None


def query(text_or_name: str, params: Mapping[str, Any] | None = None,
          endpoint: str | None = None, **options: Any) -> Rows | bool | Triples:
    """Run a named query, an ``.rq`` file or SPARQL text.

    Returns :class:`Rows` for SELECT, a ``bool`` for ASK, :class:`Triples` for
    CONSTRUCT/DESCRIBE. ``params`` maps a parameter (variable) name to a value: a string,
    ``int``, ``datetime.date``, or a pyoxigraph term. ``endpoint`` sends the query to a
    SPARQL 1.1 Protocol endpoint instead (over the dataset's named graphs, unless
    ``graphs=[]``). Options: ``engine`` ("oxigraph" or "rdflib"), ``data`` (a build folder
    or N-Quads file), ``root``/``base`` (sources to build in memory), ``timeout`` (seconds),
    ``method`` ("auto", "get" or "post"). Raises :class:`QueryError`.
    """
    answer = run(text_or_name, params, endpoint, **options)
    return answer.value if isinstance(answer, Ask) else answer


# --------------------------------------------------------------------------- output

def compact(term: Any, prefixes: Mapping[str, str], base: str = DEFAULT_BASE) -> str:
    """A term as a person reads it: ``kind:slug`` or ``prefix:local`` for IRIs, the value
    (and language) for literals."""
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        value = term.value
        kind = re.fullmatch(re.escape(base) + r"id/([a-z][a-z0-9-]*)/([a-z0-9][a-z0-9._-]*)",
                            value)
        if kind:
            return f"{kind.group(1)}:{kind.group(2)}"
        return curie(value, prefixes) or f"<{value}>"
    if isinstance(term, ox.Literal):
        return f"{term.value}@{term.language}" if term.language else term.value
    return str(term)


def render_table(names: list[str], rows: list[list[Any]], width: int | None = None,
                 prefixes: Mapping[str, str] | None = None, max_lines: int = 3,
                 base: str = DEFAULT_BASE) -> str:
    """A plain-text table that fits ``width`` columns: long values wrap onto up to
    ``max_lines`` lines and are then cut with ``…``."""
    prefixes = prefixes if prefixes is not None else prefix_map(base)
    import textwrap

    if not width:
        try:
            width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            width = 120
    width = max(width, 40)
    cells = [[" ".join(compact(t, prefixes, base).split()) for t in row] for row in rows]
    if not names:
        return f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n"
    natural = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    room = max(width - 3 * (len(names) - 1), 6 * len(names))
    widths = natural[:]
    while sum(widths) > room:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        widths[widest] -= 1
    widths = [max(w, min(6, n)) for w, n in zip(widths, natural, strict=True)]

    def lines_of(text: str, w: int) -> list[str]:
        wrapped = textwrap.wrap(text, w, break_long_words=True, break_on_hyphens=False) or [""]
        if len(wrapped) > max_lines:
            wrapped = wrapped[:max_lines]
            wrapped[-1] = wrapped[-1][: w - 1] + "…"
        return wrapped

    out = [" | ".join(n.ljust(w)[:w] for n, w in zip(names, widths, strict=True)).rstrip(),
           "-+-".join("-" * w for w in widths)]
    for row in cells:
        wrapped = [lines_of(c, w) for c, w in zip(row, widths, strict=True)]
        for i in range(max(len(x) for x in wrapped)):
            out.append(" | ".join((x[i] if i < len(x) else "").ljust(w)
                                  for x, w in zip(wrapped, widths, strict=True)).rstrip())
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def render(answer: Answer, fmt: str | None = None,
           base: str = DEFAULT_BASE) -> bytes:
    """The answer in ``fmt`` for the command line (default: a table, or Turtle for graphs)."""
    if isinstance(answer, Triples):
        fmt = fmt or "ttl"
        if fmt not in GRAPH_FORMATS:
            raise QueryError(f"--format {fmt} is for SELECT/ASK results; a graph can be "
                             f"written as ttl, jsonld or nt")
        return answer.serialize(fmt, base)
    fmt = fmt or TABLE
    if fmt in GRAPH_FORMATS:
        raise QueryError(f"--format {fmt} is for CONSTRUCT/DESCRIBE; SELECT and ASK results "
                         f"can be written as table, csv, tsv, json or xml")
    if isinstance(answer, Ask) and fmt == TABLE:
        return b"true\n" if answer else b"false\n"
    if fmt == TABLE:
        return answer.table(base=base).encode("utf-8")
    if fmt not in RESULT_FORMATS:
        raise QueryError(f"unknown format {fmt!r}; formats: {', '.join(FORMAT_NAMES)}")
    return answer.serialize(fmt)


