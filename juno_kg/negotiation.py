"""Content negotiation for ``juno-kg serve``: which media type answers a request.

``Accept`` is weighed by werkzeug (q-values, wildcards; a ``q`` that is not a number counts
as 1), ``?format=NAME`` overrides it; RDF types come from the format registry, SPARQL
results types from the workers' table.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import formats
from .limits import Refused
from .workers import HTML, RESULTS

#: media types clients ask for a results format by: its short name (from the registry)
RESULT_ALIASES = {alias: f.name for f in formats.RESULTS_FORMATS for alias in f.aliases}


def best_match(accept: str | None, offers: list[str]) -> str | None:
    """The offer the ``Accept`` header prefers (q-values, wildcards), by werkzeug."""
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    parsed = parse_accept_header(_BAD_Q.sub("", accept or "") or "*/*", MIMEAccept)
    return parsed.best_match(offers)


#: a q parameter that is not a number: dropped (q=1), not a reason to refuse the type
_BAD_Q = re.compile(r";\s*q\s*=\s*(?![01](?:\.\d{0,3})?\s*(?:[,;]|$))[^,;]*", re.I)


def rdf_offers() -> list[str]:
    return [f.media_type for f in formats.FORMATS]


def format_from_param(value: str, form: str) -> str:
    """``?format=`` as a media type for a query of ``form`` (``page`` for resources)."""
    key = value.strip().lower()
    if key in ("html", "text/html"):
        return HTML
    if form in ("SELECT", "ASK"):
        if key in RESULTS:
            return RESULTS[key]
        if key in RESULTS.values():
            return key
        if key in RESULT_ALIASES:
            return RESULTS[RESULT_ALIASES[key]]
        raise Refused(400, f"unknown results format {value!r}; use one of: "
                           f"{', '.join([*RESULTS, 'html'])}")
    key = {"json": "jsonld", "n3": "turtle", "xml": "rdfxml", "rdf+xml": "rdfxml"}.get(key, key)
    try:
        return formats.get(key).media_type
    except KeyError:
        raise Refused(400, f"unknown RDF format {value!r}; use one of: "
                           f"{', '.join([*formats.names(), 'html'])}") from None


@lru_cache(maxsize=256)
def choose_type(accept: str | None, form: str, override: str | None) -> str:
    """The media type to answer a query of ``form`` with, or :class:`Refused` (406)."""
    if override:
        return format_from_param(override, form)
    if form in ("SELECT", "ASK"):
        offers = [*(f.media_type for f in formats.RESULTS_FORMATS
                    if form == "SELECT" or f.boolean), *RESULT_ALIASES, HTML]
    else:
        offers = [*rdf_offers(), "application/json", "text/n3", "application/turtle",
                  "application/x-turtle", "text/plain", HTML]
    chosen = best_match(accept, offers)
    if chosen is None:
        raise Refused(406, f"none of the types in Accept can be produced for a {form} query; "
                           f"available: {', '.join(offers)}")
    if form in ("SELECT", "ASK"):
        return RESULTS.get(RESULT_ALIASES.get(chosen, ""), chosen)
    return {"application/json": "application/ld+json", "text/n3": "text/turtle",
            "application/turtle": "text/turtle", "application/x-turtle": "text/turtle",
            "text/plain": "application/n-triples"}.get(chosen, chosen)
