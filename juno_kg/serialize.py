"""Serialisation: every RDF format of the registry as deterministic bytes, and JSON-LD.

A leaf of the package: it imports only the format registry and the vocabulary, so that
writing a build, the site, the query helper and the server share one way to make bytes.
Byte-identical output for the same triples, whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

import functools
import itertools
import json
from importlib import resources

from rdflib import OWL, RDF, RDFS, XSD, Dataset, Graph, Literal, URIRef
from rdflib.term import Node

from . import formats
from .config import DEFAULT_BASE
from .vocab import STANDARD_PREFIXES

CONTEXT_FILE = "context.jsonld"


# --------------------------------------------------------------------------- serialising

def _key(term: Node) -> tuple[int, str]:
    return (0 if isinstance(term, URIRef) else 1, term.n3())


def sorted_graph(graph: Graph, namespaces: Graph | None = None) -> Graph:
    """A copy of ``graph`` whose triples were added in sorted order (deterministic output).

    It binds the prefixes of ``namespaces`` (default ``graph``) whose namespace is part of
    an IRI of the graph (terms and datatypes): the only ones a serialisation can use, so
    the output is that of binding them all, without rdflib's cost per binding.
    """
    triples = sorted(graph, key=lambda t: tuple(_key(x) for x in t))
    iris = {str(term) for triple in triples for term in triple if isinstance(term, URIRef)}
    iris.update(str(term.datatype) for triple in triples for term in triple
                if isinstance(term, Literal) and term.datatype is not None)
    blob = "\n".join(iris)
    out = Graph(bind_namespaces="none")
    for prefix, ns in (namespaces or graph).namespaces():
        if str(ns) in blob:
            out.bind(prefix, ns, override=True, replace=True)
    for triple in triples:
        out.add(triple)
    return out


def _sorted_lines(data: str) -> bytes:
    lines = sorted({line for line in data.splitlines() if line.strip()})
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _used_prefixes(graph: Graph, text: str) -> dict[str, str]:
    """The prefixes bound in ``graph`` whose namespace occurs in the N-Triples ``text``."""
    return {p: str(ns) for p, ns in sorted(graph.namespaces())
            if p and not p.startswith("ns") and f"<{ns}" in text}


def _oxigraph(ntriples: bytes, fmt: formats.Format, prefixes: dict[str, str],
              graph: str | None = None) -> list:
    """Sorted N-Triples parsed by pyoxigraph (optionally as quads in ``graph``), in order."""
    import pyoxigraph as ox

    triples = ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES)
    if graph is None:
        return list(triples)
    name = ox.NamedNode(graph)
    return [ox.Quad(t.subject, t.predicate, t.object, name) for t in triples]


def _ox_serialize(items: list, fmt: formats.Format, prefixes: dict[str, str]) -> bytes:
    import pyoxigraph as ox

    return ox.serialize(items, format=getattr(ox.RdfFormat, fmt.oxigraph), prefixes=prefixes)


def serialize_graph(graph: Graph, fmt: formats.Format, context: dict | None = None) -> bytes:
    """``graph`` in ``fmt`` (a triple format), byte-identical for the same triples.

    N-Triples are sorted; Turtle comes from rdflib on a graph filled in sorted order;
    RDF/XML from pyoxigraph, which writes triples in the (sorted) order it is given
    (rdflib's RDF/XML writer orders subjects by hash); JSON-LD from pyld, with sorted keys.
    """
    if fmt.quads:
        raise ValueError(f"{fmt.name} is a quad format; use serialize_dataset")
    return _GRAPH_WRITERS[fmt.writer](graph, fmt, context)


def _graph_lines(graph: Graph, fmt: formats.Format, context: dict | None) -> bytes:
    return _sorted_lines(graph.serialize(format=fmt.rdflib))


def _graph_jsonld(graph: Graph, fmt: formats.Format, context: dict | None) -> bytes:
    return jsonld_bytes(compact_jsonld(graph, context or {}))


def _graph_oxigraph(graph: Graph, fmt: formats.Format, context: dict | None) -> bytes:
    nt = _sorted_lines(graph.serialize(format="nt"))
    prefixes = _used_prefixes(graph, nt.decode("utf-8"))
    return _ox_serialize(_oxigraph(nt, fmt, prefixes), fmt, prefixes)


def _graph_rdflib(graph: Graph, fmt: formats.Format, context: dict | None) -> bytes:
    return sorted_graph(graph).serialize(format=fmt.rdflib).encode("utf-8")


_GRAPH_WRITERS = {"lines": _graph_lines, "jsonld": _graph_jsonld, "oxigraph": _graph_oxigraph,
                  "rdflib": _graph_rdflib}


def serialize_dataset(ds: Dataset, fmt: formats.Format, names: list[URIRef]) -> bytes:
    """The named graphs ``names`` of ``ds`` in quad format ``fmt``, deterministic.

    N-Quads are sorted lines; TriG is written by pyoxigraph from the quads graph by
    graph (in the order of ``names``), each graph's triples sorted.
    """
    if not fmt.quads:
        raise ValueError(f"{fmt.name} is a triple format; use serialize_graph")
    per_graph = {name: _sorted_lines(ds.graph(name).serialize(format="nt")) for name in names}
    return _DATASET_WRITERS[fmt.writer](ds, fmt, per_graph)


def _dataset_lines(ds: Dataset, fmt: formats.Format, per_graph: dict[URIRef, bytes]) -> bytes:
    lines = [f"{line.removesuffix(' .')} <{name}> .\n" for name, nt in per_graph.items()
             for line in nt.decode("utf-8").splitlines()]
    return "".join(sorted(lines)).encode("utf-8")


def _dataset_oxigraph(ds: Dataset, fmt: formats.Format,
                      per_graph: dict[URIRef, bytes]) -> bytes:
    text = "".join(nt.decode("utf-8") for nt in per_graph.values())
    prefixes = _used_prefixes(ds, text + "".join(f"<{n}>" for n in per_graph))
    quads = [q for name, nt in per_graph.items()
             for q in _oxigraph(nt, fmt, prefixes, str(name))]
    return _ox_serialize(quads, fmt, prefixes)


_DATASET_WRITERS = {"lines": _dataset_lines, "oxigraph": _dataset_oxigraph}


# --------------------------------------------------------------------------- JSON-LD

def make_context(ontology: Graph, namespaces: Graph, base: str = DEFAULT_BASE) -> dict:
    """The JSON-LD context: prefixes, ``id``/``type`` aliases, a term per ontology property.

    Object properties coerce to IRIs, datatype properties to their XSD range, so the
    compacted JSON reads as plain JSON. The shipped ``juno_kg/context.jsonld`` is this
    function's output for the default base (a test keeps them equal).
    """
    ns = f"{base}ontology#"
    ctx: dict = {"@version": 1.1, "@vocab": ns, "@language": "en", "id": "@id", "type": "@type"}
    ctx.update(STANDARD_PREFIXES)
    for prefix, iri in sorted(namespaces.namespaces()):
        if prefix and str(iri).startswith(base) and str(iri).endswith(("/", "#")):
            ctx[prefix] = str(iri)
    ctx["jk"] = ns
    props = set(ontology.subjects(RDF.type, OWL.ObjectProperty)) | set(
        ontology.subjects(RDF.type, OWL.DatatypeProperty)) | set(
        ontology.subjects(RDF.type, RDF.Property))
    for prop in sorted(props):
        if not str(prop).startswith(ns):
            continue
        local = str(prop)[len(ns):]
        if local in ctx:  # a prefix or alias of the same name wins; the key stays jk:local
            continue
        rng = ontology.value(prop, RDFS.range)
        if (prop, RDF.type, OWL.ObjectProperty) in ontology:
            ctx[local] = {"@id": f"jk:{local}", "@type": "@id"}
        elif rng is not None and rng == RDF.langString:
            ctx[local] = {"@id": f"jk:{local}"}
        elif rng is not None and rng == XSD.string:
            ctx[local] = {"@id": f"jk:{local}", "@language": None}
        elif rng is not None and str(rng).startswith(str(XSD)):
            ctx[local] = {"@id": f"jk:{local}", "@type": f"xsd:{str(rng)[len(str(XSD)):]}"}
    for term, iri in (("label", "rdfs:label"), ("comment", "rdfs:comment")):
        ctx.setdefault(term, {"@id": iri})
    for term, iri in (("source", "dcterms:source"), ("wasDerivedFrom", "prov:wasDerivedFrom"),
                      ("sameAs", "owl:sameAs"), ("seeAlso", "rdfs:seeAlso")):
        ctx.setdefault(term, {"@id": iri, "@type": "@id"})
    return {"@context": ctx}


def shipped_context() -> dict:
    """The context file shipped in the package."""
    return json.loads(resources.files("juno_kg").joinpath(CONTEXT_FILE).read_text("utf-8"))


def _no_fetch(url: str, options: dict | None = None) -> dict:
    from pyld.jsonld import JsonLdError

    raise JsonLdError(f"refusing to fetch {url}: juno-kg never loads remote documents",
                      "jsonld.LoadDocumentError", code="loading document failed")


def expanded_jsonld(graph: Graph) -> list:
    """Expanded JSON-LD for ``graph`` (no context), from rdflib's serializer."""
    return json.loads(sorted_graph(graph).serialize(format="json-ld"))


#: IRIs pyld compacted: (active context, arguments) -> term, CURIE or IRI; shared by every
#: processor of the process (a build compacts some 450 documents with one context).
_COMPACTED: dict[tuple, str] = {}
_CONTEXTS: dict[str, int] = {}  # an active context's content -> a number never used before
_NUMBERS = itertools.count()
_MAX_COMPACTED, _MAX_CONTEXTS = 200_000, 64


def _processor():
    """A pyld processor that remembers the IRIs it compacted (:func:`_processor_class`)."""
    return _processor_class()()


@functools.cache
def _processor_class() -> type:
    """pyld's processor, remembering the IRIs it compacted.

    pyld looks for a term or CURIE for an IRI by scanning every term of the context, each
    time the IRI occurs: with our context (a term per property, sixty prefixes) that scan
    was a quarter of a build. Its answer depends only on the arguments and the active
    context, so it is kept, keyed on the context's content and the arguments; calls with
    values nested deeper than a value or a node reference are not kept (their key would
    cost more than the scan). The same output as pyld's own processor (a test compares).
    """
    from pyld.jsonld import JsonLdProcessor

    class Processor(JsonLdProcessor):
        def __init__(self) -> None:
            super().__init__()
            self._contexts: dict[int, tuple[dict, int]] = {}

        def _context_number(self, active_ctx: dict) -> int:
            known = self._contexts.get(id(active_ctx))
            if known is None:  # the context is held, so that its id is not reused
                content = repr({k: v for k, v in active_ctx.items() if k != "_uuid"})
                if content not in _CONTEXTS and len(_CONTEXTS) >= _MAX_CONTEXTS:
                    _CONTEXTS.clear()  # numbers are never reused: old keys just go unused
                known = (active_ctx, _CONTEXTS.setdefault(content, next(_NUMBERS)))
                self._contexts[id(active_ctx)] = known
            return known[1]

        def _compact_iri(self, active_ctx, iri, *args, **kwargs):
            key = _call_key(iri, args, kwargs)
            if key is None:
                return super()._compact_iri(active_ctx, iri, *args, **kwargs)
            key = (self._context_number(active_ctx), *key)
            answer = _COMPACTED.get(key)
            if answer is None:
                answer = super()._compact_iri(active_ctx, iri, *args, **kwargs)
                if len(_COMPACTED) >= _MAX_COMPACTED:
                    _COMPACTED.clear()
                _COMPACTED[key] = answer
            return answer

    return Processor


@functools.cache
def _resolver():
    """pyld's context resolver, except that a context object it resolved before (the same
    dict: a build passes one context to every document) is not canonicalised again to find
    it in pyld's cache (a millisecond each time, with our context). Local contexts only:
    juno-kg never loads remote ones (:func:`_no_fetch`), so the answer depends on nothing
    else."""
    from pyld.context_resolver import ContextResolver
    from pyld.jsonld import _resolved_context_cache

    class Resolver(ContextResolver):
        def __init__(self) -> None:
            super().__init__(_resolved_context_cache, _no_fetch)
            self._seen: dict[int, tuple[dict, list]] = {}

        def resolve(self, active_ctx, context, base, cycles=None):
            seen = self._seen.get(id(context))
            if seen is not None and seen[0] is context:
                return list(seen[1])
            resolved = super().resolve(active_ctx, context, base, cycles)
            if isinstance(context, dict) and len(self._seen) < 64:  # held: its id stays
                self._seen[id(context)] = (context, list(resolved))
            return resolved

    return Resolver()


def _call_key(iri, args: tuple, kwargs: dict) -> tuple | None:
    """The arguments of a ``_compact_iri`` call as a key, or None if not worth keeping."""
    for v in (*args, *kwargs.values()):
        if isinstance(v, dict):
            if any(isinstance(x, (dict, list)) for x in v.values()):
                return None
        elif not (v is None or isinstance(v, (str, bool, int, float))):
            return None
    return (iri, tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v
                       for v in args),
            tuple(sorted((k, json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)
                         for k, v in kwargs.items())))


