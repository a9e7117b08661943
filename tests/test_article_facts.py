"""Coverage: the article's facts, sentence by sentence, are in the data and typed correctly.

Each entry is one fact of the source article as a SPARQL pattern that must match the
``article`` graph. Prose is not copied; the facts are.
"""

from __future__ import annotations

import pytest
from rdflib import XSD, Literal, URIRef

PREFIXES = """
PREFIX jk: <https://w3id.org/juno-kg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX schema: <http://schema.org/>
PREFIX id: <https://w3id.org/juno-kg/id/>
"""
A = "https://w3id.org/juno-kg/graph/article"

FACTS = {
    # lead and categories
    "album title": '?a jk:title "Music from the Motion Picture Juno"',
    "released 2008-01-08": '?a jk:firstReleaseDate "2008-01-08"^^xsd:date . '
                           '?r jk:releaseOf ?a ; jk:releaseDate "2008-01-08"^^xsd:date',
    "soundtrack of the film Juno": '?a jk:soundtrackOf ?f . ?f jk:title "Juno"',
    "the film won an Academy Award": '?f jk:title "Juno" ; jk:wonAward ?w . ?w jk:name ?n '
                                     'FILTER(CONTAINS(?n, "Academy Award"))',
    "nine Wikipedia categories": '{ SELECT (COUNT(DISTINCT ?c) AS ?n) '
                                 '{ ?x jk:inCategory ?c } } FILTER(?n = 9)',
    "English language": '?a jk:title "Music from the Motion Picture Juno" ; jk:language ?l . '
                        '?l jk:languageCode "en"',
    "indie rock": '?a jk:genre ?g . ?g skos:prefLabel ?gl FILTER(LCASE(STR(?gl)) = "indie rock")',
    "Rhino label": '?r jk:releaseOf ?a ; jk:recordLabel ?l . ?l jk:name ?n '
                   'FILTER(CONTAINS(?n, "Rhino"))',
    # background
    "Kimya Dawson and her bands are featured": '?a jk:featuresArtist ?k, ?ap, ?mp . '
        '?k jk:name "Kimya Dawson" . ?ap jk:name "Antsy Pants" ; jk:hasMember ?k . '
        '?mp jk:name "The Moldy Peaches" ; jk:hasMember ?k',
    "Elliot Page, credited as Ellen Page": '?p jk:name "Elliot Page" ; jk:creditedAs "Ellen Page"',
    "Page is the lead actress": '?role jk:roleHolder ?p ; jk:roleType ?t . '
                                '?p jk:name "Elliot Page" . ?t skos:prefLabel ?tl '
                                'FILTER(CONTAINS(LCASE(STR(?tl)), "lead"))',
    "liner notes by Reitman dated 2007-11-04": '?s a jk:LinerNotes ; jk:author ?r ; '
        'jk:publicationDate "2007-11-04"^^xsd:date ; jk:title ?t . ?r jk:name "Jason Reitman"',
    "Reitman asked Page before shooting": '?e jk:agent ?r ; jk:recipient ?p ; jk:phase ?ph . '
        '?r jk:name "Jason Reitman" . ?p jk:name "Elliot Page" . ?ph skos:prefLabel ?l '
        'FILTER(CONTAINS(LCASE(STR(?l)), "before"))',
    "Page answered The Moldy Peaches": '?q jk:quotedText ?t ; jk:spokenBy ?p . '
        '?p jk:name "Elliot Page" FILTER(STR(?t) = "The Moldy Peaches")',
    "Reitman's question, quoted, answered by Page": '?q jk:quotedText ?t ; jk:spokenBy ?r ; '
        'jk:quotedInEvent ?e ; dcterms:source ?notes . ?r jk:name "Jason Reitman" . '
        '?e jk:recipient ?p . ?p jk:name "Elliot Page" . ?notes a jk:LinerNotes . '
        '?a jk:answerTo ?q ; jk:spokenBy ?p FILTER(STR(?t) = "What do you think Juno listens to?")',
    "Page played the songs, Reitman fell for them": '?play jk:agent ?p ; jk:recipient ?r ; '
        'jk:concerns ?mp . ?love jk:agent ?r ; jk:concerns ?mp ; jk:precededBy ?play ; '
        'jk:eventType ?t . ?p jk:name "Elliot Page" . ?r jk:name "Jason Reitman" . '
        '?mp jk:name "The Moldy Peaches" . ?t skos:prefLabel "approval"@en',
    "Page played the songs on Reitman's computer": '?play jk:agent ?p ; jk:concerns ?mp ; '
        'jk:usedDevice ?pc . ?pc a jk:Device ; jk:ownedBy ?r . ?p jk:name "Elliot Page" . '
        '?r jk:name "Jason Reitman" . ?mp jk:name "The Moldy Peaches"',
    "Reitman found Dawson's work beautiful": '?e jk:agent ?r ; jk:concerns ?k ; jk:eventType ?t ;'
        ' jk:precededBy ?sent . ?sent jk:agent ?k ; jk:resultedIn ?a . ?r jk:name '
        '"Jason Reitman" . ?k jk:name "Kimya Dawson" . ?t skos:prefLabel "approval"@en',
    "a song the characters would sing to each other: the Cera/Page duet": '?e jk:agent ?r, ?c ; '
        'jk:concerns ?mp ; jk:proposedSongUse ?use ; jk:resultedIn ?duet . '
        '?r jk:name "Jason Reitman" . ?c jk:name "Diablo Cody" . ?mp jk:name "The Moldy Peaches" .'
        ' ?use skos:prefLabel ?l . ?duet jk:byArtist ?m, ?p ; jk:coverOf ?orig . '
        '?m jk:name "Michael Cera" . ?p jk:name "Elliot Page" . ?orig jk:byArtist ?mp '
        'FILTER(CONTAINS(STR(?l), "each other"))',
    "Reitman and Cody discussed a song": '?e jk:agent ?r, ?c . ?r jk:name "Jason Reitman" . '
                                         '?c jk:name "Diablo Cody"',
    "Dawson sent her work": '?e jk:agent ?k ; jk:recipient ?r ; jk:resultedIn ?a . '
                            '?k jk:name "Kimya Dawson" . ?r jk:name "Jason Reitman"',
    "glam rock considered and rejected": '?e jk:concerns ?g ; jk:rejectionReason ?why . '
                                         '?g skos:prefLabel ?l FILTER(CONTAINS(LCASE(STR(?l)), '
                                         '"glam"))',
    "temp score with Yo La Tengo replacing it": '?e jk:concerns ?y ; jk:replaces ?old . '
                                                '?y jk:name "Yo La Tengo"',
    "contacted Dawson after Anyone Else but You": '?c jk:recipient ?k ; jk:precededBy ?h . '
        '?k jk:name "Kimya Dawson" . ?h jk:concerns ?rec . ?rec jk:title "Anyone Else but You"',
    "screenplay condition, then solo albums": '?c jk:requires ?s . ?s a jk:Screenplay . '
                                              '?n jk:precededBy ?c ; jk:agent ?k . '
                                              '?k jk:name "Kimya Dawson"',
    "a package of her solo albums, sent to Reitman to review": '?c jk:requires ?s ; '
        'jk:agent ?k . ?s a jk:Screenplay . ?n jk:precededBy ?c ; jk:agent ?k ; '
        'jk:recipient ?r ; jk:itemSent ?pkg ; jk:purpose ?why . ?why skos:prefLabel "review"@en .'
        ' ?pkg a jk:Package ; jk:containsAlbumsBy ?k ; prov:wasDerivedFrom ?sec ; '
        'dcterms:source ?rs . ?rs jk:page ?pg . ?k jk:name "Kimya Dawson" . '
        '?r jk:name "Jason Reitman"',
    "Rolling Stone 1046, 2008-02-24, p. 16": '?art jk:page ?pg ; jk:inIssue ?i . '
        '?i jk:issueNumber ?num ; jk:publicationDate "2008-02-24"^^xsd:date '
        'FILTER(STR(?num) = "1046" && STR(?pg) = "16")',
    "cover by Cera and Page of The Moldy Peaches' song": '?c jk:coverOf ?o ; jk:byArtist ?m, ?p ;'
        ' jk:recordingOf ?s . ?o jk:recordingOf ?s ; jk:byArtist ?mp . '
        '?m jk:name "Michael Cera" . ?p jk:name "Elliot Page" . ?mp jk:name "The Moldy Peaches"',
    "recorded on the last day of filming in Vancouver": '?c jk:recordedAt ?e . '
        '?e jk:place ?st ; jk:phase ?ph . ?st jk:containedInPlace ?v . ?v jk:name "Vancouver" . '
        '?ph skos:prefLabel "last day of filming"@en',
    "Dawson coached the duo in rehearsal": '?e jk:agent ?k ; jk:recipient ?m, ?p ; jk:phase ?ph .'
        ' ?k jk:name "Kimya Dawson" . ?m jk:name "Michael Cera" . ?p jk:name "Elliot Page"',
    "Dawson's remark": '?q jk:spokenBy ?k ; jk:quotedText ?t . ?k jk:name "Kimya Dawson" '
                       'FILTER(CONTAINS(STR(?t), "sing it better"))',
    # songs used in the film and promotion
    "Gilberto and Los Panchos recordings later on B-Sides": '?b jk:title '
        '"Juno B-Sides: Almost Adopted Songs" ; jk:includesRecording ?g, ?t . '
        '?g jk:byArtist ?ag . ?ag jk:name "Astrud Gilberto" . '
        '?t jk:byArtist ?at . ?at jk:name "Trio Los Panchos"',
    "incidental score in the trailers": '?r jk:usedInTrailerOf ?f . FILTER NOT EXISTS '
                                        '{ ?r jk:byArtist ?x }',
    # chart run and certification
    "Billboard 200 weeks 8, 3, 2, 1, 2": '{ SELECT (GROUP_CONCAT(STR(?pos); separator=",") AS ?s)'
        ' { { SELECT ?pos { ?run jk:weeklyPosition ?w . ?w jk:week ?n ; jk:position ?pos } '
        'ORDER BY ?n } } } FILTER(?s = "8,3,2,1,2")',
    "number one in the issue dated 2008-02-09 with 65,000 copies": '?w jk:position 1 ; '
        'jk:issueDate "2008-02-09"^^xsd:date ; jk:copiesSold 65000',
    "one week at number one": '?run jk:weeksAtNumberOne 1 ; jk:peakPosition 1',
    "RIAA platinum in the US, over 1,000,000": '?c jk:certifiedBy ?riaa ; jk:units 1000000 ; '
        'jk:country ?us ; jk:certificationLevel ?lvl ; dcterms:source ?src . '
        '?lvl skos:prefLabel ?l FILTER(CONTAINS(LCASE(STR(?l)), "platinum"))',
    "RIAA database page accessed 2011-02-20": '?src jk:title "Gold & Platinum - February 19, 2011"'
                                              ' ; jk:accessDate "2011-02-20"^^xsd:date ; jk:url ?u',
    "RIAA database page dated 2011-02-19": '?c jk:certifiedBy ?riaa ; dcterms:source ?src . '
        '?src jk:asOf "2011-02-19"^^xsd:date ; jk:publisher ?riaa',
    "the High School Musical 2 soundtrack, titled": '?m jk:firstSince ?h . ?h a jk:Album ; '
        'jk:title "High School Musical 2" ; jk:soundtrackOf ?f . '
        '?f jk:title "High School Musical 2"',
    "first soundtrack at No. 1 since High School Musical 2 (2007-09)": '?m jk:firstSince ?h ; '
        'jk:previousOccurrence "2007-09"^^xsd:gYearMonth ; dcterms:source ?b . '
        '?b jk:author ?k . ?k jk:name "Katie Hasty"',
    "first number-one album for Rhino": '?m jk:forLabel ?l ; jk:achievedBy ?a',
    "first Fox No. 1 soundtrack since Titanic (1997)": '?m jk:forStudio ?fox ; jk:firstSince ?t ;'
        ' jk:previousOccurrence "1997"^^xsd:gYear . ?t jk:title "Titanic"',
    "Billboard article 2008-01-30, accessed 2008-01-30": '?b a jk:NewsArticle ; '
        'jk:publicationDate "2008-01-30"^^xsd:date ; jk:accessDate "2008-01-30"^^xsd:date ; '
        'jk:title ?t ; jk:url ?u ; jk:publisher ?p',
    # B-Sides
    "B-Sides is a second soundtrack, released after the first": '?b jk:companionOf ?a ; '
        'jk:soundtrackOf ?f ; jk:firstReleaseDate ?d1 . ?a jk:soundtrackOf ?f ; '
        'jk:firstReleaseDate ?d0 FILTER(?d1 > ?d0)',
    "The Simpsons Movie opens with Ralph Wiggum singing the fanfare": '?s jk:opensFilm ?f ; '
        'jk:sungByCharacter ?w ; jk:recordingOf ?fan . ?f jk:title "The Simpsons Movie" . '
        '?w jk:name "Ralph Wiggum" . ?fan jk:title "20th Century Fox Fanfare" . '
        '?q jk:quotedText ?t ; jk:refersTo ?f, ?s FILTER(CONTAINS(STR(?t), "beat them to it"))',
    "B-Sides on 2008-04-08, iTunes Store exclusive": '?r jk:releaseDate "2008-04-08"^^xsd:date ;'
        ' jk:exclusiveTo ?s . ?s jk:name "iTunes Store"',
    "B-Sides to other providers on 2008-05-13": '?r jk:releaseDate "2008-05-13"^^xsd:date ; '
                                                'jk:widensRelease ?first',
    "fanfare version by Dawson and Messina, pre-empted by The Simpsons Movie": '?r jk:byArtist '
        '?k, ?m ; jk:recordingOf ?fan . ?m jk:name "Mateo Messina" . ?e jk:concerns ?r ; '
        'jk:preemptedBy ?s . ?s jk:sungByCharacter ?w . ?w jk:name "Ralph Wiggum"',
    "a song sung by Juno (Page) in a deleted scene": '?r jk:sungByCharacter ?j ; '
        'jk:inDeletedSceneOf ?f ; jk:byArtist ?p . ?p jk:name "Elliot Page"',
    "B-Sides digital format credit, Los Angeles, Rhino Records, 2008": '?s a '
        'jk:DigitalPublication ; jk:publicationYear "2008"^^xsd:gYear ; jk:placeOfPublication ?la'
        ' . ?la jk:name "Los Angeles"',
    # deluxe edition and mix CD
    "two-disc deluxe edition on 2008-11-18": '?r jk:releaseDate "2008-11-18"^^xsd:date ; '
        'jk:discCount 2 ; jk:disc ?d1, ?d2 . ?d1 jk:discNumber 1 ; jk:containsAllTracksOf ?a . '
        '?d2 jk:discNumber 2 ; jk:containsAllTracksOf ?b . ?b jk:title '
        '"Juno B-Sides: Almost Adopted Songs"',
    "official soundtrack site, Rhino.com, accessed 2011-02-20": '?s a jk:Website ; jk:url '
        '<http://www.rhino.com/juno/> ; jk:accessDate "2011-02-20"^^xsd:date',
    "Juno's Mix CD with initial Wal-Mart DVDs, one exclusive": '?r jk:releaseOf ?m ; '
        'jk:bundledWith ?dvd ; jk:availableFrom ?w ; jk:initialCopiesOnly true . '
        '?w jk:name "Wal-Mart" . ?m jk:exclusiveTrackCount 1 ; jk:includesMaterialFrom ?b',
}


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_the_article_fact_is_in_the_data(sources, fact):
    query = f"{PREFIXES}\nASK {{ GRAPH <{A}> {{ {FACTS[fact]} }} }}"
    assert sources.dataset.query(query).askAnswer, fact


