"""Jobs as use cases: loading one for a rule, giving it to a technician, announcing what changed.

Runs inside a command (api.commands.execute). No web imports.
"""

from __future__ import annotations

import json
from typing import Any

from api import events, readmodels, repair_orders, workshop
from api.commands import Outcome
from api.events import NewEvent
from api.tables import ClockEntry, Job, Staff


async def require(job_id: int) -> dict[str, Any]:
    """The job's row, or NotFound."""
    row = await Job.select().where(Job.id == job_id).first()
    if row is None:
        raise workshop.NotFound(f"Job {job_id} does not exist.", code="job.not_found", params={"id": job_id})
    return row


def facts(row: dict[str, Any]) -> workshop.JobFacts:
    """What the rules need to know of a job row."""
    return readmodels.job_facts([row])[0]


def plain(job: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe (Decimal hours/prices → numbers) so a replayed reply equals the first one."""
    return json.loads(json.dumps(job, default=float))


async def shown(job_id: int, ro_id: int) -> dict[str, Any]:
    """The job as staff see it now."""
    rows = (await readmodels.jobs_of([ro_id]))[ro_id]
    return plain(readmodels.job_out(next(r for r in rows if r["id"] == job_id)))


async def changed(job_id: int, ro_id: int, before: workshop.Stage) -> tuple[dict[str, Any], list[NewEvent]]:
    """The job as staff see it now, with job.updated (and stage.changed when the stage moved)."""
    job = await shown(job_id, ro_id)
    return job, [events.job_updated(ro_id, job), *await repair_orders.stage_events(ro_id, before, [job_id])]


async def _with_its_order(job_id: int) -> list[dict[str, Any]]:
    """The job and every other job of its repair order (with their technicians' names and what the
    order's stage needs), in one read."""
    same_order = Job.select(Job.repair_order).where(Job.id == job_id)
    return list(
        await Job.select(
            *Job.all_columns(),
            Job.technician.name,
            Job.repair_order.ready_at,
            Job.repair_order.delivered_at,
        )
        .where(Job.repair_order.is_in(same_order))
        .order_by(Job.id)
    )


async def _clocked_on(job_id: int) -> str | None:
    """The name of whoever is clocked on the job now (None: nobody)."""
    row = (
        await ClockEntry.select(ClockEntry.technician.name)
        .where((ClockEntry.job == job_id) & ClockEntry.ended_at.is_null())
        .first()
    )
    return None if row is None else str(row["technician.name"])


async def assign(job_id: int, technician_id: int) -> Outcome:
    """Give the job to a technician, or move it to another (a paused or rework job keeps its state;
    one someone is clocked on stays until they stop). job.assigned names both people, so the
    tablet of the one who lost it and of the one who got it both update."""
    rows = await _with_its_order(job_id)
    job = next((r for r in rows if r["id"] == job_id), None)
    if job is None:
        raise workshop.NotFound(f"Job {job_id} does not exist.", code="job.not_found", params={"id": job_id})
    tech = (
        await Staff.select(Staff.id, Staff.name, Staff.role, Staff.active)
        .where(Staff.id == technician_id)
        .first()
    )
    if tech is None:
        raise workshop.Invalid(
            f"Staff member {technician_id} is not an active technician.",
            code="job.technician_invalid",
            params={"id": technician_id},
            field="technician_id",
        )
    workshop.check_assignee(tech["name"], tech["role"], bool(tech["active"]))
    current = facts(job)
    # A pending job has never been clocked: only work already given out can have a running clock.
    clocked_by = None if current.state is workshop.JobState.PENDING else await _clocked_on(job_id)
    state = workshop.assign(current, clocked_by)
    previous = job["technician"]
    if previous == tech["id"] and state.value == job["state"]:
        return Outcome(200, plain(readmodels.job_out(job)))  # theirs already: nothing changes
    ro = job["repair_order"]
    order = {"ready_at": job["repair_order.ready_at"], "delivered_at": job["repair_order.delivered_at"]}
    before = readmodels.stage_of(order, rows)
    await Job.update({Job.technician: tech["id"], Job.state: state.value}).where(Job.id == job_id)
    # The answer and the events from what was read and written: nothing is read back.
    job.update({"technician": tech["id"], "technician.name": tech["name"], "state": state.value})
    after = readmodels.stage_of(order, rows)
    job_now = plain(readmodels.job_out(job))
    moved = [events.stage_changed(ro, before, after, [job_id])] if after is not before else []
    assigned = events.job_assigned(ro, job_now, previous=previous)
    return Outcome(200, job_now, [assigned, events.job_updated(ro, job_now), *moved])
