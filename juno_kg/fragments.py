"""Triple Pattern Fragments (Linked Data Fragments) at ``/fragments`` of ``juno-kg serve``.

``GET /fragments?subject=S&predicate=P&object=O`` answers the triples of the union of the
dataset's named graphs that match the pattern (each triple once, whatever graphs state
it), ``PAGE_SIZE`` to a page (``&page=N``), with the metadata and controls of the TPF
specification (https://linkeddatafragments.org/specification/triple-pattern-fragments/):

- the count of matching triples, exact (``void:triples`` and ``hydra:totalItems``), and
  ``hydra:itemsPerPage``, ``hydra:first``, ``hydra:previous``, ``hydra:next`` of the page;
- the dataset as a ``hydra:Collection`` with its search form: ``hydra:search`` with a
  ``hydra:template`` (``…/fragments{?subject,predicate,object}``), the
  ``hydra:ExplicitRepresentation`` of terms (an IRI as it is, a literal as ``"text"``,
  ``"text"@en`` or ``"12"^^http://www.w3.org/2001/XMLSchema#integer``; empty or ``?x``
  for a variable) and one ``hydra:mapping`` to ``rdf:subject``/``predicate``/``object``
  each. A prefixed name of the dataset's prefixes (``schema:name``) is read as its IRI.

In TriG, N-Quads and JSON-LD the data is the default graph and the metadata a named graph
``{fragment}#metadata`` that is the ``foaf:primaryTopic`` of the fragment, as the LDF
server writes it; in Turtle and N-Triples they share the one graph. HTML is a page with
the form. Formats by ``Accept`` (``?format=`` overrides), 406 otherwise.

The patterns are looked up in an in-process pyoxigraph store of the build's N-Quads (the
union as one default graph, loaded once): an index lookup per request, no query engine, no
outgoing request; counts are kept (LRU) per pattern.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox

from . import formats, layout
from .vocab import prefix_map

PAGE_SIZE = 100
MAX_PAGE = 1_000_000
DUMP = layout.NQUADS_DUMP

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
HYDRA = "http://www.w3.org/ns/hydra/core#"
VOID = "http://rdfs.org/ns/void#"
DCTERMS = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
HTML = "text/html"
#: the RDF formats a fragment is offered in; the first answers ``*/*``
OFFERED = ("turtle", "trig", "nquads", "ntriples", "jsonld")
VARIABLES = ("subject", "predicate", "object")

_LITERAL = re.compile(r'"(?P<value>.*)"(?:@(?P<lang>[A-Za-z]+(?:-[A-Za-z0-9]+)*)'
                      r'|\^\^<?(?P<datatype>[^<>"\s]+)>?)?', re.S)
_CURIE = re.compile(r"(?P<prefix>[A-Za-z][\w-]*)?:(?P<local>[\w.\-]*)")


class BadPattern(ValueError):
    """A parameter that is not a term of the explicit representation (400)."""


def _iri(text: str, prefixes: dict[str, str]) -> ox.NamedNode:
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    match = _CURIE.fullmatch(text)
    if match and (match.group("prefix") or "") in prefixes:
        text = prefixes[match.group("prefix") or ""] + match.group("local")
    try:
        return ox.NamedNode(text)
    except ValueError:
        raise BadPattern(f"not an IRI: {text!r}") from None


def parse_term(text: str | None, position: str,
               prefixes: dict[str, str]) -> ox.NamedNode | ox.Literal | ox.BlankNode | None:
    """A pattern's term from its explicit representation; None for a variable."""
    if text is None or not text.strip() or text.strip().startswith(("?", "$")):
        return None
    text = text.strip()
    if text.startswith("_:") and position != "predicate":
        return ox.BlankNode(text[2:])  # matches nothing here: the data has no blank nodes
    if text.startswith('"'):
        if position != "object":
            raise BadPattern(f"a literal cannot be the {position}: {text}")
        match = _LITERAL.fullmatch(text)
        if match is None:
            raise BadPattern(f"not a literal: {text} (write \"text\", \"text\"@en or "
                             f"\"1\"^^http://www.w3.org/2001/XMLSchema#integer)")
        if match.group("lang"):
            return ox.Literal(match.group("value"), language=match.group("lang").lower())
        if match.group("datatype"):
            return ox.Literal(match.group("value"),
                              datatype=_iri(match.group("datatype"), prefixes))
        return ox.Literal(match.group("value"))
    return _iri(text, prefixes)


