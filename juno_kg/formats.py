"""The one registry of RDF formats: export, content negotiation and round-trip tests read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str  #: short name used on the command line (``--format``)
    media_type: str  #: IANA media type
    extension: str  #: file extension, without the dot
    rdflib: str  #: rdflib parser/serializer plugin name
    oxigraph: str  #: pyoxigraph ``RdfFormat`` attribute name
    quads: bool  #: carries named graphs
    #: how juno-kg writes it, deterministically (:mod:`juno_kg.serialize` implements each):
    #: ``lines`` sorted lines; ``rdflib`` rdflib's serializer on a graph filled in sorted
    #: order; ``jsonld`` compacted by pyld with the shipped context; ``oxigraph`` pyoxigraph,
    #: which writes in the order it is given (rdflib's writer would order by hash)
    writer: str
    aliases: tuple[str, ...] = ()


FORMATS: tuple[Format, ...] = (
    Format("turtle", "text/turtle", "ttl", "turtle", "TURTLE", False, "rdflib", ("ttl",)),
    Format("ntriples", "application/n-triples", "nt", "nt", "N_TRIPLES", False, "lines",
           ("nt",)),
    Format("jsonld", "application/ld+json", "jsonld", "json-ld", "JSON_LD", False, "jsonld",
           ("json-ld",)),
    Format("rdfxml", "application/rdf+xml", "rdf", "xml", "RDF_XML", False, "oxigraph",
           ("xml", "rdf")),
    Format("nquads", "application/n-quads", "nq", "nquads", "N_QUADS", True, "lines", ("nq",)),
    Format("trig", "application/trig", "trig", "trig", "TRIG", True, "oxigraph", ()),
)


def get(name: str) -> Format:
    """The format called ``name`` (or one of its aliases, extension or media type)."""
    key = name.strip().lower()
    for fmt in FORMATS:
        if key in (fmt.name, fmt.extension, fmt.media_type, *fmt.aliases):
            return fmt
    known = ", ".join(f.name for f in FORMATS)
    raise KeyError(f"unknown format {name!r}; known formats: {known}")


def names() -> list[str]:
    return [f.name for f in FORMATS]


def by_extension(ext: str) -> Format:
    return get(ext.lstrip("."))


# --------------------------------------------------------------------------- SPARQL results

@dataclass(frozen=True)
class ResultsFormat:
    """A W3C SPARQL results format (of SELECT and ASK answers)."""

    name: str  #: short name (``--format``, ``?format=``)
    media_type: str
    oxigraph: str  #: pyoxigraph ``QueryResultsFormat`` attribute name
    boolean: bool  #: can carry an ASK answer (the CSV and TSV formats cannot)
    aliases: tuple[str, ...] = ()  #: other media types clients ask for it by


RESULTS_FORMATS: tuple[ResultsFormat, ...] = (
    ResultsFormat("json", "application/sparql-results+json", "JSON", True,
                  ("application/json",)),
    ResultsFormat("xml", "application/sparql-results+xml", "XML", True,
                  ("application/xml", "text/xml")),
    ResultsFormat("csv", "text/csv", "CSV", False),
    ResultsFormat("tsv", "text/tab-separated-values", "TSV", False),
)


def results_format(key: str) -> ResultsFormat:
    """The results format called ``key`` (a name, media type or alias)."""
    key = key.strip().lower()
    for fmt in RESULTS_FORMATS:
        if key in (fmt.name, fmt.media_type, *fmt.aliases):
            return fmt
    known = ", ".join(f.name for f in RESULTS_FORMATS)
    raise KeyError(f"unknown results format {key!r}; known formats: {known}")
