"""Step 5 — publish: the static Linked Data site, written into the build's ``dist/``.

``render_site(sources, context)`` returns the site's files (relative path -> bytes) for
:func:`juno_kg.write.render` to add to the build (``juno-kg publish`` is a build: a complete,
deployable site root). Everything is driven by the graph: one page per resource under
``{base}id/``, the index (the album at a glance), the ontology page with the shapes
documented beside each class, per-resource data in every registry format, VoID at
``.well-known/void``, ``sitemap.xml`` and content-negotiation config for Apache and nginx.
Links are relative, so the site works from any static host and from ``file://``.
Bytes are deterministic: no timestamps, everything sorted.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from urllib.parse import urlparse

from rdflib import OWL, RDF, RDFS, SKOS, XSD, Dataset, Graph, Literal, URIRef
from rdflib.term import Node

from . import formats
from .config import GRAPH_NAMES
from .serialize import (
    compact_jsonld,
    ordered_serialization,
    serialize_dataset,
    serialize_graph,
)
from .sources import Sources
from .vocab import STANDARD_PREFIXES

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


# --------------------------------------------------------------------------- templates

def environment():
    """The Jinja2 environment over the package's templates (autoescaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("juno_kg", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "xml"]),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["urlquote"] = _urlquote
    return env


def _urlquote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def static_files() -> dict[str, bytes]:
    """``static/…`` files the pages need (CSS), shipped in the package."""
    folder = resources.files("juno_kg").joinpath("static")
    return {f"static/{item.name}": item.read_bytes() for item in sorted(
        folder.iterdir(), key=lambda p: p.name) if item.is_file()}


# --------------------------------------------------------------------------- named queries

def named_queries(base: str | None = None) -> list[dict]:
    """The named queries (``juno_kg/queries/*.rq``) as the query page offers them.

    Each is a dict: ``name``, ``title``, ``description`` (whole), ``params`` (name, kind,
    description, required, default rebased to ``base``), ``federated`` (the remote endpoint
    its ``SERVICE`` asks, or ""), ``runnable`` (whether this endpoint can run it as it is)
    and ``text``. For a runnable query, ``text`` gives exactly the rows ``juno-kg query
    NAME`` gives: the query rebased to ``base``, its parameters bound to their defaults in a
    ``VALUES`` block (as :func:`juno_kg.query.run` binds them for an endpoint), without the
    header comment and without ``PREFIX`` lines it does not use. A query with a required
    parameter or a ``SERVICE`` is not runnable here; its ``text`` is the query as written.
    """
    from .catalogue import named_queries as listing
    from .catalogue import resolve
    from .config import DEFAULT_BASE
    from .params import bind, with_values
    from .sparql import only_used_prefixes

    base = base or DEFAULT_BASE
    out = []
    for name, named in sorted(listing().items()):
        text, _ = resolve(name, base)
        lines = text.splitlines()
        while lines and lines[0].startswith("#"):  # the header: shown on the page instead
            lines.pop(0)
        body = only_used_prefixes("\n".join(lines).strip("\n") + "\n").lstrip("\n")
        runnable = not named.federated and all(not p.required for p in named.params)
        if runnable:
            body = with_values(body, bind(text, named, {}, base))
        params = [{"name": p.name, "kind": p.kind, "description": p.description,
                   "required": p.required,
                   "default": None if p.default is None else p.default.replace(
                       DEFAULT_BASE, base)} for p in named.params]
        out.append({"name": name, "title": named.title, "description": named.description,
                    "params": params, "federated": named.federated,
                    "runnable": runnable, "text": f"# juno-kg query {name}\n{body}"})
    return out


# --------------------------------------------------------------------------- the graph

def short_iri(iri: str, prefixes: dict[str, str] | None = None) -> str:
    """``prefix:local`` for an IRI under a known namespace, else the IRI."""
    for prefix, ns in sorted((prefixes or STANDARD_PREFIXES).items(), key=lambda x: -len(x[1])):
        if prefix and iri.startswith(ns) and re.fullmatch(r"[\w.\-]*", iri[len(ns):]):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


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
            return f"{root}dumps/graphs/{iri.rsplit('/', 1)[-1]}.ttl", False
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


# --------------------------------------------------------------------------- pages

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


