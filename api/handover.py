"""Settlement and hand-over (结算 / 交车) as use cases: the bill, its discount, and giving the car back.

The settlement is worked out from the order as it stands (labour of the jobs the customer gets, parts
lines on them, the discount) until the hand-over freezes its figures into the settlement row: what
the customer paid stays what they paid, whatever is edited later. Money is integer fen (api.money).
Commands run inside api.commands.execute. No web imports.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.engine import engine_finder

import photos
from api import db, events, followups, money, photo_uploads, readmodels, settings, workshop
from api.commands import Outcome, now
from api.settlement_summary import billed
from api.tables import Job, PartLine, Photo, RepairOrder, Settlement, Shop, Staff, Walkaround

PAYMENT_METHODS = ("cash", "card", "wechat", "alipay", "transfer")
# Before the first-run setup there is no shop row: the columns' own defaults apply.
_SHOP_DEFAULTS: dict[str, Any] = {
    "name": "",
    "address": "",
    "phone": "",
    "tax_id": "",
    "timezone": "",
    "tax_rate_bp": 1300,
    "discount_threshold_fen": 50000,
    "ready_rule": "manual",
    "next_service_months": 6,
    "next_service_km": 5000,
}


async def shop_terms() -> dict[str, Any]:
    """The shop's settings the settlement and the print view need."""
    row = await Shop.select(*(getattr(Shop, name) for name in _SHOP_DEFAULTS)).first()
    terms = {**_SHOP_DEFAULTS, **(row or {})}
    terms["timezone"] = terms["timezone"] or settings.get().shop_timezone
    return terms


def add_months(day: date, months: int) -> date:
    """`day` plus whole months, on the last day of a shorter month (31 Aug + 6 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_service_default(terms: dict[str, Any], at: datetime, mileage: int) -> tuple[str, int]:
    """When the next service is due by default: months after the hand-over day (shop time), and km."""
    day = at.astimezone(ZoneInfo(terms["timezone"])).date()
    return add_months(day, int(terms["next_service_months"])).isoformat(), mileage + int(
        terms["next_service_km"]
    )


async def _row(ro_id: int) -> dict[str, Any] | None:
    return await Settlement.select().where(Settlement.repair_order == ro_id).first()


async def _facts(ro_id: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The order's row, its jobs and the parts lines of the jobs the customer pays for."""
    ro = await readmodels.require_repair_order(ro_id)
    jobs = list(await Job.select().where(Job.repair_order == ro_id).order_by(Job.id))
    billed_ids = {j["id"] for j in jobs if billed(j)}
    parts = [
        p
        for p in await PartLine.select().where(PartLine.repair_order == ro_id).order_by(PartLine.id)
        if p["job"] in billed_ids
    ]
    return ro, jobs, parts


def _figures(
    jobs: list[dict[str, Any]], parts: list[dict[str, Any]], discount: int, rate: int
) -> money.Totals:
    labour = [j["price_cents"] or 0 for j in jobs if billed(j)]
    lines = [money.line_fen(p["quantity"], p["unit_price_fen"]) for p in parts]
    gross = sum(labour) + sum(lines)
    # A discount agreed before a job was declined may now exceed the bill: shown capped, refused at
    # the hand-over (settlement.discount_too_high) until it is put right.
    return money.totals(labour, lines, min(discount, gross), rate)


async def _name(staff_id: int | None) -> dict[str, Any] | None:
    if staff_id is None:
        return None
    row = await Staff.select(Staff.id, Staff.name).where(Staff.id == staff_id).first()
    return {"id": row["id"], "name": row["name"]} if row else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def show(ro_id: int) -> dict[str, Any]:
    """The settlement as it stands (a draft), or as frozen at the hand-over."""
    ro, jobs, parts = await _facts(ro_id)
    terms = await shop_terms()
    row = await _row(ro_id) or {}
    stage = readmodels.stage_of(ro, jobs)
    discount = int(row.get("discount_fen") or 0)
    handed_over = row.get("handed_over_at") is not None
    figures = _figures(jobs, parts, discount, int(terms["tax_rate_bp"]))
    if handed_over:  # what the customer paid, whatever changed since
        figures = money.Totals(
            row["labour_fen"],
            row["parts_fen"],
            discount,
            row["total_fen"] - row["tax_fen"],
            row["tax_fen"],
            row["total_fen"],
        )
    service_on, service_km = next_service_default(terms, row.get("handed_over_at") or now(), ro["mileage"])
    return {
        "repair_order": ro_id,
        "number": ro["number"],
        "stage": stage.value,
        "jobs": [
            {
                "id": j["id"],
                "title": j["title"],
                "customer_text": j["customer_text"] or j["title"],
                "state": j["state"],
                "labour_fen": j["price_cents"] or 0,
            }
            for j in jobs
            if billed(j)
        ],
        "parts": [
            {
                "id": p["id"],
                "job_id": p["job"],
                "name": p["name"],
                "part_number": p["part_number"],
                "quantity": p["quantity"],
                "unit_price_fen": p["unit_price_fen"],
                "line_fen": money.line_fen(p["quantity"], p["unit_price_fen"]),
                "state": p["state"],
                "old_part_returned": p["old_part_returned"],
            }
            for p in parts
        ],
        "labour_fen": figures.labour_fen,
        "parts_fen": figures.parts_fen,
        "discount_fen": figures.discount_fen,
        "discount_reason": row.get("discount_reason", ""),
        "discount_state": row.get("discount_state", "none"),
        "discount_threshold_fen": int(terms["discount_threshold_fen"]),
        "discount_needs_approval": discount > int(terms["discount_threshold_fen"]),
        "discount_approved_by": await _name(row.get("discount_approved_by")),
        "discount_approved_at": _iso(row.get("discount_approved_at")),
        "net_fen": figures.net_fen,
        "tax_rate_bp": row["tax_rate_bp"] if handed_over else int(terms["tax_rate_bp"]),
        "tax_fen": figures.tax_fen,
        "total_fen": figures.total_fen,
        "payment_method": row.get("payment_method"),
        "payment_methods": list(PAYMENT_METHODS),
        "mileage_in": ro["mileage"],
        "mileage_out": row.get("mileage_out"),
        "next_service_on": row["next_service_on"] if handed_over else service_on,
        "next_service_km": row["next_service_km"] if handed_over else service_km,
        "next_service_months": int(terms["next_service_months"]),
        "next_service_add_km": int(terms["next_service_km"]),
        "signed_by": row.get("signed_by", ""),
        "signature_url": f"/api/repair-orders/{ro_id}/handover/signature" if row.get("signature") else None,
        "handed_over_at": _iso(row.get("handed_over_at")),
        "handed_over_by": await _name(row.get("handed_over_by")),
    }


