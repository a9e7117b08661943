"""The data contract: shipped data conforms; every shape and violation query bites.

Each ``tests/shapes/invalid/*.ttl`` (or ``*.trig``, for rules about which named graph a
triple is in) is a small graph, validated with the ontology, that
starts with lines ``# expect: SEVERITY COMPONENT PATH`` (component as a CURIE or the
violation query's file name; path as a CURIE or ``-``). Every expected finding must be
reported, and every reported Violation must be expected.

Each ``tests/shapes/valid/*.ttl`` (or ``*.trig``) is its conforming counterpart: a small
graph, with a comment saying what it shows, that validates with no finding at all (no
Violation, and no Warning or Info either). Every node shape has a focus node in at least
one of them, and every violation query something to look at (``QUERY_SCOPES``).

The examples run in this one process against shapes compiled once (the session's
``sources``). pyshacl-turbo and pyoxigraph are the contract; pySHACL and rdflib are the
reference, and ``test_the_reference_engines_find_the_same`` shows that they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rdflib import RDF, RDFS, BNode, Dataset, Graph, Namespace, URIRef
from rdflib.term import Node

from juno_kg.check import validate, validate_file
from juno_kg.sources import Sources

from .conftest import ROOT, run_cli

SH = Namespace("http://www.w3.org/ns/shacl#")
EXAMPLES = ROOT / "tests" / "shapes"
INVALID = sorted([*(EXAMPLES / "invalid").glob("*.ttl"), *(EXAMPLES / "invalid").glob("*.trig")])
VALID = sorted([*(EXAMPLES / "valid").glob("*.ttl"), *(EXAMPLES / "valid").glob("*.trig")])


def expectations(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("# expect:"):
            severity, component, rpath = line.split(":", 1)[1].split()
            out.append((severity, component, rpath))
    return out


def found(report) -> list[tuple[str, str, str]]:
    return [(r.severity, r.component, report.curie(r.path)) for r in report.results]


def test_the_shipped_data_conforms(sources):
    report = validate(sources)
    assert report.conforms, report.text()
    assert report.count("Violation") == 0


def test_validate_command_exit_codes(source_copy):
    assert run_cli("validate").exit_code == 0
    turtle = run_cli("validate", "--format", "turtle")
    report = Graph().parse(data=turtle.output, format="turtle")
    assert (None, RDF.type, SH.ValidationReport) in report
    bad = source_copy / "data" / "article" / "zz-bad.ttl"
    bad.write_text("<https://w3id.org/juno-kg/id/person/nobody> "
                   "<https://w3id.org/juno-kg/ontology#notAProperty> 1 .\n", "utf-8")
    result = run_cli("--root", str(source_copy), "validate")
    assert result.exit_code == 1
    assert "data/article/zz-bad.ttl" in result.output, "the report names the data file"


@pytest.fixture(scope="session")
def reports(sources):
    """One validation per example, shared by the tests below (shapes compiled once)."""
    cache: dict = {}

    def report_for(path: Path):
        if path not in cache:
            cache[path] = validate_file(path, sources=sources)
        return cache[path]

    return report_for


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example_produces_exactly_its_expected_findings(path, reports):
    expected = expectations(path)
    assert expected, f"{path.name} has no '# expect:' line"
    report = reports(path)
    got = found(report)
    for item in expected:
        assert item in got, f"{path.name}: expected {item}, got {got}\n{report.text()}"
    unexpected = [g for g in got if g[0] == "Violation" and g not in expected]
    assert not unexpected, f"{path.name}: unexpected {unexpected}\n{report.text()}"
    if any(sev == "Violation" for sev, _, _ in expected):
        assert not report.conforms


def test_every_shape_and_violation_query_has_a_failing_example(sources, reports):
    bitten: set[str] = set()
    for path in INVALID:
        report = reports(path)
        for r in report.results:
            if r.node_shape is not None:
                bitten.add(str(r.node_shape))
            else:
                bitten.add(r.component)
    shapes = sources.shapes
    node_shapes = {str(s) for s in shapes.subjects(RDF.type, SH.NodeShape)}
    queries = {p.name for p in sources.violation_queries}
    missing = sorted((node_shapes | queries) - bitten)
    assert not missing, f"no failing example for: {missing}"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_example_conforms_with_no_finding(path, reports):
    assert not expectations(path), f"{path.name}: a valid example expects no finding"
    report = reports(path)
    assert not report.results, f"{path.name}:\n{report.text()}"
    assert report.conforms


#: The node shapes' kinds of target this module finds focus nodes for (SHACL Core's
#: explicit targets; the shapes use no implicit class targets and no SPARQL targets).
TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)


def focus_nodes(shapes: Graph, shape: Node, data: Graph) -> set[Node]:
    """The focus nodes of ``shape`` in ``data`` (instances include those of subclasses)."""
    nodes: set[Node] = set(shapes.objects(shape, SH.targetNode))
    for cls in shapes.objects(shape, SH.targetClass):
        for sub in data.transitive_subjects(RDFS.subClassOf, cls):
            nodes.update(data.subjects(RDF.type, sub))
    for prop in shapes.objects(shape, SH.targetSubjectsOf):
        nodes.update(data.subjects(prop, None))
    for prop in shapes.objects(shape, SH.targetObjectsOf):
        nodes.update(data.objects(None, prop))
    return nodes


def example_dataset(path: Path) -> Dataset:
    """An example as its own triples: a TriG example's named graphs, or one graph."""
    dataset = Dataset()
    if path.suffix == ".trig":
        dataset.parse(path, format="trig")
    else:
        dataset.graph(URIRef(path.resolve().as_uri())).parse(path, format="turtle")
    return dataset


