"""Parts lines (配件) on jobs as use cases: added (by hand or with a priced finding), ordered with an
expected time, arrived, fitted; and the line a technician's "waiting for parts" stop points at.

The states and which moves are allowed are api.workshop's (move_part, fit_part); no stock is kept
here. Runs inside a command (api.commands.execute). No web imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from api import events, jobs, money, readmodels, workshop
from api.commands import Outcome, now
from api.events import NewEvent
from api.schemas import PartChange, PartIn
from api.tables import Event, Job, PartLine

# Jobs whose parts the technician's tablet shows: work still to do or being checked.
_OPEN_JOB_STATES = ("pending", "assigned", "in_progress", "paused", "finished", "rework")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def part_out(row: dict[str, Any]) -> dict[str, Any]:
    """A parts line as the order read shows it in jobs[].parts (and the part events carry)."""
    return {
        "id": row["id"],
        "job_id": row["job"],
        "repair_order_id": row["repair_order"],
        "name": row["name"],
        "part_number": row["part_number"],
        "quantity": row["quantity"],
        "unit_price_fen": row["unit_price_fen"],
        "line_fen": money.line_fen(row["quantity"], row["unit_price_fen"]),
        "state": row["state"],
        "expected_at": _iso(row["expected_at"]),
        "old_part_returned": row["old_part_returned"],
        "updated_at": _iso(row["updated_at"]),
    }


async def _require(part_id: int) -> dict[str, Any]:
    row = await PartLine.select().where(PartLine.id == part_id).first()
    if row is None:
        raise workshop.NotFound(
            f"Parts line {part_id} does not exist.", code="part.not_found", params={"id": part_id}
        )
    return row


async def _shown(part_id: int) -> dict[str, Any]:
    return part_out(await _require(part_id))


async def insert(job: dict[str, Any], lines: Iterable[PartIn], by: int | None) -> list[dict[str, Any]]:
    """Save parts lines on a job (its rules already checked); each as shown. A line that comes with
    an expected time has been ordered."""
    at = now()
    shown = []
    for line in lines:
        row = PartLine(
            job=job["id"],
            repair_order=job["repair_order"],
            name=line.name,
            part_number=line.part_number,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            state="ordered" if line.expected_at else "needed",
            expected_at=line.expected_at,
            created_by=by,
            created_at=at,
            updated_at=at,
        )
        await row.save()
        shown.append(await _shown(int(row.id)))
    return shown


async def add(job_id: int, line: PartIn, by: int) -> Outcome:
    """Put a parts line on a job (not on declined work, not after delivery)."""
    job = await jobs.require(job_id)
    workshop.add_part(workshop.JobState(job["state"]), await readmodels.current_stage(job["repair_order"]))
    (part,) = await insert(job, [line], by)
    return Outcome(201, part, [events.part_added(job["repair_order"], part, job["technician"], by)])


async def change(part_id: int, data: PartChange, by: int) -> Outcome:
    """Order (with the expected time), record arrival, or edit a line while it is not fitted."""
    row = await _require(part_id)
    sent = data.model_fields_set
    if not sent:
        raise workshop.Invalid("Nothing to change was sent.", code="part.nothing_to_change")
    target = data.state or row["state"]
    expected = data.expected_at if "expected_at" in sent else row["expected_at"]
    workshop.move_part(row["state"], target, expected)
    values: dict[Any, Any] = {
        PartLine.state: target,
        PartLine.expected_at: expected,
        PartLine.updated_at: now(),
    }
    for name in ("name", "part_number", "quantity", "unit_price_fen"):
        value = getattr(data, name)
        if name in sent and value is not None:
            values[getattr(PartLine, name)] = value
    await PartLine.update(values).where(PartLine.id == part_id)
    part = await _shown(part_id)
    job = await jobs.require(row["job"])
    event = events.part_updated(row["repair_order"], part, row["state"], job["technician"], by)
    return Outcome(200, part, [event])


async def fitted(part_id: int, by: int, by_role: str) -> Outcome:
    """The part is on the car (a technician says so on their own jobs)."""
    row = await _require(part_id)
    job = await jobs.require(row["job"])
    if by_role == "technician" and job["technician"] != by:
        raise workshop.Forbidden("This part is on a job that is not yours.", code="part.not_your_job")
    workshop.fit_part(row["state"], workshop.JobState(job["state"]))
    await PartLine.update({PartLine.state: "fitted", PartLine.updated_at: now()}).where(
        PartLine.id == part_id
    )
    part = await _shown(part_id)
    event = events.part_updated(row["repair_order"], part, row["state"], job["technician"], by)
    return Outcome(200, part, [event])


async def awaited(job_id: int, part_id: int, reason: str, technician: int) -> NewEvent:
    """The event of a "waiting for parts" stop that names the line it waits for (checked: a line of
    the same job, and only with that reason)."""
    if reason != "waiting_parts":
        raise workshop.Invalid(
            "A parts line goes only with the reason “waiting for parts”.",
            code="clock.part_without_reason",
            field="part_id",
        )
    row = await PartLine.select().where(PartLine.id == part_id).first()
    if row is None or row["job"] != job_id:
        raise workshop.Invalid(
            "That parts line is not on this job.",
            code="part.not_on_job",
            params={"id": part_id},
            field="part_id",
        )
    return events.part_awaited(row["repair_order"], part_out(row), technician)


async def of_technician(technician: int) -> dict[str, Any]:
    """The parts of a technician's open jobs, and for each job the line its last "waiting for parts"
    stop named (from the event log: the stop itself is a clock tap)."""
    mine = (
        Job.select(Job.id).where(Job.technician == technician).where(Job.state.is_in(list(_OPEN_JOB_STATES)))
    )
    rows = await PartLine.select().where(PartLine.job.is_in(mine)).order_by(PartLine.id)
    parts = [part_out(r) for r in rows]
    waited: dict[str, int] = {}
    orders = sorted({r["repair_order"] for r in rows})
    if orders:
        found = (
            await Event.select(Event.data)
            .where(Event.type == events.PART_AWAITED)
            .where(Event.repair_order.is_in(orders))
            .order_by(Event.seq)
        )
        for event in found:
            data = json.loads(event["data"])
            waited[str(data["job_id"])] = data["part"]["id"]
    return {"parts": parts, "awaited": waited}
