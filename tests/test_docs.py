"""Every example in README.md and docs/*.md is run, and its answer checked.

The examples are the fenced code blocks of the Markdown, found by parsing it, so a new
example is picked up without touching this file. Each block is one of:

- ```` ```sh ````/```` ```bash ````: shell commands, one example per command (a command
  continues over ``\\`` line ends and here-documents). Each runs with ``bash -c`` in a
  working folder of its own block, where ``dist`` is the session's build, with
  ``.venv/bin`` first on ``PATH``, after the commands above it in its block. Stores the docs
  name by their usual addresses are the test's real ones: ``127.0.0.1:7878`` (or
  ``localhost:7878``) the oxigraph server loaded with the build, ``127.0.0.1:8890`` and
  ``isql-vt 1111`` Virtuoso (``$VIRTUOSO_PASSWORD`` its password), ``/srv/juno-kg/dist``
  the build; URLs in the output are written back as the docs spell them.
- ```` ```sparql ````: run in-process with ``juno_kg.query`` over the build (the union of
  its graphs), or over one named graph with ``graph NAME``.
- ```` ```python ````: executed with the build as ``dist/`` in the working directory; an
  expression statement followed by a comment that is a Python literal
  (``query("ASK { ?s ?p ?o }")  # True``) must have that value.
- ```` ```sql ````: Virtuoso ``isql`` statements, run against the Virtuoso server.
- a plain ```` ``` ```` block: a sample, compared to what it shows (``output of``,
  ``usage of``, ``paths``).

What an example's answer must contain is written next to it, in an HTML comment right
before the block (blank lines between are allowed; the comment may span lines)::

    <!-- doc-test: rows 3; row 1 "2008-01-08"; each "label:rhino-entertainment" -->
    <!-- doc-test: skip — needs the internet (the Wikidata Query Service) -->
    <!-- doc-test: [query chart-run] expect "2008-02-09"
                   [localhost:3030] skip — needs Apache Jena Fuseki -->

Directives are separated by new lines or ``;``. ``[TEXT]`` before a directive applies it
only to the command of the block that contains TEXT (exactly one must); without it, a
directive applies to every command of the block. The directives:

- ``skip — REASON``: not run here (shown as a pytest skip with REASON). Only for what
  cannot run on this machine: the internet, Apache Jena, GraphDB.
- ``built — REASON``: the command makes the build; the session's build stands for it.
- ``dry-run``: run ``make`` as ``make -n`` in the checkout (the commands it would run are
  the answer; ``make test`` is this very suite).
- ``says "TEXT", ...``: the text after the block (up to the next heading) states each
  TEXT (white space aside), so a claim there cannot change without its check here
  (``rows 3`` beside ``says "three rows"``).
- ``expect "TEXT", ...``: the output (stdout and stderr; for SPARQL the rows) contains each.
- ``absent "TEXT", ...``: the output contains none of them.
- ``match "REGEX"``: the output matches the regular expression (``re.search``).
- ``rows N`` / ``row N "TEXT", ...`` / ``each "TEXT", ...``: a SPARQL answer has N rows; its
  row N (from 1) contains each TEXT; every row contains each TEXT. A row reads as its
  values compacted as ``juno-kg query`` shows them (``label:rhino-entertainment``).
- ``graph NAME``: run the SPARQL over that named graph of the build alone.
- ``exit N``: the command's exit status (default 0).
- ``given FILE = PATH``: copy PATH of the checkout to FILE in the working folder first.
- ``creates "PATH"``: the command creates PATH in the working folder.
- ``background``: the command is a server that stays up; it is started on a free port,
  checked with ``same``, then stopped.
- ``same "SPARQL"``: the server started by the command answers SPARQL as the build does
  in-process.
- ``endpoint wikidata``: ``127.0.0.1:7878`` is instead a small Wikidata-shaped store
  (``tests/test_links.py``'s fixture).
- ``output of "COMMAND"``: the block is the output of COMMAND, compared line by line
  (numbers may differ: they follow the data).
- ``usage of "COMMAND"``: every ``--option`` and choice of the synopsis is in
  ``COMMAND --help``.
- ``fragment of "PATH"``: the block is SPARQL the code sends: it is in PATH (white space
  aside) and parses.
- ``paths``: every folder and file the block names exists, and it names every top-level
  folder and every docs/ page.
- ``then-reload``: (sql) each graph the block clears is empty afterwards, and the block
  above it, run again, loads the dump again.

Every block either runs with at least one check on its answer, is a sample compared to
real output, or is marked ``skip`` with a reason; anything else fails
(``test_every_example_is_run_or_marked``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shutil
import subprocess
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

import juno_kg
from juno_kg.query import Rows, compact
from juno_kg.vocab import prefix_map

from .conftest import ROOT
from .stores import StoreServer, free_port, oxigraph, stop_process, wait_for_sparql

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
VENV_BIN = ROOT / ".venv" / "bin"
TIMEOUT = 180  #: seconds a documented command may take
BASE = juno_kg.DEFAULT_BASE

#: what each directive may carry: a reason, quoted strings, a number, or nothing
REASON_VERBS = {"skip", "built"}
VERBS = {"skip", "built", "dry-run", "says", "expect", "absent", "match", "rows", "row", "each",
         "graph", "exit", "given", "creates", "background", "same", "endpoint", "output",
         "usage", "fragment", "paths", "then-reload"}
#: directives that check an answer (an example that runs needs at least one)
CHECKS = {"expect", "absent", "match", "rows", "row", "each", "creates", "same", "output",
          "usage", "fragment", "paths", "then-reload"}
LANGUAGES = {"sh", "bash", "sparql", "python", "sql", ""}


# --------------------------------------------------------------------------- the docs

@dataclass(frozen=True)
class Directive:
    key: str | None  #: the ``[TEXT]`` selecting one command, if any
    verb: str
    rest: str  #: what follows the verb (a reason, a number, ``FILE = PATH``, …)
    args: tuple[str, ...]  #: the quoted strings in ``rest``

    def number(self) -> int:
        found = re.match(r"\s*(\d+)", self.rest)
        if not found:
            raise ValueError(f"`{self.verb}` needs a number: {self.rest!r}")
        return int(found.group(1))


@dataclass(frozen=True)
class Block:
    doc: str  #: path relative to the checkout
    line: int  #: line of the opening fence
    lang: str
    text: str
    directives: tuple[Directive, ...]
    errors: tuple[str, ...] = ()  #: malformed annotations
    prose: str = ""  #: the text after the block up to the next heading (blocks aside)

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    def commands(self) -> list[str]:
        return shell_commands(self.text) if self.lang in ("sh", "bash") else [self.text]

    def directives_for(self, command: str) -> list[Directive]:
        return [d for d in self.directives if d.key is None or d.key in command]

    def first(self, verb: str) -> Directive | None:
        return next((d for d in self.directives if d.verb == verb), None)


@dataclass(frozen=True)
class Example:
    block: Block
    index: int  #: the command's place in its block (0 for blocks that are one example)
    command: str

    @property
    def id(self) -> str:
        many = len(self.block.commands()) > 1
        return f"{self.block.where}" + (f"[{self.index + 1}]" if many else "")

    @property
    def directives(self) -> list[Directive]:
        return self.block.directives_for(self.command)

    def get(self, verb: str) -> list[Directive]:
        return [d for d in self.directives if d.verb == verb]


def shell_commands(text: str) -> list[str]:
    """The commands of a shell block: lines, joined over ``\\`` and here-documents."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip() or lines[i].lstrip().startswith("#"):
            i += 1
            continue
        command = [lines[i]]
        while command[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            command.append(lines[i])
        heredoc = re.search(r"<<-?\s*(['\"]?)(\w+)\1", "\n".join(command))
        if heredoc:
            while i + 1 < len(lines):
                i += 1
                command.append(lines[i])
                if lines[i].strip() == heredoc.group(2):
                    break
        out.append("\n".join(command))
        i += 1
    return out


def parse_directives(text: str) -> tuple[list[Directive], list[str]]:
    """The directives of one ``doc-test`` comment, and what could not be read."""
    directives, errors = [], []
    rest = text.strip()
    while rest:
        found = re.match(r"(?:\[([^\]]+)\]\s*)?([a-z-]+)", rest)
        if not found or found.group(2) not in VERBS:
            errors.append(f"unknown directive: {rest.splitlines()[0]!r} (known: "
                          f"{', '.join(sorted(VERBS))})")
            rest = rest.split("\n", 1)[1].strip() if "\n" in rest else ""
            continue
        key, verb = found.group(1), found.group(2)
        rest = rest[found.end():]
        if verb in REASON_VERBS:  # a reason runs to the end of the line
            body, _, rest = rest.partition("\n")
        else:  # up to a `;` or a new line outside quotes
            end = re.match(r'(?:[^;\n"]|"(?:[^"\\]|\\.)*")*', rest)
            body = end.group(0) if end else rest
            rest = rest[len(body):]
        rest = rest.lstrip(";\n \t")
        args = tuple(a.replace('\\"', '"') for a in re.findall(r'"((?:[^"\\]|\\.)*)"', body))
        body = body.strip()
        if verb in REASON_VERBS:
            body = body.lstrip("—–-: ").strip()
            if not body:
                errors.append(f"`{verb}` needs a reason")
        directives.append(Directive(key, verb, body, args))
    return directives, errors


def read_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, each with the ``doc-test`` annotations of
    the HTML comment right before it."""
    lines = path.read_text("utf-8").splitlines()
    doc = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    blocks: list[Block] = []
    pending: tuple[int, str] | None = None  # (line, text) of an annotation not yet used
    orphans: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("<!-- doc-test"):
            start, body = i, [line]
            while "-->" not in body[-1] and i + 1 < len(lines):
                i += 1
                body.append(lines[i])
            if pending:
                orphans.append(f"{doc}:{pending[0] + 1}: annotation not followed by a block")
            text = "\n".join(body).strip()
            text = text.removeprefix("<!--").removesuffix("-->").strip()
            pending = (start, text.removeprefix("doc-test").lstrip(":").strip())
            i += 1
            continue
        fence = re.match(r"^(\s*)```(\S*)\s*$", line)
        if fence:
            indent, lang, start = fence.group(1), fence.group(2), i
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            directives, errors = parse_directives(pending[1]) if pending else ([], [])
            after, inside = [], False
            for following in lines[i + 1:]:
                if following.startswith("#") and not inside:
                    break
                if re.match(r"\s*```", following):
                    inside = not inside
                elif not inside:
                    after.append(following)
            blocks.append(Block(doc, start + 1, lang, "\n".join(body) + "\n",
                                tuple(directives), tuple(errors + orphans),
                                " ".join(" ".join(after).split())))
            pending, orphans = None, []
        elif line.strip() and pending:
            orphans.append(f"{doc}:{pending[0] + 1}: annotation not right before a block")
            pending = None
        i += 1
    if pending or orphans:
        where = pending[0] + 1 if pending else 0
        blocks.append(Block(doc, where, "annotation", "", (), tuple(
            orphans + ([f"{doc}:{where}: annotation not followed by a block"]
                       if pending else []))))
    return blocks


BLOCKS = [block for doc in DOCS for block in read_blocks(doc)]
EXAMPLES = [Example(block, i, command) for block in BLOCKS
            for i, command in enumerate(block.commands())]


def plan_errors(example: Example) -> list[str]:
    """Why an example cannot be run or checked as annotated (empty when it can)."""
    block = example.block
    errors = list(block.errors)
    if block.lang not in LANGUAGES:
        errors.append(f"a ```{block.lang} block: this test does not know how to run it; "
                      "mark it `<!-- doc-test: skip — why -->` or teach tests/test_docs.py")
    commands = block.commands()
    for d in block.directives:
        if d.key is not None and sum(d.key in c for c in commands) != 1:
            errors.append(f"[{d.key}] must name exactly one command of the block")
    verbs = {d.verb for d in example.directives}
    if verbs & {"skip", "built"}:
        return errors
    if block.lang == "" and not verbs & {"output", "usage", "paths"}:
        errors.append("a plain ``` block must be a sample: `output of`, `usage of` or "
                      "`paths` (or `skip — why`)")
    if not verbs & CHECKS and not (block.lang == "python" and literal_claims(block.text)):
        errors.append("an example that runs must say what its answer holds (`expect`, "
                      "`match`, `rows`, …): an exit status alone is not an answer")
    if "same" in verbs and "background" not in verbs:
        errors.append("`same` asks the server a `background` command starts")
    return errors


def test_every_example_is_run_or_marked():
    """Every block is found, readable, and either runs with a check, is a sample, or is
    skipped with a reason; no annotation is left without its block."""
    assert len(BLOCKS) >= 20, [b.where for b in BLOCKS]
    problems = [f"{e.id}: {p}" for e in EXAMPLES for p in plan_errors(e)]
    assert not problems, "\n".join(problems)
    skipped = [e for e in EXAMPLES if e.get("skip")]
    assert len(skipped) < len(EXAMPLES) / 3, "most examples must run here"


def test_the_collector_finds_and_rejects_what_it_should(tmp_path):
    """A new block of an unknown language, an annotation without a block and an unknown
    directive are each a failure, not silently ignored."""
    doc = tmp_path / "new.md"
    doc.write_text('<!-- doc-test: frobnicate "x" -->\n```ruby\nputs 1\n```\n\n'
                   "```sh\njuno-kg stats\n```\n\n<!-- doc-test: expect \"x\" -->\n\ntext\n",
                   "utf-8")
    blocks = read_blocks(doc)
    problems = [p for b in blocks for c in b.commands()
                for p in plan_errors(Example(b, 0, c))]
    assert any("unknown directive" in p for p in problems)
    assert any("```ruby block" in p for p in problems)
    assert any("must say what its answer holds" in p for p in problems)
    assert any("not right before a block" in p for p in problems)


# --------------------------------------------------------------------------- checks

def literal_claims(code: str) -> dict[int, Any]:
    """Line → value of each comment that is a Python literal (``# True``)."""
    claims = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT:
            with contextlib.suppress(ValueError, SyntaxError):
                claims[tok.start[0]] = ast.literal_eval(tok.string[1:].strip())
    return claims


def check_text(example: Example, output: str) -> None:
    where = f"{example.id}: {example.command.strip()}\n--- output ---\n{output}"
    for d in example.get("expect"):
        for text in d.args:
            assert text in output, f"expected {text!r} in the output of {where}"
    for d in example.get("absent"):
        for text in d.args:
            assert text not in output, f"did not expect {text!r} in the output of {where}"
    for d in example.get("match"):
        for pattern in d.args:
            assert re.search(pattern, output, re.M), f"no match for /{pattern}/ in {where}"


def row_texts(variables: list[str], rows: list[dict[str, Any]]) -> list[str]:
    prefixes = prefix_map(BASE)
    return [" | ".join(" ".join(compact(row.get(v), prefixes, BASE).split()) +
                       (f" <{row[v].value}>" if isinstance(row.get(v), ox.NamedNode) else "")
                       for v in variables) for row in rows]


def check_rows(example: Example, texts: list[str]) -> None:
    shown = "\n".join(texts)
    for d in example.get("rows"):
        assert len(texts) == d.number(), f"{example.id}: {len(texts)} rows, not " \
                                         f"{d.number()}:\n{shown}"
    for d in example.get("row"):
        n = d.number()
        assert n <= len(texts), f"{example.id}: no row {n}:\n{shown}"
        for text in d.args:
            assert text in texts[n - 1], f"{example.id}: row {n} lacks {text!r}: {texts[n - 1]}"
    for d in example.get("each"):
        for text in d.args:
            lacking = [t for t in texts if text not in t]
            assert not lacking, f"{example.id}: rows without {text!r}:\n" + "\n".join(lacking)
    check_text(example, shown)


# --------------------------------------------------------------------------- running

@dataclass
class Stores:
    """The stores the docs name, started on first use (one of each for the session)."""

    request: pytest.FixtureRequest
    tmp: Path
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    wikidata: StoreServer | None = None

    def oxigraph(self) -> StoreServer:
        return self.request.getfixturevalue("oxigraph_server")

    def virtuoso(self) -> StoreServer:
        return self.request.getfixturevalue("virtuoso_server")

    def mini_wikidata(self) -> StoreServer:
        if self.wikidata is None:
            from .test_links import WIKIDATA_FIXTURE

            server = self.stack.enter_context(oxigraph(self.tmp / "wikidata"))
            resp = httpx.post(f"{server.gsp_url}?default", content=WIKIDATA_FIXTURE.encode(),
                              headers={"Content-Type": "text/turtle"}, timeout=30)
            assert resp.status_code in (200, 201, 204), resp.text
            self.wikidata = server
        return self.wikidata


def host_port(url: str) -> str:
    return re.match(r"https?://([^/]+)", url).group(1)


@dataclass
class Rewrite:
    """The docs' addresses → the test's real ones (and back, for output)."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    bind: str | None = None  #: the free ``host:port`` a background server is given

    def apply(self, text: str) -> str:
        for doc, real in self.pairs:
            text = text.replace(doc, real)
        return text

    def undo(self, text: str) -> str:
        for doc, real in self.pairs:
            if re.search(r"\w", real) and real != doc:
                text = text.replace(real, doc)
        return text


def rewrite_for(example: Example, command: str, stores: Stores, built: Path) -> Rewrite:
    """How to run ``command`` here: the stores on their real ports, the build's path."""
    rw = Rewrite()
    background = bool(example.get("background"))
    for host in ("127.0.0.1:7878", "localhost:7878"):
        if host in command:
            if background:
                real = rw.bind = f"127.0.0.1:{free_port()}"
            elif any(d.rest == "wikidata" for d in example.get("endpoint")):
                real = host_port(stores.mini_wikidata().query_url)
            else:
                real = host_port(stores.oxigraph().query_url)
            rw.pairs.append((host, real))
    if re.search(r"(127\.0\.0\.1|localhost):8890|isql-vt 1111|VIRTUOSO_PASSWORD",
                 command) or example.block.lang == "sql":
        virtuoso = stores.virtuoso()
        for host in ("127.0.0.1:8890", "localhost:8890"):
            rw.pairs.append((host, host_port(virtuoso.query_url)))
        rw.pairs.append(("isql-vt 1111", f"isql-vt {virtuoso.sql_port}"))
        rw.env["VIRTUOSO_PASSWORD"] = virtuoso.password or ""
    rw.pairs.append(("/srv/juno-kg/dist", str(built.resolve())))
    return rw


def environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JUNO_KG_") and k != "COLUMNS"}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", COLUMNS="200",
               **extra)
    return env


@dataclass
class Workspace:
    """A block's working folder (``dist`` → the build) and which commands have run."""

    folder: Path
    done: set[int] = field(default_factory=set)


class Runner:
    """Runs examples, sharing the build, the stores and each block's working folder."""

    def __init__(self, built: Path, stores: Stores, tmp: Path) -> None:
        self.built, self.stores, self.tmp = built, stores, tmp
        self.workspaces: dict[str, Workspace] = {}
        self._store: ox.Store | None = None

    def workspace(self, block: Block) -> Workspace:
        if block.where not in self.workspaces:
            folder = self.tmp / re.sub(r"\W+", "-", block.where)
            folder.mkdir(parents=True)
            (folder / "dist").symlink_to(self.built, target_is_directory=True)
            for d in block.directives:
                if d.verb == "given":
                    name, _, source = (p.strip() for p in d.rest.partition("="))
                    shutil.copy(ROOT / source, folder / name)
            self.workspaces[block.where] = Workspace(folder)
        return self.workspaces[block.where]

    def earlier(self, example: Example) -> Workspace:
        """The example's working folder, once the commands above it in its block have run
        (those not run yet; servers, skipped commands and the build aside)."""
        block = example.block
        space = self.workspace(block)
        for i, command in enumerate(block.commands()[:example.index]):
            above = Example(block, i, command)
            if i not in space.done and not {d.verb for d in above.directives} & \
                    {"skip", "built", "background", "dry-run"}:
                self.run_command(above, space)
        return space

    def shell(self, example: Example) -> subprocess.CompletedProcess:
        """Run one command of a shell block (after those above it), its output as the docs
        would show it."""
        return self.run_command(example, self.earlier(example))

    def run_command(self, example: Example, space: Workspace) -> subprocess.CompletedProcess:
        rw = rewrite_for(example, example.command, self.stores, self.built)
        command, cwd = rw.apply(example.command), space.folder
        if example.get("dry-run"):
            command, cwd = re.sub(r"^make\b", "make -n", command.strip()), ROOT
        proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=environment(rw.env),
                              capture_output=True, text=True, timeout=TIMEOUT)
        space.done.add(example.index)
        return subprocess.CompletedProcess(proc.args, proc.returncode, rw.undo(proc.stdout),
                                           rw.undo(proc.stderr))

    @contextlib.contextmanager
    def background(self, example: Example) -> Iterator[str]:
        """Start a server command on a free port; yield its base URL; stop it."""
        space = self.earlier(example)
        rw = rewrite_for(example, example.command, self.stores, self.built)
        command = rw.apply(example.command)
        real = rw.bind
        assert real, f"{example.id}: a background command must bind 127.0.0.1:7878"
        log = (space.folder / "server.log").open("ab")
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=space.folder,
                                env=environment(rw.env), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            url = f"http://{real}"
            wait_for_sparql(f"{url}/query", proc, timeout=60,
                            describe=lambda: (space.folder / "server.log").read_text())
            yield url
        finally:
            stop_process(proc)
            log.close()

    def graph_store(self) -> ox.Store:
        if self._store is None:
            store = ox.Store()
            store.bulk_load(path=str(self.built / "dumps" / "juno-kg.nq"),
                            format=ox.RdfFormat.N_QUADS)
            self._store = store
        return self._store

    def sparql(self, example: Example, text: str) -> list[str]:
        """A SPARQL block's rows, as text (over the union, or one named graph)."""
        graphs = example.get("graph")
        if graphs:
            answer = self.graph_store().query(
                text, default_graph=ox.NamedNode(f"{BASE}graph/{graphs[0].rest}"))
            assert isinstance(answer, ox.QuerySolutions), f"{example.id}: not a SELECT"
            variables = [v.value for v in answer.variables]
            rows = [{v: s[v] for v in variables if s[v] is not None} for s in answer]
            return row_texts(variables, rows)
        answer = juno_kg.query(text, data=self.built)
        if isinstance(answer, Rows):
            return row_texts(answer.variables, answer.rows)
        if isinstance(answer, bool):
            return [str(answer).lower()]
        return [" ".join(compact(t, prefix_map(BASE), BASE) for t in triple)
                for triple in answer]