def _check_open(ro: dict[str, Any], row: dict[str, Any] | None) -> None:
    if (row and row["handed_over_at"] is not None) or ro["delivered_at"] is not None:
        raise workshop.Conflict(
            "This car was already handed over: the settlement is closed.", code="handover.already_done"
        )


def check_payment_method(method: str | None) -> None:
    if method is not None and method not in PAYMENT_METHODS:
        raise workshop.Invalid(
            f"payment_method: one of {', '.join(PAYMENT_METHODS)} (recorded, not processed).",
            code="settlement.payment_method",
            field="payment_method",
            params={"method": method},
        )


def check_discount(discount: int, reason: str, gross: int) -> None:
    """A discount is never above the bill, and always says why (the manager and the books read it)."""
    if discount > gross:
        raise workshop.Invalid(
            f"The discount ({discount} fen) is above the total ({gross} fen).",
            code="settlement.discount_too_high",
            field="discount_fen",
            params={"discount": money.yuan_text(discount), "total": money.yuan_text(gross)},
        )
    if discount > 0 and not reason.strip():
        raise workshop.Invalid(
            "discount_reason: a discount needs a reason.",
            code="settlement.discount_reason",
            field="discount_reason",
        )


async def _save_row(ro_id: int, row: dict[str, Any] | None, changes: dict[Any, Any]) -> None:
    changes = {**changes, Settlement.updated_at: now()}
    if row is None:
        await Settlement(repair_order=ro_id, **{c._meta.name: v for c, v in changes.items()}).save()
    else:
        await Settlement.update(changes).where(Settlement.repair_order == ro_id)


async def update(ro_id: int, discount: int, reason: str, payment_method: str | None, by: int) -> Outcome:
    """Set the discount (with its reason) and, optionally, the payment method, before the hand-over.

    Above the shop's threshold the discount waits for a manager (discount_state "pending"); an
    unchanged discount keeps its approval."""
    ro, jobs, parts = await _facts(ro_id)
    row = await _row(ro_id)
    _check_open(ro, row)
    check_payment_method(payment_method)
    reason = reason.strip()
    terms = await shop_terms()
    gross = _figures(jobs, parts, 0, int(terms["tax_rate_bp"])).total_fen
    check_discount(discount, reason, gross)
    same = row is not None and row["discount_fen"] == discount and row["discount_reason"] == reason
    changes: dict[Any, Any] = {Settlement.discount_fen: discount, Settlement.discount_reason: reason}
    if not same:
        state = (
            "none"
            if discount == 0
            else "pending"
            if discount > terms["discount_threshold_fen"]
            else "approved"
        )
        changes |= {
            Settlement.discount_state: state,
            Settlement.discount_approved_by: None,
            Settlement.discount_approved_at: None,
        }
    if payment_method is not None:
        changes[Settlement.payment_method] = payment_method
    await _save_row(ro_id, row, changes)
    shown = await show(ro_id)
    event = events.settlement_updated(ro_id, discount, shown["discount_state"], shown["total_fen"], by)
    return Outcome(200, shown, [event])


