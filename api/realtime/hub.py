"""The per-process event pump: one database read per batch of new events, fanned out to sockets.

Each connected socket is a Subscriber with a bounded backlog. The pump wakes on a hint (or every
POLL_SECONDS as a safety net), reads events after the last seq it saw, and hands each subscriber
the messages its stream may carry, serialised once per stream kind. Events committed in this
process skip the read: the command hands its rows over right after COMMIT (committed_here).

Each message is also framed once (a WebSocket text frame, the same bytes for every socket) and
written straight to the socket of every subscriber that is idle: its handler waits, nothing is
queued for it, and its transport is not paused. Only the others get it queued in their backlog and
their handler woken, which sends it in order. At thousands of sockets per event, one task wake-up
and one trip through the ASGI send per socket were most of the fan-out time.
A subscriber whose backlog overflows is marked slow; its handler closes it with 1013 and the client
resumes by seq.

A staff stream lives only as long as its session. Sign-out (and a sign-in that replaces a browser's
session) is an event, so every worker ends that session's streams in seq order: nothing committed
after the sign-out reaches them. Whatever ends a session without an event (the person deactivated
in the administration, the idle timeout) is found by a check of the open sessions every
SESSION_CHECK_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from api import auth
from api.realtime import hints, projection, reclaim
from api.tables import Event

log = logging.getLogger("bayline.realtime")

MAX_BACKLOG = 500
POLL_SECONDS = 2.0
READ_BATCH = 500
SESSION_CHECK_SECONDS = 3.0


# Writes one whole frame to the socket now and says True, or says False when it cannot (the transport
# is paused or closing): the frame must then go through the queue.
Writer = Callable[[bytes], bool]


@dataclass(eq=False, slots=True)
class Subscriber:
    """One open stream: the shop's (all events) or one repair order's customer view."""

    customer_ro: int | None = None  # None: the staff stream
    session_id: int | None = None  # the staff session a staff stream lives on
    backlog: deque[tuple[int, str]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    slow: bool = False
    ended: bool = False  # the session is over: the handler closes the socket (4401)
    ping_due: bool = False
    last: int = 0  # the highest seq this socket has been given (by its handler or written straight)
    # Set by the handler only while it waits with nothing queued: then, and only then, the hub may
    # write to the socket itself (the handler is not in the middle of a send, so order is kept).
    writer: Writer | None = None

    def end(self) -> None:
        self.ended = True
        self.writer = None
        self.backlog.clear()
        self.wake.set()

    def offer(self, seq: int, text: str, frame: bytes = b"") -> bool:
        """Give the socket one message: written straight when it can be (True), else queued."""
        if self.slow or self.ended or seq <= self.last:
            return False
        writer = self.writer
        if writer is not None and frame and writer(frame):
            self.last = seq
            return True
        self.writer = None  # paused or closing: from now on the handler sends, in order
        if len(self.backlog) >= MAX_BACKLOG:
            self.slow = True
            self.backlog.clear()  # the client will resume from its last seq after 1013
        else:
            self.backlog.append((seq, text))
        self.wake.set()
        return False


def frame(text: str) -> bytes:
    """`text` as one unmasked, uncompressed WebSocket text frame (RFC 6455 5.2), as a server sends it.

    Permessage-deflate lets any message go uncompressed (RFC 7692 6: RSV1 clear), so the same bytes
    suit every socket whatever it negotiated."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 65536:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + payload


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


async def read_after(seq: int, ro: int | None = None, limit: int = READ_BATCH) -> list[dict[str, Any]]:
    """Committed events after `seq` (of one repair order when `ro` is given), oldest first."""
    query = Event.select().where(Event.seq > seq)
    if ro is not None:
        query = query.where(Event.repair_order == ro)
    return await query.order_by(Event.seq).limit(limit)


def sessions_ended_by(row: dict[str, Any]) -> set[int]:
    """The sessions whose streams an event ends: a sign-out, or a sign-in that replaced the
    browser's previous session."""
    if row["type"] not in ("staff.signed_out", "staff.signed_in"):
        return set()
    data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
    return {int(s) for s in (data.get("session"), data.get("ended_session")) if s is not None}


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def last_seq() -> int:
    row = await Event.select(Event.seq).order_by(Event.seq, ascending=False).first()
    return int(row["seq"]) if row else 0


