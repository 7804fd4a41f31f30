"""Parts lines (配件) on jobs: the office adds, orders and receives them, the person at the car
fits them. Use cases: api/parts.py."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody

from api import parts
from api.auth import current_user, requires
from api.httpcommand import run
from api.inputs import Id
from api.schemas import PartChange, PartIn


class PartController(Controller):
    path = "/api"
    tags = ["parts"]

    @post("/jobs/{job_id:int}/parts", guards=[requires("part.edit")], status_code=201)
    async def add(self, request: Request, job_id: Id, data: JSONBody[PartIn]) -> Response[Any]:
        """Put a parts line on a job (state needed; ordered when it comes with expected_at)."""
        user = current_user(request)
        handler = functools.partial(parts.add, job_id, data, user.id)
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/parts/{part_id:int}", guards=[requires("part.edit")], status_code=200)
    async def change(self, request: Request, part_id: Id, data: JSONBody[PartChange]) -> Response[Any]:
        """needed → ordered (with expected_at) → arrived, or edit the line's fields while not fitted."""
        user = current_user(request)
        handler = functools.partial(parts.change, part_id, data, user.id)
        payload = data.model_dump(mode="json", exclude_unset=True)
        return await run(request, handler, actor=f"staff:{user.id}", payload=payload)

    @post("/parts/{part_id:int}/fitted", guards=[requires("part.fit")], status_code=200)
    async def fitted(self, request: Request, part_id: Id) -> Response[Any]:
        """The part is on the car (a technician: on their own jobs)."""
        user = current_user(request)
        handler = functools.partial(parts.fitted, part_id, user.id, user.role)
        return await run(request, handler, actor=f"staff:{user.id}", payload={})

    @get("/me/parts", guards=[requires("me.jobs")])
    async def mine(self, request: Request) -> dict[str, Any]:
        """The parts of my open jobs, and per job (by id) the line my last "waiting for parts" stop named."""
        return await parts.of_technician(current_user(request).id)
