"""The main screens, each with something on it, for the tests that look at all of them at once
(tests/browser/test_a11y.py, tests/browser/test_phone_layout.py).

`furnish()` gives a server of its own a busy shop: a car whose job is being worked on (a running
clock, a damage mark, a recommendation and two promise changes for the customer), and a finished job
waiting for its quality check. `open_screen()` signs the right person in on a fresh page and brings up
one screen, loaded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import TABLET, LiveServer
from tests.browser.ui import sign_in_to, staff_post, tap_tile, tomorrow_at, write_up

MANAGER = {"username": "gao.feng", "name": "高峰", "role": "manager", "pin": "5173"}
# A bilingual name, as many shops write them: the sign-in tile must still show sensible initials.
ADVISOR = {"username": "liu.yang", "name": "刘洋 Liu Yang", "role": "advisor", "pin": "4729"}
TECH = {"username": "ma.gong", "name": "马工", "role": "technician", "pin": "8164"}
STAFF = [MANAGER, ADVISOR, TECH]

# The staff app's screens open_screen() knows (the customer's page: open_status_page()).
SCREENS = ["signin", "pin", "board", "new-order", "walk-around", "qc-queue", "qc-checklist", "my-jobs"]


@dataclass
class Shop:
    server: LiveServer
    ro: dict[str, Any]  # the car in the workshop
    qc_job: int  # a finished job waiting for its quality check
    status_url: str


def furnish(server: LiveServer, browser: Any) -> Shop:
    """Repair orders, a damage mark, a recommendation and clock taps, through the API."""
    office_context, bay_context = browser.new_context(**TABLET), browser.new_context(**TABLET)
    try:
        office = office_context.new_page()
        office.goto(server.url + "/")
        sign_in_to(office, MANAGER, "today-list")
        ro = write_up(
            office,
            server.url,
            customer={"name": "周杰", "phone": "13722223333", "language": "zh-CN"},
            vehicle={"plate": "沪C24680", "make": "Honda", "model": "Accord", "color": "Silver"},
            concern="Squeal from the front when braking",
            job="Replace front brake pads",
            promised_hour=15,
        )
        done = write_up(
            office,
            server.url,
            customer={"name": "Anna Schmidt", "phone": "13811112222", "language": "en"},
            vehicle={"plate": "沪A11223", "make": "BYD", "model": "Han"},
            concern="Service due",
            job="Oil and filter change",
            promised_hour=12,
        )
        staff = office.request.get(server.url + "/api/staff").json()
        tech_id = next(s["id"] for s in staff if s["username"] == TECH["username"])
        for job in (ro["jobs"][0], done["jobs"][0]):
            staff_post(office, f"{server.url}/api/jobs/{job['id']}/assign", {"technician_id": tech_id})
        staff_post(
            office,
            f"{server.url}/api/repair-orders/{ro['id']}/jobs",
            {"title": "Rear wiper blades", "estimated_hours": 0.2, "price": 120, "needs_approval": True},
        )
        # Two promise changes: the customer's page shows the latest and folds the earlier away.
        for hour, reason in ((16, "Waiting for the brake pads"), (17, "The pads came late")):
            staff_post(
                office,
                f"{server.url}/api/repair-orders/{ro['id']}/promise",
                {"promised_at": tomorrow_at(hour).isoformat(), "reason": reason},
            )
        walk_url = f"{server.url}/api/repair-orders/{ro['id']}/walkaround"
        mark = {"id": "m1", "view": "left", "x": 0.6, "y": 0.55, "type": "dent", "note": ""}
        response = office.request.put(
            walk_url,
            data={"marks": [mark], "fuel_level": 5, "mileage": 30000},
            headers=_csrf(office),
        )
        assert response.ok, response.text()

        bay = bay_context.new_page()
        bay.goto(server.url + "/")
        sign_in_to(bay, TECH, "my-jobs")
        staff_post(bay, f"{server.url}/api/attendance/clock-in", {})
        staff_post(bay, f"{server.url}/api/jobs/{done['jobs'][0]['id']}/clock-on", {})
        staff_post(bay, f"{server.url}/api/jobs/{done['jobs'][0]['id']}/clock-off", {"reason": "finished"})
        staff_post(bay, f"{server.url}/api/jobs/{ro['jobs'][0]['id']}/clock-on", {})
    finally:
        office_context.close()
        bay_context.close()
    return Shop(server, ro, done["jobs"][0]["id"], ro["status_url"])


def _csrf(page: Page) -> dict[str, str]:
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"x-csrftoken": csrf, "Idempotency-Key": str(uuid.uuid4())}


def open_screen(page: Page, shop: Shop, name: str) -> None:
    """Sign in as whoever uses screen `name` and wait until it shows what it loaded."""
    url = shop.server.url
    page.goto(url + "/")
    if name == "signin":
        expect(page.get_by_test_id("staff-tile")).to_have_count(len(STAFF))
        return
    if name == "pin":
        tap_tile(page, ADVISOR["username"])
        return
    if name == "my-jobs":
        sign_in_to(page, TECH, "my-jobs")
        expect(page.locator('[data-testid="job-card"][data-running="true"]')).to_be_visible()
        return
    sign_in_to(page, MANAGER, "today-list")
    if name == "board":
        expect(page.get_by_test_id("ro-card")).to_have_count(2)
    elif name == "new-order":
        page.get_by_test_id("new-ro-button").click()
        expect(page.get_by_test_id("new-ro-form")).to_be_visible()
    elif name == "walk-around":
        page.evaluate(f"location.hash = '#/walkaround/{shop.ro['id']}'")
        expect(page.get_by_test_id("mark-item")).to_have_count(1)
    elif name == "qc-queue":
        page.get_by_test_id("nav-qc").click()
        expect(page.locator(f'[data-testid="qc-job"][data-job="{shop.qc_job}"]')).to_be_visible()
    elif name == "qc-checklist":
        page.evaluate(f"location.hash = '#/qc/{shop.qc_job}'")
        expect(page.get_by_test_id("qc-item").first).to_be_visible()
    else:
        raise ValueError(name)


def open_status_page(page: Page, shop: Shop, lang: str) -> None:
    page.goto(f"{shop.server.url}{shop.status_url}?lang={lang}")
    expect(page.get_by_test_id("stages")).to_be_visible()
    expect(page.get_by_test_id("promise-change")).to_be_visible()
