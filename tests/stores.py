"""Real triple stores on loopback for the tests: the ``oxigraph`` server and Virtuoso.

Session fixtures (imported by ``tests/conftest.py``, so every test module can ask for them):

- ``oxigraph_server`` — the ``oxigraph`` server from PyPI, loaded with the build's N-Quads.
- ``virtuoso_server`` — Virtuoso from Debian's ``virtuoso-opensource`` (``virtuoso-t``),
  loaded with the build's N-Quads; skips, saying why, only where ``virtuoso-t`` is absent.

Each yields a :class:`StoreServer` (``query_url``, ``update_url``, ``gsp_url``, ``user``,
``password``). For an empty store, use the context managers :func:`oxigraph` and
:func:`virtuoso` directly (``with oxigraph(tmp_path) as store: ...``) or the
``*_factory`` fixtures. Every server listens on 127.0.0.1 on a free port and is stopped
(and its files removed with the temp dir) when its fixture or ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT = 120.0  #: seconds a store may take to answer its first query


@dataclass
class StoreServer:
    """A running store: where to query, update and put graphs, and how to stop it."""

    name: str
    query_url: str
    update_url: str
    gsp_url: str
    user: str | None = None
    password: str | None = None
    workdir: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    loaded: Path | None = None  #: the N-Quads file loaded at start, if any
    sql_port: int | None = None  #: Virtuoso's SQL port (for :func:`isql`)

    def stop(self) -> None:
        stop_process(self.process)

    def log(self) -> str:
        """The server's log so far (for assertion messages)."""
        if self.workdir is None:
            return ""
        parts = []
        for name in ("server.log", "virtuoso.log"):
            path = self.workdir / name
            if path.is_file():
                parts.append(path.read_text("utf-8", "replace")[-4000:])
        return "\n".join(parts)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen | None) -> None:
    """Stop a server this module started (its own process group), politely then firmly."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _spawn(args: list[str], workdir: Path) -> subprocess.Popen:
    log = (workdir / "server.log").open("ab")
    return subprocess.Popen(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def wait_for_sparql(url: str, process: subprocess.Popen, timeout: float = START_TIMEOUT,
                    describe: Callable[[], str] = lambda: "") -> None:
    """Poll ``url`` with ``ASK {}`` until it answers 200, the process dies, or time runs out."""
    query = urllib.parse.urlencode({"query": "ASK {}"})
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"store exited with code {process.returncode}:\n{describe()}")
        try:
            request = urllib.request.Request(
                f"{url}?{query}", headers={"Accept": "application/sparql-results+json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"store at {url} did not answer within {timeout:.0f}s ({last}):\n"
                       f"{describe()}")


# --------------------------------------------------------------------------- oxigraph

def oxigraph_binary() -> str | None:
    """The ``oxigraph`` server command (PyPI package ``oxigraph``, in the venv's bin/)."""
    beside = Path(sys.executable).with_name("oxigraph")
    return str(beside) if beside.is_file() else shutil.which("oxigraph")


@contextlib.contextmanager
def oxigraph(workdir: Path, nquads: Path | None = None) -> Iterator[StoreServer]:
    """Start ``oxigraph serve`` on a free loopback port; load ``nquads`` first if given."""
    binary = oxigraph_binary()
    if binary is None:
        raise RuntimeError("the `oxigraph` command is missing: pip install -e '.[test]'")
    workdir.mkdir(parents=True, exist_ok=True)
    location = workdir / "db"
    if nquads is not None:
        proc = subprocess.run([binary, "load", "--location", str(location), "--file",
                               str(nquads), "--format", "nq"],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"oxigraph load failed: {proc.stderr}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _spawn([binary, "serve", "--location", str(location), "--bind",
                      f"127.0.0.1:{port}"], workdir)
    server = StoreServer("oxigraph", f"{base}/query", f"{base}/update", f"{base}/store",
                         workdir=workdir, process=process, loaded=nquads)
    try:
        wait_for_sparql(server.query_url, process, describe=server.log)
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- Virtuoso

VIRTUOSO_USER = "dba"
VIRTUOSO_PASSWORD = "dba"  # the password a new Virtuoso database is created with

VIRTUOSO_INI = """\
[Database]
DatabaseFile       = {db}/virtuoso.db
ErrorLogFile       = {db}/virtuoso.log
LockFile           = {db}/virtuoso.lck
TransactionFile    = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {db}/virtuoso-temp.db
TransactionFile    = {db}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort               = 127.0.0.1:{sql_port}
LiteMode                 = 0
DisableUnixSocket        = 1
DisableTcpSocket         = 0
MaxClientConnections     = 4
CheckpointInterval       = 0
O_DIRECT                 = 0
CaseMode                 = 2
DirsAllowed              = ., {db}, {data}
ThreadsPerQuery          = 2
AsyncQueueMaxThreads     = 2
NumberOfBuffers          = 10000
MaxDirtyBuffers          = 6000
MaxQueryMem              = 256M
VADInstallDir            = /usr/share/virtuoso-opensource-7/vad/

[HTTPServer]
ServerPort                  = 127.0.0.1:{http_port}
ServerRoot                  = {vsp}
MaxClientConnections        = 4
ServerThreads               = 4
DavRoot                     = DAV
EnabledDavVSP               = 0
HTTPProxyEnabled            = 0
MaxKeepAlives               = 4
KeepAliveTimeout            = 10
Charset                     = UTF-8
EnabledGzipContent          = 0

[Client]
SQL_PREFETCH_ROWS  = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT  = 0
SQL_TXN_TIMEOUT    = 0

[SPARQL]
ResultSetMaxRows           = 10000
MaxQueryCostEstimationTime = 400
MaxQueryExecutionTime      = 60
DefaultGraph               = http://localhost/default
"""


