"""The customer's decision on recommended work, as a use case (from the status link).

Runs inside api.commands.execute. No web imports.
"""

from __future__ import annotations

from api import events, jobs, readmodels, repair_orders, workshop
from api.commands import Outcome
from api.tables import Job


async def decide(ro_id: int, job_id: int, decision: str) -> Outcome:
    """Approve or decline recommended work once; a stale or repeated decision is a Conflict."""
    job = await Job.select().where(Job.id == job_id).where(Job.repair_order == ro_id).first()
    if job is None:
        raise workshop.NotFound(
            f"This repair order has no job {job_id}.", code="job.not_in_order", params={"id": job_id}
        )
    before = await readmodels.current_stage(ro_id)
    if before is workshop.Stage.DELIVERED:
        raise workshop.Conflict("The car was already delivered.", code="status.delivered")
    approval = workshop.Approval(job["approval"]) if job["approval"] else None
    state, decided = workshop.decide_approval(workshop.JobState(job["state"]), approval, decision)
    await Job.update({Job.state: state.value, Job.approval: decided.value}).where(Job.id == job_id)
    shown = await jobs.shown(job_id, ro_id)
    announced = [
        events.approval_decided(ro_id, job_id, decided.value, job["title"]),
        events.job_updated(ro_id, shown),
        *await repair_orders.stage_events(ro_id, before, [job_id]),
    ]
    body = {"job": {k: shown.get(k) for k in events.CUSTOMER_JOB_FIELDS}}
    return Outcome(200, body, announced)