def resource_graph(model: Model, node: URIRef) -> Dataset:
    """The data of one resource: what it says (every graph) and what points at it."""
    ds = Dataset()
    for prefix, ns in model.prefixes.items():
        ds.bind(prefix, ns, override=True, replace=True)
    for p, o, g in model.out.get(node, ()):
        ds.graph(URIRef(model.settings.graph_iri(g))).add((node, p, o))
    for s, p, g in model.inv.get(node, ()):
        ds.graph(URIRef(model.settings.graph_iri(g))).add((s, p, node))
    return ds


def data_files(model: Model, node: URIRef, path: str, context: dict) -> dict[str, bytes]:
    ds = resource_graph(model, node)
    names = sorted({URIRef(c.identifier) for c in ds.graphs() if len(c)}, key=str)
    triples = Graph()
    for prefix, ns in model.prefixes.items():
        triples.bind(prefix, ns, override=True, replace=True)
    for name in names:
        triples += ds.graph(name)
    out = {}
    nquads = serialize_dataset(ds, formats.get("nquads"), names)
    for fmt in DATA_FORMATS:
        target = f"data/{path}.{fmt.extension}"
        if fmt.name in ("rdfxml", "trig"):
            out[target] = ordered_serialization(nquads, fmt, model.prefixes)
        elif fmt.quads:
            out[target] = serialize_dataset(ds, fmt, names)
        else:
            out[target] = serialize_graph(triples, fmt, context)
    return out


def schema_jsonld(model: Model, node: URIRef) -> str:
    """The schema.org view of a resource, as embedded ``application/ld+json``."""
    g = Graph()
    for p, o, _ in model.out.get(node, ()):
        if str(p).startswith(SCHEMA) or (p == RDF.type and str(o).startswith(SCHEMA)):
            g.add((node, p, o))
    if not len(g):
        return ""
    for o in set(g.objects(node, None)):
        if isinstance(o, URIRef) and model.is_resource(o):
            for p, v, _ in model.out.get(o, ()):
                if p == URIRef(SCHEMA + "name") or (p == RDF.type and str(v).startswith(SCHEMA)):
                    g.add((o, p, v))
    doc = compact_jsonld(g, {"@context": {"@vocab": SCHEMA, "@language": "en"}})
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)
    return text.replace("</", "<\\/")


def _links_out(model: Model, node: URIRef, root: str) -> list[tuple[str, Value]]:
    """Links from ``node`` to other datasets (external IRIs), with the dataset's name."""
    found = []
    for p, o, g in model.out.get(node, ()):
        if g in ("links",) or (isinstance(o, URIRef) and p in (OWL.sameAs, RDFS.seeAlso)):
            if isinstance(o, URIRef) and not str(o).startswith(model.base):
                host = urlparse(str(o)).netloc
                found.append((LINK_HOSTS.get(host, host), model.value(o, root, [g])))
    return sorted(found, key=lambda x: (x[0], _value_key(x[1])))


def resource_page(model: Model, env, node: URIRef, schema_view: str) -> bytes:
    path = model.path(node)
    root = "../" * (path.count("/") + 1)
    asserted = [(p, o, g) for p, o, g in model.out.get(node, ()) if g != "inferred"]
    inferred = [(p, o, g) for p, o, g in model.out.get(node, ()) if g == "inferred"]
    inverse = [(s, p, g) for s, p, g in model.inv.get(node, ()) if g != "inferred"]
    inverse_inferred = [(s, p, g) for s, p, g in model.inv.get(node, ()) if g == "inferred"]
    types = [model.value(t, root) for t in model.types(node, ("ontology", "article",
                                                              "supplement", "links"))]
    std_types = [model.value(t, root) for t in model.types(node, ("inferred",))]
    graphs = sorted({g for _, _, g in model.out.get(node, ())})
    album = URIRef(SCHEMA + "MusicAlbum") in model.types(node)
    html = env.get_template("resource.html").render(
        tracks=track_list(model, node, root) if album else [],
        root=root, title=model.label(node), iri=str(node), types=types, std_types=std_types,
        rows=_rows(model, asserted, root), inferred_rows=_rows(model, inferred, root),
        inverse=_inverse_rows(model, inverse, root),
        inverse_inferred=_inverse_rows(model, inverse_inferred, root),
        provenance=model.provenance(node, root), links=_links_out(model, node, root),
        data=[(f, f"{root}data/{path}.{f.extension}") for f in DATA_FORMATS],
        graphs=graphs, schema_view=schema_view, base=model.base)
    return html.encode("utf-8")


