"""Two tablets in real Chromium: a clock tap on one shows on the other from the live event alone.

The board (an advisor) and the technician's My jobs are open. A tap changes both without either
asking the server again for what it shows (no GET /api/repair-orders[/<id>], no GET /api/me/jobs);
an event lost on the way (a gap in seq) makes both read everything again, and what the lost event
said shows. Each tablet's shop stream passes through the test (Playwright's WebSocket routing), so
an event can be lost on purpose; each page notes the GETs it asks for as it asks them; the pages'
clock is Playwright's, so every timer a screen set (its coalescing, its delayed reads) is run on
demand before the requests are counted.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from tests.browser.conftest import ADVISOR, MANAGER, LiveServer
from tests.browser.ui import add_staff, sign_in, sign_in_to, staff_post, write_up

TECH = {"username": "lu.gong", "name": "陆工", "role": "technician", "pin": "5928"}

# Every GET the page asks for, as it asks (the app reads through fetch; its module scripts run
# after this). Requests of the page: the service worker's own precaching is not the screens'.
NOTE_GETS = """
window.__gets = [];
const realFetch = window.fetch.bind(window);
window.fetch = (input, init) => {
  const method = String((init && init.method) || (input && input.method) || 'GET').toUpperCase();
  const url = typeof input === 'string' ? input : input.url;
  if (method === 'GET') window.__gets.push(new URL(url, location.href).pathname);
  return realFetch(input, init);
};
"""
READS = re.compile(r"^/api/(repair-orders(/\d+)?|me/jobs|qc/queue|clock-entries/review)$")


class Stream:
    """One tablet's /ws/shop, passed on by the test: `lose` events (seq-numbered messages) are
    dropped on their way to the page."""

    def __init__(self, context: BrowserContext) -> None:
        self.lose = 0
        self.lost: list[str] = []
        context.route_web_socket(re.compile(r"/ws/shop"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def down(message: str | bytes) -> None:
            text = message if isinstance(message, str) else message.decode()
            if self.lose and '"seq"' in text:
                self.lose -= 1
                self.lost.append(text)
                return
            ws.send(message)

        server.on_message(down)


def tablet(new_tablet: Any) -> tuple[BrowserContext, Stream]:
    context = new_tablet(locale="en-US")
    context.add_init_script(NOTE_GETS)
    context.clock.install()  # time flows as usual; run_for() fires the due timers at once
    return context, Stream(context)


def reads(page: Page) -> list[str]:
    """The screens' reads the page asked for since the last call, once every pending timer ran."""
    page.clock.run_for(3000)
    asked: list[str] = page.evaluate("window.__gets.splice(0)")
    return [path for path in asked if READS.match(path)]


def test_a_tap_shows_on_the_other_tablet_from_the_event_and_a_lost_event_reads_again(
    live_server: LiveServer, new_tablet: Any
) -> None:
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    tech = add_staff(office, live_server.url, TECH)
    ro = write_up(
        office,
        live_server.url,
        customer={"name": "钱多", "phone": "13655556666", "language": "zh-CN"},
        vehicle={"plate": "沪D13579", "make": "VW", "model": "Passat"},
        concern="Oil change",
        job="Oil and filter",
        promised_hour=17,
    )
    job = ro["jobs"][0]
    staff_post(office, f"{live_server.url}/api/jobs/{job['id']}/assign", {"technician_id": tech["id"]})

    board_context, board_stream = tablet(new_tablet)
    board = board_context.new_page()
    board.goto(live_server.url + "/")
    sign_in(board, ADVISOR)
    bay_context, bay_stream = tablet(new_tablet)
    bay = bay_context.new_page()
    bay.goto(live_server.url + "/")
    sign_in_to(bay, TECH, "my-jobs")
    for page in (board, bay):
        expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    line = board.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"] [data-job="{job["id"]}"]')
    card = bay.locator(f'[data-testid="job-card"][data-job="{job["id"]}"]')
    expect(line).to_have_attribute("data-state", "assigned")
    expect(card).to_have_attribute("data-state", "assigned")
    assert "/api/repair-orders" in reads(board) and "/api/me/jobs" in reads(bay)  # the first reads

    # The technician starts the job on the bay tablet: both screens follow, neither reads again.
    card.get_by_test_id("start-job").tap()
    expect(card).to_have_attribute("data-running", "true")
    expect(card).to_have_attribute("data-state", "in_progress")
    expect(line).to_have_attribute("data-state", "in_progress")
    assert reads(board) == [] and reads(bay) == []

    # Stopped from elsewhere (the same person's session, not this screen): the bay tablet learns
    # it from the event only.
    staff_post(bay, f"{live_server.url}/api/jobs/{job['id']}/clock-off", {"reason": "break"})
    expect(card).to_have_attribute("data-running", "false")
    expect(card).to_have_attribute("data-state", "paused")
    expect(line).to_have_attribute("data-state", "paused")
    expect(card.get_by_test_id("start-job")).to_be_visible()
    assert reads(board) == [] and reads(bay) == []

    # An event lost on the way: the next one shows a gap in seq, and both read what they show.
    # The start again is three events (the tap, the job, the stage); the tap itself is lost, and
    # only a read can tell the bay tablet that its clock runs.
    board_stream.lose = bay_stream.lose = 1
    staff_post(bay, f"{live_server.url}/api/jobs/{job['id']}/clock-on", {})
    expect(card).to_have_attribute("data-running", "true")
    expect(line).to_have_attribute("data-state", "in_progress")
    assert [len(board_stream.lost), len(bay_stream.lost)] == [1, 1]
    assert '"clock.on"' in bay_stream.lost[0]
    assert reads(board) == ["/api/repair-orders"]
    assert reads(bay) == ["/api/me/jobs"]
