"""The check-in walk-around as use cases: damage marks, fuel and mileage, and the customer's signature.

Commands run inside api.commands.execute. No web imports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import photos
from api import events, photo_uploads, readmodels, workshop
from api.commands import Outcome, now
from api.tables import RepairOrder, Walkaround


async def _row(ro_id: int) -> dict[str, Any] | None:
    return await Walkaround.select().where(Walkaround.repair_order == ro_id).first()


async def show(ro_id: int) -> dict[str, Any]:
    """Marks, fuel, mileage, photos and (once signed) who signed and when."""
    ro = await readmodels.require_repair_order(ro_id)
    row = await _row(ro_id)
    shown = [
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
        "photos": [{**p, "created_at": p["created_at"].isoformat()} for p in shown],
    }


async def save(
    ro_id: int, marks: list[dict[str, Any]], fuel_level: int | None, mileage: int | None, by: int
) -> Outcome:
    """Replace the damage marks (and fuel/mileage) — until the customer signs (then a Conflict)."""
    await readmodels.require_repair_order(ro_id)
    row = await _row(ro_id)
    workshop.check_walkaround_open(row["signed_at"] if row else None)
    ids = [m["id"] for m in marks]
    if len(set(ids)) != len(ids):
        raise workshop.Invalid(
            "marks: every mark needs its own id.", code="walkaround.mark_ids", field="marks"
        )
    text = json.dumps(marks, ensure_ascii=False)
    if row is None:
        await Walkaround(repair_order=ro_id, marks=text, updated_by=by, updated_at=now()).save()
    else:
        await Walkaround.update(
            {Walkaround.marks: text, Walkaround.updated_by: by, Walkaround.updated_at: now()}
        ).where(Walkaround.repair_order == ro_id)
    changes: dict[Any, Any] = {}
    if fuel_level is not None:
        changes[RepairOrder.fuel_level] = fuel_level
    if mileage is not None:
        changes[RepairOrder.mileage] = mileage
    if changes:
        await RepairOrder.update(changes).where(RepairOrder.id == ro_id)
    return Outcome(200, await show(ro_id), [events.walkaround_updated(ro_id, len(marks), by)])


async def sign(ro_id: int, stored: photos.Ingested, signed_by: str, by: int) -> Outcome:
    """The customer's signature (an ingested PNG from the signature pad) closes the marks."""
    row = await _row(ro_id)
    workshop.check_walkaround_open(row["signed_at"] if row else None)
    await photo_uploads.keep(stored)
    signed_at = now()
    if row is None:
        await Walkaround(repair_order=ro_id, updated_by=by, updated_at=signed_at).save()
    await Walkaround.update(
        {
            Walkaround.signature: stored.display,
            Walkaround.signed_by: signed_by,
            Walkaround.signed_at: signed_at,
        }
    ).where(Walkaround.repair_order == ro_id)
    return Outcome(201, await show(ro_id), [events.walkaround_signed(ro_id, signed_by, by)])


async def signature_path(ro_id: int) -> Path:
    """Where the signature is stored (NotFound before the customer signs)."""
    row = await _row(ro_id)
    if row is None or not row["signature"]:
        raise workshop.NotFound("This walk-around has not been signed yet.", code="walkaround.not_signed")
    return photo_uploads.store().path(row["signature"])
