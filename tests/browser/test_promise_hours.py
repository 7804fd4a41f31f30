"""Promise quick choices keep inside the shop's opening hours: "In 4 h" counts opening hours, "Today
17:30" goes once it has passed, "Tomorrow" is the next day the shop opens. Time never comes from the
hour the suite runs at: the rule gets `now` explicitly, the screens a fixed Playwright clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import ADVISOR, MANAGER, LiveServer, live_server_at
from tests.browser.ui import SHOP_ZONE, open_new_ro, sign_in, staff_post, write_up

WEEK = {"opens": "08:30", "closes": "18:00", "days": [1, 2, 3, 4, 5, 6, 7]}
MON_SAT = {"opens": "09:00", "closes": "17:00", "days": [1, 2, 3, 4, 5, 6]}


def at(day: str, clock: str) -> str:
    """An instant on the shop's wall clock (Asia/Shanghai), as ISO."""
    return f"{day}T{clock}:00+08:00"


def choices(
    page: Page, now: str, hours: Any, lang: str = "en", zone: str = "Asia/Shanghai"
) -> dict[str, Any]:
    """web/js/hours.js promiseChoices at `now`, keyed by choice id."""
    result: list[dict[str, Any]] = page.evaluate(
        """async ([now, hours, lang, zone]) => {
            const m = await import('/web/js/hours.js');
            return m.promiseChoices({ zone, shopHours: hours, now: new Date(now), lang });
        }""",
        [now, hours, lang, zone],
    )
    return {c["id"]: c for c in result}


def picked(c: dict[str, Any]) -> tuple[str, str]:
    return c["date"], c["time"]


def test_the_rule_counts_opening_hours_and_offers_only_what_is_ahead(
    live_server: LiveServer, new_tablet: Any
) -> None:
    # A tablet left on New York time: the shop's wall clock still decides.
    page = new_tablet(locale="en-US", timezone_id="America/New_York").new_page()
    page.goto(live_server.url + "/")
    wed, thu = "2026-03-04", "2026-03-05"

    # 19:45, after closing: "In 4 h" is 4 opening hours from tomorrow's opening, no "Today".
    c = choices(page, at(wed, "19:45"), WEEK)
    assert list(c) == ["in2", "in4", "next"]
    assert picked(c["in2"]) == (thu, "10:30") and picked(c["in4"]) == (thu, "12:30")
    assert (c["next"]["key"], picked(c["next"])) == ("newro.tomorrowAt", (thu, "10:00"))
    # 19:30: still no "Today 17:30".
    assert "today" not in choices(page, at(wed, "19:30"), WEEK)

    # 16:00: two hours fit today (to closing), the rest continues at the next opening.
    c = choices(page, at(wed, "16:00"), WEEK)
    assert picked(c["in2"]) == (wed, "18:00") and picked(c["in4"]) == (thu, "10:30")
    assert (c["today"]["params"], picked(c["today"])) == ({"time": "17:30"}, (wed, "17:30"))
    # 17:10: what is left of today counts, rounded up to the half hour at the other end.
    c = choices(page, at(wed, "17:10"), WEEK)
    assert picked(c["in2"]) == (thu, "10:00") and "today" in c
    # Before opening: counted from the opening.
    c = choices(page, at(wed, "07:05"), WEEK)
    assert picked(c["in2"]) == (wed, "10:30") and picked(c["in4"]) == (wed, "12:30") and "today" in c

    # Closed on Sundays, 09:00-17:00: Saturday afternoon runs into Monday.
    sat, sun, mon = "2026-03-07", "2026-03-08", "2026-03-09"
    c = choices(page, at(sat, "16:00"), MON_SAT)
    assert picked(c["in2"]) == (mon, "10:00")
    assert picked(c["today"]) == (sat, "16:30")
    assert (c["next"]["key"], c["next"]["params"], picked(c["next"])) == (
        "newro.dayAt",
        {"time": "10:30", "day": "Mon"},
        (mon, "10:30"),
    )
    assert choices(page, at(sat, "16:00"), MON_SAT, lang="zh-CN")["next"]["params"]["day"] == "周一"
    # On the closed day itself: no "Today", and Monday is tomorrow.
    c = choices(page, at(sun, "11:00"), MON_SAT)
    assert list(c) == ["in2", "in4", "next"]
    assert picked(c["in2"]) == (mon, "11:00")
    assert (c["next"]["key"], picked(c["next"])) == ("newro.tomorrowAt", (mon, "10:30"))

    # Hours the screen cannot use (closing before opening, no days) fall back to the default.
    for broken in ({"opens": "18:00", "closes": "08:30", "days": [1]}, {**WEEK, "days": []}, None):
        assert choices(page, at(wed, "19:45"), broken) == choices(page, at(wed, "19:45"), WEEK)


