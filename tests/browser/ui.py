"""Shared steps for the browser tests: what a person does on the tablet, in Playwright terms."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect

SHOP_ZONE = ZoneInfo("Asia/Shanghai")

# A few labels straight from web/js/i18n.js, per language: seeing them proves the UI speaks it.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "setup.title": "Welcome to Bayline",
        "signin.title": "Who are you?",
        "signin.wrongPin": "Wrong PIN. Try again.",
        "role.advisor": "Service advisor",
        "today.title": "Today’s vehicles",
        "today.newRo": "New repair order",
        "newro.title": "New repair order",
        "newro.submit": "Create repair order",
        "newro.created": "Repair order created",
        "newro.backToToday": "Back to today’s vehicles",
        "newro.vinBadChars": "A VIN never contains I, O or Q — check for 1 and 0.",
        "time.tomorrow": "Tomorrow",
        "boot.failedTitle": "Bayline can’t reach the server",
        "lang-toggle": "中文",
    },
    "zh-CN": {
        "setup.title": "欢迎使用 Bayline",
        "signin.title": "请选择您的名字",
        "signin.wrongPin": "PIN 码错误，请重试。",
        "role.advisor": "服务顾问",
        "today.title": "今日车辆",
        "today.newRo": "新建维修委托书",
        "newro.title": "新建维修委托书",
        "newro.submit": "创建维修委托书",
        "newro.created": "维修委托书已创建",
        "newro.backToToday": "返回今日车辆",
        "newro.vinBadChars": "车架号不含 I、O、Q，请检查是否为 1 和 0。",
        "time.tomorrow": "明天",
        "boot.failedTitle": "无法连接服务器",
        "lang-toggle": "English",
    },
}

# The Playwright context locale that makes navigator.language pick each app language.
LOCALE = {"en": "en-US", "zh-CN": "zh-CN"}


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """Tomorrow at hh:mm in the shop's zone (Asia/Shanghai), as an aware datetime."""
    today = datetime.now(SHOP_ZONE).date()
    day = today + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHOP_ZONE)


def valid_vin(template: str = "LSVAB2C30D4E5F6G7") -> str:
    """`template` with the right check digit in 9th place, as the server computes it."""
    from api.workshop import normalize_vin, vin_check_digit

    vin = template[:8] + vin_check_digit(template) + template[9:]
    assert normalize_vin(vin) == vin
    return vin


def bad_check_digit_vin(template: str = "LSVAB2C30D4E5F6G7") -> str:
    """17 legal characters whose check digit is wrong: only the server can tell."""
    from api.workshop import Invalid, normalize_vin

    good = valid_vin(template)
    wrong = "1" if good[8] != "1" else "2"
    vin = good[:8] + wrong + good[9:]
    try:
        normalize_vin(vin)
    except Invalid:
        return vin
    raise AssertionError(f"{vin} unexpectedly valid")


def pin_key(page: Page, key: str) -> Locator:
    return page.locator(f'[data-testid="pin-key"][data-key="{key}"]')


def enter_pin(page: Page, pin: str) -> None:
    """Tap the digits on the pad, then OK, the way a finger would."""
    for digit in pin:
        pin_key(page, digit).tap()
    expect(page.get_by_test_id("pin-display")).to_have_attribute("data-length", str(len(pin)))
    pin_key(page, "ok").tap()


def tap_tile(page: Page, username: str) -> None:
    tile = page.locator(f'[data-testid="staff-tile"][data-username="{username}"]')
    expect(tile).to_be_visible()
    tile.tap()
    expect(page.get_by_test_id("pin-display")).to_be_visible()


def sign_in(page: Page, person: dict[str, str]) -> None:
    tap_tile(page, person["username"])
    enter_pin(page, person["pin"])
    expect(page.get_by_test_id("today-list")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_contain_text(person["name"])


def open_new_ro(page: Page) -> Locator:
    page.get_by_test_id("new-ro-button").tap()
    form = page.get_by_test_id("new-ro-form")
    expect(form).to_be_visible()
    return form


def fill_new_ro(
    page: Page,
    *,
    name: str,
    phone: str,
    plate: str,
    vin: str,
    mileage: int,
    fuel_eighths: int,
    concern: str,
    job_title: str,
    job_hours: str,
    promised: datetime,
) -> None:
    form = page.get_by_test_id("new-ro-form")
    form.locator('[name="customer.name"]').fill(name)
    form.locator('[name="customer.phone"]').fill(phone)
    form.locator('[name="vehicle.plate"]').fill(plate)
    form.locator('[name="vehicle.vin"]').fill(vin)
    form.locator('[name="mileage"]').fill(str(mileage))
    fuel = form.locator(f'[data-testid="fuel-button"][data-eighths="{fuel_eighths}"]')
    fuel.tap()
    expect(fuel).to_have_attribute("aria-pressed", "true")
    form.locator('[name="concern"]').first.fill(concern)
    form.locator('[name="job.title"]').first.fill(job_title)
    form.locator('[name="job.hours"]').first.fill(job_hours)
    local = promised.astimezone(SHOP_ZONE)
    form.locator('[name="promised_date"]').fill(local.strftime("%Y-%m-%d"))
    form.locator('[name="promised_time"]').fill(local.strftime("%H:%M"))


def open_repair_orders(page: Page, base_url: str) -> list[dict[str, Any]]:
    """GET /api/repair-orders with the browser's own session (the context's cookies)."""
    response = page.request.get(f"{base_url}/api/repair-orders")
    assert response.status == 200, response.text()
    items = response.json()["items"]
    assert isinstance(items, list)
    return items


def staff_post(page: Page, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """A staff API call with the page's own session, CSRF token and a fresh Idempotency-Key."""
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        url, data=body, headers={"x-csrftoken": csrf, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.ok, response.text()
    result: dict[str, Any] = response.json()
    return result


def write_up(
    page: Page,
    base_url: str,
    *,
    customer: dict[str, str],
    vehicle: dict[str, str],
    concern: str,
    job: str,
    promised_hour: int,
) -> dict[str, Any]:
    """A repair order written up through the API with the signed-in advisor's session."""
    body = {
        "customer": customer,
        "vehicle": {**vehicle, "vin": valid_vin()},
        "mileage": 30000,
        "concerns": [concern],
        "promised_at": tomorrow_at(promised_hour).isoformat(),
        "jobs": [{"title": job, "estimated_hours": 1}],
    }
    return staff_post(page, f"{base_url}/api/repair-orders", body)


def sign_in_to(page: Page, person: dict[str, str], landing: str) -> None:
    """Sign in and land on the screen whose list has data-testid `landing` (e.g. "my-jobs")."""
    tap_tile(page, person["username"])
    enter_pin(page, person["pin"])
    expect(page.get_by_test_id(landing)).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_contain_text(person["name"])


def add_staff(page: Page, base_url: str, person: dict[str, str]) -> dict[str, Any]:
    """A staff member added through POST /api/staff with the signed-in manager's session."""
    return staff_post(page, f"{base_url}/api/staff", person)


def poll(page: Page, script: str, *, until: Any = True, timeout_ms: int = 10_000) -> Any:
    """Evaluate `script` until it returns `until` (wait_for_function evals strings, which the CSP forbids)."""
    value = None
    for _ in range(max(1, timeout_ms // 100)):
        value = page.evaluate(script)
        if value == until:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"{script!r} stayed {value!r}, expected {until!r}")
