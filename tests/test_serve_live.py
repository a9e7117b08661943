"""Real clients (SPARQLWrapper, httpx, ``juno-kg query --endpoint``) against ``juno-kg serve``
running on loopback as users run it (a subprocess; uvicorn on its default loop, uvloop)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pyoxigraph as ox
import pytest
from rdflib import Graph
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

from juno_kg.config import DEFAULT_BASE

from .conftest import LiveServer, juno_kg_serve

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


# --------------------------------------------------------------------------- large answers
#
# Everything below asks ``juno-kg serve`` (uvicorn on its default loop, uvloop) for answers
# of every size up to and past the row cap: the answer travels from a query worker process
# to the server whole, whatever its size and whatever the event loop.

ALL_QUADS = "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"
CROSS = "SELECT * WHERE { ?s ?p ?o . ?a ?b ?c }"  # the dataset squared: far past the cap
WHOLE = "CONSTRUCT WHERE { ?s ?p ?o }"
ROW_CAP = 10_000  # the documented default of --max-rows; the live server runs with it
SPARQL_NS = "{http://www.w3.org/2005/sparql-results#}"
CLIENT_TIMEOUT = 120  # seconds; no request below may hang the suite


@dataclass(frozen=True)
class Dump:
    """What the build's N-Quads dump holds, read with pyoxigraph (not through the server)."""

    quads: frozenset  #: (g, s, p, o) as N-Triples strings
    triples: frozenset  #: pyoxigraph Triples, distinct


@pytest.fixture(scope="module")
def dump(built) -> Dump:
    quads = list(ox.parse(path=str(built / "dumps/juno-kg.nq"), format=ox.RdfFormat.N_QUADS))
    assert len(quads) > ROW_CAP // 10  # an answer far larger than the ~90 KB that broke
    return Dump(frozenset((str(q.graph_name), str(q.subject), str(q.predicate), str(q.object))
                          for q in quads), frozenset(q.triple for q in quads))


def count_rows(fmt: str, converted: Any) -> int:
    """The rows of a SELECT answer as SPARQLWrapper converts it, read in its own format."""
    if fmt == JSON:
        return len(converted["results"]["bindings"])
    if fmt == XML:
        return len(converted.getElementsByTagNameNS(SPARQL_NS[1:-1], "result"))
    text = converted.decode("utf-8")
    if fmt == CSV:
        return len(list(csv.reader(io.StringIO(text, newline="")))) - 1
    return len(text.rstrip("\n").split("\n")) - 1  # TSV: one line a row, escapes inside


def select(url: str, query: str, fmt: str) -> tuple[int, Any, Mapping[str, str]]:
    """Status, converted answer and headers of a SELECT asked with SPARQLWrapper."""
    sparql = wrapper(url, query, fmt)
    sparql.setTimeout(CLIENT_TIMEOUT)
    result = sparql.query()
    return result.response.status, result.convert(), result.info()


SIZES = ["1", "250", "1000", "3000", "all", "all+1"]


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
@pytest.mark.parametrize("size", SIZES)
def test_select_answers_of_every_size_below_the_cap(live_server, dump, fmt, size):
    total = len(dump.quads)
    limit = {"all": None, "all+1": total + 1}[size] if size.startswith("all") else int(size)
    query = ALL_QUADS + (f" LIMIT {limit}" if limit else "")
    status, converted, headers = select(live_server, query, fmt)
    assert status == 200
    assert count_rows(fmt, converted) == min(limit or total, total)
    assert "x-results-truncated" not in headers
    assert headers["x-result-row-limit"] == str(ROW_CAP)


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
def test_all_quads_in_every_format_are_the_dump(live_server, dump, fmt):
    status, converted, _ = select(live_server, ALL_QUADS, fmt)
    assert status == 200
    if fmt == JSON:
        got = [tuple(ox_term(row[v]) for v in "gspo")
               for row in converted["results"]["bindings"]]
        assert len(got) == len(dump.quads) and set(got) == dump.quads
    elif fmt == XML:
        results = converted.getElementsByTagNameNS(SPARQL_NS[1:-1], "result")
        assert len(results) == len(dump.quads)
    else:
        lines = converted.decode("utf-8").rstrip("\n").split("\n")
        head = lines[0].strip("\r").split("," if fmt == CSV else "\t")
        assert sorted(name.lstrip("?") for name in head) == ["g", "o", "p", "s"]
        if fmt == TSV:  # TSV rows are N-Triples terms: the dump's quads exactly
            rows = {tuple(tsv_term(dict(zip(head, line.split("\t"), strict=True))[f"?{v}"])
                          for v in "gspo") for line in lines[1:]}
            assert len(lines) - 1 == len(dump.quads) and rows == dump.quads
        else:
            assert count_rows(fmt, converted) == len(dump.quads)


