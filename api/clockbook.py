"""A technician's job clock, derived by folding clock events in time order. No web, no database.

Tablets on bay Wi-Fi send their taps late, twice, and out of order (two tablets, one technician).
So the server keeps every accepted tap as an event with its *effective* time (the tablet's capture
time, corrected for a wrong tablet clock) and derives the intervals by sorting and folding. The
result depends only on which events were accepted, never on the order they arrived in:

- a start while another job runs closes that job at the start ("switched"),
- a stop for the running job closes it; a stop that matches nothing is an orphan (flagged),
- a stop that arrives after the job was already switched away keeps the switch time ("late_stop"),
- a stop-all (end of the working day, the runaway-timer guard) closes whatever runs ("auto_stopped"),
- a repeat of the same event (same key) counts once; a second start of the running job is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from api.workshop import Invalid, JobState

Kind = Literal["on", "off", "stop_all"]

# Ties at the same instant: stops before starts, so "stop A, start B" at one second closes A first.
_TIE = {"off": 0, "stop_all": 1, "on": 2}

# A tablet clock off by more than this is corrected from the send time; off by more than FLAG, flagged.
SKEW_CORRECT = timedelta(minutes=2)
SKEW_FLAG = timedelta(minutes=10)
# Without a send time we cannot correct; a device time this far from the server's is flagged.
SKEW_FLAG_UNCORRECTED = timedelta(minutes=5)
# Older taps are not folded in any more: a foreman enters them as a correction instead.
LATE_LIMIT = timedelta(hours=48)
# A tap that reaches us this long after it happened is taken (offline work is real) but flagged for
# the foreman: a working day is shorter than this, so such a tap was held back or back-dated.
REVIEW_AGE = timedelta(hours=4)
# Why a foreman should look at a tap, in the order they are shown (stored on ClockEvent.review and
# carried into the entry's flags by the fold; a foreman's review clears ClockEntry.reviewed_at's need).
REVIEW_FLAGS = ("late_tap", "before_job", "before_day")


@dataclass(frozen=True)
class ClockEvent:
    key: str  # identity independent of arrival: the tablet's Idempotency-Key (scoped) or a server id
    kind: Kind
    at: datetime  # effective time (see effective_time)
    job: int | None = None  # None only for stop_all
    reason: str | None = None


@dataclass(frozen=True)
class Interval:
    key: str  # the key of the start event: stable across re-folds, so corrections can refer to it
    job: int
    start: datetime
    end: datetime | None = None
    reason: str | None = None
    auto_stopped: bool = False
    flags: tuple[str, ...] = ()
    end_key: str | None = None  # the event that closed it

    def minutes(self, until: datetime | None = None) -> float:
        end = self.end or until
        return 0.0 if end is None else (end - self.start).total_seconds() / 60


@dataclass
class Book:
    intervals: list[Interval] = field(default_factory=list)
    orphans: list[ClockEvent] = field(default_factory=list)

    @property
    def open(self) -> Interval | None:
        return next((i for i in self.intervals if i.end is None), None)


def _order(event: ClockEvent) -> tuple[datetime, int, str]:
    return (event.at, _TIE[event.kind], event.key)


def fold(events: Iterable[ClockEvent]) -> Book:
    """The intervals that a set of clock events means. Same set in any order → same book."""
    unique = {e.key: e for e in events}  # a replayed key is one event
    book = Book()
    running: Interval | None = None
    last_closed: dict[int, int] = {}  # job → index in book.intervals of its last closed interval

    def close(by: ClockEvent, reason: str, *, auto: bool = False, flag: str | None = None) -> None:
        nonlocal running
        assert running is not None
        flags = (*running.flags, flag) if flag else running.flags
        done = replace(running, end=by.at, reason=reason, auto_stopped=auto, flags=flags, end_key=by.key)
        book.intervals.append(done)
        last_closed[done.job] = len(book.intervals) - 1
        running = None

    for event in sorted(unique.values(), key=_order):
        if event.kind == "on":
            assert event.job is not None
            if running is not None and running.job == event.job:
                continue  # started twice (two tablets): it is running already
            if running is not None:
                close(event, "switched", flag="switched")
            running = Interval(key=event.key, job=event.job, start=event.at)
        elif event.kind == "off":
            if running is not None and running.job == event.job:
                close(event, event.reason or "other")
                continue
            index = last_closed.get(event.job) if event.job is not None else None
            if index is not None and book.intervals[index].reason == "switched":
                # The stop came after the technician had already started elsewhere: the switch
                # time stands, a foreman sees the discrepancy.
                late = book.intervals[index]
                if "late_stop" not in late.flags:
                    book.intervals[index] = replace(late, flags=(*late.flags, "late_stop"))
                continue
            book.orphans.append(event)
        elif running is not None:  # stop_all
            close(event, "end_of_shift", auto=True, flag="auto_stopped")
    if running is not None:
        book.intervals.append(running)
    book.intervals.sort(key=lambda i: (i.start, i.key))
    return book


def check_invariants(book: Book) -> None:
    """At most one running clock and no overlap. Raises AssertionError naming what broke."""
    running = [i for i in book.intervals if i.end is None]
    if len(running) > 1:
        raise AssertionError(f"{len(running)} clocks running at once")
    for i in book.intervals:
        if i.end is not None and i.end < i.start:
            raise AssertionError(f"interval {i.key} ends before it starts")
    ordered = sorted(book.intervals, key=lambda i: i.start)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.end is None or a.end > b.start:
            raise AssertionError(f"intervals {a.key} and {b.key} overlap")


def minutes_by_job(intervals: Iterable[Interval], until: datetime | None = None) -> dict[int, float]:
    """Clocked minutes per job; a running interval counts up to `until` (or not at all)."""
    totals: dict[int, float] = {}
    for i in intervals:
        totals[i.job] = totals.get(i.job, 0.0) + i.minutes(until)
    return totals


def effective_time(
    received: datetime, device_time: datetime | None, device_sent_at: datetime | None
) -> tuple[datetime, bool]:
    """When the tap happened, on the server's clock, and whether the tablet's clock looked wrong.

    The tablet sends when it captured the tap and when it sent it, both on its own clock; the
    difference between that send time and our receive time is its clock error (plus transit), so
    capture + error is the tap on our clock even after hours offline. Never later than received.
    In UTC, like every stored time, whatever offset the tablet wrote.
    """
    if device_time is None:
        return received, False
    for value in (device_time, device_sent_at):
        if value is not None and value.tzinfo is None:
            raise Invalid(
                "Device times need a UTC offset, e.g. 2026-11-22T09:30:00+08:00.",
                code="request.naive_time",
                params={"field": "device_time"},
            )
    flagged = False
    at = device_time
    if device_sent_at is not None:
        offset = received - device_sent_at
        if abs(offset) > SKEW_CORRECT:
            at = device_time + offset
        flagged = abs(offset) > SKEW_FLAG
    elif abs(received - device_time) > SKEW_FLAG_UNCORRECTED:
        flagged = True
    if at > received:  # from the future: clamp (R5)
        at = received
    if received - at > LATE_LIMIT:
        raise Invalid(
            "This clock tap is more than 48 hours old: ask the foreman to enter it as a correction.",
            code="clock.tap_too_old",
            params={"hours": int(LATE_LIMIT.total_seconds() // 3600)},
        )
    return at.astimezone(UTC), flagged


def review_reasons(
    at: datetime,
    received: datetime,
    *,
    job_created: datetime | None = None,
    day_started: datetime | None = None,
) -> tuple[str, ...]:
    """Why the foreman should look at a tap: it arrived REVIEW_AGE or more after it happened, or it
    is older than its job or than the person's open working day (beyond the clock error a tablet
    may have left after correction)."""
    reasons = []
    if received - at > REVIEW_AGE:
        reasons.append("late_tap")
    if job_created is not None and at < job_created - SKEW_CORRECT:
        reasons.append("before_job")
    if day_started is not None and at < day_started - SKEW_CORRECT:
        reasons.append("before_day")
    return tuple(reasons)


def job_state_after(current: JobState, intervals: list[Interval]) -> JobState:
    """A job's state from its clock intervals since its last quality check."""
    if current not in (
        JobState.ASSIGNED,
        JobState.IN_PROGRESS,
        JobState.PAUSED,
        JobState.FINISHED,
        JobState.REWORK,
    ):
        return current
    if any(i.end is None for i in intervals):
        return JobState.IN_PROGRESS
    if not intervals:
        return JobState.ASSIGNED if current is JobState.IN_PROGRESS else current
    last = max(intervals, key=lambda i: (i.end or i.start, i.start))
    return JobState.FINISHED if last.reason == "finished" else JobState.PAUSED


def autostop_cutoff(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The most recent runaway-timer cutoff (the configured time of day in shop time) not after now."""
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), at, tzinfo=zone)
    return today if today <= local else datetime.combine(local.date() - timedelta(days=1), at, tzinfo=zone)


def cutoff_after(moment: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first runaway-timer cutoff after `moment`: where a clock forgotten then is stopped."""
    local = moment.astimezone(zone)
    today = datetime.combine(local.date(), at, tzinfo=zone)
    return today if today > local else datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)


Span = tuple[datetime, datetime | None]


def clipped_minutes(spans: Iterable[Span], start: datetime, end: datetime, now: datetime) -> float:
    """Minutes of `spans` inside [start, end); a span still open counts up to now."""
    total = 0.0
    for a, b in spans:
        b = b or now
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds() / 60
    return total


def ratio(part: float, whole: float) -> float | None:
    """part ÷ whole rounded for display, or None when there is nothing to divide by."""
    return round(part / whole, 3) if whole > 0 else None
