"""Triple Pattern Fragments at ``/fragments``.

The answers are read back with pyoxigraph: each page holds the matching triples of the
union of the graphs (each once), the pages together hold all of them, the count is exact,
and the metadata has the controls of the TPF specification (search form, template,
mappings, paging) where a client finds them. Then a real TPF client, Comunica
(``@comunica/query-sparql`` 4 from npm, installed by ``.ci/run`` into ``tests/.node``),
queries a running ``juno-kg serve`` through ``/fragments`` alone and gets what ``/sparql``
answers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import httpx
import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from juno_kg.fragments import PAGE_SIZE
from juno_kg.serve import Limits, create_app

HYDRA = "http://www.w3.org/ns/hydra/core#"
VOID = "http://rdfs.org/ns/void#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
SCHEMA = "http://schema.org/"
FOAF = "http://xmlns.com/foaf/0.1/"
NODE_MODULES = Path(__file__).resolve().parent / ".node" / "node_modules"
CLIENT = Path(__file__).resolve().parent / "tpf_client.cjs"
ROOT = "http://testserver/"
MEDIA = {"turtle": "text/turtle", "trig": "application/trig", "nquads": "application/n-quads",
         "ntriples": "application/n-triples", "jsonld": "application/ld+json"}


@pytest.fixture(scope="module")
def client(built):
    with TestClient(create_app(built, Limits(workers=1)), follow_redirects=False) as c:
        yield c


@pytest.fixture(scope="module")
def union(built) -> ox.Store:
    """The union of the build's graphs, each triple once (what the fragments are over)."""
    store = ox.Store()
    store.extend(ox.Quad(q.subject, q.predicate, q.object) for q in
                 ox.parse(path=str(built / "dumps/juno-kg.nq"), format=ox.RdfFormat.N_QUADS))
    return store


def read(answer: httpx.Response, media: str) -> list[ox.Quad]:
    fmt = ox.RdfFormat.from_media_type(media)
    assert fmt is not None, media
    return list(ox.parse(answer.content, format=fmt, base_iri=str(answer.url)))


def split(quads: list[ox.Quad], page: str) -> tuple[set[ox.Triple], dict]:
    """(data triples, metadata {(subject, predicate): [objects]}) of a quads answer for the
    page ``page``: the metadata graph is the one that is the ``foaf:primaryTopic`` of the
    fragment ``page`` is a ``void:subset`` of, as Comunica finds it."""
    fragment = [q.subject for q in quads if q.predicate.value == f"{VOID}subset"
                and q.object.value == page][-1]
    (graph,) = {q.subject for q in quads if q.predicate.value == f"{FOAF}primaryTopic"
                and q.object == fragment}
    data = {q.triple for q in quads if q.graph_name == ox.DefaultGraph()}
    meta: dict[tuple[str, str], list] = {}
    for q in quads:
        if q.graph_name == graph:
            meta.setdefault((q.subject.value, q.predicate.value), []).append(q.object)
    return data, meta


def expected(union: ox.Store, s=None, p=None, o=None) -> set[ox.Triple]:
    return {q.triple for q in union.quads_for_pattern(s, p, o, ox.DefaultGraph())}


def fetch_all(client: TestClient, url: str) -> tuple[set[ox.Triple], list[str], int]:
    """Every page of a fragment by following hydra:next: (triples, page URLs, count)."""
    triples: set[ox.Triple] = set()
    pages = []
    count = -1
    while url:
        answer = client.get(url, headers={"Accept": "application/trig"})
        assert answer.status_code == 200, answer.text
        pages.append(url)
        data, meta = split(read(answer, "application/trig"), url)
        assert len(data) <= PAGE_SIZE
        assert not data & triples, "a triple on two pages"
        triples |= data
        count = int(meta[(url, f"{VOID}triples")][0].value)
        nxt = meta.get((url, f"{HYDRA}next"))
        url = nxt[0].value if nxt else ""
    return triples, pages, count


# --------------------------------------------------------------------------- the answers

