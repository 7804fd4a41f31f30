"""RELIABILITY 22: kill -9 during writes loses no acknowledged command, and the file stays sound.

A real server (one worker) takes concurrent keyed commands from 16 clients and is killed with
SIGKILL at a random moment, three times over on the same data. Every command it answered 201 to
must be in the database afterwards (its repair order, its event, its idempotency record), and on
SQLite `PRAGMA integrity_check` must say ok. Commands that were never answered may or may not be
there. This is what group commit must not break, on SQLite and on PostgreSQL alike: a reply leaves
only after its group's COMMIT returned. On PostgreSQL the server gets a database of its own (the
killed process's open transaction is rolled back by the server when its connection drops).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND

if BACKEND == "postgresql":
    from tests.conftest import ADMIN_URL
from tests.factories import ro_body

ROOT = Path(__file__).resolve().parents[1]
PIN = "4826"
ROUNDS = 3
CLIENTS = 16


def _env(data: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BAYLINE_SECRET")}
    env.update(DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    if database_url:
        env.update(DATABASE_URL=database_url, BAYLINE_SECRET="crash-test-secret-0123456789abcdef")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(env: dict[str, str], data: Path, port: int) -> subprocess.Popen[bytes]:
    log = (data / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return process
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"server did not start: {(data / 'server.log').read_text()[-2000:]}")
        time.sleep(0.1)


async def _load(base: str, cookies: httpx.Cookies, csrf: str, acked: dict[str, int]) -> None:
    """Keyed commands from CLIENTS clients until the server goes away; note each acknowledged one."""

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=10) as c:
            c.headers["x-csrftoken"] = csrf
            while True:
                key = uuid.uuid4().hex
                try:
                    r = await c.post("/api/repair-orders", json=ro_body(), headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    return  # the server is gone: this one was never answered
                assert r.status_code == 201, r.text
                acked[key] = int(r.json()["id"])

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


_READ_BACK = (
    "SELECT id FROM repair_order",
    "SELECT repair_order, COUNT(*) FROM event WHERE type = 'ro.created' GROUP BY repair_order",
    "SELECT COUNT(*) FROM idempotency_record",
)


async def _stored(data: Path, database_url: str | None) -> tuple[str, set[int], dict[int, int], int]:
    if database_url:
        import asyncpg

        pg = await asyncpg.connect(database_url)
        try:
            orders, events, records = [[tuple(r) for r in await pg.fetch(sql)] for sql in _READ_BACK]
        finally:
            await pg.close()
        integrity = "ok"  # PostgreSQL's own business; what matters here is what was acknowledged
    else:
        connection = sqlite3.connect(f"file:{data / 'bayline.sqlite3'}?mode=ro", uri=True)
        try:
            integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
            orders, events, records = [connection.execute(sql).fetchall() for sql in _READ_BACK]
        finally:
            connection.close()
    return integrity, {row[0] for row in orders}, {ro: n for ro, n in events}, records[0][0]


@pytest.fixture
async def database_url() -> AsyncIterator[str | None]:
    """None on SQLite (the server's file in its DATA_DIR); on PostgreSQL a database of the server's own."""
    if BACKEND != "postgresql":
        yield None
        return
    import asyncpg

    name = f"bayline_crash_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", ADMIN_URL, count=1)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_kill_9_during_writes_loses_no_acknowledged_command(
    tmp_path: Path, database_url: str | None
) -> None:
    env = _env(tmp_path, database_url)
    for args in (["migrate"], ["staff", "add", "--username", "boss", "--name", "Boss", "--role", "manager"]):
        extra = ["--pin", PIN] if "staff" in args else []
        done = subprocess.run(
            [sys.executable, "-m", "api", *args, *extra], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    rng = random.Random(os.environ.get("CRASH_SEED", "22"))
    acked: dict[str, int] = {}
    cookies: httpx.Cookies | None = None
    csrf = ""
    for _ in range(ROUNDS):
        port = _free_port()
        process = _start(env, tmp_path, port)
        base = f"http://127.0.0.1:{port}"
        try:
            if cookies is None:  # the session lives in the database: it survives the kills
                async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                    r = await c.post("/api/auth/login", json={"username": "boss", "pin": PIN})
                    assert r.status_code == 200, r.text
                    cookies, csrf = c.cookies, c.cookies["csrftoken"]
            before = len(acked)
            load = asyncio.create_task(_load(base, cookies, csrf, acked))
            deadline = time.monotonic() + 30
            while len(acked) < before + 20 and not load.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # a burst under way before the kill
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            os.kill(process.pid, signal.SIGKILL)
            await asyncio.wait_for(load, 30)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
    integrity, orders, events, records = await _stored(tmp_path, database_url)
    assert integrity == "ok"
    assert len(acked) >= ROUNDS * 20
    lost = [ro for ro in acked.values() if ro not in orders]
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged repair orders lost"
    assert all(events.get(ro) == 1 for ro in acked.values())
    assert records >= len(acked)
    log: Any = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log
