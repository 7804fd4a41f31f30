"""Dispatch (派工) in real Chromium: the foreman gives waiting jobs to technicians by tap on #/dispatch
(tap the job, then the technician; or the technician's "+"), moves one to another technician, and
each technician's "My jobs" on their own bay tablet follows live. Once in zh-CN, once in en."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import MANAGER, live_server_at
from tests.browser.test_a11y import axe_report, switch_language
from tests.browser.ui import sign_in, sign_in_to, staff_post, tomorrow_at, valid_vin

FOREMAN = {"username": "ma.gong", "name": "马强", "role": "foreman", "pin": "6284"}
TECH = {"username": "wang.gong", "name": "王工", "role": "technician", "pin": "7391"}
OTHER = {"username": "liu.gong", "name": "刘洋", "role": "technician", "pin": "8352"}

WORDS = {
    "en": {"title": "Dispatch", "queued": "queued", "none": "Every job has a technician."},
    "zh-CN": {"title": "派工", "queued": "已排", "none": "所有项目都已派工。"},
}


def _write_up(page: Page, url: str) -> dict[str, Any]:
    body = {
        "customer": {"name": "周杰", "phone": "13722223333", "language": "zh-CN"},
        "vehicle": {"plate": "沪C24680", "make": "Honda", "model": "Accord", "vin": valid_vin()},
        "mileage": 30000,
        "concerns": ["Squeal from the front when braking"],
        "promised_at": tomorrow_at(15).isoformat(),
        "jobs": [
            {"title": "Replace front brake pads", "estimated_hours": 1.5},
            {"title": "Wheel alignment", "estimated_hours": 0.5},
        ],
    }
    return staff_post(page, f"{url}/api/repair-orders", body)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_foreman_assigns_by_tap_and_the_technicians_tablets_follow_live(
    lang: str, new_tablet: Any, shots: Path
) -> None:
    words = WORDS[lang]
    with live_server_at([MANAGER, FOREMAN, TECH, OTHER]) as server:
        desk = new_tablet(locale=lang).new_page()
        desk.goto(server.url + "/")
        sign_in(desk, FOREMAN)
        ro = _write_up(desk, server.url)
        brakes, alignment = (j["id"] for j in ro["jobs"])

        bay = new_tablet(locale=lang).new_page()
        bay.goto(server.url + "/")
        sign_in_to(bay, TECH, "my-jobs")
        expect(bay.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        expect(bay.get_by_test_id("job-card")).to_have_count(0)
        other_bay = new_tablet(locale=lang).new_page()
        other_bay.goto(server.url + "/")
        sign_in_to(other_bay, OTHER, "my-jobs")
        expect(other_bay.get_by_test_id("live-state")).to_have_attribute("data-state", "live")

        # ---- the foreman's dispatch screen ----
        desk.get_by_test_id("nav-dispatch").tap()
        expect(desk).to_have_url(f"{server.url}/#/dispatch")
        expect(desk.locator("h1")).to_have_text(words["title"])
        expect(desk.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        waiting = desk.get_by_test_id("dispatch-unassigned")
        expect(waiting.get_by_test_id("dispatch-job")).to_have_count(2)
        expect(desk.get_by_test_id("dispatch-count")).to_have_text("2")
        people = desk.request.get(f"{server.url}/api/dispatch").json()["technicians"]
        ids = {p["name"]: p["id"] for p in people}
        column = desk.locator(f'[data-testid="dispatch-tech"][data-tech="{ids[TECH["name"]]}"]')
        other_column = desk.locator(f'[data-testid="dispatch-tech"][data-tech="{ids[OTHER["name"]]}"]')
        expect(column).to_contain_text(TECH["name"])
        expect(column.get_by_test_id("dispatch-load")).to_contain_text(words["queued"])

        # Tap the job, then the technician.
        job = waiting.locator(f'[data-job="{brakes}"]')
        job.tap()
        expect(job).to_have_attribute("aria-pressed", "true")
        expect(desk.get_by_test_id("dispatch-hint")).to_contain_text("Replace front brake pads")
        column.locator("h3").tap()
        queued = column.locator(f'[data-testid="dispatch-queued"][data-job="{brakes}"]')
        expect(queued).to_be_visible()
        expect(queued).to_have_attribute("data-state", "assigned")
        expect(queued.get_by_test_id("dispatch-not-sent")).to_have_count(0)  # the server has it
        expect(desk.get_by_test_id("dispatch-count")).to_have_text("1")

        # The technician's tablet shows it live, without a reload.
        card = bay.locator(f'[data-testid="job-card"][data-job="{brakes}"]')
        expect(card).to_be_visible()
        expect(card).to_contain_text("沪C24680")

        # The other technician's "+", with the desk's Wi-Fi down: the waiting jobs to pick from; the
        # choice waits on the tablet, shown where it goes and marked as not sent yet.
        desk.context.set_offline(True)
        other_column.get_by_test_id("dispatch-add").tap()
        dialog = desk.get_by_test_id("dispatch-dialog")
        expect(dialog).to_be_visible()
        dialog.locator(f'[data-testid="dispatch-choice"][data-job="{alignment}"]').tap()
        expect(dialog).to_have_count(0)
        moved = other_column.locator(f'[data-testid="dispatch-queued"][data-job="{alignment}"]')
        expect(moved.get_by_test_id("dispatch-not-sent")).to_be_visible()
        expect(waiting.get_by_test_id("dispatch-none-waiting")).to_have_text(words["none"])
        desk.screenshot(path=str(shots / f"dispatch-{lang}.png"), full_page=True)
        expect(other_bay.locator(f'[data-testid="job-card"][data-job="{alignment}"]')).to_have_count(0)
        # The network is back: the outbox sends it, the mark goes, the technician's tablet has it.
        desk.context.set_offline(False)
        expect(moved.get_by_test_id("dispatch-not-sent")).to_have_count(0, timeout=15_000)
        expect(moved).to_be_visible()
        expect(other_bay.locator(f'[data-testid="job-card"][data-job="{alignment}"]')).to_be_visible()

        # Move the brakes job to the other technician: it leaves the first tablet and joins the other.
        queued.tap()
        expect(desk.get_by_test_id("dispatch-hint")).to_contain_text(TECH["name"])
        other_column.locator("h3").tap()
        expect(other_column.locator(f'[data-testid="dispatch-queued"][data-job="{brakes}"]')).to_be_visible()
        expect(column.get_by_test_id("dispatch-queued")).to_have_count(0)
        expect(card).to_have_count(0)
        expect(other_bay.locator(f'[data-testid="job-card"][data-job="{brakes}"]')).to_be_visible()
        # Two hours queued against the rest of the shift: the bar says whether it fits.
        expect(other_column.get_by_test_id("dispatch-bar")).to_have_attribute("aria-valuenow", "120")

        jobs = {
            j["id"]: j for j in desk.request.get(f"{server.url}/api/repair-orders/{ro['id']}").json()["jobs"]
        }
        assert jobs[brakes]["technician"]["id"] == ids[OTHER["name"]]
        assert jobs[alignment]["technician"]["id"] == ids[OTHER["name"]]


def test_axe_finds_nothing_wrong_on_dispatch_in_either_language(new_tablet: Any) -> None:
    """axe-core (tests/browser/test_a11y.py) on the screen with a job waiting, one queued and one
    picked, in English and in Chinese."""
    with live_server_at([MANAGER, FOREMAN, TECH]) as server:
        page = new_tablet(locale="en-US", bypass_csp=True).new_page()
        page.goto(server.url + "/")
        sign_in(page, FOREMAN)
        ro = _write_up(page, server.url)
        tech = page.request.get(f"{server.url}/api/dispatch").json()["technicians"][0]
        staff_post(page, f"{server.url}/api/jobs/{ro['jobs'][0]['id']}/assign", {"technician_id": tech["id"]})
        page.get_by_test_id("nav-dispatch").click()
        expect(page.get_by_test_id("dispatch-queued")).to_have_count(1)
        page.get_by_test_id("dispatch-job").click()
        expect(page.get_by_test_id("dispatch-cancel")).to_be_visible()
        problems = axe_report(page, "dispatch en")
        other = switch_language(page)
        problems += axe_report(page, f"dispatch {other}")
        assert not problems, f"axe-core found {len(problems)} problem line(s):\n" + "\n".join(problems)

        # With a mouse (or pen) the waiting job can be dragged onto a technician as well.
        page.get_by_test_id("dispatch-cancel").click()
        waiting = page.get_by_test_id("dispatch-job")
        target = page.locator(f'[data-testid="dispatch-tech"][data-tech="{tech["id"]}"]')
        start, end = waiting.bounding_box(), target.bounding_box()
        assert start is not None and end is not None
        page.mouse.move(start["x"] + 20, start["y"] + 20)
        page.mouse.down()
        page.mouse.move(start["x"] + 60, start["y"] + 40, steps=4)
        page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=8)
        expect(target).to_have_class(re.compile(r"\bis-drop\b"))
        page.mouse.up()
        expect(target.get_by_test_id("dispatch-queued")).to_have_count(2)
        expect(page.get_by_test_id("dispatch-job")).to_have_count(0)