def test_dates_are_dates_and_counts_are_integers(sources):
    graph = sources.graph("article")
    date_props = ("releaseDate", "firstReleaseDate", "issueDate", "publicationDate",
                  "accessDate", "asOf")
    int_types = (XSD.integer, XSD.nonNegativeInteger, XSD.positiveInteger)
    int_props = ("position", "week", "copiesSold", "units", "peakPosition", "weeksAtNumberOne",
                 "discCount", "discNumber", "chartSize")
    ns = "https://w3id.org/juno-kg/ontology#"
    for _, p, o in graph:
        local = str(p)[len(ns):] if str(p).startswith(ns) else None
        if local in date_props:
            assert isinstance(o, Literal) and o.datatype == XSD.date, (p, o)
        if local in int_props:
            assert isinstance(o, Literal) and o.datatype in int_types, (p, o)


def test_every_claim_node_cites_the_article_section(sources):
    graph = sources.graph("article")
    prov = URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")
    ns = "https://w3id.org/juno-kg/ontology#"
    claims = ("ChartPosition", "ChartRun", "Certification", "Release", "ChartMilestone",
              "ProductionEvent", "RecordingSession", "FilmRole", "Quotation", "Package",
              "Device")
    rdf_type = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    for cls in claims:
        nodes = set(graph.subjects(rdf_type, URIRef(ns + cls)))
        assert nodes, cls
        for node in nodes:
            assert list(graph.objects(node, prov)), f"{node} has no prov:wasDerivedFrom"


