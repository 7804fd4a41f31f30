"""The quality check as a use case: sign a job's check, and the checklist to check it with.

The check runs inside a command (api.commands.execute). No web imports.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from api import events, jobs, qcitems, readmodels, workshop
from api.commands import Outcome, now
from api.tables import ClockEntry, Job, QcRecord, QcTemplate, QcTemplateItem, RepairOrder, Shop


async def check(job_id: int, signer: int, items: list[dict[str, Any]], at: datetime | None = None) -> Outcome:
    """The quality check, by someone who did not clock time on the job; any fail means rework.

    `items`: {"item_id"?, "name", "result", "note"?} each. `at` is for the demo's history."""
    job = await jobs.require(job_id)
    clocked = await ClockEntry.select(ClockEntry.technician).where(ClockEntry.job == job_id)
    before = await readmodels.current_stage(job["repair_order"])
    passed, state = workshop.check_qc(
        jobs.facts(job), signer, [c["technician"] for c in clocked], [i["result"] for i in items]
    )
    labelled = await qcitems.labelled(items)
    await QcRecord(
        job=job_id,
        signer=signer,
        passed=passed,
        items=json.dumps(labelled, ensure_ascii=False),
        signed_at=at or now(),
    ).save()
    changes: dict[Any, Any] = {Job.state: state.value}
    if not passed:
        changes[Job.rework_count] = job["rework_count"] + 1
    await Job.update(changes).where(Job.id == job_id)
    if passed:
        await _ready_automatically(job["repair_order"], at)
    shown, announced = await jobs.changed(job_id, job["repair_order"], before)
    failed = [i["name"] for i in labelled if i["result"] == "fail"]
    recorded = events.qc_recorded(job["repair_order"], shown, passed, failed, signer)
    return Outcome(200, {"passed": passed, "job": shown, "items": labelled}, [recorded, *announced])


async def _ready_automatically(ro_id: int, at: datetime | None) -> None:
    """A shop with the ready rule "auto": the pass that completes the last approved job marks the
    order ready in the same command (its stage.changed then goes straight to ready)."""
    rule = await Shop.select(Shop.ready_rule).first()
    if rule is None or rule["ready_rule"] != "auto":
        return
    ro = await readmodels.require_repair_order(ro_id)
    rows = (await readmodels.jobs_of([ro_id]))[ro_id]
    if readmodels.stage_of(ro, rows) is not workshop.Stage.QUALITY_CHECK:
        return
    if not workshop.ready_blockers(readmodels.job_facts(rows)):
        await RepairOrder.update({RepairOrder.ready_at: at or now()}).where(RepairOrder.id == ro_id)


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
            "No default QC checklist is set: a manager can mark one as default in /admin.",
            code="qc.no_template",
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
