"""Staff administration on the tablet: list, add, deactivate, reactivate, reset a PIN, unlock
(managers; foremen may look).

A PIN never enters what is stored about a request: the fingerprint gets its hash, and a one-time PIN
made up here is added to the answer after the command, so the idempotency record of the reply does
not hold it (a replayed answer says `one_time_pin: null`: reset the PIN again).

Use cases: api/staff.py."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.params import FromQuery, JSONBody

from api import auth, staff, workshop
from api.auth import current_user, requires
from api.httpcommand import run
from api.inputs import Id
from api.schemas import PinResetIn, StaffCreate, StaffListItem


async def _pin_for(chosen: str | None) -> tuple[str | None, str]:
    """(the one-time PIN made up, or None when the manager chose one; the hash to store)."""
    if chosen is not None:
        workshop.check_pin(chosen)
        return None, await sync_to_thread(auth.hash_pin, chosen)
    made = staff.one_time_pin()
    return made, await sync_to_thread(auth.hash_pin, made)


def _with_pin(response: Response[Any], made: str | None, ok: int) -> Response[Any]:
    """Show the one-time PIN once: in the first answer only, never in a replay."""
    if made is None or response.status_code != ok or not isinstance(response.content, dict):
        return response
    replayed = response.headers.get("Idempotent-Replayed") == "true"
    response.content = {**response.content, "one_time_pin": None if replayed else made}
    return response


class StaffController(Controller):
    path = "/api/staff"
    tags = ["staff"]

    @get("/", guards=[requires("staff.list")])
    async def list_staff(self, inactive: FromQuery[bool] = False) -> list[StaffListItem]:
        """The team (`?inactive=true`: with those deactivated), with any PIN lockout still running."""
        return [StaffListItem(**row) for row in await staff.team(inactive)]

    @post("/", guards=[requires("staff.create")], status_code=201)
    async def add(self, request: Request, data: JSONBody[StaffCreate]) -> Response[dict[str, Any]]:
        """Add a staff member with a first PIN (4–8 digits, not an easy one), or without: then a
        one-time PIN is answered (`one_time_pin`) and the person chooses their own at first sign-in."""
        user = current_user(request)
        made, pin_hash = await _pin_for(data.pin)
        handler = functools.partial(
            staff.add, data.username, data.name, data.role, pin_hash, pin_pending=made is not None
        )
        # The PIN itself never enters the fingerprint that is stored.
        payload = data.model_dump(exclude={"pin"}) | {"pin": auth.token_hash(data.pin) if data.pin else None}
        return _with_pin(await run(request, handler, actor=f"staff:{user.id}", payload=payload), made, 201)

    @post("/{staff_id:int}/deactivate", guards=[requires("staff.edit")], status_code=200)
    async def deactivate(self, request: Request, staff_id: Id) -> Response[dict[str, Any]]:
        """Stop someone signing in; their open sessions end at once."""
        user = current_user(request)
        handler = functools.partial(staff.deactivate, staff_id, user.id)
        return await run(request, handler, actor=f"staff:{user.id}")

    @post("/{staff_id:int}/activate", guards=[requires("staff.edit")], status_code=200)
    async def activate(self, request: Request, staff_id: Id) -> Response[dict[str, Any]]:
        """Let someone sign in again."""
        user = current_user(request)
        handler = functools.partial(staff.activate, staff_id, user.id)
        return await run(request, handler, actor=f"staff:{user.id}")

    @post("/{staff_id:int}/reset-pin", guards=[requires("staff.edit")], status_code=200)
    async def reset_pin(
        self, request: Request, staff_id: Id, data: JSONBody[PinResetIn | None] = None
    ) -> Response[dict[str, Any]]:
        """A new PIN: `{"pin": …}` set by the manager, or none (a one-time PIN is answered and the
        person chooses their own at the next sign-in). Their sessions end."""
        user = current_user(request)
        chosen = data.pin if data is not None else None
        made, pin_hash = await _pin_for(chosen)
        handler = functools.partial(staff.reset_pin, staff_id, pin_hash, made is not None, user.id)
        payload = {"pin": auth.token_hash(chosen) if chosen else None}
        return _with_pin(await run(request, handler, actor=f"staff:{user.id}", payload=payload), made, 200)

    @post("/{staff_id:int}/unlock", guards=[requires("staff.unlock")], status_code=200)
    async def unlock(self, request: Request, staff_id: Id) -> Response[dict[str, Any]]:
        """Lift a PIN lockout at once (a colleague typed wrong PINs at someone else's tile)."""
        user = current_user(request)
        handler = functools.partial(staff.unlock, staff_id, user.id)
        return await run(request, handler, actor=f"staff:{user.id}")
