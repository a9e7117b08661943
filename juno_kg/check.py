"""Step 2 — check: SHACL shapes plus SPARQL violation queries; the data contract."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rdflib import RDF, XSD, BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import NamespaceManager
from rdflib.term import Node

from .config import DATA_GRAPHS, Settings
from .errors import JunoKGError
from .sources import (
    LiteralError,
    Sources,
    bind_prefixes,
    literal_errors,
    load,
    new_dataset,
    parse_file,
)

SH = Namespace("http://www.w3.org/ns/shacl#")
SEVERITIES = ("Violation", "Warning", "Info")


@dataclass(frozen=True)
class Result:
    """One finding: what is wrong, where, and which constraint says so."""

    severity: str  #: Violation, Warning or Info
    focus: Node
    path: Node | None
    value: Node | None
    message: str
    source_shape: Node | None  #: the shape (or None for a violation query)
    component: str  #: constraint component as a CURIE, or the violation query's file name
    node_shape: Node | None = None  #: the node shape the finding belongs to
    origin: str | None = None  #: data file (and line) the focus node comes from


@dataclass
class CheckReport:
    conforms: bool
    results: list[Result]
    report_graph: Graph
    namespaces: NamespaceManager = field(repr=False, default=None)  # type: ignore[assignment]

    def count(self, severity: str) -> int:
        return sum(1 for r in self.results if r.severity == severity)

    def curie(self, node: Node | None) -> str:
        if node is None:
            return "-"
        if isinstance(node, URIRef) and self.namespaces is not None:
            try:
                return self.namespaces.normalizeUri(node)
            except Exception:  # noqa: BLE001 - fall back to the full IRI
                return node.n3()
        if isinstance(node, Literal) and self.namespaces is not None:
            return node.n3(self.namespaces)  # "2008-01-08"^^xsd:date
        return node.n3() if hasattr(node, "n3") else str(node)

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s.lower()}{'s' if self.count(s) != 1 else ''}"
                           for s in SEVERITIES)
        return f"{'conforms' if self.conforms else 'does not conform'}: {counts}"

    def text(self) -> str:
        """A report for people: one block per finding, most severe first."""
        lines = [self.summary()]
        order = {s: i for i, s in enumerate(SEVERITIES)}
        for r in sorted(self.results, key=lambda r: (order[r.severity], r.origin or "",
                                                     str(r.focus), str(r.path), r.message)):
            lines.append("")
            lines.append(f"{r.severity}: {self.curie(r.focus)}"
                         + (f"  ({r.origin})" if r.origin else ""))
            if r.path is not None:
                lines.append(f"  path:    {self.curie(r.path)}")
            if r.value is not None:
                lines.append(f"  value:   {shortened(self.curie(r.value))}")
            shape = self.curie(r.node_shape or r.source_shape) if (
                r.node_shape or r.source_shape) is not None else None
            lines.append(f"  check:   {r.component}" + (f" in {shape}" if shape else ""))
            lines.append(f"  message: {shortened(r.message)}")
        return "\n".join(lines)


def shortened(text: str, limit: int = 300) -> str:
    """``text`` cut to ``limit`` characters for a report people read (a 20 MB literal is
    not printed); the report graph (``--format turtle``) keeps every value whole."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all)"


def data_union(sources: Sources, graphs: tuple[str, ...] = ("ontology", *DATA_GRAPHS)) -> Graph:
    """One graph holding the ontology and every data graph: what the shapes are run on."""
    union = Graph()
    bind_prefixes(union, sources.settings, like=sources.dataset)
    for name in graphs:
        union += sources.graph(name)
    return union


#: The engines whose findings are the contract: pyshacl-turbo (a Rust SHACL engine) runs
#: the shapes, pyoxigraph the violation queries. pySHACL and rdflib, which juno-kg ran
#: before, are the reference they are tested against (tests/test_shapes.py): the same
#: findings on the shipped data and on every failing example.
ENGINE = "pyshacl-turbo"
ENGINES = (ENGINE, "pyshacl")
QUERY_ENGINE = "pyoxigraph"
QUERY_ENGINES = (QUERY_ENGINE, "rdflib")


def validate(sources: Sources | None = None, *, engine: str = ENGINE,
             query_engine: str = QUERY_ENGINE) -> CheckReport:
    """Validate loaded sources (loading the default ones if none are given)."""
    sources = sources or load()
    # pyshacl-turbo reads the dataset itself (the union of its graphs), as long as it holds
    # only the graphs that are validated: no copy of every triple into one more graph
    validated = {URIRef(sources.settings.graph_iri(n)) for n in ("ontology", *DATA_GRAPHS)}
    whole = all(g.identifier in validated for g in sources.dataset.graphs() if len(g))
    data = sources.dataset if engine == ENGINE and whole else data_union(sources)
    return validate_graph(data, sources, sources.dataset, engine=engine,
                          query_engine=query_engine)