# --------------------------------------------------------------------------- index

def _date(node: Node) -> str | None:
    if isinstance(node, Literal) and node.datatype in (XSD.date, XSD.dateTime, XSD.gYear,
                                                       XSD.gYearMonth):
        return str(node)
    return None


def main_album(model: Model) -> URIRef | None:
    """The album the dataset is about: the schema.org album referenced the most."""
    albums = {s for s, _, _ in [(s, p, o) for s in model.out for p, o, _ in model.out[s]
                                if p == RDF.type and o == URIRef(SCHEMA + "MusicAlbum")]}
    if not albums:
        return None
    return max(sorted(albums), key=lambda a: len([1 for s, p, g in model.inv.get(a, ())
                                                 if g != "inferred"]))


def chart_runs(model: Model, album: URIRef, root: str) -> list[dict]:
    """The album's chart runs with their weekly positions (the ontology's chart terms)."""
    jk = model.ont_ns
    runs = []
    for run in sorted(model.union.subjects(URIRef(jk + "chartedAlbum"), album)):
        points = []
        for pos in model.union.objects(run, URIRef(jk + "weeklyPosition")):
            week = model.union.value(pos, URIRef(jk + "week"))
            place = model.union.value(pos, URIRef(jk + "position"))
            if week is None or place is None:
                continue
            points.append({"week": int(week), "position": int(place),
                           "issue": model.union.value(pos, URIRef(jk + "issueDate")),
                           "sold": model.union.value(pos, URIRef(jk + "copiesSold")),
                           "href": model.href(pos, root)[0], "label": model.label(pos)})
        points.sort(key=lambda p: p["week"])
        chart = model.union.value(run, URIRef(jk + "onChart"))
        runs.append({"label": model.label(run), "href": model.href(run, root)[0],
                     "chart": model.value(chart, root) if chart is not None else None,
                     "points": points, "svg": chart_svg(points, model.label(chart)
                                                        if chart is not None else ""),
                     "peak": model.union.value(run, URIRef(jk + "peakPosition")),
                     "sources": model.provenance(run, root)})
    return runs


def chart_svg(points: list[dict], chart: str) -> str:
    """An inline SVG line chart of weekly positions (1 at the top), no JavaScript."""
    if not points:
        return ""
    from markupsafe import escape

    width, height, left, right, top, bottom = 560, 260, 48, 16, 20, 44
    weeks = [p["week"] for p in points]
    worst = max(p["position"] for p in points)
    lo_week, hi_week = min(weeks), max(weeks)
    span = max(1, hi_week - lo_week)
    bottom_pos = max(worst + 1, 5)

    def x(week: int) -> float:
        return round(left + (week - lo_week) * (width - left - right) / span, 1)

    def y(pos: int) -> float:
        return round(top + (pos - 1) * (height - top - bottom) / (bottom_pos - 1), 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} '
             f'{height}" role="img" aria-labelledby="chart-title">',
             f'<title id="chart-title">{escape(chart)}: position by week on the chart</title>']
    step = 1 if bottom_pos <= 10 else max(1, bottom_pos // 5)
    for pos in sorted({1, *range(step, bottom_pos + 1, step)}):
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(pos)}" '
                     f'y2="{y(pos)}"/><text class="axis" x="{left - 8}" y="{y(pos) + 4}" '
                     f'text-anchor="end">{pos}</text>')
    for week in weeks:
        parts.append(f'<text class="axis" x="{x(week)}" y="{height - bottom + 18}" '
                     f'text-anchor="middle">{week}</text>')
    parts.append(f'<text class="axis" x="{(left + width - right) / 2}" y="{height - 6}" '
                 f'text-anchor="middle">week on the chart</text>')
    line = " ".join(f"{x(p['week'])},{y(p['position'])}" for p in points)
    parts.append(f'<polyline class="run" points="{line}"/>')
    for p in points:
        tip = f"week {p['week']}: number {p['position']}"
        if p["issue"] is not None:
            tip += f" (issue dated {p['issue']})"
        if p["sold"] is not None:
            tip += f", {int(p['sold']):,} copies sold"
        dot = (f'<circle class="{"top" if p["position"] == 1 else "dot"}" cx="{x(p["week"])}" '
               f'cy="{y(p["position"])}" r="6"><title>{escape(tip)}</title></circle>'
               f'<text class="pos" x="{x(p["week"])}" y="{y(p["position"]) - 10}" '
               f'text-anchor="middle">#{p["position"]}</text>')
        if p["href"]:
            dot = f'<a href="{escape(p["href"])}">{dot}</a>'
        parts.append(dot)
    parts.append("</svg>")
    return "\n".join(parts)


