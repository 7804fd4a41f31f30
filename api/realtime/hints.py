"""Hints that new events were committed. The database is the truth; a hint only says "look".

This process-local fan-out is the placeholder the live-event streams (WebSocket) will build on;
across workers it is replaced by channels over Redis. A lost hint loses nothing: readers catch up
from the event table by `seq`.
"""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[int], None]

_listeners: set[Listener] = set()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call `listener(max_seq)` after each commit; returns the unsubscribe function."""
    _listeners.add(listener)
    return lambda: _listeners.discard(listener)


def publish(max_seq: int) -> None:
    """Tell listeners that events up to `max_seq` are committed (never raises to the caller)."""
    for listener in list(_listeners):
        try:
            listener(max_seq)
        except Exception:  # noqa: BLE001, S112 - one broken listener must not fail a command
            continue
