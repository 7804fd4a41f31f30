"""Staff members: creating them (from the API, the setup and the command line)."""

from __future__ import annotations

from api import db, workshop
from api.commands import NewEvent, Outcome, execute, now
from api.tables import Staff


async def create_staff(username: str, name: str, role: str, pin_hash: str) -> Staff:
    """Insert a staff member (call inside a command); a taken username is a Conflict."""
    if await Staff.exists().where(Staff.username == username):
        raise workshop.Conflict(f"The username “{username}” is taken: choose another.")
    row = Staff(username=username, name=name, role=role, pin_hash=pin_hash, active=True, created_at=now())
    await row.save()
    return row


async def add_staff(username: str, name: str, role: str, pin_hash: str) -> int:
    """`python -m api staff add`, through the command path (event staff.added)."""

    async def handler() -> Outcome:
        row = await create_staff(username, name, role, pin_hash)
        return Outcome(
            201, {"id": row.id}, [NewEvent("staff.added", None, {"staff_id": row.id, "role": role})]
        )

    reply = await db.with_engine(lambda: execute(handler, actor="cli"))
    return int(reply.body["id"])
