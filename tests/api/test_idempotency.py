"""Idempotency-Key: replays (sequential and concurrent) have one effect and identical replies."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from api.tables import Event, IdempotencyRecord, Job, PromiseChange, RepairOrder, Staff
from tests.factories import in_hours, ro_body, signed_in


async def _setup_ro(c: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    r = await c.post("/api/repair-orders", json=ro_body(**overrides))
    assert r.status_code == 201
    return r.json()


async def _prepare_ready(c: httpx.AsyncClient) -> str:
    ro = await _setup_ro(c)
    await Job.update({Job.state: "qc_passed"}).where(Job.repair_order == ro["id"])
    return f"/api/repair-orders/{ro['id']}/ready"


async def _prepare_deliver(c: httpx.AsyncClient) -> str:
    url = await _prepare_ready(c)
    assert (await c.post(url)).status_code == 200
    return url.replace("/ready", "/deliver")


# (name, prepare → (url, body), effect counter). Each mutating route of the contract built so far.
MUTATIONS: list[
    tuple[str, Callable[[httpx.AsyncClient], Awaitable[tuple[str, Any]]], Callable[[], Awaitable[int]]]
] = [
    ("create", lambda c: _const("/api/repair-orders", ro_body()), lambda: RepairOrder.count()),
    (
        "add_job",
        lambda c: _with_ro(c, "jobs", {"title": "Wipers", "estimated_hours": 0.2, "needs_approval": True}),
        lambda: Job.count().where(Job.title == "Wipers"),
    ),
    (
        "promise",
        lambda c: _with_ro(c, "promise", {"promised_at": in_hours(9), "reason": "Parts arrive tomorrow"}),
        lambda: PromiseChange.count(),
    ),
    ("ready", lambda c: _url(_prepare_ready(c)), lambda: Event.count().where(Event.type == "stage.changed")),
    (
        "deliver",
        lambda c: _url(_prepare_deliver(c)),
        lambda: RepairOrder.count().where(RepairOrder.delivered_at.is_not_null()),
    ),
]


async def _const(url: str, body: Any) -> tuple[str, Any]:
    return url, body


async def _url(url: Awaitable[str]) -> tuple[str, Any]:
    return await url, None


async def _with_ro(c: httpx.AsyncClient, tail: str, body: Any) -> tuple[str, Any]:
    ro = await _setup_ro(c)
    return f"/api/repair-orders/{ro['id']}/{tail}", body


async def test_each_mutation_replayed_3x_sequentially_and_5x_concurrently(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        for name, prepare, effects in MUTATIONS:
            for mode in ("sequential", "concurrent"):
                url, body = await prepare(c)
                before = await effects()
                headers = {"Idempotency-Key": f"{name}-{mode}-{uuid.uuid4()}"}
                if mode == "sequential":
                    replies = [await c.post(url, json=body, headers=headers) for _ in range(3)]
                else:
                    replies = list(
                        await asyncio.gather(*(c.post(url, json=body, headers=headers) for _ in range(5)))
                    )
                codes = {r.status_code for r in replies}
                assert len(codes) == 1 and codes.pop() in (200, 201), (name, mode, [r.text for r in replies])
                assert len({r.content for r in replies}) == 1, (name, mode, "replies differ")
                assert await effects() == before + 1, (name, mode)
                assert (
                    sum(r.headers.get("idempotent-replayed") == "true" for r in replies) == len(replies) - 1
                )


async def test_same_key_other_body_is_422_and_changes_nothing(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        headers = {"Idempotency-Key": "write-up-1"}
        assert (await c.post("/api/repair-orders", json=ro_body(), headers=headers)).status_code == 201
        r = await c.post("/api/repair-orders", json=ro_body(mileage=99), headers=headers)
        assert r.status_code == 422 and "different request" in r.json()["detail"]
        assert await RepairOrder.count() == 1


async def test_keys_belong_to_their_person(app: Any, clean: None) -> None:
    a, _ = await signed_in(app, "advisor")
    b, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(a), contextlib.aclosing(b):
        headers = {"Idempotency-Key": "same-key-on-two-tablets"}
        assert (await a.post("/api/repair-orders", json=ro_body(), headers=headers)).status_code == 201
        r = await b.post("/api/repair-orders", json=ro_body(mileage=7), headers=headers)
        assert r.status_code == 201 and r.json()["mileage"] == 7
        assert await RepairOrder.count() == 2


async def test_failed_command_stores_no_key_so_a_fixed_retry_works(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        ro = await _setup_ro(c)
        url = f"/api/repair-orders/{ro['id']}/ready"
        headers = {"Idempotency-Key": "ready-once"}
        assert (await c.post(url, headers=headers)).status_code == 409
        assert await IdempotencyRecord.count() == 0  # a refusal is not remembered
        await Job.update({Job.state: "qc_passed"}).where(Job.repair_order == ro["id"])
        assert (await c.post(url, headers=headers)).status_code == 200


async def test_bad_keys_are_400(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        for key in ("x" * 256, "tab\there", "ключ".encode()):
            r = await c.post("/api/repair-orders", json=ro_body(), headers={"Idempotency-Key": key})
            assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"], key
        assert await RepairOrder.count() == 0
        assert await Staff.count() == 1
