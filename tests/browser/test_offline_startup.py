"""Offline startup of the staff app, in real Chromium (issue 11, items 1 and 2).

A signed-in tablet reopens from what it keeps (who is signed in, what each screen last loaded, the
outbox) when it is reloaded with the Wi-Fi gone: the technician still sees their jobs and can stop
the running clock. Every screen shows what it last loaded, marked as not fresh with the time it was
loaded (shop time, both languages), and refreshes by itself when the network is back.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import ADVISOR, MANAGER, live_server_at
from tests.browser.ui import (
    SHOP_ZONE,
    fill_new_ro,
    open_new_ro,
    poll,
    sign_in,
    sign_in_to,
    staff_post,
    tomorrow_at,
    valid_vin,
    write_up,
)

TECH = {"username": "ma.gong", "name": "马工", "role": "technician", "pin": "8147"}
WAIT_MS = 10_000  # every step on the tablet itself
SYNC_MS = 20_000  # from the network coming back to the server having everything
# The tablets below run on another zone than the shop's (Asia/Shanghai): times must be the shop's.
TABLET_ZONE = "Europe/Berlin"
STALE = {"en": "Not up to date", "zh-CN": "不是最新"}


def badge_count(page: Page, count: int, timeout: int = WAIT_MS) -> None:
    expect(page.get_by_test_id("outbox-badge")).to_have_attribute("data-count", str(count), timeout=timeout)


def controlled_by_service_worker(page: Page) -> None:
    """The shell is cached and the worker answers this page's navigations (so a reload works offline)."""
    poll(page, "() => navigator.serviceWorker.controller !== null", timeout_ms=WAIT_MS)


def expect_stale_mark(page: Page, lang: str, loaded_after: datetime, loaded_before: datetime) -> None:
    """The "not fresh" mark, with the time the data was loaded in the shop's zone."""
    mark = page.get_by_test_id("stale-mark")
    expect(mark).to_be_visible(timeout=WAIT_MS)
    expect(mark).to_contain_text(STALE[lang])
    when = mark.locator("time")
    stamp = when.get_attribute("datetime")
    assert stamp, "the mark names when the data was loaded"
    loaded = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert loaded_after <= loaded <= loaded_before, (loaded_after, loaded, loaded_before)
    expect(when).to_contain_text(loaded.astimezone(SHOP_ZONE).strftime("%H:%M"))


def now() -> datetime:
    return datetime.now(SHOP_ZONE)


