"""The customer's status link: from token to repair order, and what the customer may see.

The status JSON, page and manifest are one statement each (`show`: the token's lookup and the
whole view as one UNION ALL), so the view and its `seq` come from one snapshot: the page resumes its
live updates from exactly what it shows. The link's other uses (photos, answers, the live stream)
only need the order's row (`resolve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api import money, readmodels, settings, settlement_summary, sqlread, workshop
from api.auth import token_hash
from api.commands import now
from api.sqlread import Branch, Kind
from api.tables import RepairOrder

# The link keeps working after delivery for the follow-up survey (2–5 days), then expires.
EXPIRES_AFTER_DELIVERY = timedelta(days=30)

_BY_TOKEN = (
    f"SELECT {sqlread.columns(RepairOrder, 'ro')} FROM repair_order ro WHERE ro.status_token_hash = {{}}"  # noqa: S608
)


def _expired(ro: dict[str, Any]) -> bool:
    return ro["delivered_at"] is not None and now() - ro["delivered_at"] > EXPIRES_AFTER_DELIVERY


async def resolve(token: str) -> dict[str, Any] | None:
    """The repair order behind a status token, or None (unknown and expired answer alike)."""
    if not (20 <= len(token) <= 100):
        return None
    found = await sqlread.rows(_BY_TOKEN, token_hash(token))
    if not found or _expired(found[0]):
        return None
    return found[0]


def mask_plate(plate: str) -> str:
    """沪A12345 → 沪A·••345: enough to recognise one's own car, not enough to identify it."""
    if len(plate) <= 4:
        return "•" * len(plate)
    return f"{plate[:2]}·{'•' * (len(plate) - 5)}{plate[-3:]}"


def first_name(full: str | None) -> str | None:
    """Staff are shown by their first word only (no surnames)."""
    return full.split()[0] if full else None


@dataclass(frozen=True)
class Status:
    """What a status link shows: the status JSON, and for the page the shop's name and time zone."""

    view: dict[str, Any]
    shop_name: str
    timezone: str


# The order, with its vehicle, customer, survey and last event, and the shop (one row; none before
# the setup: no cache to keep in step across workers). Each part finds the order by the token's
# hash (a unique index).
_ORDER_FIELDS = (
    ("id", Kind.INT, "ro.id"),
    ("last_seq", Kind.INT, "(SELECT MAX(e.seq) FROM event e WHERE e.repair_order = ro.id)"),
    ("survey.score", Kind.INT, "sv.score"),
    ("number", Kind.TEXT, "ro.number"),
    ("plate", Kind.TEXT, "v.plate"),
    ("make", Kind.TEXT, "v.make"),
    ("model", Kind.TEXT, "v.model"),
    ("color", Kind.TEXT, "v.color"),
    ("language", Kind.TEXT, "c.language"),
    ("survey.comment", Kind.TEXT, "sv.comment"),
    ("shop.name", Kind.TEXT, "sh.name"),
    ("shop.timezone", Kind.TEXT, "sh.timezone"),
    ("promised_at", Kind.TIME, "ro.promised_at"),
    ("first_promised_at", Kind.TIME, "ro.first_promised_at"),
    ("ready_at", Kind.TIME, "ro.ready_at"),
    ("delivered_at", Kind.TIME, "ro.delivered_at"),
)
_ORDER = (
    "FROM repair_order ro JOIN vehicle v ON v.id = ro.vehicle JOIN customer c ON c.id = ro.customer"
    " LEFT JOIN survey sv ON sv.repair_order = ro.id"
    " LEFT JOIN (SELECT name, timezone FROM shop ORDER BY id LIMIT 1) sh ON 1 = 1"
    " WHERE ro.status_token_hash = {}"
)
_JOB_FIELDS = (  # what the customer sees of a job, and what the order's stage needs
    ("id", Kind.INT, "j.id"),
    ("price_cents", Kind.INT, "j.price_cents"),
    ("technician", Kind.INT, "j.technician"),
    ("title", Kind.TEXT, "j.title"),
    ("state", Kind.TEXT, "j.state"),
    ("approval", Kind.TEXT, "j.approval"),
    ("customer_text", Kind.TEXT, "j.customer_text"),
)
_PHOTO_FIELDS = (("id", Kind.INT, "p.id"), ("kind", Kind.TEXT, "p.kind"), ("panel", Kind.TEXT, "p.panel"))
# The approval card (recommended work): its parts lines, and the finding it was priced from (whose
# photos name it in `panel`, "finding:<id>").
_PART_FIELDS = (
    ("id", Kind.INT, "pl.id"),
    ("job", Kind.INT, "pl.job"),
    ("quantity", Kind.INT, "pl.quantity"),
    ("unit_price_fen", Kind.INT, "pl.unit_price_fen"),
    ("name", Kind.TEXT, "pl.name"),
)
_PRICED_FIELDS = (("id", Kind.INT, "f.id"), ("recommended_job", Kind.INT, "f.recommended_job"))
_PHOTO_KINDS = tuple(sorted(workshop.CUSTOMER_PHOTO_KINDS))
_PROMISE_FIELDS = (
    ("id", Kind.INT, "pc.id"),
    ("reason", Kind.TEXT, "pc.reason"),
    ("promised_at", Kind.TIME, "pc.promised_at"),
    ("previous_at", Kind.TIME, "pc.previous_at"),
    ("at", Kind.TIME, "pc.changed_at"),
)
_OF_LINK = "JOIN repair_order ro ON ro.id = {alias}.repair_order WHERE ro.status_token_hash = {{}}"
_JOBS = f"FROM job j {_OF_LINK.format(alias='j')}"
_PHOTOS = f"FROM photo p {_OF_LINK.format(alias='p')} AND p.kind IN ({sqlread.marks(_PHOTO_KINDS)})"
_PROMISES = f"FROM promise_change pc {_OF_LINK.format(alias='pc')}"
_PARTS = f"FROM part_line pl {_OF_LINK.format(alias='pl')}"
_PRICED = f"FROM finding f {_OF_LINK.format(alias='f')} AND f.recommended_job IS NOT NULL"


