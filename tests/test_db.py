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


def _count_commits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every group COMMIT from now on (the writer's connection opens again, traced, on SQLite)."""
    commits: list[str] = []
    if BACKEND == "sqlite":
        _watch_connections(
            monkeypatch, lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
        )
        return commits
    from api import postgres_commands

    real = postgres_commands._Writer._commit

    async def counted(writer: Any, group: Any) -> None:
        commits.append("COMMIT")
        await real(writer, group)

    monkeypatch.setattr(postgres_commands._Writer, "_commit", counted)
    return commits


async def test_concurrent_commands_commit_in_groups_each_with_its_own_key_event_and_reply(
    clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One fsync per group: 40 concurrent commands need fewer than 40 COMMITs, none shares a record."""
    engine = engine_finder()
    assert engine is not None
    if BACKEND == "sqlite":
        await db.close(engine)  # the writer connection opens again below, traced
    commits = _count_commits(monkeypatch)

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
    """The events and the key's record: 2 statements however many events (a switch has 5; they were
    one INSERT each), and no look-up of the key before a new one (it is INSERTed ON CONFLICT DO
    NOTHING at the end). The same on PostgreSQL: its command lock is sent with BEGIN."""
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
    assert len(statements) == 2, statements
    assert statements[0].startswith("INSERT INTO idempotency_record") and "ON CONFLICT" in statements[0]
    assert statements[1].startswith("INSERT INTO event") and statements[1].count("'test.step") == 5
    stored = await Event.select(Event.seq, Event.type, Event.data).order_by(Event.seq)
    assert [r["type"] for r in stored] == kinds
    assert [(r["seq"], r["type"], r["data"]) for r in published] == [
        (r["seq"], r["type"], r["data"]) for r in stored
    ]


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's command lock; SQLite has BEGIN IMMEDIATE")
async def test_postgres_commands_hold_the_command_lock_without_a_counted_statement(clean: None) -> None:
    """The advisory lock is taken with BEGIN, on the command's connection, and held until COMMIT:
    a second command waits for the first even though no statement of either names the lock."""
    from tests import sqlcount

    engine = engine_finder()
    assert engine is not None
    sqlcount.install(engine)
    inside, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def first() -> Outcome:
        rows = await Event.raw(
            "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND granted AND (classid::bigint << 32 | objid::bigint) = {}",
            db.COMMAND_LOCK_ID,
        )
        assert rows == [{"n": 1}]
        inside.set()
        await release.wait()
        order.append("first")
        return Outcome(200, {})

    async def second() -> Outcome:
        order.append("second")
        return Outcome(200, {})

    with sqlcount.counting() as statements:
        one = asyncio.create_task(execute(first, actor="test:1"))
        await asyncio.wait_for(inside.wait(), 5)
        two = asyncio.create_task(execute(second, actor="test:2"))
        done, _ = await asyncio.wait({two}, timeout=0.3)  # the lock is held: it cannot start
        assert not done and order == []
        release.set()
        await asyncio.wait_for(asyncio.gather(one, two), 5)
    assert order == ["first", "second"]
    assert not any("advisory" in sql for sql in statements if "pg_locks" not in sql), statements


async def test_a_lost_group_fails_every_command_of_it_a_refused_one_too(clean: None) -> None:
    """When the database drops the group transaction, nothing of the group is kept and none of its
    commands is answered as if it were: not the ones that succeeded, and not one that refused (its
    refusal may rest on the work of an earlier command of the group). Nor does the rest of the
    command that lost it run on its own, committed statement by statement. The writer then serves
    the next command."""
    from api.command_groups import GroupLost

    engine = engine_finder()
    assert engine is not None
    first_in, go = asyncio.Event(), asyncio.Event()

    async def wrote() -> Outcome:
        await Event(type="test.written", at=now(), actor="test:wrote", data="{}").save()
        first_in.set()
        await go.wait()  # the others queue behind it: one group
        return Outcome(200, {}, [NewEvent("test.ok", None, {})])

    async def refused() -> Outcome:
        if await Event.exists().where(Event.type == "test.written"):
            raise workshop.Conflict("Refused because of the first command.", code="test.refused")
        return Outcome(200, {})

    async def drops_the_transaction() -> Outcome:
        await engine.run_ddl("ROLLBACK")  # what SQLite does itself after an I/O error or a full disk
        return Outcome(200, {}, [NewEvent("test.after_the_rollback", None, {})])

    one = asyncio.create_task(execute(wrote, actor="test:1", key="k1", request_hash="h"))
    await asyncio.wait_for(first_in.wait(), 5)
    others = [
        asyncio.create_task(execute(refused, actor="test:2", key="k2", request_hash="h")),
        asyncio.create_task(execute(drops_the_transaction, actor="test:3", key="k3", request_hash="h")),
    ]
    await asyncio.sleep(0)
    go.set()
    results = await asyncio.wait_for(asyncio.gather(one, *others, return_exceptions=True), 5)
    assert [type(r) for r in results] == [GroupLost, GroupLost, GroupLost], results
    assert await Event.count() == 0 and await IdempotencyRecord.count() == 0

    async def after() -> Outcome:
        return Outcome(200, {"after": True}, [NewEvent("test.ok", None, {})])

    reply = await asyncio.wait_for(execute(after, actor="test:4"), 5)
    assert reply.body == {"after": True} and await Event.count() == 1


async def test_cancelled_commands_give_their_connection_back(clean: None) -> None:
    """Twelve commands cancelled while waiting for the command lock or inside it (more than the
    PostgreSQL pool holds): none keeps a connection or the lock, the next command runs at once."""
    hold, inside = asyncio.Event(), asyncio.Event()

    async def holds() -> Outcome:
        inside.set()
        await hold.wait()
        return Outcome(200, {})

    async def never_reached() -> Outcome:
        return Outcome(200, {}, [NewEvent("test.never", None, {})])

    for _ in range(12):
        inside.clear()
        running = asyncio.create_task(execute(holds, actor="test:running"))
        await asyncio.wait_for(inside.wait(), 5)
        waiting = asyncio.create_task(execute(never_reached, actor="test:waiting"))
        await asyncio.wait({waiting}, timeout=0.01)  # queued behind the lock
        waiting.cancel()
        running.cancel()
        for task in (waiting, running):
            with pytest.raises(asyncio.CancelledError):
                await task

    async def after() -> Outcome:
        return Outcome(200, {"after": True}, [NewEvent("test.ok", None, {})])

    reply = await asyncio.wait_for(execute(after, actor="test:after"), 5)
    assert reply.body == {"after": True}
    assert await Event.select(Event.type) == [{"type": "test.ok"}]


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's reader threads; PostgreSQL reads use its pool")
async def test_short_reads_run_on_the_loop_and_a_busy_database_sends_them_to_a_reader(
    clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's session (one row by a unique index) is read on the event loop's thread: a hand-off to
    a reader thread cost several times the read. Never a wait on the loop: when SQLite says busy, the
    read goes to a reader thread, which may wait."""
    import threading

    from api import sqlite_engine

    where: list[str] = []
    real = sqlite_engine._fetch
    busy_once = [True]

    def fetch(connection: sqlite3.Connection, sql: str, args: Any) -> list[dict[str, Any]]:
        where.append(threading.current_thread().name)
        if busy_once[0] and threading.current_thread() is threading.main_thread():
            busy_once[0] = False
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise error
        return real(connection, sql, args)

    await Event.count()
    monkeypatch.setattr(sqlite_engine, "_fetch", fetch)
    with db.short_reads():
        assert await Event.count() == 0  # busy on the loop: read again by a reader
        assert await Event.count() == 0
    assert await Event.count() == 0  # not marked short: a reader thread
    main = threading.main_thread().name
    assert where[0] == main and where[1].startswith("bayline-sqlite-reader")
    assert where[2] == main and where[3].startswith("bayline-sqlite-reader"), where


async def test_a_session_costs_one_statement_and_is_touched_at_most_once_a_minute(clean: None) -> None:
    """Every request reads its session (one statement, by the token's unique index); the sliding
    idle time is written only when the last touch is over a minute old."""
    from datetime import timedelta

    from api import auth
    from api.tables import Staff, StaffSession
    from tests import sqlcount

    engine = engine_finder()
    assert engine is not None
    sqlcount.install(engine)
    staff = Staff(username="tess", name="Tess", role="technician", pin_hash="x", created_at=now())
    await staff.save()
    seen = now() - timedelta(minutes=2)
    row = StaffSession(
        token_hash=auth.token_hash("token"), staff=staff.id, device_id="d", created_at=seen, last_seen_at=seen
    )
    await row.save()
    for expected in (2, 1, 1):
        with sqlcount.counting() as statements:
            user = await auth.load_session("token")
        assert user is not None and user.id == staff.id and user.session_id == row.id
        assert len(statements) == expected, statements
    touched = await StaffSession.select(StaffSession.last_seen_at).where(StaffSession.id == row.id).first()
    assert touched is not None and touched["last_seen_at"] > seen + timedelta(minutes=1)
