"""The technician's working day (attendance) and what it yields: utilisation and productivity."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromQuery, JSONBody

from api import clockbook, clockstore, inputs, shop, workday, workshop
from api.auth import current_user, requires
from api.commands import NewEvent, Outcome, now
from api.routes import clockreply
from api.routes.base import device_sent_at, run
from api.routes.jobs import DeviceTimes
from api.tables import Attendance, ClockEntry, Job, Staff
from api.workday import attendance_out, open_attendance  # autostop and me.py take them from here


async def stop_all(
    technician: int,
    at: datetime,
    received: datetime,
    key: str,
    actor: str,
    review: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any]], list[NewEvent]]:
    """Stop whatever job clock runs (flagged auto-stopped): the end of a working day."""
    running = await clockstore.open_entry(technician)
    if running is None:
        return [], []
    before = await clockreply.stages_before({running["job"]})
    folded = await clockstore.append(
        key=key, technician=technician, kind="stop_all", at=at, received=received, actor=actor, review=review
    )
    entries, _, events = await clockreply.outcome_events("clock.off", folded, before)
    return entries, events


# "Start my day" and "End my day" as use cases, inside a command: the routes below call them for a
# tablet's tap, `python -m api demo` with the demo's times.


async def start_day(person: int, tap: DeviceTimes, sent: datetime | None) -> Outcome:
    """Open the person's working day. When a job start opened it already, this is the day they mean:
    it keeps the earlier of the two starts, and `opened_by` says whose start that is."""
    received = now()
    at, _ = clockbook.effective_time(received, tap.device_time, sent)
    current = await open_attendance(person)
    if current is not None and current["opened_by"] != workday.JOB_START:
        raise workshop.Conflict("You are already clocked in for the day.", attendance=attendance_out(current))
    start = await workday.earliest_start(person, at)
    if current is None:
        row = Attendance(staff=person, clock_in_at=start, device_in_at=tap.device_time)
        await row.save()
        row_id = int(row.id)
    else:
        row_id = current["id"]
        if start < current["clock_in_at"]:
            await Attendance.update(
                {
                    Attendance.clock_in_at: start,
                    Attendance.device_in_at: tap.device_time,
                    Attendance.opened_by: workday.PERSON,
                }
            ).where(Attendance.id == row_id)
    shown = attendance_out(await workday.row(row_id))
    return Outcome(201, {"attendance": shown}, [NewEvent("attendance.in", None, {"attendance": shown})])


async def end_day(person: int, tap: DeviceTimes, sent: datetime | None, key: str) -> Outcome:
    """Close the person's working day; a job clock still running stops with it (flagged auto-stopped)."""
    received = now()
    at, _ = clockbook.effective_time(received, tap.device_time, sent)
    current = await open_attendance(person)
    if current is None:
        raise workshop.Conflict("You are not clocked in: there is no working day to end.")
    at = max(at, current["clock_in_at"])
    review = clockbook.review_reasons(at, received)
    entries, events = await stop_all(person, at, received, key, f"staff:{person}", review)
    await Attendance.update({Attendance.clock_out_at: at, Attendance.device_out_at: tap.device_time}).where(
        Attendance.id == current["id"]
    )
    shown = attendance_out(await workday.row(current["id"]))
    events.insert(0, NewEvent("attendance.out", None, {"attendance": shown}))
    return Outcome(200, {"attendance": shown, "auto_stopped": entries}, events)


class AttendanceController(Controller):
    path = "/api/attendance"
    tags = ["attendance"]

    @post("/clock-in", guards=[requires("attendance.clock")], status_code=201)
    async def clock_in(self, request: Request, data: JSONBody[DeviceTimes | None] = None) -> Response[Any]:
        """Start my working day."""
        user = current_user(request)
        body = data or DeviceTimes()
        sent = device_sent_at(request, body.device_sent_at)

        async def handler() -> Outcome:
            return await start_day(user.id, body, sent)

        return await run(request, handler, actor=f"staff:{user.id}", payload=body.model_dump(mode="json"))

    @post("/clock-out", guards=[requires("attendance.clock")], status_code=200)
    async def clock_out(self, request: Request, data: JSONBody[DeviceTimes | None] = None) -> Response[Any]:
        """End my working day: a job clock still running is stopped and flagged for me to check."""
        user = current_user(request)
        body = data or DeviceTimes()
        sent = device_sent_at(request, body.device_sent_at)

        async def handler() -> Outcome:
            return await end_day(user.id, body, sent, clockreply.event_key(request, user.id, ":stop_all"))

        return await run(request, handler, actor=f"staff:{user.id}", payload=body.model_dump(mode="json"))

    @get("/day", guards=[requires("attendance.read")])
    async def day(self, day: FromQuery[date | None] = None) -> dict[str, Any]:
        """Per technician for one day (shop time): attended and clocked time, utilisation, productivity."""
        zone = ZoneInfo(await shop.timezone())  # the zone chosen at setup, like every shown time
        current = now()
        day = inputs.check_day("day", day) if day else current.astimezone(zone).date()
        if day > current.astimezone(zone).date():
            raise ValidationException("That day has not happened yet: choose today or an earlier day.")
        start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        end = start + timedelta(days=1)
        people = (
            await Staff.select(Staff.id, Staff.name)
            .where(
                Staff.role.is_in(["technician", "foreman"]) & (Staff.active == True)  # noqa: E712
            )
            .order_by(Staff.name)
        )
        result = []
        for person in people:
            attended = await Attendance.select().where(
                (Attendance.staff == person["id"])
                & (Attendance.clock_in_at < end)
                & ((Attendance.clock_out_at.is_null()) | (Attendance.clock_out_at > start))
            )
            entries = await ClockEntry.select().where(
                (ClockEntry.technician == person["id"])
                & (ClockEntry.started_at < end)
                & ((ClockEntry.ended_at.is_null()) | (ClockEntry.ended_at > start - timedelta(days=2)))
            )
            spans = [clockstore.effective(e) for e in entries]
            attended_min = clockbook.clipped_minutes(
                [(a["clock_in_at"], a["clock_out_at"]) for a in attended], start, end, current
            )
            clocked_min = clockbook.clipped_minutes(spans, start, end, current)
            finished_jobs = {
                e["job"]
                for e, (_, ended) in zip(entries, spans, strict=True)
                if e["reason"] == "finished" and ended is not None and start <= ended < end
            }
            sold = 0
            on_finished = 0.0
            if finished_jobs:
                jobs = await Job.select(Job.id, Job.estimated_minutes).where(
                    Job.id.is_in(sorted(finished_jobs))
                )
                sold = sum(j["estimated_minutes"] for j in jobs)
                all_on = await ClockEntry.select().where(
                    (ClockEntry.technician == person["id"]) & ClockEntry.job.is_in(sorted(finished_jobs))
                )
                on_finished = sum(
                    ((b or current) - a).total_seconds() / 60 for a, b in map(clockstore.effective, all_on)
                )
            result.append(
                {
                    "id": person["id"],
                    "name": person["name"],
                    "attended_minutes": round(attended_min, 1),
                    "clocked_minutes": round(clocked_min, 1),
                    "utilisation": clockbook.ratio(clocked_min, attended_min),
                    "sold_minutes_finished": sold,
                    "productivity": clockbook.ratio(sold, on_finished),
                }
            )
        return {"date": day.isoformat(), "technicians": result}