def index_page(model: Model, env, pages: list[URIRef]) -> bytes:
    root = ""
    album = main_album(model)
    schema = SCHEMA
    date_props = (URIRef(schema + "datePublished"),)
    releases = []
    release_types = {URIRef(schema + "MusicRelease"),
                     URIRef(STANDARD_PREFIXES["mo"] + "Release")}
    for node in model.resources:
        if not set(model.types(node)) & release_types:
            continue
        dates = sorted(d for p, o, _ in model.out.get(node, ()) if p in date_props
                       for d in [_date(o)] if d)
        if not dates:
            dates = sorted(d for _, o, _ in model.out.get(node, ()) for d in [_date(o)] if d)
        releases.append({"date": dates[0] if dates else "", "value": model.value(node, root)})
    releases.sort(key=lambda r: (r["date"] or "9999", _value_key(r["value"])))
    people = []
    groups = []
    for node in model.resources:
        kinds = set(model.types(node))
        if URIRef(schema + "MusicGroup") in kinds:
            groups.append(model.value(node, root, with_sources=False))
        elif URIRef(schema + "Person") in kinds or URIRef(
                STANDARD_PREFIXES["foaf"] + "Person") in kinds:
            people.append(model.value(node, root, with_sources=False))
    people.sort(key=_value_key)
    groups.sort(key=_value_key)
    tracks = track_list(model, album, root) if album is not None else []
    about = []
    if album is not None:
        by_type: dict[str, list[Value]] = defaultdict(list)
        for s, _p, g in model.inv.get(album, ()):
            if g == "inferred" or not model.is_resource(s):
                continue
            kinds = [t for t in model.types(s, ("ontology", "article", "supplement", "links"))]
            name = model.label(kinds[0]) if kinds else "other"
            by_type[name].append(model.value(s, root))
        about = [(name, sorted({v.href: v for v in vals}.values(), key=_value_key))
                 for name, vals in sorted(by_type.items())]
    catalogue: dict[str, list[Value]] = defaultdict(list)
    for node in pages:
        kinds = model.types(node, ("ontology", "article", "supplement", "links"))
        name = model.label(kinds[0]) if kinds else model.path(node).split("/", 1)[0]
        catalogue[name].append(model.value(node, root, with_sources=False))
    meta = model.graphs["meta"]
    dataset = URIRef(f"{model.base}dataset")
    title = meta.value(dataset, URIRef(STANDARD_PREFIXES["dcterms"] + "title"))
    description = meta.value(dataset, URIRef(STANDARD_PREFIXES["dcterms"] + "description"))
    html = env.get_template("index.html").render(
        root=root, title=str(title or "juno-kg"), description=str(description or ""),
        album=model.value(album, root) if album is not None else None,
        album_rows=_rows(model, [t for t in model.out.get(album, ()) if t[2] != "inferred"],
                         root) if album is not None else [],
        releases=releases, people=people, groups=groups, tracks=tracks,
        runs=chart_runs(model, album, root) if album is not None else [], about=about,
        catalogue=sorted((k, sorted(v, key=_value_key)) for k, v in catalogue.items()),
        dumps=[(f, f"dumps/juno-kg.{f.extension}") for f in formats.FORMATS],
        graphs=[(n, len(model.graphs[n])) for n in GRAPH_NAMES if len(model.graphs[n])],
        base=model.base)
    return html.encode("utf-8")


