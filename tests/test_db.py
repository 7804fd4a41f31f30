"""The database settings we promise: WAL, synchronous=FULL, a busy timeout, IMMEDIATE writes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from piccolo.engine import engine_finder

from api import db, workshop
from api.commands import Outcome, Reply, execute, now
from api.events import NewEvent
from api.tables import Event, IdempotencyRecord
from tests.conftest import BACKEND


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite settings; this run uses PostgreSQL")
async def test_sqlite_connection_settings(database: None) -> None:
    engine = engine_finder()
    connection = await engine.get_connection()  # type: ignore[union-attr]
    try:
        assert (await (await connection.execute("PRAGMA journal_mode")).fetchone())["journal_mode"] == "wal"
        assert (await (await connection.execute("PRAGMA synchronous")).fetchone())["synchronous"] == 2  # FULL
        assert (await (await connection.execute("PRAGMA busy_timeout")).fetchone())["timeout"] >= 30_000
    finally:
        await connection.close()


async def test_concurrent_commands_all_commit_with_strictly_rising_seq(clean: None) -> None:
    """40 concurrent read-then-write commands: none fails ("database is locked"), seq has no gaps."""

    async def command(i: int) -> int:
        async def handler() -> Outcome:
            await Event.count()  # read first, then write: the pattern that breaks DEFERRED
            return Outcome(200, {"i": i}, [NewEvent("test.ping", None, {"i": i})])

        reply = await execute(handler, actor=f"test:{i}")
        return int(reply.body["i"])

    results = await asyncio.gather(*(command(i) for i in range(40)))
    assert sorted(results) == list(range(40))
    seqs = [r["seq"] for r in await Event.select(Event.seq).order_by(Event.seq)]
    assert len(seqs) == 40 and seqs == list(range(seqs[0], seqs[0] + 40))


def test_write_transaction_kind_matches_backend() -> None:
    engine = engine_finder()
    assert db.is_sqlite(engine) == (BACKEND == "sqlite")  # type: ignore[arg-type]


def _watch_connections(
    monkeypatch: pytest.MonkeyPatch, on_statement: Callable[[str], None] | None = None
) -> list[str]:
    """Every SQLite connection opened from now on (aiosqlite's too) is noted, its statements traced."""
    opened: list[str] = []
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real(*args, **kwargs)
        opened.append(str(args[0] if args else kwargs.get("database")))
        if on_statement is not None:
            connection.set_trace_callback(on_statement)
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)
    return opened


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite connections; PostgreSQL reads use its pool")
async def test_reads_reuse_long_lived_connections(clean: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Piccolo opened a connection (and a thread) per query: the board list opened 5, an order 6."""
    await Event.count()  # the readers start on first use
    opened = _watch_connections(monkeypatch)
    counts = await asyncio.gather(*(Event.count() for _ in range(30)))
    rows = await Event.select().where(Event.seq > 0)
    assert counts == [0] * 30 and rows == []
    assert opened == []


@pytest.mark.skipif(BACKEND != "sqlite", reason="group commit is SQLite's (PostgreSQL commits per command)")
async def test_concurrent_commands_commit_in_groups_each_with_its_own_key_event_and_reply(
    clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One fsync per group: 40 concurrent commands need fewer than 40 COMMITs, none shares a record."""
    engine = engine_finder()
    assert engine is not None
    await db.close(engine)  # the writer connection opens again below, traced
    commits: list[str] = []
    _watch_connections(
        monkeypatch, lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )

    async def command(i: int) -> Reply:
        async def handler() -> Outcome:
            await Event.count()
            return Outcome(200, {"i": i}, [NewEvent("test.ping", None, {"i": i})])

        return await execute(handler, actor=f"test:{i}", key=f"key-{i}", request_hash=f"hash-{i}")

    replies = await asyncio.gather(*(command(i) for i in range(40)))
    assert [r.body for r in replies] == [{"i": i} for i in range(40)]
    assert not any(r.replayed for r in replies) and all(r.committed is not None for r in replies)
    records = await IdempotencyRecord.select(IdempotencyRecord.actor, IdempotencyRecord.body)
    assert sorted((r["actor"], r["body"]) for r in records) == sorted(
        (f"test:{i}", f'{{"i": {i}}}') for i in range(40)
    )
    events = await Event.select(Event.actor, Event.data).where(Event.type == "test.ping")
    assert sorted((e["actor"], e["data"]) for e in events) == sorted(
        (f"test:{i}", f'{{"i": {i}}}') for i in range(40)
    )
    assert 1 <= len(commits) < 40, commits
    replays = await asyncio.gather(*(command(i) for i in range(0, 40, 7)))
    assert all(r.replayed for r in replays) and [r.body for r in replays] == [
        {"i": i} for i in range(0, 40, 7)
    ]


async def test_a_command_that_raises_is_rolled_back_alone(clean: None) -> None:
    """Commands sharing a group: one that wrote and then refused leaves nothing; the others all stay."""

    async def command(i: int) -> Reply:
        async def handler() -> Outcome:
            await Event(type="test.written", at=now(), actor=f"test:{i}", data="{}").save()
            if i % 2:
                raise workshop.Conflict("Refused after writing.", code="test.refused")
            return Outcome(200, {"i": i}, [NewEvent("test.ok", None, {"i": i})])

        return await execute(handler, actor=f"test:{i}", key=f"key-{i}", request_hash="h")

    results = await asyncio.gather(*(command(i) for i in range(20)), return_exceptions=True)
    assert [type(r) for r in results] == [Reply if i % 2 == 0 else workshop.Conflict for i in range(20)]
    written = await Event.select(Event.actor).where(Event.type == "test.written")
    assert sorted(r["actor"] for r in written) == sorted(f"test:{i}" for i in range(0, 20, 2))
    assert await Event.count().where(Event.type == "test.ok") == 10
    assert await IdempotencyRecord.count() == 10
    # The refused keys were not remembered: the same key is evaluated afresh.
    again = await asyncio.gather(*(command(i) for i in range(1, 20, 2)), return_exceptions=True)
    assert all(isinstance(r, workshop.Conflict) for r in again)


async def test_a_command_cancelled_while_queued_or_running_strands_nothing(clean: None) -> None:
    """A request that goes away (client gone, timeout) mid-way: its own work is undone, the commands
    it was queued with still commit and answer, and the writer keeps serving."""
    started, hold = asyncio.Event(), asyncio.Event()
    tasks: dict[str, asyncio.Task[Reply]] = {}

    def command(name: str, before: Callable[[], Any] | None = None) -> asyncio.Task[Reply]:
        async def handler() -> Outcome:
            await Event(type="test.written", at=now(), actor=f"test:{name}", data="{}").save()
            if before is not None:
                await before()
            return Outcome(200, {"name": name}, [NewEvent("test.ok", None, {})])

        tasks[name] = asyncio.create_task(execute(handler, actor=f"test:{name}"))
        return tasks[name]

    async def first_waits() -> None:
        started.set()
        await hold.wait()
        tasks["queued"].cancel()  # counted as waiting to join this group, then gone

    async def hangs() -> None:
        started.set()
        await asyncio.Event().wait()

    command("first", first_waits)
    await asyncio.wait_for(started.wait(), 5)
    command("queued")
    await asyncio.sleep(0)  # queued behind "first" now: "first" keeps the group open for it
    hold.set()
    first = await asyncio.wait_for(tasks["first"], 5)
    assert first.body == {"name": "first"}
    with pytest.raises(asyncio.CancelledError):
        await tasks["queued"]

    started.clear()
    running = command("running", hangs)
    await asyncio.wait_for(started.wait(), 5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    after = await asyncio.wait_for(command("after"), 5)
    assert after.body == {"name": "after"}
    written = await Event.select(Event.actor).where(Event.type == "test.written")
    assert sorted(r["actor"] for r in written) == ["test:after", "test:first"]


async def test_a_commands_events_are_written_in_one_statement_in_their_order(clean: None) -> None:
    """Key lookup, the events, the key's record: 3 statements however many events (a switch has 5;
    they were one INSERT each)."""
    from api.realtime import hints
    from tests import sqlcount

    engine = engine_finder()
    assert engine is not None
    sqlcount.install(engine)
    published: list[dict[str, Any]] = []
    unsubscribe = hints.subscribe(published.extend)
    kinds = [f"test.step{n}" for n in range(5)]

    async def handler() -> Outcome:
        return Outcome(200, {}, [NewEvent(kind, None, {"n": n}) for n, kind in enumerate(kinds)])

    try:
        with sqlcount.counting() as statements:
            await execute(handler, actor="test", key="five-events", request_hash="h")
    finally:
        unsubscribe()
    lock = 1 if BACKEND == "postgresql" else 0  # PostgreSQL's advisory lock (api/db.py)
    assert len(statements) == 3 + lock, statements
    stored = await Event.select(Event.seq, Event.type, Event.data).order_by(Event.seq)
    assert [r["type"] for r in stored] == kinds
    assert [(r["seq"], r["type"], r["data"]) for r in published] == [
        (r["seq"], r["type"], r["data"]) for r in stored
    ]