def _has_a_triple(example: Dataset, sources: Sources) -> bool:
    return next(iter(example.quads()), None) is not None


def _describes_the_supplement(example: Dataset, sources: Sources) -> bool:
    return len(example.graph(URIRef(sources.settings.graph_iri("supplement")))) > 0


def _typed_with_an_iri_kind(example: Dataset, sources: Sources) -> bool:
    iri_kind = URIRef(sources.settings.ontology_ns + "iriKind")
    ontology = sources.graph("ontology")
    return any((cls, iri_kind, None) in ontology for _, _, cls, _ in
               example.quads((None, RDF.type, None, None)))


def _uses_an_own_term(example: Dataset, sources: Sources) -> bool:
    ns = sources.settings.ontology_ns
    return any(str(p).startswith(ns) or (p == RDF.type and str(o).startswith(ns))
               for _, p, o, _ in example.quads())


#: What each violation query looks at, told of an example: a valid example for the query is
#: one that gives it something to look at (and the query returns no row).
QUERY_SCOPES: dict[str, Callable[[Dataset, Sources], bool]] = {
    "blank-node-violation.rq": _has_a_triple,  # every triple
    "iri-kind-violation.rq": _typed_with_an_iri_kind,  # things of a class with a jk:iriKind
    "supplement-source-violation.rq": _describes_the_supplement,  # the supplement graph
    "undeclared-term-violation.rq": _uses_an_own_term,  # jk: predicates and classes
}


def test_every_shape_and_violation_query_has_a_valid_example(sources):
    """Each node shape has a focus node among the subjects of some valid example (the
    example read with the ontology, so that subclasses count); each violation query has a
    valid example in its scope."""
    shapes = sources.shapes
    assert {p for p in shapes.predicates() if str(p).startswith(f"{SH}target")} \
        <= set(TARGETS), "a kind of target focus_nodes does not know"
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    assert not {s for s in node_shapes if (s, RDF.type, RDFS.Class) in shapes}, \
        "an implicit class target focus_nodes does not know"
    queries = {p.name for p in sources.violation_queries}
    assert set(QUERY_SCOPES) == queries, "say what each violation query looks at"
    ontology = sources.graph("ontology")
    targeted: set[Node] = set()
    in_scope: set[str] = set()
    for path in VALID:
        example = example_dataset(path)
        own = Graph()
        for s, p, o, _ in example.quads():
            own.add((s, p, o))
        data = own + ontology
        subjects = set(own.subjects())
        targeted |= {s for s in node_shapes - targeted if focus_nodes(shapes, s, data) & subjects}
        in_scope |= {q for q, looks_at in QUERY_SCOPES.items() if looks_at(example, sources)}
    missing = sorted([shapes.namespace_manager.normalizeUri(s) for s in node_shapes - targeted]
                     + sorted(queries - in_scope))
    assert not missing, f"no valid example for: {missing}"


def test_every_class_of_the_ontology_has_a_shape(sources):
    from rdflib import OWL

    onto = sources.graph("ontology")
    ns = sources.settings.ontology_ns
    classes = {c for c in onto.subjects(RDF.type, OWL.Class) if str(c).startswith(ns)}
    targeted = set(sources.shapes.objects(None, SH.targetClass))
    assert not sorted(classes - targeted)


SEVERITIES = {"Violation", "Warning", "Info"}


def test_shapes_use_every_severity_on_purpose(sources, reports):
    """Violation, Warning and Info are each used, and each is shown by a failing example
    that expects it; every severity a shape states (on a node or property shape, or on a
    SPARQL constraint of one) is given by that shape in a failing example."""
    shapes = sources.shapes
    stated = {(holder, str(severity).rsplit("#", 1)[1])
              for node, severity in shapes.subject_objects(SH.severity)
              for holder in (set(shapes.subjects(SH.sparql, node)) or {node})}
    unstated = {s for s in shapes.subjects(RDF.type, SH.NodeShape)
                if (s, SH.severity, None) not in shapes}  # their constraints: Violation
    assert {severity for _, severity in stated} | ({"Violation"} if unstated else set()) \
        == SEVERITIES
    assert {severity for path in INVALID for severity, _, _ in expectations(path)} \
        == SEVERITIES
    shown = {(r.source_shape, r.severity) for path in INVALID for r in reports(path).results}
    unshown = sorted(f"{shape_name(shapes, holder)}: {severity}"
                     for holder, severity in stated - shown)
    assert not unshown, f"no failing example gives these stated severities: {unshown}"


