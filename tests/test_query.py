"""The SPARQL query helper: named queries and their answers, the library API, the CLI.

Every named query's expected answer below was worked out by hand from the facts of the
source article (English Wikipedia, "Juno (soundtrack)"), not copied from an engine. They are
checked exactly on the article's part of the shipped data (the ontology, article and links
graphs of the build's N-Quads); on the whole dataset, which adds the supplement's facts
(track listing, more recordings), the article's rows must all still be there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from juno_kg import query
from juno_kg.catalogue import named_queries
from juno_kg.errors import QueryError
from juno_kg.query import Rows, Triples, render_table

from .conftest import run_cli

ID = "https://w3id.org/juno-kg/id/"
JK = "https://w3id.org/juno-kg/ontology#"
GRAPH = "https://w3id.org/juno-kg/graph/"
B_SIDES = "Juno B-Sides: Almost Adopted Songs"
ALBUM = "Music from the Motion Picture Juno"


@pytest.fixture(scope="session")
def article(built, tmp_path_factory) -> Path:
    """The build's N-Quads restricted to the ontology, article and links graphs."""
    keep = tuple(f"<{GRAPH}{name}> .\n" for name in ("ontology", "article", "links"))
    path = tmp_path_factory.mktemp("article") / "article.nq"
    with (built / "dumps" / "juno-kg.nq").open(encoding="utf-8") as quads:
        path.write_text("".join(line for line in quads if line.endswith(keep)), "utf-8")
    return path


def rows(name: str, built, params=None, columns=None) -> list[tuple]:
    answer = query(name, params, data=built)
    assert isinstance(answer, Rows), f"{name} is not a SELECT"
    columns = columns or answer.variables
    return [tuple(r.get(c, "") for c in columns) for r in answer.values()]


# --------------------------------------------------------------------------- answers

def check_album(built):
    assert rows("album", built, columns=["fact", "value"]) == [
        ("title", ALBUM),
        ("first released", "2008-01-08"),
        ("soundtrack of", "Juno"),
        ("record label", "Rhino Entertainment"),
        ("genre", "compilation"), ("genre", "film soundtrack"), ("genre", "indie rock"),
        ("features", "Antsy Pants"), ("features", "Kimya Dawson"),
        ("features", "The Moldy Peaches"),
        ("peak position", "1 on the Billboard 200"),
        ("certification", "Platinum (RIAA)"),
    ]


def check_releases(built):
    got = rows("releases", built, columns=["date", "album", "channel"])
    assert got == [
        ("2008-01-08", ALBUM, ""),
        ("2008-04-08", B_SIDES, "exclusive to iTunes Store"),
        ("2008-05-13", B_SIDES, ""),
        ("2008-11-18", ALBUM, ""),
        ("", "Juno's Mix CD", "with Juno on DVD at Wal-Mart"),
    ]


def check_chart_run(built):
    assert rows("chart-run", built, columns=["week", "position", "issueDate",
                                              "copiesSold"]) == [
        ("1", "8", "", ""), ("2", "3", "", ""), ("3", "2", "", ""),
        ("4", "1", "2008-02-09", "65000"), ("5", "2", "", ""),
    ]


def check_certifications(built):
    got = rows("certifications", built, columns=["kind", "by", "units", "date", "since"])
    assert sorted(got) == sorted([
        ("certification", "RIAA", "1000000", "", ""),
        ("milestone", "Billboard 200", "", "2008-02-09", ""),  # first no. 1 for Rhino
        ("milestone", "Billboard 200", "", "2008-02-09", "Titanic"),
        ("milestone", "Billboard 200", "", "2008-02-09", "High School Musical 2 soundtrack"),
    ])
    whats = [r["what"] for r in query("certifications", data=built).values()]
    assert whats[0] == "Platinum"
    assert any("Rhino" in w for w in whats)


def check_people(built):
    got = rows("people", built, columns=["name", "role"])
    assert got == [
        ("Astrud Gilberto", "performer"),
        ("Diablo Cody", "screenwriter"),
        ("Elliot Page", "lead role"), ("Elliot Page", "performer"), ("Elliot Page", "performer"),
        ("Jason Reitman", "director"),
        ("Kimya Dawson", "member"), ("Kimya Dawson", "member"), ("Kimya Dawson", "performer"),
        ("Mateo Messina", "performer"),
        ("Michael Cera", "actor"), ("Michael Cera", "performer"),
        ("Trio Los Panchos", "performer"),
    ]
    credited = {r["name"]: r.get("creditedAs") for r in query("people", data=built).values()}
    assert credited["Elliot Page"] == "Ellen Page"
    assert credited["Kimya Dawson"] is None


