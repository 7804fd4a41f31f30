"""Contention benchmark (RELIABILITY 18): 40 tablets × 500 clock operations through the real server.

    .venv/bin/python tests/bench/bench_clock.py               # 40 tablets × 500 clock operations
    .venv/bin/python tests/bench/bench_clock.py --quick       # 40 × 100 (a smoke run)
    .venv/bin/python tests/bench/bench_clock.py --think-ms 500  # tablets pause between taps
    .venv/bin/python tests/bench/bench_clock.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
                                                               # the same on PostgreSQL (a database of its own)

A real `python -m api serve` (uvicorn, one worker) on a fresh SQLite DATA_DIR, pinned to CPU 0 after the
set-up (all its threads); this client on CPU 1. The full run is 20,000+ requests: it takes as long as
the server needs for them (printed as throughput). 40 technicians, each signed in on a tablet of its own (its own httpx client, cookie
jar and session), each with one repair order and three jobs assigned to them. Every tablet alternates
clock-on / clock-off (reasons rotating among break, waiting_parts, other; the tablet's `device_time`
sent) across its jobs, as fast as the replies come back (no think time unless --think-ms: the worst
case for the write lock). Every operation carries a fresh Idempotency-Key; ~2.5 % are then sent again
after the reply (a retry of a lost reply) and ~2.5 % are sent twice at once (a retry while the first is
still in flight): both must answer 200 with the same body, one effect.

Floors measured in the same run, on the same server and sessions:
  * the 40 tablets doing GET /api/health (a signed-in round trip with a read, no write);
  * one more technician doing clock operations alone, one after another (uncontended write latency).
Commands run one at a time on one writer connection and commit in groups (api/sqlite_engine.py,
api/postgres_commands.py), so with N tablets and no think time a request would wait about N × the
uncontended time if every command paid its own COMMIT: that figure is printed next to the
percentiles; group commit shares one COMMIT among the commands that queued during the last one.
The server's CPU time per request is printed too (all its threads, from /proc): when the server uses
a whole core, CPU per request, not the lock, sets the throughput and so the latency.

With --postgres the server uses a database of its own on that server, created for the run and dropped
after it (PostgreSQL's own processes are not pinned: they are not part of `python -m api serve`).

Checked: no "database is locked" in any reply or server log line, no 5xx; then, with the server
stopped, the database is read back (the SQLite file read-only): at most one open clock entry per technician, no
overlapping entries, entries and clock events per technician equal to the operations that succeeded,
and idempotency records equal to the keyed commands that were not replays. Prints a PASS/FAIL line for
"0 locked, p95 < 100 ms"; exits 1 only on locked errors, 5xx, dropped requests or broken data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-0123456789abcdefghijklmnop"
PIN = "4826"
TABLETS = 40
OPS = 500
JOBS_PER_TABLET = 3
REASONS = ("break", "waiting_parts", "other")  # never `finished`: the jobs stay workable
REPLAY_AFTER = 0.025  # the same key again after the reply came back
REPLAY_INFLIGHT = 0.025  # the same key twice at once
HEALTH_PER_TABLET = 50
SOLO_OPS = 200
WARMUP = 10  # solo operations not counted in its figures (still counted in the data check)
GOAL_P95_MS = 100.0
LOCKED = "database is locked"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):7.2f}  p95 {pct(values, 0.95):7.2f}  p99 {pct(values, 0.99):7.2f}"
        f"  max {max(values):7.2f} ms"
    )


# ---------- the server ----------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin_cpu0(pid: int) -> None:
    """Every thread of the server onto CPU 0 (threads started later inherit it from their creator)."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(int(task.name), {0})


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


@dataclass
class Server:
    port: int
    data: Path
    log: Path
    process: subprocess.Popen[bytes]
    postgres: str | None = None  # the server's DATABASE_URL on PostgreSQL; None: SQLite in `data`

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _with_database(url: str, name: str) -> str:
    return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", url, count=1)