@pytest.fixture(scope="module")
def runner(built, request, tmp_path_factory) -> Iterator[Runner]:
    stores = Stores(request, tmp_path_factory.mktemp("doc-stores"))
    with stores.stack:
        yield Runner(built, stores, tmp_path_factory.mktemp("doc-examples"))


def in_process_answer(text: str, built: Path, endpoint: str | None = None) -> list:
    answer = (juno_kg.query(text, data=built) if endpoint is None
              else juno_kg.query(text, endpoint=endpoint, graphs=[]))
    assert isinstance(answer, Rows)
    return sorted(tuple(sorted(row.items())) for row in answer.values())


def graph_counts(built: Path, endpoint: str | None = None) -> dict[str, int]:
    query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    answer = (juno_kg.query(query, data=built) if endpoint is None
              else juno_kg.query(query, endpoint=endpoint, graphs=[]))
    assert isinstance(answer, Rows)
    return {row["g"]: int(row["n"]) for row in answer.values()}


# --------------------------------------------------------------------------- the test

@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_documented_example(example: Example, runner: Runner, built: Path,
                            monkeypatch: pytest.MonkeyPatch):
    problems = plan_errors(example)
    assert not problems, f"{example.id}:\n" + "\n".join(problems)
    for d in example.get("says"):
        for claim in d.args:
            assert " ".join(claim.split()) in example.block.prose, \
                f"{example.id}: the text after the block no longer says {claim!r}; " \
                f"check the claim and its doc-test annotation:\n{example.block.prose}"
    for d in example.get("skip"):
        pytest.skip(d.rest)
    if example.get("built"):
        assert (built / "dumps" / "juno-kg.nq").is_file()  # the session build, as `dist`
        assert (runner.workspace(example.block).folder / "dist" / "manifest.json").is_file()
        return
    lang = example.block.lang
    if lang in ("sh", "bash"):
        run_shell(example, runner, built)
    elif lang == "sparql":
        if example.get("fragment"):
            check_fragment(example)
        else:
            check_rows(example, runner.sparql(example, example.command))
    elif lang == "python":
        run_python(example, runner, monkeypatch)
    elif lang == "sql":
        run_sql(example, runner, built)
    else:
        check_sample(example, runner, built)


