"""Reading repair orders into the shapes the API answers with (one place, used by every route)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from api import clockstore, workshop
from api.auth import status_token
from api.tables import Finding, Job, Photo, PromiseChange, RepairOrder


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
    shaped = _shape(ro, jobs[ro_id], promises[ro_id], photo_rows[ro_id])
    shaped["findings"] = await _findings_of(ro_id, shaped["photos"])
    return shaped


async def _findings_of(ro_id: int, photos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What technicians found, for the advisor to price (a finding's photos name it in `panel`)."""
    rows = (
        await Finding.select(*Finding.all_columns(), Finding.created_by.name)
        .where(Finding.repair_order == ro_id)
        .order_by(Finding.id)
    )
    return [
        {
            "id": r["id"],
            "job_id": r["job"],
            "text": r["text"],
            "phrase": r["phrase"] or None,
            "created_at": r["created_at"],
            "created_by": {"id": r["created_by"], "name": r["created_by.name"]},
            "recommended_job_id": r["recommended_job"],
            "photos": [p for p in photos if p["panel"] == f"finding:{r['id']}"],
        }
        for r in rows
    ]


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
        raise workshop.NotFound(
            f"Repair order {ro_id} does not exist.", code="ro.not_found", params={"id": ro_id}
        )
    return ro


def floor_jobs_query():  # type: ignore[no-untyped-def]
    """Jobs with what a floor screen shows of their repair order (technician name, vehicle, promise)."""
    return Job.select(
        *Job.all_columns(),
        Job.technician.name,
        Job.repair_order.number,
        Job.repair_order.promised_at,
        Job.repair_order.concerns,
        *Job.repair_order.vehicle.all_columns(),  # type: ignore[union-attr]
    )


def floor_ro(row: dict[str, Any]) -> dict[str, Any]:
    """The repair-order part of a floor_jobs_query row."""
    return {
        "id": row["repair_order"],
        "number": row["repair_order.number"],
        "promised_at": row["repair_order.promised_at"].isoformat(),
        "concerns": json.loads(row["repair_order.concerns"]),
        "vehicle": {k: row[f"repair_order.vehicle.{k}"] for k in ("plate", "make", "model", "color")},
    }


async def job_titles(job_ids: set[int]) -> dict[int, str]:
    if not job_ids:
        return {}
    rows = await Job.select(Job.id, Job.title).where(Job.id.is_in(sorted(job_ids)))
    return {r["id"]: r["title"] for r in rows}


def entry_out(row: dict[str, Any], titles: dict[int, str] | None = None) -> dict[str, Any]:
    """A clock entry as staff see it: corrected times win; the tablets' own times beside them."""
    started, ended = clockstore.effective(row)
    flags = clockstore.flags_of(row)
    return {
        "id": row["id"],
        "job_id": row["job"],
        "job_title": (titles or {}).get(row["job"]),
        "technician_id": row["technician"],
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat() if ended else None,
        "reason": row["reason"],
        "auto_stopped": bool(row["auto_stopped"]),
        "flags": flags,
        "clock_skew_flag": "clock_skew" in flags,
        "confirmed_at": row["confirmed_at"].isoformat() if row["confirmed_at"] else None,
        "corrected": bool(row["corrected"]),
        # Why the foreman should look at it (the taps were taken either way), and when they did.
        "review_reasons": clockstore.review_of(row),
        "reviewed_at": row["reviewed_at"].isoformat() if row.get("reviewed_at") else None,
        "device_started_at": row["device_started_at"].isoformat() if row["device_started_at"] else None,
        "device_ended_at": row["device_ended_at"].isoformat() if row["device_ended_at"] else None,
    }
