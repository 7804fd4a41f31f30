"""Dispatch (派工): what the foreman's screen reads. Assigning is POST /api/jobs/{id}/assign."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get

from api import dispatch
from api.auth import requires


class DispatchController(Controller):
    path = "/api/dispatch"
    tags = ["jobs"]

    @get("/", guards=[requires("dispatch.read")])
    async def board(self) -> dict[str, Any]:
        """Jobs nobody has yet (soonest promise first) and every technician's queue, what they are on
        now and their queued sold minutes against the rest of their shift today."""
        return await dispatch.board()
