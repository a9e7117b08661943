"""SPARQL mistakes as users make them, explained in words by the CLI and the endpoint alike.

A missing ``PREFIX`` (the commonest one) is named with its line and column and, where
juno-kg knows the prefix, the exact ``PREFIX`` line to add; other parser errors keep
their position and the tokens expected, without pyoxigraph's lists of Unicode ranges.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from juno_kg.errors import QueryError
from juno_kg.serve import Limits, create_app
from juno_kg.sparql import check_syntax

from .conftest import run_cli

MISSING_SCHEMA = """SELECT ?album ?name WHERE {
  ?album a schema:MusicAlbum ;
         schema:name ?name .
}
"""
SCHEMA_LINE = "PREFIX schema: <http://schema.org/>"
UNKNOWN = "PREFIX schema: <http://schema.org/>\nSELECT * WHERE {\n  ?s foo:bar ?o .\n}\n"
#: what pyoxigraph's own messages are made of, and must not reach a user
SOUP = ("..=", "\\u{", "Prefix not found", "['")


@pytest.fixture(scope="module")
def client(built):
    with TestClient(create_app(built, Limits(workers=1))) as c:
        yield c


def cli_error(built, text: str) -> str:
    result = run_cli("query", "-", "--data", str(built), input=text)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    return lines[0].removeprefix("error: ")


def endpoint_error(client, text: str) -> str:
    response = client.get("/sparql", params={"query": text},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 400, response.text
    assert "Traceback" not in response.text
    return response.text


def test_a_missing_prefix_in_the_cli_is_named_with_the_line_to_add(built):
    message = cli_error(built, MISSING_SCHEMA)
    assert message.startswith("line 2, column 12: prefix `schema:` is not declared")
    assert SCHEMA_LINE in message
    assert not any(bit in message for bit in SOUP), message


def test_the_endpoint_gives_the_same_message(built, client):
    message = cli_error(built, MISSING_SCHEMA)
    assert message in endpoint_error(client, MISSING_SCHEMA)


def test_in_a_browser_the_error_is_shown_above_the_query_it_is_about(client):
    response = client.get("/sparql", params={"query": MISSING_SCHEMA},
                          headers={"Accept": "text/html"})
    assert response.status_code == 400 and response.headers["content-type"].startswith(
        "text/html")
    assert "prefix `schema:` is not declared" in response.text
    assert "PREFIX schema: &lt;http://schema.org/&gt;" in response.text
    assert "a schema:MusicAlbum ;" in response.text  # the query is still in the box


def test_a_prefix_juno_kg_does_not_know_is_named_without_a_suggestion(built, client):
    message = cli_error(built, UNKNOWN)
    assert message.startswith("line 3, column 6: prefix `foo:` is not declared")
    assert "<http" not in message and "juno-kg does not know `foo:`" in message
    assert message in endpoint_error(client, UNKNOWN)


@pytest.mark.parametrize(("text", "line", "expected"), [
    # the dataset's own prefixes (the shipped context) are suggested too
    ("SELECT * WHERE { ?s a jk:Album }", "PREFIX jk: <https://w3id.org/juno-kg/ontology#>",
     "prefix `jk:`"),
    ("ASK { album:juno ?p ?o }", "PREFIX album: <https://w3id.org/juno-kg/id/album/>",
     "prefix `album:`"),
    # pyoxigraph says "expected ENCODE_FOR_URI" here: still a missing prefix
    ("SELECT * WHERE { ?s ?p ?o FILTER(?o = xsd:date(\"2008-01-08\")) }",
     "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>", "prefix `xsd:`"),
])
def test_known_prefixes_are_suggested_wherever_they_are_missing(text, line, expected):
    with pytest.raises(QueryError) as caught:
        check_syntax(text)
    message = str(caught.value)
    assert expected in message and line in message, message
    assert caught.value.line == 1 and caught.value.column is not None


def test_every_missing_prefix_is_named_at_once(built):
    message = cli_error(built, "SELECT * WHERE {\n  ?s rdfs:label ?l ;\n     skos:note ?n }")
    assert message.startswith("line 2, column 6: prefix `rdfs:` is not declared (nor `skos:`)")
    assert "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>" in message
    assert "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>" in message


@pytest.mark.parametrize(("text", "position", "words"), [
    ("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY", "line 1, column 52",
     'expected one of "$", "(", ":", "<", "?", a name character'),
    ("SELECT ?s\nWHERE { ?s ?p ?o .\n  FILTER( }", "line 3, column 12",
     "expected an expression"),
    ('SELECT * WHERE {\n  ?s ?p "Juno .\n}', "line 2, column 9",
     "the string opened here with \" is not closed"),
    ("SELECT * WHERE { ?s ?p ?o } LIMT 3", "line 1, column 35",
     "expected one of HAVING, OFFSET, OPTIONAL, VALUES"),
])
def test_other_syntax_errors_are_short_and_readable(built, client, text, position, words):
    message = cli_error(built, text)
    assert message.startswith(f"{position}: SPARQL syntax error: ") and words in message, \
        message
    assert not any(bit in message for bit in SOUP) and len(message) < 200, message
    assert message in endpoint_error(client, text)