def track_list(model: Model, album: URIRef, root: str) -> list[dict]:
    """The album's tracks, in order where the data numbers them.

    From a track listing about the album (a ``schema:ItemList`` with ``schema:about`` the
    album, its ``schema:itemListElement`` items with ``schema:position`` and ``schema:item``),
    the one with the most items; else the album's (or its releases') ``schema:track`` /
    ``mo:track`` values.
    """
    mo = STANDARD_PREFIXES["mo"]
    positions = (URIRef(SCHEMA + "position"), URIRef(mo + "track_number"))
    union = model.union

    def first(node: Node, props: tuple[URIRef, ...]) -> Node | None:
        return next((union.value(node, q) for q in props if union.value(node, q) is not None),
                    None)

    listings = [s for s in union.subjects(URIRef(SCHEMA + "about"), album)
                if (s, RDF.type, URIRef(SCHEMA + "ItemList")) in union]
    entries: dict[Node, dict] = {}
    if listings:
        listing = max(sorted(listings), key=lambda s: len(list(
            union.objects(s, URIRef(SCHEMA + "itemListElement")))))
        for item in union.objects(listing, URIRef(SCHEMA + "itemListElement")):
            recording = first(item, (URIRef(SCHEMA + "item"), URIRef(mo + "publication_of")))
            entries[item] = _track_entry(model, recording if recording is not None else item,
                                         first(item, positions), root)
    else:
        holders = [album] + [s for s, _, _ in model.inv.get(album, ())
                             if set(model.types(s)) & {URIRef(SCHEMA + "MusicRelease"),
                                                       URIRef(mo + "Release")}]
        for holder in holders:
            for p, o, _ in model.out.get(holder, ()):
                if p in (URIRef(SCHEMA + "track"), URIRef(mo + "track")) and o not in entries:
                    entries[o] = _track_entry(model, o, first(o, positions), root)
    return sorted(entries.values(), key=lambda t: (t["position"] is None, t["position"] or 0,
                                                   _value_key(t["value"])))


def _track_entry(model: Model, recording: Node, position: Node | None, root: str) -> dict:
    """A track as shown: the recording's title (linked), its artists, its number."""
    jk = model.ont_ns
    union = model.union
    shown = model.value(recording, root, with_sources=False)
    title = union.value(recording, URIRef(jk + "title")) or next(
        (union.value(w, URIRef(jk + "title")) for w in
         sorted(union.objects(recording, URIRef(jk + "recordingOf")))), None)
    if title is not None:
        shown.text = str(title)
    artists = {a for q in (URIRef(jk + "byArtist"), URIRef(SCHEMA + "byArtist"))
               for a in union.objects(recording, q)}
    by = sorted((model.value(a, root, with_sources=False) for a in artists), key=_value_key)
    number = int(position) if isinstance(position, Literal) and str(position).isdigit() else None
    return {"position": number, "value": shown, "by": by}


# --------------------------------------------------------------------------- ontology

