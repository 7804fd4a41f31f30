"""The reads a shop makes all day: what they answer, and how they read it (issue 12 item 5, issue 18 item 3).

- The board and one order are sent as built, without a pydantic model on the way out: their bytes
  must be exactly what the documented schema (RepairOrderOut) would give.
- Each read loads each row once: no table the screen shows is read by two statements of one request.
- The status link's `seq` never covers an event its page does not show (the page would never get
  that event again from its stream): today the whole view is one statement, one snapshot.
"""

from __future__ import annotations

import contextlib
import io
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from piccolo.engine import engine_finder
from PIL import Image

from api import autostop, settings, sqlread
from api import shop as shop_settings
from api.schemas import RepairOrderList, RepairOrderOut
from api.tables import Event
from tests import sqlcount
from tests.factories import client, in_hours, make_staff, ro_body, signed_in


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def ok(r: httpx.Response) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


@dataclass
class Shop:
    advisor: httpx.AsyncClient
    foreman: httpx.AsyncClient
    tech: httpx.AsyncClient
    other_tech_id: int
    customer: httpx.AsyncClient
    order: dict[str, Any]
    token: str
    review_job: int  # a job the technician has an entry to confirm on, now someone else's


@pytest.fixture
async def shop(app: Any, clean: None) -> AsyncIterator[Shop]:
    """A technician's day with everything the reads show: a running clock, a failed check with its
    photo, a finding with a photo, a recommendation, a promise moved twice, a walk-around photo, and
    an auto-stopped entry on a job since given to someone else."""
    advisor, _ = await signed_in(app, "advisor")
    foreman, _ = await signed_in(app, "foreman")
    tech, person = await signed_in(app, "technician")
    _, other = await signed_in(app, "technician")
    customer = client(app)
    manager = await make_staff("manager")
    hours = {"opens": "08:30", "closes": "18:00", "open_days": "1234567"}
    zone = settings.get().shop_timezone
    await shop_settings.add_settings(
        {"name": "Harbour Motors", "timezone": zone, "language": "en", **hours}, manager["id"]
    )
    clients = (advisor, foreman, tech, customer)
    async with contextlib.AsyncExitStack() as stack:
        for c in clients:
            await stack.enter_async_context(contextlib.aclosing(c))
        forgotten = ok(await advisor.post("/api/repair-orders", json=ro_body(mileage=10)))
        review_job = forgotten["jobs"][0]["id"]
        ok(await advisor.post(f"/api/jobs/{review_job}/assign", json={"technician_id": person["id"]}))
        long_ago = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
        ok(await tech.post(f"/api/jobs/{review_job}/clock-on", json={"device_time": long_ago}, headers=key()))
        await autostop.sweep()  # stopped at last night's cutoff: an entry to confirm
        ok(await advisor.post(f"/api/jobs/{review_job}/assign", json={"technician_id": other["id"]}))

        order = ok(await advisor.post("/api/repair-orders", json=ro_body()))
        first, second = (j["id"] for j in order["jobs"])
        for job in (first, second):
            ok(await advisor.post(f"/api/jobs/{job}/assign", json={"technician_id": person["id"]}))
        ok(await tech.post("/api/attendance/clock-in", headers=key()))
        ok(await tech.post(f"/api/jobs/{first}/clock-on", headers=key()))
        ok(await tech.post(f"/api/jobs/{first}/clock-off", json={"reason": "finished"}, headers=key()))
        item = ok(await foreman.get("/api/qc-templates/default"))["items"][0]
        ok(
            await foreman.post(
                f"/api/repair-orders/{order['id']}/photos",
                files={"file": ("qc.jpg", jpeg(), "image/jpeg")},
                data={"kind": "qc", "panel": f"qc:{item['id']}", "job_id": str(first)},
            )
        )
        failed = [{"item_id": item["id"], "name": item["name_en"], "result": "fail", "note": "loose"}]
        ok(await foreman.post(f"/api/jobs/{first}/qc", json={"items": failed}, headers=key()))
        finding = ok(await tech.post(f"/api/jobs/{second}/findings", json={"text": "Pads at 2 mm"}))
        ok(
            await tech.post(
                f"/api/repair-orders/{order['id']}/photos",
                files={"file": ("f.jpg", jpeg(), "image/jpeg")},
                data={"kind": "finding", "panel": f"finding:{finding['id']}", "job_id": str(second)},
            )
        )
        pads = {"title": "Pads", "estimated_hours": 1, "price": 420}
        ok(await advisor.post(f"/api/findings/{finding['id']}/recommend", json=pads))
        ok(
            await advisor.post(
                f"/api/repair-orders/{order['id']}/photos",
                files={"file": ("w.jpg", jpeg(), "image/jpeg")},
                data={"kind": "walkaround", "panel": "front-left", "note": "scratch"},
            )
        )
        for hours, reason in ((30, "Waiting for parts"), (40, "More work found")):
            moved = {"promised_at": in_hours(hours), "reason": reason}
            ok(await advisor.post(f"/api/repair-orders/{order['id']}/promise", json=moved))
        ok(await tech.post(f"/api/jobs/{first}/clock-on", headers=key()))  # the rework, running
        token = order["status_url"].removeprefix("/s/")
        yield Shop(advisor, foreman, tech, other["id"], customer, order, token, review_job)


