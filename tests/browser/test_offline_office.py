"""The office's actions go through the tablet's outbox too, in real Chromium: with the Wi-Fi down the
advisor moves a promise (the board shows the new time marked "not sent yet") and writes up a new
repair order (kept on the tablet, shown on the board as a pending card, no number or status link
invented); when the network is back both reach the server exactly once, from this tablet."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import ADVISOR, FROM_API, MANAGER, LiveServer, live_server_at
from tests.browser.ui import fill_new_ro, open_new_ro, sign_in, tomorrow_at, valid_vin, write_up

REASON = "Waiting for parts from the warehouse (sent from a tablet offline)"
WAIT_MS = 10_000  # every step on the tablet itself
SYNC_MS = 20_000  # from the network coming back to the server having everything


def badge_count(page: Page, count: int, timeout: int = WAIT_MS) -> None:
    expect(page.get_by_test_id("outbox-badge")).to_have_attribute("data-count", str(count), timeout=timeout)


def test_promise_change_and_new_repair_order_made_offline_reach_the_server_once(
    new_tablet: Any, shots: Path
) -> None:
    # Its own server: the checks below count rows in its database.
    with live_server_at([MANAGER, ADVISOR]) as server:
        office_offline_then_sync(server, new_tablet, shots)


def office_offline_then_sync(server: LiveServer, new_tablet: Any, shots: Path) -> None:
    context = new_tablet(locale="en-US")
    page = context.new_page()
    page.goto(server.url + "/")
    sign_in(page, ADVISOR)
    ro = write_up(
        page,
        server.url,
        customer={"name": "孙丽", "phone": "13700001234", "language": "en"},
        vehicle={"plate": "浙A24680", "make": "Honda", "model": "Accord"},
        concern="Rattle over bumps",
        job="Suspension check",
        promised_hour=16,
    )
    card = page.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
    expect(card).to_be_visible(timeout=WAIT_MS)
    (advisor_id,) = server.query(f"SELECT id FROM staff WHERE username = '{ADVISOR['username']}'")[0]

    # ---- the Wi-Fi drops; the advisor moves the promise anyway ----
    context.set_offline(True)
    card.get_by_test_id("change-promise").tap()
    dialog = page.get_by_test_id("promise-dialog")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    later = tomorrow_at(18, 30)
    dialog.get_by_test_id("promise-date").fill(later.strftime("%Y-%m-%d"))
    dialog.get_by_test_id("promise-time").fill(later.strftime("%H:%M"))
    dialog.get_by_test_id("promise-reason").fill(REASON)
    dialog.get_by_test_id("promise-save").tap()
    expect(dialog).to_be_hidden(timeout=WAIT_MS)
    expect(page.locator("#toast")).to_contain_text("saved on this tablet", timeout=WAIT_MS)
    expect(card.get_by_test_id("promise-pending")).to_be_visible(timeout=WAIT_MS)
    expect(card).to_contain_text("Tomorrow 18:30", timeout=WAIT_MS)
    badge_count(page, 1)

    # ---- and writes up a new repair order, still offline ----
    plate = f"沪D{secrets.randbelow(10**5):05d}"
    open_new_ro(page)
    fill_new_ro(
        page,
        name="Mr Offline",
        phone="13600004321",
        plate=plate,
        vin=valid_vin("LHGCV1F30K8A12345"),
        mileage=61200,
        fuel_eighths=6,
        concern="Check engine light",
        job_title="Read fault codes",
        job_hours="0.5",
        promised=tomorrow_at(17, 0),
    )
    page.get_by_test_id("submit-ro").tap()
    queued = page.get_by_test_id("ro-queued")
    expect(queued).to_be_visible(timeout=WAIT_MS)
    expect(queued).to_contain_text(plate)
    expect(queued).to_contain_text("gets its number and the customer’s status link")
    # Nothing invented: no number, no status link until the server has made them.
    expect(page.get_by_test_id("ro-created")).to_have_count(0)
    expect(page.locator(".status-link")).to_have_count(0)
    badge_count(page, 2)
    page.screenshot(path=str(shots / "new-ro-queued-offline.png"))

    page.get_by_test_id("queued-back").tap()
    pending = page.locator(f'[data-testid="pending-ro"][data-plate="{plate}"]')
    expect(pending).to_be_visible(timeout=WAIT_MS)
    expect(pending).to_contain_text("Mr Offline")
    expect(pending).to_contain_text("Not on the server yet")
    expect(pending).to_have_attribute("data-state", "pending")
    badge_count(page, 2)
    page.screenshot(path=str(shots / "board-pending-ro-offline.png"))

    # ---- the network comes back: everything is sent by itself ----
    context.set_offline(False)
    badge_count(page, 0, timeout=SYNC_MS)
    expect(page.get_by_test_id("pending-ro")).to_have_count(0, timeout=WAIT_MS)
    real = page.get_by_test_id("ro-card").filter(has_text=plate)
    expect(real).to_have_count(1, timeout=WAIT_MS)
    expect(real).to_contain_text("Mr Offline")
    expect(card.get_by_test_id("promise-pending")).to_have_count(0, timeout=WAIT_MS)
    expect(card).to_contain_text("Tomorrow 18:30", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "board-after-sync.png"))

    # ---- the server has each exactly once, from this tablet, credited to the advisor ----
    created = server.query(
        "SELECT r.id, r.number FROM repair_order r JOIN vehicle v ON r.vehicle = v.id"
        f" WHERE v.plate = '{plate}'"
    )
    assert len(created) == 1, created
    expect(real).to_have_attribute("data-number", created[0][1], timeout=WAIT_MS)
    changes = server.query(
        f"SELECT reason FROM promise_change WHERE repair_order = {ro['id']} AND reason = '{REASON}'"
    )
    assert len(changes) == 1, changes
    events = server.query(
        "SELECT actor, device_id, device_seq FROM event"
        f" WHERE type = 'promise.changed' AND repair_order = {ro['id']} AND data LIKE '%{REASON}%'"
    )
    assert len(events) == 1, events
    assert events[0][0] == f"staff:{advisor_id}" and events[0][1] and events[0][2] >= 1, events

    ledger = server.query(
        "SELECT actor, device_id, device_seq, body FROM idempotency_record WHERE device_id IS NOT NULL"
        " ORDER BY device_seq"
    )
    assert len(ledger) == 2, [
        row[:3] for row in ledger
    ]  # the write-up above went straight, not from the outbox
    assert {row[0] for row in ledger} == {f"staff:{advisor_id}"}
    assert len({row[1] for row in ledger}) == 1  # one tablet
    promise_row, new_ro_row = ledger  # in the order they were made on the tablet
    assert REASON in promise_row[3] and plate not in promise_row[3]
    assert plate in new_ro_row[3]


def test_what_the_server_refuses_later_is_shown_as_refused_not_lost(new_tablet: Any) -> None:
    with live_server_at([MANAGER, ADVISOR]) as server:
        refused_later(server, new_tablet)


def refused_later(server: LiveServer, new_tablet: Any) -> None:
    context = new_tablet(locale="en-US")
    page = context.new_page()
    page.goto(server.url + "/")
    sign_in(page, ADVISOR)
    ro = write_up(
        page,
        server.url,
        customer={"name": "周强", "phone": "13700005678", "language": "zh-CN"},
        vehicle={"plate": "浙B13579", "make": "VW", "model": "Passat"},
        concern="Noise from the front left",
        job="Wheel bearing check",
        promised_hour=16,
    )
    card = page.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
    expect(card).to_be_visible(timeout=WAIT_MS)

    # ---- offline: a promise change, then a new repair order (the advisor stays on its panel) ----
    context.set_offline(True)
    card.get_by_test_id("change-promise").tap()
    dialog = page.get_by_test_id("promise-dialog")
    dialog.get_by_test_id("promise-time").fill("19:00")
    dialog.get_by_test_id("promise-reason").fill("Bearing on back order")
    dialog.get_by_test_id("promise-save").tap()
    expect(dialog).to_be_hidden(timeout=WAIT_MS)
    expect(card.get_by_test_id("promise-pending")).to_be_visible(timeout=WAIT_MS)
    plate = f"沪E{secrets.randbelow(10**5):05d}"
    open_new_ro(page)
    fill_new_ro(
        page,
        name="Ms Later",
        phone="13600008765",
        plate=plate,
        vin=valid_vin(),
        mileage=1500,
        fuel_eighths=8,
        concern="First service",
        job_title="First service",
        job_hours="1",
        promised=tomorrow_at(11, 0),
    )
    page.get_by_test_id("submit-ro").tap()
    expect(page.get_by_test_id("ro-queued")).to_be_visible(timeout=WAIT_MS)
    badge_count(page, 2)

    # ---- back online: the server refuses the promise change, takes the repair order ----
    def refuse_promise(route: Route) -> None:
        route.fulfill(
            status=409,
            headers=FROM_API,
            content_type="application/json",
            body='{"status_code":409,"detail":"Someone else moved this promise meanwhile."}',
        )

    page.route("**/api/repair-orders/*/promise", refuse_promise)
    context.set_offline(False)
    # Still on the panel when it reaches the server: the real number and status link replace it.
    created = page.get_by_test_id("ro-created")
    expect(created).to_be_visible(timeout=SYNC_MS)
    expect(created.locator(".status-link")).to_contain_text(f"{server.url}/s/")
    number = created.get_attribute("data-number")
    assert number
    badge_count(page, 1)  # the refused change stays on the tablet, for a person to resolve
    created.get_by_role("button", name="Back to today’s vehicles").tap()
    expect(page.locator(f'[data-testid="ro-card"][data-number="{number}"]')).to_be_visible(timeout=WAIT_MS)
    expect(card.get_by_test_id("promise-parked")).to_be_visible(timeout=WAIT_MS)
    expect(card.get_by_test_id("promise-pending")).to_have_count(0)
    expect(card).to_contain_text("Tomorrow 16:00")  # the server's time, not the refused one

    # ---- a new repair order the server refuses later: its card says so and leads to the list ----
    def refuse_new_ro(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        route.fulfill(
            status=422,
            headers=FROM_API,
            content_type="application/json",
            body='{"status_code":422,"detail":"The promised time is in the past: choose a later time."}',
        )

    context.set_offline(True)
    other = f"沪F{secrets.randbelow(10**5):05d}"
    open_new_ro(page)
    fill_new_ro(
        page,
        name="Mr Refused",
        phone="13600001111",
        plate=other,
        vin=valid_vin(),
        mileage=2500,
        fuel_eighths=2,
        concern="Tyre pressure light",
        job_title="Check tyres",
        job_hours="0.5",
        promised=tomorrow_at(12, 0),
    )
    page.get_by_test_id("submit-ro").tap()
    expect(page.get_by_test_id("ro-queued")).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("queued-back").tap()
    pending = page.locator(f'[data-testid="pending-ro"][data-plate="{other}"]')
    expect(pending).to_have_attribute("data-state", "pending", timeout=WAIT_MS)
    page.route("**/api/repair-orders", refuse_new_ro)
    context.set_offline(False)
    expect(pending).to_have_attribute("data-state", "parked", timeout=SYNC_MS)
    expect(pending).to_contain_text("The promised time is in the past")
    badge_count(page, 2)
    pending.get_by_test_id("pending-ro-open-list").tap()
    expect(page.get_by_test_id("outbox-dialog")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator('[data-testid="outbox-item"][data-state="parked"]')).to_have_count(2)
    rows = server.query(
        f"SELECT COUNT(*) FROM repair_order r JOIN vehicle v ON r.vehicle = v.id WHERE v.plate = '{other}'"
    )
    assert rows == [(0,)]
