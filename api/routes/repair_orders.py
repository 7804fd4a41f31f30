"""Repair orders: write-up, jobs, promises, ready and delivery (advisor, foreman, manager)."""

from __future__ import annotations

import functools
from typing import Any, cast

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import JSONBody

from api import readmodels, repair_orders, timeline, workshop
from api.auth import current_user, requires
from api.httpcommand import run
from api.inputs import Id
from api.schemas import (
    JobCreate,
    PromiseIn,
    RepairOrderCreate,
    RepairOrderEdit,
    RepairOrderList,
    RepairOrderOut,
    Timeline,
)


class RepairOrderController(Controller):
    path = "/api/repair-orders"
    tags = ["repair orders"]

    # The read models are built in the schemas' shape and sent as built: validating a board of
    # forty orders with pydantic on every request cost more than reading it (the schemas document
    # the answer in /schema; tests compare the two).
    @get("/", guards=[requires("ro.list")])
    async def list_open(self) -> Response[RepairOrderList]:
        """The open repair orders (not delivered), soonest promise first, each with its jobs."""
        return Response(cast(Any, {"items": await readmodels.open_repair_orders()}))

    @get("/{ro_id:int}", guards=[requires("ro.read")])
    async def get_one(self, ro_id: Id) -> Response[RepairOrderOut]:
        """One repair order with jobs, photos and promise history."""
        ro = await readmodels.repair_order(ro_id)
        if ro is None:
            raise workshop.NotFound(
                f"Repair order {ro_id} does not exist.", code="ro.not_found", params={"id": ro_id}
            )
        return Response(cast(Any, ro))

    @get("/{ro_id:int}/timeline", guards=[requires("ro.read")])
    async def get_timeline(self, ro_id: Id) -> Response[Timeline]:
        """The order's events (who did what and when), oldest first, as the event log holds them."""
        return Response(cast(Any, await timeline.timeline(ro_id)))

    @patch("/{ro_id:int}", guards=[requires("ro.create")], status_code=200)
    async def edit(
        self, request: Request, ro_id: Id, data: JSONBody[RepairOrderEdit]
    ) -> Response[RepairOrderOut]:
        """Correct customer, vehicle (not the plate), concerns; mileage and fuel until the walk-around
        is signed. Only the fields sent change. 409 `ro.delivered` after delivery."""
        user = current_user(request)
        handler = functools.partial(repair_orders.edit, ro_id, data, user.id)
        payload = data.model_dump(mode="json", exclude_unset=True)
        return await run(request, handler, actor=f"staff:{user.id}", payload=payload)

    @post("/", guards=[requires("ro.create")], status_code=201)
    async def create(self, request: Request, data: JSONBody[RepairOrderCreate]) -> Response[RepairOrderOut]:
        """Write up a repair order: customer, vehicle, concerns, jobs with estimates, promise."""
        user = current_user(request)
        handler = functools.partial(repair_orders.create, data, user.id)
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{ro_id:int}/jobs", guards=[requires("ro.add_job")], status_code=201)
    async def add_job(
        self, request: Request, ro_id: Id, data: JSONBody[JobCreate]
    ) -> Response[dict[str, Any]]:
        """Add a job; with needs_approval it is a recommendation the customer approves or declines."""
        user = current_user(request)
        handler = functools.partial(repair_orders.add_job, ro_id, data)
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{ro_id:int}/promise", guards=[requires("ro.promise")], status_code=200)
    async def change_promise(
        self, request: Request, ro_id: Id, data: JSONBody[PromiseIn]
    ) -> Response[RepairOrderOut]:
        """Move the promised time; the reason is required and the customer sees both at once."""
        user = current_user(request)
        handler = functools.partial(
            repair_orders.change_promise, ro_id, data.promised_at, data.reason, user.id
        )
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/{ro_id:int}/ready", guards=[requires("ro.ready")], status_code=200)
    async def ready(self, request: Request, ro_id: Id) -> Response[RepairOrderOut]:
        """Mark ready for pick-up: only when every approved job passed QC (else 409 naming what is open)."""
        user = current_user(request)
        handler = functools.partial(repair_orders.mark_ready, ro_id)
        return await run(request, handler, actor=f"staff:{user.id}")

    @post("/{ro_id:int}/deliver", guards=[requires("ro.deliver")], status_code=200)
    async def deliver(self, request: Request, ro_id: Id) -> Response[RepairOrderOut]:
        """Hand the car over (from ready). The status link stays open for the follow-up survey."""
        user = current_user(request)
        handler = functools.partial(repair_orders.deliver, ro_id)
        return await run(request, handler, actor=f"staff:{user.id}")
