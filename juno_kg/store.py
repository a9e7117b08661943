"""Load the dataset into a triple store: a remote one over HTTP, or an embedded one on disk.

Remote stores are written with the SPARQL 1.1 Graph Store HTTP Protocol: one ``PUT`` per
named graph, which *replaces* that graph, so loading twice leaves the same store. After
the writes a ``COUNT`` query per graph (SPARQL 1.1 Protocol, form-encoded POST) compares
what the store holds with the build's own count (``void:triples`` of the ``meta`` graph).

Everything is parsed and checked before the first write: a malformed input file, or a dump
whose triples disagree with its own VoID counts, fails with nothing written. A write that
fails half-way is reported graph by graph (loaded / failed / not attempted), never claimed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from . import formats, protocol
from .config import GRAPH_NAMES, Settings
from .errors import JunoKGError, NotLoaded
from .vocab import STANDARD_PREFIXES

VOID_TRIPLES = ox.NamedNode(STANDARD_PREFIXES["void"] + "triples")
NTRIPLES = formats.get("ntriples")
#: Graph Store endpoint path → the SPARQL query endpoint beside it, for well-known stores.
QUERY_ENDPOINT_FOR = (
    ("/sparql-graph-crud-auth", "/sparql"),  # Virtuoso (digest auth)
    ("/sparql-graph-crud", "/sparql"),  # Virtuoso (no auth)
    ("/rdf-graphs/service", ""),  # GraphDB / RDF4J: /repositories/{id}
    ("/store", "/query"),  # Oxigraph server
    ("/data", "/sparql"),  # Apache Jena Fuseki: /{dataset}/data
)


@dataclass
class GraphLoad:
    """What happened to one named graph."""

    name: str  #: short name (``article``) or the IRI when it is not one of ours
    iri: str
    expected: int  #: the build's count of triples in this graph
    sent: int | None = None  #: triples written to the store
    stored: int | None = None  #: triples the store holds afterwards (COUNT)
    status: str = "not attempted"  #: loaded, count differs, failed: …, not attempted

    @property
    def ok(self) -> bool:
        return self.status == "loaded"


@dataclass
class LoadReport:
    """Per graph: expected, sent and stored counts and what was done."""

    target: str
    graphs: list[GraphLoad] = field(default_factory=list)
    error: str | None = None  #: why loading stopped, if it did

    @property
    def ok(self) -> bool:
        return self.error is None and all(g.ok for g in self.graphs)

    def text(self) -> str:
        lines = [f"{'graph':<12}{'expected':>9}{'sent':>9}{'stored':>9}  status"]
        for g in self.graphs:
            def num(n: int | None) -> str:
                return "-" if n is None else str(n)

            lines.append(f"{g.name:<12}{g.expected:>9}{num(g.sent):>9}{num(g.stored):>9}"
                         f"  {g.status}")
        done = sum(1 for g in self.graphs if g.ok)
        summary = f"{done} of {len(self.graphs)} graphs loaded into {self.target}"
        if self.error:
            summary += f"; stopped: {self.error}"
        return "\n".join([*lines, summary])


# --------------------------------------------------------------------------- what to load

@dataclass(frozen=True)
class Payload:
    """The named graphs to load, parsed and checked, with the build's count for each."""

    graphs: dict[str, list[ox.Triple]]  #: graph IRI → triples
    expected: dict[str, int]  #: graph IRI → the build's count
    names: dict[str, str]  #: graph IRI → short name


def _short_names(settings: Settings) -> dict[str, str]:
    return {settings.graph_iri(n): n for n in GRAPH_NAMES}


def parse_dump(data: bytes, fmt: formats.Format, path: Path | str) -> dict[str, list[ox.Triple]]:
    """Quads of an N-Quads/TriG dump grouped by named graph; errors name file, line, column."""
    if not fmt.quads:
        raise JunoKGError(f"{fmt.name} has no named graphs; load an N-Quads or TriG dump",
                          path=path, hint="use dist/dumps/juno-kg.nq")
    graphs: dict[str, list[ox.Triple]] = {}
    try:
        for quad in ox.parse(data, format=getattr(ox.RdfFormat, fmt.oxigraph)):
            if not isinstance(quad.graph_name, ox.NamedNode):
                raise JunoKGError("triple outside any named graph", path=path,
                                  hint="every triple of a juno-kg dump is in a named graph")
            if any(isinstance(t, ox.BlankNode) for t in (quad.subject, quad.object)):
                raise JunoKGError(f"blank node in graph <{quad.graph_name.value}>", path=path,
                                  hint="published juno-kg data has no blank nodes; "
                                       "a graph with blank nodes cannot be reloaded idempotently")
            graphs.setdefault(quad.graph_name.value, []).append(quad.triple)
    except SyntaxError as exc:
        raise JunoKGError(f"malformed {fmt.name}: {exc.msg}", path=path, line=exc.lineno,
                          column=exc.offset,
                          hint="nothing was loaded; rebuild the dump with `juno-kg build`"
                          ) from None
    return graphs


