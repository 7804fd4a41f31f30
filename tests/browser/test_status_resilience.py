"""The customer's page in real Chromium when a refresh fails: it says so, retries, and catches up."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Route, expect

from tests.browser.conftest import ADVISOR, PHONE, LiveServer
from tests.browser.ui import sign_in, staff_post, tomorrow_at, write_up


def test_a_failed_refresh_is_retried_and_never_shown_as_live(
    live_server: LiveServer, new_tablet: Any
) -> None:
    board = new_tablet(locale="en-US").new_page()
    board.goto(live_server.url + "/")
    sign_in(board, ADVISOR)
    ro = write_up(
        board,
        live_server.url,
        customer={"name": "Wang Fang", "phone": "13911113333", "language": "en"},
        vehicle={"plate": "沪C24680", "make": "Honda", "model": "Fit"},
        concern="Brake noise",
        job="Brake inspection",
        promised_hour=16,
    )

    phone = new_tablet(locale="en-US", **PHONE).new_page()
    phone.goto(live_server.url + ro["status_url"])
    live = phone.get_by_test_id("live")
    banner = phone.locator("#offline")
    expect(phone.get_by_test_id("promised-at")).to_have_text("Tomorrow, 16:00")
    expect(live).to_be_visible()  # the stream is open and the page is current
    phone.evaluate("window.__notReloaded = true")

    # The page's own refreshes (fetches of this same page) fail until the network is back.
    broken = {"on": True}

    def page_fetch(route: Route) -> None:
        if broken["on"] and route.request.resource_type == "fetch":
            route.fulfill(status=500, body="upstream error")
        else:
            route.continue_()

    phone.route(re.compile(re.escape(live_server.url + ro["status_url"]) + r"\?"), page_fetch)
    move = f"{live_server.url}/api/repair-orders/{ro['id']}/promise"
    staff_post(board, move, {"promised_at": tomorrow_at(18, 30).isoformat(), "reason": "Waiting for parts"})
    expect(banner).to_be_visible()
    expect(banner).to_have_text("This page could not update. Trying again…")
    expect(live).to_be_hidden()  # stale data is never presented as live
    expect(phone.get_by_test_id("promised-at")).to_have_text("Tomorrow, 16:00")

    # A second change while refreshes still fail; retries keep going (with backoff) on their own.
    with phone.expect_request(lambda r: r.resource_type == "fetch" and "/s/" in r.url, timeout=10_000):
        staff_post(
            board, move, {"promised_at": tomorrow_at(19, 0).isoformat(), "reason": "Parts arrive late"}
        )
    expect(live).to_be_hidden()
    expect(banner).to_have_text("This page could not update. Trying again…")

    broken["on"] = False
    expect(phone.get_by_test_id("promised-at")).to_have_text("Tomorrow, 19:00", timeout=20_000)
    expect(phone.get_by_test_id("promise-reason")).to_have_text("Parts arrive late")
    expect(banner).to_be_hidden()
    expect(live).to_be_visible()
    assert phone.evaluate("window.__notReloaded") is True


def test_an_answers_notice_does_not_come_back_on_reload(live_server: LiveServer, new_tablet: Any) -> None:
    board = new_tablet(locale="en-US").new_page()
    board.goto(live_server.url + "/")
    sign_in(board, ADVISOR)
    ro = write_up(
        board,
        live_server.url,
        customer={"name": "Chen Jie", "phone": "13911114444", "language": "en"},
        vehicle={"plate": "沪D13579", "make": "Nissan", "model": "Sylphy"},
        concern="Oil change",
        job="Oil and filter",
        promised_hour=15,
    )
    phone = new_tablet(locale="en-US", **PHONE).new_page()
    page_url = live_server.url + ro["status_url"]
    phone.goto(page_url + "?lang=en&n=approved")  # where the no-JS form's answer lands
    expect(phone.get_by_test_id("notice")).to_contain_text("the work is approved")
    expect(phone).to_have_url(page_url + "?lang=en")
    phone.reload()
    expect(phone.get_by_test_id("promised-at")).to_have_text("Tomorrow, 15:00")
    expect(phone.get_by_test_id("notice")).to_have_count(0)
