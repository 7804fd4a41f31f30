"""A returning customer, on the screens: the delivered order found again by plate, the vehicle's
history with the work declined last time, and a write-up that reuses the known car and customer,
carries that work forward and gives a job to a technician at once. In zh-CN and in en."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADVISOR, LiveServer
from tests.browser.ui import LOCALE, sign_in, staff_post, tomorrow_at, valid_vin

WORDS = {
    "en": {
        "find": "Find",
        "known": "Known vehicle",
        "declined": "Declined by the customer",
        "carried": "Carried forward",
    },
    "zh-CN": {"find": "查找", "known": "老客户车辆", "declined": "客户拒绝的建议项目", "carried": "已加入"},
}


def _last_visit(page: Page, base: str, plate: str, name: str) -> dict[str, Any]:
    """A visit that ended: the customer declined the recommended work, the car was delivered (API)."""
    body = {
        "customer": {"name": name, "phone": "13912340000", "language": "zh-CN"},
        "vehicle": {"plate": plate, "vin": valid_vin(), "make": "Volkswagen", "model": "Passat"},
        "mileage": 42000,
        "concerns": ["保养"],
        "promised_at": tomorrow_at(17).isoformat(),
        "jobs": [],
    }
    ro = staff_post(page, f"{base}/api/repair-orders", body)
    job = staff_post(
        page,
        f"{base}/api/repair-orders/{ro['id']}/jobs",
        {"title": "Wiper blades", "estimated_hours": 0.2, "price": 160, "needs_approval": True},
    )
    token = ro["status_url"].removeprefix("/s/")
    decided = page.request.post(
        f"{base}/api/status/{token}/approvals", data={"job_id": job["id"], "decision": "decline"}
    )
    assert decided.ok, decided.text()
    staff_post(page, f"{base}/api/repair-orders/{ro['id']}/ready", {})
    staff_post(page, f"{base}/api/repair-orders/{ro['id']}/deliver", {})
    return ro


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_returning_customer_found_and_written_up_again(
    live_server: LiveServer, new_tablet: Any, lang: str
) -> None:
    words = WORDS[lang]
    plate = f"苏E{secrets.randbelow(10**5):05d}"
    tech = {"username": f"h2.tech.{lang.lower()}", "name": f"周杰 {lang}", "pin": "6481"}
    live_server.cli(
        "staff",
        "add",
        "--username",
        tech["username"],
        "--name",
        tech["name"],
        "--role",
        "technician",
        "--pin",
        tech["pin"],
    )
    page = new_tablet(locale=LOCALE[lang]).new_page()
    page.goto(live_server.url + "/")
    sign_in(page, ADVISOR)
    first = _last_visit(page, live_server.url, plate, "陈先生")

    # Find: the delivered order, by a part of its plate typed in lower case.
    page.goto(live_server.url + "/#/find")
    expect(page.locator("main h1")).to_have_text(words["find"])
    page.get_by_test_id("find-input").fill(plate[1:].lower())
    card = page.get_by_test_id("find-card").and_(page.locator(f'[data-ro-id="{first["id"]}"]'))
    expect(card).to_have_attribute("data-stage", "delivered")
    expect(card).to_contain_text(plate)

    # Its vehicle's history shows the work the customer declined.
    card.get_by_test_id("find-vehicle").tap()
    visit = page.get_by_test_id("history-visit").first
    expect(visit).to_contain_text(first["number"])
    expect(visit.get_by_test_id("history-declined")).to_contain_text("Wiper blades")
    expect(visit).to_contain_text(words["declined"])

    # A new write-up: the plate is known; one tap fills customer and vehicle.
    page.goto(live_server.url + "/#/new")
    form = page.get_by_test_id("new-ro-form")
    form.locator('[name="vehicle.plate"]').fill(plate)
    known = page.get_by_test_id("known-vehicle")
    expect(known).to_contain_text(words["known"])
    expect(known).to_contain_text("陈先生")
    known.get_by_test_id("use-known").tap()
    expect(form.locator('[name="customer.name"]')).to_have_value("陈先生")
    expect(form.locator('[name="customer.phone"]')).to_have_value("13912340000")
    expect(form.locator('[name="vehicle.make"]')).to_have_value("Volkswagen")
    expect(page.get_by_test_id("last-mileage")).to_contain_text("42,000")

    # A lower mileage asks for confirmation before it is sent.
    form.locator('[name="mileage"]').fill("41000")
    confirm = page.get_by_test_id("mileage-confirm")
    expect(confirm).to_be_visible()
    form.locator('[name="mileage"]').fill("45100")
    expect(confirm).to_be_hidden()

    # Last visit's declined work, carried forward in one tap, given to the technician.
    carry = page.get_by_test_id("carry-row").filter(has_text="Wiper blades")
    carry.get_by_test_id("carry-forward").tap()
    expect(carry.get_by_test_id("carry-forward")).to_have_text(words["carried"])
    expect(form.locator('[name="job.title"]').first).to_have_value("Wiper blades")
    expect(form.locator('[name="job.price"]').first).to_have_value("160")
    tech_option = form.locator('[name="job.technician"]').first.locator("option", has_text=tech["name"])
    expect(tech_option).to_have_count(1)
    form.locator('[name="job.technician"]').first.select_option(label=tech["name"])
    form.locator('[name="concern"]').first.fill("雨刮异响" if lang == "zh-CN" else "Wipers squeak")
    page.get_by_test_id("submit-ro").tap()
    expect(page.get_by_test_id("ro-created")).to_be_visible()
    number = page.get_by_test_id("ro-created").get_attribute("data-number")

    # Read back: the same vehicle row, the carried job assigned, and both visits found by plate.
    hits = page.request.get(f"{live_server.url}/api/search", params={"q": plate}).json()["items"]
    assert [h["number"] for h in hits] == [number, first["number"]]
    assert hits[0]["vehicle_id"] == hits[1]["vehicle_id"] and hits[0]["customer_id"] == hits[1]["customer_id"]
    ro = page.request.get(f"{live_server.url}/api/repair-orders/{hits[0]['id']}").json()
    assert ro["mileage"] == 45100
    assert ro["jobs"][0]["title"] == "Wiper blades" and ro["jobs"][0]["state"] == "assigned"
    assert ro["jobs"][0]["technician"]["name"] == tech["name"]
