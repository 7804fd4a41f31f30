"""Jobs on the workshop floor: assign, clock on / off, and the quality check (CONTRACT.md "Jobs")."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from litestar import Controller, Request, Response, post
from litestar.params import JSONBody
from pydantic import Field

from api import clockbook, clockstore, qcitems, readmodels, workday, workshop
from api.auth import current_user, requires
from api.commands import NewEvent, Outcome, now
from api.inputs import Id
from api.routes import clockreply
from api.routes.base import device_sent_at, run, stage_events
from api.schemas import Strict
from api.tables import ClockEntry, Job, QcRecord, Staff


class AssignIn(Strict):
    technician_id: int


class DeviceTimes(Strict):
    """When the tap happened and when it was sent, both on the tablet's own clock (optional)."""

    device_time: datetime | None = Field(default=None, description="the tablet's clock when tapped")
    device_sent_at: datetime | None = Field(
        default=None, description="the tablet's clock when sent: corrects a wrong tablet clock"
    )


class ClockOnIn(DeviceTimes):
    switch: bool = Field(
        default=False, description="stop a clock running on another job at this start instead of a 409"
    )


class ClockOffIn(DeviceTimes):
    reason: str


class QcItemIn(Strict):
    item_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the checklist item (GET /api/qc-templates/default)"
    )
    name: str = Field(min_length=1, max_length=120, description="as the checker's tablet showed it")
    result: Literal["pass", "fail", "na"]
    note: str = Field(default="", max_length=500)


class QcIn(Strict):
    items: list[QcItemIn] = Field(min_length=1, max_length=60)


async def _job(job_id: int) -> dict[str, Any]:
    row = await Job.select().where(Job.id == job_id).first()
    if row is None:
        raise workshop.NotFound(f"Job {job_id} does not exist.")
    return row


def _facts(row: dict[str, Any]) -> workshop.JobFacts:
    return readmodels.job_facts([row])[0]


async def _changed(job_id: int, ro_id: int, before: workshop.Stage) -> tuple[dict[str, Any], list[NewEvent]]:
    """The job as staff see it now, with job.updated (and stage.changed when the stage moved)."""
    rows = (await readmodels.jobs_of([ro_id]))[ro_id]
    shown = readmodels.job_out(next(r for r in rows if r["id"] == job_id))
    return shown, [NewEvent("job.updated", ro_id, {"job": shown}), *await stage_events(ro_id, before)]


class JobController(Controller):
    path = "/api/jobs"
    tags = ["jobs"]

    @post("/{job_id:int}/assign", guards=[requires("job.assign")], status_code=200)
    async def assign(self, request: Request, job_id: Id, data: JSONBody[AssignIn]) -> Response[Any]:
        """Give the job to a technician (re-assigning keeps paused and rework jobs in their state)."""
        user = current_user(request)

        async def handler() -> Outcome:
            job = await _job(job_id)
            tech = await Staff.select().where(Staff.id == data.technician_id).first()
            if tech is None or not tech["active"] or tech["role"] not in ("technician", "foreman"):
                raise workshop.Invalid(f"Staff member {data.technician_id} is not an active technician.")
            before = await readmodels.current_stage(job["repair_order"])
            state = workshop.assign(_facts(job))
            await Job.update({Job.technician: tech["id"], Job.state: state.value}).where(Job.id == job_id)
            shown, events = await _changed(job_id, job["repair_order"], before)
            events.insert(
                0,
                NewEvent(
                    "job.assigned", job["repair_order"], {"job_id": job_id, "technician_id": tech["id"]}
                ),
            )
            return Outcome(200, clockreply.plain(shown), events)

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())

    @post("/{job_id:int}/clock-on", guards=[requires("job.clock")], status_code=200)
    async def clock_on(
        self, request: Request, job_id: Id, data: JSONBody[ClockOnIn | None] = None
    ) -> Response[Any]:
        """Start your clock on a job assigned to you (one running clock per person)."""
        user = current_user(request)
        body = data or ClockOnIn()
        sent = device_sent_at(request, body.device_sent_at)

        async def handler() -> Outcome:
            return await start_job(user.id, job_id, body, sent, clockreply.event_key(request, user.id))

        return await run(request, handler, actor=f"staff:{user.id}", payload=body.model_dump(mode="json"))

    @post("/{job_id:int}/clock-off", guards=[requires("job.clock")], status_code=200)
    async def clock_off(self, request: Request, job_id: Id, data: JSONBody[ClockOffIn]) -> Response[Any]:
        """Stop your clock with a reason; `finished` sends the job to QC."""
        user = current_user(request)

        sent = device_sent_at(request, data.device_sent_at)

        async def handler() -> Outcome:
            return await stop_job(user.id, job_id, data, sent, clockreply.event_key(request, user.id))

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{job_id:int}/qc", guards=[requires("job.qc")], status_code=200)
    async def qc(self, request: Request, job_id: Id, data: JSONBody[QcIn]) -> Response[Any]:
        """The quality check, by someone who did not clock time on the job; any fail means rework."""
        user = current_user(request)

        async def handler() -> Outcome:
            job = await _job(job_id)
            clocked = await ClockEntry.select(ClockEntry.technician).where(ClockEntry.job == job_id)
            before = await readmodels.current_stage(job["repair_order"])
            passed, state = workshop.check_qc(
                _facts(job), user.id, [c["technician"] for c in clocked], [i.result for i in data.items]
            )
            items = await qcitems.labelled([i.model_dump() for i in data.items])
            await QcRecord(
                job=job_id,
                signer=user.id,
                passed=passed,
                items=json.dumps(items, ensure_ascii=False),
                signed_at=now(),
            ).save()
            changes: dict[Any, Any] = {Job.state: state.value}
            if not passed:
                changes[Job.rework_count] = job["rework_count"] + 1
            await Job.update(changes).where(Job.id == job_id)
            shown, events = await _changed(job_id, job["repair_order"], before)
            failed = [i["name"] for i in items if i["result"] == "fail"]
            events.insert(
                0,
                NewEvent(
                    "qc.recorded", job["repair_order"], {"job_id": job_id, "passed": passed, "failed": failed}
                ),
            )
            return Outcome(200, {"passed": passed, "job": clockreply.plain(shown), "items": items}, events)

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())


