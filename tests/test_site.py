"""The static Linked Data site written by every build (juno_kg/site.py)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyoxigraph as ox
import pytest
from rdflib import Graph, URIRef

from juno_kg import formats
from juno_kg.config import DEFAULT_BASE

from .conftest import run_cli

ID = f"{DEFAULT_BASE}id/"
JK = f"{DEFAULT_BASE}ontology#"


class Page(HTMLParser):
    """Links, ids, scripts, headings and text of one HTML file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.links: list[tuple[str, str, dict]] = []  # (tag, url, attrs)
        self.ids: set[str] = set()
        self.scripts: list[tuple[dict, str]] = []
        self.h1 = ""
        self.text: list[str] = []
        self._stack: list[tuple[str, dict]] = []
        self.feed(path.read_text("utf-8"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if key in a:
                self.links.append((tag, a[key], a))
        self._stack.append((tag, a))
        if tag == "script":
            self.scripts.append((a, ""))

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if self._stack and self._stack[-1][0] == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        if self._stack and self._stack[-1][0] == "h1":
            self.h1 += data
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="session")
def store(built) -> ox.Store:
    s = ox.Store()
    s.bulk_load(path=str(built / "dumps" / "juno-kg.nq"), format=ox.RdfFormat.N_QUADS)
    return s


def select(store: ox.Store, query: str) -> list[dict[str, str]]:
    result = store.query(query, use_default_graph_as_union=True)
    names = [v.value for v in result.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in result]


def resources(store: ox.Store) -> list[str]:
    rows = select(store, f"""SELECT DISTINCT ?r WHERE {{
        {{ ?r ?p ?o }} UNION {{ ?s ?p ?r }} FILTER(isIRI(?r) && STRSTARTS(STR(?r), "{ID}")) }}""")
    return sorted(r["r"] for r in rows)


def label(store: ox.Store, iri: str) -> str:
    rows = select(store, f"SELECT ?l WHERE {{ <{iri}> "
                         f"<http://www.w3.org/2000/01/rdf-schema#label> ?l }}")
    return rows[0]["l"]


def test_every_resource_has_a_page_and_data_in_every_format(built, store):
    found = resources(store)
    assert len(found) > 50
    for iri in found:
        path = iri[len(ID):]
        assert (built / "page" / f"{path}.html").is_file(), path
        for fmt in formats.FORMATS:
            assert (built / "data" / f"{path}.{fmt.extension}").is_file(), (path, fmt.name)


@pytest.mark.parametrize("fmt", formats.FORMATS, ids=lambda f: f.name)
def test_resource_data_parses_and_holds_what_the_resource_says_and_what_points_at_it(built, store,
                                                                                  fmt):
    iri = f"{ID}person/kimya-dawson"
    g = Graph() if not fmt.quads else None
    data = (built / "data" / f"person/kimya-dawson.{fmt.extension}").read_bytes()
    if fmt.quads:
        from rdflib import Dataset

        ds = Dataset()
        ds.parse(data=data, format=fmt.rdflib)
        quads = {(str(s), str(p), str(o), str(getattr(c, "identifier", c)))
                 for s, p, o, c in ds.quads()}
        expected = {(r["s"], r["p"], r["o"], r["g"]) for r in select(store, f"""
            SELECT ?s ?p ?o ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }}
              FILTER(?s = <{iri}> || ?o = <{iri}>) FILTER(?g != <{DEFAULT_BASE}graph/meta>) }}""")}
        assert quads == expected
    else:
        g.parse(data=data, format=fmt.rdflib)
        got = {(str(s), str(p), str(o)) for s, p, o in g}
        expected = {(r["s"], r["p"], r["o"]) for r in select(store, f"""
            SELECT DISTINCT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }}
              FILTER(?s = <{iri}> || ?o = <{iri}>) FILTER(?g != <{DEFAULT_BASE}graph/meta>) }}""")}
        assert got == expected


def html_files(built: Path) -> list[Path]:
    return sorted(built.rglob("*.html"))


def test_every_relative_link_of_every_page_resolves_to_a_file(built):
    """Relative links only, so the site works from file:// and any static host."""
    broken = []
    anchors: dict[Path, set[str]] = {}
    for path in html_files(built):
        for _tag, url, _ in Page(path).links:
            parsed = urlparse(url)
            if parsed.scheme in ("http", "https", "mailto") or url.startswith("#"):
                continue
            assert not url.startswith("/"), f"{path}: root-relative link {url}"
            if parsed.path.rsplit("/", 1)[-1] in ("sparql", "fragments"):
                continue  # the endpoints exist only under `juno-kg serve`
            target = (path.parent / unquote(parsed.path)).resolve()
            if not target.is_file():
                broken.append(f"{path.relative_to(built)} -> {url}")
            elif parsed.fragment and target.suffix == ".html":
                if target not in anchors:
                    anchors[target] = Page(target).ids
                if parsed.fragment not in anchors[target]:
                    broken.append(f"{path.relative_to(built)} -> {url} (no such anchor)")
    assert not broken, "\n".join(broken[:20])


def test_pages_load_nothing_from_elsewhere(built):
    """No CDN, no remote fonts, no scripts: everything the pages need is in the site."""
    for path in html_files(built):
        page = Page(path)
        for tag, url, attrs in page.links:
            if tag in ("link", "script", "img", "iframe") and attrs.get("rel") != "alternate":
                assert not urlparse(url).scheme, f"{path}: loads {url}"
        for attrs, _ in page.scripts:
            assert attrs.get("type") == "application/ld+json", f"{path}: executable script"
    for css in built.rglob("*.css"):
        text = css.read_text("utf-8")
        assert "@import" not in text and not re.search(r"url\(\s*['\"]?https?:", text)


def test_kimya_dawson_page(built, store):
    iri = f"{ID}person/kimya-dawson"
    page = Page(built / "page/person/kimya-dawson.html")
    assert page.h1 == label(store, iri)
    assert iri in page.all_text
    hrefs = {url for _, url, _ in page.links}
    # her types, linked to the ontology page
    for row in select(store, f"SELECT ?t WHERE {{ GRAPH <{DEFAULT_BASE}graph/article> "
                             f"{{ <{iri}> a ?t }} }}"):
        assert f"../../ontology.html#{row['t'][len(JK):]}" in hrefs
    # the groups she plays in link to her ("referenced by"), with their labels
    groups = select(store, f"SELECT ?g ?l WHERE {{ ?g <{JK}hasMember> <{iri}> ; "
                           f"<http://www.w3.org/2000/01/rdf-schema#label> ?l }}")
    assert groups
    for row in groups:
        assert f"../../page/{row['g'][len(ID):]}.html" in hrefs
        assert row["l"] in page.all_text
    assert "Referenced by" in page.all_text
    # her data in every format, as links and as <link rel="alternate">
    alternates = {a.get("type"): url for tag, url, a in page.links if a.get("rel") == "alternate"}
    for fmt in formats.FORMATS:
        assert alternates[fmt.media_type] == f"../../data/person/kimya-dawson.{fmt.extension}"


def test_embedded_json_ld_is_the_schema_org_view(built, store):
    page = Page(built / "page/person/kimya-dawson.html")
    blocks = [text for attrs, text in page.scripts if attrs.get("type") == "application/ld+json"]
    assert len(blocks) == 1
    doc = json.loads(blocks[0])
    g = Graph().parse(data=json.dumps(doc), format="json-ld")
    types = {str(o) for o in g.objects(predicate=None) if str(o).startswith("http://schema.org/")}
    assert "http://schema.org/Person" in types
    names = {str(o) for s, p, o in g if str(p) == "http://schema.org/name"}
    assert label(store, f"{ID}person/kimya-dawson") in names


def test_each_fact_shows_its_graph_and_claim_nodes_their_source(built, store):
    # a claim node: its page names the article section it was derived from
    rows = select(store, f"""SELECT ?c ?src ?l WHERE {{ ?c a <{JK}ChartPosition> ;
        <http://www.w3.org/ns/prov#wasDerivedFrom> ?src .
        ?src <http://www.w3.org/2000/01/rdf-schema#label> ?l }} ORDER BY ?c LIMIT 1""")
    assert rows
    claim = rows[0]
    page = Page(built / "page" / f"{claim['c'][len(ID):]}.html")
    assert f"../../page/{claim['src'][len(ID):]}.html" in {u for _, u, _ in page.links}
    assert "Source of the facts on this page" in page.all_text and claim["l"] in page.all_text
    # every value carries the badge of the named graph(s) stating it
    html = (built / "page/person/kimya-dawson.html").read_text("utf-8")
    assert 'class="graph graph-article"' in html and 'class="graph graph-inferred"' in html


def test_index_is_the_album_at_a_glance(built, store):
    page = Page(built / "index.html")
    html = (built / "index.html").read_text("utf-8")
    albums = select(store, "SELECT ?a ?l WHERE { ?a a <http://schema.org/MusicAlbum> ; "
                           "<http://www.w3.org/2000/01/rdf-schema#label> ?l }")
    assert page.h1 in {a["l"] for a in albums}
    # the chart run as an inline SVG: one point per weekly position in the data
    weeks = select(store, f"SELECT ?p ?n WHERE {{ ?run <{JK}weeklyPosition> ?p . "
                          f"?p <{JK}position> ?n }}")
    svg = re.search(r"<svg .*?</svg>", html, re.S)
    assert svg, "no inline SVG chart"
    ET.fromstring(svg.group(0))  # well-formed
    assert svg.group(0).count("<circle") == len(weeks) > 0
    for w in weeks:
        assert f"#{w['n']}" in svg.group(0)
    # releases timeline in date order, and every person and group listed
    dates = re.findall(r"<time>([^<]+)</time>", html)
    dated = [d for d in dates if d != "undated"]
    assert dated == sorted(dated) and len(dated) >= 2
    for row in select(store, "SELECT ?l WHERE { { ?p a <http://schema.org/Person> } UNION "
                             "{ ?p a <http://schema.org/MusicGroup> } "
                             "?p <http://www.w3.org/2000/01/rdf-schema#label> ?l }"):
        assert row["l"] in page.all_text
    assert "Kimya Dawson" in page.all_text
    # the track list: the items of the album's track listing (schema:ItemList about it),
    # in their order, else every recording it has as schema:track
    album = select(store, f"SELECT ?a WHERE {{ ?a <http://schema.org/name> ?n }} "
                          f"VALUES ?n {{ \"{page.h1}\" \"{page.h1}\"@en }}")[0]["a"]
    listed = select(store, f"""SELECT ?t ?n WHERE {{ ?l a <http://schema.org/ItemList> ;
        <http://schema.org/about> <{album}> ; <http://schema.org/itemListElement> ?e .
        ?e <http://schema.org/item> ?t OPTIONAL {{ ?e <http://schema.org/position> ?n }} }}""")
    tracks = listed or select(store, f"SELECT DISTINCT ?t WHERE {{ <{album}> "
                                     f"<http://schema.org/track> ?t }}")
    section = html.split('id="tracks"', 1)[1].split("</section>", 1)[0]
    assert section.count("<li") == len(tracks) > 0
    for t in tracks:
        assert f'href="page/{t["t"][len(ID):]}.html"' in section
    numbers = [int(n) for n in re.findall(r'<li value="(\d+)"', section)]
    assert numbers == sorted(int(t["n"]) for t in tracks if "n" in t)


def test_ontology_page_documents_every_term_and_the_shapes_beside_the_classes(built, store):
    page = Page(built / "ontology.html")
    terms = select(store, f"""SELECT DISTINCT ?t WHERE {{ GRAPH <{DEFAULT_BASE}graph/ontology> {{
        ?t a ?k }} FILTER(STRSTARTS(STR(?t), "{JK}")) }}""")
    assert terms
    for row in terms:
        assert row["t"][len(JK):] in page.ids, row["t"]
    html = (built / "ontology.html").read_text("utf-8")
    shapes = Graph().parse(built / "dumps" / "shapes.ttl", format="turtle")
    shaped = {str(c) for c in shapes.objects(
        None, URIRef("http://www.w3.org/ns/shacl#targetClass"))}
    assert shaped
    for cls in shaped:
        if not cls.startswith(JK):
            continue
        block = html.split(f'id="{cls[len(JK):]}"', 1)[1].split('<div class="term-row">', 1)[0]
        assert "Shape <code>" in block, f"no shape documented beside {cls}"


def test_void_sitemap_and_conneg_config(built, store):
    void = Graph().parse(data=(built / ".well-known/void").read_bytes(), format="turtle")
    assert len(void) > 10
    tree = ET.fromstring((built / "sitemap.xml").read_bytes())
    locs = [e.text for e in tree.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert f"{DEFAULT_BASE}page/person/kimya-dawson" in locs
    assert len(locs) == len(resources(store)) + 2
    htaccess = (built / ".htaccess").read_text("utf-8")
    nginx = (built / "nginx.conf").read_text("utf-8")
    for fmt in formats.FORMATS:
        assert f"data/$1.{fmt.extension} [R=303" in htaccess
        assert f'".{fmt.extension}";' in nginx
    assert "RewriteBase /juno-kg/" in htaccess and "return 303 /juno-kg/page/" in nginx
    assert (built / "static/style.css").is_file() and (built / "context.jsonld").is_file()


def test_publish_writes_a_deployable_site(tmp_path):
    out = tmp_path / "site"
    result = run_cli("publish", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "resource pages" in result.output and str(out / "index.html") in result.output
    for rel in ("index.html", "ontology.html", "page/person/kimya-dawson.html",
                "data/person/kimya-dawson.ttl", ".well-known/void", "sitemap.xml",
                "dumps/juno-kg.nq", "context.jsonld", ".htaccess", "nginx.conf"):
        assert (out / rel).is_file(), rel
