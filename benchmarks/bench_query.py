"""Benchmark the query helper (run on demand, not part of the test suite).

Measured in one run, on the same data:

1. each named query's median latency through ``juno_kg.query`` on the in-process pyoxigraph
   engine against rdflib's engine (target: pyoxigraph at least 20x faster);
2. a cold ``juno-kg query`` command (a new process: start, load the N-Quads, answer) against
   a bare ``python -c pass`` (target: under 8x).

Usage::

    .venv/bin/python benchmarks/bench_query.py [--data dist] [--runs 21] [--cold-runs 15]

Without ``--data`` the sources are built into a temporary folder first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import median_seconds  # benchmarks/timing.py

from juno_kg import build, query
from juno_kg.catalogue import named_queries

PARAMS = {"sources-of": {"resource": "release:juno-original"}}
TARGET_ENGINE, TARGET_COLD = 20.0, 5.0  # issue 3: engines; issue 11: a cold query


def engines(data: Path, runs: int) -> list[float]:
    print(f"{'named query':<16}{'pyoxigraph ms':>15}{'rdflib ms':>12}{'ratio':>9}")
    ratios = []
    from juno_kg.links import federated_queries  # need the internet: not benchmarked

    for name in named_queries():
        if name in federated_queries():
            continue
        params = PARAMS.get(name, {})
        for engine in ("oxigraph", "rdflib"):  # load each store once, outside the timing
            query(name, params, data=data, engine=engine)
        ox = median_seconds(lambda n=name, p=params: query(n, p, data=data), runs)
        rd = median_seconds(lambda n=name, p=params: query(n, p, data=data, engine="rdflib"),
                            max(5, runs // 3))
        ratios.append(rd / ox)
        print(f"{name:<16}{ox * 1000:>15.2f}{rd * 1000:>12.2f}{rd / ox:>8.1f}x")
    return ratios


def cold(data: Path, runs: int) -> tuple[float, float]:
    command = [sys.executable, "-m", "juno_kg", "query", "chart-run", "--data", str(data),
               "--format", "csv"]
    bare = [sys.executable, "-c", "pass"]
    # as installed: bytecode written on first run and used after (both commands alike)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _ in range(2):
        check = subprocess.run(command, capture_output=True, text=True, env=env)
        if check.returncode != 0:
            raise SystemExit(f"the query command failed: {check.stderr}")
        subprocess.run(bare, check=True, env=env)
    times: dict[str, list[float]] = {"query": [], "bare": []}
    for _ in range(runs):  # interleaved, so both see the same machine load
        for key, cmd in (("bare", bare), ("query", command)):
            started = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=env)
            times[key].append(time.perf_counter() - started)
    return statistics.median(times["query"]), statistics.median(times["bare"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a build folder (default: build now)")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--cold-runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "dist"
            result = build(data)
            if not result.ok:
                raise SystemExit(result.report.text())
        ratios = engines(data, args.runs)
        slowest = min(ratios)
        verdict = "met" if slowest >= TARGET_ENGINE else "NOT met"
        print(f"\nin-process: pyoxigraph is {statistics.median(ratios):.1f}x faster than "
              f"rdflib (median over queries), {slowest:.1f}x at worst "
              f"(target >= {TARGET_ENGINE:.0f}x: {verdict})")
        q, bare = cold(data, args.cold_runs)
        ratio = q / bare
        print(f"cold `juno-kg query chart-run`: {q * 1000:.0f} ms median; `python -c pass`: "
              f"{bare * 1000:.0f} ms; ratio {ratio:.1f}x "
              f"(target < {TARGET_COLD:.0f}x: {'met' if ratio < TARGET_COLD else 'NOT met'})")


if __name__ == "__main__":
    main()