def explicit(term: Any) -> str:
    """A term in the explicit representation (what a client puts in the template)."""
    if isinstance(term, ox.Literal):
        if term.language:
            return f'"{term.value}"@{term.language}'
        if term.datatype.value != f"{XSD}string":
            return f'"{term.value}"^^{term.datatype.value}'
        return f'"{term.value}"'
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return term.value


@dataclass(frozen=True)
class Pattern:
    subject: ox.NamedNode | ox.BlankNode | None
    predicate: ox.NamedNode | None
    object: ox.NamedNode | ox.Literal | ox.BlankNode | None

    def key(self) -> tuple[str, ...]:
        return tuple("" if t is None else explicit(t) for t in (self.subject, self.predicate,
                                                                   self.object))

    def text(self) -> str:
        def show(term: Any, var: str) -> str:
            if term is None:
                return f"?{var}"
            return term.value.join("<>") if isinstance(term, ox.NamedNode) else str(term)
        return " ".join(show(t, v) for t, v in zip((self.subject, self.predicate, self.object),
                                                    "spo", strict=True))


class Fragments:
    """The triples of a build, looked up by pattern (a store of the union of its graphs)."""

    COUNTS = 4096  #: patterns whose count is kept

    def __init__(self, dump: Path, base: str, page_size: int = PAGE_SIZE) -> None:
        self.store = ox.Store()
        triples = (ox.Quad(q.subject, q.predicate, q.object)
                   for q in ox.parse(path=str(dump), format=ox.RdfFormat.N_QUADS))
        self.store.extend(triples)  # into the default graph: each triple once
        self.base = base
        self.page_size = page_size
        self.prefixes = prefix_map(base)
        self._counts: OrderedDict[tuple[str, ...], int] = OrderedDict()

    @classmethod
    def open(cls, dist: Path, page_size: int = PAGE_SIZE) -> Fragments:
        base = json.loads((Path(dist) / layout.MANIFEST).read_text("utf-8"))["base"]
        return cls(Path(dist) / DUMP, base, page_size)

    def pattern(self, subject: str | None, predicate: str | None,
                object: str | None) -> Pattern:
        """The pattern of three parameters (:class:`BadPattern` if one is no term)."""
        s = parse_term(subject, "subject", self.prefixes)
        p = parse_term(predicate, "predicate", self.prefixes)
        o = parse_term(object, "object", self.prefixes)
        # parse_term refuses a literal subject and reads a predicate as an IRI or nothing
        assert not isinstance(s, ox.Literal) and (p is None or isinstance(p, ox.NamedNode))
        return Pattern(s, p, o)

    def _match(self, pattern: Pattern) -> Iterable[ox.Quad]:
        return self.store.quads_for_pattern(pattern.subject, pattern.predicate,
                                            pattern.object, ox.DefaultGraph())

    def count(self, pattern: Pattern) -> int:
        key = pattern.key()
        if key in self._counts:
            self._counts.move_to_end(key)
            return self._counts[key]
        found = sum(1 for _ in self._match(pattern))
        self._counts[key] = found
        if len(self._counts) > self.COUNTS:
            self._counts.popitem(last=False)
        return found

    def page(self, pattern: Pattern, number: int) -> list[ox.Triple]:
        start = (number - 1) * self.page_size
        return [q.triple for q in itertools.islice(self._match(pattern), start,
                                                   start + self.page_size)]


# --------------------------------------------------------------------------- the answer

