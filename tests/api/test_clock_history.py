"""Issue 18 item 1: a clock tap derives only from what can still change, the person's open working
day and open entries; history before it is settled and never re-read, whatever its length. And
issue 12 item 5: one read for all of it, the answer built from that read, not read back."""

from __future__ import annotations

import contextlib
import itertools
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from piccolo.engine import engine_finder

from api import clockbook, clockstore, readmodels
from api.tables import Attendance, ClockEntry, ClockEvent, Job
from tests import sqlcount
from tests.conftest import BACKEND
from tests.factories import ro_body, signed_in, tapped

HISTORY_DAYS = 150
_keys = itertools.count()


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"history-{next(_keys)}"}


@dataclass
class Floor:
    tech: httpx.AsyncClient
    person: int
    jobs: list[int]  # three of today's jobs, all the technician's
    old_job: int  # the job of the long history
    now: datetime


@pytest.fixture
async def floor(app: Any, clean: None) -> AsyncIterator[Floor]:
    advisor, _ = await signed_in(app, "advisor")
    tech, person = await signed_in(app, "technician")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech):
        jobs = [{"title": f"Job {i}", "estimated_hours": 1} for i in range(4)]
        ro = (await advisor.post("/api/repair-orders", json=ro_body(jobs=jobs))).json()
        ids = [j["id"] for j in ro["jobs"]]
        for job_id in ids:
            r = await advisor.post(f"/api/jobs/{job_id}/assign", json={"technician_id": person["id"]})
            assert r.status_code == 200, r.text
        now = datetime.now(UTC).replace(microsecond=0)
        # Written up yesterday: today's taps (and a late one from last night) are not "before the job".
        await Job.update({Job.created_at: now - timedelta(days=2)}).where(Job.id.is_in(ids))
        yield Floor(tech, person["id"], ids[:3], ids[3], now)


async def write_history(person: int, job: int, days: int, until: datetime) -> None:
    """`days` settled working days before `until` (two entries each, with the taps they came from
    and the day's attendance), written straight into the tables as the clock had written them."""
    entries, taps, attended = [], [], []
    for d in range(days, 0, -1):
        day = until - timedelta(days=d)
        attended.append(
            Attendance(
                staff=person, clock_in_at=day, clock_out_at=day + timedelta(hours=9), opened_by="person"
            )
        )
        for n, (start, end) in enumerate(((1, 3), (4, 7))):
            on_key, off_key = f"h{d}-{n}-on", f"h{d}-{n}-off"
            began, ended = day + timedelta(hours=start), day + timedelta(hours=end)
            taps.append(
                ClockEvent(key=on_key, technician=person, job=job, kind="on", at=began, received_at=began)
            )
            taps.append(
                ClockEvent(
                    key=off_key,
                    technician=person,
                    job=job,
                    kind="off",
                    at=ended,
                    reason="break",
                    received_at=ended,
                )
            )
            entries.append(
                ClockEntry(
                    job=job,
                    technician=person,
                    started_at=began,
                    ended_at=ended,
                    reason="break",
                    on_key=on_key,
                )
            )
    for rows in (attended, taps, entries):
        await type(rows[0]).insert(*rows)


@dataclass
class Seen:
    """What the taps' reads returned, by part of the read."""

    rows: dict[str, list[dict[str, Any]]]


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Seen:
    record = Seen({})
    real = clockstore.json_rows

    async def spy(sql: str, **params: Any) -> list[tuple[str, dict[str, Any]]]:
        rows = await real(sql, **params)
        for part, row in rows:
            record.rows.setdefault(part, []).append(row)
        return rows

    monkeypatch.setattr(clockstore, "json_rows", spy)
    return record


