from __future__ import annotations

import shutil
import subprocess
import sys
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


@pytest.fixture(scope="session")
def live_server(built):
    """``juno-kg serve`` on a free loopback port (a real uvicorn process): its base URL."""
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "juno_kg", "serve", "--dist", str(built),
                             "--port", str(port), "--workers", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                pytest.fail(f"juno-kg serve exited: {proc.stdout.read()}")
            try:
                with urllib.request.urlopen(f"{url}/sparql", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
