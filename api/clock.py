"""Clock taps as use cases: start (or switch), stop, and stop everything at the end of a day.

Each runs inside a command (api.commands.execute): one read of what the tap can change (the
person's open working day and entries, the jobs and orders concerned: api.clockstore.load), the
rules (api.workshop) say whether the tap is taken, the tap is kept and the person's entries in that
window re-derived (api.clockstore, api.clockbook), and the Outcome answers with the entries it
changed and announces them, built from what was read. Routes call these for a tablet's
tap; `python -m api demo` with the demo's times; the runaway-timer guard (api.autostop) and the end
of a working day (api.attendance) call `stop_all`. No web imports.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from api import clockbook, clockstore, events, jobs, parts, readmodels, workday, workshop
from api.commands import Outcome, now
from api.events import NewEvent


def tap_key(staff_id: int, idempotency_key: str, suffix: str = "") -> str:
    """A tap's identity: its Idempotency-Key scoped to the person, so a replay is one tap."""
    return hashlib.sha256(f"staff:{staff_id}\x00{idempotency_key}{suffix}".encode()).hexdigest()


async def _moment(
    job_id: int, received: datetime, device_time: datetime | None, sent: datetime | None
) -> tuple[datetime, bool]:
    """When the tap happened (clockbook.effective_time). A time we cannot take on a job that does
    not exist is answered for the job first, as every other refusal of a tap is."""
    try:
        return clockbook.effective_time(received, device_time, sent)
    except workshop.Invalid:
        await jobs.require(job_id)
        raise


def days_of(window: clockstore.Window) -> workday.Days:
    return workday.Days(window.day, window.last_out)


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
    received = now()
    at, skewed = await _moment(job_id, received, device_time, sent)
    window = await clockstore.load(person, at, job_id)
    job = window.job(job_id)
    running = window.open_entry
    open_job = window.facts(running["job"]) if running else None
    # Only whether the tap is taken: the job's state follows from the fold of all taps (a late tap
    # may land before others), in clockstore.settle_jobs.
    workshop.clock_on(window.facts(job_id), person, open_job, switch=switch, late=device_time is not None)
    before = window.stages()
    day, day_events = await workday.open_for_job(person, at, days_of(window))
    folded = await clockstore.append(
        window,
        key=key,
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
    outcome = _tapped(events.CLOCK_ON, person, window, folded, before, job_id)
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
    part_id: int | None = None,
) -> Outcome:
    """Stop `person`'s clock on a job with a reason (`finished` sends the job to QC); waiting for
    parts, `part_id` names the parts line it waits for (api.parts.awaited)."""
    waits_for = await parts.awaited(job_id, part_id, reason, person) if part_id is not None else None
    received = now()
    at, skewed = await _moment(job_id, received, device_time, sent)
    window = await clockstore.load(person, at, job_id)
    job = window.job(job_id)
    running = window.open_entry
    open_job = window.facts(running["job"]) if running else None
    workshop.clock_off(window.facts(job_id), reason, open_job, person, late=device_time is not None)
    before = window.stages()
    folded = await clockstore.append(
        window,
        key=key,
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
            at,
            received,
            job_created=job["created_at"],
            day_started=window.day["clock_in_at"] if window.day else None,
        ),
    )
    outcome = _tapped(events.CLOCK_OFF, person, window, folded, before, job_id)
    if waits_for is not None:
        outcome.events.append(waits_for)
    return outcome


async def stop_all(
    technician: int,
    at: datetime,
    received: datetime,
    key: str,
    actor: str,
    review: tuple[str, ...] = (),
    window: clockstore.Window | None = None,
) -> tuple[list[dict[str, Any]], list[NewEvent]]:
    """Stop whatever job clock runs (flagged auto-stopped): the end of a working day. `window`: the
    person's, read for `at` or earlier (read here when not given). Returns the entries it changed,
    as shown, and the events."""
    window = window or await clockstore.load(technician, at)
    if window.open_entry is None:
        return [], []
    before = window.stages()
    folded = await clockstore.append(
        window, key=key, kind="stop_all", at=at, received=received, actor=actor, review=review
    )
    entries, _, announced = _announce(events.CLOCK_OFF, technician, window, folded, before)
    return entries, announced


def _tapped(
    kind: str,
    person: int,
    window: clockstore.Window,
    folded: clockstore.Refolded,
    before: dict[int, workshop.Stage],
    job_id: int,
) -> Outcome:
    entries, shown, announced = _announce(kind, person, window, folded, before, job_id)
    mine = [e for e in entries if e["job_id"] == job_id]
    # The contract's {"job", "entry"}, and every entry the tap changed (a switch stops another one).
    entry = mine[-1] if mine else None
    return Outcome(200, {"job": shown[job_id], "entry": entry, "entries": entries}, announced)


def _announce(
    kind: str,
    person: int,
    window: clockstore.Window,
    folded: clockstore.Refolded,
    before: dict[int, workshop.Stage],
    job_id: int | None = None,
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]], list[NewEvent]]:
    """Entries as shown, jobs as shown (by id), and the events: the tap once per repair order it
    touched, job.updated for every job whose state moved, stage.changed where a stage moved. All
    from the window as the tap left it: nothing is read again."""
    touched = {e["job"] for e in folded.entries} | set(folded.jobs) | ({job_id} if job_id else set())
    titles = {j: window.jobs[j]["title"] for j in touched}
    ro_of = {j: window.jobs[j]["repair_order"] for j in touched}
    entries = [readmodels.entry_out(e, titles) for e in folded.entries]
    by_ro: dict[int, list[dict[str, Any]]] = {}
    for entry in entries:
        by_ro.setdefault(ro_of[entry["job_id"]], []).append(entry)
    if job_id is not None:
        by_ro.setdefault(ro_of[job_id], [])
    after = window.stages()
    # Why a paused job waits is its last entry's reason (the order read takes the same from
    # clock_entry); the window holds every entry of the jobs concerned.
    last_stop: dict[int, Any] = {}
    for entry in sorted(folded.entries, key=lambda e: (e["started_at"], e.get("id") or 0)):
        last_stop[entry["job"]] = entry["reason"]
    shown: dict[int, dict[str, Any]] = {}
    later: list[NewEvent] = []
    for ro in sorted(set(ro_of.values())):
        here = sorted(j for j in touched if ro_of[j] == ro)
        for jid in here:
            row = window.jobs[jid]
            if jid in last_stop:
                row = {**row, "last_stop": last_stop[jid]}
            shown[jid] = jobs.plain(readmodels.job_out(row))
            if jid in folded.jobs:
                later.append(events.job_updated(ro, shown[jid]))
        if after[ro] is not before[ro]:
            later.append(events.stage_changed(ro, before[ro], after[ro], here))
    taps = []
    for ro, ro_entries in by_ro.items():
        # The tapped job's own entry goes with its own repair order's event.
        own = next((e for e in reversed(ro_entries) if e["job_id"] == job_id), None)
        ro_jobs = [shown[j] for j in sorted(shown) if ro_of[j] == ro]
        taps.append(events.clock_tapped(kind, ro, person, job_id, ro_entries, own, ro_jobs))
    return entries, shown, [*taps, *later]
