"""The event catalogue: every event type the service records, one constructor each, fixed payloads.

An event says what changed, in the shape the screens show it (the job with its state and technician,
the entry with its times, the order's stage), so a screen can update itself from the event alone.
Every payload carries the same two id lists beside its own fields: `job_ids` (the jobs it concerns)
and `staff_ids` (the people it concerns); the repair order is the envelope's `ro`. Each type also
says what of it a customer's stream may carry (`customer`), or that it stays in the building.

Pure: no database, no web. Producers build events only here (tests/test_events.py checks the
source), `commands.execute` appends them, `realtime/projection.py` filters them for customers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.workshop import CUSTOMER_PHOTO_KINDS, Stage

IDS = ("job_ids", "staff_ids")
# What a customer may see of a job (the status page's own job list has the same fields).
CUSTOMER_JOB_FIELDS = ("id", "title", "state", "approval", "price", "needs_approval")


@dataclass(frozen=True)
class NewEvent:
    """One event to append: its type, repair order (None: not about one car) and payload."""

    type: str
    ro: int | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventType:
    """A catalogue entry: the payload's fields and what of it a customer's stream may carry."""

    name: str
    fields: tuple[str, ...]
    customer: tuple[str, ...] | None = None  # None: staff only
    customer_if: Callable[[Mapping[str, Any]], bool] | None = None  # a further per-event condition


CATALOGUE: dict[str, EventType] = {}


def _type(
    name: str,
    fields: tuple[str, ...],
    customer: tuple[str, ...] | None = None,
    customer_if: Callable[[Mapping[str, Any]], bool] | None = None,
) -> str:
    CATALOGUE[name] = EventType(name, (*fields, *IDS), customer, customer_if)
    return name


def _ids(*groups: Iterable[int | None]) -> list[int]:
    return sorted({int(i) for group in groups for i in group if i is not None})


def _event(
    name: str, ro: int | None, data: dict[str, Any], jobs: Iterable[int | None], staff: Iterable[int | None]
) -> NewEvent:
    kind = CATALOGUE[name]
    assert tuple(data) == kind.fields[: -len(IDS)], f"{name}: payload {sorted(data)} is not {kind.fields}"
    return NewEvent(name, ro, {**data, "job_ids": _ids(jobs), "staff_ids": _ids(staff)})


def _job_people(job: Mapping[str, Any]) -> list[int | None]:
    technician = job.get("technician")
    return [technician["id"] if isinstance(technician, Mapping) else technician]


def _entry_people(entries: Iterable[Mapping[str, Any] | None]) -> list[int | None]:
    return [e["technician_id"] for e in entries if e]


def _entry_jobs(entries: Iterable[Mapping[str, Any] | None]) -> list[int | None]:
    return [e["job_id"] for e in entries if e]


def for_customer(event_type: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a customer's stream carries of an event, or None when it stays in the building."""
    kind = CATALOGUE.get(event_type)
    if kind is None or kind.customer is None:
        return None
    if kind.customer_if is not None and not kind.customer_if(data):
        return None
    out = {k: data[k] for k in kind.customer if k in data}
    if isinstance(out.get("job"), Mapping):
        out["job"] = {k: out["job"].get(k) for k in CUSTOMER_JOB_FIELDS}
    return out


# --- Repair orders --------------------------------------------------------------------------------

RO_CREATED = _type("ro.created", ("number", "plate", "jobs", "stage"))
STAGE_CHANGED = _type("stage.changed", ("from", "to"), customer=("from", "to", "job_ids"))
PROMISE_CHANGED = _type(
    "promise.changed",
    ("promised_at", "previous_at", "reason"),
    customer=("promised_at", "previous_at", "reason"),
)

# What may still change on an order before delivery (PATCH /api/repair-orders/{id}), as it is after.
RO_UPDATED = _type("ro.updated", ("changed", "customer", "vehicle", "mileage", "fuel_level", "concerns"))


def ro_created(
    ro: int, number: str, plate: str, stage: Stage, job_ids: Iterable[int], by: int | None
) -> NewEvent:
    """A repair order was written up (`jobs`: how many it came with)."""
    jobs = list(job_ids)
    data = {"number": number, "plate": plate, "jobs": len(jobs), "stage": stage.value}
    return _event(RO_CREATED, ro, data, jobs, [by])


def stage_changed(ro: int, before: Stage, after: Stage, job_ids: Iterable[int] = ()) -> NewEvent:
    """The order's stage moved (it follows from its jobs, or ready/delivered by hand)."""
    return _event(STAGE_CHANGED, ro, {"from": before.value, "to": after.value}, job_ids, [])


