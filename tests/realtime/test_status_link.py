"""The customer's status link: JSON, approvals, survey, and what must never show."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from api.tables import Event, Job, RepairOrder, Survey
from tests.factories import in_hours, ro_body
from tests.realtime.conftest import staff_cookie
from tests.realtime.test_cross_worker import REDIS_URL, _redis_ok

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


def _from(live: str, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address` (any 127.x address is this machine on Linux)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=f"http://{live}", transport=transport)


async def test_random_link_flood_from_one_address_spares_real_links_elsewhere(live: str, clean: None) -> None:
    from api import ratelimit

    ratelimit.reset()
    client, _, token = await _setup(live)
    async with (
        contextlib.aclosing(client),
        _from(live, "127.0.0.3") as flood,
        _from(live, "127.0.0.4") as customer,
    ):
        replies = [await flood.get(f"/api/status/{secrets.token_urlsafe(32)}") for _ in range(200)]
        refused = [r for r in replies if r.status_code == 429]
        assert {r.status_code for r in replies} == {404, 429}
        assert len(refused) >= 200 - ratelimit.MISSES_PER_ADDRESS
        body = refused[-1].json()
        assert body["code"] == "status.rate_limited" and body["params"]["retry_after"] >= 1
        assert 1 <= int(refused[-1].headers["retry-after"]) <= ratelimit.WINDOW
        # Refused before the lookup: the flooding address learns nothing about which links exist.
        assert (await flood.get(f"/api/status/{token}")).status_code == 429
        # The customer, from another address, is served: the page, its JSON and a live refresh.
        assert (await customer.get(f"/s/{token}")).status_code == 200
        assert (await customer.get(f"/api/status/{token}")).status_code == 200
        # A person on the flooding address sees the page's own bilingual "try again in a moment".
        page = await flood.get(f"/s/{secrets.token_urlsafe(32)}", headers={"Accept-Language": "en"})
        assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
        assert 1 <= int(page.headers["retry-after"]) <= ratelimit.WINDOW
        assert "Please try again in a moment" in page.text and "请稍后再试" in page.text
        assert page.text.index("Please try again") < page.text.index("请稍后再试")  # asked in English
        assert '<html lang="en"' in page.text and "script" not in page.text
        form = await flood.post(f"/s/{token}/survey", data={"score": "9", "key": "k"})
        assert form.status_code == 429 and "请稍后再试" in form.text


async def test_flood_from_the_customers_own_network_spares_the_link_it_already_uses(
    live: str, clean: None
) -> None:
    """The field case: the customer shares an address with the flood (one Wi-Fi, one proxy)."""
    from api import ratelimit

    ratelimit.reset()
    client, _, token = await _setup(live)
    second, _, unopened = await _setup(live)
    await second.aclose()
    async with contextlib.aclosing(client), _from(live, "127.0.0.6") as shared:
        assert (await shared.get(f"/s/{token}")).status_code == 200  # the customer's page is open
        for _ in range(ratelimit.MISSES_PER_ADDRESS + 20):
            await shared.get(f"/s/{secrets.token_urlsafe(32)}")
        assert (await shared.get(f"/s/{secrets.token_urlsafe(32)}")).status_code == 429
        # The open page keeps refreshing; a link never opened from this address waits like a guess.
        assert (await shared.get(f"/s/{token}")).status_code == 200
        assert (await shared.get(f"/api/status/{token}")).status_code == 200
        assert (await shared.get(f"/s/{unopened}")).status_code == 429


async def test_one_address_hammering_a_link_does_not_lock_the_customer_out(
    live: str, clean: None, monkeypatch: Any
) -> None:
    """Anyone holding the link exhausts only their own budget on it: the customer's phone that opened
    it before and a phone that opens it for the first time are both served."""
    from api import ratelimit

    ratelimit.reset()
    monkeypatch.setattr(ratelimit, "HITS_PER_LINK", 20)
    client, _, token = await _setup(live)
    second, _, other = await _setup(live)
    await second.aclose()
    async with (
        contextlib.aclosing(client),
        _from(live, "127.0.0.7") as phone,
        _from(live, "127.0.0.8") as hammer,
        _from(live, "127.0.0.11") as new_phone,
    ):
        assert (await phone.get(f"/s/{token}")).status_code == 200  # the customer opened it earlier
        codes = [(await hammer.get(f"/api/status/{token}")).status_code for _ in range(30)]
        assert codes == [200] * 20 + [429] * 10
        refused = await hammer.get(f"/api/status/{token}")
        assert refused.status_code == 429 and refused.json()["code"] == "status.rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= ratelimit.WINDOW
        # The customer: the phone that opened the link before, and one that opens it now.
        assert (await phone.get(f"/api/status/{token}")).status_code == 200
        assert (await phone.get(f"/s/{token}")).status_code == 200
        assert (await new_phone.get(f"/s/{token}")).status_code == 200
        assert await _stream_close_code(live, token, "127.0.0.11") is None
        # The hammering address's budget on another link is its own too.
        assert (await hammer.get(f"/api/status/{other}")).status_code == 200


def _links(*tokens: str) -> Callable[[str], Awaitable[dict[str, Any] | None]]:
    """Stands in for statuslink.resolve: these tokens open repair orders 1, 2, …; any other opens none."""
    orders = {token: {"id": n} for n, token in enumerate(tokens, 1)}

    async def resolve(token: str) -> dict[str, Any] | None:
        return orders.get(token)

    return resolve


async def test_new_addresses_join_a_flooded_link_at_a_bounded_rate(monkeypatch: Any) -> None:
    """A leaked link flooded from many addresses: only NEW_ADDRESSES_PER_LINK new addresses join it
    per window, the addresses that already use it are served throughout, and a new phone of the
    customer waits at most until the window ends (Retry-After says how long)."""
    from api import ratelimit

    monkeypatch.setattr(ratelimit, "NEW_ADDRESSES_PER_LINK", 5)
    clock = [1000.0]
    limits = ratelimit.StatusLinkLimiter(ratelimit.MemoryCounter(clock=lambda: clock[0]))
    token = secrets.token_urlsafe(32)
    resolve = _links(token)
    phone, new_phone = "198.51.100.1", "198.51.100.2"
    assert await limits.admit(phone, token, resolve) == ({"id": 1}, None)
    clock[0] += 20
    flood = [(await limits.admit(f"203.0.113.{i}", token, resolve))[1] for i in range(20)]
    assert [refused is None for refused in flood] == [True] * 4 + [False] * 16
    ro, refused = await limits.admit(new_phone, token, resolve)
    assert ro is None and refused is not None and refused.retry_after == 40  # the window began at 1000
    assert await limits.admit(phone, token, resolve) == ({"id": 1}, None)
    assert [(await limits.admit(f"203.0.113.{i}", token, resolve))[1] for i in range(4)] == [None] * 4
    # Another link is not affected by this one's joins.
    other = secrets.token_urlsafe(32)
    assert await limits.admit(new_phone, other, _links(other)) == ({"id": 1}, None)
    clock[0] += 40
    assert await limits.admit(new_phone, token, resolve) == ({"id": 1}, None)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the real Redis (skipped without one, failed on CI)."""
    if not await _redis_ok(REDIS_URL):
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required on CI and not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    prefix = f"bayline-test:{uuid.uuid4().hex}:"
    yield prefix
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_budgets_are_shared_by_every_worker_through_redis(redis_prefix: str, monkeypatch: Any) -> None:
    """Two workers (two limiters, two Redis connections): what one counts, the other enforces."""
    from api import ratelimit

    monkeypatch.setattr(ratelimit, "HITS_PER_LINK", 10)
    monkeypatch.setattr(ratelimit, "NEW_ADDRESSES_PER_LINK", 4)
    one = ratelimit.StatusLinkLimiter(ratelimit.RedisCounter(REDIS_URL, redis_prefix))
    two = ratelimit.StatusLinkLimiter(ratelimit.RedisCounter(REDIS_URL, redis_prefix))
    flood, elsewhere = "203.0.113.9", "198.51.100.7"
    token, hammered, other = (secrets.token_urlsafe(32) for _ in range(3))
    resolve = _links(token, hammered, other)
    try:
        # A customer on the flood's network opened a link.
        assert await two.admit(flood, token, resolve) == ({"id": 1}, None)
        for _ in range(ratelimit.MISSES_PER_ADDRESS):
            assert await one.admit(flood, secrets.token_urlsafe(32), resolve) == (None, None)
        ro, refused = await two.admit(flood, secrets.token_urlsafe(32), resolve)
        assert ro is None and refused is not None and 1 <= refused.retry_after <= ratelimit.WINDOW
        assert await two.admit(elsewhere, secrets.token_urlsafe(32), resolve) == (None, None)
        assert (await one.admit(flood, token, resolve))[1] is None  # the link already in use stays open
        # One address hammering a link through both workers: limited per link and address.
        answers = [(await (one, two)[i % 2].admit(elsewhere, hammered, resolve))[1] for i in range(12)]
        assert answers[:10] == [None] * 10 and all(a is not None for a in answers[10:])
        # New addresses join a link at a bounded rate, counted across workers; known ones stay served.
        joins = [(await (one, two)[i % 2].admit(f"198.51.100.{i}", hammered, resolve))[1] for i in range(5)]
        assert [j is None for j in joins] == [True] * 3 + [False] * 2  # `elsewhere` was the first
        assert (await two.admit("198.51.100.0", hammered, resolve))[1] is None
        assert (await one.admit(elsewhere, other, resolve))[1] is None  # another link is not affected
        # All of it went through Redis: neither worker counted anything in its own memory.
        assert isinstance(one.counter, ratelimit.RedisCounter) and isinstance(
            two.counter, ratelimit.RedisCounter
        )
        assert len(one.counter.fallback) == len(two.counter.fallback) == 0
    finally:
        for limiter in (one, two):
            assert isinstance(limiter.counter, ratelimit.RedisCounter)
            await limiter.counter.close()


