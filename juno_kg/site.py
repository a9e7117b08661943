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
from collections.abc import Callable
from functools import partial
from importlib import resources
from urllib.parse import urlparse

from rdflib import OWL, RDF, RDFS, Dataset, Graph, URIRef

from . import formats, layout
from .deploy import htaccess, nginx_conf, sitemap
from .model import (
    DATA_FORMATS,
    LINK_HOSTS,
    SCHEMA,
    Model,
    Value,
    _inverse_rows,
    _rows,
    _value_key,
)
from .pages import index_page, ontology_page, track_list
from .serialize import compact_jsonld, serialize_dataset, serialize_graph, serialize_resource
from .sources import Sources

# --------------------------------------------------------------------------- templates

def environment():
    """The Jinja2 environment over the package's templates (autoescaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("juno_kg", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "xml"]),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["urlquote"] = _urlquote
    env.filters["regex_escape"] = re.escape
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


# --------------------------------------------------------------------------- pages


def resource_graph(model: Model, node: URIRef) -> Dataset:
    """The data of one resource: what it says (every graph) and what points at it."""
    ds = Dataset()  # no prefixes bound: each format's writer binds those it uses
    for p, o, g in model.out.get(node, ()):
        ds.graph(URIRef(model.settings.graph_iri(g))).add((node, p, o))
    for s, p, g in model.inv.get(node, ()):
        ds.graph(URIRef(model.settings.graph_iri(g))).add((s, p, node))
    return ds


def data_files(model: Model, node: URIRef, path: str, context: dict) -> dict[str, bytes]:
    """One resource's data (what it says, and what points at it) in every format."""
    return {layout.data_path(path, fmt): data
            for fmt, data in _in_every_format(model, resource_graph(model, node), context)}


def _in_every_format(model: Model, ds: Dataset,
                     context: dict) -> list[tuple[formats.Format, bytes]]:
    """The named graphs of ``ds`` that hold triples, in every registry format: the quad
    formats keep the graphs, the triple formats merge them."""
    names = sorted({URIRef(c.identifier) for c in ds.graphs() if len(c)}, key=str)
    nquads = serialize_dataset(ds, formats.get("nquads"), names)
    triples = Graph(bind_namespaces="none")
    for prefix, ns in model.prefixes.items():  # binding costs: only those the data uses
        if ns.encode() in nquads:
            triples.bind(prefix, ns, override=True, replace=True)
    for name in names:
        triples += ds.graph(name)
    return [(fmt, serialize_resource(ds, names, triples, fmt, context, model.prefixes, nquads))
            for fmt in DATA_FORMATS]


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


# --------------------------------------------------------------------------- entry points

def resource_files(model: Model, nodes: list[URIRef], context: dict) -> dict[str, bytes]:
    """The page and the per-resource data files of each of ``nodes``."""
    env = environment()
    files: dict[str, bytes] = {}
    for node in nodes:
        path = model.path(node)
        files[layout.page_path(path)] = resource_page(model, env, node, schema_jsonld(model, node))
        files.update(data_files(model, node, path, context))
    return files


def common_files(model: Model, context: dict, void: bytes | None = None) -> dict[str, bytes]:
    """The site's files that are not one resource's: index, ontology, sitemap, config."""
    env = environment()
    pages = model.resources
    files: dict[str, bytes] = {}
    files["index.html"] = index_page(model, env, pages)
    files["ontology.html"] = ontology_page(model, env)
    onto_ds = Dataset()
    for prefix, ns in model.prefixes.items():
        onto_ds.bind(prefix, ns, override=True, replace=True)
    onto_ds.graph(URIRef(model.sources.settings.graph_iri("ontology"))).__iadd__(model.ontology)
    for fmt, data in _in_every_format(model, onto_ds, context):
        files[layout.data_path("ontology", fmt)] = data
    if void is None:
        void = serialize_graph(model.graphs["meta"], formats.get("turtle"))
    files[layout.WELL_KNOWN_VOID] = void
    files["sitemap.xml"] = sitemap(env, model.base, [model.path(p) for p in pages])
    files[".htaccess"] = htaccess(env, model.base)
    files["nginx.conf"] = nginx_conf(env, model.base)
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
