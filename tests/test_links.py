"""Links to other datasets: the SSSOM table, the links graph, VoID linksets, `links resolve`.

`links resolve` and the federated named queries (`wikidata-*`, their SERVICE IRI pointed at
it) run against a real SPARQL endpoint on loopback (the oxigraph server) standing in for
Wikidata, loaded with a few Wikidata-shaped triples written here; the identifiers in them are
made up for the test (Q9000000xx, UUIDs 00000000-0000-4000-8000-…) and never reach the
shipped table.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from rdflib import OWL, Graph, Literal, Namespace, URIRef

from juno_kg.config import Settings
from juno_kg.errors import JunoKGError
from juno_kg.links import (
    LINK_PREDICATES,
    MUSICBRAINZ_GUID,
    NO_TERM_FOUND,
    TARGETS,
    dbpedia_iri,
    federated_queries,
    read_table,
    target_of,
    title_of,
    wikipedia_url,
)
from juno_kg.resolve import resolve
from juno_kg.sources import load

from .conftest import ROOT, run_cli
from .stores import oxigraph

TABLE = ROOT / "data" / "links" / "mappings.sssom.tsv"
ID = "https://w3id.org/juno-kg/id/"
WIKIPEDIA = "https://en.wikipedia.org/wiki/"
DBPEDIA = "http://dbpedia.org/resource/"
VOID = Namespace("http://rdfs.org/ns/void#")
SH = Namespace("http://www.w3.org/ns/shacl#")
JK = Namespace("https://w3id.org/juno-kg/ontology#")
#: Kinds of things that have an English Wikipedia article when they are notable: each of
#: them gets its Wikipedia and DBpedia links, or a NoTermFound row saying why not.
KINDS = ("album", "film", "person", "group", "label", "store", "chart", "org", "periodical",
         "place", "country", "genre", "award", "language", "category")


def kind(iri: str) -> str | None:
    return iri[len(ID):].split("/", 1)[0] if iri.startswith(ID) else None


@pytest.fixture(scope="module")
def table():
    return read_table(TABLE)


# --------------------------------------------------------------------------- titles

@pytest.mark.parametrize(("title", "wikipedia", "dbpedia"), [
    ("Juno (soundtrack)", "Juno_(soundtrack)", "Juno_(soundtrack)"),
    ("Guns N' Roses", "Guns_N%27_Roses", "Guns_N'_Roses"),
    ("Simon & Garfunkel", "Simon_%26_Garfunkel", "Simon_&_Garfunkel"),
    ("Beyoncé", "Beyonc%C3%A9", "Beyoncé"),
    ("AC/DC", "AC/DC", "AC/DC"),
    ("What?", "What%3F", "What%3F"),
    ("iTunes Store", "ITunes_Store", "ITunes_Store"),
    ("Category:Film soundtracks", "Category:Film_soundtracks", "Category:Film_soundtracks"),
])
def test_titles_become_urls_as_mediawiki_and_dbpedia_write_them(title, wikipedia, dbpedia):
    assert wikipedia_url(title) == WIKIPEDIA + wikipedia
    assert dbpedia_iri(title) == DBPEDIA + dbpedia
    assert title_of(wikipedia_url(title)) == title[:1].upper() + title[1:]
    for iri in (wikipedia_url(title), dbpedia_iri(title)):
        target = target_of(iri)
        assert target is not None and __import__("re").match(target.pattern, iri), iri


# --------------------------------------------------------------------------- the table

def test_every_entity_with_an_article_has_its_wikipedia_and_dbpedia_links(table, sources):
    """Against the data: each thing of the listed kinds is linked or says why it is not."""
    entities = {str(s) for name in ("article", "supplement")
                for s in sources.graph(name).subjects() if kind(str(s)) in KINDS}
    assert len(entities) > 40
    problems = []
    for entity in sorted(entities):
        rows = [r for r in table.rows if r.subject == entity]
        wp = [r for r in rows if r.accepted and r.object.startswith(WIKIPEDIA)]
        db = [r for r in rows if r.accepted and r.object.startswith(DBPEDIA)]
        why_not = [r for r in rows if r.no_term and r.get("comment")]
        if why_not and not wp and not db:
            continue
        if len(wp) != 1 or len(db) != 1:
            problems.append(f"{entity}: {len(wp)} Wikipedia and {len(db)} DBpedia links, and "
                            f"no NoTermFound row with a comment")
            continue
        title = wp[0].get("object_label")
        if not (title and title_of(wp[0].object) == title == db[0].get("object_label")
                and wikipedia_url(title) == wp[0].object and dbpedia_iri(title) == db[0].object):
            problems.append(f"{entity}: Wikipedia {wp[0].object} and DBpedia {db[0].object} "
                            f"are not both the article titled {title!r}")
    assert not problems, "\n".join(problems)


def test_every_subject_of_the_table_is_a_thing_of_the_data(table, sources):
    described = {str(s) for name in ("article", "supplement")
                 for s in sources.graph(name).subjects()}
    missing = sorted({r.subject for r in table.rows} - described)
    assert not missing, f"links for things the data does not have: {missing}"


def test_the_table_uses_each_link_property_for_what_it_means(table):
    for row in table.accepted():
        target = target_of(row.object)
        assert target is not None, row.object
        if target.key == "wikipedia":
            assert row.predicate == "http://xmlns.com/foaf/0.1/isPrimaryTopicOf"
        elif kind(row.subject) in ("genre", "category", "language"):
            assert "skos/core#" in row.predicate, f"{row.subject}: a concept uses SKOS"
        else:
            assert row.predicate == "http://www.w3.org/2002/07/owl#sameAs", row.subject
    assert not [r for r in table.rows if r.candidate], "unreviewed candidates in the table"


def test_the_build_publishes_exactly_the_accepted_rows(table, built):
    """Each accepted row is one link; a MusicBrainz link brings its mo:musicbrainz_guid."""
    links = Graph().parse(built / "dumps" / "graphs" / "links.nt", format="nt")
    expected = {(URIRef(r.subject), URIRef(r.predicate), URIRef(r.object))
                for r in table.accepted()}
    guids = {(URIRef(r.subject), MUSICBRAINZ_GUID,
              Literal(r.object.rsplit("/", 1)[1].removesuffix("#_")))
             for r in table.accepted() if r.object.startswith("http://musicbrainz.org/")}
    assert guids, "the table has MusicBrainz links"
    assert set(links) == expected | guids
    assert all(p in (*LINK_PREDICATES, MUSICBRAINZ_GUID) for p in links.predicates())
    assert not any(str(o) == NO_TERM_FOUND for o in links.objects())


#: The identifiers of ../shared/external-ids.tsv (written beside the entity's name in public
#: sources) that name entities of the graph: (our resource, the other dataset's IRI).
EXTERNAL_IDS = {
    ("group/the-kinks", "http://musicbrainz.org/artist/17b53d9f-5c63-4a09-a593-dde4608e0db9#_"),
    ("group/sonic-youth", "http://musicbrainz.org/artist/5cbef01b-cc35-4f52-af7b-d0df0c4f61b9#_"),
    ("group/mott-the-hoople",
     "http://musicbrainz.org/artist/435f1441-0f43-479d-92db-a506449a686b#_"),
    ("group/belle-and-sebastian",
     "http://musicbrainz.org/artist/e5c7b94f-e264-473c-bb0f-37c85d4d5c70#_"),
    ("group/the-velvet-underground",
     "http://musicbrainz.org/artist/94b0fb9d-a066-4823-b2ec-af1d324bcfcf#_"),
    ("place/vancouver", "http://www.wikidata.org/entity/Q24639"),
    ("store/wal-mart", "http://www.wikidata.org/entity/Q483551"),
    ("film/titanic", "http://www.wikidata.org/entity/Q44578"),
}
#: Rows of that file not used, and why (docs/links.md says the same).
EXTERNAL_IDS_NOT_USED = {
    ("Juno (2007 film)", "IMDb title"): "IMDb is neither Wikidata nor MusicBrainz and publishes "
                                        "no RDF entity to owl:sameAs",
}
SHARED_IDS = ROOT.parent / "shared" / "external-ids.tsv"


def test_the_external_identifiers_are_published_with_their_guids(sources):
    links = sources.graph("links")
    for path, iri in sorted(EXTERNAL_IDS):
        subject = URIRef(ID + path)
        assert (subject, OWL.sameAs, URIRef(iri)) in links, (path, iri)
        if iri.startswith("http://musicbrainz.org/"):
            guid = iri.rsplit("/", 1)[1].removesuffix("#_")
            assert list(links.objects(subject, MUSICBRAINZ_GUID)) == [Literal(guid)]
    wikidata = {(str(s), str(o)) for s, o in links.subject_objects(OWL.sameAs)
                if str(o).startswith("http://www.wikidata.org/")}
    musicbrainz = {(str(s), str(o)) for s, o in links.subject_objects(OWL.sameAs)
                   if str(o).startswith("http://musicbrainz.org/")}
    assert wikidata | musicbrainz == {(ID + p, iri) for p, iri in EXTERNAL_IDS}, \
        "no Wikidata or MusicBrainz identifier from anywhere else"


def test_every_row_of_the_shared_identifier_list_is_used_or_rejected_for_a_reason(sources):
    """Each row of ../shared/external-ids.tsv whose entity is in the graph is a link here,
    or a row of EXTERNAL_IDS_NOT_USED; each used row's name is the entity's name."""
    if not SHARED_IDS.is_file():
        pytest.skip(f"{SHARED_IDS} is not beside this checkout")
    rows = [line.split("\t") for line in SHARED_IDS.read_text("utf-8").splitlines()
            if line and not line.startswith("#")][1:]
    assert rows
    used = {iri.rsplit("/", 1)[1].removesuffix("#_"): path for path, iri in EXTERNAL_IDS}
    data = Graph()
    for name in ("article", "supplement"):
        data += sources.graph(name)
    def key(name: str) -> str:  # "Belle & Sebastian" ~ "Belle and Sebastian", Wal-Mart ~ Walmart
        return re.sub(r"[^a-z0-9]", "", name.lower().replace("&", "and"))

    names: dict[str, set[str]] = {}
    for prop in (JK.name, JK.title, JK.alternativeName):
        for s, o in data.subject_objects(prop):
            names.setdefault(str(s), set()).add(key(str(o)))
    for entity, dataset, identifier, *_ in rows:
        if (entity, dataset) in EXTERNAL_IDS_NOT_USED:
            continue
        assert identifier in used, f"{entity} ({dataset} {identifier}) is neither used nor " \
                                   "rejected with a reason"
        ours = names.get(ID + used[identifier], set())
        assert key(entity.split(" (")[0]) in ours, (entity, ours)


def test_void_linksets_count_the_links_per_target_dataset(built):
    links = Graph().parse(built / "dumps" / "graphs" / "links.nt", format="nt")
    void = Graph().parse(built / "void.ttl")
    counted: Counter[tuple[str, str]] = Counter()
    for _s, p, o in links:
        if p in LINK_PREDICATES:  # not the mo:musicbrainz_guid literals
            counted[(target_of(str(o)).homepage, str(p))] += 1
    stated = {(str(void.value(ls, VOID.objectsTarget)), str(void.value(ls, VOID.linkPredicate))):
              int(void.value(ls, VOID.triples)) for ls in void.subjects(None, VOID.Linkset)}
    assert stated == dict(counted)
    assert {t for t, _ in stated} >= {"https://www.dbpedia.org/", "https://en.wikipedia.org/"}
    dataset = URIRef("https://w3id.org/juno-kg/dataset")
    for ls in void.subjects(None, VOID.Linkset):
        assert (dataset, VOID.subset, ls) in void
        assert void.value(ls, VOID.subjectsTarget) == dataset


def test_the_shapes_use_the_same_iri_patterns_as_the_library(sources):
    patterns = {str(o) for o in sources.shapes.objects(None, SH.pattern)}
    for target in TARGETS:
        assert target.pattern in patterns, target.key


# --------------------------------------------------------------------------- bad tables

def _edit(source_copy: Path, old: str, new: str) -> Path:
    path = source_copy / "data" / "links" / "mappings.sssom.tsv"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if needle in line)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("\tdbr:Juno_(film)\t", "\tdbr:Juno_(film)\textra cell\t", "cells where the header has"),
    ("\tdbr:Juno_(film)\t", "\tdbx:Juno_(film)\t", "undeclared prefix 'dbx'"),
    ("owl:sameAs\t\tdbr:Juno_(film)", "rdfs:seeAlso\t\tdbr:Juno_(film)", "not a link property"),
    ("Juno (film)\tsemapv:ManualMappingCuration\t0.95",
     "Juno (film)\tsemapv:ManualMappingCuration\tsure", "not a number from 0 to 1"),
    ("Juno (film)\tsemapv:ManualMappingCuration", "Juno (film)\tManualMappingCuration",
     "not a CURIE"),
])
def test_a_malformed_row_is_a_load_error_with_file_and_line(source_copy, old, new, message):
    path = _edit(source_copy, old, new)
    line = _line(path, new)
    result = run_cli("--root", str(source_copy), "validate")
    assert result.exit_code == 2
    assert f"data/links/mappings.sssom.tsv:{line}: " in result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_malformed_metadata_header_is_a_load_error(source_copy):
    _edit(source_copy, "#license: ", "#license: [unclosed ")
    result = run_cli("--root", str(source_copy), "validate")
    assert result.exit_code == 2
    assert "mappings.sssom.tsv" in result.output and "metadata header" in result.output


def test_the_shapes_catch_a_malformed_link_in_the_table(source_copy):
    _edit(source_copy, "\tdbr:Juno_(film)\tJuno (film)\t",
          "\t<http://dbpedia.org/page/Juno_(film)>\tJuno (film)\t")
    result = run_cli("--root", str(source_copy), "validate")
    assert result.exit_code == 1
    assert "film:juno" in result.output and "owl:sameAs" in result.output
    assert "http://dbpedia.org/page/Juno_(film)" in result.output


def test_owl_same_as_between_two_of_our_resources_is_caught(source_copy):
    _edit(source_copy, "\tdbr:Juno_(film)\tJuno (film)\t", "\tfilm:titanic\tTitanic\t")
    result = run_cli("--root", str(source_copy), "validate")
    assert result.exit_code == 1
    assert "joins two juno-kg resources" in result.output


# --------------------------------------------------------------------------- resolve

WIKIDATA_FIXTURE = """\
@prefix schema: <http://schema.org/> .
@prefix wd:     <http://www.wikidata.org/entity/> .
@prefix wdt:    <http://www.wikidata.org/prop/direct/> .
@prefix enwiki: <https://en.wikipedia.org/wiki/> .

