"""Accessibility in real Chromium: axe-core finds nothing wrong on any main screen, in English and in
Chinese; the damage map works from a keyboard; the PIN pad leaves Enter to the button that has focus.

axe-core is vendored (tests/browser/vendor/axe.min.js, `make vendor-axe` refreshes it): the suite
needs no network. It is injected as a <script>, which the app's CSP (script-src 'self') would block,
so these contexts bypass the CSP; the other browser tests keep it on and fail on any CSP report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, live_server_at
from tests.browser.screens import ADVISOR, SCREENS, STAFF, Shop, furnish, open_screen, open_status_page
from tests.browser.ui import poll

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# Every rule axe runs by default, plus one it still calls experimental: a control's accessible name
# must contain its visible text (WCAG 2.5.3), so that "tap 中文" works with speech control.
RUN_AXE = """async () => {
  const result = await axe.run(document, {
    resultTypes: ['violations'],
    rules: { 'label-content-name-mismatch': { enabled: true } },
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({
      target: n.target.join(' '),
      html: n.html.slice(0, 160),
      why: (n.failureSummary || '').split('\\n').slice(1).join(' ').trim(),
    })),
  }));
}"""


@pytest.fixture(scope="module")
def shop(browser: Any) -> Iterator[Shop]:
    with live_server_at(STAFF) as server:
        yield furnish(server, browser)


def axe_report(page: Page, where: str) -> list[str]:
    """One readable line per violation (and per element it was found on) on the page as it is."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    lines = []
    for v in page.evaluate(RUN_AXE):
        lines.append(f"[{where}] {v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s)")
        for node in v["nodes"][:6]:
            lines.append(f"      {node['target']}  {node['html']}\n        {node['why']}")
    return lines


def switch_language(page: Page) -> str:
    """Tap the top bar's language button; returns the language the page is in now."""
    before = page.evaluate("document.documentElement.lang")
    page.get_by_test_id("lang-toggle").click()
    poll(page, f"document.documentElement.lang !== {before!r}")
    return str(page.evaluate("document.documentElement.lang"))


@pytest.mark.parametrize("screen", SCREENS)
def test_axe_finds_no_violation_on_the_screen_in_either_language(
    shop: Shop, new_tablet: Any, screen: str
) -> None:
    page = new_tablet(locale="en-US", bypass_csp=True).new_page()
    open_screen(page, shop, screen)
    problems = axe_report(page, f"{screen} en")
    other = switch_language(page)
    problems += axe_report(page, f"{screen} {other}")
    assert not problems, f"axe-core found {len(problems)} problem line(s):\n" + "\n".join(problems)


def test_axe_finds_no_violation_on_the_customer_status_page(shop: Shop, new_tablet: Any) -> None:
    page = new_tablet(locale="zh-CN", bypass_csp=True, **PHONE).new_page()
    problems = []
    for lang in ("zh-CN", "en"):
        open_status_page(page, shop, lang)
        problems += axe_report(page, f"status {lang}")
    assert not problems, f"axe-core found {len(problems)} problem line(s):\n" + "\n".join(problems)


def test_the_damage_map_can_be_used_with_a_keyboard(shop: Shop, new_tablet: Any) -> None:
    page = new_tablet(locale="en-US").new_page()
    open_screen(page, shop, "walk-around")
    left = page.get_by_test_id("car-left")
    # Each view is a named control in the tab order.
    expect(left).to_have_attribute("tabindex", "0")
    expect(page.get_by_role("button", name="Left side")).to_have_count(1)
    for view in ("top", "right", "front", "rear"):
        expect(page.get_by_test_id(f"car-{view}")).to_have_attribute("tabindex", "0")

    left.focus()
    page.keyboard.press("Enter")
    marks = page.get_by_test_id("mark-item")
    expect(marks).to_have_count(2)
    new = page.locator('[data-testid="car-left"] .car-mark.selected')
    expect(new).to_have_count(1)
    start = float(str(new.get_attribute("data-x")))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    poll(page, f"Number(document.querySelector('.car-mark.selected').dataset.x) > {start}")
    page.keyboard.press("ArrowUp")
    # The mark is named in the list (number and view), and its type is picked from there.
    group = marks.nth(1).get_by_role("group", name="2 Left side")
    group.get_by_role("button", name="Scratch").focus()
    page.keyboard.press("Enter")
    expect(marks.nth(1)).to_have_attribute("data-type", "scratch")


def test_enter_on_another_button_is_not_taken_by_the_pin_pad(shop: Shop, new_tablet: Any) -> None:
    page = new_tablet(locale="en-US").new_page()
    open_screen(page, shop, "pin")
    logins: list[str] = []
    page.on("request", lambda r: logins.append(r.url) if r.url.endswith("/api/auth/login") else None)
    page.keyboard.type(ADVISOR["pin"])
    expect(page.get_by_test_id("pin-display")).to_have_attribute("data-length", "4")
    # Enter on the language button switches the language; it does not submit the PIN.
    page.get_by_test_id("lang-toggle").focus()
    page.keyboard.press("Enter")
    poll(page, "document.documentElement.lang", until="zh-CN")
    expect(page.get_by_test_id("pin-display")).to_have_attribute("data-length", "4")
    # Enter on "Back" goes back to the tiles.
    page.locator(".pin-who .back-btn").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("staff-tile")).to_have_count(len(STAFF))
    assert logins == []

    # Digits clicked with a mouse, then Enter on the keyboard: that still means OK.
    page.locator(f'[data-testid="staff-tile"][data-username="{ADVISOR["username"]}"]').click()
    for digit in ADVISOR["pin"]:
        page.locator(f'[data-testid="pin-key"][data-key="{digit}"]').click()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("today-list")).to_be_visible()
