"""`juno-kg load`: into real triple stores (the oxigraph server, Virtuoso, embedded pyoxigraph).

Each store starts empty; the build's N-Quads go in through the Graph Store Protocol (one PUT
per named graph) and the per-graph counts must equal the build's own (its VoID), every time,
however often it is loaded. A malformed or incomplete dump is refused before the first write.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from juno_kg.config import Settings
from juno_kg.errors import JunoKGError
from juno_kg.store import count_query, load_endpoint, load_store, query_endpoint_for

from .conftest import ROOT, run_cli
from .stores import StoreServer, oxigraph, virtuoso, virtuoso_binary

SETTINGS = Settings.make(ROOT)
VOID_TRIPLES = "http://rdfs.org/ns/void#triples"


def build_counts(nquads: Path) -> dict[str, int]:
    """Triples per named graph of the dump, counted independently of juno_kg.store."""
    return dict(Counter(q.graph_name.value for q in ox.parse(path=str(nquads),
                                                             format=ox.RdfFormat.N_QUADS)))


def void_counts(nquads: Path) -> dict[str, int]:
    """What the build's meta graph says each graph holds."""
    meta = SETTINGS.graph_iri("meta")
    return {q.subject.value: int(q.object.value)
            for q in ox.parse(path=str(nquads), format=ox.RdfFormat.N_QUADS)
            if q.graph_name.value == meta and q.predicate.value == VOID_TRIPLES
            and q.subject.value.startswith(SETTINGS.graph_iri(""))}


def store_counts(server: StoreServer) -> dict[str, int]:
    """Triples per named graph as the store itself reports them (one GROUP BY query)."""
    query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    resp = httpx.post(server.query_url, data={"query": query}, timeout=60,
                      headers={"Accept": "application/sparql-results+json"})
    resp.raise_for_status()
    return {b["g"]["value"]: int(b["n"]["value"]) for b in resp.json()["results"]["bindings"]
            if b["g"]["value"].startswith(SETTINGS.graph_iri(""))}


def put(server: StoreServer, graph: str, ntriples: str) -> None:
    auth = httpx.DigestAuth(server.user, server.password) if server.user else None
    resp = httpx.put(server.gsp_url, params={"graph": graph}, content=ntriples.encode(),
                     headers={"Content-Type": "application/n-triples"}, auth=auth, timeout=60)
    assert resp.status_code in (200, 201, 204), resp.text


@pytest.fixture(scope="module")
def nquads(built) -> Path:
    return built / "dumps" / "juno-kg.nq"


@pytest.fixture(scope="module")
def empty_oxigraph(tmp_path_factory):
    with oxigraph(tmp_path_factory.mktemp("oxigraph-load")) as server:
        yield server


@pytest.fixture(scope="module")
def empty_virtuoso(tmp_path_factory):
    if virtuoso_binary() is None:
        pytest.skip("virtuoso-t is not installed (Debian package virtuoso-opensource; "
                    ".ci/run installs it)")
    with virtuoso(tmp_path_factory.mktemp("virtuoso-load")) as server:
        yield server


@pytest.fixture(params=["oxigraph", "virtuoso"])
def store(request) -> StoreServer:
    return request.getfixturevalue(f"empty_{request.param}")


def load(server: StoreServer, nquads: Path, **kwargs):
    auth = {"user": server.user, "password": server.password, "auth": "digest"} \
        if server.user else {}
    return load_endpoint(server.gsp_url, SETTINGS, source=nquads, **auth, **kwargs)


def test_counts_per_graph_equal_the_builds_and_reloading_changes_nothing(store, nquads):
    expected = build_counts(nquads)
    assert {SETTINGS.graph_iri(n) for n in ("ontology", "article", "links", "meta")} <= set(
        expected)
    void = void_counts(nquads)
    assert {g: void[g] for g in expected if g in void} == {
        g: n for g, n in expected.items() if g != SETTINGS.graph_iri("meta")}
    # a stray triple in a graph is replaced away, not kept: PUT replaces the graph
    put(store, SETTINGS.graph_iri("article"),
        "<https://example.org/stray> <https://example.org/p> \"left over\" .\n")
    for _ in range(2):
        report = load(store, nquads)
        assert report.ok, report.text()
        assert {g.iri: g.stored for g in report.graphs} == expected
        assert {g.iri: g.expected for g in report.graphs} == expected
        assert store_counts(store) == expected, store.log()


def test_one_graph_only(store, nquads):
    report = load(store, nquads, graphs=["links"])
    assert report.ok, report.text()
    assert [g.name for g in report.graphs] == ["links"]


def test_every_named_query_answers_the_same_in_the_store_as_in_process(store, nquads, built):
    from juno_kg.catalogue import named_queries
    from juno_kg.links import federated_queries
    from juno_kg.query import Rows, query

    from .test_query_engines import normalised

    assert load(store, nquads).ok
    names = [name for name, named in sorted(named_queries().items())
             if name not in federated_queries() and all(not p.required for p in named.params)]
    assert {"album", "links", "chart-run"} <= set(names)
    for name in names:  # normalised as the three-engine test does (row and GROUP_CONCAT order)
        here = query(name, data=built)
        there = query(name, endpoint=store.query_url, timeout=60)
        if isinstance(here, Rows):
            assert len(here), f"{name} has no rows in-process"
        assert normalised(there, name) == normalised(here, name), name


def test_a_count_that_differs_is_reported_not_claimed(empty_oxigraph, nquads, tmp_path):
    """Counts asked of another (empty) store than the one written: every graph differs."""
    with oxigraph(tmp_path / "other") as other:
        result = run_cli("load", "--endpoint", empty_oxigraph.gsp_url, "--dump", str(nquads),
                         "--query-endpoint", other.query_url)
    assert result.exit_code == 1, result.output
    assert "count differs" in result.output and "loaded into" in result.output
    assert " loaded\n" not in result.output


