"""The one SPARQL 1.1 Protocol client: a query sent to an endpoint, its answer checked.

``juno-kg query --endpoint``, ``juno-kg load`` (its COUNT checks) and ``juno-kg links
resolve`` all ask endpoints through :func:`send`: GET, or form-encoded POST (what every
store accepts; Virtuoso waits forever on ``application/sparql-query``), with one way of
saying that an endpoint is unreachable, slow, or answered an error. httpx is imported when
a request is made, not before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import EndpointError, JunoKGError

GET_LIMIT = 2000  #: longest URL query string sent with GET; longer queries are POSTed
RESULTS_JSON = "application/sparql-results+json"


def excerpt(text: str, limit: int = 300) -> str:
    """An answer's body on one line, cut to ``limit`` characters, for an error message."""
    return " ".join(text.split())[:limit]


def _grouped(fields: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in fields:
        out.setdefault(key, []).append(value)
    return out


def send(endpoint: str, fields: Sequence[tuple[str, str]], accept: str, *,
         timeout: float = 30.0, method: str = "post", client: Any = None,
         headers: dict[str, str] | None = None, error: type[JunoKGError] = EndpointError,
         hint: str = "check the URL and that the store is running") -> Any:
    """Send the protocol ``fields`` (``query``, ``default-graph-uri`` …) to ``endpoint`` and
    return the ``httpx.Response`` of a 2xx/3xx answer; anything else raises ``error``.

    ``method`` is ``get``, ``post`` or ``auto`` (GET while the URL stays short); ``client``
    an ``httpx.Client`` to reuse (its authentication and timeout), else one request.
    """
    import httpx

    headers = {"Accept": accept, **(headers or {})}
    if method == "auto":
        method = "get" if len(str(httpx.QueryParams(list(fields)))) <= GET_LIMIT else "post"
    requester = client or httpx
    options = {} if client is not None else {"timeout": timeout}
    try:
        if method == "get":
            response = requester.get(endpoint, params=list(fields), headers=headers,
                                     follow_redirects=True, **options)
        else:
            response = requester.post(endpoint, data=_grouped(fields), headers=headers,
                                      follow_redirects=True, **options)
    except httpx.TimeoutException:
        raise error(f"{endpoint}: no answer within {timeout:g} s",
                    hint="is the store running and loaded? raise --timeout") from None
    except httpx.InvalidURL as exc:
        raise error(f"{endpoint}: not a usable URL ({exc})") from None
    except (httpx.HTTPError, OSError) as exc:
        raise error(f"cannot reach {endpoint}: {str(exc) or type(exc).__name__}",
                    hint=hint) from None
    if response.status_code >= 400:
        raise error(f"{endpoint} answered HTTP {response.status_code} "
                    f"{response.reason_phrase}: {excerpt(response.text, 600)}")
    return response


def select(endpoint: str, query: str, **options: Any) -> list[dict]:
    """The ``results.bindings`` of a SELECT sent by form-encoded POST (SPARQL JSON)."""
    error = options.get("error", EndpointError)
    response = send(endpoint, [("query", query)], RESULTS_JSON, **options)
    try:
        return response.json()["results"]["bindings"]
    except (ValueError, KeyError, TypeError) as exc:
        raise error(f"{endpoint} did not answer with SPARQL JSON results ({exc})") from None
