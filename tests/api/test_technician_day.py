"""The technician's day through HTTP: attendance, switching, late and reordered taps, the runaway-
timer guard, confirmations and corrections with audit, findings → recommended work, QC screens."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import autostop, clockbook, shop
from api import settings as bayline_settings
from api.tables import ClockCorrection, ClockEntry, ClockEvent, Event, Job
from tests.factories import ro_body, signed_in, tapped

_keys = itertools.count()


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"tap-{next(_keys)}-{random.random()}"}


def iso(value: datetime) -> str:
    return value.isoformat()


async def setup_jobs(
    app: Any, n: int = 2
) -> tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, Any], list[int]]:
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    jobs = [{"title": f"Job {i}", "estimated_hours": 1} for i in range(n)]
    ro = (await advisor.post("/api/repair-orders", json=ro_body(jobs=jobs))).json()
    ids = [j["id"] for j in ro["jobs"]]
    for job_id in ids:
        r = await advisor.post(f"/api/jobs/{job_id}/assign", json={"technician_id": person["id"]})
        assert r.status_code == 200, r.text
    return advisor, tech, ro, ids


async def test_attendance_day_switch_and_utilisation(app: Any, clean: None) -> None:
    advisor, tech, ro, (a, b) = await setup_jobs(app)
    foreman, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(foreman):
        assert (await tech.post("/api/attendance/clock-out")).status_code == 409  # not clocked in
        t0 = datetime.now(UTC) - timedelta(hours=3)
        day = await tech.post("/api/attendance/clock-in", json={"device_time": iso(t0)}, headers=key())
        assert day.status_code == 201, day.text
        twice = await tech.post("/api/attendance/clock-in")
        assert twice.status_code == 409 and "already clocked in" in twice.json()["detail"]

        on_a = await tech.post(
            f"/api/jobs/{a}/clock-on", json={"device_time": iso(t0 + timedelta(minutes=10))}, headers=key()
        )
        assert on_a.status_code == 200 and on_a.json()["entry"]["ended_at"] is None
        # A live start elsewhere without asking to switch: the contract's 409 naming the open job.
        refused = await tech.post(f"/api/jobs/{b}/clock-on")
        assert refused.status_code == 409 and refused.json()["open_job_id"] == a
        # The tablet asks to switch: job A stops where B starts, flagged "switched".
        on_b = await tech.post(
            f"/api/jobs/{b}/clock-on",
            json={"device_time": iso(t0 + timedelta(minutes=70)), "switch": True},
            headers=key(),
        )
        assert on_b.status_code == 200, on_b.text
        switched = [e for e in on_b.json()["entries"] if e["job_id"] == a][0]
        assert switched["reason"] == "switched" and "switched" in switched["flags"]
        assert await ClockEntry.count().where(ClockEntry.ended_at.is_null()) == 1

        mine = (await tech.get("/api/me/jobs")).json()
        assert mine["attendance"]["clock_out_at"] is None
        assert mine["open_entry"]["job_id"] == b
        by_id = {j["id"]: j for j in mine["jobs"]}
        assert by_id[a]["state"] == "paused" and round(by_id[a]["clocked_minutes"]) == 60
        assert by_id[b]["running_since"] is not None and by_id[b]["repair_order"]["number"] == ro["number"]

        # Ending the day stops the running clock and flags it for the technician to check.
        out = await tech.post("/api/attendance/clock-out", headers=key())
        assert out.status_code == 200, out.text
        stopped = out.json()["auto_stopped"]
        assert [e["job_id"] for e in stopped] == [b] and stopped[0]["auto_stopped"] is True
        review = (await tech.get("/api/me/jobs")).json()["review"]
        assert [e["job_id"] for e in review] == [b]

        # The report is per shop day. Run between 16:00 and 19:00 UTC, these three hours cross shop
        # midnight and are split over two days' reports: together they hold the whole shift.
        zone = ZoneInfo(await shop.timezone())
        days = sorted({t0.astimezone(zone).date(), datetime.now(UTC).astimezone(zone).date()})
        rows = []
        for day_ in days:
            report = (await foreman.get(f"/api/attendance/day?day={day_.isoformat()}")).json()
            rows.append(next(t for t in report["technicians"] if t["id"] == stopped[0]["technician_id"]))
        today = (await foreman.get("/api/attendance/day")).json()  # no day given: today in the shop
        assert next(t for t in today["technicians"] if t["id"] == rows[-1]["id"]) == rows[-1]
        attended = sum(r["attended_minutes"] for r in rows)
        clocked = sum(r["clocked_minutes"] for r in rows)
        assert 179 <= attended <= 181
        assert 169 <= clocked <= 171  # 60 on A + ~110 on B
        assert 0.93 <= clocked / attended <= 0.96
        if len(rows) == 1:
            assert 0.93 <= rows[0]["utilisation"] <= 0.96
        assert (await foreman.get("/api/attendance/day?day=2999-01-01")).status_code == 400


async def test_late_stop_orphan_future_and_stale_taps(app: Any, clean: None) -> None:
    advisor, tech, _, (a, b) = await setup_jobs(app)
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech):
        now = datetime.now(UTC)
        # A stop that arrives before its start (two tablets): kept, and matched once the start comes.
        off = await tech.post(
            f"/api/jobs/{a}/clock-off",
            json={"reason": "waiting_parts", "device_time": iso(now - timedelta(minutes=20))},
            headers=key(),
        )
        assert off.status_code == 200, off.text
        assert await ClockEntry.count() == 0
        on = await tech.post(
            f"/api/jobs/{a}/clock-on", json={"device_time": iso(now - timedelta(minutes=50))}, headers=key()
        )
        entry = on.json()["entry"]
        assert entry["reason"] == "waiting_parts" and entry["ended_at"] is not None
        assert on.json()["job"]["state"] == "paused"
        # A tap from the future is clamped to when it arrived and flagged.
        future = await tech.post(
            f"/api/jobs/{b}/clock-on", json={"device_time": iso(now + timedelta(hours=2))}, headers=key()
        )
        started = datetime.fromisoformat(future.json()["entry"]["started_at"])
        assert started <= datetime.now(UTC) and future.json()["entry"]["clock_skew_flag"] is True
        # A tablet three hours slow that says when it sent: placed at the right time, flagged.
        sent = now - timedelta(hours=3)
        off_b = await tech.post(
            f"/api/jobs/{b}/clock-off",
            json={
                "reason": "break",
                "device_time": iso(sent),
                "device_sent_at": iso(sent),
            },
            headers=key(),
        )
        ended = datetime.fromisoformat(off_b.json()["entry"]["ended_at"])
        assert abs((ended - datetime.now(UTC)).total_seconds()) < 60
        stale = await tech.post(
            f"/api/jobs/{a}/clock-on", json={"device_time": iso(now - timedelta(days=3))}, headers=key()
        )
        assert stale.status_code == 422 and "48 hours" in stale.json()["detail"]
        bad = await tech.post(f"/api/jobs/{a}/clock-off", json={"reason": "coffee"})
        assert bad.status_code == 422 and "reason must be one of" in bad.json()["detail"]


async def test_runaway_guard_then_confirm_and_corrections_with_audit(app: Any, clean: None) -> None:
    advisor, tech, ro, (a, b) = await setup_jobs(app)
    foreman, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(foreman):
        now = datetime.now(UTC)
        start = now - timedelta(hours=30)  # forgotten yesterday; within the 48 h a tablet may lag
        await tech.post(f"/api/jobs/{a}/clock-on", json={"device_time": iso(start)}, headers=key())
        await tech.post("/api/attendance/clock-in", json={"device_time": iso(start)}, headers=key())
        # The app's own guard loop may have swept already (it runs every minute); either way the
        # clock is stopped once and a further sweep (another worker, the next minute) finds nothing.
        assert await autostop.sweep() in (0, 1)
        assert await autostop.sweep() == 0
        assert await ClockEvent.count().where(ClockEvent.kind == "stop_all") == 1
        entry = await ClockEntry.select().first()
        assert entry is not None and entry["auto_stopped"] and entry["ended_at"] is not None
        # Stopped at the first cutoff after it was forgotten (yesterday evening), not at the sweep
        # and not at a later evening's cutoff.
        config = bayline_settings.get()
        first = clockbook.cutoff_after(start, config.autostop_at, ZoneInfo(config.shop_timezone))
        assert entry["ended_at"] == first and first < now
        assert (await Job.select(Job.state).where(Job.id == a).first())["state"] == "paused"  # type: ignore[index]
        day = (await tech.get("/api/me/jobs")).json()
        assert day["attendance"] is None and [e["id"] for e in day["review"]] == [entry["id"]]

        # The technician corrects their own flagged entry; a reason is required.
        new_end = iso(start + timedelta(hours=2))
        r = await tech.post(
            f"/api/clock-entries/{entry['id']}/correct", json={"ended_at": new_end, "reason": " "}
        )
        assert r.status_code == 422 and "reason" in r.json()["detail"]
        r = await tech.post(
            f"/api/clock-entries/{entry['id']}/correct",
            json={"ended_at": new_end, "reason": "Forgot to stop; left at 11"},
            headers=key(),
        )
        assert r.status_code == 200, r.text
        assert r.json()["corrected"] is True and r.json()["ended_at"] == new_end
        assert (await tech.get("/api/me/jobs")).json()["review"] == []
        # Now checked, only a foreman may change it again; the audit keeps both versions.
        again = await tech.post(
            f"/api/clock-entries/{entry['id']}/correct",
            json={"ended_at": iso(start + timedelta(hours=1)), "reason": "x"},
        )
        assert again.status_code == 403
        later = iso(start + timedelta(hours=2, minutes=30))
        r = await foreman.post(
            f"/api/clock-entries/{entry['id']}/correct",
            json={"ended_at": later, "reason": "Road test took longer"},
        )
        assert r.status_code == 200 and r.json()["ended_at"] == later
        audit = await ClockCorrection.select().order_by(ClockCorrection.id)
        assert [(x["kind"], x["reason"]) for x in audit] == [
            ("correct", "Forgot to stop; left at 11"),
            ("correct", "Road test took longer"),
        ]
        assert json.loads(audit[1]["before"])["ended_at"] == new_end
        assert json.loads(audit[1]["after"])["ended_at"] == later
        events = await Event.select().where(Event.type == "clock.corrected")
        assert len(events) == 2 and json.loads(events[1]["data"])["reason"] == "Road test took longer"

        # A correction that would overlap another entry of the same person is refused.
        await tech.post(
            f"/api/jobs/{b}/clock-on", json={"device_time": iso(start + timedelta(hours=3))}, headers=key()
        )
        await tech.post(
            f"/api/jobs/{b}/clock-off",
            json={"reason": "break", "device_time": iso(start + timedelta(hours=4))},
            headers=key(),
        )
        overlap = await foreman.post(
            f"/api/clock-entries/{entry['id']}/correct",
            json={"ended_at": iso(start + timedelta(hours=3, minutes=30)), "reason": "typo"},
        )
        assert overlap.status_code == 409 and "overlaps" in overlap.json()["detail"]
        # Re-deriving the entries (a late tap for the same day) keeps the correction.
        await tech.post(
            f"/api/jobs/{b}/clock-off",
            json={"reason": "other", "device_time": iso(start + timedelta(hours=5))},
            headers=key(),
        )
        kept = await ClockEntry.select().where(ClockEntry.id == entry["id"]).first()
        assert kept is not None and kept["corrected_ended_at"] is not None
        assert (await tech.post(f"/api/clock-entries/{entry['id']}/confirm")).status_code == 409  # checked
        assert (
            await advisor.post(f"/api/clock-entries/{entry['id']}/correct", json={"reason": "x"})
        ).status_code == 403


async def test_findings_become_recommended_work_the_customer_sees(app: Any, clean: None) -> None:
    advisor, tech, ro, (a, _) = await setup_jobs(app)
    other, _ = await signed_in(app, "technician")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(other):
        assert (await other.post(f"/api/jobs/{a}/findings", json={"text": "Pads 2 mm"})).status_code == 403
        assert (await tech.post(f"/api/jobs/{a}/findings", json={"text": ""})).status_code == 422
        r = await tech.post(
            f"/api/jobs/{a}/findings",
            json={"text": "Front brake pads 2 mm", "phrase": "brake_pads"},
            headers=key(),
        )
        assert r.status_code == 201, r.text
        finding = r.json()
        assert (await tech.get("/api/me/jobs")).json()["jobs"][0]["findings"][0]["id"] == finding["id"]
        listed = (await advisor.get(f"/api/repair-orders/{ro['id']}")).json()["findings"]
        assert [(f["id"], f["text"], f["recommended_job_id"]) for f in listed] == [
            (finding["id"], "Front brake pads 2 mm", None)
        ]
        no_price = await advisor.post(
            f"/api/findings/{finding['id']}/recommend",
            json={"title": "Front brake pads", "estimated_hours": 1},
        )
        assert no_price.status_code == 422 and "price" in no_price.json()["detail"]
        job = await advisor.post(
            f"/api/findings/{finding['id']}/recommend",
            json={"title": "Front brake pads", "estimated_hours": 1, "price": 680},
        )
        assert job.status_code == 201 and job.json()["state"] == "recommended"
        twice = await advisor.post(
            f"/api/findings/{finding['id']}/recommend",
            json={"title": "Front brake pads", "estimated_hours": 1, "price": 680},
        )
        assert twice.status_code == 409
        status = (await advisor.get(ro["status_url"].replace("/s/", "/api/status/"))).json()
        offered = [j for j in status["jobs"] if j["id"] == job.json()["id"]]
        assert offered and offered[0]["approval"] == "pending" and offered[0]["price"] == 680
        # The technician cannot clock on it before the customer approves.
        await advisor.post(f"/api/jobs/{job.json()['id']}/assign", json={"technician_id": 0})
        assert (await tech.post(f"/api/jobs/{job.json()['id']}/clock-on")).status_code in (403, 409)


async def test_qc_queue_and_default_checklist(app: Any, clean: None) -> None:
    advisor, tech, _, (a, _) = await setup_jobs(app)
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech):
        template = (await advisor.get("/api/qc-templates/default")).json()
        names = [i["name_en"] for i in template["items"]]
        assert len(names) == 12 and "Replaced parts kept for the customer" in names
        assert template["items"][0]["name_zh"] == "作业符合标准"
        assert (await advisor.get("/api/qc/queue")).json()["jobs"] == []
        await tech.post(f"/api/jobs/{a}/clock-on")
        await tech.post(f"/api/jobs/{a}/clock-off", json={"reason": "finished"})
        queue = (await advisor.get("/api/qc/queue")).json()["jobs"]
        assert [j["id"] for j in queue] == [a] and queue[0]["technician"]["name"]
        assert (await tech.get("/api/qc/queue")).status_code == 403


TAPS = st.lists(
    st.tuples(
        st.sampled_from(["on", "off"]),
        st.integers(0, 2),  # which job
        st.integers(1, 600),  # minutes before now
        st.sampled_from(["break", "waiting_parts", "other"]),
    ),
    min_size=2,
    max_size=8,
)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(taps=TAPS, seed=st.integers(0, 10_000))
async def test_server_entries_do_not_depend_on_arrival_order(app: Any, taps: list[Any], seed: int) -> None:
    """The same tablet taps sent in two different orders give the same entries (through the real
    server's windowed re-derivation), equal to the pure fold of those taps."""
    from tests.conftest import wipe

    now = datetime.now(UTC)
    results = []
    for order in range(2):
        await wipe()
        advisor, tech, _, jobs = await setup_jobs(app, 3)
        async with contextlib.aclosing(advisor), contextlib.aclosing(tech):
            sends = list(enumerate(taps))
            random.Random(seed + order).shuffle(sends)
            for n, (kind, job, minutes, reason) in sends:
                body: dict[str, Any] = {"device_time": iso(now - timedelta(minutes=minutes, seconds=n))}
                if kind == "on":
                    body["switch"] = True
                else:
                    body["reason"] = reason
                r = await tech.post(
                    f"/api/jobs/{jobs[job]}/clock-{kind}", json=body, headers={"Idempotency-Key": f"k{n}"}
                )
                assert r.status_code == 200, r.text
            rows = await ClockEntry.select().order_by(ClockEntry.started_at)
            result = [(jobs.index(r["job"]), r["started_at"], r["ended_at"], r["reason"]) for r in rows]
            events = await ClockEvent.select()
            book = clockbook.fold(
                clockbook.ClockEvent(e["key"], e["kind"], e["at"], e["job"], e["reason"]) for e in events
            )
            clockbook.check_invariants(book)
            assert result == [(jobs.index(i.job), i.start, i.end, i.reason) for i in book.intervals]
            results.append(result)
    assert results[0] == results[1]


async def test_a_job_started_before_start_my_day_opens_the_day(app: Any, clean: None) -> None:
    """Issue 11 item 5: job clocks ran without "Start my day" and utilisation came out as 912 %.
    The first start of a day opens it at the same moment, recorded as opened by the job start."""
    advisor, tech, _, (a, b) = await setup_jobs(app)
    foreman, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(foreman):
        now = datetime.now(UTC)
        t0 = now - timedelta(hours=2)

        on = await tech.post(f"/api/jobs/{a}/clock-on", json=tapped(t0), headers=key())
        assert on.status_code == 200, on.text
        day = (await tech.get("/api/me/jobs")).json()["attendance"]
        assert day is not None and day["clock_out_at"] is None
        assert datetime.fromisoformat(day["clock_in_at"]) == t0 and day["opened_by"] == "job_start"
        opened = await Event.select().where(Event.type == "attendance.in")
        assert len(opened) == 1 and json.loads(opened[0]["data"])["attendance"]["opened_by"] == "job_start"
        await tech.post(
            f"/api/jobs/{a}/clock-off",
            json=tapped(t0 + timedelta(minutes=50), reason="waiting_parts"),
            headers=key(),
        )
        await tech.post(
            f"/api/jobs/{b}/clock-on", json=tapped(t0 + timedelta(minutes=60), switch=True), headers=key()
        )
        # The technician remembers "Start my day" late (another tablet): the day keeps its start.
        late_start = await tech.post(
            "/api/attendance/clock-in", json=tapped(now - timedelta(minutes=10)), headers=key()
        )
        assert late_start.status_code == 201, late_start.text
        assert datetime.fromisoformat(late_start.json()["attendance"]["clock_in_at"]) == t0
        out = await tech.post("/api/attendance/clock-out", headers=key())
        assert out.status_code == 200, out.text

        zone = ZoneInfo(await shop.timezone())
        days = sorted({t0.astimezone(zone).date(), datetime.now(UTC).astimezone(zone).date()})
        rows = []
        for day_ in days:
            report = (await foreman.get(f"/api/attendance/day?day={day_.isoformat()}")).json()
            rows.extend(t for t in report["technicians"] if t["clocked_minutes"] or t["attended_minutes"])
        assert rows and all(r["utilisation"] is not None and r["utilisation"] <= 1 for r in rows), rows
        assert 119 <= sum(r["attended_minutes"] for r in rows) <= 121
        assert 109 <= sum(r["clocked_minutes"] for r in rows) <= 111


async def test_an_earlier_start_moves_back_a_day_a_job_start_opened(app: Any, clean: None) -> None:
    """A start that waited offline on a second tablet is earlier than the start that opened the day:
    the day opened by a job start begins with the earliest one (not flagged); a day the person
    started keeps its start, and such a tap is flagged for the foreman instead."""
    advisor, tech, _, (a, b) = await setup_jobs(app)
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech):
        now = datetime.now(UTC)

        await Job.update({Job.created_at: now - timedelta(hours=2)}).where(Job.id.is_in([a, b]))
        first = await tech.post(
            f"/api/jobs/{b}/clock-on", json=tapped(now - timedelta(minutes=30)), headers=key()
        )
        assert first.status_code == 200, first.text
        late = await tech.post(
            f"/api/jobs/{a}/clock-on", json=tapped(now - timedelta(minutes=50), switch=True), headers=key()
        )
        assert late.status_code == 200, late.text
        day = (await tech.get("/api/me/jobs")).json()["attendance"]
        assert datetime.fromisoformat(day["clock_in_at"]) == now - timedelta(minutes=50)
        assert day["opened_by"] == "job_start"
        assert all(e["review_reasons"] == [] for e in late.json()["entries"])

        # The person's own "Start my day" stands; a start before it is taken and flagged.
        await tech.post("/api/attendance/clock-out", json=tapped(now - timedelta(minutes=20)), headers=key())
        await tech.post("/api/attendance/clock-in", json=tapped(now - timedelta(minutes=10)), headers=key())
        before = await tech.post(
            f"/api/jobs/{b}/clock-on", json=tapped(now - timedelta(minutes=15), switch=True), headers=key()
        )
        assert before.status_code == 200 and before.json()["entry"]["review_reasons"] == ["before_day"]
        day = (await tech.get("/api/me/jobs")).json()["attendance"]
        assert datetime.fromisoformat(day["clock_in_at"]) == now - timedelta(minutes=10)
        assert day["opened_by"] == "person"


