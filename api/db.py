"""The database engine and the one way to open a write transaction on either backend."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from api import settings

T = TypeVar("T")

# One lock id for every command on PostgreSQL: commands commit in the order they take `seq`,
# so a reader that has seen seq N can never later find a smaller one appear (see write_transaction).
COMMAND_LOCK_ID = 0x0BA71E


class BaylineSQLite(SQLiteEngine):
    """SQLite with the durability we promise: WAL (set at start), synchronous=FULL, busy timeout."""

    async def get_connection(self) -> Any:
        connection = await super().get_connection()
        # Per connection: WAL is persistent in the file, synchronous is not.
        await connection.execute("PRAGMA synchronous = FULL")
        return connection


def make_engine(url: str | None = None) -> Engine:
    """Build the engine for DATABASE_URL (or `url`)."""
    url = url or settings.get().database_url
    if url.startswith("sqlite:///"):
        # timeout= is SQLite's busy timeout: writers queue for up to 30 s instead of failing.
        return BaylineSQLite(path=url.removeprefix("sqlite:///"), timeout=30)
    return PostgresEngine(config={"dsn": url})


def is_sqlite(engine: Engine) -> bool:
    return isinstance(engine, SQLiteEngine)


async def prepare(engine: Engine) -> None:
    """Once per process start: WAL on SQLite, the connection pool on PostgreSQL."""
    if isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode = WAL")
    elif isinstance(engine, PostgresEngine) and engine.pool is None:
        await engine.start_connection_pool(min_size=2, max_size=10)


async def close(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()


@contextlib.asynccontextmanager
async def write_transaction(engine: Engine) -> AsyncIterator[None]:
    """A transaction that may read then write, safe under concurrency on both backends.

    SQLite: `BEGIN IMMEDIATE` takes the write lock up front; a deferred transaction that reads
    and then writes fails at once with "database is locked" whatever the busy timeout.
    PostgreSQL: a transaction-scoped advisory lock serialises commands, which gives the same
    guarantees as SQLite: idempotency checks see every earlier commit, and event `seq` values
    become visible in order (a sequence alone can commit 6 before 5).
    """
    if isinstance(engine, SQLiteEngine):
        # Writers of this process queue here, in arrival order, before asking SQLite for its lock:
        # SQLite's busy handler polls with growing sleeps, so under load a writer could lose the
        # race for 30 s and fail with "database is locked" (tests/bench/bench_clock.py showed it).
        async with _sqlite_writers(), engine.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with engine.transaction():
            await _advisory_lock(engine)
            yield


_writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
_writer_locks = weakref.WeakKeyDictionary()


def _sqlite_writers() -> asyncio.Lock:
    """The FIFO queue of this process's SQLite writers (one per event loop; asyncio.Lock is fair)."""
    loop = asyncio.get_running_loop()
    lock = _writer_locks.get(loop)
    if lock is None:
        lock = _writer_locks[loop] = asyncio.Lock()
    return lock


async def _advisory_lock(engine: Engine) -> None:
    from api.tables import Event

    await Event.raw("SELECT pg_advisory_xact_lock({})", COMMAND_LOCK_ID)


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
