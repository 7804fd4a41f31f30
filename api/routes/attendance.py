"""The technician's working day (attendance) and what it yields: utilisation and productivity
(use cases: api/attendance.py)."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromQuery, JSONBody

from api import attendance, inputs
from api.auth import current_user, requires
from api.httpcommand import device_sent_at, run, tap_key
from api.schemas import DeviceTimes


class AttendanceController(Controller):
    path = "/api/attendance"
    tags = ["attendance"]

    @post("/clock-in", guards=[requires("attendance.clock")], status_code=201)
    async def clock_in(self, request: Request, data: JSONBody[DeviceTimes | None] = None) -> Response[Any]:
        """Start my working day."""
        user = current_user(request)
        body = data or DeviceTimes()
        sent = device_sent_at(request, body.device_sent_at)
        handler = functools.partial(attendance.start_day, user.id, body.device_time, sent)
        return await run(request, handler, actor=f"staff:{user.id}", payload=body.model_dump(mode="json"))

    @post("/clock-out", guards=[requires("attendance.clock")], status_code=200)
    async def clock_out(self, request: Request, data: JSONBody[DeviceTimes | None] = None) -> Response[Any]:
        """End my working day: a job clock still running is stopped and flagged for me to check."""
        user = current_user(request)
        body = data or DeviceTimes()
        sent = device_sent_at(request, body.device_sent_at)
        key = tap_key(request, user.id, ":stop_all")
        handler = functools.partial(attendance.end_day, user.id, body.device_time, sent, key)
        return await run(request, handler, actor=f"staff:{user.id}", payload=body.model_dump(mode="json"))

    @get("/day", guards=[requires("attendance.read")])
    async def day(self, day: FromQuery[date | None] = None) -> dict[str, Any]:
        """Per technician for one day (shop time): attended and clocked time, utilisation, productivity."""
        today = await attendance.today()
        day = inputs.check_day("day", day) if day else today
        if day > today:
            message = "That day has not happened yet: choose today or an earlier day."
            problem = {"key": "day", "message": message, "source": "query", "code": "attendance.future_day"}
            raise ValidationException(message, extra=[problem])
        return await attendance.day_report(day)