def test_a_signed_in_tablet_reloaded_offline_reopens_from_its_cache_and_stops_the_clock(
    new_tablet: Any, shots: Path
) -> None:
    with live_server_at([MANAGER, TECH]) as server:
        office = new_tablet(locale="en-US").new_page()
        office.goto(server.url + "/")
        sign_in(office, MANAGER)
        ro = write_up(
            office,
            server.url,
            customer={"name": "吴刚", "phone": "13911112222", "language": "zh-CN"},
            vehicle={"plate": "沪G86420", "make": "Toyota", "model": "Camry"},
            concern="Vibration at 100 km/h",
            job="Balance the wheels",
            promised_hour=15,
        )
        job = ro["jobs"][0]
        ((tech_id,),) = server.query(f"SELECT id FROM staff WHERE username = '{TECH['username']}'")
        staff_post(office, f"{server.url}/api/jobs/{job['id']}/assign", {"technician_id": tech_id})

        # ---- the bay tablet: signed in, the day started, the jobs loaded ----
        started = now()
        bay_context = new_tablet(locale="en-US", timezone_id=TABLET_ZONE)
        bay = bay_context.new_page()
        bay.goto(server.url + "/")
        sign_in_to(bay, TECH, "my-jobs")
        card = bay.locator(f'[data-testid="job-card"][data-job="{job["id"]}"]')
        expect(card).to_have_attribute("data-state", "assigned")
        expect(bay.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        bay.get_by_test_id("clock-in").tap()
        expect(bay.get_by_test_id("shift-bar")).to_have_attribute("data-on-shift", "true")
        poll(bay, "() => !document.querySelector('[data-testid=clock-out]')?.disabled")
        controlled_by_service_worker(bay)
        expect(bay.get_by_test_id("stale-mark")).to_be_hidden()

        # ---- the Wi-Fi drops; the technician starts the job, then the tablet is reloaded ----
        bay_context.set_offline(True)
        went_offline = now()
        card.get_by_test_id("start-job").tap()
        expect(card).to_have_attribute("data-running", "true", timeout=WAIT_MS)
        expect(card.get_by_test_id("queued-tap")).to_be_visible(timeout=WAIT_MS)
        badge_count(bay, 1)

        response = bay.reload()
        assert response is not None and response.from_service_worker
        # No "can't reach the server": the same person, their jobs as last loaded, the running clock.
        expect(bay.get_by_test_id("current-user")).to_contain_text(TECH["name"], timeout=WAIT_MS)
        expect(bay).to_have_url(f"{server.url}/#/my-jobs")
        expect(card).to_be_visible(timeout=WAIT_MS)
        expect(card).to_contain_text("沪G86420")
        expect(card).to_have_attribute("data-running", "true")
        expect(card.get_by_test_id("queued-tap")).to_be_visible()
        expect(bay.get_by_test_id("shift-bar")).to_have_attribute("data-on-shift", "true")
        badge_count(bay, 1)
        expect_stale_mark(bay, "en", started, went_offline)
        bay.screenshot(path=str(shots / "my-jobs-reopened-offline.png"), full_page=True)
        # ...in the other language too, with the same shop time.
        bay.get_by_test_id("lang-toggle").tap()
        expect_stale_mark(bay, "zh-CN", started, went_offline)
        bay.get_by_test_id("lang-toggle").tap()
        expect_stale_mark(bay, "en", started, went_offline)

        # Stop the running clock, still offline: it goes into the outbox like any tap.
        card.get_by_test_id("stop-job").tap()
        bay.get_by_test_id("stop-reason-break").tap()
        expect(card).to_have_attribute("data-running", "false", timeout=WAIT_MS)
        badge_count(bay, 2)
        assert server.query(f"SELECT COUNT(*) FROM clock_entry WHERE job = {job['id']}") == [(0,)]

        # ---- the network is back: nobody taps anything ----
        bay_context.set_offline(False)
        badge_count(bay, 0, timeout=SYNC_MS)
        expect(bay.get_by_test_id("stale-mark")).to_be_hidden(timeout=SYNC_MS)
        expect(bay.get_by_test_id("live-state")).to_have_attribute("data-state", "live", timeout=SYNC_MS)
        expect(card).to_have_attribute("data-state", "paused", timeout=WAIT_MS)
        expect(card.get_by_test_id("queued-tap")).to_have_count(0)
        entries = server.query(
            f"SELECT technician, reason, ended_at FROM clock_entry WHERE job = {job['id']}"
        )
        assert len(entries) == 1, entries
        assert entries[0][0] == tech_id and entries[0][1] == "break" and entries[0][2] is not None, entries


def test_the_board_keeps_what_it_loaded_when_the_advisor_moves_between_screens_offline(
    new_tablet: Any, shots: Path
) -> None:
    with live_server_at([MANAGER, ADVISOR]) as server:
        started = now()
        context = new_tablet(locale="zh-CN", timezone_id=TABLET_ZONE)
        page = context.new_page()
        page.goto(server.url + "/")
        sign_in(page, ADVISOR)
        ro = write_up(
            page,
            server.url,
            customer={"name": "郑洁", "phone": "13622223333", "language": "zh-CN"},
            vehicle={"plate": "沪H13579", "make": "Buick", "model": "GL8"},
            concern="Air conditioning weak",
            job="Recharge the A/C",
            promised_hour=17,
        )
        card = page.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
        expect(card).to_be_visible(timeout=WAIT_MS)
        controlled_by_service_worker(page)
        expect(page.get_by_test_id("stale-mark")).to_be_hidden()
        # A look at the car's walk-around, then back to the board.
        card.get_by_test_id("walkaround-button").tap()
        expect(page.get_by_test_id("walk-mileage")).to_have_value("30000", timeout=WAIT_MS)
        expect(page.get_by_test_id("stale-mark")).to_be_hidden()
        # (the board shows what it kept at once, then loads: wait for the load before the Wi-Fi drops)
        with page.expect_response(lambda r: r.url.endswith("/api/repair-orders") and r.ok):
            page.get_by_test_id("nav-today").tap()
        expect(card).to_be_visible(timeout=WAIT_MS)

        # ---- offline: a new repair order, then back to the board ----
        context.set_offline(True)
        went_offline = now()
        plate = f"沪J{secrets.randbelow(10**5):05d}"
        open_new_ro(page)
        fill_new_ro(
            page,
            name="钱女士",
            phone="13600002468",
            plate=plate,
            vin=valid_vin("LFV2A21K5G3123456"),
            mileage=42000,
            fuel_eighths=4,
            concern="Brake pedal soft",
            job_title="Bleed the brakes",
            job_hours="1",
            promised=tomorrow_at(16, 0),
        )
        page.get_by_test_id("submit-ro").tap()
        expect(page.get_by_test_id("ro-queued")).to_be_visible(timeout=WAIT_MS)
        page.get_by_test_id("queued-back").tap()

        pending = page.locator(f'[data-testid="pending-ro"][data-plate="{plate}"]')
        expect(pending).to_be_visible(timeout=WAIT_MS)
        # The board as last loaded stays, beside the queued card, marked as not fresh.
        expect(card).to_be_visible(timeout=WAIT_MS)
        expect(card).to_contain_text("沪H13579")
        expect_stale_mark(page, "zh-CN", started, went_offline)
        page.screenshot(path=str(shots / "board-offline-after-new-ro.png"), full_page=True)

        # A reload with the Wi-Fi still down opens the same board, not an error page.
        page.reload()
        expect(card).to_be_visible(timeout=WAIT_MS)
        expect(pending).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_test_id("current-user")).to_contain_text(ADVISOR["name"])
        expect_stale_mark(page, "zh-CN", started, went_offline)
        badge_count(page, 1)
        # ...and so does the walk-around looked at before.
        card.get_by_test_id("walkaround-button").tap()
        expect(page.get_by_test_id("walk-mileage")).to_have_value("30000", timeout=WAIT_MS)
        expect_stale_mark(page, "zh-CN", started, went_offline)
        page.get_by_test_id("nav-today").tap()
        expect(card).to_be_visible(timeout=WAIT_MS)

        # ---- back online: the board refreshes by itself, the queued order reaches the server ----
        context.set_offline(False)
        badge_count(page, 0, timeout=SYNC_MS)
        expect(page.get_by_test_id("stale-mark")).to_be_hidden(timeout=SYNC_MS)
        expect(page.get_by_test_id("pending-ro")).to_have_count(0, timeout=WAIT_MS)
        expect(page.get_by_test_id("ro-card").filter(has_text=plate)).to_have_count(1, timeout=WAIT_MS)
        expect(card).to_be_visible()


