"""Find, vehicle history and what the write-up looks up (reads only). Use cases: api/search.py."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.params import FromQuery

from api import search
from api.auth import requires
from api.inputs import Id


class SearchController(Controller):
    path = "/api"
    tags = ["find"]

    @get("/search", guards=[requires("ro.search")])
    async def find(self, q: FromQuery[str] = "") -> dict[str, Any]:
        """Open and delivered repair orders by plate (any part), phone (4+ digits, any part), name,
        order number or the VIN's last 4+ characters: newest first, at most 50."""
        return await search.search(q)

    @get("/vehicles/{vehicle_id:int}/history", guards=[requires("vehicle.history")])
    async def history(self, vehicle_id: Id) -> dict[str, Any]:
        """The vehicle and every visit, newest first: mileage in and out, work done, findings and the
        recommended work the customer declined."""
        return await search.history(vehicle_id)

    @get("/vehicles/lookup", guards=[requires("ro.create")])
    async def lookup(
        self, plate: FromQuery[str | None] = None, phone: FromQuery[str | None] = None
    ) -> dict[str, Any]:
        """At write-up: the known vehicle(s) for a plate or a phone (7+ digits), each with the customer
        of its last visit, the last mileage and the recommended work declined then."""
        return await search.lookup(plate, phone)

    @get("/technicians", guards=[requires("ro.create")])
    async def technicians(self) -> dict[str, Any]:
        """Active technicians and foremen (id, name, role): who a job can be given to at write-up."""
        return await search.technicians()
