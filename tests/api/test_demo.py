"""`python -m api demo` in process: it fills only an empty database (issue 11 item 10), and its clock
data goes through the same use cases as real taps, so the clock works on it (issue 11 item 16)."""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api import clockbook, clockstore, demo, workshop
from api.tables import Attendance, ClockEntry, ClockEvent, Customer, Job, RepairOrder, Staff, Vehicle
from tests.conftest import wipe
from tests.factories import client, make_staff

_keys = itertools.count()


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"demo-{next(_keys)}"}


async def demo_person(app: Any, username: str) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    """A client signed in as one of the demo's people, with the PIN the demo prints."""
    pin = next(p for u, _, _, p in demo.STAFF if u == username)
    c = client(app)
    r = await c.post("/api/auth/login", json={"username": username, "pin": pin})
    assert r.status_code == 200, r.text
    c.headers["x-csrftoken"] = c.cookies["csrftoken"]
    return c, r.json()["user"]


async def entries_of(technician: int) -> dict[int, dict[str, Any]]:
    return {e["id"]: e for e in await ClockEntry.select().where(ClockEntry.technician == technician)}


async def test_demo_clock_entries_are_folded_from_clock_events(app: Any, clean: None) -> None:
    await demo.create()
    entries = await ClockEntry.select()
    assert len(entries) == 5 and all(e["on_key"] for e in entries)
    events = await ClockEvent.select()
    by_person: dict[int, list[clockbook.ClockEvent]] = defaultdict(list)
    for e in events:
        by_person[e["technician"]].append(
            clockbook.ClockEvent(e["key"], e["kind"], e["at"], e["job"], e["reason"])
        )
    for person, person_events in by_person.items():
        book = clockbook.fold(person_events)
        clockbook.check_invariants(book)
        stored = sorted(
            (e["on_key"], e["job"], e["started_at"], e["ended_at"], e["reason"])
            for e in entries
            if e["technician"] == person
        )
        assert stored == sorted((i.key, i.job, i.start, i.end, i.reason) for i in book.intervals)
    # Every demo technician started the day, and nothing of the demo asks for the foreman's review.
    assert await Attendance.count().where(Attendance.clock_out_at.is_null()) == 3
    assert not any(set(clockstore.flags_of(e)) & set(clockbook.REVIEW_FLAGS) for e in entries)
    # The jobs are in the states the stories say, through the fold.
    states = {j["title"]: j["state"] for j in await Job.select(Job.title, Job.state)}
    assert states["Front brake pads 前刹车片"] == "in_progress"
    assert states["Spark plugs 火花塞"] == "finished" and states["Tyre rotation 轮胎换位"] == "qc_passed"
    assert states["Rear door rattle 后门异响"] == "paused"


async def test_switch_confirm_correct_and_end_day_on_demo_entries(app: Any, clean: None) -> None:
    await demo.create()
    sun, sun_user = await demo_person(app, "sun.hao")
    foreman, _ = await demo_person(app, "zhao.lei")
    liu, liu_user = await demo_person(app, "liu.yang")
    async with contextlib.aclosing(sun), contextlib.aclosing(foreman), contextlib.aclosing(liu):
        before = await entries_of(sun_user["id"])
        mine = (await sun.get("/api/me/jobs")).json()
        running = mine["open_entry"]
        assert running is not None and running["job_title"] == "Front brake pads 前刹车片"
        paused = next(j for j in mine["jobs"] if j["state"] == "paused")

        # Switch to the paused job: the running demo entry closes where the new one starts.
        switched = await sun.post(f"/api/jobs/{paused['id']}/clock-on", json={"switch": True}, headers=key())
        assert switched.status_code == 200, switched.text
        after = await entries_of(sun_user["id"])
        assert set(before) <= set(after) and len(after) == len(before) + 1
        assert after[running["id"]]["reason"] == "switched"

        # Confirm one demo entry, correct another (the foreman): no 500, the entries stay.
        closed = next(e for e in before.values() if e["ended_at"] is not None)
        confirmed = await sun.post(f"/api/clock-entries/{closed['id']}/confirm", headers=key())
        assert confirmed.status_code == 200, confirmed.text
        corrected = await foreman.post(
            f"/api/clock-entries/{running['id']}/correct",
            json={
                "started_at": (closed["ended_at"] + timedelta(minutes=10)).isoformat(),
                "reason": "Started after the parts came",
            },
            headers=key(),
        )
        assert corrected.status_code == 200, corrected.text

        # End my day: the running clock stops; not one demo entry is lost or shortened.
        for person, c in ((sun_user, sun), (liu_user, liu)):
            kept = {i: (e["started_at"], e["ended_at"]) for i, e in (await entries_of(person["id"])).items()}
            out = await c.post("/api/attendance/clock-out", headers=key())
            assert out.status_code == 200, out.text
            now = datetime.now(UTC)
            ended = await entries_of(person["id"])
            assert set(ended) == set(kept)
            for i, (start, end) in kept.items():
                assert ended[i]["started_at"] == start
                assert ended[i]["ended_at"] == end or (end is None and ended[i]["ended_at"] <= now)
        assert (await liu.get("/api/me/jobs")).json()["attendance"] is None


async def test_demo_fills_only_an_empty_database(app: Any, clean: None) -> None:
    # A shop in use: one manager. The demo must not add a manager whose PIN it prints.
    await make_staff("manager")
    with pytest.raises(workshop.Conflict) as refused:
        await demo.create()
    assert "staff" in refused.value.message and "\n" not in refused.value.message
    assert await Staff.count() == 1

    # Orders and no staff (someone deactivated nobody, deleted everyone): also in use.
    await wipe()
    customer = Customer(name="张伟", phone="13800138000")
    await customer.save()
    vehicle = Vehicle(plate="沪A12345")
    await vehicle.save()
    now = datetime.now(UTC)
    await RepairOrder(
        number="261201-001",
        customer=customer.id,
        vehicle=vehicle.id,
        mileage=1,
        promised_at=now,
        first_promised_at=now,
        status_nonce="n",
        status_token_hash="h",
        created_at=now,
    ).save()
    with pytest.raises(workshop.Conflict):
        await demo.create()
    assert await Staff.count() == 0

    # An empty database is filled; a second run finds its own demo and changes nothing.
    await wipe()
    assert "Sign in as" in await demo.create()
    staff = await Staff.count()
    orders = await RepairOrder.count()
    assert "already" in await demo.create()
    assert (await Staff.count(), await RepairOrder.count()) == (staff, orders)
