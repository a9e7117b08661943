"""`build --out` / `publish --out` replace only a previous build; Ctrl-C and kills lose nothing.

Users point `--out` at the wrong folder: a checkout, the sources, a file, a folder of their
own. Each is refused with exit 2 before any work is done (so these tests are fast) and left
byte for byte as it was. The signal tests run one real build each, in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from juno_kg.write import clean_leftovers

from .conftest import ROOT, run_cli, run_module


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (a file's bytes, None for a folder), ``.git`` included."""
    return {p.relative_to(folder).as_posix(): (None if p.is_dir() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}


def _refused(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "refusing to" in result.output, result.output
    for word in words:
        assert word in result.output, result.output
    assert "Traceback" not in result.output
    assert "hint:" in result.output, "the message says what to do"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path) -> Path:
    """Someone's git checkout, with a manifest.json that looks like a build's."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    (repo / "notes.md").write_text("my notes\n")
    (repo / "manifest.json").write_text(json.dumps({"base": "x", "files": []}))
    _git("add", ".", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "first",
         cwd=repo)
    return repo


@pytest.mark.parametrize("command", ["build", "publish"])
def test_out_at_a_git_checkout_is_refused(checkout, command):
    before = _snapshot(checkout)
    result = run_cli(command, "--out", str(checkout))
    _refused(result, str(checkout), ".git")
    assert _snapshot(checkout) == before


def test_out_dot_inside_a_git_checkout_is_refused(checkout, monkeypatch):
    before = _snapshot(checkout)
    monkeypatch.chdir(checkout)
    _refused(run_cli("build", "--out", "."), str(checkout), ".git")
    assert _snapshot(checkout) == before
    assert sorted(p.name for p in checkout.parent.iterdir()) == ["repo"], "no temp beside it"


def test_out_at_a_copy_of_the_data_folder_is_refused(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    before = _snapshot(data)
    _refused(run_cli("build", "--out", str(data)), "not a juno-kg build", "no manifest.json")
    assert _snapshot(data) == before


@pytest.mark.parametrize("where", ["data", "shapes", "data/article", "data/new", ".", ".."])
def test_out_at_the_sources_in_use_or_around_them_is_refused(source_copy, where):
    """The sources, a folder in them (even a new one), their root and its parent; the root
    even when it holds a manifest.json that looks like a build's."""
    (source_copy / "manifest.json").write_text(json.dumps({"base": "x", "files": []}))
    top = source_copy.parent
    before = _snapshot(top)
    result = run_cli("--root", str(source_copy), "build", "--out", str(source_copy / where))
    _refused(result, "sources")
    assert _snapshot(top) == before


def test_out_at_a_file_is_refused(tmp_path):
    path = tmp_path / "site.html"
    path.write_text("<p>my page</p>")
    _refused(run_cli("publish", "--out", str(path)), "is a file, not a folder")
    assert path.read_text() == "<p>my page</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.html"]


def test_out_at_someones_folder_is_refused(tmp_path):
    folder = tmp_path / "photos"
    (folder / "2024").mkdir(parents=True)
    (folder / "cat.jpg").write_bytes(b"\xff\xd8 a cat")
    (folder / "2024" / "dog.jpg").write_bytes(b"\xff\xd8 a dog")
    (folder / ".hidden").write_text("x")
    before = _snapshot(folder)
    _refused(run_cli("build", "--out", str(folder)), "no manifest.json", "holds 3 entries",
             ".hidden, 2024, cat.jpg", "remove this one yourself")
    assert _snapshot(folder) == before


def test_out_at_a_folder_with_someone_elses_manifest_is_refused(tmp_path):
    """A web app's manifest.json is not a build's."""
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "My app", "icons": []}')
    (folder / "index.html").write_text("<html></html>")
    before = _snapshot(folder)
    _refused(run_cli("build", "--out", str(folder)), "not a juno-kg build manifest")
    assert _snapshot(folder) == before


