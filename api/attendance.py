"""The working day (attendance) as use cases: start and end it, the runaway-timer guard closing it,
and what a day yields per technician (utilisation and productivity).

Commands run inside api.commands.execute (they open days with api.workday, stop clocks with
api.clock). No web imports.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api import clock, clockbook, clockstore, events, shop, workday, workshop
from api.commands import Outcome, now
from api.events import NewEvent
from api.tables import Attendance, ClockEntry, Job, Staff


async def start_day(person: int, device_time: datetime | None, sent: datetime | None) -> Outcome:
    """Open the person's working day. When a job start opened it already, this is the day they mean:
    it keeps the earlier of the two starts, and `opened_by` says whose start that is."""
    received = now()
    at, _ = clockbook.effective_time(received, device_time, sent)
    known = await workday.days(person)
    current = known.open
    if current is not None and current["opened_by"] != workday.JOB_START:
        raise workshop.Conflict(
            "You are already clocked in for the day.",
            code="attendance.already_in",
            attendance=workday.attendance_out(current),
        )
    day, _ = await workday.begin(person, known, at, workday.PERSON, device_time)
    shown = workday.attendance_out(day)
    return Outcome(201, {"attendance": shown}, [events.attendance_in(shown)])


async def end_day(person: int, device_time: datetime | None, sent: datetime | None, key: str) -> Outcome:
    """Close the person's working day; a job clock still running stops with it (flagged auto-stopped)."""
    received = now()
    at, _ = clockbook.effective_time(received, device_time, sent)
    # One read: the open day and what stopping the clock at `at` (or later) can change.
    window = await clockstore.load(person, at)
    current = window.day
    if current is None:
        raise workshop.Conflict(
            "You are not clocked in: there is no working day to end.", code="attendance.not_in"
        )
    at = max(at, current["clock_in_at"])
    review = clockbook.review_reasons(at, received)
    entries, stopped = await clock.stop_all(person, at, received, key, f"staff:{person}", review, window)
    await Attendance.update({Attendance.clock_out_at: at, Attendance.device_out_at: device_time}).where(
        Attendance.id == current["id"]
    )
    shown = workday.attendance_out({**current, "clock_out_at": at})
    return Outcome(
        200, {"attendance": shown, "auto_stopped": entries}, [events.attendance_out(shown), *stopped]
    )


async def close_at_cutoff(person: int, cutoff: datetime, current: datetime, key: str) -> Outcome:
    """The runaway-timer guard (api.autostop): a job clock running since before `cutoff` stops at
    it, and a working day open since before it closes at it, both flagged for the person to check."""
    entries: list[dict[str, Any]] = []
    announced: list[NewEvent] = []
    window = await clockstore.load(person, cutoff)
    running = window.open_entry
    if running is not None and running["started_at"] < cutoff:
        entries, announced = await clock.stop_all(person, cutoff, current, key, "system", window=window)
    day = window.day
    body: dict[str, Any] = {"auto_stopped": entries}
    if day is not None and day["clock_in_at"] < cutoff:
        await Attendance.update({Attendance.clock_out_at: cutoff, Attendance.auto_closed: True}).where(
            Attendance.id == day["id"]
        )
        day.update(clock_out_at=cutoff, auto_closed=True)
        body["attendance"] = workday.attendance_out(day)
        announced.insert(0, events.attendance_out(body["attendance"]))
    return Outcome(200, body, announced)


async def today() -> date:
    """The shop's today, in the zone chosen at setup (like every shown time)."""
    return now().astimezone(ZoneInfo(await shop.timezone())).date()


def _within(
    spans: list[tuple[datetime, datetime | None]],
    days: list[tuple[datetime, datetime | None]],
    current: datetime,
) -> list[tuple[datetime, datetime]]:
    """The parts of job spans inside working days. A tap before the day the person opened is taken
    (and flagged for review), but the time before the day was not attended: counting it would put
    utilisation past 100 %."""
    inside = []
    for started, ended in spans:
        for opened, closed in days:
            lo, hi = max(started, opened), min(ended or current, closed or current)
            if hi > lo:
                inside.append((lo, hi))
    return inside


async def day_report(day: date) -> dict[str, Any]:
    """Per technician for one day (shop time): attended and clocked time, utilisation, productivity.

    Clocked time counts only inside the person's working days, so utilisation (clocked ÷ attended)
    stays within 100 %; productivity (sold ÷ clocked on finished jobs) counts every clocked minute."""
    zone = ZoneInfo(await shop.timezone())
    current = now()
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    end = start + timedelta(days=1)
    people = (
        await Staff.select(Staff.id, Staff.name)
        .where(
            Staff.role.is_in(["technician", "foreman"]) & (Staff.active == True)  # noqa: E712
        )
        .order_by(Staff.name)
    )
    # Days and raw entries last less than a day (the runaway-timer guard closes them at its cutoff)
    # and corrections move times by hours: what touches the day started in the two days before it
    # at the earliest, so older history is never read.
    earliest = start - timedelta(days=2)
    result = []
    for person in people:
        attended = await Attendance.select().where(
            (Attendance.staff == person["id"])
            & (Attendance.clock_in_at >= earliest)
            & (Attendance.clock_in_at < end)
            & ((Attendance.clock_out_at.is_null()) | (Attendance.clock_out_at > start))
        )
        entries = await ClockEntry.select().where(
            (ClockEntry.technician == person["id"])
            & (ClockEntry.started_at >= earliest)
            & (ClockEntry.started_at < end)
            & ((ClockEntry.ended_at.is_null()) | (ClockEntry.ended_at > earliest))
        )
        spans = [clockstore.effective(e) for e in entries]
        days = [(a["clock_in_at"], a["clock_out_at"]) for a in attended]
        attended_min = clockbook.clipped_minutes(days, start, end, current)
        clocked_min = clockbook.clipped_minutes(_within(spans, days, current), start, end, current)
        finished_jobs = {
            e["job"]
            for e, (_, ended) in zip(entries, spans, strict=True)
            if e["reason"] == "finished" and ended is not None and start <= ended < end
        }
        sold = 0
        on_finished = 0.0
        if finished_jobs:
            jobs = await Job.select(Job.id, Job.estimated_minutes).where(Job.id.is_in(sorted(finished_jobs)))
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
