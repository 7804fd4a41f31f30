"""Pricing a finding (issue 13 item 5): one step makes the recommended job with its labour (hours ×
the shop's rate unless given), its parts lines and the customer's words; the customer's status JSON
shows the card (photos, words, price). Bad input is a specific 4xx and changes nothing.
SQLite and PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from api.tables import Event, Finding, Job, PartLine, Shop
from tests.factories import client, ro_body, signed_in


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def ok(r: httpx.Response) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


@dataclass
class World:
    advisor: httpx.AsyncClient
    tech: httpx.AsyncClient
    customer: httpx.AsyncClient
    order: dict[str, Any]
    finding: dict[str, Any]
    photo_id: int
    token: str


@pytest.fixture
async def world(app: Any, clean: None) -> AsyncIterator[World]:
    """A shop at ¥180 an hour, an order of an English-speaking customer, a finding with a photo."""
    at = datetime.now(UTC)
    await Shop(
        name="Bay", timezone="Asia/Shanghai", language="zh-CN", created_at=at, labour_rate_fen=18000
    ).save()
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), client(app) as customer:
        body = ro_body(customer={"name": "Ann Lee", "phone": "13900139000", "language": "en"})
        order = ok(await advisor.post("/api/repair-orders", json=body))
        job = order["jobs"][0]["id"]
        ok(await advisor.post(f"/api/jobs/{job}/assign", json={"technician_id": person["id"]}))
        finding = ok(
            await tech.post(
                f"/api/jobs/{job}/findings", json={"text": "刹车片磨损 2 mm", "phrase": "brake_pads_worn"}
            )
        )
        photo = ok(
            await tech.post(
                f"/api/repair-orders/{order['id']}/photos",
                files={"file": ("f.jpg", jpeg(), "image/jpeg")},
                data={"kind": "finding", "panel": f"finding:{finding['id']}", "job_id": str(job)},
            )
        )
        token = order["status_url"].removeprefix("/s/")
        yield World(advisor, tech, customer, order, finding, photo["id"], token)


async def counts() -> dict[str, int]:
    return {
        "jobs": await Job.count(),
        "parts": await PartLine.count(),
        "events": await Event.count(),
        "priced": await Finding.count().where(Finding.recommended_job.is_not_null()),
    }


PADS = {"name": "Front brake pads", "part_number": "1K0698151", "quantity": 1, "unit_price_fen": 38000}
BOLTS = {"name": "Caliper bolt", "quantity": 2, "unit_price_fen": 1250}


async def test_pricing_defaults_from_the_shop_rate_and_the_customers_language(world: World) -> None:
    w = world
    body = {"labour_hours": 1.5, "parts": [PADS, BOLTS]}
    job = ok(await w.advisor.post(f"/api/findings/{w.finding['id']}/recommend", json=body, headers=key()))
    # 1.5 h × ¥180 = ¥270 of labour; parts 380 + 2 × 12.50; the customer reads English.
    assert job["labour_fen"] == 27000 and job["price"] == 270.0
    assert [p["line_fen"] for p in job["parts"]] == [38000, 2500]
    assert job["parts_fen"] == 40500 and job["total_fen"] == 67500
    assert job["customer_text"] == "Brake pads worn"
    assert job["state"] == "recommended" and job["approval"] == "pending"
    assert job["estimated_hours"] == 1.5 and job["title"] == "刹车片磨损 2 mm"
    assert {p["state"] for p in job["parts"]} == {"needed"}
    row = await Finding.select(Finding.recommended_job).where(Finding.id == w.finding["id"]).first()
    assert row == {"recommended_job": job["id"]}
    found = (
        await Event.select(Event.type, Event.data)
        .where(Event.repair_order == w.order["id"])
        .order_by(Event.seq)
    )
    types = [e["type"] for e in found]
    assert "approval.requested" in types and "finding.priced" in types
    asked = next(e for e in found if e["type"] == "approval.requested")
    assert '"total_fen": 67500' in asked["data"] and "Brake pads worn" in asked["data"]


async def test_the_status_json_shows_the_approval_card(world: World) -> None:
    w = world
    body = {
        "labour_hours": 1,
        "labour_fen": 15000,
        "customer_text": "Replace the front pads",
        "parts": [PADS],
    }
    job = ok(await w.advisor.post(f"/api/findings/{w.finding['id']}/recommend", json=body, headers=key()))
    view = ok(await w.customer.get(f"/api/status/{w.token}"))
    (shown,) = [j for j in view["jobs"] if j["id"] == job["id"]]
    assert shown["customer_text"] == "Replace the front pads"
    assert shown["labour_fen"] == 15000 and shown["total_fen"] == 53000 and shown["price"] == 150.0
    assert shown["parts"] == [
        {"name": "Front brake pads", "quantity": 1, "unit_price_fen": 38000, "line_fen": 38000}
    ]
    # The finding's photos name the card they belong to.
    (photo,) = [p for p in view["photos"] if p["job_id"] == job["id"]]
    assert photo["id"] == w.photo_id and photo["thumb_url"] == f"/s/{w.token}/photos/{w.photo_id}/thumb"
    page = await w.customer.get(f"/s/{w.token}?lang=en")
    assert page.status_code == 200
    html = page.text
    for text in (
        "Replace the front pads",
        "Front brake pads",
        "¥530.00",
        "¥150.00",
        f"/photos/{w.photo_id}/thumb",
    ):
        assert text in html, text
    # The customer approves: the job is work now, the card goes.
    ok(
        await w.customer.post(
            f"/api/status/{w.token}/approvals", json={"job_id": job["id"], "decision": "approve"}
        )
    )
    view = ok(await w.customer.get(f"/api/status/{w.token}"))
    (shown,) = [j for j in view["jobs"] if j["id"] == job["id"]]
    assert shown["approval"] == "approved" and shown["state"] == "pending"


async def test_the_first_body_still_works(world: World) -> None:
    w = world
    pads = {"title": "Pads", "estimated_hours": 1, "price": 420}
    job = ok(await w.advisor.post(f"/api/findings/{w.finding['id']}/recommend", json=pads))
    assert (
        job["title"] == "Pads" and job["price"] == 420.0 and job["labour_fen"] == 42000 and job["parts"] == []
    )
    assert job["customer_text"] == ""  # the customer reads the title the advisor wrote


async def test_a_first_body_without_a_price_is_refused(world: World) -> None:
    pads = {"title": "Pads", "estimated_hours": 1}
    r = await world.advisor.post(f"/api/findings/{world.finding['id']}/recommend", json=pads)
    assert r.status_code == 422 and r.json()["code"] == "finding.price_required", r.text


async def test_pricing_twice_is_a_conflict_and_changes_nothing(world: World) -> None:
    w = world
    url = f"/api/findings/{w.finding['id']}/recommend"
    first = ok(await w.advisor.post(url, json={"labour_hours": 1}, headers=key()))
    before = await counts()
    r = await w.advisor.post(url, json={"labour_hours": 2, "parts": [PADS]}, headers=key())
    assert r.status_code == 409 and r.json()["code"] == "finding.already_priced", r.text
    assert r.json()["params"] == {"job_id": first["id"]}
    assert await counts() == before


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"labour_hours": 1, "parts": [{**PADS, "quantity": 0}]}, "part.quantity", "parts.0.quantity"),
        (
            {"labour_hours": 1, "parts": [{**PADS, "unit_price_fen": -1}]},
            "price.negative",
            "parts.0.unit_price_fen",
        ),
        ({"labour_hours": 1, "labour_fen": -100}, "price.negative", "labour_fen"),
        ({"labour_hours": -1}, "field.at_least", "labour_hours"),
        ({"parts": [PADS]}, "finding.hours_required", "labour_hours"),
        ({"labour_hours": 1, "parts": [{**PADS, "name": " "}]}, "field.too_short", "parts.0.name"),
    ],
)
async def test_bad_prices_are_refused_with_codes_and_change_nothing(
    world: World, body: dict[str, Any], code: str, field: str
) -> None:
    w = world
    before = await counts()
    r = await w.advisor.post(f"/api/findings/{w.finding['id']}/recommend", json=body, headers=key())
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code and r.json()["errors"][0]["field"] == field, r.text
    assert await counts() == before


async def test_a_technician_cannot_price(world: World) -> None:
    r = await world.tech.post(f"/api/findings/{world.finding['id']}/recommend", json={"labour_hours": 1})
    assert r.status_code == 403
