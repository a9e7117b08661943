"""Step 3 — enrich: the standard-vocabulary view (``inferred``) and VoID/DCAT (``meta``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rdflib import OWL, RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from . import __version__
from .config import DATA_GRAPHS, GRAPH_NAMES
from .formats import FORMATS
from .sources import Sources
from .vocab import STANDARD_PREFIXES

VOID = Namespace(STANDARD_PREFIXES["void"])
DCAT = Namespace(STANDARD_PREFIXES["dcat"])
DCTERMS = Namespace(STANDARD_PREFIXES["dcterms"])
PROV = Namespace(STANDARD_PREFIXES["prov"])
SCHEMA = Namespace(STANDARD_PREFIXES["schema"])
SD = Namespace(STANDARD_PREFIXES["sd"])
FOAF = Namespace(STANDARD_PREFIXES["foaf"])

#: Vocabularies whose terms the ``inferred`` graph materialises.
STANDARD_VOCABULARIES = tuple(STANDARD_PREFIXES[p] for p in
                              ("mo", "schema", "foaf", "dcterms", "prov", "skos"))
#: The data's licence: CC BY-SA 4.0, as Wikipedia's text it derives from (and quotes) requires.
DATA_LICENSE = URIRef("https://creativecommons.org/licenses/by-sa/4.0/")
#: The ontology is this project's own vocabulary, not derived from Wikipedia: CC BY 4.0, as
#: its header says (CC BY material may be part of a CC BY-SA dataset).
ONTOLOGY_LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
ARTICLE_URL = URIRef("https://en.wikipedia.org/wiki/Juno_(soundtrack)")


def is_standard(term: Node) -> bool:
    return isinstance(term, URIRef) and str(term).startswith(STANDARD_VOCABULARIES)


def _closure(graph: Graph, start: URIRef, up: URIRef, same: URIRef) -> set[URIRef]:
    """``start`` and everything above it via ``up`` (transitively) and ``same`` (both ways)."""
    seen: set[URIRef] = set()
    todo = [start]
    while todo:
        term = todo.pop()
        if term in seen or not isinstance(term, URIRef):
            continue
        seen.add(term)
        todo += list(graph.objects(term, up))
        todo += list(graph.objects(term, same))
        todo += list(graph.subjects(same, term))
    return seen


@dataclass
class Alignment:
    """What the ontology says each of our terms means in the standard vocabularies."""

    ontology: Graph
    _classes: dict[Node, set[URIRef]] = field(default_factory=dict)
    _properties: dict[Node, set[URIRef]] = field(default_factory=dict)
    _inverses: dict[Node, set[URIRef]] = field(default_factory=dict)

    def classes(self, cls: Node) -> set[URIRef]:
        if cls not in self._classes:
            self._classes[cls] = {c for c in _closure(self.ontology, cls, RDFS.subClassOf,
                                                      OWL.equivalentClass) if is_standard(c)}
        return self._classes[cls]

    def properties(self, prop: Node) -> set[URIRef]:
        if prop not in self._properties:
            self._properties[prop] = {
                p for p in _closure(self.ontology, prop, RDFS.subPropertyOf,
                                    OWL.equivalentProperty) if is_standard(p)}
        return self._properties[prop]

    def inverses(self, prop: Node) -> set[URIRef]:
        """Standard properties that hold from object to subject when ``prop`` holds."""
        if prop not in self._inverses:
            found: set[URIRef] = set()
            for p in _closure(self.ontology, prop, RDFS.subPropertyOf, OWL.equivalentProperty):
                for q in [*self.ontology.objects(p, OWL.inverseOf),
                          *self.ontology.subjects(OWL.inverseOf, p)]:
                    found |= {r for r in _closure(self.ontology, q, RDFS.subPropertyOf,
                                                  OWL.equivalentProperty) if is_standard(r)}
            self._inverses[prop] = found
        return self._inverses[prop]


def _pairs(data: Graph, ontology: Graph, prop: URIRef) -> list[tuple[Node, Node]]:
    """(x, y) where ``x prop y`` holds: stated, or stated the other way with an inverse."""
    found = list(data.subject_objects(prop))
    for inverse in {*ontology.objects(prop, OWL.inverseOf),
                    *ontology.subjects(OWL.inverseOf, prop)}:
        found += [(o, s) for s, o in data.subject_objects(inverse) if isinstance(o, URIRef)]
    return found


def shortcuts(data: Graph, ontology: Graph, ns: str) -> Graph:
    """Triples of the ontology's shortcut properties (``jk:chainFirst`` then ``jk:chainNext``).

    A shortcut holds from ``x`` to ``z`` wherever ``x first y`` and ``y next z`` hold in
    ``data`` (``first`` may be the declared inverse of a stated property). Only the
    materialiser reads them: it adds their standard super-properties.
    """
    first_p, next_p = URIRef(ns + "chainFirst"), URIRef(ns + "chainNext")
    out = Graph()
    for shortcut in sorted(set(ontology.subjects(first_p, None))):
        first, then = ontology.value(shortcut, first_p), ontology.value(shortcut, next_p)
        if not isinstance(first, URIRef) or not isinstance(then, URIRef):
            continue
        for x, y in _pairs(data, ontology, first):
            for z in data.objects(y, then):
                out.add((x, shortcut, z))
    return out


def materialise(sources: Sources) -> Graph:
    """The ``inferred`` graph: standard-vocabulary triples implied by the data and alignment.

    For every data triple, the standard superclasses of its types, the standard
    superproperties (and standard inverses) of its property; the standard superproperties
    of the ontology's shortcut properties (two-step paths such as album → track listing →
    track, :func:`shortcuts`); plus ``schema:name`` from ``rdfs:label`` for everything typed
    with a schema.org class. Triples already in the data are left out, so the graph holds
    only what materialisation adds.
    """
    ontology = sources.graph("ontology")
    align = Alignment(ontology)
    data = Graph()
    for name in DATA_GRAPHS:
        data += sources.graph(name)
    out = Graph()
    for s, p, o in shortcuts(data, ontology, sources.settings.ontology_ns):
        for q in align.properties(p):
            if q != p:
                out.add((s, q, o))
    for s, p, o in data:
        if p == RDF.type:
            for cls in align.classes(o):
                out.add((s, RDF.type, cls))
            continue
        for q in align.properties(p):
            if q != p:
                out.add((s, q, o))
        if isinstance(o, URIRef):
            for q in align.inverses(p):
                out.add((o, q, s))
    typed_schema = {s for s, o in out.subject_objects(RDF.type) if str(o).startswith(str(SCHEMA))}
    typed_schema |= {s for s, o in data.subject_objects(RDF.type) if str(o).startswith(str(SCHEMA))}
    for s in typed_schema:  # one schema:name per resource: the label only where none is
        if (s, SCHEMA.name, None) not in data and (s, SCHEMA.name, None) not in out:
            for label in data.objects(s, RDFS.label):
                out.add((s, SCHEMA.name, label))
    for triple in list(out):
        if triple in data:
            out.remove(triple)
    return out


@dataclass(frozen=True)
class GraphStats:
    triples: int
    subjects: int
    objects: int
    classes: dict[str, int]  #: class IRI -> instances
    properties: dict[str, int]  #: property IRI -> triples


def graph_stats(graph: Graph) -> GraphStats:
    classes = Counter(str(o) for o in graph.objects(None, RDF.type))
    properties = Counter(str(p) for p in graph.predicates())
    return GraphStats(len(graph), len(set(graph.subjects())), len(set(graph.objects())),
                      dict(sorted(classes.items())), dict(sorted(properties.items())))


def statistics(sources: Sources) -> dict[str, GraphStats]:
    """Per named graph (those that exist) and for ``all`` of them together."""
    out = {}
    union = Graph()
    for name in GRAPH_NAMES:
        graph = sources.graph(name)
        if len(graph):
            out[name] = graph_stats(graph)
            union += graph
    out["all"] = graph_stats(union)
    return out


def _vocabulary(iri: str) -> str:
    for sep in ("#", "/"):
        if sep in iri:
            return iri.rsplit(sep, 1)[0] + sep
    return iri


def _slug(iri: str, prefixes: dict[str, str]) -> str:
    for prefix, ns in sorted(prefixes.items(), key=lambda x: -len(x[1])):
        if iri.startswith(ns) and prefix:
            return f"{prefix}-{iri[len(ns):]}"
    return iri.rsplit("/", 1)[-1].replace("#", "-")


def describe(sources: Sources, dump_files: list[str]) -> Graph:
    """The ``meta`` graph: VoID + DCAT for the dataset and each named graph, and provenance.

    ``dump_files`` are the paths (relative to the published root) of the dumps, for
    ``void:dataDump`` and DCAT distributions. No timestamps: the build is deterministic.
    """
    from .links import linksets  # VoID linksets: links per target dataset and property

    base = sources.settings.base
    dataset = URIRef(f"{base}dataset")
    stats = statistics(sources)
    g = _dataset_description(sources, dataset, stats)
    _partitions(g, dataset, stats["all"], base,
                {p: str(ns) for p, ns in sources.dataset.namespaces()})
    _graph_descriptions(g, dataset, stats, sources)
    _distributions(g, dataset, dump_files, base)
    g += linksets(sources.graph("links"), base)
    return g


def _count(n: int) -> Literal:
    return Literal(n, datatype=XSD.integer)


def _dataset_description(sources: Sources, dataset: URIRef,
                         stats: dict[str, GraphStats]) -> Graph:
    """The dataset itself: titles, licence, source, counts, vocabularies, examples."""
    base = sources.settings.base
    g = Graph()
    for cls in (VOID.Dataset, DCAT.Dataset, PROV.Entity):
        g.add((dataset, RDF.type, cls))
    g.add((dataset, DCTERMS.title, Literal("juno-kg: Music from the Motion Picture Juno as "
                                            "linked data", lang="en")))
    g.add((dataset, DCTERMS.description, Literal(
        "The 2008 soundtrack album of the film Juno, its B-Sides, deluxe and promotional "
        "releases, the people behind them, its Billboard 200 run and RIAA certification, "
        "as RDF with every claim traced to its source.", lang="en")))
    g.add((dataset, DCTERMS.license, DATA_LICENSE))
    g.add((dataset, DCTERMS.source, ARTICLE_URL))
    g.add((dataset, PROV.wasDerivedFrom, ARTICLE_URL))
    g.add((dataset, DCTERMS.hasVersion, Literal(__version__)))
    g.add((dataset, VOID.uriSpace, Literal(f"{base}id/")))
    g.add((dataset, VOID.feature, URIRef("http://www.w3.org/ns/formats/N-Quads")))
    everything = stats["all"]
    g.add((dataset, VOID.triples, _count(everything.triples)))
    g.add((dataset, VOID.distinctSubjects, _count(everything.subjects)))
    g.add((dataset, VOID.distinctObjects, _count(everything.objects)))
    g.add((dataset, VOID.classes, _count(len(everything.classes))))
    g.add((dataset, VOID.properties, _count(len(everything.properties))))
    entities = {s for s in sources.dataset.subjects() if str(s).startswith(f"{base}id/")}
    g.add((dataset, VOID.entities, _count(len(entities))))
    vocabularies = {_vocabulary(c) for c in everything.classes} | {
        _vocabulary(p) for p in everything.properties}
    for vocab in sorted(vocabularies):
        g.add((dataset, VOID.vocabulary, URIRef(vocab)))
    for album in sorted(set(sources.graph("inferred").subjects(RDF.type, SCHEMA.MusicAlbum))):
        g.add((dataset, VOID.exampleResource, album))
    return g


def _partitions(g: Graph, dataset: URIRef, everything: GraphStats, base: str,
                prefixes: dict[str, str]) -> None:
    """VoID class and property partitions of the whole dataset."""
    for cls, count in everything.classes.items():
        part = URIRef(f"{base}dataset/class/{_slug(cls, prefixes)}")
        g.add((dataset, VOID.classPartition, part))
        g.add((part, VOID["class"], URIRef(cls)))
        g.add((part, VOID.entities, _count(count)))
    for prop, count in everything.properties.items():
        part = URIRef(f"{base}dataset/property/{_slug(prop, prefixes)}")
        g.add((dataset, VOID.propertyPartition, part))
        g.add((part, VOID.property, URIRef(prop)))
        g.add((part, VOID.triples, _count(count)))


def _graph_descriptions(g: Graph, dataset: URIRef, stats: dict[str, GraphStats],
                        sources: Sources) -> None:
    """Each named graph as a subset: title, licence, counts, what it was derived from."""
    settings = sources.settings
    for name, gs in stats.items():
        if name == "all":
            continue
        graph = URIRef(settings.graph_iri(name))
        g.add((dataset, VOID.subset, graph))
        for cls in (VOID.Dataset, SD.Graph, PROV.Entity):
            g.add((graph, RDF.type, cls))
        g.add((graph, DCTERMS.title, Literal(f"{name} graph", lang="en")))
        g.add((graph, DCTERMS.description, Literal(GRAPH_DESCRIPTIONS[name], lang="en")))
        g.add((graph, DCTERMS.license,
               ONTOLOGY_LICENSE if name == "ontology" else DATA_LICENSE))
        g.add((graph, VOID.triples, _count(gs.triples)))
        g.add((graph, VOID.classes, _count(len(gs.classes))))
        g.add((graph, VOID.properties, _count(len(gs.properties))))
        if name == "article":
            g.add((graph, PROV.wasDerivedFrom, ARTICLE_URL))
        if name == "inferred":
            g.add((graph, PROV.wasDerivedFrom, URIRef(settings.graph_iri("ontology"))))
            for data in DATA_GRAPHS:
                if data in stats:
                    g.add((graph, PROV.wasDerivedFrom, URIRef(settings.graph_iri(data))))
    # the meta graph describes itself but cannot count its own triples
    meta = URIRef(settings.graph_iri("meta"))
    g.add((dataset, VOID.subset, meta))
    g.add((meta, RDF.type, SD.Graph))
    g.add((meta, DCTERMS.title, Literal("meta graph", lang="en")))
    g.add((meta, DCTERMS.description, Literal(GRAPH_DESCRIPTIONS["meta"], lang="en")))


def _distributions(g: Graph, dataset: URIRef, dump_files: list[str], base: str) -> None:
    """Each dump as a VoID data dump and a DCAT distribution with its media type."""
    for rel in sorted(dump_files):
        fmt = _format_of(rel)
        dump = URIRef(f"{base}{rel}")
        g.add((dataset, VOID.dataDump, dump))
        g.add((dataset, DCAT.distribution, dump))
        g.add((dump, RDF.type, DCAT.Distribution))
        g.add((dump, DCAT.downloadURL, dump))
        g.add((dump, DCTERMS.license, DATA_LICENSE))
        if fmt is not None:
            g.add((dump, DCAT.mediaType,
                   URIRef(f"https://www.iana.org/assignments/media-types/{fmt.media_type}")))
            g.add((dump, DCTERMS["format"], Literal(fmt.media_type)))


def _format_of(path: str):
    for fmt in FORMATS:
        if path.endswith("." + fmt.extension):
            return fmt
    return None


GRAPH_DESCRIPTIONS = {
    "ontology": "The juno-kg music ontology and its alignment to standard vocabularies.",
    "article": "Facts stated in the English Wikipedia article on the soundtrack, "
               "each claim node citing the article section and the work it cites.",
    "supplement": "Facts from other cited sources that the article does not state.",
    "links": "Links from juno-kg resources to other datasets.",
    "inferred": "Standard-vocabulary view (schema.org, Music Ontology, FOAF, DC Terms, "
                "PROV-O, SKOS) materialised from the data and the ontology alignment.",
    "meta": "VoID, DCAT and provenance descriptions of the dataset and its graphs.",
}


def enrich(sources: Sources, dump_files: list[str]) -> None:
    """Add the ``inferred`` and ``meta`` graphs to ``sources.dataset`` (in place)."""
    inferred = sources.graph("inferred")
    inferred.remove((None, None, None))
    inferred += materialise(sources)
    meta = sources.graph("meta")
    meta.remove((None, None, None))
    meta += describe(sources, dump_files)
    sources.dataset.bind("foaf", FOAF)
