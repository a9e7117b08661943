"""Benchmark the SPARQL endpoint of ``juno-kg serve`` (run on demand, not in the test suite).

Side by side in one run, on the same N-Quads dump and the same machine, each server on
loopback:

- ``juno-kg serve`` with its answer cache (as served), and with ``--cache-entries 0``
  ("uncached": every request is run by a query worker: a process hop, the time limit and
  the kill on time-out, the row and byte caps);
- the Oxigraph server (``oxigraph serve-read-only --union-default-graph`` on a store loaded
  from the same dump; the ``oxigraph`` package, the ``bench`` extra), queried at ``/query``;
- ``rdflib-endpoint`` (PyPI; the ``bench`` extra) over the same dump.

For each named query (its parameters bound to their defaults, the text the ``/sparql``
page links to) and each number of connections, every server gets the same
``GET …?query=`` from that many concurrent keep-alive connections for a fixed time, after a
warm-up; reported per run: requests per second, p50 and p99 latency, and answers that were
not 2xx or failed (a run with any is not a result: it is marked and the exit status is 1).
All servers' answers are checked to have the same rows first. Then the ratios of
requests/s measured in this run: juno-kg (uncached and cached) / Oxigraph and / rdflib-endpoint.
The target: uncached juno-kg at least half of Oxigraph's throughput (the exit status says
whether it was met, and whether every run was clean); the former target, ten times
rdflib-endpoint's, is reported beside it.

This measures throughput, not fairness: wrk opens every connection from one address, and
the endpoint gives one client address one running query by default (``--per-client``), so
``juno-kg serve`` is started with ``--per-client`` at least the largest number of
connections. At the end of each load run the load generator drops its connections with
queries in flight, and juno-kg kills the workers running them (as it does for any client
that goes away); the script waits a moment after each run for the replacements.

The load comes from ``wrk`` (Debian: ``apt-get install wrk``; a C load generator that
leaves the CPU to the servers); without it, from an httpx asyncio client (slower: on a small
machine it caps the figures it measures). The figures are those of one machine at one time:
the load average before and after is printed, and anything else running skews them.

Usage::

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/bench_serve.py [--dist dist] [--queries chart-run artist]
        [--connections 16 64] [--seconds 5] [--workers N]

Without ``--dist`` the sources are built into a temporary folder first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import httpx

from juno_kg import Settings, build
from juno_kg.site import named_queries

ROOT = Path(__file__).resolve().parents[1]
TARGET_OXIGRAPH = 0.5  #: uncached juno-kg / Oxigraph, requests per second
TARGET_RDFLIB = 10.0  #: uncached juno-kg / rdflib-endpoint: the former target, reported
JSON = "application/sparql-results+json"
CACHED, UNCACHED, OXIGRAPH, RDFLIB = ("juno-kg", "juno-kg uncached", "Oxigraph",
                                      "rdflib-endpoint")
BASELINE = """
import sys
import uvicorn
from rdflib import Dataset
from rdflib_endpoint import SparqlEndpoint

data = Dataset(default_union=True)
data.parse(sys.argv[1], format="nquads")
app = SparqlEndpoint(graph=data, path="/sparql", public_url=f"http://127.0.0.1:{sys.argv[2]}/")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(cmd: list[str], url: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    probe = f"{url}?query=ASK%7B%7D"
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {' '.join(cmd[:4])}\n{proc.stderr.read()}")
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    probe, headers={"Accept": JSON}), timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not come up: {url}")


def oxigraph_binary() -> str:
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.is_file() else shutil.which("oxigraph")
    if not found:
        raise SystemExit("the oxigraph server is missing: pip install -e '.[bench]'")
    return found


def rows(url: str, query: str) -> list[tuple]:
    response = httpx.get(url, params={"query": query}, headers={"Accept": JSON}, timeout=60)
    response.raise_for_status()
    doc = response.json()
    names = doc["head"]["vars"]
    return sorted(tuple((b.get(n) or {}).get("value", "") for n in names)
                  for b in doc["results"]["bindings"])