KEPT_KEYS = """() => Object.keys(localStorage).filter((k) => k.startsWith('bayline.screen.') || k === 'bayline.session')"""


def test_a_kept_session_is_only_for_showing_the_server_decides_once_it_answers(new_tablet: Any) -> None:
    with live_server_at([MANAGER, ADVISOR]) as server:
        context = new_tablet(locale="en-US")
        page = context.new_page()
        page.goto(server.url + "/")
        sign_in(page, ADVISOR)
        ro = write_up(
            page,
            server.url,
            customer={"name": "冯伟", "phone": "13633334444", "language": "zh-CN"},
            vehicle={"plate": "沪K24680", "make": "Nissan", "model": "Sylphy"},
            concern="Wipers streak",
            job="Replace wiper blades",
            promised_hour=12,
        )
        card = page.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
        expect(card).to_be_visible(timeout=WAIT_MS)
        controlled_by_service_worker(page)
        poll(page, f"() => ({KEPT_KEYS})().length >= 2")

        # The app is closed; meanwhile the server ends this browser's session (the cookie goes with
        # it), and the tablet is opened again with the Wi-Fi gone: it cannot know yet.
        page.close()
        csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
        ended = context.request.post(
            f"{server.url}/api/auth/logout",
            headers={"x-csrftoken": csrf, "Idempotency-Key": secrets.token_hex(16)},
        )
        assert ended.status == 204, ended.text()
        context.set_offline(True)
        page = context.new_page()
        response = page.goto(server.url + "/")
        assert response is not None and response.from_service_worker
        card = page.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
        expect(card).to_be_visible(timeout=WAIT_MS)  # what it kept, marked as such
        expect(page.get_by_test_id("stale-mark")).to_be_visible()

        # The network is back: the server's word wins, sign-in is asked for, the kept data is gone.
        context.set_offline(False)
        expect(page.get_by_test_id("staff-tile").first).to_be_visible(timeout=SYNC_MS)
        expect(page).to_have_url(f"{server.url}/#/signin")
        expect(page.get_by_test_id("current-user")).to_be_hidden()
        expect(page.locator("#toast")).to_contain_text("Your session ended")
        assert page.evaluate(KEPT_KEYS) == []
        expect(card).to_have_count(0)

        # Signed in again, a switch of user forgets what this person's screens kept.
        sign_in(page, ADVISOR)
        expect(card).to_be_visible(timeout=WAIT_MS)
        poll(page, f"() => ({KEPT_KEYS})().length >= 2")
        page.get_by_test_id("switch-user").tap()
        expect(page.get_by_test_id("staff-tile").first).to_be_visible(timeout=WAIT_MS)
        assert page.evaluate(KEPT_KEYS) == []


def test_the_service_worker_keeps_every_module_of_the_app() -> None:
    """A module missing from the precached shell breaks the offline start the first time it is needed."""
    root = Path(__file__).resolve().parents[2]
    shell = set(re.findall(r"'(/web/js/[\w.-]+\.js)'", (root / "web/sw.js").read_text()))
    modules = {f"/web/js/{p.name}" for p in (root / "web/js").glob("*.js")}
    assert modules <= shell, sorted(modules - shell)
