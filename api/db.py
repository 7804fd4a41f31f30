"""The database engine and the one way to open a write transaction on either backend."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from api import settings
from api.sqlite_engine import BaylineSQLite

T = TypeVar("T")

# One lock id for every command on PostgreSQL: commands commit in the order they take `seq`,
# so a reader that has seen seq N can never later find a smaller one appear (see write_transaction).
COMMAND_LOCK_ID = 0x0BA71E


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
    """Once per process start: WAL on SQLite (its reader and writer connections start on first use),
    the connection pool on PostgreSQL."""
    if isinstance(engine, BaylineSQLite):
        await engine.prepare()
    elif isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode = WAL")
    elif isinstance(engine, PostgresEngine) and engine.pool is None:
        await engine.start_connection_pool(min_size=2, max_size=10)


async def close(engine: Engine) -> None:
    if isinstance(engine, BaylineSQLite):
        await engine.aclose()
    elif isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()


@contextlib.asynccontextmanager
async def write_transaction(engine: Engine) -> AsyncIterator[None]:
    """A transaction that may read then write, safe under concurrency on both backends.

    SQLite: `BEGIN IMMEDIATE` takes the write lock up front; a deferred transaction that reads
    and then writes fails at once with "database is locked" whatever the busy timeout. Concurrent
    commands share that transaction, one savepoint each, and one COMMIT (one fsync) per group;
    leaving the block waits for that COMMIT.
    PostgreSQL: a transaction-scoped advisory lock serialises commands, which gives the same
    guarantees as SQLite: idempotency checks see every earlier commit, and event `seq` values
    become visible in order (a sequence alone can commit 6 before 5).
    """
    if isinstance(engine, BaylineSQLite):
        # This process's commands queue in arrival order for one writer connection and commit in
        # groups, each inside a savepoint of one BEGIN IMMEDIATE transaction (api/sqlite_engine.py).
        async with engine.command():
            yield
    elif isinstance(engine, PostgresEngine):
        async with _postgres_transaction(engine):
            await _advisory_lock(engine)
            yield
    else:
        async with engine.transaction():
            yield


@contextlib.asynccontextmanager
async def _postgres_transaction(engine: PostgresEngine) -> AsyncIterator[None]:
    """Piccolo's transaction, with its pooled connection given back whatever happens.

    Piccolo takes a connection from the pool and then sends BEGIN: a request cancelled in between
    (a client gone, shutdown) left that connection checked out for good, and after ten of them every
    query waited for the pool (tests/test_db.py showed it). The same when ROLLBACK itself fails.
    """
    transaction = engine.transaction()
    try:
        await transaction.__aenter__()
    except BaseException:
        await _give_back(engine, transaction)
        raise
    try:
        yield
    except BaseException as exc:
        # A failed ROLLBACK (the connection broke mid-query) is not the error to report: the original is.
        with contextlib.suppress(Exception):
            await _finish(engine, transaction, exc)
        raise
    await _finish(engine, transaction, None)  # a failed COMMIT raises: the command did not happen


async def _finish(engine: PostgresEngine, transaction: Any, exc: BaseException | None) -> None:
    try:
        await transaction.__aexit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
    except BaseException:
        await _give_back(engine, transaction)
        with contextlib.suppress(AttributeError, ValueError):
            engine.current_transaction.reset(transaction.context)
        raise


async def _give_back(engine: PostgresEngine, transaction: Any) -> None:
    connection = getattr(transaction, "connection", None)
    if connection is not None and engine.pool is not None:
        # asyncpg closes a connection that is in a bad state instead of pooling it again; one
        # already given back raises, which is fine too.
        with contextlib.suppress(Exception):
            await engine.pool.release(connection)


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
