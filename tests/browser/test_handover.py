"""Ready → hand-over with settlement and signature → the print view → the customer's page, in real
Chromium on a tablet and a phone, once in zh-CN and once in en. The API only sets the scene (a job
worked and passed QC) and reads for assertions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADVISOR, MANAGER, PHONE, TABLET, LiveServer, live_server_at
from tests.browser.ui import sign_in, sign_in_to, staff_post, tomorrow_at, valid_vin

TECH = {"username": "song.gong", "name": "宋工", "role": "technician", "pin": "7284"}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server_at([MANAGER, ADVISOR, TECH]) as live:
        yield live


def _passed_qc(browser: Any, server: LiveServer, office: Page, lang: str) -> dict[str, Any]:
    """A repair order whose one job (labour ¥480) was worked and passed QC: ready to be marked ready."""
    ro = staff_post(
        office,
        f"{server.url}/api/repair-orders",
        {
            "customer": {
                "name": "王芳" if lang == "zh-CN" else "Emma Brown",
                "phone": "13900001111",
                "language": lang,
            },
            "vehicle": {"plate": f"沪B{uuid.uuid4().int % 100000:05d}", "vin": valid_vin(), "make": "Toyota"},
            "mileage": 30000,
            "concerns": ["保养"],
            "promised_at": tomorrow_at(16).isoformat(),
            "jobs": [{"title": "Minor service", "estimated_hours": 1, "price": 480}],
        },
    )
    job = ro["jobs"][0]["id"]
    bay_context = browser.new_context(**TABLET)
    try:
        bay = bay_context.new_page()
        bay.goto(server.url + "/")
        sign_in_to(bay, TECH, "my-jobs")
        tech_id = bay.request.get(server.url + "/api/auth/me").json()["user"]["id"]
        staff_post(office, f"{server.url}/api/jobs/{job}/assign", {"technician_id": tech_id})
        staff_post(bay, f"{server.url}/api/jobs/{job}/clock-on", {})
        staff_post(bay, f"{server.url}/api/jobs/{job}/clock-off", {"reason": "finished"})
    finally:
        bay_context.close()
    staff_post(
        office, f"{server.url}/api/jobs/{job}/qc", {"items": [{"name": "Road test", "result": "pass"}]}
    )
    return ro


def _sign(page: Page) -> None:
    pad = page.get_by_test_id("handover-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] * 0.6)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 30 + step * 25, box["y"] + box["height"] * (0.6 - 0.05 * (step % 3)))
    page.mouse.up()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_ready_hand_over_print_and_the_customer_sees_the_bill(
    server: LiveServer, browser: Any, new_tablet: Any, shots: Path, lang: str
) -> None:
    words = {
        "zh-CN": {"total": "¥470.00", "wechat": "微信支付", "print": "结算单", "paid": "实付金额"},
        "en": {"total": "¥470.00", "wechat": "WeChat Pay", "print": "Settlement", "paid": "Total paid"},
    }[lang]
    tablet = new_tablet(locale="zh-CN" if lang == "zh-CN" else "en-US")
    page = tablet.new_page()
    page.goto(server.url + "/")
    sign_in(page, ADVISOR)
    ro = _passed_qc(browser, server, page, lang)

    # The order detail: its closing section offers "Mark ready" (every approved job passed QC).
    page.goto(f"{server.url}/#/ro/{ro['id']}")
    closing = page.get_by_test_id("ro-closing")
    expect(closing).to_be_visible()
    expect(closing.get_by_test_id("closing-total")).to_have_text("¥480.00")
    closing.get_by_test_id("mark-ready").tap()
    handover_link = closing.get_by_test_id("closing-handover")
    expect(handover_link).to_be_visible()
    assert page.request.get(f"{server.url}/api/repair-orders/{ro['id']}").json()["stage"] == "ready"
    handover_link.tap()

    screen = page.get_by_test_id("handover")
    expect(screen).to_be_visible()
    expect(page.get_by_test_id("handover-work")).to_contain_text("Minor service")
    expect(page.get_by_test_id("handover-qc")).to_have_count(1)
    expect(page.get_by_test_id("handover-total")).to_have_text("¥480.00")
    expect(page.get_by_test_id("mileage-out")).to_have_value("30000")
    expect(page.get_by_test_id("next-service-km")).to_have_value("35000")
    page.get_by_test_id("mileage-out").fill("30025")
    expect(page.get_by_test_id("next-service-km")).to_have_value("35025")
    # A small discount with its reason (under the threshold: no manager needed).
    page.get_by_test_id("discount-amount").fill("10")
    page.get_by_test_id("discount-reason").fill("老客户" if lang == "zh-CN" else "Loyal customer")
    page.get_by_test_id("save-discount").tap()
    expect(page.get_by_test_id("handover-total")).to_have_text(words["total"])
    page.get_by_test_id("pay-wechat").tap()
    expect(page.get_by_test_id("pay-wechat")).to_have_attribute("aria-pressed", "true")
    _sign(page)
    expect(page.get_by_test_id("handover-signer")).to_have_value("王芳" if lang == "zh-CN" else "Emma Brown")
    page.screenshot(path=str(shots / f"handover-form-{lang}.png"), full_page=True)
    page.get_by_test_id("handover-submit").tap()
    done = page.get_by_test_id("handover-done")
    expect(done).to_be_visible()
    expect(done).to_contain_text(words["wechat"])
    expect(page.get_by_test_id("handover-signature")).to_be_visible()
    page.screenshot(path=str(shots / f"handover-{lang}.png"), full_page=True)

    s = page.request.get(f"{server.url}/api/repair-orders/{ro['id']}/settlement").json()
    assert (s["total_fen"], s["discount_fen"], s["payment_method"], s["mileage_out"]) == (
        47000,
        1000,
        "wechat",
        30025,
    )
    assert s["handed_over_at"] and s["signature_url"]

    # The print view opens from the link (A4), in the screen's language, with the signature.
    with page.expect_popup() as popup:
        page.get_by_test_id("print-a4").tap()
    printed = popup.value
    expect(printed.get_by_test_id("print-total")).to_have_text(words["total"])
    expect(printed.locator("h1")).to_contain_text(words["print"])
    expect(printed.get_by_test_id("print-signature")).to_have_js_property("complete", True)
    assert printed.evaluate("document.querySelector('[data-testid=print-signature]').naturalWidth") > 0
    printed.screenshot(path=str(shots / f"print-a4-{lang}.png"), full_page=True)

    # The customer's phone: the summary of the bill after delivery.
    phone = new_tablet(locale=lang, **PHONE).new_page()
    phone.goto(server.url + ro["status_url"])
    bill = phone.get_by_test_id("settlement")
    expect(bill).to_be_visible()
    expect(bill).to_contain_text(words["paid"])
    expect(phone.get_by_test_id("settlement-total")).to_have_text(words["total"])
    expect(bill).to_contain_text(re.compile(words["wechat"]))