def promise_changed(
    ro: int, promised_at: datetime, previous_at: datetime, reason: str, by: int | None
) -> NewEvent:
    """The promised time moved, with the reason the customer reads."""
    data = {"promised_at": promised_at, "previous_at": previous_at, "reason": reason}
    return _event(PROMISE_CHANGED, ro, data, [], [by])


def ro_updated(ro: int, changed: Iterable[str], order: Mapping[str, Any], by: int) -> NewEvent:
    """The office corrected the order: `changed` names the fields ("customer.phone", "mileage", …);
    the customer, vehicle, mileage, fuel and concerns as they are now (staff only: phone, VIN)."""
    data = {
        "changed": list(changed),
        "customer": dict(order["customer"]),
        "vehicle": dict(order["vehicle"]),
        "mileage": order["mileage"],
        "fuel_level": order["fuel_level"],
        "concerns": list(order["concerns"]),
    }
    return _event(RO_UPDATED, ro, data, [], [by])


# --- Jobs -----------------------------------------------------------------------------------------

JOB_ADDED = _type("job.added", ("job",), customer=("job", "job_ids"))
JOB_UPDATED = _type("job.updated", ("job",), customer=("job", "job_ids"))
JOB_ASSIGNED = _type("job.assigned", ("job_id", "technician_id", "previous_technician_id", "job"))
QC_RECORDED = _type("qc.recorded", ("job_id", "passed", "failed", "job", "by"))
# `total_fen`: what the customer is asked to agree to, labour and parts (a priced finding's parts
# lines are on top of the job's price); `price` stays the job's own price in yuan (CONTRACT.md).
APPROVAL_REQUESTED = _type(
    "approval.requested",
    ("job_id", "title", "price", "total_fen"),
    customer=("job_id", "title", "price", "total_fen", "job_ids"),
)
APPROVAL_DECIDED = _type(
    "approval.decided", ("job_id", "decision", "title"), customer=("job_id", "decision", "job_ids")
)
FINDING_ADDED = _type("finding.added", ("finding",))
FINDING_PRICED = _type("finding.priced", ("finding_id", "job_id", "labour_fen", "parts_fen", "total_fen"))
# Parts lines (配件): `part` as GET /api/repair-orders/{id} shows it in jobs[].parts. Staff only;
# staff_ids name the job's technician, so their tablet hears of an arrival.
PART_ADDED = _type("part.added", ("part",))
PART_UPDATED = _type("part.updated", ("part", "from_state"))
PART_AWAITED = _type("part.awaited", ("part", "job_id"))


def job_added(ro: int, job: Mapping[str, Any]) -> NewEvent:
    """Work was added to an order (`job` as staff see it)."""
    return _event(JOB_ADDED, ro, {"job": dict(job)}, [job["id"]], _job_people(job))


def job_updated(ro: int, job: Mapping[str, Any]) -> NewEvent:
    """A job changed: its state, technician or approval, as staff see it now."""
    return _event(JOB_UPDATED, ro, {"job": dict(job)}, [job["id"]], _job_people(job))


def job_assigned(ro: int, job: Mapping[str, Any], previous: int | None = None) -> NewEvent:
    """A job was given to a technician (`job` as staff see it after), or moved to them from
    `previous` (both are among its people: each one's tablet updates)."""
    technician = _job_people(job)[0]
    data = {
        "job_id": job["id"],
        "technician_id": technician,
        "previous_technician_id": previous,
        "job": dict(job),
    }
    return _event(JOB_ASSIGNED, ro, data, [job["id"]], [technician, previous])


def qc_recorded(ro: int, job: Mapping[str, Any], passed: bool, failed: list[str], by: int) -> NewEvent:
    """A quality check was signed; any failed item sends the job back (`job` as it is after)."""
    data = {"job_id": job["id"], "passed": passed, "failed": list(failed), "job": dict(job), "by": by}
    return _event(QC_RECORDED, ro, data, [job["id"]], [*_job_people(job), by])


def approval_requested(
    ro: int, job_id: int, title: str, price: float | None, total_fen: int | None = None
) -> NewEvent:
    """Recommended work waits for the customer's decision (`total_fen`: with its parts; when not
    given, the job's price)."""
    if total_fen is None and price is not None:
        total_fen = round(price * 100)
    data = {"job_id": job_id, "title": title, "price": price, "total_fen": total_fen}
    return _event(APPROVAL_REQUESTED, ro, data, [job_id], [])


def approval_decided(ro: int, job_id: int, decision: str, title: str) -> NewEvent:
    """The customer approved or declined recommended work."""
    data = {"job_id": job_id, "decision": decision, "title": title}
    return _event(APPROVAL_DECIDED, ro, data, [job_id], [])


