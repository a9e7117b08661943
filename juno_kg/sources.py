"""Step 1 — load: ontology + data (+ shapes) into one rdflib Dataset, a named graph per source."""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import XSD, BNode, Dataset, Graph, Literal, URIRef
from rdflib.plugins.parsers.notation3 import BadSyntax

from .config import DATA_GRAPHS, DEFAULT_BASE, Settings
from .errors import JunoKGError
from .vocab import STANDARD_PREFIXES


class _IllTypedLiteralLog(logging.Filter):
    """rdflib logs a traceback for every literal whose text is not of its datatype
    (``"2008-02-30"^^xsd:date``) each time it makes one; juno-kg reports such literals itself,
    in words and with their place in the file (:func:`literal_errors`), so those records are
    dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        # likewise an IRI that is not one (reported by _check_iris, at its place)
        return not (message.startswith("Failed to convert Literal lexical form")
                    or "does not look like a valid URI" in record.getMessage())


logging.getLogger("rdflib.term").addFilter(_IllTypedLiteralLog())


@dataclass(frozen=True)
class LiteralError:
    """A literal whose text is not a value of its datatype, and where it is written."""

    path: Path
    line: int | None
    column: int | None
    subject: URIRef
    predicate: URIRef
    literal: Literal
    reason: str  #: what is wrong, in words

    def place(self, root: Path) -> str:
        where = _shown(self.path, root)
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return where


@dataclass
class Sources:
    """Everything loaded: the dataset, the shapes, and where each subject was written."""

    settings: Settings
    dataset: Dataset
    shapes: Graph
    violation_queries: list[Path]
    origins: dict[URIRef, list[tuple[Path, int | None]]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    literal_errors: list[LiteralError] = field(default_factory=list)  #: ill-typed literals

    def graph(self, name: str) -> Graph:
        return self.dataset.graph(URIRef(self.settings.graph_iri(name)))

    def origin(self, node: object) -> str | None:
        """``file:line`` of the first place ``node`` is described, if it came from a file."""
        places = self.origins.get(node) if isinstance(node, URIRef) else None
        if not places:
            return None
        path, line = places[0]
        shown = _shown(path, self.settings.root)
        return f"{shown}:{line}" if line else shown


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def new_dataset() -> Dataset:
    ds = Dataset(default_union=True)
    return ds


def rebase_term(term, base: str):
    """``term`` with the default base replaced by ``base``.

    IRIs are rewritten, and so are ``xsd:anyURI`` literals (IRIs written as literals, such
    as ``vann:preferredNamespaceUri``); every other literal is left as it is.
    """
    if base == DEFAULT_BASE or not str(term).startswith(DEFAULT_BASE):
        return term
    if isinstance(term, URIRef):
        return URIRef(base + str(term)[len(DEFAULT_BASE):])
    if isinstance(term, Literal) and term.datatype == XSD.anyURI:
        return Literal(base + str(term)[len(DEFAULT_BASE):], datatype=XSD.anyURI)
    return term


def rebase_graph(graph: Graph, base: str) -> Graph:
    """A copy of ``graph`` with every IRI under the default base moved under ``base``."""
    if base == DEFAULT_BASE:
        return graph
    out = Graph()
    for prefix, ns in graph.namespaces():
        out.bind(prefix, rebase_term(URIRef(ns), base), override=True, replace=True)
    for s, p, o in graph:
        out.add((rebase_term(s, base), rebase_term(p, base), rebase_term(o, base)))
    return out


def parse_file(path: Path, fmt: str = "turtle") -> Graph:
    """Parse one source file, turning parser errors into a :class:`JunoKGError` with line/column."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise JunoKGError(f"not UTF-8: {exc}", path=path,
                          hint="save the file as UTF-8") from None
    except OSError as exc:
        raise JunoKGError(f"cannot read file: {exc.strerror}", path=path) from None
    graph = Graph(bind_namespaces="none")  # keep the prefixes the file declares
    try:
        # a relative IRI resolves against a base that cannot be published (never the
        # file's own path, which would leak the build machine's folders into the dumps)
        graph.parse(data=text, format=fmt, publicID=RELATIVE_BASE)
    except BadSyntax as exc:
        line, column = _position(text, exc._i)  # noqa: SLF001 - rdflib keeps the offset here
        raise JunoKGError(f"Turtle syntax error: {exc._why}", path=path, line=line,  # noqa: SLF001
                          column=column,
                          hint="fix the Turtle at that position; `juno-kg validate` re-checks it",
                          ) from None
    except Exception as exc:  # rdflib raises assorted errors for bad IRIs, literals, prefixes
        line = _line_of_error(str(exc))
        raise JunoKGError(f"cannot parse {fmt}: {exc}", path=path, line=line,
                          hint="fix the file; it must be valid Turtle") from None
    _check_iris(path, text, graph)
    return graph