def _encoded(model: Any) -> bytes:
    """What Litestar sends for a pydantic model: its JSON-mode dump, encoded by msgspec."""
    return msgspec.json.encode(model.model_dump(mode="json"))


async def test_the_board_and_an_order_are_what_their_schema_says_byte_for_byte(shop: Shop) -> None:
    board = await shop.advisor.get("/api/repair-orders")
    assert board.status_code == 200
    assert board.content == _encoded(RepairOrderList.model_validate(board.json()))
    assert len(board.json()["items"]) == 2 and all(i["findings"] == [] for i in board.json()["items"])
    one = await shop.advisor.get(f"/api/repair-orders/{shop.order['id']}")
    assert one.status_code == 200
    assert one.content == _encoded(RepairOrderOut.model_validate(one.json()))
    body = one.json()
    assert [p["kind"] for p in body["photos"]] == ["qc", "finding", "walkaround"]
    (finding,) = body["findings"]
    assert [p["kind"] for p in finding["photos"]] == ["finding"]
    assert [p["reason"] for p in body["promise_history"]] == ["Waiting for parts", "More work found"]
    assert [j["title"] for j in body["jobs"]] == ["Minor service", "A/C cleaning", "Pads"]
    # The order on the board is the same order, less its findings.
    (listed,) = [i for i in board.json()["items"] if i["id"] == shop.order["id"]]
    assert {**listed, "findings": body["findings"]} == body


async def test_my_jobs_shows_the_whole_day(shop: Shop) -> None:
    mine = ok(await shop.tech.get("/api/me/jobs"))
    assert mine["attendance"] is not None and mine["attendance"]["opened_by"] == "person"
    first, second = shop.order["jobs"]
    assert [j["id"] for j in mine["jobs"]] == [first["id"], second["id"]]
    running = mine["jobs"][0]
    assert running["state"] == "in_progress" and running["running_since"] is not None
    assert mine["open_entry"]["job_id"] == first["id"] and mine["open_entry"]["job_title"] == "Minor service"
    (failed,) = running["last_qc"]["failed"]
    assert failed["note"] == "loose" and len(failed["photos"]) == 1
    assert [f["text"] for f in mine["jobs"][1]["findings"]] == ["Pads at 2 mm"]
    # The entry to confirm is on a job that is no longer this technician's: its title still shows.
    (review,) = mine["review"]
    assert review["job_id"] == shop.review_job and review["job_title"] == "Minor service"
    assert review["auto_stopped"] is True


async def test_the_status_json_shows_only_what_the_customer_may_see(shop: Shop) -> None:
    view = ok(await shop.customer.get(f"/api/status/{shop.token}"))
    assert list(view) == [
        "number",
        "vehicle",
        "stage",
        "promised_at",
        "first_promised_at",
        "promise_history",
        "jobs",
        "photos",
        "language",
        "ready_at",
        "delivered_at",
        "seq",
        "survey",
        "settlement",  # the bill's summary after the hand-over (None before)
    ]
    assert view["vehicle"] == {"label": "Volkswagen Passat white", "plate_masked": "沪A·••345"}
    assert [p["kind"] for p in view["photos"]] == ["finding", "walkaround"]  # never the QC evidence
    assert all(p["url"].startswith(f"/s/{shop.token}/photos/") for p in view["photos"])
    assert view["jobs"][2] == {
        "id": view["jobs"][2]["id"],
        "title": "Pads",
        "state": "recommended",
        "approval": "pending",
        "price": 420.0,
    }
    assert "price" not in view["jobs"][1]  # no price given
    assert [set(p) for p in view["promise_history"]] == [{"promised_at", "previous_at", "reason", "at"}] * 2
    last = (
        await Event.select(Event.seq)
        .where(Event.repair_order == shop.order["id"])
        .order_by(Event.seq, ascending=False)
        .first()
    )
    assert last is not None and view["seq"] == last["seq"] and view["survey"] is None
    body = str(view)
    for secret in ("13800138000", "张伟", "Test Technician", shop.order["vehicle"]["vin"]):
        assert secret not in body


