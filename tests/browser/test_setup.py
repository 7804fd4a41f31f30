"""First run: a brand-new installation shows the setup screen; finishing it signs the manager in."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.browser.ui import TEXT


def test_first_run_setup_creates_shop_and_signs_the_manager_in(
    fresh_server: LiveServer, new_tablet: Any
) -> None:
    assert fresh_server.get_json("/api/setup")["needed"] is True

    page = new_tablet(locale="zh-CN").new_page()
    page.goto(fresh_server.url + "/")
    form = page.get_by_test_id("setup-form")
    expect(form).to_be_visible()
    expect(page).to_have_url(f"{fresh_server.url}/#/setup")
    expect(form.locator("h1")).to_have_text(TEXT["zh-CN"]["setup.title"])

    form.locator('[name="shop_name"]').fill("湾线汽车服务中心")
    zone = form.locator('[name="timezone"]')
    expect(zone).to_have_value("Asia/Shanghai")  # the server's default zone comes first
    zone.select_option("Asia/Hong_Kong")
    # Picking the shop's language switches the screen to it at once.
    form.locator('[name="language"]').select_option("en")
    expect(form.locator("h1")).to_have_text(TEXT["en"]["setup.title"])

    form.locator('[name="manager.name"]').fill("Wang Fang")
    form.locator('[name="manager.username"]').fill("wang.fang")

    # The two PINs must match: checked on the tablet, nothing is sent.
    form.locator('[name="manager.pin"]').fill("5063")
    form.locator('[name="manager.pin_confirm"]').fill("5064")
    page.get_by_test_id("setup-submit").tap()
    mismatch = form.locator('[data-testid="field-error"][data-field="manager.pin_confirm"]')
    expect(mismatch).to_have_text("The two PINs are not the same.")

    # An easy PIN is refused by the server and the reason is shown by the PIN field.
    form.locator('[name="manager.pin"]').fill("1234")
    form.locator('[name="manager.pin_confirm"]').fill("1234")
    page.get_by_test_id("setup-submit").tap()
    weak = form.locator('[data-testid="field-error"][data-field="manager.pin"]')
    expect(weak).to_contain_text("too easy")
    assert fresh_server.get_json("/api/setup")["needed"] is True

    form.locator('[name="manager.pin"]').fill("5063")
    form.locator('[name="manager.pin_confirm"]').fill("5063")
    page.get_by_test_id("setup-submit").tap()

    # Lands on the staff screen (the team is added next), signed in as the new manager, in the
    # language chosen above.
    expect(page).to_have_url(f"{fresh_server.url}/#/staff")
    expect(page.get_by_test_id("staff-row")).to_have_count(1)
    expect(page.get_by_test_id("current-user")).to_contain_text("Wang Fang")
    expect(page.get_by_test_id("current-user")).to_contain_text("Service manager")
    expect(page.get_by_test_id("shop-name")).to_have_text("湾线汽车服务中心")
    expect(page.get_by_test_id("switch-user")).to_be_visible()
    assert page.evaluate("localStorage.getItem('bayline.lang')") == "en"

    # A reload keeps the session and never shows setup again.
    page.reload()
    expect(page.get_by_test_id("staff-row")).to_have_count(1)
    expect(page.get_by_test_id("setup-form")).to_have_count(0)
    expect(page.get_by_test_id("current-user")).to_contain_text("Wang Fang")
    page.get_by_test_id("nav-today").tap()
    expect(page.get_by_test_id("today-list")).to_be_visible()
    expect(page.locator("main h1")).to_have_text(TEXT["en"]["today.title"])

    # Even asking for the setup screen by address lands on today's list.
    page.goto(fresh_server.url + "/#/setup")
    expect(page.get_by_test_id("today-list")).to_be_visible()
    expect(page).to_have_url(f"{fresh_server.url}/#/today")

    setup = fresh_server.get_json("/api/setup")
    assert setup["needed"] is False
    shop = fresh_server.get_json("/api/shop")
    assert shop["name"] == "湾线汽车服务中心"
    assert shop["timezone"] == "Asia/Hong_Kong"
    assert shop["language"] == "en"
    staff = fresh_server.get_json("/api/auth/staff")["staff"]
    assert [(s["username"], s["role"]) for s in staff] == [("wang.fang", "manager")]
