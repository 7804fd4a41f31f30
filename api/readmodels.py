"""Reading repair orders into the shapes the API answers with (one place, used by every route).

The reads are hand-written statements (api/sqlread.py), each row read once: one order is one
statement (the order, its jobs, promise changes, photos, findings, clock time, parts lines, QC
records, settlement and walk-around as one UNION ALL), and so is the board whatever the number of
orders (the same for every open order, its findings counted but not listed).
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from typing import Any

from api import clockstore, money, sqlread, workshop
from api.auth import status_token
from api.commands import now
from api.sqlread import Branch, Kind
from api.tables import Job, Photo, RepairOrder


def _hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def _money(cents: int | None) -> float | None:
    return None if cents is None else cents / 100


def job_out(row: dict[str, Any]) -> dict[str, Any]:
    """A job as staff see it, and as job events carry it (the order's read adds what only it has:
    clocked time, parts, QC records, the finding it was priced from)."""
    technician = None
    if row.get("technician"):
        technician = {"id": row["technician"], "name": row.get("technician.name")}
    paused = row["state"] == workshop.JobState.PAUSED.value
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
        "price_fen": row["price_cents"],
        "customer_text": row.get("customer_text") or "",
        # Why a paused job stopped: the reason of its last clock entry (the order's reads take it
        # with the job; rows without it, as a clock tap's window, give the stored column).
        "pause_reason": row.get("last_stop", row.get("pause_reason")) if paused else None,
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


# What the API shows of a job (job_out) and what its order's stage needs (job_facts).
_JOB_FIELDS = (
    ("id", Kind.INT, "j.id"),
    ("repair_order", Kind.INT, "j.repair_order"),
    ("estimated_minutes", Kind.INT, "j.estimated_minutes"),
    ("price_cents", Kind.INT, "j.price_cents"),
    ("technician", Kind.INT, "j.technician"),
    ("rework_count", Kind.INT, "j.rework_count"),
    ("title", Kind.TEXT, "j.title"),
    ("state", Kind.TEXT, "j.state"),
    ("approval", Kind.TEXT, "j.approval"),
    ("technician.name", Kind.TEXT, "s.name"),
    ("customer_text", Kind.TEXT, "j.customer_text"),
    # The reason of the job's last clock entry (by the entry's job index): why a paused job waits.
    (
        "last_stop",
        Kind.TEXT,
        "(SELECT ce.reason FROM clock_entry ce WHERE ce.job = j.id ORDER BY ce.id DESC LIMIT 1)",
    ),
    ("needs_approval", Kind.BOOL, "j.needs_approval"),
)


def _job_branch(where: str, *args: Any) -> Branch:
    """The jobs as jobs_of reads them (`where` on job j)."""
    return Branch(
        "job", _JOB_FIELDS, f"FROM job j LEFT JOIN staff s ON s.id = j.technician WHERE {where}", args
    )


async def jobs_of(ro_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each repair order's jobs in the order they were added: what job_out shows and what the
    order's stage needs (job_facts), with the repair order's id."""
    if not ro_ids:
        return defaultdict(list)
    found = await sqlread.union(_job_branch(f"j.repair_order IN ({sqlread.marks(ro_ids)})", *ro_ids))
    return _by_order(found["job"])


_ORDER_FIELDS = (
    ("id", Kind.INT, "ro.id"),
    ("mileage", Kind.INT, "ro.mileage"),
    ("fuel_level", Kind.INT, "ro.fuel_level"),
    ("vehicle.year", Kind.INT, "v.year"),
    ("number", Kind.TEXT, "ro.number"),
    ("concerns", Kind.TEXT, "ro.concerns"),
    ("status_nonce", Kind.TEXT, "ro.status_nonce"),
    ("customer.name", Kind.TEXT, "c.name"),
    ("customer.phone", Kind.TEXT, "c.phone"),
    ("customer.language", Kind.TEXT, "c.language"),
    ("vehicle.plate", Kind.TEXT, "v.plate"),
    ("vehicle.vin", Kind.TEXT, "v.vin"),
    ("vehicle.make", Kind.TEXT, "v.make"),
    ("vehicle.model", Kind.TEXT, "v.model"),
    ("vehicle.color", Kind.TEXT, "v.color"),
    ("promised_at", Kind.TIME, "ro.promised_at"),
    ("first_promised_at", Kind.TIME, "ro.first_promised_at"),
    ("created_at", Kind.TIME, "ro.created_at"),
    ("ready_at", Kind.TIME, "ro.ready_at"),
    ("delivered_at", Kind.TIME, "ro.delivered_at"),
)


