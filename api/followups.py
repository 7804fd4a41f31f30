"""The follow-up call after delivery (回访) as use cases: opened by the delivery's own command, listed
for customer care, and each call recorded. Rules in api.followup_rules. Runs inside
api.commands.execute. No web imports.

Tests move this module's clock (and only this one's) with BAYLINE_TEST_CLOCK_FILE, honoured only
when BAYLINE_TESTING=1: the browser test must see "day 2 after delivery" without waiting two days,
and shifting the whole server's clock would also age its sessions.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from api import commands, events, followup_rules, readmodels, settings, workshop
from api.commands import Outcome
from api.events import NewEvent
from api.settlement_summary import billed
from api.tables import Customer, FollowUp, FollowUpCall, Job, RepairOrder, Shop, Staff, Survey, Vehicle

_SETTINGS = {
    "timezone": "",
    "open_days": "1234567",
    "followup_from_days": 2,
    "followup_to_days": 5,
    "followup_max_tries": 3,
    "followup_low_score": 6,
}
DONE_SHOWN = timedelta(days=14)  # closed follow-ups stay on the care screen this long


def now() -> datetime:
    """api.commands.now, moved by the tests' clock file when the test flag is set."""
    at = commands.now()
    clock_file = os.environ.get("BAYLINE_TEST_CLOCK_FILE")
    if clock_file and os.environ.get("BAYLINE_TESTING") == "1":
        with contextlib.suppress(OSError, ValueError):  # no file yet: the real time
            at += timedelta(seconds=float(Path(clock_file).read_text().strip() or 0))
    return at


async def terms() -> dict[str, Any]:
    row = await Shop.select(*(getattr(Shop, name) for name in _SETTINGS)).first()
    found = {**_SETTINGS, **(row or {})}
    found["timezone"] = found["timezone"] or settings.get().shop_timezone
    return found


async def open_for(ro_id: int, delivered_at: datetime) -> list[NewEvent]:
    """Open the order's follow-up, in the delivery's own command (none twice)."""
    if await FollowUp.exists().where(FollowUp.repair_order == ro_id):
        return []
    shop = await terms()
    window = followup_rules.window(
        delivered_at,
        shop["timezone"],
        shop["open_days"],
        int(shop["followup_from_days"]),
        int(shop["followup_to_days"]),
    )
    row = FollowUp(
        repair_order=ro_id,
        delivered_at=delivered_at,
        due_from=window.due_from,
        due_until=window.due_until,
        created_at=commands.now(),
    )
    await row.save()
    return [events.follow_up_created(ro_id, row.id, window.due_from, window.due_until)]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _view(row: dict[str, Any], at: datetime) -> str:
    if row["state"] != "open":
        return "done"
    return followup_rules.view_of(at, row["due_from"], row["due_until"], row["call_back_at"])


async def listing(view: str) -> dict[str, Any]:
    """The follow-ups of one list (due, overdue, upcoming or done: closed lately), oldest first, with
    the counts of every list."""
    if view not in followup_rules.VIEWS:
        raise workshop.Invalid(
            f"view: one of {', '.join(followup_rules.VIEWS)}.",
            code="follow_up.view",
            field="view",
            params={"view": view},
        )
    at = now()
    rows = await FollowUp.select().where((FollowUp.state == "open") | (FollowUp.closed_at >= at - DONE_SHOWN))
    counts = dict.fromkeys(followup_rules.VIEWS, 0)
    chosen = []
    for row in rows:
        which = _view(row, at)
        counts[which] += 1
        if which == view:
            chosen.append(row)
    if view == "done":
        chosen.sort(key=lambda r: r["closed_at"], reverse=True)  # the latest call first
    else:
        chosen.sort(key=lambda r: (r["call_back_at"] or r["due_from"], r["id"]))
    shop = await terms()
    items = [await _item(row, at, shop) for row in chosen]
    return {"view": view, "now": at.isoformat(), "counts": counts, "items": items}


async def _item(row: dict[str, Any], at: datetime, shop: dict[str, Any]) -> dict[str, Any]:
    ro = await RepairOrder.select().where(RepairOrder.id == row["repair_order"]).first()
    assert ro is not None
    customer = await Customer.select().where(Customer.id == ro["customer"]).first() or {}
    vehicle = await Vehicle.select().where(Vehicle.id == ro["vehicle"]).first() or {}
    advisor = (
        await Staff.select(Staff.id, Staff.name).where(Staff.id == ro["created_by"]).first()
        if ro["created_by"]
        else None
    )
    jobs = await Job.select().where(Job.repair_order == ro["id"]).order_by(Job.id)
    survey = await Survey.select(Survey.score, Survey.comment).where(Survey.repair_order == ro["id"]).first()
    calls = await FollowUpCall.select().where(FollowUpCall.follow_up == row["id"]).order_by(FollowUpCall.id)
    last = calls[-1] if calls else None
    return {
        "id": row["id"],
        "view": _view(row, at),
        "state": row["state"],
        "repair_order": {"id": ro["id"], "number": ro["number"]},
        "customer": {
            "name": customer.get("name", ""),
            "phone": customer.get("phone", ""),
            "language": customer.get("language", "zh-CN"),
        },
        "vehicle": {
            "plate": vehicle.get("plate", ""),
            "make": vehicle.get("make", ""),
            "model": vehicle.get("model", ""),
        },
        "work": [j["customer_text"] or j["title"] for j in jobs if billed(j)],
        "advisor": advisor,
        "rating": survey,
        "delivered_at": _iso(row["delivered_at"]),
        "due_from": _iso(row["due_from"]),
        "due_until": _iso(row["due_until"]),
        "call_back_at": _iso(row["call_back_at"]),
        "tries": row["tries"],
        "max_tries": int(shop["followup_max_tries"]),
        "complaint_suggested": row["complaint_suggested"],
        "closed_at": _iso(row["closed_at"]),
        "last_call": None
        if last is None
        else {
            "reached": last["reached"],
            "answers": json.loads(last["answers"]),
            "called_at": _iso(last["called_at"]),
            "call_back_at": _iso(last["call_back_at"]),
        },
        "calls": len(calls),
    }


