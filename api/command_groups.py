"""What the two group-commit writers share (api/sqlite_engine.py, api/postgres_commands.py): a group
of commands in one transaction, the error that fails all of them, and settling their futures."""

from __future__ import annotations

import asyncio
import time
from typing import Any


class GroupLost(Exception):
    """The database rolled the whole group transaction back (an I/O error, a full disk, a dropped
    connection): nothing of it was kept, and sending a command again can succeed."""


def retrieve(future: asyncio.Future[Any]) -> None:
    """Nobody may await this one: take its outcome so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


def settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Resolve `future` unless it already is (a cancelled command's)."""
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class Group:
    """Commands sharing one transaction; `done` resolves when its COMMIT returned (or failed)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.opened = time.monotonic()
        self.size = 0
        self.done: asyncio.Future[None] = loop.create_future()
        self.done.add_done_callback(retrieve)  # every command of it may have been cancelled
