"""Today's work never reads the shop's whole history (issue 18, item 2).

For the board, one order, my jobs, the status JSON and page, a clock tap (on, off, switch) and a new
repair order, every statement the request sends is captured as the app sent it (tests/queryplans.py)
and explained on this test's own database: no step may read a table that grows with history (job,
repair_order, clock_entry, clock_event, event, …) from end to end. The statements are whatever the
app sends today, so the check follows the queries as they change.

On SQLite the plan is the one the app gets: SQLite plans a statement when it is prepared, before
the values are bound, and the app never runs ANALYZE. On PostgreSQL the tables here are tiny, and
for a tiny table a sequential scan is the best plan: the question asked is whether an index *could*
serve the statement for any value, i.e. the generic plan (the one a prepared statement is reused
with) with sequential scans discouraged. tests/bench/bench_history.py shows the plans on a year.

A generic plan with sequential scans discouraged cannot show a plan that goes wrong on a long
history because of what the planner *estimates* (a tap's read, whose window PostgreSQL cannot
estimate, joined every job, order and QC record by hash on a year). So on PostgreSQL a clock tap is
also made on a seeded history of the technician (thousands of orders, jobs, entries, taps and
checks, analysed), and each of its reads is run with EXPLAIN ANALYZE: the plan for its values may
not read a history table in full nor read more than a window's worth of rows.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from piccolo.engine import engine_finder

from tests import queryplans
from tests.conftest import BACKEND
from tests.factories import client, ro_body, signed_in


@dataclass
class Shop:
    advisor: httpx.AsyncClient
    tech: httpx.AsyncClient
    customer: httpx.AsyncClient
    foreman: httpx.AsyncClient
    orders: list[dict[str, Any]]
    token: str
    person: int  # the technician (tech's staff id)

    def job(self, order: int, job: int) -> int:
        return int(self.orders[order]["jobs"][job]["id"])


async def _keyed(request: httpx.Request) -> None:
    """Every command carries an Idempotency-Key, as the tablets' outbox sends it."""
    if request.method == "POST" and "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = uuid.uuid4().hex


@pytest.fixture
async def shop(app: Any, clean: None) -> AsyncIterator[Shop]:
    engine = engine_finder()
    assert engine is not None
    queryplans.install(engine)
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    foreman, _ = await signed_in(app, "foreman")
    customer = client(app)
    for c in (advisor, tech, foreman):
        c.event_hooks = {"request": [_keyed]}
    async with (
        contextlib.aclosing(advisor),
        contextlib.aclosing(tech),
        contextlib.aclosing(customer),
        contextlib.aclosing(foreman),
    ):
        orders = []
        for n in range(3):
            r = await advisor.post("/api/repair-orders", json=ro_body(mileage=1000 + n))
            assert r.status_code == 201, r.text
            orders.append(r.json())
            for job in r.json()["jobs"]:
                a = await advisor.post(f"/api/jobs/{job['id']}/assign", json={"technician_id": person["id"]})
                assert a.status_code == 200, a.text
        token = orders[0]["status_url"].removeprefix("/s/")
        yield Shop(advisor, tech, customer, foreman, orders, token, person["id"])


@pytest.fixture
async def plans() -> AsyncIterator[Any]:
    if BACKEND == "postgresql":
        found = await queryplans.PostgresPlans.open(os.environ["DATABASE_URL"], generic=True)
        yield found
        await found.close()
    else:
        from api import settings

        sqlite = queryplans.SqlitePlans(str(settings.get().sqlite_path))
        yield sqlite
        sqlite.close()


Request = Callable[[], Awaitable[httpx.Response]]


async def board(s: Shop) -> Request:
    return lambda: s.advisor.get("/api/repair-orders")


async def one_order(s: Shop) -> Request:
    return lambda: s.advisor.get(f"/api/repair-orders/{s.orders[0]['id']}")


async def my_jobs(s: Shop) -> Request:
    await s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on")  # a running clock is part of the screen
    return lambda: s.tech.get("/api/me/jobs")


async def status_json(s: Shop) -> Request:
    return lambda: s.customer.get(f"/api/status/{s.token}")


