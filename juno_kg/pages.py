"""The site's two overview pages: the index (the album at a glance: chart run as inline SVG,
releases, track list, people) and the ontology page (every term, with the SHACL shapes that
check it documented beside each class)."""

from __future__ import annotations

import json
from collections import defaultdict

from rdflib import OWL, RDF, RDFS, XSD, Literal, URIRef
from rdflib.term import Node

from . import formats, layout
from .config import GRAPH_NAMES
from .model import (
    DATA_FORMATS,
    SCHEMA,
    SH,
    Model,
    Value,
    _rows,
    _value_key,
    short_iri,
)
from .vocab import STANDARD_PREFIXES


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


def chart_runs(model: Model, env, album: URIRef, root: str) -> list[dict]:
    """The album's chart runs with their weekly positions: the rows of the named query
    ``chart-run`` (what ``juno-kg query chart-run --param album=…`` gives), each drawn
    with its run's chart, peak and sources."""
    jk = model.ont_ns
    by_run: dict[URIRef, list[dict]] = defaultdict(list)
    for row in model.query("chart-run", {"album": str(album)}):
        entry = URIRef(row["entry"].value)
        by_run[URIRef(row["run"].value)].append({
            "week": int(row["week"].value), "position": int(row["position"].value),
            "issue": row["issueDate"].value if row.get("issueDate") is not None else None,
            "sold": int(row["copiesSold"].value) if row.get("copiesSold") is not None
            else None,
            "href": model.href(entry, root)[0], "label": model.label(entry)})
    runs = []
    for run, points in sorted(by_run.items()):
        points.sort(key=lambda p: p["week"])
        chart = model.union.value(run, URIRef(jk + "onChart"))
        runs.append({"label": model.label(run), "href": model.href(run, root)[0],
                     "chart": model.value(chart, root) if chart is not None else None,
                     "points": points, "svg": chart_svg(env, points, model.label(chart)
                                                        if chart is not None else ""),
                     "peak": model.union.value(run, URIRef(jk + "peakPosition")),
                     "sources": model.provenance(run, root)})
    return runs


def chart_svg(env, points: list[dict], chart: str) -> str:
    """An inline SVG line chart of weekly positions (1 at the top), no JavaScript: the
    geometry is worked out here, the markup is the template ``chart.svg``."""
    if not points:
        return ""
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

    step = 1 if bottom_pos <= 10 else max(1, bottom_pos // 5)
    dots = []
    for p in points:
        tip = f"week {p['week']}: number {p['position']}"
        if p["issue"] is not None:
            tip += f" (issue dated {p['issue']})"
        if p["sold"] is not None:
            tip += f", {int(p['sold']):,} copies sold"
        dots.append({"cls": "top" if p["position"] == 1 else "dot", "cx": x(p["week"]),
                     "cy": y(p["position"]), "tip": tip, "href": p["href"],
                     "position": p["position"]})
    return env.get_template("chart.svg").render(
        width=width, height=height, left=left, right=right, bottom=bottom, chart=chart,
        grid=[(pos, y(pos)) for pos in sorted({1, *range(step, bottom_pos + 1, step)})],
        weeks=[(week, x(week)) for week in weeks], middle=(left + width - right) / 2,
        line=" ".join(f"{x(p['week'])},{y(p['position'])}" for p in points),
        dots=dots).rstrip("\n")


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
        runs=chart_runs(model, env, album, root) if album is not None else [], about=about,
        catalogue=sorted((k, sorted(v, key=_value_key)) for k, v in catalogue.items()),
        dumps=[(f, layout.dump_path(f)) for f in formats.FORMATS],
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
        data=[(f, layout.data_path("ontology", f)) for f in DATA_FORMATS], base=model.base)
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


