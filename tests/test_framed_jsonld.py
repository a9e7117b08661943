"""The framed JSON-LD dump: the album on top with what is reachable from it nested, then
every other node, so the file holds the whole of the graphs it frames."""

from __future__ import annotations

import json

from rdflib import Graph


def test_the_framed_document_holds_every_triple_of_the_graphs_it_frames(built):
    text = (built / "dumps" / "juno-kg.framed.jsonld").read_text("utf-8")
    doc = json.loads(text)
    assert doc["@graph"][0]["id"] in ("album:juno", "https://w3id.org/juno-kg/id/album/juno")
    framed = Graph().parse(data=text, format="json-ld")
    expected = Graph()
    for name in ("article", "supplement", "links"):
        expected += Graph().parse(built / "dumps" / "graphs" / f"{name}.nt", format="nt")
    assert len(framed) == len(expected) > 1500
    assert set(framed) == set(expected)
    ids = [node["id"] for node in doc["@graph"]]
    assert len(ids) == len(set(ids)), "each node after the album is one node object"
