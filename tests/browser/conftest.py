"""Real-browser tests: a live `python -m api serve` and Debian's Chromium, driven by Playwright.

Run on their own, without the asyncio plugin (the sync Playwright API must not run inside a loop):

    .venv/bin/python -m pytest -p no:asyncio tests/browser -q

Chromium comes from the system (/usr/bin/chromium, or $BAYLINE_CHROMIUM): never `playwright install`.
When it is missing the tests are skipped with the reason printed, except on CI (env CI set), where
that is a failure: a browser suite that silently does nothing is worse than none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("BAYLINE_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A synthetic camera for the walk-around viewfinder (getUserMedia), allowed without a prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
SECRET = "browser-tests-secret-0123456789abcdefghi"  # 40 characters
# A faked answer that stands for our server's own (api/app.py marks every API answer with it).
FROM_API = {"X-Bayline-Api": "1"}
assert len(SECRET) == 40
START_TIMEOUT_S = 30.0
SHOTS = Path("/tmp/bayline-shots")

# A tablet on a stand: landscape, touch, the size most bay tablets report.
TABLET: dict[str, Any] = {
    "viewport": {"width": 1024, "height": 768},
    "screen": {"width": 1024, "height": 768},
    "device_scale_factor": 1,
    "has_touch": True,
    "is_mobile": True,
    "timezone_id": "Asia/Shanghai",
}

# A cheap Android phone held upright: what a customer opens the status link on.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

# Staff on the shared live server (PINs that check_pin accepts: not runs, repeats or common lists).
MANAGER = {"username": "zhao.min", "name": "赵敏", "role": "manager", "pin": "5063"}
ADVISOR = {"username": "li.na", "name": "李娜", "role": "advisor", "pin": "4826"}
WRONG_PIN = "3917"


# ---------- the asyncio ini options without the asyncio plugin ----------


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # pyproject sets asyncio_* ini options for the API suites; with `-p no:asyncio` nobody declares
    # them, and pytest's "Unknown config option" warning becomes an error under filterwarnings=error.
    # Declare them (inert) only when pytest-asyncio is not there to do it.
    if pluginmanager.has_plugin("asyncio") and not pluginmanager.is_blocked("asyncio"):
        return
    for name in ("asyncio_mode", "asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope"):
        parser.addini(name, help=f"(declared by tests/browser/conftest.py: pytest-asyncio is off) {name}")


# ---------- Chromium ----------


def _chromium_problem() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set BAYLINE_CHROMIUM)"
    return None


def pytest_report_header(config: pytest.Config) -> str:
    problem = _chromium_problem()
    if problem is None:
        return f"bayline browser tests: Chromium at {CHROMIUM}"
    action = "FAILING (CI is set)" if os.environ.get("CI") else "SKIPPING"
    return f"bayline browser tests: {action}: {problem}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = _chromium_problem()
    if problem is None or os.environ.get("CI"):
        return  # on CI the session fixture below fails every test instead
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=problem))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    problem = _chromium_problem()
    if problem is not None and not os.environ.get("CI"):
        terminalreporter.write_line(f"bayline browser tests SKIPPED: {problem}", yellow=True)


@pytest.fixture(scope="session", autouse=True)
def _chromium_required() -> None:
    problem = _chromium_problem()
    if problem is not None:
        # Only reached on CI (elsewhere the items are marked skip before any fixture runs).
        pytest.fail(f"{problem}; the browser suite is required on CI", pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Override pytest-playwright's: the system Chromium, headless, no sandbox, no phoning home."""
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
        "chromium_sandbox": False,
        "timeout": 30_000,
    }


