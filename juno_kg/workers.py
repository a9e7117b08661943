"""The SPARQL endpoint's query workers: processes without a network, bounded in memory.

pyoxigraph runs ``SERVICE`` as a real HTTP request and has no switch to turn it off, so the
guarantee that a query never makes an outgoing request lives in the operating system: each
worker process, first thing after it starts and before it loads anything, moves into a network
namespace of its own (``unshare(CLONE_NEWNET)``, in a user namespace when not root). That
namespace has no interface but a loopback that is down: every ``connect`` fails with "network
is unreachable", whatever the query text. Where no namespace can be made the endpoint does not
start, unless the user opts out explicitly (``--no-sandbox``, ``JUNO_KG_SANDBOX=0``).

Workers run at a lower CPU priority than the server (``Limits.worker_nice``): every request
passes through the server's single event loop, which must not wait for a core while a query
runs. Each worker also has an address-space limit (``RLIMIT_AS``): a query that needs more memory
ends its worker (or raises), the client gets a 503 saying so, and a fresh worker replaces it.
Queries run on one long-lived thread with a large stack (started once, not per query), so
deep but legal nesting parses; what is deeper than ``Limits.max_nesting`` never reaches the
engine (:mod:`juno_kg.guard`).

The pipe: the server sends a job (a pickled dict: ``text``, ``default``, ``named``, ``media``,
``prefixes``, the latter None when they are the previous job's) as one ``multiprocessing``
message; the worker answers with one message of
:func:`encode_reply`'s bytes (a fixed header, the media type or message, the body), never a
pickle, so the server unpickles nothing a query could have shaped. Both are framed as
``multiprocessing.Connection`` frames them (a 4-byte big-endian length, or -1 and 8 bytes).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import resource
import signal
import socket
import struct
import threading
import time
from typing import Any, NamedTuple

from . import formats
from .limits import Limits

HTML = "text/html"
#: SPARQL results formats (W3C) by short name: media type (from the registry)
RESULTS = {f.name: f.media_type for f in formats.RESULTS_FORMATS}
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
QUERY_STACK = 128 << 20  #: bytes of stack for the thread that parses and runs a query
MEMORY = "query stopped: it needed more memory than a query worker may use ({} MB)"
NESTED = "the query is too deeply nested for the engine"
_SAFE_ENGINE_ERRORS = re.compile(r"The custom function <[^<>\s]{1,200}> is not supported")


class Reply(NamedTuple):
    """A worker's answer: status, media type (or message), body, and whether it was cut."""

    status: int
    what: str
    body: bytes = b""
    truncated: bool = False
    retry_after: int = 0


_REPLY_HEAD = struct.Struct("!HBII")  # status, truncated, retry_after, bytes of ``what``


def encode_reply(reply: Reply) -> bytes:
    """A reply as the bytes a worker sends: a fixed header, ``what`` (UTF-8), the body."""
    what = reply.what.encode("utf-8")
    return b"".join([_REPLY_HEAD.pack(reply.status, bool(reply.truncated), reply.retry_after,
                                      len(what)), what, reply.body])


def decode_reply(data: bytes) -> Reply:
    """The reply in ``data`` (:func:`encode_reply`); ValueError when it is not one."""
    if len(data) < _REPLY_HEAD.size:
        raise ValueError("a reply shorter than its header")
    status, truncated, retry_after, size = _REPLY_HEAD.unpack_from(data)
    start = _REPLY_HEAD.size
    if len(data) < start + size:
        raise ValueError("a reply shorter than its header says")
    return Reply(status, data[start:start + size].decode("utf-8"), data[start + size:],
                 bool(truncated), retry_after)


# --------------------------------------------------------------------------- sandbox

def isolate_network() -> str | None:
    """Move this process into a network namespace of its own; None, or why it failed.

    Call it while the process has a single thread (``unshare`` of a user namespace refuses a
    threaded process). Root keeps its capabilities with a plain network namespace.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    tries = [CLONE_NEWNET, CLONE_NEWUSER | CLONE_NEWNET] if os.geteuid() == 0 else \
        [CLONE_NEWUSER | CLONE_NEWNET]
    failures = []
    for flags in tries:
        if libc.unshare(flags) == 0:
            return None if network_is_gone() else "a connection still reaches the network"
        failures.append(os.strerror(ctypes.get_errno()))
    return "unshare: " + "; ".join(failures)


def sandbox_problem() -> str | None:
    """Why a query worker could not be cut off from the network here, or None.

    Tried in a forked child (single-threaded, as ``unshare`` wants), so that the server can
    refuse to start with a plain message before it listens, and keeps its own network.
    """
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return "no fork() on this platform, and no network namespaces either"
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    probe = context.Process(target=_probe_sandbox, args=(writer,), daemon=True)
    probe.start()
    writer.close()
    try:
        answer = reader.recv() if reader.poll(30) else "the probe did not answer in 30 s"
    except (EOFError, OSError):
        answer = "the probe ended without an answer"
    finally:
        reader.close()
        probe.join(5)
    return answer


def _probe_sandbox(out: Any) -> None:
    out.send(isolate_network())


def network_is_gone() -> bool:
    """Whether this process can reach no address: a UDP connect to loopback fails."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("127.0.0.1", 9))
    except OSError as exc:
        return exc.errno in (errno.ENETUNREACH, errno.EADDRNOTAVAIL)
    finally:
        probe.close()
    return False


