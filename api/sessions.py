"""Staff sessions as use cases: charging a sign-in attempt to its throttles, opening a session on
the right PIN, ending one. The PIN check itself (argon2, in threads) stays with the route.

Commands run inside api.commands.execute. No web imports.
"""

from __future__ import annotations

from api import auth, events, workshop
from api.commands import Outcome, now
from api.events import NewEvent
from api.tables import Staff, StaffSession


async def charge(keys: list[tuple[str, int]], staff: Staff | None, subject: str, known: bool) -> Outcome:
    """Charge a sign-in attempt before it is evaluated (its own command, committed even when the PIN
    is wrong): 429 with `until` when a counter is locked, else 200.

    The counters are charged in the order of `keys`, up to the first one that is locked: what comes
    after it is not charged (nor written) for an attempt that is refused anyway.
    """
    if auth.pruning.due():
        await auth.forget_old_throttles()
    announced: list[NewEvent] = []
    for key, free in keys:
        until, started = await auth.charge_attempt(key, free)
        if until is not None:
            # `person`: the lock is on the person (a manager can lift it), not on a device or an
            # address. An unknown username is locked like a real one: same answer.
            person = key.startswith(("user:", "name:"))
            return Outcome(429, {"until": until.isoformat(), "person": person}, announced)
        if started and staff is not None and key in (subject, f"{subject}:known"):
            announced.append(events.staff_locked_out(int(staff.id), known))
    return Outcome(200, {"until": None}, announced)


async def open_session(
    keys: list[tuple[str, int]], staff: Staff, token: str, device: str, old_token: str | None
) -> Outcome:
    """The right PIN: clear the counters, end the browser's old session, open a new one."""
    at = now()
    for key, free in keys:
        if key.startswith("addr:"):
            await auth.refund_attempt(key, free)  # others on that address keep their count
        else:
            await auth.clear_throttle(key)
    ended: int | None = None
    if old_token:
        old = (
            await StaffSession.select(StaffSession.id)
            .where(StaffSession.token_hash == auth.token_hash(old_token))
            .where(StaffSession.ended_at.is_null())
            .first()
        )
        if old is not None:
            await StaffSession.update({StaffSession.ended_at: at}).where(StaffSession.id == old["id"])
            ended = old["id"]  # its live streams close (api/realtime/hub.py)
    await StaffSession(
        token_hash=auth.token_hash(token),
        staff=staff.id,
        device_id=device,
        created_at=at,
        last_seen_at=at,
    ).save()
    user = {"id": staff.id, "username": staff.username, "name": staff.name, "role": staff.role}
    body: dict[str, object] = {"user": user}
    if staff.pin_pending:
        # A one-time PIN: this session is good only for choosing one's own (auth.pending_session).
        body["must_choose_pin"] = True
    return Outcome(200, body, [events.staff_signed_in(int(staff.id), ended)])


async def choose_pin(staff_id: int, pin_hash: str) -> Outcome:
    """The person's own PIN, after a one-time one: from now on their session is like any other."""
    row = (
        await Staff.select(Staff.id, Staff.username, Staff.name, Staff.role, Staff.pin_pending)
        .where(Staff.id == staff_id)
        .first()
    )
    if row is None or not row["pin_pending"]:
        raise workshop.Conflict("Your PIN is already chosen: sign in with it.", code="auth.pin_chosen")
    await Staff.update({Staff.pin_hash: pin_hash, Staff.pin_pending: False}).where(Staff.id == staff_id)
    user = {k: row[k] for k in ("id", "username", "name", "role")}
    return Outcome(200, {"user": user}, [events.staff_pin_chosen(staff_id)])


async def end_session(staff_id: int, session_id: int) -> Outcome:
    """Sign out: the event also closes the session's live streams, on every worker."""
    await StaffSession.update({StaffSession.ended_at: now()}).where(StaffSession.id == session_id)
    return Outcome(204, None, [events.staff_signed_out(staff_id, session_id)])
