"""Staff administration on the tablet: list, add, unlock (managers; foremen may look).

Use cases: api/staff.py."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.params import JSONBody

from api import auth, staff, workshop
from api.auth import current_user, requires
from api.httpcommand import run
from api.inputs import Id
from api.schemas import StaffCreate, StaffListItem


class StaffController(Controller):
    path = "/api/staff"
    tags = ["staff"]

    @get("/", guards=[requires("staff.list")])
    async def list_staff(self) -> list[StaffListItem]:
        """Everyone on the team, with any PIN lockout still running."""
        return [StaffListItem(**row) for row in await staff.team()]

    @post("/", guards=[requires("staff.create")], status_code=201)
    async def add(self, request: Request, data: JSONBody[StaffCreate]) -> Response[dict[str, Any]]:
        """Add a staff member with a first PIN (4–8 digits, not an easy one)."""
        user = current_user(request)
        workshop.check_pin(data.pin)
        pin_hash = await sync_to_thread(auth.hash_pin, data.pin)
        handler = functools.partial(staff.add, data.username, data.name, data.role, pin_hash)
        # The PIN itself never enters the fingerprint that is stored.
        payload = data.model_dump(exclude={"pin"}) | {"pin": auth.token_hash(data.pin)}
        return await run(request, handler, actor=f"staff:{user.id}", payload=payload)

    @post("/{staff_id:int}/unlock", guards=[requires("staff.unlock")], status_code=200)
    async def unlock(self, request: Request, staff_id: Id) -> Response[dict[str, Any]]:
        """Lift a PIN lockout at once (a colleague typed wrong PINs at someone else's tile)."""
        user = current_user(request)
        handler = functools.partial(staff.unlock, staff_id, user.id)
        return await run(request, handler, actor=f"staff:{user.id}")