# The clock taps as use cases, inside a command: the routes above call them for a tablet's tap, and
# `python -m api demo` calls them with the demo's times, so demo data is clock history like any.


async def start_job(
    person: int, job_id: int, tap: ClockOnIn, sent: datetime | None, key: str, actor: str | None = None
) -> Outcome:
    """Start `person`'s clock on a job. The working day opens with it when it is not open."""
    job = await _job(job_id)
    received = now()
    at, skewed = clockbook.effective_time(received, tap.device_time, sent)
    open_entry = await clockstore.open_entry(person)
    open_job = _facts(await _job(open_entry["job"])) if open_entry else None
    workshop.clock_on(_facts(job), person, open_job, switch=tap.switch, late=tap.device_time is not None)
    before = await clockreply.stages_before({job_id} | ({open_entry["job"]} if open_entry else set()))
    day, day_events = await workday.open_for_job(person, at)
    folded = await clockstore.append(
        key=key,
        technician=person,
        kind="on",
        job=job_id,
        at=at,
        received=received,
        actor=actor or f"staff:{person}",
        device_at=tap.device_time,
        device_sent_at=sent,
        skewed=skewed,
        review=clockbook.review_reasons(
            at, received, job_created=job["created_at"], day_started=day["clock_in_at"] if day else None
        ),
    )
    outcome = await _clocked("clock.on", job_id, folded, before)
    outcome.events[:0] = day_events
    return outcome


async def stop_job(
    person: int, job_id: int, tap: ClockOffIn, sent: datetime | None, key: str, actor: str | None = None
) -> Outcome:
    """Stop `person`'s clock on a job with a reason."""
    job = await _job(job_id)
    received = now()
    at, skewed = clockbook.effective_time(received, tap.device_time, sent)
    open_entry = await clockstore.open_entry(person)
    open_job = _facts(await _job(open_entry["job"])) if open_entry else None
    workshop.clock_off(_facts(job), tap.reason, open_job, person, late=tap.device_time is not None)
    before = await clockreply.stages_before({job_id} | ({open_entry["job"]} if open_entry else set()))
    day = await workday.open_attendance(person)
    folded = await clockstore.append(
        key=key,
        technician=person,
        kind="off",
        job=job_id,
        at=at,
        received=received,
        actor=actor or f"staff:{person}",
        reason=tap.reason,
        device_at=tap.device_time,
        device_sent_at=sent,
        skewed=skewed,
        review=clockbook.review_reasons(
            at, received, job_created=job["created_at"], day_started=day["clock_in_at"] if day else None
        ),
    )
    return await _clocked("clock.off", job_id, folded, before)


async def _clocked(
    kind: str, job_id: int, folded: clockstore.Refolded, before: dict[int, workshop.Stage]
) -> Outcome:
    entries, jobs, events = await clockreply.outcome_events(kind, folded, before, job_id)
    mine = [e for e in entries if e["job_id"] == job_id]
    # Keep the contract's {"job", "entry"} and the earlier event shape ({"job_id", "entry"}).
    entry = mine[-1] if mine else None
    events[0] = NewEvent(kind, events[0].ro, {**events[0].data, "entry": entry})
    return Outcome(200, {"job": jobs[job_id], "entry": entry, "entries": entries}, events)