def _branches(hashed: str) -> list[Branch]:
    return [
        Branch("order", _ORDER_FIELDS, _ORDER, (hashed,)),
        Branch("job", _JOB_FIELDS, _JOBS, (hashed,)),
        Branch("photo", _PHOTO_FIELDS, _PHOTOS, (hashed, *_PHOTO_KINDS)),
        Branch("promise", _PROMISE_FIELDS, _PROMISES, (hashed,)),
        Branch("part", _PART_FIELDS, _PARTS, (hashed,)),
        Branch("priced", _PRICED_FIELDS, _PRICED, (hashed,)),
    ]


def _priced(job: dict[str, Any], found: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What the approval card shows beyond the job, when there is something: the customer's words,
    and with parts lines the labour, the lines and the total (its photos: `photos[].job_id`)."""
    extra: dict[str, Any] = {}
    if job["customer_text"]:
        extra["customer_text"] = job["customer_text"]
    lines = [
        {
            "name": p["name"],
            "quantity": p["quantity"],
            "unit_price_fen": p["unit_price_fen"],
            "line_fen": money.line_fen(p["quantity"], p["unit_price_fen"]),
        }
        for p in found["part"]
        if p["job"] == job["id"]
    ]
    if lines:
        labour = job["price_cents"] or 0
        extra |= {
            "labour_fen": labour,
            "parts": lines,
            "total_fen": labour + sum(x["line_fen"] for x in lines),
        }
    return extra


async def show(token: str) -> Status | None:
    """What the status link shows, or None (unknown and expired answer alike): only what the status
    page shows. No phone, VIN, surnames or full plate. One statement.

    Photo URLs go through this same token, so they open nothing outside this repair order.
    """
    if not (20 <= len(token) <= 100):
        return None
    found = await sqlread.union(*_branches(token_hash(token)))
    if not found["order"] or _expired(found["order"][0]):
        return None
    order = found["order"][0]
    jobs = found["job"]
    label = " ".join(x for x in (order["make"], order["model"], order["color"]) if x)
    shown_jobs = []
    for job in jobs:
        item: dict[str, Any] = {"id": job["id"], "title": job["title"], "state": job["state"]}
        if job["approval"]:
            item["approval"] = job["approval"]
        if job["price_cents"] is not None:
            item["price"] = job["price_cents"] / 100
        item |= _priced(job, found)
        shown_jobs.append(item)
    priced = {f"finding:{f['id']}": f["recommended_job"] for f in found["priced"]}
    survey = None
    if order["survey.score"] is not None:
        survey = {"score": order["survey.score"], "comment": order["survey.comment"]}
    view = {
        "number": order["number"],
        "vehicle": {"label": label or "—", "plate_masked": mask_plate(order["plate"])},
        "stage": readmodels.stage_of(order, jobs).value,
        "promised_at": order["promised_at"],
        "first_promised_at": order["first_promised_at"],
        "promise_history": [
            {k: p[k] for k in ("promised_at", "previous_at", "reason", "at")} for p in found["promise"]
        ],
        "jobs": shown_jobs,
        "photos": [
            {
                "id": p["id"],
                "kind": p["kind"],
                "url": f"/s/{token}/photos/{p['id']}",
                "thumb_url": f"/s/{token}/photos/{p['id']}/thumb",
                # The recommended job whose approval card it belongs to (a priced finding's photo).
                "job_id": priced.get(p["panel"]),
            }
            for p in found["photo"]
        ],
        "language": order["language"],
        "ready_at": order["ready_at"],
        "delivered_at": order["delivered_at"],
        "seq": int(order["last_seq"] or 0),
        "survey": survey,
    }
    # After the hand-over, the bill's summary (a second statement, only for delivered orders: the
    # figures were frozen at the hand-over, so they cannot disagree with the snapshot above).
    view["settlement"] = (
        await settlement_summary.customer_summary(order["id"]) if order["delivered_at"] else None
    )
    # Before the first-run setup there is no shop row: the zone every time is shown in is SHOP_TIMEZONE.
    zone = order["shop.timezone"] or settings.get().shop_timezone
    return Status(view, order["shop.name"] or "", zone)
