"""First-run setup: open on an empty install, closed for good once a manager exists."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from api.tables import Shop, Staff
from tests.factories import client, make_staff

SETUP = {
    "shop_name": "顺达汽车 Shunda Motors",
    "timezone": "Asia/Shanghai",
    "language": "zh-CN",
    "manager": {"username": "wang.min", "name": "王敏", "pin": "4826"},
}


async def test_setup_once_signs_the_manager_in(app: Any, clean: None) -> None:
    async with client(app) as c:
        status = (await c.get("/api/setup")).json()
        assert status["needed"] is True and "Asia/Shanghai" in status["timezones"]
        r = await c.post("/api/setup", json=SETUP)
        assert r.status_code == 201 and r.json()["user"]["role"] == "manager"
        assert (await c.get("/api/auth/me")).json()["user"]["username"] == "wang.min"
        assert (await c.get("/api/setup")).json()["needed"] is False
        assert (await c.get("/api/shop")).json()["name"] == SETUP["shop_name"]
    async with client(app) as other:
        again = {**SETUP, "manager": {"username": "intruder", "name": "X", "pin": "5063"}}
        r = await other.post("/api/setup", json=again)
        assert r.status_code == 409 and "already set up" in r.json()["detail"]
    assert await Staff.count() == 1 and await Shop.count() == 1


async def test_racing_setups_only_one_wins(app: Any, clean: None) -> None:
    clients = [client(app) for _ in range(5)]
    async with contextlib.AsyncExitStack() as stack:
        for c in clients:
            await stack.enter_async_context(c)
        bodies = [{**SETUP, "manager": {**SETUP["manager"], "username": f"m{i}"}} for i in range(5)]
        replies = await asyncio.gather(
            *(c.post("/api/setup", json=b) for c, b in zip(clients, bodies, strict=True))
        )
    assert sorted(r.status_code for r in replies) == [201, 409, 409, 409, 409]
    assert await Staff.count().where(Staff.role == "manager") == 1


async def test_setup_rejects_weak_pin_and_bad_zone(app: Any, clean: None) -> None:
    async with client(app) as c:
        r = await c.post("/api/setup", json={**SETUP, "manager": {**SETUP["manager"], "pin": "1234"}})
        assert r.status_code == 422 and "too easy" in r.json()["detail"]
        r = await c.post("/api/setup", json={**SETUP, "timezone": "Mars/Olympus"})
        assert r.status_code == 422 and "time zone" in r.json()["detail"]
        r = await c.post("/api/setup", json={**SETUP, "language": "fr"})
        assert r.status_code == 422
    assert await Staff.count() == 0


async def test_setup_is_closed_when_staff_exist_from_the_cli(app: Any, clean: None) -> None:
    await make_staff("manager")
    async with client(app) as c:
        assert (await c.get("/api/setup")).json()["needed"] is False
        assert (await c.post("/api/setup", json=SETUP)).status_code == 409


async def test_manager_adds_staff_who_then_appear_on_the_tiles(app: Any, clean: None) -> None:
    async with client(app) as c:
        await c.post("/api/setup", json=SETUP)
        c.headers["x-csrftoken"] = c.cookies["csrftoken"]
        r = await c.post(
            "/api/staff", json={"username": "liu.yang", "name": "刘洋", "role": "technician", "pin": "6391"}
        )
        assert r.status_code == 201
        r = await c.post(
            "/api/staff", json={"username": "liu.yang", "name": "Other", "role": "advisor", "pin": "6391"}
        )
        assert r.status_code == 409 and "taken" in r.json()["detail"]
        r = await c.post("/api/staff", json={"username": "x y", "name": "Bad", "role": "boss", "pin": "12"})
        assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {
            "username",
            "role",
            "pin",
        }
        tiles = (await c.get("/api/auth/staff")).json()["staff"]
        assert {t["username"] for t in tiles} == {"wang.min", "liu.yang"}
        assert all(set(t) == {"username", "name", "role"} for t in tiles)  # no ids, no hashes
