"""The supplement graph: facts from sources other than the article, each with its source.

Each entry of ``FACTS`` is one fact of the issue that gathered them (track listing, B-Sides,
release dates, chart detail, the Grammy) as a SPARQL pattern: the first part must match
inside the ``supplement`` graph, the second (names of things the article already has)
anywhere in the dataset. Further tests count Kimya Dawson's tracks, check the recorded
disagreements and that different figures are kept each with its source, and run the named
queries for the track listing and for facts by source.
"""

from __future__ import annotations

import re

import pytest
from rdflib import RDF, Namespace, URIRef

from juno_kg import query

PREFIXES = """
PREFIX jk: <https://w3id.org/juno-kg/ontology#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX prov: <http://www.w3.org/ns/prov#>
"""
S = "https://w3id.org/juno-kg/graph/supplement"
A = "https://w3id.org/juno-kg/graph/article"
ID = "https://w3id.org/juno-kg/id/"
JK = Namespace("https://w3id.org/juno-kg/ontology#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
ALBUM = "Music from the Motion Picture Juno"

DIEACADEMY = "http://dieacademy.de/2014/07/23/meine-top-10-der-besten-song-scores/7"
SHELVES = "http://shelvesofvinyl.blogspot.com/2007/12/whos-got-crack.html"
GLIDE = "https://glidemagazine.com/11053/juno-soundtrack/"
INDIELONDON = "http://www.indielondon.co.uk/Music-Review/juno-ost-review"
WELLABOVE = "http://www.wellaboveaverage.com/2008/01/juno-soundtrack.html"
SFSTATION = "https://www.sfstation.com/juno-soundtrack-a7891"
GLORIOUSNOISE = "https://gloriousnoise.com/2008/juno_original_soundtrack"
BILLBOARD = ("https://www.billboard.com/music/music-news/"
             "radiohead-nudges-blige-from-atop-album-chart-1046867")
BUZZNET = "https://www.buzznet.com/2008/01/juno-boots-alicia-keys/"
ENTERTAINEWS = "http://entertainews.blogspot.com/2008/03/star-sings-in-sequel-to-movie.html"
FOLHA = "http://www1.folha.uol.com.br/fsp/folhatee/fm0704200813.htm"
STRINGTRANSLATE = "https://es.stringtranslate.com/banda%20sonora%20/Juno_(soundtrack)"
RADAR = "https://radaronline.com/exclusives/2009/02/grammys-go-to-the-movies-php/"
ALL_SOURCES = {DIEACADEMY, SHELVES, GLIDE, INDIELONDON, WELLABOVE, SFSTATION, GLORIOUSNOISE,
               BILLBOARD, BUZZNET, ENTERTAINEWS, FOLHA, STRINGTRANSLATE, RADAR}

#: the standard album as the issue lists it: number, title, credit, performers' names
TRACKS = [
    (1, "All I Want Is You", "Barry Louis Polisar", {"Barry Louis Polisar"}),
    (2, "My Rollercoaster", "Kimya Dawson", {"Kimya Dawson"}),
    (3, "A Well Respected Man", "The Kinks", {"The Kinks"}),
    (4, "(Ummm, Oh Yeah) Dearest", "Buddy Holly", {"Buddy Holly"}),
    (5, "Up the Spout", "Mateo Messina", {"Mateo Messina"}),
    (6, "Tire Swing", "Kimya Dawson", {"Kimya Dawson"}),
    (7, "Piazza, New York Catcher", "Belle & Sebastian", {"Belle & Sebastian"}),
    (8, "Loose Lips", "Kimya Dawson", {"Kimya Dawson"}),
    (9, "Superstar", "Sonic Youth", {"Sonic Youth"}),
    (10, "Sleep", "Kimya Dawson", {"Kimya Dawson"}),
    (11, "Expectations", "Belle & Sebastian", {"Belle & Sebastian"}),
    (12, "All the Young Dudes", "Mott the Hoople", {"Mott the Hoople"}),
    (13, "So Nice So Smart", "Kimya Dawson", {"Kimya Dawson"}),
    (14, "Sea of Love", "Cat Power", {"Cat Power"}),
    (15, "Tree Hugger", "Kimya Dawson & Antsy Pants", {"Kimya Dawson", "Antsy Pants"}),
    (16, "I'm Sticking with You", "The Velvet Underground", {"The Velvet Underground"}),
    (17, "Vampire", "Antsy Pants", {"Antsy Pants"}),
    (18, "Anyone Else but You", "The Moldy Peaches", {"The Moldy Peaches"}),
    (19, "Anyone Else but You", "Michael Cera & Ellen Page", {"Michael Cera", "Elliot Page"}),
]

FACTS = {
    # the standard album
    "the album's track listing has 19 tracks (IndieLondon's 19-track CD)": (
        f'?l a jk:TrackListing ; jk:listingOf ?a ; jk:trackCount 19 ; '
        f'dcterms:source ?s . ?s jk:url <{INDIELONDON}>',
        f'?a jk:title "{ALBUM}"'),
    "tracks 1-18 numbered by dieacademy.de": (
        f'{{ SELECT (COUNT(DISTINCT ?t) AS ?n) {{ ?t jk:trackNumber ?k ; dcterms:source ?s . '
        f'?s jk:url <{DIEACADEMY}> FILTER(?k <= 18) }} }} FILTER(?n = 18)', ""),
    "track 1 opens the album (Glide Magazine, IndieLondon)": (
        f'?t jk:trackNumber 1 ; dcterms:source ?g, ?i . ?g jk:url <{GLIDE}> . '
        f'?i jk:url <{INDIELONDON}>', ""),
    "track 19 closes the album (Glide Magazine)": (
        f'?t jk:trackNumber 19 ; dcterms:source ?g . ?g jk:url <{GLIDE}>', ""),
    "the pre-release list has every track but 2": (
        f'{{ SELECT (GROUP_CONCAT(STR(?k)) AS ?n) {{ ?t jk:trackNumber ?k ; dcterms:source ?s . '
        f'?s jk:url <{SHELVES}> }} }} FILTER(!CONTAINS(CONCAT(" ", ?n, " "), " 2 "))', ""),
    # other facts
    "first release digital on 2007-12-11 by Rhino (Glorious Noise)": (
        f'?e a jk:PublicationEvent ; jk:releasedWork id:album/juno ; '
        f'jk:eventDate "2007-12-11"^^xsd:date ; jk:eventFormat id:format/digital-download ; '
        f'jk:publishedBy id:label/rhino-entertainment ; jk:firstPublication true ; '
        f'dcterms:source ?s . ?s jk:url <{GLORIOUSNOISE}>', ""),
    "CD on 2008-01-08 (SF Station)": (
        f'?e jk:releasedWork id:album/juno ; jk:eventDate "2008-01-08"^^xsd:date ; '
        f'jk:eventFormat id:format/cd ; dcterms:source ?s . ?s jk:url <{SFSTATION}>', ""),
    "UK release on 2008-01-21 (IndieLondon)": (
        f'?e jk:releasedWork id:album/juno ; jk:eventDate "2008-01-21"^^xsd:date ; '
        f'jk:eventCountry ?c ; dcterms:source ?s . ?s jk:url <{INDIELONDON}>',
        '?c jk:name "United Kingdom"'),
    "debut at 8 with about 38,000 copies, 99% digital": (
        f'?r jk:reportOn ?w ; jk:reportedCopies 38000 ; jk:approximate true ; '
        f'jk:digitalShare 0.99 ; dcterms:source ?s . ?s jk:url <{BILLBOARD}>',
        '?w jk:week 1 ; jk:position 8'),
    "number one for the week ending 2008-01-27, issue dated 2008-02-09, fourth week": (
        '?r jk:reportOn ?w ; jk:trackingWeekEnding "2008-01-27"^^xsd:date ; '
        'jk:reportedCopies 65000',
        '?w jk:week 4 ; jk:position 1 ; jk:issueDate "2008-02-09"^^xsd:date'),
    "first film soundtrack at number one since Dreamgirls": (
        '?r jk:firstFilmSoundtrackAtNumberOneSince ?d ; dcterms:source ?s . '
        '?d rdfs:label ?l FILTER(CONTAINS(STR(?l), "Dreamgirls"))', ""),
    # B-Sides
    "B-Sides has 15 tracks chosen by Jason Reitman (Reuters report, Folha)": (
        f'?l jk:listingOf id:album/juno-b-sides ; jk:trackCount 15 ; jk:selectedBy ?r ; '
        f'dcterms:source ?e, ?f . ?e jk:url <{ENTERTAINEWS}> ; jk:attributedTo ?reuters . '
        f'?f jk:url <{FOLHA}> . ?reuters jk:name "Reuters"',
        '?r jk:name "Jason Reitman"'),
    "the B-Sides tracks have no positions": (
        '?l jk:listingOf id:album/juno-b-sides ; jk:hasTrack ?t . '
        'FILTER NOT EXISTS { ?l jk:hasTrack ?n . ?n jk:trackNumber ?k }', ""),
    "the deleted-scene song is Zub Zub, by Diablo Cody": (
        '?t jk:trackRecording id:recording/deleted-scene-song ; jk:artistCredit "Ellen Page" . '
        'id:recording/deleted-scene-song jk:title "Zub Zub" ; jk:recordingOf ?song . '
        '?song jk:title "Zub Zub" ; jk:songwriter id:person/diablo-cody',
        'id:recording/deleted-scene-song jk:byArtist ?p ; jk:inDeletedSceneOf ?f . '
        '?p jk:creditedAs "Ellen Page" . id:person/diablo-cody jk:name "Diablo Cody"'),
    "Kimya Dawson covers All I Want Is You on the B-Sides": (
        '?t jk:trackRecording ?cover . ?l jk:listingOf id:album/juno-b-sides ; jk:hasTrack ?t . '
        '?cover jk:byArtist id:person/kimya-dawson ; jk:coverOf ?original ; jk:recordingOf ?song . '
        '?original jk:recordingOf ?song ; jk:byArtist ?polisar . '
        '?polisar jk:name "Barry Louis Polisar" . ?song jk:title "All I Want Is You"', ""),
    "You Can Have It All by Yo La Tengo on the B-Sides": (
        '?l jk:listingOf id:album/juno-b-sides ; jk:hasTrack ?t . ?t jk:trackRecording ?r . '
        '?r jk:title "You Can Have It All" ; jk:byArtist id:group/yo-la-tengo', ""),
    "the Gilberto trailer recording is Once I Loved (stringtranslate)": (
        f'?t jk:trackRecording id:recording/astrud-gilberto-juno-trailer-recording ; '
        f'dcterms:source ?s . ?s jk:url <{STRINGTRANSLATE}> ; jk:language ?es . '
        f'id:recording/astrud-gilberto-juno-trailer-recording jk:title "Once I Loved"',
        '?es jk:languageCode "es"'),
    "the Los Panchos trailer recording is Bésame Mucho (stringtranslate)": (
        f'?t jk:trackRecording id:recording/trio-los-panchos-juno-trailer-recording ; '
        f'dcterms:source ?s . ?s jk:url <{STRINGTRANSLATE}> . '
        f'id:recording/trio-los-panchos-juno-trailer-recording jk:title "Bésame Mucho"', ""),
    "B-Sides features Polisar, Belle & Sebastian, Holly, Jr. James, The Bristols": (
        'id:album/juno-b-sides jk:featuresArtist ?a1, ?a2, ?a3, ?a4, ?a5 . '
        '?a1 jk:name "Barry Louis Polisar" . ?a2 jk:name "Belle & Sebastian" . '
        '?a3 jk:name "Buddy Holly" . ?a4 jk:name "Jr. James & The Late Guitar" . '
        '?a5 jk:name "The Bristols"', ""),
    # the Grammy
    "Grammy for Best Compilation Soundtrack Album, 51st Grammys, accepted by Reitman": (
        f'?w a jk:AwardWin ; jk:awardedWork id:album/juno ; jk:awardReceived ?g ; '
        f'jk:ceremony "51st Grammy Awards" ; jk:ceremonyDate "2009-02"^^xsd:gYearMonth ; '
        f'jk:acceptedBy ?r ; dcterms:source ?s . ?s jk:url <{RADAR}> . '
        f'?g jk:name "Grammy Award for Best Compilation Soundtrack Album"',
        '?r jk:name "Jason Reitman"'),
}


def iris(text: str) -> str:
    """``id:kind/slug`` (not a SPARQL prefixed name: it has a slash) as a full IRI."""
    return re.sub(r"\bid:([a-z-]+/[a-z0-9-]+)", lambda m: f"<{ID}{m.group(1)}>", text)


def ask(sources, in_supplement: str, anywhere: str = "") -> bool:
    text = f"{PREFIXES}\nASK {{ GRAPH <{S}> {{ {in_supplement} }} {anywhere} }}"
    return sources.dataset.query(iris(text)).askAnswer


def select(sources, text: str) -> list[tuple]:
    return [tuple(row) for row in sources.dataset.query(iris(PREFIXES + text))]


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_the_supplement_fact_is_in_the_supplement_graph(sources, fact):
    assert ask(sources, *FACTS[fact]), fact


@pytest.mark.parametrize(("number", "title", "credit", "performers"), TRACKS,
                         ids=[f"{n:02d}" for n, *_ in TRACKS])
def test_each_track_of_the_album(sources, number, title, credit, performers):
    rows = select(sources, f"""
        SELECT ?title ?name WHERE {{
          GRAPH <{S}> {{
            ?l jk:listingOf id:album/juno ; jk:hasTrack ?t .
            ?t jk:trackNumber {number} ; jk:artistCredit "{credit}" ; jk:trackRecording ?r ;
               dcterms:source ?source .
          }}
          ?r jk:title ?title ; jk:byArtist ?artist . ?artist jk:name ?name .
        }}""")
    assert {str(t) for t, _ in rows} == {title}
    assert {str(n) for _, n in rows} == performers


def test_kimya_dawsons_tracks_number_eight_through_her_solo_work_and_her_two_bands(sources):
    rows = select(sources, f"""
        SELECT ?n ?via WHERE {{
          GRAPH <{S}> {{ ?l jk:listingOf id:album/juno ; jk:hasTrack ?t .
                        ?t jk:trackNumber ?n ; jk:trackRecording ?r . }}
          ?r jk:byArtist ?artist .
          {{ ?artist jk:name "Kimya Dawson" . BIND("solo" AS ?via) }}
          UNION {{ ?artist jk:hasMember ?k ; jk:name ?via . ?k jk:name "Kimya Dawson" }}
        }}""")
    tracks = {int(n) for n, _ in rows}
    assert len(tracks) == 8
    assert tracks == {2, 6, 8, 10, 13, 15, 17, 18}
    by_band = {str(via): {int(n) for n, v in rows if v == via} for _, via in rows}
    assert by_band["The Moldy Peaches"] == {18}
    assert by_band["Antsy Pants"] == {15, 17}
    assert by_band["solo"] - by_band["Antsy Pants"] == {2, 6, 8, 10, 13}  # five solo tracks
    # and the sources' own count agrees, with its two sources
    claim = select(sources, f"""
        SELECT ?count ?url WHERE {{ GRAPH <{S}> {{
          ?c jk:countedArtist id:person/kimya-dawson ; jk:countedIn ?l ; jk:countedTracks ?count ;
             dcterms:source ?s . ?l jk:listingOf id:album/juno . ?s jk:url ?url }} }}""")
    assert {int(c) for c, _ in claim} == {len(tracks)}
    assert {str(u) for _, u in claim} == {WELLABOVE, SFSTATION}


def test_the_17_18_disagreement_is_recorded_naming_both_sources(sources):
    rows = select(sources, f"""
        SELECT ?note ?text ?url ?followed ?n WHERE {{ GRAPH <{S}> {{
          ?d a jk:SourceDisagreement ; jk:editorialNote ?text ; dcterms:source ?s ;
             jk:followedSource ?f ; jk:disagreementAbout ?t .
          ?t jk:trackNumber ?n . ?s jk:url ?url . ?f jk:url ?followed .
          BIND(?d AS ?note) }} }}""")
    notes = {note for note, _, _, _, n in rows if int(n) in (17, 18)}
    assert len(notes) == 1
    mine = [r for r in rows if r[0] in notes]
    assert {int(r[4]) for r in mine} == {17, 18}
    assert {str(r[2]) for r in mine} == {DIEACADEMY, SHELVES}
    assert {str(r[3]) for r in mine} == {DIEACADEMY}, "the numbering follows the numbered list"
    text = str(mine[0][1])
    assert "dieacademy.de" in text and "shelvesofvinyl" in text
    # the numbering it describes is the one in the data
    order = {int(n): str(t) for n, t in select(sources, f"""
        SELECT ?n ?credit WHERE {{ GRAPH <{S}> {{ ?t jk:trackNumber ?n ;
          jk:artistCredit ?credit FILTER(?n IN (17, 18)) }} }}""")}
    assert order == {17: "Antsy Pants", 18: "The Moldy Peaches"}


def test_two_recordings_of_one_song_anyone_else_but_you(sources):
    rows = select(sources, f"""
        SELECT DISTINCT ?n ?r ?song WHERE {{
          GRAPH <{S}> {{ ?l jk:listingOf id:album/juno ; jk:hasTrack ?t .
                        ?t jk:trackNumber ?n ; jk:trackRecording ?r . }}
          ?r jk:recordingOf ?song . ?song jk:title "Anyone Else but You" .
        }} ORDER BY ?n""")
    assert [int(n) for n, _, _ in rows] == [18, 19]
    assert len({r for _, r, _ in rows}) == 2, "two recordings"
    assert {song for _, _, song in rows} == {URIRef(ID + "song/anyone-else-but-you")}
    assert [str(r) for _, r, _ in rows] == [
        ID + "recording/anyone-else-but-you-the-moldy-peaches",
        ID + "recording/anyone-else-but-you-cera-page"]
    songs = select(sources, 'SELECT DISTINCT ?s { ?s a jk:Song ; jk:title "Anyone Else but You" }')
    assert len(songs) == 1, "the song is modelled once"


@pytest.mark.parametrize(("week", "approx", "exact"), [(2, 68000, 67507), (4, 65000, 64381)])
def test_different_figures_from_different_sources_are_both_kept(sources, week, approx, exact):
    rows = select(sources, f"""
        SELECT ?copies ?approximate ?source WHERE {{
          GRAPH <{S}> {{ ?r jk:reportOn ?w ; jk:reportedCopies ?copies ;
                        jk:approximate ?approximate ; dcterms:source ?s . }}
          ?w jk:week {week} .
          OPTIONAL {{ ?s jk:url ?url }} OPTIONAL {{ ?s jk:title ?title }}
          BIND(COALESCE(STR(?url), STR(?title)) AS ?source)
        }}""")
    got = {(int(c), bool(a.toPython()), str(s)) for c, a, s in rows}
    assert (approx, True, BILLBOARD) in got
    assert (approx, True, BUZZNET) in got
    assert got - {(approx, True, BILLBOARD), (approx, True, BUZZNET)} == {
        (exact, False, "Rolling Stone")}, "Rolling Stone's figure, with Rolling Stone as source"
    note = select(sources, f"""
        SELECT ?text WHERE {{ GRAPH <{S}> {{ ?d a jk:SourceDisagreement ;
          jk:disagreementAbout ?w ; jk:editorialNote ?text }} ?w jk:week {week} }}""")
    assert len(note) == 1
    assert f"{exact:,}" in str(note[0][0]) and f"{approx:,}" in str(note[0][0])


def test_the_first_release_date_disagreement_keeps_both(sources):
    article_date = select(sources, f"""SELECT ?d {{ GRAPH <{A}> {{
        id:album/juno jk:firstReleaseDate ?d }} }}""")
    assert [str(d) for (d,) in article_date] == ["2008-01-08"]
    assert ask(sources, '?n a jk:SourceDisagreement ; jk:disagreementAbout id:album/juno ; '
                        'dcterms:source id:source/wikipedia-juno-soundtrack, ?g . '
                        f'?g jk:url <{GLORIOUSNOISE}>')


def test_every_source_url_is_a_source_node(sources):
    rows = select(sources, f"""SELECT ?s ?url ?site ?label WHERE {{ GRAPH <{S}> {{
        ?s a jk:WebPage ; jk:url ?url ; jk:siteName ?site ; rdfs:label ?label }} }}""")
    assert {str(u) for _, u, _, _ in rows} == ALL_SOURCES
    assert len(rows) == len(ALL_SOURCES), "one source node per URL"
    cited = {str(u) for (u,) in select(sources, f"""SELECT DISTINCT ?url {{ GRAPH <{S}> {{
        ?claim dcterms:source ?s . ?s jk:url ?url }} }}""")}
    assert cited == ALL_SOURCES, "every source is cited by some claim"


def test_every_supplement_claim_cites_a_source(sources):
    graph = sources.graph("supplement")
    claims = set()
    for cls in ("Track", "TrackListing", "PublicationEvent", "ChartReport", "AwardWin",
                "SourceDisagreement", "ArtistTrackCount"):
        found = set(graph.subjects(RDF.type, JK[cls]))
        assert found, cls
        claims |= found
    for claim in claims:
        assert list(graph.objects(claim, DCTERMS.source)), f"{claim} cites no source"


def test_no_durations_and_no_uncited_songwriters(sources):
    graph = sources.graph("supplement")
    assert not [p for p in set(graph.predicates()) if "duration" in str(p).lower()]
    writers = {(str(s), str(o)) for s, o in graph.subject_objects(JK.songwriter)}
    assert writers == {(ID + "song/zub-zub", ID + "person/diablo-cody")}, \
        "no cited source names the writers of Superstar or Sea of Love"


def test_the_standard_view_numbers_the_tracks(sources):
    from juno_kg.enrich import materialise

    view = materialise(sources)
    rows = view.query("""
        PREFIX mo: <http://purl.org/ontology/mo/>
        PREFIX schema: <http://schema.org/>
        SELECT ?n WHERE { ?album mo:track ?t . ?t a mo:Track ; mo:track_number ?n ;
                          schema:position ?n ; schema:item ?r . ?r a schema:MusicRecording }""")
    assert sorted(int(r.n) for r in rows) == list(range(1, 20))


# --------------------------------------------------------------------------- named queries

def test_track_listing_query_gives_the_19_tracks_in_order_traceable_to_sources(built):
    rows = query("tracks", data=built).values()
    assert [(int(r["position"]), r["title"], r["by"]) for r in rows] == [
        (n, title, credit) for n, title, credit, _ in TRACKS]
    for row in rows:
        urls = set(row["sources"].split())
        assert urls and urls <= ALL_SOURCES, row
        assert row["track"].startswith(ID + "track/")
    assert set(rows[0]["sources"].split()) == {DIEACADEMY, SHELVES, GLIDE, INDIELONDON}
    assert rows[18]["sources"].split() == [GLIDE]


def test_facts_by_source_separate_the_article_from_the_supplement(built, sources):
    rows = query("facts-by-source", data=built).values()
    by_graph: dict[str, set[str]] = {}
    for row in rows:
        by_graph.setdefault(row["graph"], set()).add(row["fact"])
    assert set(by_graph) == {A, S}
    assert not by_graph[A] & by_graph[S], "each fact is stated in one graph"
    assert ID + "release/juno-original" in by_graph[A]
    assert ID + "certification/juno-riaa-platinum" in by_graph[A]
    assert ID + "track/juno-01" in by_graph[S]
    assert ID + "award-win/juno-grammy-best-compilation-soundtrack-album" in by_graph[S]
    assert ID + "publication-event/juno-digital-2007-12-11" in by_graph[S]
    article_sources = {URIRef(r["source"]) for r in rows if r["graph"] == A}
    supplement_sources = {URIRef(r["source"]) for r in rows if r["graph"] == S}
    sections = set(sources.dataset.subjects(RDF.type, JK.ArticleSection))
    cited_by_article = set(sources.dataset.objects(None, JK.cites))
    assert article_sources <= sections | cited_by_article
    assert not supplement_sources & sections, "no supplement fact claims an article section"
    urls = {r["url"] for r in rows if r["graph"] == S and r.get("url")}
    # the supplement cites its web pages (and, on the side of a disagreement, the article)
    assert urls <= ALL_SOURCES | {"https://en.wikipedia.org/wiki/Juno_(soundtrack)"}
    assert {DIEACADEMY, RADAR, GLORIOUSNOISE} <= urls
