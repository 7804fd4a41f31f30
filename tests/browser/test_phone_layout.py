"""The staff screens on a small phone (360 px wide, the narrowest common Android), in real Chromium:
the top bar fits on the screen, nothing scrolls sideways, and every control is a tap target of at
least 44×44 CSS px (WCAG 2.5.5; gloved fingers on a bay tablet need it even more)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import live_server_at
from tests.browser.screens import SCREENS, STAFF, Shop, furnish, open_screen, open_status_page
from tests.browser.ui import poll

SMALL_PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 740},
    "screen": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
MIN_TARGET = 44

# Every control a finger can tap, with the box it can be tapped in: a control inside a <label> (a
# visually hidden radio or file input) is tapped through the label. Links inside a sentence are
# exempt (WCAG 2.5.5 "inline"), as is the skip link until it is focused (it sits above the screen).
MEASURE = """(min) => {
  const selector = 'button, a[href], input:not([type=hidden]), select, textarea, summary, [role=button],'
    + ' [role=radio], [role=checkbox], [role=tab], [tabindex]:not([tabindex="-1"])';
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.getClientRects().length || getComputedStyle(el).visibility !== 'visible') continue;
    const target = el.closest('label') || el;
    const box = target.getBoundingClientRect();
    if (box.bottom + window.scrollY <= 0) continue;
    if (el.matches('a') && el.parentElement && /\\S/.test([...el.parentElement.childNodes]
      .filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(''))) continue;
    if (box.height < min || box.width < min) {
      const name = (target.getAttribute('data-testid') || '') + ' ' + target.tagName.toLowerCase()
        + '.' + [...target.classList].join('.');
      const text = (target.innerText || target.value || target.getAttribute('aria-label') || '').trim();
      small.push(`${name.trim()} "${text.slice(0, 30)}" ${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return [...new Set(small)];
}"""

# Widths in CSS px, and what the top bar shows: each item's box. (window.innerWidth is no measure:
# a phone browser widens its layout viewport to fit content that overflows.)
OVERFLOW = """() => {
  const bar = document.querySelector('.topbar');
  if (!bar) return { topbar: 0, page: document.documentElement.scrollWidth, items: [] };
  const items = [...bar.querySelectorAll('.brand-mark, .brand-name, .shop-name, .nav-link, .outbox-badge, .who, .btn-topbar')]
    .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility === 'visible')
    .map((el) => {
      const b = el.getBoundingClientRect();
      return { name: el.dataset.testid || el.className.baseVal || el.className, left: b.left, right: b.right, top: b.top, bottom: b.bottom };
    });
  return { topbar: bar.scrollWidth, page: document.documentElement.scrollWidth, items };
}"""


@pytest.fixture(scope="module")
def shop(browser: Any) -> Iterator[Shop]:
    with live_server_at(STAFF) as server:
        yield furnish(server, browser)


def layout_problems(page: Page, where: str) -> list[str]:
    width = SMALL_PHONE["viewport"]["width"]
    sizes = page.evaluate(OVERFLOW)
    problems = []
    if sizes["topbar"] > width:
        problems.append(f"[{where}] the top bar is {sizes['topbar']} px wide on a {width} px screen")
    if sizes["page"] > width:
        problems.append(f"[{where}] the page scrolls sideways: {sizes['page']} px on {width} px")
    items = sizes["items"]
    for i, item in enumerate(items):
        if item["left"] < 0 or item["right"] > width:
            problems.append(
                f"[{where}] top bar: {item['name']} is off the screen ({item['left']:.0f}–{item['right']:.0f})"
            )
        for other in items[i + 1 :]:
            apart = (
                item["right"] <= other["left"]
                or other["right"] <= item["left"]
                or item["bottom"] <= other["top"]
                or other["bottom"] <= item["top"]
            )
            if not apart:
                problems.append(f"[{where}] top bar: {item['name']} overlaps {other['name']}")
    problems += [
        f"[{where}] tap target under {MIN_TARGET} px: {s}" for s in page.evaluate(MEASURE, MIN_TARGET)
    ]
    return problems


@pytest.mark.parametrize("screen", SCREENS)
def test_the_screen_fits_a_small_phone_with_big_enough_tap_targets(
    shop: Shop, new_tablet: Any, screen: str
) -> None:
    page = new_tablet(locale="en-US", **SMALL_PHONE).new_page()
    open_screen(page, shop, screen)
    problems = layout_problems(page, f"{screen} en")
    # Not a tap: the toggle may be off the screen, which the top bar check above has reported.
    page.get_by_test_id("lang-toggle").dispatch_event("click")
    poll(page, "document.documentElement.lang", until="zh-CN")
    problems += layout_problems(page, f"{screen} zh-CN")
    assert not problems, "\n".join(problems)


def test_the_customer_status_page_fits_a_small_phone(shop: Shop, new_tablet: Any) -> None:
    page = new_tablet(locale="zh-CN", **SMALL_PHONE).new_page()
    problems = []
    for lang in ("zh-CN", "en"):
        open_status_page(page, shop, lang)
        problems += layout_problems(page, f"status {lang}")
    assert not problems, "\n".join(problems)
