"""The customer's status link: from token to repair order, and what the customer may see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api import readmodels, workshop
from api.auth import token_hash
from api.commands import now
from api.tables import Customer, Event, RepairOrder, Vehicle

# The link keeps working after delivery for the follow-up survey (2–5 days), then expires.
EXPIRES_AFTER_DELIVERY = timedelta(days=30)


async def resolve(token: str) -> dict[str, Any] | None:
    """The repair order behind a status token, or None (unknown and expired answer alike)."""
    if not (20 <= len(token) <= 100):
        return None
    ro = await RepairOrder.select().where(RepairOrder.status_token_hash == token_hash(token)).first()
    if ro is None:
        return None
    if ro["delivered_at"] is not None and now() - ro["delivered_at"] > EXPIRES_AFTER_DELIVERY:
        return None
    return ro


def mask_plate(plate: str) -> str:
    """沪A12345 → 沪A·••345: enough to recognise one's own car, not enough to identify it."""
    if len(plate) <= 4:
        return "•" * len(plate)
    return f"{plate[:2]}·{'•' * (len(plate) - 5)}{plate[-3:]}"


def first_name(full: str | None) -> str | None:
    """Staff are shown by their first word only (no surnames)."""
    return full.split()[0] if full else None


async def view(ro: dict[str, Any], token: str) -> dict[str, Any]:
    """The status JSON: only what the status page shows. No phone, VIN, surnames or full plate.

    Photo URLs go through this same token, so they open nothing outside this repair order.
    """
    vehicle = await Vehicle.select().where(Vehicle.id == ro["vehicle"]).first()
    customer = await Customer.select(Customer.language).where(Customer.id == ro["customer"]).first()
    assert vehicle is not None and customer is not None
    jobs = (await readmodels.jobs_of([ro["id"]]))[ro["id"]]
    full = await readmodels.repair_order(ro["id"])
    assert full is not None
    label = " ".join(x for x in (vehicle["make"], vehicle["model"], vehicle["color"]) if x)
    last = (
        await Event.select(Event.seq)
        .where(Event.repair_order == ro["id"])
        .order_by(Event.seq, ascending=False)
        .first()
    )
    shown_jobs = []
    for job in jobs:
        item: dict[str, Any] = {"id": job["id"], "title": job["title"], "state": job["state"]}
        if job["approval"]:
            item["approval"] = job["approval"]
        if job["price_cents"] is not None:
            item["price"] = job["price_cents"] / 100
        shown_jobs.append(item)
    return {
        "number": ro["number"],
        "vehicle": {"label": label or "—", "plate_masked": mask_plate(vehicle["plate"])},
        "stage": full["stage"],
        "promised_at": ro["promised_at"],
        "first_promised_at": ro["first_promised_at"],
        "promise_history": [
            {
                "promised_at": p["promised_at"],
                "previous_at": p["previous_at"],
                "reason": p["reason"],
                "at": p["at"],
            }
            for p in full["promise_history"]
        ],
        "jobs": shown_jobs,
        "photos": [
            {
                "id": p["id"],
                "kind": p["kind"],
                "url": f"/s/{token}/photos/{p['id']}",
                "thumb_url": f"/s/{token}/photos/{p['id']}/thumb",
            }
            for p in full["photos"]
            if p["kind"] in workshop.CUSTOMER_PHOTO_KINDS
        ],
        "language": customer["language"],
        "ready_at": ro["ready_at"],
        "delivered_at": ro["delivered_at"],
        "seq": int(last["seq"]) if last else 0,
    }