#: The base relative IRIs resolve against while a file is read (``.invalid`` is reserved:
#: no such host exists); any IRI under it is a relative IRI in the file, and refused.
RELATIVE_BASE = "https://relative-iri.invalid/"
_RELATIVE_REF = re.compile(r"<(?![A-Za-z][A-Za-z0-9+.-]*:)([^<>\s]*)>")


def _check_iris(path: Path, text: str, graph: Graph) -> None:
    """Refuse relative IRIs and IRIs that are not IRIs (rdflib reads ``<http://a b>``, which
    no store loads), at the file, line and column where the IRI is written."""
    import pyoxigraph as ox

    for term in sorted({t for triple in graph for t in triple if isinstance(t, URIRef)}):
        value = str(term)
        if value.startswith(RELATIVE_BASE):
            match = _RELATIVE_REF.search(text)
            line, column = _position(text, match.start()) if match else (None, None)
            shown = match.group(0) if match else f"<{value[len(RELATIVE_BASE):]}>"
            raise JunoKGError(f"relative IRI {shown}: every IRI in the data must be absolute",
                              path=path, line=line, column=column,
                              hint="write the IRI in full or with a declared prefix "
                                   "(for example person:kimya-dawson)")
        try:
            ox.NamedNode(value)
        except ValueError as exc:
            at = text.find(f"<{value}>")
            line, column = _position(text, at) if at >= 0 else (None, None)
            raise JunoKGError(f"not a valid IRI <{value}>: {exc}", path=path, line=line,
                              column=column, hint="percent-encode spaces and other characters "
                              "an IRI cannot hold (a space is %20)") from None


def _position(text: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(text)))
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column