XSD = "http://www.w3.org/2001/XMLSchema#"
TSV_SHORT = [(re.compile(r"[+-]?\d+"), "integer"), (re.compile(r"[+-]?\d*\.\d+"), "decimal"),
             (re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+"), "double"),
             (re.compile(r"true|false"), "boolean")]


def tsv_term(term: str) -> str:
    """A TSV results term in N-Triples spelling: TSV may write numbers and booleans bare,
    as Turtle does (SPARQL 1.1 Query Results CSV and TSV Formats, section 3)."""
    for pattern, datatype in TSV_SHORT:
        if pattern.fullmatch(term):
            return f'"{term}"^^<{XSD}{datatype}>'
    return term


def ox_term(binding: dict) -> str:
    """A SPARQL JSON binding as an N-Triples term (pyoxigraph's spelling, for comparing)."""
    if binding["type"] == "uri":
        return str(ox.NamedNode(binding["value"]))
    if binding["type"] == "bnode":
        return str(ox.BlankNode(binding["value"]))
    datatype = binding.get("datatype")
    return str(ox.Literal(binding["value"], language=binding.get("xml:lang"),
                          datatype=ox.NamedNode(datatype) if datatype else None))


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
@pytest.mark.parametrize("limit", [ROW_CAP - 1, ROW_CAP, ROW_CAP + 1, None])
def test_the_cross_product_is_cut_at_exactly_the_row_cap(live_server, fmt, limit):
    query = CROSS + (f" LIMIT {limit}" if limit else "")
    status, converted, headers = select(live_server, query, fmt)
    assert status == 200
    assert count_rows(fmt, converted) == min(limit or ROW_CAP + 1, ROW_CAP)
    if limit is None or limit > ROW_CAP:
        assert headers["x-results-truncated"] == "true"
        assert "truncated at 10000 rows" in headers["warning"]
    else:
        assert "x-results-truncated" not in headers


@pytest.mark.parametrize("fmt", [TURTLE, "application/n-triples"])
def test_construct_of_the_whole_dataset(live_server, dump, fmt):
    if fmt == TURTLE:  # SPARQLWrapper parses Turtle into an rdflib Graph itself
        graph = wrapper(live_server, WHOLE, TURTLE).queryAndConvert()
        if not isinstance(graph, Graph):
            graph = Graph().parse(data=graph, format="turtle")
        assert len(graph) == len(dump.triples)
        assert {str(s) for s in graph.subjects()} == {t.subject.value for t in dump.triples}
        return
    response = httpx.get(f"{live_server}/sparql", params={"query": WHOLE},
                         headers={"Accept": fmt}, timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(fmt)
    got = [q.triple for q in ox.parse(response.content, format=ox.RdfFormat.N_TRIPLES)]
    assert len(got) == len(dump.triples) and set(got) == dump.triples


RESULTS_JSON = "application/sparql-results+json"
CONCURRENT = [  # (Accept, query): whole-dataset answers in every format, one past the cap
    (RESULTS_JSON, ALL_QUADS),
    ("application/sparql-results+xml", ALL_QUADS),
    ("text/csv", ALL_QUADS),
    ("text/tab-separated-values", ALL_QUADS),
    ("text/turtle", WHOLE),
    ("application/n-triples", WHOLE),
    (RESULTS_JSON, CROSS),
]


def count_any(media: str, body: bytes) -> int:
    """Rows (SELECT) or triples (CONSTRUCT) of a raw answer of type ``media``."""
    if media == RESULTS_JSON:
        return len(json.loads(body)["results"]["bindings"])
    if media == "application/sparql-results+xml":
        return len(ElementTree.fromstring(body).findall(f".//{SPARQL_NS}result"))
    if media == "text/csv":
        return len(list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))) - 1
    if media == "text/tab-separated-values":
        return len(body.decode("utf-8").rstrip("\n").split("\n")) - 1
    if media == "text/turtle":
        return len(Graph().parse(data=body, format="turtle"))
    return len(list(ox.parse(body, format=ox.RdfFormat.N_TRIPLES)))


@pytest.mark.parametrize("addresses", ["sixteen clients", "one client"])
def test_sixteen_whole_dataset_answers_at_once(live_server, dump, addresses):
    """Sixteen clients, each from an address of its own (the endpoint gives each client
    address a fair share of the workers; 127.0.0.0/8 is all loopback); and one client
    sending all sixteen at once, whose queries wait their turn and all answer."""
    clients = 16
    start = threading.Barrier(clients)

    def ask(i: int) -> httpx.Response:
        media, query = CONCURRENT[i % len(CONCURRENT)]
        query += f"\n# client {i}"  # a text of its own: every answer is evaluated, not cached
        source = f"127.0.0.{i + 2}" if addresses == "sixteen clients" else "127.0.0.1"
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(timeout=CLIENT_TIMEOUT, transport=transport) as client:
            start.wait(30)
            return client.post(f"{live_server}/sparql", data={"query": query},
                               headers={"Accept": media})

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(ask, range(clients)))
    assert [r.status_code for r in answers] == [200] * clients, [r.text[:200] for r in answers]
    expected = {ALL_QUADS: len(dump.quads), WHOLE: len(dump.triples), CROSS: ROW_CAP}
    for i, response in enumerate(answers):
        media, query = CONCURRENT[i % len(CONCURRENT)]
        assert count_any(media, response.content) == expected[query], (i, media)
        assert response.headers.get("x-results-truncated") == ("true" if query == CROSS
                                                                else None)


