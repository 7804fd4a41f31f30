"""Repair orders as use cases: write-up, added work, promises, ready and delivery.

Each runs inside a command (api.commands.execute): it loads what it needs, asks `workshop`, writes,
and returns an Outcome with the events from the catalogue. No web imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from api import events, readmodels, shop, workshop
from api.auth import new_status_link
from api.commands import Outcome, now
from api.events import NewEvent
from api.schemas import JobCreate, JobIn, RepairOrderCreate, RepairOrderOut
from api.tables import Customer, Job, PromiseChange, RepairOrder, Vehicle


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 100)


def _minutes(hours: Decimal) -> int:
    return int(round(hours * 60))


def as_json(body: dict[str, Any] | None) -> dict[str, Any]:
    """Datetimes → ISO strings, so the stored idempotent reply equals the first one byte for byte."""
    return RepairOrderOut.model_validate(body).model_dump(mode="json")


async def stage_events(ro_id: int, before: workshop.Stage, job_ids: Iterable[int] = ()) -> list[NewEvent]:
    """A stage.changed event when the change just written moved the repair order's stage."""
    after = await readmodels.current_stage(ro_id)
    if after is before:
        return []
    return [events.stage_changed(ro_id, before, after, job_ids)]


async def _job_row(ro_id: int, job: Any, needs_approval: bool, at: Any) -> Job:
    state, approval = workshop.new_job(needs_approval)
    row = Job(
        repair_order=ro_id,
        title=job.title,
        estimated_minutes=_minutes(job.estimated_hours),
        price_cents=_cents(job.price),
        needs_approval=needs_approval,
        approval=approval.value if approval else None,
        state=state.value,
        created_at=at,
    )
    await row.save()
    return row


async def create(data: RepairOrderCreate, by: int) -> Outcome:
    """Write up a repair order: customer, vehicle, concerns, jobs with estimates, promise."""
    at = now()
    workshop.check_promise(data.promised_at, at)
    customer = Customer(**data.customer.model_dump())
    await customer.save()
    vehicle = Vehicle(**data.vehicle.model_dump())
    await vehicle.save()
    nonce, _, token_hash = new_status_link()
    ro = RepairOrder(
        number=await shop.next_ro_number(now()),
        customer=customer.id,
        vehicle=vehicle.id,
        mileage=data.mileage,
        fuel_level=data.fuel_level,
        concerns=json.dumps(data.concerns, ensure_ascii=False),
        promised_at=data.promised_at,
        first_promised_at=data.promised_at,
        status_nonce=nonce,
        status_token_hash=token_hash,
        created_by=by,
        created_at=at,
    )
    await ro.save()
    for job in data.jobs:
        await _job_row(ro.id, job, False, at)
    body = await readmodels.repair_order(ro.id)
    assert body is not None
    event = events.ro_created(
        ro.id,
        ro.number,
        data.vehicle.plate,
        workshop.Stage(body["stage"]),
        [j["id"] for j in body["jobs"]],
        by,
    )
    return Outcome(201, as_json(body), [event])


async def add_work(ro_id: int, job: JobIn, needs_approval: bool) -> tuple[dict[str, Any], list[NewEvent]]:
    """Add a job to a repair order (a recommendation when it needs the customer's approval)."""
    ro = await readmodels.require_repair_order(ro_id)
    before = await readmodels.current_stage(ro_id)
    workshop.can_add_work(before)
    at = now()
    row = await _job_row(ro_id, job, needs_approval, at)
    if ro["ready_at"] is not None:
        # New work on a car that was ready reopens it.
        await RepairOrder.update({RepairOrder.ready_at: None}).where(RepairOrder.id == ro_id)
    added = (await readmodels.jobs_of([ro_id]))[ro_id][-1]
    body = readmodels.job_out(added)
    out = [events.job_added(ro_id, body)]
    if needs_approval:
        out.append(events.approval_requested(ro_id, int(row.id), row.title, body["price"]))
    out += await stage_events(ro_id, before, [int(row.id)])
    return body, out


async def add_job(ro_id: int, data: JobCreate) -> Outcome:
    """Add a job; with needs_approval it is a recommendation the customer approves or declines."""
    body, out = await add_work(ro_id, data, data.needs_approval)
    return Outcome(201, body, out)


async def change_promise(ro_id: int, promised_at: datetime, reason: str, by: int) -> Outcome:
    """Move the promised time; the reason is required and the customer sees both at once."""
    ro = await readmodels.require_repair_order(ro_id)
    at = now()
    reason = workshop.change_promise(
        ro["promised_at"], promised_at, reason, at, await readmodels.current_stage(ro_id)
    )
    await PromiseChange(
        repair_order=ro_id,
        previous_at=ro["promised_at"],
        promised_at=promised_at,
        reason=reason,
        changed_at=at,
        changed_by=by,
    ).save()
    await RepairOrder.update({RepairOrder.promised_at: promised_at}).where(RepairOrder.id == ro_id)
    body = await readmodels.repair_order(ro_id)
    event = events.promise_changed(ro_id, promised_at, ro["promised_at"], reason, by)
    return Outcome(200, as_json(body), [event])


async def mark_ready(ro_id: int, at: datetime | None = None) -> Outcome:
    """Ready for pick-up: only when every approved job passed QC (else a Conflict naming what is open).

    `at` is for the demo's history; a person's tap is ready now."""
    ro = await readmodels.require_repair_order(ro_id)
    jobs = (await readmodels.jobs_of([ro_id]))[ro_id]
    before = readmodels.stage_of(ro, jobs)
    workshop.mark_ready(readmodels.job_facts(jobs), before)
    await RepairOrder.update({RepairOrder.ready_at: at or now()}).where(RepairOrder.id == ro_id)
    body = await readmodels.repair_order(ro_id)
    return Outcome(200, as_json(body), await stage_events(ro_id, before))


async def deliver(ro_id: int) -> Outcome:
    """Hand the car over (from ready). The status link stays open for the follow-up survey."""
    before = await readmodels.current_stage(ro_id)  # NotFound when there is no such order
    workshop.deliver(before)
    await RepairOrder.update({RepairOrder.delivered_at: now()}).where(RepairOrder.id == ro_id)
    body = await readmodels.repair_order(ro_id)
    return Outcome(200, as_json(body), await stage_events(ro_id, before))
