"""A person's working day (attendance) as the clock needs it: the open day, and a day opened by a
job start. Runs inside a command (api.commands.execute). No web imports.

Utilisation is job time ÷ attended time, so a job clock may never run outside a working day:
starting a job when the day is not open opens it at that start, recorded as opened by the job
start (`opened_by = "job_start"`, also in the attendance.in event), so the data says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api import events
from api.events import NewEvent
from api.tables import Attendance

PERSON = "person"  # "Start my day"
JOB_START = "job_start"  # opened by starting a job while the day was not open


def attendance_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "staff_id": row["staff"],
        "clock_in_at": row["clock_in_at"].isoformat(),
        "clock_out_at": row["clock_out_at"].isoformat() if row["clock_out_at"] else None,
        "auto_closed": bool(row["auto_closed"]),
        "opened_by": row.get("opened_by") or PERSON,
    }


async def open_attendance(staff_id: int) -> dict[str, Any] | None:
    return (
        await Attendance.select()
        .where((Attendance.staff == staff_id) & Attendance.clock_out_at.is_null())
        .first()
    )


async def row(row_id: int) -> dict[str, Any]:
    found = await Attendance.select().where(Attendance.id == row_id).first()
    assert found is not None
    return found


async def earliest_start(staff_id: int, at: datetime) -> datetime:
    """`at`, or the end of the person's last working day when `at` is inside it: days never overlap."""
    last = (
        await Attendance.select(Attendance.clock_out_at)
        .where((Attendance.staff == staff_id) & Attendance.clock_out_at.is_not_null())
        .order_by(Attendance.clock_out_at, ascending=False)
        .first()
    )
    return max(at, last["clock_out_at"]) if last else at


async def begin(
    staff_id: int,
    current: dict[str, Any] | None,
    at: datetime,
    opened_by: str,
    device_time: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """The open working day after a start at `at` by `opened_by` (PERSON or JOB_START), and whether
    it changed. `current` is the open day, if any. No open day: one opens at `at`. A day a job start
    opened moves back to `at` when `at` is earlier (a start that waited offline on a second tablet,
    or the person's own "Start my day" given late), and then says whose start it is. A day the
    person opened keeps its start: a job start before it is flagged by the clock instead."""
    if current is not None and (current["opened_by"] != JOB_START or at >= current["clock_in_at"]):
        return current, False
    start = await earliest_start(staff_id, at)
    if current is None:
        new = Attendance(staff=staff_id, clock_in_at=start, device_in_at=device_time, opened_by=opened_by)
        await new.save()
        return await row(int(new.id)), True
    if start >= current["clock_in_at"]:
        return current, False
    await Attendance.update(
        {Attendance.clock_in_at: start, Attendance.device_in_at: device_time, Attendance.opened_by: opened_by}
    ).where(Attendance.id == current["id"])
    return await row(current["id"]), True


async def open_for_job(staff_id: int, at: datetime) -> tuple[dict[str, Any] | None, list[NewEvent]]:
    """The open working day for a job start at `at`, and its events (`begin` says when it changes)."""
    day, changed = await begin(staff_id, await open_attendance(staff_id), at, JOB_START)
    return day, [events.attendance_in(attendance_out(day))] if changed else []
