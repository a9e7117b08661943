"""Benchmark ``juno-kg load`` (run on demand, not part of the test suite).

Measured in one run, on the same dump, medians of ``--runs`` repetitions:

1. ``juno-kg load --endpoint`` into a running ``oxigraph`` server (parse and check the dump,
   one Graph Store PUT per named graph, one COUNT query per graph) against a bare HTTP
   upload of the same N-Quads in a single request (``PUT /store``, which replaces the
   whole dataset): the price of loading graph by graph and checking every count;
2. ``juno-kg load --store`` into an embedded on-disk pyoxigraph store (each graph replaced
   in one transaction, then counted) against pyoxigraph's own ``bulk_load`` of the file into
   a fresh store.

Usage::

    .venv/bin/python benchmarks/bench_load.py [--data dist] [--runs 7]

Without ``--data`` the sources are built into a temporary folder first.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyoxigraph as ox
from timing import free_port, median_seconds  # benchmarks/timing.py

from juno_kg.config import Settings
from juno_kg.store import load_endpoint, load_store
from juno_kg.write import build


def start_oxigraph(folder: Path) -> tuple[subprocess.Popen, str]:
    binary = Path(sys.executable).with_name("oxigraph")
    port = free_port()
    process = subprocess.Popen([str(binary), "serve", "--location", str(folder / "db"),
                                "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/query", params={"query": "ASK {}"}, timeout=2).status_code \
                    == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the oxigraph server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a build folder (default: build one now)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    settings = Settings.make()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = args.data
        if data is None:
            data = work / "dist"
            result = build(data, settings)
            if not result.ok:
                raise SystemExit(result.report.text())
        nquads = data / "dumps" / "juno-kg.nq"
        body = nquads.read_bytes()
        quads = sum(1 for line in body.splitlines() if line.strip())
        print(f"dump: {nquads} ({quads} quads, {len(body)} bytes); runs: {args.runs}")

        process, base = start_oxigraph(work)
        try:
            def ours_http() -> None:
                report = load_endpoint(f"{base}/store", settings, source=nquads)
                assert report.ok, report.text()

            def bare_http() -> None:
                resp = httpx.put(f"{base}/store", content=body, timeout=120,
                                 headers={"Content-Type": "application/n-quads"})
                assert resp.status_code in (200, 201, 204), resp.text

            bare_http()  # warm both paths up once
            ours_http()
            bare = median_seconds(bare_http, args.runs)
            ours = median_seconds(ours_http, args.runs)
        finally:
            process.terminate()
            process.wait(10)
        print(f"\n{'oxigraph server':<34}{'median ms':>10}")
        print(f"{'  bare PUT of the whole dump':<34}{bare * 1000:>10.1f}")
        print(f"{'  juno-kg load --endpoint':<34}{ours * 1000:>10.1f}   "
              f"{ours / bare:.1f}x the bare upload")

        counter = iter(range(10_000))

        def ours_store() -> None:
            report = load_store(work / f"store-{next(counter)}", settings, source=nquads)
            assert report.ok, report.text()

        def bare_store() -> None:
            folder = work / f"bulk-{next(counter)}"
            store = ox.Store(str(folder))
            store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
            store.flush()
            del store

        bare_store()
        ours_store()
        bare = median_seconds(bare_store, args.runs)
        ours = median_seconds(ours_store, args.runs)
        print(f"\n{'embedded pyoxigraph store':<34}{'median ms':>10}")
        print(f"{'  Store.bulk_load of the dump':<34}{bare * 1000:>10.1f}")
        print(f"{'  juno-kg load --store':<34}{ours * 1000:>10.1f}   "
              f"{ours / bare:.1f}x the bulk load")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
