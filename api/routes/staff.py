"""Staff administration on the tablet: list, add, unlock (managers; foremen may look)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.params import JSONBody

from api import auth, workshop
from api.auth import current_user, requires
from api.commands import NewEvent, Outcome, now
from api.inputs import Id
from api.routes.base import run
from api.schemas import StaffCreate, StaffListItem
from api.staff import create_staff
from api.tables import LoginThrottle, Staff


class StaffController(Controller):
    path = "/api/staff"
    tags = ["staff"]

    @get("/", guards=[requires("staff.list")])
    async def list_staff(self) -> list[StaffListItem]:
        """Everyone on the team, with any PIN lockout still running."""
        rows = (
            await Staff.select(Staff.id, Staff.username, Staff.name, Staff.role)
            .where(Staff.active.eq(True))
            .order_by(Staff.name)
        )
        at = now()
        locks: dict[str, Any] = {}
        for r in await LoginThrottle.select().where(LoginThrottle.key.like("user:%")):
            # A person has two counters (unknown devices, and the shop's known ones): show the later.
            person = ":".join(r["key"].split(":")[:2])
            if r["locked_until"] and r["locked_until"] > at:
                locks[person] = max(r["locked_until"], locks.get(person, r["locked_until"]))
        return [StaffListItem(**row, locked_until=locks.get(f"user:{row['id']}")) for row in rows]

    @post("/", guards=[requires("staff.create")], status_code=201)
    async def add(self, request: Request, data: JSONBody[StaffCreate]) -> Response[dict[str, Any]]:
        """Add a staff member with a first PIN (4–8 digits, not an easy one)."""
        user = current_user(request)
        workshop.check_pin(data.pin)
        pin_hash = await sync_to_thread(auth.hash_pin, data.pin)

        async def handler() -> Outcome:
            row = await create_staff(data.username, data.name, data.role, pin_hash)
            body = {"id": row.id, "username": row.username, "name": row.name, "role": row.role}
            return Outcome(201, body, [NewEvent("staff.added", None, {"staff_id": row.id, "role": row.role})])

        # The PIN itself never enters the fingerprint that is stored.
        payload = data.model_dump(exclude={"pin"}) | {"pin": auth.token_hash(data.pin)}
        return await run(request, handler, actor=f"staff:{user.id}", payload=payload)

    @post("/{staff_id:int}/unlock", guards=[requires("staff.unlock")], status_code=200)
    async def unlock(self, request: Request, staff_id: Id) -> Response[dict[str, Any]]:
        """Lift a PIN lockout at once (a colleague typed wrong PINs at someone else's tile)."""
        user = current_user(request)

        async def handler() -> Outcome:
            if not await Staff.exists().where(Staff.id == staff_id):
                raise workshop.NotFound(f"Staff member {staff_id} does not exist.")
            await auth.clear_throttle(f"user:{staff_id}")
            await auth.clear_throttle(f"user:{staff_id}:known")
            return Outcome(
                200,
                {"unlocked": staff_id},
                [NewEvent("staff.unlocked", None, {"staff_id": staff_id})],
            )

        return await run(request, handler, actor=f"staff:{user.id}")
