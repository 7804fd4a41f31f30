"""Staff members as use cases: the team list, adding someone (from the API, the setup and the command
line), deactivating and reactivating them, resetting a PIN, and lifting a PIN lockout.

A person added without a PIN, or whose PIN a manager reset, gets a one-time PIN (`pin_pending`): the
route makes it up and shows it to the manager once; only its hash reaches these use cases, so it is
kept nowhere (not in the idempotency record of the reply either). At the first sign-in with it the
person chooses their own (api/sessions.py).

Commands run inside api.commands.execute. No web imports.
"""

from __future__ import annotations

import secrets
from typing import Any

from api import auth, db, events, workshop
from api.commands import Outcome, execute, now
from api.events import NewEvent
from api.tables import LoginThrottle, Staff, StaffSession

MANAGER = "manager"
ONE_TIME_PIN_DIGITS = 6


def one_time_pin() -> str:
    """A random PIN the manager passes on once: 6 digits, never one workshop.check_pin calls easy."""
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(ONE_TIME_PIN_DIGITS))
        try:
            workshop.check_pin(pin)
        except workshop.Invalid:
            continue
        return pin


def first_name(name: str) -> str:
    """What colleagues call someone: the first word of the display name (刘洋 Liu Yang → 刘洋)."""
    return (name.split() or [name])[0]


async def team(inactive: bool = False) -> list[dict[str, Any]]:
    """The team (with those deactivated when `inactive`), with any PIN lockout still running
    (`locked_until`)."""
    query = Staff.select(Staff.id, Staff.username, Staff.name, Staff.role, Staff.active, Staff.pin_pending)
    if not inactive:
        query = query.where(Staff.active.eq(True))
    rows = await query.order_by(Staff.name)
    at = now()
    locks: dict[str, Any] = {}
    for r in await LoginThrottle.select().where(LoginThrottle.key.like("user:%")):
        # A person has two counters (unknown devices, and the shop's known ones): show the later.
        person = ":".join(r["key"].split(":")[:2])
        if r["locked_until"] and r["locked_until"] > at:
            locks[person] = max(r["locked_until"], locks.get(person, r["locked_until"]))
    return [{**row, "locked_until": locks.get(f"user:{row['id']}")} for row in rows]


async def unlockers() -> list[str]:
    """The first names of the active managers: who a locked-out person can ask."""
    rows = (
        await Staff.select(Staff.name)
        .where(Staff.role == MANAGER)
        .where(Staff.active.eq(True))
        .where(Staff.pin_pending.eq(False))
        .order_by(Staff.name)
    )
    return [first_name(r["name"]) for r in rows]


async def create_staff(
    username: str, name: str, role: str, pin_hash: str, pin_pending: bool = False
) -> Staff:
    """Insert a staff member (call inside a command); a taken username is a Conflict."""
    if await Staff.exists().where(Staff.username == username):
        raise workshop.Conflict(
            f"The username “{username}” is taken: choose another.",
            code="staff.username_taken",
            params={"username": username},
            field="username",
        )
    row = Staff(
        username=username,
        name=name,
        role=role,
        pin_hash=pin_hash,
        active=True,
        pin_pending=pin_pending,
        created_at=now(),
    )
    await row.save()
    return row


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "username", "name", "role", "active", "pin_pending")
    return {k: row[k] for k in keys}


async def add(username: str, name: str, role: str, pin_hash: str, pin_pending: bool = False) -> Outcome:
    """Add a staff member with a hashed first PIN, chosen by the manager or one-time (event
    staff.added)."""
    row = await create_staff(username, name, role, pin_hash, pin_pending)
    body = {
        "id": row.id,
        "username": row.username,
        "name": row.name,
        "role": row.role,
        "active": True,
        "pin_pending": pin_pending,
    }
    return Outcome(201, body, [events.staff_added(int(row.id), row.role)])


async def add_staff(username: str, name: str, role: str, pin_hash: str) -> int:
    """`python -m api staff add`, through the command path (event staff.added)."""
    reply = await db.with_engine(lambda: execute(lambda: add(username, name, role, pin_hash), actor="cli"))
    return int(reply.body["id"])


