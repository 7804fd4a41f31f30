"""Live, in real Chromium: the customer's phone and the workshop board follow each other without reloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ADVISOR, PHONE, LiveServer
from tests.browser.ui import sign_in, staff_post, tomorrow_at, write_up


def test_phone_follows_promise_change_and_board_sees_approval(
    live_server: LiveServer, new_tablet: Any, shots: Path
) -> None:
    tablet_ctx = new_tablet(locale="en-US")
    board = tablet_ctx.new_page()
    board.goto(live_server.url + "/")
    sign_in(board, ADVISOR)
    expect(board.get_by_test_id("live-state")).to_have_attribute("data-state", "live")

    ro = write_up(
        board,
        live_server.url,
        customer={"name": "王芳", "phone": "13911112222", "language": "zh-CN"},
        vehicle={"plate": "沪B67890", "make": "Toyota", "model": "Camry"},
        concern="刹车异响",
        job="Brake inspection",
        promised_hour=16,
    )
    job = staff_post(
        board,
        f"{live_server.url}/api/repair-orders/{ro['id']}/jobs",
        {"title": "Front brake pads", "estimated_hours": 1.2, "price": 680, "needs_approval": True},
    )
    # The new repair order arrives on the board by push (the stream), not by a reload.
    card = board.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
    expect(card).to_be_visible()
    expect(card.locator(f'[data-testid="job-line"][data-job="{job["id"]}"]')).to_have_attribute(
        "data-state", "recommended"
    )

    phone = new_tablet(locale="zh-CN", **PHONE).new_page()
    phone.goto(live_server.url + ro["status_url"])
    expect(phone.get_by_test_id("promised-at")).to_have_text("明天 16:00")
    expect(phone.get_by_test_id(f"approval-{job['id']}")).to_contain_text("¥680.00")
    phone.evaluate("window.__notReloaded = true")

    # The advisor moves the promise with a one-tap reason (written in the customer's language).
    card.get_by_test_id("change-promise").tap()
    dialog = board.get_by_test_id("promise-dialog")
    expect(dialog).to_be_visible()
    later = tomorrow_at(18, 30)
    dialog.get_by_test_id("promise-date").fill(later.strftime("%Y-%m-%d"))
    dialog.get_by_test_id("promise-time").fill(later.strftime("%H:%M"))
    dialog.get_by_test_id("reason-parts").tap()
    expect(dialog.get_by_test_id("promise-reason")).to_have_value("等待配件到货")
    dialog.get_by_test_id("promise-save").tap()
    expect(dialog).to_be_hidden()

    # The phone shows the new time and the reason without a reload.
    expect(phone.get_by_test_id("promised-at")).to_have_text("明天 18:30")
    expect(phone.get_by_test_id("promise-reason")).to_have_text("等待配件到货")
    assert phone.evaluate("window.__notReloaded") is True
    phone.screenshot(path=str(shots / "status-phone-promise-moved.png"), full_page=True)

    # The customer approves on the phone; the board shows it (and says so) without a reload.
    board.evaluate("window.__notReloaded = true")
    phone.get_by_test_id(f"approval-{job['id']}").get_by_role("button", name="同意").tap()
    expect(phone.get_by_test_id("notice")).to_contain_text("您已同意")
    line = card.locator(f'[data-testid="job-line"][data-job="{job["id"]}"]')
    expect(line).to_have_attribute("data-approval", "approved")
    expect(board.locator("#toast")).to_contain_text("Front brake pads")
    assert board.evaluate("window.__notReloaded") is True
    board.screenshot(path=str(shots / "board-approval-arrived.png"))