def ontology_page(model: Model, env) -> bytes:
    root = ""
    ont = model.ontology
    ns = model.ont_ns
    shapes = model.sources.shapes

    def local(term: Node) -> str:
        return str(term)[len(ns):]

    def term_values(term: Node, prop: URIRef) -> list[Value]:
        return sorted((model.value(o, root, with_sources=False) for o in ont.objects(term, prop)),
                      key=_value_key)

    def comment(term: Node) -> str:
        found = sorted(ont.objects(term, RDFS.comment))
        return str(found[0]) if found else ""

    class_shapes: dict[Node, list[dict]] = defaultdict(list)
    for shape in sorted(set(shapes.subjects(URIRef(SH + "targetClass"), None))):
        for cls in shapes.objects(shape, URIRef(SH + "targetClass")):
            class_shapes[cls].append(shape_doc(model, shape, root))
    classes = []
    for cls in sorted(set(ont.subjects(RDF.type, OWL.Class))):
        if not str(cls).startswith(ns):
            continue
        instances = sorted({s for s, p, o in model.union.triples((None, RDF.type, cls))})
        classes.append({
            "id": local(cls), "iri": str(cls), "label": model.label(cls), "comment": comment(cls),
            "super": term_values(cls, RDFS.subClassOf),
            "equivalent": term_values(cls, OWL.equivalentClass),
            "sub": sorted((model.value(s, root, with_sources=False)
                           for s in ont.subjects(RDFS.subClassOf, cls)), key=_value_key),
            "instances": [model.value(i, root, with_sources=False) for i in instances][:40],
            "count": len(instances), "shapes": class_shapes.get(cls, [])})
    usage: dict[Node, int] = defaultdict(int)
    for _, p, _ in model.union:
        usage[p] += 1
    properties = []
    kinds = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)
    for prop in sorted({p for k in kinds for p in ont.subjects(RDF.type, k)}):
        if not str(prop).startswith(ns):
            continue
        properties.append({
            "id": local(prop), "iri": str(prop), "label": model.label(prop),
            "comment": comment(prop),
            "kind": ", ".join(short_iri(str(k)) for k in sorted(ont.objects(prop, RDF.type))),
            "domain": term_values(prop, RDFS.domain), "range": term_values(prop, RDFS.range),
            "super": term_values(prop, RDFS.subPropertyOf),
            "equivalent": term_values(prop, OWL.equivalentProperty),
            "inverse": term_values(prop, OWL.inverseOf), "count": usage.get(prop, 0)})
    other_shapes = [shape_doc(model, s, root) for s in sorted(
        set(shapes.subjects(RDF.type, URIRef(SH + "NodeShape")))) if s not in
        {s for s in shapes.subjects(URIRef(SH + "targetClass"), None)}]
    onto = URIRef(model.settings.ontology_iri)
    html = env.get_template("ontology.html").render(
        root=root, title=model.label(onto) if (onto, None, None) in ont else "Ontology",
        description=str(ont.value(onto, URIRef(STANDARD_PREFIXES["dcterms"] + "description"))
                        or ""),
        iri=str(onto), ns=ns, classes=classes, properties=properties,
        other_shapes=other_shapes,
        data=[(f, f"data/ontology.{f.extension}") for f in DATA_FORMATS], base=model.base)
    return html.encode("utf-8")


def shape_doc(model: Model, shape: Node, root: str) -> dict:
    """A SHACL node shape as a table: one row per property constraint."""
    shapes = model.sources.shapes

    def one(node: Node, name: str) -> str:
        value = shapes.value(node, URIRef(SH + name))
        if value is None:
            return ""
        if isinstance(value, URIRef):
            return short_iri(str(value), model.prefixes)
        return str(value)

    rows = []
    for prop in shapes.objects(shape, URIRef(SH + "property")):
        path = shapes.value(prop, URIRef(SH + "path"))
        path_text = short_iri(str(path), model.prefixes) if isinstance(path, URIRef) else (
            "(complex path)" if path is not None else "")
        counts = ""
        lo, hi = one(prop, "minCount"), one(prop, "maxCount")
        if lo or hi:
            counts = f"{lo or 0}..{hi or '*'}"
        expects = " ".join(x for x in (one(prop, "datatype"), one(prop, "class"),
                                       one(prop, "nodeKind"), one(prop, "node")) if x)
        pattern = one(prop, "pattern")
        languages = shapes.value(prop, URIRef(SH + "languageIn"))
        rows.append({"path": path_text, "href": model.href(path, root)[0]
                     if isinstance(path, URIRef) else None,
                     "count": counts, "expects": expects, "pattern": pattern,
                     "lang": "language-tagged" if languages is not None or one(
                         prop, "uniqueLang") else "",
                     "severity": one(prop, "severity").replace("sh:", "") or "Violation",
                     "message": one(prop, "message") or one(prop, "description")})
    sparql = []
    for rule in shapes.objects(shape, URIRef(SH + "sparql")):
        sparql.append({"message": one(rule, "message"),
                       "severity": one(rule, "severity").replace("sh:", "") or "Violation"})
    shown = short_iri(str(shape), model.prefixes) if isinstance(shape, URIRef) else ""
    if "#" in shown:
        shown = shown.rsplit("#", 1)[1]
    return {"id": shown,
            "closed": one(shape, "closed") == "true",
            "severity": one(shape, "severity").replace("sh:", ""),
            "rows": sorted(rows, key=lambda r: (r["path"], json.dumps(r, sort_keys=True))),
            "sparql": sorted(sparql, key=lambda r: json.dumps(r, sort_keys=True))}


# --------------------------------------------------------------------------- deployment

