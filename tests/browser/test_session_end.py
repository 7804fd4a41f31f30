"""In real Chromium: a tablet whose session ends on the server (here: the person is deactivated in
the administration) is asked to sign in again at once by its live stream (close code 4401), instead
of showing the board and reconnecting for ever."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ADVISOR, MANAGER, LiveServer
from tests.browser.ui import add_staff, sign_in


def test_deactivated_person_is_asked_to_sign_in_again(live_server: LiveServer, new_tablet: Any) -> None:
    office = new_tablet(locale="en-US").new_page()
    r = office.request.post(
        f"{live_server.url}/api/auth/login", data={"username": MANAGER["username"], "pin": MANAGER["pin"]}
    )
    assert r.ok, r.text()
    person = {"username": "zhou.jie", "name": "周杰", "role": "advisor", "pin": "6170"}
    added = add_staff(office, live_server.url, person)

    tablet = new_tablet(locale="en-US").new_page()
    sockets: list[str] = []
    tablet.on("websocket", lambda ws: sockets.append(ws.url))
    tablet.goto(live_server.url + "/")
    sign_in(tablet, person)
    expect(tablet.get_by_test_id("live-state")).to_have_attribute("data-state", "live")

    # The manager unticks "active" in the administration.
    csrf = next(c["value"] for c in office.context.cookies() if c["name"] == "csrftoken")
    r = office.request.patch(
        f"{live_server.url}/admin/api/tables/staff/{added['id']}/",
        data={"active": False},
        headers={"x-csrftoken": csrf},
    )
    assert r.ok, r.text()

    # Within the server's session check the tablet is back at "Who are you?", saying why.
    expect(tablet.get_by_test_id("staff-tile").first).to_be_visible(timeout=15_000)
    expect(tablet.locator("#toast")).to_contain_text("Your session ended")
    gone = tablet.locator(f'[data-testid="staff-tile"][data-username="{person["username"]}"]')
    expect(gone).to_have_count(0)  # and no longer offered on this tablet
    assert len(sockets) == 1, sockets


def test_a_foreign_csrf_token_is_refused_then_replaced_by_the_sessions_own(
    live_server: LiveServer, new_tablet: Any
) -> None:
    """The token is bound to the session: a token minted for someone else is refused (403), and
    web/js/api.js fetches the session's own and retries once, so the tablet never notices."""
    import urllib.request

    with urllib.request.urlopen(live_server.url + "/api/health", timeout=10) as anonymous:  # noqa: S310
        minted = next(
            h.split(";")[0].split("=", 1)[1]
            for h in anonymous.headers.get_all("Set-Cookie")
            if h.startswith("csrftoken=")
        )
    tablet = new_tablet(locale="en-US").new_page()
    tablet.goto(live_server.url + "/")
    sign_in(tablet, ADVISOR)
    tablet.context.add_cookies([{"name": "csrftoken", "value": minted, "url": live_server.url}])
    refused: list[int] = []
    tablet.on("response", lambda r: r.url.endswith("/api/auth/logout") and refused.append(r.status))

    # Any request of the app's would do; this one's effect is easy to see from outside.
    tablet.evaluate("import('/web/js/api.js').then((api) => api.post('/api/auth/logout'))")

    assert refused == [403, 204], refused
    token = next(c["value"] for c in tablet.context.cookies() if c["name"] == "csrftoken")
    assert token != minted
    assert tablet.request.get(live_server.url + "/api/auth/me").status == 401, "the retry went through"
