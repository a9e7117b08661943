"""Benchmark the SPARQL endpoint of ``juno-kg serve`` (run on demand, not in the test suite).

Side by side in one run, on the same N-Quads dump and the same machine: ``juno-kg serve``
and ``rdflib-endpoint`` (PyPI; the ``bench`` extra), each a uvicorn process on loopback.
For two named queries, a fixed number of concurrent keep-alive connections send
``GET /sparql?query=…`` for a fixed time; reported per server and query: requests per second,
p50 and p99 latency, errors. Both servers' answers are checked to have the same rows first.
juno-kg runs twice: as served (its answer cache on) and with ``--cache-entries 0`` (every
request evaluated by a query worker). Target: juno-kg at least 10x rdflib-endpoint's
throughput.

The load comes from ``wrk`` (Debian: ``apt-get install wrk``; a C load generator that
leaves the CPU to the servers); without it, from an httpx asyncio client (slower: on a small
machine it caps the figures it measures).

Usage::

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/bench_serve.py [--dist dist] [--queries chart-run artist]
        [--concurrency 16] [--seconds 5]

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
TARGET = 10.0
JSON = "application/sparql-results+json"
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
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        warm = time.perf_counter() + min(1.0, seconds / 5)
        await asyncio.gather(*[one_client(warm) for _ in range(concurrency)])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, help="a build folder (default: build one now)")
    parser.add_argument("--queries", nargs=2, default=["chart-run", "artist"],
                        metavar="NAME", help="two named queries (juno_kg/queries/NAME.rq)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="juno-kg serve query workers")
    args = parser.parse_args()

    tmp = None
    dist = args.dist
    if dist is None:
        tmp = tempfile.TemporaryDirectory()
        dist = Path(tmp.name) / "dist"
        result = build(dist, Settings.make(ROOT))
        if not result.ok:
            raise SystemExit(result.report.text())
    known = {q["name"]: q["text"] for q in named_queries()}
    missing = [n for n in args.queries if n not in known]
    if missing:
        raise SystemExit(f"unknown named queries {missing}; known: {', '.join(sorted(known))}")

    ours_port, nocache_port, base_port = free_port(), free_port(), free_port()
    ours_url = f"http://127.0.0.1:{ours_port}/sparql"
    nocache_url = f"http://127.0.0.1:{nocache_port}/sparql"
    base_url = f"http://127.0.0.1:{base_port}/sparql"
    servers = (("juno-kg serve", ours_url), ("juno-kg, no cache", nocache_url),
               ("rdflib-endpoint", base_url))
    wrk = shutil.which("wrk")
    procs = []
    try:
        for port, url, extra in ((ours_port, ours_url, []),
                                 (nocache_port, nocache_url, ["--cache-entries", "0"])):
            procs.append(start([sys.executable, "-m", "juno_kg", "serve", "--dist", str(dist),
                                "--port", str(port), "--workers", str(args.workers), *extra],
                               url))
        procs.append(start([sys.executable, "-c", BASELINE,
                            str(dist / "dumps" / "juno-kg.nq"), str(base_port)], base_url))
        print(f"# {os.cpu_count()} CPUs; load from {'wrk' if wrk else 'httpx (no wrk)'}; "
              f"{args.concurrency} concurrent connections, {args.seconds:g} s per server and "
              f"query; GET /sparql, Accept: {JSON}")
        print(f"{'query':<12} {'server':<18} {'rows':>5} {'requests':>9} {'req/s':>9} "
              f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        ratios = []
        for name in args.queries:
            text = known[name]
            ours_rows, base_rows = rows(ours_url, text), rows(base_url, text)
            if ours_rows != base_rows:
                print(f"warning: {name}: juno-kg returned {len(ours_rows)} rows, "
                      f"rdflib-endpoint {len(base_rows)}", file=sys.stderr)
            results = {}
            for server, url in servers:
                r = (load_wrk(url, text, args.concurrency, args.seconds) if wrk else
                     asyncio.run(load(url, text, args.concurrency, args.seconds)))
                results[server] = r
                n = len(base_rows if server == "rdflib-endpoint" else ours_rows)
                print(f"{name:<12} {server:<18} {n:>5} {r['requests']:>9} {r['rps']:>9.1f} "
                      f"{r['p50']:>8.2f} {r['p99']:>8.2f} {r['errors']:>7}")
            base = max(results["rdflib-endpoint"]["rps"], 1e-9)
            ratio = results["juno-kg serve"]["rps"] / base
            uncached = results["juno-kg, no cache"]["rps"] / base
            ratios.append(ratio)
            print(f"{name:<12} {'ratio':<18} throughput x{ratio:.1f} as served, "
                  f"x{uncached:.1f} without the cache "
                  f"(target >= x{TARGET:g}: {'met' if ratio >= TARGET else 'NOT met'})")
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            tmp.cleanup()
    sys.exit(0 if all(r >= TARGET for r in ratios) else 1)


if __name__ == "__main__":
    main()
