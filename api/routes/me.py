"""The technician's own screen: my jobs by promise time, my running clock, my day, what to check."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from api import floor
from api.auth import current_user, requires


@get("/api/me/jobs", guards=[requires("me.jobs")], tags=["jobs"])
async def my_jobs(request: Request) -> dict[str, Any]:
    """Jobs assigned to me, soonest promise first, with what the bay tablet shows for each."""
    return await floor.my_jobs(current_user(request).id)
