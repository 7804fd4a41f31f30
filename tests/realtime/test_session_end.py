"""An ended session loses its live feed: the shop stream is closed with 4401 ("sign in again") at
logout, at deactivation, and across workers. Real server, real WebSocket clients, every receive
with a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.realtime import streams
from api.tables import Staff
from tests.conftest import BACKEND
from tests.factories import PIN, make_staff
from tests.realtime.conftest import ws_url
from tests.realtime.test_streams import TIMEOUT, emit, recv_events

SIGN_IN_AGAIN = 4401


async def sign_in(host: str, username: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A new session for `username` on `host`: its HTTP client and the headers for a WebSocket."""
    client = httpx.AsyncClient(base_url=f"http://{host}")
    r = await client.post("/api/auth/login", json={"username": username, "pin": PIN})
    assert r.status_code == 200, r.text
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]
    return client, {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}


async def until_closed(ws: Any, timeout: float = TIMEOUT) -> tuple[list[dict[str, Any]], int | None]:
    """The events a socket receives until the server closes it, and the close code.

    No close within `timeout` of the last message raises TimeoutError: the stream stayed open.
    """
    events = []
    try:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if message.get("type") != "ping":
                events.append(message)
    except ConnectionClosed as closed:
        return events, closed.rcvd.code if closed.rcvd else None


async def live_tick(*sockets: Any) -> None:
    """One event that every socket receives: each is subscribed and live."""
    await emit(1)
    for ws in sockets:
        while (await recv_events(ws))["type"] != "test.tick":
            pass


async def test_logout_closes_that_sessions_stream_only(live: str, clean: None) -> None:
    person = await make_staff("advisor")
    a, a_headers = await sign_in(live, person["username"])
    b, b_headers = await sign_in(live, person["username"])  # the same person on a second tablet
    async with (
        contextlib.aclosing(a),
        contextlib.aclosing(b),
        connect(ws_url(live, "/ws/shop"), additional_headers=a_headers, open_timeout=TIMEOUT) as ws_a,
        connect(ws_url(live, "/ws/shop"), additional_headers=b_headers, open_timeout=TIMEOUT) as ws_b,
    ):
        await live_tick(ws_a, ws_b)
        assert (await a.post("/api/auth/logout")).status_code == 204
        await emit(3)
        events, code = await until_closed(ws_a)
        assert code == SIGN_IN_AGAIN == streams.SIGNED_OUT
        assert [e for e in events if e["type"] == "test.tick"] == [], "nothing after the logout"
        ticks = 0
        while ticks < 3:  # the second tablet's stream goes on
            ticks += (await recv_events(ws_b))["type"] == "test.tick"


async def test_deactivation_closes_every_stream_of_that_person(live: str, clean: None) -> None:
    person = await make_staff("technician")
    colleague = await make_staff("advisor")
    c, headers = await sign_in(live, person["username"])
    other, other_headers = await sign_in(live, colleague["username"])
    async with (
        contextlib.aclosing(c),
        contextlib.aclosing(other),
        connect(ws_url(live, "/ws/shop"), additional_headers=headers, open_timeout=TIMEOUT) as ws,
        connect(ws_url(live, "/ws/shop"), additional_headers=other_headers, open_timeout=TIMEOUT) as ws_other,
    ):
        await live_tick(ws, ws_other)
        # What the administration's "active" tick box writes.
        await Staff.update({Staff.active: False}).where(Staff.id == person["id"])
        _, code = await until_closed(ws, timeout=10)
        assert code == SIGN_IN_AGAIN
        await live_tick(ws_other)  # the colleague's stream goes on


async def test_a_dead_session_is_told_to_sign_in_again(live: str, clean: None) -> None:
    person = await make_staff("advisor")
    c, headers = await sign_in(live, person["username"])
    async with contextlib.aclosing(c):
        assert (await c.post("/api/auth/logout")).status_code == 204
        # The tablet slept through its logout and reconnects with the old cookie: not a bare 403
        # (which a client can only retry), but a close it understands.
        async with connect(ws_url(live, "/ws/shop"), additional_headers=headers, open_timeout=TIMEOUT) as ws:
            events, code = await until_closed(ws)
        assert code == SIGN_IN_AGAIN and events == []


@pytest.mark.skipif(BACKEND != "postgresql", reason="several workers need PostgreSQL (PostgreSQL suite)")
async def test_logout_through_one_worker_closes_the_stream_on_another(clean: None) -> None:
    from tests.realtime.test_cross_worker import REDIS_URL, _redis_ok, _workers

    if not await _redis_ok(REDIS_URL):
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    person = await make_staff("advisor")
    async with _workers(REDIS_URL) as (a, b):
        c, headers = await sign_in(a, person["username"])
        async with (
            contextlib.aclosing(c),
            connect(f"ws://{b}/ws/shop", additional_headers=headers, open_timeout=TIMEOUT) as ws,
        ):
            assert (await c.post("/api/auth/logout")).status_code == 204
            _, code = await until_closed(ws)
            assert code == SIGN_IN_AGAIN