async def test_a_tap_reads_only_what_can_still_change(floor: Floor, seen: Seen) -> None:
    """After months of settled days, taps (live, switched, late, out of order) read only today's
    window. A tap left in old history that no entry reflects would change the result if it were
    folded again: it stays out."""
    now, (a, b, c) = floor.now, floor.jobs
    await write_history(floor.person, floor.old_job, HISTORY_DAYS, now - timedelta(days=1))
    stray = now - timedelta(days=2, hours=-8)  # after that day's last entry: would run on and on
    await ClockEvent.insert(
        ClockEvent(
            key="stray", technician=floor.person, job=floor.old_job, kind="on", at=stray, received_at=stray
        )
    )
    sends = [
        (a, "on", now - timedelta(minutes=50), {}),
        (b, "on", now - timedelta(minutes=30), {"switch": True}),
        (b, "off", now - timedelta(minutes=10), {"reason": "waiting_parts"}),
        (a, "off", now - timedelta(minutes=40), {"reason": "break"}),  # late: the switch was later
        (c, "on", now - timedelta(minutes=5), {}),
    ]
    for job, kind, at, body in sends:
        r = await floor.tech.post(f"/api/jobs/{job}/clock-{kind}", json=tapped(at, **body), headers=key())
        assert r.status_code == 200, r.text

    today = now - timedelta(hours=1)
    assert {row["job"] for row in seen.rows["entry"]} <= {a, b, c}
    for part, column in (("event", "at"), ("mine", "started_at"), ("entry", "started_at")):
        assert all(clockstore.moment(row[column]) >= today for row in seen.rows[part]), part
    # Each tap read the taps of its window only: never more than the five of today.
    assert len(seen.rows["event"]) <= sum(range(len(sends)))
    assert await ClockEntry.count().where(ClockEntry.started_at == stray) == 0
    # What the server keeps equals the fold of today's taps (the history stays as it was).
    taps = await ClockEvent.select().where(ClockEvent.at >= today)
    book = clockbook.fold(
        clockbook.ClockEvent(t["key"], t["kind"], t["at"], t["job"], t["reason"]) for t in taps
    )
    rows = await ClockEntry.select().where(ClockEntry.started_at >= today).order_by(ClockEntry.started_at)
    assert [(r["job"], r["started_at"], r["ended_at"], r["reason"]) for r in rows] == [
        (i.job, i.start, i.end, i.reason) for i in book.intervals
    ]
    assert [(i.job, i.reason) for i in book.intervals] == [(a, "break"), (b, "waiting_parts"), (c, None)]
    assert await ClockEntry.count() == 2 * HISTORY_DAYS + 3


async def test_a_clock_running_longer_than_the_reach_is_read_whole(floor: Floor, seen: Seen) -> None:
    """A tap's read is bounded below by REACH before it (a value the planner sees); a clock that
    ran longer than that (the runaway-timer guard did not stop it) starts the window earlier, and
    the tap reads again from there: its result is the fold of every tap of the window."""
    now, (a, _, _) = floor.now, floor.jobs
    await write_history(floor.person, floor.old_job, 5, now - timedelta(days=2))
    began = now - clockstore.REACH - timedelta(hours=4)
    r = await floor.tech.post(f"/api/jobs/{a}/clock-on", json=tapped(began), headers=key())
    assert r.status_code == 200, r.text
    assert len(seen.rows["window"]) == 1  # the window of a tap with nothing running starts at it
    r = await floor.tech.post(f"/api/jobs/{a}/clock-off", json={"reason": "break"}, headers=key())
    assert r.status_code == 200, r.text
    assert len(seen.rows["window"]) == 3, "the stop read its window twice: from REACH, then from the start"
    assert clockstore.moment(seen.rows["window"][-1]["start"]) == began
    rows = await ClockEntry.select().where(ClockEntry.started_at >= began)
    assert [(row["job"], row["started_at"], row["reason"]) for row in rows] == [(a, began, "break")]
    assert rows[0]["ended_at"] is not None and rows[0]["ended_at"] >= now
    job = await Job.select(Job.state).where(Job.id == a).first()
    assert job is not None and job["state"] == "paused"


async def test_the_answer_is_what_was_stored(floor: Floor) -> None:
    """The reply and the events are built from the one read and the writes, not read back: they
    must equal the rows as stored (times in UTC whatever offset the tablet sent, booleans, the ids
    of new entries, job states)."""
    now, (a, b, _) = floor.now, floor.jobs
    shanghai = ZoneInfo("Asia/Shanghai")
    taps = [
        (a, "on", now - timedelta(minutes=50), {}),
        (b, "on", (now - timedelta(minutes=30)).astimezone(shanghai), {"switch": True}),
        (a, "off", now - timedelta(minutes=40), {"reason": "finished"}),  # late: closes A earlier
        (b, "off", (now - timedelta(minutes=20)).astimezone(shanghai), {"reason": "break"}),
    ]
    for job, kind, at, body in taps:
        r = await floor.tech.post(f"/api/jobs/{job}/clock-{kind}", json=tapped(at, **body), headers=key())
        assert r.status_code == 200, r.text
        answer = r.json()
        titles = await readmodels.job_titles({a, b})
        stored = {
            row["id"]: readmodels.entry_out(row, titles)
            for row in await ClockEntry.select().where(
                ClockEntry.id.is_in([e["id"] for e in answer["entries"]])
            )
        }
        assert answer["entries"] and answer["entries"] == [stored[e["id"]] for e in answer["entries"]]
        assert answer["entry"] == stored[answer["entry"]["id"]]
        rows = (await readmodels.jobs_of([await _ro_of(job)]))[await _ro_of(job)]
        assert answer["job"] == next(readmodels.job_out(r) for r in rows if r["id"] == job)
    states = {r["id"]: r["state"] for r in await Job.select(Job.id, Job.state).where(Job.id.is_in([a, b]))}
    assert states == {a: "finished", b: "paused"}


