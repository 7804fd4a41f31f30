"""The database settings we promise: WAL, synchronous=FULL, a busy timeout, IMMEDIATE writes."""

from __future__ import annotations

import asyncio

import pytest
from piccolo.engine import engine_finder

from api import db
from api.commands import Outcome, execute
from api.events import NewEvent
from api.tables import Event
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
