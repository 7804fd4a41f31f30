"""The shop's settings on the settings screen (PUT /api/shop/settings): a manager's change through the
command path, announced as shop.updated; each bad value refused with its own code, nothing changed;
GET /api/shop tells anonymous callers no more than before."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from api.tables import Event, Shop
from tests.factories import client, signed_in

PUBLIC = {"name", "timezone", "language", "hours"}
SETUP: dict[str, Any] = {
    "shop_name": "顺达汽车 Shunda Motors",
    "timezone": "Asia/Shanghai",
    "language": "zh-CN",
    "manager": {"username": "wang.min", "name": "王敏", "pin": "4826"},
}
GOOD = {
    "name": "顺达汽车 Shunda Motors",
    "address": "上海市浦东新区 88 号",
    "phone": "021 5555 0101",
    "tax_id": "91310000MA1K000000",
    "labour_rate_fen": 25_000,
    "tax_rate_bp": 600,
    "discount_threshold_fen": 30_000,
    "ready_rule": "auto",
    "next_service_months": 12,
    "next_service_km": 10_000,
    "opens": "09:00",
    "closes": "17:30",
    "open_days": "123456",
}


@pytest.fixture
async def manager(app: Any, clean: None) -> Any:
    """A manager of a shop set up as on first run."""
    async with client(app) as c:
        assert (await c.post("/api/setup", json=SETUP)).status_code == 201
    c, _ = await signed_in(app, "manager")
    async with contextlib.aclosing(c):
        yield c


async def test_a_manager_changes_the_settings_and_every_screen_is_told(app: Any, manager: Any) -> None:
    r = await manager.put("/api/shop/settings", json=GOOD)
    assert r.status_code == 200, r.text
    shown = r.json()
    for field in ("address", "phone", "tax_id", "labour_rate_fen", "tax_rate_bp", "discount_threshold_fen"):
        assert shown[field] == GOOD[field]
    assert shown["ready_rule"] == "auto" and shown["next_service_km"] == 10_000
    assert shown["hours"] == {"opens": "09:00", "closes": "17:30", "days": [1, 2, 3, 4, 5, 6]}
    row = await Shop.select().first()
    assert row is not None and row["labour_rate_fen"] == 25_000 and row["tax_rate_bp"] == 600

    (event,) = await Event.select().where(Event.type == "shop.updated")
    data = event["data"] if isinstance(event["data"], dict) else json.loads(event["data"])
    assert data["shop"] == shown  # the screens take the shop from the event as GET serves it

    # Signed-in staff see it all; anonymous callers what they saw before, and no more.
    assert (await manager.get("/api/shop")).json() == shown
    async with client(app) as anonymous:
        public = (await anonymous.get("/api/shop")).json()
        assert set(public) == PUBLIC and public["hours"] == shown["hours"]
        assert set((await anonymous.get("/api/setup")).json()["shop"]) == PUBLIC

    # Fields left out stay; saving the same again changes nothing and tells nobody.
    r = await manager.put("/api/shop/settings", json={"tax_rate_bp": 1300})
    assert r.status_code == 200 and r.json()["tax_rate_bp"] == 1300 and r.json()["labour_rate_fen"] == 25_000
    r = await manager.put("/api/shop/settings", json={"tax_rate_bp": 1300})
    assert r.status_code == 200
    assert await Event.count().where(Event.type == "shop.updated") == 2


async def test_a_replayed_save_is_one_change(manager: Any) -> None:
    headers = {"Idempotency-Key": "settings-save-1"}
    first = await manager.put("/api/shop/settings", json={"labour_rate_fen": 18_000}, headers=headers)
    again = await manager.put("/api/shop/settings", json={"labour_rate_fen": 18_000}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert await Event.count().where(Event.type == "shop.updated") == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"labour_rate_fen": -1}, "shop.negative"),
        ({"discount_threshold_fen": -500}, "shop.negative"),
        ({"tax_rate_bp": -1}, "shop.negative"),
        ({"tax_rate_bp": 10_001}, "shop.tax_rate_range"),
        ({"next_service_km": 1_000_000}, "shop.too_large"),
        ({"next_service_months": -3}, "shop.negative"),
        ({"labour_rate_fen": 20_000_000}, "shop.too_large"),
        ({"labour_rate_fen": "lots"}, "field.whole_number"),
        ({"labour_rate_fen": 12.5}, "field.whole_number"),
        ({"ready_rule": "sometimes"}, "shop.ready_rule"),
        ({"opens": "25:00"}, "shop.time_format"),
        ({"closes": "08:00"}, "shop.hours_order"),
        ({"opens": "18:00", "closes": "09:00"}, "shop.hours_order"),
        ({"open_days": "118"}, "shop.days_format"),
        ({"open_days": ""}, "shop.days_format"),
        ({"language": "fr"}, "field.choice"),
        ({"name": "  "}, "field.too_short"),
        ({"tax_id": "x" * 41}, "field.too_long"),
        ({"timezone": "Europe/Berlin"}, "field.unknown"),
    ],
)
async def test_bad_settings_are_refused_with_their_code_and_nothing_changes(
    manager: Any, change: dict[str, Any], code: str
) -> None:
    before = (await manager.get("/api/shop")).json()
    r = await manager.put("/api/shop/settings", json=change)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == code or code in {e.get("code") for e in body.get("errors", [])}, body
    assert (await manager.get("/api/shop")).json() == before
    assert await Event.count().where(Event.type == "shop.updated") == 0


async def test_only_a_manager_changes_the_settings(app: Any, manager: Any) -> None:
    advisor, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(advisor):
        r = await advisor.put("/api/shop/settings", json={"labour_rate_fen": 1})
        assert r.status_code == 403 and r.json()["params"]["operation"] == "shop.settings"
        # Every signed-in person reads the settlement's settings (the advisor prices with the rate).
        assert (await advisor.get("/api/shop")).json()["labour_rate_fen"] == 20_000
    async with client(app) as anonymous:
        assert (await anonymous.put("/api/shop/settings", json={"labour_rate_fen": 1})).status_code == 401


async def test_a_shop_set_up_with_the_command_line_gets_its_first_settings(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "manager")
    async with contextlib.aclosing(c):
        # No shop row yet: the screen shows the defaults the settlement would use.
        before = (await c.get("/api/shop")).json()
        assert before["labour_rate_fen"] == 20_000 and before["ready_rule"] == "manual"
        r = await c.put("/api/shop/settings", json={"name": "Shunda", "tax_rate_bp": 900})
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "Shunda" and r.json()["tax_rate_bp"] == 900
        assert r.json()["timezone"] == "Asia/Shanghai" and r.json()["labour_rate_fen"] == 20_000
        assert await Shop.count() == 1
        r = await c.put("/api/shop/settings", json={"tax_rate_bp": -5})
        assert r.status_code == 422 and await Shop.count() == 1