enwiki:Kimya_Dawson schema:about wd:Q900000001 ; schema:isPartOf <https://en.wikipedia.org/> ;
    schema:name "Kimya Dawson"@en .
wd:Q900000001 wdt:P434 "00000000-0000-4000-8000-000000000001" .
# the same name on another wiki, sitelinking another item: must be ignored
<https://de.wikipedia.org/wiki/Kimya_Dawson> schema:about wd:Q900000099 ;
    schema:isPartOf <https://de.wikipedia.org/> ; schema:name "Kimya Dawson"@de .

enwiki:The_Moldy_Peaches schema:about wd:Q900000002 ;
    schema:isPartOf <https://en.wikipedia.org/> ; schema:name "The Moldy Peaches"@en .
wd:Q900000002 wdt:P434 "00000000-0000-4000-8000-000000000002",
                       "00000000-0000-4000-8000-000000000003" .

enwiki:Juno_\\(soundtrack\\) schema:about wd:Q900000003 ;
    schema:isPartOf <https://en.wikipedia.org/> ; schema:name "Juno (soundtrack)"@en .
wd:Q900000003 wdt:P436 "00000000-0000-4000-8000-00000000000A" ; wdt:P434 "not-a-uuid" .

enwiki:Indie_rock schema:about wd:Q900000004 ; schema:isPartOf <https://en.wikipedia.org/> ;
    schema:name "Indie rock"@en .

