"""Checking clock entries as use cases: the technician confirms an auto-stopped timer; a foreman or
manager reviews taps flagged as late or out of place; corrections keep an audit.

Commands run inside api.commands.execute. No web imports.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from api import clockstore, events, readmodels, workshop
from api.commands import Outcome, now
from api.tables import ClockCorrection, ClockEntry

REVIEW_LIST_MAX = 200  # a list to work through on a tablet, not an archive
CHECKERS = ("foreman", "manager")


async def _entry(entry_id: int) -> dict[str, Any]:
    """The entry with its job's title and repair order (what it is shown and announced with)."""
    row = (
        await ClockEntry.select(*ClockEntry.all_columns(), ClockEntry.job.title, ClockEntry.job.repair_order)
        .where(ClockEntry.id == entry_id)
        .first()
    )
    if row is None:
        raise workshop.NotFound(
            f"Clock entry {entry_id} does not exist.", code="clock.entry_not_found", params={"id": entry_id}
        )
    return row


def _times(row: dict[str, Any]) -> dict[str, str | None]:
    started, ended = clockstore.effective(row)
    return {"started_at": started.isoformat(), "ended_at": ended.isoformat() if ended else None}


def _shown(row: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The entry as staff see it (after the change written from `row`), and its repair order."""
    return readmodels.entry_out(row, {row["job"]: row["job.title"]}), row["job.repair_order"]


def check_may_correct(by: int, role: str, row: dict[str, Any]) -> None:
    """Foremen and managers correct any entry; a technician only their own auto-stopped, unchecked one."""
    if role in CHECKERS:
        return
    if row["technician"] != by:
        raise workshop.Forbidden(
            "Only a foreman or manager can correct someone else's clock entry.", code="clock.correct_others"
        )
    if not row["auto_stopped"] or row["confirmed_at"] is not None:
        raise workshop.Forbidden(
            "You can correct only your own automatically stopped entries that you have not confirmed; "
            "ask the foreman for this one.",
            code="clock.correct_own_auto",
        )


def reviews(by: int, role: str, row: dict[str, Any]) -> bool:
    """Whether this person's look at the entry is the foreman's review it waits for (never one's own)."""
    return role in CHECKERS and row["technician"] != by


# The waiting entries in order, from the partial index on review_queued; each one's names looked up
# by key (a scalar subquery each: never a join a planner could run over every job and order).
_REVIEW_ENTRY = clockstore.json_object(
    ClockEntry,
    "ce",
    {
        "technician.name": '(SELECT s."name" FROM "staff" s WHERE s."id" = ce."technician")',
        "job.title": '(SELECT j."title" FROM "job" j WHERE j."id" = ce."job")',
        "job.repair_order.number": '(SELECT r."number" FROM "repair_order" r WHERE r."id" = '
        '(SELECT j."repair_order" FROM "job" j WHERE j."id" = ce."job"))',
    },
)
_REVIEW_SQL = f"""
SELECT 'entry' AS part, {_REVIEW_ENTRY} AS data
FROM "clock_entry" ce
WHERE ce."review_queued" IS NOT NULL AND ce."technician" <> :by
ORDER BY ce."review_queued", ce."id"
LIMIT {REVIEW_LIST_MAX}
"""  # noqa: S608 - column names and a constant; the person is a parameter


async def review_list(by: int) -> dict[str, Any]:
    """Entries with taps flagged for review (late, before their job or before the person's working
    day) that no foreman or manager has looked at yet, oldest first. Not `by`'s own: someone else
    reviews those (`reviews`), so offering them would only lead to a refusal. Only the waiting
    entries are read, in order, from their partial index (ClockEntry.review_queued: the start of
    an entry while it waits, so the order is the entries' start, then id)."""
    rows = await clockstore.json_rows(_REVIEW_SQL, by=by)
    entries = []
    for _, found in rows:
        row = clockstore.typed(ClockEntry, found)
        shown = readmodels.entry_out(row, {row["job"]: row["job.title"]})
        shown["technician_name"] = row["technician.name"]
        shown["repair_order_number"] = row["job.repair_order.number"]
        entries.append(shown)
    return {"entries": entries}


async def review(entry_id: int, by: int, role: str) -> Outcome:
    """A foreman or manager takes a flagged entry as it is (its flags stay, as the evidence)."""
    row = await _entry(entry_id)
    if not reviews(by, role, row):
        raise workshop.Forbidden(
            "Someone else reviews your own clock taps: ask the foreman or a manager.",
            code="clock.own_review",
        )
    if not clockstore.needs_review(row):
        raise workshop.Conflict("This entry has nothing left to review.", code="clock.reviewed")
    at = now()
    await ClockEntry.update({ClockEntry.reviewed_at: at, ClockEntry.review_queued: None}).where(
        ClockEntry.id == entry_id
    )
    row = {**row, "reviewed_at": at, "review_queued": None}
    await ClockCorrection(
        entry_key=row["on_key"],
        kind="review",
        by=by,
        reason=",".join(clockstore.review_of(row)),
        before=json.dumps(_times(row)),
        after=json.dumps(_times(row)),
        at=at,
    ).save()
    shown, ro = _shown(row)
    return Outcome(200, shown, [events.clock_reviewed(ro, shown, by)])


async def confirm(entry_id: int, by: int) -> Outcome:
    """The technician says an automatically stopped entry is right as it is."""
    row = await _entry(entry_id)
    if row["technician"] != by:
        raise workshop.Forbidden("You can confirm only your own clock entries.", code="clock.confirm_own")
    if row["confirmed_at"] is not None:
        raise workshop.Conflict("This entry was already checked.", code="clock.confirmed")
    at = now()
    await ClockEntry.update({ClockEntry.confirmed_at: at}).where(ClockEntry.id == entry_id)
    row = {**row, "confirmed_at": at}
    await ClockCorrection(
        entry_key=row["on_key"],
        kind="confirm",
        by=by,
        before=json.dumps(_times(row)),
        after=json.dumps(_times(row)),
        at=at,
    ).save()
    shown, ro = _shown(row)
    return Outcome(200, shown, [events.clock_confirmed(ro, shown)])


async def correct(
    entry_id: int, by: int, role: str, started_at: datetime | None, ended_at: datetime | None, reason: str
) -> Outcome:
    """Change an entry's times, with a reason; before and after are kept and announced."""
    row = await _entry(entry_id)
    check_may_correct(by, role, row)
    reason = reason.strip()
    if not reason:
        raise workshop.Invalid(
            "Say why the times change: the reason is kept with the correction.",
            code="clock.correction_reason",
            field="reason",
        )
    if row["ended_at"] is None:
        raise workshop.Conflict(
            "This clock is still running: stop it before correcting it.", code="clock.still_running"
        )
    started, ended = clockstore.effective(row)
    new_start = started_at or started
    new_end = ended_at or ended
    assert new_end is not None
    for value in (new_start, new_end):
        if value.tzinfo is None:
            raise workshop.Invalid(
                "Times need a UTC offset, e.g. 2026-11-22T17:30:00+08:00.",
                code="request.naive_time",
                params={"field": "started_at" if value is new_start else "ended_at"},
            )
    new_start, new_end = new_start.astimezone(UTC), new_end.astimezone(UTC)
    at = now()
    if new_end <= new_start:
        raise workshop.Invalid(
            "The end must be after the start.", code="clock.end_before_start", field="ended_at"
        )
    if new_end > at:
        raise workshop.Invalid(
            "The end is in the future: a correction records what happened.",
            code="clock.end_in_future",
            field="ended_at",
        )
    if (new_start, new_end) == (started, ended):
        raise workshop.Conflict("Those are already the entry's times.", code="clock.times_unchanged")
    await _no_overlap(row, new_start, new_end)
    before = _times(row)
    changes: dict[str, Any] = {
        "corrected_started_at": new_start,
        "corrected_ended_at": new_end,
        "corrected": True,
        "confirmed_at": at,
    }
    if reviews(by, role, row):
        changes["reviewed_at"] = at  # a correction is the foreman's review too
        changes["review_queued"] = None
    # Only this entry changes: the derived times and every other entry stay as they are.
    await ClockEntry.update({getattr(ClockEntry, k): v for k, v in changes.items()}).where(
        ClockEntry.id == entry_id
    )
    row = {**row, **changes}
    after = _times(row)
    await ClockCorrection(
        entry_key=row["on_key"],
        kind="correct",
        by=by,
        reason=reason,
        before=json.dumps(before),
        after=json.dumps(after),
        at=at,
    ).save()
    shown, ro = _shown(row)
    return Outcome(200, shown, [events.clock_corrected(ro, shown, before, after, reason, by)])


async def _no_overlap(row: dict[str, Any], start: datetime, end: datetime) -> None:
    """A correction must not make two entries of one person overlap."""
    margin = timedelta(days=2)  # corrections move times by hours, not days: look near the new span
    # Raw entries last less than a day (the runaway-timer guard): one starting before this bound
    # ends before the span, so the person's older history is never read.
    others = await ClockEntry.select().where(
        (ClockEntry.technician == row["technician"])
        & (ClockEntry.id != row["id"])
        & (ClockEntry.started_at > start - 2 * margin)
        & (ClockEntry.started_at < end + margin)
        & ((ClockEntry.ended_at.is_null()) | (ClockEntry.ended_at > start - margin))
    )
    for other in others:
        a, b = clockstore.effective(other)
        if a < end and (b is None or b > start):
            raise workshop.Conflict(
                f"That overlaps another entry of the same person ({a.isoformat()} – "
                f"{b.isoformat() if b else 'running'}).",
                code="clock.overlap",
                entry_id=other["id"],
            )
