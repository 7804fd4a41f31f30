"""Outbox headers on commands: device id / sequence / time kept on the events, and an action is
only ever credited to the person who did it (RELIABILITY row 16, server side)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from api.tables import ClockEntry, ClockEvent, Event, IdempotencyRecord
from tests.factories import ro_body, signed_in


async def test_device_stamp_is_kept_and_actions_are_never_credited_to_someone_else(
    app: Any, clean: None
) -> None:
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    colleague, _ = await signed_in(app, "technician")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(colleague):
        ro = (
            await advisor.post(
                "/api/repair-orders", json=ro_body(jobs=[{"title": "Brakes", "estimated_hours": 1}])
            )
        ).json()
        job_id = ro["jobs"][0]["id"]
        await advisor.post(f"/api/jobs/{job_id}/assign", json={"technician_id": person["id"]})
        done = datetime.now(UTC) - timedelta(minutes=5)
        headers = {
            "Idempotency-Key": "bay-1:17",
            "Acting-Staff": str(person["id"]),
            "Device-Id": "bay-1",
            "Device-Seq": "17",
            "Device-Time": done.isoformat(),
        }
        # The colleague now holds the tablet: the queued action is refused, nothing is written.
        before = await Event.count()
        refused = await colleague.post(f"/api/jobs/{job_id}/clock-on", json={}, headers=headers)
        assert refused.status_code == 401 and "another staff member" in refused.json()["detail"]
        assert await Event.count() == before and await ClockEntry.count() == 0
        # Its author signs in again: the same request goes through, stamped.
        r = await tech.post(
            f"/api/jobs/{job_id}/clock-on", json={"device_time": done.isoformat()}, headers=headers
        )
        assert r.status_code == 200, r.text
        events = await Event.select().where(Event.seq > 0).order_by(Event.seq)
        clock = [e for e in events if e["type"] == "clock.on"]
        assert len(clock) == 1 and clock[0]["actor"] == f"staff:{person['id']}"
        assert (clock[0]["device_id"], clock[0]["device_seq"]) == ("bay-1", 17)
        assert clock[0]["device_at"] == done and clock[0]["received_at"] >= done
        # The ledger of accepted actions holds it once, with its author and stamp.
        ledger = await IdempotencyRecord.select().where(IdempotencyRecord.device_id == "bay-1")
        assert [(x["actor"], x["device_seq"], x["device_at"]) for x in ledger] == [
            (f"staff:{person['id']}", 17, done)
        ]
        again = await tech.post(
            f"/api/jobs/{job_id}/clock-on", json={"device_time": done.isoformat()}, headers=headers
        )
        assert again.status_code == 200 and again.json() == r.json()
        assert await IdempotencyRecord.count().where(IdempotencyRecord.device_id == "bay-1") == 1
        # Requests without outbox headers still work and are not stamped.
        assert events[0]["device_id"] is None and events[0]["received_at"] is not None

        for bad, message in (
            ({"Device-Id": "bay 1"}, "Device-Id"),
            ({"Device-Id": "bay-1", "Device-Seq": "-3"}, "Device-Seq"),
            ({"Device-Id": "bay-1", "Device-Time": "2026-11-23T09:30:00"}, "UTC offset"),
            ({"Device-Id": "bay-1", "Device-Time": "yesterday"}, "ISO 8601"),
        ):
            r = await tech.post(f"/api/jobs/{job_id}/clock-off", json={"reason": "break"}, headers=bad)
            assert r.status_code == 400 and message in r.json()["detail"], (bad, r.text)
        assert await ClockEntry.count().where(ClockEntry.ended_at.is_null()) == 1


async def test_a_tap_queued_for_long_keeps_its_time_the_send_time_comes_with_each_attempt(
    app: Any, clean: None
) -> None:
    """The outbox sends `Device-Sent-At` afresh on every attempt (the body stays the same): a tap
    queued 40 minutes in a dead zone is placed at the tap, and a tablet clock that is wrong is
    still corrected from the attempt that reached the server."""
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech):
        jobs = [{"title": "Brakes", "estimated_hours": 1}, {"title": "Tyres", "estimated_hours": 1}]
        ro = (await advisor.post("/api/repair-orders", json=ro_body(jobs=jobs))).json()
        a, b = (j["id"] for j in ro["jobs"])
        for job in (a, b):
            await advisor.post(f"/api/jobs/{job}/assign", json={"technician_id": person["id"]})
        now = datetime.now(UTC)
        tapped = now - timedelta(minutes=40)
        r = await tech.post(
            f"/api/jobs/{a}/clock-on",
            json={"device_time": tapped.isoformat()},
            headers={"Idempotency-Key": "q-1", "Device-Id": "bay-2", "Device-Sent-At": now.isoformat()},
        )
        assert r.status_code == 200, r.text
        entry = await ClockEntry.select().where(ClockEntry.job == a).first()
        assert entry is not None and abs((entry["started_at"] - tapped).total_seconds()) < 1
        tap = await ClockEvent.select(ClockEvent.skewed).where(ClockEvent.job == a).first()
        assert tap is not None and tap["skewed"] is False  # a queue is not a wrong clock

        # A tablet three hours slow: its tap and its send time are both three hours behind.
        slow = timedelta(hours=3)
        r = await tech.post(
            f"/api/jobs/{a}/clock-off",
            json={"reason": "break", "device_time": (now - slow - timedelta(minutes=5)).isoformat()},
            headers={
                "Idempotency-Key": "q-2",
                "Device-Id": "bay-2",
                "Device-Sent-At": (now - slow).isoformat(),
            },
        )
        assert r.status_code == 200, r.text
        entry = await ClockEntry.select().where(ClockEntry.job == a).first()
        assert entry is not None and entry["ended_at"] is not None
        assert abs((entry["ended_at"] - (now - timedelta(minutes=5))).total_seconds()) < 60
        flags = await ClockEvent.select(ClockEvent.skewed).where(ClockEvent.job == a).order_by(ClockEvent.id)
        assert [f["skewed"] for f in flags] == [False, True]  # the wrong clock is flagged

        bad = await tech.post(
            f"/api/jobs/{b}/clock-on",
            json={"device_time": now.isoformat()},
            headers={"Device-Id": "bay-2", "Device-Sent-At": "soon"},
        )
        assert bad.status_code == 400 and "Device-Sent-At" in bad.json()["detail"]
        assert await ClockEntry.count().where(ClockEntry.job == b) == 0
