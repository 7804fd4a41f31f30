"""Issue 11 item 14: a clock tap back-dated by 47 hours was taken without a flag. Taps older than the
job, older than the person's open working day, or more than a few hours old are taken (offline work
is real) and flagged for the foreman, who confirms or corrects them from a list."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api import clock, clockbook
from api.tables import ClockCorrection, Event, Job
from tests.factories import ro_body, signed_in, tapped

_keys = itertools.count()


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"review-{next(_keys)}-{random.random()}"}


async def job_for(app: Any, advisor: httpx.AsyncClient, tech_id: int, n: int = 1) -> list[int]:
    jobs = [{"title": f"Job {i}", "estimated_hours": 1} for i in range(n)]
    ro = (await advisor.post("/api/repair-orders", json=ro_body(jobs=jobs))).json()
    ids = [j["id"] for j in ro["jobs"]]
    for job_id in ids:
        r = await advisor.post(f"/api/jobs/{job_id}/assign", json={"technician_id": tech_id})
        assert r.status_code == 200, r.text
    return ids


async def review_list(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get("/api/clock-entries/review")
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


async def test_old_taps_are_taken_and_flagged_for_the_foreman(app: Any, clean: None) -> None:
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    foreman, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(foreman):
        old_job, new_job = await job_for(app, advisor, person["id"], 2)
        now = datetime.now(UTC)
        # One of them was written up three hours ago (the other one just now).
        await Job.update({Job.created_at: now - timedelta(hours=3)}).where(Job.id == new_job)
        day = await tech.post(
            "/api/attendance/clock-in", json=tapped(now - timedelta(hours=1)), headers=key()
        )
        assert day.status_code == 201, day.text

        # Taps from 47 hours ago (a tablet offline since): taken, and flagged with every reason.
        on = await tech.post(
            f"/api/jobs/{old_job}/clock-on", json=tapped(now - timedelta(hours=47)), headers=key()
        )
        assert on.status_code == 200, on.text
        off = await tech.post(
            f"/api/jobs/{old_job}/clock-off",
            json=tapped(now - timedelta(hours=46), reason="waiting_parts"),
            headers=key(),
        )
        assert off.status_code == 200, off.text
        entry = off.json()["entry"]
        assert entry["ended_at"] is not None and entry["reviewed_at"] is None
        assert entry["review_reasons"] == ["late_tap", "before_job", "before_day"], entry
        assert {"late_tap", "before_job", "before_day"} <= set(entry["flags"])

        # A start from before the day began (a second tablet), on a job that existed then.
        early = await tech.post(
            f"/api/jobs/{new_job}/clock-on", json=tapped(now - timedelta(minutes=70)), headers=key()
        )
        assert early.status_code == 200, early.text
        assert early.json()["entry"]["review_reasons"] == ["before_day"]
        # A stop on time adds nothing.
        stop = await tech.post(
            f"/api/jobs/{new_job}/clock-off", json=tapped(now, reason="break"), headers=key()
        )
        assert stop.status_code == 200 and stop.json()["entry"]["review_reasons"] == ["before_day"]
        early_id = early.json()["entry"]["id"]

        # The foreman's list, oldest first: both entries, with why and whose.
        listed = await review_list(foreman)
        assert [(e["id"], e["review_reasons"]) for e in listed] == [
            (entry["id"], ["late_tap", "before_job", "before_day"]),
            (early_id, ["before_day"]),
        ]
        assert listed[1]["technician_name"] == person["name"] and listed[1]["job_title"] == "Job 1"
        assert (await tech.get("/api/clock-entries/review")).status_code == 403
        assert (await advisor.get("/api/clock-entries/review")).status_code == 403

        # The technician's own confirmation does not clear the foreman's review.
        own = await tech.post(f"/api/clock-entries/{entry['id']}/confirm", headers=key())
        assert own.status_code == 200, own.text
        assert len(await review_list(foreman)) == 2

        # The foreman confirms one as it is: it leaves the list, once, with an audit row and an event.
        assert (await tech.post(f"/api/clock-entries/{entry['id']}/review")).status_code == 403
        ok = await foreman.post(f"/api/clock-entries/{entry['id']}/review", headers=key())
        assert ok.status_code == 200, ok.text
        assert ok.json()["reviewed_at"] is not None and ok.json()["review_reasons"] == entry["review_reasons"]
        again = await foreman.post(f"/api/clock-entries/{entry['id']}/review")
        assert again.status_code == 409 and again.json()["code"] == "clock.reviewed"
        assert [e["id"] for e in await review_list(foreman)] == [early_id]
        # ...and corrects the other: that too is the review.
        fixed = await foreman.post(
            f"/api/clock-entries/{early_id}/correct",
            json={"started_at": (now - timedelta(hours=1)).isoformat(), "reason": "Started after the day"},
            headers=key(),
        )
        assert fixed.status_code == 200, fixed.text
        assert await review_list(foreman) == []
        audit = await ClockCorrection.select(ClockCorrection.kind).order_by(ClockCorrection.id)
        assert [a["kind"] for a in audit] == ["confirm", "review", "correct"]
        reviewed = await Event.select().where(Event.type == "clock.reviewed")
        assert len(reviewed) == 1 and json.loads(reviewed[0]["data"])["entry"]["id"] == entry["id"]


async def test_a_new_reason_on_a_reviewed_entry_brings_it_back(
    app: Any, clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    foreman, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(foreman):
        (job,) = await job_for(app, advisor, person["id"])
        now = datetime.now(UTC)
        # A start five hours ago that reached the server at once: only "before the job" is odd.
        started = now - timedelta(hours=5)
        with monkeypatch.context() as m:
            m.setattr(clock, "now", lambda: started + timedelta(seconds=30))
            on = await tech.post(
                f"/api/jobs/{job}/clock-on",
                json={
                    "device_time": started.isoformat(),
                    "device_sent_at": (started + timedelta(seconds=30)).isoformat(),
                },
                headers=key(),
            )
        assert on.status_code == 200 and on.json()["entry"]["review_reasons"] == ["before_job"], on.text
        entry_id = on.json()["entry"]["id"]
        assert (await foreman.post(f"/api/clock-entries/{entry_id}/review", headers=key())).status_code == 200
        assert await review_list(foreman) == []
        # Its stop arrives now, more than REVIEW_AGE after it was tapped: a new reason, back in the list.
        stopped = started + timedelta(minutes=20)
        assert now - stopped > clockbook.REVIEW_AGE
        off = await tech.post(
            f"/api/jobs/{job}/clock-off", json=tapped(stopped, reason="break"), headers=key()
        )
        assert off.status_code == 200, off.text
        assert [(e["id"], e["review_reasons"]) for e in await review_list(foreman)] == [
            (entry_id, ["late_tap", "before_job"])
        ]


async def test_the_review_list_leaves_out_the_reviewers_own_entries(app: Any, clean: None) -> None:
    """A foreman works jobs too: their own flagged taps are someone else's to review (reviewing them
    is refused with clock.own_review), so their list does not offer them."""
    advisor, _ = await signed_in(app, "advisor")
    foreman, me = await signed_in(app, "foreman")
    other, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(advisor), contextlib.aclosing(foreman), contextlib.aclosing(other):
        (job,) = await job_for(app, advisor, me["id"])
        on = await foreman.post(
            f"/api/jobs/{job}/clock-on", json=tapped(datetime.now(UTC) - timedelta(hours=5)), headers=key()
        )
        assert on.status_code == 200 and on.json()["entry"]["review_reasons"], on.text
        entry_id = on.json()["entry"]["id"]
        refused = await foreman.post(f"/api/clock-entries/{entry_id}/review", headers=key())
        assert refused.status_code == 403 and refused.json()["code"] == "clock.own_review"
        assert await review_list(foreman) == []
        assert [e["id"] for e in await review_list(other)] == [entry_id]


async def test_the_review_marker_follows_the_flags_and_the_reviews(app: Any, clean: None) -> None:
    """ClockEntry.review_queued (what the list reads, from its partial index) is the entry's start
    exactly while a review reason is among its flags and nobody reviewed it: after taps, a review
    and a foreman's correction; and migration 0014's backfill gives the same."""
    from piccolo.engine import engine_finder

    from api import clockstore
    from api.piccolo_migrations.bayline_0014_review_marker import backfill_sql
    from api.tables import ClockEntry

    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    other, someone = await signed_in(app, "technician")
    foreman, _ = await signed_in(app, "foreman")
    clients = (advisor, tech, other, foreman)
    async with contextlib.AsyncExitStack() as stack:
        for c in clients:
            await stack.enter_async_context(contextlib.aclosing(c))
        now = datetime.now(UTC)
        for client, who in ((tech, person), (other, someone)):
            jobs = await job_for(app, advisor, who["id"], n=3)
            for n, job in enumerate(jobs):
                at = now - timedelta(hours=9 - 3 * n)  # late taps (flagged), then a tap made now
                on = tapped(at) if n < 2 else {}
                r = await client.post(f"/api/jobs/{job}/clock-on", json=on, headers=key())
                assert r.status_code == 200, r.text
                off = tapped(at + timedelta(hours=1), reason="break") if n < 2 else {"reason": "break"}
                r = await client.post(f"/api/jobs/{job}/clock-off", json=off, headers=key())
                assert r.status_code == 200, r.text

        async def marked() -> list[tuple[int, datetime | None]]:
            rows = await ClockEntry.select().order_by(ClockEntry.id)
            for row in rows:
                assert row["review_queued"] == clockstore.queued(row), row
            return [(r["id"], r["review_queued"]) for r in rows]

        shown = await review_list(foreman)
        listed = [e["id"] for e in shown]
        waiting = [i for i, q in await marked() if q is not None]
        assert len(listed) == 4 and sorted(listed) == sorted(waiting)
        first, second, third = listed[:3]
        assert (await foreman.post(f"/api/clock-entries/{first}/review", headers=key())).status_code == 200
        early = datetime.fromisoformat(shown[1]["started_at"]) + timedelta(minutes=30)
        correction = {"ended_at": early.isoformat(), "reason": "Left early"}
        r = await foreman.post(f"/api/clock-entries/{second}/correct", json=correction, headers=key())
        assert r.status_code == 200, r.text
        before = await marked()
        assert [e["id"] for e in await review_list(foreman)] == [
            i for i in listed if i not in (first, second)
        ]
        assert third in [e["id"] for e in await review_list(foreman)]

        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl("UPDATE clock_entry SET review_queued = NULL")
        await engine.run_ddl(backfill_sql())
        assert await marked() == before
