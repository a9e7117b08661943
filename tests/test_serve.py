"""``juno-kg serve`` in-process: content negotiation, the SPARQL protocol, and its hardening."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest
from markupsafe import escape
from rdflib import Dataset, Graph
from starlette.testclient import TestClient

from juno_kg import formats
from juno_kg.config import DEFAULT_BASE, GRAPH_NAMES
from juno_kg.serve import Limits, create_app

from .conftest import run_cli

ID = f"{DEFAULT_BASE}id/"
GROUPS = "SELECT ?g WHERE { ?g a <http://schema.org/MusicGroup> } ORDER BY ?g"
RESULTS = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
           "csv": "text/csv", "tsv": "text/tab-separated-values"}


@pytest.fixture(scope="session")
def client(built):
    with TestClient(create_app(built, Limits(workers=1)), follow_redirects=False) as c:
        yield c


@pytest.fixture(scope="session")
def tight(built):
    """An app with small limits: 1.5 s per query, 5 rows, 600-byte requests."""
    limits = Limits(timeout=1.5, max_rows=5, max_request=600, workers=1)
    with TestClient(create_app(built, limits), follow_redirects=False) as c:
        yield c


def groups(store_rows: list[dict]) -> list[str]:
    return sorted(r["g"]["value"] for r in store_rows)


@pytest.fixture(scope="session")
def expected_groups(built) -> list[str]:
    store = ox.Store()
    store.bulk_load(path=str(built / "dumps/juno-kg.nq"), format=ox.RdfFormat.N_QUADS)
    found = sorted(s["g"].value for s in store.query(GROUPS, use_default_graph_as_union=True))
    assert found
    return found


# --------------------------------------------------------------------------- conneg

CASES = [  # (path, Accept, ?format) -> (status, Location)
    *[("/id/person/kimya-dawson", f.media_type, None, 303,
       f"/data/person/kimya-dawson.{f.extension}") for f in formats.FORMATS],
    *[("/ontology", f.media_type, None, 303, f"/data/ontology.{f.extension}")
      for f in formats.FORMATS],
    *[("/id/person/kimya-dawson", "text/html", f.name, 303,
       f"/data/person/kimya-dawson.{f.extension}") for f in formats.FORMATS],
    ("/id/person/kimya-dawson", "text/html", None, 303, "/page/person/kimya-dawson"),
    ("/id/person/kimya-dawson", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
     None, 303, "/page/person/kimya-dawson"),
    ("/id/person/kimya-dawson", "*/*", None, 303, "/page/person/kimya-dawson"),
    ("/id/person/kimya-dawson", None, None, 303, "/page/person/kimya-dawson"),
    ("/id/person/kimya-dawson", "text/html;q=0.5, text/turtle", None, 303,
     "/data/person/kimya-dawson.ttl"),
    ("/id/person/kimya-dawson", "text/turtle;q=0.2, application/ld+json;q=0.9", None, 303,
     "/data/person/kimya-dawson.jsonld"),
    ("/id/person/kimya-dawson", "application/json", None, 303,
     "/data/person/kimya-dawson.jsonld"),
    ("/id/person/kimya-dawson", "application/*", None, 303, "/data/person/kimya-dawson.nt"),
    ("/id/person/kimya-dawson", "text/turtle", "html", 303, "/page/person/kimya-dawson"),
    ("/ontology", "text/html", None, 303, "/ontology.html"),
    ("/dataset", "text/turtle", None, 303, "/dumps/graphs/meta.ttl"),
    ("/dataset", "text/html", None, 303, "/index.html#data"),
    ("/graph/article", "application/ld+json", None, 303, "/dumps/graphs/article.jsonld"),
    ("/graph/article", "application/n-triples", None, 303, "/dumps/graphs/article.nt"),
    ("/graph/nothing", "text/turtle", None, 404, None),
    ("/id/person/kimya-dawson", "image/png", None, 406, None),
    ("/id/person/nobody-here", "text/turtle", None, 404, None),
    ("/id/person/kimya-dawson", "text/turtle", "nope", 400, None),
]


@pytest.mark.parametrize("path,accept,fmt,status,location", CASES)
def test_content_negotiation_table(client, path, accept, fmt, status, location):
    headers = {"Accept": accept} if accept else {}
    response = client.get(path, headers=headers, params={"format": fmt} if fmt else None)
    assert response.status_code == status
    assert "Accept" in response.headers.get("vary", "")
    assert response.headers.get("location") == location
    if status != 303:
        return
    target = client.get(location)
    assert target.status_code == 200
    media = target.headers["content-type"].split(";")[0]
    expected = next((f.media_type for f in formats.FORMATS if location.endswith(
        "." + f.extension)), "text/html")
    assert media == expected
    if expected != "text/html":
        fmt_ = next(f for f in formats.FORMATS if f.media_type == expected)
        if fmt_.quads:  # the resource's triples, each in the named graph that states it
            quads = list(Dataset().parse(data=target.content, format=fmt_.rdflib).quads())
            turtle = client.get(location.rsplit(".", 1)[0] + ".ttl")
            assert quads and {q[:3] for q in quads} \
                == set(Graph().parse(data=turtle.content, format="turtle"))
            assert {str(q[3]) for q in quads} <= {f"{DEFAULT_BASE}graph/{name}"
                                                  for name in GRAPH_NAMES}
        else:
            assert len(Graph().parse(data=target.content, format=fmt_.rdflib)) > 0


def test_unknown_resource_gets_a_helpful_404_page(client):
    response = client.get("/id/person/nobody-here", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "nobody-here" in response.text
    assert "/id/person/kimya-dawson" in response.text  # resources of the same kind
    other = client.get("/no/such/thing", headers={"Accept": "text/html"})
    assert other.status_code == 404 and "text/html" in other.headers["content-type"]


def test_pages_void_and_dumps_are_served_with_their_media_types(client):
    assert client.get("/").headers["content-type"].startswith("text/html")
    page = client.get("/page/person/kimya-dawson")
    assert page.status_code == 200 and "Kimya Dawson" in page.text
    assert client.get("/page/person/kimya-dawson.html").text == page.text
    void = client.get("/.well-known/void")
    assert void.headers["content-type"].startswith("text/turtle")
    assert len(Graph().parse(data=void.content, format="turtle")) > 10
    for fmt in formats.FORMATS:
        dump = client.get(f"/dumps/juno-kg.{fmt.extension}")
        assert dump.headers["content-type"].split(";")[0] == fmt.media_type


# --------------------------------------------------------------------------- SPARQL protocol

@pytest.mark.parametrize("how", ["get", "form", "direct"])
def test_sparql_protocol_get_post_form_and_post_query(client, how, expected_groups):
    accept = {"Accept": RESULTS["json"]}
    if how == "get":
        response = client.get("/sparql", params={"query": GROUPS}, headers=accept)
    elif how == "form":
        response = client.post("/sparql", data={"query": GROUPS}, headers=accept)
    else:
        response = client.post("/sparql", content=GROUPS.encode(), headers={
            **accept, "Content-Type": "application/sparql-query"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(RESULTS["json"])
    assert groups(response.json()["results"]["bindings"]) == expected_groups


@pytest.mark.parametrize("name", list(RESULTS))
def test_select_results_in_every_w3c_format(client, name, expected_groups):
    response = client.get("/sparql", params={"query": GROUPS}, headers={"Accept": RESULTS[name]})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == RESULTS[name]
    if name == "json":
        got = groups(response.json()["results"]["bindings"])
    elif name == "xml":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        got = sorted(u.text for u in ET.fromstring(response.content).iter(f"{ns}uri"))
    elif name == "csv":
        got = sorted(row["g"] for row in csv.DictReader(io.StringIO(response.text)))
    else:
        lines = response.text.strip().splitlines()
        assert lines[0] == "?g"
        got = sorted(line.strip("<>") for line in lines[1:])
    assert got == expected_groups


def test_ask_and_the_format_parameter(client):
    ask = "ASK { ?s a <http://schema.org/MusicGroup> }"
    assert client.get("/sparql", params={"query": ask}).json()["boolean"] is True
    xml = client.get("/sparql", params={"query": ask, "format": "xml"})
    assert xml.headers["content-type"].startswith(RESULTS["xml"]) and b"true" in xml.content
    csv_ = client.get("/sparql", params={"query": GROUPS, "format": "csv"},
                      headers={"Accept": RESULTS["json"]})
    assert csv_.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize("fmt", formats.FORMATS, ids=lambda f: f.name)
def test_construct_and_describe_in_every_rdf_format(client, fmt, expected_groups):
    construct = ("CONSTRUCT { ?g a <http://schema.org/MusicGroup> } "
                 "WHERE { ?g a <http://schema.org/MusicGroup> }")
    for query in (construct, f"DESCRIBE <{expected_groups[0]}>"):
        response = client.get("/sparql", params={"query": query},
                              headers={"Accept": fmt.media_type})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].split(";")[0] == fmt.media_type
        data = Dataset() if fmt.quads else Graph()
        data.parse(data=response.content, format=fmt.rdflib)
        subjects = {str(s) for s, _, _ in (data if not fmt.quads else
                                            (q[:3] for q in data.quads()))}
        if query is construct:
            assert sorted(subjects) == expected_groups
        else:
            assert expected_groups[0] in subjects


def test_service_description_cors_and_limits_in_headers(client):
    sd = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert sd.status_code == 200 and sd.headers["content-type"].startswith("text/turtle")
    g = Graph().parse(data=sd.content, format="turtle")
    sd_ns = "http://www.w3.org/ns/sparql-service-description#"
    assert any(str(o) == f"{sd_ns}Service" for o in g.objects())
    assert len([o for p, o in g.predicate_objects() if str(p) == f"{sd_ns}resultFormat"]) >= 10
    names = {str(o) for p, o in g.predicate_objects() if str(p) == f"{sd_ns}name"}
    assert f"{DEFAULT_BASE}graph/article" in names
    preflight = client.options("/sparql", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://example.org")
    response = client.get("/sparql", params={"query": GROUPS},
                          headers={"Origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-query-time-limit"] == "10"
    assert response.headers["x-result-row-limit"] == "10000"
    assert response.headers["x-request-size-limit"] == str(32 * 1024)
    assert "x-result-row-limit" in response.headers["access-control-expose-headers"].lower()


def test_query_page_lists_the_named_queries_and_shows_results_as_a_table(client):
    from juno_kg.site import named_queries

    page = client.get("/sparql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "<textarea" in page.text
    examples = named_queries()
    for q in examples:
        assert str(escape(q["title"])) in page.text
    table = client.get("/sparql", params={"query": GROUPS}, headers={"Accept": "text/html"})
    assert table.status_code == 200 and '<table class="results">' in table.text
    assert "The Moldy Peaches" in table.text and 'href="id/group/the-moldy-peaches"' in table.text


def test_named_queries_run_on_the_endpoint(client):
    from juno_kg.site import named_queries

    for q in named_queries():
        response = client.post("/sparql", data={"query": q["text"]})
        assert response.status_code in (200, 400), (q["name"], response.text)
        if response.status_code == 400:  # only for a query that needs a parameter bound
            assert "?" in q["text"]


# --------------------------------------------------------------------------- hardening

def test_the_listener_sees_the_connection_an_unguarded_engine_makes(listener):
    """Control: pyoxigraph alone *does* call out for SERVICE, so the refusals below matter."""
    store = ox.Store()
    with pytest.raises(Exception):  # noqa: B017 - the listener closes the connection at once
        list(store.query(f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"))
    import time

    for _ in range(20):
        if listener.connections:
            break
        time.sleep(0.05)
    assert listener.connections >= 1


def remote_queries(url: str) -> list[tuple[str, dict, int]]:
    """(query, extra protocol parameters, expected status) naming the listener's URL."""
    return [
        (f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}", {}, 400),
        (f"SELECT * WHERE {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }}", {}, 400),
        (f"select * where {{ service <{url}> {{ ?s ?p ?o }} }}", {}, 400),
        (f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}", {}, 400),
        (f"SELECT * WHERE {{ ?x ?y ?z . SeRvIcE <{url}> {{ ?s ?p ?o }} }} # SERVICE", {}, 400),
        (f"SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }}", {}, 400),
        (f"SELECT * FROM NAMED <{url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}", {}, 400),
        ("SELECT * WHERE { ?s ?p ?o } LIMIT 1", {"default-graph-uri": url}, 400),
        ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 1", {"named-graph-uri": url}, 400),
        (f"LOAD <{url}>", {}, 403),
        (f"LOAD <{url}> INTO GRAPH <urn:x>", {}, 403),
    ]


