"""Links to other datasets: the SSSOM mapping table, the ``links`` graph, VoID linksets,
and ``resolve`` (Wikidata and MusicBrainz candidates found from English Wikipedia titles).

``data/links/*.sssom.tsv`` is the one place links are edited: an SSSOM/TSV table (a YAML
metadata block commented with ``#``, then a header row and one mapping per row). The build
publishes a row as one triple in the ``links`` graph when it is *accepted*: curated by hand
(``semapv:ManualMappingCuration``) or reviewed (``reviewer_label``/``reviewer_id`` filled).
Rows whose object is ``sssom:NoTermFound`` record that there is nothing to link to (their
comment says why); rows with ``predicate_modifier`` ``Not`` record a rejected candidate.
``resolve`` appends *candidate* rows (``semapv:MappingChaining``, a confidence, a comment
saying how they were found) that a person reviews before they are published.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef

from .errors import JunoKGError
from .vocab import STANDARD_PREFIXES, curie

OWL_SAME_AS = URIRef("http://www.w3.org/2002/07/owl#sameAs")
#: The Music Ontology's MusicBrainz identifier (a plain string), stated beside every
#: owl:sameAs link to a MusicBrainz entity, as LinkedBrainz and the Music Ontology do.
MUSICBRAINZ_GUID = URIRef(STANDARD_PREFIXES["mo"] + "musicbrainz_guid")
SKOS = Namespace(STANDARD_PREFIXES["skos"])
FOAF = Namespace(STANDARD_PREFIXES["foaf"])
VOID = Namespace(STANDARD_PREFIXES["void"])
DCTERMS = Namespace(STANDARD_PREFIXES["dcterms"])
SEMAPV = "https://w3id.org/semapv/vocab/"
SSSOM = "https://w3id.org/sssom/"
WIKIDATA_SPARQL = "https://query.wikidata.org/sparql"
NO_TERM_FOUND = SSSOM + "NoTermFound"
MANUAL = SEMAPV + "ManualMappingCuration"
CHAINING = SEMAPV + "MappingChaining"

#: Prefixes every table may use without declaring them in its ``curie_map``.
BUILTIN_PREFIXES = {
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": STANDARD_PREFIXES["skos"],
    "foaf": STANDARD_PREFIXES["foaf"],
    "semapv": SEMAPV,
    "sssom": SSSOM,
}
#: The link properties a table may use: identity, concept matches, the Wikipedia page.
LINK_PREDICATES = (
    OWL_SAME_AS, SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch,
    SKOS.relatedMatch, FOAF.isPrimaryTopicOf,
)
REQUIRED_COLUMNS = ("subject_id", "predicate_id", "object_id", "mapping_justification")


@dataclass(frozen=True)
class Target:
    """A dataset we link to: how to recognise its IRIs, and how to describe it in VoID."""

    key: str
    title: str
    homepage: str
    uri_space: str
    pattern: str  #: a well-formed IRI of this dataset (the shapes use the same patterns)
    sparql: str | None = None

    def owns(self, iri: str) -> bool:
        return iri.startswith(self.uri_space)


MB_TYPES = ("artist", "release-group", "release", "recording", "work", "label", "place", "area",
            "event", "instrument", "series")
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: MusicBrainz entities as LinkedBrainz names them (the thing, not its web page):
#: ``http://musicbrainz.org/{type}/{MBID}#_``.
MUSICBRAINZ_ENTITY = "http://musicbrainz.org/{kind}/{mbid}#_"
TARGETS = (
    Target("dbpedia", "DBpedia", "https://www.dbpedia.org/", "http://dbpedia.org/resource/",
           r'^http://dbpedia\.org/resource/([^\sa-z"#%<>?\[\\\]^`{|}]|%[0-9A-F]{2})'
           r'([^\s"#%<>?\[\\\]^`{|}]|%[0-9A-F]{2})*$', "https://dbpedia.org/sparql"),
    Target("wikidata", "Wikidata", "https://www.wikidata.org/", "http://www.wikidata.org/entity/",
           r"^http://www\.wikidata\.org/entity/Q[1-9][0-9]*$", WIKIDATA_SPARQL),
    Target("musicbrainz", "MusicBrainz", "https://musicbrainz.org/", "http://musicbrainz.org/",
           rf"^http://musicbrainz\.org/({'|'.join(MB_TYPES)})/{UUID}#_$"),
    Target("wikipedia", "English Wikipedia", "https://en.wikipedia.org/",
           "https://en.wikipedia.org/wiki/",
           r"^https://en\.wikipedia\.org/wiki/([A-Z0-9!$(),*/:;@~._-]|%[0-9A-F]{2})"
           r"([A-Za-z0-9!$(),*/:;@~._-]|%[0-9A-F]{2})*$"),
)


def target_of(iri: str) -> Target | None:
    return next((t for t in TARGETS if t.owns(iri)), None)


def musicbrainz_iri(kind: str, mbid: str) -> str:
    """The LinkedBrainz IRI of a MusicBrainz entity: ``http://musicbrainz.org/{kind}/{mbid}#_``."""
    return MUSICBRAINZ_ENTITY.format(kind=kind, mbid=mbid.strip().lower())


