"""Our own guarded WebSocket handlers: the shop's stream and the customer's status stream.

Order on connect: subscribe to the hub first, then replay events after `since` from the database,
then forward live ones, dropping any seq already sent. Nothing is awaited between subscribing and
reading, so no event can fall between the two.

Live, the handler mostly sleeps: while it waits with nothing queued it lends the hub a writer, and
the hub puts each event's frame on the socket itself (hub.py). The handler sends only what was
queued (a paused or closing transport), the replay, pings and the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from api import ratelimit, settings
from api.auth import SESSION_COOKIE, StaffUser, live_sessions
from api.clientaddr import client_address
from api.realtime import hub as hubs
from api.realtime import projection

PING_SECONDS = float(os.environ.get("WS_PING_SECONDS") or 25)
# Close codes (4xxx are ours; a client shows the reason and reconnects only where it makes sense).
BAD_SINCE = 4400
SIGNED_OUT = 4401  # the session has ended (sign-out, deactivated, idle): sign in again, don't retry
READ_ONLY = 4409
RATE_LIMITED = 4429  # a guessing address or a hammered status link: retry later with backoff
NO_PONG = 4408
TRY_AGAIN_LATER = 1013


def origin_allowed(socket: WebSocket) -> bool:
    """Browsers always send Origin: it must be this site or one in ALLOWED_ORIGINS.

    A client without Origin is not a browser and cannot carry a victim's cookies.
    """
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    host = socket.headers.get("host", "")
    own = {f"http://{host}", f"https://{host}"}
    return origin in own or origin in settings.get().allowed_origins


def _since(socket: WebSocket) -> int | None | str:
    raw = socket.query_params.get("since")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        return "since must be a whole number: the last seq you received"
    return int(raw)


async def _listen(socket: WebSocket, customer: bool, heard: list[float]) -> str:
    """Read what the client sends: pongs keep it alive; a customer may send nothing else."""
    while True:
        try:
            text = await socket.receive_text()
        except WebSocketDisconnect:
            return "gone"
        heard[0] = time.monotonic()
        try:
            kind = json.loads(text).get("type")
        except (ValueError, AttributeError, RecursionError):  # deep nesting raises RecursionError
            kind = None
        if customer and kind != "pong":
            return "read-only"


def _server_protocol(send: Callable[..., Any], depth: int = 0) -> Any:
    """The uvicorn connection under an ASGI `send`, or None.

    Litestar hands the handler its send wrapped in closures (the connection state check, the
    before_send hooks); the innermost is the bound `send` of uvicorn's websockets-sansio protocol.
    """
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    owner = getattr(send, "__self__", None)
    if isinstance(owner, WebSocketsSansIOProtocol):
        return owner
    if depth < 4:
        for cell in getattr(send, "__closure__", None) or ():
            try:
                inner = cell.cell_contents
            except ValueError:  # a cell not filled yet
                continue
            if inner is not send and (hasattr(inner, "__code__") or hasattr(inner, "__self__")):
                found = _server_protocol(inner, depth + 1)
                if found is not None:
                    return found
    return None


class SocketWriter:
    """Writes a prepared frame straight to one socket's transport, unless that would be wrong now.

    It refuses (False) when uvicorn's flow control has paused writing (the transport holds more than
    its high-water mark: a slow reader), and once the closing handshake has begun; the hub then queues
    the message and the handler sends it through uvicorn, which waits for the transport to drain.
    """

    __slots__ = ("_open", "connection", "protocol", "transport", "writable")

    def __init__(self, protocol: Any) -> None:
        from websockets.protocol import State

        self.protocol = protocol
        self.transport = protocol.transport
        self.writable = protocol.writable  # uvicorn clears it in pause_writing()
        self.connection = protocol.conn
        self._open = State.OPEN

    def __call__(self, frame: bytes) -> bool:
        if (
            not self.writable.is_set()
            or self.protocol.close_sent
            or self.connection.state is not self._open
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True


def direct_writer(socket: WebSocket) -> SocketWriter | None:
    """A writer for this socket where the server is uvicorn's websockets-sansio protocol (the one
    `uvicorn` picks with websockets installed); elsewhere None, and every message is queued."""
    try:
        protocol = _server_protocol(socket.send)
        return None if protocol is None else SocketWriter(protocol)
    except (ImportError, AttributeError):  # another server, or a uvicorn whose insides have moved
        return None


def _schedule_ping(sub: hubs.Subscriber) -> asyncio.TimerHandle:
    """In PING_SECONDS, ask the socket's loop to send an application-level ping."""

    def due() -> None:
        sub.ping_due = True
        sub.wake.set()

    return asyncio.get_running_loop().call_later(PING_SECONDS, due)


async def _close_signed_out(socket: WebSocket) -> None:
    await socket.close(code=SIGNED_OUT, reason="this session has ended: sign in again")


