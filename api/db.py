"""The database engine and the one way to open a write transaction on either backend."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from api import postgres_commands, settings, sqlite_engine
from api.sqlite_engine import BaylineSQLite

T = TypeVar("T")

# One lock id for every command on PostgreSQL: commands commit in the order they take `seq`,
# so a reader that has seen seq N can never later find a smaller one appear (see write_transaction).
COMMAND_LOCK_ID = postgres_commands.COMMAND_LOCK_ID


def make_engine(url: str | None = None) -> Engine:
    """Build the engine for DATABASE_URL (or `url`)."""
    url = url or settings.get().database_url
    if url.startswith("sqlite:///"):
        # timeout= is SQLite's busy timeout: writers queue for up to 30 s instead of failing.
        return BaylineSQLite(path=url.removeprefix("sqlite:///"), timeout=30)
    return PostgresEngine(config={"dsn": url})


def short_reads() -> contextlib.AbstractContextManager[None]:
    """Reads in the block are short: by an index, a few rows, microseconds (a request's session, today's
    work). SQLite runs them on the event loop's thread (api/sqlite_engine.py), which waits for them;
    never use it for a read that grows with history. On PostgreSQL they go to the pool as any read."""
    return sqlite_engine.short_reads()


def is_sqlite(engine: Engine) -> bool:
    return isinstance(engine, SQLiteEngine)


async def prepare(engine: Engine) -> None:
    """Once per process start: WAL on SQLite (its reader and writer connections start on first use),
    the connection pool on PostgreSQL."""
    if isinstance(engine, BaylineSQLite):
        await engine.prepare()
    elif isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode = WAL")
    elif isinstance(engine, PostgresEngine) and engine.pool is None:
        await engine.start_connection_pool(min_size=2, max_size=10, reset=_no_reset)


async def close(engine: Engine) -> None:
    if isinstance(engine, BaylineSQLite):
        await engine.aclose()
    elif isinstance(engine, PostgresEngine):
        await postgres_commands.close(engine)
        if engine.pool is not None:
            await engine.close_connection_pool()


@contextlib.asynccontextmanager
async def write_transaction(engine: Engine) -> AsyncIterator[None]:
    """A transaction that may read then write, safe under concurrency on both backends.

    SQLite: `BEGIN IMMEDIATE` takes the write lock up front; a deferred transaction that reads
    and then writes fails at once with "database is locked" whatever the busy timeout. Concurrent
    commands share that transaction, one savepoint each, and one COMMIT (one fsync) per group;
    leaving the block waits for that COMMIT.
    PostgreSQL: the same groups on one writer connection per process; a transaction-scoped advisory
    lock taken with each group's BEGIN serialises the groups of all processes, which gives the same
    guarantees as SQLite: idempotency checks see every earlier commit, and event `seq` values
    become visible in order (a sequence alone can commit 6 before 5).
    """
    if isinstance(engine, BaylineSQLite):
        # This process's commands queue in arrival order for one writer connection and commit in
        # groups, each inside a savepoint of one BEGIN IMMEDIATE transaction (api/sqlite_engine.py).
        async with engine.command():
            yield
    elif isinstance(engine, PostgresEngine):
        # The same on PostgreSQL: one writer connection, groups of commands, the command lock taken
        # with each group's BEGIN (api/postgres_commands.py).
        async with postgres_commands.command(engine):
            yield
    else:
        async with engine.transaction():
            yield


async def _no_reset(connection: Any) -> None:
    """asyncpg's pool sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every
    release by default: a round trip after each pooled statement. Bayline sets no session state
    (its only lock is transaction-scoped; no SET, LISTEN or cursors), so there is nothing to reset.
    An open transaction is still rolled back by asyncpg before this runs."""


async def with_engine(work: Callable[[], Awaitable[T]]) -> T:
    """For the command line: run `work` with the engine prepared (pool on PostgreSQL), then close."""
    from piccolo.engine import engine_finder

    engine = engine_finder()
    assert engine is not None
    await prepare(engine)
    try:
        return await work()
    finally:
        await close(engine)