def virtuoso_binary() -> str | None:
    return shutil.which("virtuoso-t")


def isql_binary() -> str | None:
    return shutil.which("isql-vt") or shutil.which("isql")


def isql(port: int, sql: str, timeout: float = 300) -> str:
    """Run SQL statements through Virtuoso's ``isql`` client as ``dba``."""
    binary = isql_binary()
    if binary is None:
        raise RuntimeError("Virtuoso's isql client (isql-vt) is missing")
    proc = subprocess.run([binary, f"127.0.0.1:{port}", VIRTUOSO_USER, VIRTUOSO_PASSWORD,
                           "VERBOSE=OFF", "BANNER=OFF", "PROMPT=OFF", "ERRORS=STDOUT"],
                          input=sql, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "*** Error" in out:
        raise RuntimeError(f"isql failed:\n{sql}\n{out}")
    return out


def virtuoso_load_nquads(port: int, nquads: Path) -> None:
    """Load an N-Quads file with Virtuoso's bulk loader (each quad into its own graph)."""
    folder, name = str(nquads.parent.resolve()), nquads.name
    isql(port, f"ld_dir('{folder}', '{name}', 'http://localhost/default');\n"
               "rdf_loader_run();\ncheckpoint;\n")
    errors = isql(port, "SELECT COUNT(*) FROM DB.DBA.load_list WHERE ll_error IS NOT NULL;\n")
    if errors.split()[-1:] != ["0"]:
        raise RuntimeError(f"Virtuoso could not load {nquads}:\n{errors}")


@contextlib.contextmanager
def virtuoso(workdir: Path, nquads: Path | None = None) -> Iterator[StoreServer]:
    """Start ``virtuoso-t`` with its own database under ``workdir``; load ``nquads`` if given.

    Anonymous SPARQL (``/sparql``) reads; updates and the Graph Store Protocol go through
    ``/sparql-auth`` and ``/sparql-graph-crud-auth`` with HTTP digest auth as ``dba``.
    """
    binary = virtuoso_binary()
    if binary is None:
        raise RuntimeError("virtuoso-t is missing: apt-get install virtuoso-opensource")
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "db"
    db.mkdir(exist_ok=True)
    vsp = workdir / "vsp"
    vsp.mkdir(exist_ok=True)
    data = nquads.parent.resolve() if nquads is not None else db
    sql_port, http_port = free_port(), free_port()
    while http_port == sql_port:
        http_port = free_port()
    ini = workdir / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(db=db, data=data, vsp=vsp, sql_port=sql_port,
                                       http_port=http_port), "utf-8")
    process = _spawn([binary, "+foreground", "+configfile", str(ini)], workdir)
    base = f"http://127.0.0.1:{http_port}"
    server = StoreServer("virtuoso", f"{base}/sparql", f"{base}/sparql-auth",
                         f"{base}/sparql-graph-crud-auth", VIRTUOSO_USER, VIRTUOSO_PASSWORD,
                         workdir=workdir, process=process, loaded=nquads, sql_port=sql_port)
    try:
        wait_for_sparql(server.query_url, process, describe=lambda: server.log())
        if nquads is not None:
            virtuoso_load_nquads(sql_port, nquads)
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- fixtures

def _nquads(built: Path) -> Path:
    return built / "dumps" / "juno-kg.nq"


@pytest.fixture(scope="session")
def oxigraph_server(built: Path, tmp_path_factory) -> Iterator[StoreServer]:
    """The ``oxigraph`` server loaded with the build's N-Quads, for the whole session."""
    with oxigraph(tmp_path_factory.mktemp("oxigraph"), _nquads(built)) as server:
        yield server


@pytest.fixture(scope="session")
def virtuoso_server(built: Path, tmp_path_factory) -> Iterator[StoreServer]:
    """Virtuoso loaded with the build's N-Quads; skips only where ``virtuoso-t`` is absent."""
    if virtuoso_binary() is None:
        pytest.skip("virtuoso-t is not installed (Debian package virtuoso-opensource; "
                    ".ci/run installs it)")
    with virtuoso(tmp_path_factory.mktemp("virtuoso"), _nquads(built)) as server:
        yield server


@pytest.fixture
def oxigraph_factory(tmp_path) -> Iterator[Callable[..., StoreServer]]:
    """Start extra oxigraph servers (empty unless given an N-Quads file); all stopped after."""
    with contextlib.ExitStack() as stack:
        counter = iter(range(1000))

        def start(nquads: Path | None = None) -> StoreServer:
            return stack.enter_context(oxigraph(tmp_path / f"oxigraph-{next(counter)}", nquads))

        yield start


@pytest.fixture
def virtuoso_factory(tmp_path) -> Iterator[Callable[..., StoreServer]]:
    """Start extra Virtuoso servers (empty unless given an N-Quads file); all stopped after."""
    if virtuoso_binary() is None:
        pytest.skip("virtuoso-t is not installed (Debian package virtuoso-opensource; "
                    ".ci/run installs it)")
    with contextlib.ExitStack() as stack:
        counter = iter(range(1000))

        def start(nquads: Path | None = None) -> StoreServer:
            return stack.enter_context(virtuoso(tmp_path / f"virtuoso-{next(counter)}", nquads))

        yield start
