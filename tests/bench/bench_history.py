"""History benchmark (issue 18): does today's work cost the same after a year of a 30-bay shop?

    .venv/bin/python tests/bench/bench_history.py                     # a year, SQLite and PostgreSQL
    .venv/bin/python tests/bench/bench_history.py --orders 2000       # a quick run (about a month)
    .venv/bin/python tests/bench/bench_history.py --backends sqlite   # one database
    .venv/bin/python tests/bench/bench_history.py --without-indexes   # "before": migration 0013 undone

Two shops per database, built the same way and measured in the same run, side by side:
  * "one year": a year of a 30-bay shop written straight into the tables (about 25,000 repair orders,
    51,000 jobs, 150,000 clock entries, 300,000 clock taps, 630,000 events, their customers, vehicles,
    walk-arounds and photos, working days, sign-ins, QC records, findings, surveys; every foreign key
    and state as the app leaves them: delivered orders, jobs through QC, entries folded from their
    taps, events from the catalogue), then today's work;
  * "today only": the same staff and today's work alone.
Today's work is made through the app in both shops, the same way: 32 people sign in, 30 technicians
start their day, 40 repair orders are written up, jobs assigned and clocked on and off, finished jobs
pass QC. Then, in rounds, the app (in each worker process, requests through its ASGI interface:
nothing but the app is measured) answers, the two shops taking turns request by request: the board,
one order, my jobs (a technician with a year of history and a running clock), the customer's status
JSON and page, a clock tap (off / on, alternately) and a new repair order. The cost of each is the
median wall time of a request; the figure is one year ÷ today only (goal ≤ 1.2×). The CPU time of the
worker is shown beside it: on a busy machine it wavers less (on PostgreSQL the server's work is not in
it).

Then every statement those requests send is captured as the app sent it (tests/queryplans.py) and
explained on the year's database: EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL (the plan for
these values, on analysed tables). A step that reads a table that grows with history from end to end
("SCAN <table>" without a partial index / "Seq Scan") is flagged. What each SELECT reads is also
counted in both shops (rows of history tables on PostgreSQL, VM instructions on SQLite: counts, not
times, so a busy machine does not move them): a statement that reads more on the year is flagged even
when its plan looks fine (an index that finds every entry a person ever made is not a full scan, and
still grows). With a small `--orders`, PostgreSQL rightly reads small tables whole: flags that matter
are those of a full year.

The history's photo rows name files the photo store does not have (nothing here reads them).
Generation: a year takes one to three minutes per database on this machine, depending on its load
(`--orders` scales the number of days at the same daily volume). A worker process per shop (settings
are read once per process); both are filled at once, then measured in turns, one database after the
other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-0123456789abcdefghijklmnop"
PIN = "4826"
ZONE = "Asia/Shanghai"
GOAL = 1.2
# A statement "reads more on the year" beyond these (a deeper index alone never adds rows).
MORE_ROWS = 50
MORE_STEPS = 1000

# A year of a 30-bay shop, as measured for issue 18 (the generator aims at these per day).
YEAR_ORDERS = 25_024
ORDERS_PER_DAY = YEAR_ORDERS / 365
TECHNICIANS = 30
ADVISORS = 4
FOREMEN = 2
TODAY_ORDERS = 40
# Drawn from at random: 1.95 jobs a visit (with 10 % recommended work on top, 2.05) and 2.92 entries a job.
JOBS_PER_ORDER = (1,) * 5 + (2,) * 11 + (3,) * 4
ENTRIES_PER_JOB = (1,) * 3 + (2,) * 7 + (3,) * 7 + (4,) * 5 + (5,) * 3
CHUNK_DAYS = 20  # days generated and written at a time (memory stays small)

READS = ("board", "order", "my_jobs", "status_json", "status_page")
OPS: tuple[tuple[str, int], ...] = (
    ("board", 20),
    ("order", 20),
    ("my_jobs", 20),
    ("status_json", 20),
    ("status_page", 20),
    ("clock_tap", 20),
    ("new_order", 6),
)
LABELS = {
    "board": "board list",
    "order": "one order",
    "my_jobs": "my jobs",
    "status_json": "status JSON",
    "status_page": "status page",
    "clock_tap": "clock tap (off/on)",
    "new_order": "new repair order",
}

# --without-indexes: migration 0013 undone (its indexes dropped, the duplicates it dropped put back).
COVERED_BEFORE = {
    "idempotency_record_scoped_key": ("idempotency_record", "scoped_key"),
    "staff_session_token_hash": ("staff_session", "token_hash"),
    "repair_order_status_token_hash": ("repair_order", "status_token_hash"),
    "clock_entry_technician": ("clock_entry", "technician"),
    "clock_event_technician": ("clock_event", "technician"),
    "attendance_staff": ("attendance", "staff"),
}


# =====================================================================================================
# The parent: databases, workers, rounds, the report
# =====================================================================================================


class Worker:
    """A worker process holding one shop; JSON lines in on stdin, out on stdout (its own prints and
    logs go to a log file)."""

    def __init__(self, shop: str, backend: str, url: str, data: Path, orders: int, before: bool) -> None:
        self.shop = shop
        self.log_path = data / "worker.log"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PHOTOS_DIR")}
        env.update(
            DATA_DIR=str(data),
            BAYLINE_SECRET=SECRET,
            PICCOLO_CONF="piccolo_conf",
            PYTHONUNBUFFERED="1",
            SHOP_TIMEZONE=ZONE,
            # The runaway-timer guard is not started here (no lifespan), but keep its hour away anyway.
            AUTOSTOP_AT=(datetime.now(ZoneInfo(ZONE)) + timedelta(hours=12)).strftime("%H:%M"),
        )
        if backend == "postgresql":
            env["DATABASE_URL"] = url
        args = [sys.executable, __file__, "--worker", shop, "--orders", str(orders)]
        if before:
            args.append("--without-indexes")
        self.log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log
        )

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        self.process.stdin.flush()

    def receive(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.log.flush()
            tail = self.log_path.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"worker {self.shop} ended:\n{tail}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"worker {self.shop}: {reply['error']}")
        return reply

    def ask(self, **command: Any) -> Any:
        self.send(**command)
        return self.receive()

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.send(op="quit")
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


async def pg_admin(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def databases(backend: str, admin_url: str) -> Iterator[dict[str, tuple[str, Path]]]:
    """A fresh database and data directory per shop: {shop: (url, data dir)}, removed afterwards."""
    made: dict[str, tuple[str, Path]] = {}
    names = []
    try:
        for shop in ("year", "today"):
            data = Path(tempfile.mkdtemp(prefix=f"bench-history-{shop}-"))
            url = ""
            if backend == "postgresql":
                name = f"bayline_history_{shop}_{uuid.uuid4().hex[:8]}"
                asyncio.run(pg_admin(admin_url, f'CREATE DATABASE "{name}"'))
                names.append(name)
                url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", admin_url, count=1)
            made[shop] = (url, data)
        yield made
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                asyncio.run(pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for _, data in made.values():
            shutil.rmtree(data, ignore_errors=True)


def run_backend(backend: str, args: argparse.Namespace) -> bool:
    title = "SQLite" if backend == "sqlite" else "PostgreSQL"
    print(f"\n=== {title} ===", flush=True)
    with databases(backend, args.database_url) as made:
        workers = {
            shop: Worker(shop, backend, url, data, args.orders if shop == "year" else 0, args.without_indexes)
            for shop, (url, data) in made.items()
        }
        try:
            # Both fill at once (the empty one is quick), then every measurement runs one at a time.
            for worker in workers.values():
                worker.send(op="setup")
            setups = {shop: worker.receive() for shop, worker in workers.items()}
            for shop, s in setups.items():
                counts = ", ".join(f"{n:,} {t}" for t, n in s["counts"].items() if n)
                size = f"; file {s['size_mb']:.0f} MB" if s.get("size_mb") else ""
                print(
                    f"{'with history' if shop == 'year' else 'today only'}: history written in {s['history_s']:.1f} s ({s['writing_s']:.1f} s in the database), "
                    f"today's work through the app in {s['today_s']:.1f} s ({s['sign_in_s']:.1f} s of it "
                    f"{TECHNICIANS + 2} sign-ins){size}\n    {counts}",
                    flush=True,
                )
            costs = measure(workers, args.rounds)
            ok = report(title, costs)
            explain(workers, title)
            return ok
        finally:
            for worker in workers.values():
                worker.close()


Costs = dict[str, dict[str, dict[str, list[float]]]]  # op → metric (ms, cpu) → shop → rounds' medians


def measure(workers: dict[str, Worker], rounds: int) -> Costs:
    """Per operation, metric and shop, the median of each round. The shops take turns request by
    request (A B B A …), so a load that comes and goes on the machine falls on both alike."""
    costs: Costs = {op: {m: {"year": [], "today": []} for m in ("ms", "cpu")} for op, _ in OPS}
    pair = ("today", "year")
    for op, n in OPS:  # warm-up: caches, prepared statements, the first page render
        for shop in pair:
            workers[shop].ask(op="measure", name=op, n=max(2, n // 5))
    for r in range(rounds):
        for op, n in OPS:
            seen: dict[str, dict[str, list[float]]] = {m: {"year": [], "today": []} for m in ("ms", "cpu")}
            for i in range(n):
                for shop in pair if i % 2 == r % 2 else reversed(pair):
                    reply = workers[shop].ask(op="measure", name=op, n=1)
                    for metric in ("ms", "cpu"):
                        seen[metric][shop] += reply[metric]
            for metric, shops in seen.items():
                for shop, values in shops.items():
                    costs[op][metric][shop].append(statistics.median(values))
        print(f"round {r + 1}/{rounds} done", flush=True)
    return costs


def report(title: str, costs: Costs) -> bool:
    print(f"\n{title}: median ms per request, with history ÷ today only (goal ≤ {GOAL}×)")
    print("  (wall: the figure; CPU: this process's CPU time, all its threads, which a busy machine's")
    print("   waiting does not inflate; on PostgreSQL the server's own work is not in it)")
    print(f"  {'':<28}{'today only':>11}{'history':>10}{'ratio':>8}   {'rounds':<20}{'CPU ratio':>10}")
    worst = 0.0
    for op, _ in OPS:
        wall, cpu = costs[op]["ms"], costs[op]["cpu"]
        today, year = statistics.median(wall["today"]), statistics.median(wall["year"])
        ratio = year / today
        worst = max(worst, ratio)
        rounds = ", ".join(f"{y / t:.2f}" for y, t in zip(wall["year"], wall["today"], strict=True))
        cpu_ratio = statistics.median(cpu["year"]) / max(statistics.median(cpu["today"]), 1e-6)
        mark = "✓" if ratio <= GOAL else "✗"
        print(
            f"  {LABELS[op]:<28}{today:>9.2f}ms{year:>8.2f}ms{ratio:>7.2f}× {mark} ({rounds})".ljust(82)
            + f"{cpu_ratio:>6.2f}×"
        )
    ok = worst <= GOAL
    print(
        f"history {'PASS' if ok else 'FAIL'} ({title}): worst ratio {worst:.2f}× (goal ≤ {GOAL}×)", flush=True
    )
    return ok


def explain(workers: dict[str, Worker], title: str) -> None:
    year_reply, today_reply = workers["year"].ask(op="explain"), workers["today"].ask(op="explain")
    year, today = year_reply["ops"], today_reply["ops"]
    unit = "rows of history tables read" if title == "PostgreSQL" else "SQLite VM instructions"
    print(f"\n{title}: every statement of each request, its plan on the year's data, what it reads")
    print(f"  [today only → with history: {unit}; the least µs of 15 runs alone]")
    print("  ⚠ marks a full scan of a table that grows with history, or a SELECT that reads more than")
    print(f"  {GOAL}× as much on the year (and more than {MORE_ROWS} rows / {MORE_STEPS} instructions more)")
    flagged = 0
    for op, _ in OPS:
        sizes = f"{today_reply['bytes'][op]:,} → {year_reply['bytes'][op]:,} bytes"
        print(f"\n  {LABELS[op]}  (the answer: {sizes})")
        mine = {s["n"]: s for s in today.get(op, [])}
        for s in year.get(op, []):
            other: dict[str, Any] = mine.get(s["n"]) or {}
            # The same statement in both shops (the n-th of the same request), so comparable.
            same = other.get("sql") == s["sql"]
            figures = ""
            grows = False
            if s["work"] is not None:
                work, planned, ran = s["work"]
                before = other["work"][0] if same and other["work"] is not None else None
                floor = MORE_ROWS if title == "PostgreSQL" else MORE_STEPS
                grows = before is not None and work > GOAL * before and work - before > floor
                figures = f"  [{'?' if before is None else f'{before:,}'} → {work:,}; "
                figures += f"{other['us']:.0f} → {s['us']:.0f} µs" if same else f"{s['us']:.0f} µs"
                if planned is not None and before is not None:
                    _, planned_before, ran_before = other["work"]
                    figures += f"; server: planned {planned_before:.2f} → {planned:.2f} ms"
                    figures += f", ran {ran_before:.2f} → {ran:.2f} ms"
                figures += "]"
            warn = bool(s["scans"]) or grows
            flagged += warn
            print(f"  {'⚠' if warn else ' '} {s['n']:2}. {s['sql']}{figures}")
            for line in s["plan"]:
                print(f"          {line}")
            for scan in s["scans"]:
                print(f"        ⚠ full scan: {scan}")
            if grows:
                print(f"        ⚠ reads more on the year: {s['work'][0] / max(before or 1, 1):.1f}× as much")
    print(f"\n{title}: {flagged} statement(s) flagged", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--orders", type=int, default=YEAR_ORDERS, help="repair orders of history (a year: 25,024)"
    )
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both (comma)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server URL (databases of their own are made and dropped)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--without-indexes", action="store_true", help="undo migration 0013 (the 'before')")
    parser.add_argument("--worker", choices=("year", "today"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.worker:
        return worker_main(args.worker, args.orders, args.without_indexes)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    days = days_for(args.orders)
    print(
        f"bench_history: {args.orders:,} repair orders of history over {days} days "
        f"({'a year' if args.orders == YEAR_ORDERS else f'{days / 365:.2f} of a year'}), {TECHNICIANS} technicians; "
        f"today: {TODAY_ORDERS} open orders; {args.rounds} rounds"
        + ("; WITHOUT migration 0013's indexes" if args.without_indexes else "")
    )
    started = time.perf_counter()
    ok = True
    for backend in backends:
        ok = run_backend(backend, args) and ok
    print(f"\nbench_history {'PASS' if ok else 'FAIL'} in {time.perf_counter() - started:.0f} s")
    return 0


def days_for(orders: int) -> int:
    return max(1, round(orders / ORDERS_PER_DAY)) if orders else 0


# =====================================================================================================
# The worker: one shop in one process
# =====================================================================================================


def worker_main(shop: str, orders: int, before: bool) -> int:
    # Replies go to the real stdout; anything printed (Piccolo's migration progress) goes to the log.
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import uvloop

    return uvloop.run(serve(shop, orders, before, replies))


async def serve(shop: str, orders: int, before: bool, replies: IO[str]) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    state: Shop | None = None
    while line := await reader.readline():
        command = json.loads(line)
        try:
            if command["op"] == "quit":
                break
            if command["op"] == "setup":
                state = await set_up(orders, before)
                reply: dict[str, Any] = state.summary
            elif command["op"] == "measure":
                assert state is not None
                reply = await state.measure(command["name"], command["n"])
            elif command["op"] == "explain":
                assert state is not None
                reply = {"ops": await state.explain(), "bytes": state.answered}
            else:
                reply = {"error": f"unknown op {command['op']}"}
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops
            import traceback

            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply, default=str) + "\n")
    if state is not None:
        await state.close()
    return 0


async def set_up(orders: int, before: bool) -> Shop:
    from piccolo.apps.migrations.commands.forwards import run_forwards
    from piccolo.engine import engine_finder

    from api import db, ratelimit, settings
    from api.app import create_app

    result = await run_forwards(app_name="bayline", migration_id="all", fake=False)
    assert result.success, result.message
    engine = engine_finder()
    assert engine is not None
    if before:
        await undo_history_indexes(engine)
    config = settings.get()
    url = "" if config.is_sqlite else config.database_url
    started = time.perf_counter()
    writer: Writer = (
        SqliteWriter(str(config.sqlite_path)) if config.is_sqlite else await PostgresWriter.open(url)
    )
    try:
        history = History(writer, days_for(orders), orders)
        counts = await history.write()
    finally:
        await writer.close()
    history_s = time.perf_counter() - started
    writing_s = history.writing
    await db.prepare(engine)
    ratelimit.HITS_PER_LINK = 10**9  # the per-link flood guard: a benchmark's reads are not a flood
    started = time.perf_counter()
    shop = Shop(create_app(), str(config.sqlite_path) if config.is_sqlite else url)
    await shop.today()
    today_s = time.perf_counter() - started
    size = config.sqlite_path.stat().st_size / 2**20 if config.is_sqlite else 0
    # What set-up left behind is not the app's: collected, and kept out of later collections.
    gc.collect()
    gc.freeze()
    shop.summary.update(
        counts=counts, history_s=history_s, writing_s=writing_s, today_s=today_s, size_mb=size
    )
    return shop


async def undo_history_indexes(engine: Any) -> None:
    """The database as it was before migration 0013: its indexes dropped, the duplicates back."""
    from api.piccolo_migrations import bayline_0013_history_indexes as m0013

    for statement in m0013.INDEXES:
        found = re.search(r"EXISTS (\w+)", statement)
        assert found is not None
        await engine.run_ddl(f"DROP INDEX IF EXISTS {found.group(1)}")
    for name, (table, column) in COVERED_BEFORE.items():
        await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")


# ---------- today's work, through the app ----------


async def _keyed(request: Any) -> None:
    """Every command carries an Idempotency-Key, as the tablets' outbox sends it."""
    if request.method == "POST" and "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = uuid.uuid4().hex


