"""What the foreman's dispatch screen (派工) reads: the jobs nobody has yet, and every technician's
queue against the rest of their shift today.

A read only (assigning is api/jobs.py assign, through the command path). No web imports. One
statement whatever the size of the shop (api/sqlread.py union): the waiting and the queued jobs
with their cars, the people who clock, their running clocks and working days, and the shop's hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api import clockstore, settings, shop, sqlread, workshop
from api.commands import now
from api.sqlread import Branch, Kind

ASSIGNEE_ROLES = workshop.ASSIGNEE_ROLES  # who can take work (api/jobs.py assign refuses anyone else)
# A person's queue: given to them and not finished yet (finished work waits for QC, not for them).
QUEUE_STATES = (
    workshop.JobState.ASSIGNED.value,
    workshop.JobState.IN_PROGRESS.value,
    workshop.JobState.PAUSED.value,
    workshop.JobState.REWORK.value,
)

_JOB_FIELDS = (
    ("id", Kind.INT, "j.id"),
    ("repair_order", Kind.INT, "j.repair_order"),
    ("estimated_minutes", Kind.INT, "j.estimated_minutes"),
    ("technician", Kind.INT, "j.technician"),
    ("rework_count", Kind.INT, "j.rework_count"),
    ("title", Kind.TEXT, "j.title"),
    ("state", Kind.TEXT, "j.state"),
    ("number", Kind.TEXT, "ro.number"),
    ("plate", Kind.TEXT, "v.plate"),
    ("make", Kind.TEXT, "v.make"),
    ("model", Kind.TEXT, "v.model"),
    ("promised_at", Kind.TIME, "ro.promised_at"),
)
# By the index on job (state): pending and queued jobs are today's work, never the shop's history
# (a delivered order's jobs have all passed QC or were declined).
_JOBS = (
    "FROM job j JOIN repair_order ro ON ro.id = j.repair_order JOIN vehicle v ON v.id = ro.vehicle"
    " WHERE ro.delivered_at IS NULL AND j.state IN "
)
_STAFF_FIELDS = (
    ("id", Kind.INT, "id"),
    ("name", Kind.TEXT, "name"),
    ("role", Kind.TEXT, "role"),
    ("active", Kind.BOOL, "active"),
)
_ASSIGNEES = f"SELECT s.id FROM staff s WHERE s.role IN ({sqlread.marks(ASSIGNEE_ROLES)})"  # noqa: S608
_OPEN_FIELDS = (
    ("id", Kind.INT, "ce.id"),
    ("job", Kind.INT, "ce.job"),
    ("technician", Kind.INT, "ce.technician"),
    ("started_at", Kind.TIME, "ce.started_at"),
    ("corrected_started_at", Kind.TIME, "ce.corrected_started_at"),
    ("ended_at", Kind.TIME, "ce.ended_at"),
    ("corrected_ended_at", Kind.TIME, "ce.corrected_ended_at"),
)
_DAY_FIELDS = (
    ("id", Kind.INT, "id"),
    ("staff", Kind.INT, "staff"),
    ("clock_in_at", Kind.TIME, "clock_in_at"),
    ("clock_out_at", Kind.TIME, "clock_out_at"),
)
_SHOP_FIELDS = (
    ("id", Kind.INT, "id"),
    ("opens", Kind.TEXT, "opens"),
    ("closes", Kind.TEXT, "closes"),
    ("open_days", Kind.TEXT, "open_days"),
    ("timezone", Kind.TEXT, "timezone"),
)


def _branches(closed_since: datetime) -> list[Branch]:
    waiting = (workshop.JobState.PENDING.value,)
    return [
        Branch("pending", _JOB_FIELDS, _JOBS + f"({sqlread.marks(waiting)})", waiting),
        Branch("queued", _JOB_FIELDS, _JOBS + f"({sqlread.marks(QUEUE_STATES)})", QUEUE_STATES),
        Branch(
            "staff",
            _STAFF_FIELDS,
            f"FROM staff WHERE role IN ({sqlread.marks(ASSIGNEE_ROLES)})",
            ASSIGNEE_ROLES,
        ),
        # By the partial index of open entries (one per person).
        Branch("open", _OPEN_FIELDS, "FROM clock_entry ce WHERE ce.ended_at IS NULL"),
        # Working days open now, and those closed lately (closed today: that person is done).
        Branch("day", _DAY_FIELDS, "FROM attendance WHERE clock_out_at IS NULL"),
        Branch(
            "ended",
            _DAY_FIELDS,
            f"FROM attendance WHERE staff IN ({_ASSIGNEES}) AND clock_out_at >= {{}}",
            (*ASSIGNEE_ROLES, closed_since),
        ),
        Branch("shop", _SHOP_FIELDS, "FROM shop"),
    ]


def shift_today(
    hours: dict[str, Any], zone: ZoneInfo, at: datetime
) -> tuple[datetime | None, datetime | None]:
    """Today's opening and closing time in the shop (aware datetimes), or (None, None) when the
    shop is closed today."""
    local = at.astimezone(zone)
    if local.isoweekday() not in hours["days"]:
        return None, None
    opens, closes = (time.fromisoformat(hours[k]).replace(tzinfo=zone) for k in ("opens", "closes"))
    return datetime.combine(local.date(), opens), datetime.combine(local.date(), closes)


def shift_rest_minutes(
    at: datetime, opens: datetime | None, closes: datetime | None, clocked_in: bool, day_ended: bool
) -> int:
    """What is left of a person's shift today, in minutes: from now to closing, or from opening
    when the shop has not opened yet and they have not started early. Nothing on a closed day or
    after they ended their day."""
    if opens is None or closes is None or day_ended:
        return 0
    start = at if clocked_in else max(at, opens)
    return max(0, int((closes - start).total_seconds() // 60))


def _job_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "state": row["state"],
        "sold_minutes": row["estimated_minutes"],
        "estimated_hours": round(row["estimated_minutes"] / 60, 2),
        "rework_count": row["rework_count"],
        "repair_order": {
            "id": row["repair_order"],
            "number": row["number"],
            "plate": row["plate"],
            "make": row["make"],
            "model": row["model"],
            "promised_at": row["promised_at"].isoformat(),
        },
    }


def _by_promise(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["promised_at"], r["id"]))


async def board() -> dict[str, Any]:
    """The dispatch screen's data: unassigned jobs (soonest promise first) and each person who can
    take work, with their queue, what they are on now and the rest of their shift today."""
    at = now()
    # The shop's zone comes with the read: days closed in the last 24 h are read, and those closed
    # since the shop's midnight kept.
    found = await sqlread.union(*_branches(at - timedelta(days=1)))
    shop_row = found["shop"][0] if found["shop"] else None
    zone = ZoneInfo(shop_row["timezone"] if shop_row else settings.get().shop_timezone)
    hours = shop.hours_out(shop_row) if shop_row else dict(shop.DEFAULT_HOURS)
    opens, closes = shift_today(hours, zone, at)
    today = at.astimezone(zone).date()

    open_entries = {e["technician"]: e for e in found["open"]}
    days_open = {d["staff"]: d for d in found["day"]}
    ended = {d["staff"] for d in found["ended"] if d["clock_out_at"].astimezone(zone).date() == today}
    ended -= set(days_open)
    queues: dict[int, list[dict[str, Any]]] = {}
    for row in _by_promise(found["queued"]):
        queues.setdefault(row["technician"], []).append(row)

    people = []
    for person in sorted(found["staff"], key=lambda s: (s["role"] != "technician", s["name"], s["id"])):
        queue = queues.get(person["id"], [])
        day = days_open.get(person["id"])
        # Foremen are listed when they clock (a working day or work of their own today); a
        # deactivated person only while work still sits in their queue, to be moved.
        if not queue and (not person["active"] or (person["role"] != "technician" and day is None)):
            continue
        running = open_entries.get(person["id"])
        on_now = None
        if running is not None:
            job = next((j for j in queue if j["id"] == running["job"]), None)
            on_now = {
                "job_id": running["job"],
                "title": job["title"] if job else None,
                "number": job["number"] if job else None,
                "plate": job["plate"] if job else None,
                "since": clockstore.effective(running)[0].isoformat(),
            }
        queued = sum(j["estimated_minutes"] for j in queue)
        rest = shift_rest_minutes(at, opens, closes, day is not None, person["id"] in ended)
        people.append(
            {
                "id": person["id"],
                "name": person["name"],
                "role": person["role"],
                "active": bool(person["active"]),
                "clocked_in_at": day["clock_in_at"].isoformat() if day else None,
                "day_ended": person["id"] in ended,
                "on_now": on_now,
                "queue": [_job_out(j) for j in queue],
                "queued_minutes": queued,
                "shift_rest_minutes": rest,
                "over": queued > rest,
            }
        )
    return {
        "now": at.isoformat(),
        "shift": {
            "open_today": opens is not None,
            "opens_at": opens.isoformat() if opens else None,
            "closes_at": closes.isoformat() if closes else None,
        },
        "unassigned": [_job_out(r) for r in _by_promise(found["pending"])],
        "technicians": people,
    }
