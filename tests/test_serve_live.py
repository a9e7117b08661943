"""A real client (SPARQLWrapper) against ``juno-kg serve`` running on loopback (uvicorn)."""

from __future__ import annotations

import csv
import io
import urllib.request

import pytest
from rdflib import Graph
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

from juno_kg.config import DEFAULT_BASE

GROUPS = "SELECT ?g WHERE { ?g a <http://schema.org/MusicGroup> } ORDER BY ?g"
CONSTRUCT = ("CONSTRUCT { ?g a <http://schema.org/MusicGroup> } "
             "WHERE { ?g a <http://schema.org/MusicGroup> }")


def wrapper(url: str, query: str, fmt: str, method: str = "GET") -> SPARQLWrapper:
    sparql = SPARQLWrapper(f"{url}/sparql")
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    sparql.setMethod(method)
    return sparql


@pytest.fixture(scope="module")
def expected(live_server) -> list[str]:
    rows = wrapper(live_server, GROUPS, JSON).queryAndConvert()["results"]["bindings"]
    found = [r["g"]["value"] for r in rows]
    assert found and all(g.startswith(f"{DEFAULT_BASE}id/group/") for g in found)
    return found


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
@pytest.mark.parametrize("method", ["GET", POST])
def test_select_in_every_results_format(live_server, expected, fmt, method):
    result = wrapper(live_server, GROUPS, fmt, method).query()
    converted = result.convert()
    if fmt == JSON:
        got = [r["g"]["value"] for r in converted["results"]["bindings"]]
    elif fmt == XML:
        ns = "http://www.w3.org/2005/sparql-results#"
        got = [u.firstChild.data for u in converted.getElementsByTagNameNS(ns, "uri")]
    elif fmt == CSV:
        got = [row["g"] for row in csv.DictReader(io.StringIO(converted.decode()))]
    else:
        got = [line.strip("<>") for line in converted.decode().strip().splitlines()[1:]]
    assert got == expected


@pytest.mark.parametrize("fmt", [JSON, XML])
def test_ask(live_server, fmt):
    result = wrapper(live_server, "ASK { ?g a <http://schema.org/MusicGroup> }", fmt).query()
    converted = result.convert()
    if fmt == JSON:
        assert converted["boolean"] is True
    else:
        assert converted.getElementsByTagName("boolean")[0].firstChild.data == "true"


@pytest.mark.parametrize("fmt", [TURTLE, N3, RDFXML, JSONLD])
def test_construct_and_describe_in_rdf_formats(live_server, expected, fmt):
    graph = wrapper(live_server, CONSTRUCT, fmt).queryAndConvert()
    if not isinstance(graph, Graph):  # SPARQLWrapper returns bytes for some formats
        graph = Graph().parse(data=graph, format={TURTLE: "turtle", N3: "n3",
                                                  JSONLD: "json-ld"}.get(fmt, "xml"))
    assert sorted(str(s) for s in graph.subjects()) == sorted(expected)
    described = wrapper(live_server, f"DESCRIBE <{expected[0]}>", fmt).queryAndConvert()
    if not isinstance(described, Graph):
        described = Graph().parse(data=described, format={TURTLE: "turtle", N3: "n3",
                                                          JSONLD: "json-ld"}.get(fmt, "xml"))
    assert len(described) > 0


def test_refusals_reach_the_client_as_http_errors(live_server):
    from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, SPARQLWrapperException

    with pytest.raises(QueryBadFormed):
        wrapper(live_server, "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
                JSON).query()
    update = SPARQLWrapper(f"{live_server}/sparql")
    update.setQuery('INSERT DATA { <urn:a> <urn:b> "c" }')
    update.setMethod(POST)
    with pytest.raises((SPARQLWrapperException, urllib.error.HTTPError)):
        update.query()


def test_the_index_and_a_303_over_real_http(live_server):
    with urllib.request.urlopen(f"{live_server}/") as response:
        assert b"Music from the Motion Picture Juno" in response.read()
    request = urllib.request.Request(f"{live_server}/id/person/kimya-dawson",
                                     headers={"Accept": "text/turtle"})
    with urllib.request.urlopen(request) as response:  # follows the 303
        assert response.url.endswith("/data/person/kimya-dawson.ttl")
        assert response.headers["Content-Type"].startswith("text/turtle")
        assert len(Graph().parse(data=response.read(), format="turtle")) > 0
