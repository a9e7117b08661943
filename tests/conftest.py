from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from juno_kg import Settings, build, load
from juno_kg.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, **kwargs):
    """Drive the CLI in-process, as a user would from a shell."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


def run_module(*args: str, env: dict | None = None, cwd: Path | None = None):
    """``python -m juno_kg ARGS`` in a subprocess (for what must hold across processes)."""
    return subprocess.run([sys.executable, "-m", "juno_kg", *args], capture_output=True,
                          text=True, env=env, cwd=cwd or ROOT, timeout=300)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """One build of the shipped sources (the default base), shared by the read-only tests."""
    out = tmp_path_factory.mktemp("build") / "dist"
    result = build(out, Settings.make(ROOT))
    assert result.ok, result.report.text()
    return out


@pytest.fixture(scope="session")
def sources():
    return load(Settings.make(ROOT))


@pytest.fixture
def source_copy(tmp_path) -> Path:
    """A writable copy of ontology/, shapes/ and data/ to break on purpose."""
    root = tmp_path / "src"
    for name in ("ontology", "shapes", "data"):
        shutil.copytree(ROOT / name, root / name)
    return root


# Real triple stores on loopback for the whole session (see tests/stores.py).
from .stores import (  # noqa: E402,F401
    free_port,
    oxigraph_factory,
    oxigraph_server,
    virtuoso_factory,
    virtuoso_server,
)


@dataclass
class LiveServer:
    """A ``juno-kg serve`` process on loopback: its URL, process and console log."""

    url: str
    process: subprocess.Popen
    log: Path

    def console(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def workers(self) -> list[int]:
        """The pids of the server's query worker processes (multiprocessing's spawned
        children; its resource tracker is not one)."""
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == self.process.pid and b"spawn_main" in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except (OSError, IndexError, ValueError):
                continue
        return sorted(found)

    def status(self, field: str) -> int:
        """A number from ``/proc/PID/status`` of the server process (``Threads``, ``VmRSS``)."""
        for line in (Path("/proc") / str(self.process.pid) / "status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise KeyError(field)

    def open_fds(self) -> int:
        return len(list((Path("/proc") / str(self.process.pid) / "fd").iterdir()))


#: the app of ``juno-kg serve`` under uvicorn on a loop named on the command line
UVICORN_ON = """
import sys, uvicorn
from juno_kg.serve import create_app
uvicorn.run(create_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]),
            loop=sys.argv[3], log_level="warning")
"""


@contextlib.contextmanager
def juno_kg_serve(dist: Path, log: Path, *options: str, loop: str | None = None,
                  wrapper: tuple[str, ...] = ()) -> Iterator[LiveServer]:
    """Run ``python -m juno_kg serve`` as a user runs ``juno-kg serve``: uvicorn with the
    event loop it picks by default (uvloop, which ``uvicorn[standard]`` installs); with
    ``loop`` (``asyncio``), the same app under uvicorn on that loop instead; ``wrapper``
    is a command that runs it (``unshare …``)."""
    port = free_port()
    args = (["-c", UVICORN_ON, str(dist), str(port), loop] if loop else
            ["-m", "juno_kg", "serve", "--dist", str(dist), "--port", str(port), *options])
    with log.open("ab") as out:
        proc = subprocess.Popen([*wrapper, sys.executable, *args], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = LiveServer(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"juno-kg serve exited ({proc.returncode}): {server.console()}")
            if time.monotonic() > deadline:
                pytest.fail(f"juno-kg serve did not answer within 60 s: {server.console()}")
            try:
                with urllib.request.urlopen(f"{server.url}/sparql", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()  # uvicorn's shutdown stops the query workers
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):  # anything left of its process group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture(scope="session")
def live_server_process(built, tmp_path_factory) -> Iterator[LiveServer]:
    """``juno-kg serve`` with its default limits (2 workers) for the whole session."""
    log = tmp_path_factory.mktemp("live") / "console.log"
    with juno_kg_serve(built, log, "--workers", "2") as server:
        yield server


@pytest.fixture(scope="session")
def live_server(live_server_process) -> str:
    """The base URL of ``juno-kg serve`` on a free loopback port (a real uvicorn process)."""
    return live_server_process.url


# --------------------------------------------------------------------------- shared helpers

class Listener:
    """A TCP listener on loopback that counts the connections made to it (the target of
    SSRF attempts: a query that reaches it made an outgoing connection)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/x"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
NO_CHROMIUM = ("Debian's chromium and chromium-driver are not installed "
               "(apt-get install chromium chromium-driver; .ci/run does)")


def chromium(profile: Path, log_requests: bool = False):
    """Debian's headless chromium driven by selenium through chromium-driver; with
    ``log_requests``, every request of a page is in its performance log (those a
    Content-Security-Policy blocks included)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,2000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if log_requests:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver
