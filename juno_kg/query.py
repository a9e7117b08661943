"""Ask the knowledge graph questions with SPARQL: named queries, two in-process engines, and
any SPARQL 1.1 Protocol endpoint.

::

    from juno_kg import query
    for row in query("chart-run"):                  # a named query (juno_kg/queries/*.rq)
        print(row["week"].value, row["position"].value)
    query("ASK { ?s ?p ?o }")                       # -> True
    query("sources-of", {"resource": "https://w3id.org/juno-kg/id/person/kimya-dawson"})
    query("album", endpoint="http://127.0.0.1:7878/query")   # the same, from a store

- SELECT gives :class:`Rows` (pyoxigraph terms, whatever the engine), ASK a ``bool``,
  CONSTRUCT/DESCRIBE :class:`Triples`.
- The default engine is pyoxigraph: the built dataset (``dist/dumps/juno-kg.nq``, or the
  sources built in memory when there is no build) is loaded once per process into an
  in-memory store, queried over the union of its named graphs. ``engine="rdflib"`` runs the
  same query with rdflib's SPARQL engine on the same quads, for comparison.
- Parameters are typed RDF terms, checked before use (IRIs must be absolute and valid,
  integers and dates must parse). In-process they are substituted into the parsed query
  (pyoxigraph ``substitutions``, rdflib ``initBindings``); for a remote endpoint (and on
  pyoxigraph when the variable is not projected, which its substitution requires) they go
  in a ``VALUES`` block at the start of the query's ``WHERE`` group, written from the
  terms' N-Triples form — user text is never pasted into the query.
- Only queries run: update operations are refused before anything is sent or executed.

This module imports neither rdflib nor httpx (nor json, datetime, shutil, textwrap) unless
a query needs them, so that a cold ``juno-kg query`` starts fast.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .config import BASE_ENV, DEFAULT_BASE, GRAPH_NAMES, ROOT_ENV, Settings
from .errors import EndpointError, JunoKGError, QueryError
from .vocab import QUERY_PREFIXES, XSD

QUERY_DIR = Path(__file__).with_name("queries")
DUMP = Path("dumps") / "juno-kg.nq"
ENGINES = ("oxigraph", "rdflib")

#: ``--format`` names for SELECT/ASK results -> pyoxigraph's W3C result serializers
RESULT_FORMATS = {"json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
                  "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV}
#: ``--format`` names for CONSTRUCT/DESCRIBE results -> the format registry's names
GRAPH_FORMATS = {"ttl": "turtle", "turtle": "turtle", "nt": "ntriples", "ntriples": "ntriples",
                 "jsonld": "jsonld", "json-ld": "jsonld"}
TABLE = "table"
FORMAT_NAMES = (TABLE, *RESULT_FORMATS, "ttl", "jsonld", "nt")

#: what a remote endpoint is asked for, by query form
RESULTS_ACCEPT = "application/sparql-results+json, application/sparql-results+xml;q=0.9"
GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"
GET_LIMIT = 2000  #: longest URL query string sent with GET; longer queries are POSTed

UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE",
                   "ADD", "WITH"}
QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}
PARAM_KINDS = ("iri", "string", "integer", "decimal", "date", "gYear", "boolean", "langstring")


# --------------------------------------------------------------------------- named queries

@dataclass(frozen=True)
class Param:
    """A parameter of a named query: the variable it binds, its type and default."""

    name: str
    kind: str
    default: str | None
    description: str

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class NamedQuery:
    """A shipped ``.rq`` file with its header: title, description, parameters, notes."""

    name: str
    path: Path
    title: str
    description: str
    params: tuple[Param, ...]
    notes: str
    text: str
    #: the remote endpoint its ``SERVICE`` asks (header ``# federated: URL -- …``), or ""
    federated: str = ""

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


_HEADER = re.compile(r"^#\s?(\w+):\s*(.*)$")
_PARAM = re.compile(r"^(\w+)\s+(\w+)(?:\s*=\s*(\S+))?(?:\s+--\s+(.*))?$")


def parse_header(name: str, path: Path, text: str) -> NamedQuery:
    """Read the comment header of a named query (``# key: value`` lines, ``#   more``)."""
    fields: dict[str, list[str]] = {}
    params: list[Param] = []
    key = None
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            key, value = match.group(1).lower(), match.group(2).strip()
            if key == "param":
                spec = _PARAM.match(value)
                if not spec or spec.group(2) not in PARAM_KINDS:
                    raise QueryError(f"{path}: bad param line {value!r}; expected "
                                     f"'NAME KIND [= DEFAULT] -- description', KIND one of "
                                     f"{', '.join(PARAM_KINDS)}")
                params.append(Param(spec.group(1), spec.group(2), spec.group(3),
                                    spec.group(4) or ""))
            else:
                fields.setdefault(key, []).append(value)
        elif key and line[1:].strip():
            if key == "param" and params:
                last = params[-1]
                params[-1] = Param(last.name, last.kind, last.default,
                                   f"{last.description} {line[1:].strip()}".strip())
            else:
                fields.setdefault(key, []).append(line[1:].strip())
    if "title" not in fields:
        raise QueryError(f"{path}: the header has no '# title:' line")
    federated = " ".join(fields.get("federated", [])).split()
    if not federated:  # no header line: the IRI of its first SERVICE, if it has one
        toks = tokens(text)
        federated = [t.text[1:-1] for a, t in zip(toks, toks[1:], strict=False)
                     if a.text.upper() == "SERVICE" and t.kind == "iri"][:1]
    return NamedQuery(name, path, " ".join(fields["title"]),
                      " ".join(fields.get("description", [])), tuple(params),
                      " ".join(fields.get("virtuoso", [])), text,
                      federated[0] if federated else "")


def named_queries(folder: Path = QUERY_DIR) -> dict[str, NamedQuery]:
    """Every named query shipped in the package, by name (the file name without ``.rq``)."""
    return {p.stem: named_query(p) for p in sorted(folder.glob("*.rq"))}


def named_query(path: Path) -> NamedQuery:
    """One named query file, read once per process (again if it changes)."""
    stat = path.stat()
    return _named_query(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _named_query(path: Path, mtime_ns: int, size: int) -> NamedQuery:
    return parse_header(path.stem, path, path.read_text("utf-8"))


def _rebase(text: str, base: str) -> str:
    return text if base == DEFAULT_BASE else text.replace(DEFAULT_BASE, base)


def _is_file(source: str) -> bool:
    try:
        return Path(source).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: query text, not a path
        return False


def resolve(source: str, base: str = DEFAULT_BASE) -> tuple[str, NamedQuery | None]:
    """The query text for ``source``: a named query, an ``.rq`` file, or SPARQL text."""
    if re.fullmatch(r"[A-Za-z0-9_-]+", source.strip()):
        path = QUERY_DIR / f"{source.strip()}.rq"
        if not path.is_file() and _is_file(source):
            return Path(source).read_text("utf-8"), None
        if not path.is_file():
            raise QueryError(f"no named query {source.strip()!r}; named queries: "
                             f"{', '.join(named_queries())}",
                             hint="`juno-kg queries` lists them with their parameters")
        named = named_query(path)
        return _rebase(named.text, base), named
    path = Path(source)
    if "\n" not in source and (source.endswith((".rq", ".sparql")) or _is_file(source)):
        try:
            return path.read_text("utf-8"), None
        except OSError as exc:
            raise QueryError(f"cannot read query file {source}: {exc.strerror}") from None
    return source, None


# --------------------------------------------------------------------------- lexing

_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
              |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$]\w+)
  | (?P<brace>[{}])
  | (?P<word>[A-Za-z_][\w\-.:]*[\w\-:]|[A-Za-z_])
  | (?P<other>\S)
