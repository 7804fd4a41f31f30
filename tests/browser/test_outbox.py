"""The bay tablet's outbox in real Chromium: a clock tap made with the network cut is kept on the
tablet (badge, card mark, warning at sign-out), is never sent under a colleague's session, survives a
reload, rides out a 503, a captive portal's 200 page and an expired session, and reaches the server
exactly once, credited to the technician, at the time of the tap (RELIABILITY 15/16, small scale)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from playwright.sync_api import Route, expect

from tests.browser.conftest import ADVISOR, FROM_API, MANAGER, LiveServer, live_server_at
from tests.browser.ui import add_staff, sign_in, sign_in_to, staff_post, write_up

TECH = {"username": "liu.gong", "name": "刘工", "role": "technician", "pin": "5937"}


def rows(server: LiveServer, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{server.data_dir / 'bayline.sqlite3'}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_a_tap_made_offline_is_kept_then_sent_once_by_its_author(new_tablet: Any) -> None:
    # Its own server: the shared one's sign-in screen is expected to list exactly its two people.
    with live_server_at([MANAGER, ADVISOR]) as server:
        offline_tap_then_sync(server, new_tablet)


def offline_tap_then_sync(live_server: LiveServer, new_tablet: Any) -> None:
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    tech = add_staff(office, live_server.url, TECH)
    ro = write_up(
        office,
        live_server.url,
        customer={"name": "吴芳", "phone": "13855556666", "language": "zh-CN"},
        vehicle={"plate": "苏E13579", "make": "Buick", "model": "GL8", "color": "Black"},
        concern="Air conditioning weak",
        job="A/C service",
        promised_hour=16,
    )
    job_id = ro["jobs"][0]["id"]
    staff_post(office, f"{live_server.url}/api/jobs/{job_id}/assign", {"technician_id": tech["id"]})
    clock_events = f"SELECT actor, device_id, device_seq, device_at, received_at FROM event WHERE type = 'clock.on' AND data LIKE '%\"job_id\": {job_id}%'"

    bay_context = new_tablet(locale="en-US")
    bay = bay_context.new_page()
    bay.goto(live_server.url + "/")
    sign_in_to(bay, TECH, "my-jobs")

    # ---- the Wi-Fi drops; the technician starts the job anyway ----
    bay_context.set_offline(True)
    bay.get_by_test_id("start-job").tap()
    expect(bay.get_by_test_id("mine-error")).to_have_attribute(
        "data-i18n", "outbox.savedHere", timeout=15_000
    )
    badge = bay.get_by_test_id("outbox-badge")
    expect(badge).to_have_attribute("data-count", "1")
    expect(bay.get_by_test_id("queued-tap")).to_be_visible()
    tapped_at = bay.evaluate("Date.now()")

    # ---- they hand the tablet over: a warning, and the tap stays on the tablet ----
    bay.get_by_test_id("switch-user").tap()
    expect(bay.get_by_test_id("signout-unsent")).to_be_visible()
    bay.get_by_test_id("signout-unsent-ok").tap()
    bay_context.set_offline(False)
    sign_in(bay, ADVISOR)
    bay.reload()
    expect(bay.get_by_test_id("outbox-badge")).to_have_attribute("data-count", "1")
    bay.wait_for_timeout(3000)  # the outbox runs at start, on `online` and after sign-in: it must hold
    bay.get_by_test_id("outbox-badge").tap()  # what is on the tablet, and whose
    expect(bay.get_by_test_id("outbox-item")).to_have_count(1)
    expect(bay.get_by_test_id("outbox-item")).to_have_attribute("data-state", "pending")
    expect(bay.get_by_test_id("outbox-item")).to_contain_text(TECH["name"])
    expect(bay.get_by_test_id("outbox-item")).to_contain_text("Start a job")
    bay.keyboard.press("Escape")
    assert rows(live_server, clock_events) == [], "sent under the advisor's session"

    # ---- the technician comes back; the network is flaky ----
    answers = iter(["503", "captive", "401"])

    def flaky(route: Route) -> None:
        answer = next(answers, None)
        if answer == "503":
            route.fulfill(
                status=503, content_type="application/json", body='{"status_code":503,"detail":"busy"}'
            )
        elif answer == "captive":
            route.fulfill(
                status=200, content_type="text/html", body="<html><body>Sign in to Guest Wi-Fi</body></html>"
            )
        elif answer == "401":
            route.fulfill(
                status=401,
                headers=FROM_API,
                content_type="application/json",
                body='{"status_code":401,"detail":"Sign in first."}',
            )
        else:
            route.continue_()

    bay.route("**/api/jobs/*/clock-on", flaky)
    bay.get_by_test_id("switch-user").tap()
    sign_in_to(bay, TECH, "my-jobs")
    # 503 and the captive portal are retried with backoff; the 401 sends the technician to sign in.
    expect(bay.get_by_test_id("staff-tile").first).to_be_visible(timeout=30_000)
    expect(bay.get_by_test_id("outbox-badge")).to_have_attribute("data-count", "1")
    assert rows(live_server, clock_events) == []
    sign_in_to(bay, TECH, "my-jobs")
    expect(bay.get_by_test_id("outbox-badge")).to_be_hidden(timeout=20_000)
    expect(bay.get_by_test_id("stop-job")).to_be_visible()

    stored = rows(live_server, clock_events)
    assert len(stored) == 1, stored
    actor, device_id, device_seq, device_at, received_at = stored[0]
    assert actor == f"staff:{tech['id']}" and device_id and device_seq >= 1
    started = rows(live_server, f"SELECT started_at FROM clock_entry WHERE job = {job_id}")
    assert len(started) == 1
    # The entry starts when the finger came down, not when the network came back.
    assert datetime.fromisoformat(started[0][0]).timestamp() * 1000 <= tapped_at + 1000
    assert datetime.fromisoformat(received_at).timestamp() * 1000 > tapped_at + 4000
