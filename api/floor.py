"""What the workshop floor reads: a technician's own jobs and running clock, and the QC queue.

Reads only (no command). No web imports: the routes shape nothing further. "My jobs" is one
statement whatever the number of jobs (api/sqlread.py): the jobs with their orders, clock entries,
working day, QC records, findings and QC photos as one UNION ALL.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from api import clockstore, qcitems, readmodels, sqlread, workday, workshop
from api.commands import now
from api.findings import finding_out
from api.sqlread import Branch, Kind

MY_STATES = ("assigned", "in_progress", "paused", "rework", "finished")

# Jobs with what a floor screen shows of them and of their repair order (vehicle, promise).
_JOB_FIELDS = (
    ("id", Kind.INT, "j.id"),
    ("repair_order", Kind.INT, "j.repair_order"),
    ("estimated_minutes", Kind.INT, "j.estimated_minutes"),
    ("rework_count", Kind.INT, "j.rework_count"),
    ("technician", Kind.INT, "j.technician"),
    ("title", Kind.TEXT, "j.title"),
    ("state", Kind.TEXT, "j.state"),
    ("technician.name", Kind.TEXT, "s.name"),
    ("repair_order.number", Kind.TEXT, "ro.number"),
    ("repair_order.concerns", Kind.TEXT, "ro.concerns"),
    ("repair_order.vehicle.plate", Kind.TEXT, "v.plate"),
    ("repair_order.vehicle.make", Kind.TEXT, "v.make"),
    ("repair_order.vehicle.model", Kind.TEXT, "v.model"),
    ("repair_order.vehicle.color", Kind.TEXT, "v.color"),
    ("repair_order.promised_at", Kind.TIME, "ro.promised_at"),
)
_JOBS = (
    "FROM job j JOIN repair_order ro ON ro.id = j.repair_order JOIN vehicle v ON v.id = ro.vehicle"
    " LEFT JOIN staff s ON s.id = j.technician WHERE "
)


# A technician's own jobs, by the index on (technician, state): `{}` the person, then MY_STATES.
def _mine(alias: str) -> str:
    return f"{alias}.technician = {{}} AND {alias}.state IN ({sqlread.marks(MY_STATES)})"


_MINE_IDS = f"SELECT m.id FROM job m WHERE {_mine('m')}"  # noqa: S608
_MINE_ORDERS = f"SELECT m.repair_order FROM job m WHERE {_mine('m')}"  # noqa: S608


def floor_ro(row: dict[str, Any]) -> dict[str, Any]:
    """The repair-order part of a floor job (_JOB_FIELDS)."""
    return {
        "id": row["repair_order"],
        "number": row["repair_order.number"],
        "promised_at": row["repair_order.promised_at"].isoformat(),
        "concerns": json.loads(row["repair_order.concerns"]),
        "vehicle": {k: row[f"repair_order.vehicle.{k}"] for k in ("plate", "make", "model", "color")},
    }


def _minutes(entries: list[dict[str, Any]]) -> dict[int, float]:
    """Time on each job by anyone, corrected times winning, a running clock up to now."""
    totals: dict[int, float] = defaultdict(float)
    current = now()
    for row in entries:
        start, end = clockstore.effective(row)
        totals[row["job"]] += ((end or current) - start).total_seconds() / 60
    return totals


_ENTRY_FIELDS = (
    ("id", Kind.INT, "ce.id"),
    ("job", Kind.INT, "ce.job"),
    ("technician", Kind.INT, "ce.technician"),
    ("reason", Kind.TEXT, "ce.reason"),
    ("flags", Kind.TEXT, "ce.flags"),
    ("job.title", Kind.TEXT, "j.title"),
    ("started_at", Kind.TIME, "ce.started_at"),
    ("ended_at", Kind.TIME, "ce.ended_at"),
    ("corrected_started_at", Kind.TIME, "ce.corrected_started_at"),
    ("corrected_ended_at", Kind.TIME, "ce.corrected_ended_at"),
    ("device_started_at", Kind.TIME, "ce.device_started_at"),
    ("device_ended_at", Kind.TIME, "ce.device_ended_at"),
    ("confirmed_at", Kind.TIME, "ce.confirmed_at"),
    ("reviewed_at", Kind.TIME, "ce.reviewed_at"),
    ("auto_stopped", Kind.BOOL, "ce.auto_stopped"),
    ("corrected", Kind.BOOL, "ce.corrected"),
)


def _entry_branch(part: str, where: str, args: tuple[Any, ...], person: int) -> Branch:
    """A clock entry as entry_out shows it, with its job's title unless that job is one of the
    person's own (read already, with its title)."""
    source = (
        f"FROM clock_entry ce LEFT JOIN job j ON j.id = ce.job AND ce.job NOT IN ({_MINE_IDS}) WHERE {where}"
    )
    return Branch(part, _ENTRY_FIELDS, source, (person, *MY_STATES, *args))