""", re.X | re.S)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    depth: int  #: brace depth before this token


@functools.lru_cache(maxsize=256)
def tokens(text: str) -> tuple[Token, ...]:
    """A rough SPARQL lexer: enough to find keywords, variables and ``{`` outside strings,
    IRIs and comments. The parsers of the engines remain the judges of syntax."""
    out, depth = [], 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind == "comment":
            continue
        tok = Token(kind, match.group(), match.start(), depth)
        if tok.text == "{":
            depth += 1
        elif tok.text == "}":
            depth = max(0, depth - 1)
        out.append(tok)
    return tuple(out)


def query_form(toks: tuple[Token, ...]) -> str | None:
    """SELECT, ASK, CONSTRUCT, DESCRIBE, UPDATE (any update operation) or None."""
    for tok in toks:
        if tok.kind == "word":
            word = tok.text.upper()
            if word in QUERY_FORMS:
                return word
            if word in UPDATE_KEYWORDS:
                return "UPDATE"
    return None


def is_ordered(toks: tuple[Token, ...]) -> bool:
    """Whether the outer query has ``ORDER BY`` (row order is then part of the answer)."""
    return any(a.kind == b.kind == "word" and a.depth == 0 and a.text.upper() == "ORDER"
               and b.text.upper() == "BY" for a, b in zip(toks, toks[1:], strict=False))


def declared_prefixes(toks: tuple[Token, ...]) -> dict[str, str]:
    out = {}
    for a, b, c in zip(toks, toks[1:], toks[2:], strict=False):
        if a.kind == "word" and a.text.upper() == "PREFIX" and c.kind == "iri":
            out[b.text.rstrip(":")] = c.text[1:-1]
    return out


def variables(toks: tuple[Token, ...]) -> set[str]:
    return {t.text[1:] for t in toks if t.kind == "var"}


def where_group(toks: tuple[Token, ...], form: str) -> int | None:
    """Offset just after the ``{`` that opens the query's outer WHERE group, if there is one.

    The CONSTRUCT template is skipped; the short form ``CONSTRUCT WHERE { }`` and a
    DESCRIBE without WHERE have none (their parameters go in a trailing VALUES)."""
    index = 0
    if form == "CONSTRUCT":
        index = next(i for i, t in enumerate(toks) if t.text.upper() == "CONSTRUCT") + 1
        if index < len(toks) and toks[index].text.upper() == "WHERE":
            return None
        if index < len(toks) and toks[index].text == "{":
            index = next((i for i in range(index + 1, len(toks))
                          if toks[i].text == "}" and toks[i].depth == 1), len(toks)) + 1
    for tok in toks[index:]:
        if tok.text == "{" and tok.depth == 0:
            return tok.start + 1
    return None


# --------------------------------------------------------------------------- parameters

#: IRI schemes that are never read as ``kind:slug``
SCHEMES = {"http", "https", "urn", "mailto", "tag", "doi", "isbn", "info", "data", "file",
           "ftp"}


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
    out.update({k: _rebase(v, base) for k, v in ctx.items()
                if isinstance(v, str) and v.endswith(("/", "#")) and not k.startswith("@")})
    out.update({"jk": f"{base}ontology#", "jkg": f"{base}graph/"})
    return out



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
                value = _rebase(p.default, base)
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


# --------------------------------------------------------------------------- checking

@functools.lru_cache(maxsize=256)
def check_syntax(text: str, base: str = DEFAULT_BASE) -> str:
    """The query form, after the query has been parsed (by pyoxigraph) and found a query.

    Raises :class:`QueryError` with line, column and a readable message (see
    :func:`syntax_error`; a missing ``PREFIX`` is suggested from :func:`prefix_map`), or
    refusing an update operation."""
    form = query_form(tokens(text))
    if form == "UPDATE":
        raise QueryError("update operations are refused: the query helper only runs "
                         "SELECT, ASK, CONSTRUCT and DESCRIBE queries",
                         hint="load or change data in a store with its own tools")
    try:
        ox.Store().query(text)  # parses (and plans) against an empty store; nothing is read
    except RuntimeError:  # parsed, but pyoxigraph cannot plan it (e.g. a custom function):
        pass  # a store may still run it; in-process, the engine reports it
    except SyntaxError as exc:
        raise syntax_error(text, exc, prefix_map(base)) from None
    if form is None:
        raise QueryError("not a SPARQL query")
    return form


def prefixed_names(toks: tuple[Token, ...]) -> list[tuple[str, Token]]:
    """``(prefix, token)`` for every prefixed name the query uses (``schema:name``,
    ``xsd:date``, ``:local``), in order; the ``PREFIX`` declarations themselves are not uses."""
    out = []
    for i, tok in enumerate(toks):
        after_prefix = i > 0 and toks[i - 1].kind == "word" and toks[i - 1].text.upper() == "PREFIX"
        if after_prefix:
            continue
        if tok.kind == "word" and ":" in tok.text:
            prefix = tok.text.partition(":")[0]
            if prefix != "_":  # a blank node label
                out.append((prefix, tok))
        elif tok.text == ":":  # the empty prefix: ``:local`` or ``:``
            out.append(("", tok))
    return out


def undeclared_prefixes(text: str) -> list[tuple[str, Token]]:
    """The prefixed names of ``text`` whose prefix it does not declare (first use of each)."""
    toks = tokens(text)
    declared = set(declared_prefixes(toks))
    if any(a.kind == "word" and a.text.upper() == "PREFIX" and b.text == ":"
           for a, b in zip(toks, toks[1:], strict=False)):
        declared.add("")
    seen: dict[str, Token] = {}
    for prefix, tok in prefixed_names(toks):
        if prefix not in declared:
            seen.setdefault(prefix, tok)
    return list(seen.items())


def only_used_prefixes(text: str) -> str:
    """``text`` without the ``PREFIX`` declarations of prefixes it never uses (whole lines go
    when nothing else is on them)."""
    toks = tokens(text)
    used = {prefix for prefix, _ in prefixed_names(toks)}
    cuts = []
    for a, b, c in zip(toks, toks[1:], toks[2:], strict=False):
        if a.kind == "word" and a.text.upper() == "PREFIX" and c.kind == "iri" \
                and b.text.rstrip(":") not in used:
            start, end = a.start, c.start + len(c.text)
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", end)
            line_end = len(text) if line_end < 0 else line_end
            if not text[line_start:start].strip() and not text[end:line_end].strip():
                start, end = line_start, min(line_end + 1, len(text))
            cuts.append((start, end))
    for start, end in reversed(cuts):
        text = text[:start] + text[end:]
    return text


def declare_prefixes(text: str, prefixes: Mapping[str, str]) -> str:
    """``text`` with a ``PREFIX`` line first for each prefix it uses undeclared that
    ``prefixes`` knows (sorted by name)."""
    known = sorted((p, prefixes[p]) for p, _ in undeclared_prefixes(text) if p in prefixes)
    head = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in known)
    return f"{head}\n{text}" if head else text


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _offset(text: str, line: int, column: int) -> int:
    """The character offset of pyoxigraph's ``line:column`` (1-based) in ``text``."""
    start = 0
    for _ in range(line - 1):
        found = text.find("\n", start)
        if found < 0:
            return len(text)
        start = found + 1
    return min(start + max(column - 1, 0), len(text))


_PARSER_AT = re.compile(r"error at (\d+):(\d+): (.*)", re.S)
_RANGES = re.compile(r"\.\.=")


def _expected_items(listing: str) -> list[str]:
    """The items of pyoxigraph's ``expected one of A, "b", ['c' | 'd' ..= 'e'], [_]`` list."""
    items: list[str] = []
    current: list[str] = []
    depth, quote, escaped = 0, "", False
    for char in listing:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def plain_parser_message(message: str, limit: int = 10) -> str:
    """pyoxigraph's parser message made short: its lists of Unicode ranges (``['A' ..= 'Z'
    | '\\u{00C0}'..='\\u{00D6}' …]``) become "a name character", ``[_]`` (any character)
    goes, and at most ``limit`` alternatives are named."""
    text = " ".join(message.split())
    match = re.match(r"expected (?:one of )?(.*)$", text)
    if not match:
        return text
    out: list[str] = []
    for item in _expected_items(match.group(1)):
        if item == "[_]" or item == "Prefix not found":
            continue
        if item.startswith("[") and _RANGES.search(item):
            item = "a name character"
        elif re.fullmatch(r"\['(.+)'\]", item):  # one character: ['%']
            item = '"' + item[2:-2] + '"'
        if item not in out:
            out.append(item)
    if not out:
        return "unexpected text"
    if len(out) > limit and {"ABS", "STR"} <= set(out):  # every built-in function: the
        return "expected an expression (a variable, a value or a function call)"  # one place
    if len(out) > limit:
        out = [*out[:limit], "…"]
    return f"expected {out[0]}" if len(out) == 1 else f"expected one of {', '.join(out)}"


def syntax_error(text: str, error: SyntaxError | str,
                 prefixes: Mapping[str, str] | None = None) -> QueryError:
    """A readable :class:`QueryError` for pyoxigraph's SPARQL parse ``error`` of ``text``:
    what the CLI (:func:`check_syntax`) and the endpoint (``juno-kg serve``) both report.

    A prefix used but not declared (the commonest mistake, which pyoxigraph reports as
    "Prefix not found" amid five lines of Unicode ranges, or as some unrelated keyword)
    becomes "prefix `foo:` is not declared" at the prefixed name, with the ``PREFIX`` line
    to add when ``prefixes`` (the standard prefixes and the dataset's; default
    :func:`prefix_map`) knows it. Any other message keeps its line, column and the tokens
    expected, without the ranges (:func:`plain_parser_message`).
    """
    known = {**QUERY_PREFIXES, **(prefix_map() if prefixes is None else prefixes)}
    message, line, column = str(error), None, None
    match = _PARSER_AT.match(message)
    if match:
        line, column, message = int(match.group(1)), int(match.group(2)), match.group(3)
    at = len(text) if line is None else _offset(text, line, column or 1)
    missing = undeclared_prefixes(text)
    if missing and missing[0][1].start > at:  # the parser stopped earlier, on something else
        missing = []
    toks = tokens(text)
    unclosed = next((t for t in toks if t.kind == "other" and t.text in "\"'"), None)
    if unclosed is not None and unclosed.start <= at:
        line, column = _position(text, unclosed.start)
        return QueryError(f"SPARQL syntax error: the string opened here with {unclosed.text} "
                          "is not closed", line=line, column=column)
    if missing or "Prefix not found" in message:
        if missing:
            names = [p for p, _ in missing]
            line, column = _position(text, missing[0][1].start)
        else:  # pyoxigraph saw it, our lexer did not: read the name before the error
            found = re.search(r"([^\s{}()<>\"';,]*):[^\s{}()<>\"';,]*$", text[:at])
            names = [found.group(1) if found else "?"]
        return QueryError(_undeclared_message(names, known), line=line, column=column)
    return QueryError(f"SPARQL syntax error: {plain_parser_message(message)}",
                      line=line, column=column)


def _undeclared_message(names: list[str], known: Mapping[str, str]) -> str:
    """"prefix `foo:` is not declared; add … PREFIX foo: <…>" for the undeclared ``names``
    (the first is where the parser stopped)."""
    def shown(prefix: str) -> str:
        return "the empty prefix `:`" if prefix == "" else f"prefix `{prefix}:`"

    text = f"{shown(names[0])} is not declared"
    if len(names) > 1:
        text += f" (nor {', '.join(f'`{p}:`' for p in names[1:])})"
    lines = [f"PREFIX {p}: <{known[p]}>" for p in names if p in known]
    unknown = [p for p in names if p not in known]
    advice = []
    if lines:
        what = "this line" if len(lines) == 1 else "these lines"
        advice.append(f"add {what} at the start of the query: {' '.join(lines)}")
    if unknown:
        decls = " ".join(f"PREFIX {p}: <its namespace IRI>" for p in unknown)
        listed = ", ".join(f"`{p}:`" for p in unknown)
        advice.append(f"declare {'it' if len(names) == 1 else listed} at the start of the "
                      f"query: {decls} (juno-kg does not know {listed})")
    return f"{text}; {'; '.join(advice)}"


# --------------------------------------------------------------------------- results

def _term_key(term: Any) -> tuple:
    if term is None:
        return (0, "")
    return (1 if isinstance(term, ox.NamedNode) else 2 if isinstance(term, ox.BlankNode)
            else 3, str(term))


@dataclass
class Rows:
    """The answer to a SELECT: variables and rows of pyoxigraph terms (unbound ones absent)."""

    variables: list[str]
    rows: list[dict[str, Any]]
    ordered: bool = False  #: the query had ORDER BY
    source: tuple[bytes, Any] = field(default=(b"", None), repr=False)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def values(self) -> list[dict[str, str]]:
        """The rows with each term as its plain value (IRI or lexical form)."""
        return [{k: t.value for k, t in row.items()} for row in self.rows]

    def normalised(self) -> list[tuple]:
        """Rows as tuples in variable order; sorted unless the query fixed the order."""
        rows = [tuple(row.get(v) for v in self.variables) for row in self.rows]
        return rows if self.ordered else sorted(rows, key=lambda r: [_term_key(t) for t in r])

    def serialize(self, fmt: str = "json") -> bytes:
        """SPARQL 1.1 Query Results JSON, XML, CSV or TSV (pyoxigraph's serializers)."""
        data, source_format = self.source
        return ox.parse_query_results(data, format=source_format).serialize(
            format=RESULT_FORMATS[fmt])

    def table(self, width: int | None = None, base: str = DEFAULT_BASE) -> str:
        """A plain-text table for a terminal (see :func:`render_table`)."""
        return render_table(self.variables, [[row.get(v) for v in self.variables]
                                             for row in self.rows], width, base=base)


@dataclass
class Triples:
    """The answer to a CONSTRUCT or DESCRIBE: its triples, sorted."""

    triples: list[Any]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.triples)

    def __len__(self) -> int:
        return len(self.triples)

    def __contains__(self, triple: Any) -> bool:
        return triple in set(self.triples)

    def normalised(self) -> list[Any]:
        return sorted(set(self.triples), key=lambda t: [_term_key(x) for x in t])

    def to_rdflib(self):
        """The triples as an rdflib ``Graph``."""
        from rdflib import Graph

        graph = Graph()
        data = ox.serialize(self.normalised(), format=ox.RdfFormat.N_TRIPLES)
        graph.parse(data=data.decode("utf-8"), format="nt")
        return graph

    def serialize(self, fmt: str = "ttl", base: str = DEFAULT_BASE) -> bytes:
        """Turtle, N-Triples or JSON-LD, written as the build writes its files."""
        from . import formats
        from .serialize import serialize_graph, shipped_context
        from .sources import bind_prefixes

        graph = self.to_rdflib()
        bind_prefixes(graph, Settings.make(base=base))
        kinds = {m.group(1) for t in self.triples for x in t
                 if isinstance(x, ox.NamedNode)
                 and (m := re.match(re.escape(base) + r"id/([a-z][a-z0-9-]*)/", x.value))}
        for kind in sorted(kinds):
            graph.bind(kind, f"{base}id/{kind}/", override=False)
        return serialize_graph(graph, formats.get(GRAPH_FORMATS[fmt]), shipped_context())


@dataclass
class Ask:
    """The answer to an ASK with the results document it came in (:func:`query` gives a bool)."""

    value: bool
    source: tuple[bytes, Any] = field(default=(b"", None), repr=False)

    def __bool__(self) -> bool:
        return self.value

    def serialize(self, fmt: str = "json") -> bytes:
        data, source_format = self.source
        return ox.parse_query_results(data, format=source_format).serialize(
            format=RESULT_FORMATS[fmt])


Answer = Rows | Ask | Triples


def _results(data: bytes, fmt: Any, ordered: bool) -> Rows | Ask:
    parsed = ox.parse_query_results(data, format=fmt)
    if isinstance(parsed, ox.QueryBoolean):
        return Ask(bool(parsed), (data, fmt))
    names = [v.value for v in parsed.variables]
    rows = []
    for solution in parsed:
        rows.append({n: t for n, t in zip(names, solution, strict=True) if t is not None})
    return Rows(names, rows, ordered, (data, fmt))


# --------------------------------------------------------------------------- engines

_STORES: dict[tuple, Any] = {}


def dataset_key(data: str | Path | None, root: str | Path | None,
                base: str | None) -> tuple[str, Any]:
    """Where the quads come from: ``("file", path)`` or ``("sources", Settings)``.

    ``data`` (a build folder or N-Quads file) wins; else a build in ``./dist`` when no
    other sources or base were asked for; else the sources, built in memory."""
    if data is not None:
        path = Path(data)
        if path.is_dir():
            path = path / DUMP
        if not path.is_file():
            raise QueryError(f"no N-Quads dump at {path}",
                             hint="run `juno-kg build` first, or leave out --data to query "
                                  "the sources directly")
        return "file", path.resolve()
    import os

    if root is None and base is None and not os.environ.get(ROOT_ENV) \
            and not os.environ.get(BASE_ENV) and (Path("dist") / DUMP).is_file():
        return "file", (Path("dist") / DUMP).resolve()
    return "sources", Settings.make(root, base)


def nquads(key: tuple[str, Any]) -> bytes:
    kind, where = key
    if kind == "file":
        return where.read_bytes()
    from .pipeline import export

    return export("nquads", None, where)


def _cache_key(engine: str, key: tuple[str, Any]) -> tuple:
    kind, where = key
    if kind == "file":
        stat = where.stat()
        return engine, kind, str(where), stat.st_mtime_ns, stat.st_size
    return engine, kind, str(where.root.resolve()), where.base


def oxigraph_store(key: tuple[str, Any]) -> ox.Store:
    """The in-memory pyoxigraph store holding the dataset (loaded once per process)."""
    cache = _cache_key("oxigraph", key)
    if cache not in _STORES:
        store = ox.Store()
        # ``load`` (one transaction) starts faster than ``bulk_load`` on a dump this size;
        # a build's own dump, written from checked data, skips IRI validation
        store.load(nquads(key), format=ox.RdfFormat.N_QUADS, lenient=_own_dump(key))
        _STORES[cache] = store
    return _STORES[cache]


def _own_dump(key: tuple[str, Any]) -> bool:
    """Whether ``key`` is the N-Quads dump of a juno-kg build (beside its manifest)."""
    kind, where = key
    return kind == "file" and where.parent.name == "dumps" \
        and (where.parent.parent / "manifest.json").is_file()


def rdflib_dataset(key: tuple[str, Any]):
    """The same quads in an rdflib ``Dataset`` whose default graph is the union."""
    cache = _cache_key("rdflib", key)
    if cache not in _STORES:
        from rdflib import Dataset

        ds = Dataset(default_union=True)
        ds.parse(data=nquads(key).decode("utf-8"), format="nquads")
        _STORES[cache] = ds
    return _STORES[cache]


def _run_oxigraph(text: str, form: str, bindings: dict, key: tuple) -> Answer:
    store = oxigraph_store(key)
    try:
        result = store.query(text, use_default_graph_as_union=True,
                             substitutions={ox.Variable(k): v for k, v in bindings.items()})
    except RuntimeError as exc:  # substitution needs the variable projected (SEP-0007)
        if not bindings:
            raise QueryError(f"query failed: {exc}") from None
        try:
            result = store.query(with_values(text, bindings), use_default_graph_as_union=True)
        except (RuntimeError, SyntaxError) as again:
            raise QueryError(f"query failed: {again}") from None
    if form in ("CONSTRUCT", "DESCRIBE"):
        return Triples(list(result))
    data = result.serialize(format=ox.QueryResultsFormat.JSON)
    return _results(data, ox.QueryResultsFormat.JSON, is_ordered(tokens(text)))


def _to_rdflib(term: Any):
    from rdflib import Literal, URIRef

    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype.value == XSD + "string":  # rdflib keeps plain literals untyped
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


def _run_rdflib(text: str, form: str, bindings: dict, key: tuple) -> Answer:
    ds = rdflib_dataset(key)
    result = ds.query(text, initBindings={k: _to_rdflib(v) for k, v in bindings.items()})
    if form in ("CONSTRUCT", "DESCRIBE"):
        data = result.graph.serialize(format="nt", encoding="utf-8")
        return Triples([q.triple for q in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)])
    data = result.serialize(format="json")
    return _results(data, ox.QueryResultsFormat.JSON, is_ordered(tokens(text)))


