"""The workshop's domain rules. No web, no database: plain values in, decisions out.

Routes load rows, ask these functions what may happen, and write what they answer through the
command path (`api.commands`). Every rule that a tablet, the API and the tests must agree on
lives here, so it is stated once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal


class DomainError(Exception):
    """A rule said no. Subclasses say how (mapped to HTTP and WebSocket codes at the edge)."""

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the asker)."""


class Conflict(DomainError):
    """The request is valid but the current state does not allow it."""


class Forbidden(DomainError):
    """This person may not do this to this object."""


class Invalid(DomainError):
    """The input breaks a rule that a schema cannot express."""


class JobState(StrEnum):
    RECOMMENDED = "recommended"  # proposed extra work, waiting for the customer's decision
    DECLINED = "declined"  # the customer said no; never worked on
    PENDING = "pending"  # approved (or needs no approval), nobody assigned yet
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"  # a technician's clock is running on it
    PAUSED = "paused"  # clocked off with a reason other than finished
    FINISHED = "finished"  # waiting for QC
    QC_PASSED = "qc_passed"
    REWORK = "rework"  # QC failed: back to the technician


class Approval(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class Stage(StrEnum):
    CHECKED_IN = "checked_in"
    IN_PROGRESS = "in_progress"
    QUALITY_CHECK = "quality_check"
    READY = "ready"
    DELIVERED = "delivered"


CLOCK_OFF_REASONS = (
    "finished",
    "waiting_parts",
    "waiting_approval",
    "break",
    "end_of_shift",
    "other",
)
QC_RESULTS = ("pass", "fail", "na")

# Jobs the customer has not agreed to are not work: they neither block nor advance the stage.
_NOT_WORK = {JobState.RECOMMENDED, JobState.DECLINED}
_NOT_STARTED = {JobState.PENDING, JobState.ASSIGNED}
_DONE_WORKING = {JobState.FINISHED, JobState.QC_PASSED}
_WORKABLE = {JobState.ASSIGNED, JobState.PAUSED, JobState.REWORK}
# States a late tap may find its job in: every state clock taps themselves lead to, plus assigned.
_CLOCKABLE_LATE = {
    JobState.ASSIGNED,
    JobState.IN_PROGRESS,
    JobState.PAUSED,
    JobState.FINISHED,
    JobState.REWORK,
}
_ASSIGNABLE = {JobState.PENDING, JobState.ASSIGNED, JobState.PAUSED, JobState.REWORK}
_NOT_READY = {*_NOT_WORK, JobState.QC_PASSED}  # beside a recommendation: what does not block ready


@dataclass(frozen=True)
class JobFacts:
    """What the rules need to know about one job."""

    id: int
    title: str
    state: JobState
    technician_id: int | None = None


# --- jobs -------------------------------------------------------------------------------------


def new_job(needs_approval: bool) -> tuple[JobState, Approval | None]:
    """State and approval of a new job: a recommendation waits for the customer."""
    if needs_approval:
        return JobState.RECOMMENDED, Approval.PENDING
    return JobState.PENDING, None


def decide_approval(state: JobState, approval: Approval | None, decision: str) -> tuple[JobState, Approval]:
    """The customer approves or declines a recommended job, once.

    A repeated or stale decision (the job was already decided) is a Conflict, so two taps on
    two phones can never apply twice.
    """
    if approval is None:
        raise Conflict("This job does not need the customer's approval.", code="approval.not_needed")
    if approval is not Approval.PENDING or state is not JobState.RECOMMENDED:
        raise Conflict(
            f"This job was already {approval.value}.",
            code="approval.decided",
            params={"decision": approval.value},
        )
    if decision == "approve":
        return JobState.PENDING, Approval.APPROVED
    if decision == "decline":
        return JobState.DECLINED, Approval.DECLINED
    raise Invalid(
        "decision must be 'approve' or 'decline'.", code="approval.decision_invalid", field="decision"
    )


ASSIGNEE_ROLES = ("technician", "foreman")  # the people who clock time on jobs


def check_assignee(name: str, role: str, active: bool) -> None:
    """Only an active person who clocks time on jobs can be given one."""
    if not active:
        raise Invalid(
            f"{name} is no longer active: choose someone else.",
            code="job.assign_inactive",
            params={"name": name},
            field="technician_id",
        )
    if role not in ASSIGNEE_ROLES:
        raise Invalid(
            f"{name} is not a technician or foreman: only they can be given jobs.",
            code="job.assign_role",
            params={"name": name, "role": role},
            field="technician_id",
        )


def assign(job: JobFacts, clocked_by: str | None = None) -> JobState:
    """Give a job to a technician. Re-assigning keeps paused and rework jobs in their state; a job
    someone is clocked on (`clocked_by`: their name) stays with them until they stop."""
    if job.state is JobState.RECOMMENDED:
        raise Conflict(
            f"“{job.title}” is waiting for the customer's approval.",
            code="job.awaiting_approval",
            params={"title": job.title},
        )
    if job.state is JobState.DECLINED:
        raise Conflict(
            f"The customer declined “{job.title}”.", code="job.declined", params={"title": job.title}
        )
    if clocked_by is not None:
        raise Conflict(
            f"{clocked_by} is clocked on “{job.title}” now: they must stop first.",
            code="job.assign_clocked",
            params={"title": job.title, "name": clocked_by},
        )
    if job.state not in _ASSIGNABLE:
        raise Conflict(
            f"“{job.title}” is {job.state.value} and cannot be assigned now.",
            code="job.not_assignable",
            params={"title": job.title, "state": job.state.value},
        )
    return JobState.ASSIGNED if job.state is JobState.PENDING else job.state


def clock_on(
    job: JobFacts,
    technician_id: int,
    open_job: JobFacts | None,
    *,
    switch: bool = False,
    late: bool = False,
) -> None:
    """Whether a start is taken: only the assigned technician, only on approved work, one clock at a
    time. The job's state then follows from the fold of all taps (api.clockbook.job_state_after).

    With `switch` a clock running on another job is stopped at this start instead of refusing
    (the tablet asks for it: the technician has moved on, perhaps tapping on another tablet).
    A `late` tap carries the tablet's own time and may have waited offline: whether it is taken
    must not depend on the taps that overtook it, so only what clock taps cannot change is checked
    (assignment, approval, a passed QC); the fold (api.clockbook) orders it among the others.
    """
    if job.state is JobState.RECOMMENDED:
        raise Conflict(
            f"“{job.title}” needs the customer's approval before work starts.",
            code="job.awaiting_approval",
            params={"title": job.title},
        )
    if job.state is JobState.DECLINED:
        raise Conflict(
            f"The customer declined “{job.title}”.", code="job.declined", params={"title": job.title}
        )
    if job.technician_id != technician_id:
        raise Forbidden(
            f"“{job.title}” is not assigned to you.", code="job.not_yours", params={"title": job.title}
        )
    if open_job is not None and open_job.id != job.id and not switch:
        raise Conflict(
            f"Your clock is still running on “{open_job.title}”: clock off there first.",
            code="clock.running_elsewhere",
            params={"title": open_job.title},
            open_job_id=open_job.id,
        )
    if late:
        if job.state not in _CLOCKABLE_LATE:
            raise _not_clockable(job)
        return
    if open_job is not None and open_job.id == job.id:
        raise Conflict(
            f"Your clock is already running on “{job.title}”.",
            code="clock.already_running",
            params={"title": job.title},
        )
    if job.state not in _WORKABLE:
        raise _not_clockable(job)


def _not_clockable(job: JobFacts) -> Conflict:
    return Conflict(
        f"“{job.title}” is {job.state.value}: there is nothing to clock on.",
        code="job.not_clockable",
        params={"title": job.title, "state": job.state.value},
    )


def clock_off(
    job: JobFacts, reason: str, open_job: JobFacts | None, technician_id: int, *, late: bool = False
) -> None:
    """Whether a stop is taken. The fold then sends a `finished` job to QC and pauses it for any
    other reason (api.clockbook.job_state_after).

    A `late` stop (one with the tablet's own time, possibly queued offline) is taken even when
    this job's clock is not running on the server yet: its start may still be on its way from
    another tablet, and the fold (api.clockbook) puts them in time order.
    """
    if reason not in CLOCK_OFF_REASONS:
        raise Invalid(
            f"reason must be one of: {', '.join(CLOCK_OFF_REASONS)}.",
            code="clock.reason_invalid",
            params={"choices": list(CLOCK_OFF_REASONS)},
            field="reason",
        )
    running_here = open_job is not None and open_job.id == job.id
    if not running_here and not (late and job.technician_id == technician_id):
        raise Conflict(
            f"You have no clock running on “{job.title}”.",
            code="clock.not_running",
            params={"title": job.title},
        )


def check_qc(
    job: JobFacts, signer_id: int, clocked_ids: Iterable[int], results: Sequence[str]
) -> tuple[bool, JobState]:
    """A quality check by someone who did not work on the job. Any fail sends it back for rework."""
    if signer_id in set(clocked_ids):
        raise Forbidden(
            "You clocked time on this job: someone else must do its quality check.", code="qc.own_work"
        )
    if job.state is not JobState.FINISHED:
        raise Conflict(
            f"“{job.title}” is {job.state.value}: only finished jobs can be checked.",
            code="qc.not_finished",
            params={"title": job.title, "state": job.state.value},
        )
    if not results:
        raise Invalid("A quality check needs at least one item.", code="qc.no_items", field="items")
    bad = [r for r in results if r not in QC_RESULTS]
    if bad:
        raise Invalid(
            f"QC result must be pass, fail or na, got {bad[0]!r}.",
            code="qc.result_invalid",
            params={"result": bad[0]},
            field="items",
        )
    passed = "fail" not in results
    return passed, (JobState.QC_PASSED if passed else JobState.REWORK)


# --- repair orders ----------------------------------------------------------------------------


def stage(jobs: Iterable[JobFacts], ready: bool, delivered: bool) -> Stage:
    """The repair order's stage follows from its jobs; only ready and delivered are set by hand."""
    if delivered:
        return Stage.DELIVERED
    if ready:
        return Stage.READY
    work = [j.state for j in jobs if j.state not in _NOT_WORK]
    if not work or all(s in _NOT_STARTED for s in work):
        return Stage.CHECKED_IN
    if all(s in _DONE_WORKING for s in work):
        return Stage.QUALITY_CHECK
    return Stage.IN_PROGRESS


def ready_blockers(jobs: Iterable[JobFacts]) -> list[str]:
    """What keeps a repair order from being ready: approved work not through QC, open decisions."""
    open_items = []
    for job in jobs:
        if job.state is JobState.RECOMMENDED:
            open_items.append(f"“{job.title}” awaits the customer's decision")
        elif job.state not in _NOT_WORK and job.state is not JobState.QC_PASSED:
            open_items.append(f"“{job.title}” is {job.state.value.replace('_', ' ')}")
    return open_items


def mark_ready(jobs: Sequence[JobFacts], current: Stage) -> None:
    """Ready only when every approved job passed QC (raises Conflict naming what is open)."""
    if current is Stage.DELIVERED:
        raise Conflict("This repair order was already delivered.", code="ro.delivered")
    if current is Stage.READY:
        raise Conflict("This repair order is already ready.", code="ro.already_ready")
    blockers = ready_blockers(jobs)
    if blockers:
        # The same jobs as the blockers, by title: the screens say it in the person's language.
        titles = [j.title for j in jobs if j.state is JobState.RECOMMENDED or j.state not in _NOT_READY]
        raise Conflict(
            "Not ready yet: " + "; ".join(blockers) + ".",
            code="ro.not_ready",
            params={"count": len(blockers), "jobs": titles},
            open=blockers,
        )


def deliver(current: Stage) -> None:
    """Hand the car over: only from ready."""
    if current is not Stage.READY:
        raise Conflict(
            f"Only a ready vehicle can be delivered; this one is {current.value.replace('_', ' ')}.",
            code="ro.not_deliverable",
            params={"stage": current.value},
        )


def can_add_work(current: Stage) -> None:
    """Jobs can be added until delivery; adding work to a ready car reopens it."""
    if current is Stage.DELIVERED:
        raise Conflict(
            "This repair order was delivered: open a new one for more work.", code="ro.delivered_no_work"
        )


# ---------- parts lines (配件) ----------

PART_STATES = ("needed", "ordered", "arrived", "fitted")
# Moves the office records by hand (fitted has its own route: the person at the car says so). An
# order can be called off (ordered → needed); a part taken off the shelf skips ordering.
_PART_MOVES = {
    ("needed", "ordered"),
    ("needed", "arrived"),
    ("ordered", "arrived"),
    ("ordered", "needed"),
    ("arrived", "ordered"),  # the wrong part came: ordered again
}


def move_part(current: str, target: str, expected_at: datetime | None) -> None:
    """May a parts line go from `current` to `target` (same state: an edit of its fields)?"""
    if current == "fitted":
        raise Conflict("This part is already fitted; it can no longer change.", code="part.fitted")
    if target not in PART_STATES or target == "fitted":
        raise Invalid(
            "state must be needed, ordered or arrived (fitted: POST /api/parts/{id}/fitted).",
            code="part.state_invalid",
            params={"state": target},
            field="state",
        )
    if target != current and (current, target) not in _PART_MOVES:
        raise Conflict(
            f"A part that is {current} cannot become {target}.",
            code="part.move_invalid",
            params={"from": current, "to": target},
        )
    if target == "ordered" and expected_at is None:
        raise Invalid(
            "Say when the ordered part should arrive.", code="part.expected_required", field="expected_at"
        )


def fit_part(current: str, job_state: JobState) -> None:
    """A part is fitted once, after it arrived, on work the customer agreed to."""
    if current == "fitted":
        raise Conflict("This part is already fitted.", code="part.already_fitted")
    if current != "arrived":
        raise Conflict(
            "This part has not arrived yet: mark it arrived first.",
            code="part.not_arrived",
            params={"state": current},
        )
    if job_state in _NOT_WORK:
        raise Conflict("The customer has not approved this work.", code="part.job_not_approved")


def add_part(job_state: JobState, current: Stage) -> None:
    """Parts lines go on work that is not declined, until the car is delivered."""
    can_add_work(current)
    if job_state is JobState.DECLINED:
        raise Conflict("The customer declined this work: it needs no parts.", code="part.job_declined")


PROMISE_MAX_AHEAD = timedelta(days=90)


def check_promise(promised_at: datetime, now: datetime) -> None:
    """A promise is a future time the shop can keep (not in the past, not months away)."""
    if promised_at.tzinfo is None:
        raise Invalid(
            "promised_at needs a UTC offset, e.g. 2026-11-22T17:30:00+08:00.",
            code="request.naive_time",
            params={"field": "promised_at"},
            field="promised_at",
        )
    if promised_at <= now:
        raise Invalid(
            "The promised time is in the past: choose a later time.", code="promise.past", field="promised_at"
        )
    if promised_at - now > PROMISE_MAX_AHEAD:
        raise Invalid(
            "The promised time is more than 90 days away: check the date.",
            code="promise.too_far",
            params={"days": PROMISE_MAX_AHEAD.days},
            field="promised_at",
        )


def change_promise(current: datetime, new: datetime, reason: str, now: datetime, current_stage: Stage) -> str:
    """Move the promised time. A reason is required: the customer sees it."""
    reason = reason.strip()
    if not reason:
        raise Invalid(
            "Say why the promised time changes: the customer will see the reason.",
            code="promise.reason_required",
            field="reason",
        )
    if current_stage is Stage.DELIVERED:
        raise Conflict("This repair order was already delivered.", code="ro.delivered")
    check_promise(new, now)
    if new == current:
        raise Conflict("That is already the promised time.", code="promise.unchanged", field="promised_at")
    return reason


# --- identifiers ------------------------------------------------------------------------------

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """The 9th-character check digit of a VIN (ISO 3779 / GB 16735 / FMVSS 115)."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def normalize_vin(raw: str) -> str:
    """Upper-case, validated VIN, or Invalid with a message an advisor can act on."""
    vin = re.sub(r"[\s-]", "", raw).upper()
    if len(vin) != 17:
        raise Invalid(
            f"A VIN has 17 characters; this one has {len(vin)}.",
            code="vin.length",
            params={"length": len(vin)},
        )
    wrong = sorted({c for c in vin if c in "IOQ"})
    if wrong:
        raise Invalid(
            f"A VIN never contains I, O or Q (found {', '.join(wrong)}): check 1/I and 0/O.",
            code="vin.forbidden_letters",
            params={"letters": wrong},
        )
    if not all(c in _VIN_VALUES for c in vin):
        raise Invalid("A VIN has only letters A–Z and digits.", code="vin.characters")
    expected = vin_check_digit(vin)
    if vin[8] != expected:
        raise Invalid(
            f"This VIN's check digit (9th character) should be {expected}: check for a typo.",
            code="vin.check_digit",
            params={"expected": expected},
        )
    return vin


_COMMON_PINS = {
    "1234",
    "1111",
    "0000",
    "1212",
    "7777",
    "1004",
    "2000",
    "4444",
    "2222",
    "6969",
    "9999",
    "3333",
    "5555",
    "6666",
    "1122",
    "1313",
    "8888",
    "4321",
    "2001",
    "1010",
    "5201",
    "1314",
    "5200",
    "123123",
    "121212",
    "112233",
    "520520",
    "131420",
    "147258",
    "159753",
    "1470",
    "2580",
    "0852",
    "8520",
    "1357",
    "2468",
    "9876",
    "7410",
    "0123",
    "1230",
}


def check_pin(pin: str, field: str = "pin") -> None:
    """PINs are 4–8 digits and not among the commonest ones (runs, repeats, well-known lists).

    `field` is where the PIN is in the request (a form shows the refusal there).
    """
    if not pin.isdigit() or not 4 <= len(pin) <= 8 or not pin.isascii():
        raise Invalid("A PIN is 4 to 8 digits.", code="pin.format", field=field)
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in zip(digits, digits[1:], strict=False)}
    halves = len(pin) % 2 == 0 and pin[: len(pin) // 2] == pin[len(pin) // 2 :] and len(pin) >= 6
    if len(set(pin)) == 1 or steps in ({1}, {-1}) or pin in _COMMON_PINS or halves:
        raise Invalid(
            "This PIN is too easy to guess: choose one without repeats, runs or dates.",
            code="pin.weak",
            field=field,
        )


# ---------- walk-around and photos ----------

PHOTO_KINDS = ("walkaround", "finding", "qc")
CUSTOMER_PHOTO_KINDS = ("walkaround", "finding")  # QC evidence is internal
# The damage map's vocabulary (web/js/vehicle.js draws these views; marks store x, y in 0..1 of one).
DamageType = Literal["scratch", "dent", "chip", "crack", "other"]
VehicleView = Literal["top", "left", "right", "front", "rear"]


def check_photo_kind(kind: str) -> str:
    if kind not in PHOTO_KINDS:
        raise Invalid(
            f"kind must be one of: {', '.join(PHOTO_KINDS)}.",
            code="photo.kind_invalid",
            params={"choices": list(PHOTO_KINDS)},
            field="kind",
        )
    return kind


def check_editable(current: Stage) -> None:
    """An order's customer, vehicle, concerns, mileage and fuel may be corrected until delivery."""
    if current is Stage.DELIVERED:
        raise Conflict("This repair order was already delivered.", code="ro.delivered")


def check_check_in_open(signed_at: datetime | None) -> None:
    """Mileage and fuel at check-in are part of what the customer signs on the walk-around."""
    if signed_at is not None:
        raise Conflict(
            "The customer signed the walk-around with this mileage and fuel level: they cannot change now.",
            code="ro.check_in_signed",
        )


def check_walkaround_open(signed_at: datetime | None) -> None:
    """What the customer signed is the record: after the signature the damage map is closed."""
    if signed_at is not None:
        raise Conflict(
            "The customer has already signed this walk-around; it can no longer be changed.",
            code="walkaround.signed",
        )