def order_body(n: int, jobs: int = 2) -> dict[str, Any]:
    from api import workshop

    vin_body = f"LSV{n % 10}A2B3C0{n:08d}"[:8] + "0" + f"{n:08d}"
    vin = vin_body[:8] + workshop.vin_check_digit(vin_body) + vin_body[9:]
    return {
        "customer": {"name": f"客户{n}", "phone": f"139{n % 10**8:08d}", "language": "zh-CN"},
        "vehicle": {
            "plate": f"沪A{n % 10**5:05d}",
            "vin": vin,
            "make": "Toyota",
            "model": "Camry",
            "color": "grey",
        },
        "mileage": 30_000 + n,
        "fuel_level": n % 9,
        "concerns": ["保养到期", "刹车异响"],
        "promised_at": (datetime.now(UTC) + timedelta(hours=3 + n % 5)).isoformat(),
        "jobs": [
            {"title": f"Job {j + 1} 作业", "estimated_hours": 1.0 + j * 0.5, "price": 300}
            for j in range(jobs)
        ],
    }


@dataclass
class Shop:
    app: Any
    where: str
    summary: dict[str, Any] = field(default_factory=dict)
    clients: list[Any] = field(default_factory=list)
    advisor: Any = None
    tech: Any = None  # the technician measured: a year of history, a running clock
    customer: Any = None
    job: int = 0  # the measured technician's running job
    running: bool = True
    order_id: int = 0
    token: str = ""
    made: int = 0
    answered: dict[str, int] = field(default_factory=dict)  # bytes of each operation's answer

    async def client(self, username: str | None = None) -> Any:
        import httpx

        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://bench")
        self.clients.append(c)
        if username:
            r = await c.post("/api/auth/login", json={"username": username, "pin": PIN})
            assert r.status_code == 200, r.text
            c.headers["x-csrftoken"] = c.cookies["csrftoken"]
            c.event_hooks = {"request": [_keyed]}
        return c

    async def close(self) -> None:
        from piccolo.engine import engine_finder

        from api import db

        for c in self.clients:
            await c.aclose()
        engine = engine_finder()
        assert engine is not None
        await db.close(engine)

    async def ok(self, response: Any, status: int = 200) -> dict[str, Any]:
        r = await response
        assert r.status_code == status, (
            f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
        )
        return dict(r.json()) if r.headers.get("content-type", "").startswith("application/json") else {}

    async def today(self) -> None:
        """Today's work, the same in both shops: sign-ins, working days, 40 orders, jobs clocked, QC."""
        started = time.perf_counter()
        self.advisor = advisor = await self.client("adv01")
        foreman = await self.client("fore01")
        self.customer = await self.client()
        techs = [await self.client(f"tech{i:02d}") for i in range(1, TECHNICIANS + 1)]
        self.summary["sign_in_s"] = time.perf_counter() - started
        me = {}
        for t in techs:
            await self.ok(t.post("/api/attendance/clock-in"), 201)
            me[t] = (await self.ok(t.get("/api/auth/me")))["user"]["id"]
        orders = []
        for n in range(TODAY_ORDERS):
            orders.append(
                await self.ok(
                    advisor.post("/api/repair-orders", json=order_body(n, 3 if n % 5 == 0 else 2)), 201
                )
            )
            self.made += 1
        # Six orders stay just checked in; the others' jobs go round the technicians.
        queue = [job["id"] for ro in orders[:-6] for job in ro["jobs"]]
        mine: dict[Any, list[int]] = {t: [] for t in techs}
        for n, job in enumerate(queue):
            t = techs[n % len(techs)]
            await self.ok(advisor.post(f"/api/jobs/{job}/assign", json={"technician_id": me[t]}))
            mine[t].append(job)
        finished = []
        for n, t in enumerate(techs):
            first, second = mine[t][0], mine[t][1]
            await self.ok(t.post(f"/api/jobs/{first}/clock-on"))
            await self.ok(t.post(f"/api/jobs/{first}/clock-off", json={"reason": "finished"}))
            finished.append(first)
            await self.ok(t.post(f"/api/jobs/{second}/clock-on"))
            if n % 6 == 5:  # some wait for parts; the others work on
                await self.ok(t.post(f"/api/jobs/{second}/clock-off", json={"reason": "waiting_parts"}))
        items = [{"item_id": None, "name": "Work done to standard", "result": "pass", "note": ""}]
        for job in finished[::2]:
            await self.ok(foreman.post(f"/api/jobs/{job}/qc", json={"items": items}))
        self.tech, self.job = techs[0], mine[techs[0]][1]
        ro = next(ro for ro in orders if any(j["id"] == self.job for j in ro["jobs"]))
        self.order_id, self.token = ro["id"], ro["status_url"].removeprefix("/s/")

    async def request(self, name: str) -> Any:
        if name == "board":
            return await self.advisor.get("/api/repair-orders")
        if name == "order":
            return await self.advisor.get(f"/api/repair-orders/{self.order_id}")
        if name == "my_jobs":
            return await self.tech.get("/api/me/jobs")
        if name == "status_json":
            return await self.customer.get(f"/api/status/{self.token}")
        if name == "status_page":
            return await self.customer.get(f"/s/{self.token}")
        if name == "clock_tap":
            if self.running:
                r = await self.tech.post(f"/api/jobs/{self.job}/clock-off", json={"reason": "break"})
            else:
                r = await self.tech.post(f"/api/jobs/{self.job}/clock-on")
            self.running = not self.running
            return r
        if name == "new_order":
            self.made += 1
            return await self.advisor.post("/api/repair-orders", json=order_body(1000 + self.made))
        raise ValueError(name)

    async def measure(self, name: str, n: int) -> dict[str, list[float]]:
        """`n` requests: wall ms each, and CPU ms of this process (all its threads: on SQLite that is
        all the work, and time spent waiting for a busy machine's CPU is not in it)."""
        out: dict[str, list[float]] = {"ms": [], "cpu": []}
        for _ in range(n):
            started, cpu = time.perf_counter(), time.process_time()
            r = await self.request(name)
            out["ms"].append((time.perf_counter() - started) * 1000)
            out["cpu"].append((time.process_time() - cpu) * 1000)
            assert 200 <= r.status_code < 300, f"{name}: {r.status_code} {r.text[:300]}"
        return out

    async def explain(self) -> dict[str, list[dict[str, Any]]]:
        """Each operation's statements once more, as the app sends them: plan, full scans, own time."""
        from piccolo.engine import engine_finder

        from tests import queryplans

        engine = engine_finder()
        assert engine is not None
        queryplans.install(engine)
        pg = (
            None
            if self.where.endswith(".sqlite3")
            else await queryplans.PostgresPlans.open(self.where, False)
        )
        sqlite = queryplans.SqlitePlans(self.where) if pg is None else None
        out: dict[str, list[dict[str, Any]]] = {}
        try:
            for name, _ in OPS:
                with queryplans.capturing() as statements:
                    r = await self.request(name)
                assert 200 <= r.status_code < 300, r.text
                shown = []
                for n, statement in enumerate(s for s in statements if s.explainable):
                    if pg is not None:
                        tree = await pg.plan(statement)
                        plan, scans = queryplans.lines(tree), pg.full_scans(tree)
                    else:
                        assert sqlite is not None
                        plan = sqlite.plan(statement)
                        scans = sqlite.full_scans(statement, plan)
                    shown.append(
                        {
                            "n": n + 1,
                            "sql": statement.short(150),
                            "plan": plan,
                            "scans": scans,
                            "us": await own_time(pg, sqlite, statement),
                            "work": await own_work(pg, sqlite, statement),  # (work, planned, ran)
                        }
                    )
                out[name] = shown
                self.answered[name] = len(r.content)
        finally:
            if pg is not None:
                await pg.close()
            if sqlite is not None:
                sqlite.close()
        return out


