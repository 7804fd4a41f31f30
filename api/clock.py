"""Clock taps as use cases: start (or switch), stop, and stop everything at the end of a day.

Each runs inside a command (api.commands.execute): the rules (api.workshop) say whether the tap is
taken, the tap is kept and the person's entries re-derived (api.clockstore, api.clockbook), and the
Outcome answers with the entries it changed and announces them. Routes call these for a tablet's
tap; `python -m api demo` with the demo's times; the runaway-timer guard (api.autostop) and the end
of a working day (api.attendance) call `stop_all`. No web imports.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from api import clockbook, clockstore, events, jobs, readmodels, repair_orders, workday, workshop
from api.commands import Outcome, now
from api.events import NewEvent
from api.tables import Job


def tap_key(staff_id: int, idempotency_key: str, suffix: str = "") -> str:
    """A tap's identity: its Idempotency-Key scoped to the person, so a replay is one tap."""
    return hashlib.sha256(f"staff:{staff_id}\x00{idempotency_key}{suffix}".encode()).hexdigest()


async def ros_of(job_ids: set[int]) -> dict[int, int]:
    """job → repair order."""
    if not job_ids:
        return {}
    rows = await Job.select(Job.id, Job.repair_order).where(Job.id.is_in(sorted(job_ids)))
    return {r["id"]: r["repair_order"] for r in rows}


async def stages_before(job_ids: set[int]) -> dict[int, workshop.Stage]:
    """The stage of every repair order a tap can touch, read before the tap is written."""
    return {ro: await readmodels.current_stage(ro) for ro in set((await ros_of(job_ids)).values())}


async def start_job(
    person: int,
    job_id: int,
    *,
    key: str,
    device_time: datetime | None = None,
    sent: datetime | None = None,
    switch: bool = False,
    actor: str | None = None,
) -> Outcome:
    """Start `person`'s clock on a job (with `switch`, stopping one running elsewhere). The working
    day opens with it when it is not open. `device_time`/`sent`: the tablet's clock when tapped and
    when sent (None: now, on the server's clock)."""
    job = await jobs.require(job_id)
    received = now()
    at, skewed = clockbook.effective_time(received, device_time, sent)
    open_entry = await clockstore.open_entry(person)
    open_job = jobs.facts(await jobs.require(open_entry["job"])) if open_entry else None
    # Only whether the tap is taken: the job's state follows from the fold of all taps (a late tap
    # may land before others), in clockstore.settle_jobs.
    workshop.clock_on(jobs.facts(job), person, open_job, switch=switch, late=device_time is not None)
    before = await stages_before({job_id} | ({open_entry["job"]} if open_entry else set()))
    day, day_events = await workday.open_for_job(person, at)
    folded = await clockstore.append(
        key=key,
        technician=person,
        kind="on",
        job=job_id,
        at=at,
        received=received,
        actor=actor or f"staff:{person}",
        device_at=device_time,
        device_sent_at=sent,
        skewed=skewed,
        review=clockbook.review_reasons(
            at, received, job_created=job["created_at"], day_started=day["clock_in_at"] if day else None
        ),
    )
    outcome = await _tapped(events.CLOCK_ON, person, folded, before, job_id)
    outcome.events[:0] = day_events
    return outcome


async def stop_job(
    person: int,
    job_id: int,
    reason: str,
    *,
    key: str,
    device_time: datetime | None = None,
    sent: datetime | None = None,
    actor: str | None = None,
) -> Outcome:
    """Stop `person`'s clock on a job with a reason (`finished` sends the job to QC)."""
    job = await jobs.require(job_id)
    received = now()
    at, skewed = clockbook.effective_time(received, device_time, sent)
    open_entry = await clockstore.open_entry(person)
    open_job = jobs.facts(await jobs.require(open_entry["job"])) if open_entry else None
    workshop.clock_off(jobs.facts(job), reason, open_job, person, late=device_time is not None)
    before = await stages_before({job_id} | ({open_entry["job"]} if open_entry else set()))
    day = await workday.open_attendance(person)
    folded = await clockstore.append(
        key=key,
        technician=person,
        kind="off",
        job=job_id,
        at=at,
        received=received,
        actor=actor or f"staff:{person}",
        reason=reason,
        device_at=device_time,
        device_sent_at=sent,
        skewed=skewed,
        review=clockbook.review_reasons(
            at, received, job_created=job["created_at"], day_started=day["clock_in_at"] if day else None
        ),
    )
    return await _tapped(events.CLOCK_OFF, person, folded, before, job_id)


async def stop_all(
    technician: int,
    at: datetime,
    received: datetime,
    key: str,
    actor: str,
    review: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any]], list[NewEvent]]:
    """Stop whatever job clock runs (flagged auto-stopped): the end of a working day. Returns the
    entries it changed, as shown, and the events."""
    running = await clockstore.open_entry(technician)
    if running is None:
        return [], []
    before = await stages_before({running["job"]})
    folded = await clockstore.append(
        key=key, technician=technician, kind="stop_all", at=at, received=received, actor=actor, review=review
    )
    entries, _, announced = await _announce(events.CLOCK_OFF, technician, folded, before)
    return entries, announced


async def _tapped(
    kind: str, person: int, folded: clockstore.Refolded, before: dict[int, workshop.Stage], job_id: int
) -> Outcome:
    entries, shown, announced = await _announce(kind, person, folded, before, job_id)
    mine = [e for e in entries if e["job_id"] == job_id]
    # The contract's {"job", "entry"}, and every entry the tap changed (a switch stops another one).
    entry = mine[-1] if mine else None
    return Outcome(200, {"job": shown[job_id], "entry": entry, "entries": entries}, announced)


async def _announce(
    kind: str,
    person: int,
    folded: clockstore.Refolded,
    before: dict[int, workshop.Stage],
    job_id: int | None = None,
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]], list[NewEvent]]:
    """Entries as shown, jobs as shown (by id), and the events: the tap once per repair order it
    touched, job.updated for every job whose state moved, stage.changed where a stage moved."""
    touched = {e["job"] for e in folded.entries} | set(folded.jobs) | ({job_id} if job_id else set())
    titles = await readmodels.job_titles(touched)
    ro_of = await ros_of(touched)
    entries = [readmodels.entry_out(e, titles) for e in folded.entries]
    by_ro: dict[int, list[dict[str, Any]]] = {}
    for entry in entries:
        by_ro.setdefault(ro_of[entry["job_id"]], []).append(entry)
    if job_id is not None:
        by_ro.setdefault(ro_of[job_id], [])
    shown: dict[int, dict[str, Any]] = {}
    later: list[NewEvent] = []
    for ro in sorted(set(ro_of.values())):
        rows = {r["id"]: r for r in (await readmodels.jobs_of([ro]))[ro]}
        for jid in sorted(j for j in touched if ro_of[j] == ro):
            shown[jid] = jobs.plain(readmodels.job_out(rows[jid]))
            if jid in folded.jobs:
                later.append(events.job_updated(ro, shown[jid]))
        if ro in before:
            later.extend(
                await repair_orders.stage_events(ro, before[ro], [j for j in touched if ro_of[j] == ro])
            )
    taps = []
    for ro, ro_entries in by_ro.items():
        # The tapped job's own entry goes with its own repair order's event.
        own = next((e for e in reversed(ro_entries) if e["job_id"] == job_id), None)
        ro_jobs = [shown[j] for j in sorted(shown) if ro_of[j] == ro]
        taps.append(events.clock_tapped(kind, ro, person, job_id, ro_entries, own, ro_jobs))
    return entries, shown, [*taps, *later]
