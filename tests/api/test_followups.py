"""The follow-up call after delivery (回访) through the API: opened by the delivery, listed by window,
calls recorded; every refusal names its code and changes nothing."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api import followups
from api.tables import Event, FollowUp, FollowUpCall, Job, RepairOrder, Survey
from tests.api.test_handover import SIGNATURE, _handover, _order, _shop
from tests.factories import ro_body, signed_in

ANSWERS = {
    "overall": 9,
    "fixed": True,
    "on_time": True,
    "explained": True,
    "recommend": 9,
    "comment": "很满意",
    "reminder_confirmed": True,
}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], datetime]:
    """Move the follow-ups' clock to real now + `ahead` (the delivery itself happens at real now)."""

    def move(ahead: timedelta) -> datetime:
        at = datetime.now(UTC) + ahead
        monkeypatch.setattr(followups, "now", lambda: at)
        return at

    return move


async def _delivered(c: Any) -> dict[str, Any]:
    r = await c.post("/api/repair-orders", json=ro_body())
    assert r.status_code == 201, r.text
    ro = r.json()
    await Job.update({Job.state: "qc_passed"}).where(Job.repair_order == ro["id"])
    assert (await c.post(f"/api/repair-orders/{ro['id']}/ready")).status_code == 200
    r = await c.post(f"/api/repair-orders/{ro['id']}/deliver")
    assert r.status_code == 200, r.text
    return ro


async def _listed(c: Any, view: str) -> dict[str, Any]:
    r = await c.get(f"/api/follow-ups?view={view}")
    assert r.status_code == 200, r.text
    return r.json()


async def _unchanged() -> tuple[Any, ...]:
    return (await Event.count(), await FollowUp.select(), await FollowUpCall.count())


async def test_delivery_opens_a_follow_up_due_on_shop_days_two_to_five(
    app: Any, clean: None, clock: Callable[[timedelta], datetime]
) -> None:
    await _shop()
    c, advisor = await signed_in(app, "customer_care")
    office, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), contextlib.aclosing(office):
        ro = await _delivered(office)
        created = await Event.select().where(Event.type == "follow_up.created")
        assert [e["repair_order"] for e in created] == [ro["id"]]
        row = await FollowUp.select().where(FollowUp.repair_order == ro["id"]).first()
        assert row is not None and row["state"] == "open"
        # Shanghai, open every day: the window starts at local midnight two days after delivery.
        local = row["due_from"].astimezone(ZoneInfo("Asia/Shanghai"))
        assert (local.hour, local.minute) == (0, 0)
        assert row["due_until"] - row["due_from"] == timedelta(days=4)

        clock(timedelta(hours=0))
        listed = await _listed(c, "upcoming")
        assert listed["counts"] == {"due": 0, "overdue": 0, "upcoming": 1, "done": 0}
        clock(timedelta(days=3))
        listed = await _listed(c, "due")
        assert listed["counts"]["due"] == 1
        item = listed["items"][0]
        assert item["repair_order"]["number"] == ro["number"]
        assert item["customer"] == {"name": "张伟", "phone": "13800138000", "language": "zh-CN"}
        assert item["vehicle"]["plate"] == "沪A12345"
        assert item["work"] == ["Minor service", "A/C cleaning"]
        assert item["advisor"]["name"].startswith("Test Advisor")
        assert item["rating"] is None
        clock(timedelta(days=10))
        assert (await _listed(c, "overdue"))["counts"]["overdue"] == 1


