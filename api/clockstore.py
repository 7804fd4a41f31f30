"""Clock taps in the database: append the event, re-derive the technician's entries, move job states.

Runs inside a command's write transaction (api.commands.execute). No web imports.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api import clockbook
from api.tables import ClockEntry, ClockEvent, Job, QcRecord
from api.workshop import JobState


@dataclass
class Refolded:
    """What one re-derivation changed: entries (as rows after the change) and jobs whose state moved."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[int, tuple[str, str]] = field(default_factory=dict)  # job → (state before, state after)


def new_key() -> str:
    """A key for events the server itself causes (auto-stops), unique like a scoped Idempotency-Key."""
    return "srv-" + uuid.uuid4().hex


async def append(
    *,
    key: str,
    technician: int,
    kind: clockbook.Kind,
    at: datetime,
    received: datetime,
    actor: str,
    job: int | None = None,
    reason: str | None = None,
    device_at: datetime | None = None,
    device_sent_at: datetime | None = None,
    skewed: bool = False,
    review: tuple[str, ...] = (),
) -> Refolded:
    """Keep one accepted tap (with why a foreman should look at it, if anything) and re-derive what
    it changes."""
    await ClockEvent(
        key=key,
        technician=technician,
        job=job,
        kind=kind,
        at=at,
        reason=reason,
        device_at=device_at,
        device_sent_at=device_sent_at,
        received_at=received,
        skewed=skewed,
        actor=actor,
        review=",".join(review),
    ).save()
    return await refold(technician, at)


def _flags(text: str) -> tuple[str, ...]:
    return tuple(f for f in text.split(",") if f)


async def refold(technician: int, since: datetime) -> Refolded:
    """Re-derive the technician's entries from `since` on (back to the start of any entry running then).

    Nothing before the window can change: the fold is in time order, and the window starts where
    no clock of this technician was running.
    """
    reaching = await ClockEntry.select(ClockEntry.started_at).where(
        (ClockEntry.technician == technician)
        & ((ClockEntry.ended_at.is_null()) | (ClockEntry.ended_at >= since))
    )
    start = min([since, *(r["started_at"] for r in reaching)])
    events = await ClockEvent.select().where((ClockEvent.technician == technician) & (ClockEvent.at >= start))
    skewed = {e["key"] for e in events if e["skewed"]}
    review = {e["key"]: _flags(e["review"] or "") for e in events}
    device = {e["key"]: e["device_at"] for e in events}
    book = clockbook.fold(
        clockbook.ClockEvent(key=e["key"], kind=e["kind"], at=e["at"], job=e["job"], reason=e["reason"])
        for e in events
    )
    existing = {
        r["on_key"]: r
        for r in await ClockEntry.select().where(
            (ClockEntry.technician == technician) & (ClockEntry.started_at >= start)
        )
    }
    wanted: dict[str, dict[str, Any]] = {}
    for i in book.intervals:
        flags = list(i.flags)
        if i.key in skewed or (i.end_key in skewed):
            flags.append("clock_skew")
        reasons = {*review.get(i.key, ()), *(review.get(i.end_key, ()) if i.end_key else ())}
        flags.extend(f for f in clockbook.REVIEW_FLAGS if f in reasons)
        wanted[i.key] = {
            "job": i.job,
            "started_at": i.start,
            "ended_at": i.end,
            "reason": i.reason,
            "auto_stopped": i.auto_stopped,
            "flags": ",".join(flags),
            "device_started_at": device.get(i.key),
            "device_ended_at": device.get(i.end_key) if i.end_key else None,
        }
    result = Refolded()
    touched_jobs: set[int] = set()
    # Order matters for the one-open-clock index: remove and close before anything opens.
    for key, gone in existing.items():
        if key not in wanted:
            await ClockEntry.delete().where(ClockEntry.id == gone["id"])
            touched_jobs.add(gone["job"])
    ordered = sorted(wanted.items(), key=lambda kv: kv[1]["ended_at"] is None)
    for key, values in ordered:
        row = existing.get(key)
        if row is not None and all(row[k] == v for k, v in values.items()):
            continue
        if row is None:
            entry = ClockEntry(technician=technician, on_key=key, **values)
            await entry.save()
            entry_id = int(entry.id)
        else:
            entry_id = row["id"]
            changes = {getattr(ClockEntry, k): v for k, v in values.items()}
            # A reason the foreman has not seen yet puts a reviewed entry back on their list.
            if set(review_of(values)) - set(review_of(row)):
                changes[ClockEntry.reviewed_at] = None
            await ClockEntry.update(changes).where(ClockEntry.id == entry_id)
        touched_jobs.add(values["job"])
        if row is not None:
            touched_jobs.add(row["job"])
        after = await ClockEntry.select().where(ClockEntry.id == entry_id).first()
        assert after is not None
        result.entries.append(after)
    result.jobs = await settle_jobs(touched_jobs)
    return result


async def settle_jobs(job_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Move each job to the state its clock intervals since its last quality check mean."""
    moved: dict[int, tuple[str, str]] = {}
    for job_id in sorted(job_ids):
        job = await Job.select(Job.state).where(Job.id == job_id).first()
        if job is None:
            continue
        last_qc = (
            await QcRecord.select(QcRecord.signed_at)
            .where(QcRecord.job == job_id)
            .order_by(QcRecord.signed_at, ascending=False)
            .first()
        )
        query = ClockEntry.select().where(ClockEntry.job == job_id)
        if last_qc is not None:
            query = query.where(ClockEntry.started_at >= last_qc["signed_at"])
        intervals = [
            clockbook.Interval(
                key=r["on_key"], job=job_id, start=r["started_at"], end=r["ended_at"], reason=r["reason"]
            )
            for r in await query
        ]
        before = JobState(job["state"])
        after = clockbook.job_state_after(before, intervals)
        if after is not before:
            await Job.update({Job.state: after.value}).where(Job.id == job_id)
            moved[job_id] = (before.value, after.value)
    return moved


async def open_entry(technician: int) -> dict[str, Any] | None:
    """The technician's running clock entry, if any (at most one: partial unique index)."""
    return (
        await ClockEntry.select()
        .where((ClockEntry.technician == technician) & ClockEntry.ended_at.is_null())
        .first()
    )


def effective(row: dict[str, Any]) -> tuple[datetime, datetime | None]:
    """An entry's times as payroll sees them: a correction wins over what the tablets said."""
    started = row.get("corrected_started_at") or row["started_at"]
    ended = row.get("corrected_ended_at") or row["ended_at"]
    return started, ended


def flags_of(row: dict[str, Any]) -> list[str]:
    return list(_flags(row.get("flags") or ""))


def review_of(row: dict[str, Any]) -> list[str]:
    """Why a foreman should look at this entry (clockbook.REVIEW_FLAGS order); empty: nothing odd."""
    flags = flags_of(row)
    return [f for f in clockbook.REVIEW_FLAGS if f in flags]


def needs_review(row: dict[str, Any]) -> bool:
    return bool(review_of(row)) and row.get("reviewed_at") is None