async def test_the_app_counts_in_redis_when_redis_url_is_set(
    live: str, clean: None, redis_prefix: str, monkeypatch: Any
) -> None:
    from redis.asyncio import Redis

    from api import ratelimit, settings

    configured = dataclasses.replace(settings.get(), redis_url=REDIS_URL)
    monkeypatch.setattr(settings, "get", lambda: configured)
    ratelimit.reset()
    address = "127.0.0.9"
    async with _from(live, address) as flood:
        for _ in range(ratelimit.MISSES_PER_ADDRESS):
            assert (await flood.get(f"/api/status/{secrets.token_urlsafe(32)}")).status_code == 404
        assert (await flood.get(f"/api/status/{secrets.token_urlsafe(32)}")).status_code == 429
    # Another worker, with nothing counted in its own memory, sees the same count in Redis.
    other = ratelimit.StatusLinkLimiter(ratelimit.RedisCounter(REDIS_URL))
    client = Redis.from_url(REDIS_URL)
    try:
        assert (await other.admit(address, secrets.token_urlsafe(32), _links()))[1] is not None
    finally:
        assert isinstance(other.counter, ratelimit.RedisCounter)
        await other.counter.close()
        await client.delete(f"bayline:rl:miss:{address}")
        await client.aclose()
        await ratelimit.aclose()


