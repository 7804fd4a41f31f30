"""Jobs on the workshop floor: assign, clock on / off, and the quality check (CONTRACT.md "Jobs").

Use cases: api/jobs.py (assign), api/clock.py (the taps), api/qc.py (the check)."""

from __future__ import annotations

import functools
from typing import Any, Literal

from litestar import Controller, Request, Response, post
from litestar.params import JSONBody
from pydantic import Field

from api import clock, jobs, qc
from api.auth import current_user, requires
from api.httpcommand import device_sent_at, run, tap_key
from api.inputs import Id
from api.schemas import DeviceTimes, Strict


class AssignIn(Strict):
    technician_id: int


class ClockOnIn(DeviceTimes):
    switch: bool = Field(
        default=False, description="stop a clock running on another job at this start instead of a 409"
    )


class ClockOffIn(DeviceTimes):
    reason: str
    part_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="with waiting_parts: the parts line it waits for"
    )


class QcItemIn(Strict):
    item_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the checklist item (GET /api/qc-templates/default)"
    )
    name: str = Field(min_length=1, max_length=120, description="as the checker's tablet showed it")
    result: Literal["pass", "fail", "na"]
    note: str = Field(default="", max_length=500)


class QcIn(Strict):
    items: list[QcItemIn] = Field(min_length=1, max_length=60)


class JobController(Controller):
    path = "/api/jobs"
    tags = ["jobs"]

    @post("/{job_id:int}/assign", guards=[requires("job.assign")], status_code=200)
    async def assign(self, request: Request, job_id: Id, data: JSONBody[AssignIn]) -> Response[Any]:
        """Give the job to a technician (re-assigning keeps paused and rework jobs in their state)."""
        user = current_user(request)
        handler = functools.partial(jobs.assign, job_id, data.technician_id)
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())

    @post("/{job_id:int}/clock-on", guards=[requires("job.clock")], status_code=200)
    async def clock_on(
        self, request: Request, job_id: Id, data: JSONBody[ClockOnIn | None] = None
    ) -> Response[Any]:
        """Start your clock on a job assigned to you (one running clock per person)."""
        user = current_user(request)
        body = data or ClockOnIn()
        handler = functools.partial(
            clock.start_job,
            user.id,
            job_id,
            key=tap_key(request, user.id),
            device_time=body.device_time,
            sent=device_sent_at(request, body.device_sent_at),
            switch=body.switch,
        )
        return await run(request, handler, actor=f"staff:{user.id}", payload=body.model_dump(mode="json"))

    @post("/{job_id:int}/clock-off", guards=[requires("job.clock")], status_code=200)
    async def clock_off(self, request: Request, job_id: Id, data: JSONBody[ClockOffIn]) -> Response[Any]:
        """Stop your clock with a reason; `finished` sends the job to QC."""
        user = current_user(request)
        handler = functools.partial(
            clock.stop_job,
            user.id,
            job_id,
            data.reason,
            key=tap_key(request, user.id),
            device_time=data.device_time,
            sent=device_sent_at(request, data.device_sent_at),
            part_id=data.part_id,
        )
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{job_id:int}/qc", guards=[requires("job.qc")], status_code=200)
    async def qc(self, request: Request, job_id: Id, data: JSONBody[QcIn]) -> Response[Any]:
        """The quality check, by someone who did not clock time on the job; any fail means rework."""
        user = current_user(request)
        items = [i.model_dump() for i in data.items]
        handler = functools.partial(qc.check, job_id, user.id, items)
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())