def validate_graph(data: Graph, sources: Sources, dataset: Dataset | None = None, *,
                   engine: str = ENGINE, query_engine: str = QUERY_ENGINE,
                   literal_errors: list[LiteralError] | None = None) -> CheckReport:
    """Run the shapes and violation queries of ``sources`` on ``data``.

    ``data`` (a graph, or a Dataset: the union of its graphs) should already contain the
    ontology (class and property hierarchy). The
    violation queries run on ``dataset`` when given (a union-default Dataset, so they can
    ask ``GRAPH ?g { … }`` which named graph a triple is in), else on ``data``.

    ``engine`` runs the shapes: :data:`ENGINE`, or ``"pyshacl"`` (the reference; slower).
    ``query_engine`` runs the violation queries: :data:`QUERY_ENGINE`, or ``"rdflib"``
    (the reference; it grows with the square of the data on supplement-source-violation).

    Every ill-typed literal (``literal_errors``, default those of ``sources``: a date that
    does not exist, a number that is not one) is a Violation, whether or not a shape has an
    ``sh:datatype`` for its property, reported at the literal's own file, line and column.
    """
    if engine not in ENGINES:
        raise JunoKGError(f"unknown SHACL engine {engine!r}; engines: {', '.join(ENGINES)}")
    if query_engine not in QUERY_ENGINES:
        raise JunoKGError(f"unknown query engine {query_engine!r}; "
                          f"engines: {', '.join(QUERY_ENGINES)}")
    report = (_turbo_report if engine == ENGINE else _pyshacl_report)(data, sources)
    nm = NamespaceManager(Graph(), bind_namespaces="none")
    for prefix, ns in data.namespaces():
        nm.bind(prefix, ns, override=False)
    for prefix, ns in sources.shapes.namespaces():
        nm.bind(prefix, ns, override=False)
    bind_prefixes(nm.graph, sources.settings)
    for prefix, ns in nm.graph.namespaces():
        nm.bind(prefix, ns, override=True, replace=True)
    results = _shacl_results(report, sources, nm)
    results = _literal_results(
        results, sources.literal_errors if literal_errors is None else literal_errors,
        sources, report)
    target = data if dataset is None else dataset
    if query_engine == QUERY_ENGINE:
        store = _oxigraph_store(target) if sources.violation_queries else None
        for path in sources.violation_queries:
            results += _query_results(path, _oxigraph_rows(path, store), sources, report)
    else:
        for path in sources.violation_queries:
            rows = [row.asdict() for row in target.query(_prepared(path, _read(path)))]
            results += _query_results(path, rows, sources, report)
    conforms = not any(r.severity == "Violation" for r in results)
    return CheckReport(conforms, results, report, nm)


# compiled shapes, once per shapes graph and process: id -> (graph, size, program)
_COMPILED: dict[int, tuple[weakref.ref, int, Any]] = {}


def _compiled_shapes(sources: Sources):
    """pyshacl-turbo's compiled program for ``sources.shapes`` (compiled once per process)."""
    import pyshacl_turbo

    shapes = sources.shapes
    hit = _COMPILED.get(id(shapes))
    if hit is not None and hit[0]() is shapes and hit[1] == len(shapes):
        return hit[2]
    try:
        program = pyshacl_turbo.compile_shapes(shapes, advanced=False)
    except (ValueError, RuntimeError, pyshacl_turbo.ValidationFailure) as exc:
        raise JunoKGError(f"the shapes cannot be used: {exc}",
                          path=sources.settings.root / "shapes",
                          hint="fix the SHACL in shapes/") from None
    for key in [k for k, (ref, _, _) in _COMPILED.items() if ref() is None]:
        del _COMPILED[key]
    _COMPILED[id(shapes)] = (weakref.ref(shapes), len(shapes), program)
    return program


def _turbo_report(data: Graph, sources: Sources) -> Graph:
    import pyshacl_turbo

    program = _compiled_shapes(sources)
    try:
        _conforms, report, _text = program.validate(
            data, inference="none", allow_warnings=True, abort_on_first=False)
    except (ValueError, RuntimeError, pyshacl_turbo.ValidationFailure) as exc:
        raise JunoKGError(f"the shapes cannot be used: {exc}",
                          path=sources.settings.root / "shapes",
                          hint="fix the SHACL in shapes/ (a SPARQL constraint failed to run)"
                          ) from None
    return report