SCHEMA_ONLY = """
PREFIX schema: <http://schema.org/>
SELECT ?album ?name ?date ?label ?labelName WHERE {
  ?album a schema:MusicAlbum ; schema:name ?name ; schema:albumRelease ?release .
  ?release schema:datePublished ?date ; schema:recordLabel ?label .
  ?label schema:name ?labelName .
  FILTER(STR(?name) = "Music from the Motion Picture Juno")
} ORDER BY ?date
"""


def test_a_schema_org_only_query_finds_album_date_and_label(sources):
    from juno_kg.enrich import materialise

    view = materialise(sources)  # the inferred graph, without the jk: data
    rows = list(view.query(SCHEMA_ONLY))
    assert rows, "schema.org view lacks the album, its release date or its label"
    assert str(rows[0].date) == "2008-01-08"
    assert "Rhino" in str(rows[0].labelName)


#: The two circumstances the event descriptions once kept only in prose, as the standard
#: view answers them: Page played the songs on a device Reitman owns (schema:instrument,
#: schema:owns), and the cover was recorded in a place within Vancouver, its streets
#: (schema:location, schema:containedInPlace).
CIRCUMSTANCES = """
PREFIX schema: <http://schema.org/>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?play ?device ?session ?street WHERE {
  ?play schema:instrument ?device ; prov:used ?device ; prov:wasAssociatedWith ?page .
  ?device a schema:IndividualProduct .
  ?reitman schema:owns ?device ; schema:name "Jason Reitman" .
  ?page schema:name "Elliot Page" .
  ?session schema:location ?street ; schema:performer ?page, ?cera .
  ?cera schema:name "Michael Cera" .
  ?street schema:containedInPlace ?city ; schema:name ?streetName .
  ?city schema:name "Vancouver" .
  FILTER(CONTAINS(LCASE(?streetName), "streets"))
}
"""


