"""The foreman's side of QC: what waits for a check, and the checklist to check it with."""

from __future__ import annotations

from typing import Any

from litestar import get

from api import readmodels, workshop
from api.auth import requires
from api.routes.me import clocked_minutes
from api.tables import ClockEntry, Job, QcTemplate, QcTemplateItem


@get("/api/qc/queue", guards=[requires("qc.read")], tags=["jobs"])
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


@get("/api/qc-templates/default", guards=[requires("qc.read")], tags=["jobs"])
async def default_template() -> dict[str, Any]:
    """The checklist QC uses (managers edit it in /admin), items in order, in both languages."""
    template = (
        await QcTemplate.select()
        .where((QcTemplate.active == True) & (QcTemplate.is_default == True))  # noqa: E712
        .order_by(QcTemplate.id, ascending=False)
        .first()
    )
    if template is None:
        raise workshop.NotFound(
            "No default QC checklist is set: a manager can mark one as default in /admin."
        )
    items = (
        await QcTemplateItem.select()
        .where((QcTemplateItem.template == template["id"]) & (QcTemplateItem.active == True))  # noqa: E712
        .order_by(QcTemplateItem.position)
        .order_by(QcTemplateItem.id)
    )
    return {
        "id": template["id"],
        "name": template["name"],
        "items": [{"id": i["id"], "name_en": i["name_en"], "name_zh": i["name_zh"]} for i in items],
    }