def htaccess(base: str) -> bytes:
    """Apache config: media types and 303 content negotiation for ``id/`` and ``ontology``."""
    prefix = urlparse(base).path or "/"
    lines = ["# Generated by juno-kg publish: Apache content negotiation for this site.",
             "# Needs mod_rewrite, mod_headers and mod_mime; place it in the site root.",
             "# Apache cannot weigh q-values; `juno-kg serve` does. The order below decides",
             "# for clients that list several types.",
             "Options -MultiViews", "DirectoryIndex index.html",
             "AddType text/html .html", "AddDefaultCharset utf-8"]
    lines += [f"AddType {f.media_type} .{f.extension}" for f in formats.FORMATS]
    lines += ['<Files "void">', "  ForceType text/turtle", "</Files>",
              "<IfModule mod_headers.c>",
              '  <FilesMatch "\\.(ttl|nt|jsonld|rdf|nq|trig)$">',
              '    Header set Access-Control-Allow-Origin "*"', "  </FilesMatch>",
              "</IfModule>", "RewriteEngine On", f"RewriteBase {prefix}", ""]
    for target, to in (("id/(.+)", "$1"), ("ontology", "ontology")):
        page = "page/$1.html" if to == "$1" else "ontology.html"
        lines.append(f"# {target}: ?format= first, then Accept, then the HTML page")
        for fmt in formats.FORMATS:
            lines += [f"RewriteCond %{{QUERY_STRING}} (^|&)format={fmt.name}(&|$)",
                      f"RewriteRule ^{target}$ data/{to}.{fmt.extension}? [R=303,L]"]
        lines += ["RewriteCond %{QUERY_STRING} (^|&)format=html(&|$)",
                  f"RewriteRule ^{target}$ {page}? [R=303,L]",
                  "RewriteCond %{HTTP_ACCEPT} text/html",
                  f"RewriteRule ^{target}$ {page} [R=303,L,E=vary:1]"]
        for fmt in formats.FORMATS:
            accept = re.escape(fmt.media_type).replace("/", "/")
            lines += [f"RewriteCond %{{HTTP_ACCEPT}} {accept}",
                      f"RewriteRule ^{target}$ data/{to}.{fmt.extension} [R=303,L,E=vary:1]"]
        lines += [f"RewriteRule ^{target}$ {page} [R=303,L,E=vary:1]", ""]
    lines += ["# /page/kind/slug serves page/kind/slug.html",
              "RewriteCond %{REQUEST_FILENAME} !-f",
              "RewriteRule ^page/(.+?)/?$ page/$1.html [L]",
              'Header always append Vary Accept env=REDIRECT_vary',
              'Header always append Vary Accept env=vary', ""]
    return "\n".join(lines).encode("utf-8")


def nginx_conf(base: str) -> bytes:
    """nginx config (include it in a ``server`` block) doing the same negotiation."""
    prefix = urlparse(base).path or "/"
    lines = ["# Generated by juno-kg publish: nginx content negotiation for this site.",
             "# `map` belongs in the http block; the locations in the server block whose",
             "# root is this folder's parent such that the site is served at " + prefix,
             "# nginx matches Accept by substring and does not weigh q-values; `juno-kg serve`",
             "# does.", "",
             "map $arg_format $juno_kg_format {", '    default "";']
    lines += [f'    "{f.name}" ".{f.extension}";' for f in formats.FORMATS]
    lines += ['    "html" ".html";', "}", "",
              "map $http_accept $juno_kg_accept {", '    default ".html";',
              '    "~*text/html" ".html";']
    lines += [f'    "~*{re.escape(f.media_type)}" ".{f.extension}";' for f in formats.FORMATS]
    lines += ["}", "", "types {", "    text/html html;"]
    lines += [f"    {f.media_type} {f.extension};" for f in formats.FORMATS]
    lines += ["}", "",
              f"location ~ ^{prefix}(id/(?<juno_kg_path>.+)|(?<juno_kg_onto>ontology))$ {{",
              "    add_header Vary Accept always;",
              '    set $juno_kg_ext $juno_kg_accept;',
              '    if ($juno_kg_format != "") { set $juno_kg_ext $juno_kg_format; }',
              '    if ($juno_kg_onto = "ontology") { set $juno_kg_path "ontology"; }',
              f'    if ($juno_kg_ext = ".html") {{ return 303 {prefix}page/$juno_kg_path; }}',
              f"    return 303 {prefix}data/$juno_kg_path$juno_kg_ext;", "}", "",
              f"location = {prefix}page/ontology {{ return 303 {prefix}ontology.html; }}",
              f"location {prefix}page/ {{ try_files $uri $uri.html =404; }}",
              f"location = {prefix}.well-known/void {{ default_type text/turtle; }}",
              f"location {prefix}data/ {{ add_header Access-Control-Allow-Origin * always; }}",
              f"location {prefix}dumps/ {{ add_header Access-Control-Allow-Origin * always; }}",
              ""]
    return "\n".join(lines).encode("utf-8")