def run_shell(example: Example, runner: Runner, built: Path) -> None:
    if example.get("background"):
        with runner.background(example) as url:
            for d in example.get("same"):
                for text in d.args:
                    assert in_process_answer(text, built, f"{url}/query") == \
                        in_process_answer(text, built), f"{example.id}: {text}"
        return
    proc = runner.shell(example)
    output = proc.stdout + proc.stderr
    expected = example.get("exit")[0].number() if example.get("exit") else 0
    assert proc.returncode == expected, \
        f"{example.id}: exit {proc.returncode}, not {expected}: {example.command}\n{output}"
    check_text(example, output)
    folder = runner.workspace(example.block).folder
    for d in example.get("creates"):
        for path in d.args:
            assert (folder / path).exists(), f"{example.id}: {path} was not created"


def run_python(example: Example, runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute the block statement by statement; check ``# literal`` claims and output."""
    monkeypatch.chdir(runner.workspace(example.block).folder)
    code = example.command
    claims = literal_claims(code)
    namespace: dict[str, Any] = {"__name__": "__doc_example__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for stmt in ast.parse(code).body:
            name = f"<{example.id}>"
            if isinstance(stmt, ast.Expr):
                value = eval(compile(ast.Expression(stmt.value), name, "eval"), namespace)
                if stmt.end_lineno in claims:
                    assert value == claims[stmt.end_lineno], \
                        f"{example.id}: {ast.unparse(stmt)} gives {value!r}, the docs say " \
                        f"{claims[stmt.end_lineno]!r}"
            else:
                exec(compile(ast.Module([stmt], []), name, "exec"), namespace)
    check_text(example, out.getvalue())


def run_sql(example: Example, runner: Runner, built: Path) -> None:
    """Virtuoso ``isql`` statements; with ``then-reload``, the reload the text describes."""
    from .stores import isql, virtuoso_load_nquads

    virtuoso = runner.stores.virtuoso()
    assert virtuoso.sql_port is not None
    cleared = re.findall(r"CLEAR\s+GRAPH\s+<([^>]+)>", example.command, re.I)
    expected = graph_counts(built)
    try:
        output = isql(virtuoso.sql_port, example.command)  # fails on any `*** Error`
        check_text(example, output)
        if not example.get("then-reload"):
            return
        assert cleared, f"{example.id}: `then-reload` needs a CLEAR GRAPH"
        counts = graph_counts(built, virtuoso.query_url)
        assert all(counts.get(g, 0) == 0 for g in cleared), f"{example.id}: not cleared: {counts}"
        above = [b for b in BLOCKS if b.doc == example.block.doc
                 and b.line < example.block.line][-1]
        for i, command in enumerate(above.commands()):
            proc = runner.run_command(Example(above, i, command), runner.workspace(above))
            assert proc.returncode == 0 and "*** Error" not in proc.stdout, proc.stdout
        counts = graph_counts(built, virtuoso.query_url)
        assert {g: counts.get(g) for g in cleared} == {g: expected.get(g) for g in cleared}, \
            f"{example.id}: running {above.where} again did not load the dump again"
    finally:  # leave the session's Virtuoso holding the build, whatever happened
        counts = graph_counts(built, virtuoso.query_url)
        if any(counts.get(g) != n for g, n in expected.items()):
            isql(virtuoso.sql_port, "".join(f"SPARQL CLEAR GRAPH <{g}>;\n" for g in expected)
                 + "DELETE FROM DB.DBA.load_list WHERE ll_file LIKE '%juno-kg.nq';\n")
            virtuoso_load_nquads(virtuoso.sql_port, built / "dumps" / "juno-kg.nq")


def check_fragment(example: Example) -> None:
    (d,) = example.get("fragment")
    path = d.args[0]
    source = " ".join((ROOT / path).read_text("utf-8").split())
    fragment = " ".join(example.command.split())
    assert fragment in source, f"{example.id}: the SPARQL shown is not what {path} sends"
    prefixes = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in prefix_map(BASE).items())
    ox.Store().query(f"{prefixes}SELECT * WHERE {{ {example.command} }}")


def mask(line: str) -> str:
    return " ".join(re.sub(r"\d+", "N", line).split())


def check_sample(example: Example, runner: Runner, built: Path) -> None:
    """A plain block: the output of a command, a synopsis, or the layout."""
    block = example.block
    for d in example.get("output"):
        command = d.args[0]
        real = runner.run_command(Example(block, 0, command), runner.workspace(block))
        assert real.returncode == 0, real.stdout + real.stderr
        shown = [mask(x) for x in block.text.strip().splitlines()]
        got = [mask(x) for x in real.stdout.strip().splitlines()]
        assert got == shown, f"{example.id}: the sample is not what `{command}` prints " \
                             f"(numbers aside):\n{real.stdout}"
    for d in example.get("usage"):
        command = d.args[0]
        helptext = subprocess.run(["bash", "-c", f"{command} --help"], capture_output=True,
                                  text=True, env=environment({}), timeout=TIMEOUT).stdout
        options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", block.text))
        assert options, f"{example.id}: a synopsis names options"
        for option in sorted(options):
            assert re.search(rf"(?<![\w-]){option}\b", helptext), \
                f"{example.id}: `{command} --help` has no {option}"
        for choice in re.findall(r"\b\w+(?:\|\w+)+\b", block.text):
            assert choice in helptext, f"{example.id}: `{command} --help` has no {choice}"
    if example.get("paths"):
        check_layout(example)


def check_layout(example: Example) -> None:
    """Each line names a folder, then files and folders in it (or in the checkout); an
    indented line goes on with the folder above."""
    folders, files, folder = [], [], ""
    for line in example.block.text.splitlines():
        head = re.match(r"([\w-]+)/", line)
        if head:
            folder, line = head.group(1), line[head.end():]
            folders.append(folder)
        elif not line.startswith(" "):
            folder = ""
        for name in re.findall(r"(?<![\w/.*-])([\w/*-]+(?:\.(?:py|md|rq|ttl|tsv)\b|/))", line):
            files.append(name)
            assert any(list(place.glob(name.rstrip("/"))) for place in (ROOT / folder, ROOT)), \
                f"{example.id}: no {name} in {folder or '.'}/ or the checkout"
    assert folders and files, f"{example.id}: no paths found"
    for folder in folders:
        assert (ROOT / folder).is_dir(), f"{example.id}: no folder {folder}/"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True,
                             text=True).stdout.splitlines()
    top = {p.split("/", 1)[0] for p in tracked if "/" in p and not p.startswith(".")}
    assert top <= set(folders), f"{example.id}: the layout omits {sorted(top - set(folders))}"
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages <= set(files), f"{example.id}: the layout omits docs {sorted(pages - set(files))}"