def finding_added(ro: int, finding: Mapping[str, Any], by: int) -> NewEvent:
    """A technician reported something beyond the job, for the advisor to price."""
    return _event(FINDING_ADDED, ro, {"finding": dict(finding)}, [finding["job_id"]], [by])


def finding_priced(
    ro: int, finding_id: int, job_id: int, labour_fen: int, parts_fen: int, by: int | None
) -> NewEvent:
    """An advisor priced a finding: recommended job `job_id` (labour and parts) went to the customer."""
    data = {
        "finding_id": finding_id,
        "job_id": job_id,
        "labour_fen": labour_fen,
        "parts_fen": parts_fen,
        "total_fen": labour_fen + parts_fen,
    }
    return _event(FINDING_PRICED, ro, data, [job_id], [by])


def part_added(ro: int, part: Mapping[str, Any], technician: int | None, by: int | None) -> NewEvent:
    """A parts line was put on a job."""
    return _event(PART_ADDED, ro, {"part": dict(part)}, [part["job_id"]], [technician, by])


def part_updated(
    ro: int, part: Mapping[str, Any], from_state: str, technician: int | None, by: int | None
) -> NewEvent:
    """A parts line changed: ordered, arrived, fitted, or its fields (`from_state`: its state before)."""
    data = {"part": dict(part), "from_state": from_state}
    return _event(PART_UPDATED, ro, data, [part["job_id"]], [technician, by])


def part_awaited(ro: int, part: Mapping[str, Any], technician: int) -> NewEvent:
    """A technician stopped a job to wait for this parts line (clock-off waiting_parts with part_id)."""
    data = {"part": dict(part), "job_id": part["job_id"]}
    return _event(PART_AWAITED, ro, data, [part["job_id"]], [technician])


# --- Clock and attendance -------------------------------------------------------------------------

CLOCK_ON = _type("clock.on", ("job_id", "entries", "entry", "jobs"))
CLOCK_OFF = _type("clock.off", ("job_id", "entries", "entry", "jobs"))
CLOCK_REVIEWED = _type("clock.reviewed", ("entry", "by"))
CLOCK_CONFIRMED = _type("clock.confirmed", ("entry",))
CLOCK_CORRECTED = _type("clock.corrected", ("entry", "before", "after", "reason", "by"))
ATTENDANCE_IN = _type("attendance.in", ("attendance",))
ATTENDANCE_OUT = _type("attendance.out", ("attendance",))


def clock_tapped(
    kind: str,
    ro: int,
    person: int,
    job_id: int | None,
    entries: list[dict[str, Any]],
    entry: dict[str, Any] | None,
    jobs: list[dict[str, Any]],
) -> NewEvent:
    """A clock tap (kind clock.on or clock.off) as it touched one repair order: the entries it
    changed there, the tapped job's entry (None for a stop of everything), and the order's jobs it
    touched as they are after."""
    assert kind in (CLOCK_ON, CLOCK_OFF), kind
    data = {"job_id": job_id, "entries": entries, "entry": entry, "jobs": jobs}
    job_ids = [job_id, *_entry_jobs(entries), *(j["id"] for j in jobs)]
    return _event(kind, ro, data, job_ids, [person, *_entry_people(entries)])


def clock_reviewed(ro: int, entry: Mapping[str, Any], by: int) -> NewEvent:
    """A foreman or manager took a flagged entry as it is."""
    return _event(
        CLOCK_REVIEWED,
        ro,
        {"entry": dict(entry), "by": by},
        _entry_jobs([entry]),
        [
            *_entry_people([entry]),
            by,
        ],
    )


def clock_confirmed(ro: int, entry: Mapping[str, Any]) -> NewEvent:
    """The technician said an automatically stopped entry is right."""
    return _event(CLOCK_CONFIRMED, ro, {"entry": dict(entry)}, _entry_jobs([entry]), _entry_people([entry]))


