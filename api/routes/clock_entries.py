"""Checking clock entries: the technician confirms an auto-stopped timer; a foreman or manager reviews
taps flagged as late or out of place; corrections keep an audit."""

from __future__ import annotations

import functools
import json
import operator
from datetime import datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody
from pydantic import Field

from api import clockbook, clockstore, readmodels, workshop
from api.auth import StaffUser, current_user, requires
from api.commands import NewEvent, Outcome, now
from api.inputs import Id
from api.routes import clockreply
from api.routes.base import run
from api.schemas import Strict
from api.tables import ClockCorrection, ClockEntry

REVIEW_LIST_MAX = 200  # a list to work through on a tablet, not an archive


class CorrectIn(Strict):
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str = Field(max_length=300, description="required: why the times change (kept in the audit)")


async def _entry(entry_id: int) -> dict[str, Any]:
    row = await ClockEntry.select().where(ClockEntry.id == entry_id).first()
    if row is None:
        raise workshop.NotFound(f"Clock entry {entry_id} does not exist.")
    return row


def _times(row: dict[str, Any]) -> dict[str, str | None]:
    started, ended = clockstore.effective(row)
    return {"started_at": started.isoformat(), "ended_at": ended.isoformat() if ended else None}


async def _shown(entry_id: int) -> tuple[dict[str, Any], int]:
    row = await _entry(entry_id)
    titles = await readmodels.job_titles({row["job"]})
    ro = (await clockreply.ros_of({row["job"]}))[row["job"]]
    return readmodels.entry_out(row, titles), ro


def check_may_correct(user: StaffUser, row: dict[str, Any]) -> None:
    """Foremen and managers correct any entry; a technician only their own auto-stopped, unchecked one."""
    if user.role in ("foreman", "manager"):
        return
    if row["technician"] != user.id:
        raise workshop.Forbidden("Only a foreman or manager can correct someone else's clock entry.")
    if not row["auto_stopped"] or row["confirmed_at"] is not None:
        raise workshop.Forbidden(
            "You can correct only your own automatically stopped entries that you have not confirmed; "
            "ask the foreman for this one."
        )


def reviews(user: StaffUser, row: dict[str, Any]) -> bool:
    """Whether this person's look at the entry is the foreman's review it waits for (never one's own)."""
    return user.role in ("foreman", "manager") and row["technician"] != user.id


