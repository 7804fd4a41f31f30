"""Issue 11 item 6: a manager's change of the opening hours in /admin reaches open screens at once.
The change goes through the command path (event shop.updated, api/shop.py); the tablets take the
shop from the event, and the promise quick choices on an open new-order form follow it, without a
reload. Time never comes from the hour the suite runs at: the advisor's tablet has a fixed clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ADVISOR, MANAGER, live_server_at
from tests.browser.test_promise_hours import chip_ids, next_weekday, shop_time
from tests.browser.ui import open_new_ro, sign_in, staff_post


def test_hours_changed_in_admin_reach_an_open_new_order_form(new_tablet: Any) -> None:
    with live_server_at([MANAGER, ADVISOR]) as server:
        office = new_tablet(locale="en-US")
        desk = office.new_page()
        desk.goto(server.url + "/")
        sign_in(desk, MANAGER)
        # An installation set up with the command line: the manager adds the shop, open every day.
        new = desk.request.get(f"{server.url}/admin/api/tables/shop/new/").json()
        body = {**new, "name": "Shunda", "timezone": "Asia/Shanghai", "language": "en"}
        staff_post(desk, f"{server.url}/admin/api/tables/shop/", body)

        # Saturday 16:00 at the service desk, the new repair order half written.
        sat = next_weekday(6)
        mon = (sat + timedelta(days=2)).isoformat()
        page = new_tablet(locale="en-US").new_page()
        page.clock.set_fixed_time(shop_time(sat, "16:00"))
        page.goto(server.url + "/")
        sign_in(page, ADVISOR)
        expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        form = open_new_ro(page)
        form.locator('[name="customer.name"]').fill("高远")
        assert chip_ids(form) == ["in2", "in4", "today", "next"]
        expect(form.locator('[data-choice="today"]')).to_have_text("Today 17:30")
        expect(form.locator('[data-choice="next"]')).to_have_text("Tomorrow 10:00")

        # The manager closes the shop at weekends (and at 17:00) in the admin's own form.
        admin = office.new_page()
        admin.goto(server.url + "/admin/#/shop/")
        admin.locator('a[href="#/shop/1/"]').first.click()
        admin.locator('input[name="closes"]').fill("17:00")
        admin.locator('input[name="open_days"]').fill("12345")
        with admin.expect_response(lambda r: r.request.method == "PATCH") as saved:
            admin.get_by_role("button", name="Save").click()
        assert saved.value.status == 200, saved.value.text()

        # The open form follows: no "Today" on a closed Saturday, the next choice is Monday's.
        expect(form.locator('[data-choice="today"]')).to_have_count(0)
        expect(form.locator('[data-choice="next"]')).to_have_text("Mon 10:00")
        assert chip_ids(form) == ["in2", "in4", "next"]
        form.locator('[data-choice="in2"]').tap()
        expect(form.locator('[name="promised_date"]')).to_have_value(mon)
        expect(form.locator('[name="promised_time"]')).to_have_value("10:30")
        # Still the same form, not a reloaded one: what was typed is there.
        expect(form.locator('[name="customer.name"]')).to_have_value("高远")
        assert server.get_json("/api/shop")["hours"] == {
            "opens": "08:30",
            "closes": "17:00",
            "days": [1, 2, 3, 4, 5],
        }
