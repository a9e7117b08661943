"""The query catalogue: the named queries (``juno_kg/queries/*.rq``) and their headers.

Each file starts with a header comment that says what the query is for: ``# title:``,
``# description:``, ``# param: NAME KIND [= DEFAULT] -- what``, and ``# federated:`` or
``# virtuoso:`` notes. The CLI, the query helper, the site and the server all read the
catalogue here (a leaf of the package: it imports only the configuration and the errors).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULT_BASE
from .errors import QueryError
from .sparql import tokens
from .vocab import rebase_text

PARAM_KINDS = ("iri", "string", "integer", "decimal", "date", "gYear", "boolean", "langstring")


QUERY_DIR = Path(__file__).with_name("queries")




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
        return rebase_text(named.text, base), named
    path = Path(source)
    if "\n" not in source and (source.endswith((".rq", ".sparql")) or _is_file(source)):
        try:
            return path.read_text("utf-8"), None
        except OSError as exc:
            raise QueryError(f"cannot read query file {source}: {exc.strerror}") from None
    return source, None


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