@pytest.mark.parametrize("name", sorted(MEDIA))
def test_every_format_holds_the_matching_triples_and_the_count(client, union, name):
    media = MEDIA[name]
    url = f"{ROOT}fragments?predicate={quote(RDF + 'type', safe='')}" \
          f"&object={quote(SCHEMA + 'MusicAlbum', safe='')}"
    answer = client.get(url, headers={"Accept": media})
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == media
    assert "Accept" in answer.headers["vary"]
    quads = read(answer, media)
    albums = expected(union, p=ox.NamedNode(RDF + "type"), o=ox.NamedNode(SCHEMA + "MusicAlbum"))
    assert len(albums) >= 3
    triples = {q.triple for q in quads}
    assert albums <= triples
    count = [q.object.value for q in quads if q.subject.value == url and
             q.predicate.value == f"{VOID}triples"]
    assert count == [str(len(albums))]
    if name in ("trig", "nquads", "jsonld"):  # data in the default graph, metadata apart
        data, meta = split(quads, url)
        assert data == albums
        assert meta[(f"{url}#metadata", f"{FOAF}primaryTopic")] == [ox.NamedNode(url)]
        assert meta[(url, f"{HYDRA}totalItems")][0].value == str(len(albums))


def test_the_search_form_is_a_hydra_template_with_three_mappings(client):
    answer = client.get(f"{ROOT}fragments", headers={"Accept": "application/trig"})
    _, meta = split(read(answer, "application/trig"), f"{ROOT}fragments")
    dataset = f"{ROOT}fragments#dataset"
    assert {o.value for o in meta[(dataset, f"{RDF}type")]} == {f"{VOID}Dataset",
                                                                 f"{HYDRA}Collection"}
    (search,) = meta[(dataset, f"{HYDRA}search")]
    assert meta[(search.value, f"{HYDRA}template")][0].value == \
        f"{ROOT}fragments{{?subject,predicate,object}}"
    assert meta[(search.value, f"{HYDRA}variableRepresentation")] == \
        [ox.NamedNode(f"{HYDRA}ExplicitRepresentation")]
    mappings = {meta[(m.value, f"{HYDRA}variable")][0].value:
                meta[(m.value, f"{HYDRA}property")][0].value
                for m in meta[(search.value, f"{HYDRA}mapping")]}
    assert mappings == {"subject": f"{RDF}subject", "predicate": f"{RDF}predicate",
                        "object": f"{RDF}object"}
    # the page is the subset of its fragment the metadata graph is about (as Comunica reads)
    assert meta[(f"{ROOT}fragments", f"{VOID}subset")] == [ox.NamedNode(f"{ROOT}fragments")]