async def test_while_redis_is_away_each_worker_counts_on_its_own(caplog: Any) -> None:
    from api import ratelimit

    counter = ratelimit.RedisCounter("redis://127.0.0.1:1/0")  # nothing listens there
    limits = ratelimit.StatusLinkLimiter(counter)
    try:
        with caplog.at_level(logging.WARNING, logger="bayline.ratelimit"):
            for _ in range(ratelimit.MISSES_PER_ADDRESS):
                guess = secrets.token_urlsafe(32)
                assert await limits.admit("203.0.113.10", guess, _links()) == (None, None)
            assert (await limits.admit("203.0.113.10", secrets.token_urlsafe(32), _links()))[1] is not None
        warnings = [r for r in caplog.records if "Redis unreachable" in r.message]
        assert len(warnings) == 1  # said once, not once per request
    finally:
        await counter.close()


async def _commands_under(prefix: str, action: Callable[[], Awaitable[None]]) -> list[str]:
    """The commands Redis ran (MONITOR) on keys under `prefix` while `action` ran. What a script
    calls inside Redis is left out: a script is one round trip."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    done = f"{prefix}done:{uuid.uuid4().hex}"
    seen: list[str] = []
    try:
        async with client.monitor() as monitor:
            await action()
            await client.echo(done)  # after everything `action` caused, in Redis's own order
            while True:
                entry = await asyncio.wait_for(monitor.next_command(), 5)
                if done in entry["command"]:
                    return seen
                if entry["client_type"] != "lua" and prefix in entry["command"]:
                    seen.append(entry["command"])
    finally:
        await client.aclose()


async def test_a_status_request_is_one_round_trip_to_redis(
    live: str, clean: None, redis_prefix: str, monkeypatch: Any
) -> None:
    from api import ratelimit

    limits = ratelimit.StatusLinkLimiter(ratelimit.RedisCounter(REDIS_URL, redis_prefix))
    monkeypatch.setattr(ratelimit, "limiter", lambda: limits)
    client, _, token = await _setup(live)
    try:
        async with (
            contextlib.aclosing(client),
            _from(live, "127.0.0.12") as phone,
            _from(live, "127.0.0.13") as guesser,
        ):

            def get(c: httpx.AsyncClient, link: str, status: int) -> Callable[[], Awaitable[None]]:
                async def request() -> None:
                    assert (await c.get(f"/api/status/{link}")).status_code == status

                return request

            await get(guesser, secrets.token_urlsafe(32), 404)()  # connected, scripts loaded
            first = await _commands_under(redis_prefix, get(phone, token, 200))  # a new phone
            again = await _commands_under(redis_prefix, get(phone, token, 200))  # a known one
            guess = await _commands_under(redis_prefix, get(guesser, secrets.token_urlsafe(32), 404))
            assert len(first) == 1 and len(again) == 1, (first, again)
            assert len(guess) == 2, guess  # a wrong link: the check before the lookup, the miss after
            assert all(command.startswith("EVALSHA") for command in first + again + guess)
    finally:
        assert isinstance(limits.counter, ratelimit.RedisCounter)
        await limits.counter.close()


async def test_a_redis_that_never_answers_costs_a_request_one_short_wait(
    live: str, clean: None, monkeypatch: Any
) -> None:
    """Redis accepts connections and never replies (a hung broker): a request waits for one short
    timeout at most, then the worker counts on its own for a while without asking Redis again."""
    from api import ratelimit

    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()  # until the client gives up; never a reply

    broker = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = broker.sockets[0].getsockname()[1]
    limits = ratelimit.StatusLinkLimiter(ratelimit.RedisCounter(f"redis://127.0.0.1:{port}/0"))
    monkeypatch.setattr(ratelimit, "limiter", lambda: limits)
    client, _, token = await _setup(live)
    try:
        async with contextlib.aclosing(client), _from(live, "127.0.0.14") as phone:
            started = time.monotonic()
            # A wrong link: the limiter's worst case, a call before the lookup and one after it.
            guess = await phone.get(f"/api/status/{secrets.token_urlsafe(32)}", timeout=10)
            assert guess.status_code == 404
            assert len(connections) == 1  # one exchange tried and given up on, not one per call
            assert time.monotonic() - started < 2.0  # one short timeout; generous for a loaded runner
            monkeypatch.setattr(ratelimit, "REDIS_RETRY_AFTER", 60.0)  # this test's requests stay within it
            assert (await phone.get(f"/api/status/{token}")).status_code == 200
            assert (await phone.get(f"/s/{token}")).status_code == 200
            assert len(connections) == 1  # meanwhile Redis is not asked at all
            assert isinstance(limits.counter, ratelimit.RedisCounter) and len(limits.counter.fallback) > 0
    finally:
        assert isinstance(limits.counter, ratelimit.RedisCounter)
        await limits.counter.close()
        for writer in connections:
            writer.close()
        broker.close()
        await broker.wait_closed()


async def _eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> bool:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)
    return True


async def test_the_redis_client_of_another_event_loop_is_closed_when_replaced(
    redis_prefix: str, monkeypatch: Any
) -> None:
    """The limiter's Redis connections belong to the loop that opened them. When the process moves
    to another loop (tests do; a server keeps one), the old client is closed on its own loop, not
    left holding connections to Redis."""
    import threading

    from redis.asyncio import Redis

    from api import ratelimit, settings

    configured = dataclasses.replace(settings.get(), redis_url=REDIS_URL)
    monkeypatch.setattr(settings, "get", lambda: configured)
    admin = Redis.from_url(REDIS_URL)

    async def open_connection() -> tuple[ratelimit.StatusLinkLimiter, int]:
        limits = ratelimit.limiter()
        assert isinstance(limits.counter, ratelimit.RedisCounter)
        return limits, int(await limits.counter.redis.client_id())

    async def connected(client_id: int) -> bool:
        return any(int(c["id"]) == client_id for c in await admin.client_list())

    async def gone(client_id: int) -> bool:
        return not await connected(client_id)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        ratelimit.reset()
        running, running_id = asyncio.run_coroutine_threadsafe(open_connection(), loop).result(10)
        assert await connected(running_id)
        here = ratelimit.limiter()
        assert here is not running
        assert await _eventually(lambda: gone(running_id))
    finally:
        await ratelimit.aclose()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        await admin.aclose()


async def test_memory_counts_expire_with_their_window_and_are_swept() -> None:
    from api import ratelimit

    clock = [1000.0]
    counter = ratelimit.MemoryCounter(clock=lambda: clock[0])
    assert await counter.add("a", 60) == (1, 60)
    clock[0] += 20
    assert await counter.add("a", 60) == (2, 40)  # the window runs from the first count
    clock[0] += 40
    assert await counter.peek("a") == (0, 0.0) and await counter.add("a", 60) == (1, 60)
    for i in range(3 * ratelimit.MemoryCounter.SWEEP_EVERY):
        await counter.add(f"flood-{i}", 60)
        clock[0] += 0.1  # a flood from ever new addresses, 10 a second
    assert len(counter) < 2 * 600  # only about one window's worth of keys is kept


async def test_behind_a_trusted_proxy_the_flood_and_the_customer_are_told_apart(
    live: str, clean: None, monkeypatch: Any
) -> None:
    """The field case: every request arrives from the reverse proxy; X-Forwarded-For names the client."""
    from ipaddress import ip_network

    from api import ratelimit, settings

    configured = dataclasses.replace(settings.get(), trusted_proxies=(ip_network("127.0.0.0/8"),))
    monkeypatch.setattr(settings, "get", lambda: configured)
    ratelimit.reset()
    client, _, token = await _setup(live)
    async with contextlib.aclosing(client), _from(live, "127.0.0.10") as proxy:
        flood = {"X-Forwarded-For": "203.0.113.5"}
        for _ in range(ratelimit.MISSES_PER_ADDRESS + 5):
            await proxy.get(f"/api/status/{secrets.token_urlsafe(32)}", headers=flood)
        assert (await proxy.get(f"/api/status/{token}", headers=flood)).status_code == 429
        customer = {"X-Forwarded-For": "198.51.100.7"}
        assert (await proxy.get(f"/s/{token}", headers=customer)).status_code == 200
        # A client cannot pick its own address: the hop the proxy appended is the one that counts.
        forged = {"X-Forwarded-For": "198.51.100.7, 203.0.113.5"}
        assert (
            await proxy.get(f"/api/status/{secrets.token_urlsafe(32)}", headers=forged)
        ).status_code == 429


async def _stream_close_code(live: str, token: str, address: str) -> int | None:
    """Open the customer's live stream from `address`: None if admitted, else the HTTP status of a
    refusal before accept or the close code of one after."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    url = f"ws://{live}/ws/status/{token}"
    try:
        async with connect(url, open_timeout=5, local_addr=(address, 0)) as ws:
            await asyncio.wait_for(ws.recv(), 5)  # the server's first frame (replay or ping) or its close
            return None
    except InvalidStatus as refused:  # refused before accept: unknown and expired links look alike
        return refused.response.status_code
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None  # open and quiet: admitted


async def test_the_live_stream_counts_against_the_same_budgets(live: str, clean: None) -> None:
    """Guessing links over /ws/status is refused like the page: 4429 before any lookup, per address."""
    from api import ratelimit
    from api.realtime import streams

    ratelimit.reset()
    client, _, token = await _setup(live)
    async with contextlib.aclosing(client):
        assert await _stream_close_code(live, token, "127.0.0.9") is None  # the customer's phone
        codes = [
            await _stream_close_code(live, secrets.token_urlsafe(32), "127.0.0.8")
            for _ in range(ratelimit.MISSES_PER_ADDRESS + 5)
        ]
        assert codes[: ratelimit.MISSES_PER_ADDRESS] == [403] * ratelimit.MISSES_PER_ADDRESS
        assert set(codes[ratelimit.MISSES_PER_ADDRESS :]) == {streams.RATE_LIMITED}
        # Refused before the lookup: the guessing address cannot tell a real link from a wrong one.
        assert await _stream_close_code(live, token, "127.0.0.8") == streams.RATE_LIMITED
        assert await _stream_close_code(live, token, "127.0.0.9") is None
