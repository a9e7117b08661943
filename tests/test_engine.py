"""The query worker pool of ``/sparql`` (juno_kg.engine) on its own: hand-off of waiting
queries, kills and replacements, with real workers."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from juno_kg.engine import Engine
from juno_kg.guard import Query
from juno_kg.limits import Limits

JSON = "application/sparql-results+json"
QUICK = Query("SELECT ?s WHERE { ?s ?p ?o } LIMIT 3", "SELECT")
SLOWER = Query("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?a ?e ?f }",
               "SELECT")


@pytest.fixture
def dump(built):
    return built / "dumps" / "juno-kg.nq"


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_worker_given_up_on_is_replaced_once_and_given_nothing_more(dump, caplog):
    """The race a load generator hits when it stops: a waiting query is given a worker the
    moment another answer arrives, and its client is gone before its request runs again.
    That worker is killed for it, and must not be handed the next query (or put back as
    free) by the answer it may still send, nor replaced twice."""
    caplog.set_level(logging.ERROR, logger="asyncio")

    async def scenario() -> None:
        engine = Engine(dump, Limits(workers=1, cache=0, per_client=8))
        await engine.start()
        try:
            (first,) = engine._all
            send = engine._send
            victim: list[asyncio.Task] = []

            def send_then_cancel(worker, job):  # the client of B goes away at once
                send(worker, job)
                if job.job["text"] == QUICK.text and victim:
                    victim[0].cancel()

            engine._send = send_then_cancel  # type: ignore[method-assign]
            a = asyncio.ensure_future(engine.run(SLOWER, JSON, {}, "a"))
            await asyncio.sleep(0)
            b = asyncio.ensure_future(engine.run(QUICK, JSON, {}, "b"))
            victim.append(b)
            c = asyncio.ensure_future(engine.run(QUICK, JSON, {}, "c"))
            assert (await a).status == 200
            with pytest.raises(asyncio.CancelledError):
                await b
            assert first not in engine._all and first not in engine._free
            reply = await c  # on the replacement, not on the killed worker
            assert reply.status == 200, reply
            await asyncio.gather(*engine._replacing)
            assert len(engine._all) == 1 and first not in engine._all
            assert len([w for w in engine._all if w.process.is_alive()]) == 1
            assert (await engine.run(QUICK, JSON, {}, "d")).status == 200
        finally:
            await engine.stop()

    run(scenario())
    gc.collect()
    assert "never retrieved" not in caplog.text


def test_replace_later_twice_replaces_once(dump):
    async def scenario() -> None:
        engine = Engine(dump, Limits(workers=1, cache=0))
        await engine.start()
        try:
            (worker,) = engine._all
            engine._replace_later(worker)
            engine._replace_later(worker)
            assert worker.channel.on_answer is None and worker not in engine._free
            await asyncio.gather(*engine._replacing)
            assert len(engine._all) == 1 and worker not in engine._all
            assert (await engine.run(QUICK, JSON, {}, "x")).status == 200
        finally:
            await engine.stop()

    run(scenario())
