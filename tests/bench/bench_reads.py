"""Read benchmark: the four reads a shop makes most, against a minimal Litestar app serving the same bytes.

    .venv/bin/python tests/bench/bench_reads.py                # SQLite, 2 rounds of 5 s per read
    .venv/bin/python tests/bench/bench_reads.py --quick        # 1 round of 2 s (a smoke run)
    .venv/bin/python tests/bench/bench_reads.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

The reads: the board list (GET /api/repair-orders, an advisor), one order (GET /api/repair-orders/{id},
the demo's order with the most jobs), a technician's jobs (GET /api/me/jobs, with a running clock) and
the customer's status JSON (GET /api/status/{token}).

A real Bayline server (uvicorn, one worker, httptools + uvloop as `python -m api serve` picks them; no
access log) on the demo workshop (`python -m api demo`, a fresh SQLite DATA_DIR or a PostgreSQL database
of its own, dropped afterwards), and the floor: a minimal Litestar app on the same uvicorn settings that
answers the same four paths with the bytes Bayline answered, from memory. Both servers run at once,
pinned to CPU 0; this client on CPU 1 keeps 32 keep-alive connections busy (a minimal HTTP/1.1 client
over httptools, so the client is not what is measured) and each response is checked (status 200, the
expected length). Per read and round, the two servers take turns in short slices (each after a short
warm-up), so a burst of load from elsewhere on the machine falls on both alike; requests/s over the
slices, and the ratio Bayline ÷ floor is the figure (goal ≥ 0.25×). Beside it, the same ratio per
CPU-second each server process used (all its threads), which the machine's load moves least. The
status link's per-link
budget (api/ratelimit.py, a flood guard) is raised in the benchmark's server: 32 clients on the demo's
five links would exhaust it in a second, and a 429 is not the read being measured.

The machine is shared: absolute figures move with the load; the ratios, measured side by side, less so.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-0123456789abcdefghijklmnop"
CLIENTS = 32
GOAL = 0.25
SLICES = 4  # per read and round, each server's time is cut in this many slices, alternating
SLICE_WARMUP = 0.25  # seconds before each slice counts (connections opened, server warm)
ADVISOR = ("li.na", "3917")  # api/demo.py STAFF
TECHNICIANS = [("liu.yang", "6391"), ("sun.hao", "8052"), ("zhou.qiang", "2749")]


# ---------- the servers (child processes) ----------


def serve_bayline(port: int) -> None:
    """Bayline as `python -m api serve` runs it, without the access log and with a large link budget."""
    import uvicorn

    from api import ratelimit

    ratelimit.HITS_PER_LINK = 10**9
    uvicorn.run("api.app:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning")


def serve_floor(port: int, spec_file: str) -> None:
    """A minimal Litestar app answering each path with fixed bytes (the same uvicorn settings)."""
    import uvicorn
    from litestar import Litestar, Response, get

    spec = json.loads(Path(spec_file).read_text())

    def route(path: str, media_type: str, body: bytes, n: int) -> Any:
        async def handler() -> Response[bytes]:
            return Response(body, media_type=media_type)

        handler.__name__ = f"read_{n}"
        return get(path, signature_namespace={"Response": Response})(handler)

    handlers = [
        route(path, media, base64.b64decode(body), n) for n, (path, media, body) in enumerate(spec["routes"])
    ]
    uvicorn.run(Litestar(route_handlers=handlers), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(pid: int, cpu: int) -> None:
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(int(task.name), {cpu})


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def child(args: list[str], env: dict[str, str], log: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, *args, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port, process, log)
        yield port, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@contextlib.contextmanager
def database(url: str | None) -> Iterator[dict[str, str]]:
    """The environment of a fresh demo workshop: a SQLite DATA_DIR, or a PostgreSQL database of its own."""
    data = Path(tempfile.mkdtemp(prefix="bench-reads-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PHOTOS_DIR")}
    env.update(DATA_DIR=str(data), BAYLINE_SECRET=SECRET, PYTHONUNBUFFERED="1")
    # The runaway-timer guard would stop the demo's running clock when the run falls after its hour
    # (20:00 shop time): put its cutoff half a day away, so "my jobs" always shows a running clock.
    shop = ZoneInfo(env.get("SHOP_TIMEZONE") or "Asia/Shanghai")
    env["AUTOSTOP_AT"] = (datetime.now(shop) + timedelta(hours=12)).strftime("%H:%M")
    name = ""
    if url:
        name = f"bayline_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(pg_admin(url, f'CREATE DATABASE "{name}"'))
        env["DATABASE_URL"] = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", url, count=1)
    try:
        subprocess.run(
            [sys.executable, "-m", "api", "demo"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        yield env
    finally:
        if name:
            asyncio.run(pg_admin(url or "", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(data, ignore_errors=True)


async def pg_admin(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


# ---------- what to read ----------


@dataclass
class Read:
    name: str
    path: str
    headers: dict[str, str]
    media_type: str = ""
    body: bytes = b""


async def prepare(port: int) -> list[Read]:
    """Sign in, pick the technician with a running clock, and fetch each read's answer once."""
    import httpx

    base = f"http://127.0.0.1:{port}"

    async def session(username: str, pin_: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(base_url=base, timeout=30)
        r = await c.post("/api/auth/login", json={"username": username, "pin": pin_})
        r.raise_for_status()
        c.headers["x-csrftoken"] = c.cookies["csrftoken"]
        return c

    def cookie(c: httpx.AsyncClient) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items())}

    advisor = await session(*ADVISOR)
    board = (await advisor.get("/api/repair-orders")).json()["items"]
    order = max(board, key=lambda ro: len(ro["jobs"]))
    token = order["status_url"].removeprefix("/s/")
    # The technician with the fullest screen: jobs, and a running clock if the demo has one.
    tech, best = None, (-1, -1)
    for username, pin_ in TECHNICIANS:
        candidate = await session(username, pin_)
        mine = (await candidate.get("/api/me/jobs")).json()
        score = (mine.get("open_entry") is not None, len(mine.get("jobs") or []))
        if mine.get("jobs") and score > best:
            if tech is not None:
                await tech.aclose()
            tech, best = candidate, score
        else:
            await candidate.aclose()
    assert tech is not None, "no demo technician has jobs"
    reads = [
        Read("board list", "/api/repair-orders", cookie(advisor)),
        Read("one order", f"/api/repair-orders/{order['id']}", cookie(advisor)),
        Read("my jobs", "/api/me/jobs", cookie(tech)),
        Read("status JSON", f"/api/status/{token}", {}),
    ]
    async with httpx.AsyncClient(base_url=base, timeout=30) as plain:  # no cookie jar: each read's own
        for read in reads:
            r = await plain.get(read.path, headers=read.headers)
            if r.status_code != 200:
                raise RuntimeError(f"{read.path}: {r.status_code} {r.text[:200]}")
            read.body = r.content
            read.media_type = r.headers["content-type"]
    await advisor.aclose()
    await tech.aclose()
    return reads