@contextlib.asynccontextmanager
async def bayline_server(postgres: str | None) -> AsyncIterator[Server]:
    data = Path(tempfile.mkdtemp(prefix="bench-clock-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PHOTOS_DIR")}
    env.update(DATA_DIR=str(data), BAYLINE_SECRET=SECRET, PYTHONUNBUFFERED="1")
    database = ""
    if postgres:
        database = f"bench_clock_{uuid.uuid4().hex[:10]}"
        await _pg_admin(postgres, f'CREATE DATABASE "{database}"')
        env["DATABASE_URL"] = _with_database(postgres, database)
    cli = [sys.executable, "-m", "api"]
    port = free_port()
    log = data / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([*cli, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        add = ["staff", "add", "--username", "manager", "--name", "Bench Manager", "--role", "manager"]
        subprocess.run([*cli, *add, "--pin", PIN], cwd=ROOT, env=env, check=True, capture_output=True)
        with log.open("wb") as out:  # stdout (access log) and stderr (errors, tracebacks) together
            process = subprocess.Popen(
                [*cli, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(port, data, log, process, env.get("DATABASE_URL"))
        wait_port(port, process, log)
        yield server
    finally:
        if process is not None:
            Server(port, data, log, process).stop()
        if database:
            assert postgres is not None
            await _pg_admin(postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(data, ignore_errors=True)


# ---------- what the client saw ----------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"fresh": [], "replay": [], "dup": []})
    commit_ms: list[float] = field(default_factory=list)  # the server's Server-Timing commit;dur
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    locked: int = 0
    transport_errors: Counter[str] = field(default_factory=Counter)
    replay_mismatch: int = 0
    keyed_commits: int = 0  # keyed 2xx replies that were not replays: one idempotency record each
    on_ok: Counter[int] = field(default_factory=Counter)  # per technician
    off_ok: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    by_index: list[tuple[int, float]] = field(default_factory=list)  # (operation number, ms): the trend

    def note(self, kind: str, r: httpx.Response, ms: float, index: int) -> None:
        self.latencies[kind].append(ms)
        if kind == "fresh":
            self.by_index.append((index, ms))
        self.statuses[(kind, r.status_code)] += 1
        if LOCKED in r.text:
            self.locked += 1
        if 200 <= r.status_code < 300 and r.headers.get("idempotent-replayed") != "true":
            self.keyed_commits += 1
        timing = r.headers.get("server-timing", "")
        if "dur=" in timing:
            self.commit_ms.append(float(timing.split("dur=")[1]))
        if r.status_code != 200 and len(self.unexpected) < 5:
            self.unexpected.append(
                f"{r.request.method} {r.request.url.path} → {r.status_code} {r.text[:200]}"
            )


class Tablet:
    """One shared bay tablet: its own cookie jar, session and CSRF header."""

    def __init__(self, port: int, username: str) -> None:
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so a tablet never reuses
        # a connection the server is closing at that moment (a ReadError that is not the server's fault).
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=120, limits=httpx.Limits(keepalive_expiry=2)
        )
        self.username = username
        self.staff_id = 0
        self.jobs: list[int] = []

    async def sign_in(self) -> None:
        r = await self.http.post("/api/auth/login", json={"username": self.username, "pin": PIN})
        if r.status_code != 200:
            raise RuntimeError(f"sign-in {self.username}: {r.status_code} {r.text}")
        self.http.headers["x-csrftoken"] = self.http.cookies["csrftoken"]

    async def command(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A setup command: must succeed."""
        r = await self.http.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        if r.status_code >= 300:
            raise RuntimeError(f"{path}: {r.status_code} {r.text}")
        result: dict[str, Any] = r.json()
        return result

    async def send(
        self, path: str, body: dict[str, Any], key: str, kind: str, tally: Tally, index: int = -1
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            r = await self.http.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            tally.transport_errors[type(exc).__name__] += 1
            return None
        tally.note(kind, r, (time.perf_counter() - started) * 1000, index)
        return r

    async def clock(self, ops: int, rng: random.Random, tally: Tally, think: float = 0.0) -> None:
        """`ops` clock operations, alternating on / off across this tablet's jobs."""
        running: int | None = None
        turn = 0
        for i in range(ops):
            if running is None:
                job = self.jobs[turn % len(self.jobs)]
                turn += 1
                path, body = f"/api/jobs/{job}/clock-on", {"device_time": datetime.now(UTC).isoformat()}
            else:
                job = running
                reason = REASONS[(i // 2) % len(REASONS)]
                path = f"/api/jobs/{job}/clock-off"
                body = {"reason": reason, "device_time": datetime.now(UTC).isoformat()}
            key = uuid.uuid4().hex
            dice = rng.random()
            if dice < REPLAY_INFLIGHT:
                pair = await asyncio.gather(*(self.send(path, body, key, "dup", tally) for _ in range(2)))
                replies = [x for x in pair if x is not None]
                good = [x for x in replies if x.status_code == 200]
                r = good[0] if good else (replies[0] if replies else None)
                # Both 200: one first reply and one replay of it, same body (a 5xx is counted apart).
                firsts = [x for x in good if x.headers.get("idempotent-replayed") != "true"]
                if len(firsts) > 1 or any(x.json() != good[0].json() for x in good):
                    tally.replay_mismatch += 1
            else:
                r = await self.send(path, body, key, "fresh", tally, i)
            # A tablet without a definite answer retries with the same key until it has one.
            for _ in range(3):
                if r is not None and r.status_code < 500:
                    break
                r = await self.send(path, body, key, "replay", tally)
            if r is None or r.status_code != 200:
                # Refused (unexpected here): resynchronise as the screen would, from scratch.
                running = None
                continue
            if path.endswith("clock-on"):
                running = job
                tally.on_ok[self.staff_id] += 1
            else:
                running = None
                tally.off_ok[self.staff_id] += 1
            if REPLAY_INFLIGHT <= dice < REPLAY_INFLIGHT + REPLAY_AFTER:
                again = await self.send(path, body, key, "replay", tally)
                if (
                    again is not None
                    and again.status_code < 500
                    and (
                        again.status_code != 200
                        or again.headers.get("idempotent-replayed") != "true"
                        or again.json() != r.json()
                    )
                ):
                    tally.replay_mismatch += 1
            if think:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)


# ---------- setup ----------


async def set_up(port: int) -> tuple[Tablet, list[Tablet], Tablet]:
    manager = Tablet(port, "manager")
    await manager.sign_in()
    techs = [Tablet(port, f"tech{i:02d}") for i in range(TABLETS)] + [Tablet(port, "solo")]
    for t in techs:  # one by one: each is an argon2 hash on the server
        person = await manager.command(
            "/api/staff/",
            {"username": t.username, "name": f"Tech {t.username}", "role": "technician", "pin": PIN},
        )
        t.staff_id = person["id"]
    # Eight at a time: these are first sign-ins of unknown devices from one address, which the server
    # checks a few at once and turns away beyond that (api/auth.py VERIFY_QUEUE, a flood guard).
    for start in range(0, len(techs), 8):
        await asyncio.gather(*(t.sign_in() for t in techs[start : start + 8]))
    promised = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    for n, t in enumerate(techs):
        ro = await manager.command(
            "/api/repair-orders",
            {
                "customer": {"name": f"客户{n}", "phone": f"139{n:08d}", "language": "zh-CN"},
                "vehicle": {"plate": f"沪B{n:05d}", "make": "Toyota", "model": "Camry", "color": "grey"},
                "mileage": 30000 + n,
                "concerns": ["保养"],
                "promised_at": promised,
                "jobs": [
                    {"title": f"Job {j + 1}", "estimated_hours": 1.0, "price": 200}
                    for j in range(JOBS_PER_TABLET)
                ],
            },
        )
        t.jobs = [job["id"] for job in ro["jobs"]]
        for job in t.jobs:
            await manager.command(f"/api/jobs/{job}/assign", {"technician_id": t.staff_id})
    return manager, techs[:TABLETS], techs[TABLETS]


async def health_floor(tablets: list[Tablet]) -> list[float]:
    out: list[float] = []

    async def one(t: Tablet) -> None:
        for _ in range(HEALTH_PER_TABLET):
            started = time.perf_counter()
            r = await t.http.get("/api/health")
            out.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()

    await asyncio.gather(*(one(t) for t in tablets))
    return out


# ---------- the data, read from the file after the server stopped ----------


def parse_at(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


READ_BACK = {
    "entries": "SELECT technician, job, started_at, ended_at FROM clock_entry ORDER BY technician, id",
    "events": "SELECT actor, type FROM event WHERE type IN ('clock.on', 'clock.off')",
    "in_progress": "SELECT id FROM job WHERE state = 'in_progress'",
    "records": "SELECT COUNT(*) FROM idempotency_record",
    # Where taps are kept as rows of their own (clock_event), one row per tap, replays included once.
    "taps": "SELECT technician, COUNT(*) FROM clock_event GROUP BY technician",
}


async def read_back(server: Server) -> dict[str, list[tuple[Any, ...]]]:
    """The rows `verify` checks, from the stopped server's database (SQLite file or PostgreSQL)."""
    if server.postgres is None:
        con = sqlite3.connect(f"file:{server.data / 'bayline.sqlite3'}?mode=ro", uri=True)
        try:
            return {name: con.execute(sql).fetchall() for name, sql in READ_BACK.items()}
        finally:
            con.close()
    import asyncpg

    connection = await asyncpg.connect(server.postgres)
    try:
        return {name: [tuple(r) for r in await connection.fetch(sql)] for name, sql in READ_BACK.items()}
    finally:
        await connection.close()


def verify(
    stored: dict[str, list[tuple[Any, ...]]], tally: Tally, technicians: list[Tablet], setup_commits: int
) -> list[str]:
    problems: list[str] = []
    entries: dict[int, list[tuple[datetime, datetime | None, int]]] = {}
    for tech, job, started, ended in stored["entries"]:
        entries.setdefault(tech, []).append((parse_at(started), parse_at(ended) if ended else None, job))
    events = Counter((actor, type_) for actor, type_ in stored["events"])
    in_progress = {job for (job,) in stored["in_progress"]}
    records = stored["records"][0][0]
    taps: Counter[int] = Counter(dict(stored["taps"]))
    open_total = 0
    for t in technicians:
        rows = entries.get(t.staff_id, [])
        open_rows = [r for r in rows if r[1] is None]
        open_total += len(open_rows)
        if len(open_rows) > 1:
            problems.append(f"{t.username}: {len(open_rows)} open clock entries")
        ordered = sorted(rows, key=lambda r: r[0])
        for a, b in zip(ordered, ordered[1:], strict=False):
            if a[1] is None or a[1] > b[0]:
                problems.append(f"{t.username}: entries overlap ({a[0]}–{a[1]} and {b[0]}–)")
                break
        if any(r[2] not in t.jobs for r in rows):
            problems.append(f"{t.username}: an entry on someone else's job")
        on, off = tally.on_ok[t.staff_id], tally.off_ok[t.staff_id]
        closed = len(rows) - len(open_rows)
        actor = f"staff:{t.staff_id}"
        got = (len(rows), closed, events[(actor, "clock.on")], events[(actor, "clock.off")])
        if got != (on, off, on, off):
            problems.append(
                f"{t.username}: entries/closed/clock.on/clock.off = {got}, successful on/off = {on}/{off}"
            )
        if taps[t.staff_id] != on + off:
            problems.append(f"{t.username}: {taps[t.staff_id]} clock taps kept, {on + off} succeeded")
        running = {r[2] for r in open_rows}
        if running != in_progress & set(t.jobs):
            problems.append(
                f"{t.username}: jobs in progress {in_progress & set(t.jobs)} ≠ open clocks {running}"
            )
    expected = setup_commits + tally.keyed_commits
    if records != expected:
        problems.append(f"idempotency records {records} ≠ keyed commands without replay {expected}")
    n_entries = sum(len(v) for v in entries.values())
    n_events = sum(events.values())
    print(
        f"data: {len(technicians)} technicians, {n_entries} clock entries ({open_total} open), "
        f"{n_events} clock events, {records} idempotency records — "
        + ("consistent" if not problems else f"{len(problems)} PROBLEMS")
    )
    for p in problems[:20]:
        print(f"  ✗ {p}")
    return problems


# ---------- the run ----------


def log_lines(log: Path) -> tuple[int, Counter[str], int]:
    """Lines saying "database is locked", the exceptions of the tracebacks, 5xx in the access log."""
    lines = log.read_text(errors="replace").splitlines()
    locked = sum(1 for line in lines if LOCKED in line)
    exceptions: Counter[str] = Counter()
    inside = False
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            inside = True
        elif inside and line and not line[0].isspace():
            exceptions[line[:160]] += 1
            inside = False
    server_errors = sum(1 for line in lines if '" 5' in line and "HTTP/1.1" in line)
    return locked, exceptions, server_errors


async def run(ops: int, think_ms: float, postgres: str | None) -> int:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {1})
    print(
        f"bench_clock: {TABLETS} tablets × {ops} clock operations (+~{(REPLAY_AFTER + REPLAY_INFLIGHT) * 100:.0f}% "
        f"repeated keys), think time {think_ms:.0f} ms; server ({'PostgreSQL' if postgres else 'SQLite'}, "
        "1 worker) on CPU 0, client on CPU 1"
    )
    async with bayline_server(postgres) as server:
        started = time.perf_counter()
        # Set-up (82 argon2 hashes) may use both CPUs; everything measured runs with the server on CPU 0.
        manager, tablets, solo = await set_up(server.port)
        pin_cpu0(server.process.pid)
        setup_commits = TABLETS + 1 + (TABLETS + 1) * (1 + JOBS_PER_TABLET)
        print(
            f"setup: {TABLETS + 1} technicians signed in, {TABLETS + 1} repair orders, "
            f"{(TABLETS + 1) * JOBS_PER_TABLET} jobs assigned ({time.perf_counter() - started:.1f} s)"
        )

        health = await health_floor(tablets)
        solo_tally = Tally()
        await solo.clock(SOLO_OPS, random.Random(999), solo_tally)
        solo_fresh = solo_tally.latencies["fresh"][WARMUP:]

        tally = Tally()
        cpu0 = cpu_seconds(server.process.pid)
        client0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(
            *(t.clock(ops, random.Random(i), tally, think_ms / 1000) for i, t in enumerate(tablets))
        )
        elapsed = time.perf_counter() - t0
        server_cpu = cpu_seconds(server.process.pid) - cpu0
        client_cpu = time.process_time() - client0

        for t in [manager, solo, *tablets]:
            await t.http.aclose()
        server.stop()
        log_locked, exceptions, log_5xx = log_lines(server.log)
        stored = await read_back(server)
        # The solo technician's operations are part of the same database.
        for sid, n in solo_tally.on_ok.items():
            tally.on_ok[sid] += n
        for sid, n in solo_tally.off_ok.items():
            tally.off_ok[sid] += n
        problems = verify(stored, tally, [*tablets, solo], setup_commits + solo_tally.keyed_commits)
        for exception, n in exceptions.most_common(5):
            print(f"server log: {n} × {exception}")

    every = [ms for values in tally.latencies.values() for ms in values]
    fresh = tally.latencies["fresh"]
    requests = len(every)
    by_status = Counter[int]()
    for (_, status), n in tally.statuses.items():
        by_status[status] += n
    non_2xx = {s: n for s, n in sorted(by_status.items()) if not 200 <= s < 300}
    five_xx = sum(n for s, n in by_status.items() if s >= 500)
    locked = tally.locked + log_locked + solo_tally.locked
    dropped = sum(tally.transport_errors.values()) + sum(solo_tally.transport_errors.values())
    solo_mean = statistics.mean(solo_fresh)

    print(
        f"clock requests: {requests} ({len(fresh)} operations, {len(tally.latencies['replay'])} replays after "
        f"the reply, {len(tally.latencies['dup'])} sent as in-flight pairs) in {elapsed:.1f} s = "
        f"{requests / elapsed:.0f} req/s"
    )
    print(
        f"  server CPU {server_cpu:.1f} s = {server_cpu / requests * 1000:.2f} ms per request "
        f"({server_cpu / elapsed * 100:.0f} % of one core: at 100 % the server, not the lock, is the limit); "
        f"this client {client_cpu / elapsed * 100:.0f} % of its core (near 100 %: the client is the limit)"
    )
    print(f"  contended, every clock request   {figures(every)}")
    print(f"  contended, fresh operations only {figures(fresh)}")
    print(f"  server receipt → commit          {figures(tally.commit_ms)}   (Server-Timing)")
    early = [ms for i, ms in tally.by_index if i < ops // 10]
    late = [ms for i, ms in tally.by_index if i >= ops - ops // 10]
    print(
        f"  trend: each tablet's first {ops // 10} operations p50 {statistics.median(early):.2f} ms, last "
        f"{ops // 10} p50 {statistics.median(late):.2f} ms; alone: first 20 mean "
        f"{statistics.mean(solo_fresh[:20]):.2f} ms, last 20 mean {statistics.mean(solo_fresh[-20:]):.2f} ms"
    )
    print(f"floor: {TABLETS} tablets GET /api/health  {figures(health)}   ({len(health)} requests)")
    print(
        f"floor: one tablet alone, clock ops  {figures(solo_fresh)}   ({len(solo_fresh)} ops, mean {solo_mean:.2f} ms)"
    )
    print(
        f"p95 ratios: ÷ health floor {pct(every, 0.95) / pct(health, 0.95):.1f}×   ÷ uncontended write "
        f"{pct(every, 0.95) / pct(solo_fresh, 0.95):.1f}×   serialised-writes bound: {TABLETS} × "
        f"{solo_mean:.2f} ms = {TABLETS * solo_mean:.0f} ms per request at full load "
        f"(capacity ≈ {1000 / solo_mean:.0f} ops/s alone)"
    )
    print(
        f"statuses: {dict(sorted(by_status.items()))}   non-2xx: {non_2xx or 'none'}   "
        f"5xx: {five_xx}   dropped connections/timeouts: {dict(tally.transport_errors) or 0}"
    )
    for line in tally.unexpected:
        print(f"  e.g. {line}")
    print(
        f"'{LOCKED}': {locked} (replies {tally.locked + solo_tally.locked}, server log lines {log_locked});"
        f" server tracebacks {sum(exceptions.values())}, 5xx in access log {log_5xx}; idempotent replays that differed "
        f"{tally.replay_mismatch + solo_tally.replay_mismatch}"
    )
    p95 = pct(every, 0.95)
    ok = locked == 0 and p95 < GOAL_P95_MS
    print(
        f"RELIABILITY 18 {'PASS' if ok else 'FAIL'}: {locked} 'database is locked' (goal 0), "
        f"p95 {p95:.1f} ms (goal < {GOAL_P95_MS:.0f} ms)"
    )
    broken = locked or five_xx or log_5xx or dropped or problems or tally.replay_mismatch
    return 1 if broken else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help=f"{TABLETS} × 100 operations")
    parser.add_argument("--ops", type=int, default=OPS, help="clock operations per tablet")
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean pause between a tablet's taps")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (a database of its own at URL)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import uvloop

    sys.exit(uvloop.run(run(100 if args.quick else args.ops, args.think_ms, args.postgres)))
