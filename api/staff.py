"""Staff members as use cases: the team list, adding someone (from the API, the setup and the command
line) and lifting a PIN lockout.

Commands run inside api.commands.execute. No web imports.
"""

from __future__ import annotations

from typing import Any

from api import auth, db, events, workshop
from api.commands import Outcome, execute, now
from api.tables import LoginThrottle, Staff


async def team() -> list[dict[str, Any]]:
    """Everyone on the team, with any PIN lockout still running (`locked_until`)."""
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
    return [{**row, "locked_until": locks.get(f"user:{row['id']}")} for row in rows]


async def create_staff(username: str, name: str, role: str, pin_hash: str) -> Staff:
    """Insert a staff member (call inside a command); a taken username is a Conflict."""
    if await Staff.exists().where(Staff.username == username):
        raise workshop.Conflict(
            f"The username “{username}” is taken: choose another.",
            code="staff.username_taken",
            params={"username": username},
            field="username",
        )
    row = Staff(username=username, name=name, role=role, pin_hash=pin_hash, active=True, created_at=now())
    await row.save()
    return row


async def add(username: str, name: str, role: str, pin_hash: str) -> Outcome:
    """Add a staff member with a hashed first PIN (event staff.added)."""
    row = await create_staff(username, name, role, pin_hash)
    body = {"id": row.id, "username": row.username, "name": row.name, "role": row.role}
    return Outcome(201, body, [events.staff_added(int(row.id), row.role)])


async def add_staff(username: str, name: str, role: str, pin_hash: str) -> int:
    """`python -m api staff add`, through the command path (event staff.added)."""
    reply = await db.with_engine(lambda: execute(lambda: add(username, name, role, pin_hash), actor="cli"))
    return int(reply.body["id"])


async def unlock(staff_id: int, by: int) -> Outcome:
    """Lift a PIN lockout at once (a colleague typed wrong PINs at someone else's tile)."""
    if not await Staff.exists().where(Staff.id == staff_id):
        raise workshop.NotFound(
            f"Staff member {staff_id} does not exist.", code="staff.not_found", params={"id": staff_id}
        )
    await auth.clear_throttle(f"user:{staff_id}")
    await auth.clear_throttle(f"user:{staff_id}:known")
    return Outcome(200, {"unlocked": staff_id}, [events.staff_unlocked(staff_id, by)])