def shape_name(shapes: Graph, shape: Node) -> str:
    """A shape as a reader finds it: ``jks:X``, or ``jks:X sh:property [sh:path jk:p]``."""
    curie = shapes.namespace_manager.normalizeUri
    if not isinstance(shape, BNode):
        return curie(shape)
    owner = shapes.value(None, SH.property, shape)
    path = shapes.value(shape, SH.path)
    return f"{shape_name(shapes, owner) if owner is not None else '[]'} sh:property " \
           f"[sh:path {curie(path) if path is not None else '?'}]"


def test_a_broken_shape_is_a_load_error_not_a_traceback(source_copy):
    (source_copy / "shapes" / "zz-broken.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "@prefix jks: <https://w3id.org/juno-kg/shapes#> .\n"
        "jks:Broken a sh:NodeShape ; "
        "sh:targetClass <https://w3id.org/juno-kg/ontology#Album> ;\n"
        '  sh:sparql jks:BrokenConstraint .\n'
        'jks:BrokenConstraint sh:select "SELECT $this WHERE { $this ?p ";\n'
        '  sh:message "never" .\n', "utf-8")
    result = run_cli("--root", str(source_copy), "validate")
    assert result.exit_code == 2, result.output
    assert "shapes" in result.output and "Traceback" not in result.output


def comparable(report) -> list[tuple]:
    """Every finding in full, blank nodes aside (each parse of an example labels them anew)."""
    def term(node):
        return "-" if node is None else "_:b" if isinstance(node, BNode) else node.n3()
    return sorted((r.severity, term(r.focus), term(r.path), term(r.value), r.message,
                   r.component, "_:b" if isinstance(r.source_shape, BNode) and r.node_shape
                   is None else term(r.source_shape), term(r.node_shape), r.origin or "-")
                  for r in report.results)


def _reference(path: Path | None) -> list[tuple]:
    """pySHACL's (and rdflib's) findings on one example, or on the shipped data (None)."""
    sources = _REFERENCE_SOURCES[0]
    if path is None:
        return comparable(validate(sources, engine="pyshacl", query_engine="rdflib"))
    queries = any(c.endswith(".rq") for _, c, _ in expectations(path))
    return comparable(validate_file(path, sources=sources, engine="pyshacl",
                                    query_engine="rdflib" if queries else "pyoxigraph"))


_REFERENCE_SOURCES: list = []


def test_the_reference_engines_find_the_same(sources, reports):
    """pySHACL finds what pyshacl-turbo finds, and rdflib what pyoxigraph finds.

    Compared in full (severity, focus, path, value, message, component, shape, origin) on
    the shipped data and on every example. The violation queries are compared on the
    shipped data and on the examples that expect one of them: rdflib takes about half a
    second per example, and on any other example a row from either engine would be a
    Violation that example does not expect (the test above). The reference runs in
    forked processes, one per core (it is most of this file's time).
    """
    import multiprocessing
    import os
    import threading
    from concurrent.futures import ProcessPoolExecutor

    _REFERENCE_SOURCES[:] = [sources]
    work: list[Path | None] = [None, *INVALID]
    try:
        if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
            with ProcessPoolExecutor(len(os.sched_getaffinity(0)),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                references = list(pool.map(_reference, work))
        else:
            references = [_reference(path) for path in work]
    finally:
        _REFERENCE_SOURCES.clear()
    assert references[0] == comparable(validate(sources))
    for path, reference in zip(INVALID, references[1:], strict=True):
        assert reference == comparable(reports(path)), path.name


def test_the_shapes_need_no_advanced_features(sources):
    """Both engines run SHACL Core and SHACL-SPARQL only (pySHACL's advanced=False)."""
    advanced = {SH.rule, SH.target, SH.SPARQLTarget, SH.SPARQLTargetType, SH.expression,
                SH.SPARQLFunction, SH.TripleRule, SH.SPARQLRule, SH.condition, SH.js}
    used = {p for _, p, _ in sources.shapes} | set(sources.shapes.objects(None, RDF.type))
    assert not sorted(used & advanced)


def test_a_finding_without_a_message_of_its_own_names_its_constraint(sources, reports):
    report = reports(ROOT / "tests" / "shapes" / "invalid" / "magazine-issue-number-string.ttl")
    messages = {r.component: r.message for r in report.results}
    assert messages["sh:DatatypeConstraintComponent"] \
        == "The value does not satisfy sh:datatype xsd:integer."
    assert "sh:MinInclusiveConstraintComponent" in messages
