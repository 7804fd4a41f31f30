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
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
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
    orders: list[dict[str, Any]]
    token: str

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
    customer = client(app)
    for c in (advisor, tech):
        c.event_hooks = {"request": [_keyed]}
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(customer):
        orders = []
        for n in range(3):
            r = await advisor.post("/api/repair-orders", json=ro_body(mileage=1000 + n))
            assert r.status_code == 201, r.text
            orders.append(r.json())
            for job in r.json()["jobs"]:
                a = await advisor.post(f"/api/jobs/{job['id']}/assign", json={"technician_id": person["id"]})
                assert a.status_code == 200, a.text
        token = orders[0]["status_url"].removeprefix("/s/")
        yield Shop(advisor, tech, customer, orders, token)


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


CASES = [board, one_order, my_jobs, status_json, status_page, clock_on, clock_off, clock_switch, new_order]


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