async def test_the_status_page_names_the_shop(shop: Shop) -> None:
    page = await shop.customer.get(f"/s/{shop.token}?lang=en")
    assert page.status_code == 200 and "Harbour Motors" in page.text
    assert "Recommended by our technician" in page.text and "Pads" in page.text
    assert "More work found" in page.text and "Volkswagen Passat white" in page.text


READS: dict[str, tuple[Callable[[Shop], Awaitable[httpx.Response]], set[str]]] = {
    # read → the tables whose rows it shows (staff rows are names, looked up where they are named)
    "board": (
        lambda s: s.advisor.get("/api/repair-orders"),
        {"repair_order", "customer", "vehicle", "job", "promise_change", "photo"},
    ),
    "one order": (
        lambda s: s.advisor.get(f"/api/repair-orders/{s.order['id']}"),
        {"repair_order", "customer", "vehicle", "job", "promise_change", "photo", "finding"},
    ),
    "my jobs": (
        lambda s: s.tech.get("/api/me/jobs"),
        {"job", "repair_order", "vehicle", "clock_entry", "qc_record", "finding", "photo", "attendance"},
    ),
    "status JSON": (
        lambda s: s.customer.get(f"/api/status/{s.token}"),
        {"repair_order", "customer", "vehicle", "job", "promise_change", "photo", "survey", "event", "shop"},
    ),
    "status page": (
        lambda s: s.customer.get(f"/s/{s.token}"),
        {"repair_order", "customer", "vehicle", "job", "promise_change", "photo", "survey", "event", "shop"},
    ),
}
_TABLE = re.compile(r'\b(?:FROM|JOIN)\s+"?([a-z_]+)"?', re.IGNORECASE)


@pytest.mark.parametrize("read", list(READS))
async def test_each_read_loads_each_row_once(shop: Shop, read: str) -> None:
    request, tables = READS[read]
    engine = engine_finder()
    assert engine is not None
    sqlcount.install(engine)
    await request(shop)  # the same request once before, as in tests/api/test_sql_budget.py
    with sqlcount.counting() as statements:
        r = await request(shop)
    assert r.status_code == 200, r.text
    read_by: dict[str, list[int]] = {}
    for n, sql in enumerate(statements):
        for table in set(_TABLE.findall(sql)):
            read_by.setdefault(table, []).append(n)
    listing = "\n".join(statements)
    for table in tables:
        assert len(read_by.get(table, [])) == 1, f"{read}: {table} read {read_by.get(table)}:\n{listing}"
    assert len(statements) <= 4


async def test_a_status_read_never_shows_less_than_its_seq_covers(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event committed between the status read's statements: the answer either shows it, or its
    seq is older than that event (the page will get it again from its stream). Tried at every gap
    between two statements; a read of one statement has none: it is one snapshot."""
    real_fetch = sqlread._fetch
    statements = 0
    for gap in range(1, 5):
        calls = 0
        moving = False

        async def fetch(sql: str, args: Any, gap: int = gap) -> Any:
            nonlocal calls, moving
            found = await real_fetch(sql, args)
            if moving:
                return found  # the promise change's own statements
            calls += 1
            if calls == gap:
                moving = True
                body = {"promised_at": in_hours(50 + gap), "reason": f"gap {gap}"}
                ok(await shop.advisor.post(f"/api/repair-orders/{shop.order['id']}/promise", json=body))
                moving = False
            return found

        monkeypatch.setattr(sqlread, "_fetch", fetch)
        view = ok(await shop.customer.get(f"/api/status/{shop.token}"))
        monkeypatch.setattr(sqlread, "_fetch", real_fetch)
        statements = max(statements, calls)
        if calls <= gap:
            break  # no statement after this gap: nothing more to try
        moved = (
            await Event.select(Event.seq)
            .where((Event.repair_order == shop.order["id"]) & (Event.type == "promise.changed"))
            .order_by(Event.seq, ascending=False)
            .first()
        )
        assert moved is not None
        shown = view["promise_history"][-1]["reason"] == f"gap {gap}"
        assert shown or view["seq"] < moved["seq"], f"gap {gap}: seq {view['seq']} covers an event not shown"
    assert 1 <= statements <= 4  # the read went through sqlread (so every gap was tried)
