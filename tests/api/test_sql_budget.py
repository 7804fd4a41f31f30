"""SQL statements per request for the routes a shop uses most (issue 12, "What to build" 5).

Budgets: ≤ 8 per clock tap and per new repair order, ≤ 4 per read of the board, an order, my jobs
and the status JSON. Each case prints its count (`pytest -s` shows them) and fails above its
budget, listing the statements it sent.

Every command carries an Idempotency-Key, as a tablet's outbox sends it. Counted in steady state:
the same kind of request is made once before the counted one, so a
once-per-process cache does not make a figure look better or worse than a shop's every request.
The board holds three orders of two jobs each, so a query per order or per job shows.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from piccolo.engine import engine_finder

from tests import sqlcount
from tests.conftest import BACKEND
from tests.factories import client, ro_body, signed_in

CLOCK_TAP = 8
NEW_ORDER = 8
READ = 4


@dataclass
class Shop:
    advisor: httpx.AsyncClient
    tech: httpx.AsyncClient
    customer: httpx.AsyncClient
    tech_id: int
    orders: list[dict[str, Any]]
    token: str

    def job(self, order: int, job: int) -> int:
        return int(self.orders[order]["jobs"][job]["id"])


@pytest.fixture
async def shop(app: Any, clean: None) -> AsyncIterator[Shop]:
    engine = engine_finder()
    assert engine is not None
    sqlcount.install(engine)
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
        yield Shop(advisor, tech, customer, person["id"], orders, token)


async def _keyed(request: httpx.Request) -> None:
    """Every command carries an Idempotency-Key, as the tablets' outbox sends it (lookup + record)."""
    if request.method == "POST" and "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = uuid.uuid4().hex


async def counted(request: Callable[[], Awaitable[httpx.Response]]) -> tuple[int, list[str]]:
    with sqlcount.counting() as statements:
        r = await request()
    assert 200 <= r.status_code < 300, r.text
    return len(statements), statements


async def clock_on(s: Shop) -> tuple[int, list[str]]:
    await s.tech.post(f"/api/jobs/{s.job(1, 0)}/clock-on")  # the same kind of tap once, not counted
    await s.tech.post(f"/api/jobs/{s.job(1, 0)}/clock-off", json={"reason": "break"})
    return await counted(lambda: s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on"))


async def clock_off(s: Shop) -> tuple[int, list[str]]:
    await s.tech.post(f"/api/jobs/{s.job(1, 0)}/clock-on")
    await s.tech.post(f"/api/jobs/{s.job(1, 0)}/clock-off", json={"reason": "break"})
    await s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on")
    return await counted(lambda: s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-off", json={"reason": "break"}))


async def clock_switch(s: Shop) -> tuple[int, list[str]]:
    await s.tech.post(f"/api/jobs/{s.job(1, 0)}/clock-on")
    await s.tech.post(f"/api/jobs/{s.job(1, 1)}/clock-on", json={"switch": True})
    return await counted(lambda: s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on", json={"switch": True}))


async def new_order(s: Shop) -> tuple[int, list[str]]:
    return await counted(lambda: s.advisor.post("/api/repair-orders", json=ro_body(mileage=77)))


async def board(s: Shop) -> tuple[int, list[str]]:
    await s.advisor.get("/api/repair-orders")
    return await counted(lambda: s.advisor.get("/api/repair-orders"))


async def one_order(s: Shop) -> tuple[int, list[str]]:
    await s.advisor.get(f"/api/repair-orders/{s.orders[1]['id']}")
    return await counted(lambda: s.advisor.get(f"/api/repair-orders/{s.orders[0]['id']}"))


async def my_jobs(s: Shop) -> tuple[int, list[str]]:
    await s.tech.post(f"/api/jobs/{s.job(0, 0)}/clock-on")  # a running clock is part of the screen
    await s.tech.get("/api/me/jobs")
    return await counted(lambda: s.tech.get("/api/me/jobs"))


async def status_json(s: Shop) -> tuple[int, list[str]]:
    await s.customer.get(f"/api/status/{s.token}")
    return await counted(lambda: s.customer.get(f"/api/status/{s.token}"))


# Transaction control is not counted (tests/sqlcount.py): SQLite's BEGIN IMMEDIATE, PostgreSQL's
# BEGIN with its advisory lock, SAVEPOINT, COMMIT.
CASES = [
    pytest.param(clock_on, CLOCK_TAP, id="clock-tap-on"),
    pytest.param(clock_off, CLOCK_TAP, id="clock-tap-off"),
    pytest.param(clock_switch, CLOCK_TAP, id="clock-tap-switch"),
    pytest.param(new_order, NEW_ORDER, id="new-repair-order"),
    pytest.param(board, READ, id="board-list"),
    pytest.param(one_order, READ, id="one-order"),
    pytest.param(my_jobs, READ, id="my-jobs"),
    pytest.param(status_json, READ, id="status-json"),
]


@pytest.mark.parametrize(("case", "budget"), CASES)
async def test_statements_per_request_within_budget(
    shop: Shop, case: Callable[[Shop], Awaitable[tuple[int, list[str]]]], budget: int
) -> None:
    count, statements = await case(shop)
    print(f"\nSQL statements, {case.__name__}: {count} (budget {budget}, {BACKEND})")
    listing = "\n".join(f"  {n + 1:2}. {sql[:160]}" for n, sql in enumerate(statements))
    assert count <= budget, f"{count} statements, budget {budget}:\n{listing}"


async def who_am_i(s: Shop) -> tuple[int, list[str]]:
    await s.tech.get("/api/auth/me")
    return await counted(lambda: s.tech.get("/api/auth/me"))


async def start_day(s: Shop) -> tuple[int, list[str]]:
    return await counted(lambda: s.tech.post("/api/attendance/clock-in"))


async def assign(s: Shop) -> tuple[int, list[str]]:
    return await counted(
        lambda: s.advisor.post(f"/api/jobs/{s.job(2, 0)}/assign", json={"technician_id": s.tech_id})
    )


async def status_page(s: Shop) -> tuple[int, list[str]]:
    await s.customer.get(f"/s/{s.token}")
    return await counted(lambda: s.customer.get(f"/s/{s.token}"))


@pytest.mark.parametrize("case", [who_am_i, start_day, assign, status_page], ids=lambda c: c.__name__)
async def test_statements_of_other_busy_routes_are_printed(
    shop: Shop, case: Callable[[Shop], Awaitable[tuple[int, list[str]]]]
) -> None:
    """No budget for these yet: their figures go beside the budgeted ones in the issue's note."""
    count, _ = await case(shop)
    print(f"\nSQL statements, {case.__name__}: {count} (no budget, {BACKEND})")
    assert count > 0  # the request did reach the database (a session at least)