def test_a_previous_build_holding_other_files_is_refused(built, tmp_path):
    out = tmp_path / "dist"
    shutil.copytree(built, out)
    (out / "CNAME").write_text("kg.example.org\n")
    (out / "page" / "mine").mkdir()
    (out / "page" / "mine" / "draft.html").write_text("<p>draft</p>")
    before = _snapshot(out)
    _refused(run_cli("build", "--out", str(out)), "is a juno-kg build", "2 entries",
             "CNAME, page/mine/draft.html", "would be lost")
    assert _snapshot(out) == before


def test_leftovers_of_dead_builds_are_removed_and_nothing_else(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    gone = int(dead.stdout)
    (tmp_path / "dist").mkdir()
    for name in (f".dist.tmp-{gone}", f".dist.old-{gone}"):
        (tmp_path / name / "page").mkdir(parents=True)
        (tmp_path / name / "page" / "x.html").write_text("half a build")
    kept = [f".dist.tmp-{os.getppid()}",  # a build still running (this test's parent)
            f".site.tmp-{gone}",  # beside another output
            ".dist.tmp-abc", "dist.tmp-1", "notes"]
    for name in kept:
        (tmp_path / name).mkdir()
    removed = clean_leftovers(tmp_path / "dist")
    assert sorted(p.name for p in removed) == [f".dist.old-{gone}", f".dist.tmp-{gone}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["dist", *kept])


def test_a_build_moved_aside_by_a_killed_build_is_moved_back(tmp_path):
    """Killed between moving the previous build aside and moving the new one in."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    aside = tmp_path / f".dist.old-{int(dead.stdout)}"
    aside.mkdir()
    (aside / "a.txt").write_text("the previous build")
    (aside / "manifest.json").write_text(json.dumps({"base": "x", "files": [{"path": "a.txt"}]}))
    clean_leftovers(tmp_path / "dist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]
    assert (tmp_path / "dist" / "a.txt").read_text() == "the previous build"


def test_git_ignores_what_a_killed_build_leaves():
    for name in (".dist.tmp-4242/page/x.html", ".site.old-7", ".juno-kg.nq.tmp-99"):
        proc = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT)
        assert proc.returncode == 0, f"{name} is not ignored"


def test_export_to_a_missing_folder_is_an_error_and_leaves_no_temp(tmp_path):
    result = run_cli("export", "--format", "turtle", "-o", str(tmp_path / "nope" / "kg.ttl"))
    assert result.exit_code == 2, result.output
    assert "could not write" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- signals

def _start_build(out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "juno_kg", "--root", str(ROOT), *args,
                             "build", "--out", str(out)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _when_writing(proc: subprocess.Popen, out: Path, timeout: float = 240) -> Path:
    """Wait until ``proc`` is writing its files beside ``out``; the temporary folder."""
    tmp = out.parent / f".{out.name}.tmp-{proc.pid}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if (tmp / "dumps").is_dir():
            return tmp
        time.sleep(0.002)
    proc.kill()
    pytest.fail(f"the build never started writing: {proc.communicate()}")


@pytest.fixture
def previous(built, tmp_path) -> tuple[Path, dict]:
    """A previous build in ``tmp_path/dist`` (with the .DS_Store a file manager leaves)."""
    out = tmp_path / "dist"
    shutil.copytree(built, out)
    (out / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return out, _snapshot(out)


def test_ctrl_c_mid_build_exits_130_and_keeps_the_previous_build(previous):
    out, before = previous
    proc = _start_build(out)
    _when_writing(proc, out)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert "interrupted" in stderr and "left as it was" in stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["dist"], "no temp left"


def test_a_killed_build_keeps_the_previous_one_and_the_next_build_cleans_up(previous):
    out, before = previous
    proc = _start_build(out)
    tmp = _when_writing(proc, out)
    proc.kill()
    proc.wait(timeout=60)
    assert _snapshot(out) == before
    assert tmp.is_dir(), "a kill leaves the temporary folder (nothing can remove it then)"
    base = "https://example.org/kg/"
    again = run_module("--root", str(ROOT), "--base", base, "build", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["dist"], "the leftover is gone"
    assert json.loads((out / "manifest.json").read_text())["base"] == base, "replaced"
    assert not (out / ".DS_Store").exists()