async def serve(socket: WebSocket, customer_ro: int | None, user: StaffUser | None = None) -> None:
    """Replay then live, for one accepted socket (`user`: whose session a staff stream lives on)."""
    since = _since(socket)
    hub = hubs.get()
    sub = hubs.Subscriber(customer_ro=customer_ro, session_id=user.session_id if user else None)
    hub.add(sub)  # subscribe first: everything committed from now on reaches `sub`
    # Where a board without `since` starts, read now with no await in between: an event committed
    # while the socket is accepted (and the session looked up) is after it, so it is replayed or
    # queued, never skipped (taking hub.seen later missed it: tests/realtime/test_streams.py).
    joined_at = hub.seen
    listener: asyncio.Task[str] | None = None
    ping_timer: asyncio.TimerHandle | None = None
    try:
        await socket.accept()
        if isinstance(since, str):
            await socket.close(code=BAD_SINCE, reason=since)
            return
        # A sign-out committed between the session check at the door and hub.add() came before
        # `sub` could hear of it: look once more, now that every later one reaches it.
        if user is not None and not await live_sessions({user.session_id}):
            await _close_signed_out(socket)
            return
        customer = customer_ro is not None
        if since is None:
            # The customer's page wants the whole story; a staff board starts from now.
            since = 0 if customer else joined_at
        sub.last = since  # from here, the hub queues only what comes after it
        while True:
            rows = await hubs.read_after(sub.last, ro=customer_ro)
            for row in rows:
                message = projection.message(row, customer=customer)
                sub.last = int(row["seq"])
                if message is not None:
                    await socket.send_text(hubs.encode(message))
            if len(rows) < hubs.READ_BATCH:
                break
        writer = direct_writer(socket)
        heard = [time.monotonic()]
        listener = asyncio.create_task(_listen(socket, customer, heard))
        listener.add_done_callback(lambda _: sub.wake.set())  # a leaving client ends the loop at once
        ping_timer = _schedule_ping(sub)
        # One plain wait per wake-up: no wait_for() (it costs a Task and a timer per message, which at
        # thousands of sockets per event was most of the fan-out time). Pings come from a timer.
        while True:
            # Idle with nothing queued (the drain below leaves the backlog empty and nothing was
            # awaited since): the hub may write to the socket until it queues something or wakes us.
            sub.writer = writer
            await sub.wake.wait()
            sub.writer = None
            sub.wake.clear()
            if sub.ended:
                await _close_signed_out(socket)
                return
            if listener.done():
                if listener.result() == "read-only":
                    await socket.close(
                        code=READ_ONLY, reason="this stream only sends; use the page's buttons"
                    )
                return
            if sub.slow:
                await socket.close(
                    code=TRY_AGAIN_LATER, reason=f"too far behind: reconnect with since={sub.last}"
                )
                return
            if sub.ping_due:
                sub.ping_due = False
                if time.monotonic() - heard[0] > 2.5 * PING_SECONDS:
                    await socket.close(code=NO_PONG, reason="no answer to pings")
                    return
                await socket.send_text('{"type":"ping"}')
                ping_timer = _schedule_ping(sub)
            while sub.backlog:
                seq, text = sub.backlog.popleft()
                if seq > sub.last:
                    sub.last = seq
                    await socket.send_text(text)
    except WebSocketDisconnect:
        return
    finally:
        sub.writer = None
        hub.remove(sub)
        if ping_timer is not None:
            ping_timer.cancel()
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener


async def _served(*_: Any) -> Any:
    raise WebSocketDisconnect(detail="this socket's handler has ended")


def let_go(socket: WebSocket) -> None:
    """Break the cycle a Litestar WebSocket is built on, once its handler is done with it.

    Its `receive` and `send` are closures over the socket itself, so the socket, and through them the
    server's whole connection (uvicorn's protocol, the transport, the frame parser and its buffers),
    outlived the handler until a garbage collection reached its generation. This app collects the old
    generations rarely on purpose (app.py), so 5,000 closed status sockets stayed in memory (~400,000
    objects) until one did. Without the cycle a connection is freed by reference counting as it ends.
    The hub then gives a burst of ended connections' memory back to the system (reclaim.py).
    """
    socket.receive = socket.send = _served
    hubs.socket_ended()


@websocket("/ws/shop")
async def shop_stream(socket: WebSocket) -> None:
    """Every event, for signed-in staff (the workshop board). Refused before accept otherwise, except
    a session that has ended: it is told so (4401), where a bare refusal would only be retried."""
    try:
        await _shop_stream(socket)
    finally:
        let_go(socket)


async def _shop_stream(socket: WebSocket) -> None:
    user = socket.scope.get("user")
    if not origin_allowed(socket):
        await socket.close(code=4403)
        return
    if not isinstance(user, StaffUser):
        if socket.cookies.get(SESSION_COOKIE):
            await socket.accept()
            await _close_signed_out(socket)
        else:
            await socket.close(code=4403)
        return
    await serve(socket, None, user)


@websocket("/ws/status/{token:str}")
async def status_stream(socket: WebSocket, token: FromPath[str]) -> None:
    """One repair order's customer view. Unknown and expired tokens are refused alike; a guessing
    address or a hammered link is refused with 4429 (the page retries with its backoff)."""
    try:
        await _status_stream(socket, token)
    finally:
        let_go(socket)


async def _status_stream(socket: WebSocket, token: str) -> None:
    if not origin_allowed(socket):
        await socket.close(code=4404)
        return
    ro, refused = await ratelimit.admit(client_address(socket.scope), token)
    if refused is not None:
        # Accepted only to be told apart from a gone link (a refusal before accept is a bare 403).
        await socket.accept()
        await socket.close(code=RATE_LIMITED)
        return
    if ro is None:
        await socket.close(code=4404)
        return
    await serve(socket, int(ro["id"]))