async def test_utilisation_counts_job_time_inside_the_working_day_only(app: Any, clean: None) -> None:
    """Issue 11 item 5: a job start tapped before the day the person opened is taken and flagged, but
    the time before the day is not attended time: it must not push utilisation past 100 %."""
    advisor, tech, _, (a, _b) = await setup_jobs(app)
    foreman, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(foreman):
        now = datetime.now(UTC)
        await Job.update({Job.created_at: now - timedelta(hours=3)}).where(Job.id == a)
        day = await tech.post(
            "/api/attendance/clock-in", json=tapped(now - timedelta(minutes=60)), headers=key()
        )
        assert day.status_code == 201, day.text
        # The start waited on another tablet: two hours ago, an hour before the day began.
        on = await tech.post(
            f"/api/jobs/{a}/clock-on", json=tapped(now - timedelta(minutes=120)), headers=key()
        )
        assert on.status_code == 200 and on.json()["entry"]["review_reasons"] == ["before_day"], on.text
        off = await tech.post(
            f"/api/jobs/{a}/clock-off",
            json=tapped(now - timedelta(minutes=20), reason="break"),
            headers=key(),
        )
        assert off.status_code == 200, off.text
        out = await tech.post("/api/attendance/clock-out", json=tapped(now), headers=key())
        assert out.status_code == 200, out.text

        # The two hours may straddle midnight in the shop's zone: every day they touch is read.
        zone = ZoneInfo(await shop.timezone())
        days = sorted({(now - timedelta(minutes=120)).astimezone(zone).date(), now.astimezone(zone).date()})
        rows = []
        for day_ in days:
            report = (await foreman.get(f"/api/attendance/day?day={day_.isoformat()}")).json()
            rows.extend(t for t in report["technicians"] if t["clocked_minutes"] or t["attended_minutes"])
        assert rows and all(r["utilisation"] is not None and r["utilisation"] <= 1 for r in rows), rows
        assert 59 <= sum(r["attended_minutes"] for r in rows) <= 61, rows
        # Of the job's 100 minutes, the 40 inside the day count.
        assert 39 <= sum(r["clocked_minutes"] for r in rows) <= 41, rows
