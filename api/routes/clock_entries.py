"""Checking clock entries: the technician confirms an auto-stopped timer; a foreman or manager reviews
taps flagged as late or out of place; corrections keep an audit (use cases: api/clock_entries.py)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody
from pydantic import Field

from api import clock_entries
from api.auth import current_user, requires
from api.httpcommand import run
from api.inputs import Id
from api.schemas import Strict


class CorrectIn(Strict):
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str = Field(max_length=300, description="required: why the times change (kept in the audit)")


class ClockEntryController(Controller):
    path = "/api/clock-entries"
    tags = ["jobs"]

    @get("/review", guards=[requires("clock.review")])
    async def review_list(self, request: Request) -> dict[str, Any]:
        """Entries with taps flagged for review (late, before their job or before the person's working
        day) that no foreman or manager has looked at yet, oldest first; not the reviewer's own."""
        return await clock_entries.review_list(current_user(request).id)

    @post("/{entry_id:int}/review", guards=[requires("clock.review")], status_code=200)
    async def review(self, request: Request, entry_id: Id) -> Response[Any]:
        """A foreman or manager takes a flagged entry as it is (its flags stay, as the evidence)."""
        user = current_user(request)
        handler = functools.partial(clock_entries.review, entry_id, user.id, user.role)
        return await run(request, handler, actor=f"staff:{user.id}", payload={"entry": entry_id})

    @post("/{entry_id:int}/confirm", guards=[requires("clock.confirm")], status_code=200)
    async def confirm(self, request: Request, entry_id: Id) -> Response[Any]:
        """The technician says an automatically stopped entry is right as it is."""
        user = current_user(request)
        handler = functools.partial(clock_entries.confirm, entry_id, user.id)
        return await run(request, handler, actor=f"staff:{user.id}", payload={"entry": entry_id})

    @post("/{entry_id:int}/correct", guards=[requires("clock.correct")], status_code=200)
    async def correct(self, request: Request, entry_id: Id, data: JSONBody[CorrectIn]) -> Response[Any]:
        """Change an entry's times, with a reason; before and after are kept and announced."""
        user = current_user(request)
        handler = functools.partial(
            clock_entries.correct, entry_id, user.id, user.role, data.started_at, data.ended_at, data.reason
        )
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))
