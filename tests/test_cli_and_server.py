"""The command line and a real uvicorn server started the way `make run` and the Procfile do."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BAYLINE_SECRET")}
    env.update(DATA_DIR=str(data_dir), **extra)
    return env


def _cli(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        cwd=ROOT,
        env=_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL: must start with"),
        ("SHOP_TIMEZONE", "Mars/Olympus", "SHOP_TIMEZONE: unknown time zone"),
        ("BAYLINE_SECRET", "short", "BAYLINE_SECRET: must be at least 16"),
        ("REDIS_URL", "http://x", "REDIS_URL: must start with"),
        ("SESSION_IDLE_MINUTES", "soon", "SESSION_IDLE_MINUTES: must be a whole number"),
    ],
)
def test_wrong_configuration_stops_with_one_clear_line(
    tmp_path: Path, variable: str, value: str, words: str
) -> None:
    result = _cli(tmp_path, "serve", **{variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_staff_add_backup_and_weak_pin(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").returncode == 0
    ok = _cli(
        tmp_path,
        "staff",
        "add",
        "--username",
        "Li.Na",
        "--name",
        "李娜",
        "--role",
        "advisor",
        "--pin",
        "3917",
    )
    assert ok.returncode == 0 and "li.na" in ok.stdout
    again = _cli(
        tmp_path, "staff", "add", "--username", "li.na", "--name", "X", "--role", "advisor", "--pin", "3917"
    )
    assert again.returncode == 2 and "taken" in again.stderr
    weak = _cli(
        tmp_path, "staff", "add", "--username", "a", "--name", "A", "--role", "advisor", "--pin", "1111"
    )
    assert weak.returncode == 2 and "--pin" in weak.stderr
    backup = tmp_path / "backups" / "b.sqlite3"
    result = _cli(tmp_path, "backup", "--to", str(backup))
    assert result.returncode == 0, result.stderr
    copy = sqlite3.connect(backup)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT username FROM staff").fetchall() == [("li.na",)]
    copy.close()
    assert _cli(tmp_path, "backup", "--to", str(backup)).returncode == 2  # never overwrites
    pg_settings = {
        "DATABASE_URL": "postgresql://u@127.0.0.1/none",
        "BAYLINE_SECRET": "a-shared-secret-0123456789",
    }
    pg = _cli(tmp_path, "backup", "--to", str(tmp_path / "x"), **pg_settings)
    assert pg.returncode == 2 and "pg_dump" in pg.stderr


def test_demo_fills_once(tmp_path: Path) -> None:
    first = _cli(tmp_path, "demo")
    assert first.returncode == 0 and "PIN" in first.stdout, first.stderr
    second = _cli(tmp_path, "demo")
    assert second.returncode == 0 and "already" in second.stdout
    db = sqlite3.connect(tmp_path / "bayline.sqlite3")
    assert db.execute("SELECT count(*) FROM repair_order").fetchone()[0] >= 5
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Demo orders are numbered like real ones: by the shop's day of check-in, 001 upwards without
    # gaps, so the first real order of the day takes the next free number.
    zone = ZoneInfo(db.execute("SELECT timezone FROM shop").fetchone()[0])
    by_day: dict[str, list[int]] = {}
    for number, created in db.execute("SELECT number, created_at FROM repair_order ORDER BY id"):
        day, seq = number.split("-")
        assert day == datetime.fromisoformat(str(created)).astimezone(zone).strftime("%y%m%d"), number
        by_day.setdefault(day, []).append(int(seq))
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_day.values()), by_day
    db.close()


def test_demo_refuses_a_shop_in_use(tmp_path: Path) -> None:
    """Issue 11 item 10: on a shop with staff the demo added a manager and printed the PIN."""
    assert _cli(tmp_path, "migrate").returncode == 0
    added = _cli(
        tmp_path, "staff", "add", "--username", "boss", "--name", "老板", "--role", "manager", "--pin", "5063"
    )
    assert added.returncode == 0, added.stderr
    refused = _cli(tmp_path, "demo")
    assert refused.returncode != 0 and "PIN" not in refused.stdout
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "staff" in lines[0] and "empty" in lines[0], refused.stderr
    db = sqlite3.connect(tmp_path / "bayline.sqlite3")
    assert db.execute("SELECT username FROM staff").fetchall() == [("boss",)]
    assert db.execute("SELECT count(*) FROM repair_order").fetchone()[0] == 0
    db.close()


def test_a_port_that_is_not_a_number_stops_any_command_with_one_line(tmp_path: Path) -> None:
    """Issue 11 item 19: `PORT=abc python -m api migrate` printed a traceback."""
    result = _cli(tmp_path, "migrate", PORT="abc")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "PORT: must be a whole number" in lines[0], result.stderr


@pytest.mark.parametrize(
    "shared",
    [{"DATABASE_URL": "postgresql://bayline@127.0.0.1:1/bayline"}, {"REDIS_URL": "redis://127.0.0.1:1/0"}],
)
def test_several_workers_need_an_explicit_secret(tmp_path: Path, shared: dict[str, str]) -> None:
    """With PostgreSQL or Redis (several workers or hosts) each host would make up its own secret."""
    result = _cli(tmp_path, "migrate", **shared)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bayline: BAYLINE_SECRET:"), result.stderr
    assert not (tmp_path / "secret.key").exists()


def test_staff_add_on_a_fresh_data_dir_migrates_first(tmp_path: Path) -> None:
    """Issue 11 item 19: it crashed with `no such table: staff` before any `migrate`."""
    result = _cli(
        tmp_path, "staff", "add", "--username", "wang", "--name", "王芳", "--role", "manager", "--pin", "5063"
    )
    assert result.returncode == 0, result.stderr
    assert "Added manager" in result.stdout and "Traceback" not in result.stderr
    db = sqlite3.connect(tmp_path / "bayline.sqlite3")
    assert db.execute("SELECT username, role FROM staff").fetchall() == [("wang", "manager")]
    db.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/health", timeout=2).read()
            break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                out = process.stdout.read().decode() if process.stdout else ""
                process.kill()
                pytest.fail(f"server did not start: {out[-2000:]}")
            time.sleep(0.2)
    yield base
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)
    if process.stdout:
        process.stdout.close()


def test_real_server_serves_app_api_and_schema(server: str) -> None:
    health = json.loads(urllib.request.urlopen(f"{server}/api/health", timeout=5).read())
    assert health["status"] == "ok" and health["database"] == "sqlite"
    page = urllib.request.urlopen(f"{server}/", timeout=5)
    assert page.headers["content-type"].startswith("text/html") and b"/web/js/app.js" in page.read()
    assert "default-src 'self'" in page.headers["content-security-policy"]
    sw = urllib.request.urlopen(f"{server}/sw.js", timeout=5)
    assert sw.headers["service-worker-allowed"] == "/" and b"VERSION" in sw.read()
    module = urllib.request.urlopen(f"{server}/web/js/app.js", timeout=5)
    assert "javascript" in module.headers["content-type"]
    manifest = json.loads(urllib.request.urlopen(f"{server}/manifest.webmanifest", timeout=5).read())
    assert manifest["start_url"] == "/"
    schema = json.loads(urllib.request.urlopen(f"{server}/schema/openapi.json", timeout=10).read())
    for path in (
        "/api/repair-orders",
        "/api/repair-orders/{ro_id}/promise",
        "/api/auth/login",
        "/api/health",
    ):
        assert path in schema["paths"], path
    setup = json.loads(urllib.request.urlopen(f"{server}/api/setup", timeout=5).read())
    assert setup["needed"] is True


def test_head_health_and_the_schema_page_work_offline_under_the_csp(server: str) -> None:
    head = urllib.request.urlopen(urllib.request.Request(f"{server}/api/health", method="HEAD"), timeout=5)
    assert head.status == 200 and head.read() == b""
    page = urllib.request.urlopen(f"{server}/schema", timeout=10)
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.read().decode()
    assert "/api/repair-orders/{ro_id}/promise" in html and "/schema/openapi.json" in html
    # Nothing the CSP (or a shop network without internet) would block: no script, no style, no
    # resource from another origin.
    assert not re.search(r"<script|<style|<link|style=", html, re.I), html[:500]
    assert all(url.startswith(("/", "#")) for url in re.findall(r'(?:src|href)="([^"]*)"', html))
