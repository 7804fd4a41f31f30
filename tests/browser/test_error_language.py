"""A zh-CN tablet shows the server's refusals in Chinese, by the field they concern, and in English
after the language toggle: the server sends codes, the screen has the words (web/js/i18n.js)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from api import messages, workshop
from tests.browser.conftest import ADVISOR, FROM_API, LiveServer
from tests.browser.ui import (
    LOCALE,
    bad_check_digit_vin,
    fill_new_ro,
    open_new_ro,
    open_repair_orders,
    sign_in,
    tomorrow_at,
    valid_vin,
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
    # A code this app does not know yet (a newer server): a plain refusal naming it, never the English.
    assert unknown == ui_text("error.unknownCode", "zh-CN").replace("{code}", "x.y")
    # A parked entry says why in the language of whoever reads the list, not of when it was refused.
    entry = {"status": 422, "error": "words of then", "errorBody": {"code": "promise.past", "params": None}}
    read_later = "(entry) => import('/web/js/outbox.js').then((m) => m.entryError(entry))"
    assert page.evaluate(read_later, entry) == words("promise.past", {}, "zh-CN")

    # The same messages follow the language toggle, without sending the form again.
    page.get_by_test_id("lang-toggle").tap()
    expect(vin_error).to_have_text(words("vin.check_digit", expected, "en"))
    expect(phone_error).to_have_text(words("phone.invalid", {}, "en"))
    expect(page.get_by_test_id("ro-created")).to_have_count(0)
    assert len(open_repair_orders(page, live_server.url)) == before  # nothing was stored
    assert page.evaluate(read_later, entry) == words("promise.past", {}, "en")


def ui_text(key: str, lang: str) -> str:
    """A screen's own words (web/js/i18n.js), read as tests/test_i18n.py reads them."""
    from tests.test_i18n import dictionary

    return dictionary("zh" if lang == "zh-CN" else "en")[key]


def test_refusals_the_app_cannot_word_and_its_own_checks_stay_in_the_tablets_language(
    live_server: LiveServer, new_tablet: Any
) -> None:
    """A newer server's code, a framework's bare message, the tablet's own checks: Chinese only."""
    page = new_tablet(locale=LOCALE["zh-CN"]).new_page()
    page.goto(live_server.url + "/")
    sign_in(page, ADVISOR)
    form = open_new_ro(page)

    # The tablet's own checks, before anything is sent.
    page.get_by_test_id("submit-ro").tap()
    required = form.locator('[data-testid="field-error"][data-field="customer.name"]')
    expect(required).to_have_text(ui_text("form.required", "zh-CN"))
    form.locator('[name="vehicle.vin"]').fill("LSVAB2C30D4E5F6G")  # 16 characters
    page.get_by_test_id("submit-ro").tap()
    expect(form.locator('[data-testid="field-error"][data-field="vehicle.vin"]')).to_have_text(
        ui_text("newro.vinLength", "zh-CN")
    )

    # The server refuses with a code this version does not know, and a field with another.
    refusal = {
        "status_code": 422,
        "detail": "Repair orders need a brand-new approval first.",
        "code": "ro.brand_new_rule",
        "params": {},
        "errors": [
            {
                "field": "vehicle.plate",
                "message": "Plates like this are not accepted",
                "code": "plate.brand_new",
            },
            {"field": "customer.name", "message": "Field required"},  # a framework's, with no code
        ],
    }
    page.route(
        "**/api/repair-orders",
        lambda route: (
            route.fulfill(status=422, json=refusal, headers=FROM_API)
            if route.request.method == "POST"
            else route.fallback()
        ),
    )
    fill_new_ro(
        page,
        name="陈女士",
        phone="13912345678",
        plate="沪A90211",
        vin=valid_vin(),
        mileage=1200,
        fuel_eighths=4,
        concern="保养",
        job_title="机油更换",
        job_hours="0.5",
        promised=tomorrow_at(11),
    )
    page.get_by_test_id("submit-ro").tap()
    plate = form.locator('[data-testid="field-error"][data-field="vehicle.plate"]')
    name = form.locator('[data-testid="field-error"][data-field="customer.name"]')
    expect(plate).to_have_text(ui_text("error.fieldUnknown", "zh-CN").replace("{code}", "plate.brand_new"))
    expect(name).to_have_text(ui_text("error.fieldInvalid", "zh-CN"))
    for error in (plate, name):
        expect(error).not_to_contain_text("accepted")
        expect(error).not_to_contain_text("required")
    expect(form).not_to_contain_text("brand-new approval")
    # An English screen has no better words than the server's own: those, after the toggle.
    page.get_by_test_id("lang-toggle").tap()
    expect(plate).to_have_text("Plates like this are not accepted")
    expect(name).to_have_text("Field required")
    page.get_by_test_id("lang-toggle").tap()
    expect(plate).to_have_text(ui_text("error.fieldUnknown", "zh-CN").replace("{code}", "plate.brand_new"))

    # The same refusal with nothing by a field: the banner says it, in Chinese (in English, as sent).
    refusal.pop("errors")
    page.get_by_test_id("submit-ro").tap()
    banner = form.locator(".form-banner")
    unknown = ui_text("error.unknownCode", "zh-CN").replace("{code}", "ro.brand_new_rule")
    expect(banner).to_have_text(unknown)
    page.get_by_test_id("lang-toggle").tap()
    expect(banner).to_have_text(refusal["detail"])
    page.get_by_test_id("lang-toggle").tap()
    expect(banner).to_have_text(unknown)


def test_first_run_refuses_an_easy_pin_in_chinese(fresh_server: LiveServer, new_tablet: Any) -> None:
    page = new_tablet(locale=LOCALE["zh-CN"]).new_page()
    page.goto(fresh_server.url + "/")
    form = page.get_by_test_id("setup-form")
    expect(form).to_be_visible()
    form.locator('[name="shop_name"]').fill("湾线汽车服务中心")
    form.locator('[name="manager.name"]').fill("王芳")
    form.locator('[name="manager.username"]').fill("wang.fang")
    form.locator('[name="manager.pin"]').fill("12")
    form.locator('[name="manager.pin_confirm"]').fill("12")
    page.get_by_test_id("setup-submit").tap()
    pin = form.locator('[data-testid="field-error"][data-field="manager.pin"]')
    expect(pin).to_have_text(ui_text("form.pinDigits", "zh-CN"))  # the tablet's own check
    form.locator('[name="manager.pin"]').fill("1234")
    form.locator('[name="manager.pin_confirm"]').fill("1234")
    page.get_by_test_id("setup-submit").tap()
    expect(pin).to_have_text(words("pin.weak", {}, "zh-CN"))  # the server's, by its code
    expect(pin).not_to_contain_text("easy")
    assert fresh_server.get_json("/api/setup")["needed"] is True