def limit_memory(megabytes: int) -> None:
    size = megabytes << 20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        size = min(size, hard)
    resource.setrlimit(resource.RLIMIT_AS, (size, hard))


# --------------------------------------------------------------------------- answers

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _term_json(term: Any) -> dict:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    return {"type": "literal", "value": str(term)}


class TermCache:
    """Each RDF term's SPARQL Results JSON, encoded once: the dataset does not change, so
    the same terms come back in answer after answer. Bounded (terms a query makes up, such
    as ``CONCAT`` results, would otherwise grow it): full, it starts again."""

    ENTRIES = 1 << 16
    LARGEST = 1 << 10  #: bytes; longer terms are encoded each time, not kept

    def __init__(self) -> None:
        self._known: dict[Any, bytes] = {}

    def __call__(self, term: Any) -> bytes:
        encoded = self._known.get(term)
        if encoded is None:
            encoded = json.dumps(_term_json(term), ensure_ascii=False,
                                 separators=(",", ":")).encode("utf-8")
            if len(encoded) <= self.LARGEST:
                if len(self._known) >= self.ENTRIES:
                    self._known.clear()
                self._known[term] = encoded
        return encoded


_TERMS = TermCache()


def _take(results, max_rows: int, max_bytes: int, deadline: float) -> tuple[list, bool] | None:
    """Up to ``max_rows`` items of a lazy query result (and about ``max_bytes`` of them), and
    whether more were left; None when the time limit passes while reading them."""
    items: list = []
    size = 0
    for item in results:
        if len(items) == max_rows:
            return items, True
        if time.monotonic() > deadline:
            return None
        size += len(str(item))
        if size > max_bytes:
            return items, True
        items.append(item)
    return items, False


def _fit(items: list, render, max_bytes: int, truncated: bool) -> tuple[bytes, bool]:
    """``render(items)``, with as many items as fit in ``max_bytes``."""
    body = render(items)
    while len(body) > max_bytes and items:
        keep = min(len(items) - 1, int(len(items) * max_bytes / len(body) * 0.95))
        items = items[:max(keep, 0)]
        body = render(items)
        truncated = True
    return body, truncated


def _results(doc: dict, media: str) -> bytes:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return body if media in (RESULTS["json"], HTML) else _converted(body, media)


def _converted(body: bytes, media: str) -> bytes:
    """SPARQL Results JSON ``body`` in the results format ``media`` (XML, CSV, TSV)."""
    import pyoxigraph as ox

    target = getattr(ox.QueryResultsFormat, formats.results_format(media).oxigraph)
    parsed = ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
    return parsed.serialize(format=target)


def _triples_answer(result, job: dict, limits: Limits, deadline: float) -> Reply:
    import pyoxigraph as ox

    taken = _take(result, limits.max_rows, limits.max_answer, deadline)
    if taken is None:
        return Reply(503, "query time limit exceeded")
    triples, truncated = taken
    media = job["media"]
    if media == HTML:
        def render(items: list) -> bytes:
            return json.dumps({"head": {"vars": ["subject", "predicate", "object"]},
                               "results": {"bindings": [
                                   {"subject": _term_json(t.subject),
                                    "predicate": _term_json(t.predicate),
                                    "object": _term_json(t.object)} for t in items]}}).encode()
    else:
        fmt = next(f for f in formats.FORMATS if f.media_type == media)
        prefixes = job["prefixes"] if fmt.name in ("turtle", "trig", "rdfxml") else None

        def render(items: list) -> bytes:
            if fmt.quads:
                items = [ox.Quad(t.subject, t.predicate, t.object) for t in items]
            return ox.serialize(items, format=getattr(ox.RdfFormat, fmt.oxigraph),
                                prefixes=prefixes)
    body, truncated = _fit(triples, render, limits.max_answer, truncated)
    return Reply(200, media, body, truncated)