def check_artist(built):
    assert rows("artist", built, columns=["kind", "name", "by", "album"]) == [
        ("band", "Antsy Pants", "", ""),
        ("band", "The Moldy Peaches", "", ""),
        ("recording", "20th Century Fox Fanfare", "Kimya Dawson", B_SIDES),
        ("recording", "Anyone Else but You", "The Moldy Peaches", ""),
    ]
    # another artist through the same parameter: a band's own recordings
    assert rows("artist", built, {"artist": "person:mateo-messina"},
                columns=["kind", "name", "by"]) == [
        ("recording", "20th Century Fox Fanfare", "Mateo Messina")]


def check_not_on_album(built):
    got = rows("not-on-album", built, columns=["recording", "use", "laterOn"])
    assert sorted(set(got)) == sorted([
        (f"{ID}recording/deleted-scene-song", "in a deleted scene", B_SIDES),
        (f"{ID}recording/astrud-gilberto-juno-trailer-recording", "in the trailers", B_SIDES),
        (f"{ID}recording/trio-los-panchos-juno-trailer-recording", "in the trailers", B_SIDES),
        (f"{ID}recording/juno-trailer-incidental-score", "in the trailers", ""),
        (f"{ID}recording/fox-fanfare-dawson-messina", "meant for the film, not used", B_SIDES),
    ])


def check_sources_of(built):
    got = rows("sources-of", built, {"resource": "release:juno-original"},
               columns=["fact", "source"])
    assert got == [(f"{ID}release/juno-original",
                    f"{ID}section/juno-soundtrack-critical-reception"),
                   (f"{ID}release/juno-original", f"{ID}section/juno-soundtrack-lead")]
    # a person has no provenance of their own: the facts that mention them do
    kimya = rows("sources-of", built, {"resource": f"{ID}person/kimya-dawson"},
                 columns=["fact", "source"])
    facts = {f for f, _ in kimya}
    assert f"{ID}event/dawson-sets-screenplay-condition" in facts
    assert (f"{ID}event/dawson-sets-screenplay-condition",
            f"{ID}source/rolling-stone-1046-page-16") in kimya
    assert f"{ID}person/kimya-dawson" not in facts


def check_describe(built):
    answer = query("describe", data=built)
    assert isinstance(answer, Triples)
    album = f"{ID}album/juno"
    found = {(t.subject.value, t.predicate.value, t.object.value) for t in answer}
    assert (album, f"{JK}title", ALBUM) in found
    assert (album, f"{JK}firstReleaseDate", "2008-01-08") in found
    # inverse links: the chart run, the certification, the B-Sides album
    assert (f"{ID}chart-run/juno-billboard-200", f"{JK}chartedAlbum", album) in found
    assert (f"{ID}certification/juno-riaa-platinum", f"{JK}certifiedWork", album) in found
    assert (f"{ID}album/juno-b-sides", f"{JK}companionOf", album) in found
    assert all(album in (s, o) for s, _, o in found)


def sssom_links() -> set[tuple[str, str, str]]:
    """The accepted rows of the hand-edited mapping table, CURIEs expanded (docs/links.md):
    curated by hand or reviewed, not negated, not NoTermFound."""
    import csv

    from .conftest import ROOT

    path = ROOT / "data" / "links" / "mappings.sssom.tsv"
    if not path.is_file():  # no table, no links graph
        return set()
    text = path.read_text("utf-8")
    prefixes = {"owl": "http://www.w3.org/2002/07/owl#",
                "skos": "http://www.w3.org/2004/02/skos/core#",
                "foaf": "http://xmlns.com/foaf/0.1/"}
    for line in text.splitlines():
        match = re.match(r"#\s+([\w.-]+):\s+(\S+)$", line)
        if match:
            prefixes[match.group(1)] = match.group(2)
    body = [line for line in text.splitlines() if not line.startswith("#")]
    out = set()
    for row in csv.DictReader(body, delimiter="\t"):
        accepted = (row["mapping_justification"] == "semapv:ManualMappingCuration"
                    or row["reviewer_label"].strip())
        if not accepted or row["predicate_modifier"] == "Not" \
                or row["object_id"] == "sssom:NoTermFound":
            continue
        out.add(tuple(prefixes[c.split(":", 1)[0]] + c.split(":", 1)[1]
                      for c in (row["subject_id"], row["predicate_id"], row["object_id"])))
    return out