def clock_corrected(
    ro: int,
    entry: Mapping[str, Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    reason: str,
    by: int,
) -> NewEvent:
    """An entry's times changed, with the reason; before and after kept as the audit."""
    data = {"entry": dict(entry), "before": dict(before), "after": dict(after), "reason": reason, "by": by}
    return _event(CLOCK_CORRECTED, ro, data, _entry_jobs([entry]), [*_entry_people([entry]), by])


def attendance_in(attendance: Mapping[str, Any]) -> NewEvent:
    """A working day opened (by the person, or by a job start: `opened_by`)."""
    return _event(ATTENDANCE_IN, None, {"attendance": dict(attendance)}, [], [attendance["staff_id"]])


def attendance_out(attendance: Mapping[str, Any]) -> NewEvent:
    """A working day closed (by the person, or by the runaway-timer guard: `auto_closed`)."""
    return _event(ATTENDANCE_OUT, None, {"attendance": dict(attendance)}, [], [attendance["staff_id"]])


# --- Photos and the walk-around -------------------------------------------------------------------

PHOTO_ADDED = _type(
    "photo.added",
    ("id", "kind", "panel", "job_id", "url", "thumb_url"),
    # Staff URLs need a session: the customer's page fetches its own. QC evidence stays internal.
    customer=("id", "kind", "job_ids"),
    customer_if=lambda data: data.get("kind") in CUSTOMER_PHOTO_KINDS,
)
WALKAROUND_UPDATED = _type("walkaround.updated", ("marks",))
WALKAROUND_SIGNED = _type("walkaround.signed", ("signed_by",))


def photo_added(ro: int, photo: Mapping[str, Any], by: int) -> NewEvent:
    """A photo was added (`photo` as staff see it)."""
    data = {k: photo[k] for k in ("id", "kind", "panel", "job_id", "url", "thumb_url")}
    return _event(PHOTO_ADDED, ro, data, [photo["job_id"]], [by])


def walkaround_updated(ro: int, marks: int, by: int) -> NewEvent:
    """The check-in damage marks (and fuel, mileage) were saved: `marks` is how many there are."""
    return _event(WALKAROUND_UPDATED, ro, {"marks": marks}, [], [by])


def walkaround_signed(ro: int, signed_by: str, by: int) -> NewEvent:
    """The customer signed the walk-around (`signed_by` is the name they gave)."""
    return _event(WALKAROUND_SIGNED, ro, {"signed_by": signed_by}, [], [by])


# --- Settlement and hand-over (api/handover.py) ---------------------------------------------------
# Staff only: the customer's page follows the hand-over through stage.changed (to delivered).

SETTLEMENT_UPDATED = _type("settlement.updated", ("discount_fen", "discount_state", "total_fen"))
DISCOUNT_APPROVED = _type("discount.approved", ("discount_fen",))
RO_HANDED_OVER = _type("ro.handed_over", ("total_fen", "payment_method", "signed_by"))


def settlement_updated(ro: int, discount_fen: int, discount_state: str, total_fen: int, by: int) -> NewEvent:
    """The discount (and payment method) of the settlement changed; `discount_state` says whether a
    manager must approve it (pending)."""
    data = {"discount_fen": discount_fen, "discount_state": discount_state, "total_fen": total_fen}
    return _event(SETTLEMENT_UPDATED, ro, data, [], [by])


def discount_approved(ro: int, discount_fen: int, by: int) -> NewEvent:
    """A manager approved the settlement's discount."""
    return _event(DISCOUNT_APPROVED, ro, {"discount_fen": discount_fen}, [], [by])


def ro_handed_over(ro: int, total_fen: int, payment_method: str, signed_by: str, by: int) -> NewEvent:
    """The car was handed back: settlement frozen (`total_fen` paid by `payment_method`), signed."""
    data = {"total_fen": total_fen, "payment_method": payment_method, "signed_by": signed_by}
    return _event(RO_HANDED_OVER, ro, data, [], [by])


# --- The customer ---------------------------------------------------------------------------------

SURVEY_SUBMITTED = _type("survey.submitted", ("score", "comment"), customer=("score",))


def survey_submitted(ro: int, score: int, comment: str) -> NewEvent:
    """The customer rated the visit after delivery."""
    return _event(SURVEY_SUBMITTED, ro, {"score": score, "comment": comment}, [], [])


# --- After delivery: the follow-up call (回访), staff only -----------------------------------------

FOLLOW_UP_CREATED = _type("follow_up.created", ("follow_up_id", "due_from", "due_until"))
FOLLOW_UP_CALLED = _type(
    "follow_up.called", ("follow_up_id", "reached", "state", "tries", "call_back_at", "complaint_suggested")
)


def follow_up_created(ro: int, follow_up_id: int, due_from: datetime, due_until: datetime) -> NewEvent:
    """Delivery opened the follow-up call, due from `due_from` until `due_until` (exclusive)."""
    data = {
        "follow_up_id": follow_up_id,
        "due_from": due_from.isoformat(),
        "due_until": due_until.isoformat(),
    }
    return _event(FOLLOW_UP_CREATED, ro, data, [], [])


def follow_up_called(
    ro: int,
    follow_up_id: int,
    *,
    reached: bool,
    state: str,
    tries: int,
    call_back_at: datetime | None,
    complaint_suggested: bool,
    by: int,
) -> NewEvent:
    """A follow-up call was recorded: reached (answers kept, done) or not (call back, or unreachable)."""
    data = {
        "follow_up_id": follow_up_id,
        "reached": reached,
        "state": state,
        "tries": tries,
        "call_back_at": call_back_at.isoformat() if call_back_at else None,
        "complaint_suggested": complaint_suggested,
    }
    return _event(FOLLOW_UP_CALLED, ro, data, [], [by])


# --- Shop and staff -------------------------------------------------------------------------------

SHOP_SET_UP = _type("shop.set_up", ("name",))
SHOP_UPDATED = _type("shop.updated", ("shop",))
STAFF_ADDED = _type("staff.added", ("staff_id", "role"))
STAFF_UNLOCKED = _type("staff.unlocked", ("staff_id",))
STAFF_LOCKED_OUT = _type("staff.locked_out", ("staff_id", "known_device"))
# A session named in `session` or `ended_session` has its live streams closed (api/realtime/hub.py).
STAFF_SIGNED_IN = _type("staff.signed_in", ("staff_id", "ended_session"))
STAFF_SIGNED_OUT = _type("staff.signed_out", ("staff_id", "session"))
# A manager's changes to a person (api/staff.py); a deactivation or a reset also ends the person's
# sessions, each with its own staff.signed_out (so the streams close as at a sign-out).
STAFF_DEACTIVATED = _type("staff.deactivated", ("staff_id",))
STAFF_ACTIVATED = _type("staff.activated", ("staff_id",))
STAFF_PIN_RESET = _type("staff.pin_reset", ("staff_id", "pin_pending"))
STAFF_PIN_CHOSEN = _type("staff.pin_chosen", ("staff_id",))


def shop_set_up(name: str, manager: int) -> NewEvent:
    """The one-time setup: the shop and its first manager."""
    return _event(SHOP_SET_UP, None, {"name": name}, [], [manager])


def shop_updated(shop: Mapping[str, Any], by: int) -> NewEvent:
    """A manager changed the shop's settings (`shop` as GET /api/shop serves it, opening hours
    included): open screens take them from the event, so quick choices follow at once."""
    return _event(SHOP_UPDATED, None, {"shop": dict(shop)}, [], [by])


def staff_added(staff_id: int, role: str) -> NewEvent:
    """A staff member was added."""
    return _event(STAFF_ADDED, None, {"staff_id": staff_id, "role": role}, [], [staff_id])


def staff_unlocked(staff_id: int, by: int) -> NewEvent:
    """A manager lifted someone's PIN lockout."""
    return _event(STAFF_UNLOCKED, None, {"staff_id": staff_id}, [], [staff_id, by])


def staff_locked_out(staff_id: int, known_device: bool) -> NewEvent:
    """Too many wrong PINs for a person (on the shop's tablets, or on unknown devices)."""
    return _event(
        STAFF_LOCKED_OUT, None, {"staff_id": staff_id, "known_device": known_device}, [], [staff_id]
    )


def staff_signed_in(staff_id: int, ended_session: int | None) -> NewEvent:
    """A person signed in; the browser's previous session (if any) ended with it."""
    return _event(
        STAFF_SIGNED_IN, None, {"staff_id": staff_id, "ended_session": ended_session}, [], [staff_id]
    )


def staff_signed_out(staff_id: int, session: int) -> NewEvent:
    """A person signed out: that session's live streams close."""
    return _event(STAFF_SIGNED_OUT, None, {"staff_id": staff_id, "session": session}, [], [staff_id])


def staff_deactivated(staff_id: int, by: int) -> NewEvent:
    """A manager stopped someone signing in (never deleted: their work stays theirs)."""
    return _event(STAFF_DEACTIVATED, None, {"staff_id": staff_id}, [], [staff_id, by])


def staff_activated(staff_id: int, by: int) -> NewEvent:
    """A manager let someone sign in again."""
    return _event(STAFF_ACTIVATED, None, {"staff_id": staff_id}, [], [staff_id, by])


def staff_pin_reset(staff_id: int, pin_pending: bool, by: int) -> NewEvent:
    """A manager gave someone a new PIN (`pin_pending`: a one-time one, to be replaced)."""
    return _event(
        STAFF_PIN_RESET, None, {"staff_id": staff_id, "pin_pending": pin_pending}, [], [staff_id, by]
    )


def staff_pin_chosen(staff_id: int) -> NewEvent:
    """A person chose their own PIN after signing in with a one-time one."""
    return _event(STAFF_PIN_CHOSEN, None, {"staff_id": staff_id}, [], [staff_id])
