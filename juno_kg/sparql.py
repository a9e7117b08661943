"""SPARQL as text: the one lexer of the package, and the checks made on a query's text.

The lexer (:func:`tokens`) knows strings, IRIs, comments, variables and prefixed names, so
that a keyword inside a string or an IRI is not read as one. On it: the query form, the
prefixes declared and used, the ``WHERE`` group a ``VALUES`` block goes in; and readable
syntax errors made from pyoxigraph's SPARQL parser (line, column, an undeclared prefix
named with the ``PREFIX`` line to add). Used by the query helper, the catalogue, the site
and the server alike.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyoxigraph as ox

from .config import DEFAULT_BASE
from .errors import QueryError
from .vocab import QUERY_PREFIXES, prefix_map

UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE",
                   "ADD", "WITH"}


QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}


# SPARQL's terminals, each lexed no longer than SPARQL lexes it: a variable stops where
# VARNAME stops (never at '#'), a number is its own token (``1SERVICE`` is 1 and SERVICE),
# a word keeps PN_LOCAL's backslash escapes (``ex:a\#`` is not a comment).
_TOKEN = re.compile(r"""
      (?P<ws>\s+)
    | (?P<comment>\#[^\r\n]*)
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
                |'(?:[^'\\\r\n]|\\.)*'|"(?:[^"\\\r\n]|\\.)*")
    | (?P<var>[?$]\w*)
    | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<word>(?:[^\W\d]|[_:@%]|\\.)(?:[\w:\-%@]|\\.)*)
    | (?P<other>.)
""", re.X | re.S)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    depth: int  #: brace depth before this token


@functools.lru_cache(maxsize=256)
def tokens(text: str) -> tuple[Token, ...]:
    """The one SPARQL lexer of the package (the query helper, the catalogue, the site and
    the endpoint's guard): keywords, prefixed names, variables, numbers, IRIs, strings and
    brackets, each token no longer than SPARQL's grammar lexes it, comments and white space
    left out. The parsers of the engines remain the judges of syntax."""
    out, depth = [], 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind in ("ws", "comment"):
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