def test_no_query_naming_a_remote_url_makes_a_connection(client, listener):
    for query, extra, status in remote_queries(listener.url):
        for how in ("get", "form"):
            params = {"query": query, **extra}
            response = (client.get("/sparql", params=params) if how == "get"
                        else client.post("/sparql", data=params))
            assert response.status_code == status, (query, response.text)
            assert "Traceback" not in response.text
            assert response.text.strip()
    update = client.post("/sparql", content=f"LOAD <{listener.url}>".encode(),
                         headers={"Content-Type": "application/sparql-update"})
    assert update.status_code == 403
    update = client.post("/sparql", data={"update": f"LOAD <{listener.url}>"})
    assert update.status_code == 403
    assert listener.connections == 0


def test_service_inside_strings_comments_and_iris_is_not_a_service_call(client):
    ok = ['SELECT ?s WHERE { ?s ?p "SERVICE <http://x/> {}" } LIMIT 1',
          "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1 # SERVICE <http://x/>",
          "SELECT ?service WHERE { ?service ?p ?o } LIMIT 1",
          "SELECT ?s WHERE { ?s <http://example.org/SERVICE> ?o } LIMIT 1"]
    for query in ok:
        assert client.get("/sparql", params={"query": query}).status_code == 200, query


def test_updates_are_refused_as_read_only(client):
    for update in ('INSERT DATA { <urn:a> <urn:b> "c" }', "DELETE WHERE { ?s ?p ?o }",
                   "CLEAR ALL", "DROP GRAPH <urn:g>", "CREATE GRAPH <urn:g>"):
        for response in (client.post("/sparql", data={"query": update}),
                         client.post("/sparql", data={"update": update}),
                         client.post("/sparql", content=update.encode(), headers={
                             "Content-Type": "application/sparql-update"})):
            assert response.status_code == 403, update
            assert "read-only" in response.text
    count = client.get("/sparql", params={"query": "ASK { <urn:a> <urn:b> ?c }"}).json()
    assert count["boolean"] is False


