"""Sign in on the shared tablet and check a car in: the advisor's everyday path, in both languages."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import ADVISOR, WRONG_PIN, LiveServer
from tests.browser.ui import (
    LOCALE,
    TEXT,
    bad_check_digit_vin,
    enter_pin,
    fill_new_ro,
    open_new_ro,
    open_repair_orders,
    pin_key,
    tap_tile,
    tomorrow_at,
    valid_vin,
)


def _plate() -> str:
    # Unique per test so the API check can count exactly this car's repair orders.
    return f"沪A{secrets.randbelow(10**5):05d}"


def _count_posts(page: Page) -> list[Request]:
    posts: list[Request] = []
    page.on(
        "request",
        lambda r: posts.append(r) if r.method == "POST" and r.url.endswith("/api/repair-orders") else None,
    )
    return posts


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_sign_in_and_create_repair_order(
    live_server: LiveServer, new_tablet: Any, shots: Path, lang: str
) -> None:
    words = TEXT[lang]
    page = new_tablet(locale=LOCALE[lang]).new_page()
    page.goto(live_server.url + "/")

    # Who are you? Every active staff member has a tile, in the device's language.
    expect(page.locator("main h1")).to_have_text(words["signin.title"])
    tiles = page.get_by_test_id("staff-tile")
    # Other tests on this shared server add staff of their own: count what the database holds.
    expect(tiles).to_have_count(live_server.query("SELECT count(*) FROM staff WHERE active")[0][0])
    advisor_tile = tiles.and_(page.locator(f'[data-username="{ADVISOR["username"]}"]'))
    expect(advisor_tile).to_contain_text(ADVISOR["name"])
    expect(advisor_tile).to_contain_text(words["role.advisor"])
    expect(page.get_by_test_id("lang-toggle")).to_have_text(words["lang-toggle"])
    page.screenshot(path=str(shots / f"signin-tablet-{lang}.png"))

    tap_tile(page, ADVISOR["username"])
    enter_pin(page, ADVISOR["pin"])
    expect(page.get_by_test_id("today-list")).to_be_visible()
    expect(page.locator("main h1")).to_have_text(words["today.title"])
    expect(page.get_by_test_id("current-user")).to_contain_text(ADVISOR["name"])
    before = open_repair_orders(page, live_server.url)

    form = open_new_ro(page)
    expect(form.locator("h1")).to_have_text(words["newro.title"])
    expect(page.get_by_test_id("submit-ro")).to_have_text(words["newro.submit"])

    plate = _plate()
    vin = valid_vin()
    promised = tomorrow_at(17, 0)
    job_title = "更换前刹车片" if lang == "zh-CN" else "Replace front brake pads"
    fill_new_ro(
        page,
        name="王先生" if lang == "zh-CN" else "Mr Wang",
        phone="13812345678",
        plate=plate,
        vin=vin,
        mileage=48210,
        fuel_eighths=4,
        concern="刹车时有异响" if lang == "zh-CN" else "Squeaks when braking",
        job_title=job_title,
        job_hours="1.5",
        promised=promised,
    )

    # A double tap must not create two repair orders.
    posts = _count_posts(page)
    page.get_by_test_id("submit-ro").dblclick()
    created = page.get_by_test_id("ro-created")
    expect(created).to_be_visible()
    expect(created).to_contain_text(words["newro.created"])
    number = created.get_attribute("data-number")
    assert number, "the success panel names no RO number"
    expect(created).to_contain_text(number)
    expect(created.locator(".status-link")).to_contain_text(f"{live_server.url}/s/")

    created.get_by_role("button", name=words["newro.backToToday"]).tap()
    card = page.locator(f'[data-testid="ro-card"][data-number="{number}"]')
    expect(card).to_be_visible()
    expect(card).to_contain_text(plate)
    expect(card).to_contain_text(f"{words['time.tomorrow']} 17:00")
    expect(page.locator("main h1")).to_have_text(words["today.title"])
    page.screenshot(path=str(shots / f"today-tablet-{lang}.png"))

    assert len(posts) == 1, [r.url for r in posts]
    after = open_repair_orders(page, live_server.url)
    mine = [ro for ro in after if ro["vehicle"]["plate"] == plate]
    assert len(mine) == 1, mine
    assert len(after) == len(before) + 1
    ro = mine[0]
    assert ro["number"] == number
    assert ro["vehicle"]["vin"] == vin
    assert ro["mileage"] == 48210
    assert ro["fuel_level"] == 4
    assert datetime.fromisoformat(ro["promised_at"]) == promised
    assert len(ro["concerns"]) == 1
    assert [(j["title"], j["estimated_hours"]) for j in ro["jobs"]] == [(job_title, 1.5)]
    assert ro["customer"]["name"] == ("王先生" if lang == "zh-CN" else "Mr Wang")

    # The language toggle switches the screen in place and is remembered on this tablet.
    other = "en" if lang == "zh-CN" else "zh-CN"
    page.get_by_test_id("lang-toggle").tap()
    expect(page.locator("main h1")).to_have_text(TEXT[other]["today.title"])
    expect(card).to_contain_text(f"{TEXT[other]['time.tomorrow']} 17:00")
    expect(page.get_by_test_id("lang-toggle")).to_have_text(TEXT[other]["lang-toggle"])
    page.reload()
    expect(page.locator("main h1")).to_have_text(TEXT[other]["today.title"])
    expect(page.locator(f'[data-testid="ro-card"][data-number="{number}"]')).to_be_visible()
    assert page.evaluate("localStorage.getItem('bayline.lang')") == other


def test_wrong_pin_then_bad_vin_creates_nothing(live_server: LiveServer, new_tablet: Any) -> None:
    words = TEXT["en"]
    page = new_tablet(locale="en-US").new_page()
    page.goto(live_server.url + "/")

    # Wrong PIN: the error shows, the dots empty, and the same person can try again at once.
    tap_tile(page, ADVISOR["username"])
    enter_pin(page, WRONG_PIN)
    error = page.get_by_test_id("signin-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(words["signin.wrongPin"])
    expect(page.get_by_test_id("pin-display")).to_have_attribute("data-length", "0")
    expect(page.get_by_test_id("pin-display").locator(".dot.filled")).to_have_count(0)
    expect(page.get_by_test_id("today-list")).to_have_count(0)
    # The first digit of the next try clears the message.
    pin_key(page, ADVISOR["pin"][0]).tap()
    expect(error).to_be_hidden()
    pin_key(page, "back").tap()
    expect(page.get_by_test_id("pin-display")).to_have_attribute("data-length", "0")
    enter_pin(page, ADVISOR["pin"])
    expect(page.get_by_test_id("today-list")).to_be_visible()
    before = open_repair_orders(page, live_server.url)

    open_new_ro(page)
    plate = _plate()
    fields: dict[str, Any] = {
        "name": "Ms Chen",
        "phone": "13900001111",
        "plate": plate,
        "mileage": 1200,
        "fuel_eighths": 8,
        "concern": "Warning light on",
        "job_title": "Diagnose warning light",
        "job_hours": "0.5",
        "promised": tomorrow_at(10, 30),
    }
    posts = _count_posts(page)

    # A VIN with an O is caught on the tablet, next to the VIN field, before anything is sent.
    fill_new_ro(page, vin="LSVAB2C3OD4E5F6G7", **fields)
    page.get_by_test_id("submit-ro").tap()
    vin_error = page.locator('[data-testid="field-error"][data-field="vehicle.vin"]')
    expect(vin_error).to_have_text(words["newro.vinBadChars"])
    expect(vin_error).to_be_in_viewport()  # the form scrolls back up to it from the submit button
    assert posts == []

    # A VIN whose check digit is wrong only the server can spot: its message lands by the field too.
    page.locator('[name="vehicle.vin"]').fill(bad_check_digit_vin())
    expect(vin_error).to_have_count(0)  # typing clears the old message
    page.get_by_test_id("submit-ro").tap()
    expect(vin_error).to_be_visible()
    expect(vin_error).to_contain_text("check digit")
    expect(vin_error).to_have_count(1)
    expect(vin_error).to_be_in_viewport()
    # Next to the VIN field: inside the same .field wrapper as the VIN input.
    vin_field = page.locator(".field").filter(has=page.locator('[name="vehicle.vin"]'))
    expect(vin_field.locator('[data-testid="field-error"]')).to_have_count(1)
    expect(page.locator('[name="vehicle.vin"]')).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("ro-created")).to_have_count(0)
    expect(page.get_by_test_id("new-ro-form")).to_be_visible()
    assert len(posts) == 1

    after = open_repair_orders(page, live_server.url)
    assert [ro for ro in after if ro["vehicle"]["plate"] == plate] == []
    assert len(after) == len(before)