async def approve_discount(ro_id: int, by: int) -> Outcome:
    """A manager approves the discount that waits for one; who and when are kept."""
    ro = await readmodels.require_repair_order(ro_id)
    row = await _row(ro_id)
    _check_open(ro, row)
    if row is None or row["discount_state"] != "pending":
        raise workshop.Conflict("No discount is waiting for approval.", code="settlement.no_pending_discount")
    await Settlement.update(
        {
            Settlement.discount_state: "approved",
            Settlement.discount_approved_by: by,
            Settlement.discount_approved_at: now(),
            Settlement.updated_at: now(),
        }
    ).where(Settlement.repair_order == ro_id)
    shown = await show(ro_id)
    return Outcome(200, shown, [events.discount_approved(ro_id, row["discount_fen"], by)])


async def hand_over(
    ro_id: int,
    *,
    mileage_out: int,
    next_service_on: date | None,
    next_service_km: int | None,
    old_parts_returned: dict[int, bool],
    payment_method: str,
    signed_by: str,
    signature: photos.Ingested,
    by: int,
) -> Outcome:
    """Give the car back: the settlement's figures frozen, the customer's signature kept, the order
    delivered (stage.changed) — one command, so a refusal changes nothing."""
    ro, jobs, parts = await _facts(ro_id)
    row = await _row(ro_id)
    _check_open(ro, row)
    stage = readmodels.stage_of(ro, jobs)
    if stage is not workshop.Stage.READY:
        raise workshop.Conflict(
            "Payment and hand-over come after the car is ready.",
            code="handover.not_ready",
            params={"stage": stage.value},
        )
    check_payment_method(payment_method)
    if mileage_out < ro["mileage"]:
        raise workshop.Invalid(
            f"mileage_out ({mileage_out} km) is below the mileage at check-in ({ro['mileage']} km).",
            code="handover.mileage_below_in",
            field="mileage_out",
            params={"mileage_in": ro["mileage"], "mileage_out": mileage_out},
        )
    unknown = sorted(set(old_parts_returned) - {p["id"] for p in parts})
    if unknown:
        raise workshop.Invalid(
            "old_parts_returned names parts that are not on this order's bill.",
            code="handover.unknown_part",
            field="old_parts_returned",
            params={"ids": unknown},
        )
    terms = await shop_terms()
    discount = row["discount_fen"] if row else 0
    reason = row["discount_reason"] if row else ""
    gross = _figures(jobs, parts, 0, int(terms["tax_rate_bp"])).total_fen
    check_discount(discount, reason, gross)
    if row is not None and row["discount_state"] == "pending":
        raise workshop.Conflict(
            "The discount waits for a manager's approval.",
            code="settlement.discount_pending",
            params={"discount": money.yuan_text(discount)},
        )
    at = now()
    default_on, default_km = next_service_default(terms, at, mileage_out)
    figures = _figures(jobs, parts, discount, int(terms["tax_rate_bp"]))
    await photo_uploads.keep(signature)
    await _save_row(
        ro_id,
        row,
        {
            Settlement.payment_method: payment_method,
            Settlement.labour_fen: figures.labour_fen,
            Settlement.parts_fen: figures.parts_fen,
            Settlement.tax_rate_bp: int(terms["tax_rate_bp"]),
            Settlement.tax_fen: figures.tax_fen,
            Settlement.total_fen: figures.total_fen,
            Settlement.mileage_out: mileage_out,
            Settlement.next_service_on: (next_service_on.isoformat() if next_service_on else default_on),
            Settlement.next_service_km: next_service_km if next_service_km is not None else default_km,
            Settlement.signature: signature.display,
            Settlement.signed_by: signed_by,
            Settlement.handed_over_by: by,
            Settlement.handed_over_at: at,
        },
    )
    for part_id, returned in old_parts_returned.items():
        await PartLine.update({PartLine.old_part_returned: returned, PartLine.updated_at: at}).where(
            PartLine.id == part_id
        )
    await RepairOrder.update({RepairOrder.delivered_at: at}).where(RepairOrder.id == ro_id)
    shown = await show(ro_id)
    handed = events.ro_handed_over(ro_id, figures.total_fen, payment_method, signed_by, by)
    staged = events.stage_changed(ro_id, stage, workshop.Stage.DELIVERED, [j["id"] for j in jobs])
    # The follow-up call (回访) is opened by the delivery itself: no delivered car goes uncalled.
    return Outcome(200, shown, [*await followups.open_for(ro_id, at), handed, staged])


async def signature_path(ro_id: int) -> Path:
    """Where the hand-over signature is stored (NotFound before the hand-over)."""
    row = await _row(ro_id)
    if row is None or not row["signature"]:
        raise workshop.NotFound("This car has not been handed over yet.", code="handover.not_signed")
    return photo_uploads.store().path(row["signature"])


async def release(stored: photos.Ingested) -> None:
    """After the command: remove those of the signature's files that no row names (a refused
    hand-over leaves nothing behind, a kept one only its image)."""
    engine = engine_finder()
    assert engine is not None
    async with db.write_transaction(engine):
        for name in stored.files:
            named = (
                await Settlement.exists().where(Settlement.signature == name)
                or await Walkaround.exists().where(Walkaround.signature == name)
                or await Photo.exists().where((Photo.display == name) | (Photo.thumb == name))
            )
            if not named:
                photo_uploads.store().remove(name)