def sitemap(base: str, pages: list[str]) -> bytes:
    from xml.sax.saxutils import escape

    urls = [base, f"{base}ontology.html"] + [f"{base}page/{p}" for p in pages]
    body = "".join(f"  <url><loc>{escape(u)}</loc></url>\n" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{body}</urlset>\n'
            ).encode()


# --------------------------------------------------------------------------- entry points

def resource_files(model: Model, nodes: list[URIRef], context: dict) -> dict[str, bytes]:
    """The page and the per-resource data files of each of ``nodes``."""
    env = environment()
    files: dict[str, bytes] = {}
    for node in nodes:
        path = model.path(node)
        files[f"page/{path}.html"] = resource_page(model, env, node, schema_jsonld(model, node))
        files.update(data_files(model, node, path, context))
    return files


def common_files(model: Model, context: dict, void: bytes | None = None) -> dict[str, bytes]:
    """The site's files that are not one resource's: index, ontology, sitemap, config."""
    env = environment()
    pages = model.resources
    files: dict[str, bytes] = {}
    files["index.html"] = index_page(model, env, pages)
    files["ontology.html"] = ontology_page(model, env)
    ontology = Graph()
    for prefix, ns in model.prefixes.items():
        ontology.bind(prefix, ns, override=True, replace=True)
    ontology += model.ontology
    onto_ds = Dataset()
    for prefix, ns in model.prefixes.items():
        onto_ds.bind(prefix, ns, override=True, replace=True)
    onto_name = URIRef(model.sources.settings.graph_iri("ontology"))
    onto_ds.graph(onto_name).__iadd__(model.ontology)
    onto_nquads = serialize_dataset(onto_ds, formats.get("nquads"), [onto_name])
    for fmt in DATA_FORMATS:
        files[f"data/ontology.{fmt.extension}"] = (
            ordered_serialization(onto_nquads, fmt, model.prefixes)
            if fmt.name in ("rdfxml", "trig") else
            serialize_dataset(onto_ds, fmt, [onto_name]) if fmt.quads
            else serialize_graph(ontology, fmt, context))
    if void is None:
        void = serialize_graph(model.graphs["meta"], formats.get("turtle"))
    files[".well-known/void"] = void
    files["sitemap.xml"] = sitemap(model.base, [model.path(p) for p in pages])
    files[".htaccess"] = htaccess(model.base)
    files["nginx.conf"] = nginx_conf(model.base)
    files["robots.txt"] = f"User-agent: *\nSitemap: {model.base}sitemap.xml\n".encode()
    files.update(static_files())
    return files


def site_tasks(model: Model, context: dict, void: bytes | None = None,
               chunks: int = 4) -> list[Callable[[], dict[str, bytes]]]:
    """The site's files as independent pieces of work (for :func:`juno_kg.write.run_tasks`):
    the common files, and the resources in ``chunks`` interleaved shares."""
    shares = [model.resources[i::chunks] for i in range(chunks)]
    return [partial(common_files, model, context, void),
            *(partial(resource_files, model, share, context) for share in shares if share)]


def render_site(sources: Sources, context: dict,
                void: bytes | None = None) -> dict[str, bytes]:
    """Every file of the site (pages, per-resource data, config), relative path -> bytes.

    ``sources`` must be enriched (the ``inferred`` and ``meta`` graphs filled in).
    """
    files: dict[str, bytes] = {}
    for task in site_tasks(Model(sources), context, void, chunks=1):
        files.update(task())
    return files
