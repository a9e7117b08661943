"""Query parameters: text from a user made into typed RDF terms, and bound into a query.

A parameter's kind comes from the named query's header (``# param: NAME KIND``); its value
is checked (absolute, valid IRIs; integers and dates that parse) and made a pyoxigraph term.
Terms are bound, never pasted: substituted into the parsed query in-process, or written as a
``VALUES`` block from their N-Triples form for a remote endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pyoxigraph as ox

from .catalogue import NamedQuery
from .config import DEFAULT_BASE
from .errors import QueryError
from .sparql import Token, declared_prefixes, query_form, tokens, variables, where_group
from .vocab import XSD, prefix_map, rebase_text

#: IRI schemes that are never read as ``kind:slug``
SCHEMES = {"http", "https", "urn", "mailto", "tag", "doi", "isbn", "info", "data", "file",
           "ftp"}


def make_iri(value: str, prefixes: Mapping[str, str] | None = None,
             base: str = DEFAULT_BASE) -> ox.NamedNode:
    """An absolute IRI from ``<iri>``, ``iri``, ``prefix:local`` or ``kind:slug``
    (short for ``{base}id/kind/slug``); anything else is refused."""
    raw = value.strip()
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1]
    prefix, sep, local = raw.partition(":")
    if sep and not local.startswith("//"):
        if prefixes is not None and prefix in prefixes:
            raw = prefixes[prefix] + local
        elif prefix.lower() not in SCHEMES and re.fullmatch(r"[a-z][a-z0-9-]*", prefix) \
                and re.fullmatch(r"[a-z0-9][a-z0-9._-]*", local):
            raw = f"{base}id/{prefix}/{local}"
    if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", raw):
        raise QueryError(f"not an absolute IRI: {value!r}",
                         hint="give a full IRI such as https://w3id.org/juno-kg/id/... "
                              "or kind:slug such as person:kimya-dawson")
    try:
        return ox.NamedNode(raw)
    except ValueError as exc:
        raise QueryError(f"invalid IRI {value!r}: {exc}") from None


def _typed(value: str, kind: str, check: Any) -> ox.Literal:
    from decimal import InvalidOperation

    try:
        check(value)
    except (ValueError, InvalidOperation):
        raise QueryError(f"{value!r} is not a valid {kind}") from None
    return ox.Literal(value, datatype=ox.NamedNode(XSD + kind))


def _boolean(value: str) -> None:
    if value not in ("true", "false", "1", "0"):
        raise ValueError(value)


def _date(value: str) -> None:
    import datetime

    datetime.date.fromisoformat(value)


def _gyear(value: str) -> None:
    if not re.fullmatch(r"-?\d{4,}(Z|[+-]\d\d:\d\d)?", value):
        raise ValueError(value)


def make_term(value: Any, kind: str, prefixes: Mapping[str, str] | None = None,
              base: str = DEFAULT_BASE):
    """An RDF term of type ``kind`` from a Python value or the text of ``--param k=v``."""
    if isinstance(value, ox.NamedNode | ox.Literal):
        return value
    if isinstance(value, bool) and kind in ("boolean", "string"):
        value = "true" if value else "false"
    elif hasattr(value, "isoformat") and kind in ("date", "string"):  # a datetime.date
        value = value.isoformat()
    value = str(value)
    if kind == "iri":
        return make_iri(value, prefixes, base)
    if kind == "string":
        return ox.Literal(value)
    if kind == "langstring":
        text, sep, lang = value.rpartition("@")
        if not sep or not re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", lang):
            raise QueryError(f"{value!r} is not a language-tagged string; write TEXT@en")
        return ox.Literal(text, language=lang.lower())
    from decimal import Decimal

    checks = {"integer": lambda v: int(v, 10), "decimal": Decimal, "boolean": _boolean,
              "date": _date, "gYear": _gyear}
    return _typed(value, kind, checks[kind])


def guess_term(value: Any, prefixes: Mapping[str, str], base: str = DEFAULT_BASE):
    """A term for a parameter the query does not declare: ``<iri>``, ``prefix:local``,
    an N-Triples literal (``"x"@en``, ``"1"^^<…#integer>``) or else a plain string."""
    if isinstance(value, ox.NamedNode | ox.Literal):
        return value
    if isinstance(value, bool):
        return make_term(value, "boolean")
    if isinstance(value, int):
        return make_term(value, "integer")
    if not isinstance(value, str) and hasattr(value, "isoformat"):  # a datetime.date
        return make_term(value, "date")
    text = str(value)
    if text.startswith("<"):
        return make_iri(text)
    if text.startswith('"'):
        try:
            triples = list(ox.parse(f"<x:s> <x:p> {text} .".encode(),
                                    format=ox.RdfFormat.N_TRIPLES))
        except SyntaxError:
            triples = []
        if len(triples) != 1:
            raise QueryError(f"not an N-Triples literal: {text!r}")
        return triples[0].object
    prefix, sep, _ = text.partition(":")
    if sep and prefix in prefixes:
        return make_iri(text, prefixes, base)
    return ox.Literal(text)


def bind(query_text: str, named: NamedQuery | None, params: Mapping[str, Any] | None,
         base: str = DEFAULT_BASE) -> dict[str, Any]:
    """Check ``params`` against the query and turn them into typed terms."""
    params = dict(params or {})
    toks = tokens(query_text)
    prefixes = _Prefixes(base, toks)
    out: dict[str, Any] = {}
    if named is not None:
        unknown = sorted(set(params) - {p.name for p in named.params})
        if unknown:
            known = ", ".join(p.name for p in named.params) or "none"
            raise QueryError(f"query {named.name!r} has no parameter {unknown[0]!r} "
                             f"(its parameters: {known})")
        for p in named.params:
            if p.name in params:
                value = params[p.name]
            elif p.default is not None:
                value = rebase_text(p.default, base)
            else:
                raise QueryError(f"query {named.name!r} needs parameter {p.name!r} "
                                 f"({p.kind}): {p.description}",
                                 hint=f"pass --param {p.name}=VALUE")
            try:
                out[p.name] = make_term(value, p.kind, prefixes, base)
            except QueryError as exc:
                raise QueryError(f"parameter {p.name!r}: {exc.message}", hint=exc.hint) from None
        return out
    names = variables(toks)
    for key, value in params.items():
        if key not in names:
            raise QueryError(f"the query has no variable ?{key} to bind")
        out[key] = guess_term(value, prefixes, base)
    return out


class _Prefixes(Mapping):
    """The prefixes a parameter may use: :func:`prefix_map` and the query's own PREFIX
    declarations, gathered only when a value is written as ``prefix:local``."""

    def __init__(self, base: str, toks: tuple[Token, ...]) -> None:
        self._base, self._toks, self._map = base, toks, None

    def _get(self) -> dict[str, str]:
        if self._map is None:
            self._map = {**prefix_map(self._base), **declared_prefixes(self._toks)}
        return self._map

    def __getitem__(self, key: str) -> str:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def parse_params(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["k=v", ...]`` from the command line as a dict (the value may contain ``=``)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"\w+", key.strip()):
            raise QueryError(f"bad --param {pair!r}; write NAME=VALUE")
        out[key.strip()] = value
    return out


def values_block(bindings: Mapping[str, Any]) -> str:
    """``VALUES (?a ?b) { (<…> "…") }`` from typed terms (their N-Triples serialisation)."""
    names = " ".join(f"?{k}" for k in bindings)
    terms = " ".join(str(t) for t in bindings.values())
    return f"VALUES ({names}) {{ ({terms}) }}"


def with_values(text: str, bindings: Mapping[str, Any]) -> str:
    """The query with ``bindings`` as a VALUES block opening its WHERE group (else trailing)."""
    if not bindings:
        return text
    toks = tokens(text)
    at = where_group(toks, query_form(toks) or "SELECT")
    block = values_block(bindings)
    if at is None:
        return f"{text.rstrip()}\n{block}\n"
    return f"{text[:at]}\n  {block}\n{text[at:]}"