def juno_kg_query(url: str, query: str, fmt: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "juno_kg", "query", "-", "--endpoint",
                           f"{url}/sparql", "--format", fmt], input=query, capture_output=True,
                          text=True, timeout=CLIENT_TIMEOUT)


def test_juno_kg_query_endpoint_gets_large_answers_whole(live_server, dump):
    done = juno_kg_query(live_server, ALL_QUADS, "csv")
    assert done.returncode == 0, done.stderr
    assert len(list(csv.reader(io.StringIO(done.stdout, newline="")))) - 1 == len(dump.quads)
    done = juno_kg_query(live_server, CROSS, "tsv")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.rstrip("\n").split("\n")) - 1 == ROW_CAP
    done = juno_kg_query(live_server, WHOLE, "nt")
    assert done.returncode == 0, done.stderr
    assert {q.triple for q in ox.parse(done.stdout.encode(),
                                       format=ox.RdfFormat.N_TRIPLES)} == dump.triples


def test_the_server_runs_on_uvloop_and_its_console_stays_clean(live_server_process):
    assert importlib.util.find_spec("uvloop") is not None, "uvicorn[standard] brings uvloop"
    maps = (Path("/proc") / str(live_server_process.process.pid) / "maps").read_text()
    assert "uvloop/loop" in maps, "juno-kg serve is not running on uvloop"
    response = httpx.get(f"{live_server_process.url}/sparql",
                         params={"query": ALL_QUADS + "\n# console", "format": "json"},
                         timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200
    console = live_server_process.console()
    assert "Traceback" not in console and "Error" not in console, console[-3000:]


def test_large_answers_on_the_plain_asyncio_loop_too(built, dump, tmp_path):
    with juno_kg_serve(built, tmp_path / "console.log", loop="asyncio") as server:
        maps = (Path("/proc") / str(server.process.pid) / "maps").read_text()
        assert "uvloop/loop" not in maps
        for fmt in (JSON, XML, CSV, TSV):
            status, converted, headers = select(server.url, ALL_QUADS, fmt)
            assert (status, count_rows(fmt, converted)) == (200, len(dump.quads))
            status, converted, headers = select(server.url, CROSS, fmt)
            assert (status, count_rows(fmt, converted)) == (200, ROW_CAP)
            assert headers["x-results-truncated"] == "true"
        assert "Traceback" not in server.console(), server.console()[-3000:]


# --------------------------------------------------------------------------- time limit

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@pytest.fixture(scope="module")
def tight(built, tmp_path_factory) -> Iterator[LiveServer]:
    """``juno-kg serve --timeout 1.5 --workers 1 --max-rows 50``: one worker to kill."""
    log = tmp_path_factory.mktemp("tight") / "console.log"
    with juno_kg_serve(built, log, "--timeout", "1.5", "--workers", "1",
                       "--max-rows", "50") as server:
        yield server


def settled(measure: Callable[[], tuple], seconds: float = 5) -> tuple:
    """``measure()`` once it has given the same figures three times running, 0.1 s apart
    (the server closes a finished keep-alive connection a moment after the client does)."""
    deadline = time.monotonic() + seconds
    seen = [measure()]
    while time.monotonic() < deadline and not (len(seen) >= 3 and len(set(seen[-3:])) == 1):
        time.sleep(0.1)
        seen.append(measure())
    return seen[-1]


def test_a_query_over_the_time_limit_kills_its_worker_and_a_fresh_one_answers(tight, dump):
    url = f"{tight.url}/sparql"

    def cycle() -> tuple[int, int]:
        before = tight.workers()
        response = httpx.get(url, params={"query": RUNAWAY}, timeout=CLIENT_TIMEOUT)
        assert response.status_code == 503
        assert "time limit of 1.5 s" in response.text
        assert "Traceback" not in response.text
        after = httpx.get(url, params={"query": ALL_QUADS, "format": "csv"},
                          timeout=CLIENT_TIMEOUT)  # waits for the replacement worker
        assert after.status_code == 200 and after.headers["x-results-truncated"] == "true"
        assert count_any("text/csv", after.content) == 50
        now = tight.workers()
        assert len(before) == len(now) == 1 and before != now  # killed, and replaced
        return settled(lambda: (tight.status("Threads"), tight.open_fds()))

    first = cycle()
    for _ in range(2):  # nothing grows with each kill: no thread, no descriptor left behind
        assert cycle() == first
    assert "Traceback" not in tight.console(), tight.console()[-3000:]


def test_a_client_that_gives_up_leaves_the_endpoint_working(tight):
    url = f"{tight.url}/sparql"
    with pytest.raises(httpx.TimeoutException):
        httpx.get(url, params={"query": RUNAWAY + " # gives up"}, timeout=0.3)
    response = httpx.get(url, params={"query": "ASK { ?s ?p ?o }"}, timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200 and response.json()["boolean"] is True
    assert "Traceback" not in tight.console(), tight.console()[-3000:]
