"""Benchmark ``juno-kg validate`` and ``build`` as the data grows (run on demand, not in CI).

On the shipped sources and on synthetic copies of them (the data replicated N times, every
IRI under ``{base}id/`` renamed with a copy suffix so that copies do not merge; the
ontology, the shapes and the IRIs they name, such as the concept schemes, are kept), side
by side in one run with Apache Jena's SHACL engine on the same shapes and data:

* ``validate``: ``python -m juno_kg --root R validate`` in a fresh process (what a user
  waits for: start-up, load, shapes, violation queries, report);
* ``build``: ``juno_kg.build(out, Settings.make(R))``, the library call, in a fresh process;
* ``jena``: ``shacl validate --shapes S --data D`` (Jena's SHACL command, JVM start-up
  included) on the shapes graph and the union that juno-kg validates (ontology, article,
  supplement and links), written as Turtle and N-Triples. Jena runs the shapes only, not
  the ``shapes/*-violation.rq`` queries.

Printed per size: triples, median wall time and peak memory (the child's own maximum
resident set, from ``os.wait4``) of each, the findings each reports, and the growth
exponent (log time ratio / log size ratio) from the smallest size to each larger one.

Jena comes from Debian: ``apt-get install -y libapache-jena-java``. The package has no
``shacl`` script and its jars lack the xerces message ``.properties`` files (start-up
fails with ``RuntimeException: internal error`` in ``XSSimpleTypeDecl``): this script
copies them out of ``jena-core.jar`` (where they sit under ``org/apache/jena/ext/xerces``)
to where the relocated ``xerces`` classes look, and runs the class ``shacl.shacl``.

Usage::

    .venv/bin/python benchmarks/bench_build.py                  # sizes 1,4,16,64
    .venv/bin/python benchmarks/bench_build.py --sizes 1,4 --runs 1 --build-sizes 1  # quick
    .venv/bin/python benchmarks/bench_build.py --no-jena --no-build
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, URIRef

ROOT = Path(__file__).resolve().parents[1]
JAVA_LIBS = Path("/usr/share/java")
# Jena 4's jars and the Debian jars they need, by file name (libapache-jena-java's Depends)
JENA_DEPENDENCIES = (
    "commons-cli", "commons-codec", "commons-compress", "commons-csv", "commons-io",
    "commons-lang3", "dexx.collection", "gson", "guava", "httpclient", "httpcore",
    "jackson-annotations", "jackson-core", "jackson-databind", "jakarta.json-api",
    "jsonld-java", "protobuf", "slf4j-api", "slf4j-nop", "thrift", "titanium-json-ld",
)


@dataclass
class Run:
    seconds: float
    peak_mb: float
    findings: str = ""


@dataclass
class Size:
    copies: int
    root: Path
    triples: int = 0
    runs: dict[str, Run] = field(default_factory=dict)


# --------------------------------------------------------------------------- inputs

def make_copies(copies: int, into: Path) -> Path:
    """A source root whose data is the shipped data ``copies`` times under renamed IRIs.

    Each data file becomes ``copies`` files of its own size (``albums-c1.ttl`` …, as
    N-Triples), as a larger catalogue would be laid out: more files, not longer ones.
    """
    from juno_kg.config import DATA_GRAPHS, DEFAULT_BASE
    from juno_kg.links import links_graph
    from juno_kg.sources import parse_file

    root = into / f"x{copies}"
    if root.exists():
        return root
    for name in ("ontology", "shapes"):
        shutil.copytree(ROOT / name, root / name)
    ids = DEFAULT_BASE + "id/"
    kept: set[str] = set()  # IRIs the ontology or the shapes name (concept schemes …)
    for path in [*(ROOT / "ontology").glob("*.ttl"), *(ROOT / "shapes").glob("*.ttl")]:
        kept |= {str(t) for triple in parse_file(path) for t in triple if isinstance(t, URIRef)}

    def renamed(term, suffix: str):
        text = str(term)
        if isinstance(term, URIRef) and text.startswith(ids) and text not in kept:
            return URIRef(text + suffix)
        return term

    for name in DATA_GRAPHS:
        folder = root / "data" / name
        folder.mkdir(parents=True)
        files = [(p, parse_file(p)) for p in sorted((ROOT / "data" / name).glob("*.ttl"))]
        files += [(p, links_graph(p))
                  for p in sorted((ROOT / "data" / name).glob("*.sssom.tsv"))]
        for path, graph in files:
            stem = path.name.split(".")[0]
            for i in range(1, copies + 1):
                suffix = "" if i == 1 else f"-c{i}"  # the slug pattern [a-z0-9-] holds
                copy = Graph()
                for s, p, o in graph:
                    copy.add((renamed(s, suffix), p, renamed(o, suffix)))
                (folder / f"{stem}-c{i}.ttl").write_text(copy.serialize(format="nt"), "utf-8")
    return root


def jena_inputs(root: Path, folder: Path) -> tuple[Path, Path, int]:
    """The shapes (Turtle) and the validated union (N-Triples) of ``root``, for Jena,
    written into ``folder`` (never into the checkout)."""
    from juno_kg import Settings, load
    from juno_kg.check import data_union

    sources = load(Settings.make(root))
    data = data_union(sources)
    folder.mkdir(parents=True, exist_ok=True)
    shapes_file, data_file = folder / "jena-shapes.ttl", folder / "jena-data.nt"
    sources.shapes.serialize(shapes_file, format="turtle")
    data.serialize(data_file, format="nt", encoding="utf-8")
    return shapes_file, data_file, len(data)


def jena_classpath(cache: Path) -> str | None:
    """Jena's jars, their dependencies and the xerces messages copied out of jena-core."""
    core = JAVA_LIBS / "jena-core.jar"
    if not core.exists() or shutil.which("java") is None:
        return None
    messages = cache / "jena-xerces-messages"
    if not messages.exists():
        with zipfile.ZipFile(core) as jar:
            for name in jar.namelist():
                if name.startswith("org/apache/jena/ext/xerces/") and name.endswith(".properties"):
                    target = messages / name.replace("org/apache/jena/ext/xerces/", "xerces/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(jar.read(name))
    jars = sorted(JAVA_LIBS.glob("jena-*.jar"))
    jars += [JAVA_LIBS / f"{name}.jar" for name in JENA_DEPENDENCIES
             if (JAVA_LIBS / f"{name}.jar").exists()]
    return os.pathsep.join([*map(str, jars), str(messages)])


# --------------------------------------------------------------------------- runs

def timed(command: list[str], cwd: Path) -> tuple[float, float, str, int]:
    """Wall time, peak RSS (MB) of this child alone, its output and its exit code."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read() if proc.stdout else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, output.decode("utf-8", "replace"), proc.returncode


def median_run(command: list[str], runs: int, cwd: Path, findings) -> Run:
    """The median time and the highest peak memory of ``runs`` fresh processes."""
    results = [timed(command, cwd) for _ in range(runs)]
    _, _, output, code = results[-1]
    return Run(statistics.median(r[0] for r in results), max(r[1] for r in results),
               findings(output, code))


def ours(output: str, code: int) -> str:
    first = output.strip().splitlines()[0] if output.strip() else f"exit {code}"
    counts = re.findall(r"(\d+) (violation|warning|info)", first)
    return "/".join(n for n, _ in counts) + f" (exit {code})" if counts else first[:60]


def jena(output: str, code: int) -> str:
    severities = re.findall(r"sh:resultSeverity\s+sh:(Violation|Warning|Info)", output)
    if code != 0 and not severities and "conforms" not in output:
        return f"failed (exit {code}): {output.strip().splitlines()[-1][:60] if output else ''}"
    return "/".join(str(severities.count(s)) for s in ("Violation", "Warning", "Info"))


def built(output: str, code: int) -> str:
    return output.strip().splitlines()[-1][:60] if output.strip() else f"exit {code}"


BUILD = """
import sys, tempfile
from pathlib import Path
from juno_kg import Settings, build
with tempfile.TemporaryDirectory() as tmp:
    result = build(Path(tmp) / "dist", Settings.make(Path(sys.argv[1])))
    print(f"{result.report.summary()}; {len(result.files)} files")
"""


def exponent(small: Size, large: Size, key: str) -> str:
    a, b = small.runs.get(key), large.runs.get(key)
    if a is None or b is None or large.triples == small.triples:
        return "-"
    return f"{math.log(b.seconds / a.seconds) / math.log(large.triples / small.triples):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4,16,64",
                        help="copy factors of the data (1 is the shipped data as it is)")
    parser.add_argument("--build-sizes", default=None,
                        help="copy factors to build (default: every size)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs per validate measurement (median)")
    parser.add_argument("--build-runs", type=int, default=1, help="runs per build measurement")
    parser.add_argument("--no-jena", action="store_true", help="skip Apache Jena")
    parser.add_argument("--no-build", action="store_true", help="skip juno_kg.build")
    parser.add_argument("--keep", type=Path, help="keep the synthetic roots in this folder")
    args = parser.parse_args()
    factors = [int(s) for s in args.sizes.split(",")]
    builds = set(factors if args.build_sizes is None
                 else [int(s) for s in args.build_sizes.split(",")])
    work = args.keep or Path(tempfile.mkdtemp(prefix="juno-kg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    classpath = None if args.no_jena else jena_classpath(work)
    if not args.no_jena and classpath is None:
        print("Jena not found (apt-get install -y libapache-jena-java); running without it")
    python = sys.executable
    sizes: list[Size] = []
    shipped = Size(0, ROOT)
    for size in [shipped, *(Size(k, Path()) for k in factors)]:
        if size.copies:
            size.root = make_copies(size.copies, work)
        label = "shipped" if not size.copies else f"{size.copies}x"
        shapes_file, data_file, size.triples = jena_inputs(size.root, work / f"jena-{label}")
        print(f"{label}: {size.triples} triples", flush=True)
        size.runs["validate"] = median_run(
            [python, "-m", "juno_kg", "--root", str(size.root), "validate"], args.runs, ROOT, ours)
        if classpath:
            size.runs["jena"] = median_run(
                ["java", "-cp", classpath, "shacl.shacl", "validate", "--shapes", str(shapes_file),
                 "--data", str(data_file)], args.runs, ROOT, jena)
        if not args.no_build and (size.copies in builds or not size.copies):
            size.runs["build"] = median_run([python, "-c", BUILD, str(size.root)],
                                            args.build_runs, ROOT, built)
        for key, run in size.runs.items():
            print(f"  {key:9} {run.seconds:8.2f} s {run.peak_mb:8.0f} MB  {run.findings}",
                  flush=True)
        sizes.append(size)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)

    keys = [k for k in ("validate", "jena", "build") if any(k in s.runs for s in sizes)]
    print()
    header = f"{'size':>8} {'triples':>9}" + "".join(
        f" {k + ' s':>11} {k + ' MB':>11}" for k in keys)
    if "jena" in keys:
        header += f" {'validate/jena':>14}"
    print(header)
    for size in sizes:
        label = "shipped" if not size.copies else f"{size.copies}x"
        line = f"{label:>8} {size.triples:>9}"
        for key in keys:
            run = size.runs.get(key)
            line += (f" {run.seconds:>11.2f} {run.peak_mb:>11.0f}" if run
                     else f" {'-':>11} {'-':>11}")
        if "jena" in keys and "jena" in size.runs:
            line += f" {size.runs['validate'].seconds / size.runs['jena'].seconds:>14.2f}"
        print(line)
    print("\nfindings (violations/warnings/infos):")
    for size in sizes:
        label = "shipped" if not size.copies else f"{size.copies}x"
        print(f"  {label:>8}: " + "; ".join(f"{k} {r.findings}" for k, r in size.runs.items()))
    series = [s for s in sizes if s.copies]
    if len(series) > 1:
        print(f"\ngrowth exponent from {series[0].copies}x (1.0 = linear):")
        for size in series[1:]:
            print(f"  to {size.copies:>3}x: " + ", ".join(
                f"{k} {exponent(series[0], size, k)}" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