def _order_branch(where: str, *args: Any) -> Branch:
    """Orders with what the API shows of them, their customer and vehicle (`where` on repair_order ro)."""
    source = (
        "FROM repair_order ro JOIN customer c ON c.id = ro.customer JOIN vehicle v ON v.id = ro.vehicle"
        f" WHERE {where}"
    )
    return Branch("order", _ORDER_FIELDS, source, args)


_PROMISE_FIELDS = (
    ("id", Kind.INT, "id"),
    ("repair_order", Kind.INT, "repair_order"),
    ("promised_at", Kind.TIME, "promised_at"),
    ("previous_at", Kind.TIME, "previous_at"),
    ("reason", Kind.TEXT, "reason"),
    ("at", Kind.TIME, "changed_at"),
)


def _promise_branch(where: str, *args: Any) -> Branch:
    return Branch("promise", _PROMISE_FIELDS, f"FROM promise_change WHERE {where}", args)


_PHOTO_FIELDS = (
    ("id", Kind.INT, "id"),
    ("repair_order", Kind.INT, "repair_order"),
    ("job", Kind.INT, "job"),
    ("width", Kind.INT, "width"),
    ("height", Kind.INT, "height"),
    ("kind", Kind.TEXT, "kind"),
    ("note", Kind.TEXT, "note"),
    ("panel", Kind.TEXT, "panel"),
    ("created_at", Kind.TIME, "created_at"),
)


def _photo_branch(where: str, *args: Any) -> Branch:
    """What photo_out shows of a photo."""
    return Branch("photo", _PHOTO_FIELDS, f"FROM photo WHERE {where}", args)


_FINDING_FIELDS = (
    ("id", Kind.INT, "f.id"),
    ("job", Kind.INT, "f.job"),
    ("repair_order", Kind.INT, "f.repair_order"),
    ("created_by", Kind.INT, "f.created_by"),
    ("recommended_job", Kind.INT, "f.recommended_job"),
    ("text", Kind.TEXT, "f.text"),
    ("phrase", Kind.TEXT, "f.phrase"),
    ("created_by.name", Kind.TEXT, "s.name"),
    ("created_at", Kind.TIME, "f.created_at"),
)


def _finding_branch(where: str, *args: Any) -> Branch:
    """Findings (`where` on finding f)."""
    source = f"FROM finding f LEFT JOIN staff s ON s.id = f.created_by WHERE {where}"
    return Branch("finding", _FINDING_FIELDS, source, args)


_TIME_FIELDS = (  # what clocked_minutes needs of a clock entry: corrected times win
    ("id", Kind.INT, "id"),
    ("job", Kind.INT, "job"),
    ("started_at", Kind.TIME, "started_at"),
    ("ended_at", Kind.TIME, "ended_at"),
    ("corrected_started_at", Kind.TIME, "corrected_started_at"),
    ("corrected_ended_at", Kind.TIME, "corrected_ended_at"),
)


def _time_branch(jobs: str, *args: Any) -> Branch:
    """Clock entries of the jobs `jobs` selects (a sub-select of job ids: entries are found by job)."""
    return Branch("time", _TIME_FIELDS, f"FROM clock_entry WHERE job IN ({jobs})", args)


_PART_FIELDS = (
    ("id", Kind.INT, "id"),
    ("job", Kind.INT, "job"),
    ("repair_order", Kind.INT, "repair_order"),
    ("quantity", Kind.INT, "quantity"),
    ("unit_price_fen", Kind.INT, "unit_price_fen"),
    ("name", Kind.TEXT, "name"),
    ("part_number", Kind.TEXT, "part_number"),
    ("state", Kind.TEXT, "state"),
    ("expected_at", Kind.TIME, "expected_at"),
    ("old_part_returned", Kind.BOOL, "old_part_returned"),
)


