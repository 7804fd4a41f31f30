"""Count the SQL statements a piece of work sends to the database (tests and benchmarks).

One hook on the engine class: every ORM query and raw statement goes through `run_querystring` or
`run_ddl`, on SQLite and PostgreSQL alike. Only statements made in the context that opened
`counting()` (and the tasks it starts) are counted, so the hub's polling or another test's traffic
in the same process never adds to a request's figure.

Transaction control is not counted: it is the command path's, the same for every command, and it
never goes through those two methods. On SQLite that is `BEGIN IMMEDIATE`, the savepoint around each
command of a group, and COMMIT (api/sqlite_engine.py). On PostgreSQL it is a group's
`BEGIN; SELECT pg_advisory_xact_lock(…); SAVEPOINT …`, sent as one message on the writer's
connection, each further command's SAVEPOINT, and COMMIT (api/postgres_commands.py): the advisory
lock is PostgreSQL's way of taking the write lock that SQLite takes with BEGIN IMMEDIATE, so it is
counted as SQLite's is, not at all. Everything else a command or a read sends is a statement and is
counted, whichever way it is written (ORM, `raw`, `run_ddl`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any

from piccolo.engine.base import Engine

# What is listening in this context: each is told (engine, the QueryString or DDL text) as it is sent.
Listener = Callable[[Engine, Any], None]
_listeners: contextvars.ContextVar[tuple[Listener, ...]] = contextvars.ContextVar("sql_listeners", default=())
_HOOKED = "_bayline_sql_counted"


def install(engine: Engine) -> None:
    """Hook the engine's class once (PostgresEngine has __slots__: an instance cannot be patched)."""
    cls = type(engine)
    if getattr(cls, _HOOKED, False):
        return
    original_qs = cls.run_querystring
    original_ddl = cls.run_ddl

    @functools.wraps(original_qs)
    async def run_querystring(self: Engine, querystring: Any, *args: Any, **kwargs: Any) -> Any:
        for listen in _listeners.get():
            listen(self, querystring)
        return await original_qs(self, querystring, *args, **kwargs)

    @functools.wraps(original_ddl)
    async def run_ddl(self: Engine, ddl: str, *args: Any, **kwargs: Any) -> Any:
        for listen in _listeners.get():
            listen(self, ddl)
        return await original_ddl(self, ddl, *args, **kwargs)

    cls.run_querystring = run_querystring  # type: ignore[method-assign]
    cls.run_ddl = run_ddl  # type: ignore[method-assign]
    setattr(cls, _HOOKED, True)


@contextlib.contextmanager
def listening(listen: Listener) -> Iterator[None]:
    """Tell `listen` of every statement sent inside the block (and the tasks it starts)."""
    token = _listeners.set((*_listeners.get(), listen))
    try:
        yield
    finally:
        _listeners.reset(token)


@contextlib.contextmanager
def counting() -> Iterator[list[str]]:
    """The statements run inside the block, in order (the list fills as they run)."""
    seen: list[str] = []
    with listening(lambda _engine, statement: seen.append(str(statement))):
        yield seen