def check_links(built):
    got = rows("links", built, columns=["resource", "link", "target", "dataset"])
    assert {r[:3] for r in got} == sssom_links()
    if not got:
        return
    assert (f"{ID}album/juno", "http://www.w3.org/2002/07/owl#sameAs",
            "http://dbpedia.org/resource/Juno_(soundtrack)", "DBpedia") in got
    assert (f"{ID}album/juno", "http://xmlns.com/foaf/0.1/isPrimaryTopicOf",
            "https://en.wikipedia.org/wiki/Juno_(soundtrack)", "Wikipedia") in got


def check_tracks(built):
    b_sides = rows("tracks", built, {"album": "album:juno-b-sides"}, columns=["title", "by"])
    for expected in [("20th Century Fox Fanfare", "Kimya Dawson"),
                     ("20th Century Fox Fanfare", "Mateo Messina")]:
        assert expected in b_sides
    assert {by for _, by in b_sides} >= {"Astrud Gilberto", "Trio Los Panchos", "Elliot Page"}
    for row in query("tracks", data=built).values():  # the album's own, once known
        assert row["title"]


def check_facts_by_graph(built):
    got = rows("facts-by-graph", built, columns=["graph", "property", "value"])
    assert (f"{GRAPH}article", f"{JK}title", ALBUM) in got
    assert (f"{GRAPH}article", f"{JK}firstReleaseDate", "2008-01-08") in got
    assert (f"{GRAPH}article", f"{JK}soundtrackOf", f"{ID}film/juno") in got
    assert {g for g, _, _ in got} <= {f"{GRAPH}article", f"{GRAPH}supplement", f"{GRAPH}links"}


def check_facts_by_source(built):
    got = rows("facts-by-source", built, columns=["graph", "fact", "source"])
    article = {fact[len(ID):] for graph, fact, _ in got if graph == f"{GRAPH}article"}
    assert article == {  # every sourced node that points at the album, or at a week of its run
        "release/juno-original", "release/juno-deluxe-edition", "chart-run/juno-billboard-200",
        *(f"chart-position/juno-billboard-200-week-{n}" for n in range(1, 6)),
        "certification/juno-riaa-platinum",
        "milestone/juno-first-soundtrack-at-number-one-since-high-school-musical-2",
        "milestone/juno-first-number-one-for-rhino",
        "milestone/juno-first-fox-number-one-soundtrack-since-titanic",
        "event/dawson-sends-her-work", "event/page-suggests-the-moldy-peaches"}
    assert (f"{GRAPH}article", f"{ID}certification/juno-riaa-platinum",
            f"{ID}source/riaa-gold-and-platinum-2011-02-19") in got
    assert (f"{GRAPH}article", f"{ID}release/juno-original",
            f"{ID}section/juno-soundtrack-lead") in got
    assert {g for g, _, _ in got} <= {f"{GRAPH}article", f"{GRAPH}supplement"}


EXPECTED = {
    "album": check_album, "releases": check_releases, "chart-run": check_chart_run,
    "certifications": check_certifications, "people": check_people, "artist": check_artist,
    "not-on-album": check_not_on_album, "sources-of": check_sources_of,
    "describe": check_describe, "links": check_links, "tracks": check_tracks,
    "facts-by-graph": check_facts_by_graph, "facts-by-source": check_facts_by_source,
}


def test_every_named_query_has_an_expected_answer():
    from juno_kg.links import federated_queries  # tests/test_links.py runs them

    assert set(named_queries()) - federated_queries() == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_named_query_answer(name, article):
    EXPECTED[name](article)


#: answers that more facts may rightly shrink: a recording the supplement puts on the album
#: is no longer "not on the album"
SHRINKING = {"not-on-album"}


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - SHRINKING))
def test_the_whole_dataset_keeps_the_article_answers(name, article, built):
    """The supplement adds facts; every row (or triple) of the article's answer stays, or
    comes back with more of its OPTIONAL columns bound."""
    named = named_queries()[name]
    params = {p.name: CASES_PARAMS[p.name] for p in named.params if p.required}
    small, full = query(name, params, data=article), query(name, params, data=built)
    if isinstance(small, Triples):
        assert set(small.normalised()) <= set(full.normalised())
        return
    full_rows = full.values()
    for row in small.values():
        assert any(all(f.get(k) == v for k, v in row.items()) for f in full_rows), row


CASES_PARAMS = {"resource": "release:juno-original"}


