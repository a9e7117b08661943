"""The same answers everywhere: every named query on pyoxigraph in-process, rdflib's engine,
and real triple stores (the oxigraph server, Virtuoso) loaded with the build's N-Quads over
HTTP. Only what the standards leave open is normalised: row order where the query has no
ORDER BY, the order of the values a GROUP_CONCAT joins, and the xsd:string datatype of plain
literals (parsing every answer into RDF 1.1 terms makes ``"x"`` and ``"x"^^xsd:string`` the
same term).

Also: the W3C result formats read back with independent parsers, and endpoint errors.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time

import pyoxigraph as ox
import pytest

from juno_kg import query
from juno_kg.catalogue import named_queries
from juno_kg.errors import EndpointError
from juno_kg.links import federated_queries  # tests/test_links.py runs them
from juno_kg.query import Rows, Triples

from .conftest import run_cli
from .stores import free_port

ID = "https://w3id.org/juno-kg/id/"

#: each named query with its defaults, and the parameterised ones with other values too
CASES = [(name, {}) for name in sorted(set(named_queries()) - federated_queries()) if all(
    not p.required for p in named_queries()[name].params)] + [
    ("sources-of", {"resource": "release:juno-original"}),
    ("sources-of", {"resource": "person:kimya-dawson"}),
    ("artist", {"artist": "group:the-moldy-peaches"}),
    ("describe", {"resource": "person:kimya-dawson"}),
    ("tracks", {"album": "album:juno-b-sides"}),
    ("facts-by-graph", {"resource": "chart-position:juno-billboard-200-week-4"}),
]
IDS = [name + "".join(f"[{v}]" for v in params.values()) for name, params in CASES]


def concatenated(text: str) -> dict[str, str]:
    """``{variable: separator}`` for each ``GROUP_CONCAT(...) AS ?variable`` of a query."""
    out = {}
    for match in re.finditer(r"GROUP_CONCAT\s*\((.*?)\)\s*AS\s*[?$](\w+)", text, re.I | re.S):
        sep = re.search(r"separator\s*=\s*(['\"])(.*?)\1", match.group(1), re.I | re.S)
        out[match.group(2)] = sep.group(2) if sep else " "
    return out


def normalised(answer, name: str | None = None):
    if isinstance(answer, Rows):
        joined = concatenated(named_queries()[name].text) if name in named_queries() else {}
        if joined:  # the order GROUP_CONCAT joins values in is left to each engine
            for row in answer.rows:
                for var, sep in joined.items():
                    term = row.get(var)
                    if isinstance(term, ox.Literal) and not term.language:
                        row[var] = ox.Literal(sep.join(sorted(term.value.split(sep))),
                                              datatype=term.datatype)
        return answer.variables, answer.normalised()
    if isinstance(answer, Triples):
        return answer.normalised()
    return answer


@pytest.fixture(params=["oxigraph", "virtuoso"])
def store(request):
    return request.getfixturevalue(f"{request.param}_server")


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_in_process_engines_agree(name, params, built):
    expected = normalised(query(name, params, data=built), name)
    assert expected not in ([], ([], [])), f"{name} gives nothing to compare"
    assert normalised(query(name, params, data=built, engine="rdflib"), name) == expected


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_stores_over_http_agree(name, params, built, store):
    expected = normalised(query(name, params, data=built), name)
    got = normalised(query(name, params, endpoint=store.query_url, timeout=60), name)
    assert got == expected, f"{store.name} differs on {name} {params}"


def test_long_queries_are_posted_and_agree(built, store):
    """A query longer than a URL may carry goes as a form-encoded POST."""
    padding = "\n".join(f"# padding line {i} " + "x" * 60 for i in range(60))
    text = f"{padding}\nSELECT (COUNT(*) AS ?n) WHERE {{ ?s a ?type }}"
    assert query(text, endpoint=store.query_url, method="auto").values() == \
        query(text, data=built).values()


@pytest.mark.parametrize("method", ["get", "post"])
def test_get_and_form_encoded_post_agree(method, built, store):
    """Both SPARQL 1.1 Protocol operations, with a parameter sent as VALUES."""
    params = {"resource": "person:kimya-dawson"}
    assert query("sources-of", params, endpoint=store.query_url, method=method).normalised() \
        == query("sources-of", params, data=built).normalised()


def test_store_dataset_leaves_the_graphs_to_the_store(oxigraph_server):
    """Without default-graph-uri the oxigraph server queries its own (empty) default graph."""
    text = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    ours = run_cli("query", text, "--endpoint", oxigraph_server.query_url, "--format", "csv")
    theirs = run_cli("query", text, "--endpoint", oxigraph_server.query_url, "--format", "csv",
                     "--store-dataset")
    assert ours.exit_code == theirs.exit_code == 0
    assert int(ours.stdout.split()[1]) > 1000 and theirs.stdout.split()[1] == "0"


def test_ask_and_construct_forms_over_http(built, store):
    assert query("ASK { ?s ?p ?o }", endpoint=store.query_url) is True
    assert query("ASK { ?s <urn:x:nothing> ?o }", endpoint=store.query_url) is False
    text = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o FILTER(?s = <{ID}album/juno>) }}"
    assert query(text, endpoint=store.query_url).normalised() == \
        query(text, data=built).normalised()


def test_parameters_sent_to_a_store_are_values_not_text(store):
    text = "SELECT ?s WHERE { ?s <https://w3id.org/juno-kg/ontology#title> ?t }"
    assert len(query(text, {"t": 'Juno" } UNION { ?s ?p ?o } #'},
                     endpoint=store.query_url)) == 0
    assert query(text, {"t": "Music from the Motion Picture Juno"},
                 endpoint=store.query_url).values() == [{"s": f"{ID}album/juno"}]


# --------------------------------------------------------------------------- errors

def test_unreachable_endpoint_says_where_and_why_within_the_timeout():
    url = f"http://127.0.0.1:{free_port()}/sparql"
    started = time.monotonic()
    result = run_cli("query", "album", "--endpoint", url, "--timeout", "3")
    assert time.monotonic() - started < 10
    assert result.exit_code == 3
    assert url in result.output and "cannot reach" in result.output
    assert "Traceback" not in result.output


def test_endpoint_that_never_answers_times_out():
    import socket

    with socket.socket() as server:  # accepts connections, never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/sparql"
        started = time.monotonic()
        with pytest.raises(EndpointError, match="no answer within 1 s"):
            query("ASK {}", endpoint=url, timeout=1)
        assert time.monotonic() - started < 8


def test_endpoint_error_answer_is_reported(oxigraph_server):
    url = oxigraph_server.query_url.replace("/query", "/no-such-service")
    result = run_cli("query", "ASK { ?s ?p ?o }", "--endpoint", url)
    assert result.exit_code == 3
    assert "answered HTTP 404" in result.output and url in result.output


def test_endpoint_must_be_http():
    result = run_cli("query", "album", "--endpoint", "ftp://127.0.0.1/sparql")
    assert result.exit_code == 3 and "not an http(s) URL" in result.output


# --------------------------------------------------------------------------- formats

def test_result_formats_read_back_with_independent_parsers(built):
    """JSON, XML and TSV through rdflib's result parsers; CSV through the csv module."""
    from rdflib.query import Result

    answer = query("chart-run", data=built)
    expected = [{k: v for k, v in row.items()} for row in answer.values()]
    for fmt in ("json", "xml", "tsv"):
        out = run_cli("query", "chart-run", "--data", str(built), "--format", fmt)
        assert out.exit_code == 0
        parsed = Result.parse(io.BytesIO(out.stdout_bytes), format=fmt)
        assert [str(v) for v in parsed.vars] == answer.variables, fmt
        got = [{str(k): str(v) for k, v in row.asdict().items()} for row in parsed]
        assert got == expected, fmt
    doc = json.loads(run_cli("query", "chart-run", "--data", str(built),
                             "--format", "json").stdout_bytes)
    assert doc["head"]["vars"] == answer.variables
    week4 = doc["results"]["bindings"][3]
    assert week4["copiesSold"] == {"type": "literal", "value": "65000",
                                   "datatype": "http://www.w3.org/2001/XMLSchema#integer"}
    text = run_cli("query", "chart-run", "--data", str(built),
                   "--format", "csv").stdout_bytes.decode("utf-8")
    assert text.count("\r\n") == len(expected) + 1  # CSV results end lines with CRLF
    reader = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [{k: v for k, v in r.items() if v} for r in reader] == expected


def test_ask_results_read_back(built):
    from rdflib.query import Result

    for fmt in ("json", "xml"):
        out = run_cli("query", "ASK { ?s ?p ?o }", "--data", str(built), "--format", fmt)
        assert Result.parse(io.BytesIO(out.stdout_bytes), format=fmt).askAnswer is True


def test_graph_formats_read_back(built):
    from rdflib import Graph

    expected = query("describe", data=built)
    for fmt, rdflib_name in (("ttl", "turtle"), ("nt", "nt"), ("jsonld", "json-ld")):
        out = run_cli("query", "describe", "--data", str(built), "--format", fmt)
        assert out.exit_code == 0, out.output
        graph = Graph().parse(data=out.stdout_bytes, format=rdflib_name)
        assert len(graph) == len(expected.normalised()), fmt