def _line_of_error(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _subject_lines(path: Path, graph: Graph) -> dict[URIRef, int | None]:
    """For each IRI subject of ``graph`` (parsed from ``path``), the first line naming it."""
    first: dict[str, int] = {}  # the first word of each line (up to a space or tab) -> line
    for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        first.setdefault(text.lstrip().split(" ", 1)[0].split("\t", 1)[0], i)
    prefixes = sorted(((str(ns), p) for p, ns in graph.namespaces() if p), key=lambda x: -len(x[0]))
    found: dict[URIRef, int | None] = {}
    for s in set(graph.subjects()):
        if not isinstance(s, URIRef):
            continue
        tokens = [f"<{s}>"]
        for ns, prefix in prefixes:
            if str(s).startswith(ns):
                tokens.append(f"{prefix}:{str(s)[len(ns):]}")
        numbers = [first[t] for t in tokens if t in first]
        found[s] = min(numbers) if numbers else None
    return found


_TZ = r"(Z|[+-]\d{2}:\d{2})?"
_YEAR = r"-?(\d{4,})"
#: XSD date and time types rdflib does not check (or checks with a bare exception)
_LEXICAL = {
    XSD.date: re.compile(rf"{_YEAR}-(\d{{2}})-(\d{{2}}){_TZ}"),
    XSD.dateTime: re.compile(
        rf"{_YEAR}-(\d{{2}})-(\d{{2}})T(\d{{2}}):(\d{{2}}):(\d{{2}})(\.\d+)?{_TZ}"),
    XSD.gYear: re.compile(rf"{_YEAR}{_TZ}"),
    XSD.gYearMonth: re.compile(rf"{_YEAR}-(\d{{2}}){_TZ}"),
}
_EXAMPLE = {XSD.date: "2008-01-08", XSD.dateTime: "2008-01-08T00:00:00",
            XSD.gYear: "2008", XSD.gYearMonth: "2008-01"}


def literal_problem(literal: Literal) -> str | None:
    """Why ``literal``'s text is not a value of its datatype (None if it is, or unknown).

    Dates are checked against the calendar (``2008-02-30`` does not exist); the other
    XSD types rdflib knows are checked by rdflib.
    """
    datatype, text = literal.datatype, str(literal)
    if datatype is None:
        return None
    name = f"xsd:{datatype[len(str(XSD)):]}" if str(datatype).startswith(str(XSD)) else datatype
    pattern = _LEXICAL.get(datatype)
    if pattern is not None:
        match = pattern.fullmatch(text)
        if match is None:
            return f"{text!r} is not written as an {name} (as in {_EXAMPLE[datatype]!r})"
        groups = match.groups()
        year = int(groups[0])
        if datatype in (XSD.date, XSD.dateTime, XSD.gYearMonth):
            month = int(groups[1])
            if not 1 <= month <= 12:
                return f"{text!r} is not a valid {name}: there is no month {month}"
            if datatype != XSD.gYearMonth:
                day = int(groups[2])
                days = calendar.monthrange(year, month)[1] if year > 0 else 31
                if not 1 <= day <= days:
                    return (f"{text!r} is not a valid {name}: that date does not exist "
                            f"({calendar.month_name[month]} {year} has {days} days)")
            if datatype == XSD.dateTime:
                hour, minute, second = int(groups[3]), int(groups[4]), int(groups[5])
                if hour > 24 or minute > 59 or second > 59 or (
                        hour == 24 and (minute or second)):
                    return f"{text!r} is not a valid {name}: there is no time {hour:02}:" \
                           f"{minute:02}:{second:02}"
        if year == 0:
            return f"{text!r} is not a valid {name}: there is no year 0"
        return None
    if literal.ill_typed:
        return f"{text!r} is not a valid {name}"
    return None


def literal_errors(path: Path, graph: Graph,
                   subject_lines: dict[URIRef, int | None]) -> list[LiteralError]:
    """The ill-typed literals of ``graph`` (parsed from ``path``), each with the line and
    column of its text: the first place it is written at or after its subject's line."""
    bad = [(s, p, o) for s, p, o in graph if isinstance(o, Literal) and o.datatype is not None
           and literal_problem(o) is not None]
    if not bad:
        return []
    text = path.read_text(encoding="utf-8") if path.suffix in (".ttl", ".trig") else ""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out = []
    for s, p, o in sorted(bad):
        line = column = None
        first = subject_lines.get(s) if isinstance(s, URIRef) else None
        offset = starts[first - 1] if first and first <= len(starts) else 0
        for quote in ('"', "'"):
            at = text.find(f"{quote}{o}{quote}", offset)
            if at < 0:
                at = text.find(f"{quote}{o}{quote}")
            if at >= 0:
                line, column = _position(text, at)
                break
        if line is None:
            line = first
        out.append(LiteralError(path, line, column, s, p, o, literal_problem(o) or ""))
    return out


def _files(folder: Path, pattern: str = "*.ttl") -> list[Path]:
    """The source files matching ``pattern`` in ``folder``; anything there that is not a
    regular file (a FIFO, a socket, a device) is refused rather than read, which could
    wait forever."""
    found = sorted(folder.glob(pattern)) if folder.is_dir() else []
    for path in found:
        if not path.is_file():
            raise JunoKGError("not a regular file (a pipe, a socket or a folder?)", path=path,
                              hint="sources must be plain files; move it out of the folder")
    return found


def load(settings: Settings | None = None) -> Sources:
    """Read ``ontology/``, ``data/<graph>/`` and ``shapes/`` under ``settings.root``.

    Returns the dataset (one named graph per source folder, rebased to ``settings.base``),
    the shapes graph, the violation queries and the origin of every subject.
    Raises :class:`JunoKGError` for a missing folder or malformed file.
    """
    settings = settings or Settings.make()
    root = settings.root
    if not (root / "ontology").is_dir():
        raise JunoKGError("no ontology/ folder here", path=root,
                          hint="run from a checkout of juno-kg or pass --root DIR")
    ds = new_dataset()
    sources = Sources(settings, ds, Graph(), _files(root / "shapes", "*-violation.rq"))
    plan: list[tuple[str, Path]] = [("ontology", p) for p in _files(root / "ontology")]
    for name in DATA_GRAPHS:
        plan += [(name, p) for p in _files(root / "data" / name)]
    for name, path in plan:
        parsed = parse_file(path)
        _add(sources, name, path, parsed)
    from .links import links_graph  # the SSSOM mapping tables become the links graph

    for path in _files(root / "data" / "links", "*.sssom.tsv"):
        _add(sources, "links", path, links_graph(path))
    for path in _files(root / "shapes"):
        shapes = rebase_graph(parse_file(path), settings.base)
        for prefix, ns in shapes.namespaces():
            sources.shapes.bind(prefix, ns, override=False)
        sources.shapes += shapes
        sources.files.append(path)
    bind_prefixes(ds, settings)
    return sources


def _add(sources: Sources, name: str, path: Path, parsed: Graph) -> None:
    origin_lines = _subject_lines(path, parsed) if path.suffix == ".ttl" else {}
    base = sources.settings.base
    sources.literal_errors += [
        LiteralError(e.path, e.line, e.column, rebase_term(e.subject, base),
                     rebase_term(e.predicate, base), e.literal, e.reason)
        for e in literal_errors(path, parsed, origin_lines)]
    parsed = rebase_graph(parsed, base)
    target = sources.graph(name)
    for prefix, ns in parsed.namespaces():
        if prefix and not prefix.startswith("ns"):
            # our own kinds (album:, org:, format: ...) win over rdflib's default prefixes
            ours = str(ns).startswith(sources.settings.base)
            sources.dataset.bind(prefix, ns, override=ours, replace=ours)
    for triple in parsed:
        _check_no_bnode(triple, path)
        target.add(triple)
    for s, line in origin_lines.items():
        sources.origins.setdefault(rebase_term(s, sources.settings.base), []).append((path, line))
    sources.files.append(path)


def _check_no_bnode(triple: tuple, path: Path) -> None:
    if any(isinstance(t, BNode) for t in triple):
        s, p, _ = triple
        raise JunoKGError(f"blank node in published data (subject {s.n3()}, property {p.n3()})",
                          path=path,
                          hint="give the node an IRI under id/{kind}/{slug}; no blank nodes")




def bind_prefixes(graph: Graph, settings: Settings, like: Graph | None = None) -> None:
    """Bind the standard prefixes and ours (``jk:``, ``jkg:``).

    With ``like``, first copy its prefixes, ours (one per kind of thing: ``album:``,
    ``org:`` …) replacing any default binding rdflib made for the same prefix.
    """
    if like is not None:
        for prefix, ns in like.namespaces():
            if prefix and not prefix.startswith("ns"):
                ours = str(ns).startswith(settings.base)
                graph.bind(prefix, ns, override=ours, replace=ours)
    for prefix, ns in STANDARD_PREFIXES.items():
        graph.bind(prefix, ns, override=True, replace=True)
    graph.bind("jk", settings.ontology_ns, override=True, replace=True)
    graph.bind("jkg", f"{settings.base}graph/", override=True, replace=True)


