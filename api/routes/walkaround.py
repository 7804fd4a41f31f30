"""The check-in walk-around: damage marks, fuel and mileage, and the customer's signature."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import JSONBody, MultipartBody
from litestar.response import File
from pydantic import Field

from api import inputs, readmodels, workshop
from api.auth import current_user, requires
from api.commands import NewEvent, Outcome, now
from api.inputs import Id
from api.routes.base import run
from api.routes.photos import MAX_UPLOAD_BODY, ingest, keep, read_upload, release, send_file, store
from api.schemas import Strict
from api.tables import RepairOrder, Walkaround


class MarkIn(Strict):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    view: workshop.VehicleView
    x: float = Field(ge=0, le=1, description="0 = left edge of the view, 1 = right edge")
    y: float = Field(ge=0, le=1, description="0 = top edge of the view, 1 = bottom edge")
    type: workshop.DamageType
    note: str = Field(default="", max_length=200)


class WalkaroundIn(Strict):
    marks: list[MarkIn] = Field(max_length=60)
    fuel_level: int | None = Field(default=None, ge=0, le=8, description="eighths of a tank")
    mileage: int | None = Field(default=None, ge=0, le=2_000_000)


@dataclass
class SignatureForm:
    file: UploadFile
    signed_by: str = ""


async def walkaround_out(ro_id: int) -> dict[str, Any]:
    ro = await readmodels.require_repair_order(ro_id)
    row = await Walkaround.select().where(Walkaround.repair_order == ro_id).first()
    photos = [
        readmodels.photo_out(p)
        for p in (await readmodels.photos_of([ro_id]))[ro_id]
        if p["kind"] == "walkaround"
    ]
    signed_at = row["signed_at"] if row else None
    return {
        "repair_order": ro_id,
        "marks": json.loads(row["marks"]) if row else [],
        "fuel_level": ro["fuel_level"],
        "mileage": ro["mileage"],
        "signed_by": row["signed_by"] if row else "",
        "signed_at": signed_at.isoformat() if signed_at else None,
        "signature_url": f"/api/repair-orders/{ro_id}/walkaround/signature" if signed_at else None,
        "photos": [{**p, "created_at": p["created_at"].isoformat()} for p in photos],
    }


async def _row(ro_id: int) -> dict[str, Any] | None:
    return await Walkaround.select().where(Walkaround.repair_order == ro_id).first()


class WalkaroundController(Controller):
    path = "/api/repair-orders/{ro_id:int}/walkaround"
    tags = ["walk-around"]

    @get("/", guards=[requires("ro.read")])
    async def show(self, ro_id: Id) -> dict[str, Any]:
        """Marks, fuel, mileage, photos and (once signed) who signed and when."""
        return await walkaround_out(ro_id)

    @put("/", guards=[requires("walkaround.edit")])
    async def save(self, request: Request, ro_id: Id, data: JSONBody[WalkaroundIn]) -> Response[Any]:
        """Replace the damage marks (and fuel/mileage) — until the customer signs (then 409)."""
        user = current_user(request)

        async def handler() -> Outcome:
            await readmodels.require_repair_order(ro_id)
            row = await _row(ro_id)
            workshop.check_walkaround_open(row["signed_at"] if row else None)
            ids = [m.id for m in data.marks]
            if len(set(ids)) != len(ids):
                raise workshop.Invalid("marks: every mark needs its own id.")
            marks = json.dumps([m.model_dump() for m in data.marks], ensure_ascii=False)
            if row is None:
                await Walkaround(repair_order=ro_id, marks=marks, updated_by=user.id, updated_at=now()).save()
            else:
                await Walkaround.update(
                    {Walkaround.marks: marks, Walkaround.updated_by: user.id, Walkaround.updated_at: now()}
                ).where(Walkaround.repair_order == ro_id)
            changes: dict[Any, Any] = {}
            if data.fuel_level is not None:
                changes[RepairOrder.fuel_level] = data.fuel_level
            if data.mileage is not None:
                changes[RepairOrder.mileage] = data.mileage
            if changes:
                await RepairOrder.update(changes).where(RepairOrder.id == ro_id)
            body = await walkaround_out(ro_id)
            event = NewEvent("walkaround.updated", ro_id, {"marks": len(data.marks)})
            return Outcome(200, body, [event])

        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump())

    @post(
        "/signature",
        guards=[requires("walkaround.edit")],
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BODY,
    )
    async def sign(self, request: Request, ro_id: Id, data: MultipartBody[SignatureForm]) -> Response[Any]:
        """The customer signs on the tablet (PNG from the signature pad) → the marks are closed."""
        user = current_user(request)
        inputs.check_form(data)
        signed_by = data.signed_by.strip()
        if not 1 <= len(signed_by) <= 120:
            raise workshop.Invalid("signed_by: the customer's name (1–120 characters) is required.")
        body = await read_upload(data.file)
        await readmodels.require_repair_order(ro_id)
        stored = await ingest(body)

        async def handler() -> Outcome:
            row = await _row(ro_id)
            workshop.check_walkaround_open(row["signed_at"] if row else None)
            await keep(stored)
            signed_at = now()
            if row is None:
                await Walkaround(repair_order=ro_id, updated_by=user.id, updated_at=signed_at).save()
            await Walkaround.update(
                {
                    Walkaround.signature: stored.display,
                    Walkaround.signed_by: signed_by,
                    Walkaround.signed_at: signed_at,
                }
            ).where(Walkaround.repair_order == ro_id)
            out = await walkaround_out(ro_id)
            return Outcome(201, out, [NewEvent("walkaround.signed", ro_id, {"signed_by": signed_by})])

        payload = {"ro": ro_id, "signed_by": signed_by, "sha256": hashlib.sha256(body).hexdigest()}
        try:
            return await run(request, handler, actor=f"staff:{user.id}", payload=payload)
        finally:
            await release(stored)  # and the signature's thumbnail, which nothing shows

    @get("/signature", guards=[requires("ro.read")])
    async def signature(self, ro_id: Id) -> File:
        row = await _row(ro_id)
        if row is None or not row["signature"]:
            raise workshop.NotFound("This walk-around has not been signed yet.")
        return send_file(store().path(row["signature"]))
