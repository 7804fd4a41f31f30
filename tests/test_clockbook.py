"""The clock fold: rules by example, then RELIABILITY row 17 — a hypothesis state machine of
500 runs × 50 steps with two tablets sending on / off / switch / duplicate / late / reordered taps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from api import clockbook as cb
from api import workshop as w
from api.workshop import JobState

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def on(key: str, job: int, m: float) -> cb.ClockEvent:
    return cb.ClockEvent(key=key, kind="on", job=job, at=at(m))


def off(key: str, job: int, m: float, reason: str = "break") -> cb.ClockEvent:
    return cb.ClockEvent(key=key, kind="off", job=job, at=at(m), reason=reason)


def spans(book: cb.Book) -> list[tuple[int, float, float | None, str | None]]:
    def m(d: datetime | None) -> float | None:
        return None if d is None else (d - T0).total_seconds() / 60

    return [(i.job, m(i.start) or 0.0, m(i.end), i.reason) for i in book.intervals]


def test_a_start_while_another_runs_switches_and_a_late_stop_keeps_the_switch_time() -> None:
    book = cb.fold([on("a", 1, 0), on("b", 2, 30), off("c", 1, 45)])
    assert spans(book) == [(1, 0, 30, "switched"), (2, 30, None, None)]
    assert "late_stop" in book.intervals[0].flags
    # The stop that happened before the switch, arriving after it, wins (R2).
    book = cb.fold([on("a", 1, 0), on("b", 2, 30), off("c", 1, 20, "waiting_parts")])
    assert spans(book) == [(1, 0, 20, "waiting_parts"), (2, 30, None, None)]


def test_duplicates_orphans_and_stop_all() -> None:
    book = cb.fold([on("a", 1, 0), on("a", 1, 0), on("x", 1, 5), off("b", 1, 60, "finished")])
    assert spans(book) == [(1, 0, 60, "finished")]
    book = cb.fold([off("o", 3, 10), on("a", 1, 20), cb.ClockEvent("s", "stop_all", at(600))])
    assert [e.key for e in book.orphans] == ["o"]
    assert spans(book) == [(1, 20, 600, "end_of_shift")] and book.intervals[0].auto_stopped
    # Stop and start at the same second: the stop is applied first.
    assert spans(cb.fold([on("b", 2, 30), off("a", 1, 30), on("a0", 1, 0)]))[0] == (1, 0, 30, "break")


def test_effective_time_corrects_a_wrong_tablet_clock_and_clamps_the_future() -> None:
    received = at(600)
    # Tablet three hours slow, tap captured 10 minutes before sending: placed 10 minutes ago.
    capture, sent = at(410), at(420)
    assert cb.effective_time(received, capture, sent) == (at(590), True)
    # Small differences are transit time, not a wrong clock: kept as the tablet said.
    assert cb.effective_time(received, at(599), at(599.5)) == (at(599), False)
    # From the future without a send time: clamped to when we received it, flagged.
    assert cb.effective_time(received, at(700), None) == (received, True)
    with pytest.raises(w.Invalid, match="48 hours"):
        cb.effective_time(received, at(600 - 49 * 60), None)
    with pytest.raises(w.Invalid, match="UTC offset"):
        cb.effective_time(received, datetime(2026, 11, 23, 9, 0), None)


def test_job_state_follows_its_intervals() -> None:
    running = [cb.Interval("a", 1, at(0))]
    assert cb.job_state_after(JobState.ASSIGNED, running) is JobState.IN_PROGRESS
    done = [cb.Interval("a", 1, at(0), at(10), "finished")]
    assert cb.job_state_after(JobState.IN_PROGRESS, done) is JobState.FINISHED
    assert cb.job_state_after(JobState.QC_PASSED, running) is JobState.QC_PASSED
    assert cb.job_state_after(JobState.REWORK, []) is JobState.REWORK


def test_autostop_cutoff_is_the_latest_configured_time_of_day_in_shop_time() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    # 2026-11-23 13:30 UTC is 21:30 in Shanghai: today's 20:00 cutoff has passed.
    cutoff = cb.autostop_cutoff(datetime(2026, 11, 23, 13, 30, tzinfo=UTC), time(20, 0), shanghai)
    assert cutoff == datetime(2026, 11, 23, 20, 0, tzinfo=shanghai)
    cutoff = cb.autostop_cutoff(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), time(20, 0), shanghai)
    assert cutoff == datetime(2026, 11, 22, 20, 0, tzinfo=shanghai)


def test_a_forgotten_clock_stops_at_the_first_cutoff_after_it_started() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    # Started 09:00 Shanghai on the 22nd → that evening; started 21:00 → the next evening.
    morning = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    assert cb.cutoff_after(morning, time(20, 0), shanghai) == datetime(2026, 11, 22, 20, 0, tzinfo=shanghai)
    late = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
    assert cb.cutoff_after(late, time(20, 0), shanghai) == datetime(2026, 11, 23, 20, 0, tzinfo=shanghai)
    exactly = datetime(2026, 11, 22, 20, 0, tzinfo=shanghai)
    assert cb.cutoff_after(exactly, time(20, 0), shanghai) == datetime(2026, 11, 23, 20, 0, tzinfo=shanghai)


JOBS = (1, 2, 3)
TECH = 7
DEVICES = ("bay-1", "bay-2")


class TwoTablets(RuleBasedStateMachine):
    """One technician, two tablets with their own (drifting) clocks and their own queues.

    Taps are made on a tablet (queued there), then delivered in any interleaving, repeated
    (same key: a network retry) or made twice (other key: tapped on both tablets). Each delivery
    passes the same acceptance rule the server applies to tablet taps (workshop.clock_on/off with
    late=True, switch=True). Invariants hold after every step; the derived totals of what was
    accepted do not depend on the order it arrived in.
    """

    @initialize()
    def start(self) -> None:
        self.now = {d: 0.0 for d in DEVICES}
        self.queue: dict[str, list[cb.ClockEvent]] = {d: [] for d in DEVICES}
        self.accepted: list[cb.ClockEvent] = []
        self.arrivals: list[cb.ClockEvent] = []
        self.refused = 0
        self.counter = 0

    def _tap(self, device: str, kind: cb.Kind, job: int | None, reason: str | None = None) -> None:
        self.counter += 1
        event = cb.ClockEvent(f"{device}-{self.counter}", kind, at(self.now[device]), job, reason)
        self.queue[device].append(event)

    @rule(device=st.sampled_from(DEVICES), minutes=st.floats(0.5, 240))
    def time_passes(self, device: str, minutes: float) -> None:
        self.now[device] += minutes

    @rule(device=st.sampled_from(DEVICES), minutes=st.floats(1, 120))
    def tablet_clock_behind(self, device: str, minutes: float) -> None:
        # A late tap: this tablet's next taps carry a time before ones already made elsewhere.
        self.now[device] = max(0.0, self.now[device] - minutes)

    @rule(device=st.sampled_from(DEVICES), job=st.sampled_from(JOBS))
    def start_job(self, device: str, job: int) -> None:
        self._tap(device, "on", job)  # a start while another runs is a switch

    @rule(
        device=st.sampled_from(DEVICES),
        job=st.sampled_from(JOBS),
        reason=st.sampled_from(w.CLOCK_OFF_REASONS),
    )
    def stop_job(self, device: str, job: int, reason: str) -> None:
        self._tap(device, "off", job, reason)

    @rule(device=st.sampled_from(DEVICES))
    def end_of_day(self, device: str) -> None:
        self._tap(device, "stop_all", None)

    @precondition(lambda self: any(self.queue.values()))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        device = data.draw(st.sampled_from([d for d in DEVICES if self.queue[d]]))
        # FIFO per tablet is what the outbox does; the other tablet's queue interleaves freely.
        self._arrive(self.queue[device].pop(0))

    @precondition(lambda self: any(self.queue.values()))
    @rule(data=st.data())
    def deliver_out_of_order(self, data: st.DataObject) -> None:
        device = data.draw(st.sampled_from([d for d in DEVICES if self.queue[d]]))
        index = data.draw(st.integers(0, len(self.queue[device]) - 1))
        self._arrive(self.queue[device].pop(index))

    @precondition(lambda self: bool(self.arrivals))
    @rule(data=st.data())
    def network_retry(self, data: st.DataObject) -> None:
        self._arrive(data.draw(st.sampled_from(self.arrivals)))

    def _arrive(self, event: cb.ClockEvent) -> None:
        self.arrivals.append(event)
        if any(e.key == event.key for e in self.accepted):
            return  # the server answers a replayed key with its first reply
        running = cb.fold(self.accepted).open
        if event.kind != "stop_all":
            assert event.job is not None
            job = w.JobFacts(event.job, f"job {event.job}", JobState.ASSIGNED, TECH)
            open_job = None if running is None else w.JobFacts(running.job, "x", JobState.IN_PROGRESS, TECH)
            try:
                if event.kind == "on":
                    w.clock_on(job, TECH, open_job, switch=True, late=True)
                else:
                    w.clock_off(job, event.reason or "", open_job, TECH, late=True)
            except w.DomainError:
                self.refused += 1
                return
        self.accepted.append(event)

    @invariant()
    def rules_hold(self) -> None:
        book = cb.fold(self.accepted)
        cb.check_invariants(book)
        # Every interval belongs to an accepted start; nothing is counted twice.
        starts = {e.key for e in self.accepted if e.kind == "on"}
        assert all(i.key in starts for i in book.intervals)
        assert len({i.key for i in book.intervals}) == len(book.intervals)
        assert all(m >= 0 for m in cb.minutes_by_job(book.intervals).values())

    @invariant()
    def any_arrival_order_gives_the_same_totals(self) -> None:
        if len(self.accepted) < 2:
            return
        reference = cb.fold(self.accepted)
        shuffled = list(self.accepted)
        random.Random(len(shuffled)).shuffle(shuffled)
        again = cb.fold(shuffled + shuffled[:3])  # and with some replays mixed in
        assert again.intervals == reference.intervals
        assert cb.minutes_by_job(again.intervals) == cb.minutes_by_job(reference.intervals)

    def teardown(self) -> None:
        # Tablet taps are never refused for clock reasons: acceptance cannot depend on order.
        assert self.refused == 0


TwoTablets.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_two_tablets_state_machine = TwoTablets.TestCase