class ClockEntryController(Controller):
    path = "/api/clock-entries"
    tags = ["jobs"]

    @get("/review", guards=[requires("clock.review")])
    async def review_list(self) -> dict[str, Any]:
        """Entries with taps flagged for review (late, before their job or before the person's working
        day) that no foreman or manager has looked at yet, oldest first."""
        flagged = functools.reduce(
            operator.or_, (ClockEntry.flags.like(f"%{f}%") for f in clockbook.REVIEW_FLAGS)
        )
        rows = (
            await ClockEntry.select(
                *ClockEntry.all_columns(),
                ClockEntry.technician.name,
                ClockEntry.job.title,
                ClockEntry.job.repair_order.number,  # type: ignore[union-attr]
            )
            .where(ClockEntry.reviewed_at.is_null() & flagged)
            .order_by(ClockEntry.started_at)
            .order_by(ClockEntry.id)
            .limit(REVIEW_LIST_MAX)
        )
        entries = []
        for row in rows:
            shown = readmodels.entry_out(row, {row["job"]: row["job.title"]})
            shown["technician_name"] = row["technician.name"]
            shown["repair_order_number"] = row["job.repair_order.number"]
            entries.append(shown)
        return {"entries": entries}

    @post("/{entry_id:int}/review", guards=[requires("clock.review")], status_code=200)
    async def review(self, request: Request, entry_id: Id) -> Response[Any]:
        """A foreman or manager takes a flagged entry as it is (its flags stay, as the evidence)."""
        user = current_user(request)

        async def handler() -> Outcome:
            row = await _entry(entry_id)
            if not reviews(user, row):
                raise workshop.Forbidden(
                    "Someone else reviews your own clock taps: ask the foreman or a manager.",
                    code="clock.own_review",
                )
            if not clockstore.needs_review(row):
                raise workshop.Conflict("This entry has nothing left to review.", code="clock.reviewed")
            at = now()
            await ClockEntry.update({ClockEntry.reviewed_at: at}).where(ClockEntry.id == entry_id)
            await ClockCorrection(
                entry_key=row["on_key"],
                kind="review",
                by=user.id,
                reason=",".join(clockstore.review_of(row)),
                before=json.dumps(_times(row)),
                after=json.dumps(_times(row)),
                at=at,
            ).save()
            shown, ro = await _shown(entry_id)
            return Outcome(200, shown, [NewEvent("clock.reviewed", ro, {"entry": shown, "by": user.id})])

        return await run(request, handler, actor=f"staff:{user.id}", payload={"entry": entry_id})

    @post("/{entry_id:int}/confirm", guards=[requires("clock.confirm")], status_code=200)
    async def confirm(self, request: Request, entry_id: Id) -> Response[Any]:
        """The technician says an automatically stopped entry is right as it is."""
        user = current_user(request)

        async def handler() -> Outcome:
            row = await _entry(entry_id)
            if row["technician"] != user.id:
                raise workshop.Forbidden("You can confirm only your own clock entries.")
            if row["confirmed_at"] is not None:
                raise workshop.Conflict("This entry was already checked.")
            at = now()
            await ClockEntry.update({ClockEntry.confirmed_at: at}).where(ClockEntry.id == entry_id)
            await ClockCorrection(
                entry_key=row["on_key"],
                kind="confirm",
                by=user.id,
                before=json.dumps(_times(row)),
                after=json.dumps(_times(row)),
                at=at,
            ).save()
            shown, ro = await _shown(entry_id)
            return Outcome(200, shown, [NewEvent("clock.confirmed", ro, {"entry": shown})])

        return await run(request, handler, actor=f"staff:{user.id}", payload={"entry": entry_id})

    @post("/{entry_id:int}/correct", guards=[requires("clock.correct")], status_code=200)
    async def correct(self, request: Request, entry_id: Id, data: JSONBody[CorrectIn]) -> Response[Any]:
        """Change an entry's times, with a reason; before and after are kept and announced."""
        user = current_user(request)

        async def handler() -> Outcome:
            row = await _entry(entry_id)
            check_may_correct(user, row)
            reason = data.reason.strip()
            if not reason:
                raise workshop.Invalid("Say why the times change: the reason is kept with the correction.")
            if row["ended_at"] is None:
                raise workshop.Conflict("This clock is still running: stop it before correcting it.")
            started, ended = clockstore.effective(row)
            new_start = data.started_at or started
            new_end = data.ended_at or ended
            assert new_end is not None
            for value in (new_start, new_end):
                if value.tzinfo is None:
                    raise workshop.Invalid("Times need a UTC offset, e.g. 2026-11-22T17:30:00+08:00.")
            if new_end <= new_start:
                raise workshop.Invalid("The end must be after the start.")
            if new_end > now():
                raise workshop.Invalid("The end is in the future: a correction records what happened.")
            if (new_start, new_end) == (started, ended):
                raise workshop.Conflict("Those are already the entry's times.")
            await _no_overlap(row, new_start, new_end)
            before = _times(row)
            changes: dict[Any, Any] = {
                ClockEntry.corrected_started_at: new_start,
                ClockEntry.corrected_ended_at: new_end,
                ClockEntry.corrected: True,
                ClockEntry.confirmed_at: now(),
            }
            if reviews(user, row):
                changes[ClockEntry.reviewed_at] = now()  # a correction is the foreman's review too
            await ClockEntry.update(changes).where(ClockEntry.id == entry_id)
            after = _times(await _entry(entry_id))
            await ClockCorrection(
                entry_key=row["on_key"],
                kind="correct",
                by=user.id,
                reason=reason,
                before=json.dumps(before),
                after=json.dumps(after),
                at=now(),
            ).save()
            shown, ro = await _shown(entry_id)
            audit = {"entry": shown, "before": before, "after": after, "reason": reason, "by": user.id}
            return Outcome(200, shown, [NewEvent("clock.corrected", ro, audit)])

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))


async def _no_overlap(row: dict[str, Any], start: datetime, end: datetime) -> None:
    """A correction must not make two entries of one person overlap."""
    margin = timedelta(days=2)  # corrections move times by hours, not days: look near the new span
    others = await ClockEntry.select().where(
        (ClockEntry.technician == row["technician"])
        & (ClockEntry.id != row["id"])
        & (ClockEntry.started_at < end + margin)
        & ((ClockEntry.ended_at.is_null()) | (ClockEntry.ended_at > start - margin))
    )
    for other in others:
        a, b = clockstore.effective(other)
        if a < end and (b is None or b > start):
            raise workshop.Conflict(
                f"That overlaps another entry of the same person ({a.isoformat()} – "
                f"{b.isoformat() if b else 'running'}).",
                entry_id=other["id"],
            )
