"""The technician's own screen: my jobs by promise time, my running clock, my day, what to check."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from litestar import Request, get

from api import clockstore, qcitems, readmodels
from api.auth import current_user, requires
from api.commands import now
from api.routes.attendance import attendance_out, open_attendance
from api.tables import ClockEntry, Finding, Job, QcRecord

MY_STATES = ("assigned", "in_progress", "paused", "rework", "finished")


def finding_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "job_id": row["job"],
        "repair_order_id": row["repair_order"],
        "text": row["text"],
        "phrase": row["phrase"] or None,
        "created_at": row["created_at"].isoformat(),
        "recommended_job_id": row["recommended_job"],
    }


async def clocked_minutes(job_ids: list[int]) -> dict[int, float]:
    """Time on each job by anyone, corrected times winning, a running clock up to now."""
    totals: dict[int, float] = defaultdict(float)
    if job_ids:
        current = now()
        for row in await ClockEntry.select().where(ClockEntry.job.is_in(job_ids)):
            start, end = clockstore.effective(row)
            totals[row["job"]] += ((end or current) - start).total_seconds() / 60
    return totals


@get("/api/me/jobs", guards=[requires("me.jobs")], tags=["jobs"])
async def my_jobs(request: Request) -> dict[str, Any]:
    """Jobs assigned to me, soonest promise first, with what the bay tablet shows for each."""
    user = current_user(request)
    rows = (
        await readmodels.floor_jobs_query()
        .where((Job.technician == user.id) & Job.state.is_in(list(MY_STATES)))
        .order_by(Job.repair_order.promised_at)
        .order_by(Job.id)
    )
    ids = [r["id"] for r in rows]
    minutes = await clocked_minutes(ids)
    open_entry = await clockstore.open_entry(user.id)
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
            (ClockEntry.technician == user.id)
            & (ClockEntry.auto_stopped == True)  # noqa: E712
            & ClockEntry.confirmed_at.is_null()
        )
        .order_by(ClockEntry.started_at)
    )
    titles = await readmodels.job_titles(
        {e["job"] for e in review_rows} | ({open_entry["job"]} if open_entry else set())
    )
    attendance = await open_attendance(user.id)
    return {
        "now": now().isoformat(),
        "attendance": attendance_out(attendance) if attendance else None,
        "open_entry": readmodels.entry_out(open_entry, titles) if open_entry else None,
        "review": [readmodels.entry_out(e, titles) for e in review_rows],
        "jobs": jobs,
    }
