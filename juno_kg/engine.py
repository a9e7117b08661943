"""The pool of query workers behind ``/sparql``: fair shares, a short queue, kills.

How an answer travels from a worker to the server: the worker sends a :class:`Reply` tuple
down a ``multiprocessing`` pipe, whose ``Connection`` frames every message (its length, then
its bytes). The server reads it with a plain *blocking* ``conn.recv()`` in a thread of the
engine's own pool (one thread per worker, so a read never waits for a thread) and awaits that
thread with the time limit. The pipe is never watched with ``loop.add_reader``: an event loop
may switch the descriptor to non-blocking (uvloop does), and readiness only says the first
bytes of an answer have arrived, so ``recv()`` after it broke every answer larger than the
socket buffer. When the time limit passes or the request is cancelled (its client went away),
the worker is killed: the kernel closes its end of the pipe, the blocked ``recv()`` ends with
``EOFError``, and only once that thread is free is the pipe closed and a fresh worker started.

Fairness: one client address may have ``Limits.per_client`` queries running and
``Limits.per_client_queue`` waiting for their turn (so a client that sends many queries at
once has them answered one after the other, while the other workers stay free for other
clients); more get 429 at once. A query waits at most ``Limits.queue_wait`` seconds for its
turn and a free worker, then gets 503; both carry ``Retry-After``.

The dataset never changes while it is served, so answers are kept in an LRU cache
(``Limits.cache`` entries, answers up to 1 MB, 64 MB in all) keyed by query text, media type
and graphs.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .guard import Query
from .limits import Limits
from .workers import Reply, death_reply, worker_main


class SandboxUnavailable(RuntimeError):
    """The query workers could not be cut off from the network on this platform."""


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Any
    #: the server's blocking read of this worker's answer, while one is expected
    reading: asyncio.Future | None = None


class Engine:
    """A pool of query worker processes; a query over its time limit kills its worker."""

    CACHEABLE_BYTES = 1 << 20
    CACHE_BYTES = 64 << 20

    def __init__(self, dump: Path, limits: Limits) -> None:
        self.dump = dump
        self.limits = limits
        self._cache: OrderedDict[tuple, Reply] = OrderedDict()
        self._cached_bytes = 0
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._ctx = multiprocessing.get_context("spawn")
        self._readers: Any = None  # a ThreadPoolExecutor while started
        self._replacing: set[asyncio.Task] = set()
        self._stopping = False
        self._clients: dict[str, int] = {}  # queries running or waiting, by client address
        self._running: dict[str, asyncio.Semaphore] = {}

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=worker_main, daemon=True, name="juno-kg-query",
                                    args=(child, str(self.dump), self.limits))
        process.start()
        child.close()
        try:
            hello = parent.recv() if parent.poll(60) else None
        except (EOFError, OSError):
            hello = None
        if hello != ("ready",):
            process.kill()
            process.join(5)
            parent.close()
            if hello and hello[0] == "no-sandbox":
                raise SandboxUnavailable(
                    f"query workers cannot be cut off from the network here ({hello[1]}); "
                    "the endpoint would let SERVICE make outgoing requests. Run on Linux "
                    "with user or network namespaces, or opt out explicitly with "
                    "--no-sandbox (JUNO_KG_SANDBOX=0)")
            raise RuntimeError(f"query worker did not start (loading {self.dump} within "
                               f"{self.limits.worker_memory} MB)")
        worker = _Worker(process, parent)
        self._all.add(worker)
        return worker

    async def start(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._stopping = False
        self._idle = asyncio.Queue()
        self._readers = ThreadPoolExecutor(self.limits.workers,
                                           thread_name_prefix="juno-kg-answer")
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(*[loop.run_in_executor(None, self._spawn)
                                         for _ in range(self.limits.workers)])
        for worker in workers:
            self._idle.put_nowait(worker)

    async def stop(self) -> None:
        self._stopping = True
        if self._replacing:  # let a replacement under way finish, so its worker is stopped too
            await asyncio.gather(*self._replacing, return_exceptions=True)
        await asyncio.gather(*[self._retire(worker) for worker in list(self._all)])
        if self._readers is not None:
            self._readers.shutdown(wait=True)  # every read has ended: its worker is dead
            self._readers = None

    async def _retire(self, worker: _Worker) -> None:
        """Kill ``worker``, wait for the read of its answer to end, close its pipe."""
        self._all.discard(worker)
        worker.process.kill()  # a no-op on a process that has already exited
        reading = worker.reading
        if reading is not None:
            await asyncio.wait([reading], timeout=10)  # the kill ends it at once
            if not reading.done():  # never seen; keep the descriptor rather than close it
                return  # under a thread still reading it
            if not reading.cancelled():
                reading.exception()  # EOFError, or an answer come too late: both dropped
        with contextlib.suppress(OSError):
            worker.conn.close()
        await asyncio.get_running_loop().run_in_executor(None, worker.process.join, 5)
        with contextlib.suppress(ValueError):  # frees its sentinel descriptor now
            worker.process.close()

    async def _replace(self, worker: _Worker) -> None:
        await self._retire(worker)
        if self._stopping:
            return
        fresh = await asyncio.get_running_loop().run_in_executor(None, self._spawn)
        assert self._idle is not None
        self._idle.put_nowait(fresh)

    def _replace_later(self, worker: _Worker) -> None:
        task = asyncio.ensure_future(self._replace(worker))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def run(self, query: Query, media: str, prefixes: dict[str, str],
                  client: str = "") -> Reply:
        """The :class:`Reply` to a checked query from the client at address ``client``."""
        key = (query.text, media, tuple(query.default_graphs), tuple(query.named_graphs))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        reply = await self._fairly(query, media, prefixes, client)
        if self.limits.cache and reply.status == 200 and \
                len(reply.body) <= self.CACHEABLE_BYTES and key not in self._cache:
            self._cache[key] = reply
            self._cached_bytes += len(reply.body)
            while len(self._cache) > self.limits.cache or self._cached_bytes > self.CACHE_BYTES:
                self._cached_bytes -= len(self._cache.popitem(last=False)[1].body)
        return reply

    async def _fairly(self, query: Query, media: str, prefixes: dict[str, str],
                      client: str) -> Reply:
        """Run the query within the client's share, or say when to come back."""
        share, queue = self.limits.per_client, self.limits.per_client_queue
        if self._clients.get(client, 0) >= share + queue:
            return Reply(429, f"too many queries from one client at once (the limit is "
                              f"{share} running, {queue} waiting); try again shortly",
                         retry_after=max(1, round(self.limits.timeout / 2)))
        self._clients[client] = self._clients.get(client, 0) + 1
        running = self._running.setdefault(client, asyncio.Semaphore(share))
        try:
            deadline = asyncio.get_running_loop().time() + self.limits.queue_wait
            try:
                async with asyncio.timeout_at(deadline):
                    await running.acquire()
            except TimeoutError:
                return self._busy()
            try:
                return await self._run(query, media, prefixes, deadline)
            finally:
                running.release()
        finally:
            self._clients[client] -= 1
            if not self._clients[client]:
                del self._clients[client], self._running[client]

    def _busy(self) -> Reply:
        return Reply(503, f"the endpoint is busy: no query worker became free within "
                          f"{self.limits.queue_wait:g} s; try again",
                     retry_after=max(1, round(self.limits.timeout / 2)))

    async def _run(self, query: Query, media: str, prefixes: dict[str, str],
                   deadline: float) -> Reply:
        assert self._idle is not None and self._readers is not None, \
            "Engine.start() was not awaited"
        loop = asyncio.get_running_loop()
        try:  # asyncio.timeout, not wait_for: a cancelled wait_for can drop the worker
            async with asyncio.timeout_at(deadline):
                worker = await self._idle.get()
        except TimeoutError:
            return self._busy()
        job = {"text": query.text, "default": query.default_graphs,
               "named": query.named_graphs, "media": media, "prefixes": prefixes}
        try:
            worker.conn.send(job)
            worker.reading = loop.run_in_executor(self._readers, worker.conn.recv)
            # shielded: on timeout or cancellation the read goes on until the kill ends it
            async with asyncio.timeout(self.limits.timeout):
                reply = await asyncio.shield(worker.reading)
        except (TimeoutError, EOFError, OSError, asyncio.CancelledError) as exc:
            if isinstance(exc, (EOFError, OSError)):  # the query ended its worker
                await loop.run_in_executor(None, worker.process.join, 2)
                died = death_reply(worker.process.exitcode, self.limits)
            self._replace_later(worker)
            if isinstance(exc, asyncio.CancelledError):
                raise
            if isinstance(exc, TimeoutError):
                return Reply(503, f"query stopped: it ran longer than the time limit of "
                                  f"{self.limits.timeout:g} s")
            return died
        worker.reading = None
        self._idle.put_nowait(worker)
        return Reply(*reply)
