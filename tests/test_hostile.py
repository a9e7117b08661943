"""Hostile clients against ``juno-kg serve`` as shipped (a real process, loopback only).

Each class of issue 10, with more variants than the issue lists: no query makes any process
of the server open an outgoing connection; memory bombs and over-deep nesting are stopped by a
limit and the endpoint answers next; one client cannot starve the others; slow clients are
shed; malformed requests get a 4xx, never a 5xx. Every request loop is bounded in count and
every request in time.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from juno_kg.guard import check_query
from juno_kg.limits import Limits, Refused
from juno_kg.workers import decode_reply, worker_main

from .conftest import LiveServer, juno_kg_serve

TIMEOUT = 30  # seconds, for any one request of a test


@pytest.fixture(scope="module")
def hostile(built, tmp_path_factory) -> Iterator[LiveServer]:
    """``juno-kg serve`` with limits small enough to hit quickly."""
    env = {"JUNO_KG_QUERY_TIMEOUT": "3", "JUNO_KG_WORKER_MEMORY_MB": "700",
           "JUNO_KG_HEADER_TIMEOUT": "2", "JUNO_KG_QUEUE_WAIT": "4",
           "JUNO_KG_MAX_ANSWER_BYTES": "200000", "JUNO_KG_CACHE_ENTRIES": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        log = tmp_path_factory.mktemp("hostile") / "console.log"
        with juno_kg_serve(built, log, "--workers", "2") as server:
            yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def get(server: LiveServer, query: str, accept: str = "application/sparql-results+json",
        **kwargs) -> httpx.Response:
    return httpx.get(f"{server.url}/sparql", params={"query": query},
                     headers={"Accept": accept}, timeout=TIMEOUT, **kwargs)


def post(server: LiveServer, query: str) -> httpx.Response:
    return httpx.post(f"{server.url}/sparql", content=query.encode(), timeout=TIMEOUT,
                      headers={"Content-Type": "application/sparql-query"})


def answers_next(server: LiveServer) -> None:
    response = get(server, "ASK { ?s ?p ?o }")
    assert response.status_code == 200 and response.json()["boolean"] is True


# --------------------------------------------------------------------------- 1. SSRF

def service_variants(url: str) -> list[str]:
    """Ways to say SERVICE that a naive tokenizer misses (the issue's, and more)."""
    return [
        f"SELECT * WHERE {{ ?s ?p 1SERVICE<{url}>{{}} }}",
        f"SELECT * WHERE {{ ?s ?p 1.5SERVICE<{url}>{{}} }}",
        f"SELECT * WHERE {{ ?s ?p trueSERVICE<{url}>{{}} }}",
        f"SELECT * WHERE {{ ?s ?p falseSERVICE<{url}>{{}} }}",
        "SELECT * WHERE { ?s ?p ?o SERVICE:x{} }",
        f"SELECT * WHERE {{ ?x#c '''\n SERVICE <{url}> {{ }} }} #'''",
        f"SELECT * WHERE {{ ?x#c \"\"\"\n SERVICE <{url}> {{ }} }} #\"\"\"",
        f"SELECT * WHERE {{ FILTER(1<2)SERVICE?svc#>\n {{ }} VALUES ?svc {{ <{url}> }} }}",
        f"SELECT * WHERE {{ FILTER(1<=2)SERVICE<{url}>{{}} }}",
        f"PREFIX ex: <urn:x:> SELECT * WHERE {{ ?s ?p ex:a\\# SERVICE <{url}> {{}} }}",
        f"PREFIX ex: <urn:x:> SELECT * WHERE {{ ?s ?p ex:a\\' SERVICE <{url}> {{}} }} #'",
        f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ }} }}",
        f"SELECT * WHERE {{ SERV\\u0049CE SILENT <{url}> {{ }} }}",
        f"SELECT * WHERE {{ sErViCe <{url}> {{ }} }}",
        f"SELECT * WHERE {{ OPTIONAL {{ SERVICE <{url}> {{ }} }} }}",
        f"ASK {{ {{ SELECT * {{ SERVICE <{url}> {{ }} }} }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"DESCRIBE ?s WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    ]


