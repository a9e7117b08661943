"""The SPARQL endpoint's limits and its refusals (a leaf module: imports nothing of ours).

Every limit has a default, a ``juno-kg serve`` option and an environment variable; the
README's table lists them. :class:`Refused` is a request the endpoint will not run: an HTTP
status and a one-line message for the client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any


class Refused(Exception):
    """A request the endpoint will not run: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


#: field name -> environment variable
ENVIRONMENT = {
    "timeout": "JUNO_KG_QUERY_TIMEOUT",
    "max_rows": "JUNO_KG_MAX_ROWS",
    "max_request": "JUNO_KG_MAX_REQUEST_BYTES",
    "workers": "JUNO_KG_WORKERS",
    "cache": "JUNO_KG_CACHE_ENTRIES",
    "max_answer": "JUNO_KG_MAX_ANSWER_BYTES",
    "worker_memory": "JUNO_KG_WORKER_MEMORY_MB",
    "max_nesting": "JUNO_KG_MAX_NESTING",
    "max_header": "JUNO_KG_MAX_HEADER_BYTES",
    "header_timeout": "JUNO_KG_HEADER_TIMEOUT",
    "per_client": "JUNO_KG_PER_CLIENT",
    "per_client_queue": "JUNO_KG_PER_CLIENT_QUEUE",
    "queue_wait": "JUNO_KG_QUEUE_WAIT",
    "sandbox": "JUNO_KG_SANDBOX",
    "worker_nice": "JUNO_KG_WORKER_NICE",
}


def _env_value(name: str, default: Any) -> Any:
    value = os.environ.get(name)
    if not value:
        return default
    if isinstance(default, bool):
        return value.strip().lower() not in ("0", "false", "no", "off")
    return type(default)(float(value))


@dataclass(frozen=True)
class Limits:
    """The endpoint's limits; each has an environment variable and a ``serve`` option."""

    timeout: float = 10.0  #: seconds a query may run before its worker is stopped
    max_rows: int = 10_000  #: result rows (SELECT) or triples (CONSTRUCT/DESCRIBE) returned
    max_request: int = 32 * 1024  #: bytes of query text (GET) or request body (POST)
    workers: int = 2  #: query worker processes
    cache: int = 1024  #: answers kept (LRU) for repeated queries; 0 turns the cache off
    max_answer: int = 16 << 20  #: bytes of one answer; more is cut, like the row cap
    worker_memory: int = 1024  #: MB of address space of one worker (RLIMIT_AS)
    max_nesting: int = 64  #: depth of brackets (and runs of ! - + ^) in a query
    max_header: int = 16 * 1024  #: bytes of request header fields (the URL has its own cap)
    header_timeout: float = 10.0  #: seconds to send a request's headers (and its body)
    per_client: int = 1  #: queries of one client address running at once
    #: queries of one client address waiting for their turn (each at most ``queue_wait``);
    #: more are refused at once (429)
    per_client_queue: int = 16
    queue_wait: float = 10.0  #: seconds a query may wait for a free worker before a 503
    #: query workers in a network namespace of their own (no network at all); turning it
    #: off is an explicit opt-out for platforms without one
    sandbox: bool = True
    #: how much lower the query workers' CPU priority is than the server's (``nice``): when
    #: the cores are all busy the event loop, which every request passes through, goes first
    worker_nice: int = 5

    @classmethod
    def from_env(cls, **overrides: Any) -> Limits:
        values = {f.name: _env_value(ENVIRONMENT[f.name], f.default) for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        limits = cls(**values)
        if limits.timeout <= 0 or limits.max_rows < 1 or limits.max_request < 64 \
                or limits.workers < 1 or limits.cache < 0 or limits.max_answer < 1024 \
                or limits.worker_memory < 256 or limits.max_nesting < 8 \
                or limits.max_header < 1024 or limits.header_timeout <= 0 \
                or limits.per_client < 1 or limits.per_client_queue < 0 \
                or limits.queue_wait < 0 or not 0 <= limits.worker_nice <= 19:
            raise ValueError(f"limits out of range: {limits}")
        return limits

    @property
    def max_url(self) -> int:
        """Bytes of a request line: room for a query of ``max_request`` bytes, %-encoded."""
        return 3 * self.max_request + 4096

    def headers(self) -> dict[str, str]:
        return {"X-Query-Time-Limit": f"{self.timeout:g}",
                "X-Result-Row-Limit": str(self.max_rows),
                "X-Result-Byte-Limit": str(self.max_answer),
                "X-Request-Size-Limit": str(self.max_request)}