def test_pages_follow_hydra_next_and_hold_each_triple_once(client, union):
    everything = expected(union)
    assert len(everything) > 2 * PAGE_SIZE
    triples, pages, count = fetch_all(client, f"{ROOT}fragments")
    assert triples == everything
    assert count == len(everything)
    assert len(pages) == -(-len(everything) // PAGE_SIZE)
    last = client.get(pages[-1], headers={"Accept": "application/trig"})
    _, meta = split(read(last, "application/trig"), pages[-1])
    assert (pages[-1], f"{HYDRA}next") not in meta
    assert meta[(pages[-1], f"{HYDRA}previous")] == [ox.NamedNode(pages[-2])]
    assert meta[(pages[-1], f"{HYDRA}itemsPerPage")][0].value == str(PAGE_SIZE)
    beyond = client.get(f"{ROOT}fragments?page={len(pages) + 1}",
                        headers={"Accept": "application/n-quads"})
    data, _ = split(read(beyond, "application/n-quads"), str(beyond.url))
    assert beyond.status_code == 200 and data == set()


@pytest.mark.parametrize("params, pattern", [
    ({"object": '"Kimya Dawson"'}, (None, None, ox.Literal("Kimya Dawson"))),
    ({"predicate": "rdfs:label", "object": '"Kimya Dawson"@en'},
     (None, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
      ox.Literal("Kimya Dawson", language="en"))),
    ({"subject": "person:kimya-dawson"},
     (ox.NamedNode("https://w3id.org/juno-kg/id/person/kimya-dawson"), None, None)),
    ({"subject": "?s", "predicate": "schema:name", "object": ""},
     (None, ox.NamedNode(SCHEMA + "name"), None)),
    ({"predicate": "http://schema.org/datePublished",
      "object": '"2008-04-08"^^http://www.w3.org/2001/XMLSchema#date'},
     (None, ox.NamedNode(SCHEMA + "datePublished"),
      ox.Literal("2008-04-08", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")))),
])
def test_terms_in_the_explicit_representation(client, union, params, pattern):
    want = expected(union, *pattern)
    assert want, f"the data has no triple matching {pattern}"
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    triples, _, count = fetch_all(client, f"{ROOT}fragments?{query}")
    assert triples == want and count == len(want)


@pytest.mark.parametrize("params, status", [
    ({"subject": '"a literal"'}, 400),
    ({"predicate": '"a literal"'}, 400),
    ({"predicate": "not an iri"}, 400),
    ({"object": '"unterminated'}, 400),
    ({"page": "0"}, 400),
    ({"page": "x"}, 400),
])
def test_bad_patterns_are_400(client, params, status):
    answer = client.get("/fragments", params=params, headers={"Accept": "text/turtle"})
    assert answer.status_code == status, answer.text
    assert answer.text.startswith("400 Bad request: ")


def test_406_and_the_format_parameter(client):
    assert client.get("/fragments", headers={"Accept": "image/png"}).status_code == 406
    answer = client.get("/fragments?format=trig", headers={"Accept": "text/html"})
    assert answer.headers["content-type"].startswith("application/trig")


def test_the_html_page_has_the_form_the_triples_and_the_count(client, union):
    answer = client.get("/fragments", params={"predicate": "rdf:type",
                                              "object": "schema:MusicAlbum"},
                        headers={"Accept": "text/html"})
    assert answer.status_code == 200
    assert '<form method="get" action="fragments"' in answer.text
    for name in ("subject", "predicate", "object"):
        assert f'name="{name}"' in answer.text
    albums = expected(union, p=ox.NamedNode(RDF + "type"), o=ox.NamedNode(SCHEMA + "MusicAlbum"))
    assert f"{len(albums)} matching triples" in answer.text
    assert ">album:juno<" in answer.text  # its IRI, shortened by the dataset's prefixes
    bad = client.get("/fragments", params={"subject": '"x"'}, headers={"Accept": "text/html"})
    assert bad.status_code == 400 and 'class="error"' in bad.text


def test_the_service_description_advertises_the_fragments(client):
    answer = client.get("/sparql", headers={"Accept": "text/turtle"})
    graph = list(ox.parse(answer.content, format=ox.RdfFormat.TURTLE))
    templates = [t.object.value for t in graph if t.predicate.value == f"{HYDRA}template"]
    assert templates == [f"{ROOT}fragments{{?subject,predicate,object}}"]
    assert any(t.predicate.value == f"{VOID}subset" and t.object.value == f"{ROOT}fragments"
               for t in graph)


# --------------------------------------------------------------------------- a TPF client

NODE = shutil.which("node")
needs_comunica = pytest.mark.skipif(
    NODE is None or not (NODE_MODULES / "@comunica" / "query-sparql").is_dir(),
    reason="Comunica is not installed in tests/.node (npm install --prefix tests/.node "
           "@comunica/query-sparql@4; .ci/run does) or node is missing")


def comunica(url: str, query: str) -> dict:
    proc = subprocess.run([NODE or "node", str(CLIENT), str(NODE_MODULES), url, query],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def sparql(live_server: str, query: str) -> list[dict]:
    answer = httpx.get(f"{live_server}/sparql", params={"query": query}, timeout=30,
                       headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]["bindings"]


def term(binding: dict) -> str:
    """A SPARQL JSON term as tests/tpf_client.cjs writes Comunica's."""
    if binding["type"] != "literal":
        return binding["value"]
    text = json.dumps(binding["value"], ensure_ascii=False)
    if "xml:lang" in binding:
        return f"{text}@{binding['xml:lang']}"
    return f"{text}^^{binding['datatype']}" if "datatype" in binding else text


ALBUMS = """PREFIX schema: <http://schema.org/>
SELECT ?album ?name WHERE { ?album a schema:MusicAlbum ; schema:name ?name }"""
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
PEOPLE = """PREFIX jk: <https://w3id.org/juno-kg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?group ?label WHERE { ?group jk:hasMember ?p ; rdfs:label ?label .
  ?p rdfs:label "Kimya Dawson"@en }"""


@needs_comunica
def test_comunica_over_the_fragments_answers_as_the_endpoint(live_server):
    url = f"{live_server}/fragments"
    got = comunica(url, ALBUMS)
    albums = sorted((r["album"], r["name"]) for r in got["rows"])
    want = sorted((term(b["album"]), term(b["name"])) for b in sparql(live_server, ALBUMS))
    assert len(want) >= 3
    assert albums == want

    got_people = comunica(url, PEOPLE)
    people = sorted(r["group"] for r in got_people["rows"])
    assert people and people == sorted(b["group"]["value"] for b in sparql(live_server, PEOPLE))

    counted = comunica(url, COUNT)
    (row,) = counted["rows"]
    (expected_count,) = sparql(live_server, COUNT)
    assert row["n"] == term(expected_count["n"])
    assert int(expected_count["n"]["value"]) > 1000
    requests = got["requests"] + got_people["requests"] + counted["requests"]
    assert len(requests) > 3
    assert all(r == url or r.startswith(f"{url}?") for r in requests), requests
