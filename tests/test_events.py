"""The event catalogue (api/events.py): every type with an example, what customers may see of each,
and that no code builds an event anywhere else."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api import events
from api.events import NewEvent
from api.realtime import projection
from api.workshop import Stage

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
JOB = {
    "id": 11,
    "title": "Front brake pads",
    "state": "in_progress",
    "approval": None,
    "needs_approval": False,
    "estimated_hours": 1.5,
    "price": 1280.0,
    "technician": {"id": 5, "name": "Liu Yang"},
    "rework_count": 0,
}
ENTRY = {"id": 3, "job_id": 11, "technician_id": 5, "started_at": AT.isoformat(), "ended_at": None}
DAY = {"id": 2, "staff_id": 5, "clock_in_at": AT.isoformat(), "clock_out_at": None, "opened_by": "person"}
PHOTO = {"id": 8, "kind": "walkaround", "panel": "front", "job_id": None, "url": "/api/photos/8"}
PART = {
    "id": 6,
    "job_id": 11,
    "name": "Brake pads",
    "quantity": 1,
    "unit_price_fen": 25600,
    "state": "needed",
}
FINDING = {"id": 4, "job_id": 11, "repair_order_id": 1, "text": "Worn wiper", "recommended_job_id": None}

# One example of every type, with the ids each must name.
EXAMPLES: dict[str, tuple[NewEvent, list[int], list[int]]] = {
    "ro.created": (events.ro_created(1, "R-1", "沪A12345", Stage.CHECKED_IN, [11, 12], 2), [11, 12], [2]),
    "stage.changed": (events.stage_changed(1, Stage.IN_PROGRESS, Stage.QUALITY_CHECK, [11]), [11], []),
    "ro.updated": (
        events.ro_updated(
            1,
            ["customer.phone", "mileage"],
            {
                "customer": {"name": "Zhang Wei", "phone": "13800000001", "language": "zh-CN"},
                "vehicle": {
                    "plate": "沪A12345",
                    "vin": None,
                    "make": "VW",
                    "model": "Lavida",
                    "year": 2019,
                    "color": "",
                },
                "mileage": 42000,
                "fuel_level": 4,
                "concerns": ["Noise at the front"],
            },
            2,
        ),
        [],
        [2],
    ),
    "promise.changed": (events.promise_changed(1, AT + timedelta(hours=2), AT, "Parts late", 2), [], [2]),
    "job.added": (events.job_added(1, JOB), [11], [5]),
    "job.updated": (events.job_updated(1, JOB), [11], [5]),
    "job.assigned": (events.job_assigned(1, JOB, previous=4), [11], [4, 5]),
    "qc.recorded": (events.qc_recorded(1, {**JOB, "state": "rework"}, False, ["Brakes"], 7), [11], [5, 7]),
    "approval.requested": (events.approval_requested(1, 12, "Wiper blades", 95.0), [12], []),
    "approval.decided": (events.approval_decided(1, 12, "approved", "Wiper blades"), [12], []),
    "finding.added": (events.finding_added(1, FINDING, 5), [11], [5]),
    "finding.priced": (events.finding_priced(1, 4, 12, 30000, 25600, 2), [12], [2]),
    "part.added": (events.part_added(1, PART, 5, 2), [11], [2, 5]),
    "part.updated": (events.part_updated(1, {**PART, "state": "arrived"}, "ordered", 5, 2), [11], [2, 5]),
    "part.awaited": (events.part_awaited(1, PART, 5), [11], [5]),
    "clock.on": (events.clock_tapped("clock.on", 1, 5, 11, [ENTRY], ENTRY, [JOB]), [11], [5]),
    "clock.off": (events.clock_tapped("clock.off", 1, 5, None, [ENTRY], None, [JOB]), [11], [5]),
    "clock.reviewed": (events.clock_reviewed(1, ENTRY, 7), [11], [5, 7]),
    "clock.confirmed": (events.clock_confirmed(1, ENTRY), [11], [5]),
    "clock.corrected": (
        events.clock_corrected(1, ENTRY, {"started_at": "a"}, {"started_at": "b"}, "Forgot to stop", 7),
        [11],
        [5, 7],
    ),
    "attendance.in": (events.attendance_in(DAY), [], [5]),
    "attendance.out": (events.attendance_out({**DAY, "clock_out_at": AT.isoformat()}), [], [5]),
    "photo.added": (events.photo_added(1, {**PHOTO, "thumb_url": "/api/photos/8/thumb"}, 2), [], [2]),
    "walkaround.updated": (events.walkaround_updated(1, 3, 2), [], [2]),
    "walkaround.signed": (events.walkaround_signed(1, "Zhang Wei", 2), [], [2]),
    "settlement.updated": (events.settlement_updated(1, 5000, "pending", 120000, 2), [], [2]),
    "discount.approved": (events.discount_approved(1, 5000, 3), [], [3]),
    "ro.handed_over": (events.ro_handed_over(1, 115000, "wechat", "Zhang Wei", 2), [], [2]),
    "survey.submitted": (events.survey_submitted(1, 9, "Quick"), [], []),
    "follow_up.created": (events.follow_up_created(1, 4, AT, AT + timedelta(days=3)), [], []),
    "follow_up.called": (
        events.follow_up_called(
            1, 4, reached=True, state="done", tries=0, call_back_at=None, complaint_suggested=True, by=6
        ),
        [],
        [6],
    ),
    "shop.set_up": (events.shop_set_up("Demo Motors", 1), [], [1]),
    "shop.updated": (
        events.shop_updated(
            {
                "name": "Demo Motors",
                "timezone": "Asia/Shanghai",
                "language": "zh-CN",
                "hours": {"opens": "09:00", "closes": "17:00", "days": [1, 2, 3, 4, 5, 6]},
            },
            1,
        ),
        [],
        [1],
    ),
    "staff.added": (events.staff_added(5, "technician"), [], [5]),
    "staff.unlocked": (events.staff_unlocked(5, 1), [], [1, 5]),
    "staff.locked_out": (events.staff_locked_out(5, True), [], [5]),
    "staff.signed_in": (events.staff_signed_in(5, 40), [], [5]),
    "staff.signed_out": (events.staff_signed_out(5, 41), [], [5]),
    "staff.deactivated": (events.staff_deactivated(5, 1), [], [1, 5]),
    "staff.activated": (events.staff_activated(5, 1), [], [1, 5]),
    "staff.pin_reset": (events.staff_pin_reset(5, True, 1), [], [1, 5]),
    "staff.pin_chosen": (events.staff_pin_chosen(5), [], [5]),
}
# What the status page may show (CONTRACT.md "Live events"), each type's fields for a customer.
CUSTOMER = {
    "stage.changed": {"from", "to", "job_ids"},
    "promise.changed": {"promised_at", "previous_at", "reason"},
    "job.added": {"job", "job_ids"},
    "job.updated": {"job", "job_ids"},
    "approval.requested": {"job_id", "title", "price", "total_fen", "job_ids"},
    "approval.decided": {"job_id", "decision", "job_ids"},
    "photo.added": {"id", "kind", "job_ids"},
    "survey.submitted": {"score"},
}


def test_every_type_has_an_example_with_its_fixed_payload_and_uniform_ids() -> None:
    assert set(EXAMPLES) == set(events.CATALOGUE)
    for name, (event, job_ids, staff_ids) in EXAMPLES.items():
        assert event.type == name
        assert tuple(event.data) == events.CATALOGUE[name].fields, name
        assert (event.data["job_ids"], event.data["staff_ids"]) == (job_ids, staff_ids), name
        assert json.loads(json.dumps(event.data, default=str)), name  # what commands.execute stores


def test_an_event_says_what_changed() -> None:
    # The job with its new state and technician; the order with its stage; the tapped entry.
    assert EXAMPLES["job.updated"][0].data["job"]["technician"] == {"id": 5, "name": "Liu Yang"}
    assert EXAMPLES["qc.recorded"][0].data["job"]["state"] == "rework"
    assert EXAMPLES["ro.created"][0].data["stage"] == "checked_in"
    assert EXAMPLES["clock.on"][0].data["entry"] == ENTRY
    assert EXAMPLES["clock.on"][0].data["jobs"] == [JOB]


def test_a_payload_that_is_not_the_catalogues_is_refused() -> None:
    with pytest.raises(AssertionError):
        events._event(events.STAGE_CHANGED, 1, {"from": "ready"}, [], [])
    with pytest.raises(AssertionError):
        events.clock_tapped("clock.paused", 1, 5, 11, [], None, [])


def _row(event: NewEvent) -> dict[str, object]:
    data = json.dumps(event.data, default=str)
    return {"seq": 1, "type": event.type, "at": AT, "repair_order": event.ro, "data": data}


def test_customers_see_only_their_types_and_fields() -> None:
    assert {n for n, t in events.CATALOGUE.items() if t.customer is not None} == set(CUSTOMER)
    for name, (event, _, _) in EXAMPLES.items():
        staff = projection.message(_row(event), customer=False)
        assert staff is not None and staff["data"] == json.loads(json.dumps(event.data, default=str))
        shown = projection.message(_row(event), customer=True)
        if name not in CUSTOMER:
            assert shown is None, name
            continue
        assert shown is not None and set(shown["data"]) == CUSTOMER[name], name
        assert "staff_ids" not in shown["data"]
    job = projection.message(_row(EXAMPLES["job.updated"][0]), customer=True)
    assert job is not None and set(job["data"]["job"]) == set(events.CUSTOMER_JOB_FIELDS)  # no technician
    qc_photo = events.photo_added(1, {**PHOTO, "kind": "qc", "thumb_url": ""}, 2)
    assert projection.message(_row(qc_photo), customer=True) is None  # QC evidence stays internal


def built_outside(root: Path) -> list[str]:
    """`file:line` of every NewEvent(...) built in api/ or photos/ outside the catalogue."""
    found = []
    for path in sorted([*root.glob("api/**/*.py"), *root.glob("photos/**/*.py")]):
        if path == root / "api" / "events.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                called = node.func
                name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", None)
                if name == "NewEvent":
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_event_is_built_outside_the_catalogue() -> None:
    assert built_outside(ROOT) == []
