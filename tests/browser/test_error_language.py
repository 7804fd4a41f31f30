"""A zh-CN tablet shows the server's refusals in Chinese, by the field they concern, and in English
after the language toggle: the server sends codes, the screen has the words (web/js/i18n.js)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from api import messages, workshop
from tests.browser.conftest import ADVISOR, LiveServer
from tests.browser.ui import (
    LOCALE,
    bad_check_digit_vin,
    fill_new_ro,
    open_new_ro,
    open_repair_orders,
    sign_in,
    tomorrow_at,
)


def words(code: str, params: dict[str, str], lang: str) -> str:
    """What the catalogue says for `code` (the browser reads the same file, web/js/i18n.js)."""
    found = messages.text(code, params, lang)
    assert found is not None, (code, lang)
    return found


def test_server_field_errors_in_the_tablets_language(live_server: LiveServer, new_tablet: Any) -> None:
    page = new_tablet(locale=LOCALE["zh-CN"]).new_page()
    page.goto(live_server.url + "/")
    sign_in(page, ADVISOR)
    before = len(open_repair_orders(page, live_server.url))
    open_new_ro(page)
    vin = bad_check_digit_vin()
    fill_new_ro(
        page,
        name="陈女士",
        phone="电话 139",  # the tablet only checks that a phone is there; the server checks its form
        plate="沪A90210",
        vin=vin,
        mileage=1200,
        fuel_eighths=4,
        concern="故障灯亮",
        job_title="检查故障灯",
        job_hours="0.5",
        promised=tomorrow_at(10, 30),
    )
    page.get_by_test_id("submit-ro").tap()

    expected = {"expected": workshop.vin_check_digit(vin)}
    vin_error = page.locator('[data-testid="field-error"][data-field="vehicle.vin"]')
    phone_error = page.locator('[data-testid="field-error"][data-field="customer.phone"]')
    expect(vin_error).to_have_text(words("vin.check_digit", expected, "zh-CN"))
    expect(phone_error).to_have_text(words("phone.invalid", {}, "zh-CN"))
    for error in (vin_error, phone_error):
        expect(error).to_contain_text(re.compile(r"[\u4e00-\u9fff]"))
        expect(error).not_to_contain_text("pattern")
        expect(error).not_to_contain_text("should")
    expect(page.locator('[name="customer.phone"]')).to_have_attribute("aria-invalid", "true")

    # What the outbox keeps for a refused action it parks: the same words (errorText, in i18n.js).
    refused = {"code": "promise.past", "detail": "The promised time is in the past: choose a later time."}
    parked = page.evaluate("(body) => import('/web/js/i18n.js').then((m) => m.errorText(body))", refused)
    assert parked == words("promise.past", {}, "zh-CN")
    unknown = page.evaluate(
        "(body) => import('/web/js/i18n.js').then((m) => m.errorText(body))",
        {"code": "x.y", "detail": "As sent."},
    )
    assert unknown == "As sent."  # a code this app does not know yet: the server's English

    # The same messages follow the language toggle, without sending the form again.
    page.get_by_test_id("lang-toggle").tap()
    expect(vin_error).to_have_text(words("vin.check_digit", expected, "en"))
    expect(phone_error).to_have_text(words("phone.invalid", {}, "en"))
    expect(page.get_by_test_id("ro-created")).to_have_count(0)
    assert len(open_repair_orders(page, live_server.url)) == before  # nothing was stored