def test_local_graphs_may_be_named_in_from(client):
    article = f"{DEFAULT_BASE}graph/article"
    query = f"SELECT (COUNT(*) AS ?n) FROM <{article}> WHERE {{ ?s ?p ?o }}"
    n_article = int(client.get("/sparql", params={"query": query}).json()
                    ["results"]["bindings"][0]["n"]["value"])
    everything = int(client.get("/sparql", params={
        "query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).json()
        ["results"]["bindings"][0]["n"]["value"])
    assert 0 < n_article < everything


def test_time_limit_stops_a_runaway_query_and_the_endpoint_recovers(tight):
    runaway = ("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }")
    response = tight.get("/sparql", params={"query": runaway})
    assert response.status_code == 503
    assert "time limit of 1.5 s" in response.text
    assert response.headers["x-query-time-limit"] == "1.5"
    after = tight.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    assert after.status_code == 200 and after.json()["boolean"] is True


def test_result_rows_are_capped_and_the_client_told(tight):
    response = tight.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert response.status_code == 200
    assert len(response.json()["results"]["bindings"]) == 5
    assert response.headers["x-results-truncated"] == "true"
    assert response.headers["x-result-row-limit"] == "5"
    again = tight.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})  # cached
    assert again.content == response.content and again.headers["x-results-truncated"] == "true"
    small = tight.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"})
    assert "x-results-truncated" not in small.headers
    triples = tight.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                        headers={"Accept": "application/n-triples"})
    assert len(triples.text.strip().splitlines()) == 5
    assert triples.headers["x-results-truncated"] == "true"


