"""The follow-up call (回访) in real Chromium: a delivered order's follow-up is upcoming, appears on
shop day 2 (the server's follow-up clock moved by the test's clock file, not by waiting), a call with
a low score and the fault not fixed is recorded on the care screen through the outbox, and the order
shows as needing attention — on the caller's screen and, live, on a manager's open care screen. Once
with the staff in zh-CN calling an English-speaking customer, once the other way round: the script
is in the customer's language, the rest of the screen in the staff's."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADVISOR, MANAGER, LiveServer, live_server_at
from tests.browser.test_a11y import axe_report
from tests.browser.test_handover import TECH, _passed_qc
from tests.browser.ui import sign_in, sign_in_to, staff_post

CARE = {"username": "chen.jing", "name": "陈静", "role": "customer_care", "pin": "6173"}


@pytest.fixture
def server() -> Iterator[tuple[LiveServer, Path]]:
    """A server whose follow-up clock reads the offset (seconds) in a file the test writes."""
    clock = Path(tempfile.mkdtemp(prefix="bayline-clock-")) / "offset"
    clock.write_text("0")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BAYLINE_TESTING", "1")
        env.setenv("BAYLINE_TEST_CLOCK_FILE", str(clock))
        with live_server_at([MANAGER, ADVISOR, TECH, CARE]) as live:
            yield live, clock


def _signed_in(
    new_tablet: Any, url: str, lang: str, person: dict[str, str], landing: str | None, **extra: Any
) -> Page:
    page: Page = new_tablet(locale="zh-CN" if lang == "zh-CN" else "en-US", **extra).new_page()
    page.goto(url + "/")
    if landing is None:
        sign_in(page, person)
    else:
        sign_in_to(page, person, landing)
    return page


@pytest.mark.parametrize(("staff_lang", "customer_lang"), [("zh-CN", "en"), ("en", "zh-CN")])
def test_delivered_then_called_on_day_two_with_a_low_score(
    server: tuple[LiveServer, Path],
    browser: Any,
    new_tablet: Any,
    shots: Path,
    staff_lang: str,
    customer_lang: str,
) -> None:
    live, clock = server
    words = {
        "zh-CN": {"attention": "需关注", "not_fixed": "故障未排除", "due": "待回访"},
        "en": {"attention": "Needs attention", "not_fixed": "Fault NOT fixed", "due": "Due now"},
    }[staff_lang]
    script = {"zh-CN": "故障是否已经彻底排除", "en": "Has the problem been completely fixed?"}[customer_lang]

    office = _signed_in(new_tablet, live.url, staff_lang, ADVISOR, None)
    ro = _passed_qc(browser, live, office, customer_lang)
    staff_post(office, f"{live.url}/api/repair-orders/{ro['id']}/ready", {})
    staff_post(office, f"{live.url}/api/repair-orders/{ro['id']}/deliver", {})

    # Customer care lands on the care screen: the new follow-up is upcoming, nothing due yet.
    # bypass_csp: only so that axe-core can be injected for the accessibility checks below.
    care = _signed_in(new_tablet, live.url, staff_lang, CARE, "care-list", bypass_csp=True)
    expect(care.get_by_test_id("care-count-upcoming")).to_have_text("1")
    expect(care.get_by_test_id("care-count-due")).to_have_text("0")
    expect(care.get_by_test_id("care-tab-due")).to_contain_text(words["due"])
    upcoming = care.request.get(f"{live.url}/api/follow-ups?view=upcoming").json()["items"][0]

    # Shop day 2 after the delivery, an hour after the window opened.
    target = datetime.fromisoformat(upcoming["due_from"]) + timedelta(hours=1)
    clock.write_text(str((target - datetime.now(target.tzinfo)).total_seconds()))

    # A manager has the care screen open too: it follows the call live.
    manager = _signed_in(new_tablet, live.url, staff_lang, MANAGER, None)
    manager.goto(f"{live.url}/#/care")
    expect(manager.get_by_test_id("care-count-due")).to_have_text("1")

    care.reload()
    expect(care.get_by_test_id("care-count-due")).to_have_text("1")
    item = care.get_by_test_id("care-item").filter(has_text=ro["number"])
    expect(item).to_be_visible()
    expect(item).to_contain_text("Minor service")
    expect(item.get_by_test_id("care-phone")).to_have_text("13900001111")

    item.get_by_test_id("care-call").tap()
    dialog = care.get_by_test_id("care-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("care-script")).to_contain_text(script)
    dialog.get_by_test_id("care-overall").fill("4")
    dialog.get_by_test_id("care-fixed-no").check()
    dialog.get_by_test_id("care-recommend").fill("5")
    dialog.get_by_test_id("care-comment").fill("异响还在" if customer_lang == "zh-CN" else "Still rattles")
    care.screenshot(path=str(shots / f"care-call-{staff_lang}.png"), full_page=True)
    problems = axe_report(care, f"care call {staff_lang}")
    dialog.get_by_test_id("care-save").tap()
    expect(dialog).to_be_hidden()

    expect(care.get_by_test_id("care-count-due")).to_have_text("0")
    expect(care.get_by_test_id("care-count-done")).to_have_text("1")
    care.get_by_test_id("care-tab-done").tap()
    done = care.get_by_test_id("care-item").filter(has_text=ro["number"])
    expect(done.get_by_test_id("care-needs-attention")).to_contain_text(words["attention"])
    expect(done.get_by_test_id("care-result-fixed")).to_have_text(words["not_fixed"])
    care.screenshot(path=str(shots / f"care-done-{staff_lang}.png"), full_page=True)
    problems += axe_report(care, f"care done {staff_lang}")
    assert not problems, "\n".join(problems)

    # The manager's screen moved without a reload.
    expect(manager.get_by_test_id("care-count-due")).to_have_text("0")
    expect(manager.get_by_test_id("care-count-done")).to_have_text("1")

    row = live.query(f"SELECT state, complaint_suggested FROM follow_up WHERE repair_order = {ro['id']}")
    assert row[0][0] == "done" and bool(row[0][1]) is True
    with contextlib.suppress(OSError):
        clock.unlink()
