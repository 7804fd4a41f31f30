"""The repair-order detail in real Chromium (issue 13 item 1): a tap on a board card opens the order
with the customer's phone to call, the VIN, the concerns and the prices; an edit made there (through
the outbox) shows on a second open board live, without a reload; a finding reported meanwhile shows
on the open order and as "1 finding to price" on the other board's card. Once in zh-CN, once in en."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADVISOR, MANAGER, live_server_at
from tests.browser.ui import sign_in_to, staff_post, tomorrow_at, valid_vin

FOREMAN = {"username": "ma.gong", "name": "马强", "role": "foreman", "pin": "6284"}
WORDS = {
    "en": {
        "customer": "Customer",
        "timeline": "Timeline",
        "created": "written up",
        "edited": "Order corrected",
        "to_price": "1 finding(s) to price",
    },
    "zh-CN": {
        "customer": "客户",
        "timeline": "操作记录",
        "created": "开具工单",
        "edited": "修改工单",
        "to_price": "1 项检查发现待报价",
    },
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_card_opens_the_order_and_an_edit_shows_on_another_board_live(
    lang: str, new_tablet: Any, shots: Path
) -> None:
    words = WORDS[lang]
    with live_server_at([MANAGER, ADVISOR, FOREMAN]) as server:
        desk = new_tablet(locale=lang).new_page()
        desk.goto(server.url + "/")
        sign_in_to(desk, ADVISOR, "today-list")
        vin = valid_vin()
        ro = staff_post(
            desk,
            f"{server.url}/api/repair-orders",
            {
                "customer": {"name": "周杰", "phone": "137 2222 3333", "language": "zh-CN"},
                "vehicle": {
                    "plate": "沪C24680",
                    "make": "Honda",
                    "model": "Accord",
                    "vin": vin,
                    "color": "Silver",
                },
                "mileage": 30000,
                "fuel_level": 4,
                "concerns": ["Squeal from the front when braking"],
                "promised_at": tomorrow_at(15).isoformat(),
                "jobs": [{"title": "Replace front brake pads", "estimated_hours": 1.5, "price": 480}],
            },
        )

        board = new_tablet(locale=lang).new_page()
        board.goto(server.url + "/")
        sign_in_to(board, MANAGER, "today-list")
        expect(board.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        other_card = board.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
        expect(other_card).to_contain_text("周杰")

        # A tap on the card (not on its buttons) opens the order.
        card = desk.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
        expect(card).to_be_visible()
        card.locator(".plate").tap()
        expect(desk).to_have_url(f"{server.url}/#/ro/{ro['id']}")
        detail = desk.get_by_test_id("ro-detail")
        expect(detail.get_by_test_id("detail-number")).to_have_text(ro["number"])
        expect(detail.get_by_test_id("detail-customer").locator("h2")).to_have_text(words["customer"])
        phone = detail.get_by_test_id("detail-phone")
        expect(phone).to_have_text("137 2222 3333")
        expect(phone).to_have_attribute("href", "tel:13722223333")
        expect(detail.get_by_test_id("detail-vin")).to_have_text(vin)
        expect(detail.get_by_test_id("detail-concern")).to_have_text(["Squeal from the front when braking"])
        expect(detail.get_by_test_id("detail-job-price")).to_have_text("¥480.00")
        expect(detail.get_by_test_id("detail-fuel")).to_have_text("4/8")
        expect(detail.get_by_test_id("detail-timeline").locator("h2")).to_have_text(words["timeline"])
        expect(detail.get_by_test_id("timeline-item").first).to_contain_text(words["created"])
        status_link = detail.get_by_test_id("detail-open-link")
        expect(status_link).to_have_attribute("href", server.url + ro["status_url"])

        # Edit: the customer's name and phone, the colour; saved through the outbox.
        detail.get_by_test_id("detail-edit").tap()
        dialog = desk.get_by_test_id("edit-dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_test_id("edit-name").fill("周杰伦")
        dialog.get_by_test_id("edit-phone").fill("139 0000 1111")
        dialog.get_by_test_id("edit-color").fill("Blue")
        dialog.get_by_test_id("edit-dialog-save").tap()
        expect(dialog).to_have_count(0)
        expect(detail.get_by_test_id("detail-phone")).to_have_text("139 0000 1111")
        expect(detail.get_by_test_id("detail-customer-name")).to_have_text("周杰伦")
        expect(detail.get_by_test_id("detail-pending")).to_have_count(0)
        expect(detail.get_by_test_id("timeline-item").first).to_contain_text(words["edited"])
        desk.screenshot(path=str(shots / f"ro-detail-{lang}.png"), full_page=True)

        # The other board follows live: the new name and colour on the card, no reload.
        expect(other_card).to_contain_text("周杰伦")
        expect(other_card).to_contain_text("Blue")
        saved = desk.request.get(f"{server.url}/api/repair-orders/{ro['id']}").json()
        assert saved["customer"]["phone"] == "139 0000 1111" and saved["vehicle"]["color"] == "Blue"

        # A finding from the floor: on the open order and on the other board's card, live.
        floor = new_tablet(locale=lang).new_page()
        login = {"username": FOREMAN["username"], "pin": FOREMAN["pin"]}
        assert floor.request.post(f"{server.url}/api/auth/login", data=login).ok
        staff_post(
            floor, f"{server.url}/api/jobs/{ro['jobs'][0]['id']}/findings", {"text": "Front pads at 2 mm"}
        )
        finding = detail.get_by_test_id("detail-finding")
        expect(finding).to_contain_text("Front pads at 2 mm")
        expect(finding).to_have_attribute("data-priced", "false")
        expect(other_card.get_by_test_id("card-findings")).to_have_text(words["to_price"])

        # Back to the board: the card is there with the new name.
        detail.get_by_test_id("detail-back").tap()
        expect(card).to_contain_text("周杰伦")
