"""Parts lines on jobs (issue 13 item 6): needed → ordered (expected time) → arrived → fitted, edits
while not fitted, illegal moves refused with codes and nothing changed; a "waiting for parts" stop
names its line; the technician's tablet hears of an arrival. SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.tables import Event, PartLine
from tests.factories import ro_body, signed_in


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def ok(r: httpx.Response) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


@dataclass
class World:
    advisor: httpx.AsyncClient
    tech: httpx.AsyncClient
    other_tech: httpx.AsyncClient
    tech_id: int
    order: dict[str, Any]
    job: int


@pytest.fixture
async def world(app: Any, clean: None) -> AsyncIterator[World]:
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    other, _ = await signed_in(app, "technician")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(other):
        order = ok(await advisor.post("/api/repair-orders", json=ro_body()))
        job = order["jobs"][0]["id"]
        ok(await advisor.post(f"/api/jobs/{job}/assign", json={"technician_id": person["id"]}))
        yield World(advisor, tech, other, person["id"], order, job)


PADS = {"name": "Front brake pads", "part_number": "1K0698151", "quantity": 2, "unit_price_fen": 19000}


async def rows() -> list[dict[str, Any]]:
    return list(await PartLine.select().order_by(PartLine.id))


async def test_a_line_goes_needed_ordered_arrived_fitted(world: World) -> None:
    w = world
    part = ok(await w.advisor.post(f"/api/jobs/{w.job}/parts", json=PADS, headers=key()))
    assert part["state"] == "needed" and part["line_fen"] == 38000 and part["job_id"] == w.job
    expected = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    ordered = ok(
        await w.advisor.post(
            f"/api/parts/{part['id']}",
            json={"state": "ordered", "expected_at": expected.isoformat()},
            headers=key(),
        )
    )
    assert ordered["state"] == "ordered" and datetime.fromisoformat(ordered["expected_at"]) == expected
    edited = ok(await w.advisor.post(f"/api/parts/{part['id']}", json={"quantity": 1}, headers=key()))
    assert edited["quantity"] == 1 and edited["line_fen"] == 19000 and edited["state"] == "ordered"
    arrived = ok(await w.advisor.post(f"/api/parts/{part['id']}", json={"state": "arrived"}, headers=key()))
    assert arrived["state"] == "arrived"
    fitted = ok(await w.tech.post(f"/api/parts/{part['id']}/fitted", headers=key()))
    assert fitted["state"] == "fitted"
    # The technician's tablet hears every change (its staff_ids name the job's technician).
    found = await Event.select(Event.type, Event.data).where(Event.type.like("part.%")).order_by(Event.seq)
    assert [e["type"] for e in found] == ["part.added", *["part.updated"] * 4]
    assert all(w.tech_id in json.loads(e["data"])["staff_ids"] for e in found)
    assert json.loads(found[3]["data"])["from_state"] == "ordered"
    mine = ok(await w.tech.get("/api/me/parts"))
    assert [p["state"] for p in mine["parts"]] == ["fitted"]


@pytest.mark.parametrize(
    ("steps", "last", "status", "code"),
    [
        ([], {"state": "ordered"}, 422, "part.expected_required"),
        ([], {}, 422, "part.nothing_to_change"),
        ([], {"state": "fitted"}, 422, "field.choice"),
        ([], {"quantity": 0}, 422, "part.quantity"),
        ([], {"unit_price_fen": -5}, 422, "price.negative"),
        ([{"state": "arrived"}], {"state": "needed"}, 409, "part.move_invalid"),
    ],
)
async def test_illegal_changes_are_refused_and_change_nothing(
    world: World, steps: list[dict[str, Any]], last: dict[str, Any], status: int, code: str
) -> None:
    w = world
    part = ok(await w.advisor.post(f"/api/jobs/{w.job}/parts", json=PADS, headers=key()))
    for step in steps:
        ok(await w.advisor.post(f"/api/parts/{part['id']}", json=step, headers=key()))
    before = (await rows(), await Event.count())
    r = await w.advisor.post(f"/api/parts/{part['id']}", json=last, headers=key())
    assert r.status_code == status and r.json()["code"] == code, r.text
    assert (await rows(), await Event.count()) == before


async def test_fitting_needs_an_arrived_part_and_is_once(world: World) -> None:
    w = world
    part = ok(await w.advisor.post(f"/api/jobs/{w.job}/parts", json=PADS, headers=key()))
    r = await w.tech.post(f"/api/parts/{part['id']}/fitted", headers=key())
    assert r.status_code == 409 and r.json()["code"] == "part.not_arrived"
    ok(await w.advisor.post(f"/api/parts/{part['id']}", json={"state": "arrived"}, headers=key()))
    r = await w.other_tech.post(f"/api/parts/{part['id']}/fitted", headers=key())
    assert r.status_code == 403 and r.json()["code"] == "part.not_your_job"
    ok(await w.tech.post(f"/api/parts/{part['id']}/fitted", headers=key()))
    before = await rows()
    for r in (
        await w.tech.post(f"/api/parts/{part['id']}/fitted", headers=key()),
        await w.advisor.post(f"/api/parts/{part['id']}", json={"name": "Other"}, headers=key()),
    ):
        assert r.status_code == 409 and r.json()["code"] in ("part.already_fitted", "part.fitted"), r.text
    assert await rows() == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**PADS, "quantity": 0}, "part.quantity"),
        ({**PADS, "unit_price_fen": -1}, "price.negative"),
        ({**PADS, "quantity": 1.5}, "field.whole_number"),
        ({**PADS, "name": ""}, "field.too_short"),
    ],
)
async def test_bad_lines_are_refused(world: World, body: dict[str, Any], code: str) -> None:
    r = await world.advisor.post(f"/api/jobs/{world.job}/parts", json=body, headers=key())
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert await rows() == []


async def test_only_the_office_adds_and_orders(world: World) -> None:
    w = world
    r = await w.tech.post(f"/api/jobs/{w.job}/parts", json=PADS, headers=key())
    assert r.status_code == 403
    r = await w.advisor.post("/api/jobs/999999/parts", json=PADS, headers=key())
    assert r.status_code == 404 and r.json()["code"] == "job.not_found"
    r = await w.advisor.post("/api/parts/999999", json={"state": "arrived"}, headers=key())
    assert r.status_code == 404 and r.json()["code"] == "part.not_found"


async def test_a_waiting_for_parts_stop_names_its_line(world: World) -> None:
    w = world
    part = ok(await w.advisor.post(f"/api/jobs/{w.job}/parts", json=PADS, headers=key()))
    ok(await w.tech.post(f"/api/jobs/{w.job}/clock-on", headers=key()))
    # Only with the reason "waiting for parts", and only a line of that job; nothing changes else.
    r = await w.tech.post(f"/api/jobs/{w.job}/clock-off", json={"reason": "break", "part_id": part["id"]})
    assert r.status_code == 422 and r.json()["code"] == "clock.part_without_reason", r.text
    other_job = w.order["jobs"][1]["id"]
    stray = ok(await w.advisor.post(f"/api/jobs/{other_job}/parts", json=PADS, headers=key()))
    r = await w.tech.post(
        f"/api/jobs/{w.job}/clock-off", json={"reason": "waiting_parts", "part_id": stray["id"]}
    )
    assert r.status_code == 422 and r.json()["code"] == "part.not_on_job", r.text
    stopped = ok(
        await w.tech.post(
            f"/api/jobs/{w.job}/clock-off",
            json={"reason": "waiting_parts", "part_id": part["id"]},
            headers=key(),
        )
    )
    assert stopped["job"]["state"] == "paused"
    mine = ok(await w.tech.get("/api/me/parts"))
    assert mine["awaited"] == {str(w.job): part["id"]}
    assert [p["id"] for p in mine["parts"]] == [part["id"]]  # the other job is not theirs


async def test_no_parts_on_declined_work(world: World) -> None:
    w = world
    rec = ok(
        await w.advisor.post(
            f"/api/repair-orders/{w.order['id']}/jobs",
            json={"title": "Wipers", "estimated_hours": 0.2, "price": 80, "needs_approval": True},
        )
    )
    token = w.order["status_url"].removeprefix("/s/")
    ok(
        await w.advisor.post(
            f"/api/status/{token}/approvals", json={"job_id": rec["id"], "decision": "decline"}
        )
    )
    r = await w.advisor.post(f"/api/jobs/{rec['id']}/parts", json=PADS, headers=key())
    assert r.status_code == 409 and r.json()["code"] == "part.job_declined", r.text