class _PreparedGraph(Graph):
    """A graph whose SPARQL text queries are parsed once per process, not once per call.

    pySHACL runs each SPARQL constraint once per focus node, as text; rdflib would parse
    it every time (most of pySHACL's run time on these shapes).
    """

    def query(self, query_object, *args, **kwargs):  # type: ignore[override]
        if isinstance(query_object, str):
            query_object = _prepared_text(query_object, tuple(self.namespaces()))
        return super().query(query_object, *args, **kwargs)


@lru_cache(maxsize=256)
def _prepared_text(text: str, namespaces: tuple):
    from rdflib.plugins.sparql import prepareQuery

    return prepareQuery(text, initNs=dict(namespaces))


# pySHACL's shapes, harvested once per shapes graph and process (as _COMPILED above)
_HARVESTED: dict[int, tuple[weakref.ref, int, Any]] = {}


def _pyshacl_shapes(shapes: Graph):
    from pyshacl.graph_abstraction import DataGraph
    from pyshacl.shapes_graph import ShapesGraph

    hit = _HARVESTED.get(id(shapes))
    if hit is not None and hit[0]() is shapes and hit[1] == len(shapes):
        return hit[2]
    harvested = ShapesGraph(DataGraph.from_rdflib(shapes))
    harvested.shapes  # noqa: B018 - the property harvests (and caches) every shape
    for key in [k for k, (ref, _, _) in _HARVESTED.items() if ref() is None]:
        del _HARVESTED[key]
    _HARVESTED[id(shapes)] = (weakref.ref(shapes), len(shapes), harvested)
    return harvested


def _pyshacl_report(data: Graph, sources: Sources) -> Graph:
    """The reference: pySHACL (SHACL Core and SHACL-SPARQL; no SHACL-AF feature is used).

    As ``pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=False,
    allow_warnings=True)`` would, but with the shapes harvested and the SPARQL constraints
    parsed once per process instead of once per run and per focus node.
    """
    from pyparsing import ParseBaseException

    try:
        from pyshacl import Validator
    except ImportError:
        raise JunoKGError("the reference engine is pySHACL, which is not installed",
                          hint="pip install 'juno-kg[test]'") from None
    from pyshacl.errors import ReportableRuntimeError, ValidationFailure
    from pyshacl.graph_abstraction import DataGraph

    if isinstance(data, Dataset):  # the union, in one graph
        prepared = _PreparedGraph()
        bind_prefixes(prepared, sources.settings, like=data)
        for triple in data.triples((None, None, None)):
            prepared.add(triple)
    else:  # the same triples (and prefixes): a view on data's store, not a copy
        prepared = _PreparedGraph(store=data.store, identifier=data.identifier,
                                  namespace_manager=data.namespace_manager)
    try:
        validator = Validator(DataGraph.from_rdflib(prepared), shacl_graph=sources.shapes,
                              options={"inference": "none", "advanced": False,
                                       "inplace": True, "allow_warnings": True})
        validator.shacl_graph = _pyshacl_shapes(sources.shapes)
        _conforms, report, _text = validator.run()
    except (ReportableRuntimeError, ValidationFailure, ParseBaseException) as exc:
        raise JunoKGError(f"the shapes cannot be used: {exc}",
                          path=sources.settings.root / "shapes",
                          hint="fix the SHACL in shapes/") from None
    return report


def _shacl_results(report: Graph, sources: Sources, nm: NamespaceManager) -> list[Result]:
    out = []
    for node in report.subjects(RDF.type, SH.ValidationResult):
        severity = report.value(node, SH.resultSeverity)
        shape = report.value(node, SH.sourceShape)
        component = report.value(node, SH.sourceConstraintComponent)
        focus = report.value(node, SH.focusNode)
        value = report.value(node, SH.value)
        message = _own_message(sources.shapes, shape, component, value, nm)
        if message is None:
            message = str(report.value(node, SH.resultMessage) or "")
        else:  # the engine's wording is replaced by ours, in the report graph too
            report.set((node, SH.resultMessage, Literal(message)))
        out.append(Result(
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            focus=focus,
            path=report.value(node, SH.resultPath),
            value=value,
            message=message,
            source_shape=shape,
            component=nm.normalizeUri(component) if isinstance(component, URIRef) else "-",
            node_shape=_node_shape(sources.shapes, shape),
            origin=sources.origin(focus),
        ))
    return out


