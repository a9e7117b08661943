"""The standard-vocabulary view: what a consumer who knows only schema.org, or only the
Music Ontology, gets from the published data.

Each query runs on the standard view alone (the ``inferred`` graph, no ``jk:`` triple), cut
down further to the one vocabulary it uses, so a passing test shows that the terms of that
vocabulary are enough. The two track-list queries are the shapes the vocabularies document:
schema.org's ``schema:track`` → ``schema:ItemList`` → ``schema:ListItem`` (``schema:position``,
``schema:item``), and the Music Ontology's ``mo:Record`` → ``mo:track`` → ``mo:Track``
(``mo:track_number``, ``mo:publication_of`` a ``mo:Signal`` whose ``foaf:maker`` is the artist).
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from rdflib import RDF, Graph, Literal, URIRef

from juno_kg.enrich import materialise

SCHEMA = "http://schema.org/"
MO = "http://purl.org/ontology/mo/"
FOAF = "http://xmlns.com/foaf/0.1/"
DCTERMS = "http://purl.org/dc/terms/"
ID = "https://w3id.org/juno-kg/id/"
ALBUM = "Music from the Motion Picture Juno"


@pytest.fixture(scope="module")
def view(sources) -> Graph:
    """The inferred graph: the standard view, without any of the data's own triples."""
    return materialise(sources)


def only(graph: Graph, *namespaces: str) -> Graph:
    """The triples of ``graph`` whose property (and, for rdf:type, class) is in one of
    ``namespaces``."""
    out = Graph()
    for s, p, o in graph:
        term = o if p == RDF.type else p
        if str(term).startswith(namespaces):
            out.add((s, p, o))
    return out


SCHEMA_TRACKS = """
PREFIX schema: <http://schema.org/>
SELECT ?n ?recording ?title (GROUP_CONCAT(?artistName; separator="|") AS ?by) WHERE {
  ?album a schema:MusicAlbum ; schema:name "Music from the Motion Picture Juno" .
  ?album schema:track ?list . ?list schema:itemListElement ?item .
  ?item schema:position ?n ; schema:item ?recording .
  ?recording schema:name ?title ; schema:byArtist ?artist .
  ?artist schema:name ?artistName .
} GROUP BY ?n ?recording ?title ORDER BY ?n
"""

MO_TRACKS = """
PREFIX mo:      <http://purl.org/ontology/mo/>
PREFIX foaf:    <http://xmlns.com/foaf/0.1/>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?n ?recording ?title (GROUP_CONCAT(?artistName; separator="|") AS ?by) WHERE {
  # the album is the record (mo:Record) that has the tracks
  ?album a mo:Record ; dcterms:title "Music from the Motion Picture Juno" ; mo:track ?t .
  ?t a mo:Track ; mo:track_number ?n ; dcterms:title ?title ; mo:publication_of ?recording .
  ?recording a mo:Signal ; foaf:maker ?artist .
  ?artist foaf:name ?artistName .
} GROUP BY ?n ?recording ?title ORDER BY ?n
"""


def _check_track_list(rows) -> None:
    assert len(rows) == 19, [tuple(map(str, r)) for r in rows]
    assert [int(r.n) for r in rows] == list(range(1, 20)), "the 19 tracks, in order"
    assert len({r.recording for r in rows}) == 19, "one recording per track"
    first, last = rows[0], rows[-1]
    assert str(first.title) == "All I Want Is You"
    assert str(first.by).split("|") == ["Barry Louis Polisar"]
    assert str(last.title) == "Anyone Else but You"
    assert "Michael Cera" in str(last.by).split("|")
    assert "Elliot Page" in str(last.by).split("|")


def test_a_schema_org_user_gets_the_ordered_track_list_from_the_album(view):
    rows = list(only(view, SCHEMA).query(SCHEMA_TRACKS))
    _check_track_list(rows)


def test_a_music_ontology_user_gets_the_ordered_track_list_from_the_album(view):
    rows = list(only(view, MO, FOAF, DCTERMS).query(MO_TRACKS))
    _check_track_list(rows)


def test_the_mo_track_count_and_the_list_size_agree(view):
    album = next(s for s in view.subjects(URIRef(DCTERMS + "title"), Literal(ALBUM)))
    assert view.value(album, URIRef(MO + "track_count")) == Literal(19)
    lists = list(view.objects(album, URIRef(SCHEMA + "track")))
    sized = [x for x in lists if view.value(x, URIRef(SCHEMA + "numberOfItems")) is not None]
    assert [int(view.value(x, URIRef(SCHEMA + "numberOfItems"))) for x in sized] == [19]


def test_the_music_ontology_reaches_the_performers_of_the_duet(view):
    """Only ``mo:`` terms: the track's signal was recorded as the performance whose
    performers are Michael Cera and Elliot Page."""
    rows = list(only(view, MO).query("""
        PREFIX mo: <http://purl.org/ontology/mo/>
        SELECT ?n ?performer WHERE {
          ?album mo:track ?t . ?t mo:track_number ?n ; mo:publication_of ?signal .
          ?performance a mo:Performance ; mo:recorded_as ?signal ; mo:performer ?performer .
        } ORDER BY ?performer"""))
    assert {(int(r.n), str(r.performer)) for r in rows} == {
        (19, ID + "person/elliot-page"), (19, ID + "person/michael-cera")}


def test_the_listing_is_no_mo_record_and_has_no_mo_terms(view):
    """mo:track and mo:track_count (domain mo:Record) hang off the album, not the list."""
    for listing in view.subjects(RDF.type, URIRef(SCHEMA + "ItemList")):
        assert not [p for p in view.predicates(listing, None) if str(p).startswith(MO)]
        assert (listing, RDF.type, URIRef(MO + "Record")) not in view
    for s in view.subjects(URIRef(MO + "track"), None):
        assert (s, RDF.type, URIRef(MO + "Record")) in view, s


NAMES = (SCHEMA + "name", FOAF + "name", DCTERMS + "title")


def test_one_name_per_resource_per_language(sources, view):
    """In the standard view (data and inferred graph together), no resource has two values
    of a name property that differ only by language tag or datatype, nor two in one
    language."""
    union = Graph()
    for name in ("article", "supplement", "links"):
        union += sources.graph(name)
    union += view
    problems = []
    for prop in NAMES:
        by_subject: dict = defaultdict(list)
        for s, o in union.subject_objects(URIRef(prop)):
            if isinstance(o, Literal):
                by_subject[s].append(o)
        for s, values in by_subject.items():
            texts = [str(v) for v in values]
            languages = [v.language for v in values]
            if len(set(texts)) < len(texts) or len(set(languages)) < len(languages):
                problems.append(f"{s} {prop}: {sorted(v.n3() for v in values)}")
    assert not problems, "\n".join(problems)


def test_the_album_page_lists_the_tracks_in_track_order(built):
    html = (built / "page" / "album" / "juno.html").read_text("utf-8")
    section = html.split('<section id="tracks">', 1)[1].split("</section>", 1)[0]
    numbers = [int(n) for n in re.findall(r'<li value="(\d+)"', section)]
    assert numbers == list(range(1, 20))
    items = re.findall(r"<li[^>]*>(.*?)</li>", section, re.S)
    assert "all-i-want-is-you-barry-louis-polisar" in items[0]
    assert "Barry Louis Polisar" in items[0]
    assert "anyone-else-but-you-cera-page" in items[-1] and "Michael Cera" in items[-1]
