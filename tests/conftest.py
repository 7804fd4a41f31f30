"""Test setup: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL), migrated once.

The environment is fixed before `api` is imported, because settings are read once per process.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="bayline-test-"))
os.environ["DATA_DIR"] = str(_TMP)
os.environ["BAYLINE_SECRET"] = "test-secret-not-for-production-0123456789"
os.environ["PICCOLO_CONF"] = "piccolo_conf"
os.environ.pop("REDIS_URL", None)
# The runaway-timer guard sweeps every minute in every app a test starts. Its cutoff is put half a
# day away from now, so a clock a test starts "three hours ago" is never stopped by the guard just
# because the suite happens to run shortly after 20:00 shop time; tests of the guard use the cutoff.
_SHOP = ZoneInfo(os.environ.get("SHOP_TIMEZONE") or "Asia/Shanghai")
os.environ["AUTOSTOP_AT"] = (datetime.now(_SHOP) + timedelta(hours=12)).strftime("%H:%M")

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
PG_DB_NAME = ""
if TEST_DATABASE_URL.startswith(("postgresql://", "postgres://")):
    # A database of our own for this run, dropped afterwards: never touch the one named in the URL.
    PG_DB_NAME = f"bayline_test_{uuid.uuid4().hex[:10]}"
    ADMIN_URL = TEST_DATABASE_URL
    os.environ["DATABASE_URL"] = re.sub(r"/[^/?]*(\?|$)", f"/{PG_DB_NAME}\\1", TEST_DATABASE_URL, count=1)
else:
    os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'test.sqlite3'}"

BACKEND = "postgresql" if PG_DB_NAME else "sqlite"


def pytest_report_header(config: pytest.Config) -> str:
    return f"bayline database backend: {BACKEND} ({os.environ['DATABASE_URL'].split('@')[-1]})"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[None]:
    """Create (PostgreSQL), migrate and prepare the test database once per session."""
    if PG_DB_NAME:
        await _pg_admin(f'CREATE DATABASE "{PG_DB_NAME}"')
    from piccolo.apps.migrations.commands.forwards import run_forwards
    from piccolo.engine import engine_finder

    from api import db

    result = await run_forwards(app_name="bayline", migration_id="all", fake=False)
    assert result.success, result.message
    engine = engine_finder()
    assert engine is not None
    await db.prepare(engine)
    yield
    await db.close(engine)
    if PG_DB_NAME:
        await asyncio.sleep(0)
        await _pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB_NAME}" WITH (FORCE)')


TABLES_IN_DELETE_ORDER = [
    "follow_up_call",
    "follow_up",
    "survey",
    "settlement",
    "part_line",
    "idempotency_record",
    "event",
    "qc_record",
    "clock_correction",
    "clock_event",
    "clock_entry",
    "attendance",
    "finding",
    "promise_change",
    "job",
    "repair_order",
    "ro_counter",
    "vehicle",
    "customer",
    "login_throttle",
    "staff_session",
    "staff",
    "shop",
]


@pytest.fixture
async def clean(database: None) -> None:
    """Every test starts from an empty database."""
    await wipe()


async def wipe() -> None:
    """Empty every table except the seeded QC checklist (for tests that start over in a loop)."""
    from piccolo.engine import engine_finder

    engine = engine_finder()
    assert engine is not None
    for table in TABLES_IN_DELETE_ORDER:
        await engine.run_ddl(f"DELETE FROM {table}")
    # SQLite reuses rowids once the event table is empty (production never deletes events):
    # a live hub in this process must start counting again from the emptied table.
    from api.realtime import hub as hubs

    if hubs._hub is not None:
        hubs._hub.seen = 0
