"""Dispatch (派工): the foreman's read (GET /api/dispatch) and assigning / moving jobs
(POST /api/jobs/{id}/assign) with every refusal leaving everything as it was."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api import dispatch, messages
from api.tables import Attendance, Event, Job, Shop, Staff
from tests.api import test_query_plans
from tests.factories import client, ro_body, signed_in

plans = test_query_plans.plans  # the fixture: EXPLAIN on this run's database (SQLite or PostgreSQL)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Wednesday afternoon in the shop.
WEDNESDAY_2PM = datetime(2026, 12, 2, 14, 0, tzinfo=SHANGHAI)


@dataclass
class Floor:
    advisor: httpx.AsyncClient
    foreman: httpx.AsyncClient
    tech_a: httpx.AsyncClient
    tech_b: httpx.AsyncClient
    a: dict[str, Any]
    b: dict[str, Any]
    ro: dict[str, Any]
    advisor_id: int

    def job(self, n: int) -> int:
        return int(self.ro["jobs"][n]["id"])

    async def assign(self, job_id: int, person: int, who: httpx.AsyncClient | None = None) -> httpx.Response:
        return await (who or self.foreman).post(f"/api/jobs/{job_id}/assign", json={"technician_id": person})

    async def board(self) -> dict[str, Any]:
        r = await self.foreman.get("/api/dispatch")
        assert r.status_code == 200, r.text
        return dict(r.json())


async def _shop(opens: str = "08:30", closes: str = "18:00", days: str = "123456") -> None:
    await Shop.insert(
        Shop(
            name="Test Motors",
            timezone="Asia/Shanghai",
            language="en",
            opens=opens,
            closes=closes,
            open_days=days,
            created_at=datetime.now(UTC),
        )
    )


@pytest.fixture
async def floor(app: Any, clean: None) -> AsyncIterator[Floor]:
    advisor, office = await signed_in(app, "advisor")
    foreman, _ = await signed_in(app, "foreman", name="Zhou Foreman")
    tech_a, a = await signed_in(app, "technician", name="An Tech")
    tech_b, b = await signed_in(app, "technician", name="Bo Tech")
    async with (
        contextlib.aclosing(advisor),
        contextlib.aclosing(foreman),
        contextlib.aclosing(tech_a),
        contextlib.aclosing(tech_b),
    ):
        jobs = [
            {"title": "Minor service", "estimated_hours": 1.5},
            {"title": "Brake pads", "estimated_hours": 1},
            {"title": "A/C cleaning", "estimated_hours": 0.5},
        ]
        r = await advisor.post("/api/repair-orders", json=ro_body(jobs=jobs))
        assert r.status_code == 201, r.text
        yield Floor(advisor, foreman, tech_a, tech_b, a, b, r.json(), office["id"])


def _tech(board: dict[str, Any], person: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in board["technicians"] if t["id"] == person["id"])


async def _snapshot(job_id: int) -> tuple[Any, int]:
    """The job's row and the number of events: a refusal changes neither."""
    row = await Job.select(Job.state, Job.technician).where(Job.id == job_id).first()
    return row, await Event.count()


# ---------- the read ----------


