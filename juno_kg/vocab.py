"""The vocabularies juno-kg speaks: one prefix table and the namespaces made from it.

A leaf module: it imports nothing of ours, and not rdflib until an rdflib ``Namespace`` is
asked for (``vocab.SCHEMA`` and the like are made on first use), so the light query path
can read the prefixes for free. Our own prefixes (``jk:``, ``jkg:``, one per kind of thing)
depend on the base and live with the sources and the shipped JSON-LD context.
"""

from __future__ import annotations

from typing import Any

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
