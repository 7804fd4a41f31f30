"""The follow-up call after delivery (回访) for customer care: the lists and the call. Use cases:
api/followups.py."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody

from api import followups
from api.auth import current_user, requires
from api.httpcommand import run
from api.inputs import Id
from api.schemas import FollowUpCallIn


class FollowUpController(Controller):
    path = "/api/follow-ups"
    tags = ["care"]

    @get("", guards=[requires("care.read")])
    async def listing(self, view: FromQuery[str] = "due") -> dict[str, Any]:
        """Follow-ups due now, overdue or upcoming (or done: closed in the last 14 days), oldest
        first, with the customer (and phone), car, work done, advisor and any status-page rating."""
        return await followups.listing(view)

    @post("/{follow_up_id:int}/calls", guards=[requires("care.call")], status_code=200)
    async def call(self, request: Request, follow_up_id: Id, data: JSONBody[FollowUpCallIn]) -> Response[Any]:
        """Record a call: reached with the script's answers (done), or not reached with a call back."""
        user = current_user(request)
        answers = followups.Answers(**data.answers.model_dump()) if data.answers else None
        handler = functools.partial(
            followups.call,
            follow_up_id,
            reached=data.reached,
            call_back_at=data.call_back_at,
            answers=answers,
            by=user.id,
        )
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))