def test_the_guard_refuses_every_spelling_of_service(listener):
    for query in service_variants(listener.url):
        with pytest.raises(Refused) as refused:
            check_query(query, [])
        assert refused.value.status == 400, query


def test_no_service_or_remote_graph_reaches_a_listener(hostile, listener):
    attempts = [(q, {}) for q in service_variants(listener.url)] + [
        (f"SELECT * FROM <{listener.url}> WHERE {{ ?s ?p ?o }}", {}),
        (f"SELECT * FROM NAMED <{listener.url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}", {}),
        (f"SELECT*FROM<{listener.url}>{{?s ?p ?o}}", {}),
        ("SELECT * WHERE { ?s ?p ?o } LIMIT 1", {"default-graph-uri": listener.url}),
        ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 1", {"named-graph-uri": listener.url}),
        (f"LOAD <{listener.url}>", {}),
        (f"LOAD SILENT <{listener.url}> INTO GRAPH <urn:g>", {}),
    ]
    harmless = [f"SELECT * WHERE {{ BIND(IRI('{listener.url}') AS ?u) ?u ?p ?o }}",
                f"DESCRIBE <{listener.url}>", f"ASK {{ GRAPH <{listener.url}> {{ ?s ?p ?o }} }}"]
    for query, extra in attempts + [(q, {}) for q in harmless]:
        response = httpx.get(f"{hostile.url}/sparql", params={"query": query, **extra},
                             timeout=TIMEOUT)
        expected = (200,) if query in harmless else range(400, 500)
        assert response.status_code in expected, (query, response.text)
        assert "os error" not in response.text and "refused" not in response.text.lower() \
            or "SPARQL request refused" in response.text, response.text
    for update in (f"LOAD <{listener.url}>", f"LOAD <{listener.url}> INTO GRAPH <urn:g>"):
        response = httpx.post(f"{hostile.url}/sparql", content=update.encode(), timeout=TIMEOUT,
                              headers={"Content-Type": "application/sparql-update"})
        assert response.status_code == 403
    time.sleep(0.3)
    assert listener.connections == 0


def test_the_workers_live_in_a_network_namespace_of_their_own(hostile):
    server_ns = os.readlink(f"/proc/{hostile.process.pid}/ns/net")
    workers = hostile.workers()
    assert len(workers) == 2
    for pid in workers:
        assert os.readlink(f"/proc/{pid}/ns/net") != server_ns
        # the namespace has no interface up: no route to anything, loopback included
        routes = Path(f"/proc/{pid}/net/route").read_text().splitlines()[1:]
        assert routes == []
        devices = Path(f"/proc/{pid}/net/dev").read_text().split()
        assert "eth0:" not in devices


def _connect_in_worker_namespace(port: int, out) -> None:
    from juno_kg.workers import isolate_network

    out.send(isolate_network())
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        out.send("connected")
    except OSError as exc:
        out.send(f"refused: {exc}")


def test_a_socket_opened_in_a_worker_namespace_cannot_connect(listener):
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_connect_in_worker_namespace, args=(listener.port, child))
    process.start()
    try:
        assert parent.poll(30) and parent.recv() is None  # the namespace was made
        assert parent.poll(30)
        outcome = parent.recv()
    finally:
        process.join(10)
    assert outcome.startswith("refused"), outcome
    assert listener.connections == 0


