"""What the customer is billed for, and the summary their status page shows after the hand-over.

Apart from api/handover.py so that the status link's read (api/statuslink.py) can use it without
the hand-over's imports (photos, events). No web imports.
"""

from __future__ import annotations

from typing import Any

from api.tables import Job, PartLine, Settlement

# Jobs the customer pays for: work that needs no decision, or that they approved.
_BILLED_APPROVALS = (None, "approved")
_NOT_BILLED_STATES = ("recommended", "declined")


def billed(job: dict[str, Any]) -> bool:
    return job["approval"] in _BILLED_APPROVALS and job["state"] not in _NOT_BILLED_STATES


async def customer_summary(ro_id: int) -> dict[str, Any] | None:
    """What the customer's status page shows after the hand-over: work done in their words, parts,
    total paid, payment method and the next service; None before it."""
    row = await Settlement.select().where(Settlement.repair_order == ro_id).first()
    if row is None or row["handed_over_at"] is None:
        return None
    jobs = [j for j in await Job.select().where(Job.repair_order == ro_id).order_by(Job.id) if billed(j)]
    ids = {j["id"] for j in jobs}
    parts = (
        await PartLine.select(PartLine.name, PartLine.quantity, PartLine.job)
        .where(PartLine.repair_order == ro_id)
        .order_by(PartLine.id)
    )
    return {
        "work": [j["customer_text"] or j["title"] for j in jobs],
        "parts": [{"name": p["name"], "quantity": p["quantity"]} for p in parts if p["job"] in ids],
        "total_fen": row["total_fen"],
        "tax_fen": row["tax_fen"],
        "discount_fen": row["discount_fen"],
        "payment_method": row["payment_method"],
        "next_service_on": row["next_service_on"],
        "next_service_km": row["next_service_km"],
    }
