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