def _solutions_answer(result, job: dict, limits: Limits, deadline: float) -> Reply:
    """The solutions as SPARQL Results JSON, written row by row from each term's cached
    encoding (:class:`TermCache`), at most ``max_rows`` rows and ``max_answer`` bytes; other
    results formats are converted from it."""
    names = [v.value for v in result.variables]
    listed = json.dumps(names, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = b'{"head":{"vars":' + listed + b'},"results":{"bindings":['
    tail = b"]}}"
    keys = [json.dumps(name, ensure_ascii=False).encode("utf-8") + b":" for name in names]
    columns = list(enumerate(keys))
    room = limits.max_answer - len(head) - len(tail)
    rows: list[bytes] = []
    size = 0
    truncated = False
    terms = _TERMS
    for solution in result:
        if len(rows) == limits.max_rows:
            truncated = True
            break
        if time.monotonic() > deadline:
            return Reply(503, "query time limit exceeded")
        row = b"{" + b",".join([key + terms(term) for i, key in columns
                                if (term := solution[i]) is not None]) + b"}"
        size += len(row) + 1  # and its comma
        if size - 1 > room:
            truncated = True
            break
        rows.append(row)
    media = job["media"]

    def render(items: list) -> bytes:
        body = head + b",".join(items) + tail
        return body if media in (RESULTS["json"], HTML) else _converted(body, media)

    body, truncated = _fit(rows, render, limits.max_answer, truncated)
    return Reply(200, media, body, truncated)


def execute(store: Any, job: dict, limits: Limits, deadline: float) -> Reply:
    """Run one checked query; engine errors are reported in our words, never the engine's
    (its text can say what a network attempt found)."""
    import pyoxigraph as ox

    kwargs: dict[str, Any] = {}
    if job["default"] or job["named"]:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in job["default"]]
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in job["named"]]
    else:
        kwargs["use_default_graph_as_union"] = True
    try:
        result = store.query(job["text"], **kwargs)
        if isinstance(result, ox.QueryBoolean):
            return Reply(200, job["media"], _results({"head": {}, "boolean": bool(result)},
                                                     job["media"]))
        if isinstance(result, ox.QueryTriples):
            return _triples_answer(result, job, limits, deadline)
        return _solutions_answer(result, job, limits, deadline)
    except SyntaxError as exc:  # the readable message `juno-kg query` gives, same function
        from .sparql import syntax_error

        return Reply(400, str(syntax_error(job["text"], exc, job["prefixes"])))
    except MemoryError:
        return Reply(503, MEMORY.format(limits.worker_memory))
    except RecursionError:
        return Reply(400, NESTED)
    except Exception as exc:  # evaluation errors: a 400 in our words, never a traceback
        text = str(exc)
        detail = f": {text}" if _SAFE_ENGINE_ERRORS.fullmatch(text) else ""
        return Reply(400, f"the query could not be evaluated{detail} (an unsupported function, "
                          "an invalid value, or a federated query this endpoint never runs)")


def _serve(conn: Any, store: Any, limits: Limits) -> None:
    """Answer jobs from ``conn`` until the server closes it (EOF, a broken pipe)."""
    prefixes: dict[str, str] = {}
    try:
        conn.send(("ready",))
        while True:
            job = conn.recv()
            if job.get("prefixes") is None:  # the same as the job before
                job["prefixes"] = prefixes
            prefixes = job["prefixes"]
            deadline = time.monotonic() + limits.timeout
            try:
                reply = execute(store, job, limits, deadline)
            except Exception:  # never seen; the server is told plainly, the worker goes on
                reply = Reply(500, "the query worker failed")
            conn.send_bytes(encode_reply(reply))
    except (EOFError, OSError):  # the server closed the pipe, or gave up on this answer
        return


def worker_main(conn: Any, dump: str, limits: Limits) -> None:
    """A query worker: no network, bounded memory, one in-memory store loaded from the
    N-Quads dump, jobs from ``conn`` answered on a thread with a large stack.

    It ends when the server closes its end of the pipe or goes away (EOF, a broken pipe),
    quietly. Ctrl-C in the terminal reaches the whole process group; stopping the workers is
    the server's part (it kills them on shutdown), so a worker ignores SIGINT.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    refused = isolate_network() if limits.sandbox else None  # first: one thread, nothing loaded
    if refused:
        with contextlib.suppress(OSError):
            conn.send(("no-sandbox", refused))
        return
    limit_memory(limits.worker_memory)
    if limits.worker_nice:
        with contextlib.suppress(OSError):
            os.nice(limits.worker_nice)
    import pyoxigraph as ox

    store = ox.Store()
    store.bulk_load(path=dump, format=ox.RdfFormat.N_QUADS)
    threading.stack_size(QUERY_STACK)
    thread = threading.Thread(target=_serve, args=(conn, store, limits), name="query")
    thread.start()
    thread.join()


def death_reply(exitcode: int | None, limits: Limits) -> Reply:
    """What to tell the client whose query ended its worker."""
    if exitcode == -signal.SIGSEGV:
        return Reply(400, NESTED)
    if exitcode in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGBUS):
        return Reply(503, MEMORY.format(limits.worker_memory), retry_after=1)
    return Reply(503, "the query worker stopped unexpectedly; try again", retry_after=1)