def test_track_listing_of_the_whole_dataset_is_in_order(built):
    """Where the data has a track listing, tracks come numbered 1..N, each with a title
    and an artist; an album without one lists its recordings by title."""
    got = query("tracks", data=built).values()
    numbered = [int(r["position"]) for r in got if "position" in r]
    assert numbered == list(range(1, len(numbered) + 1))
    assert all(r.get("title") and r.get("by") for r in got if "position" in r)
    titles = [r["title"] for r in got if "position" not in r]
    assert titles == sorted(titles)


def test_every_named_query_has_a_complete_header():
    for name, named in named_queries().items():
        assert named.title and named.description, name
        for param in named.params:
            assert param.description, f"{name}: parameter {param.name} has no description"
            assert f"?{param.name}" in named.text, f"{name}: ?{param.name} is not used"


# --------------------------------------------------------------------------- the API

def test_select_ask_construct_return_rows_bool_triples(built):
    assert query("ASK { ?s ?p ?o }", data=built) is True
    assert query("ASK { ?s <urn:x:nothing> ?o }", data=built) is False
    answer = query("SELECT ?s WHERE { ?s a <https://w3id.org/juno-kg/ontology#Album> }",
                   data=built)
    assert isinstance(answer, Rows) and answer.variables == ["s"]
    assert f"{ID}album/juno" in {r["s"] for r in answer.values()}
    graph = query("CONSTRUCT WHERE { ?s a <https://w3id.org/juno-kg/ontology#Album> }",
                  data=built)
    assert isinstance(graph, Triples) and len(graph) == len(answer)
    assert len(graph.to_rdflib()) == len(graph)


def test_rdflib_engine_gives_the_same_rows(built):
    for name in ("chart-run", "people", "releases"):
        assert query(name, data=built).normalised() == \
            query(name, data=built, engine="rdflib").normalised()


def test_parameters_are_typed_and_bound_not_pasted(built):
    text = f"SELECT ?s WHERE {{ ?s <{JK}title> ?t }}"
    hostile = 'Juno" } UNION { ?s ?p ?o } #'
    for engine in ("oxigraph", "rdflib"):
        assert len(query(text, {"t": hostile}, data=built, engine=engine)) == 0
        assert query(text, {"t": ALBUM}, data=built, engine=engine).values() == [
            {"s": f"{ID}album/juno"}]
    with pytest.raises(QueryError, match="invalid IRI"):
        query("sources-of", {"resource": "https://example.org/a> } #"}, data=built)
    with pytest.raises(QueryError, match="not an absolute IRI"):
        query("sources-of", {"resource": "kimya dawson"}, data=built)
    with pytest.raises(QueryError, match="no variable \\?x"):
        query("SELECT ?s WHERE { ?s ?p ?o }", {"x": "1"}, data=built)
    with pytest.raises(QueryError, match="has no parameter 'nope'"):
        query("album", {"nope": "1"}, data=built)


def test_parameter_kinds_are_checked():
    from juno_kg.params import make_term

    assert make_term("42", "integer").datatype.value.endswith("#integer")
    assert make_term("2008-01-08", "date").value == "2008-01-08"
    assert make_term("Juno@en", "langstring").language == "en"
    for value, kind in (("4x2", "integer"), ("2008-13-01", "date"), ("maybe", "boolean"),
                        ("08", "gYear"), ("no tag", "langstring")):
        with pytest.raises(QueryError):
            make_term(value, kind)


def test_update_operations_are_refused(built):
    for text in ("INSERT DATA { <urn:a> <urn:b> <urn:c> }",
                 "PREFIX x: <urn:x:>\nDELETE WHERE { ?s ?p ?o }",
                 "LOAD <http://example.org/data.ttl>", "DROP ALL", "CLEAR DEFAULT"):
        with pytest.raises(QueryError, match="update operations are refused"):
            query(text, data=built)


def test_table_wraps_and_cuts_long_values():
    import pyoxigraph as ox

    long = " ".join(["word"] * 200)
    text = render_table(["a", "b"], [[ox.Literal(long), ox.NamedNode(f"{ID}album/juno")]],
                        width=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines), text
    assert "…" in text and "album:juno" in text and lines[-1] == "(1 row)"
    assert len(lines) == 2 + 3 + 1  # header, rule, at most three lines per row, count


# --------------------------------------------------------------------------- the CLI

def test_queries_lists_names_descriptions_and_parameters():
    result = run_cli("queries")
    assert result.exit_code == 0
    for name, named in named_queries().items():
        assert f"{name} — {named.title}" in result.output
    assert "--param resource=<iri> (required)" in result.output