def _part_branch(where: str, *args: Any) -> Branch:
    return Branch("part", _PART_FIELDS, f"FROM part_line WHERE {where}", args)


_QC_FIELDS = (
    ("id", Kind.INT, "q.id"),
    ("job", Kind.INT, "q.job"),
    ("items", Kind.TEXT, "q.items"),
    ("signer.name", Kind.TEXT, "s.name"),
    ("signed_at", Kind.TIME, "q.signed_at"),
    ("passed", Kind.BOOL, "q.passed"),
)


def _qc_branch(jobs: str, *args: Any) -> Branch:
    """QC records of the jobs `jobs` selects, with the signer's name."""
    source = f"FROM qc_record q LEFT JOIN staff s ON s.id = q.signer WHERE q.job IN ({jobs})"
    return Branch("qc", _QC_FIELDS, source, args)


_SETTLEMENT_INTS = ("discount_fen", "labour_fen", "parts_fen", "tax_rate_bp", "tax_fen", "total_fen")
_SETTLEMENT_FIELDS = (
    ("id", Kind.INT, "st.id"),
    ("repair_order", Kind.INT, "st.repair_order"),
    *((name, Kind.INT, f"st.{name}") for name in _SETTLEMENT_INTS),
    ("mileage_out", Kind.INT, "st.mileage_out"),
    ("next_service_km", Kind.INT, "st.next_service_km"),
    ("discount_reason", Kind.TEXT, "st.discount_reason"),
    ("discount_state", Kind.TEXT, "st.discount_state"),
    ("payment_method", Kind.TEXT, "st.payment_method"),
    ("next_service_on", Kind.TEXT, "st.next_service_on"),
    ("signed_by", Kind.TEXT, "st.signed_by"),
    ("handed_over_by_name", Kind.TEXT, "s.name"),
    ("handed_over_at", Kind.TIME, "st.handed_over_at"),
)
# What the order shows of its settlement row (another use case writes it: api/handover.py).
_SETTLEMENT_OUT = tuple(name for name, _, _ in _SETTLEMENT_FIELDS[2:])


def _settlement_branch(where: str, *args: Any) -> Branch:
    source = f"FROM settlement st LEFT JOIN staff s ON s.id = st.handed_over_by WHERE {where}"
    return Branch("settlement", _SETTLEMENT_FIELDS, source, args)


_WALKAROUND_FIELDS = (
    ("id", Kind.INT, "id"),
    ("repair_order", Kind.INT, "repair_order"),
    ("marks", Kind.TEXT, "marks"),
    ("signed_by", Kind.TEXT, "signed_by"),
    ("signed_at", Kind.TIME, "signed_at"),
)


def _walkaround_branch(where: str, *args: Any) -> Branch:
    return Branch("walkaround", _WALKAROUND_FIELDS, f"FROM walkaround WHERE {where}", args)


def _promise_out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("promised_at", "previous_at", "reason", "at")}


def _by_order(found: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in found:
        grouped[row["repair_order"]].append(row)
    return grouped


_VEHICLE = ("plate", "vin", "make", "model", "year", "color")


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
    """Each repair order's photo rows (every column), oldest first."""
    if not ro_ids:
        return defaultdict(list)
    within = f"p.repair_order IN ({sqlread.marks(ro_ids)})"
    sql = f"SELECT {sqlread.columns(Photo, 'p')} FROM photo p WHERE {within} ORDER BY p.id"  # noqa: S608
    return _by_order(await sqlread.rows(sql, *ro_ids))


@functools.lru_cache(maxsize=4096)
def _status_url(nonce: str) -> str:
    # An HMAC per order on every board read otherwise; a nonce's link never changes (a new link is
    # a new nonce), and the key is read once per process.
    return f"/s/{status_token(nonce)}"


def _clocked(entries: list[dict[str, Any]]) -> dict[int, int]:
    """Whole minutes on each job by anyone: corrected times win, a running clock counts up to now."""
    totals: dict[int, float] = defaultdict(float)
    current = now()
    for row in entries:
        start, end = clockstore.effective(row)
        totals[row["job"]] += ((end or current) - start).total_seconds() / 60
    return {job: int(minutes) for job, minutes in totals.items()}


def _part_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "part_number": row["part_number"],
        "quantity": row["quantity"],
        "unit_price_fen": row["unit_price_fen"],
        "line_fen": money.line_fen(row["quantity"], row["unit_price_fen"]),
        "state": row["state"],
        "expected_at": row["expected_at"],
        "old_part_returned": row["old_part_returned"],
    }


