"""The graph a site is made from: indexes over a prepared dataset (what each resource says,
what points at it, in which named graph), labels and links, and the rows of a page.

Used by the resource pages (:mod:`juno_kg.site`) and the index and ontology pages
(:mod:`juno_kg.pages`).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field

from rdflib import RDF, RDFS, SKOS, XSD, Graph, Literal, URIRef
from rdflib.term import Node

from . import formats, layout
from .config import GRAPH_NAMES
from .sources import Sources
from .vocab import STANDARD_PREFIXES, curie

SCHEMA = STANDARD_PREFIXES["schema"]


PROV_DERIVED = URIRef(STANDARD_PREFIXES["prov"] + "wasDerivedFrom")


DC_SOURCE = URIRef(STANDARD_PREFIXES["dcterms"] + "source")


SH = STANDARD_PREFIXES["sh"]


LABELS = (RDFS.label, SKOS.prefLabel, URIRef(SCHEMA + "name"),
          URIRef(STANDARD_PREFIXES["foaf"] + "name"),
          URIRef(STANDARD_PREFIXES["dcterms"] + "title"))


#: properties whose values are links to other datasets
LINK_HOSTS = {"www.wikidata.org": "Wikidata", "wikidata.org": "Wikidata",
              "dbpedia.org": "DBpedia", "musicbrainz.org": "MusicBrainz",
              "en.wikipedia.org": "Wikipedia", "www.discogs.com": "Discogs",
              "www.imdb.com": "IMDb", "viaf.org": "VIAF"}


DATA_FORMATS = formats.FORMATS  # per-resource data: every registry format


def short_iri(iri: str, prefixes: dict[str, str] | None = None) -> str:
    """``prefix:local`` for an IRI under a known namespace, else the IRI."""
    return curie(iri, prefixes or STANDARD_PREFIXES) or iri


@dataclass
class Value:
    """One value shown on a page: a link (internal or external) or a literal."""

    text: str
    href: str | None = None
    external: bool = False
    note: str = ""  #: language tag or datatype of a literal
    graphs: list[str] = field(default_factory=list)
    sources: list[Value] = field(default_factory=list)  #: provenance of a claim-node value


@dataclass
class Row:
    """A property and its values on a page."""

    label: str
    href: str | None
    iri: str
    values: list[Value]


class Model:
    """Indexes over the built dataset that pages are made from."""

    def __init__(self, sources: Sources) -> None:
        self.settings = sources.settings
        self.base = sources.settings.base
        self.id_ns = sources.settings.id_ns
        self.ont_ns = sources.settings.ontology_ns
        self.sources = sources
        self.prefixes = {p: str(ns) for p, ns in sources.dataset.namespaces() if p}
        self.prefixes.update(STANDARD_PREFIXES)
        self.prefixes["jk"] = self.ont_ns
        self.out: dict[Node, list[tuple[URIRef, Node, str]]] = defaultdict(list)
        self.inv: dict[Node, list[tuple[Node, URIRef, str]]] = defaultdict(list)
        self.graphs: dict[str, Graph] = {}
        for name in GRAPH_NAMES:
            graph = sources.graph(name)
            self.graphs[name] = graph
            if name == "meta":
                continue
            for s, p, o in graph:
                self.out[s].append((p, o, name))
                if isinstance(o, URIRef):
                    self.inv[o].append((s, p, name))
        self.ontology = sources.graph("ontology")
        self.union = Graph()
        for name in GRAPH_NAMES:
            if name != "meta":
                self.union += self.graphs[name]
        self.resources = sorted({t for t in list(self.out) + list(self.inv)
                                 if isinstance(t, URIRef) and str(t).startswith(self.id_ns)
                                 and len(str(t)) > len(self.id_ns)})
        self._labels: dict[Node, str] = {}

    # -- names and links

    def path(self, iri: Node) -> str:
        """``kind/slug`` of a resource IRI."""
        return str(iri)[len(self.id_ns):]

    def is_resource(self, iri: Node) -> bool:
        return isinstance(iri, URIRef) and str(iri).startswith(self.id_ns)

    def label(self, node: Node) -> str:
        if node in self._labels:
            return self._labels[node]
        text = None
        if isinstance(node, URIRef):
            candidates: list[Literal] = []
            for prop in (*LABELS, URIRef(self.ont_ns + "name"), URIRef(self.ont_ns + "title")):
                candidates = [o for o in self.union.objects(node, prop) if isinstance(o, Literal)]
                if candidates:
                    break
            if candidates:
                english = [c for c in candidates if c.language in ("en", None)]
                text = str(sorted(english or candidates)[0])
            elif str(node).startswith(self.ont_ns):
                text = str(node)[len(self.ont_ns):]
            elif self.is_resource(node):
                text = self.path(node).rsplit("/", 1)[-1].replace("-", " ")
            else:
                text = short_iri(str(node), self.prefixes)
        else:
            text = str(node)
        self._labels[node] = text
        return text

    def href(self, node: Node, root: str) -> tuple[str | None, bool]:
        """(link, external) for an IRI as seen from a page ``root`` levels below the top."""
        iri = str(node)
        if self.is_resource(node):
            return f"{root}page/{self.path(node)}.html", False
        if iri.startswith(self.ont_ns):
            return f"{root}ontology.html#{iri[len(self.ont_ns):]}", False
        if iri == self.settings.ontology_iri:
            return f"{root}ontology.html", False
        if iri.startswith(f"{self.base}graph/"):
            return root + layout.graph_dump_path(iri.rsplit("/", 1)[-1],
                                                 formats.get("turtle")), False
        if iri.startswith(self.base):
            return f"{root}{iri[len(self.base):]}", False
        if iri.startswith(("http://", "https://")):
            return iri, True
        return None, True

    def value(self, node: Node, root: str, graphs: list[str] | None = None,
              with_sources: bool = True) -> Value:
        if isinstance(node, Literal):
            note = ""
            if node.language:
                note = f"@{node.language}"
            elif node.datatype and node.datatype != XSD.string:
                note = short_iri(str(node.datatype), self.prefixes)
            return Value(str(node), note=note, graphs=graphs or [])
        href, external = self.href(node, root)
        text = self.label(node)
        if external and text == str(node):
            text = str(node)
        out = Value(text, href, external, graphs=graphs or [])
        if with_sources and self.is_resource(node):
            out.sources = self.provenance(node, root)
        return out

    def provenance(self, node: Node, root: str) -> list[Value]:
        """Where a claim node comes from: its article section(s) and the cited work(s)."""
        found = []
        for prop in (PROV_DERIVED, DC_SOURCE):
            for o in sorted(self.union.objects(node, prop)):
                found.append(self.value(o, root, with_sources=False))
        return found

    def prop_row(self, prop: URIRef, values: list[Value], root: str) -> Row:
        href, _ = self.href(prop, root)
        if str(prop).startswith(self.ont_ns):
            text = self.label(prop)
        else:
            text = short_iri(str(prop), self.prefixes)
        return Row(text, href, str(prop), values)

    def types(self, node: Node, graphs: tuple[str, ...] | None = None) -> list[URIRef]:
        return sorted({o for p, o, g in self.out.get(node, ()) if p == RDF.type
                       and isinstance(o, URIRef) and (graphs is None or g in graphs)})

    # -- the named queries, answered on this dataset

    def query(self, name: str, params: dict[str, str] | None = None):
        """The answer of the named query ``name`` (or SPARQL text) over this dataset (the
        union of its graphs): what ``juno-kg query NAME`` gives on the build."""
        from .query import run_on_store

        return run_on_store(self.store, name, params, self.base)

    @functools.cached_property
    def store(self):
        """The dataset in an in-memory pyoxigraph store, made on first use."""
        import pyoxigraph as ox

        from .serialize import serialize_dataset

        names = [URIRef(self.settings.graph_iri(n)) for n in GRAPH_NAMES if len(self.graphs[n])]
        store = ox.Store()
        store.load(serialize_dataset(self.sources.dataset, formats.get("nquads"), names),
                   format=ox.RdfFormat.N_QUADS)
        return store


def _value_key(v: Value) -> tuple:
    """A total order on shown values (deterministic pages whatever the hash seed)."""
    return (v.text, v.href or "", v.note, v.graphs, [(s.text, s.href or "") for s in v.sources])


def _rows(model: Model, triples: list[tuple[URIRef, Node, str]], root: str,
          skip: tuple = (RDF.type,)) -> list[Row]:
    by_prop: dict[URIRef, dict[Node, list[str]]] = defaultdict(lambda: defaultdict(list))
    for p, o, g in triples:
        if p in skip:
            continue
        by_prop[p][o].append(g)
    rows = []
    for prop, values in by_prop.items():
        shown = [model.value(o, root, sorted(set(gs))) for o, gs in values.items()]
        rows.append(model.prop_row(prop, sorted(shown, key=_value_key),
                                   root))
    label_first = {str(RDFS.label): 0}
    return sorted(rows, key=lambda r: (label_first.get(r.iri, 1),
                                       0 if r.iri.startswith(model.ont_ns) else 1, r.label,
                                       r.iri))


def _inverse_rows(model: Model, triples: list[tuple[Node, URIRef, str]], root: str) -> list[Row]:
    """Rows of the links pointing at a resource ("referenced by"): (subject, property, graph)."""
    return _rows(model, [(p, s, g) for s, p, g in triples], root, skip=())