def _void_counts(graphs: dict[str, list[ox.Triple]], settings: Settings) -> dict[str, int]:
    """``void:triples`` the meta graph states for each of our named graphs."""
    prefix = settings.graph_iri("")
    counts: dict[str, int] = {}
    for t in graphs.get(settings.graph_iri("meta"), []):
        if (t.predicate == VOID_TRIPLES and isinstance(t.subject, ox.NamedNode)
                and t.subject.value.startswith(prefix)):
            counts[t.subject.value] = int(t.object.value)
    return counts


def payload_from_file(path: Path, settings: Settings) -> Payload:
    """Read a dump (format by extension): every graph, checked against its own VoID counts."""
    try:
        fmt = formats.by_extension(path.suffix)
    except KeyError as exc:
        raise JunoKGError(str(exc.args[0]), path=path) from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JunoKGError(f"cannot read dump: {exc.strerror}", path=path,
                          hint="build it first: juno-kg build --out dist") from None
    graphs = parse_dump(data, fmt, path)
    meta = settings.graph_iri("meta")
    if meta not in graphs:
        raise JunoKGError(f"no meta graph <{meta}> in the dump", path=path,
                          hint="is it a juno-kg dump, built with the same --base?")
    expected = _void_counts(graphs, settings)
    missing = sorted(set(expected) - set(graphs))
    if missing:
        raise JunoKGError(f"the dump's VoID describes graph <{missing[0]}> but the dump has "
                          "no triples in it", path=path,
                          hint="the dump is incomplete; nothing was loaded; rebuild it")
    for iri, triples in graphs.items():
        if iri == meta:
            expected[iri] = len(triples)  # the meta graph cannot count itself
        elif iri not in expected:
            raise JunoKGError(f"the dump's VoID gives no triple count for graph <{iri}>",
                              path=path, hint="is it a juno-kg dump? nothing was loaded")
        want = expected[iri]
        if want != len(triples):
            raise JunoKGError(f"graph <{iri}> holds {len(triples)} triples but the dump's "
                              f"VoID says {want}", path=path,
                              hint="the dump is incomplete or edited; nothing was loaded; "
                                   "rebuild it with `juno-kg build`")
    return Payload(graphs, expected, _short_names(settings))


def payload_from_sources(settings: Settings) -> Payload:
    """Load, check and enrich the sources in-process, as ``juno-kg build`` would."""
    from .pipeline import prepare
    from .serialize import serialize_dataset

    prepared = prepare(settings, strict=False)  # the inferred and meta graphs, as a build's
    if not prepared.ok:
        raise NotLoaded(f"the data does not conform ({prepared.report.summary()}); nothing "
                        "loaded", path=settings.root, hint="run `juno-kg validate` to see why")
    data = serialize_dataset(prepared.sources.dataset, formats.get("nquads"),
                             prepared.graph_names())
    graphs = parse_dump(data, formats.get("nquads"), settings.root)
    expected = {iri: len(t) for iri, t in graphs.items()}
    return Payload(graphs, expected, _short_names(settings))


def select(payload: Payload, wanted: Sequence[str] | None, settings: Settings) -> list[str]:
    """The graph IRIs to load, in the build's order; ``wanted`` are names or IRIs."""
    order = [settings.graph_iri(n) for n in GRAPH_NAMES]
    present = sorted(payload.graphs, key=lambda i: (order.index(i) if i in order else 99, i))
    if not wanted:
        return present
    chosen = []
    for item in wanted:
        iri = settings.graph_iri(item) if item in GRAPH_NAMES else item
        if iri not in payload.graphs:
            raise JunoKGError(f"no graph {item!r} to load; graphs: "
                              + ", ".join(payload.names.get(i, i) for i in present))
        if iri not in chosen:
            chosen.append(iri)
    return chosen


def ntriples(triples: Iterable[ox.Triple]) -> bytes:
    """Canonical, sorted N-Triples (the same graph gives the same bytes)."""
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
    lines = sorted(set(data.splitlines()))
    return b"".join(line + b"\n" for line in lines)


def count_query(iri: str) -> str:
    return f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"


# --------------------------------------------------------------------------- remote stores

def query_endpoint_for(graph_store: str) -> str:
    """The SPARQL query endpoint beside a Graph Store endpoint (same URL when unknown)."""
    bare = graph_store.split("?", 1)[0].rstrip("/")
    for suffix, replacement in QUERY_ENDPOINT_FOR:
        if bare.endswith(suffix):
            return bare[: -len(suffix)] + replacement
    return bare