@dataclass(frozen=True)
class Answers:
    """The script's answers, as the customer gave them."""

    overall: int
    fixed: bool
    on_time: bool
    explained: bool
    recommend: int
    comment: str
    reminder_confirmed: bool


def _check_answers(answers: Answers | None) -> Answers:
    if answers is None:
        raise workshop.Invalid(
            "answers: a call that reached the customer records their answers.",
            code="follow_up.answers_required",
            field="answers",
        )
    for name, value, bounds in (
        ("overall", answers.overall, followup_rules.OVERALL),
        ("recommend", answers.recommend, followup_rules.RECOMMEND),
    ):
        if not followup_rules.in_range(value, bounds):
            raise workshop.Invalid(
                f"{name}: a score from {bounds[0]} to {bounds[1]}.",
                code="follow_up.score_range",
                field=name,
                params={"field": name, "min": bounds[0], "max": bounds[1], "value": value},
            )
    return answers


async def call(
    follow_up_id: int, *, reached: bool, call_back_at: datetime | None, answers: Answers | None, by: int
) -> Outcome:
    """Record a call: reached → the answers, done (a low score or a fault not fixed is flagged for a
    complaint); not reached → a call back at a chosen time, or unreachable after the last try."""
    row = await FollowUp.select().where(FollowUp.id == follow_up_id).first()
    if row is None:
        raise workshop.NotFound("No such follow-up.", code="follow_up.not_found", params={"id": follow_up_id})
    ro = await readmodels.require_repair_order(row["repair_order"])
    if ro["delivered_at"] is None:
        raise workshop.Conflict(
            "This order has not been delivered: there is nothing to follow up yet.",
            code="follow_up.not_delivered",
        )
    if row["state"] != "open":
        raise workshop.Conflict(
            "This follow-up is already closed.", code="follow_up.already_done", params={"state": row["state"]}
        )
    shop = await terms()
    at = now()
    flagged = False
    tries = row["tries"]
    kept: dict[str, Any] = {}
    if reached:
        given = _check_answers(answers)
        flagged = followup_rules.needs_complaint(
            given.overall, given.recommend, given.fixed, int(shop["followup_low_score"])
        )
        kept = {**given.__dict__, "comment": given.comment.strip()}
        state = "done"
        call_back_at = None
    else:
        tries += 1
        if followup_rules.unreachable_after(tries, int(shop["followup_max_tries"])):
            state, call_back_at = "unreachable", None
        else:
            state = "open"
            _check_call_back(call_back_at, at, row["due_until"])
    changes: dict[Any, Any] = {
        FollowUp.tries: tries,
        FollowUp.state: state,
        FollowUp.call_back_at: call_back_at,
        FollowUp.complaint_suggested: flagged,
        FollowUp.closed_at: at if state != "open" else None,
    }
    await FollowUp.update(changes).where(FollowUp.id == follow_up_id)
    await FollowUpCall(
        follow_up=follow_up_id,
        reached=reached,
        answers=json.dumps(kept, ensure_ascii=False),
        call_back_at=call_back_at,
        called_by=by,
        called_at=at,
    ).save()
    updated = await FollowUp.select().where(FollowUp.id == follow_up_id).first()
    assert updated is not None
    body = await _item(updated, at, shop)
    event = events.follow_up_called(
        row["repair_order"],
        follow_up_id,
        reached=reached,
        state=state,
        tries=tries,
        call_back_at=call_back_at,
        complaint_suggested=flagged,
        by=by,
    )
    return Outcome(200, body, [event])


def _check_call_back(call_back_at: datetime | None, at: datetime, due_until: datetime) -> None:
    if call_back_at is None:
        raise workshop.Invalid(
            "call_back_at: when to call the customer again.",
            code="follow_up.call_back_required",
            field="call_back_at",
        )
    if call_back_at <= at:
        raise workshop.Invalid(
            "call_back_at: a call back is in the future.",
            code="follow_up.call_back_past",
            field="call_back_at",
        )
    latest = followup_rules.call_back_limit(at, due_until)
    if call_back_at > latest:
        raise workshop.Invalid(
            "call_back_at: within the follow-up window, or a week from now.",
            code="follow_up.call_back_too_late",
            field="call_back_at",
            params={"latest": latest.isoformat()},
        )
