"""The customer's status link: JSON, approvals, survey, and what must never show."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from typing import Any

import httpx

from api.tables import Event, Job, RepairOrder, Survey
from tests.factories import in_hours, ro_body
from tests.realtime.conftest import staff_cookie

PERSONAL = {"phone": "13812345678", "vin_prefix": "LSVAB2C3", "surname_staff": "Zhang-Surname"}


async def _setup(live: str) -> tuple[httpx.AsyncClient, dict[str, Any], str]:
    client, _ = await staff_cookie(live)
    body = ro_body(customer={"name": "王小明", "phone": PERSONAL["phone"]})
    r = await client.post("/api/repair-orders", json=body)
    assert r.status_code == 201
    ro = r.json()
    return client, ro, ro["status_url"].removeprefix("/s/")


async def _recommend(client: httpx.AsyncClient, ro: dict[str, Any], title: str = "Wiper blades") -> int:
    r = await client.post(
        f"/api/repair-orders/{ro['id']}/jobs",
        json={"title": title, "estimated_hours": 0.2, "price": 95, "needs_approval": True},
    )
    assert r.status_code == 201
    return int(r.json()["id"])


async def test_status_json_shows_only_what_the_page_may(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as customer:
        r = await customer.get(f"/api/status/{token}")
        assert r.status_code == 200
        body = r.json()
        assert body["stage"] == "checked_in" and body["vehicle"]["plate_masked"] != ro["vehicle"]["plate"]
        assert {"vehicle", "stage", "promised_at", "promise_history", "jobs", "photos", "seq"} <= set(body)
        text = r.text
        assert PERSONAL["phone"] not in text and ro["vehicle"]["vin"] not in text
        assert ro["vehicle"]["plate"] not in text and "王小明" not in text
        assert r.headers["cache-control"] == "no-store"
        unknown = await customer.get(f"/api/status/{secrets.token_urlsafe(32)}")
        short = await customer.get("/api/status/abc")
        assert unknown.status_code == short.status_code == 404
        assert unknown.json()["detail"] == short.json()["detail"]


async def test_one_million_random_tokens_hit_nothing(live: str, clean: None) -> None:
    """Guessing: 10^6 random 256-bit tokens checked against the stored hashes (as the lookup does)."""
    from api.auth import token_hash

    client, _, token = await _setup(live)
    await client.aclose()
    stored = {r["status_token_hash"] for r in await RepairOrder.select(RepairOrder.status_token_hash)}
    assert token_hash(token) in stored and token not in stored
    hits = sum(token_hash(secrets.token_urlsafe(32)) in stored for _ in range(1_000_000))
    assert hits == 0


async def test_approve_once_even_when_tapped_ten_times(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        job_id = await _recommend(client, ro)
        headers = {"Idempotency-Key": "tap-approve"}
        replies = await asyncio.gather(
            *(
                phone.post(
                    f"/api/status/{token}/approvals",
                    json={"job_id": job_id, "decision": "approve"},
                    headers=headers,
                )
                for _ in range(10)
            )
        )
        assert {r.status_code for r in replies} == {200} and len({r.content for r in replies}) == 1
        assert await Event.count().where(Event.type == "approval.decided") == 1
        job = await Job.select().where(Job.id == job_id).first()
        assert job is not None and job["approval"] == "approved" and job["state"] == "pending"
        # A second decision (another key, another phone) is stale: 409, nothing changes.
        r = await phone.post(f"/api/status/{token}/approvals", json={"job_id": job_id, "decision": "decline"})
        assert r.status_code == 409 and "already approved" in r.json()["detail"]
        # A job that needs no decision, and a job of another car.
        plain = ro["jobs"][0]["id"]
        r = await phone.post(f"/api/status/{token}/approvals", json={"job_id": plain, "decision": "approve"})
        assert r.status_code == 409 and "does not need" in r.json()["detail"]
        second, other, _ = await _setup(live)
        await second.aclose()
        other_job = await _recommend(client, other)
        r = await phone.post(
            f"/api/status/{token}/approvals", json={"job_id": other_job, "decision": "approve"}
        )
        assert r.status_code == 404
        r = await phone.post(f"/api/status/{token}/approvals", json={"job_id": job_id, "decision": "maybe"})
        assert r.status_code == 422
        assert await Event.count().where(Event.type == "approval.decided") == 1


async def test_survey_only_after_delivery_and_once(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        url = f"/api/status/{token}/survey"
        r = await phone.post(url, json={"score": 9})
        assert r.status_code == 409 and "handed back" in r.json()["detail"]
        await Job.update({Job.state: "qc_passed"}).where(Job.repair_order == ro["id"])
        assert (await client.post(f"/api/repair-orders/{ro['id']}/ready")).status_code == 200
        assert (await client.post(f"/api/repair-orders/{ro['id']}/deliver")).status_code == 200
        assert (await phone.post(url, json={"score": 11})).status_code == 422
        r = await phone.post(url, json={"score": 9, "comment": "准时交车，很满意"})
        assert r.status_code == 201
        assert (await phone.post(url, json={"score": 3})).status_code == 409
        assert await Survey.count() == 1
        assert (await phone.get(f"/api/status/{token}")).json()["stage"] == "delivered"


async def test_promise_change_reaches_the_status_json(live: str, clean: None) -> None:
    client, ro, token = await _setup(live)
    async with contextlib.aclosing(client), httpx.AsyncClient(base_url=f"http://{live}") as phone:
        r = await client.post(
            f"/api/repair-orders/{ro['id']}/promise",
            json={"promised_at": in_hours(7), "reason": "等待配件 Waiting for parts"},
        )
        assert r.status_code == 200
        body = (await phone.get(f"/api/status/{token}")).json()
        assert body["promise_history"][0]["reason"] == "等待配件 Waiting for parts"
        assert re.match(r"\d{4}-\d\d-\d\dT", body["promised_at"])
