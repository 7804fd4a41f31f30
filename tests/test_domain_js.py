"""The rules the screens repeat (web/js/domain.js) are the server's rules.

A tablet shows what a tap did before the server has it (my-jobs.js lays unsent taps over the
server's view with domain.js's clock fold), and decides which buttons and screens to offer from
domain.js's states and roles. Here Node runs domain.js: the same random taps go to it and to
api.clockbook.fold, and its lists are compared with the Python enums and the policy table.
Without Node these tests are skipped, except on CI (env CI set), where that is a failure.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from api import clockbook, floor, policy, workshop
from api.clockbook import ClockEvent
from api.workshop import JobFacts, JobState, Stage

WEB_JS = Path(__file__).resolve().parent.parent / "web" / "js"
DOMAIN = WEB_JS / "domain.js"
NODE = shutil.which("node")
SEQUENCES = 400
SEED = 20261122

# Reads JSON cases on stdin, answers JSON on stdout: one Node process for every case.
FOLD_DRIVER = """
import { fold, jobStateAfter } from %s;
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map(({ events, states }) => {
  const book = fold(events);
  const after = {};
  for (const [job, state] of Object.entries(states)) {
    after[job] = jobStateAfter(state, book.intervals.filter((i) => i.job === Number(job)));
  }
  return {
    intervals: book.intervals,
    orphans: book.orphans.map((e) => e.key),
    open: book.open ? book.open.key : null,
    states: after,
  };
});
process.stdout.write(JSON.stringify(out));
"""

# Every exported list, set or table of domain.js, as JSON (sets as arrays).
LISTS_DRIVER = """
import * as domain from %s;
const plain = (v) => (v instanceof Set ? [...v] : Array.isArray(v) ? v : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])));
const out = {};
for (const [name, value] of Object.entries(domain)) if (typeof value !== 'function') out[name] = plain(value);
process.stdout.write(JSON.stringify(out));
"""


def node(driver: str, stdin: str = "") -> Any:
    if NODE is None:
        if os.environ.get("CI"):
            pytest.fail(
                "node is not installed: domain.js cannot be checked against the server", pytrace=False
            )
        pytest.skip("node is not installed (required on CI)")
    script = driver % json.dumps(DOMAIN.as_uri())
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ---------- the clock fold ----------------------------------------------------------------------

BASE = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ZONES = (UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)))


def random_taps(rng: random.Random) -> list[ClockEvent]:
    """Taps of one technician as a server receives them: switches, stops for jobs that are not
    running (orphans, or late after a switch), stop-alls, repeats of one key, ties in time,
    in any arrival order."""
    jobs = rng.randint(1, 4)
    events: list[ClockEvent] = []
    for i in range(rng.randint(0, 14)):
        if events and rng.random() < 0.1:
            events.append(rng.choice(events))  # the same tap again (a retry, or two ways in)
            continue
        # Few distinct instants, so ties (a switch's stop and start share one) are frequent.
        at = BASE + timedelta(minutes=rng.randint(0, 20), milliseconds=rng.choice((0, 0, 0, 250, 999)))
        kind: clockbook.Kind = rng.choices(("on", "off", "stop_all"), weights=(45, 40, 15))[0]
        job = None if kind == "stop_all" else rng.randint(1, jobs)
        reason = rng.choice((*workshop.CLOCK_OFF_REASONS, None)) if kind == "off" else None
        key = rng.choice(("k", "tap-", "server:")) + str(i)  # keys that do not sort like numbers
        events.append(ClockEvent(key=key, kind=kind, at=at, job=job, reason=reason))
    rng.shuffle(events)
    return events


def as_json(event: ClockEvent, rng: random.Random) -> dict[str, Any]:
    # The screens hold times as ISO strings with any offset (the server's, the tablet's UTC).
    at = event.at.astimezone(rng.choice(ZONES)).isoformat()
    return {"key": event.key, "kind": event.kind, "at": at, "job": event.job, "reason": event.reason}


def interval_out(interval: clockbook.Interval) -> dict[str, Any]:
    return {
        "key": interval.key,
        "job": interval.job,
        "start": interval.start,
        "end": interval.end,
        "reason": interval.reason,
        "auto_stopped": interval.auto_stopped,
        "flags": list(interval.flags),
        "end_key": interval.end_key,
    }


def js_interval(interval: dict[str, Any]) -> dict[str, Any]:
    at = datetime.fromisoformat
    return {
        "key": interval["key"],
        "job": interval["job"],
        "start": at(interval["start"]),
        "end": at(interval["end"]) if interval["end"] is not None else None,
        "reason": interval["reason"],
        "auto_stopped": interval["autoStopped"],
        "flags": interval["flags"],
        "end_key": interval["endKey"],
    }


def test_domain_js_folds_random_taps_like_the_server() -> None:
    rng = random.Random(SEED)
    cases = []
    for _ in range(SEQUENCES):
        events = random_taps(rng)
        jobs = sorted({e.job for e in events if e.job is not None})
        states = {job: rng.choice(list(JobState)) for job in jobs}
        cases.append((events, states))
    payload = [
        {"events": [as_json(e, rng) for e in events], "states": {str(j): s.value for j, s in states.items()}}
        for events, states in cases
    ]
    answers = node(FOLD_DRIVER, json.dumps(payload))
    assert len(answers) == len(cases)

    seen: Counter[str] = Counter()
    for n, ((events, states), js) in enumerate(zip(cases, answers, strict=True)):
        book = clockbook.fold(events)
        where = f"sequence {n} (seed {SEED}): {[as_json(e, random.Random(0)) for e in events]}"
        assert [js_interval(i) for i in js["intervals"]] == [interval_out(i) for i in book.intervals], where
        assert js["orphans"] == [e.key for e in book.orphans], where
        assert js["open"] == (book.open.key if book.open else None), where
        expected = {
            str(job): clockbook.job_state_after(state, [i for i in book.intervals if i.job == job]).value
            for job, state in states.items()
        }
        assert js["states"] == expected, where
        # What the random taps covered: the test is only as good as this.
        for interval in book.intervals:
            seen.update(interval.flags)
        seen["orphan"] += bool(book.orphans)
        seen["open"] += book.open is not None
        seen["repeat"] += len({e.key for e in events}) < len(events)
        seen["tie"] += len({e.at for e in events}) < len({e.key for e in events})
        seen["finished"] += any(i.reason == "finished" for i in book.intervals)
    for case in ("switched", "late_stop", "auto_stopped", "orphan", "open", "repeat", "tie", "finished"):
        assert seen[case] >= 20, f"the random taps hardly cover {case!r}: {seen}"


# ---------- states, reasons, roles --------------------------------------------------------------


def startable(state: JobState) -> bool:
    """Whether the server lets the assigned technician start a job in `state` (no late tap)."""
    try:
        workshop.clock_on(JobFacts(id=1, title="t", state=state, technician_id=7), 7, None)
    except workshop.DomainError:
        return False
    return True


def stage_of(*states: JobState) -> Stage:
    return workshop.stage([JobFacts(id=i, title="t", state=s) for i, s in enumerate(states)], False, False)


def test_domain_js_lists_are_the_servers() -> None:
    js = node(LISTS_DRIVER)
    assert js["JOB_STATES"] == [s.value for s in JobState]
    assert js["STOP_REASONS"] == list(workshop.CLOCK_OFF_REASONS)
    # Asked of the rules themselves, not of their private names.
    assert set(js["STARTABLE"]) == {s.value for s in JobState if startable(s)}
    # Done: a repair order whose work is all in these states waits for (or is through) QC.
    done = {s.value for s in JobState if stage_of(s) is Stage.QUALITY_CHECK}
    assert set(js["DONE_STATES"]) == done
    # Not work: it neither holds back nor moves a repair order whose other work is done.
    beside_done = {s.value for s in JobState if stage_of(JobState.FINISHED, s) is Stage.QUALITY_CHECK}
    assert set(js["NOT_WORK"]) == beside_done - done
    # A technician's own jobs (their tablet's list, and which events apply.js lets onto it).
    assert set(js["MINE"]) == set(floor.MY_STATES)
    assert js["ROLES"] == list(policy.ROLES)
    assert js["POLICY"], "domain.js names no operation"
    for operation, roles in js["POLICY"].items():
        assert operation in policy.POLICY, f"domain.js names {operation!r}, which api/policy.py does not know"
        assert set(roles) == set(policy.POLICY[operation]), operation


def test_screens_take_the_lists_from_domain_js() -> None:
    """No screen spells out its own list of states, reasons or roles (they would drift again)."""
    words = {s.value for s in JobState} | set(workshop.CLOCK_OFF_REASONS) | set(policy.ROLES)
    literal = re.compile(r"\[((?:\s*'[a-z_]+'\s*,?)+)\]")
    found = []
    for path in sorted(WEB_JS.glob("*.js")):
        if path.name in ("domain.js", "i18n.js"):
            continue
        for match in literal.finditer(path.read_text(encoding="utf-8")):
            items = re.findall(r"'([a-z_]+)'", match.group(1))
            if len(items) > 1 and set(items) <= words:
                found.append(f"{path.name}: {match.group(0)}")
    assert not found, f"use web/js/domain.js instead: {found}"
