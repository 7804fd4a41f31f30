"""The check-in walk-around: damage marks, fuel and mileage, and the customer's signature
(use cases: api/walkaround.py)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import JSONBody, MultipartBody
from litestar.response import File
from pydantic import Field

from api import inputs, photo_uploads, readmodels, walkaround, workshop
from api.auth import current_user, requires
from api.httpcommand import run
from api.httpfiles import MAX_UPLOAD_BODY, read_upload, send_file
from api.inputs import Id
from api.schemas import Strict


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


class WalkaroundController(Controller):
    path = "/api/repair-orders/{ro_id:int}/walkaround"
    tags = ["walk-around"]

    @get("/", guards=[requires("ro.read")])
    async def show(self, ro_id: Id) -> dict[str, Any]:
        """Marks, fuel, mileage, photos and (once signed) who signed and when."""
        return await walkaround.show(ro_id)

    @put("/", guards=[requires("walkaround.edit")])
    async def save(self, request: Request, ro_id: Id, data: JSONBody[WalkaroundIn]) -> Response[Any]:
        """Replace the damage marks (and fuel/mileage) — until the customer signs (then 409)."""
        user = current_user(request)
        marks = [m.model_dump() for m in data.marks]
        handler = functools.partial(walkaround.save, ro_id, marks, data.fuel_level, data.mileage, user.id)
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
            raise workshop.Invalid(
                "signed_by: the customer's name (1–120 characters) is required.",
                code="walkaround.signer_required",
                field="signed_by",
            )
        body = await read_upload(data.file)
        await readmodels.require_repair_order(ro_id)
        stored = await photo_uploads.ingest(body)
        handler = functools.partial(walkaround.sign, ro_id, stored, signed_by, user.id)
        payload = {"ro": ro_id, "signed_by": signed_by, "sha256": hashlib.sha256(body).hexdigest()}
        try:
            return await run(request, handler, actor=f"staff:{user.id}", payload=payload)
        finally:
            await photo_uploads.release(stored)  # and the signature's thumbnail, which nothing shows

    @get("/signature", guards=[requires("ro.read")])
    async def signature(self, ro_id: Id) -> File:
        return send_file(await walkaround.signature_path(ro_id))