# ---------- live servers ----------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # tests/conftest.py (loaded first) points these at the in-process test database: drop them so the
    # server uses its default, an SQLite file in DATA_DIR. Nothing else from this shell may leak in.
    for name in (
        "DATABASE_URL",
        "TEST_DATABASE_URL",
        "REDIS_URL",
        "PHOTOS_DIR",
        "SHOP_TIMEZONE",
        "SECURE_COOKIES",
        "ALLOWED_ORIGINS",
        "SESSION_IDLE_MINUTES",
        "PORT",
    ):
        env.pop(name, None)
    env.update(
        DATA_DIR=str(data_dir), BAYLINE_SECRET=SECRET, PICCOLO_CONF="piccolo_conf", PYTHONUNBUFFERED="1"
    )
    return env


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    staff: list[dict[str, str]] = field(default_factory=list)
    database_url: str = ""  # a PostgreSQL database of its own; empty: the SQLite file in data_dir

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of `sql` read straight from the server's database (SQLite file or PostgreSQL)."""
        if self.database_url:
            import asyncpg

            async def fetch() -> list[tuple[Any, ...]]:
                conn = await asyncpg.connect(self.database_url, timeout=10)
                try:
                    return [tuple(r) for r in await conn.fetch(sql)]
                finally:
                    await conn.close()

            return in_thread(fetch)
        import sqlite3

        db = sqlite3.connect(f"file:{self.data_dir / 'bayline.sqlite3'}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _cli(self.env, *args)

    def get_json(self, path: str) -> Any:
        import json

        with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 (our own server)
            return json.loads(response.read())

    def requests_for(self, path: str) -> int:
        """How many GETs of `path` the server has logged so far (uvicorn's access log)."""
        time.sleep(0.2)  # the access log line is written just after the response
        try:
            return self.log_path.read_text(errors="replace").count(f'"GET {path} HTTP/')
        except OSError:
            return 0

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "api", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"python -m api {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def in_thread(make: Callable[[], Any]) -> Any:
    """Run the coroutine `make()` to completion on a thread of its own: Playwright's sync API
    keeps an event loop running on this one."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


PG_URL = os.environ.get("BAYLINE_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_problem() -> str | None:
    """Why the PostgreSQL variant of a browser test cannot run here (None: it can)."""

    import asyncpg

    async def check() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=5)
        await conn.close()

    try:
        in_thread(check)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {exc}"
    return None


@contextlib.contextmanager
def _pg_database() -> Iterator[str]:
    """A brand-new PostgreSQL database for one server, dropped afterwards."""
    import re
    import uuid

    import asyncpg

    name = f"bayline_browser_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    in_thread(lambda: admin(f'CREATE DATABASE "{name}"'))
    try:
        yield re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", PG_URL, count=1)
    finally:
        in_thread(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def live_server_at(staff: list[dict[str, str]], *, postgres: bool = False) -> Iterator[LiveServer]:
    """Migrate a brand-new data dir (and with `postgres` a new PostgreSQL database), add `staff`
    with the CLI, serve it, yield when /api/health answers."""
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(_pg_database()) if postgres else ""
        yield stack.enter_context(_serve(staff, database_url))


@contextlib.contextmanager
def _serve(staff: list[dict[str, str]], database_url: str) -> Iterator[LiveServer]:
    data_dir = Path(tempfile.mkdtemp(prefix="bayline-browser-"))
    env = _server_env(data_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    _cli(env, "migrate")
    for person in staff:
        _cli(
            env,
            "staff",
            "add",
            "--username",
            person["username"],
            "--name",
            person["name"],
            "--role",
            person["role"],
            "--pin",
            person["pin"],
        )
    port = _free_port()
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir, env, process, log_path, staff, database_url)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if server.get_json("/api/health").get("status") == "ok":
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"/api/health did not answer within {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}"
                )
            time.sleep(0.1)
        yield server
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """The shared server: set up already (a manager exists), with one advisor to sign in as."""
    with live_server_at([MANAGER, ADVISOR]) as server:
        yield server


@pytest.fixture
def fresh_server() -> Iterator[LiveServer]:
    """A brand-new installation with no staff at all: the first-run setup screen's server."""
    with live_server_at([]) as server:
        yield server


# ---------- browser contexts ----------


@pytest.fixture
def new_tablet(browser: Any) -> Iterator[Callable[..., Any]]:
    """new_tablet(locale="en-US") → a fresh tablet-sized touch context (closed after the test).

    Any uncaught script error, or anything the Content-Security-Policy blocked, on any page of these
    contexts fails the test: the shell must run clean, not merely look right.
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def watch(page: Any) -> None:
        page.on("pageerror", lambda exc: problems.append(f"uncaught error on {page.url}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console {msg.type} on {page.url}: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )

    def make(locale: str = "en-US", **overrides: Any) -> Any:
        context = browser.new_context(**{**TABLET, "locale": locale, **overrides})
        context.set_default_timeout(10_000)
        context.set_default_navigation_timeout(15_000)
        context.on("page", watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
