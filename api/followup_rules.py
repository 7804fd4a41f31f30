"""The follow-up call's rules (回访), pure: the window in shop days, which list a follow-up is on,
when a call back may be set, the answers' ranges and what needs a complaint.

The window counts the shop's open days after the delivery day, in the shop's time zone: with the
window "day 2 to day 5", the second open day after delivery starts it (at local midnight) and the
fifth ends it (at the next local midnight). A shop closed on Sundays does not lose a day of the
window to a Sunday. No database, no web.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

VIEWS = ("due", "overdue", "upcoming", "done")
CALL_BACK_WEEK = timedelta(days=7)  # a call back may always be set within a week from now
OVERALL = (1, 10)
RECOMMEND = (0, 10)


@dataclass(frozen=True)
class Window:
    due_from: datetime  # UTC
    due_until: datetime  # UTC, exclusive


def open_weekdays(open_days: str) -> set[int]:
    """ISO weekdays (1 = Monday) the shop works; an empty or broken setting means every day."""
    days = {int(c) for c in open_days if c in "1234567"}
    return days or set(range(1, 8))


def nth_open_day(after: date, n: int, open_days: str) -> date:
    """The n-th open day after `after` (n ≥ 1)."""
    days = open_weekdays(open_days)
    day, seen = after, 0
    while seen < n:
        day += timedelta(days=1)
        if day.isoweekday() in days:
            seen += 1
    return day


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def window(delivered_at: datetime, timezone: str, open_days: str, from_days: int, to_days: int) -> Window:
    """When the follow-up call is due: from the `from_days`-th to the `to_days`-th open day after the
    delivery day (both shop days, whole)."""
    zone = ZoneInfo(timezone)
    delivered_on = delivered_at.astimezone(zone).date()
    first = max(1, from_days)
    last = max(first, to_days)
    start = nth_open_day(delivered_on, first, open_days)
    end = nth_open_day(delivered_on, last, open_days)
    return Window(_midnight(start, zone), _midnight(end + timedelta(days=1), zone))


def view_of(now: datetime, due_from: datetime, due_until: datetime, call_back_at: datetime | None) -> str:
    """Which list an open follow-up is on now: upcoming before its time (the window, or the call
    back agreed with the customer), due while it may be called, overdue once the window is over."""
    start = call_back_at or due_from
    end = due_until if call_back_at is None else max(due_until, call_back_at + timedelta(days=1))
    if now < start:
        return "upcoming"
    if now < end:
        return "due"
    return "overdue"


def call_back_limit(now: datetime, due_until: datetime) -> datetime:
    """The latest call back: the end of the window, or a week from now when that is later."""
    return max(due_until, now + CALL_BACK_WEEK)


def in_range(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


def needs_complaint(overall: int, recommend: int, fixed: bool, low_score: int) -> bool:
    """A score at or below the shop's threshold, or a fault not fixed, calls for a complaint."""
    return overall <= low_score or recommend <= low_score or not fixed


def unreachable_after(tries: int, max_tries: int) -> bool:
    """After this many calls that did not reach the customer, the follow-up closes as unreachable."""
    return tries >= max(1, max_tries)
