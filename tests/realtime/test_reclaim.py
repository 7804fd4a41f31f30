"""When the memory of closed sockets is given back (api/realtime/reclaim.py), on a test-controlled clock,
and that a closed socket's connection is freed as it ends, without a garbage collection."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from api.realtime import connections
from api.realtime import hub as hubs
from api.realtime.reclaim import Reclaimer
from tests.factories import ro_body
from tests.realtime.conftest import staff_cookie, ws_url


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.collected = 0
        self.given_back = 0

    def collect(self) -> None:
        self.collected += 1

    def give_back(self) -> None:
        self.given_back += 1


def reclaimer(clock: Clock, done: Recorder, still_open: int = 0) -> Reclaimer:
    return Reclaimer(
        lambda: still_open,
        give_back=done.give_back,
        collect=done.collect,
        clock=clock,
        burst=10,
        quiet=2.0,
        longest=30.0,
        collect_below=200,
    )


def test_a_few_closes_are_left_alone() -> None:
    clock, done = Clock(), Recorder()
    r = reclaimer(clock, done)
    for _ in range(9):
        r.closed()
    clock.now += 3600
    assert not r.due()
    r.check()
    assert (done.collected, done.given_back) == (0, 0)


def test_a_burst_is_given_back_once_the_closes_pause() -> None:
    clock, done = Clock(), Recorder()
    r = reclaimer(clock, done)
    for _ in range(10):
        r.closed()
        clock.now += 0.1
    assert not r.due()  # 0.1 s after the last close
    clock.now += 1.8
    r.check()
    assert not r.due() and done.given_back == 0
    clock.now += 0.2  # the closes have paused for the quiet time
    assert r.due()
    r.check()
    assert (done.collected, done.given_back, r.closed_since) == (1, 1, 0)
    r.check()  # nothing closed since: nothing more to give back
    assert done.given_back == 1


def test_closes_that_never_pause_are_reclaimed_now_and_then() -> None:
    clock, done = Clock(), Recorder()
    r = reclaimer(clock, done)
    for _ in range(29):  # one a second: never quiet for 2 s
        r.closed()
        clock.now += 1.0
        r.check()
    assert done.given_back == 0
    r.closed()
    clock.now += 1.0  # 30 s since the first close of the burst
    r.check()
    assert done.given_back == 1


def test_no_full_collection_while_many_sockets_stay_open() -> None:
    clock, done = Clock(), Recorder()
    r = reclaimer(clock, done, still_open=5000)
    for _ in range(10):
        r.closed()
    clock.now += 2.0
    r.check()
    assert (done.collected, done.given_back) == (0, 1)  # its pause would grow with the open sockets


async def test_a_burst_sets_a_timer_on_the_loop() -> None:
    clock, done = Clock(), Recorder()
    r = reclaimer(clock, done)
    for _ in range(9):
        r.closed()
    assert r._timer is None
    r.closed()
    assert r._timer is not None
    r.cancel()
    assert r._timer is None


@pytest.fixture
def no_collections() -> Iterator[None]:
    """The app collects the old generations rarely: a test that must not depend on a collection
    runs with none at all."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def test_a_closed_status_socket_is_freed_without_a_garbage_collection(
    live: str, clean: None, no_collections: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = hubs.get()
    monkeypatch.setattr(hub.reclaimer, "_collect", lambda: 0)  # earlier tests' closes may be due
    client, _ = await staff_cookie(live)
    async with contextlib.aclosing(client):
        r = await client.post("/api/repair-orders", json=ro_body())
        assert r.status_code == 201
    ro = r.json()
    async with connect(ws_url(live, f"/ws{ro['status_url'].replace('/s/', '/status/')}"), open_timeout=5):
        pages: set[Any] = set()
        for _ in range(500):  # until the handler has subscribed and, idle, lent the hub its writer
            pages = hub.customers.get(ro["id"], set())
            if pages and next(iter(pages)).writer is not None:
                break
            await asyncio.sleep(0.01)
        (sub,) = pages
        writer = sub.writer
        assert writer is not None
        # The HTTP protocol that read the upgrade request was done with the connection at once.
        path = ro["status_url"].replace("/s/", "/ws/status/")
        upgraded = [
            o
            for o in gc.get_objects()
            if type(o) is connections.HttpProtocol and getattr(o, "url", b"") == path.encode()
        ]
        assert upgraded == []
        # The server's side of this connection: uvicorn's protocol (with the transport, the Litestar
        # socket and the handler's state) and the `websockets` connection. Both stayed alive in
        # reference cycles until a collection.
        alive = [weakref.ref(writer.protocol), weakref.ref(writer.connection)]
        del sub, writer, pages
    for _ in range(500):  # the server finishes closing on this same loop
        if all(ref() is None for ref in alive):
            break
        await asyncio.sleep(0.01)
    assert [ref() is None for ref in alive] == [True, True]