def is_read(statement: Any) -> bool:
    return bool(statement.sql.lstrip("( \n\t").upper().startswith(("SELECT", "WITH")))


async def own_time(pg: Any, sqlite: Any, statement: Any, runs: int = 15) -> float | None:
    """The least µs of a SELECT run alone on a connection of its own (writes are not repeated): the
    least of the runs is its own cost, the least disturbed by whatever else the machine does."""
    if not is_read(statement):
        return None
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        if pg is not None:
            await pg.connection.fetch(statement.sql, *statement.args)
        else:
            sqlite.connection.execute(statement.sql, statement.args).fetchall()
        times.append((time.perf_counter() - started) * 1e6)
    return min(times)


async def own_work(pg: Any, sqlite: Any, statement: Any) -> tuple[int, float | None, float | None] | None:
    """What a SELECT reads, counted, not timed (the same on a busy machine as on a quiet one).

    PostgreSQL: rows taken from tables that grow with history, filtered-out ones included
    (EXPLAIN ANALYZE: actual rows and rows removed, times loops, over every scan of such a table).
    SQLite: virtual-machine instructions run, counted by a progress handler every 10: a row visited
    costs a few, an index seek one however deep its tree (so it counts rows, not the tree's depth).
    With it, on PostgreSQL, the server's planning and execution ms of that run.
    """
    if not is_read(statement):
        return None
    if pg is not None:
        from tests import queryplans

        raw = await pg.connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement.sql}", *statement.args)
        explained = (json.loads(raw) if isinstance(raw, str) else raw)[0]
        plan = explained["Plan"]
        total = 0
        for node in queryplans.nodes(plan):
            if node.get("Relation Name") in queryplans.HISTORY_TABLES:
                read = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                read += node.get("Rows Removed by Index Recheck", 0)
                total += int(read * node.get("Actual Loops", 1))
        return total, explained["Planning Time"], explained["Execution Time"]
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    sqlite.connection.set_progress_handler(tick, 10)
    try:
        sqlite.connection.execute(statement.sql, statement.args).fetchall()
    finally:
        sqlite.connection.set_progress_handler(None, 10)
    return ticks * 10, None, None