def _qc_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "passed": bool(row["passed"]),
        "items": json.loads(row["items"] or "[]"),
        "signer_name": row["signer.name"],
        "signed_at": row["signed_at"],
    }


def _walkaround_out(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "marks": len(json.loads(row["marks"] or "[]")),
        "signed_at": row["signed_at"],
        "signed_by": row["signed_by"] or None,
    }


# Parts a car waits for: not here yet (a line ordered or still to order).
_PARTS_AWAITED = ("needed", "ordered")


def _attention(
    jobs: list[dict[str, Any]], findings: list[dict[str, Any]], settlement: dict[str, Any] | None
) -> dict[str, Any]:
    """What the board card flags: findings to price, parts waited for (and when they come), a
    discount waiting for a manager. Computed from what the order's read holds."""
    awaited = [p for j in jobs for p in j["parts"] if p["state"] in _PARTS_AWAITED]
    expected = sorted(p["expected_at"] for p in awaited if p["expected_at"] is not None)
    paused_for_parts = any(j["pause_reason"] == "waiting_parts" for j in jobs)
    return {
        "findings_to_price": [f["id"] for f in findings if f["recommended_job"] is None],
        "waiting_parts": paused_for_parts or bool(expected),
        "parts_expected_at": expected[0] if expected else None,
        "discount_pending": bool(settlement and settlement["discount_state"] == "pending"),
    }


