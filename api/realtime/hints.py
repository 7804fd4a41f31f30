"""Hints that new events were committed. The database is the truth; a hint only says "look".

One process: Litestar's in-memory channels backend. Several workers or hosts: Redis pub/sub
(REDIS_URL). A lost hint loses nothing: every hub also polls the event table now and then, and
clients resume from their last `seq`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend

log = logging.getLogger("bayline.realtime")

CHANNEL = "bayline.events"

# Local listeners get the committed rows themselves: this process's hub can push them without
# reading them back. Other processes get only the max seq and read the table.
Listener = Callable[[list[dict[str, Any]]], None]
_listeners: set[Listener] = set()
_plugin: ChannelsPlugin | None = None


def make_plugin(redis_url: str | None) -> ChannelsPlugin:
    """The channels plugin that carries hints (not the events themselves) between processes."""
    global _plugin
    if redis_url:
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        backend: object = RedisChannelsPubSubBackend(redis=Redis.from_url(redis_url))
    else:
        backend = MemoryChannelsBackend()
    # No generated WebSocket handlers: ours are guarded (realtime.streams).
    _plugin = ChannelsPlugin(backend=backend, channels=[CHANNEL], create_ws_route_handlers=False)  # type: ignore[arg-type]
    return _plugin


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call `listener(rows)` in this process after each local commit; returns the unsubscribe."""
    _listeners.add(listener)
    return lambda: _listeners.discard(listener)


def publish(rows: list[dict[str, Any]]) -> None:
    """Tell every process that these event rows are committed (never raises to the caller)."""
    max_seq = max(int(r["seq"]) for r in rows)
    for listener in list(_listeners):
        try:
            listener(rows)
        except Exception:  # noqa: BLE001 - one broken listener must not fail a command
            log.exception("hint listener failed")
    if _plugin is not None:
        try:
            _plugin.publish(str(max_seq), CHANNEL)
        except Exception:  # noqa: BLE001 - the poll and the seq resume cover a lost hint
            log.warning("could not publish a hint; live clients catch up by polling", exc_info=True)
