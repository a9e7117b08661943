"""The pool of query workers behind ``/sparql``: fair shares, a short queue, kills.

How a job and its answer travel: each worker has a socket pair with the server, framed as a
``multiprocessing.Connection`` frames it (a 4-byte big-endian length, then the bytes). The
server's end is an asyncio protocol on the event loop (:class:`_Channel`): the job is
written without blocking, the answer's bytes are gathered as they arrive until the frame is
whole (however many reads a large answer takes), and the request awaits it with the time
limit. No thread and no pickle on the way back: the answer is :func:`workers.encode_reply`'s
header and bytes, and a frame larger than an answer may be ends the worker. When the time
limit passes or the request is cancelled (its client went away), the worker is killed and
its socket closed, and a fresh worker is started; a worker that dies by itself (memory,
a crash) closes its end, and the waiting request learns it at once (EOF).

Queries waiting for a worker wait in one first-come-first-served line. A worker whose answer
has just been read is given the next query in that same callback, before the request that
gets the answer runs again: on a small machine the server's event loop is busy, and a worker
left waiting for it is a core left idle. The time limit of a query runs from when it was
sent to its worker.

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
import os
import pickle
import socket
import struct
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import JunoKGError
from .guard import Query
from .limits import Limits
from .workers import Reply, death_reply, decode_reply, worker_main


class SandboxUnavailable(JunoKGError):
    """The query workers could not be cut off from the network on this platform (exit 2)."""

    @classmethod
    def because(cls, problem: str) -> SandboxUnavailable:
        return cls(f"query workers cannot be cut off from the network here ({problem}); the "
                   "endpoint would let SERVICE make outgoing requests",
                   hint="run on Linux with user or network namespaces enabled, or opt out "
                        "explicitly (unsafe) with --no-sandbox (JUNO_KG_SANDBOX=0)")


class _Channel(asyncio.Protocol):
    """The server's end of one worker's socket: whole answers out of the bytes as they come.

    One answer is expected at a time (:meth:`expect`); a frame longer than ``largest`` bytes,
    or one that is no :func:`workers.encode_reply`, fails the wait (ValueError) as EOF does.
    ``on_answer`` is called as soon as an answer is whole (the worker is free again), and
    ``on_lost`` when the socket closes."""

    def __init__(self, largest: int) -> None:
        self.largest = largest
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.on_answer: Callable[[], None] | None = None
        self.on_lost: Callable[[], None] | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def expect(self) -> asyncio.Future:
        """A future for the next answer (EOFError if the worker is gone first)."""
        self._waiter = asyncio.get_running_loop().create_future()
        if self.closed:
            self._fail(EOFError())
        else:
            self._deliver()
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._deliver()

    def _deliver(self) -> None:
        waiter, buffer = self._waiter, self._buffer
        if waiter is None or waiter.done() or len(buffer) < 4:
            return
        (size,), start = struct.unpack_from("!i", buffer), 4
        if size == -1:  # a frame over 2 GiB: 8 more bytes of length
            if len(buffer) < 12:
                return
            (size,), start = struct.unpack_from("!Q", buffer, 4), 12
        if size < 0 or size > self.largest:
            self._fail(ValueError(f"a frame of {size} bytes from a query worker"))
            return
        if len(buffer) < start + size:
            return
        frame = bytes(buffer[start:start + size])
        del buffer[:start + size]
        try:
            reply = decode_reply(frame)
        except ValueError as exc:
            self._fail(exc)
            return
        waiter.set_result(reply)
        if self.on_answer is not None:
            self.on_answer()

    def _fail(self, exc: Exception) -> None:
        assert self._waiter is not None
        self._waiter.set_exception(exc)
        self._waiter.exception()  # not logged when the request gave up and never awaits it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._fail(EOFError())
        if self.on_lost is not None:
            self.on_lost()


@dataclass(eq=False)
class _Worker:
    process: Any
    channel: _Channel
    prefixes: Any = None  #: the prefix table last sent to it (sent again only when another)


@dataclass(eq=False)
class _Job:
    """A query on its way to a worker: what is sent, and, once sent, to whom and when."""

    job: dict
    prefixes: Any
    assigned: asyncio.Future  #: done when a worker has it (its answer is then awaited)
    worker: _Worker | None = None
    answer: asyncio.Future | None = None
    sent_at: float = 0.0


class Engine:
    """A pool of query worker processes; a query over its time limit kills its worker."""

    CACHEABLE_BYTES = 1 << 20
    CACHE_BYTES = 64 << 20

    def __init__(self, dump: Path, limits: Limits) -> None:
        self.dump = dump
        self.limits = limits
        self._cache: OrderedDict[tuple, Reply] = OrderedDict()
        self._cached_bytes = 0
        self._free: list[_Worker] = []  # workers with nothing to do
        self._waiting: deque[_Job] = deque()  # queries waiting for a worker, first come first
        self._started = False
        self._all: set[_Worker] = set()
        self._ctx = multiprocessing.get_context("spawn")
        self._replacing: set[asyncio.Task] = set()
        self._stopping = False
        self._clients: dict[str, int] = {}  # queries running or waiting, by client address
        self._running: dict[str, asyncio.Semaphore] = {}

    def _spawn(self) -> tuple[Any, Any]:
        """Start a worker and wait for it to say it is ready (blocking: run in a thread)."""
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
                raise SandboxUnavailable.because(hello[1])
            raise RuntimeError(f"query worker did not start (loading {self.dump} within "
                               f"{self.limits.worker_memory} MB)")
        return process, parent

    async def _start_worker(self) -> _Worker:
        loop = asyncio.get_running_loop()
        process, parent = await loop.run_in_executor(None, self._spawn)
        sock = socket.socket(fileno=os.dup(parent.fileno()))  # the event loop's from now on
        parent.close()
        largest = self.limits.max_answer + 8 * self.limits.max_request + (1 << 16)
        try:
            _, channel = await loop.create_unix_connection(lambda: _Channel(largest), sock=sock)
        except BaseException:
            sock.close()
            process.kill()
            raise
        worker = _Worker(process, channel)
        channel.on_answer = lambda: self._free_worker(worker)
        channel.on_lost = lambda: self._lost(worker)
        self._all.add(worker)
        return worker

    async def start(self) -> None:
        self._stopping = False
        self._started = True
        workers = await asyncio.gather(*[self._start_worker()
                                         for _ in range(self.limits.workers)])
        for worker in workers:
            self._free_worker(worker)

    async def stop(self) -> None:
        self._stopping = True
        if self._replacing:  # let a replacement under way finish, so its worker is stopped too
            await asyncio.gather(*self._replacing, return_exceptions=True)
        self._free.clear()
        await asyncio.gather(*[self._retire(worker) for worker in list(self._all)])

    async def _retire(self, worker: _Worker) -> None:
        """Kill ``worker``, close its socket, wait for the process to end."""
        self._all.discard(worker)
        worker.process.kill()  # a no-op on a process that has already exited
        if worker.channel.transport is not None:
            worker.channel.transport.close()
        await asyncio.get_running_loop().run_in_executor(None, worker.process.join, 5)
        with contextlib.suppress(ValueError):  # frees its sentinel descriptor now
            worker.process.close()

    async def _replace(self, worker: _Worker) -> None:
        await self._retire(worker)
        if self._stopping:
            return
        self._free_worker(await self._start_worker())

    def _free_worker(self, worker: _Worker) -> None:
        """``worker`` has nothing to do: send it the first query waiting, at once (from the
        callback that read its last answer, so it never waits for the request that gets
        that answer to run), or keep it for the next one."""
        if worker not in self._all or worker.channel.closed:
            return
        while self._waiting:
            job = self._waiting.popleft()
            if not job.assigned.done():  # not given up (queue wait, client gone)
                self._send(worker, job)
                job.assigned.set_result(None)
                return
        self._free.append(worker)

    def _lost(self, worker: _Worker) -> None:
        """A worker's socket closed; one that had nothing to do is replaced now."""
        if worker in self._free:
            self._free.remove(worker)
            self._replace_later(worker)

    def _send(self, worker: _Worker, job: _Job) -> None:
        # the prefixes go once to each worker, which keeps them (None: the ones it has)
        job.job["prefixes"] = None if job.prefixes is worker.prefixes else job.prefixes
        frame = pickle.dumps(job.job, pickle.HIGHEST_PROTOCOL)
        channel = worker.channel
        job.worker, job.answer = worker, channel.expect()
        job.sent_at = asyncio.get_running_loop().time()
        if channel.transport is not None and not channel.closed:
            channel.transport.write(struct.pack("!i", len(frame)) + frame)
            worker.prefixes = job.prefixes

    def _replace_later(self, worker: _Worker) -> None:
        """Kill ``worker`` now and start another: from this moment it is given nothing (an
        answer it had already sent is dropped), and it is replaced once however many
        requests learn of its end."""
        if worker not in self._all:
            return  # being replaced already
        self._all.discard(worker)
        if worker in self._free:
            self._free.remove(worker)
        worker.channel.on_answer = worker.channel.on_lost = None
        worker.process.kill()
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
            if running.locked():  # the client's own turn first (no timer when it is free)
                try:
                    async with asyncio.timeout_at(deadline):
                        await running.acquire()
                except TimeoutError:
                    return self._busy()
            else:
                await running.acquire()
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
        assert self._started, "Engine.start() was not awaited"
        loop = asyncio.get_running_loop()
        job = _Job({"text": query.text, "default": query.default_graphs,
                    "named": query.named_graphs, "media": media}, prefixes,
                   loop.create_future())
        if self._free:
            self._send(self._free.pop(), job)
        else:
            self._waiting.append(job)
            try:  # asyncio.timeout, not wait_for: a cancelled wait_for can drop the worker
                async with asyncio.timeout_at(deadline):
                    await job.assigned
            except (TimeoutError, asyncio.CancelledError) as exc:
                if job.worker is not None and isinstance(exc, asyncio.CancelledError):
                    self._replace_later(job.worker)  # it was given the query as it ended
                    raise
                if job.worker is None:
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    return self._busy()
                # a worker was given the query just as the wait ended: go on
        worker, answer = job.worker, job.answer
        assert worker is not None and answer is not None
        try:
            async with asyncio.timeout_at(job.sent_at + self.limits.timeout):
                return await answer
        except (TimeoutError, EOFError, ValueError, asyncio.CancelledError) as exc:
            if answer.done() and not answer.cancelled() and answer.exception() is None:
                # answered just as the wait ended; the worker has gone on to the next query
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return answer.result()
            if isinstance(exc, (EOFError, ValueError)):  # the query ended its worker
                if isinstance(exc, ValueError):  # or it sent what no worker sends
                    worker.process.kill()
                exitcode = None
                with contextlib.suppress(ValueError):  # closed: replaced meanwhile
                    await loop.run_in_executor(None, worker.process.join, 2)
                    exitcode = worker.process.exitcode
                died = death_reply(exitcode, self.limits)
            self._replace_later(worker)
            if isinstance(exc, asyncio.CancelledError):
                raise
            if isinstance(exc, TimeoutError):
                return Reply(503, f"query stopped: it ran longer than the time limit of "
                                  f"{self.limits.timeout:g} s")
            return died
