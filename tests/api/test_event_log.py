"""What the service records follows the event catalogue (api/events.py): every stored event is a
catalogue type with exactly its fields, whichever producer wrote it."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from api import demo, events
from api.tables import Event
from tests.api.test_demo import demo_person


async def test_every_recorded_event_has_its_catalogue_payload(app: Any, clean: None) -> None:
    await demo.create()  # working days, orders, assignment, clocks, QC, ready, recommended work
    sun, _ = await demo_person(app, "sun.hao")
    async with contextlib.aclosing(sun):
        mine = (await sun.get("/api/me/jobs")).json()
        paused = next(j for j in mine["jobs"] if j["state"] == "paused")
        r = await sun.post(f"/api/jobs/{paused['id']}/clock-on", json={"switch": True})  # a switch
        assert r.status_code == 200, r.text
        assert (await sun.post("/api/attendance/clock-out")).status_code == 200
        assert (await sun.post("/api/auth/logout")).status_code == 204
    rows = await Event.select().order_by(Event.seq)
    seen = set()
    for row in rows:
        kind = events.CATALOGUE.get(row["type"])
        assert kind is not None, f"{row['type']} is not in the catalogue"
        data = json.loads(row["data"])
        assert tuple(data) == kind.fields, row["type"]
        assert all(isinstance(i, int) for i in data["job_ids"] + data["staff_ids"]), row
        seen.add(row["type"])
    assert {"clock.on", "clock.off", "job.updated", "stage.changed", "qc.recorded", "job.assigned"} <= seen
    assert {"attendance.in", "attendance.out", "ro.created", "approval.requested", "staff.signed_in"} <= seen
    # A switch stops a clock on another car: each car's tap event names its own tapped entry only.
    # (Before the catalogue the first car's event carried the other car's entry.)
    switched = [json.loads(r["data"]) for r in rows if r["type"] == "clock.on"][-2:]
    assert [d["entry"] and d["entry"]["job_id"] for d in switched] == [None, paused["id"]]
    assert [len(d["entries"]) for d in switched] == [1, 1]
    for data in switched:
        assert {j["id"] for j in data["jobs"]} | {e["job_id"] for e in data["entries"]} <= set(
            data["job_ids"]
        )
