"""Idempotency-Key: replays (sequential and concurrent) have one effect and identical replies."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from api import commands
from api.commands import Outcome, execute
from api.events import NewEvent
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


async def test_a_replay_answers_the_stored_success_even_when_the_action_is_refused_now(
    app: Any, clean: None
) -> None:
    """The key is looked up when the handler refuses: the outbox resending "ready" after the car was
    delivered gets the first 200 again, not "only a ... can be marked ready"."""
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        url = await _prepare_ready(c)
        headers = {"Idempotency-Key": "ready-then-delivered"}
        first = await c.post(url, headers=headers)
        assert first.status_code == 200, first.text
        assert (await c.post(url.replace("/ready", "/deliver"))).status_code == 200
        again = await c.post(url, headers=headers)
        assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
        assert again.content == first.content
        assert (await c.post(url, headers={"Idempotency-Key": "a-new-key"})).status_code == 409


async def test_a_replay_whose_action_would_succeed_again_is_undone(app: Any, clean: None) -> None:
    """A replayed write-up runs once more and finds its key taken at the end: everything it wrote is
    rolled back (no order, no event, no number handed out), and the first reply is answered."""
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        headers = {"Idempotency-Key": "write-up-once"}
        body = ro_body()
        first = await c.post("/api/repair-orders", json=body, headers=headers)
        assert first.status_code == 201, first.text
        for _ in range(2):
            again = await c.post("/api/repair-orders", json=body, headers=headers)
            assert again.status_code == 201 and again.content == first.content
        assert await RepairOrder.count() == 1
        assert await Event.count().where(Event.type == "ro.created") == 1
        day, seq = first.json()["number"].split("-")
        fresh = await c.post("/api/repair-orders", json=ro_body())
        assert fresh.json()["number"] == f"{day}-{int(seq) + 1:03d}"


async def test_same_key_other_body_is_422_even_when_that_body_is_refused(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        headers = {"Idempotency-Key": "ready-key"}
        assert (await c.post(await _prepare_ready(c), headers=headers)).status_code == 200
        not_ready = await _setup_ro(c)
        r = await c.post(f"/api/repair-orders/{not_ready['id']}/ready", headers=headers)
        assert r.status_code == 422 and "different request" in r.json()["detail"]


async def test_a_repeat_sent_while_the_first_is_in_flight_waits_for_it_and_replays(clean: None) -> None:
    """A repeat never runs beside the first: it waits for it and answers its stored reply, the same
    bytes (RELIABILITY check 14: identical replies)."""
    started, finish = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    def handler(name: str) -> Callable[[], Awaitable[Outcome]]:
        async def run() -> Outcome:
            runs.append(name)
            started.set()
            await finish.wait()
            return Outcome(201, {"made_by": name}, [NewEvent("test.made", None, {"by": name})])

        return run

    first = asyncio.create_task(execute(handler("first"), actor="staff:1", key="k", request_hash="h"))
    await asyncio.wait_for(started.wait(), 5)
    repeat = asyncio.create_task(execute(handler("repeat"), actor="staff:1", key="k", request_hash="h"))
    done, _ = await asyncio.wait({repeat}, timeout=0.05)
    assert not done and runs == ["first"]  # waiting, not refused
    finish.set()
    one, two = await asyncio.wait_for(asyncio.gather(first, repeat), 5)
    assert (one.status_code, one.body, one.replayed) == (201, {"made_by": "first"}, False)
    assert (two.status_code, two.body, two.replayed) == (201, {"made_by": "first"}, True)
    assert await Event.select(Event.data).where(Event.type == "test.made") == [{"data": '{"by": "first"}'}]
    assert await IdempotencyRecord.count() == 1


async def test_a_repeat_still_waiting_after_the_wait_is_told_409_and_replays_later(
    clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RELIABILITY.md: "a request still in flight → 409". A first send stuck past the wait leaves the
    repeat a 409 with code request.in_flight (the outbox keeps it and sends it again), and the repeat
    sent after the first ended replays its reply."""
    monkeypatch.setattr(commands, "IN_FLIGHT_WAIT", 0.05)
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow() -> Outcome:
        started.set()
        await finish.wait()
        return Outcome(201, {"made": 1}, [NewEvent("test.made", None, {})])

    async def never() -> Outcome:
        raise AssertionError("a repeat must not run beside the first")

    first = asyncio.create_task(execute(slow, actor="staff:1", key="k", request_hash="h"))
    await asyncio.wait_for(started.wait(), 5)
    with pytest.raises(commands.IdempotencyInFlight):
        await asyncio.wait_for(execute(never, actor="staff:1", key="k", request_hash="h"), 5)
    finish.set()
    assert (await asyncio.wait_for(first, 5)).replayed is False
    later = await asyncio.wait_for(execute(never, actor="staff:1", key="k", request_hash="h"), 5)
    assert (later.status_code, later.body, later.replayed) == (201, {"made": 1}, True)
    assert await Event.count().where(Event.type == "test.made") == 1


async def test_the_in_flight_refusal_is_a_409_the_outbox_sends_again(app: Any, clean: None) -> None:
    """The HTTP shape of that refusal: 409, code request.in_flight, Retry-After."""
    c, person = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        key = "stuck-key"
        scoped = commands._scoped(f"staff:{person['id']}", key)
        commands._in_flight[scoped] = asyncio.Event()  # a first send of this key still running
        try:
            with pytest.MonkeyPatch.context() as m:
                m.setattr(commands, "IN_FLIGHT_WAIT", 0.05)
                r = await c.post("/api/repair-orders", json=ro_body(), headers={"Idempotency-Key": key})
        finally:
            del commands._in_flight[scoped]
        assert r.status_code == 409 and r.json()["code"] == "request.in_flight", r.text
        assert r.headers["retry-after"] == "1"
        assert await RepairOrder.count() == 0
        again = await c.post("/api/repair-orders", json=ro_body(), headers={"Idempotency-Key": key})
        assert again.status_code == 201