def compact_jsonld(graph: Graph, context: dict) -> dict:
    """``graph`` compacted with ``context`` by pyld (an independent JSON-LD processor).

    rdflib's JSON-LD without a context is already in expanded form, so pyld does not
    expand it again (a test compares with pyld expanding it)."""
    doc = _processor().compact(expanded_jsonld(graph), context,
                               {"documentLoader": _no_fetch, "contextResolver": _resolver(),
                                "graph": True, "skipExpansion": True})
    return canonical_json(doc)


def frame_jsonld(graph: Graph, context: dict, frame_body: dict) -> dict:
    frame = {**context, **frame_body}
    doc = _processor().frame(expanded_jsonld(graph), frame,
                             {"documentLoader": _no_fetch, "contextResolver": _resolver(),
                              "embed": "@once", "omitGraph": False})
    return canonical_json(doc)


def canonical_json(value):
    """Sort node arrays by ``@id``/``id`` and value arrays by their JSON (set semantics)."""
    if isinstance(value, dict):
        return {k: (v if k in ("@list", "@context") else canonical_json(v))
                for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical_json(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    return value


def jsonld_bytes(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def ordered_serialization(nquads: bytes, fmt: formats.Format, prefixes: dict[str, str]) -> bytes:
    """``fmt`` written by pyoxigraph from sorted N-Quads, keeping their order.

    rdflib's RDF/XML and TriG writers order subjects and graphs by hash (they differ with
    ``PYTHONHASHSEED``); pyoxigraph writes in input order, so these bytes are deterministic.
    """
    import pyoxigraph as ox

    quads = sorted(ox.parse(nquads, format=ox.RdfFormat.N_QUADS),
                   key=lambda q: (str(q.graph_name), str(q)))
    used = {p: ns for p, ns in sorted(prefixes.items()) if ns.encode() in nquads}
    if fmt.quads:
        return ox.serialize(quads, format=getattr(ox.RdfFormat, fmt.oxigraph), prefixes=used)
    triples = list(dict.fromkeys(q.triple for q in quads))
    return ox.serialize(triples, format=getattr(ox.RdfFormat, fmt.oxigraph), prefixes=used)


def serialize_resource(ds: Dataset, names: list[URIRef], triples: Graph, fmt: formats.Format,
                       context: dict, prefixes: dict[str, str], nquads: bytes) -> bytes:
    """The graphs ``names`` of a small dataset ``ds`` (one resource's, or the ontology's) in
    ``fmt``; ``triples`` is their merge. Formats pyoxigraph writes are written graph by
    graph from the sorted N-Quads (:func:`ordered_serialization`), so that a resource's
    RDF/XML and TriG read in the order of its N-Quads (``nquads``, the dataset's)."""
    if fmt.writer == "oxigraph":
        return ordered_serialization(nquads, fmt, prefixes)
    if fmt.quads:
        return serialize_dataset(ds, fmt, names)
    return serialize_graph(triples, fmt, context)
