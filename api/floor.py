"""What the workshop floor reads: a technician's own jobs and running clock, and the QC queue.

Reads only (no command). No web imports: the routes shape nothing further.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from api import clockstore, qcitems, readmodels, workday, workshop
from api.commands import now
from api.findings import finding_out
from api.tables import ClockEntry, Finding, Job, QcRecord

MY_STATES = ("assigned", "in_progress", "paused", "rework", "finished")


async def clocked_minutes(job_ids: list[int]) -> dict[int, float]:
    """Time on each job by anyone, corrected times winning, a running clock up to now."""
    totals: dict[int, float] = defaultdict(float)
    if job_ids:
        current = now()
        for row in await ClockEntry.select().where(ClockEntry.job.is_in(job_ids)):
            start, end = clockstore.effective(row)
            totals[row["job"]] += ((end or current) - start).total_seconds() / 60
    return totals


async def my_jobs(person: int) -> dict[str, Any]:
    """Jobs assigned to `person`, soonest promise first, with what the bay tablet shows for each;
    their running clock, open working day and auto-stopped entries to check."""
    rows = (
        await readmodels.floor_jobs_query()
        .where((Job.technician == person) & Job.state.is_in(list(MY_STATES)))
        .order_by(Job.repair_order.promised_at)
        .order_by(Job.id)
    )
    ids = [r["id"] for r in rows]
    minutes = await clocked_minutes(ids)
    open_entry = await clockstore.open_entry(person)
    qc: dict[int, dict[str, Any]] = {}
    findings: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        records = (
            await QcRecord.select()
            .where(QcRecord.job.is_in(ids))
            .order_by(QcRecord.signed_at)
            .order_by(QcRecord.id)
        )
        qc = await qcitems.last_checks(records)
        for finding in await Finding.select().where(Finding.job.is_in(ids)).order_by(Finding.id):
            findings[finding["job"]].append(finding_out(finding))
    jobs = []
    for r in rows:
        running = open_entry is not None and open_entry["job"] == r["id"]
        jobs.append(
            {
                "id": r["id"],
                "title": r["title"],
                "state": r["state"],
                "estimated_hours": round(r["estimated_minutes"] / 60, 2),
                "rework_count": r["rework_count"],
                "clocked_minutes": round(minutes.get(r["id"], 0.0), 1),
                "running_since": clockstore.effective(open_entry)[0].isoformat()
                if running and open_entry
                else None,
                "repair_order": readmodels.floor_ro(r),
                "last_qc": qc.get(r["id"]),
                "findings": findings[r["id"]],
            }
        )
    review_rows = (
        await ClockEntry.select()
        .where(
            (ClockEntry.technician == person)
            & (ClockEntry.auto_stopped == True)  # noqa: E712
            & ClockEntry.confirmed_at.is_null()
        )
        .order_by(ClockEntry.started_at)
    )
    titles = await readmodels.job_titles(
        {e["job"] for e in review_rows} | ({open_entry["job"]} if open_entry else set())
    )
    attendance = await workday.open_attendance(person)
    return {
        "now": now().isoformat(),
        "attendance": workday.attendance_out(attendance) if attendance else None,
        "open_entry": readmodels.entry_out(open_entry, titles) if open_entry else None,
        "review": [readmodels.entry_out(e, titles) for e in review_rows],
        "jobs": jobs,
    }


async def qc_queue() -> dict[str, Any]:
    """Finished jobs waiting for their quality check, the longest waiting first."""
    rows = await readmodels.floor_jobs_query().where(Job.state == workshop.JobState.FINISHED.value)
    ids = [r["id"] for r in rows]
    minutes = await clocked_minutes(ids)
    finished_at: dict[int, Any] = {}
    if ids:
        finishes = (
            await ClockEntry.select(ClockEntry.job, ClockEntry.ended_at)
            .where(ClockEntry.job.is_in(ids) & (ClockEntry.reason == "finished"))
            .order_by(ClockEntry.ended_at)
        )
        finished_at = {e["job"]: e["ended_at"] for e in finishes}  # the latest finish wins
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
                "repair_order": readmodels.floor_ro(r),
            }
            for r in rows
        ]
    }
