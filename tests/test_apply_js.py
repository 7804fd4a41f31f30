"""Screens update themselves from the event alone (web/js/apply.js), with the catalogue's own events.

Every event is built here by the catalogue's constructors (api/events.py, the examples of
tests/test_events.py) and turned into the message /ws/shop sends (api/realtime/projection.py and
the hub's encoding), so a payload that changes shape changes what apply.js is given. Node runs
apply.js on each: the board, my jobs, the QC queue and the clock-review list must show what the
event says, without a read, and ask for one only where the event cannot tell. Every type of the
catalogue has an expectation for every screen, and apply.js knows exactly the catalogue's types.
Without Node these tests are skipped, except on CI (env CI set), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api import events
from api.events import NewEvent
from api.realtime import hub, projection
from api.workshop import Stage
from tests.test_events import AT, DAY, ENTRY, EXAMPLES, FINDING, JOB

APPLY = Path(__file__).resolve().parent.parent / "web" / "js" / "apply.js"
NODE = shutil.which("node")
ME = 5  # the technician of the catalogue's examples (JOB, ENTRY, DAY)
FOREMAN = 7

# Reads [{fn, args}] on stdin (a message is {type, ro, at, data, seq}), answers each call's result.
DRIVER = """
import * as apply from %s;
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map(({ fn, args }) => {
  if (fn === 'known') return apply.KNOWN;
  if (fn === 'replyAsEvent') return apply.replyAsEvent(...args);
  if (fn === 'steps') {
    // Several messages in turn: [view, [[fnName, message], ...], me] → the last result.
    const [view, steps, me] = args;
    let result = { view, reload: false, fetch: [] };
    let reload = false;
    const fetch = [];
    for (const [name, m] of steps) {
      result = apply[name](result.view, m, me);
      reload ||= result.reload;
      fetch.push(...result.fetch);
    }
    return { view: result.view, reload, fetch };
  }
  const r = apply[fn](...args);
  return { ...r, unchanged: r.view === args[0] };
});
process.stdout.write(JSON.stringify(out));
"""


def node(calls: list[dict[str, Any]]) -> list[Any]:
    if NODE is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed: apply.js cannot be checked", pytrace=False)
        pytest.skip("node is not installed (required on CI)")
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", DRIVER % json.dumps(APPLY.as_uri())],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: list[Any] = json.loads(done.stdout)
    return result


def sent(event: NewEvent, seq: int = 100, at: datetime = AT) -> dict[str, Any]:
    """The event as /ws/shop sends it: stored as commands.execute stores it, projected, encoded."""
    row = {
        "seq": seq,
        "type": event.type,
        "at": at,
        "repair_order": event.ro,
        "data": json.dumps(event.data, default=str, ensure_ascii=False),
    }
    message = projection.message(row, customer=False)
    assert message is not None
    decoded: dict[str, Any] = json.loads(hub.encode(message))
    return decoded


def iso(moment: datetime) -> str:
    return moment.isoformat()


def minutes_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60


EXAMPLE = {name: sent(event) for name, (event, _, _) in EXAMPLES.items()}
# Two examples as they really come: a stop closes its entry, a correction gives real times.
_STOPPED = {**ENTRY, "ended_at": iso(AT + timedelta(minutes=30)), "reason": "break"}
EXAMPLE["clock.off"] = sent(
    events.clock_tapped("clock.off", 1, ME, 11, [_STOPPED], _STOPPED, [{**JOB, "state": "paused"}])
)
EXAMPLE["clock.corrected"] = sent(
    events.clock_corrected(
        1,
        {**_STOPPED, "ended_at": iso(AT + timedelta(minutes=20))},
        {"started_at": _STOPPED["started_at"], "ended_at": _STOPPED["ended_at"]},
        {"started_at": _STOPPED["started_at"], "ended_at": iso(AT + timedelta(minutes=20))},
        "Forgot to stop",
        FOREMAN,
    )
)


# ---------- the views, as the server reads them ---------------------------------------------------


def board() -> list[dict[str, Any]]:
    """GET /api/repair-orders items: order 1 (the examples' order) and another car."""
    wiper = {**JOB, "id": 12, "title": "Wiper blades", "state": "recommended", "technician": None}
    wiper.update(approval="pending", needs_approval=True, price=95.0)
    return [
        {
            "id": 1,
            "number": "R-1",
            "stage": "in_progress",
            "promised_at": iso(AT + timedelta(hours=1)),
            "first_promised_at": iso(AT + timedelta(hours=1)),
            "jobs": [{**JOB, "state": "assigned"}, wiper],
            "promise_history": [],
            "findings": [],
        },
        {"id": 2, "number": "R-2", "stage": "checked_in", "promised_at": iso(AT), "jobs": []},
    ]


def mine(now: datetime = AT - timedelta(minutes=1)) -> dict[str, Any]:
    """GET /api/me/jobs of technician 5, read a minute before the examples happen."""
    return {
        "now": iso(now),
        "attendance": None,
        "open_entry": None,
        "review": [],
        "jobs": [
            {
                "id": 11,
                "title": JOB["title"],
                "state": "assigned",
                "estimated_hours": 1.5,
                "rework_count": 0,
                "clocked_minutes": 30.0,
                "running_since": None,
                "repair_order": {"id": 1, "number": "R-1", "promised_at": iso(AT + timedelta(hours=1))},
                "last_qc": None,
                "findings": [],
            }
        ],
    }


def queue() -> dict[str, Any]:
    """GET /api/qc/queue: job 11 finished, waiting for its check."""
    job = {key: JOB[key] for key in ("id", "title", "estimated_hours", "rework_count", "technician")}
    job.update(state="finished", clocked_minutes=80.0, finished_at=iso(AT))
    job["repair_order"] = {"id": 1, "number": "R-1", "promised_at": iso(AT + timedelta(hours=1))}
    return {"jobs": [job]}


def review() -> dict[str, Any]:
    """GET /api/clock-entries/review for the foreman: the examples' entry, flagged as a late tap."""
    flagged = {**ENTRY, "review_reasons": ["late_tap"], "reviewed_at": None, "technician_name": "Liu Yang"}
    return {"entries": [flagged]}


def job_of(view: dict[str, Any], job_id: int) -> dict[str, Any] | None:
    return next((j for j in view.get("jobs", []) if j["id"] == job_id), None)


def ro_of(items: list[dict[str, Any]], ro_id: int) -> dict[str, Any] | None:
    return next((r for r in items if r["id"] == ro_id), None)


Check = Callable[[dict[str, Any]], None]


def unchanged(result: dict[str, Any]) -> None:
    assert result["unchanged"], result
    assert not result["reload"] and not result["fetch"], result


def reads_again(result: dict[str, Any]) -> None:
    assert result["reload"], result


# ---------- every type, on every screen -----------------------------------------------------------


def board_job_state(state: str) -> Check:
    def check(result: dict[str, Any]) -> None:
        ro = ro_of(result["view"], 1)
        assert ro is not None and job_of(ro, 11)["state"] == state  # type: ignore[index]
        assert not result["reload"] and not result["fetch"]

    return check


def board_stage(result: dict[str, Any]) -> None:
    assert ro_of(result["view"], 1)["stage"] == "quality_check"  # type: ignore[index]


def board_promise(result: dict[str, Any]) -> None:
    ro = ro_of(result["view"], 1)
    assert ro is not None
    assert datetime.fromisoformat(ro["promised_at"]) == AT + timedelta(hours=2)
    assert ro["first_promised_at"] == iso(AT + timedelta(hours=1))  # the first promise stays
    assert [p["reason"] for p in ro["promise_history"]] == ["Parts late"]


def board_approved(result: dict[str, Any]) -> None:
    assert job_of(ro_of(result["view"], 1), 12)["approval"] == "approved"  # type: ignore[arg-type,index]


def board_finding(result: dict[str, Any]) -> None:
    assert [f["id"] for f in ro_of(result["view"], 1)["findings"]] == [FINDING["id"]]  # type: ignore[index]


def board_edited(result: dict[str, Any]) -> None:
    ro = ro_of(result["view"], 1)
    assert ro is not None and ro["mileage"] == 42000 and ro["customer"]["phone"] == "13800000001"
    assert not result["reload"] and not result["fetch"]


def board_gone(result: dict[str, Any]) -> None:
    assert [ro["id"] for ro in result["view"]] == [2]


def board_discount_pending(result: dict[str, Any]) -> None:
    assert ro_of(result["view"], 1)["attention"]["discount_pending"] is True  # type: ignore[index]


def board_fetch(result: dict[str, Any]) -> None:
    assert result["fetch"] == [1] and result["unchanged"]


BOARD: dict[str, Check] = {
    "ro.created": unchanged,  # order 1 is on the board already (a new one: below)
    "ro.updated": board_edited,
    "ro.handed_over": board_gone,
    "finding.priced": unchanged,  # no finding of order 1 waits for a price on this board
    "part.added": board_fetch,
    "part.updated": board_fetch,
    "part.awaited": board_fetch,
    "settlement.updated": board_discount_pending,
    "discount.approved": unchanged,
    "staff.deactivated": unchanged,
    "staff.activated": unchanged,
    "staff.pin_reset": unchanged,
    "staff.pin_chosen": unchanged,
    "stage.changed": board_stage,
    "promise.changed": board_promise,
    "job.added": board_job_state("in_progress"),
    "job.updated": board_job_state("in_progress"),
    "job.assigned": board_job_state("in_progress"),
    "qc.recorded": board_job_state("rework"),
    "approval.requested": unchanged,  # the job came with job.added
    "approval.decided": board_approved,
    "finding.added": board_finding,
    "clock.on": board_job_state("in_progress"),
    "clock.off": board_job_state("paused"),
    "clock.reviewed": unchanged,
    "clock.confirmed": unchanged,
    "clock.corrected": unchanged,
    "attendance.in": unchanged,
    "attendance.out": unchanged,
    "photo.added": unchanged,
    "walkaround.updated": unchanged,
    "walkaround.signed": unchanged,
    "survey.submitted": unchanged,
    "follow_up.created": unchanged,
    "follow_up.called": unchanged,
    "shop.set_up": unchanged,
    "shop.updated": unchanged,
    "staff.added": unchanged,
    "staff.unlocked": unchanged,
    "staff.locked_out": unchanged,
    "staff.signed_in": unchanged,
    "staff.signed_out": unchanged,
}


def mine_running(result: dict[str, Any]) -> None:
    view = result["view"]
    job = job_of(view, 11)
    assert job is not None and job["state"] == "in_progress"
    assert job["running_since"] == ENTRY["started_at"] and view["open_entry"]["id"] == ENTRY["id"]
    # What the card shows 10 minutes after the start: the 30 booked before, and the 10 running.
    shown = job["clocked_minutes"] + minutes_between(view["now"], iso(AT + timedelta(minutes=10)))
    assert shown == pytest.approx(40)
    assert not result["reload"]


def mine_stopped(result: dict[str, Any]) -> None:
    job = job_of(result["view"], 11)
    assert job is not None and job["state"] == "paused" and job["running_since"] is None
    assert job["clocked_minutes"] == pytest.approx(30 + 30) and not result["reload"]


def mine_corrected(result: dict[str, Any]) -> None:
    # Recorded after the read: the entry's minutes move by what the correction changed (30 → 20).
    assert job_of(result["view"], 11)["clocked_minutes"] == pytest.approx(30 - 10)  # type: ignore[index]
    assert not result["reload"]


def mine_job_state(state: str) -> Check:
    def check(result: dict[str, Any]) -> None:
        assert job_of(result["view"], 11)["state"] == state  # type: ignore[index]
        assert not result["reload"]

    return check


def mine_finding(result: dict[str, Any]) -> None:
    assert [f["id"] for f in job_of(result["view"], 11)["findings"]] == [FINDING["id"]]  # type: ignore[index]


def mine_promise(result: dict[str, Any]) -> None:
    promised = job_of(result["view"], 11)["repair_order"]["promised_at"]  # type: ignore[index]
    assert datetime.fromisoformat(promised) == AT + timedelta(hours=2)


def mine_day(result: dict[str, Any]) -> None:
    assert result["view"]["attendance"] == DAY


def mine_entry_only(result: dict[str, Any]) -> None:
    # Looked at or confirmed: nothing on my cards moves (the entry is not one waiting for me).
    assert result["view"]["jobs"] == mine()["jobs"] and not result["reload"]


MINE: dict[str, Check] = {
    "ro.created": unchanged,  # new work comes to nobody
    "ro.updated": reads_again,  # my card shows the car and the customer's words
    "ro.handed_over": unchanged,
    "finding.priced": unchanged,
    "part.added": reads_again,
    "part.updated": reads_again,
    "part.awaited": reads_again,
    "settlement.updated": unchanged,
    "discount.approved": unchanged,
    "staff.deactivated": unchanged,
    "staff.activated": unchanged,
    "staff.pin_reset": unchanged,
    "staff.pin_chosen": unchanged,
    "stage.changed": unchanged,
    "promise.changed": mine_promise,
    "job.added": mine_job_state("in_progress"),
    "job.updated": mine_job_state("in_progress"),
    "job.assigned": mine_job_state("in_progress"),
    "qc.recorded": reads_again,  # sent back: the failed items and their notes are not in the event
    "approval.requested": unchanged,
    "approval.decided": unchanged,
    "finding.added": mine_finding,
    "clock.on": mine_running,
    "clock.off": mine_stopped,
    "clock.reviewed": mine_entry_only,
    "clock.confirmed": mine_entry_only,
    "clock.corrected": mine_corrected,
    "attendance.in": mine_day,
    "attendance.out": unchanged,  # no day open on this view
    "photo.added": unchanged,  # a walk-around photo
    "walkaround.updated": unchanged,
    "walkaround.signed": unchanged,
    "survey.submitted": unchanged,
    "follow_up.created": unchanged,
    "follow_up.called": unchanged,
    "shop.set_up": unchanged,
    "shop.updated": unchanged,
    "staff.added": unchanged,
    "staff.unlocked": unchanged,
    "staff.locked_out": unchanged,
    "staff.signed_in": unchanged,
    "staff.signed_out": unchanged,
}


def queue_left(result: dict[str, Any]) -> None:
    assert result["view"]["jobs"] == [] and not result["reload"]


def queue_promise(result: dict[str, Any]) -> None:
    promised = result["view"]["jobs"][0]["repair_order"]["promised_at"]
    assert datetime.fromisoformat(promised) == AT + timedelta(hours=2)


QUEUE: dict[str, Check] = {
    **{name: unchanged for name in events.CATALOGUE},
    "promise.changed": queue_promise,
    # Job 11 is worked on again, or sent back: it no longer waits for its check.
    "job.added": queue_left,
    "job.updated": queue_left,
    "job.assigned": queue_left,
    "qc.recorded": queue_left,
    "clock.on": queue_left,
    "clock.off": queue_left,
    "clock.corrected": reads_again,  # time booked on a waiting job: its minutes change
}


def review_left(result: dict[str, Any]) -> None:
    # The example's entry carries no reason to review it (any more): it leaves the list.
    assert result["view"]["entries"] == [] and not result["reload"]


REVIEW: dict[str, Check] = {
    **{name: unchanged for name in events.CATALOGUE},
    "clock.on": review_left,
    "clock.off": review_left,
    "clock.reviewed": review_left,
    "clock.confirmed": review_left,
    "clock.corrected": review_left,
}

SCREENS: dict[str, tuple[str, Callable[[], Any], Any, dict[str, Check]]] = {
    "board": ("applyBoard", board, None, BOARD),
    "mine": ("applyMine", mine, ME, MINE),
    "queue": ("applyQueue", queue, None, QUEUE),
    "review": ("applyReview", review, FOREMAN, REVIEW),
}


def test_apply_js_knows_exactly_the_catalogues_types() -> None:
    (known,) = node([{"fn": "known", "args": []}])
    for screen, (_, _, _, expected) in SCREENS.items():
        assert set(expected) == set(events.CATALOGUE), f"tests: {screen} lacks an expectation"
        assert sorted(known[screen]) == sorted(events.CATALOGUE), f"apply.js {screen}"


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_each_event_of_the_catalogue_updates_each_screen(screen: str) -> None:
    fn, view, me, expected = SCREENS[screen]
    names = sorted(EXAMPLE)
    calls = [{"fn": fn, "args": [view(), EXAMPLE[name], me]} for name in names]
    for name, result in zip(names, node(calls), strict=True):
        try:
            expected[name](result)
        except AssertionError as exc:
            raise AssertionError(f"{screen} after {name}: {result}") from exc


def test_a_type_this_version_does_not_know_is_read_again_only_where_shown() -> None:
    future = {
        "seq": 5,
        "type": "x.future",
        "at": iso(AT),
        "ro": 1,
        "data": {"job_ids": [11], "staff_ids": [ME]},
    }
    elsewhere = {**future, "ro": 9, "data": {"job_ids": [99], "staff_ids": [8]}}
    calls = [
        {"fn": "applyBoard", "args": [board(), future]},
        {"fn": "applyBoard", "args": [board(), elsewhere]},
        {"fn": "applyMine", "args": [mine(), future, ME]},
        {"fn": "applyMine", "args": [mine(), elsewhere, ME]},
        {"fn": "applyQueue", "args": [queue(), future]},
        {"fn": "applyQueue", "args": [queue(), elsewhere]},
        {"fn": "applyReview", "args": [review(), future, FOREMAN]},
        {"fn": "applyReview", "args": [review(), elsewhere, FOREMAN]},
    ]
    results = node(calls)
    assert results[0]["fetch"] == [1] and results[0]["unchanged"]
    unchanged(results[1])
    for shown, other in zip(results[2::2], results[3::2], strict=True):
        assert shown["reload"], shown
        unchanged(other)


# ---------- the board -----------------------------------------------------------------------------


def test_board_reads_a_new_order_and_drops_a_delivered_one() -> None:
    new = sent(events.ro_created(9, "R-9", "沪B1", Stage.CHECKED_IN, [31], 2))
    delivered = sent(events.stage_changed(1, Stage.READY, Stage.DELIVERED))
    other_car = sent(events.job_updated(3, {**JOB, "id": 40}))
    created, gone, elsewhere = node(
        [
            {"fn": "applyBoard", "args": [board(), new]},
            {"fn": "applyBoard", "args": [board(), delivered]},
            {"fn": "applyBoard", "args": [board(), other_car]},
        ]
    )
    # The event has its number and plate; the card needs the customer, car, promise and link.
    assert created["fetch"] == [9] and created["unchanged"]
    assert [ro["id"] for ro in gone["view"]] == [2]
    unchanged(elsewhere)  # an order that is not on the board (delivered) stays off it


def test_board_events_applied_twice_or_again_over_a_newer_read_change_nothing_more() -> None:
    promise = sent(
        events.promise_changed(1, AT + timedelta(hours=2), AT + timedelta(hours=1), "Parts late", 2)
    )
    started = EXAMPLE["clock.on"]
    paused = sent(events.job_updated(1, {**JOB, "state": "paused"}), seq=101)
    once, twice = node(
        [
            {
                "fn": "steps",
                "args": [board(), [["applyBoard", promise], ["applyBoard", started], ["applyBoard", paused]]],
            },
            {
                "fn": "steps",
                "args": [
                    board(),
                    [
                        ["applyBoard", m]
                        for m in (promise, started, promise, started, paused, started, paused)
                    ],
                ],
            },
        ]
    )
    assert once["view"] == twice["view"]
    assert job_of(ro_of(once["view"], 1), 11)["state"] == "paused"  # type: ignore[arg-type,index]
    assert len(ro_of(once["view"], 1)["promise_history"]) == 1  # type: ignore[index]


# ---------- my jobs -------------------------------------------------------------------------------


def closed(entry: dict[str, Any], minutes: int, reason: str = "break", **more: Any) -> dict[str, Any]:
    end = datetime.fromisoformat(entry["started_at"]) + timedelta(minutes=minutes)
    return {**entry, "ended_at": iso(end), "reason": reason, **more}


def tap(kind: str, entries: list[dict[str, Any]], state: str, at: datetime, seq: int) -> dict[str, Any]:
    job = {**JOB, "state": state}
    event = events.clock_tapped(kind, 1, ME, 11, entries, entries[-1] if entries else None, [job])
    return sent(event, seq=seq, at=at)


def test_my_clock_runs_and_stops_from_the_events_with_the_minutes_it_adds() -> None:
    start = tap("clock.on", [ENTRY], "in_progress", AT, 1)
    stop = tap("clock.off", [closed(ENTRY, 25)], "paused", AT + timedelta(minutes=25), 2)
    once, twice = node(
        [
            {"fn": "steps", "args": [mine(), [["applyMine", start], ["applyMine", stop]], ME]},
            {"fn": "steps", "args": [mine(), [["applyMine", m] for m in (start, start, stop, stop)], ME]},
        ]
    )
    for result in (once, twice):
        view = result["view"]
        job = job_of(view, 11)
        assert job is not None and job["state"] == "paused" and job["running_since"] is None
        assert view["open_entry"] is None
        assert job["clocked_minutes"] == pytest.approx(30 + 25)
        assert not result["reload"]


def test_a_switch_stops_one_card_and_runs_the_other() -> None:
    other = {
        **mine()["jobs"][0],
        "id": 12,
        "title": "Wipers",
        "state": "in_progress",
        "running_since": iso(AT),
    }
    view = mine()
    view["jobs"].append(other)
    # Running since 10 minutes before the view was read: its 30 minutes count 9 of them.
    running = {**ENTRY, "id": 2, "job_id": 12, "started_at": iso(AT - timedelta(minutes=10))}
    view["open_entry"] = running
    other["running_since"] = running["started_at"]
    started = {**ENTRY, "id": 3, "started_at": iso(AT + timedelta(minutes=20))}
    switch = events.clock_tapped(
        "clock.on",
        1,
        ME,
        11,
        [closed(running, 30, "switched"), started],
        started,
        [{**JOB, "state": "in_progress"}, {**JOB, "id": 12, "state": "paused"}],
    )
    (result,) = node([{"fn": "applyMine", "args": [view, sent(switch, at=AT + timedelta(minutes=20)), ME]}])
    after = result["view"]
    assert job_of(after, 11)["running_since"] == started["started_at"]  # type: ignore[index]
    assert job_of(after, 12)["running_since"] is None  # type: ignore[index]
    assert job_of(after, 12)["state"] == "paused"  # type: ignore[index]
    # The stopped one ran 30 minutes in all: 9 were in the read, 21 more since.
    assert job_of(after, 12)["clocked_minutes"] == pytest.approx(30 - 9 + 30)  # type: ignore[index]
    assert after["open_entry"]["id"] == 3 and not result["reload"]


def test_my_jobs_read_again_only_where_the_event_cannot_tell() -> None:
    given = sent(events.job_assigned(1, {**JOB, "id": 13, "state": "assigned"}))
    someone_else = sent(events.job_assigned(1, {**JOB, "id": 14, "technician": {"id": 8, "name": "Wu"}}))
    taken_away = sent(events.job_assigned(1, {**JOB, "technician": {"id": 8, "name": "Wu"}}))
    passed = sent(events.qc_recorded(1, {**JOB, "state": "qc_passed"}, True, [], FOREMAN))
    # A late tap from an offline tablet re-derives an entry that began before this view was read.
    late = tap(
        "clock.off",
        [{**closed(ENTRY, 5), "id": 40, "started_at": iso(AT - timedelta(hours=2))}],
        "paused",
        AT,
        3,
    )
    old = sent(events.job_updated(1, {**JOB, "state": "paused"}), at=AT - timedelta(minutes=5))
    results = node(
        [
            {"fn": "applyMine", "args": [mine(), m, ME]}
            for m in (given, someone_else, taken_away, passed, late, old)
        ]
    )
    new_to_me, not_mine, away, checked, unknown_minutes, settled = results
    reads_again(new_to_me)  # its car, promise and minutes are not in the event
    unchanged(not_mine)
    assert job_of(away["view"], 11) is None and not away["reload"]
    assert job_of(checked["view"], 11) is None and not checked["reload"]  # through QC: off my list
    reads_again(unknown_minutes)
    unchanged(settled)  # recorded well before the view was read: the view holds it already


def test_a_correction_after_the_read_moves_the_minutes_by_what_it_changed() -> None:
    entry = closed(ENTRY, 30, auto_stopped=True, confirmed_at=None)
    view = mine()
    view["review"] = [entry]
    fixed = {**closed(ENTRY, 20), "auto_stopped": True, "confirmed_at": iso(AT + timedelta(hours=1))}
    before = {"started_at": entry["started_at"], "ended_at": entry["ended_at"]}
    after = {"started_at": fixed["started_at"], "ended_at": fixed["ended_at"]}
    correction = events.clock_corrected(1, fixed, before, after, "Forgot to stop", ME)
    (result,) = node([{"fn": "applyMine", "args": [view, sent(correction, at=AT + timedelta(hours=1)), ME]}])
    assert job_of(result["view"], 11)["clocked_minutes"] == pytest.approx(30 - 10)  # type: ignore[index]
    assert result["view"]["review"] == [] and not result["reload"]  # checked: off my list


def test_entries_stopped_on_their_own_wait_for_me_and_leave_once_confirmed() -> None:
    auto = closed({**ENTRY, "started_at": iso(AT)}, 40, "end_of_shift", auto_stopped=True, confirmed_at=None)
    stopped = tap("clock.off", [auto], "paused", AT + timedelta(minutes=40), 1)
    confirmed = sent(events.clock_confirmed(1, {**auto, "confirmed_at": iso(AT + timedelta(hours=2))}), seq=2)
    listed, gone = node(
        [
            {"fn": "steps", "args": [mine(), [["applyMine", stopped]], ME]},
            {"fn": "steps", "args": [mine(), [["applyMine", stopped], ["applyMine", confirmed]], ME]},
        ]
    )
    assert [e["id"] for e in listed["view"]["review"]] == [ENTRY["id"]]
    assert gone["view"]["review"] == []
    assert job_of(gone["view"], 11)["clocked_minutes"] == pytest.approx(30 + 40)  # type: ignore[index]


def test_my_day_opens_and_closes_and_others_days_are_theirs() -> None:
    opened = EXAMPLE["attendance.in"]
    ended = EXAMPLE["attendance.out"]
    theirs = sent(events.attendance_in({**DAY, "id": 9, "staff_id": 8}))
    results = node(
        [
            {"fn": "steps", "args": [mine(), [["applyMine", opened]], ME]},
            {"fn": "steps", "args": [mine(), [["applyMine", opened], ["applyMine", ended]], ME]},
            {"fn": "applyMine", "args": [mine(), theirs, ME]},
        ]
    )
    assert results[0]["view"]["attendance"] == DAY
    assert results[1]["view"]["attendance"] is None  # the server lists an open day only
    unchanged(results[2])


def test_a_photo_of_a_failed_item_joins_the_item_on_my_card() -> None:
    view = mine()
    failed = {
        "item_id": 4,
        "name": "Brakes",
        "name_en": "Brakes",
        "name_zh": "制动",
        "note": "",
        "photos": [],
    }
    view["jobs"][0].update(
        state="rework", last_qc={"passed": False, "failed": [failed], "signed_at": iso(AT)}
    )
    photo = {
        "id": 8,
        "kind": "qc",
        "panel": "qc:4",
        "job_id": 11,
        "url": "/api/photos/8",
        "thumb_url": "/api/photos/8/thumb",
    }
    message = sent(events.photo_added(1, photo, FOREMAN))
    (result,) = node([{"fn": "steps", "args": [view, [["applyMine", message], ["applyMine", message]], ME]}])
    photos = job_of(result["view"], 11)["last_qc"]["failed"][0]["photos"]  # type: ignore[index]
    assert photos == [{"id": 8, "url": "/api/photos/8", "thumb_url": "/api/photos/8/thumb"}]


def test_the_answer_to_my_own_tap_shows_it_and_its_event_changes_nothing_more() -> None:
    body = {"job": {**JOB, "state": "in_progress"}, "entry": ENTRY, "entries": [ENTRY]}
    echo = EXAMPLE["clock.on"]
    (reply,) = node([{"fn": "replyAsEvent", "args": ["/api/jobs/11/clock-on", body]}])
    assert reply["type"] == "clock.on"
    reply["reply"] = True
    answered, answered_then_echo, echo_only = node(
        [
            {"fn": "steps", "args": [mine(), [["applyReply", reply]], ME]},
            {"fn": "steps", "args": [mine(), [["applyReply", reply], ["applyMine", echo]], ME]},
            {"fn": "steps", "args": [mine(), [["applyMine", echo]], ME]},
        ]
    )
    assert answered["view"] == answered_then_echo["view"]
    assert {**answered["view"], "counted": None} == {**echo_only["view"], "counted": None}
    mine_running({**answered, "reload": False})


def test_ending_my_day_stops_my_clock_at_once() -> None:
    view = mine(now=AT + timedelta(minutes=1))  # read a minute into the running clock
    view["jobs"][0].update(state="in_progress", running_since=ENTRY["started_at"])
    view["open_entry"] = ENTRY
    view["attendance"] = DAY
    stopped = closed(ENTRY, 50, "end_of_shift", auto_stopped=True, confirmed_at=None)
    body = {"attendance": {**DAY, "clock_out_at": stopped["ended_at"]}, "auto_stopped": [stopped]}
    (reply,) = node([{"fn": "replyAsEvent", "args": ["/api/attendance/clock-out", body]}])
    (result,) = node([{"fn": "applyReply", "args": [view, {**reply, "reply": True}, ME]}])
    after = result["view"]
    job = job_of(after, 11)
    assert job is not None and job["state"] == "paused" and job["running_since"] is None
    assert after["open_entry"] is None and after["attendance"] is None
    assert job["clocked_minutes"] == pytest.approx(30 - 1 + 50)  # the read counted its first minute
    assert [e["id"] for e in after["review"]] == [ENTRY["id"]]


def test_answers_that_are_not_a_taps_are_not_events() -> None:
    calls = [
        {"fn": "replyAsEvent", "args": ["/api/repair-orders/1/photos", {"id": 3}]},
        {"fn": "replyAsEvent", "args": ["/api/jobs/11/clock-on", None]},
        {"fn": "replyAsEvent", "args": ["/api/jobs/11/findings", FINDING]},
    ]
    photo, nothing, finding = node(calls)
    assert photo is None and nothing is None
    assert finding == {"type": "finding.added", "data": {"finding": FINDING}}


# ---------- the QC queue and the clock review -------------------------------------------------------


def test_a_job_that_joins_the_queue_is_read_with_it() -> None:
    finished = sent(events.job_updated(1, {**JOB, "id": 12, "state": "finished"}))
    (result,) = node([{"fn": "applyQueue", "args": [queue(), finished]}])
    reads_again(result)  # its car and clocked minutes are not in the event


def test_a_newly_flagged_entry_is_read_with_the_list_unless_it_is_the_reviewers_own() -> None:
    flagged = {**ENTRY, "id": 9, "review_reasons": ["before_day"], "reviewed_at": None}
    late = tap("clock.on", [flagged], "in_progress", AT, 1)
    theirs, own = node(
        [
            {"fn": "applyReview", "args": [review(), late, FOREMAN]},
            {"fn": "applyReview", "args": [review(), late, ME]},  # the technician cannot review their own
        ]
    )
    reads_again(theirs)
    assert not own["reload"]