async def _person(staff_id: int) -> dict[str, Any]:
    row = await Staff.select().where(Staff.id == staff_id).first()
    if row is None:
        raise workshop.NotFound(
            f"Staff member {staff_id} does not exist.", code="staff.not_found", params={"id": staff_id}
        )
    return row


async def _end_sessions(staff_id: int) -> list[NewEvent]:
    """End the person's open sessions: each one's live streams close (4401) on every worker, as at a
    sign-out, and its tablet asks for sign-in at its next request."""
    open_ = (
        await StaffSession.select(StaffSession.id)
        .where(StaffSession.staff == staff_id)
        .where(StaffSession.ended_at.is_null())
    )
    ids = [int(r["id"]) for r in open_]
    if ids:
        await StaffSession.update({StaffSession.ended_at: now()}).where(StaffSession.id.is_in(ids))
    return [events.staff_signed_out(staff_id, session) for session in ids]


async def deactivate(staff_id: int, by: int) -> Outcome:
    """Stop someone signing in (people are never deleted: their work stays theirs). Not oneself, and
    never the last active manager. Ends their sessions. Already inactive: nothing to do."""
    row = await _person(staff_id)
    if staff_id == by:
        raise workshop.Conflict(
            "You cannot deactivate yourself: ask another manager.", code="staff.deactivate_self"
        )
    if not row["active"]:
        return Outcome(200, _shown(row))
    if row["role"] == MANAGER:
        others = (
            await Staff.count()
            .where(Staff.role == MANAGER)
            .where(Staff.active.eq(True))
            .where(Staff.id != staff_id)
        )
        if others == 0:
            raise workshop.Conflict(
                "This is the last active manager: make someone else manager first.",
                code="staff.last_manager",
            )
    await Staff.update({Staff.active: False}).where(Staff.id == staff_id)
    ended = await _end_sessions(staff_id)
    return Outcome(200, _shown({**row, "active": False}), [events.staff_deactivated(staff_id, by), *ended])


async def activate(staff_id: int, by: int) -> Outcome:
    """Let someone sign in again, with the PIN they had. Already active: nothing to do."""
    row = await _person(staff_id)
    if row["active"]:
        return Outcome(200, _shown(row))
    await Staff.update({Staff.active: True}).where(Staff.id == staff_id)
    return Outcome(200, _shown({**row, "active": True}), [events.staff_activated(staff_id, by)])


async def reset_pin(staff_id: int, pin_hash: str, pin_pending: bool, by: int) -> Outcome:
    """A new PIN for someone who forgot theirs (or whose PIN others saw): set by the manager, or
    one-time (`pin_pending`: they choose their own at the next sign-in). Their sessions end (whoever
    knew the old PIN is out) and any lockout is lifted. Not one's own: a manager who lost the
    one-time PIN would be locked out with nobody to help."""
    row = await _person(staff_id)
    if staff_id == by:
        raise workshop.Conflict(
            "You cannot reset your own PIN: ask another manager.", code="staff.reset_self"
        )
    await Staff.update({Staff.pin_hash: pin_hash, Staff.pin_pending: pin_pending}).where(Staff.id == staff_id)
    await auth.clear_throttle(f"user:{staff_id}")
    await auth.clear_throttle(f"user:{staff_id}:known")
    ended = await _end_sessions(staff_id)
    body = _shown({**row, "pin_pending": pin_pending})
    return Outcome(200, body, [events.staff_pin_reset(staff_id, pin_pending, by), *ended])


async def unlock(staff_id: int, by: int) -> Outcome:
    """Lift a PIN lockout at once (a colleague typed wrong PINs at someone else's tile)."""
    await _person(staff_id)
    await auth.clear_throttle(f"user:{staff_id}")
    await auth.clear_throttle(f"user:{staff_id}:known")
    return Outcome(200, {"unlocked": staff_id}, [events.staff_unlocked(staff_id, by)])
