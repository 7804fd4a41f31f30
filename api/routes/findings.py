"""Findings: what a technician sees on the car beyond the job. An advisor prices one and it becomes
recommended work the customer approves or declines on the status page."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.params import JSONBody
from pydantic import Field

from api import findings
from api.auth import current_user, requires
from api.httpcommand import run
from api.inputs import Id
from api.schemas import RecommendIn, Strict


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
        handler = functools.partial(findings.add, job_id, data.text, data.phrase, user.id, user.role)
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())

    @post("/findings/{finding_id:int}/recommend", guards=[requires("finding.recommend")], status_code=201)
    async def recommend(self, request: Request, finding_id: Id, data: JSONBody[RecommendIn]) -> Response[Any]:
        """Price a finding in one step: labour (hours × the shop's rate unless given), parts lines and
        the customer's words; it becomes a job needing the customer's approval (they see it at once)."""
        user = current_user(request)
        handler = functools.partial(findings.recommend, finding_id, data, user.id)
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))