_DAY_FIELDS = (
    ("id", Kind.INT, "id"),
    ("staff", Kind.INT, "staff"),
    ("opened_by", Kind.TEXT, "opened_by"),
    ("clock_in_at", Kind.TIME, "clock_in_at"),
    ("clock_out_at", Kind.TIME, "clock_out_at"),
    ("auto_closed", Kind.BOOL, "auto_closed"),
)
_TIME_FIELDS = (  # what _minutes needs of an entry, and the QC queue (when it was finished)
    ("id", Kind.INT, "id"),
    ("job", Kind.INT, "job"),
    ("reason", Kind.TEXT, "reason"),
    ("started_at", Kind.TIME, "started_at"),
    ("ended_at", Kind.TIME, "ended_at"),
    ("corrected_started_at", Kind.TIME, "corrected_started_at"),
    ("corrected_ended_at", Kind.TIME, "corrected_ended_at"),
)
_QC_FIELDS = (  # what qcitems.last_checks needs of a record
    ("id", Kind.INT, "id"),
    ("job", Kind.INT, "job"),
    ("items", Kind.TEXT, "items"),
    ("signed_at", Kind.TIME, "signed_at"),
    ("passed", Kind.BOOL, "passed"),
)
_FINDING_FIELDS = (  # what findings.finding_out shows
    ("id", Kind.INT, "id"),
    ("job", Kind.INT, "job"),
    ("repair_order", Kind.INT, "repair_order"),
    ("recommended_job", Kind.INT, "recommended_job"),
    ("text", Kind.TEXT, "text"),
    ("phrase", Kind.TEXT, "phrase"),
    ("created_at", Kind.TIME, "created_at"),
)
_QC_PHOTO_FIELDS = (
    ("id", Kind.INT, "id"),
    ("job", Kind.INT, "job"),
    ("panel", Kind.TEXT, "panel"),
    ("created_at", Kind.TIME, "created_at"),
)


def _branches(person: int) -> list[Branch]:
    """Everything "my jobs" shows, each part in its index's terms: the person's jobs; their running
    entry, auto-stopped entries to confirm and open working day; the time anyone clocked on their
    jobs, and those jobs' QC records, findings and QC photos."""
    mine = (person, *MY_STATES)
    of_mine = f"job IN ({_MINE_IDS})"
    # QC photos by their orders (photo.repair_order is indexed; a photo's job is not), then these jobs.
    qc_photos = f"FROM photo WHERE repair_order IN ({_MINE_ORDERS}) AND kind = {{}} AND {of_mine}"
    return [
        Branch("job", _JOB_FIELDS, _JOBS + _mine("j"), mine),
        _entry_branch("open", "ce.technician = {} AND ce.ended_at IS NULL", (person,), person),
        _entry_branch(
            "review",
            "ce.technician = {} AND ce.auto_stopped = {} AND ce.confirmed_at IS NULL",
            (person, True),
            person,
        ),
        Branch("day", _DAY_FIELDS, "FROM attendance WHERE staff = {} AND clock_out_at IS NULL", (person,)),
        Branch("time", _TIME_FIELDS, f"FROM clock_entry WHERE {of_mine}", mine),
        Branch("qc", _QC_FIELDS, f"FROM qc_record WHERE {of_mine}", mine),
        Branch("finding", _FINDING_FIELDS, f"FROM finding WHERE {of_mine}", mine),
        Branch("photo", _QC_PHOTO_FIELDS, qc_photos, (*mine, "qc", *mine)),
    ]


