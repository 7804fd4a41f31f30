"""Hints that new events were committed. The database is the truth; a hint only says "look".

This process: the committing code calls `publish(rows)`, and local listeners (the hub) receive the
rows at once. Other processes: a Litestar channels backend carries the max seq — in memory for one
process, Redis pub/sub (REDIS_URL) for several workers or hosts.

We drive the backend ourselves instead of through ChannelsPlugin: the plugin's publish and
subscribe workers end for good at the first Redis error, so after a Redis restart no hint would
ever flow again. Here both loops log, wait and carry on. A lost hint loses nothing: every hub
also polls the event table, and clients resume from their last `seq`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend

log = logging.getLogger("bayline.realtime")

CHANNEL = "bayline.events"
RETRY_SECONDS = 1.0

# Local listeners get the committed rows themselves: this process's hub can push them without
# reading them back. Other processes get only the max seq and read the table.
Listener = Callable[[list[dict[str, Any]]], None]
_listeners: set[Listener] = set()


class HintBus:
    """Carries "events up to seq N are committed" between processes, and survives the broker restarting."""

    def __init__(self, backend: ChannelsBackend) -> None:
        self.backend = backend
        self._outbox: asyncio.Queue[int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, on_hint: Callable[[int], None]) -> None:
        await self.backend.on_startup()
        self._outbox = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._publisher(self._outbox)),
            asyncio.create_task(self._subscriber(on_hint)),
        ]

    async def stop(self) -> None:
        self._outbox = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.backend.on_shutdown()

    def send(self, max_seq: int) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(max_seq)

    async def _publisher(self, outbox: asyncio.Queue[int]) -> None:
        while True:
            seq = await outbox.get()
            while not outbox.empty():  # a burst needs one hint: the highest seq says it all
                seq = max(seq, outbox.get_nowait())
            try:
                await self.backend.publish(str(seq).encode(), [CHANNEL])
            except Exception:  # noqa: BLE001 - the broker is away: other workers poll meanwhile
                log.warning("could not publish a hint; other workers catch up by polling", exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)

    async def _subscriber(self, on_hint: Callable[[int], None]) -> None:
        while True:
            try:
                await self.backend.subscribe([CHANNEL])
                async for _, payload in self.backend.stream_events():
                    with contextlib.suppress(ValueError):
                        on_hint(int(payload))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - e.g. Redis restarting: poll meanwhile, then resubscribe
                log.warning("hint subscription lost; retrying", exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)


def make_bus(redis_url: str | None) -> HintBus:
    if redis_url:
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        # Short timeouts: a dead broker must not hang the publisher for long.
        redis = Redis.from_url(redis_url, socket_connect_timeout=2, health_check_interval=10)
        return HintBus(RedisChannelsPubSubBackend(redis=redis))
    return HintBus(MemoryChannelsBackend())


_bus: HintBus | None = None


def use_bus(bus: HintBus | None) -> None:
    global _bus
    _bus = bus


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call `listener(rows)` in this process after each local commit; returns the unsubscribe."""
    _listeners.add(listener)
    return lambda: _listeners.discard(listener)


def publish(rows: list[dict[str, Any]]) -> None:
    """Tell every process that these event rows are committed (never raises to the caller)."""
    for listener in list(_listeners):
        try:
            listener(rows)
        except Exception:  # noqa: BLE001 - one broken listener must not fail a command
            log.exception("hint listener failed")
    if _bus is not None:
        _bus.send(max(int(r["seq"]) for r in rows))