def next_weekday(weekday: int) -> date:
    """A day of that ISO weekday at least two days from today (the shop's calendar)."""
    day = datetime.now(SHOP_ZONE).date() + timedelta(days=2)
    while day.isoweekday() != weekday:
        day += timedelta(days=1)
    return day


def shop_time(day: date, clock: str) -> datetime:
    hour, minute = map(int, clock.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHOP_ZONE)


def chip_ids(scope: Any) -> list[str]:
    return [str(c.get_attribute("data-choice")) for c in scope.get_by_test_id("promise-choice").all()]


def test_the_new_order_and_the_promise_dialog_offer_choices_inside_opening_hours(
    live_server: LiveServer, new_tablet: Any
) -> None:
    wed = next_weekday(3)
    thu = (wed + timedelta(days=1)).isoformat()
    page = new_tablet(locale="en-US").new_page()
    page.clock.set_fixed_time(shop_time(wed, "19:45"))
    page.goto(live_server.url + "/")
    sign_in(page, ADVISOR)

    # The new repair order at 19:45: defaults to three opening hours ahead, no "Today 17:30".
    form = open_new_ro(page)
    date_in, time_in = form.locator('[name="promised_date"]'), form.locator('[name="promised_time"]')
    expect(date_in).to_have_value(thu)
    expect(time_in).to_have_value("11:30")
    assert chip_ids(form) == ["in2", "in4", "next"]
    form.locator('[data-choice="in4"]').tap()
    expect(date_in).to_have_value(thu)
    expect(time_in).to_have_value("12:30")
    tomorrow = form.locator('[data-choice="next"]')
    expect(tomorrow).to_have_text("Tomorrow 10:00")
    tomorrow.tap()
    expect(time_in).to_have_value("10:00")

    # At 17:00 "Today 17:30" is there; left open until 17:31 it is no longer applied when tapped.
    page.once("dialog", lambda d: d.accept())  # "Discard this repair order?"
    form.get_by_role("button", name="Cancel").tap()
    page.clock.set_fixed_time(shop_time(wed, "17:00"))
    form = open_new_ro(page)
    assert chip_ids(form) == ["in2", "in4", "today", "next"]
    expect(form.locator('[data-choice="today"]')).to_have_text("Today 17:30")
    page.clock.set_fixed_time(shop_time(wed, "17:31"))
    form.locator('[data-choice="today"]').tap()
    expect(form.locator('[data-choice="today"]')).to_have_count(0)
    expect(time_in).not_to_have_value("17:30")

    # The change-of-promise dialog on the board offers the same choices.
    form.get_by_role("button", name="Cancel").tap()
    page.clock.set_fixed_time(shop_time(wed, "19:45"))
    ro = write_up(
        page,
        live_server.url,
        customer={"name": "高远", "phone": "13811112222", "language": "zh-CN"},
        vehicle={"plate": "沪G20260", "make": "Nissan", "model": "Sylphy"},
        concern="Check engine light",
        job="Diagnose",
        promised_hour=11,
    )
    card = page.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
    card.get_by_test_id("change-promise").tap()
    dialog = page.get_by_test_id("promise-dialog")
    expect(dialog).to_be_visible()
    assert chip_ids(dialog) == ["in2", "in4", "next"]
    dialog.locator('[data-choice="in4"]').tap()
    expect(dialog.get_by_test_id("promise-date")).to_have_value(thu)
    expect(dialog.get_by_test_id("promise-time")).to_have_value("12:30")


def test_the_managers_opening_hours_reach_the_tablets(new_tablet: Any) -> None:
    with live_server_at([MANAGER, ADVISOR]) as server:
        office = new_tablet(locale="en-US").new_page()
        office.goto(server.url + "/")
        sign_in(office, MANAGER)
        new = office.request.get(f"{server.url}/admin/api/tables/shop/new/").json()
        body = {**new, "name": "Shunda", "timezone": "Asia/Shanghai", "language": "en"}
        staff_post(
            office,
            f"{server.url}/admin/api/tables/shop/",
            {**body, "opens": "09:00", "closes": "17:00", "open_days": "123456"},
        )
        assert server.get_json("/api/shop")["hours"] == MON_SAT

        sat = next_weekday(6)
        mon = (sat + timedelta(days=2)).isoformat()
        page = new_tablet(locale="en-US").new_page()
        page.clock.set_fixed_time(shop_time(sat, "16:00"))
        page.goto(server.url + "/")
        sign_in(page, ADVISOR)
        form = open_new_ro(page)
        assert chip_ids(form) == ["in2", "in4", "today", "next"]
        expect(form.locator('[data-choice="today"]')).to_have_text("Today 16:30")
        expect(form.locator('[data-choice="next"]')).to_have_text("Mon 10:30")
        form.locator('[data-choice="in2"]').tap()
        expect(form.locator('[name="promised_date"]')).to_have_value(mon)
        expect(form.locator('[name="promised_time"]')).to_have_value("10:00")
