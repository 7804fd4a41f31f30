"""Findings: what a technician sees on the car beyond the job. An advisor prices one and it becomes
recommended work the customer approves or declines on the status page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.params import JSONBody
from pydantic import Field

from api import readmodels, workshop
from api.auth import current_user, requires
from api.commands import NewEvent, Outcome, now
from api.inputs import Id
from api.routes.base import run
from api.routes.me import finding_out
from api.routes.repair_orders import add_work
from api.schemas import JobIn, Strict
from api.tables import Finding, Job


class FindingIn(Strict):
    text: str = Field(min_length=1, max_length=500, description="what was found, in the technician's words")
    phrase: str = Field(default="", max_length=40, description="key of the phrase-list entry it started from")


class FindingController(Controller):
    path = "/api"
    tags = ["findings"]

    @post("/jobs/{job_id:int}/findings", guards=[requires("finding.add")], status_code=201)
    async def add(self, request: Request, job_id: Id, data: JSONBody[FindingIn]) -> Response[Any]:
        """Record a finding on a job (photos: upload with kind=finding, job_id, panel=finding:<id>)."""
        user = current_user(request)

        async def handler() -> Outcome:
            job = await Job.select().where(Job.id == job_id).first()
            if job is None:
                raise workshop.NotFound(f"Job {job_id} does not exist.")
            if user.role == "technician" and job["technician"] != user.id:
                raise workshop.Forbidden("You can report findings only on jobs assigned to you.")
            text = data.text.strip()
            if not text:
                raise workshop.Invalid("Describe what you found.")
            workshop.can_add_work(await readmodels.current_stage(job["repair_order"]))
            row = Finding(
                job=job_id,
                repair_order=job["repair_order"],
                text=text,
                phrase=data.phrase,
                created_by=user.id,
                created_at=now(),
            )
            await row.save()
            found = await Finding.select().where(Finding.id == row.id).first()
            assert found is not None
            shown = finding_out(found)
            return Outcome(201, shown, [NewEvent("finding.added", job["repair_order"], {"finding": shown})])

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())

    @post("/findings/{finding_id:int}/recommend", guards=[requires("finding.recommend")], status_code=201)
    async def recommend(self, request: Request, finding_id: Id, data: JSONBody[JobIn]) -> Response[Any]:
        """Price a finding: it becomes a job needing the customer's approval (they see it at once)."""
        user = current_user(request)

        async def handler() -> Outcome:
            finding = await Finding.select().where(Finding.id == finding_id).first()
            if finding is None:
                raise workshop.NotFound(f"Finding {finding_id} does not exist.")
            if finding["recommended_job"] is not None:
                raise workshop.Conflict(
                    "This finding was already sent to the customer.", job_id=finding["recommended_job"]
                )
            if data.price is None:
                raise workshop.Invalid("Give the price: the customer decides on it.")
            body, events = await add_work(finding["repair_order"], data, needs_approval=True)
            await Finding.update({Finding.recommended_job: body["id"]}).where(Finding.id == finding_id)
            return Outcome(201, body, events)

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))