def _literal_results(results: list[Result], errors: list[LiteralError], sources: Sources,
                     report: Graph) -> list[Result]:
    """``results`` with each ill-typed literal told in words, at its own place: a shape's
    ``sh:datatype`` finding on it gets the literal's reason and line; one no shape
    reported becomes a Violation of its own."""
    if not errors:
        return results
    by_triple = {(e.subject, e.predicate, e.literal): e for e in errors}
    told: set = set()
    out = []
    for r in results:
        error = by_triple.get((r.focus, r.path, r.value))
        if error is not None and r.component == "sh:DatatypeConstraintComponent":
            told.add((r.focus, r.path, r.value))
            r = Result(r.severity, r.focus, r.path, r.value, error.reason, r.source_shape,
                       r.component, r.node_shape, error.place(sources.settings.root))
            for node in report.subjects(SH.focusNode, r.focus):
                if (report.value(node, SH.resultPath), report.value(node, SH.value)) == (
                        r.path, r.value):
                    report.set((node, SH.resultMessage, Literal(error.reason)))
        out.append(r)
    for key, error in sorted(by_triple.items()):
        if key in told:
            continue
        out.append(Result("Violation", error.subject, error.predicate, error.literal,
                          error.reason, None, "ill-typed literal", None,
                          error.place(sources.settings.root)))
        node = URIRef(f"urn:juno-kg:ill-typed-literal:{len(out)}")
        report.add((node, RDF.type, SH.ValidationResult))
        report.add((node, SH.resultSeverity, SH.Violation))
        report.add((node, SH.focusNode, error.subject))
        report.add((node, SH.resultPath, error.predicate))
        report.add((node, SH.value, error.literal))
        report.add((node, SH.resultMessage, Literal(error.reason)))
        report.add((node, SH.sourceConstraintComponent, SH.DatatypeConstraintComponent))
        for r in report.subjects(RDF.type, SH.ValidationReport):
            report.set((r, SH.conforms, Literal(False)))
    return out


def _own_message(shapes: Graph, shape: Node | None, component: Node | None,
                 value: Node | None, nm: NamespaceManager) -> str | None:
    """Our message for a SHACL Core finding whose shape gives no ``sh:message``.

    Engines word their default messages differently; this one names the constraint that
    failed (``sh:datatype xsd:integer``), so the report reads the same whichever engine
    found it. ``None`` where the shape has its own message, or for SHACL-SPARQL (every
    SPARQL constraint here has a message; the engine fills in its ``{?value}``).
    """
    if (shape is None or not isinstance(component, URIRef)
            or component == SH.SPARQLConstraintComponent):
        return None
    if shapes.value(shape, SH.message) is not None or not str(component).startswith(str(SH)):
        return None
    name = str(component)[len(str(SH)):].removesuffix("ConstraintComponent")
    parameter = SH[name[:1].lower() + name[1:]]  # sh:DatatypeConstraintComponent: sh:datatype
    shown = ", ".join(_shown_term(shapes, o, nm) for o in sorted(shapes.objects(shape, parameter)))
    subject = "The node" if value is None else "The value"
    return f"{subject} does not satisfy {nm.normalizeUri(parameter)} {shown}".rstrip() + "."


def _shown_term(shapes: Graph, term: Node, nm: NamespaceManager, depth: int = 0) -> str:
    """A constraint parameter as it would be written in Turtle (lists and shapes inline)."""
    if isinstance(term, URIRef):
        return nm.normalizeUri(term)
    if isinstance(term, Literal):
        return str(term) if term.datatype in (XSD.integer, XSD.boolean) else term.n3(nm)
    if depth > 2:
        return "[ … ]"
    if shapes.value(term, RDF.first) is not None:
        items = [_shown_term(shapes, i, nm, depth + 1) for i in Collection(shapes, term)]
        return "( " + " ".join(items) + " )"
    pairs = sorted((nm.normalizeUri(p), _shown_term(shapes, o, nm, depth + 1))
                   for p, o in shapes.predicate_objects(term) if p != RDF.type)
    return "[ " + " ; ".join(f"{p} {o}" for p, o in pairs) + " ]"


def _node_shape(shapes: Graph, shape: Node | None) -> Node | None:
    """The node shape a (possibly nested) property shape belongs to."""
    seen = set()
    while shape is not None and shape not in seen:
        seen.add(shape)
        if (shape, RDF.type, SH.NodeShape) in shapes:
            return shape
        parent = shapes.value(None, SH.property, shape)
        if parent is None:
            return shape
        shape = parent
    return shape


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=64)
def _prepared(path: Path, text: str):
    """A violation query prepared for rdflib (the reference engine), once per process."""
    from rdflib.plugins.sparql import prepareQuery

    try:
        return prepareQuery(text)
    except Exception as exc:  # rdflib raises pyparsing errors for bad SPARQL
        raise JunoKGError(f"violation query does not parse: {exc}", path=path,
                          hint="fix the SPARQL; it must be a SELECT with ?focus and ?message"
                          ) from None


