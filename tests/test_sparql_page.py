"""The ``/sparql`` query page as a browser uses it: every link on it is followed.

Each link answers 200; each named-query link gives the rows ``juno-kg query NAME`` gives
(run in-process on the same build); the federated queries are offered as what they are,
not as links this endpoint refuses; the page has a title, whole descriptions, and a query
box holding only the prefixes its query uses.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from juno_kg.catalogue import named_queries
from juno_kg.errors import QueryError
from juno_kg.query import Rows, Triples, run
from juno_kg.serve import Limits, create_app

PAGE = "http://testserver/sparql"
HTML = {"Accept": "text/html"}


class Page(HTMLParser):
    """The links, title, query box and named-query links of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.query_links: dict[str, str] = {}  #: named query -> href of its link
        self.title = self.box = ""
        self._in: str | None = None
        self._dt: str | None = None  #: href of the link in the <dt> being read
        self._in_dt = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag in ("a", "link") and attr.get("href"):
            self.links.append(attr["href"])
            if tag == "a" and self._in_dt and attr["href"].startswith("sparql?"):
                self._dt = attr["href"]
        if tag == "dt":
            self._in_dt, self._dt = True, None
        if tag in ("title", "textarea", "code"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == "dt":
            self._in_dt = False
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "code" and self._in_dt and self._dt:  # <dt><a>title</a> <code>name
            self.query_links[data.strip()] = self._dt
        elif self._in == "title":
            self.title += data
        elif self._in == "textarea":
            self.box += data


def prefixes_in(text: str) -> tuple[set[str], set[str]]:
    """(declared, used) prefixes of a query, read independently of juno_kg's own lexer."""
    declared = set(re.findall(r"(?im)^\s*PREFIX\s+([\w-]*):", text))
    body = re.sub(r"(?im)^\s*PREFIX\s+[\w-]*:\s*<[^>]*>", "", text)
    body = re.sub(r"#[^\n]*|<[^<>\s]*>|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", " ", body)
    used = set(re.findall(r"(?<![\w?$:-])([A-Za-z][\w-]*)?:(?=[\w(]|\s)", body)) - {"_"}
    return declared, {u or "" for u in used}


def federated() -> dict[str, str]:
    """The named queries with a SERVICE, and the endpoint each asks (read from the text)."""
    out = {}
    for name, named in named_queries().items():
        found = re.search(r"(?i)\bSERVICE\s+(?:SILENT\s+)?<([^>]+)>", named.text)
        if found:
            out[name] = found.group(1)
    return out


@pytest.fixture(scope="module")
def client(built):
    with TestClient(create_app(built, Limits(workers=2)), follow_redirects=True) as c:
        yield c


@pytest.fixture(scope="module")
def page(client) -> tuple[str, Page]:
    response = client.get("/sparql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text, Page(response.text)


def local(href: str) -> str:
    """The href as a path on the app (fragments dropped); external links are refused."""
    url = urlsplit(urljoin(PAGE, href))
    assert url.netloc == "testserver", f"the page links outside the site: {href}"
    return url.path + (f"?{url.query}" if url.query else "")


def test_every_link_on_the_page_answers_200(client, page):
    _, parsed = page
    assert len(parsed.links) > 20
    for href in sorted(set(parsed.links)):
        response = client.get(local(href), headers=HTML)
        assert response.status_code == 200, (href, response.status_code, response.text[:300])


def test_the_page_has_a_title(page):
    _, parsed = page
    title = parsed.title.strip()
    assert title and not title.startswith("·")
    assert title.split("·")[0].strip(), title


def concatenated(text: str) -> dict[str, str]:
    """``{variable: separator}`` of the query's ``GROUP_CONCAT``s, whose order SPARQL leaves
    to the engine (a VALUES block and a substitution give pyoxigraph different plans)."""
    return {m.group(3): m.group(2) if m.group(1) else " " for m in re.finditer(
        r"GROUP_CONCAT\((?:[^()]|\([^()]*\))*?(;\s*separator\s*=\s*\"([^\"]*)\")?\s*\)"
        r"\s+AS\s+\?(\w+)", text, re.I)}


def comparable(names: list[str], rows: list[tuple], concat: dict[str, str]) -> list[tuple]:
    """Rows with each GROUP_CONCAT value (a plain literal) as its sorted parts, sorted."""
    def parts(cell: str, separator: str) -> str:
        value = cell[1:-1] if cell.startswith('"') and cell.endswith('"') else cell
        return " ".join(sorted(value.split(separator)))

    return sorted(tuple(parts(cell, concat[n]) if n in concat else cell
                        for n, cell in zip(names, row, strict=True)) for row in rows)


def endpoint_answer(client, href: str, form: str):
    """The link's query asked of the endpoint in a machine format, as pyoxigraph terms."""
    accept = "application/n-triples" if form == "graph" else "application/sparql-results+json"
    response = client.get(local(href), headers={"Accept": accept})
    assert response.status_code == 200, (href, response.text[:300])
    if form == "graph":
        return sorted(str(q.triple) for q in ox.parse(response.content,
                                                     format=ox.RdfFormat.N_TRIPLES))
    results = ox.parse_query_results(response.content, format=ox.QueryResultsFormat.JSON)
    names = [v.value for v in results.variables]
    rows = sorted(tuple(str(s[n]) if s[n] is not None else "" for n in names) for s in results)
    return names, rows


def cli_answer(answer):
    if isinstance(answer, Triples):
        return sorted(str(t) for t in answer)
    assert isinstance(answer, Rows)
    rows = sorted(tuple(str(row[n]) if n in row else "" for n in answer.variables)
                  for row in answer.rows)
    return answer.variables, rows


def test_each_named_query_link_gives_the_rows_of_juno_kg_query(client, page, built):
    _, parsed = page
    named = named_queries()
    local_names = set(named) - set(federated())
    runnable = {n for n in local_names if all(not p.required for p in named[n].params)}
    assert runnable and runnable <= set(parsed.query_links), sorted(parsed.query_links)
    for name in sorted(runnable):
        href = parsed.query_links[name]
        cli = run(name, data=built)  # what `juno-kg query NAME --data BUILD` answers
        if isinstance(cli, Triples):
            assert endpoint_answer(client, href, "graph") == cli_answer(cli), name
            continue
        names, rows = endpoint_answer(client, href, "rows")
        cli_names, cli_rows = cli_answer(cli)
        concat = concatenated(named[name].text)
        assert names == cli_names, name
        assert comparable(names, rows, concat) == comparable(names, cli_rows, concat), name
    assert set(parsed.query_links) == runnable, "a link to a query this endpoint cannot run"
    for name in sorted(local_names - runnable):  # no defaults: the CLI asks for a value too
        with pytest.raises(QueryError, match="needs parameter"):
            run(name, data=built)


def test_named_query_links_show_their_query_with_only_the_prefixes_it_uses(client, page):
    _, parsed = page
    assert len(parsed.query_links) >= 10
    for name, href in sorted(parsed.query_links.items()):
        text = parse_qs(urlsplit(href).query)["query"][0]
        declared, used = prefixes_in(text)
        assert declared == used, (name, declared, used)
        shown = Page(client.get(local(href), headers=HTML).text)
        assert shown.box.strip() == text.strip(), name  # the box holds the query it ran


def test_the_default_query_box_declares_only_what_it_uses_and_runs(client, page):
    _, parsed = page
    declared, used = prefixes_in(parsed.box)
    assert parsed.box.strip() and used and declared == used, (declared, used)
    response = client.get("/sparql", params={"query": parsed.box}, headers=HTML)
    assert response.status_code == 200 and '<table class="results">' in response.text
    assert "Music from the Motion Picture Juno" in response.text


def test_descriptions_are_whole(page):
    html, _ = page
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    for name, named in named_queries().items():
        assert " ".join(named.description.split()) in text, name


def test_federated_queries_are_offered_as_federated_not_as_links(page):
    html, parsed = page
    remote = federated()
    assert {"wikidata-items", "wikidata-people", "wikidata-same-as"} <= set(remote)
    for href in parsed.links:
        if href.startswith("sparql?"):
            text = parse_qs(urlsplit(href).query)["query"][0]
            assert "SERVICE" not in text.upper(), href
    assert not set(remote) & set(parsed.query_links)
    assert 'id="federated"' in html, "no section for the federated queries"
    section = html[html.index('id="federated"'):]
    for name, endpoint in remote.items():
        assert f"juno-kg query {name}" in section and endpoint in section, name