async def status_page(s: Shop) -> Request:
    return lambda: s.customer.get(f"/s/{s.token}")


async def clock_on(s: Shop) -> Request:
    await s.tech.post(f"/api/jobs/{s.job(1, 0)}/clock-on")  # a day with an entry already
    await s.tech.post(f"/api/jobs/{s.job(1, 0)}/clock-off", json={"reason": "break"})
    return lambda: s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on")


async def clock_off(s: Shop) -> Request:
    await s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on")
    return lambda: s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-off", json={"reason": "break"})


async def clock_switch(s: Shop) -> Request:
    await s.tech.post(f"/api/jobs/{s.job(1, 0)}/clock-on")
    return lambda: s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on", json={"switch": True})


async def new_order(s: Shop) -> Request:
    return lambda: s.advisor.post("/api/repair-orders", json=ro_body(mileage=77))


async def review_list(s: Shop) -> Request:
    """The foreman's entries to review: only those waiting, never every entry nobody reviewed."""
    await s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on")
    await s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-off", json={"reason": "break"})
    return lambda: s.foreman.get("/api/clock-entries/review")


async def qc_queue(s: Shop) -> Request:
    """The foreman's QC queue: only the jobs waiting for QC, never every job the shop had."""
    await s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on")
    await s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-off", json={"reason": "finished"})
    return lambda: s.foreman.get("/api/qc/queue")


CASES = [
    board,
    one_order,
    my_jobs,
    status_json,
    status_page,
    clock_on,
    clock_off,
    clock_switch,
    new_order,
    review_list,
    qc_queue,
]


async def explained(plans: Any, statements: list[queryplans.Statement]) -> tuple[list[str], list[str]]:
    """(every statement with its plan, the full scans of history tables found)."""
    shown: list[str] = []
    scans: list[str] = []
    for n, statement in enumerate(s for s in statements if s.explainable):
        if isinstance(plans, queryplans.PostgresPlans):
            tree = await plans.plan(statement)
            plan, found = queryplans.lines(tree), plans.full_scans(tree)
        else:
            plan = plans.plan(statement)
            found = plans.full_scans(statement, plan)
        shown.append(f"{n + 1:2}. {statement.short()}\n" + "\n".join(f"      {line}" for line in plan))
        scans += [f"statement {n + 1}: {scan}" for scan in found]
    return shown, scans


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
async def test_no_statement_reads_a_history_table_in_full(
    shop: Shop, plans: Any, case: Callable[[Shop], Awaitable[Request]]
) -> None:
    request = await case(shop)
    with queryplans.capturing() as statements:
        r = await request()
    assert 200 <= r.status_code < 300, r.text
    assert any(s.explainable for s in statements), "the request reached no table: nothing was checked"
    shown, scans = await explained(plans, statements)
    listing = "\n".join(shown)
    print(f"\n{case.__name__} ({BACKEND}):\n{listing}")
    assert not scans, "full scans of history tables:\n  " + "\n  ".join(scans) + "\n" + listing


async def test_a_full_scan_is_seen(shop: Shop, plans: Any) -> None:
    """The check can fail: a lookup by a column no index starts with is a full scan on both databases."""
    from api.tables import Job

    with queryplans.capturing() as statements:
        await Job.select(Job.id).where(Job.title == "Minor service")
    _, scans = await explained(plans, statements)
    assert scans and "job" in scans[0], scans


# A technician's history for the PostgreSQL check: enough that a plan by hash over every job, order
# and QC record looks cheaper to the planner than looking the few concerned up, if its estimate of
# the window is off.
HISTORY_ORDERS = 4000
SEEDED = {"repair_order", "job", "clock_entry", "clock_event", "qc_record"}
# Rows of history tables one read of a tap may touch: its session, its window (an entry or two and
# their taps), the jobs, orders, entries and checks concerned. Today's tap reads about 30.
TAP_ROWS = 150