def test_query_command_formats(built):
    for fmt, marker in (("table", "(5 rows)"), ("csv", "week,position"),
                        ("json", '"head"'), ("xml", "<sparql"), ("tsv", "?week\t")):
        result = run_cli("query", "chart-run", "--data", str(built), "--format", fmt)
        assert result.exit_code == 0, result.output
        assert marker in result.output, (fmt, result.output)


def test_query_from_stdin_and_file(built, tmp_path):
    result = run_cli("query", "-", "--data", str(built), "--format", "csv",
                     input=f"SELECT ?t WHERE {{ <{ID}album/juno> <{JK}title> ?t }}")
    assert result.exit_code == 0 and result.output.splitlines() == ["t", ALBUM]
    path = tmp_path / "q.rq"
    path.write_text(f"ASK {{ <{ID}album/juno> ?p ?o }}")
    result = run_cli("query", str(path), "--data", str(built))
    assert result.exit_code == 0 and result.output == "true\n"


def test_invalid_sparql_gives_line_column_and_message(built):
    result = run_cli("query", "-", "--data", str(built),
                     input="SELECT ?s\nWHERE { ?s ?p ?o .\n  FILTER( }")
    assert result.exit_code == 2
    assert re.search(r"error: line 3, column \d+: SPARQL syntax error: expected", result.output)
    assert "Traceback" not in result.output


def test_unknown_name_lists_the_named_queries(built):
    result = run_cli("query", "chart-runs", "--data", str(built))
    assert result.exit_code == 2
    assert "no named query 'chart-runs'" in result.output
    for name in named_queries():
        assert name in result.output


def test_missing_required_parameter_is_named(built):
    result = run_cli("query", "sources-of", "--data", str(built))
    assert result.exit_code == 2
    assert "needs parameter 'resource'" in result.output and "--param resource=" in result.output


def test_bad_param_syntax_and_wrong_format(built):
    result = run_cli("query", "album", "--data", str(built), "--param", "album")
    assert result.exit_code == 2 and "NAME=VALUE" in result.output
    result = run_cli("query", "describe", "--data", str(built), "--format", "csv")
    assert result.exit_code == 2 and "ttl, jsonld or nt" in result.output
    result = run_cli("query", "album", "--data", str(built), "--format", "ttl")
    assert result.exit_code == 2 and "table, csv, tsv, json or xml" in result.output


def test_missing_build_folder_is_a_clear_error(tmp_path):
    result = run_cli("query", "album", "--data", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "no N-Quads dump" in result.output


def test_without_a_build_the_sources_are_built_in_memory_and_rebased(tmp_path):
    """--base (or --root) means: build those sources in memory, queries follow the base."""
    result = run_cli("--base", "https://example.org/kg/", "query", "sources-of",
                     "--param", "resource=release:juno-original", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "resource,fact,source,label,partOf" and len(lines) == 3
    assert all(line.startswith("https://example.org/kg/id/release/juno-original,")
               for line in lines[1:])


def test_values_block_opens_the_outer_where_group():
    """Parameters for a remote store: VALUES at the start of the WHERE group, past comments,
    strings and the CONSTRUCT template that contain braces; trailing where there is none."""
    import pyoxigraph as ox

    from juno_kg.params import with_values
    from juno_kg.sparql import check_syntax

    s = {"s": ox.NamedNode(f"{ID}album/juno")}
    block = f"VALUES (?s) {{ (<{ID}album/juno>) }}"
    text = ('# a { brace in a comment\nPREFIX ex: <http://example.org/>\n'
            'CONSTRUCT { ?s ex:p "} {" } WHERE { ?s ex:q ?o { SELECT ?o WHERE { ?o ?p ?x } } }')
    bound = with_values(text, s)
    assert bound.index(block) == bound.index("WHERE {") + len("WHERE {") + 3
    assert check_syntax(bound) == "CONSTRUCT"
    for text, form in (("CONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
                       (f"DESCRIBE <{ID}album/juno>", "DESCRIBE")):
        bound = with_values(text, s)
        assert bound.rstrip().endswith(block) and check_syntax(bound) == form
    bound = with_values("SELECT * { ?s ?p ?o }", {"o": ox.Literal('a "quoted" }')})
    assert 'VALUES (?o) { ("a \\"quoted\\" }") }' in bound
    assert check_syntax(bound) == "SELECT"


def test_what_the_engine_cannot_run_is_an_error_not_a_traceback(built):
    result = run_cli("query", "SELECT * WHERE { ?s ?p ?o FILTER(<urn:x:f>(?o)) }",
                     "--data", str(built))
    assert result.exit_code == 2
    assert "custom function <urn:x:f>" in result.output and "Traceback" not in result.output
