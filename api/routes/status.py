"""The customer's status link: page, JSON, approvals and the survey (no login: the token is the key)."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from api import readmodels, statuslink, workshop
from api.commands import NewEvent, Outcome, now
from api.realtime import projection
from api.routes.base import run
from api.tables import Job, Survey

# Guessing links is pointless (256 bits), but a client hammering them is still turned away.
rate_limit = RateLimitConfig(rate_limit=("minute", 120), exclude_opt_key="no_rate_limit")

NOT_FOUND = "This status link is unknown or has expired. Ask the service desk for a new one."


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: int
    decision: Literal["approve", "decline"]


class SurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=10, description="1 = very unsatisfied, 10 = very satisfied")
    comment: str = Field(default="", max_length=2000)


async def _ro(token: str) -> dict[str, Any]:
    ro = await statuslink.resolve(token)
    if ro is None:
        raise workshop.NotFound(NOT_FOUND)
    return ro


async def _view(ro: dict[str, Any]) -> dict[str, Any]:
    view = await statuslink.view(ro)
    survey = await Survey.select(Survey.score, Survey.comment).where(Survey.repair_order == ro["id"]).first()
    view["survey"] = survey
    return view


async def decide(request: Request, token: str, data: ApprovalIn) -> Response[Any]:
    """Approve or decline recommended work once; a stale or repeated decision is a 409."""
    ro = await _ro(token)
    ro_id = int(ro["id"])

    async def handler() -> Outcome:
        job = await Job.select().where(Job.id == data.job_id).where(Job.repair_order == ro_id).first()
        if job is None:
            raise workshop.NotFound(f"This repair order has no job {data.job_id}.")
        before_rows = (await readmodels.jobs_of([ro_id]))[ro_id]
        current = await readmodels.require_repair_order(ro_id)
        before = readmodels.stage_of(current, before_rows)
        if before is workshop.Stage.DELIVERED:
            raise workshop.Conflict("The car was already delivered.")
        approval = workshop.Approval(job["approval"]) if job["approval"] else None
        state, decided = workshop.decide_approval(workshop.JobState(job["state"]), approval, data.decision)
        await Job.update({Job.state: state.value, Job.approval: decided.value}).where(Job.id == data.job_id)
        rows = (await readmodels.jobs_of([ro_id]))[ro_id]
        shown = readmodels.job_out(next(r for r in rows if r["id"] == data.job_id))
        events = [
            NewEvent(
                "approval.decided",
                ro_id,
                {"job_id": data.job_id, "decision": decided.value, "title": job["title"]},
            ),
            NewEvent("job.updated", ro_id, {"job": shown}),
        ]
        after = readmodels.stage_of(current, rows)
        if after is not before:
            events.append(NewEvent("stage.changed", ro_id, {"from": before.value, "to": after.value}))
        body = {"job": {k: shown.get(k) for k in projection.CUSTOMER_JOB_FIELDS}}
        return Outcome(200, body, events)

    return await run(request, handler, actor=f"status:{ro_id}", payload=data.model_dump())


async def rate(request: Request, token: str, data: SurveyIn) -> Response[Any]:
    """The follow-up rating: after delivery, once."""
    ro = await _ro(token)
    ro_id = int(ro["id"])

    async def handler() -> Outcome:
        current = await readmodels.require_repair_order(ro_id)
        if current["delivered_at"] is None:
            raise workshop.Conflict("You can rate the visit once the car has been handed back to you.")
        if await Survey.exists().where(Survey.repair_order == ro_id):
            raise workshop.Conflict("Thank you — this visit has already been rated.")
        comment = data.comment.strip()
        await Survey(repair_order=ro_id, score=data.score, comment=comment, submitted_at=now()).save()
        event = NewEvent("survey.submitted", ro_id, {"score": data.score, "comment": comment})
        return Outcome(201, {"score": data.score, "comment": comment}, [event])

    return await run(request, handler, actor=f"status:{ro_id}", payload=data.model_dump())


class StatusController(Controller):
    path = "/"
    tags = ["customer status link"]
    middleware = [rate_limit.middleware]

    @get("/api/status/{token:str}")
    async def status(self, token: FromPath[str]) -> dict[str, Any]:
        """What the customer's page shows: stage, promise and its history, jobs, photos, last seq."""
        return await _view(await _ro(token))

    @post("/api/status/{token:str}/approvals", status_code=200)
    async def approval(
        self, request: Request, token: FromPath[str], data: JSONBody[ApprovalIn]
    ) -> Response[Any]:
        """The customer approves or declines a recommended job."""
        return await decide(request, token, data)

    @post("/api/status/{token:str}/survey", status_code=201)
    async def survey(self, request: Request, token: FromPath[str], data: JSONBody[SurveyIn]) -> Response[Any]:
        """The 1–10 rating after delivery (409 before)."""
        return await rate(request, token, data)
