"""Repair orders as use cases: write-up, added work, promises, ready and delivery.

Each runs inside a command (api.commands.execute): it loads what it needs, asks `workshop`, writes,
and returns an Outcome with the events from the catalogue. No web imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from api import events, readmodels, settings, shop, workshop
from api.auth import new_status_link
from api.commands import Outcome, now
from api.events import NewEvent
from api.schemas import JobCreate, JobIn, RepairOrderCreate, RepairOrderOut
from api.tables import Customer, Job, PromiseChange, RepairOrder, RoCounter, Vehicle


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


def _job(ro_id: int, job: Any, needs_approval: bool, at: datetime) -> Job:
    state, approval = workshop.new_job(needs_approval)
    return Job(
        repair_order=ro_id,
        title=job.title,
        estimated_minutes=_minutes(job.estimated_hours),
        price_cents=_cents(job.price),
        needs_approval=needs_approval,
        approval=approval.value if approval else None,
        state=state.value,
        created_at=at,
    )


# Raise the day's counter and read the new number back, in one statement. The day is the shop's
# (YYMMDD in its time zone), so the statement also checks the zone it was computed in: the zone
# the shop was last seen with (it is fixed once the shop is set up), or SHOP_TIMEZONE before setup.
# On a mismatch it writes nothing and returns no row; the zone is then read and the day computed
# again. Plain SQL, the same on SQLite and PostgreSQL.
_NEXT_NUMBER = (
    "INSERT INTO ro_counter (day, n) SELECT {}, 1"
    " WHERE COALESCE((SELECT timezone FROM shop LIMIT 1), {}) = {}"
    " ON CONFLICT (day) DO UPDATE SET n = ro_counter.n + 1"
    " RETURNING n"
)
_zone_seen: str | None = None


async def next_number(at: datetime) -> str:
    """YYMMDD-NNN for a repair order written at `at`, counted per day in the shop's time zone.

    Call it inside the command that saves the order: the counter row is raised in its transaction,
    so two orders never get one number and a refused order hands none out."""
    global _zone_seen
    unset = settings.get().shop_timezone  # the zone before the shop is set up (shop.timezone)
    zone = _zone_seen or unset
    for _ in range(2):
        day = at.astimezone(ZoneInfo(zone)).strftime("%y%m%d")
        rows = await RoCounter.raw(_NEXT_NUMBER, day, unset, zone)
        if rows:
            return f"{day}-{int(rows[0]['n']):03d}"
        zone = _zone_seen = await shop.timezone()
    raise RuntimeError("the shop's time zone changed while a repair order was numbered")


async def create(data: RepairOrderCreate, by: int) -> Outcome:
    """Write up a repair order: customer, vehicle, concerns, jobs with estimates, promise.

    Six statements: the number, the customer, the vehicle, the order, its jobs in one INSERT; the
    reply is built from what was written (nothing is read back)."""
    at = now()
    workshop.check_promise(data.promised_at, at)
    number = await next_number(at)
    customer = Customer(**data.customer.model_dump())
    await customer.save()
    vehicle = Vehicle(**data.vehicle.model_dump())
    await vehicle.save()
    nonce, token, token_hash = new_status_link()
    promised_at = data.promised_at.astimezone(UTC)  # as the database gives it back
    concerns = json.dumps(data.concerns, ensure_ascii=False)
    ro = RepairOrder(
        number=number,
        customer=customer.id,
        vehicle=vehicle.id,
        mileage=data.mileage,
        fuel_level=data.fuel_level,
        concerns=concerns,
        promised_at=promised_at,
        first_promised_at=promised_at,
        status_nonce=nonce,
        status_token_hash=token_hash,
        created_by=by,
        created_at=at,
    )
    await ro.save()
    jobs = [_job(ro.id, job, False, at) for job in data.jobs]
    if jobs:
        inserted = await Job.insert(*jobs).returning(Job.id)
        # Ids are given in VALUES order; RETURNING's own order is not promised.
        for job, job_id in zip(jobs, sorted(int(r["id"]) for r in inserted), strict=True):
            job.id = job_id
    job_rows = [{**job.to_dict(), "technician.name": None} for job in jobs]
    stage = workshop.stage(readmodels.job_facts(job_rows), ready=False, delivered=False)
    body = {
        "id": ro.id,
        "number": number,
        "stage": stage.value,
        "promised_at": promised_at,
        "first_promised_at": promised_at,
        "status_url": f"/s/{token}",
        "customer": {"name": customer.name, "phone": customer.phone, "language": customer.language},
        "vehicle": {
            "plate": vehicle.plate,
            "vin": vehicle.vin,
            "make": vehicle.make,
            "model": vehicle.model,
            "year": vehicle.year,
            "color": vehicle.color,
        },
        "mileage": data.mileage,
        "fuel_level": data.fuel_level,
        "concerns": json.loads(concerns),
        "jobs": [readmodels.job_out(row) for row in job_rows],
        "promise_history": [],
        "photos": [],
        "findings": [],
        "created_at": at,
        "ready_at": None,
        "delivered_at": None,
    }
    event = events.ro_created(ro.id, number, vehicle.plate, stage, [int(job.id) for job in jobs], by)
    return Outcome(201, as_json(body), [event])


async def add_work(ro_id: int, job: JobIn, needs_approval: bool) -> tuple[dict[str, Any], list[NewEvent]]:
    """Add a job to a repair order (a recommendation when it needs the customer's approval)."""
    ro = await readmodels.require_repair_order(ro_id)
    before = await readmodels.current_stage(ro_id)
    workshop.can_add_work(before)
    at = now()
    row = _job(ro_id, job, needs_approval, at)
    await row.save()
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
