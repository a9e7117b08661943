"""Round trips over the format registry, the JSON-LD context, and an independent JSON-LD reader."""

from __future__ import annotations

import json

import pytest
from rdflib import Dataset, Graph, URIRef
from rdflib.compare import isomorphic

from juno_kg import formats
from juno_kg.config import GRAPH_NAMES
from juno_kg.serialize import shipped_context

BASE = "https://w3id.org/juno-kg/"


def _dataset(built) -> Dataset:
    return Dataset().parse(built / "dumps" / "juno-kg.nq", format="nquads")


def _union(built) -> Graph:
    g = Graph()
    for quad in _dataset(built).quads():
        g.add(quad[:3])
    return g


@pytest.mark.parametrize("fmt", formats.FORMATS, ids=lambda f: f.name)
def test_every_registry_format_round_trips(built, fmt):
    path = built / "dumps" / f"juno-kg.{fmt.extension}"
    if fmt.quads:
        parsed = Dataset().parse(path, format=fmt.rdflib)
        source = _dataset(built)
        names = {c.identifier for c in source.contexts() if len(c)}
        assert names == {c.identifier for c in parsed.contexts() if len(c)}
        for name in names:
            assert isomorphic(parsed.graph(name), source.graph(name)), name
    else:
        parsed = Graph().parse(path, format=fmt.rdflib)
        assert isomorphic(parsed, _union(built))


@pytest.mark.parametrize("fmt", [f for f in formats.FORMATS if not f.quads], ids=lambda f: f.name)
def test_every_graph_dump_round_trips(built, fmt):
    source = _dataset(built)
    for name in GRAPH_NAMES:
        path = built / "dumps" / "graphs" / f"{name}.{fmt.extension}"
        graph = source.graph(URIRef(f"{BASE}graph/{name}"))
        if not len(graph):
            assert not path.exists()
            continue
        assert isomorphic(Graph().parse(path, format=fmt.rdflib), graph), (name, fmt.name)


def test_pyoxigraph_reads_every_format(built):
    import pyoxigraph

    triples, quads = len(_union(built)), len(list(_dataset(built).quads()))
    for fmt in formats.FORMATS:
        path = built / "dumps" / f"juno-kg.{fmt.extension}"
        parsed = list(pyoxigraph.parse(path=str(path),
                                       format=getattr(pyoxigraph.RdfFormat, fmt.oxigraph)))
        assert len(parsed) == (quads if fmt.quads else triples), fmt.name


def test_pyld_reads_the_json_ld_to_the_same_graph(built):
    from pyld import jsonld

    doc = json.loads((built / "dumps" / "juno-kg.jsonld").read_text("utf-8"))
    nquads = jsonld.to_rdf(doc, {"format": "application/n-quads"})
    assert isomorphic(Graph().parse(data=nquads, format="nquads"), _union(built))


def test_json_ld_reads_as_plain_json(built):
    doc = json.loads((built / "dumps" / "graphs" / "article.jsonld").read_text("utf-8"))
    nodes = doc["@graph"]
    assert all("id" in node for node in nodes)
    assert all(not node["id"].startswith("http") for node in nodes), "ids use prefixes"
    keys = {k for node in nodes for k in node}
    assert not any(k.startswith("https://") for k in keys)


def test_the_shipped_context_is_the_one_written_and_is_up_to_date(built):
    written = json.loads((built / "context.jsonld").read_text("utf-8"))
    assert written == shipped_context(), "run `make context` after changing the ontology"
    doc = json.loads((built / "dumps" / "juno-kg.jsonld").read_text("utf-8"))
    assert doc["@context"] == shipped_context()["@context"]


def test_framed_document_has_the_album_on_top(built):
    doc = json.loads((built / "dumps" / "juno-kg.framed.jsonld").read_text("utf-8"))
    top = doc["@graph"][0]
    assert top["id"].endswith("album:juno") or top["id"].endswith("/album/juno")
    assert len(json.dumps(top)) > 2000, "releases, people, chart run and sources are nested"


def test_ntriples_and_nquads_are_sorted(built):
    for ext in ("nt", "nq"):
        lines = (built / "dumps" / f"juno-kg.{ext}").read_text("utf-8").splitlines()
        assert lines == sorted(lines)


def test_turtle_is_prefixed(built):
    text = (built / "dumps" / "juno-kg.ttl").read_text("utf-8")
    assert "@prefix jk: <https://w3id.org/juno-kg/ontology#> ." in text
    assert "@prefix schema: <http://schema.org/> ." in text


def test_the_remembering_jsonld_processor_gives_pylds_own_output(built):
    """serialize keeps pyld's IRI compactions across documents (a quarter of a build's time);
    compacting and framing must give what pyld's own processor gives, on the whole dataset,
    on each graph, and on one resource compacted after the cache is warm."""
    from pyld import jsonld

    from juno_kg import serialize

    context = shipped_context()
    options = {"documentLoader": serialize._no_fetch}
    dataset = _dataset(built)
    graphs = [_union(built)] + [dataset.graph(URIRef(f"{BASE}graph/{name}"))
                                for name in GRAPH_NAMES]
    album = URIRef(f"{BASE}id/album/juno")
    one = Graph()
    for triple in graphs[0].triples((album, None, None)):
        one.add(triple)
    graphs.append(one)
    for graph in graphs:
        expanded = serialize.expanded_jsonld(graph)
        ours = serialize.compact_jsonld(graph, context)
        plain = serialize.canonical_json(jsonld.compact(expanded, context,
                                                        {**options, "graph": True}))
        assert ours == plain
    frame = {**context, "@id": str(album), "@embed": "@once"}
    plain = serialize.canonical_json(jsonld.frame(
        serialize.expanded_jsonld(graphs[0]), frame,
        {**options, "embed": "@once", "omitGraph": False}))
    ours = serialize.frame_jsonld(graphs[0], context, {"@id": str(album), "@embed": "@once"})
    assert ours == plain
    assert serialize._COMPACTED, "the processor remembered nothing: the test tests nothing"
