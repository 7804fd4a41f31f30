"""Assign, clock on/off and QC through HTTP, per CONTRACT.md "Jobs"."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from api.tables import ClockEntry, Event, Job
from tests.factories import ro_body, signed_in

QC_ITEMS = [{"name": "Road test", "result": "pass"}, {"name": "Fluid levels", "result": "pass"}]


async def test_a_job_from_assignment_through_rework_to_ready(app: Any, clean: None) -> None:
    advisor, _ = await signed_in(app, "advisor")
    tech, tech_person = await signed_in(app, "technician")
    other_tech, _ = await signed_in(app, "technician")
    foreman, _ = await signed_in(app, "foreman")
    async with (
        contextlib.aclosing(advisor),
        contextlib.aclosing(tech),
        contextlib.aclosing(other_tech),
        contextlib.aclosing(foreman),
    ):
        ro = (
            await advisor.post(
                "/api/repair-orders", json=ro_body(jobs=[{"title": "Brakes", "estimated_hours": 1}])
            )
        ).json()
        job_id = ro["jobs"][0]["id"]
        r = await advisor.post(f"/api/jobs/{job_id}/assign", json={"technician_id": tech_person["id"]})
        assert r.status_code == 200 and r.json()["state"] == "assigned"

        assert (await other_tech.post(f"/api/jobs/{job_id}/clock-on")).status_code == 403
        assert (
            await tech.post(f"/api/jobs/{job_id}/clock-off", json={"reason": "finished"})
        ).status_code == 409
        device = (datetime.now(UTC) - timedelta(hours=3)).isoformat()  # a tablet whose clock is way off
        on = await tech.post(f"/api/jobs/{job_id}/clock-on", json={"device_time": device})
        assert on.status_code == 200, on.text
        assert on.json()["job"]["state"] == "in_progress" and on.json()["entry"]["clock_skew_flag"] is True
        again = await tech.post(f"/api/jobs/{job_id}/clock-on")
        assert again.status_code == 409 and "already running" in again.json()["detail"]
        assert await ClockEntry.count().where(ClockEntry.ended_at.is_null()) == 1

        off = await tech.post(f"/api/jobs/{job_id}/clock-off", json={"reason": "finished"})
        assert off.status_code == 200 and off.json()["job"]["state"] == "finished"
        mine = await foreman.post(f"/api/jobs/{job_id}/qc", json={"items": QC_ITEMS})
        assert mine.status_code == 200  # the foreman did not clock time on it
        assert mine.json()["passed"] is True

        # A second job: QC fails → rework, counted; the technician cannot sign its QC.
        r = await advisor.post(
            f"/api/repair-orders/{ro['id']}/jobs", json={"title": "Wipers", "estimated_hours": 0.2}
        )
        second = r.json()["id"]
        await advisor.post(f"/api/jobs/{second}/assign", json={"technician_id": tech_person["id"]})
        await tech.post(f"/api/jobs/{second}/clock-on")
        await tech.post(f"/api/jobs/{second}/clock-off", json={"reason": "finished"})
        own = await tech.post(f"/api/jobs/{second}/qc", json={"items": QC_ITEMS})
        assert own.status_code == 403
        failed = await foreman.post(
            f"/api/jobs/{second}/qc",
            json={"items": [{"name": "Streak-free", "result": "fail", "note": "streaks"}]},
        )
        assert failed.status_code == 200 and failed.json()["passed"] is False
        assert failed.json()["job"]["state"] == "rework" and failed.json()["job"]["rework_count"] == 1
        assert (await advisor.post(f"/api/repair-orders/{ro['id']}/ready")).status_code == 409
        await tech.post(f"/api/jobs/{second}/clock-on")
        await tech.post(f"/api/jobs/{second}/clock-off", json={"reason": "finished"})
        assert (await foreman.post(f"/api/jobs/{second}/qc", json={"items": QC_ITEMS})).json()[
            "passed"
        ] is True
        ready = await advisor.post(f"/api/repair-orders/{ro['id']}/ready")
        assert ready.status_code == 200 and ready.json()["stage"] == "ready"
        assert await Event.count().where(Event.type == "qc.recorded") == 3


async def test_clock_rules_one_open_clock_and_approval_first(app: Any, clean: None) -> None:
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech):
        body = ro_body(
            jobs=[{"title": "Service", "estimated_hours": 1}, {"title": "Tyres", "estimated_hours": 0.5}]
        )
        ro = (await advisor.post("/api/repair-orders", json=body)).json()
        first, second = (j["id"] for j in ro["jobs"])
        for job_id in (first, second):
            await advisor.post(f"/api/jobs/{job_id}/assign", json={"technician_id": person["id"]})
        assert (await tech.post(f"/api/jobs/{first}/clock-on")).status_code == 200
        other = await tech.post(f"/api/jobs/{second}/clock-on")
        assert other.status_code == 409 and "Service" in other.json()["detail"]
        paused = await tech.post(f"/api/jobs/{first}/clock-off", json={"reason": "waiting_parts"})
        assert paused.json()["job"]["state"] == "paused"
        bad = await tech.post(f"/api/jobs/{second}/clock-off", json={"reason": "lunch"})
        assert bad.status_code in (409, 422)
        assert (await tech.post(f"/api/jobs/{second}/clock-on")).status_code == 200

        rec = await advisor.post(
            f"/api/repair-orders/{ro['id']}/jobs",
            json={"title": "Cabin filter", "estimated_hours": 0.2, "price": 120, "needs_approval": True},
        )
        rec_id = rec.json()["id"]
        assign = await advisor.post(f"/api/jobs/{rec_id}/assign", json={"technician_id": person["id"]})
        assert assign.status_code == 409 and "approval" in assign.json()["detail"]
        job = await Job.select(Job.state).where(Job.id == rec_id).first()
        assert job == {"state": "recommended"}
        nobody = await advisor.post(f"/api/jobs/{first}/assign", json={"technician_id": 999999})
        assert nobody.status_code == 422