def dataset_graphs(base: str = DEFAULT_BASE) -> list[str]:
    """The named graphs of the dataset: a remote query's default and named graphs."""
    return [f"{base}graph/{name}" for name in GRAPH_NAMES]


def _run_remote(text: str, form: str, bindings: dict, endpoint: str, *,
                graphs: list[str] | None, timeout: float, method: str) -> Answer:
    import httpx

    sent = with_values(text, bindings)
    fields = [("query", sent)]
    for graph in graphs or []:
        fields += [("default-graph-uri", graph), ("named-graph-uri", graph)]
    graph_form = form in ("CONSTRUCT", "DESCRIBE")
    headers = {"Accept": GRAPH_ACCEPT if graph_form else RESULTS_ACCEPT}
    if method == "auto":
        method = "get" if len(str(httpx.QueryParams(fields))) <= GET_LIMIT else "post"
    try:
        if method == "get":
            response = httpx.get(endpoint, params=fields, headers=headers, timeout=timeout)
        else:  # form-encoded POST: what every store accepts (Virtuoso hangs on sparql-query)
            response = httpx.post(endpoint, data=dict(_group(fields)), headers=headers,
                                  timeout=timeout)
    except httpx.TimeoutException:
        raise EndpointError(f"{endpoint}: no answer within {timeout:g} s",
                            hint="is the store running and loaded? raise --timeout") from None
    except httpx.InvalidURL as exc:
        raise EndpointError(f"{endpoint}: not a usable URL ({exc})") from None
    except (httpx.HTTPError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise EndpointError(f"cannot reach {endpoint}: {reason}",
                            hint="check the URL and that the store is running") from None
    if response.status_code >= 400:
        body = " ".join(response.text.split())[:600]
        raise EndpointError(f"{endpoint} answered HTTP {response.status_code} "
                            f"{response.reason_phrase}: {body}")
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if graph_form:
            fmt = ox.RdfFormat.from_media_type(ctype)
            if fmt is None:
                raise EndpointError(f"{endpoint} answered {ctype or 'no content type'}, "
                                    "not an RDF format")
            return Triples([q.triple for q in ox.parse(response.content, format=fmt)])
        rfmt = ox.QueryResultsFormat.from_media_type(ctype)
        if rfmt is None:
            raise EndpointError(f"{endpoint} answered {ctype or 'no content type'}, "
                                "not SPARQL results")
        return _results(response.content, rfmt, is_ordered(tokens(text)))
    except SyntaxError as exc:
        raise EndpointError(f"{endpoint} sent an unreadable {ctype} answer: {exc}") from None


def _group(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in fields:
        out.setdefault(key, []).append(value)
    return out


# --------------------------------------------------------------------------- the API

def run(source: str, params: Mapping[str, Any] | None = None, endpoint: str | None = None, *,
        engine: str = "oxigraph", data: str | Path | None = None,
        root: str | Path | None = None, base: str | None = None,
        graphs: list[str] | None = None, timeout: float = 30.0,
        method: str = "auto") -> Answer:
    """Run one query (see :func:`query`), an ASK answer kept with its results document."""
    base_iri = Settings.make(root, base).base if (root or base) else DEFAULT_BASE
    text, named = resolve(source, base_iri)
    form = check_syntax(text, base_iri)
    bindings = bind(text, named, params, base_iri)
    if endpoint:
        if not re.match(r"https?://", endpoint):
            raise EndpointError(f"{endpoint!r} is not an http(s) URL")
        if method not in ("auto", "get", "post"):
            raise QueryError(f"unknown method {method!r}; use auto, get or post")
        return _run_remote(text, form, bindings, endpoint, timeout=timeout, method=method,
                           graphs=dataset_graphs(base_iri) if graphs is None else graphs)
    if engine not in ENGINES:
        raise QueryError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    key = dataset_key(data, root, base)
    runner = _run_oxigraph if engine == "oxigraph" else _run_rdflib
    try:
        return runner(text, form, bindings, key)
    except JunoKGError:  # a QueryError, or the sources did not load (file:line:column)
        raise
    except Exception as exc:  # the engine's own failure: a message, never a traceback
        raise QueryError(f"{engine} could not run the query: {exc}") from None


def query(text_or_name: str, params: Mapping[str, Any] | None = None,
          endpoint: str | None = None, **options: Any) -> Rows | bool | Triples:
    """Run a named query, an ``.rq`` file or SPARQL text.

    Returns :class:`Rows` for SELECT, a ``bool`` for ASK, :class:`Triples` for
    CONSTRUCT/DESCRIBE. ``params`` maps a parameter (variable) name to a value: a string,
    ``int``, ``datetime.date``, or a pyoxigraph term. ``endpoint`` sends the query to a
    SPARQL 1.1 Protocol endpoint instead (over the dataset's named graphs, unless
    ``graphs=[]``). Options: ``engine`` ("oxigraph" or "rdflib"), ``data`` (a build folder
    or N-Quads file), ``root``/``base`` (sources to build in memory), ``timeout`` (seconds),
    ``method`` ("auto", "get" or "post"). Raises :class:`QueryError`.
    """
    answer = run(text_or_name, params, endpoint, **options)
    return answer.value if isinstance(answer, Ask) else answer


# --------------------------------------------------------------------------- output

def compact(term: Any, prefixes: Mapping[str, str], base: str = DEFAULT_BASE) -> str:
    """A term as a person reads it: ``kind:slug`` or ``prefix:local`` for IRIs, the value
    (and language) for literals."""
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        value = term.value
        kind = re.fullmatch(re.escape(base) + r"id/([a-z][a-z0-9-]*)/([a-z0-9][a-z0-9._-]*)",
                            value)
        if kind:
            return f"{kind.group(1)}:{kind.group(2)}"
        best = max((ns for ns in prefixes.values() if value.startswith(ns)), key=len,
                   default=None)
        if best is not None and re.fullmatch(r"[\w.-]*", value[len(best):]):
            name = min(k for k, v in prefixes.items() if v == best)
            return f"{name}:{value[len(best):]}"
        return f"<{value}>"
    if isinstance(term, ox.Literal):
        return f"{term.value}@{term.language}" if term.language else term.value
    return str(term)


def render_table(names: list[str], rows: list[list[Any]], width: int | None = None,
                 prefixes: Mapping[str, str] | None = None, max_lines: int = 3,
                 base: str = DEFAULT_BASE) -> str:
    """A plain-text table that fits ``width`` columns: long values wrap onto up to
    ``max_lines`` lines and are then cut with ``…``."""
    prefixes = prefixes if prefixes is not None else prefix_map(base)
    import textwrap

    if not width:
        try:
            width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            width = 120
    width = max(width, 40)
    cells = [[" ".join(compact(t, prefixes, base).split()) for t in row] for row in rows]
    if not names:
        return f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n"
    natural = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    room = max(width - 3 * (len(names) - 1), 6 * len(names))
    widths = natural[:]
    while sum(widths) > room:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        widths[widest] -= 1
    widths = [max(w, min(6, n)) for w, n in zip(widths, natural, strict=True)]

    def lines_of(text: str, w: int) -> list[str]:
        wrapped = textwrap.wrap(text, w, break_long_words=True, break_on_hyphens=False) or [""]
        if len(wrapped) > max_lines:
            wrapped = wrapped[:max_lines]
            wrapped[-1] = wrapped[-1][: w - 1] + "…"
        return wrapped

    out = [" | ".join(n.ljust(w)[:w] for n, w in zip(names, widths, strict=True)).rstrip(),
           "-+-".join("-" * w for w in widths)]
    for row in cells:
        wrapped = [lines_of(c, w) for c, w in zip(row, widths, strict=True)]
        for i in range(max(len(x) for x in wrapped)):
            out.append(" | ".join((x[i] if i < len(x) else "").ljust(w)
                                  for x, w in zip(wrapped, widths, strict=True)).rstrip())
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def render(answer: Answer, fmt: str | None = None,
           base: str = DEFAULT_BASE) -> bytes:
    """The answer in ``fmt`` for the command line (default: a table, or Turtle for graphs)."""
    if isinstance(answer, Triples):
        fmt = fmt or "ttl"
        if fmt not in GRAPH_FORMATS:
            raise QueryError(f"--format {fmt} is for SELECT/ASK results; a graph can be "
                             f"written as ttl, jsonld or nt")
        return answer.serialize(fmt, base)
    fmt = fmt or TABLE
    if fmt in GRAPH_FORMATS:
        raise QueryError(f"--format {fmt} is for CONSTRUCT/DESCRIBE; SELECT and ASK results "
                         f"can be written as table, csv, tsv, json or xml")
    if isinstance(answer, Ask) and fmt == TABLE:
        return b"true\n" if answer else b"false\n"
    if fmt == TABLE:
        return answer.table(base=base).encode("utf-8")
    if fmt not in RESULT_FORMATS:
        raise QueryError(f"unknown format {fmt!r}; formats: {', '.join(FORMAT_NAMES)}")
    return answer.serialize(fmt)


def describe(named: NamedQuery) -> str:
    """One named query for ``juno-kg queries``: name, title, description, parameters."""
    import textwrap

    lines = [f"{named.name} — {named.title}"]
    if named.description:
        lines += ["    " + x for x in textwrap.wrap(named.description, 84)]
    for p in named.params:
        default = f" (default {p.default})" if p.default else " (required)"
        lines.append(f"    --param {p.name}=<{p.kind}>{default}  {p.description}".rstrip())
    return "\n".join(lines)