async def load(url: str, query: str, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        params = {"query": query}
        headers = {"Accept": JSON}

        async def one_client(deadline: float) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url, params=params, headers=headers)
                    ok = 200 <= response.status_code < 300
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        warm = time.perf_counter() + min(1.0, seconds / 5)
        await asyncio.gather(*[one_client(warm) for _ in range(concurrency)])
        await asyncio.sleep(1)
        latencies.clear()
        errors = 0
        started = time.perf_counter()
        await asyncio.gather(*[one_client(started + seconds) for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 \
            if latencies else float("nan")

    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": pct(0.50),
            "p99": pct(0.99), "errors": errors}


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def load_wrk(url: str, query: str, concurrency: int, seconds: float) -> dict:
    """The same measurement with wrk: keep-alive connections, latency percentiles."""
    target = f"{url}?{urlencode({'query': query})}"
    threads = str(min(2, concurrency))
    subprocess.run(["wrk", "-t", threads, "-c", str(concurrency), "-d", "1s", "-H",
                    f"Accept: {JSON}", target], capture_output=True, check=True)  # warm-up
    time.sleep(1)  # workers killed with the warm-up's dropped queries are replaced
    out = subprocess.run(["wrk", "-t", threads, "-c", str(concurrency), "-d",
                          f"{max(1, round(seconds))}s", "--latency", "-H", f"Accept: {JSON}",
                          target], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {m.group(1): _ms(m.group(2), m.group(3)) for m in re.finditer(
        r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (
        sum(int(x) for x in socket_errors.groups()) if socket_errors else 0)
    return {"requests": requests, "rps": rps, "p50": pct.get("50", float("nan")),
            "p99": pct.get("99", float("nan")), "errors": errors}


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def ratio(results: dict, ours: str, theirs: str) -> str:
    a, b = results[ours], results[theirs]
    if a["errors"] or b["errors"]:
        return "invalid"
    return f"{a['rps'] / max(b['rps'], 1e-9):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, help="a build folder (default: build one now)")
    parser.add_argument("--queries", nargs="+", default=["chart-run", "artist"],
                        metavar="NAME", help="named queries (juno_kg/queries/NAME.rq)")
    parser.add_argument("--connections", "--concurrency", nargs="+", type=int,
                        default=[16, 64], metavar="N", help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, help="juno-kg serve query workers "
                                                    "(default: its own default)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    dist = args.dist
    if dist is None:
        dist = Path(tmp.name) / "dist"
        result = build(dist, Settings.make(ROOT))
        if not result.ok:
            raise SystemExit(result.report.text())
    known = {q["name"]: q["text"] for q in named_queries()}
    missing = [n for n in args.queries if n not in known]
    if missing:
        raise SystemExit(f"unknown named queries {missing}; known: {', '.join(sorted(known))}")
    dump = dist / "dumps" / "juno-kg.nq"
    oxigraph = oxigraph_binary()
    store = Path(tmp.name) / "oxigraph"
    subprocess.run([oxigraph, "load", "--location", str(store), "--file", str(dump)],
                   check=True, capture_output=True)

    per_client = max(args.connections)
    ports = {name: free_port() for name in (CACHED, UNCACHED, OXIGRAPH, RDFLIB)}
    urls = {name: f"http://127.0.0.1:{port}/{'query' if name == OXIGRAPH else 'sparql'}"
            for name, port in ports.items()}
    wrk = shutil.which("wrk")
    procs = []
    failed = False
    try:
        workers = ["--workers", str(args.workers)] if args.workers else []
        for name, extra in ((CACHED, []), (UNCACHED, ["--cache-entries", "0"])):
            procs.append(start([sys.executable, "-m", "juno_kg", "serve", "--dist", str(dist),
                                "--port", str(ports[name]), "--per-client", str(per_client),
                                *workers, *extra], urls[name]))
        procs.append(start([oxigraph, "serve-read-only", "--location", str(store), "--bind",
                            f"127.0.0.1:{ports[OXIGRAPH]}", "--union-default-graph"],
                           urls[OXIGRAPH]))
        procs.append(start([sys.executable, "-c", BASELINE, str(dump), str(ports[RDFLIB])],
                           urls[RDFLIB]))
        print(f"# {os.cpu_count()} CPUs, load average {load_average()} before; load from "
              f"{'wrk' if wrk else 'httpx (no wrk)'}; {args.seconds:g} s per run after a 1 s "
              f"warm-up; GET ?query= (Oxigraph /query, the others /sparql), Accept: {JSON}")
        options = " ".join(["--per-client", str(per_client), *workers])
        print(f"# juno-kg serve {options} (uncached: --cache-entries 0): wrk connects from "
              f"one address, so this measures throughput, not fairness")
        print(f"{'query':<12} {'conns':>5} {'server':<17} {'rows':>5} {'requests':>9} "
              f"{'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx/errors':>14}")
        table = []
        for name in args.queries:
            text = known[name]
            answers = {server: rows(url, text) for server, url in urls.items()}
            for server, got in answers.items():
                if got != answers[UNCACHED]:
                    print(f"warning: {name}: {server} returned {len(got)} rows, juno-kg "
                          f"{len(answers[UNCACHED])} (or other values)", file=sys.stderr)
            for connections in args.connections:
                results = {}
                for server, url in urls.items():
                    r = (load_wrk(url, text, connections, args.seconds) if wrk else
                         asyncio.run(load(url, text, connections, args.seconds)))
                    results[server] = r
                    failed |= bool(r["errors"])
                    print(f"{name:<12} {connections:>5} {server:<17} {len(answers[server]):>5} "
                          f"{r['requests']:>9} {r['rps']:>9.1f} {r['p50']:>8.2f} "
                          f"{r['p99']:>8.2f} {r['errors']:>14}"
                          f"{'  NOT A RESULT' if r['errors'] else ''}", flush=True)
                table.append((name, connections, results))
        print(f"# load average {load_average()} after")
        print()
        print("requests/s ratios, this run (uncached: every request run by a query worker)")
        print(f"{'query':<12} {'conns':>5} {'uncached/Oxigraph':>18} {'cached/Oxigraph':>16} "
              f"{'uncached/rdflib':>16} {'cached/rdflib':>14}")
        shortfalls: dict[str, list[str]] = {OXIGRAPH: [], RDFLIB: []}
        for name, connections, results in table:
            cells = [ratio(results, UNCACHED, OXIGRAPH), ratio(results, CACHED, OXIGRAPH),
                     ratio(results, UNCACHED, RDFLIB), ratio(results, CACHED, RDFLIB)]
            print(f"{name:<12} {connections:>5} {cells[0]:>18} {cells[1]:>16} {cells[2]:>16} "
                  f"{cells[3]:>14}")
            for cell, target, what in ((cells[0], TARGET_OXIGRAPH, OXIGRAPH),
                                       (cells[2], TARGET_RDFLIB, RDFLIB)):
                if cell == "invalid" or float(cell) < target:
                    shortfalls[what].append(f"{name} at {connections} ({cell})")
        for what, target, kind in ((OXIGRAPH, TARGET_OXIGRAPH, "target"),
                                   (RDFLIB, TARGET_RDFLIB, "former target")):
            missed = shortfalls[what]
            print(f"{kind}: uncached juno-kg >= {target:g} x {what}: "
                  + ("met everywhere" if not missed else "NOT met: " + ", ".join(missed)))
        if failed:
            print("some runs had non-2xx answers or socket errors: they are not results")
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        tmp.cleanup()
    sys.exit(1 if failed or shortfalls[OXIGRAPH] else 0)


if __name__ == "__main__":
    main()