def _auth(user: str | None, password: str | None, auth: str):
    import httpx

    if user is None:
        return None
    if auth == "digest":
        return httpx.DigestAuth(user, password or "")
    if auth == "basic":
        return httpx.BasicAuth(user, password or "")
    raise JunoKGError(f"unknown auth scheme {auth!r}; use basic or digest")


def _excerpt(text: str, limit: int = 300) -> str:
    import re

    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def load_endpoint(url: str, settings: Settings | None = None, *, source: Path | None = None,
                  graphs: Sequence[str] | None = None, user: str | None = None,
                  password: str | None = None, auth: str = "basic", timeout: float = 60.0,
                  query_url: str | None = None) -> LoadReport:
    """PUT each named graph to the Graph Store endpoint ``url``, then COUNT each graph.

    ``source`` is an N-Quads/TriG dump (default: build the sources in-process).
    ``query_url`` is the SPARQL endpoint for the counts (default: derived from ``url``).
    Raises :class:`JunoKGError` (nothing written) for bad input; returns a report saying,
    per graph, what was sent and what the store holds.
    """
    import httpx

    settings = settings or Settings.make()
    payload = payload_from_file(source, settings) if source else payload_from_sources(settings)
    chosen = select(payload, graphs, settings)
    bodies = {iri: ntriples(payload.graphs[iri]) for iri in chosen}
    query_url = query_url or query_endpoint_for(url)
    report = LoadReport(url, [GraphLoad(payload.names.get(i, i), i, payload.expected[i])
                              for i in chosen])
    client = httpx.Client(auth=_auth(user, password, auth), timeout=timeout,
                          follow_redirects=True)
    with client:
        for item in report.graphs:
            try:
                resp = client.put(url, params={"graph": item.iri}, content=bodies[item.iri],
                                  headers={"Content-Type": NTRIPLES.media_type})
            except httpx.HTTPError as exc:
                item.status = "failed: no answer"
                report.error = f"cannot reach {url}: {exc or type(exc).__name__}"
                break
            if resp.status_code not in (200, 201, 204):
                item.status = f"failed: HTTP {resp.status_code}"
                report.error = f"{url} answered HTTP {resp.status_code}"
                if _excerpt(resp.text):
                    report.error += f": {_excerpt(resp.text)}"
                if resp.status_code in (401, 403):
                    report.error += (" (check --user/--password; Virtuoso needs --auth digest"
                                     " and a user with the SPARQL_UPDATE role)")
                break
            item.sent = len(payload.graphs[item.iri])
            item.status = "written"
        for item in report.graphs:
            if item.status != "written":
                continue
            try:
                item.stored = _remote_count(client, query_url, item.iri)
            except JunoKGError as exc:
                item.status = "written, not counted"
                report.error = report.error or str(exc)
                continue
            item.status = "loaded" if item.stored == item.expected else "count differs"
    return report


def _remote_count(client, query_url: str, iri: str) -> int:
    rows = protocol.select(query_url, count_query(iri), client=client, error=JunoKGError,
                           hint="pass the SPARQL endpoint with --query-endpoint URL")
    try:
        return int(rows[0]["n"]["value"])
    except (ValueError, KeyError, IndexError) as exc:
        raise JunoKGError(f"{query_url} gave no count ({exc})",
                          hint="pass the SPARQL endpoint with --query-endpoint URL") from None


# --------------------------------------------------------------------------- embedded store

def load_store(directory: Path, settings: Settings | None = None, *, source: Path | None = None,
               graphs: Sequence[str] | None = None) -> LoadReport:
    """Load into an embedded on-disk pyoxigraph store at ``directory`` (created if missing).

    Each graph is replaced in one transaction (``DROP`` + ``INSERT DATA``), so a graph is
    either wholly the new one or still the old one.
    """
    settings = settings or Settings.make()
    payload = payload_from_file(source, settings) if source else payload_from_sources(settings)
    chosen = select(payload, graphs, settings)
    bodies = {iri: ntriples(payload.graphs[iri]).decode("utf-8") for iri in chosen}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        store = ox.Store(str(directory))
    except OSError as exc:
        raise JunoKGError(f"cannot open the store: {exc}", path=directory,
                          hint="is another process using it (an `oxigraph serve`)?") from None
    report = LoadReport(str(directory), [GraphLoad(payload.names.get(i, i), i,
                                                   payload.expected[i]) for i in chosen])
    for item in report.graphs:
        try:
            store.update(f"DROP SILENT GRAPH <{item.iri}> ;\n"
                         f"INSERT DATA {{ GRAPH <{item.iri}> {{\n{bodies[item.iri]}}} }}")
        except OSError as exc:
            item.status = "failed"
            report.error = f"cannot write: {exc}"
            break
        item.sent = len(payload.graphs[item.iri])
        rows = list(store.query(count_query(item.iri)))
        item.stored = int(rows[0]["n"].value)
        item.status = "loaded" if item.stored == item.expected else "count differs"
    store.flush()
    del store
    return report
