"""The repair-order detail (issue 13 item 1): what one order's read shows, its timeline, and the
office's corrections (PATCH) with their refusals; the board card's flags in the board read."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.tables import ClockEntry, Customer, Event, PartLine, RepairOrder, Settlement, Vehicle
from tests.api.test_photos_api import signature_png
from tests.factories import ro_body, signed_in, vin


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def ok(r: httpx.Response) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


@dataclass
class Shop:
    advisor: httpx.AsyncClient
    foreman: httpx.AsyncClient
    tech: httpx.AsyncClient
    care: httpx.AsyncClient
    tech_id: int
    order: dict[str, Any]


@pytest.fixture
async def shop(app: Any, clean: None) -> AsyncIterator[Shop]:
    advisor, _ = await signed_in(app, "advisor")
    foreman, _ = await signed_in(app, "foreman")
    tech, person = await signed_in(app, "technician")
    care, _ = await signed_in(app, "customer_care")
    async with (
        contextlib.aclosing(advisor),
        contextlib.aclosing(foreman),
        contextlib.aclosing(tech),
        contextlib.aclosing(care),
    ):
        order = ok(await advisor.post("/api/repair-orders", json=ro_body(), headers=key()))
        yield Shop(advisor, foreman, tech, care, person["id"], order)


async def _work(s: Shop) -> tuple[int, int, int]:
    """Job 1 clocked, finished and checked; a finding on job 2, priced; returns (job1, job2, finding)."""
    first, second = (j["id"] for j in s.order["jobs"])
    for job in (first, second):
        ok(await s.advisor.post(f"/api/jobs/{job}/assign", json={"technician_id": s.tech_id}, headers=key()))
    ok(await s.tech.post(f"/api/jobs/{first}/clock-on", headers=key()))
    ok(await s.tech.post(f"/api/jobs/{first}/clock-off", json={"reason": "finished"}, headers=key()))
    items = [{"name": "Brakes", "result": "pass"}, {"name": "Lights", "result": "pass", "note": "ok"}]
    ok(await s.foreman.post(f"/api/jobs/{first}/qc", json={"items": items}, headers=key()))
    finding = ok(
        await s.tech.post(f"/api/jobs/{second}/findings", json={"text": "Pads at 2 mm"}, headers=key())
    )
    return first, second, finding["id"]


async def test_the_order_shows_clock_time_parts_qc_findings_settlement_and_walkaround(shop: Shop) -> None:
    ro_id = shop.order["id"]
    first, second, finding_id = await _work(shop)
    # The clock entry said 0 minutes: a correction to 50 minutes wins (corrected times win).
    row = await ClockEntry.select().where(ClockEntry.job == first).first()
    assert row is not None
    await ClockEntry.update(
        {
            ClockEntry.corrected_started_at: row["started_at"],
            ClockEntry.corrected_ended_at: row["started_at"] + timedelta(minutes=50),
        }
    ).where(ClockEntry.id == row["id"])
    # Parts lines and the settlement are written by other use cases: put rows in place directly.
    at = datetime.now(UTC)
    expected = at + timedelta(days=1)
    await PartLine(
        job=second,
        repair_order=ro_id,
        name="Brake pads",
        part_number="1K0698151",
        quantity=2,
        unit_price_fen=18050,
        state="ordered",
        expected_at=expected,
        created_at=at,
        updated_at=at,
    ).save()
    await Settlement(
        repair_order=ro_id,
        discount_fen=5000,
        discount_reason="Loyal",
        discount_state="pending",
        updated_at=at,
    ).save()
    marks = [{"id": "m1", "view": "left", "x": 0.3, "y": 0.5, "type": "dent"}]
    ok(await shop.advisor.put(f"/api/repair-orders/{ro_id}/walkaround", json={"marks": marks}, headers=key()))

    body = ok(await shop.advisor.get(f"/api/repair-orders/{ro_id}"))
    jobs = {j["id"]: j for j in body["jobs"]}
    assert jobs[first]["clocked_minutes"] == 50
    assert jobs[first]["price_fen"] == 48000 and jobs[second]["price_fen"] is None
    assert jobs[first]["customer_text"] == "" and jobs[first]["finding_id"] is None
    (qc,) = jobs[first]["qc"]
    assert (
        qc["passed"] is True
        and qc["signer_name"]
        and [i["name"] for i in qc["items"]] == ["Brakes", "Lights"]
    )
    (part,) = jobs[second]["parts"]
    assert part["name"] == "Brake pads" and part["line_fen"] == 36100 and part["state"] == "ordered"
    assert datetime.fromisoformat(part["expected_at"]) == expected
    assert part["old_part_returned"] is None and jobs[first]["parts"] == []
    (finding,) = body["findings"]
    assert finding["id"] == finding_id and finding["priced"] is False
    assert body["settlement"]["discount_state"] == "pending" and body["settlement"]["discount_fen"] == 5000
    assert body["settlement"]["handed_over_at"] is None and body["settlement"]["mileage_out"] is None
    assert body["walkaround"] == {"marks": 1, "signed_at": None, "signed_by": None}
    assert body["status_url"] == shop.order["status_url"]
    assert body["attention"] == {
        "findings_to_price": [finding_id],
        "waiting_parts": True,
        "parts_expected_at": body["jobs"][1]["parts"][0]["expected_at"],
        "discount_pending": True,
    }
    # The board shows the same order and flags, less the findings' list.
    board = ok(await shop.advisor.get("/api/repair-orders"))["items"]
    (listed,) = board
    assert {**listed, "findings": body["findings"]} == body

    # Priced: the recommended job names its finding, the finding says it is priced.
    pads = {"title": "Pads", "estimated_hours": 1, "price": 420}
    ok(await shop.advisor.post(f"/api/findings/{finding_id}/recommend", json=pads, headers=key()))
    body = ok(await shop.advisor.get(f"/api/repair-orders/{ro_id}"))
    assert body["findings"][0]["priced"] is True
    recommended = [j for j in body["jobs"] if j["finding_id"] == finding_id]
    assert [j["title"] for j in recommended] == ["Pads"] and body["attention"]["findings_to_price"] == []


async def test_a_job_paused_for_parts_flags_the_card(shop: Shop) -> None:
    first = shop.order["jobs"][0]["id"]
    ok(
        await shop.advisor.post(
            f"/api/jobs/{first}/assign", json={"technician_id": shop.tech_id}, headers=key()
        )
    )
    ok(await shop.tech.post(f"/api/jobs/{first}/clock-on", headers=key()))
    ok(await shop.tech.post(f"/api/jobs/{first}/clock-off", json={"reason": "waiting_parts"}, headers=key()))
    (listed,) = ok(await shop.advisor.get("/api/repair-orders"))["items"]
    assert listed["jobs"][0]["state"] == "paused" and listed["jobs"][0]["pause_reason"] == "waiting_parts"
    assert listed["attention"]["waiting_parts"] is True and listed["attention"]["parts_expected_at"] is None
    ok(await shop.tech.post(f"/api/jobs/{first}/clock-on", headers=key()))
    (listed,) = ok(await shop.advisor.get("/api/repair-orders"))["items"]
    assert listed["jobs"][0]["pause_reason"] is None and listed["attention"]["waiting_parts"] is False


async def test_the_timeline_lists_the_orders_events_with_who_and_customer_care_reads_it(shop: Shop) -> None:
    ro_id = shop.order["id"]
    moved = {"promised_at": (datetime.now(UTC) + timedelta(hours=30)).isoformat(), "reason": "Parts late"}
    ok(await shop.advisor.post(f"/api/repair-orders/{ro_id}/promise", json=moved, headers=key()))
    other = ok(await shop.advisor.post("/api/repair-orders", json=ro_body(), headers=key()))
    timeline = ok(await shop.care.get(f"/api/repair-orders/{ro_id}/timeline"))["events"]
    assert [e["type"] for e in timeline] == ["ro.created", "promise.changed"]
    created, promise = timeline
    assert (
        created["actor"]["name"]
        and created["by"] == "staff"
        and created["data"]["number"] == shop.order["number"]
    )
    assert promise["data"]["reason"] == "Parts late" and promise["seq"] > created["seq"]
    assert datetime.fromisoformat(promise["at"]) >= datetime.fromisoformat(created["at"])
    assert (
        ok(await shop.care.get(f"/api/repair-orders/{other['id']}/timeline"))["events"][0]["data"]["number"]
        == other["number"]
    )
    missing = await shop.advisor.get("/api/repair-orders/999999/timeline")
    assert missing.status_code == 404 and missing.json()["code"] == "ro.not_found"
    # Customer care reads; technicians do not.
    assert (await shop.tech.get(f"/api/repair-orders/{ro_id}/timeline")).status_code == 403


async def test_an_edit_changes_what_was_sent_and_says_so(shop: Shop) -> None:
    ro_id = shop.order["id"]
    new_vin = vin("LFV2A21K0A3B4C5D")
    change = {
        "customer": {"phone": "139 0000 1111", "language": "en"},
        "vehicle": {"vin": new_vin.lower(), "color": "silver", "year": 2021},
        "concerns": ["Noise at the front"],
        "mileage": 45300,
        "fuel_level": 6,
    }
    body = ok(await shop.advisor.patch(f"/api/repair-orders/{ro_id}", json=change, headers=key()))
    assert body["customer"] == {"name": "张伟", "phone": "139 0000 1111", "language": "en"}
    assert body["vehicle"]["vin"] == new_vin and body["vehicle"]["color"] == "silver"
    assert body["vehicle"]["plate"] == shop.order["vehicle"]["plate"] and body["vehicle"]["year"] == 2021
    assert (body["mileage"], body["fuel_level"], body["concerns"]) == (45300, 6, ["Noise at the front"])
    assert body == ok(await shop.advisor.get(f"/api/repair-orders/{ro_id}"))
    (event,) = await Event.select(Event.data, Event.actor).where(Event.type == "ro.updated")
    data = json.loads(event["data"])
    assert data["changed"] == [
        "mileage",
        "fuel_level",
        "concerns",
        "customer.phone",
        "customer.language",
        "vehicle.vin",
        "vehicle.year",
        "vehicle.color",
    ]
    assert data["customer"]["phone"] == "139 0000 1111" and data["mileage"] == 45300
    # The same values again: no change, no event.
    ok(await shop.advisor.patch(f"/api/repair-orders/{ro_id}", json=change, headers=key()))
    assert await Event.count().where(Event.type == "ro.updated") == 1
    # An empty VIN clears it.
    cleared = ok(
        await shop.advisor.patch(f"/api/repair-orders/{ro_id}", json={"vehicle": {"vin": ""}}, headers=key())
    )
    assert cleared["vehicle"]["vin"] is None
    timeline = ok(await shop.advisor.get(f"/api/repair-orders/{ro_id}/timeline"))["events"]
    assert [e["type"] for e in timeline][-2:] == ["ro.updated", "ro.updated"]


async def _snapshot(ro_id: int) -> tuple[Any, ...]:
    ro = await RepairOrder.select().where(RepairOrder.id == ro_id).first()
    assert ro is not None
    customer = await Customer.select().where(Customer.id == ro["customer"]).first()
    vehicle = await Vehicle.select().where(Vehicle.id == ro["vehicle"]).first()
    return ro, customer, vehicle, await Event.count()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"customer": {"phone": "call me"}}, "phone.invalid"),
        ({"vehicle": {"vin": "LSVAB2C3D4E5F6G7X"}}, "vin.check_digit"),
        ({"vehicle": {"plate": "沪B99999"}}, "field.unknown"),
        ({"mileage": -1}, "field.at_least"),
        ({"fuel_level": 9}, "field.at_most"),
        ({"concerns": [""]}, "field.too_short"),
        ({"customer": {"name": ""}}, "field.too_short"),
    ],
)
async def test_bad_input_is_refused_with_a_code_and_changes_nothing(
    shop: Shop, change: dict[str, Any], code: str
) -> None:
    ro_id = shop.order["id"]
    before = await _snapshot(ro_id)
    r = await shop.advisor.patch(f"/api/repair-orders/{ro_id}", json=change, headers=key())
    assert r.status_code in (400, 422), r.text
    assert r.json()["code"] == code, r.text
    assert await _snapshot(ro_id) == before


async def test_mileage_and_fuel_close_with_the_signature_and_everything_with_delivery(shop: Shop) -> None:
    ro_id = shop.order["id"]
    files = {"file": ("sig.png", signature_png(), "image/png")}
    ok(
        await shop.advisor.post(
            f"/api/repair-orders/{ro_id}/walkaround/signature", files=files, data={"signed_by": "张伟"}
        )
    )
    before = await _snapshot(ro_id)
    r = await shop.advisor.patch(
        f"/api/repair-orders/{ro_id}", json={"mileage": 1, "concerns": ["x"]}, headers=key()
    )
    assert r.status_code == 409 and r.json()["code"] == "ro.check_in_signed", r.text
    assert await _snapshot(ro_id) == before
    # The same mileage again is no change: the rest of the form still saves.
    same = {"mileage": shop.order["mileage"], "fuel_level": shop.order["fuel_level"], "concerns": ["x"]}
    assert ok(await shop.advisor.patch(f"/api/repair-orders/{ro_id}", json=same, headers=key()))[
        "concerns"
    ] == ["x"]
    signed = ok(await shop.advisor.get(f"/api/repair-orders/{ro_id}"))["walkaround"]
    assert signed["signed_by"] == "张伟" and signed["signed_at"] is not None

    # Delivered: nothing changes any more, and the order still reads (with its timeline).
    await RepairOrder.update({RepairOrder.delivered_at: datetime.now(UTC)}).where(RepairOrder.id == ro_id)
    before = await _snapshot(ro_id)
    r = await shop.advisor.patch(
        f"/api/repair-orders/{ro_id}", json={"customer": {"name": "李雷"}}, headers=key()
    )
    assert r.status_code == 409 and r.json()["code"] == "ro.delivered", r.text
    assert await _snapshot(ro_id) == before
    delivered = ok(await shop.care.get(f"/api/repair-orders/{ro_id}"))
    assert delivered["stage"] == "delivered" and delivered["customer"]["phone"] == "13800138000"
    assert ok(await shop.care.get(f"/api/repair-orders/{ro_id}/timeline"))["events"]


async def test_only_the_office_edits(shop: Shop) -> None:
    ro_id = shop.order["id"]
    for c in (shop.tech, shop.care):
        r = await c.patch(f"/api/repair-orders/{ro_id}", json={"mileage": 5}, headers=key())
        assert r.status_code == 403, r.text
    missing = await shop.advisor.patch("/api/repair-orders/999999", json={"mileage": 5}, headers=key())
    assert missing.status_code == 404 and missing.json()["code"] == "ro.not_found"
    # A replay of the same edit answers the first reply, once.
    k = key()
    first = ok(await shop.foreman.patch(f"/api/repair-orders/{ro_id}", json={"mileage": 46000}, headers=k))
    again = await shop.foreman.patch(f"/api/repair-orders/{ro_id}", json={"mileage": 46000}, headers=k)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first and await Event.count().where(Event.type == "ro.updated") == 1
