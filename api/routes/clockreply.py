"""What a clock tap answers and announces: the entries it changed, jobs whose state moved, stages."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from litestar import Request

from api import clockstore, readmodels, workshop
from api.commands import NewEvent
from api.routes.base import IDEMPOTENCY_HEADER, stage_events
from api.tables import Job


def event_key(request: Request, staff_id: int, suffix: str = "") -> str:
    """A tap's identity: its Idempotency-Key scoped to the person, so a replay is one event."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if not key:
        return clockstore.new_key()
    return hashlib.sha256(f"staff:{staff_id}\x00{key}{suffix}".encode()).hexdigest()


async def ros_of(job_ids: set[int]) -> dict[int, int]:
    """job → repair order."""
    if not job_ids:
        return {}
    rows = await Job.select(Job.id, Job.repair_order).where(Job.id.is_in(sorted(job_ids)))
    return {r["id"]: r["repair_order"] for r in rows}


async def stages_before(job_ids: set[int]) -> dict[int, workshop.Stage]:
    """The stage of every repair order a tap can touch, read before the tap is written."""
    return {ro: await readmodels.current_stage(ro) for ro in set((await ros_of(job_ids)).values())}


def plain(job: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe (Decimal hours/prices → numbers) so a replayed reply equals the first one."""
    return json.loads(json.dumps(job, default=float))


async def outcome_events(
    kind: str, folded: clockstore.Refolded, before: dict[int, workshop.Stage], job_id: int | None = None
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]], list[NewEvent]]:
    """Entries as shown, jobs as shown (by id), and the events: the tap per repair order it touched,
    job.updated for every job whose state moved, stage.changed where a stage moved."""
    touched = {e["job"] for e in folded.entries} | set(folded.jobs) | ({job_id} if job_id else set())
    titles = await readmodels.job_titles(touched)
    ro_of = await ros_of(touched)
    entries = [readmodels.entry_out(e, titles) for e in folded.entries]
    events: list[NewEvent] = []
    by_ro: dict[int, list[dict[str, Any]]] = {}
    for entry in entries:
        by_ro.setdefault(ro_of[entry["job_id"]], []).append(entry)
    if job_id is not None:
        by_ro.setdefault(ro_of[job_id], [])
    for ro, ro_entries in by_ro.items():
        events.append(NewEvent(kind, ro, {"job_id": job_id, "entries": ro_entries}))
    jobs: dict[int, dict[str, Any]] = {}
    for ro in sorted(set(ro_of.values())):
        rows = {r["id"]: r for r in (await readmodels.jobs_of([ro]))[ro]}
        for jid in sorted(j for j in touched if ro_of[j] == ro):
            jobs[jid] = plain(readmodels.job_out(rows[jid]))
            if jid in folded.jobs:
                events.append(NewEvent("job.updated", ro, {"job": jobs[jid]}))
        if ro in before:
            events.extend(await stage_events(ro, before[ro]))
    return entries, jobs, events