# ---------- the load: a minimal keep-alive HTTP/1.1 client ----------


@dataclass
class Load:
    done: int = 0
    wrong: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    counting: bool = False


class Connection(asyncio.Protocol):
    """One client: sends the request, waits for the whole response, checks it, sends the next."""

    def __init__(self, request: bytes, length: int, load: Load) -> None:
        import httptools

        self.request = request
        self.length = length
        self.load = load
        self.parser = httptools.HttpResponseParser(self)
        self.received = 0
        self.started = 0.0
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.running = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        self.received = 0
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.received += len(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        # "now" and running minutes in an answer may change its length by a few bytes.
        if status != 200 or abs(self.received - self.length) > 16:
            if len(self.load.wrong) < 5:
                self.load.wrong.append(f"status {status}, {self.received} bytes (expected {self.length})")
        elif self.load.counting:
            self.load.done += 1
            self.load.latencies.append((time.perf_counter() - self.started) * 1000)
        if self.running:
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def cpu_seconds(pid: int) -> float:
    """CPU time a server process has used so far, all its threads (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Slices:
    """One server's share of a round: requests, wall time and CPU time while they were counted."""

    done: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.done / self.cpu if self.cpu else 0.0


async def hammer(port: int, pid: int, read: Read, seconds: float, warmup: float, into: Slices) -> None:
    """`read` with CLIENTS connections kept busy for `seconds` after `warmup`, added to `into`."""
    loop = asyncio.get_running_loop()
    lines = [f"GET {read.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in read.headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    load = Load()
    connections: list[Connection] = []
    for _ in range(CLIENTS):
        _, protocol = await loop.create_connection(
            lambda: Connection(request, len(read.body), load), "127.0.0.1", port
        )
        connections.append(protocol)
    await asyncio.sleep(warmup)
    load.counting = True
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    load.counting = False
    into.elapsed += time.perf_counter() - started
    into.cpu += cpu_seconds(pid) - cpu
    into.done += load.done
    into.latencies += load.latencies
    into.wrong += load.wrong[: 5 - len(into.wrong)]
    for c in connections:
        c.running = False
    for c in connections:
        if c.transport is not None:
            c.transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(c.closed, 5)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ---------- the run ----------


async def measure(
    bayline: tuple[int, int], floor: tuple[int, int], reads: list[Read], rounds: int, seconds: float
) -> tuple[dict[str, list[float]], list[str]]:
    """Per read and round: the floor and Bayline in alternating slices (SLICES each), so a change in
    the machine's load lands on both alike; requests/s over the summed slices, and their ratio."""
    ratios: dict[str, list[float]] = {r.name: [] for r in reads}
    problems: list[str] = []
    for n in range(rounds):
        for read in reads:
            ours, theirs = Slices(), Slices()
            for _ in range(SLICES):
                await hammer(*floor, read, seconds / SLICES, SLICE_WARMUP, theirs)
                await hammer(*bayline, read, seconds / SLICES, SLICE_WARMUP, ours)
            for who, got in (("floor", theirs), ("bayline", ours)):
                problems += [f"{read.name} ({who}): {w}" for w in got.wrong]
            ratio = ours.per_second / theirs.per_second if theirs.per_second else 0.0
            per_cpu = ours.per_cpu_second / theirs.per_cpu_second if theirs.per_cpu_second else 0.0
            ratios[read.name].append(ratio)
            p50 = statistics.median(ours.latencies) if ours.latencies else float("nan")
            print(
                f"round {n + 1}  {read.name:<12} floor {theirs.per_second:7.0f} req/s"
                f" (p99 {pct(theirs.latencies, 0.99):5.1f} ms)   bayline {ours.per_second:6.0f} req/s"
                f" (p50 {p50:5.1f} ms, p99 {pct(ours.latencies, 0.99):5.1f} ms)   ratio {ratio:.3f}×"
                f"   [per CPU-second: {per_cpu:.3f}×; {len(read.body)} B]",
                flush=True,
            )
    return ratios, problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", help="a PostgreSQL server URL (a database of its own is made)")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s per read")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--serve-bayline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.serve_bayline:
        serve_bayline(args.port)
        return 0
    if args.serve_floor:
        serve_floor(args.port, args.serve_floor)
        return 0
    rounds, seconds = (1, 2.0) if args.quick else (args.rounds, args.seconds)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"bench_reads: {backend}, demo workshop, {CLIENTS} concurrent clients, one uvicorn worker; "
        f"servers on CPU 0, client on CPU 1; {rounds} round(s) × {seconds:.0f} s per read and server"
    )
    with database(args.database_url) as env:
        data = Path(env["DATA_DIR"])
        with child(["--serve-bayline"], env, data / "bayline.log") as (bayline, process):
            import uvloop

            reads = uvloop.run(prepare(bayline))
            spec = data / "floor.json"
            spec.write_text(
                json.dumps(
                    {"routes": [(r.path, r.media_type, base64.b64encode(r.body).decode()) for r in reads]}
                )
            )
            with child(["--serve-floor", str(spec)], env, data / "floor.log") as (floor, floor_process):
                pin(process.pid, 0)
                pin(floor_process.pid, 0)
                with contextlib.suppress(AttributeError, OSError):
                    os.sched_setaffinity(0, {1})
                ratios, problems = uvloop.run(
                    measure((bayline, process.pid), (floor, floor_process.pid), reads, rounds, seconds)
                )
            log = (data / "bayline.log").read_text(errors="replace")
    tracebacks = log.count("Traceback (most recent call last)")
    worst = min(statistics.median(v) for v in ratios.values())
    for name, values in ratios.items():
        print(
            f"  {name:<12} Bayline ÷ floor: median {statistics.median(values):.3f}×  ({', '.join(f'{v:.3f}' for v in values)})"
        )
    for p in problems[:10]:
        print(f"  ✗ {p}")
    print(f"server tracebacks: {tracebacks}")
    print(
        f"reads {'PASS' if worst >= GOAL else 'FAIL'} ({backend}): slowest read at {worst:.3f}× its floor "
        f"(goal ≥ {GOAL}×)"
    )
    return 1 if problems or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