async def my_jobs(person: int) -> dict[str, Any]:
    """Jobs assigned to `person`, soonest promise first, with what the bay tablet shows for each;
    their running clock, open working day and auto-stopped entries to check."""
    found = await sqlread.union(*_branches(person))
    rows = sorted(found["job"], key=lambda r: (r["repair_order.promised_at"], r["id"]))
    minutes = _minutes(found["time"])
    open_entry = found["open"][0] if found["open"] else None
    records = sorted(found["qc"], key=lambda r: (r["signed_at"], r["id"]))
    qc = await qcitems.last_checks(records, found["photo"])
    findings: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for finding in found["finding"]:
        findings[finding["job"]].append(finding_out(finding))
    running_since = clockstore.effective(open_entry)[0].isoformat() if open_entry else None
    jobs = [
        {
            "id": r["id"],
            "title": r["title"],
            "state": r["state"],
            "estimated_hours": round(r["estimated_minutes"] / 60, 2),
            "rework_count": r["rework_count"],
            "clocked_minutes": round(minutes.get(r["id"], 0.0), 1),
            "running_since": running_since if open_entry and open_entry["job"] == r["id"] else None,
            "repair_order": floor_ro(r),
            "last_qc": qc.get(r["id"]),
            "findings": findings[r["id"]],
        }
        for r in rows
    ]
    titles = {r["id"]: r["title"] for r in rows}
    titles |= {e["job"]: e["job.title"] for part in ("open", "review") for e in found[part] if e["job.title"]}
    review = sorted(found["review"], key=lambda e: (e["started_at"], e["id"]))
    attendance = found["day"][0] if found["day"] else None
    return {
        "now": now().isoformat(),
        "attendance": workday.attendance_out(attendance) if attendance else None,
        "open_entry": readmodels.entry_out(open_entry, titles) if open_entry else None,
        "review": [readmodels.entry_out(e, titles) for e in review],
        "jobs": jobs,
    }


async def qc_queue() -> dict[str, Any]:
    """Finished jobs waiting for their quality check, the longest waiting first (one statement)."""
    finished = workshop.JobState.FINISHED.value
    found = await sqlread.union(
        Branch("job", _JOB_FIELDS, _JOBS + "j.state = {}", (finished,)),
        Branch(
            "time",
            _TIME_FIELDS,
            "FROM clock_entry WHERE job IN (SELECT id FROM job WHERE state = {})",
            (finished,),
        ),
    )
    rows, entries = found["job"], found["time"]
    minutes = _minutes(entries)
    finished_at: dict[int, Any] = {}
    for e in sorted((e for e in entries if e["reason"] == "finished"), key=lambda e: e["ended_at"]):
        finished_at[e["job"]] = e["ended_at"]  # the latest finish wins
    rows.sort(key=lambda r: (finished_at.get(r["id"]) is None, finished_at.get(r["id"]) or 0, r["id"]))
    return {
        "jobs": [
            {
                "id": r["id"],
                "title": r["title"],
                "state": r["state"],
                "estimated_hours": round(r["estimated_minutes"] / 60, 2),
                "clocked_minutes": round(minutes.get(r["id"], 0.0), 1),
                "rework_count": r["rework_count"],
                "finished_at": finished_at[r["id"]].isoformat() if r["id"] in finished_at else None,
                "technician": {"id": r["technician"], "name": r["technician.name"]}
                if r["technician"]
                else None,
                "repair_order": floor_ro(r),
            }
            for r in rows
        ]
    }
