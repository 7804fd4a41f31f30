"""Issue 13 items 8 and 9 on the screens: a manager adds a technician on #/staff without a PIN, gives
them the one-time PIN shown once, and the technician signs in with it and chooses their own (a weak
one refused); a manager's settings change on #/settings reaches another open tablet live. Once in
zh-CN and once in en."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADVISOR, MANAGER, live_server_at
from tests.browser.test_a11y import axe_report
from tests.browser.ui import enter_pin, sign_in, tap_tile

WORDS = {
    "zh-CN": {
        "choose": "请设定您自己的 PIN",
        "again": "请再次输入新 PIN",
        "weak": "太容易被猜到",
        "manual": "点一下",
    },
    "en": {
        "choose": "Choose your own PIN",
        "again": "Type your new PIN again",
        "weak": "too easy to guess",
        "manual": "one tap",
    },
}


def own_problems(lines: list[str]) -> list[str]:
    """axe's findings on these screens, one list of lines per finding."""
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith("["):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return [line for block in blocks for line in block]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_manager_adds_a_technician_who_chooses_their_own_pin(new_tablet: Any, lang: str) -> None:
    words = WORDS[lang]
    with live_server_at([MANAGER]) as server:
        # bypass_csp: axe-core is put on the page as a script tag (as in tests/browser/test_a11y.py).
        office = new_tablet(locale=lang, bypass_csp=True).new_page()
        office.goto(server.url + "/")
        sign_in(office, MANAGER)
        office.get_by_test_id("nav-staff").tap()
        expect(office.get_by_test_id("staff-row")).to_have_count(1)

        office.get_by_test_id("staff-add").tap()
        dialog = office.get_by_test_id("staff-add-dialog")
        dialog.get_by_test_id("staff-name").fill("刘洋 Liu Yang")
        expect(dialog.get_by_test_id("staff-username")).to_have_value("liu.yang")
        dialog.get_by_test_id("staff-role").select_option("technician")
        expect(dialog.get_by_test_id("staff-pin-choose")).to_be_checked()
        dialog.get_by_test_id("staff-add-save").tap()
        shown = office.get_by_test_id("one-time-pin")
        expect(shown).to_have_text(re.compile(r"^\d{6}$"))
        one_time = shown.inner_text().strip()
        assert one_time.isdigit() and len(one_time) == 6
        office.get_by_test_id("one-time-pin-done").tap()
        row = office.locator('[data-testid="staff-row"][data-username="liu.yang"]')
        expect(row.get_by_test_id("staff-pin-pending")).to_be_visible()
        problems = own_problems(axe_report(office, f"staff {lang}"))
        assert not problems, "\n".join(problems)
        person = server.get_json("/api/auth/staff")["staff"]
        assert {"username": "liu.yang", "name": "刘洋 Liu Yang", "role": "technician"} in person

        bay = new_tablet(locale=lang).new_page()
        bay.goto(server.url + "/")
        tap_tile(bay, "liu.yang")
        enter_pin(bay, one_time)
        lead = bay.get_by_test_id("pin-lead")
        expect(lead).to_have_attribute("data-stage", "choose")
        expect(lead).to_contain_text(words["choose"])
        # An easy PIN is refused (after typing it twice), in the tablet's language.
        enter_pin(bay, "1234")
        expect(lead).to_contain_text(words["again"])
        enter_pin(bay, "1234")
        expect(bay.get_by_test_id("signin-error")).to_contain_text(words["weak"])
        expect(lead).to_have_attribute("data-stage", "choose")
        enter_pin(bay, "7391")
        expect(lead).to_have_attribute("data-stage", "confirm")
        enter_pin(bay, "7391")
        expect(bay.get_by_test_id("my-jobs")).to_be_visible()
        expect(bay.get_by_test_id("current-user")).to_contain_text("刘洋")

        # The manager's list follows live: the PIN is chosen.
        expect(row.get_by_test_id("staff-pin-pending")).to_have_count(0)

        # Deactivated from the manager's tablet: the technician's tablet is signed out at once.
        row.get_by_test_id("staff-deactivate").tap()
        office.get_by_test_id("staff-confirm-ok").tap()
        expect(row.get_by_test_id("staff-inactive")).to_be_visible()
        expect(bay.get_by_test_id("staff-tile").first).to_be_visible()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_settings_change_reaches_another_open_tablet(new_tablet: Any, lang: str) -> None:
    words = WORDS[lang]
    with live_server_at([MANAGER, ADVISOR]) as server:
        office = new_tablet(locale=lang, bypass_csp=True).new_page()
        office.goto(server.url + "/")
        sign_in(office, MANAGER)
        office.get_by_test_id("nav-settings").tap()
        expect(office.get_by_test_id("settings-labour_rate_fen")).to_have_value("200.00")
        expect(office.get_by_test_id("settings-tax_rate_bp")).to_have_value("13")
        expect(office.get_by_test_id("settings")).to_contain_text(words["manual"])
        expect(office.get_by_test_id("settings-team-link")).to_have_attribute("href", "#/staff")
        problems = own_problems(axe_report(office, f"settings {lang}"))
        assert not problems, "\n".join(problems)

        # The second manager tablet keeps #/settings open; the advisor's shows the board.
        other = new_tablet(locale=lang).new_page()
        other.goto(server.url + "/")
        sign_in(other, MANAGER)
        expect(other.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        other.get_by_test_id("nav-settings").tap()
        expect(other.get_by_test_id("settings-labour_rate_fen")).to_have_value("200.00")
        desk = new_tablet(locale=lang).new_page()
        desk.goto(server.url + "/")
        sign_in(desk, ADVISOR)
        expect(desk.get_by_test_id("live-state")).to_have_attribute("data-state", "live")

        # A bad value is refused next to its field, in the tablet's language; nothing is sent.
        office.get_by_test_id("settings-tax_rate_bp").fill("abc")
        office.get_by_test_id("settings-save").tap()
        expect(office.locator('[data-testid="field-error"][data-field="tax_rate_bp"]')).to_be_visible()

        office.get_by_test_id("settings-name").fill("顺达汽车 Shunda")
        office.get_by_test_id("settings-labour_rate_fen").fill("260")
        office.get_by_test_id("settings-tax_rate_bp").fill("6")
        office.get_by_test_id("settings-ready-auto").check()
        office.get_by_test_id("settings-day-7").uncheck()
        office.get_by_test_id("settings-save").tap()
        expect(office.get_by_test_id("settings-labour_rate_fen")).to_have_value("260.00")

        expect(desk.get_by_test_id("shop-name")).to_have_text("顺达汽车 Shunda")
        expect(other.get_by_test_id("settings-labour_rate_fen")).to_have_value("260.00")
        expect(other.get_by_test_id("settings-tax_rate_bp")).to_have_value("6")
        expect(other.get_by_test_id("settings-ready-auto")).to_be_checked()
        expect(other.get_by_test_id("settings-day-7")).not_to_be_checked()
        shop = server.get_json("/api/shop")
        assert shop["name"] == "顺达汽车 Shunda" and "labour_rate_fen" not in shop  # anonymous
        assert shop["hours"]["days"] == [1, 2, 3, 4, 5, 6]