async def test_the_read_lists_waiting_jobs_and_each_queue_against_the_rest_of_the_shift(
    floor: Floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _shop()
    monkeypatch.setattr(dispatch, "now", lambda: WEDNESDAY_2PM.astimezone(UTC))
    # A later order promised sooner comes first among the waiting jobs.
    sooner = ro_body(
        jobs=[{"title": "Wipers", "estimated_hours": 0.2}],
        promised_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    )
    second = (await floor.advisor.post("/api/repair-orders", json=sooner)).json()
    recommended = await floor.advisor.post(
        f"/api/repair-orders/{floor.ro['id']}/jobs",
        json={"title": "Cabin filter", "estimated_hours": 0.3, "price": 120, "needs_approval": True},
    )
    assert recommended.status_code == 201, recommended.text
    assert (await floor.assign(floor.job(0), floor.a["id"])).status_code == 200
    assert (await floor.assign(floor.job(1), floor.a["id"])).status_code == 200
    assert (await floor.tech_a.post(f"/api/jobs/{floor.job(0)}/clock-on")).status_code == 200

    board = await floor.board()
    waiting = [(j["title"], j["repair_order"]["number"]) for j in board["unassigned"]]
    assert waiting == [("Wipers", second["number"]), ("A/C cleaning", floor.ro["number"])]
    assert board["unassigned"][1]["sold_minutes"] == 30
    assert board["unassigned"][1]["repair_order"]["plate"] == floor.ro["vehicle"]["plate"]
    assert board["shift"]["open_today"] is True
    assert board["shift"]["closes_at"] == datetime(2026, 12, 2, 18, 0, tzinfo=SHANGHAI).isoformat()

    a, b = _tech(board, floor.a), _tech(board, floor.b)
    assert [j["title"] for j in a["queue"]] == ["Minor service", "Brake pads"]
    assert [j["state"] for j in a["queue"]] == ["in_progress", "assigned"]
    assert a["queued_minutes"] == 150
    assert a["on_now"]["job_id"] == floor.job(0) and a["on_now"]["title"] == "Minor service"
    assert a["clocked_in_at"] is not None  # the first job start opened the day
    # 14:00 to 18:00 is left of the shift; 150 queued minutes fit.
    assert a["shift_rest_minutes"] == 240 and a["over"] is False
    assert b["queue"] == [] and b["on_now"] is None and b["queued_minutes"] == 0
    assert b["shift_rest_minutes"] == 240
    # The foreman has no working day and no work of their own: not a column.
    assert [t["role"] for t in board["technicians"]] == ["technician", "technician"]


async def test_before_opening_the_shift_counts_from_opening_unless_clocked_in(
    floor: Floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _shop()
    early = datetime(2026, 12, 2, 7, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr(dispatch, "now", lambda: early.astimezone(UTC))
    await Attendance.insert(Attendance(staff=floor.a["id"], clock_in_at=early.astimezone(UTC)))
    board = await floor.board()
    assert _tech(board, floor.a)["shift_rest_minutes"] == 11 * 60  # in early: 07:00 to 18:00
    assert _tech(board, floor.b)["shift_rest_minutes"] == 570  # 08:30 to 18:00

    late = datetime(2026, 12, 2, 19, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr(dispatch, "now", lambda: late.astimezone(UTC))
    assert all(t["shift_rest_minutes"] == 0 for t in (await floor.board())["technicians"])


async def test_a_closed_day_leaves_no_shift_and_any_queue_is_over(
    floor: Floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _shop(days="123456")  # closed on Sundays
    sunday = datetime(2026, 12, 6, 10, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr(dispatch, "now", lambda: sunday.astimezone(UTC))
    assert (await floor.assign(floor.job(0), floor.b["id"])).status_code == 200
    board = await floor.board()
    assert board["shift"] == {"open_today": False, "opens_at": None, "closes_at": None}
    b = _tech(board, floor.b)
    assert b["shift_rest_minutes"] == 0 and b["queued_minutes"] == 90 and b["over"] is True


async def test_a_person_who_ended_their_day_has_no_shift_left(floor: Floor) -> None:
    await _shop(opens="00:00", closes="23:59", days="1234567")
    assert (await floor.tech_a.post("/api/attendance/clock-in")).status_code == 201
    assert (await floor.tech_a.post("/api/attendance/clock-out")).status_code == 200
    board = await floor.board()
    a = _tech(board, floor.a)
    assert a["day_ended"] is True and a["shift_rest_minutes"] == 0
    assert _tech(board, floor.b)["day_ended"] is False


async def test_foremen_who_clock_and_inactive_people_with_work_are_listed(floor: Floor) -> None:
    await _shop()
    assert (await floor.foreman.post("/api/attendance/clock-in")).status_code == 201
    assert (await floor.assign(floor.job(0), floor.b["id"])).status_code == 200
    await Staff.update({Staff.active: False}).where(Staff.id.is_in([floor.a["id"], floor.b["id"]]))
    board = await floor.board()
    people = {t["name"]: t for t in board["technicians"]}
    assert "An Tech" not in people  # inactive, nothing queued
    assert people["Bo Tech"]["active"] is False and len(people["Bo Tech"]["queue"]) == 1
    assert people["Zhou Foreman"]["role"] == "foreman"


async def test_only_the_office_reads_dispatch(floor: Floor, app: Any) -> None:
    assert (await floor.tech_a.get("/api/dispatch")).status_code == 403
    assert (await floor.advisor.get("/api/dispatch")).status_code == 200
    async with contextlib.aclosing(client(app)) as stranger:
        assert (await stranger.get("/api/dispatch")).status_code == 401


async def test_the_read_is_one_statement(floor: Floor) -> None:
    from piccolo.engine import engine_finder

    from tests import sqlcount

    sqlcount.install(engine_finder())  # type: ignore[arg-type]
    with sqlcount.counting() as statements:
        await dispatch.board()
    assert len(statements) == 1, statements


async def test_the_read_never_scans_a_history_table(floor: Floor, plans: Any) -> None:
    """Only today's work is read: every table that grows with history is reached by an index."""
    from piccolo.engine import engine_finder

    from tests import queryplans

    queryplans.install(engine_finder())  # type: ignore[arg-type]
    await floor.assign(floor.job(0), floor.a["id"])
    await floor.tech_a.post(f"/api/jobs/{floor.job(0)}/clock-on")
    with queryplans.capturing() as statements:
        await floor.board()
    shown, scans = await test_query_plans.explained(plans, statements)
    assert shown and not scans, "\n".join(scans + shown)


# ---------- assign and move ----------


def _data(row: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(row["data"]))


async def test_assign_then_move_names_both_people(floor: Floor) -> None:
    job = floor.job(0)
    first = await floor.assign(job, floor.a["id"])
    assert first.status_code == 200 and first.json()["technician"]["id"] == floor.a["id"]
    moved = await floor.assign(job, floor.b["id"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "assigned" and moved.json()["technician"]["name"] == "Bo Tech"
    found = await Event.select().where(Event.type == "job.assigned").order_by(Event.seq)
    given, taken = (_data(e) for e in found)
    assert given["previous_technician_id"] is None and given["staff_ids"] == [floor.a["id"]]
    assert taken["technician_id"] == floor.b["id"] and taken["previous_technician_id"] == floor.a["id"]
    assert taken["staff_ids"] == sorted([floor.a["id"], floor.b["id"]])
    # The technicians' own lists follow.
    assert [j["id"] for j in (await floor.tech_a.get("/api/me/jobs")).json()["jobs"]] == []
    assert [j["id"] for j in (await floor.tech_b.get("/api/me/jobs")).json()["jobs"]] == [job]

    # Giving it to the person who has it changes nothing and announces nothing.
    before = await Event.count()
    again = await floor.assign(job, floor.b["id"])
    assert again.status_code == 200 and again.json()["technician"]["id"] == floor.b["id"]
    assert await Event.count() == before


async def test_a_paused_job_moves_and_stays_paused_but_not_while_someone_is_clocked_on(
    floor: Floor,
) -> None:
    job = floor.job(1)
    await floor.assign(job, floor.a["id"])
    assert (await floor.tech_a.post(f"/api/jobs/{job}/clock-on")).status_code == 200
    before = await _snapshot(job)
    running = await floor.assign(job, floor.b["id"])
    assert running.status_code == 409
    assert running.json()["code"] == "job.assign_clocked"
    assert running.json()["params"] == {"title": "Brake pads", "name": "An Tech"}
    assert await _snapshot(job) == before
    words = messages.text("job.assign_clocked", running.json()["params"], "zh-CN")
    assert words is not None and "An Tech正在“Brake pads”上计时" in words

    off = await floor.tech_a.post(f"/api/jobs/{job}/clock-off", json={"reason": "waiting_parts"})
    assert off.json()["job"]["state"] == "paused"
    moved = await floor.assign(job, floor.b["id"])
    assert moved.status_code == 200 and moved.json()["state"] == "paused"
    assert moved.json()["technician"]["id"] == floor.b["id"]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("inactive", "job.assign_inactive"),
        ("advisor", "job.assign_role"),
        ("nobody", "job.technician_invalid"),
    ],
)
async def test_refused_people_change_nothing(floor: Floor, who: str, code: str) -> None:
    job = floor.job(0)
    await floor.assign(job, floor.a["id"])
    person = {"nobody": 999999}
    if who == "inactive":
        await Staff.update({Staff.active: False}).where(Staff.id == floor.b["id"])
        person[who] = floor.b["id"]
    elif who == "advisor":
        person[who] = floor.advisor_id
    before = await _snapshot(job)
    r = await floor.assign(job, person[who])
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert await _snapshot(job) == before


async def _finish(floor: Floor, job: int) -> None:
    await floor.assign(job, floor.a["id"])
    await floor.tech_a.post(f"/api/jobs/{job}/clock-on")
    await floor.tech_a.post(f"/api/jobs/{job}/clock-off", json={"reason": "finished"})


async def test_finished_passed_declined_and_unapproved_jobs_are_refused(floor: Floor) -> None:
    finished = floor.job(0)
    await _finish(floor, finished)
    passed = floor.job(1)
    await _finish(floor, passed)
    items = {"items": [{"name": "Road test", "result": "pass"}]}
    assert (await floor.foreman.post(f"/api/jobs/{passed}/qc", json=items)).status_code == 200
    add = {"title": "Cabin filter", "estimated_hours": 0.3, "price": 120, "needs_approval": True}
    added = f"/api/repair-orders/{floor.ro['id']}/jobs"
    unapproved = (await floor.advisor.post(added, json=add)).json()["id"]
    declined = (await floor.advisor.post(added, json=add)).json()["id"]
    token = floor.ro["status_url"].removeprefix("/s/")
    decision = await floor.advisor.post(
        f"/api/status/{token}/approvals", json={"job_id": declined, "decision": "decline"}
    )
    assert decision.status_code == 200, decision.text

    for job, code in (
        (finished, "job.not_assignable"),
        (passed, "job.not_assignable"),
        (unapproved, "job.awaiting_approval"),
        (declined, "job.declined"),
    ):
        before = await _snapshot(job)
        r = await floor.assign(job, floor.b["id"])
        assert r.status_code == 409, (code, r.text)
        assert r.json()["code"] == code
        assert await _snapshot(job) == before