async def _ro_of(job_id: int) -> int:
    row = await Job.select(Job.repair_order).where(Job.id == job_id).first()
    assert row is not None
    return int(row["repair_order"])


def _vm_steps(path: str, sql: str, args: list[Any]) -> int:
    """Virtual-machine instructions SQLite runs for one statement: grows with the rows it visits,
    whatever the index or plan (counted on a connection of the test's own)."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    connection = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        connection.set_progress_handler(tick, 1)
        connection.execute(sql, args).fetchall()
    finally:
        connection.close()
    return steps


@pytest.mark.skipif(BACKEND != "sqlite", reason="counts SQLite's virtual-machine steps")
async def test_the_read_of_a_tap_costs_the_same_after_months_of_history(floor: Floor, app: Any) -> None:
    """The tap's one read, for a person with months of settled days and for one with none, in the
    same state today: the work SQLite does may not grow with the history."""
    now, (a, _, _) = floor.now, floor.jobs
    newcomer, other = await signed_in(app, "technician")
    async with contextlib.aclosing(newcomer):
        for client in (floor.tech, newcomer):
            if client is newcomer:
                await Job.update({Job.technician: other["id"]}).where(Job.id == floor.jobs[1])
            job = a if client is floor.tech else floor.jobs[1]
            r = await client.post(
                f"/api/jobs/{job}/clock-on", json=tapped(now - timedelta(minutes=30)), headers=key()
            )
            assert r.status_code == 200, r.text
        await write_history(floor.person, floor.old_job, HISTORY_DAYS, now - timedelta(days=1))
        engine = engine_finder()
        assert engine is not None
        path = engine.path  # type: ignore[attr-defined]
        named = re.compile(r":([a-z_]+)\b")  # the read's parameters, as api.clockstore.json_rows finds them
        sql, names = named.sub("?", clockstore.WINDOW_SQL), named.findall(clockstore.WINDOW_SQL)

        def cost(person: int, job: int) -> int:
            params = {"person": person, "at": now - timedelta(minutes=1), "job": job}
            params["since"] = params["at"] - clockstore.REACH
            return _vm_steps(path, sql, [params[n] for n in names])

        settled, fresh = cost(floor.person, a), cost(other["id"], floor.jobs[1])
        print(f"\nVM steps of a tap's read: {settled} after {HISTORY_DAYS} days, {fresh} on the first day")
        assert settled <= fresh * 1.2, (settled, fresh)


async def test_a_correction_of_an_old_entry_touches_only_that_entry(floor: Floor, app: Any) -> None:
    """Correcting an entry of months ago writes that entry (and its audit) and reads near it only."""
    now = floor.now
    await write_history(floor.person, floor.old_job, 30, now - timedelta(days=1))
    foreman, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(foreman):
        old = await ClockEntry.select().order_by(ClockEntry.started_at).first()
        assert old is not None
        before = await ClockEntry.select().where(ClockEntry.id != old["id"]).order_by(ClockEntry.id)
        engine = engine_finder()
        assert engine is not None
        sqlcount.install(engine)
        new_end = old["ended_at"] - timedelta(minutes=30)
        with sqlcount.counting() as statements:
            r = await foreman.post(
                f"/api/clock-entries/{old['id']}/correct",
                json={"ended_at": new_end.isoformat(), "reason": "Left early"},
                headers=key(),
            )
        assert r.status_code == 200, r.text
        assert r.json()["ended_at"] == new_end.isoformat() and r.json()["corrected"] is True
        assert await ClockEntry.select().where(ClockEntry.id != old["id"]).order_by(ClockEntry.id) == before
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and '"clock_entry"' in s]
        # The entry itself, then the person's entries near the new times: bounded on both sides.
        assert len(reads) == 2, reads
        assert '"clock_entry"."started_at" >' in reads[1] and '"clock_entry"."started_at" <' in reads[1]
        writes = [
            s for s in statements if '"clock_entry"' in s and not s.lstrip().upper().startswith("SELECT")
        ]
        assert len(writes) == 1 and f'WHERE "clock_entry"."id" = {old["id"]}' in writes[0], writes
        assert any(s.startswith('INSERT INTO "clock_correction"') for s in statements)
