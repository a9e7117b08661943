"""Load test of ``juno-kg serve`` (run on demand, not in the test suite or CI).

Starts ``juno-kg serve`` (a subprocess, uvicorn on its default loop) on a free loopback port
and runs ``--clients`` concurrent keep-alive clients (default 64) for ``--seconds`` (default
60) over a mix of requests, taken round-robin from a shuffled list:

- the named queries the ``/sparql`` page runs (``juno_kg/queries/*.rq``, defaults bound;
  not ``wikidata-*``, which federate with Wikidata through ``SERVICE``);
- HTML pages (the index, the ontology, resource pages, the ``/sparql`` query page), data
  files (Turtle, JSON-LD, N-Triples, the N-Quads dump) and ``/id/…`` (303, followed);
- large answers: every quad in SPARQL Results JSON, XML, CSV and TSV, CONSTRUCT of the whole
  dataset, and a cross product cut at the row cap — half of them with a text of their own
  (a comment), so that the answer cache cannot serve them and a query worker must.

Every answer is checked against a reference fetched before the load (status, and length and
CRC-32 of the body: the build is fixed, so each answer is byte-identical every time).
Reported: requests, requests/s, errors (no answer or a wrong one; goal 0), non-2xx answers
by status, p50/p99 latency overall and by kind, and the resident memory of the server and
its query workers (from /proc) before, at its peak during, and after the load. The load
generator is Python (httpx, asyncio) on the same machine: it takes CPU from the server.

Usage::

    .venv/bin/python benchmarks/bench_serve_load.py [--dist dist] [--clients 64]
        [--seconds 60] [--workers 2]

Without ``--dist`` the sources are built into a temporary folder first. Exit status 0 when
there were no errors and no non-2xx answers, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx

from juno_kg import Settings, build
from juno_kg.site import named_queries

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only
MAX_SECONDS = 3600
MAX_CLIENTS = 512
ALL_QUADS = "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"
CROSS = "SELECT * WHERE { ?s ?p ?o . ?a ?b ?c }"
WHOLE = "CONSTRUCT WHERE { ?s ?p ?o }"


@dataclass(frozen=True)
class Job:
    """One request of the mix: what kind it is, and how to send it."""

    kind: str  #: named-query, page, data, large
    label: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    accept: str = "*/*"
    fresh: bool = False  #: a comment of its own per request: never answered from the cache

    def request(self, n: int) -> tuple[str, dict[str, str], dict[str, str]]:
        params = dict(self.params)
        if self.fresh:
            params["query"] += f"\n# request {n}"
        return self.path, params, {"Accept": self.accept}


def mix(dist: Path, base: str) -> list[Job]:
    """The requests of the load, a fixed list (shuffled by the caller)."""
    jobs = []
    for q in named_queries(base):
        if q["name"].startswith("wikidata-") or not q["runnable"]:
            continue
        jobs.append(Job("named-query", q["name"], "/sparql", (("query", q["text"]),),
                        "application/sparql-results+json, text/turtle;q=0.9"))
    pages = sorted((dist / "page").rglob("*.html"))
    for page in pages[:: max(1, len(pages) // 12)][:12]:
        rel = page.relative_to(dist).as_posix()
        jobs.append(Job("page", rel, f"/{rel}", accept="text/html"))
    jobs += [Job("page", "index", "/", accept="text/html"),
             Job("page", "ontology", "/ontology.html", accept="text/html"),
             Job("page", "sparql", "/sparql", accept="text/html")]
    data = sorted((dist / "data").rglob("*.*"))
    for path in data[:: max(1, len(data) // 12)][:12]:
        rel = path.relative_to(dist).as_posix()
        jobs.append(Job("data", rel, f"/{rel}"))
    jobs += [Job("data", "dump.nq", "/dumps/juno-kg.nq"),
             Job("data", "id-303-turtle", "/id/person/kimya-dawson", accept="text/turtle")]
    large = [("all-quads.json", ALL_QUADS, "application/sparql-results+json"),
             ("all-quads.xml", ALL_QUADS, "application/sparql-results+xml"),
             ("all-quads.csv", ALL_QUADS, "text/csv"),
             ("all-quads.tsv", ALL_QUADS, "text/tab-separated-values"),
             ("construct.ttl", WHOLE, "text/turtle"),
             ("cross.json", CROSS, "application/sparql-results+json")]
    for label, query, accept in large:
        for fresh in (False, True):
            jobs.append(Job("large", label + (" (uncached)" if fresh else ""), "/sparql",
                            (("query", query),), accept, fresh))
    return jobs


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (KiB), from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            status = (proc / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(proc.name))
        rss[int(proc.name)] = next((int(line.split()[1]) for line in status.splitlines()
                                    if line.startswith("VmRSS:")), 0)
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo += children.get(current, [])
    return total


def start_server(dist: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "juno_kg", "serve", "--dist", str(dist),
                                 "--host", HOST, "--port", str(port), "--workers", str(workers)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"juno-kg serve exited ({proc.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"http://{HOST}:{port}/sparql", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("juno-kg serve did not come up within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(10)


@dataclass
class Tally:
    latencies: dict[str, list[float]]
    statuses: Counter
    errors: Counter
    requests: int = 0


async def run_load(url: str, jobs: list[Job], reference: dict[Job, tuple[int, int, int]],
                   clients: int, seconds: float, pid: int) -> tuple[Tally, float, int]:
    tally = Tally(defaultdict(list), Counter(), Counter())
    # idle connections dropped before the server's 5 s keep-alive timeout closes them, or a
    # request sent just as the server closes one fails (httpx's default expiry is 5 s too)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients,
                          keepalive_expiry=2.0)
    counter = iter(range(1 << 62))
    peak = 0

    async def sample_memory(stop: asyncio.Event) -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, await asyncio.to_thread(rss_kib, pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async with contextlib.AsyncExitStack() as stack:
        # each simulated client has an address of its own on loopback (127.0.0.2 …), as
        # real users do: the endpoint gives each client address a fair share
        own = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=url, limits=limits, timeout=120, follow_redirects=True,
            transport=httpx.AsyncHTTPTransport(local_address=f"127.0.{i // 250}.{2 + i % 250}",
                                             limits=limits)))
            for i in range(clients)]

        async def one_client(client: httpx.AsyncClient, deadline: float) -> None:
            while time.perf_counter() < deadline:
                n = next(counter)
                job = jobs[n % len(jobs)]
                path, params, headers = job.request(n)
                started = time.perf_counter()
                try:
                    response = await client.get(path, params=params, headers=headers)
                except httpx.HTTPError as exc:
                    tally.errors[f"{type(exc).__name__} ({job.label})"] += 1
                    continue
                elapsed = time.perf_counter() - started
                tally.requests += 1
                tally.statuses[response.status_code] += 1
                tally.latencies[job.kind].append(elapsed)
                body = response.content
                if (response.status_code, len(body), zlib.crc32(body)) != reference[job]:
                    tally.errors[f"wrong answer ({job.label}: {response.status_code}, "
                                 f"{len(body)} bytes)"] += 1

        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_memory(stop))
        started = time.perf_counter()
        await asyncio.gather(*[one_client(c, started + seconds) for c in own])
        elapsed = time.perf_counter() - started
        stop.set()
        await sampler
    return tally, elapsed, peak


def fetch_reference(url: str, jobs: list[Job]) -> dict[Job, tuple[int, int, int]]:
    """Each job's answer, asked once before the load: ``(status, length, CRC-32)``."""
    reference = {}
    with httpx.Client(base_url=url, timeout=120, follow_redirects=True) as client:
        for n, job in enumerate(jobs):
            path, params, headers = job.request(n)
            response = client.get(path, params=params, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{job.label}: {response.status_code} before any load: "
                                 f"{response.text[:300]}")
            reference[job] = (200, len(response.content), zlib.crc32(response.content))
    return reference


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, help="a build folder (default: build one now)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients [64]")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the load [60]")
    parser.add_argument("--workers", type=int, default=2, help="juno-kg serve query workers [2]")
    parser.add_argument("--seed", type=int, default=9, help="shuffle of the request mix [9]")
    args = parser.parse_args()
    if not (1 <= args.clients <= MAX_CLIENTS and 0 < args.seconds <= MAX_SECONDS):
        parser.error(f"--clients 1..{MAX_CLIENTS}, --seconds up to {MAX_SECONDS}")

    with tempfile.TemporaryDirectory(prefix="juno-kg-load-") as tmp:
        dist = args.dist
        if dist is None:
            dist = Path(tmp) / "dist"
            print("building the sources into a temporary folder…", flush=True)
            result = build(dist, Settings.make(ROOT))
            if not result.ok:
                raise SystemExit(result.report.text())
        base = json.loads((dist / "manifest.json").read_text("utf-8"))["base"]
        jobs = mix(dist, base)
        random.Random(args.seed).shuffle(jobs)
        port = free_port()
        url = f"http://{HOST}:{port}"
        log = Path(tmp) / "serve.log"
        proc = start_server(dist, port, args.workers, log)
        try:
            reference = fetch_reference(url, jobs)
            before = rss_kib(proc.pid)
            kinds = Counter(job.kind for job in jobs)
            print(f"# juno-kg serve ({args.workers} query workers) at {url}; {os.cpu_count()} "
                  f"CPUs shared with the load generator (httpx, asyncio)")
            print(f"# {args.clients} clients for {args.seconds:g} s over {len(jobs)} requests "
                  f"round-robin: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
            tally, elapsed, peak = asyncio.run(run_load(url, jobs, reference, args.clients,
                                                        args.seconds, proc.pid))
            time.sleep(1)
            after = rss_kib(proc.pid)
        finally:
            stop_server(proc)
        console = log.read_text("utf-8", "replace")

    every = [t for values in tally.latencies.values() for t in values]
    non_2xx = {s: n for s, n in sorted(tally.statuses.items()) if not 200 <= s < 300}
    errors = sum(tally.errors.values())
    print(f"requests  {tally.requests}  ({tally.requests / elapsed:.1f}/s over {elapsed:.1f} s)")
    print(f"errors    {errors}" + "".join(f"\n  {n:>6}  {what}" for what, n in
                                          tally.errors.most_common()))
    print(f"non-2xx   {sum(non_2xx.values())}" +
          (f"  by status: {non_2xx}" if non_2xx else ""))
    print(f"latency   p50 {pct(every, 0.50):.1f} ms   p99 {pct(every, 0.99):.1f} ms   "
          f"max {max(every, default=0) * 1000:.1f} ms")
    for kind, values in sorted(tally.latencies.items()):
        print(f"  {kind:<12} {len(values):>7} requests  p50 {pct(values, 0.5):>8.1f} ms  "
              f"p99 {pct(values, 0.99):>8.1f} ms  mean {statistics.fmean(values) * 1000:.1f} ms")
    print(f"memory    server + workers RSS: {before / 1024:.0f} MiB before, "
          f"{peak / 1024:.0f} MiB at peak, {after / 1024:.0f} MiB after")
    lines = [line for line in console.splitlines() if line and not line.startswith("juno-kg:")]
    print(f"console   {len(lines)} lines besides the banner" +
          "".join(f"\n  {line}" for line in lines[:20]))
    sys.exit(0 if errors == 0 and not non_2xx else 1)


if __name__ == "__main__":
    main()