async def test_a_reached_call_with_a_low_score_is_done_and_flagged(
    app: Any, clean: None, clock: Callable[[timedelta], datetime]
) -> None:
    await _shop()
    c, person = await signed_in(app, "customer_care")
    office, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), contextlib.aclosing(office):
        ro = await _delivered(office)
        await Survey(repair_order=ro["id"], score=4, comment="慢", submitted_at=datetime.now(UTC)).save()
        clock(timedelta(days=3))
        item = (await _listed(c, "due"))["items"][0]
        assert item["rating"] == {"score": 4, "comment": "慢"}
        answers = ANSWERS | {"overall": 5, "comment": "  等太久  "}
        r = await c.post(
            f"/api/follow-ups/{item['id']}/calls",
            json={"reached": True, "answers": answers},
            headers={"Idempotency-Key": "call-1"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["state"] == "done" and body["complaint_suggested"] is True
        assert body["last_call"]["answers"]["comment"] == "等太久"
        called = await Event.select().where(Event.type == "follow_up.called").first()
        assert called is not None and json.loads(called["data"])["complaint_suggested"] is True
        assert called["actor"] == f"staff:{person['id']}"
        # A replay answers the same; a second call is refused.
        again = await c.post(
            f"/api/follow-ups/{item['id']}/calls",
            json={"reached": True, "answers": answers},
            headers={"Idempotency-Key": "call-1"},
        )
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        before = await _unchanged()
        r = await c.post(f"/api/follow-ups/{item['id']}/calls", json={"reached": True, "answers": ANSWERS})
        assert r.status_code == 409 and r.json()["code"] == "follow_up.already_done"
        assert await _unchanged() == before
        done = await _listed(c, "done")
        assert done["counts"] == {"due": 0, "overdue": 0, "upcoming": 0, "done": 1}
        assert done["items"][0]["complaint_suggested"] is True


@pytest.mark.parametrize(
    ("answers", "flagged"),
    [(ANSWERS, False), (ANSWERS | {"fixed": False}, True), (ANSWERS | {"recommend": 6}, True)],
)
async def test_not_fixed_or_a_low_recommendation_is_flagged_too(
    app: Any, clean: None, clock: Callable[[timedelta], datetime], answers: dict[str, Any], flagged: bool
) -> None:
    await _shop()
    c, _ = await signed_in(app, "manager")
    async with contextlib.aclosing(c):
        await _delivered(c)
        clock(timedelta(days=2))
        item = (await _listed(c, "due"))["items"][0]
        r = await c.post(f"/api/follow-ups/{item['id']}/calls", json={"reached": True, "answers": answers})
        assert r.status_code == 200, r.text
        assert r.json()["complaint_suggested"] is flagged


async def test_not_reached_calls_back_then_closes_as_unreachable(
    app: Any, clean: None, clock: Callable[[timedelta], datetime]
) -> None:
    await _shop()
    c, _ = await signed_in(app, "customer_care")
    office, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), contextlib.aclosing(office):
        await _delivered(office)
        at = clock(timedelta(days=3))
        item = (await _listed(c, "due"))["items"][0]
        url = f"/api/follow-ups/{item['id']}/calls"
        before = await _unchanged()
        for call_back, code in (
            (None, "follow_up.call_back_required"),
            (at - timedelta(minutes=1), "follow_up.call_back_past"),
            (at + timedelta(days=30), "follow_up.call_back_too_late"),
        ):
            sent = {"reached": False, "call_back_at": call_back.isoformat() if call_back else None}
            r = await c.post(url, json=sent)
            assert r.status_code == 422 and r.json()["code"] == code, r.text
        assert await _unchanged() == before
        later = at + timedelta(hours=3)
        r = await c.post(url, json={"reached": False, "call_back_at": later.isoformat()})
        assert r.status_code == 200, r.text
        assert r.json()["tries"] == 1 and r.json()["state"] == "open" and r.json()["view"] == "upcoming"
        clock(timedelta(days=3, hours=4))
        assert (await _listed(c, "due"))["counts"]["due"] == 1
        r = await c.post(
            url, json={"reached": False, "call_back_at": (later + timedelta(days=1)).isoformat()}
        )
        assert r.status_code == 200 and r.json()["tries"] == 2
        r = await c.post(url, json={"reached": False})  # the third try closes it: no call back asked
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "unreachable" and r.json()["tries"] == 3


async def test_scores_out_of_range_and_missing_answers_are_refused(
    app: Any, clean: None, clock: Callable[[timedelta], datetime]
) -> None:
    await _shop()
    c, _ = await signed_in(app, "customer_care")
    office, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), contextlib.aclosing(office):
        await _delivered(office)
        clock(timedelta(days=3))
        item = (await _listed(c, "due"))["items"][0]
        url = f"/api/follow-ups/{item['id']}/calls"
        before = await _unchanged()
        for answers in (ANSWERS | {"overall": 0}, ANSWERS | {"overall": 11}, ANSWERS | {"recommend": -1}):
            r = await c.post(url, json={"reached": True, "answers": answers})
            assert r.status_code == 422 and r.json()["code"] == "follow_up.score_range", r.text
        r = await c.post(url, json={"reached": True})
        assert r.status_code == 422 and r.json()["code"] == "follow_up.answers_required"
        r = await c.post("/api/follow-ups/999999/calls", json={"reached": True, "answers": ANSWERS})
        assert r.status_code == 404 and r.json()["code"] == "follow_up.not_found"
        r = await c.get("/api/follow-ups?view=tomorrow")
        assert r.status_code == 422 and r.json()["code"] == "follow_up.view"
        assert await _unchanged() == before


async def test_an_undelivered_order_cannot_be_followed_up(app: Any, clean: None) -> None:
    await _shop()
    c, _ = await signed_in(app, "customer_care")
    office, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), contextlib.aclosing(office):
        ro = await _delivered(office)
        # An order taken back out of delivery (a correction in the database) cannot be called about.
        await RepairOrder.update({RepairOrder.delivered_at: None}).where(RepairOrder.id == ro["id"])
        row = await FollowUp.select(FollowUp.id).where(FollowUp.repair_order == ro["id"]).first()
        assert row is not None
        before = await _unchanged()
        r = await c.post(f"/api/follow-ups/{row['id']}/calls", json={"reached": True, "answers": ANSWERS})
        assert r.status_code == 409 and r.json()["code"] == "follow_up.not_delivered"
        assert await _unchanged() == before


async def test_the_hand_over_opens_the_follow_up_in_its_own_command(app: Any, clean: None) -> None:
    await _shop(open_days="12345")
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        ro = await _order(c)
        r = await c.post(f"/api/repair-orders/{ro['id']}/handover", json=_handover(signature=SIGNATURE))
        assert r.status_code == 200, r.text
        row = await FollowUp.select().where(FollowUp.repair_order == ro["id"]).first()
        assert row is not None
        # Closed at weekends: the window's first and last days are weekdays.
        zone = ZoneInfo("Asia/Shanghai")
        assert row["due_from"].astimezone(zone).isoweekday() <= 5
        assert (row["due_until"] - timedelta(days=1)).astimezone(zone).isoweekday() <= 5
        types = [e["type"] for e in await Event.select(Event.type).order_by(Event.seq)]
        assert types[-3:] == ["follow_up.created", "ro.handed_over", "stage.changed"]
