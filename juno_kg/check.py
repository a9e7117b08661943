"""Step 2 — check: SHACL shapes plus SPARQL violation queries; the data contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rdflib import RDF, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import NamespaceManager
from rdflib.term import Node

from .config import DATA_GRAPHS, Settings
from .sources import JunoKGError, Sources, bind_prefixes, load, new_dataset, parse_file

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
                lines.append(f"  value:   {self.curie(r.value)}")
            shape = self.curie(r.node_shape or r.source_shape) if (
                r.node_shape or r.source_shape) is not None else None
            lines.append(f"  check:   {r.component}" + (f" in {shape}" if shape else ""))
            lines.append(f"  message: {r.message}")
        return "\n".join(lines)


def data_union(sources: Sources, graphs: tuple[str, ...] = ("ontology", *DATA_GRAPHS)) -> Graph:
    """One graph holding the ontology and every data graph: what the shapes are run on."""
    union = Graph()
    bind_prefixes(union, sources.settings, like=sources.dataset)
    for name in graphs:
        union += sources.graph(name)
    return union


def validate(sources: Sources | None = None) -> CheckReport:
    """Validate loaded sources (loading the default ones if none are given)."""
    sources = sources or load()
    return validate_graph(data_union(sources), sources, sources.dataset)


def validate_graph(data: Graph, sources: Sources, dataset: Dataset | None = None) -> CheckReport:
    """Run the shapes and violation queries of ``sources`` on ``data``.

    ``data`` should already contain the ontology (class and property hierarchy). The
    violation queries run on ``dataset`` when given (a union-default Dataset, so they can
    ask ``GRAPH ?g { … }`` which named graph a triple is in), else on ``data``.
    """
    import pyshacl
    from pyparsing import ParseBaseException
    from pyshacl.errors import ReportableRuntimeError, ValidationFailure

    try:
        _conforms, report, _text = pyshacl.validate(
            data, shacl_graph=sources.shapes, inference="none", advanced=True,
            allow_warnings=True, abort_on_first=False, meta_shacl=False)
    except (ReportableRuntimeError, ParseBaseException) as exc:  # bad shapes, bad SPARQL
        raise JunoKGError(f"the shapes cannot be used: {exc}",
                          path=sources.settings.root / "shapes",
                          hint="fix the SHACL in shapes/") from None
    if isinstance(report, ValidationFailure):  # pySHACL returns some runtime failures
        raise JunoKGError(f"the shapes cannot be used: {report}",
                          path=sources.settings.root / "shapes",
                          hint="fix the SHACL in shapes/ (a SPARQL constraint failed to run)")
    nm = NamespaceManager(Graph(), bind_namespaces="none")
    for prefix, ns in data.namespaces():
        nm.bind(prefix, ns, override=False)
    for prefix, ns in sources.shapes.namespaces():
        nm.bind(prefix, ns, override=False)
    bind_prefixes(nm.graph, sources.settings)
    for prefix, ns in nm.graph.namespaces():
        nm.bind(prefix, ns, override=True, replace=True)
    results = _shacl_results(report, sources, nm)
    for path in sources.violation_queries:
        results += _query_results(path, data if dataset is None else dataset, sources, report)
    conforms = not any(r.severity == "Violation" for r in results)
    return CheckReport(conforms, results, report, nm)


def _shacl_results(report: Graph, sources: Sources, nm: NamespaceManager) -> list[Result]:
    out = []
    for node in report.subjects(RDF.type, SH.ValidationResult):
        severity = report.value(node, SH.resultSeverity)
        shape = report.value(node, SH.sourceShape)
        component = report.value(node, SH.sourceConstraintComponent)
        focus = report.value(node, SH.focusNode)
        out.append(Result(
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            focus=focus,
            path=report.value(node, SH.resultPath),
            value=report.value(node, SH.value),
            message=str(report.value(node, SH.resultMessage) or ""),
            source_shape=shape,
            component=nm.normalizeUri(component) if isinstance(component, URIRef) else "-",
            node_shape=_node_shape(sources.shapes, shape),
            origin=sources.origin(focus),
        ))
    return out


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


@lru_cache(maxsize=64)
def _prepared(path: Path, text: str):
    from rdflib.plugins.sparql import prepareQuery

    try:
        return prepareQuery(text)
    except Exception as exc:  # rdflib raises pyparsing errors for bad SPARQL
        raise JunoKGError(f"violation query does not parse: {exc}", path=path,
                          hint="fix the SPARQL; it must be a SELECT with ?focus and ?message"
                          ) from None


def _query_results(path: Path, data: Graph, sources: Sources, report: Graph) -> list[Result]:
    rows = data.query(_prepared(path, path.read_text(encoding="utf-8")))
    out = []
    for row in rows:
        values = row.asdict()
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
                  sources: Sources | None = None) -> CheckReport:
    """Validate one stand-alone Turtle file together with the ontology (used by shape tests).

    Pass already loaded ``sources`` to reuse their ontology and shapes.
    """
    sources = sources or load(settings)
    data = Graph()
    bind_prefixes(data, sources.settings)
    data += sources.graph("ontology")
    if path.suffix == ".trig":  # an example that puts triples in named graphs
        dataset = new_dataset()
        dataset.parse(path, format="trig")
        dataset.graph(URIRef(sources.settings.graph_iri("ontology"))).__iadd__(
            sources.graph("ontology"))
        for triple in dataset.triples((None, None, None)):
            data.add(triple)
        return validate_graph(data, sources, dataset)
    example = parse_file(path)
    data += example
    # a Turtle example has no named graphs, but the violation queries may ask GRAPH ?g:
    # give them a union-default Dataset with the example in a graph of its own
    dataset = new_dataset()
    dataset.graph(URIRef(path.resolve().as_uri())).__iadd__(example)
    dataset.graph(URIRef(sources.settings.graph_iri("ontology"))).__iadd__(
        sources.graph("ontology"))
    return validate_graph(data, sources, dataset)
