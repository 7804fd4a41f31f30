"""Jobs on the workshop floor: assign, clock on / off, and the quality check (CONTRACT.md "Jobs")."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from litestar import Controller, Request, Response, post
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from api import readmodels, workshop
from api.auth import StaffUser, current_user, requires
from api.commands import NewEvent, Outcome, now
from api.routes.base import run, stage_events
from api.tables import ClockEntry, Job, QcRecord, Staff

# A device clock further off than this is kept but flagged: payroll must not trust it blindly.
SKEW_FLAG_SECONDS = 300


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    technician_id: int


class ClockOnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_time: datetime | None = Field(default=None, description="the tablet's clock when tapped")


class ClockOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str
    device_time: datetime | None = None


class QcItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    result: Literal["pass", "fail", "na"]
    note: str = Field(default="", max_length=500)


class QcIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[QcItemIn] = Field(min_length=1, max_length=60)


async def _job(job_id: int) -> dict[str, Any]:
    row = await Job.select().where(Job.id == job_id).first()
    if row is None:
        raise workshop.NotFound(f"Job {job_id} does not exist.")
    return row


def _facts(row: dict[str, Any]) -> workshop.JobFacts:
    return readmodels.job_facts([row])[0]


async def _open_entry(technician_id: int) -> dict[str, Any] | None:
    return (
        await ClockEntry.select()
        .where((ClockEntry.technician == technician_id) & ClockEntry.ended_at.is_null())
        .first()
    )


async def _changed(job_id: int, ro_id: int, before: workshop.Stage) -> tuple[dict[str, Any], list[NewEvent]]:
    """The job as staff see it now, with job.updated (and stage.changed when the stage moved)."""
    rows = (await readmodels.jobs_of([ro_id]))[ro_id]
    shown = readmodels.job_out(next(r for r in rows if r["id"] == job_id))
    return shown, [NewEvent("job.updated", ro_id, {"job": shown}), *await stage_events(ro_id, before)]


def _entry_out(row: dict[str, Any]) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    skews = [
        abs((device - server).total_seconds())
        for device, server in (
            (row["device_started_at"], row["started_at"]),
            (row["device_ended_at"], row["ended_at"]),
        )
        if device is not None and server is not None
    ]
    return {
        "id": row["id"],
        "job_id": row["job"],
        "technician_id": row["technician"],
        "started_at": iso(row["started_at"]),
        "ended_at": iso(row["ended_at"]),
        "reason": row["reason"],
        "device_started_at": iso(row["device_started_at"]),
        "device_ended_at": iso(row["device_ended_at"]),
        "clock_skew_flag": any(s > SKEW_FLAG_SECONDS for s in skews),
        "auto_stopped": row["auto_stopped"],
    }


class JobController(Controller):
    path = "/api/jobs"
    tags = ["jobs"]

    @post("/{job_id:int}/assign", guards=[requires("job.assign")], status_code=200)
    async def assign(
        self, request: Request, job_id: FromPath[int], data: JSONBody[AssignIn]
    ) -> Response[Any]:
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
            return Outcome(200, _plain(shown), events)

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())

    @post("/{job_id:int}/clock-on", guards=[requires("job.clock")], status_code=200)
    async def clock_on(
        self, request: Request, job_id: FromPath[int], data: JSONBody[ClockOnIn | None] = None
    ) -> Response[Any]:
        """Start your clock on a job assigned to you (one running clock per person)."""
        user = current_user(request)
        body = data or ClockOnIn()

        async def handler() -> Outcome:
            job = await _job(job_id)
            open_entry = await _open_entry(user.id)
            open_job = _facts(await _job(open_entry["job"])) if open_entry else None
            before = await readmodels.current_stage(job["repair_order"])
            state = workshop.clock_on(_facts(job), user.id, open_job)
            at = now()
            entry = ClockEntry(
                job=job_id, technician=user.id, started_at=at, device_started_at=body.device_time
            )
            await entry.save()
            await Job.update({Job.state: state.value}).where(Job.id == job_id)
            shown, events = await _changed(job_id, job["repair_order"], before)
            out = _entry_out(await _entry(int(entry.id)))
            events.insert(0, NewEvent("clock.on", job["repair_order"], {"job_id": job_id, "entry": out}))
            return Outcome(200, {"job": _plain(shown), "entry": out}, events)

        return await run(request, handler, actor=f"staff:{user.id}", payload=body.model_dump(mode="json"))

    @post("/{job_id:int}/clock-off", guards=[requires("job.clock")], status_code=200)
    async def clock_off(
        self, request: Request, job_id: FromPath[int], data: JSONBody[ClockOffIn]
    ) -> Response[Any]:
        """Stop your clock with a reason; `finished` sends the job to QC."""
        user = current_user(request)

        async def handler() -> Outcome:
            return await _stop(user, job_id, data)

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{job_id:int}/qc", guards=[requires("job.qc")], status_code=200)
    async def qc(self, request: Request, job_id: FromPath[int], data: JSONBody[QcIn]) -> Response[Any]:
        """The quality check, by someone who did not clock time on the job; any fail means rework."""
        user = current_user(request)

        async def handler() -> Outcome:
            job = await _job(job_id)
            clocked = await ClockEntry.select(ClockEntry.technician).where(ClockEntry.job == job_id)
            before = await readmodels.current_stage(job["repair_order"])
            passed, state = workshop.check_qc(
                _facts(job), user.id, [c["technician"] for c in clocked], [i.result for i in data.items]
            )
            items = [i.model_dump() for i in data.items]
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
            return Outcome(200, {"passed": passed, "job": _plain(shown), "items": items}, events)

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())


async def _entry(entry_id: int) -> dict[str, Any]:
    row = await ClockEntry.select().where(ClockEntry.id == entry_id).first()
    assert row is not None
    return row


async def _stop(user: StaffUser, job_id: int, data: ClockOffIn) -> Outcome:
    job = await _job(job_id)
    open_entry = await _open_entry(user.id)
    open_job = _facts(await _job(open_entry["job"])) if open_entry else None
    before = await readmodels.current_stage(job["repair_order"])
    state = workshop.clock_off(_facts(job), data.reason, open_job)
    assert open_entry is not None  # clock_off refused otherwise
    await ClockEntry.update(
        {
            ClockEntry.ended_at: now(),
            ClockEntry.reason: data.reason,
            ClockEntry.device_ended_at: data.device_time,
        }
    ).where(ClockEntry.id == open_entry["id"])
    await Job.update({Job.state: state.value}).where(Job.id == job_id)
    shown, events = await _changed(job_id, job["repair_order"], before)
    out = _entry_out(await _entry(open_entry["id"]))
    events.insert(0, NewEvent("clock.off", job["repair_order"], {"job_id": job_id, "entry": out}))
    return Outcome(200, {"job": _plain(shown), "entry": out}, events)


def _plain(job: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe (Decimal hours/prices → numbers) so a replayed reply equals the first one."""
    return json.loads(json.dumps(job, default=float))