def musicbrainz_guid(iri: str) -> str | None:
    """The MBID of a well-formed MusicBrainz entity IRI, else None."""
    target = next(t for t in TARGETS if t.key == "musicbrainz")
    if not re.match(target.pattern, iri):
        return None
    return iri.rsplit("/", 1)[1][:-len("#_")]


# --------------------------------------------------------------------------- titles

def _title(title: str) -> str:
    """A Wikipedia title as MediaWiki stores it: underscores, first letter capitalised."""
    text = "_".join(title.strip().split(" "))
    return text[:1].upper() + text[1:]


def wikipedia_url(title: str) -> str:
    """The English Wikipedia URL of ``title``, percent-encoded as MediaWiki does."""
    return "https://en.wikipedia.org/wiki/" + quote(_title(title), safe=";@$!*(),/~:")


def dbpedia_iri(title: str) -> str:
    """The DBpedia resource IRI of ``title``: an IRI (non-ASCII kept), with only the
    characters that cannot stand in an IRI, and ``#``, ``%`` and ``?``, percent-encoded."""
    return "http://dbpedia.org/resource/" + re.sub(
        r'[\s"#%<>?\[\\\]^`{|}]', lambda m: quote(m.group(0), safe=""), _title(title))


def title_of(url: str) -> str:
    """The article title of an English Wikipedia URL (``Juno_(film)`` → ``Juno (film)``)."""
    prefix = "https://en.wikipedia.org/wiki/"
    if not url.startswith(prefix):
        raise ValueError(f"not an English Wikipedia article URL: {url}")
    return unquote(url[len(prefix):]).replace("_", " ")


# --------------------------------------------------------------------------- the table

@dataclass
class Mapping:
    """One row of the table (values as written; IRIs expanded)."""

    line: int
    values: dict[str, str]
    subject: str
    predicate: str
    object: str

    def get(self, column: str) -> str:
        return self.values.get(column, "")

    @property
    def justification(self) -> str:
        return self.get("mapping_justification")

    @property
    def negated(self) -> bool:
        return self.get("predicate_modifier").lower() == "not"

    @property
    def no_term(self) -> bool:
        return self.object == NO_TERM_FOUND

    @property
    def reviewed(self) -> bool:
        return bool(self.get("reviewer_label") or self.get("reviewer_id"))

    @property
    def accepted(self) -> bool:
        """Published in the ``links`` graph: curated by hand or reviewed, not negated."""
        return (not self.negated and not self.no_term
                and (self.justification == MANUAL or self.reviewed))

    @property
    def candidate(self) -> bool:
        return not self.accepted and not self.negated and not self.no_term


@dataclass
class Table:
    """A parsed SSSOM/TSV mapping table."""

    path: Path
    metadata: dict
    prefixes: dict[str, str]
    columns: list[str]
    rows: list[Mapping] = field(default_factory=list)

    def accepted(self) -> list[Mapping]:
        return [r for r in self.rows if r.accepted]

    def graph(self) -> Graph:
        """The accepted rows as triples (what the ``links`` graph gets from this table).

        An ``owl:sameAs`` link to a MusicBrainz entity also gives the subject its
        ``mo:musicbrainz_guid`` (the entity's UUID, a plain string).
        """
        g = Graph()
        for row in self.accepted():
            g.add((URIRef(row.subject), URIRef(row.predicate), URIRef(row.object)))
            guid = musicbrainz_guid(row.object)
            if guid is not None and row.predicate == str(OWL_SAME_AS):
                g.add((URIRef(row.subject), MUSICBRAINZ_GUID, Literal(guid)))
        return g

    def curie(self, iri: str) -> str:
        """``iri`` as a CURIE of this table's prefixes (the longest namespace wins)."""
        return curie(iri, {**BUILTIN_PREFIXES, **self.prefixes}, any_local=True) or iri


