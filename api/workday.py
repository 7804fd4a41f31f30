"""A person's working day (attendance) as the clock needs it: the open day, and a day opened by a
job start. Runs inside a command (api.commands.execute). No web imports.

Utilisation is job time ÷ attended time, so a job clock may never run outside a working day:
starting a job when the day is not open opens it at that start, recorded as opened by the job
start (`opened_by = "job_start"`, also in the attendance.in event), so the data says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api import clockstore, events
from api.events import NewEvent
from api.tables import Attendance

PERSON = "person"  # "Start my day"
JOB_START = "job_start"  # opened by starting a job while the day was not open


@dataclass(frozen=True)
class Days:
    """What opening a working day needs to know: the open day, if any, and when the person's last
    closed day ended (days never overlap). Older days are settled: never read."""

    open: dict[str, Any] | None
    last_out: datetime | None


def attendance_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "staff_id": row["staff"],
        "clock_in_at": row["clock_in_at"].isoformat(),
        "clock_out_at": row["clock_out_at"].isoformat() if row["clock_out_at"] else None,
        "auto_closed": bool(row["auto_closed"]),
        "opened_by": row.get("opened_by") or PERSON,
    }


async def days(staff_id: int) -> Days:
    """The person's Days, in one statement (a clock tap reads them with its window instead)."""
    day, last_out = await clockstore.days(staff_id)
    return Days(day, last_out)


async def begin(
    staff_id: int,
    known: Days,
    at: datetime,
    opened_by: str,
    device_time: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """The open working day after a start at `at` by `opened_by` (PERSON or JOB_START), and whether
    it changed. `known`: the person's open day and the end of their last one. No open day: one
    opens at `at` (never inside the last day). A day a job start opened moves back to `at` when `at`
    is earlier (a start that waited offline on a second tablet, or the person's own "Start my day"
    given late), and then says whose start it is. A day the person opened keeps its start: a job
    start before it is flagged by the clock instead."""
    current = known.open
    if current is not None and (current["opened_by"] != JOB_START or at >= current["clock_in_at"]):
        return current, False
    start = max(at, known.last_out) if known.last_out else at
    device_in = clockstore.moment(device_time)
    if current is None:
        new = Attendance(staff=staff_id, clock_in_at=start, device_in_at=device_time, opened_by=opened_by)
        await new.save()
        row = {
            "id": int(new.id),
            "staff": staff_id,
            "clock_in_at": start,
            "clock_out_at": None,
            "device_in_at": device_in,
            "device_out_at": None,
            "auto_closed": False,
            "opened_by": opened_by,
        }
        return row, True
    if start >= current["clock_in_at"]:
        return current, False
    await Attendance.update(
        {Attendance.clock_in_at: start, Attendance.device_in_at: device_time, Attendance.opened_by: opened_by}
    ).where(Attendance.id == current["id"])
    return {**current, "clock_in_at": start, "device_in_at": device_in, "opened_by": opened_by}, True


async def open_for_job(
    staff_id: int, at: datetime, known: Days
) -> tuple[dict[str, Any] | None, list[NewEvent]]:
    """The open working day for a job start at `at`, and its events (`begin` says when it changes)."""
    day, changed = await begin(staff_id, known, at, JOB_START)
    return day, [events.attendance_in(attendance_out(day))] if changed else []
