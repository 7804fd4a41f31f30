"""Reading repair orders into the shapes the API answers with (one place, used by every route)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from api import workshop
from api.auth import status_token
from api.tables import Job, Photo, PromiseChange, RepairOrder


def _hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def _money(cents: int | None) -> float | None:
    return None if cents is None else cents / 100


def job_out(row: dict[str, Any]) -> dict[str, Any]:
    technician = None
    if row.get("technician"):
        technician = {"id": row["technician"], "name": row.get("technician.name")}
    return {
        "id": row["id"],
        "title": row["title"],
        "state": row["state"],
        "approval": row["approval"],
        "needs_approval": bool(row["needs_approval"]),
        "estimated_hours": _hours(row["estimated_minutes"]),
        "price": _money(row["price_cents"]),
        "technician": technician,
        "rework_count": row["rework_count"],
    }


def job_facts(rows: list[dict[str, Any]]) -> list[workshop.JobFacts]:
    return [
        workshop.JobFacts(
            id=r["id"],
            title=r["title"],
            state=workshop.JobState(r["state"]),
            technician_id=r.get("technician"),
        )
        for r in rows
    ]


def stage_of(ro: dict[str, Any], jobs: list[dict[str, Any]]) -> workshop.Stage:
    return workshop.stage(
        job_facts(jobs), ready=ro["ready_at"] is not None, delivered=ro["delivered_at"] is not None
    )


async def jobs_of(ro_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not ro_ids:
        return grouped
    rows = (
        await Job.select(*Job.all_columns(), Job.technician.name)
        .where(Job.repair_order.is_in(ro_ids))
        .order_by(Job.id)
    )
    for row in rows:
        grouped[row["repair_order"]].append(row)
    return grouped


async def _promises_of(ro_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not ro_ids:
        return grouped
    rows = (
        await PromiseChange.select()
        .where(PromiseChange.repair_order.is_in(ro_ids))
        .order_by(PromiseChange.id)
    )
    for row in rows:
        grouped[row["repair_order"]].append(
            {
                "promised_at": row["promised_at"],
                "previous_at": row["previous_at"],
                "reason": row["reason"],
                "at": row["changed_at"],
            }
        )
    return grouped


def _ro_query():  # type: ignore[no-untyped-def]
    return RepairOrder.select(
        *RepairOrder.all_columns(),
        *RepairOrder.customer.all_columns(),
        *RepairOrder.vehicle.all_columns(),
    ).output(nested=True)


def photo_out(row: dict[str, Any]) -> dict[str, Any]:
    """A photo as staff see it (their URLs need the session)."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "note": row["note"],
        "panel": row["panel"],
        "job_id": row["job"],
        "url": f"/api/photos/{row['id']}",
        "thumb_url": f"/api/photos/{row['id']}/thumb",
        "width": row["width"],
        "height": row["height"],
        "created_at": row["created_at"],
    }


async def photos_of(ro_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ro_ids:
        for row in await Photo.select().where(Photo.repair_order.is_in(ro_ids)).order_by(Photo.id):
            grouped[row["repair_order"]].append(row)
    return grouped


def _shape(
    ro: dict[str, Any],
    jobs: list[dict[str, Any]],
    promises: list[dict[str, Any]],
    photo_rows: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    photos = [photo_out(p) for p in photo_rows or []]
    customer = ro["customer"]
    vehicle = ro["vehicle"]
    return {
        "id": ro["id"],
        "number": ro["number"],
        "stage": stage_of(ro, jobs).value,
        "promised_at": ro["promised_at"],
        "first_promised_at": ro["first_promised_at"],
        "status_url": f"/s/{status_token(ro['status_nonce'])}",
        "customer": {
            "name": customer["name"],
            "phone": customer["phone"],
            "language": customer["language"],
        },
        "vehicle": {k: vehicle[k] for k in ("plate", "vin", "make", "model", "year", "color")},
        "mileage": ro["mileage"],
        "fuel_level": ro["fuel_level"],
        "concerns": json.loads(ro["concerns"]),
        "jobs": [job_out(j) for j in jobs],
        "promise_history": promises,
        "photos": photos,
        "created_at": ro["created_at"],
        "ready_at": ro["ready_at"],
        "delivered_at": ro["delivered_at"],
    }


async def repair_order(ro_id: int) -> dict[str, Any] | None:
    """One repair order as the API shows it to staff, or None."""
    ro = await _ro_query().where(RepairOrder.id == ro_id).first()
    if ro is None:
        return None
    jobs = await jobs_of([ro_id])
    promises = await _promises_of([ro_id])
    photo_rows = await photos_of([ro_id])
    return _shape(ro, jobs[ro_id], promises[ro_id], photo_rows[ro_id])


async def open_repair_orders() -> list[dict[str, Any]]:
    """Every repair order not yet delivered, soonest promise first."""
    rows = await _ro_query().where(RepairOrder.delivered_at.is_null()).order_by(RepairOrder.promised_at)
    ids = [r["id"] for r in rows]
    jobs = await jobs_of(ids)
    promises = await _promises_of(ids)
    photo_rows = await photos_of(ids)
    return [_shape(r, jobs[r["id"]], promises[r["id"]], photo_rows[r["id"]]) for r in rows]


async def current_stage(ro_id: int) -> workshop.Stage:
    """The repair order's stage as its jobs stand now (NotFound when it does not exist)."""
    ro = await require_repair_order(ro_id)
    return stage_of(ro, (await jobs_of([ro_id]))[ro_id])


async def require_repair_order(ro_id: int) -> dict[str, Any]:
    """The raw row plus its jobs, or NotFound (for commands)."""
    ro = await RepairOrder.select().where(RepairOrder.id == ro_id).first()
    if ro is None:
        raise workshop.NotFound(f"Repair order {ro_id} does not exist.")
    return ro
