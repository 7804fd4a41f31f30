"""The fan-out writes each event's frame straight to idle sockets, and queues for the rest.

Real server and real WebSocket clients (every receive with a timeout), plus the ordering rule of
Subscriber.offer on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from api.realtime import hints, streams
from api.realtime import hub as hubs
from tests.realtime.conftest import staff_cookie, ws_url
from tests.realtime.test_streams import TIMEOUT, emit, recv_events


async def until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Wait for `condition` (checked on every loop turn), or fail saying `what` did not happen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0)


def idle(count: int) -> Callable[[], bool]:
    """`count` staff streams are open, and each has lent the hub its writer (it waits, idle)."""

    def check() -> bool:
        staff = hubs.get().staff
        return len(staff) == count and all(sub.writer is not None for sub in staff)

    return check


async def ticks(ws: Any, count: int) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < count:
        message = await recv_events(ws)
        if message["type"] == "test.tick":
            seqs.append(message["seq"])
    return seqs


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70_000])
def test_frame_is_what_the_websockets_library_would_send(size: int) -> None:
    text = ("车" + "x" * size)[:size] if size else ""
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    assert hubs.frame(text) == expected


def test_once_a_message_is_queued_the_next_ones_queue_behind_it() -> None:
    written: list[bytes] = []
    paused = [False]

    def writer(frame: bytes) -> bool:
        if paused[0]:
            return False
        written.append(frame)
        return True

    sub = hubs.Subscriber(writer=writer)
    assert sub.offer(1, "one", b"f1") is True
    paused[0] = True
    assert sub.offer(2, "two", b"f2") is False  # paused: queued, and the handler is woken
    paused[0] = False
    # The transport could take this one, but the queued message must go first: queue it too.
    assert sub.offer(3, "three", b"f3") is False
    assert written == [b"f1"] and list(sub.backlog) == [(2, "two"), (3, "three")] and sub.wake.is_set()


async def test_idle_sockets_get_each_event_written_straight(live: str, clean: None) -> None:
    client, cookie = await staff_cookie(live)
    hub = hubs.get()
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(contextlib.aclosing(client))
        sockets = [
            await stack.enter_async_context(
                connect(ws_url(live, "/ws/shop"), additional_headers={"Cookie": cookie}, open_timeout=TIMEOUT)
            )
            for _ in range(3)
        ]
        await until(idle(3), "the three streams are idle")
        before = hub.written_direct
        await emit(5)
        got = [await ticks(ws, 5) for ws in sockets]
        assert got[0] == got[1] == got[2] and got[0] == sorted(set(got[0]))
        assert hub.written_direct - before == 15  # every delivery went straight out: no task woken


async def test_a_paused_transport_falls_back_to_the_queue_in_order(live: str, clean: None) -> None:
    client, cookie = await staff_cookie(live)
    hub = hubs.get()
    async with (
        contextlib.aclosing(client),
        connect(ws_url(live, "/ws/shop"), additional_headers={"Cookie": cookie}, open_timeout=TIMEOUT) as ws,
    ):
        await until(idle(1), "the stream is idle")
        (sub,) = hub.staff
        writer = sub.writer
        assert isinstance(writer, streams.SocketWriter)
        before = hub.written_direct
        await emit(3)
        await until(lambda: hub.written_direct - before == 3, "three events went straight out")
        # What the transport does past its high-water mark (a client that reads too slowly).
        writer.protocol.pause_writing()
        await emit(4)
        # Queued: the handler took the first one and waits for the transport to drain.
        await until(lambda: sub.writer is None and len(sub.backlog) == 3, "the handler sends the queue")
        assert hub.written_direct - before == 3, "written to a paused transport"
        writer.protocol.resume_writing()
        await until(idle(1), "the stream is idle again")
        await emit(3)
        seqs = await ticks(ws, 10)
        assert seqs == sorted(set(seqs)) and seqs[-1] - seqs[0] == 9  # in order, none twice, no gap
        assert hub.written_direct - before == 6  # straight out again once drained


async def test_a_commit_made_in_another_thread_is_written_from_the_loop(
    live: str, clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transports belong to the loop's thread; a command committed elsewhere must not write to them."""
    client, cookie = await staff_cookie(live)
    hub = hubs.get()
    writers: list[int] = []
    write = streams.SocketWriter.__call__

    def recording(self: streams.SocketWriter, frame: bytes) -> bool:
        writers.append(threading.get_ident())
        return write(self, frame)

    monkeypatch.setattr(streams.SocketWriter, "__call__", recording)
    async with (
        contextlib.aclosing(client),
        connect(ws_url(live, "/ws/shop"), additional_headers={"Cookie": cookie}, open_timeout=TIMEOUT) as ws,
    ):
        await until(idle(1), "the stream is idle")
        committed: list[list[dict[str, Any]]] = []
        monkeypatch.setattr(hints, "publish", committed.append)  # hold the rows back...
        await emit(1)
        monkeypatch.undo()
        monkeypatch.setattr(streams.SocketWriter, "__call__", recording)
        await asyncio.to_thread(hub.committed_here, committed[0])  # ...and hand them over from a thread
        (seq,) = await ticks(ws, 1)
        assert seq == committed[0][0]["seq"] and writers == [threading.get_ident()]


@pytest.fixture
async def deflating(live: str) -> AsyncIterator[str]:
    """A second server on the same app, hub and database, with permessage-deflate on (uvicorn's
    default, which `python -m api serve` keeps and browsers negotiate)."""
    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started, "the second server started")
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 20)


async def test_frames_written_straight_reach_a_client_that_negotiated_deflate(
    live: str, deflating: str, clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "PING_SECONDS", 0.2)
    client, cookie = await staff_cookie(live)
    start = await hubs.last_seq()
    await emit(3)
    async with (
        contextlib.aclosing(client),
        connect(
            ws_url(deflating, f"/ws/shop?since={start}"),
            additional_headers={"Cookie": cookie},
            open_timeout=TIMEOUT,
        ) as ws,
    ):
        assert ws.protocol.extensions, "permessage-deflate was not negotiated"
        replayed = await ticks(ws, 3)  # sent by the handler through uvicorn: compressed
        await until(idle(1), "the stream is idle")
        await emit(3)  # written straight: uncompressed frames on the same connection
        live_ones = await ticks(ws, 3)
        # A ping goes through uvicorn again (compressed), then the hub writes once more.
        while json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] != "ping":
            pass
        await ws.send('{"type":"pong"}')
        await until(idle(1), "the stream is idle")
        await emit(1)
        seqs = replayed + live_ones + await ticks(ws, 1)
        assert seqs == sorted(set(seqs)) and seqs[-1] - seqs[0] == 6
