"""The one pipeline: load → check → enrich, composed once for every command and feature.

``build``, ``export``, ``stats``, ``load`` into a store and the query helper's in-memory
dataset all ask :func:`prepare` for a prepared dataset instead of assembling the steps
themselves, so they cannot disagree (``export`` checks as ``build`` does). Writing
(:mod:`juno_kg.write`) and the site come after it and are not imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph, URIRef

from . import formats
from .check import CheckReport, validate
from .config import GRAPH_NAMES, Settings
from .enrich import enrich
from .errors import DoesNotConform, JunoKGError
from .layout import dump_paths
from .serialize import make_context, serialize_dataset, serialize_graph
from .sources import Sources, bind_prefixes, load


@dataclass
class Prepared:
    """The sources loaded and checked and, when they conform, enriched with the ``inferred``
    and ``meta`` graphs, their prefixes bound and the JSON-LD context made."""

    sources: Sources
    report: CheckReport
    context: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.report.conforms

    @property
    def settings(self) -> Settings:
        return self.sources.settings

    def graph_names(self) -> list[URIRef]:
        """The IRIs of the named graphs that hold triples, in the build's order."""
        return graph_names(self.sources)


def graph_names(sources: Sources) -> list[URIRef]:
    return [URIRef(sources.settings.graph_iri(n)) for n in GRAPH_NAMES
            if len(sources.graph(n))]


def union_graph(sources: Sources, names: tuple[str, ...] = GRAPH_NAMES) -> Graph:
    union = Graph()
    bind_prefixes(union, sources.settings, like=sources.dataset)
    for name in names:
        union += sources.graph(name)
    return union


def prepare(settings: Settings | None = None, *, strict: bool = True) -> Prepared:
    """Load, check and enrich the sources of ``settings``.

    Data that does not conform raises :class:`DoesNotConform` (exit 1) when ``strict``;
    otherwise the result carries the report and is not enriched (``ok`` is False).
    """
    sources = load(settings)
    report = validate(sources)
    if not report.conforms:
        if strict:
            raise DoesNotConform(f"{report.summary()}; nothing written", report,
                                 path=sources.settings.root,
                                 hint="fix the findings above; `juno-kg validate` re-checks")
        return Prepared(sources, report)
    enrich(sources, dump_paths())
    bind_prefixes(sources.dataset, sources.settings)
    context = make_context(sources.graph("ontology"), sources.dataset, sources.settings.base)
    return Prepared(sources, report, context)


def export(fmt: str, graph: str | None = None, settings: Settings | None = None,
           prepared: Prepared | None = None) -> bytes:
    """The dataset (or one named graph) in format ``fmt``, as a build would write it.

    The sources are checked as a build checks them: data that does not conform raises
    :class:`DoesNotConform` (exit 1; its ``report`` says why) and nothing is returned.
    ``prepared`` (from :func:`prepare`) exports a dataset already prepared, to write
    several formats from one preparation.
    """
    fmt_ = formats.get(fmt)
    if graph is not None and graph not in GRAPH_NAMES:
        raise JunoKGError(f"unknown graph {graph!r}; graphs: {', '.join(GRAPH_NAMES)}")
    prepared = prepared or prepare(settings)
    if fmt_.quads:
        names = prepared.graph_names()
        if graph is not None:
            names = [URIRef(prepared.settings.graph_iri(graph))]
        return serialize_dataset(prepared.sources.dataset, fmt_, names)
    target = union_graph(prepared.sources, (graph,) if graph else GRAPH_NAMES)
    return serialize_graph(target, fmt_, prepared.context)