def _oxigraph_store(graph: Graph):
    """``graph`` (a Dataset's named graphs, or one graph) in a pyoxigraph store.

    Blank node labels are kept, so findings name the same nodes as the rdflib graph.
    """
    import pyoxigraph as ox

    terms: dict[Node, Any] = {}

    def term(node: Node):
        hit = terms.get(node)
        if hit is None:
            if isinstance(node, URIRef):
                hit = ox.NamedNode(node)
            elif isinstance(node, BNode):
                hit = ox.BlankNode(node)
            elif node.language:
                hit = ox.Literal(node, language=node.language)
            else:
                hit = ox.Literal(node, datatype=ox.NamedNode(node.datatype or XSD.string))
            terms[node] = hit
        return hit

    store = ox.Store()
    if isinstance(graph, Dataset):
        # rdflib's default graph too is a named graph (urn:x-rdflib:default): in the union,
        # and a value of GRAPH ?g, as it is for rdflib
        quads = [ox.Quad(term(s), term(p), term(o), term(g))
                 for s, p, o, g in graph.quads((None, None, None, None))]
    else:
        quads = [ox.Quad(term(s), term(p), term(o)) for s, p, o in graph]
    store.bulk_extend(quads)
    return store


def _rdflib_term(term) -> Node:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    return Literal(term.value, datatype=None if datatype == str(XSD.string) else datatype)


def _oxigraph_rows(path: Path, store) -> list[dict[str, Node]]:
    """The rows of a violation query run by pyoxigraph on the union of the named graphs."""
    try:
        solutions = store.query(_read(path), use_default_graph_as_union=True)
    except SyntaxError as exc:
        raise JunoKGError(f"violation query does not parse: {exc}", path=path,
                          hint="fix the SPARQL; it must be a SELECT with ?focus and ?message"
                          ) from None
    names = [v.value for v in solutions.variables]
    return [{name: _rdflib_term(solution[name]) for name in names
             if solution[name] is not None} for solution in solutions]


def _query_results(path: Path, rows: list[dict[str, Node]], sources: Sources,
                   report: Graph) -> list[Result]:
    out = []
    for values in rows:
        focus = values.get("focus")
        message = str(values.get("message") or f"row returned by {path.name}")
        out.append(Result("Violation", focus, values.get("path"), values.get("value"), message,
                          None, path.name, None, sources.origin(focus)))
        node = URIRef(f"urn:juno-kg:violation:{path.stem}:{len(out)}")
        report.add((node, RDF.type, SH.ValidationResult))
        report.add((node, SH.resultSeverity, SH.Violation))
        if focus is not None:
            report.add((node, SH.focusNode, focus))
        report.add((node, SH.resultMessage, Literal(message)))
        report.add((node, SH.sourceConstraintComponent, SH.SPARQLConstraintComponent))
        for key, prop in (("path", SH.resultPath), ("value", SH.value)):
            if values.get(key) is not None:
                report.add((node, prop, values[key]))
    if out:
        for r in report.subjects(RDF.type, SH.ValidationReport):
            report.set((r, SH.conforms, Literal(False)))
    return out


def validate_file(path: Path, settings: Settings | None = None,
                  sources: Sources | None = None, *, engine: str = ENGINE,
                  query_engine: str = QUERY_ENGINE) -> CheckReport:
    """Validate one stand-alone Turtle file together with the ontology (used by shape tests).

    Pass already loaded ``sources`` to reuse their ontology and shapes (compiled once).
    """
    sources = sources or load(settings)
    dataset = new_dataset()
    bind_prefixes(dataset, sources.settings)
    if path.suffix == ".trig":  # an example that puts triples in named graphs
        dataset.parse(path, format="trig")
        errors: list[LiteralError] = []
    else:  # no named graphs, but the violation queries may ask GRAPH ?g: a graph of its own
        parsed = parse_file(path)
        errors = literal_errors(path, parsed, {})
        dataset.graph(URIRef(path.resolve().as_uri())).__iadd__(parsed)
    dataset.graph(URIRef(sources.settings.graph_iri("ontology"))).__iadd__(
        sources.graph("ontology"))
    return validate_graph(dataset, sources, dataset, engine=engine, query_engine=query_engine,
                          literal_errors=errors)