def _shape(
    ro: dict[str, Any],
    found: dict[str, list[dict[str, Any]]],
    photos: list[dict[str, Any]],
    findings: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """A repair order as staff see it, keys in schemas.RepairOrderOut's order (the answer is sent as
    built: no model validates it on the way out). `found`: this order's rows of the read, by tag;
    `findings`: as shown (None: the board, which counts them only)."""
    jobs = found["job"]
    minutes = _clocked(found["time"])
    parts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in found["part"]:
        parts[row["job"]].append(_part_out(row))
    checks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(found["qc"], key=lambda r: (r["signed_at"], r["id"])):
        checks[row["job"]].append(_qc_out(row))
    priced_from = {f["recommended_job"]: f["id"] for f in found["finding"] if f["recommended_job"]}
    shown_jobs = [
        {
            **job_out(j),
            "clocked_minutes": minutes.get(j["id"], 0),
            "parts": parts[j["id"]],
            "qc": checks[j["id"]],
            "finding_id": priced_from.get(j["id"]),
        }
        for j in jobs
    ]
    settled = found["settlement"][0] if found["settlement"] else None
    walk = found["walkaround"][0] if found["walkaround"] else None
    return {
        "id": ro["id"],
        "number": ro["number"],
        "stage": stage_of(ro, jobs).value,
        "promised_at": ro["promised_at"],
        "first_promised_at": ro["first_promised_at"],
        "status_url": _status_url(ro["status_nonce"]),
        "customer": {
            "name": ro["customer.name"],
            "phone": ro["customer.phone"],
            "language": ro["customer.language"],
        },
        "vehicle": {k: ro[f"vehicle.{k}"] for k in _VEHICLE},
        "mileage": ro["mileage"],
        "fuel_level": ro["fuel_level"],
        "concerns": json.loads(ro["concerns"]),
        "jobs": shown_jobs,
        "promise_history": [_promise_out(p) for p in found["promise"]],
        "photos": photos,
        "findings": findings or [],
        "created_at": ro["created_at"],
        "ready_at": ro["ready_at"],
        "delivered_at": ro["delivered_at"],
        "settlement": {k: settled[k] for k in _SETTLEMENT_OUT} if settled else None,
        "walkaround": _walkaround_out(walk),
        "attention": _attention(shown_jobs, found["finding"], settled),
    }


def _order_branches(on_order: str, jobs: str, *args: Any) -> list[Branch]:
    """Every row an order's read shows but the order itself: `on_order` selects by a table's
    `repair_order` column, `jobs` is a sub-select of the orders' job ids; each takes `args`."""
    return [
        _job_branch(f"j.{on_order}", *args),
        _promise_branch(on_order, *args),
        _photo_branch(on_order, *args),
        _finding_branch(f"f.{on_order}", *args),
        _time_branch(jobs, *args),
        _part_branch(on_order, *args),
        _qc_branch(jobs, *args),
        _settlement_branch(f"st.{on_order}", *args),
        _walkaround_branch(on_order, *args),
    ]


async def repair_order(ro_id: int) -> dict[str, Any] | None:
    """One repair order as the API shows it to staff, delivered or not, or None (one statement)."""
    on_order = "repair_order = {}"
    found = await sqlread.union(
        _order_branch("ro.id = {}", ro_id),
        *_order_branches(on_order, f"SELECT id FROM job WHERE {on_order}", ro_id),  # noqa: S608
    )
    if not found["order"]:
        return None
    photos = [photo_out(p) for p in found["photo"]]
    findings = _findings(found["finding"], photos)
    return _shape(found["order"][0], found, photos, findings)


def _findings(rows: list[dict[str, Any]], photos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What technicians found, for the advisor to price (a finding's photos name it in `panel`)."""
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
            "priced": r["recommended_job"] is not None,
        }
        for r in rows
    ]


# `delivered_at IS NULL` written out: it is what lets both databases use the partial index of open
# orders (migration 0013), however many delivered ones the shop has.
_OPEN = "ro.delivered_at IS NULL"
_OF_OPEN = "repair_order IN (SELECT ro.id FROM repair_order ro WHERE ro.delivered_at IS NULL)"
_OPEN_JOBS = f"SELECT id FROM job WHERE {_OF_OPEN}"  # noqa: S608


async def open_repair_orders() -> list[dict[str, Any]]:
    """Every repair order not yet delivered, soonest promise first (one statement). Each is what
    its own read shows, less the findings' list (the card counts those to price)."""
    found = await sqlread.union(_order_branch(_OPEN), *_order_branches(_OF_OPEN, _OPEN_JOBS))
    by_order = {tag: _by_order(rows) for tag, rows in found.items() if tag not in ("order", "time", "qc")}
    # Entries and QC records name their job, not its order.
    order_of = {j["id"]: j["repair_order"] for j in found["job"]}
    for tag in ("time", "qc"):
        by_order[tag] = _by_order([{**r, "repair_order": order_of.get(r["job"])} for r in found[tag]])
    out = []
    for r in sorted(found["order"], key=lambda r: (r["promised_at"], r["id"])):
        mine = {tag: rows[r["id"]] for tag, rows in by_order.items()}
        out.append(_shape(r, mine, [photo_out(p) for p in mine["photo"]], None))
    return out


async def current_stage(ro_id: int) -> workshop.Stage:
    """The repair order's stage as its jobs stand now (NotFound when it does not exist). One statement."""
    found = await sqlread.rows(
        "SELECT ro.ready_at, ro.delivered_at, +j.id AS id, j.title, j.state, +j.technician AS technician"
        " FROM repair_order ro LEFT JOIN job j ON j.repair_order = ro.id WHERE ro.id = {} ORDER BY j.id",
        ro_id,
    )
    if not found:
        raise _not_found(ro_id)
    jobs = [r for r in found if r["id"] is not None]
    return stage_of(found[0], jobs)


def _not_found(ro_id: int) -> workshop.NotFound:
    return workshop.NotFound(
        f"Repair order {ro_id} does not exist.", code="ro.not_found", params={"id": ro_id}
    )


_ORDER_ROW = f"SELECT {sqlread.columns(RepairOrder, 'ro')} FROM repair_order ro WHERE ro.id = {{}}"  # noqa: S608


async def require_repair_order(ro_id: int) -> dict[str, Any]:
    """The repair order's row, or NotFound (for commands)."""
    found = await sqlread.rows(_ORDER_ROW, ro_id)
    if not found:
        raise _not_found(ro_id)
    return found[0]


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