def _corrupt(nquads: Path, tmp_path: Path) -> tuple[Path, int]:
    lines = nquads.read_text("utf-8").splitlines(keepends=True)
    middle = len(lines) // 2
    lines[middle] = lines[middle].replace(" .", " ", 1).replace("<", "", 1)
    bad = tmp_path / "juno-kg.nq"
    bad.write_text("".join(lines), "utf-8")
    return bad, middle + 1


def test_a_malformed_dump_fails_cleanly_before_anything_is_written(store, nquads, tmp_path):
    assert load(store, nquads).ok
    before = store_counts(store)
    put(store, SETTINGS.graph_iri("links"), "")  # empty one graph: a change we can watch
    emptied = store_counts(store)
    bad, line = _corrupt(nquads, tmp_path)
    with pytest.raises(JunoKGError) as err:
        load(store, bad)
    assert err.value.line == line and err.value.path == bad
    assert store_counts(store) == emptied, "a graph was written from a malformed dump"
    args = ["load", "--endpoint", store.gsp_url, "--dump", str(bad)]
    if store.user:
        args += ["--user", store.user, "--password", store.password, "--auth", "digest"]
    result = run_cli(*args)
    assert result.exit_code == 2
    assert f"{bad}:{line}:" in result.output and "nothing was loaded" in result.output
    assert "Traceback" not in result.output
    assert load(store, nquads).ok and store_counts(store) == before


def test_a_truncated_dump_disagreeing_with_its_void_is_refused(store, nquads, tmp_path):
    article = f"<{SETTINGS.graph_iri('article')}>"
    lines = nquads.read_text("utf-8").splitlines(keepends=True)
    kept = [line for i, line in enumerate(lines) if not (line.endswith(f" {article} .\n")
                                                             and i % 2)]
    assert len(kept) < len(lines)
    short = tmp_path / "short.nq"
    short.write_text("".join(kept), "utf-8")
    assert load(store, nquads).ok
    before = store_counts(store)
    with pytest.raises(JunoKGError, match="VoID says"):
        load(store, short)
    assert store_counts(store) == before


def test_a_write_refused_half_way_is_reported_graph_by_graph(empty_oxigraph, nquads):
    # the query endpoint refuses PUT: the first graph fails, the rest are not attempted
    report = load_endpoint(empty_oxigraph.query_url, SETTINGS, source=nquads,
                           query_url=empty_oxigraph.query_url)
    assert not report.ok and report.error
    assert report.graphs[0].status.startswith("failed: HTTP 4")
    assert all(g.status == "not attempted" and g.stored is None for g in report.graphs[1:])
    assert "0 of" in report.text()


def test_virtuoso_refuses_a_wrong_password_and_says_so(empty_virtuoso, nquads):
    result = run_cli("load", "--endpoint", empty_virtuoso.gsp_url, "--dump", str(nquads),
                     "--user", "dba", "--password", "wrong", "--auth", "digest")
    assert result.exit_code == 2
    assert "HTTP 401" in result.output and "--auth digest" in result.output
    assert "loaded into" in result.output and "0 of" in result.output


def test_an_unreachable_endpoint_is_a_clear_error(nquads):
    from .stores import free_port

    url = f"http://127.0.0.1:{free_port()}/store"
    result = run_cli("load", "--endpoint", url, "--dump", str(nquads), "--timeout", "5")
    assert result.exit_code == 2
    assert f"cannot reach {url}" in result.output


def test_load_builds_in_process_when_no_dump_is_given(empty_oxigraph):
    result = run_cli("--root", str(ROOT), "load", "--endpoint", empty_oxigraph.gsp_url)
    assert result.exit_code == 0, result.output
    report = load_endpoint(empty_oxigraph.gsp_url, SETTINGS)  # the sources, built again
    assert report.ok, report.text()
    assert store_counts(empty_oxigraph) == {g.iri: g.expected for g in report.graphs}
    assert {g.name for g in report.graphs} >= {"ontology", "article", "links", "meta"}


def test_embedded_store_load_and_reload(tmp_path, nquads):
    folder = tmp_path / "store"
    expected = build_counts(nquads)
    for _ in range(2):
        result = run_cli("load", "--store", str(folder), "--dump", str(nquads))
        assert result.exit_code == 0, result.output
    store = ox.Store(str(folder))
    for graph, n in expected.items():
        assert int(next(iter(store.query(count_query(graph))))["n"].value) == n
    assert len(store) == sum(expected.values())
    del store
    bad, line = _corrupt(nquads, tmp_path)
    with pytest.raises(JunoKGError):
        load_store(folder, SETTINGS, source=bad)
    store = ox.Store(str(folder))
    assert len(store) == sum(expected.values())


def test_usage_errors():
    assert run_cli("load").exit_code == 2
    assert run_cli("load", "--endpoint", "http://x", "--store", "y").exit_code == 2
    result = run_cli("load", "--store", "/nonexistent/x", "--dump", "/nonexistent/dump.nq")
    assert result.exit_code == 2 and "cannot read dump" in result.output


@pytest.mark.parametrize(("gsp", "query"), [
    ("http://127.0.0.1:7878/store", "http://127.0.0.1:7878/query"),
    ("http://h:8890/sparql-graph-crud-auth", "http://h:8890/sparql"),
    ("http://h:3030/juno/data", "http://h:3030/juno/sparql"),
    ("http://h:7200/repositories/juno/rdf-graphs/service", "http://h:7200/repositories/juno"),
    ("http://h/other", "http://h/other"),
])
def test_query_endpoint_beside_a_graph_store(gsp, query):
    assert query_endpoint_for(gsp) == query
