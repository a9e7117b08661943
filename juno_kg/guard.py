"""The endpoint's text checks on a SPARQL query, before anything runs.

They are a fast, friendly 400/403 in front, not the guarantee: a regular tokenizer cannot
agree with SPARQL's context-dependent grammar everywhere (``<`` is an IRI or less-than,
``1SERVICE`` is two tokens), so what it cannot settle it refuses. The guarantee that a query
makes no outgoing request is the query workers' network namespace (:mod:`juno_kg.workers`).

- ``SERVICE`` anywhere SPARQL could read it as the keyword (glued to a number, a boolean or
  a prefix, inside what could be a less-than expression) is refused (400);
- updates are refused (403); ``FROM``/``FROM NAMED`` and the protocol's graph parameters may
  only name this dataset's graphs (400);
- nesting deeper than ``Limits.max_nesting`` (brackets, runs of ``! - + ^``) is refused
  (400) before the engine's recursive parser can overflow its stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from . import sparql
from .limits import Refused

_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_FORMS = ("SELECT", "CONSTRUCT", "ASK", "DESCRIBE")
_UPDATES = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY",
            "WITH")
_OPEN, _CLOSE = "({[", ")}]"
_UNARY = "!-+^"
SERVICE_REFUSED = ("SERVICE (federated query) is disabled: this endpoint never makes "
                   "outgoing requests; query this dataset only")


@dataclass
class Query:
    """A query that passed the checks, with its form and the graphs it names."""

    text: str
    form: str  #: SELECT, CONSTRUCT, ASK or DESCRIBE
    default_graphs: list[str] = field(default_factory=list)
    named_graphs: list[str] = field(default_factory=list)


def unescape(text: str) -> str:
    """Resolve SPARQL's ``\\uXXXX``/``\\UXXXXXXXX`` escapes, as a SPARQL parser does first."""
    def repl(match: re.Match) -> str:
        code = int(match.group(1) or match.group(2), 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise Refused(400, f"invalid code point escape {match.group(0)!r} in the query")
        return chr(code)

    return _UNICODE_ESCAPE.sub(repl, text)


def tokens(text: str) -> list[tuple[str, str]]:
    """The query's tokens as ``(kind, text)``, without whitespace and comments: the one
    SPARQL lexer of the package (:func:`juno_kg.sparql.tokens`)."""
    return [(tok.kind, tok.text) for tok in sparql.tokens(text)]


def mentions_service(kind: str, value: str) -> bool:
    """Whether SPARQL could read the keyword SERVICE in this token."""
    upper = value.upper()
    if "SERVICE" not in upper:
        return False
    if kind == "word":  # bare, glued (trueSERVICE) or as a prefix (SERVICE:x is SERVICE :x)
        return ":" not in upper or "SERVICE" in upper.split(":", 1)[0]
    if kind == "iri":  # FILTER(1<2)SERVICE?svc#> : a less-than, not an IRI, in SPARQL
        return ")" in value
    return False


def check_nesting(toks: list[tuple[str, str]], limit: int) -> None:
    """Refuse brackets nested, or prefix operators run, deeper than ``limit`` (400)."""
    depth = deepest = run = longest = 0
    for kind, value in toks:
        if kind == "other" and value in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "other" and value in _CLOSE:
            depth = max(0, depth - 1)
        run = run + 1 if kind == "other" and value in _UNARY else 0
        longest = max(longest, run)
    if deepest > limit or longest > limit:
        raise Refused(400, f"the query is nested too deeply ({max(deepest, longest)} levels; "
                           f"the limit is {limit})")


def check_query(text: str, local_graphs: Iterable[str], default_graphs: Iterable[str] = (),
                named_graphs: Iterable[str] = (), max_nesting: int = 64) -> Query:
    """Refuse what would write, reach outside this dataset or nest too deeply; return the
    query to run.

    ``local_graphs`` are the IRIs of the dataset's named graphs: the only ones ``FROM``,
    ``FROM NAMED``, ``default-graph-uri`` and ``named-graph-uri`` may name.
    """
    return _check_query(text, tuple(local_graphs), tuple(default_graphs), tuple(named_graphs),
                        max_nesting)


@lru_cache(maxsize=1024)
def _check_query(text: str, local_graphs: tuple[str, ...], default_graphs: tuple[str, ...],
                 named_graphs: tuple[str, ...], max_nesting: int) -> Query:
    text = unescape(text)
    toks = tokens(text)
    check_nesting(toks, max_nesting)
    form = None
    query = Query(text, "")
    for i, (kind, value) in enumerate(toks):
        if mentions_service(kind, value):
            raise Refused(400, SERVICE_REFUSED)
        if kind != "word":
            continue
        word = value.upper()
        if word in _UPDATES and form is None:
            raise Refused(403, f"{word}: this endpoint is read-only; SPARQL Update is refused")
        if form is None and word in _FORMS:
            form = word
        if word == "FROM":
            named = i + 1 < len(toks) and toks[i + 1][1].upper() == "NAMED"
            at = i + 2 if named else i + 1
            if at >= len(toks) or toks[at][0] != "iri":
                raise Refused(400, "FROM must be followed by a full <IRI> of one of this "
                                   "dataset's graphs")
            (query.named_graphs if named else query.default_graphs).append(toks[at][1][1:-1])
    if form is None:
        raise Refused(400, "not a SPARQL query: expected SELECT, CONSTRUCT, ASK or DESCRIBE")
    query.form = form
    query.default_graphs += list(default_graphs)
    query.named_graphs += list(named_graphs)
    local = set(local_graphs)
    for iri in query.default_graphs + query.named_graphs:
        if iri not in local:
            raise Refused(400, f"graph <{iri}> is not in this dataset; this endpoint never "
                               f"fetches remote data. Graphs: {', '.join(sorted(local))}")
    return query
