"""Repair orders: write-up, jobs, promises, ready and delivery (advisor, foreman, manager)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from api import readmodels, shop, workshop
from api.auth import current_user, new_status_link, requires
from api.commands import NewEvent, Outcome, now
from api.inputs import Id
from api.routes.base import run, stage_events
from api.schemas import JobCreate, JobIn, PromiseIn, RepairOrderCreate, RepairOrderList, RepairOrderOut
from api.tables import Customer, Job, PromiseChange, RepairOrder, Vehicle


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 100)


def _minutes(hours: Decimal) -> int:
    return int(round(hours * 60))


async def _job_row(ro_id: FromPath[int], job: Any, needs_approval: bool, at: Any) -> Job:
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
    events = [NewEvent("job.added", ro_id, {"job": body})]
    if needs_approval:
        events.append(
            NewEvent(
                "approval.requested", ro_id, {"job_id": row.id, "title": row.title, "price": body["price"]}
            )
        )
    events += await stage_events(ro_id, before)
    return body, events


class RepairOrderController(Controller):
    path = "/api/repair-orders"
    tags = ["repair orders"]

    @get("/", guards=[requires("ro.list")])
    async def list_open(self) -> RepairOrderList:
        """The open repair orders (not delivered), soonest promise first, each with its jobs."""
        return RepairOrderList.model_validate({"items": await readmodels.open_repair_orders()})

    @get("/{ro_id:int}", guards=[requires("ro.read")])
    async def get_one(self, ro_id: Id) -> RepairOrderOut:
        """One repair order with jobs, photos and promise history."""
        ro = await readmodels.repair_order(ro_id)
        if ro is None:
            raise workshop.NotFound(f"Repair order {ro_id} does not exist.")
        return RepairOrderOut.model_validate(ro)

    @post("/", guards=[requires("ro.create")], status_code=201)
    async def create(self, request: Request, data: JSONBody[RepairOrderCreate]) -> Response[RepairOrderOut]:
        """Write up a repair order: customer, vehicle, concerns, jobs with estimates, promise."""
        user = current_user(request)

        async def handler() -> Outcome:
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
                created_by=user.id,
                created_at=at,
            )
            await ro.save()
            for job in data.jobs:
                await _job_row(ro.id, job, False, at)
            body = await readmodels.repair_order(ro.id)
            assert body is not None
            event = {"number": ro.number, "plate": data.vehicle.plate, "jobs": len(data.jobs)}
            return Outcome(201, _json(body), [NewEvent("ro.created", ro.id, event)])

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{ro_id:int}/jobs", guards=[requires("ro.add_job")], status_code=201)
    async def add_job(
        self, request: Request, ro_id: Id, data: JSONBody[JobCreate]
    ) -> Response[dict[str, Any]]:
        """Add a job; with needs_approval it is a recommendation the customer approves or declines."""
        user = current_user(request)

        async def handler() -> Outcome:
            body, events = await add_work(ro_id, data, data.needs_approval)
            return Outcome(201, body, events)

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{ro_id:int}/promise", guards=[requires("ro.promise")], status_code=200)
    async def change_promise(
        self, request: Request, ro_id: Id, data: JSONBody[PromiseIn]
    ) -> Response[RepairOrderOut]:
        """Move the promised time; the reason is required and the customer sees both at once."""
        user = current_user(request)

        async def handler() -> Outcome:
            ro = await readmodels.require_repair_order(ro_id)
            at = now()
            reason = workshop.change_promise(
                ro["promised_at"], data.promised_at, data.reason, at, await readmodels.current_stage(ro_id)
            )
            await PromiseChange(
                repair_order=ro_id,
                previous_at=ro["promised_at"],
                promised_at=data.promised_at,
                reason=reason,
                changed_at=at,
                changed_by=user.id,
            ).save()
            await RepairOrder.update({RepairOrder.promised_at: data.promised_at}).where(
                RepairOrder.id == ro_id
            )
            body = await readmodels.repair_order(ro_id)
            event = {
                "promised_at": data.promised_at,
                "previous_at": ro["promised_at"],
                "reason": reason,
            }
            return Outcome(200, _json(body), [NewEvent("promise.changed", ro_id, event)])

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{ro_id:int}/ready", guards=[requires("ro.ready")], status_code=200)
    async def ready(self, request: Request, ro_id: Id) -> Response[RepairOrderOut]:
        """Mark ready for pick-up: only when every approved job passed QC (else 409 naming what is open)."""
        user = current_user(request)

        async def handler() -> Outcome:
            ro = await readmodels.require_repair_order(ro_id)
            jobs = (await readmodels.jobs_of([ro_id]))[ro_id]
            before = readmodels.stage_of(ro, jobs)
            workshop.mark_ready(readmodels.job_facts(jobs), before)
            await RepairOrder.update({RepairOrder.ready_at: now()}).where(RepairOrder.id == ro_id)
            body = await readmodels.repair_order(ro_id)
            return Outcome(200, _json(body), await stage_events(ro_id, before))

        return await run(request, handler, actor=f"staff:{user.id}")

    @post("/{ro_id:int}/deliver", guards=[requires("ro.deliver")], status_code=200)
    async def deliver(self, request: Request, ro_id: Id) -> Response[RepairOrderOut]:
        """Hand the car over (from ready). The status link stays open for the follow-up survey."""
        user = current_user(request)

        async def handler() -> Outcome:
            before = await readmodels.current_stage(ro_id)  # NotFound when there is no such order
            workshop.deliver(before)
            await RepairOrder.update({RepairOrder.delivered_at: now()}).where(RepairOrder.id == ro_id)
            body = await readmodels.repair_order(ro_id)
            return Outcome(200, _json(body), await stage_events(ro_id, before))

        return await run(request, handler, actor=f"staff:{user.id}")


def _json(body: dict[str, Any] | None) -> dict[str, Any]:
    """Datetimes → ISO strings, so the stored idempotent reply equals the first one byte for byte."""
    return RepairOrderOut.model_validate(body).model_dump(mode="json")
