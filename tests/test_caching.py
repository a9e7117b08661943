"""HTTP caching of ``juno-kg serve``: validators from the build, Cache-Control, 304.

Every kind of answer (a page, a data file, a dump, a ``/sparql`` answer, a ``/fragments``
page, YASGUI's script) carries an ETag, a Last-Modified and ``Cache-Control``; asked again
with ``If-None-Match`` or ``If-Modified-Since`` it is 304 with no body; a negotiated answer's
ETag is its own (JSON and XML answers of one query differ); errors are not stored.
"""

from __future__ import annotations

import asyncio
import json
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote

import httpx
import pytest
from starlette.testclient import TestClient

from juno_kg.caching import HTTPCaching, Validators
from juno_kg.serve import Limits, create_app

QUERY = "SELECT ?g WHERE { ?g a <http://schema.org/MusicGroup> } ORDER BY ?g"
JSON = {"Accept": "application/sparql-results+json"}
XML = {"Accept": "application/sparql-results+xml"}
TURTLE = {"Accept": "text/turtle"}
#: one answer of each kind: (path, request headers)
ANSWERS = {
    "page": ("/page/person/kimya-dawson", {"Accept": "text/html"}),
    "data file": ("/data/person/kimya-dawson.ttl", {}),
    "dump": ("/dumps/juno-kg.nq", {}),
    "index": ("/", {"Accept": "text/html"}),
    "sparql": (f"/sparql?query={quote(QUERY)}", JSON),
    "service description": ("/sparql", TURTLE),
    "fragments": ("/fragments?predicate=rdf%3Atype&object=schema%3AMusicAlbum", TURTLE),
    "yasgui": ("/static/yasgui/yasgui.min.js", {}),
}


@pytest.fixture(scope="module")
def client(built):
    with TestClient(create_app(built, Limits(workers=1)), follow_redirects=False) as c:
        yield c


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_every_answer_has_validators_and_answers_304(client, kind):
    path, headers = ANSWERS[kind]
    first = client.get(path, headers=headers)
    assert first.status_code == 200, first.text
    assert first.content
    tag, modified = first.headers["etag"], first.headers["last-modified"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 20
    assert first.headers["cache-control"] == "public, max-age=300"
    assert parsedate_to_datetime(modified).timestamp() <= parsedate_to_datetime(
        first.headers.get("date") or formatdate(usegmt=True)).timestamp() + 1

    for conditional in ({"If-None-Match": tag}, {"If-None-Match": f"W/{tag}"},
                        {"If-None-Match": f'"something-else", {tag}'},
                        {"If-None-Match": "*"}, {"If-Modified-Since": modified}):
        again = client.get(path, headers={**headers, **conditional})
        assert again.status_code == 304, (conditional, again.status_code)
        assert again.content == b""
        assert again.headers["etag"] == tag
        assert again.headers["cache-control"] == "public, max-age=300"
        assert "content-length" not in again.headers or again.headers["content-length"] == "0"
    head = client.head(path, headers={**headers, "If-None-Match": tag})
    assert head.status_code == 304

    # a different tag, or an older date, gets the whole answer; If-None-Match rules
    older = formatdate(parsedate_to_datetime(modified).timestamp() - 60, usegmt=True)
    for conditional in ({"If-None-Match": '"not-this-one"'}, {"If-Modified-Since": older},
                        {"If-None-Match": '"not-this-one"', "If-Modified-Since": modified},
                        {"If-Modified-Since": "not a date"}):
        full = client.get(path, headers={**headers, **conditional})
        assert full.status_code == 200, conditional
        assert full.content == first.content
        assert full.headers["etag"] == tag


def test_a_negotiated_answer_has_an_etag_of_its_own(client):
    path = f"/sparql?query={quote(QUERY)}"
    as_json, as_xml = client.get(path, headers=JSON), client.get(path, headers=XML)
    assert as_json.headers["etag"] != as_xml.headers["etag"]
    assert "Accept" in as_json.headers["vary"]
    # the JSON answer's tag does not stand for the XML answer
    crossed = client.get(path, headers={**XML, "If-None-Match": as_json.headers["etag"]})
    assert crossed.status_code == 200 and crossed.content == as_xml.content
    same = client.get(path, headers={**JSON, "If-None-Match": as_json.headers["etag"]})
    assert same.status_code == 304 and "Accept" in same.headers["vary"]
    # another query is another answer
    other = client.get(f"/sparql?query={quote(QUERY + ' LIMIT 1')}",
                       headers={**JSON, "If-None-Match": as_json.headers["etag"]})
    assert other.status_code == 200


def test_a_script_on_another_origin_can_revalidate(client):
    """A browser lets a page's script read ETag and send If-None-Match only if CORS says so."""
    path, headers = ANSWERS["sparql"]
    first = client.get(path, headers={**headers, "Origin": "https://example.org"})
    listed = first.headers["access-control-expose-headers"]
    exposed = {h.strip().lower() for h in listed.split(",")}
    assert "etag" in exposed and "retry-after" in exposed
    preflight = client.options(path, headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "If-None-Match, If-Modified-Since"})
    assert preflight.status_code == 200, preflight.text
    listed = preflight.headers["access-control-allow-headers"]
    allowed = {h.strip().lower() for h in listed.split(",")}
    assert {"if-none-match", "if-modified-since"} <= allowed


