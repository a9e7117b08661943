"""The SPARQL endpoint's query workers: processes without a network, bounded in memory.

pyoxigraph runs ``SERVICE`` as a real HTTP request and has no switch to turn it off, so the
guarantee that a query never makes an outgoing request lives in the operating system: each
worker process, first thing after it starts and before it loads anything, moves into a network
namespace of its own (``unshare(CLONE_NEWNET)``, in a user namespace when not root). That
namespace has no interface but a loopback that is down: every ``connect`` fails with "network
is unreachable", whatever the query text. Where no namespace can be made the endpoint does not
start, unless the user opts out explicitly (``--no-sandbox``, ``JUNO_KG_SANDBOX=0``).

Each worker also has an address-space limit (``RLIMIT_AS``): a query that needs more memory
ends its worker (or raises), the client gets a 503 saying so, and a fresh worker replaces it.
Queries run on a thread with a large stack, so deep but legal nesting parses; what is deeper
than ``Limits.max_nesting`` never reaches the engine (:mod:`juno_kg.guard`).
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
        elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    return {"type": "literal", "value": str(term)}


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
    import pyoxigraph as ox

    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    if media in (RESULTS["json"], HTML):
        return body
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
    names = [v.value for v in result.variables]
    taken = _take(result, limits.max_rows, limits.max_answer, deadline)
    if taken is None:
        return Reply(503, "query time limit exceeded")
    rows = [{name: _term_json(solution[name]) for name in names
             if solution[name] is not None} for solution in taken[0]]

    def render(items: list) -> bytes:
        return _results({"head": {"vars": names}, "results": {"bindings": items}}, job["media"])

    body, truncated = _fit(rows, render, limits.max_answer, taken[1])
    return Reply(200, job["media"], body, truncated)


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


def _on_big_stack(function, *args) -> Any:
    """``function(*args)`` on a thread with :data:`QUERY_STACK` bytes of stack."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(function(*args)), name="query")
    thread.start()
    thread.join()
    if not out:  # the thread raised: already printed by threading; report it plainly
        return Reply(500, "the query worker failed")
    return out[0]


def worker_main(conn: Any, dump: str, limits: Limits) -> None:
    """A query worker: no network, bounded memory, one in-memory store loaded from the
    N-Quads dump, jobs from ``conn``.

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
    threading.stack_size(QUERY_STACK)
    import pyoxigraph as ox

    store = ox.Store()
    store.bulk_load(path=dump, format=ox.RdfFormat.N_QUADS)
    try:
        conn.send(("ready",))
        while True:
            job = conn.recv()
            deadline = time.monotonic() + limits.timeout
            conn.send(tuple(_on_big_stack(execute, store, job, limits, deadline)))
    except (EOFError, OSError):  # the server closed the pipe, or gave up on this answer
        return


def death_reply(exitcode: int | None, limits: Limits) -> Reply:
    """What to tell the client whose query ended its worker."""
    if exitcode == -signal.SIGSEGV:
        return Reply(400, NESTED)
    if exitcode in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGBUS):
        return Reply(503, MEMORY.format(limits.worker_memory), retry_after=1)
    return Reply(503, "the query worker stopped unexpectedly; try again", retry_after=1)