def test_the_computer_and_the_streets_are_triples_not_prose(sources):
    """Both circumstances are facts in the article graph (the device with its owner and
    provenance, the streets within Vancouver) and reach a schema.org/PROV-only user."""
    from juno_kg.enrich import materialise

    graph = sources.graph("article")
    facts = f"""{PREFIXES}
    SELECT ?device ?street WHERE {{
      ?play jk:usedDevice ?device ; jk:agent ?page ; jk:recipient ?reitman ;
            jk:concerns ?mp ; dcterms:source ?notes .
      ?device a jk:Device ; jk:ownedBy ?reitman ; prov:wasDerivedFrom ?section ;
              dcterms:source ?notes .
      ?section jk:cites ?notes . ?notes a jk:LinerNotes .
      ?page jk:name "Elliot Page" . ?reitman jk:name "Jason Reitman" .
      ?mp jk:name "The Moldy Peaches" .
      ?cover jk:recordedAt ?session ; jk:coverOf ?original .
      ?session jk:place ?street ; jk:phase ?phase ; prov:wasDerivedFrom ?section .
      FILTER NOT EXISTS {{ ?session dcterms:source ?anything }}
      ?street a jk:Place ; jk:containedInPlace ?city .
      ?city jk:name "Vancouver" . ?phase skos:prefLabel "last day of filming"@en .
    }}"""
    rows = list(graph.query(facts))
    assert [(str(r.device).rsplit("/", 2)[-2:], str(r.street).rsplit("/", 2)[-2:])
            for r in rows] == [(["device", "jason-reitman-computer"],
                                ["place", "streets-of-vancouver"])]
    view = materialise(sources)
    assert len(list(view.query(CIRCUMSTANCES))) == 1, "the standard view lacks them"