async def _seed_history(s: Shop) -> None:
    """Two jobs per past order, each worked by `s.person` (two taps, one entry) and checked."""
    from api.tables import Job

    first = s.orders[0]
    ro = await Job.raw(
        'SELECT "customer", "vehicle", "created_at" FROM "repair_order" WHERE "id" = {}', first["id"]
    )
    customer, vehicle, today = ro[0]["customer"], ro[0]["vehicle"], ro[0]["created_at"]
    await Job.raw(
        'INSERT INTO "repair_order" ("customer", "vehicle", "number", "status_token_hash", "created_at", '
        '"promised_at", "ready_at", "delivered_at") '
        "SELECT {}, {}, 'old-' || g, 'old-' || g, t, t, t, t FROM ("
        "SELECT g, {}::timestamptz - g * interval '2 hours' AS t FROM generate_series(1, {}) g) d",
        customer,
        vehicle,
        today - timedelta(days=1),
        HISTORY_ORDERS,
    )
    await Job.raw(
        'INSERT INTO "job" ("repair_order", "technician", "title", "state", "created_at") '
        'SELECT ro."id", {}, \'Old work\', \'qc_passed\', ro."created_at" FROM "repair_order" ro, '
        "generate_series(1, 2) n WHERE ro.\"number\" LIKE 'old-%'",
        s.person,
    )
    await Job.raw(
        'INSERT INTO "clock_entry" ("job", "technician", "started_at", "ended_at", "reason", "on_key") '
        'SELECT j."id", {}, j."created_at", j."created_at" + interval \'30 minutes\', \'finished\', '
        '\'old-on-\' || j."id" FROM "job" j WHERE j."title" = \'Old work\'',
        s.person,
    )
    await Job.raw(
        'INSERT INTO "clock_event" ("key", "technician", "job", "kind", "at", "received_at", "actor") '
        'SELECT \'old-\' || k.kind || \'-\' || j."id", {}, j."id", k.kind, j."created_at", '
        "j.\"created_at\", 'old' FROM \"job\" j, (VALUES ('on'), ('off')) k(kind) "
        "WHERE j.\"title\" = 'Old work'",
        s.person,
    )
    await Job.raw(
        'INSERT INTO "qc_record" ("job", "signer", "passed", "signed_at") '
        'SELECT j."id", {}, true, j."created_at" + interval \'1 hour\' FROM "job" j '
        "WHERE j.\"title\" = 'Old work'",
        s.person,
    )
    await Job.raw("ANALYZE")


@pytest.fixture
async def history(shop: Shop) -> AsyncIterator[Shop]:
    await _seed_history(shop)
    yield shop
    from tests.conftest import wipe

    await wipe()
    from api.tables import Job

    await Job.raw("ANALYZE")  # the next tests' plans see empty tables again


@pytest.mark.skipif(
    BACKEND != "postgresql", reason="PostgreSQL plans by its estimates; SQLite has no hash joins"
)
@pytest.mark.parametrize("case", [clock_on, clock_off, clock_switch], ids=lambda c: c.__name__)
async def test_a_tap_on_a_long_history_reads_only_its_window(
    history: Shop, case: Callable[[Shop], Awaitable[Request]]
) -> None:
    request = await case(history)
    with queryplans.capturing() as statements:
        r = await request()
    assert 200 <= r.status_code < 300, r.text
    plans = await queryplans.PostgresPlans.open(os.environ["DATABASE_URL"], generic=False)
    try:
        shown, problems = [], []
        for n, statement in enumerate(s for s in statements if plans.reads(s)):
            tree = await plans.analysed(statement)
            read = queryplans.rows_read(tree)
            shown.append(
                f"{n + 1:2}. {statement.short()}  [rows read: {read}]\n"
                + "\n".join(f"      {line}" for line in queryplans.lines(tree))
            )
            # Tables left small here (sessions, working days) are rightly read whole.
            scans = [scan for scan in plans.full_scans(tree) if scan.split(" on ")[-1].split()[0] in SEEDED]
            problems += [f"statement {n + 1}: {scan}" for scan in scans]
            if sum(read.values()) > TAP_ROWS:
                problems.append(f"statement {n + 1} read {read} rows of history tables (> {TAP_ROWS})")
    finally:
        await plans.close()
    listing = "\n".join(shown)
    print(f"\n{case.__name__} on {HISTORY_ORDERS} past orders:\n{listing}")
    assert shown, "no read was checked"
    assert not problems, "\n  ".join(problems) + "\n" + listing