class Hub:
    def __init__(self) -> None:
        # Staff streams get every event; customer streams are indexed by repair order so an event
        # costs one dict lookup for them, not a walk over thousands of open status pages.
        self.staff: set[Subscriber] = set()
        self.customers: dict[int, set[Subscriber]] = {}
        self.seen = 0
        self.written_direct = 0  # messages the fan-out wrote to sockets itself (the rest were queued)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._bus: hints.HintBus | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe_local = hints.subscribe(self.committed_here)
        # Closed sockets' memory goes back to the system after a burst of closes (reclaim.py); the
        # socket handlers count every connection that ends, refused ones included (streams.let_go).
        self.reclaimer = reclaim.Reclaimer(lambda: self.subscriber_count)

    def add(self, subscriber: Subscriber) -> None:
        if subscriber.customer_ro is None:
            self.staff.add(subscriber)
        else:
            self.customers.setdefault(subscriber.customer_ro, set()).add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        if subscriber.customer_ro is None:
            self.staff.discard(subscriber)
            return
        pages = self.customers.get(subscriber.customer_ro)
        if pages is not None:
            pages.discard(subscriber)
            if not pages:
                del self.customers[subscriber.customer_ro]

    def end_sessions(self, sessions: Collection[int]) -> None:
        """Close the streams of these sessions."""
        for sub in self.staff:
            if sub.session_id in sessions:
                sub.end()

    async def check_sessions(self) -> None:
        """End the streams whose session can no longer be used (ended, deactivated, idle)."""
        open_ = {s.session_id for s in self.staff if s.session_id is not None and not s.ended}
        if open_:
            self.end_sessions(open_ - await auth.live_sessions(open_))

    @property
    def subscriber_count(self) -> int:
        return len(self.staff) + sum(len(p) for p in self.customers.values())

    def committed_here(self, rows: list[dict[str, Any]]) -> None:
        """Rows this process just committed: push them at once when they follow what was sent.

        At once means at the loop's next turn: the command that committed them answers its client
        first (writing to thousands of sockets takes tens of milliseconds), and the socket
        transports are touched only from the loop's thread even when the commit was made elsewhere.
        Any gap (another worker's events in between, or a commit while the pump was reading) and the
        pump reads the table instead; seq order is never broken and nothing is skipped.
        """
        loop = self._loop
        if loop is None:  # not started: nobody to push to
            return
        if _running_loop() is loop:
            loop.call_soon(self._push_committed, rows)
        else:
            loop.call_soon_threadsafe(self._push_committed, rows)

    def _push_committed(self, rows: list[dict[str, Any]]) -> None:
        if self._tasks and rows and int(rows[0]["seq"]) == self.seen + 1:
            for row in rows:
                self._fan_out(row)
                self.seen = int(row["seq"])
        else:
            self._wake.set()

    def hinted(self, max_seq: int) -> None:
        """Another process (or this one, via the broker) committed events up to `max_seq`."""
        if max_seq > self.seen:
            self._wake.set()

    async def start(self, bus: hints.HintBus) -> None:
        self.seen = await last_seq()
        self._loop = asyncio.get_running_loop()
        self._bus = bus
        hints.use_bus(bus)
        await bus.start(self.hinted)
        self._tasks = [asyncio.create_task(self._pump()), asyncio.create_task(self._watch_sessions())]

    async def stop(self) -> None:
        self.reclaimer.cancel()
        self._unsubscribe_local()
        hints.use_bus(None)
        if self._bus is not None:
            await self._bus.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            try:
                await self.deliver_new()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database hiccup: try again at the next wake
                log.warning("event pump could not read events", exc_info=True)

    async def _watch_sessions(self) -> None:
        while True:
            await asyncio.sleep(SESSION_CHECK_SECONDS)
            try:
                await self.check_sessions()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database hiccup: check again next time
                log.warning("could not check the sessions of open streams", exc_info=True)

    async def deliver_new(self) -> None:
        while True:
            rows = await read_after(self.seen)
            if not rows:
                return
            for row in rows:
                if int(row["seq"]) <= self.seen:
                    continue  # pushed meanwhile by committed_here
                self._fan_out(row)
                self.seen = int(row["seq"])
            if len(rows) < READ_BATCH:
                return

    def _fan_out(self, row: dict[str, Any]) -> None:
        """Serialise and frame once per stream kind, then hand the same bytes to every subscriber."""
        seq = int(row["seq"])
        direct = 0
        if self.staff:
            ended = sessions_ended_by(row)
            if ended:
                self.end_sessions(ended)  # before the offer: an ended stream gets nothing more
            staff_text = encode(projection.message(row, customer=False) or {})
            staff_frame = frame(staff_text)
            for sub in self.staff:
                direct += sub.offer(seq, staff_text, staff_frame)
        pages = self.customers.get(row["repair_order"]) if row["repair_order"] is not None else None
        if pages:
            msg = projection.message(row, customer=True)
            if msg is not None:
                customer_text = encode(msg)
                customer_frame = frame(customer_text)
                for sub in pages:
                    direct += sub.offer(seq, customer_text, customer_frame)
        self.written_direct += direct


_hub: Hub | None = None


def get() -> Hub:
    global _hub
    if _hub is None:
        _hub = Hub()
    return _hub


def reset() -> None:
    global _hub
    _hub = None


def socket_ended() -> None:
    """A WebSocket connection has ended: counted towards giving memory back (reclaim.py)."""
    if _hub is not None:  # none after the app's shutdown: nothing left to give back to
        _hub.reclaimer.closed()