def test_service_run_by_a_worker_itself_never_reaches_the_listener(built, listener):
    """The text guard bypassed entirely: the worker function is given SERVICE directly."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=worker_main, daemon=True,
                          args=(child, str(built / "dumps/juno-kg.nq"), Limits()))
    process.start()
    try:
        assert parent.poll(60) and parent.recv() == ("ready",)
        for query in (f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
                      f"SELECT * WHERE {{ ?s ?p 1SERVICE<{listener.url}>{{}} }}",
                      "SELECT * WHERE { SERVICE <http://127.0.0.1:1/closed> { ?s ?p ?o } }"):
            parent.send({"text": query, "default": [], "named": [], "prefixes": {},
                         "media": "application/sparql-results+json"})
            assert parent.poll(30)
            status, message, *_ = decode_reply(parent.recv_bytes())
            assert status == 400, message
            assert "os error" not in message and "Connection refused" not in message
    finally:
        process.kill()
        process.join(10)
    assert listener.connections == 0


# Where no network namespace can be made: the limits of this user namespace allow none.
NO_NAMESPACES = ("unshare", "--user", "--map-root-user", "sh", "-c",
                 "echo 0 > /proc/sys/user/max_net_namespaces && "
                 "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"", "sh")


@pytest.fixture(scope="module")
def without_namespaces() -> tuple[str, ...]:
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        pytest.skip("util-linux's unshare is not installed (Debian has it in every system)")
    made = subprocess.run([*NO_NAMESPACES, "unshare", "--net", "true"], capture_output=True,
                          text=True, timeout=30)
    if "No space left on device" not in made.stderr:
        pytest.skip(f"cannot make a user namespace that forbids network namespaces here "
                    f"(exit {made.returncode}: {made.stderr.strip()})")
    return NO_NAMESPACES


def test_without_network_namespaces_the_server_refuses_to_start(built, without_namespaces):
    import subprocess
    import sys

    from .conftest import free_port

    port = free_port()
    done = subprocess.run([*without_namespaces, sys.executable, "-m", "juno_kg", "serve",
                           "--dist", str(built), "--port", str(port)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done
    assert "cannot be cut off from the network" in done.stderr
    assert "--no-sandbox" in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert "serving" not in done.stdout  # it never said it was serving
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_no_sandbox_starts_there_and_the_text_check_still_refuses_service(
        built, without_namespaces, tmp_path, listener):
    with juno_kg_serve(built, tmp_path / "console.log", "--no-sandbox",
                       wrapper=without_namespaces) as server:
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            ok = http.get("/sparql", params={"query": "ASK { ?s ?p ?o }"},
                          headers={"Accept": "application/sparql-results+json"})
            assert ok.status_code == 200 and ok.json()["boolean"] is True
            refused = http.get("/sparql", params={
                "query": f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"})
            assert refused.status_code == 400
        assert listener.connections == 0
        assert "Traceback" not in server.console()


# --------------------------------------------------------------------------- 2. memory

def concat_bomb(steps: int) -> str:
    binds = " ".join(f"BIND(CONCAT(?v{i}, ?v{i}) AS ?v{i + 1})" for i in range(steps))
    return f'SELECT (STRLEN(?v{steps}) AS ?n) WHERE {{ BIND("0123456789abcdef" AS ?v0) {binds} }}'


@pytest.mark.parametrize("bomb", [
    concat_bomb(34),
    "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY RAND() LIMIT 1",
    "SELECT (GROUP_CONCAT(STR(?c); separator='xxxxxxxxxxxxxxxxxxxxxxxx') AS ?g) "
    "WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
])
def test_a_memory_bomb_is_stopped_and_the_endpoint_answers_next(hostile, bomb):
    before = hostile.workers()
    response = post(hostile, bomb)
    assert response.status_code == 503, response.text
    assert "memory" in response.text or "time limit" in response.text
    assert "Traceback" not in response.text
    answers_next(hostile)
    assert len(hostile.workers()) == 2 and hostile.workers() != before  # replaced


def test_answers_are_cut_at_the_byte_limit_and_the_client_told(hostile):
    response = get(hostile, "SELECT * WHERE { ?s ?p ?o }")
    assert response.status_code == 200
    assert len(response.content) <= 200_000
    assert response.headers["x-results-truncated"] == "true"
    assert response.headers["x-result-byte-limit"] == "200000"
    assert response.json()["results"]["bindings"]  # cut, not emptied
    big = get(hostile, "CONSTRUCT WHERE { ?s ?p ?o }", accept="application/n-triples")
    assert big.status_code == 200 and len(big.content) <= 200_000
    assert big.headers["x-results-truncated"] == "true"


def raw_request(server: LiveServer, head: bytes, timeout: float = 10) -> bytes:
    host, port = server.url.rsplit(":", 1)
    with socket.create_connection(("127.0.0.1", int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_header_fields_and_request_lines_are_limited(hostile):
    big_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n"
    assert raw_request(hostile, big_header).startswith(b"HTTP/1.1 431")
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(400)) + b"\r\n"
    assert raw_request(hostile, many).startswith(b"HTTP/1.1 431")
    long_line = b"GET /?" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert raw_request(hostile, long_line).split(b" ")[1] in (b"414", b"400")
    answers_next(hostile)


# --------------------------------------------------------------------------- 3. nesting

@pytest.mark.parametrize("bomb", [
    "SELECT * WHERE { FILTER(" + "(" * 15000 + "1" + ")" * 15000 + ") }",
    "SELECT * WHERE " + "{" * 15000 + "}" * 15000,
    "SELECT * WHERE { FILTER(" + "!" * 30000 + "true) }",
    "SELECT * WHERE { FILTER(" + "-" * 30000 + "1) }",
    "SELECT * WHERE { ?s " + "^" * 30000 + "<urn:p> ?o }",
    "SELECT * WHERE { ?s " + "(" * 15000 + "<urn:p>" + ")" * 15000 + " ?o }",
    "SELECT * WHERE { VALUES ?x { " + "[" * 15000 + "]" * 15000 + " } }",
    "SELECT * WHERE " + "{SELECT * WHERE " * 1500 + "{}" + "}" * 1500,
    "SELECT * WHERE { FILTER(" + "(" * 15000,  # unbalanced as well
])
def test_excessive_nesting_is_refused_before_parsing(hostile, bomb):
    before = hostile.workers()
    response = post(hostile, bomb)
    assert response.status_code == 400, response.text[:300]
    assert "nested too deeply" in response.text
    assert hostile.workers() == before  # no worker crashed
    answers_next(hostile)


def test_reasonable_nesting_still_runs(hostile):
    response = post(hostile, "SELECT * WHERE { FILTER(" + "(" * 40 + "1" + ")" * 40 + ") }")
    assert response.status_code == 200


# --------------------------------------------------------------------------- 4. fairness

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def from_address(address: str) -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, transport=httpx.HTTPTransport(local_address=address))


def test_one_client_cannot_starve_the_others(hostile):
    def attack(i: int) -> httpx.Response:
        with from_address("127.0.0.2") as client:
            return client.get(f"{hostile.url}/sparql",
                              params={"query": f"{RUNAWAY} # {i}"})

    with ThreadPoolExecutor(10) as pool:
        attacks = [pool.submit(attack, i) for i in range(10)]
        time.sleep(0.5)
        started = time.monotonic()
        with from_address("127.0.0.3") as client:
            legit = client.get(f"{hostile.url}/sparql", params={"query": "ASK { ?s ?p ?o }"},
                               headers={"Accept": "application/sparql-results+json"})
        waited = time.monotonic() - started
        for attack_ in attacks:  # every attack has its answer before the checks
            attack_.result()
    assert legit.status_code == 200 and waited < 2.5, (legit.status_code, waited)
    # one runs at a time; the rest wait their turn and are turned away when the queue wait
    # passes (503), or at once beyond the client's queue (429): each says when to come back
    refused = [r for r in (f.result() for f in attacks)
               if r.status_code == 429 or (r.status_code == 503 and "busy" in r.text)]
    assert len(refused) >= 7, [(f.result().status_code, f.result().text[:80]) for f in attacks]
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)


def test_a_full_queue_answers_503_with_retry_after_quickly(hostile):
    """Two runaway queries hold both workers until the time limit (3 s) kills them, two more
    (queued first) take the workers then: a query arriving at 0.5 s finds no worker within
    the queue wait (4 s) and is told to come back."""
    def hog(address: str) -> httpx.Response:
        with from_address(address) as client:
            return client.get(f"{hostile.url}/sparql", params={"query": f"{RUNAWAY} # {address}"})

    with ThreadPoolExecutor(5) as pool:
        hogs = [pool.submit(hog, f"127.0.0.{10 + i}") for i in range(2)]
        time.sleep(0.2)
        hogs += [pool.submit(hog, f"127.0.0.{12 + i}") for i in range(2)]
        time.sleep(0.3)
        started = time.monotonic()
        late = hog("127.0.0.20")
        waited = time.monotonic() - started
        [h.result() for h in hogs]
    assert late.status_code == 503 and "busy" in late.text, (late.status_code, late.text)
    assert "retry-after" in late.headers and waited < 6, waited
    answers_next(hostile)


def test_the_query_of_a_client_that_went_away_is_stopped(hostile):
    before = hostile.workers()
    with pytest.raises(httpx.TimeoutException):
        httpx.get(f"{hostile.url}/sparql", params={"query": f"{RUNAWAY} # gone"}, timeout=0.5)
    deadline = time.monotonic() + 2.5  # well before the 3 s time limit
    while time.monotonic() < deadline and set(hostile.workers()) >= set(before):
        time.sleep(0.1)
    assert not set(before) <= set(hostile.workers())  # its worker was killed, not left running
    answers_next(hostile)


# --------------------------------------------------------------------------- 5. slow clients

def test_the_site_answers_while_600_slow_clients_hold_connections(hostile):
    port = int(hostile.url.rsplit(":", 1)[1])
    slow: list[socket.socket] = []
    try:
        for i in range(600):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " if i % 2 else b"G")
            slow.append(sock)
        started = time.monotonic()
        page = httpx.get(f"{hostile.url}/index.html", timeout=10)
        assert page.status_code == 200 and time.monotonic() - started < 3
        answers_next(hostile)
        time.sleep(2.5)  # past the header timeout: the server has shed them
        shed = 0
        for sock in slow[:50]:
            sock.settimeout(2)
            try:
                data = sock.recv(1024)
                shed += data == b"" or data.startswith(b"HTTP/1.1 408")
            except (ConnectionResetError, TimeoutError):
                shed += 0
        assert shed == 50
    finally:
        for sock in slow:
            sock.close()


def test_a_slow_body_is_timed_out(hostile):
    port = int(hostile.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/"
                     b"sparql-query\r\nContent-Length: 100\r\n\r\nASK")
        sock.settimeout(10)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]


# --------------------------------------------------------------------------- 6. small holes

def test_javascript_iris_are_never_links(hostile):
    for scheme in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>",
                   "vbscript:x"):
        query = f'SELECT ?x WHERE {{ BIND(IRI("{scheme}") AS ?x) }}'
        page = get(hostile, query, accept="text/html")
        assert page.status_code == 200
        assert 'href="javascript' not in page.text.lower()
        assert 'href="data:' not in page.text and 'href="vbscript' not in page.text


def test_every_answer_has_security_and_cors_headers(hostile):
    for path in ("/", "/index.html", "/sparql", "/id/person/kimya-dawson", "/nothing-here",
                 "/sparql?query=nonsense"):
        response = httpx.get(f"{hostile.url}{path}", timeout=TIMEOUT)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"] or \
            "default-src 'self'" in response.headers["content-security-policy"], path
        assert response.headers["access-control-allow-origin"] == "*", path


def test_an_unexpected_error_is_a_500_with_cors_and_no_traceback():
    import asyncio

    from juno_kg.httpguard import Hardened

    async def broken(scope, receive, send):
        raise RuntimeError("boom")

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    asyncio.run(Hardened(broken)({"type": "http", "path": "/"}, None, send))
    assert sent[0]["status"] == 500
    assert (b"access-control-allow-origin", b"*") in sent[0]["headers"]
    assert b"boom" not in sent[1]["body"] and b"Traceback" not in sent[1]["body"]


def test_the_service_description_is_not_poisoned_by_host(hostile):
    turtle = {"Accept": "text/turtle"}
    evil = httpx.get(f"{hostile.url}/sparql", headers={**turtle, "Host": "evil.example"},
                     timeout=TIMEOUT)
    assert evil.status_code == 200
    honest = httpx.get(f"{hostile.url}/sparql", headers=turtle, timeout=TIMEOUT)
    assert "evil.example" not in honest.text
    assert hostile.url.replace("http://", "") in honest.text
    injected = httpx.get(f"{hostile.url}/sparql", timeout=TIMEOUT,
                         headers={**turtle, "Host": 'x"><script>alert(1)</script>'})
    assert injected.status_code < 500 and "<script>" not in injected.text


@pytest.mark.parametrize("query", [
    "SELECT * FROM NAMED", "ASK FROM NAMED", "SELECT * FROM", "ASK FROM", "SELECT * FROM NAMED ?x",
    "SELECT * WHERE { BIND(<http://example.org/unknown>(1) AS ?x) }",
    "SELECT * WHERE { ?s ?p ?o } LIMIT 99999999999999999999999",
    "SELECT (1/0 AS ?x) (xsd:nope('1') AS ?y) WHERE {}",
    "SELECT * WHERE { ?s ?p ?o } ORDER BY", "SELECT (COUNT(*) AS ?n) WHERE {} GROUP BY (",
    "SELECT", "ASK {", "}}}}", "\x00", "SELECT * WHERE { ?s ?p '''",
    "SELECT * WHERE { <\\u0000> ?p ?o }", "SELECT * WHERE { ?s ?p \"\\uD800\" }",
])
def test_malformed_queries_are_never_a_5xx(hostile, query):
    for response in (get(hostile, query), post(hostile, query)):
        assert 400 <= response.status_code < 500, (query, response.status_code, response.text)
        assert "Traceback" not in response.text


def test_malformed_requests_are_never_a_5xx(hostile):
    long = "a" * 300
    for path in (f"/id/{long}", f"/id/person/{long}", f"/page/{long}", f"/page/person/{long}",
                 f"/graph/{long}", f"/data/{long}.ttl", f"/dumps/{long}", f"/{long}",
                 "/id/%00", "/page/..%2f..%2fetc/passwd", "/graph/..%2fmanifest"):
        response = httpx.get(f"{hostile.url}{path}", timeout=TIMEOUT)
        assert 400 <= response.status_code < 500 or response.status_code == 303, \
            (path, response.status_code)
    for headers in ({"Accept": "*/*;q=abc"}, {"Accept": "text/html;q=x, */*"},
                    {"Accept": ";;;,,,"}, {"Accept": "a" * 2000}, {"Content-Type": "\x7f"}):
        response = httpx.get(f"{hostile.url}/sparql", params={"query": "ASK {}"},
                             headers=headers, timeout=TIMEOUT)
        assert response.status_code < 500, (headers, response.status_code)
    assert get(hostile, "ASK {}", accept="*/*;q=abc").status_code == 200
    assert get(hostile, "SELECT*{?s ?p ?o}LIMIT 1").status_code == 200
    assert get(hostile, "SELECT*WHERE{?s ?p ?o}LIMIT 1").status_code == 200
    assert "Traceback" not in hostile.console(), hostile.console()[-2000:]
