"""`juno-kg build`: what it writes, determinism, atomicity, rebasing and load errors."""

from __future__ import annotations

import os
from pathlib import Path

from rdflib import Dataset, Graph

from juno_kg import DEFAULT_BASE, formats

from .conftest import ROOT, run_cli, run_module


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_build_writes_every_registry_format_and_graph(built):
    for fmt in formats.FORMATS:
        assert (built / "dumps" / f"juno-kg.{fmt.extension}").stat().st_size > 0, fmt.name
    for name in ("ontology", "article", "inferred", "meta"):
        assert (built / "dumps" / "graphs" / f"{name}.ttl").stat().st_size > 0, name
    for name in ("context.jsonld", "void.ttl", "SHA256SUMS", "manifest.json",
                 "dumps/shapes.ttl", "dumps/juno-kg.framed.jsonld"):
        assert (built / name).is_file(), name


def test_build_prints_what_it_wrote(tmp_path):
    result = run_cli("--root", str(ROOT), "build", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "dumps/juno-kg.ttl" in result.output
    assert "conforms" in result.output
    assert "page/  (" in result.output, "the site's per-resource folders are summed up"


def test_build_verbose_lists_every_file(tmp_path):
    """``-v`` lists each file instead of summing folders up (a build that fails its check
    lists nothing, so this is shown on the listing of a real build's files)."""
    from juno_kg.write import BuildResult

    files = [("dumps/juno-kg.nq", 10), ("page/person/a.html", 3), ("page/person/b.html", 4)]
    result = BuildResult(report=None, out=tmp_path, files=files)  # type: ignore[arg-type]
    summed = "\n".join(result.listing(tmp_path))
    assert f"{tmp_path / 'page'}/  (2 files)" in summed and "b.html" not in summed
    every = result.listing(tmp_path, verbose=True)
    assert any(line.endswith("page/person/b.html") for line in every)
    assert not any("files)" in line for line in every)
    assert "--verbose" in run_cli("build", "--help").output


def test_two_builds_under_different_hash_seeds_are_byte_identical(tmp_path):
    """Also across the number of render processes: one build renders in this process, the
    other in two forked ones (``JUNO_KG_JOBS``)."""
    trees = []
    for seed, jobs in (("1", "1"), ("4242", "2")):
        out = tmp_path / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "JUNO_KG_JOBS": jobs}
        proc = run_module("--root", str(ROOT), "build", "--out", str(out), env=env)
        assert proc.returncode == 0, proc.stderr
        trees.append(_tree(out))
    assert trees[0].keys() == trees[1].keys()
    different = [name for name in trees[0] if trees[0][name] != trees[1][name]]
    assert different == []


def test_manifest_checksums_match_the_files(built):
    import hashlib

    for line in (built / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((built / name).read_bytes()).hexdigest() == digest, name


def _break(root: Path) -> None:
    """Add a misspelt property to a real resource: the closed shapes must refuse it."""
    target = sorted((root / "data" / "article").glob("*.ttl"))[0]
    g = Graph().parse(target)
    subject = sorted(s for s in g.subjects() if str(s).startswith(DEFAULT_BASE + "id/"))[0]
    with target.open("a", encoding="utf-8") as fh:
        fh.write(f'\n<{subject}> <{DEFAULT_BASE}ontology#relaseDate> "2008-01-08" .\n')


def test_a_failed_check_writes_nothing_and_keeps_the_previous_output(source_copy, tmp_path):
    out = tmp_path / "dist"
    out.mkdir()
    (out / "previous.txt").write_text("the last good build")
    (out / "manifest.json").write_text('{"base": "x", "files": [{"path": "previous.txt"}]}')
    previous = _tree(out)  # a previous build: the only thing a build may replace
    _break(source_copy)
    result = run_cli("--root", str(source_copy), "build", "--out", str(out))
    assert result.exit_code == 1
    assert "relaseDate" in result.output
    assert "nothing written" in result.output
    assert _tree(out) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist", "src"]  # no temp left


def test_malformed_turtle_is_exit_2_with_file_line_and_column(source_copy, tmp_path):
    bad = source_copy / "data" / "article" / "zz-broken.ttl"
    bad.write_text('@prefix jk: <https://w3id.org/juno-kg/ontology#> .\n\n'
                   '<https://w3id.org/juno-kg/id/album/x> jk:title "unclosed ;\n', "utf-8")
    result = run_cli("--root", str(source_copy), "build", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "zz-broken.ttl:3:" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_blank_nodes_in_data_are_refused(source_copy):
    bad = source_copy / "data" / "article" / "zz-bnode.ttl"
    bad.write_text('[] <http://www.w3.org/2000/01/rdf-schema#label> "anonymous" .\n', "utf-8")
    result = run_cli("--root", str(source_copy), "validate")
    assert result.exit_code == 2
    assert "zz-bnode.ttl" in result.output and "blank node" in result.output


def test_a_missing_source_folder_is_a_usage_error(tmp_path):
    result = run_cli("--root", str(tmp_path), "build", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "no ontology/ folder" in result.output


def test_rebasing_moves_every_iri_under_the_default_base_and_nothing_else(built, tmp_path):
    base = "https://example.org/kg/"
    result = run_cli("--root", str(ROOT), "--base", base, "build", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    moved = Dataset().parse(tmp_path / "o" / "dumps" / "juno-kg.nq", format="nquads")
    original = Dataset().parse(built / "dumps" / "juno-kg.nq", format="nquads")
    assert len(moved) == len(original)
    text = (tmp_path / "o" / "dumps" / "juno-kg.nq").read_text()
    assert DEFAULT_BASE not in text
    assert f"<{base}graph/article>" in text
    assert "<http://schema.org/MusicAlbum>" in text


def test_base_from_the_environment(tmp_path):
    base = "https://example.net/juno/"
    env = {**os.environ, "JUNO_KG_BASE": base}
    proc = run_module("export", "--format", "nt", "--graph", "article", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"<{base}id/" in proc.stdout and DEFAULT_BASE not in proc.stdout


def test_export_every_format_parses(tmp_path):
    """Every registry format, from one preparation of the sources; the CLI's export is the
    same function (one format through the CLI, byte for byte)."""
    from juno_kg.pipeline import export, prepare

    prepared = prepare()
    for fmt in formats.FORMATS:
        data = export(fmt.name, "article", prepared=prepared)
        parsed = (Dataset() if fmt.quads else Graph()).parse(data=data, format=fmt.rdflib)
        assert len(parsed) > 50, fmt.name
    result = run_cli("export", "--format", "trig", "--graph", "article")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == export("trig", "article", prepared=prepared)


def test_export_to_a_file_and_unknown_format(tmp_path):
    out = tmp_path / "a.ttl"
    assert run_cli("export", "--format", "turtle", "-o", str(out)).exit_code == 0
    assert len(Graph().parse(out)) > 100
    result = run_cli("export", "--format", "yaml")
    assert result.exit_code == 2 and "known formats" in result.output


def test_stats_counts_triples_per_graph(sources):
    import json

    result = run_cli("stats", "--json")
    assert result.exit_code == 0
    table = json.loads(result.output)
    assert table["article"]["triples"] == len(sources.graph("article"))
    assert table["inferred"]["triples"] > 0
    text = run_cli("stats").output
    assert "article" in text and "triples" in text