def test_request_size_is_capped(tight):
    big = "SELECT * WHERE { ?s ?p ?o } # " + "x" * 700
    assert tight.get("/sparql", params={"query": big}).status_code == 414
    assert tight.post("/sparql", data={"query": big}).status_code == 413
    response = tight.post("/sparql", content=big.encode(),
                          headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 413 and "600 bytes" in response.text


def test_errors_are_status_codes_with_a_message(client):
    bad = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert bad.status_code == 400 and "syntax error" in bad.text.lower()
    assert "Traceback" not in bad.text
    assert client.post("/sparql").status_code in (400, 415)
    assert client.post("/sparql", content=b"x", headers={
        "Content-Type": "text/plain"}).status_code == 415
    assert client.post("/sparql", data={"query": ""}).status_code == 400
    assert client.put("/sparql").status_code == 405
    two = client.get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D")
    assert two.status_code == 400
    not_acceptable = client.get("/sparql", params={"query": GROUPS},
                                headers={"Accept": "image/png"})
    assert not_acceptable.status_code == 406
    page = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"},
                      headers={"Accept": "text/html"})
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]


def test_serve_without_a_build_is_a_clear_usage_error(tmp_path):
    result = run_cli("serve", "--dist", str(tmp_path / "nothing"))
    assert result.exit_code == 2
    assert "juno-kg build" in result.output


def test_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("JUNO_KG_QUERY_TIMEOUT", "2.5")
    monkeypatch.setenv("JUNO_KG_MAX_ROWS", "7")
    limits = Limits.from_env(max_request=1000)
    assert (limits.timeout, limits.max_rows, limits.max_request) == (2.5, 7, 1000)
    with pytest.raises(ValueError):
        Limits.from_env(timeout=-1)
    assert json.loads(json.dumps(limits.headers()))["X-Result-Row-Limit"] == "7"
