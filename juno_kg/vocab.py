"""The vocabularies juno-kg speaks: one prefix table and the namespaces made from it.

A leaf module (it imports only the configuration), and not rdflib until an rdflib
``Namespace`` is asked for (``vocab.SCHEMA`` and the like are made on first use), so the
light query path reads the prefixes for free. :func:`prefix_map` adds ours (``jk:``,
``jkg:``, one per kind of thing, from the shipped JSON-LD context) for a base.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import DEFAULT_BASE

#: The standard prefixes, bound in every output and known to every query.
STANDARD_PREFIXES: dict[str, str] = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "prov": "http://www.w3.org/ns/prov#",
    "schema": "http://schema.org/",
    "mo": "http://purl.org/ontology/mo/",
    "vann": "http://purl.org/vocab/vann/",
    "void": "http://rdfs.org/ns/void#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "sh": "http://www.w3.org/ns/shacl#",
    "sd": "http://www.w3.org/ns/sparql-service-description#",
}
#: Prefixes of the datasets we link to: known to queries and parameters, bound in outputs
#: only where the mapping table declares them (its ``curie_map``).
LINK_PREFIXES: dict[str, str] = {
    "wd": "http://www.wikidata.org/entity/",
    "dbr": "http://dbpedia.org/resource/",
}
#: Every prefix a query may use without declaring it.
QUERY_PREFIXES: dict[str, str] = {**STANDARD_PREFIXES, **LINK_PREFIXES}

XSD = STANDARD_PREFIXES["xsd"]


def __getattr__(name: str) -> Any:
    """``vocab.SCHEMA``, ``vocab.MO`` …: the rdflib ``Namespace`` of that prefix."""
    prefix = name.lower()
    if name.isupper() and prefix in QUERY_PREFIXES:
        from rdflib import Namespace

        value = Namespace(QUERY_PREFIXES[prefix])
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
@functools.lru_cache(maxsize=16)
def prefix_map(base: str = DEFAULT_BASE) -> dict[str, str]:
    """Prefixes for parameters and tables: standard ones, the shipped context's, ``jk:``
    (ontology) and ``jkg:`` (graphs). ``kind:slug`` is also read as ``{base}id/kind/slug``."""
    import json

    out = dict(QUERY_PREFIXES)
    try:
        ctx = json.loads(Path(__file__).with_name("context.jsonld").read_text("utf-8"))
        ctx = ctx.get("@context", {}) if isinstance(ctx, dict) else {}
    except (OSError, ValueError):
        ctx = {}
    out.update({k: rebase_text(v, base) for k, v in ctx.items()
                if isinstance(v, str) and v.endswith(("/", "#")) and not k.startswith("@")})
    out.update({"jk": f"{base}ontology#", "jkg": f"{base}graph/"})
    return out


def rebase_text(text: str, base: str) -> str:
    """``text`` with the default base replaced by ``base`` (a query, a prefix's IRI)."""
    return text if base == DEFAULT_BASE else text.replace(DEFAULT_BASE, base)


#: what a CURIE's local part may hold to be shown as one (else the IRI is shown whole)
_LOCAL = re.compile(r"[\w.\-]*")


def curie(iri: str, prefixes: Mapping[str, str] | None = None, *,
          any_local: bool = False) -> str | None:
    """``prefix:local`` for ``iri`` under the longest namespace of ``prefixes`` (default the
    standard ones; equal namespaces: the alphabetically first prefix), or None. The local
    part must be a plain name (letters, digits, ``_.-``) unless ``any_local``.

    The one CURIE shortener: the site, the query helper's tables, the server's labels and
    the mapping table all show IRIs with it."""
    best: tuple[str, str] | None = None
    for prefix, ns in (prefixes if prefixes is not None else STANDARD_PREFIXES).items():
        if not prefix or not iri.startswith(ns):
            continue
        if best is None or len(ns) > len(best[1]) or (len(ns) == len(best[1]) and
                                                      prefix < best[0]):
            best = (prefix, ns)
    if best is None:
        return None
    local = iri[len(best[1]):]
    return f"{best[0]}:{local}" if any_local or _LOCAL.fullmatch(local) else None