def _expand(value: str, prefixes: dict[str, str], what: str, path: Path, line: int) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    prefix, sep, local = value.partition(":")
    if not sep or not prefix:
        raise JunoKGError(f"{what} {value!r} is not a CURIE", path=path, line=line,
                          hint="write prefix:local with a prefix declared in the curie_map")
    if prefix not in prefixes:
        raise JunoKGError(f"{what} {value!r} uses the undeclared prefix {prefix!r}", path=path,
                          line=line, hint="declare it in the table's curie_map header")
    return prefixes[prefix] + local


def _metadata(lines: list[str], path: Path) -> dict:
    import yaml

    text = "\n".join(line[1:] for line in lines)
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise JunoKGError(f"malformed SSSOM metadata header: {getattr(exc, 'problem', exc)}",
                          path=path, line=(mark.line + 1) if mark else None,
                          hint="the #-commented header must be YAML (key: value)") from None
    if not isinstance(data, dict):
        raise JunoKGError("the SSSOM metadata header is not a YAML mapping", path=path, line=1)
    return data


def read_table(path: Path) -> Table:
    """Parse one SSSOM/TSV table; a malformed one raises :class:`JunoKGError` (file, line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise JunoKGError(f"not UTF-8: {exc}", path=path, hint="save it as UTF-8") from None
    except OSError as exc:
        raise JunoKGError(f"cannot read the mapping table: {exc.strerror}", path=path) from None
    lines = text.splitlines()
    header_end = 0
    while header_end < len(lines) and lines[header_end].startswith("#"):
        header_end += 1
    metadata = _metadata(lines[:header_end], path)
    curie_map = metadata.get("curie_map") or {}
    if not isinstance(curie_map, dict):
        raise JunoKGError("curie_map must map prefixes to namespaces", path=path, line=1)
    prefixes = {**BUILTIN_PREFIXES, **{str(k): str(v) for k, v in curie_map.items()}}
    for key in ("mapping_set_id", "license"):
        if not metadata.get(key):
            raise JunoKGError(f"the SSSOM header has no {key}", path=path, line=1,
                              hint=f"add '#{key}: ...' to the metadata block")
    if header_end >= len(lines):
        raise JunoKGError("no header row after the metadata block", path=path,
                          line=header_end + 1)
    reader = csv.reader(io.StringIO("\n".join(lines[header_end:])), delimiter="\t",
                        quoting=csv.QUOTE_NONE)
    rows = list(reader)
    columns = [c.strip() for c in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise JunoKGError(f"the header row has no {', '.join(missing)} column",
                          path=path, line=header_end + 1,
                          hint="SSSOM needs subject_id, predicate_id, object_id and "
                               "mapping_justification")
    table = Table(path, metadata, {k: v for k, v in prefixes.items()}, columns)
    allowed = {str(p) for p in LINK_PREDICATES}
    for offset, cells in enumerate(rows[1:], start=header_end + 2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            raise JunoKGError(f"{len(cells)} cells where the header has {len(columns)}",
                              path=path, line=offset,
                              hint="separate cells with exactly one tab; leave empty cells empty")
        values = {c: v.strip() for c, v in zip(columns, cells, strict=True)}
        for column in REQUIRED_COLUMNS:
            if not values[column]:
                raise JunoKGError(f"empty {column}", path=path, line=offset)
        subject = _expand(values["subject_id"], prefixes, "subject_id", path, offset)
        predicate = _expand(values["predicate_id"], prefixes, "predicate_id", path, offset)
        obj = _expand(values["object_id"], prefixes, "object_id", path, offset)
        justification = _expand(values["mapping_justification"], prefixes,
                                "mapping_justification", path, offset)
        if predicate not in allowed:
            raise JunoKGError(f"predicate {values['predicate_id']} is not a link property",
                              path=path, line=offset,
                              hint="use owl:sameAs, skos:exactMatch/closeMatch/broadMatch/"
                                   "narrowMatch/relatedMatch or foaf:isPrimaryTopicOf")
        if not justification.startswith(SEMAPV):
            raise JunoKGError(f"mapping_justification {values['mapping_justification']} is "
                              "not a semapv: term", path=path, line=offset,
                              hint="e.g. semapv:ManualMappingCuration")
        values["mapping_justification"] = justification
        if values.get("confidence"):
            try:
                confidence = float(values["confidence"])
            except ValueError:
                confidence = -1.0
            if not 0.0 <= confidence <= 1.0:
                raise JunoKGError(f"confidence {values['confidence']!r} is not a number "
                                  "from 0 to 1", path=path, line=offset)
        table.rows.append(Mapping(offset, values, subject, predicate, obj))
    return table


def read_tables(folder: Path) -> list[Table]:
    return [read_table(p) for p in sorted(folder.glob("*.sssom.tsv"))] if folder.is_dir() else []


def links_graph(path: Path) -> Graph:
    """The triples one table contributes to the ``links`` graph (the load step's hook)."""
    return read_table(path).graph()


# --------------------------------------------------------------------------- VoID linksets

def linksets(links: Graph, base: str) -> Graph:
    """VoID linksets from ``links``: one per target dataset and link property, with counts."""
    dataset = URIRef(f"{base}dataset")
    counts: Counter[tuple[str, str]] = Counter()
    for _s, p, o in links:
        target = target_of(str(o))
        if target is not None:
            counts[(target.key, str(p))] += 1
    g = Graph()
    used = {key for key, _ in counts}
    for target in TARGETS:
        if target.key not in used:
            continue
        node = URIRef(target.homepage)
        g.add((node, RDF.type, VOID.Dataset))
        g.add((node, DCTERMS.title, Literal(target.title, lang="en")))
        g.add((node, FOAF.homepage, node))
        g.add((node, VOID.uriSpace, Literal(target.uri_space)))
        g.add((node, VOID.uriRegexPattern, Literal(target.pattern)))
        if target.sparql:
            g.add((node, VOID.sparqlEndpoint, URIRef(target.sparql)))
    names = {str(p): str(p).rsplit("#", 1)[-1].rsplit("/", 1)[-1] for p in LINK_PREDICATES}
    for (key, predicate), n in sorted(counts.items()):
        target = next(t for t in TARGETS if t.key == key)
        node = URIRef(f"{base}dataset/linkset/{key}-{names.get(predicate, 'link')}")
        g.add((dataset, VOID.subset, node))
        g.add((node, RDF.type, VOID.Linkset))
        g.add((node, DCTERMS.title, Literal(f"Links to {target.title} "
                                            f"({names.get(predicate, predicate)})", lang="en")))
        g.add((node, VOID.subjectsTarget, dataset))
        g.add((node, VOID.objectsTarget, URIRef(target.homepage)))
        g.add((node, VOID.linkPredicate, URIRef(predicate)))
        g.add((node, VOID.triples, Literal(n, datatype=XSD.integer)))
    return g


# --------------------------------------------------------------------------- resolve





















def subjects_with(rows: Iterable[Mapping], target: str) -> set[str]:
    """Subjects with an accepted link into the dataset ``target`` (a :data:`TARGETS` key)."""
    t = next(t for t in TARGETS if t.key == target)
    return {r.subject for r in rows if r.accepted and t.owns(r.object)}


def federated_queries() -> set[str]:
    """Names of the named queries that federate with Wikidata (header ``# federated: URL``).

    They need the internet and a SERVICE-capable engine: documented and shipped; the tests
    that run every named query leave them out, and tests/test_links.py runs them against a
    stand-in for Wikidata on loopback.
    """
    folder = Path(__file__).with_name("queries")
    return {p.stem for p in folder.glob("*.rq")
            if any(line.startswith("# federated:")
                   for line in p.read_text("utf-8").splitlines()
                   if line.startswith("#"))}
