"""Bad input as users make it: literals that are not of their datatype.

A date that does not exist (``"2008-02-30"^^xsd:date``) is a Violation told in words, at the
file, line and column of the literal, with no traceback on stderr, by ``validate``, ``build``
and ``export`` alike; ``build`` and ``export`` write nothing. (``--out`` at the wrong place,
Ctrl-C and SIGKILL: tests/test_out.py; a missing PREFIX: tests/test_query_errors.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import XSD, Literal

from juno_kg.sources import literal_problem

from .conftest import run_module

ALBUMS = Path("data") / "article" / "albums.ttl"


def _break(root: Path, old: str, new: str) -> tuple[int, int]:
    """Replace the first ``old`` in albums.ttl by ``new``; the (line, column) of ``new``."""
    path = root / ALBUMS
    text = path.read_text("utf-8")
    assert old in text
    at = text.index(old)
    path.write_text(text.replace(old, new, 1), "utf-8")
    before = text[:at]
    return before.count("\n") + 1, at - before.rfind("\n")


@pytest.fixture
def impossible_date(source_copy) -> tuple[Path, int, int]:
    line, column = _break(source_copy, '"2008-01-08"^^xsd:date', '"2008-02-30"^^xsd:date')
    return source_copy, line, column


def _assert_told(output: str, line: int, column: int) -> None:
    assert "Traceback" not in output and "Failed to convert" not in output, output
    assert f"{ALBUMS}:{line}:{column}" in output, "the place is the literal's own"
    assert "'2008-02-30' is not a valid xsd:date: that date does not exist" in output
    assert "February 2008 has 29 days" in output
    assert '"2008-02-30"^^xsd:date' in output


def test_validate_tells_an_impossible_date_in_words_at_its_place(impossible_date):
    root, line, column = impossible_date
    proc = run_module("--root", str(root), "validate")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_told(proc.stdout + proc.stderr, line, column)


def test_build_refuses_an_impossible_date_and_writes_nothing(impossible_date, tmp_path):
    root, line, column = impossible_date
    folder = tmp_path / "out"
    folder.mkdir()
    proc = run_module("--root", str(root), "build", "--out", str(folder / "dist"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_told(proc.stdout + proc.stderr, line, column)
    assert list(folder.iterdir()) == [], "no dist/, no temporary folder"


@pytest.mark.parametrize("fmt", ["turtle", "nquads"])
def test_export_checks_as_build_does_and_writes_nothing(impossible_date, tmp_path, fmt):
    root, line, column = impossible_date
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "export.out"
    to_file = run_module("--root", str(root), "export", "--format", fmt, "-o", str(out))
    assert to_file.returncode == 1, to_file.stdout + to_file.stderr
    _assert_told(to_file.stderr, line, column)
    assert "nothing written" in to_file.stderr
    assert list(folder.iterdir()) == [], "no file, no temporary file"
    to_stdout = run_module("--root", str(root), "export", "--format", fmt)
    assert to_stdout.returncode == 1
    assert to_stdout.stdout == "", "not one triple reaches standard output"


def test_an_ill_typed_literal_with_no_datatype_shape_is_a_violation_too(source_copy):
    """No shape gives rdfs:comment a datatype: the literal is still refused, in words (and
    the closed album shape refuses the property, too)."""
    line, column = _break(source_copy, 'jk:title "Juno B-Sides: Almost Adopted Songs" ;',
                          'jk:title "Juno B-Sides: Almost Adopted Songs" ; '
                          'rdfs:comment "2008-13-01"^^xsd:date ;')
    proc = run_module("--root", str(source_copy), "validate")
    assert proc.returncode == 1, proc.stdout
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert "check:   ill-typed literal" in out
    assert "'2008-13-01' is not a valid xsd:date: there is no month 13" in out
    before = len('jk:title "Juno B-Sides: Almost Adopted Songs" ; rdfs:comment ')
    assert f"{ALBUMS}:{line}:{column + before}" in out, "the literal's own column"


@pytest.mark.parametrize(("text", "datatype", "reason"), [
    ("2008-02-29", XSD.date, None),
    ("2007-02-29", XSD.date, "February 2007 has 28 days"),
    ("2008-04-31", XSD.date, "April 2008 has 30 days"),
    ("2008-00-10", XSD.date, "there is no month 0"),
    ("2008-1-8", XSD.date, "is not written as an xsd:date"),
    ("2008-01-08Z", XSD.date, None),
    ("2008-01-08+01:00", XSD.date, None),
    ("2008", XSD.gYear, None),
    ("20O8", XSD.gYear, "is not written as an xsd:gYear"),
    ("0000", XSD.gYear, "there is no year 0"),
    ("2008-11", XSD.gYearMonth, None),
    ("2008-13", XSD.gYearMonth, "there is no month 13"),
    ("2011-02-19T10:00:00", XSD.dateTime, None),
    ("2011-02-19T25:00:00", XSD.dateTime, "there is no time 25:00:00"),
    ("19", XSD.integer, None),
    ("1.5", XSD.integer, "is not a valid xsd:integer"),
    ("nineteen", XSD.integer, "is not a valid xsd:integer"),
])
def test_literal_problem(text, datatype, reason):
    problem = literal_problem(Literal(text, datatype=datatype))
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and reason in problem, problem


# ---------------------------------------------------------------------------- the build's
# own inputs, hostile or mistaken (issue 10, item 7): each is a load error (exit 2) told at
# its file, line and column, with nothing written and nothing of this machine published


def _append(root: Path, text: str) -> int:
    """Append ``text`` to albums.ttl; the line it starts on."""
    path = root / ALBUMS
    before = path.read_text("utf-8")
    path.write_text(before + "\n" + text + "\n", "utf-8")
    return before.count("\n") + 2


def test_a_relative_iri_is_refused_at_its_place_and_no_local_path_is_published(
        source_copy, tmp_path):
    line = _append(source_copy, "<notes/draft> rdfs:label \"draft\" .")
    out = tmp_path / "dist"
    proc = run_module("--root", str(source_copy), "build", "--out", str(out))
    told = proc.stdout + proc.stderr
    assert proc.returncode == 2, told
    assert f"{ALBUMS}:{line}:1: relative IRI <notes/draft>" in told
    assert "Traceback" not in told and "file://" not in told
    assert not out.exists()


def test_an_iri_no_store_can_load_is_a_load_error_not_a_crash(source_copy, tmp_path):
    line = _append(source_copy, "<http://example.org/a b> rdfs:label \"spaced\" .")
    proc = run_module("--root", str(source_copy), "build", "--out", str(tmp_path / "dist"))
    told = proc.stdout + proc.stderr
    assert proc.returncode == 2, told
    assert f"{ALBUMS}:{line}:1: not a valid IRI <http://example.org/a b>" in told
    assert "Traceback" not in told and "does not look like a valid URI" not in told


def test_a_fifo_among_the_sources_is_refused_without_waiting(source_copy):
    import os

    os.mkfifo(source_copy / "data" / "article" / "zz-pipe.ttl")
    proc = run_module("--root", str(source_copy), "validate")  # run_module has a time limit
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "zz-pipe.ttl: not a regular file" in proc.stderr


def test_a_huge_literal_is_not_printed_whole_in_the_report(source_copy):
    huge = "x" * 2_000_000
    _append(source_copy, f'album:juno jk:releaseDate "{huge}" .')
    proc = run_module("--root", str(source_copy), "validate")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert len(proc.stdout) < 10_000 and "(2,000,002 characters in all)" in proc.stdout
    turtle = run_module("--root", str(source_copy), "validate", "--format", "turtle")
    assert huge in turtle.stdout, "the report graph keeps the value whole"


def test_two_builds_into_one_folder_do_not_interleave(tmp_path):
    from juno_kg.atomic import locked

    out = tmp_path / "dist"
    with locked(out.resolve()):  # another build holds the folder
        proc = run_module("build", "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "another juno-kg process is writing this folder" in proc.stderr
    assert not out.exists()
    assert run_module("build", "--out", str(out)).returncode == 0, "free again once released"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"], "no lock file left"


def test_replacing_a_build_is_one_step_where_the_system_allows(tmp_path):
    """Linux swaps the new build and the old in one rename (no moment without either)."""
    import sys

    from juno_kg.atomic import exchange

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "which").write_text("a")
    (b / "which").write_text("b")
    swapped = exchange(a, b)
    if sys.platform.startswith("linux"):
        assert swapped, "renameat2(RENAME_EXCHANGE) is available on Linux"
    if swapped:
        assert (a / "which").read_text() == "b" and (b / "which").read_text() == "a"