def test_redirects_are_cacheable_errors_are_not_posts_are_left_alone(client):
    see_other = client.get("/id/person/kimya-dawson", headers=TURTLE)
    assert see_other.status_code == 303
    assert see_other.headers["cache-control"] == "public, max-age=300"
    assert "etag" not in see_other.headers
    missing = client.get("/page/person/nobody-at-all", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store" and "etag" not in missing.headers
    refused = client.get("/sparql", params={"query": "SELECT * WHERE { SERVICE <http://x/> "
                                                     "{ ?s ?p ?o } }"}, headers=JSON)
    assert refused.status_code == 400 and refused.headers["cache-control"] == "no-store"
    posted = client.post("/sparql", content=QUERY, headers={
        **JSON, "Content-Type": "application/sparql-query"})
    assert posted.status_code == 200 and "etag" not in posted.headers


def test_if_none_match_is_answered_before_the_app_runs(tmp_path):
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["path"])
        assert b"if-none-match" not in dict(scope["headers"])  # the app never sees them
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"etag", b'"own"')]})
        await send({"type": "http.response.body", "body": b"the answer"})

    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  index.html\n")
    (tmp_path / "manifest.json").write_text(json.dumps({"base": "x", "files": []}))
    c = TestClient(HTTPCaching(app, tmp_path, max_age=60))
    first = c.get("/anything?x=1")
    assert first.text == "the answer" and first.headers["etag"] != '"own"'
    assert first.headers["cache-control"] == "public, max-age=60"
    assert calls == ["/anything"]
    again = c.get("/anything?x=1", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and calls == ["/anything"]  # not run again
    assert c.get("/anything?x=2", headers={
        "If-None-Match": first.headers["etag"]}).status_code == 200
    # another build (its SHA256SUMS), or other limits, change every ETag
    tag = Validators.of(tmp_path).etag("/anything?x=1")
    assert Validators.of(tmp_path).etag("/anything?x=1") == tag
    assert Validators.of(tmp_path, salt="Limits(max_rows=5)").etag("/anything?x=1") != tag
    (tmp_path / "SHA256SUMS").write_text("1" * 64 + "  index.html\n")
    assert Validators.of(tmp_path).etag("/anything?x=1") != tag


def test_max_age_from_the_environment(monkeypatch, built):
    monkeypatch.setenv("JUNO_KG_MAX_AGE", "42")
    assert Validators.of(built).cache_control == "public, max-age=42"
    monkeypatch.setenv("JUNO_KG_MAX_AGE", "-1")
    with pytest.raises(ValueError):
        Validators.of(built)


def test_a_real_server_answers_304(live_server):
    async def check() -> None:
        async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
            for path, headers in (ANSWERS["data file"], ANSWERS["fragments"],
                                  ANSWERS["sparql"]):
                first = await http.get(path, headers=headers)
                assert first.status_code == 200
                again = await http.get(path, headers={**headers,
                                                      "If-None-Match": first.headers["etag"]})
                assert again.status_code == 304 and again.content == b""
                assert again.headers["access-control-allow-origin"] == "*"
    asyncio.run(check())