enwiki:Rhino_Entertainment schema:about wd:Q900000005 ;
    schema:isPartOf <https://en.wikipedia.org/> ; schema:name "Rhino Entertainment"@en .
wd:Q900000005 wdt:P966 "00000000-0000-4000-8000-000000000005" .
"""
WD = "http://www.wikidata.org/entity/"
SAME = "http://www.w3.org/2002/07/owl#sameAs"
EXACT = "http://www.w3.org/2004/02/skos/core#exactMatch"
EXPECTED = {
    (ID + "person/kimya-dawson", SAME, WD + "Q900000001", "0.95"),
    (ID + "person/kimya-dawson", SAME,
     "http://musicbrainz.org/artist/00000000-0000-4000-8000-000000000001#_", "0.9"),
    (ID + "group/the-moldy-peaches", SAME, WD + "Q900000002", "0.95"),
    (ID + "group/the-moldy-peaches", SAME,
     "http://musicbrainz.org/artist/00000000-0000-4000-8000-000000000002#_", "0.5"),
    (ID + "group/the-moldy-peaches", SAME,
     "http://musicbrainz.org/artist/00000000-0000-4000-8000-000000000003#_", "0.5"),
    (ID + "album/juno", SAME, WD + "Q900000003", "0.95"),
    (ID + "album/juno", SAME,
     "http://musicbrainz.org/release-group/00000000-0000-4000-8000-00000000000a#_", "0.9"),
    (ID + "genre/indie-rock", EXACT, WD + "Q900000004", "0.95"),
    (ID + "label/rhino-entertainment", SAME, WD + "Q900000005", "0.95"),
    (ID + "label/rhino-entertainment", SAME,
     "http://musicbrainz.org/label/00000000-0000-4000-8000-000000000005#_", "0.9"),
}


#: More of the stand-in for Wikidata, for the federated named queries: a date and place of
#: birth (the place's item made up, its label in two languages), and the English labels and
#: descriptions of the three items the links table says we are the same as (Titanic's
#: without a description). Not sitelinks or MusicBrainz IDs: `links resolve` sees no change.
WIKIDATA_FACTS = """\
@prefix rdfs:   <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:    <http://www.w3.org/2001/XMLSchema#> .
@prefix schema: <http://schema.org/> .
@prefix wd:     <http://www.wikidata.org/entity/> .
@prefix wdt:    <http://www.wikidata.org/prop/direct/> .

