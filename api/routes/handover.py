"""Settlement, hand-over and the printed settlement (结算 / 交车 / 结算单); use cases in api/handover.py.

The customer's signature comes inside the hand-over's JSON as a PNG data URL: one request, so the
tablet's outbox keeps the hand-over as one entry (signed and paid together, or not at all), and the
image goes through the same photo pipeline as the walk-around's signature before the command runs.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromQuery, JSONBody
from litestar.response import File
from pydantic import Field

from api import handover, photo_uploads, readmodels, settlement_print, workshop
from api.auth import current_user, requires
from api.httpcommand import run
from api.httpfiles import send_file
from api.inputs import Id
from api.schemas import Strict

PNG_DATA_URL = "data:image/png;base64,"
MAX_SIGNATURE_CHARS = 700_000  # a signature pad's PNG is tens of KB; base64 adds a third


class SettlementIn(Strict):
    discount_fen: int = Field(ge=0, le=100_000_000, description="Taken off labour + parts, in fen")
    discount_reason: str = Field(default="", max_length=200)
    payment_method: str | None = Field(
        default=None, max_length=16, description="cash, card, wechat, alipay, transfer"
    )


class HandoverIn(Strict):
    mileage_out: int = Field(ge=0, le=2_000_000, description="km on the odometer as the car leaves")
    next_service_on: date | None = Field(
        default=None, description="Default: shop.next_service_months after today"
    )
    next_service_km: int | None = Field(
        default=None, ge=0, le=2_000_000, description="Default: mileage_out + shop km"
    )
    old_parts_returned: dict[int, bool] = Field(
        default_factory=dict, max_length=200, description="part line id → old part given to the customer"
    )
    payment_method: str = Field(max_length=16, description="cash, card, wechat, alipay or transfer")
    signed_by: str = Field(max_length=120, description="The customer's name as they wrote it")
    signature: str = Field(max_length=MAX_SIGNATURE_CHARS, description="data:image/png;base64,… from the pad")


def _signature_bytes(data_url: str) -> bytes:
    try:
        if not data_url.startswith(PNG_DATA_URL):
            raise ValueError
        body = base64.b64decode(data_url[len(PNG_DATA_URL) :], validate=True)
    except (ValueError, binascii.Error):
        raise workshop.Invalid(
            "signature: the customer's signature as a PNG data URL is required.",
            code="handover.signature",
            field="signature",
        ) from None
    return body


class HandoverController(Controller):
    path = "/api/repair-orders/{ro_id:int}"
    tags = ["hand-over"]

    @get("/settlement", guards=[requires("ro.read")])
    async def settlement(self, ro_id: Id) -> dict[str, Any]:
        """The settlement: labour per job, parts lines, discount, tax inside, total (fen); frozen
        once the car is handed over."""
        return await handover.show(ro_id)

    @put("/settlement", guards=[requires("ro.handover")])
    async def update(self, request: Request, ro_id: Id, data: JSONBody[SettlementIn]) -> Response[Any]:
        """Discount with its reason (above the shop's threshold a manager approves it), payment method."""
        user = current_user(request)
        handler = functools.partial(
            handover.update, ro_id, data.discount_fen, data.discount_reason, data.payment_method, user.id
        )
        return await run(request, handler, actor=f"staff:{user.id}", payload=data.model_dump(mode="json"))

    @post("/settlement/approve-discount", guards=[requires("discount.approve")], status_code=200)
    async def approve(self, request: Request, ro_id: Id) -> Response[Any]:
        """A manager approves the discount waiting for approval."""
        user = current_user(request)
        handler = functools.partial(handover.approve_discount, ro_id, user.id)
        return await run(request, handler, actor=f"staff:{user.id}", payload={"ro": ro_id})

    @post("/handover", guards=[requires("ro.handover")], status_code=200)
    async def hand_over(self, request: Request, ro_id: Id, data: JSONBody[HandoverIn]) -> Response[Any]:
        """Hand the car back: settlement frozen, customer's signature, delivered — one command."""
        user = current_user(request)
        signed_by = data.signed_by.strip()
        if not signed_by:
            raise workshop.Invalid(
                "signed_by: the customer's name is required.",
                code="handover.signer_required",
                field="signed_by",
            )
        body = _signature_bytes(data.signature)
        await readmodels.require_repair_order(ro_id)
        stored = await photo_uploads.ingest(body)
        handler = functools.partial(
            handover.hand_over,
            ro_id,
            mileage_out=data.mileage_out,
            next_service_on=data.next_service_on,
            next_service_km=data.next_service_km,
            old_parts_returned=data.old_parts_returned,
            payment_method=data.payment_method,
            signed_by=signed_by,
            signature=stored,
            by=user.id,
        )
        payload = {**data.model_dump(mode="json"), "signature": hashlib.sha256(body).hexdigest()}
        try:
            return await run(request, handler, actor=f"staff:{user.id}", payload=payload)
        finally:
            await handover.release(stored)

    @get("/handover/signature", guards=[requires("ro.read")])
    async def signature(self, ro_id: Id) -> File:
        return send_file(await handover.signature_path(ro_id))


@get(
    "/print/repair-orders/{ro_id:int}",
    guards=[requires("ro.print")],
    include_in_schema=True,
    tags=["hand-over"],
)
async def print_settlement(
    ro_id: Id, size: FromQuery[str] = "a4", lang: FromQuery[str] = ""
) -> Response[str]:
    """The settlement to print (A4 or A5, zh-CN or en): plain HTML with its own @page size."""
    page = await settlement_print.render(ro_id, size=size, lang=lang)
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": settlement_print.CSP, "Cache-Control": "no-store"},
    )
