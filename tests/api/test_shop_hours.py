"""The shop's opening hours: a default before anyone sets them, served to the screens beside the time
zone, changed by a manager in /admin with checks, and never a reason to refuse a promise."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.tables import RepairOrder, Shop
from tests.api.test_setup import SETUP
from tests.factories import client, ro_body, signed_in

DEFAULT = {"opens": "08:30", "closes": "18:00", "days": [1, 2, 3, 4, 5, 6, 7]}


async def test_hours_have_a_default_and_the_screens_get_them_with_the_zone(app: Any, clean: None) -> None:
    async with client(app) as c:
        # Before the setup (and on an installation set up with the CLI): the default.
        assert (await c.get("/api/shop")).json()["hours"] == DEFAULT
        assert (await c.post("/api/setup", json=SETUP)).status_code == 201
        shop = (await c.get("/api/shop")).json()
        assert shop["timezone"] == "Asia/Shanghai" and shop["hours"] == DEFAULT
        assert (await c.get("/api/setup")).json()["shop"]["hours"] == DEFAULT


async def test_a_manager_sets_the_hours_in_admin_and_bad_ones_are_refused(app: Any, clean: None) -> None:
    async with client(app) as setup:
        assert (await setup.post("/api/setup", json=SETUP)).status_code == 201
    c, _ = await signed_in(app, "manager")
    async with contextlib.aclosing(c):
        (row,) = (await c.get("/admin/api/tables/shop/")).json()["rows"]
        url = f"/admin/api/tables/shop/{row['id']}/"
        r = await c.patch(url, json={"opens": "09:00", "closes": "17:30", "open_days": "123456"})
        assert r.status_code == 200, r.text
        hours = (await c.get("/api/shop")).json()["hours"]
        assert hours == {"opens": "09:00", "closes": "17:30", "days": [1, 2, 3, 4, 5, 6]}

        refused = [
            ({"opens": "25:00"}, "HH:MM"),
            ({"opens": "9:00"}, "HH:MM"),
            ({"closes": "08:00"}, "close after it opens"),
            ({"closes": "09:00"}, "close after it opens"),
            ({"open_days": "8"}, "1 (Monday) to 7 (Sunday)"),
            ({"open_days": "112"}, "1 (Monday) to 7 (Sunday)"),
            ({"open_days": ""}, "1 (Monday) to 7 (Sunday)"),
            # The zone stays as set up: order numbers and day reports are counted in it.
            ({"timezone": "Mars/Olympus"}, "shop.timezone_fixed"),
            ({"timezone": "Europe/Berlin"}, "shop.timezone_fixed"),
            ({"language": "fr"}, "language"),
            ({"name": "   "}, "name"),
        ]
        for change, why in refused:
            r = await c.patch(url, json=change)
            assert r.status_code == 422 and why in r.text, (change, r.status_code, r.text)
        assert (await c.get("/api/shop")).json()["hours"] == hours
        assert await Shop.count() == 1

        # One shop: no second row, and its settings are never deleted.
        new = (await c.get("/admin/api/tables/shop/new/")).json()
        r = await c.post(
            "/admin/api/tables/shop/", json={**new, "name": "Second", "timezone": "Asia/Shanghai"}
        )
        assert r.status_code == 405
        assert (await c.delete(url)).status_code == 405
        assert await Shop.count() == 1


async def test_a_cli_installation_gets_its_shop_settings_from_a_manager(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "manager")
    async with contextlib.aclosing(c):
        new = (await c.get("/admin/api/tables/shop/new/")).json()
        assert (new["opens"], new["closes"], new["open_days"]) == ("08:30", "18:00", "1234567")
        body = {**new, "name": "Shunda", "timezone": "Asia/Shanghai", "language": "zh-CN"}
        r = await c.post("/admin/api/tables/shop/", json={**body, "closes": "07:00"})
        assert r.status_code == 422 and await Shop.count() == 0
        r = await c.post("/admin/api/tables/shop/", json={**body, "open_days": "12345"})
        assert r.status_code == 201, r.text
        assert (await c.get("/api/shop")).json()["hours"]["days"] == [1, 2, 3, 4, 5]


async def test_a_promise_outside_opening_hours_is_still_accepted(app: Any, clean: None) -> None:
    advisor, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(advisor):
        zone = ZoneInfo("Asia/Shanghai")
        day = (datetime.now(UTC) + timedelta(days=2)).astimezone(zone).date()
        late = datetime(day.year, day.month, day.day, 21, 30, tzinfo=zone)  # after closing: agreed
        r = await advisor.post("/api/repair-orders", json=ro_body(promised_at=late.isoformat()))
        assert r.status_code == 201, r.text
        assert await RepairOrder.count() == 1
