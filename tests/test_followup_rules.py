"""The follow-up window (api/followup_rules.py) across shop days and time zones, with hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given
from hypothesis import strategies as st

from api import followup_rules as rules

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "America/Santiago", "Pacific/Auckland", "UTC"]
moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
open_days = st.sets(st.sampled_from("1234567"), min_size=1).map(lambda s: "".join(sorted(s)))
spans = st.tuples(st.integers(1, 6), st.integers(0, 6)).map(lambda t: (t[0], t[0] + t[1]))


def _open_between(first: datetime, last: datetime, zone: ZoneInfo, days: str) -> int:
    """Open days strictly after the local date of `first` up to and including that of `last`."""
    day, end, count = first.astimezone(zone).date(), last.astimezone(zone).date(), 0
    while day < end:
        day += timedelta(days=1)
        count += str(day.isoweekday()) in days
    return count


@given(moments, st.sampled_from(ZONES), open_days, spans)
# Santiago skips its midnight when summer time starts (8 Sep 2024): that day starts at 01:00.
@example(datetime(2024, 9, 6, 12, tzinfo=UTC), "America/Santiago", "1234567", (2, 5))
def test_the_window_covers_exactly_the_nth_to_mth_open_day(
    delivered: datetime, zone_name: str, days: str, span: tuple[int, int]
) -> None:
    first, last = span
    zone = ZoneInfo(zone_name)
    w = rules.window(delivered, zone_name, days, first, last)
    start, end_day = w.due_from.astimezone(zone), (w.due_until - timedelta(seconds=1)).astimezone(zone)
    assert delivered < w.due_from < w.due_until
    # It starts at the first instant of a local day (midnight, or where a DST jump skips midnight,
    # the first time that exists), an open day: the first-th open day after the delivery day.
    assert (w.due_from - timedelta(seconds=1)).astimezone(zone).date() < start.date()
    assert str(start.isoweekday()) in days
    assert _open_between(delivered, w.due_from, zone, days) == first
    # It ends with the last-th open day, whole.
    assert str(end_day.isoweekday()) in days
    assert w.due_until.astimezone(zone).date() > end_day.date()
    assert _open_between(delivered, w.due_until - timedelta(seconds=1), zone, days) == last


@given(moments, st.sampled_from(ZONES), open_days)
def test_the_lists_follow_the_clock(delivered: datetime, zone_name: str, days: str) -> None:
    w = rules.window(delivered, zone_name, days, 2, 5)
    assert rules.view_of(delivered, w.due_from, w.due_until, None) == "upcoming"
    assert rules.view_of(w.due_from, w.due_from, w.due_until, None) == "due"
    assert rules.view_of(w.due_until - timedelta(seconds=1), w.due_from, w.due_until, None) == "due"
    assert rules.view_of(w.due_until, w.due_from, w.due_until, None) == "overdue"
    # A call back agreed with the customer moves the call: upcoming until then, due from then on.
    back = w.due_from + timedelta(hours=30)
    assert rules.view_of(back - timedelta(minutes=1), w.due_from, w.due_until, back) == "upcoming"
    assert rules.view_of(back, w.due_from, w.due_until, back) == "due"
    late = w.due_until + timedelta(days=3)
    assert rules.view_of(late + timedelta(hours=1), w.due_from, w.due_until, late) == "due"
    assert rules.view_of(late + timedelta(days=1), w.due_from, w.due_until, late) == "overdue"


def test_closed_on_sundays_the_window_skips_them() -> None:
    friday_evening = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # 18:00 on Friday in Shanghai
    w = rules.window(friday_evening, "Asia/Shanghai", "123456", 2, 5)
    zone = ZoneInfo("Asia/Shanghai")
    # Saturday is day 1, Sunday is closed, Monday is day 2 … Thursday day 5.
    assert w.due_from.astimezone(zone).date().isoformat() == "2026-12-07"
    assert (w.due_until - timedelta(seconds=1)).astimezone(zone).date().isoformat() == "2026-12-10"


def test_the_same_instant_is_another_shop_day_elsewhere() -> None:
    late_utc = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # 2 Dec 04:00 in Shanghai, 1 Dec in New York
    shanghai = rules.window(late_utc, "Asia/Shanghai", "1234567", 2, 5)
    new_york = rules.window(late_utc, "America/New_York", "1234567", 2, 5)
    assert shanghai.due_from.astimezone(ZoneInfo("Asia/Shanghai")).day == 4
    assert new_york.due_from.astimezone(ZoneInfo("America/New_York")).day == 3


@given(st.integers(-5, 15), st.integers(-5, 15), st.booleans(), st.integers(0, 10))
def test_a_complaint_is_suggested_by_a_low_score_or_not_fixed(
    overall: int, recommend: int, fixed: bool, low: int
) -> None:
    flagged = rules.needs_complaint(overall, recommend, fixed, low)
    assert flagged == (overall <= low or recommend <= low or not fixed)


def test_ranges_tries_and_call_backs() -> None:
    assert rules.in_range(1, rules.OVERALL) and not rules.in_range(0, rules.OVERALL)
    assert rules.in_range(0, rules.RECOMMEND) and not rules.in_range(11, rules.RECOMMEND)
    assert not rules.unreachable_after(2, 3) and rules.unreachable_after(3, 3)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert rules.call_back_limit(now, now + timedelta(days=2)) == now + timedelta(days=7)
    assert rules.call_back_limit(now, now + timedelta(days=9)) == now + timedelta(days=9)