wd:Q900000001 wdt:P569 "1972-11-17"^^xsd:date ; wdt:P19 wd:Q900000006 .
wd:Q900000006 rdfs:label "Irvington"@en, "Irvington (New York)"@de .
wd:Q24639 rdfs:label "Vancouver"@en, "Vancouver"@de ;
    schema:description "city in British Columbia, Canada"@en, "Stadt in Kanada"@de .
wd:Q483551 rdfs:label "Walmart"@en ;
    schema:description "American multinational retail corporation"@en .
wd:Q44578 rdfs:label "Titanic"@en .
"""


@pytest.fixture(scope="module")
def wikidata(tmp_path_factory):
    """A SPARQL endpoint on loopback standing in for Wikidata: sitelinks, MusicBrainz IDs,
    and the few facts the federated named queries ask for."""
    with oxigraph(tmp_path_factory.mktemp("wikidata")) as server:
        for turtle in (WIKIDATA_FIXTURE, WIKIDATA_FACTS):
            resp = httpx.post(f"{server.gsp_url}?default", content=turtle.encode(),
                              headers={"Content-Type": "text/turtle"}, timeout=30)
            assert resp.status_code in (200, 201, 204), resp.text
        yield server


def test_resolve_writes_the_expected_candidates_once(wikidata, source_copy):
    path = source_copy / "data" / "links" / "mappings.sssom.tsv"
    before = path.read_bytes()
    result = run_cli("links", "resolve", "--endpoint", wikidata.query_url, "--table", str(path))
    assert result.exit_code == 0, result.output
    after = path.read_bytes()
    assert after.startswith(before), "existing rows must be kept byte for byte"
    table = read_table(path)
    new = [r for r in table.rows if r.line > before.count(b"\n")]
    assert {(r.subject, r.predicate, r.object, r.get("confidence")) for r in new} == EXPECTED
    for row in new:
        assert row.candidate and not row.accepted
        assert row.justification == "https://w3id.org/semapv/vocab/MappingChaining"
        assert row.get("mapping_tool") == "juno-kg links resolve" and row.get("mapping_date")
        assert row.get("comment").startswith("candidate: ")
    assert "not-a-uuid" in result.output  # a malformed identifier is reported, not written
    assert "no Wikidata item for:" in result.output and "Elliot Page" in result.output
    # candidates are not published until reviewed
    published = {(str(s), str(o)) for s, _, o in load(Settings.make(source_copy)).graph("links")}
    assert not any((r.subject, r.object) in published for r in new)
    # a second run finds nothing new and leaves the file as it was
    again = resolve(path, wikidata.query_url)
    assert again.added == [] and again.known == len(EXPECTED)
    assert path.read_bytes() == after


def test_a_reviewed_candidate_is_published_and_a_rejected_one_is_not(wikidata, source_copy):
    path = source_copy / "data" / "links" / "mappings.sssom.tsv"
    resolve(path, wikidata.query_url, today="2026-01-01")
    table = read_table(path)
    columns = table.columns
    lines = path.read_text("utf-8").splitlines()
    for row in table.rows:
        if row.object == WD + "Q900000001":  # reviewed: accept it
            cells = lines[row.line - 1].split("\t")
            cells[columns.index("reviewer_label")] = "A. Reviewer"
            lines[row.line - 1] = "\t".join(cells)
        if row.object == WD + "Q900000002":  # reviewed: reject it
            cells = lines[row.line - 1].split("\t")
            cells[columns.index("reviewer_label")] = "A. Reviewer"
            cells[columns.index("predicate_modifier")] = "Not"
            lines[row.line - 1] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    links = load(Settings.make(source_copy)).graph("links")
    assert (URIRef(ID + "person/kimya-dawson"), URIRef(SAME), URIRef(WD + "Q900000001")) in links
    assert (None, None, URIRef(WD + "Q900000002")) not in links
    assert resolve(path, wikidata.query_url).added == []  # a rejected one is not proposed again


def test_dry_run_writes_nothing(wikidata, tmp_path):
    path = tmp_path / "mappings.sssom.tsv"
    shutil.copy(TABLE, path)
    result = run_cli("links", "resolve", "--endpoint", wikidata.query_url, "--table", str(path),
                     "--dry-run")
    assert result.exit_code == 0 and f"{len(EXPECTED)} candidate links" in result.output
    assert path.read_bytes() == TABLE.read_bytes()


def test_resolve_against_an_unreachable_endpoint_is_a_clear_error(tmp_path):
    from .stores import free_port

    path = tmp_path / "mappings.sssom.tsv"
    shutil.copy(TABLE, path)
    url = f"http://127.0.0.1:{free_port()}/sparql"
    result = run_cli("links", "resolve", "--endpoint", url, "--table", str(path),
                     "--timeout", "5")
    assert result.exit_code == 2 and f"cannot reach {url}" in result.output
    assert path.read_bytes() == TABLE.read_bytes()
    with pytest.raises(JunoKGError):
        resolve(path, url, timeout=5)


# --------------------------------------------------------------------------- federated queries

FEDERATED = sorted(federated_queries())


def test_the_federated_named_queries_are_marked_and_parse():
    from juno_kg.catalogue import named_queries

    named = named_queries()
    assert len(FEDERATED) >= 2
    for name in FEDERATED:
        text = named[name].text
        assert named[name].title and named[name].description, name
        assert "SERVICE <https://query.wikidata.org/sparql>" in text, name
        ox.Store().query(text.replace("SERVICE <https://query.wikidata.org/sparql>",
                                      "SERVICE SILENT <http://127.0.0.1:9/sparql>"))


WIKIDATA_SPARQL = "https://query.wikidata.org/sparql"
WDT = "http://www.wikidata.org/prop/direct/"
#: What each federated query answers over the build with the stand-in for Wikidata, in
#: its ORDER BY order: (the query's variables, its rows; None where a variable is unbound).
FEDERATED_ANSWERS: dict[str, tuple[list[str], list[tuple[str | None, ...]]]] = {
    "wikidata-items": (
        ["resource", "article", "item", "musicbrainzProperty", "musicbrainzId"], [
            (ID + "album/juno", WIKIPEDIA + "Juno_(soundtrack)", WD + "Q900000003",
             WDT + "P434", "not-a-uuid"),
            (ID + "album/juno", WIKIPEDIA + "Juno_(soundtrack)", WD + "Q900000003",
             WDT + "P436", "00000000-0000-4000-8000-00000000000A"),
            (ID + "genre/indie-rock", WIKIPEDIA + "Indie_rock", WD + "Q900000004", None, None),
            (ID + "group/the-moldy-peaches", WIKIPEDIA + "The_Moldy_Peaches",
             WD + "Q900000002", WDT + "P434", "00000000-0000-4000-8000-000000000002"),
            (ID + "group/the-moldy-peaches", WIKIPEDIA + "The_Moldy_Peaches",
             WD + "Q900000002", WDT + "P434", "00000000-0000-4000-8000-000000000003"),
            (ID + "label/rhino-entertainment", WIKIPEDIA + "Rhino_Entertainment",
             WD + "Q900000005", WDT + "P966", "00000000-0000-4000-8000-000000000005"),
            (ID + "person/kimya-dawson", WIKIPEDIA + "Kimya_Dawson", WD + "Q900000001",
             WDT + "P434", "00000000-0000-4000-8000-000000000001"),
        ]),
    "wikidata-people": (
        ["person", "name", "item", "born", "birthplace"], [
            (ID + "person/kimya-dawson", "Kimya Dawson", WD + "Q900000001", "1972-11-17",
             "Irvington"),
        ]),
    "wikidata-same-as": (
        ["resource", "item", "label", "description"], [
            (ID + "film/titanic", WD + "Q44578", "Titanic", None),
            (ID + "place/vancouver", WD + "Q24639", "Vancouver",
             "city in British Columbia, Canada"),
            (ID + "store/wal-mart", WD + "Q483551", "Walmart",
             "American multinational retail corporation"),
        ]),
}


@pytest.mark.parametrize("name", FEDERATED)
def test_federated_named_query_against_a_stand_in_for_wikidata(name, wikidata, built):
    """Each federated query, run as `juno-kg query` runs it (in-process pyoxigraph, which
    executes SERVICE), with its SERVICE IRI pointed at the loopback stand-in for Wikidata,
    gives the rows the build and the stand-in's data imply."""
    from juno_kg.catalogue import named_queries
    from juno_kg.query import query

    named = named_queries()[name]
    assert named.federated == WIKIDATA_SPARQL, name
    service = f"SERVICE <{WIKIDATA_SPARQL}>"
    assert named.text.count(service) == 1, name
    assert name in FEDERATED_ANSWERS, f"{name}: add the rows it gives with the stand-in"
    variables, expected = FEDERATED_ANSWERS[name]
    rows = query(named.text.replace(service, f"SERVICE <{wikidata.query_url}>"), data=built)
    assert rows.variables == variables
    assert [tuple(row.get(v) for v in variables) for row in rows.values()] == expected