@dataclass
class Fragment:
    """One page of a fragment: its triples, its count and the URLs of its controls."""

    pattern: Pattern
    params: dict[str, str]  #: the pattern as the client wrote it
    number: int
    triples: list[ox.Triple]
    total: int
    page_size: int
    root: str  #: the server's root URL, ``http://host/``
    page_url: str  #: the URL requested (the page's identity)

    @property
    def dataset(self) -> str:
        return f"{self.root}fragments#dataset"

    @property
    def template(self) -> str:
        return f"{self.root}fragments{{?subject,predicate,object}}"

    @property
    def url(self) -> str:
        """The fragment (the pattern, all its pages): the template filled in."""
        query = "&".join(f"{name}={quote(value, safe='')}" for name, value in
                         self.params.items() if value.strip()
                         and not value.strip().startswith(("?", "$")))
        return f"{self.root}fragments" + (f"?{query}" if query else "")

    def page_link(self, number: int) -> str:
        if number == 1:
            return self.url
        return f"{self.url}{'&' if '?' in self.url else '?'}page={number}"

    @property
    def next(self) -> str | None:
        more = self.number * self.page_size < self.total
        return self.page_link(self.number + 1) if more else None

    @property
    def previous(self) -> str | None:
        return self.page_link(self.number - 1) if self.number > 1 else None

    @property
    def last_page(self) -> int:
        return max(1, -(-self.total // self.page_size))

    def metadata(self) -> list[ox.Triple]:
        """The metadata and controls, in the order the LDF server writes them (Comunica
        reads the fragment as the subject of the last ``void:subset`` of this page)."""
        n = ox.NamedNode
        def lit(value: int) -> ox.Literal:
            return ox.Literal(str(value), datatype=n(f"{XSD}integer"))
        dataset, fragment, page = n(self.dataset), n(self.url), n(self.page_url)
        search = n(f"{self.root}fragments#search")
        out = [ox.Triple(dataset, n(f"{RDF}type"), n(f"{VOID}Dataset")),
               ox.Triple(dataset, n(f"{RDF}type"), n(f"{HYDRA}Collection")),
               ox.Triple(dataset, n(f"{DCTERMS}title"), ox.Literal("juno-kg", language="en")),
               ox.Triple(dataset, n(f"{VOID}subset"), fragment),
               ox.Triple(dataset, n(f"{HYDRA}search"), search),
               ox.Triple(search, n(f"{HYDRA}template"), ox.Literal(self.template)),
               ox.Triple(search, n(f"{HYDRA}variableRepresentation"),
                         n(f"{HYDRA}ExplicitRepresentation"))]
        for var in VARIABLES:
            mapping = n(f"{self.root}fragments#{var}")
            out += [ox.Triple(search, n(f"{HYDRA}mapping"), mapping),
                    ox.Triple(mapping, n(f"{HYDRA}variable"), ox.Literal(var)),
                    ox.Triple(mapping, n(f"{HYDRA}property"), n(f"{RDF}{var}"))]
        out += [ox.Triple(fragment, n(f"{VOID}subset"), page),
                ox.Triple(page, n(f"{RDF}type"), n(f"{HYDRA}PartialCollectionView")),
                ox.Triple(page, n(f"{DCTERMS}title"), ox.Literal(
                    f"Triple Pattern Fragment of juno-kg: {self.pattern.text()}", language="en")),
                ox.Triple(page, n(f"{DCTERMS}source"), dataset),
                ox.Triple(page, n(f"{VOID}triples"), lit(self.total)),
                ox.Triple(page, n(f"{HYDRA}totalItems"), lit(self.total)),
                ox.Triple(page, n(f"{HYDRA}itemsPerPage"), lit(self.page_size)),
                ox.Triple(page, n(f"{HYDRA}first"), n(self.page_link(1))),
                ox.Triple(page, n(f"{HYDRA}last"), n(self.page_link(self.last_page)))]
        if self.previous:
            out.append(ox.Triple(page, n(f"{HYDRA}previous"), n(self.previous)))
        if self.next:
            out.append(ox.Triple(page, n(f"{HYDRA}next"), n(self.next)))
        return out

    def serialize(self, fmt: formats.Format, prefixes: dict[str, str] | None = None) -> bytes:
        """The page in ``fmt``; Turtle and TriG declare ``prefixes`` (and Hydra's)."""
        prefixes = {**(prefixes or {}), "hydra": HYDRA, "void": VOID, "dcterms": DCTERMS,
                    "foaf": FOAF, "rdf": RDF, "xsd": XSD}
        metadata = self.metadata()
        if fmt.quads or fmt.name == "jsonld":
            graph = ox.NamedNode(f"{self.url}#metadata")
            quads = [ox.Quad(t.subject, t.predicate, t.object) for t in self.triples]
            quads.append(ox.Quad(graph, ox.NamedNode(f"{FOAF}primaryTopic"),
                                 ox.NamedNode(self.url), graph))
            quads += [ox.Quad(t.subject, t.predicate, t.object, graph) for t in metadata]
            return ox.serialize(quads, format=getattr(ox.RdfFormat, fmt.oxigraph),
                                prefixes=prefixes if fmt.name == "trig" else None)
        triples = [*self.triples, *metadata]
        return ox.serialize(triples, format=getattr(ox.RdfFormat, fmt.oxigraph),
                            prefixes=prefixes if fmt.name == "turtle" else None)


# --------------------------------------------------------------------------- the route

def choose(accept: str | None, override: str | None) -> str | None:
    """The media type to answer with (``?format=`` first, then ``Accept``), or None."""
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    offers = [formats.get(name).media_type for name in OFFERED]
    if override:
        key = override.strip().lower()
        if key in ("html", HTML):
            return HTML
        try:
            media = formats.get(key).media_type
        except KeyError:
            return None
        return media if media in offers else None
    aliases = {"application/json": "application/ld+json", "text/n3": "text/turtle",
               "text/plain": "application/n-triples"}
    chosen = parse_accept_header(accept or "*/*", MIMEAccept).best_match(
        [*offers, *aliases, HTML])
    return aliases.get(chosen, chosen) if chosen else None


def route(dist: Path, page_size: int = PAGE_SIZE):
    """The Starlette route of ``/fragments`` over the build in ``dist``."""
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from .site import environment

    fragments = Fragments.open(dist, page_size)
    templates = environment()

    def html(fragment: Fragment | None, params: dict[str, str], error: str | None,
             status: int = 200) -> Response:
        from .vocab import curie

        def show(term: Any) -> str:
            if isinstance(term, ox.NamedNode):
                return curie(term.value, fragments.prefixes) or term.value
            return explicit(term)

        def link(term: Any, position: str) -> str:
            return "fragments?" + f"{position}=" + quote(explicit(term), safe="")

        body = templates.get_template("fragments.html").render(
            root="", title="Triple Pattern Fragments", fragment=fragment, params=params,
            error=error, show=show, link=link, page_size=fragments.page_size)
        return Response(body, status, media_type="text/html; charset=utf-8",
                        headers={"Vary": "Accept"})

    async def endpoint(request: Request) -> Response:
        params = {var: request.query_params.get(var, "") for var in VARIABLES}
        media = choose(request.headers.get("accept"), request.query_params.get("format"))
        if media is None:
            available = ", ".join([*(formats.get(n).media_type for n in OFFERED), HTML])
            return PlainTextResponse(f"406 Not acceptable: fragments are available as "
                                     f"{available}\n", 406, headers={"Vary": "Accept"})
        try:
            pattern = fragments.pattern(params["subject"], params["predicate"],
                                        params["object"])
            page = request.query_params.get("page", "1")
            if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
                raise BadPattern(f"page must be a whole number from 1 to {MAX_PAGE}, "
                                 f"not {page!r}")
        except BadPattern as exc:
            if media == HTML:
                return html(None, params, str(exc), 400)
            return PlainTextResponse(f"400 Bad request: {exc}\n", 400,
                                     headers={"Vary": "Accept"})
        number = int(page)
        fragment = Fragment(pattern, params, number, fragments.page(pattern, number),
                            fragments.count(pattern), fragments.page_size,
                            str(request.base_url), str(request.url))
        if media == HTML:
            return html(fragment, params, None)
        fmt = next(f for f in formats.FORMATS if f.media_type == media)
        charset = "; charset=utf-8" if media.startswith("text/") or "json" in media else ""
        return Response(fragment.serialize(fmt, fragments.prefixes), media_type=media + charset,
                        headers={"Vary": "Accept"})

    return Route("/fragments", endpoint, methods=["GET"])


def advertise(graph: Any, dataset: Any, root: str) -> None:
    """Add the TPF interface of the server at ``root`` to an rdflib ``graph`` describing
    ``dataset`` (the service description's dataset): its search form and template."""
    from rdflib import RDF as RDF_NS
    from rdflib import Literal, Namespace, URIRef

    hydra, void = Namespace(HYDRA), Namespace(VOID)
    graph.bind("hydra", hydra)
    search = URIRef(f"{root}fragments#search")
    graph.add((dataset, RDF_NS.type, void.Dataset))
    graph.add((dataset, RDF_NS.type, hydra.Collection))
    graph.add((dataset, void.subset, URIRef(f"{root}fragments")))
    graph.add((dataset, hydra.search, search))
    graph.add((search, hydra.template, Literal(f"{root}fragments{{?subject,predicate,object}}")))
    graph.add((search, hydra.variableRepresentation, hydra.ExplicitRepresentation))
    for var in VARIABLES:
        mapping = URIRef(f"{root}fragments#{var}")
        graph.add((search, hydra.mapping, mapping))
        graph.add((mapping, hydra.variable, Literal(var)))
        graph.add((mapping, hydra.property, RDF_NS[var]))