# =====================================================================================================
# The history: a year of a 30-bay shop, written straight into the tables
# =====================================================================================================


class Writer:
    """Bulk rows into a table, in the table's own column order (api/tables.py)."""

    async def write(self, table: Any, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    async def finish(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    @staticmethod
    def columns(table: Any) -> list[Any]:
        return list(table._meta.columns)

    @staticmethod
    def values(table: Any, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """Rows as tuples in column order; a column a row does not set takes the column's default."""
        cols = Writer.columns(table)
        names = [c._meta.db_column_name for c in cols]
        unknown = set().union(*(r.keys() for r in rows)) - set(names) if rows else set()
        assert not unknown, f"{table._meta.tablename}: no columns {unknown}"
        defaults = {c._meta.db_column_name: None if c._meta.null else c.get_default_value() for c in cols}
        return [tuple(r[n] if n in r else defaults[n] for n in names) for r in rows]


class SqliteWriter(Writer):
    def __init__(self, path: str) -> None:
        import sqlite3

        import piccolo.engine.sqlite  # noqa: F401 - registers the adapters the app writes with

        self.path = path
        self.connection = sqlite3.connect(path)
        self.connection.execute("PRAGMA foreign_keys = 1")
        # Generated data: no need to wait for the disk, nor to journal; and a cache that holds the
        # indexes with random keys (tokens, tap keys), which would otherwise be read back page by page.
        self.connection.execute("PRAGMA synchronous = OFF")
        self.connection.execute("PRAGMA journal_mode = MEMORY")
        self.connection.execute("PRAGMA cache_size = -1000000")

    async def write(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = [c._meta.db_column_name for c in self.columns(table)]
        sql = (
            f'INSERT INTO "{table._meta.tablename}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) '
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        self.connection.executemany(sql, self.values(table, rows))

    async def finish(self) -> None:
        self.connection.commit()

    async def close(self) -> None:
        self.connection.commit()
        self.connection.close()
        # Written with synchronous=OFF: put it on the disk now, or the first fsync of a measured
        # command would wait for hundreds of megabytes the operating system still holds dirty.
        with open(self.path, "rb+") as f:
            os.fsync(f.fileno())


class PostgresWriter(Writer):
    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.serials: dict[str, str] = {}  # table → its serial key column, for the sequences

    @classmethod
    async def open(cls, url: str) -> PostgresWriter:
        import asyncpg

        return cls(await asyncpg.connect(url))

    async def write(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = [c._meta.db_column_name for c in self.columns(table)]
        await self.connection.copy_records_to_table(
            table._meta.tablename, records=self.values(table, rows), columns=names
        )
        from piccolo.columns import BigSerial, Serial

        key = table._meta.primary_key
        if isinstance(key, Serial | BigSerial):
            self.serials[table._meta.tablename] = key._meta.db_column_name

    async def finish(self) -> None:
        # Ids were given explicitly: move each sequence past them, as the app's inserts expect.
        for name, key in sorted(self.serials.items()):
            sequence = await self.connection.fetchval("SELECT pg_get_serial_sequence($1, $2)", name, key)
            if sequence:
                await self.connection.execute(
                    f"SELECT setval('{sequence}', (SELECT COALESCE(MAX({key}), 0) + 1 FROM \"{name}\"), false)"
                )
        # What autovacuum does on its own a little later: the planner's statistics of the loaded data;
        # and the load on disk before anything is measured (a checkpoint would come in the middle).
        await self.connection.execute("ANALYZE")
        await self.connection.execute("CHECKPOINT")

    async def close(self) -> None:
        await self.connection.close()


def _utc(day: Any, hour: float) -> datetime:
    """A shop-local time of `day` (hours since midnight) as UTC."""
    h = int(hour)
    m = int((hour - h) * 60)
    return datetime.combine(day, clock_time(h, m), ZoneInfo(ZONE)).astimezone(UTC)


def _key() -> str:
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


class History:
    """`days` days before today, about ORDERS_PER_DAY orders a day, written CHUNK_DAYS at a time."""

    def __init__(self, writer: Writer, days: int, orders: int) -> None:
        from api import tables

        self.t = tables
        self.writer = writer
        self.days = days
        self.orders = orders
        self.rng = random.Random(18)
        self.ids: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.writing = 0.0  # seconds spent in the database (the rest is making the rows)
        self.staff: dict[str, list[tuple[int, str]]] = {}
        self.today_start = _utc(datetime.now(ZoneInfo(ZONE)).date(), 0)

    def next_id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    async def write(self) -> dict[str, int]:
        await self.people()
        if self.days:
            today = datetime.now(ZoneInfo(ZONE)).date()
            first = today - timedelta(days=self.days)
            per_day = self.orders / self.days
            made = 0
            for start in range(0, self.days, CHUNK_DAYS):
                rows: dict[Any, list[dict[str, Any]]] = {}
                for d in range(start, min(start + CHUNK_DAYS, self.days)):
                    target = round(per_day * (d + 1)) - made
                    self.day(first + timedelta(days=d), target, rows)
                    made += target
                await self.flush(rows)
        await self.writer.finish()
        return self.counts

    async def flush(self, rows: dict[Any, list[dict[str, Any]]]) -> None:
        t = self.t
        order = [
            t.Customer, t.Vehicle, t.RepairOrder, t.Job, t.StaffSession, t.Attendance, t.ClockEvent,
            t.ClockEntry, t.ClockCorrection, t.QcRecord, t.PromiseChange, t.Survey, t.Walkaround,
            t.Finding, t.Photo, t.IdempotencyRecord, t.Event,
        ]  # fmt: skip
        counter = getattr(t, "RoCounter", None)
        if counter is not None:
            order.append(counter)
        started = time.perf_counter()
        for table in order:
            batch = rows.get(table, [])
            await self.writer.write(table, batch)
            name = table._meta.tablename
            self.counts[name] = self.counts.get(name, 0) + len(batch)
        self.writing += time.perf_counter() - started

    async def people(self) -> None:
        from api import auth

        t = self.t
        created = datetime.now(UTC) - timedelta(days=self.days + 30)
        # The same PIN for everyone, hashed with argon2's cheapest settings: a sign-in verifies with the
        # settings stored in the hash, and 32 sign-ins per shop at the app's cost are minutes of set-up
        # on a busy two-core machine (sign-in is not what is measured here).
        from argon2 import PasswordHasher

        pin_hash = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(auth._peppered(PIN))
        await self.writer.write(
            t.Shop,
            [
                {
                    "id": 1,
                    "name": "Bench Motors 基准汽车服务",
                    "timezone": ZONE,
                    "language": "zh-CN",
                    "created_at": created,
                }
            ],
        )
        people = [("manager", "mgr01", "经理 Manager")]
        people += [("advisor", f"adv{i:02d}", f"顾问{i} Advisor {i}") for i in range(1, ADVISORS + 1)]
        people += [("foreman", f"fore{i:02d}", f"组长{i} Foreman {i}") for i in range(1, FOREMEN + 1)]
        people += [("technician", f"tech{i:02d}", f"技师{i} Tech {i}") for i in range(1, TECHNICIANS + 1)]
        rows = []
        for role, username, name in people:
            staff_id = self.next_id("staff")
            self.staff.setdefault(role, []).append((staff_id, name))
            rows.append(
                {"id": staff_id, "username": username, "name": name, "role": role, "pin_hash": pin_hash,
                 "active": True, "created_at": created}
            )  # fmt: skip
        await self.writer.write(t.Staff, rows)
        self.counts["staff"] = len(rows)

    def day(self, day: Any, n_orders: int, rows: dict[Any, list[dict[str, Any]]]) -> None:
        """One working day: every technician's working day, `n_orders` visits from write-up to delivery."""
        from api import events

        t = self.t
        rng = self.rng
        add = lambda table, row: rows.setdefault(table, []).append(row)  # noqa: E731
        out: list[Any] = []  # (at, NewEvent, actor)
        technicians = self.staff["technician"]
        recent = (datetime.now(ZoneInfo(ZONE)).date() - day).days <= 7  # idempotency records are kept 7 days
        # Working days: in around 08:00, a session each, out when the work is done.
        days: dict[int, dict[str, Any]] = {}
        free: dict[int, datetime] = {}
        for staff_id, _ in technicians:
            clock_in = _utc(day, 7.75 + rng.random() * 0.5)
            days[staff_id] = {"id": self.next_id("attendance"), "staff": staff_id, "clock_in_at": clock_in,
                              "device_in_at": clock_in, "auto_closed": False, "opened_by": "person"}  # fmt: skip
            free[staff_id] = clock_in + timedelta(minutes=5)
            session = self.next_id("staff_session")
            add(t.StaffSession, {"id": session, "token_hash": _key(), "staff": staff_id, "device_id": f"bay-{staff_id}",
                                 "created_at": clock_in, "last_seen_at": _utc(day, 18.0), "ended_at": _utc(day, 18.5)})  # fmt: skip
            out.append((clock_in, events.staff_signed_in(staff_id, None), f"staff:{staff_id}"))
        number_day = day.strftime("%y%m%d")
        for n in range(n_orders):
            self.visit(day, number_day, n + 1, rows, out, free)
        counter = getattr(t, "RoCounter", None)
        if counter is not None and n_orders:
            add(counter, {"day": number_day, "n": n_orders})
        for staff_id, attendance in days.items():
            out_at = max(_utc(day, 17.75 + rng.random() * 0.5), free[staff_id] + timedelta(minutes=5))
            attendance.update(clock_out_at=out_at, device_out_at=out_at)
            add(t.Attendance, attendance)
            shown = {"id": attendance["id"], "staff_id": staff_id, "clock_in_at": attendance["clock_in_at"].isoformat(),
                     "clock_out_at": None, "auto_closed": False, "opened_by": "person"}  # fmt: skip
            out.append((attendance["clock_in_at"], events.attendance_in(shown), f"staff:{staff_id}"))
            out.append(
                (
                    out_at,
                    events.attendance_out({**shown, "clock_out_at": out_at.isoformat()}),
                    f"staff:{staff_id}",
                )
            )
        # The event log in time order, as commands appended it.
        out.sort(key=lambda e: e[0])
        for at, event, actor in out:
            seq = self.next_id("event")
            add(t.Event, {"seq": seq, "type": event.type, "at": at, "repair_order": event.ro, "actor": actor,
                          "data": json.dumps(event.data, default=str, ensure_ascii=False), "received_at": at})  # fmt: skip
            if recent and actor.startswith("staff:"):
                add(t.IdempotencyRecord, {"id": self.next_id("idempotency_record"), "scoped_key": _key(),
                                          "request_hash": _key(), "status_code": 200, "body": "{}",
                                          "created_at": at, "actor": actor})  # fmt: skip

    def visit(
        self,
        day: Any,
        number_day: str,
        number: int,
        rows: dict[Any, list[dict[str, Any]]],
        out: list[Any],
        free: dict[int, datetime],
    ) -> None:
        """One car: written up in the morning, its jobs clocked by technicians, QC, ready, delivered."""
        from api import auth, events, workshop

        t = self.t
        rng = self.rng
        add = lambda table, row: rows.setdefault(table, []).append(row)  # noqa: E731
        advisor = self.staff["advisor"][number % ADVISORS][0]
        foreman = self.staff["foreman"][0][0]
        stage = workshop.Stage
        created = _utc(day, 8.0 + rng.random() * 4)
        ro = self.next_id("repair_order")
        customer, vehicle = self.next_id("customer"), self.next_id("vehicle")
        plate = f"沪{chr(65 + ro % 26)}{ro % 100000:05d}"
        add(
            t.Customer,
            {"id": customer, "name": f"客户{ro}", "phone": f"138{ro % 10**8:08d}", "language": "zh-CN"},
        )
        vin = f"LSV{ro % 10}B3C40{ro:08d}"[:8] + "0" + f"{ro:08d}"
        add(t.Vehicle, {"id": vehicle, "plate": plate, "vin": vin[:8] + workshop.vin_check_digit(vin) + vin[9:],
                        "make": "Volkswagen", "model": "Lavida", "year": 2015 + ro % 10, "color": "white"})  # fmt: skip
        promised = created + timedelta(hours=rng.choice((4, 5, 6, 8)))
        nonce, _, token_hash = auth.new_status_link()
        order: dict[str, Any] = {"id": ro, "number": f"{number_day}-{number:03d}", "customer": customer, "vehicle": vehicle,
                 "mileage": 20_000 + rng.randrange(100_000), "fuel_level": rng.randrange(9),
                 "concerns": json.dumps(["保养到期"], ensure_ascii=False), "promised_at": promised,
                 "first_promised_at": promised, "status_nonce": nonce, "status_token_hash": token_hash,
                 "created_by": advisor, "created_at": created}  # fmt: skip
        extra = rng.random() < 0.1  # recommended work the customer approved
        jobs: list[dict[str, Any]] = []
        worked: list[tuple[datetime, datetime]] = []  # each job's first start and last stop
        count = rng.choice(JOBS_PER_ORDER) + extra
        for j in range(count):
            tech, tech_name = min(self.staff["technician"], key=lambda p: free[p[0]])  # free soonest
            minutes = rng.choice((30, 45, 60, 90, 120, 150))
            recommended = extra and j == count - 1  # found while working on the first job
            jobs.append({"id": self.next_id("job"), "repair_order": ro, "title": f"作业 Job {j + 1}",
                         "estimated_minutes": minutes, "price_cents": minutes * 500, "needs_approval": recommended,
                         "approval": "approved" if recommended else None, "state": "qc_passed",
                         "technician": tech, "rework_count": 0, "created_at": created})  # fmt: skip
            # Its entries, end to end in the technician's day from when they are free (never overlapping).
            begin = max(free[tech], created + timedelta(minutes=10))
            free[tech] = self.clock(jobs[-1], tech_name, begin, rows, out)
            worked.append((begin, free[tech] - timedelta(minutes=5)))
        job_ids = [j["id"] for j in jobs]
        shown = lambda job, state: self.shown(job, state)  # noqa: E731
        by = f"staff:{advisor}"
        out.append(
            (created, events.ro_created(ro, order["number"], plate, stage.CHECKED_IN, job_ids, advisor), by)
        )
        out.append((created, events.walkaround_updated(ro, 1, advisor), by))
        photo = {"id": self.next_id("photo"), "repair_order": ro, "job": None, "kind": "walkaround", "note": "",
                 "panel": "m1", "display": f"{_key()}.jpg", "thumb": f"{_key()}.jpg", "width": 1600, "height": 1200,
                 "taken_by": advisor, "created_at": created}  # fmt: skip
        add(t.Photo, photo)
        pid = photo["id"]
        view = {"id": pid, "kind": "walkaround", "panel": "m1", "job_id": None, "url": f"/api/photos/{pid}",
                "thumb_url": f"/api/photos/{pid}/thumb"}  # fmt: skip
        out.append((created, events.photo_added(ro, view, advisor), by))
        if extra:
            found = jobs[0]
            at = created + timedelta(minutes=4)
            finding = {"id": self.next_id("finding"), "job": found["id"], "repair_order": ro,
                       "text": "刹车片磨损 brake pads worn", "phrase": "", "created_by": found["technician"],
                       "created_at": at, "recommended_job": jobs[-1]["id"]}  # fmt: skip
            add(t.Finding, finding)
            shown_finding = {"id": finding["id"], "job_id": found["id"], "repair_order_id": ro, "text": finding["text"],
                             "phrase": None, "created_at": at.isoformat(), "recommended_job_id": jobs[-1]["id"]}  # fmt: skip
            out.append(
                (
                    at,
                    events.finding_added(ro, shown_finding, found["technician"]),
                    f"staff:{found['technician']}",
                )
            )
        for job in jobs:
            if job["needs_approval"]:
                out.append((created, events.job_added(ro, shown(job, "recommended")), by))
                out.append(
                    (
                        created,
                        events.approval_requested(ro, job["id"], job["title"], job["price_cents"] / 100),
                        by,
                    )
                )
                decided = events.approval_decided(ro, job["id"], "approved", job["title"])
                out.append((created + timedelta(minutes=5), decided, f"status:{ro}"))
            out.append((created + timedelta(minutes=1), events.job_assigned(ro, shown(job, "assigned")), by))
        first_on, all_done = min(w[0] for w in worked), max(w[1] for w in worked)
        out.append(
            (first_on, events.stage_changed(ro, stage.CHECKED_IN, stage.IN_PROGRESS, job_ids[:1]), "system")
        )
        out.append(
            (all_done, events.stage_changed(ro, stage.IN_PROGRESS, stage.QUALITY_CHECK, job_ids), "system")
        )
        signed = all_done + timedelta(minutes=10)
        for job in jobs:
            add(t.QcRecord, {"id": self.next_id("qc_record"), "job": job["id"], "signer": foreman, "passed": True,
                             "items": json.dumps([{"name": "Work done to standard", "result": "pass", "note": ""}]),
                             "signed_at": signed})  # fmt: skip
            out.append(
                (
                    signed,
                    events.qc_recorded(ro, shown(job, "qc_passed"), True, [], foreman),
                    f"staff:{foreman}",
                )
            )
            add(t.Job, {k: v for k, v in job.items() if not k.startswith("_")})
        ready = signed + timedelta(minutes=10)
        delivered = ready + timedelta(minutes=rng.choice((30, 60, 120, 180)))
        order.update(ready_at=ready, delivered_at=delivered)
        if rng.random() < 0.05:
            moved, why, at = (
                promised + timedelta(hours=2),
                "等待零件 waiting for parts",
                created + timedelta(hours=2),
            )
            add(t.PromiseChange, {"id": self.next_id("promise_change"), "repair_order": ro, "previous_at": promised,
                                  "promised_at": moved, "reason": why, "changed_at": at, "changed_by": advisor})  # fmt: skip
            order["promised_at"] = moved
            out.append((at, events.promise_changed(ro, moved, promised, why, advisor), by))
        add(t.RepairOrder, order)
        marks = [{"id": "m1", "view": "front", "x": 0.4, "y": 0.3, "type": "scratch", "note": ""}]
        add(t.Walkaround, {"id": self.next_id("walkaround"), "repair_order": ro, "marks": json.dumps(marks),
                           "signed_by": "", "updated_by": advisor, "updated_at": created})  # fmt: skip
        out.append((ready, events.stage_changed(ro, stage.QUALITY_CHECK, stage.READY, []), by))
        out.append((delivered, events.stage_changed(ro, stage.READY, stage.DELIVERED, []), by))
        surveyed = delivered + timedelta(days=2)
        if rng.random() < 0.3 and surveyed < self.today_start:
            score = rng.choice((7, 8, 9, 10, 10))
            add(t.Survey, {"id": self.next_id("survey"), "repair_order": ro, "score": score, "comment": "",
                           "submitted_at": surveyed})  # fmt: skip
            out.append((surveyed, events.survey_submitted(ro, score, ""), f"status:{ro}"))

    def clock(
        self,
        job: dict[str, Any],
        tech_name: str,
        start: datetime,
        rows: dict[Any, list[dict[str, Any]]],
        out: list[Any],
    ) -> datetime:
        """A job's clock entries from `start`, each folded from its two taps; returns when the person is free."""
        from api import events

        t = self.t
        rng = self.rng
        add = lambda table, row: rows.setdefault(table, []).append(row)  # noqa: E731
        job["_tech_name"] = tech_name
        tech, ro = job["technician"], job["repair_order"]
        actor = f"staff:{tech}"
        spans = rng.choice(ENTRIES_PER_JOB)
        length = timedelta(minutes=job["estimated_minutes"] * (0.8 + rng.random() * 0.5) / spans)
        cursor = start
        for s in range(spans):
            last = s == spans - 1
            stop = cursor + length
            auto = not last and rng.random() < 0.03  # the runaway-timer guard stopped it; confirmed later
            reason = (
                "finished"
                if last
                else "end_of_shift"
                if auto
                else rng.choice(("break", "waiting_parts", "other"))
            )
            confirmed = None
            if auto:
                confirmed = stop + timedelta(hours=12)
                confirmed = confirmed if confirmed < self.today_start else stop + timedelta(minutes=30)
            on_key, off_key = _key(), _key()
            entry = {"id": self.next_id("clock_entry"), "job": job["id"], "technician": tech, "started_at": cursor,
                     "ended_at": stop, "reason": reason, "device_started_at": cursor, "device_ended_at": stop,
                     "auto_stopped": auto, "on_key": on_key, "flags": "auto_stopped" if auto else "",
                     "confirmed_at": confirmed, "corrected": False}  # fmt: skip
            add(t.ClockEntry, entry)
            add(t.ClockEvent, {"id": self.next_id("clock_event"), "key": on_key, "technician": tech, "job": job["id"],
                               "kind": "on", "at": cursor, "device_at": cursor, "device_sent_at": cursor,
                               "received_at": cursor, "skewed": False, "actor": actor, "review": ""})  # fmt: skip
            add(t.ClockEvent, {"id": self.next_id("clock_event"), "key": off_key, "technician": tech,
                               "job": None if auto else job["id"], "kind": "stop_all" if auto else "off",
                               "at": stop, "reason": None if auto else reason, "device_at": None if auto else stop,
                               "device_sent_at": None if auto else stop, "received_at": stop, "skewed": False,
                               "actor": "system" if auto else actor, "review": ""})  # fmt: skip
            view = {"id": entry["id"], "job_id": job["id"], "job_title": job["title"], "technician_id": tech,
                    "started_at": cursor.isoformat(), "ended_at": None, "reason": None, "auto_stopped": False,
                    "flags": [], "clock_skew_flag": False, "confirmed_at": None, "corrected": False,
                    "review_reasons": [], "reviewed_at": None, "device_started_at": cursor.isoformat(),
                    "device_ended_at": None}  # fmt: skip
            closed = {**view, "ended_at": stop.isoformat(), "reason": reason, "auto_stopped": auto,
                      "flags": ["auto_stopped"] if auto else [], "device_ended_at": stop.isoformat()}  # fmt: skip
            on = events.clock_tapped(
                "clock.on", ro, tech, job["id"], [view], view, [self.shown(job, "in_progress")]
            )
            state = "finished" if last else "paused"
            off = events.clock_tapped(
                "clock.off", ro, tech, job["id"], [closed], closed, [self.shown(job, state)]
            )
            out.append((cursor, on, actor))
            out.append((stop, off, "system" if auto else actor))
            if confirmed is not None:
                add(t.ClockCorrection, {"id": self.next_id("clock_correction"), "entry_key": on_key, "kind": "confirm",
                                        "by": tech, "reason": "", "before": "{}", "after": "{}", "at": confirmed})  # fmt: skip
                out.append(
                    (
                        confirmed,
                        events.clock_confirmed(ro, {**closed, "confirmed_at": confirmed.isoformat()}),
                        actor,
                    )
                )
            cursor = stop + timedelta(minutes=5)
        return cursor

    @staticmethod
    def shown(job: dict[str, Any], state: str) -> dict[str, Any]:
        """A job as staff see it (api/readmodels.py job_out), in `state`."""
        return {"id": job["id"], "title": job["title"], "state": state, "approval": job["approval"],
                "needs_approval": job["needs_approval"], "estimated_hours": round(job["estimated_minutes"] / 60, 2),
                "price": job["price_cents"] / 100, "technician": {"id": job["technician"], "name": job["_tech_name"]},
                "rework_count": 0}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
