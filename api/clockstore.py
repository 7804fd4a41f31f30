"""Clock taps in the database: read what a tap can still change, keep the tap, write what it changed.

A tap derives only from what can still change. The fold (api.clockbook) runs in time order, so a
tap at `at` changes nothing before the last moment at or before `at` when none of the person's
clocks ran: the window starts there (the start of the entry running at `at`, or `at` itself). For a
tap made now that is the start of the person's open entry; a tap that waited offline reaches back
at most clockbook.LATE_LIMIT. Entries and events before the window are settled and never read.

A tap costs one read (`load`: the window's entries and events, the jobs and orders they concern,
the person's working day), the tap's INSERT, one statement writing every entry it changed and one
moving the job states it changed. Runs inside a command (api.commands.execute). No web imports.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.columns import Boolean, Timestamptz
from piccolo.engine import engine_finder
from piccolo.table import Table

from api import clockbook, db, workshop
from api.tables import Attendance, ClockEntry, ClockEvent, Job

# The columns the fold owns on an entry: a re-derivation rewrites them. The others (a confirmation,
# a correction, the foreman's review) belong to people and survive it.
FOLDED = (
    "job",
    "started_at",
    "ended_at",
    "reason",
    "auto_stopped",
    "flags",
    "device_started_at",
    "device_ended_at",
)
_ENTRY_INSERT = (
    "job",
    "technician",
    "started_at",
    "ended_at",
    "reason",
    "device_started_at",
    "device_ended_at",
    "auto_stopped",
    "on_key",
    "flags",
    "confirmed_at",
    "corrected_started_at",
    "corrected_ended_at",
    "corrected",
    "reviewed_at",
    "review_queued",
)
_NEW_ENTRY = {
    "confirmed_at": None,
    "corrected_started_at": None,
    "corrected_ended_at": None,
    "corrected": False,
    "reviewed_at": None,
    "review_queued": None,
}


@dataclass
class Refolded:
    """What one re-derivation changed: entries (as rows after the change) and jobs whose state moved."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[int, tuple[str, str]] = field(default_factory=dict)  # job → (state before, state after)


@dataclass
class Window:
    """What a tap of `technician` at a moment can change, read in one statement (`load`)."""

    technician: int
    start: datetime  # no clock of the person ran just before: the fold starts here
    events: list[dict[str, Any]]  # the person's clock events from `start` on
    mine: list[dict[str, Any]]  # the person's entries from `start` on: the re-derivation replaces them
    entries: list[dict[str, Any]]  # every entry (anyone's) of the jobs concerned: their states follow
    jobs: dict[int, dict[str, Any]]  # every job of the orders concerned (with "technician.name")
    orders: dict[int, dict[str, Any]]  # order → {"ready_at", "delivered_at"}: enough for its stage
    last_qc: dict[int, datetime]  # job → its last quality check: a job's state counts entries since
    day: dict[str, Any] | None  # the person's open working day
    last_out: datetime | None  # the end of the person's last closed working day

    @property
    def open_entry(self) -> dict[str, Any] | None:
        """The person's running entry (at most one: partial unique index)."""
        return next((e for e in self.mine if e["ended_at"] is None), None)

    def job(self, job_id: int) -> dict[str, Any]:
        """A job of the window, or NotFound (a tap on a job that does not exist)."""
        row = self.jobs.get(job_id)
        if row is None:
            raise workshop.NotFound(
                f"Job {job_id} does not exist.", code="job.not_found", params={"id": job_id}
            )
        return row

    def facts(self, job_id: int) -> workshop.JobFacts:
        """What the rules need to know of a job."""
        return _facts(self.job(job_id))

    def stages(self) -> dict[int, workshop.Stage]:
        """Each order's stage as its jobs stand in the window (call again after `append`)."""
        by_order: dict[int, list[dict[str, Any]]] = {ro: [] for ro in self.orders}
        for row in self.jobs.values():
            by_order[row["repair_order"]].append(row)
        return {
            ro: workshop.stage(
                [_facts(r) for r in rows],
                ready=self.orders[ro]["ready_at"] is not None,
                delivered=self.orders[ro]["delivered_at"] is not None,
            )
            for ro, rows in by_order.items()
        }


def _facts(row: dict[str, Any]) -> workshop.JobFacts:
    return workshop.JobFacts(
        id=row["id"],
        title=row["title"],
        state=workshop.JobState(row["state"]),
        technician_id=row["technician"],
    )


def new_key() -> str:
    """A key for events the server itself causes (auto-stops), unique like a scoped Idempotency-Key."""
    return "srv-" + uuid.uuid4().hex


# --- Reading: one statement --------------------------------------------------------------------------


def _names(table: type[Table]) -> list[str]:
    return [c._meta.db_column_name for c in table._meta.columns]


def json_object(table: type[Table], alias: str, extra: dict[str, str] | None = None) -> str:
    """A row as one JSON object: `json_object` on SQLite and `json_build_object` on PostgreSQL take
    the same arguments, so every part of a mixed read fits one column."""
    pairs = [f"'{name}', {alias}.\"{name}\"" for name in _names(table)]
    pairs += [f"'{key}', {expression}" for key, expression in (extra or {}).items()]
    return f"JSON_OBJECT({', '.join(pairs)})"


def typed(table: type[Table], row: dict[str, Any]) -> dict[str, Any]:
    """A row decoded from JSON as the ORM would give it: UTC datetimes and booleans (SQLite keeps
    text and 0/1; PostgreSQL writes ISO times in the session's zone)."""
    for column in table._meta.columns:
        name = column._meta.db_column_name
        if isinstance(column, Timestamptz):
            row[name] = moment(row.get(name))
        elif isinstance(column, Boolean):
            row[name] = bool(row.get(name))
    return row


def moment(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (piccolo keeps SQLite's times as UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)  # type: ignore[no-any-return]


_NAMED = re.compile(r":([a-z_]+)\b")


async def json_rows(sql: str, **params: Any) -> list[tuple[str, dict[str, Any]]]:
    """Run a read whose rows are (part, JSON object); `:name` marks a parameter (SQLite and
    PostgreSQL alike). Returns (part, decoded object) pairs."""
    engine = engine_finder()
    assert engine is not None
    if not db.is_sqlite(engine):
        sql = sql.replace("JSON_OBJECT(", "json_build_object(")
    args = [params[name] for name in _NAMED.findall(sql)]
    rows = await Job.raw(_NAMED.sub("{}", sql), *args)
    return [(r["part"], r["data"] if isinstance(r["data"], dict) else json.loads(r["data"])) for r in rows]


# A job with what a tap's answer and events show of it: its technician's name, its order's stage
# (looked up per job: never a join the planner could turn into a scan of every order).
_JOB_OBJECT = json_object(
    Job,
    "j",
    {
        "technician.name": 's."name"',
        "ro.ready_at": '(SELECT r."ready_at" FROM "repair_order" r WHERE r."id" = j."repair_order")',
        "ro.delivered_at": '(SELECT r."delivered_at" FROM "repair_order" r WHERE r."id" = j."repair_order")',
    },
)


# How far before a tap its window may start without a second read. The start is known only inside
# the statement, and PostgreSQL cannot estimate `started_at >= (SELECT start …)`: it guesses a third
# of the person's history (for a shop with few technicians, most of the table: a sequential scan).
# `:since`, a value it sees, bounds the window from below for it. A window starts where the entry
# running at the tap started: on a working day, within a shift of the tap (the runaway-timer guard
# stops forgotten clocks). When it starts earlier, `load` reads again from the start it found
# (`>= :since` is then the same as `>= start`): rare, and exact either way.
REACH = timedelta(hours=16)


def _tap_sql(postgres: bool) -> str:
    """The window's read. The few concerned jobs drive the lookups of their entries, orders and
    checks: on PostgreSQL through `= ANY(ARRAY(…))`, an index lookup whatever the planner guesses
    of how many there are (with `IN (…)` it guesses from the window's estimate, and on a long
    history joins every job, order and quality check by hash); SQLite looks `IN (…)` up by index."""

    def among(query: str) -> str:
        return f"= ANY(ARRAY({query}))" if postgres else f"IN ({query})"

    concerned = among('SELECT "id" FROM concerned')  # the concerned jobs' ids
    orders = among(f'SELECT "repair_order" FROM "job" WHERE "id" {concerned}')  # noqa: S608 - names
    # Built from column names only; every value is a parameter (`:name`).
    return f"""
WITH reach AS (
    SELECT "started_at" FROM "clock_entry" WHERE "technician" = :person AND "ended_at" IS NULL
    UNION ALL
    SELECT "started_at" FROM "clock_entry" WHERE "technician" = :person AND "ended_at" >= :at
), win AS (
    SELECT MIN(moment) AS "start" FROM (
        SELECT "started_at" AS moment FROM reach UNION ALL SELECT :at
    ) AS moments
), mine AS (
    SELECT * FROM "clock_entry"
    WHERE "technician" = :person AND "started_at" >= :since AND "started_at" >= (SELECT "start" FROM win)
), taps AS (
    SELECT * FROM "clock_event"
    WHERE "technician" = :person AND "at" >= :since AND "at" >= (SELECT "start" FROM win)
), concerned AS (
    SELECT "id" FROM "job" WHERE "id" = :job
    UNION SELECT "job" FROM mine
    UNION SELECT "job" FROM taps WHERE "job" IS NOT NULL
)
SELECT 'window' AS part, JSON_OBJECT('start', win."start") AS data FROM win
UNION ALL
SELECT 'mine', {json_object(ClockEntry, "mine")} FROM mine
UNION ALL
SELECT 'event', {json_object(ClockEvent, "taps")} FROM taps
UNION ALL
SELECT 'entry', {json_object(ClockEntry, "e")} FROM "clock_entry" e
WHERE e."job" {concerned}
UNION ALL
SELECT 'job', {_JOB_OBJECT}
FROM "job" j
LEFT JOIN "staff" s ON s."id" = j."technician"
WHERE j."repair_order" {orders}
UNION ALL
SELECT 'qc', JSON_OBJECT('job', c."id", 'signed_at', (
    SELECT MAX(q."signed_at") FROM "qc_record" q WHERE q."job" = c."id"
)) FROM concerned c
"""  # noqa: S608 - column names from the tables, values as parameters


# The person's open working day and the end of the last closed one (days never overlap).
DAYS_SQL = f"""
SELECT 'day' AS part, {json_object(Attendance, "a")} AS data FROM "attendance" a
WHERE a."staff" = :person AND a."clock_out_at" IS NULL
UNION ALL
SELECT 'last_out', JSON_OBJECT('at', (
    SELECT "clock_out_at" FROM "attendance"
    WHERE "staff" = :person AND "clock_out_at" IS NOT NULL ORDER BY "clock_out_at" DESC LIMIT 1
))
"""  # noqa: S608 - column names from the tables, values as parameters

# What a tap reads (`load`), on SQLite and on PostgreSQL: parameters :person, :at, :job and :since
# (at most the window's start).
WINDOW_SQL = f"{_tap_sql(postgres=False)}UNION ALL\n{DAYS_SQL}"
WINDOW_SQL_PG = f"{_tap_sql(postgres=True)}UNION ALL\n{DAYS_SQL}"


async def load(technician: int, at: datetime, job: int | None = None) -> Window:
    """Everything a tap of `technician` at `at` (on `job`, if any) reads, in one statement (two when
    a clock ran longer than REACH before `at`). A window read for an earlier moment also serves a
    later tap (it only starts earlier)."""
    engine = engine_finder()
    sql = WINDOW_SQL if engine is None or db.is_sqlite(engine) else WINDOW_SQL_PG
    since = at - REACH
    rows = await json_rows(sql, person=technician, at=at, since=since, job=job)
    start = next(moment(row["start"]) for part, row in rows if part == "window")
    if start is not None and start < since:  # a clock ran longer than REACH: read its whole window
        rows = await json_rows(sql, person=technician, at=at, since=start, job=job)
    window = Window(technician, at, [], [], [], {}, {}, {}, None, None)
    seen: set[int] = set()
    for part, row in rows:
        _take(window, part, row, seen)
    return window


def _take(window: Window, part: str, row: dict[str, Any], seen: set[int]) -> None:
    """Put one row of a window's read where it belongs (`seen`: entries already taken)."""
    if part == "window":
        window.start = moment(row["start"]) or window.start
    elif part == "mine":
        window.mine.append(typed(ClockEntry, row))
    elif part == "event":
        window.events.append(typed(ClockEvent, row))
    elif part == "entry" and row["id"] not in seen:
        seen.add(row["id"])
        window.entries.append(typed(ClockEntry, row))
    elif part == "job":
        order = {"ready_at": row.pop("ro.ready_at"), "delivered_at": row.pop("ro.delivered_at")}
        window.orders[row["repair_order"]] = order
        window.jobs[row["id"]] = typed(Job, row)
    elif part == "qc" and row["signed_at"] is not None:  # every concerned job; None: never checked
        window.last_qc[row["job"]] = moment(row["signed_at"])  # type: ignore[assignment]
    elif part == "day":
        window.day = typed(Attendance, row)
    elif part == "last_out":
        window.last_out = moment(row["at"])


async def days(technician: int) -> tuple[dict[str, Any] | None, datetime | None]:
    """The person's open working day and the end of their last closed one, in one statement."""
    day, last_out = None, None
    for part, row in await json_rows(DAYS_SQL, person=technician):
        if part == "day":
            day = typed(Attendance, row)
        else:
            last_out = moment(row["at"])
    return day, last_out


# --- Writing: the tap, the entries, the job states --------------------------------------------------


async def append(
    window: Window,
    *,
    key: str,
    kind: clockbook.Kind,
    at: datetime,
    received: datetime,
    actor: str,
    job: int | None = None,
    reason: str | None = None,
    device_at: datetime | None = None,
    device_sent_at: datetime | None = None,
    skewed: bool = False,
    review: tuple[str, ...] = (),
) -> Refolded:
    """Keep one accepted tap (with why a foreman should look at it, if anything) and re-derive what
    it changes inside `window` (read for `at` or earlier). The window's jobs carry their new states
    afterwards."""
    assert window.start <= at, "the window must start at or before the tap"
    tap = ClockEvent(
        key=key,
        technician=window.technician,
        job=job,
        kind=kind,
        at=at,
        reason=reason,
        device_at=device_at,
        device_sent_at=device_sent_at,
        received_at=received,
        skewed=skewed,
        actor=actor,
        review=",".join(review),
    )
    await tap.save()
    window.events.append(
        {
            "key": key,
            "kind": kind,
            "at": at,
            "job": job,
            "reason": reason,
            "device_at": moment(device_at),
            "skewed": skewed,
            "review": ",".join(review),
        }
    )
    return await refold(window)


def _flags(text: str) -> tuple[str, ...]:
    return tuple(f for f in text.split(",") if f)


def wanted_entries(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The entries (fold-owned columns, by start key) that a window's events mean."""
    skewed = {e["key"] for e in events if e["skewed"]}
    review = {e["key"]: _flags(e["review"] or "") for e in events}
    device = {e["key"]: e["device_at"] for e in events}
    book = clockbook.fold(
        clockbook.ClockEvent(key=e["key"], kind=e["kind"], at=e["at"], job=e["job"], reason=e["reason"])
        for e in events
    )
    wanted: dict[str, dict[str, Any]] = {}
    for i in book.intervals:
        flags = list(i.flags)
        if i.key in skewed or (i.end_key in skewed):
            flags.append("clock_skew")
        reasons = {*review.get(i.key, ()), *(review.get(i.end_key, ()) if i.end_key else ())}
        flags.extend(f for f in clockbook.REVIEW_FLAGS if f in reasons)
        wanted[i.key] = {
            "job": i.job,
            "started_at": i.start,
            "ended_at": i.end,
            "reason": i.reason,
            "auto_stopped": i.auto_stopped,
            "flags": ",".join(flags),
            "device_started_at": device.get(i.key),
            "device_ended_at": device.get(i.end_key) if i.end_key else None,
        }
    return wanted


async def refold(window: Window) -> Refolded:
    """Re-derive the person's entries in the window and write what changed: removals, then one
    statement for every entry that closes or opens, then one for the job states that moved."""
    existing = {r["on_key"]: r for r in window.mine}
    wanted = wanted_entries(window.events)
    touched_jobs: set[int] = set()
    gone = [old for key, old in existing.items() if key not in wanted]
    touched_jobs.update(old["job"] for old in gone)
    if gone:  # an entry whose start no longer counts (a late start of the same job came before it)
        await ClockEntry.delete().where(ClockEntry.id.is_in([old["id"] for old in gone]))
    changed: list[dict[str, Any]] = []
    # Order matters for the one-open-clock index: entries that close are written before one opens.
    for key, values in sorted(wanted.items(), key=lambda kv: kv[1]["ended_at"] is None):
        row = existing.get(key)
        if row is not None and all(row[k] == v for k, v in values.items()):
            continue
        after = {
            **(row or {"id": None, **_NEW_ENTRY}),
            **values,
            "technician": window.technician,
            "on_key": key,
        }
        # A reason the foreman has not seen yet puts a reviewed entry back on their list.
        if row is not None and set(review_of(values)) - set(review_of(row)):
            after["reviewed_at"] = None
        after["review_queued"] = queued(after)
        touched_jobs.add(values["job"])
        if row is not None:
            touched_jobs.add(row["job"])
        changed.append(after)
    if changed:
        ids = await _upsert(changed)
        for row in changed:
            row["id"] = ids[row["on_key"]]
    # The window as it is now: the person's entries in it, and the concerned jobs' entries.
    replaced = {r["id"] for r in window.mine}
    written = {r["on_key"]: r for r in changed}
    window.mine = [written.get(key) or existing[key] for key in wanted]
    window.entries = [e for e in window.entries if e["id"] not in replaced] + window.mine
    moved = settle_jobs(window, touched_jobs)
    if moved:
        await _move(moved)
    for job_id, (_, state) in moved.items():
        window.jobs[job_id]["state"] = state
    return Refolded(entries=changed, jobs=moved)


async def _upsert(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Write changed and new entries in one statement; their ids by start key. A row whose key
    exists gets the fold's columns (and the review marks) and keeps what people wrote on it."""
    # Column names and placeholders only: every value is a parameter.
    columns = ", ".join(f'"{c}"' for c in _ENTRY_INSERT)
    values = ", ".join("(" + ", ".join("{}" for _ in _ENTRY_INSERT) + ")" for _ in rows)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in (*FOLDED, "reviewed_at", "review_queued"))
    args = [row[c] for row in rows for c in _ENTRY_INSERT]
    insert = f'INSERT INTO "clock_entry" ({columns}) VALUES {values}'  # noqa: S608 - names only
    upsert = f'{insert} ON CONFLICT ("on_key") DO UPDATE SET {updates} RETURNING "id", "on_key"'
    written = await ClockEntry.raw(upsert, *args)
    return {r["on_key"]: int(r["id"]) for r in written}


async def _move(moved: dict[int, tuple[str, str]]) -> None:
    """Every job state that moved, in one statement."""
    cases = " ".join("WHEN {} THEN {}" for _ in moved)
    ids = ", ".join("{}" for _ in moved)
    args: list[Any] = [v for job_id, (_, state) in sorted(moved.items()) for v in (job_id, state)]
    await Job.raw(
        f'UPDATE "job" SET "state" = CASE "id" {cases} END WHERE "id" IN ({ids})',  # noqa: S608 - placeholders
        *args,
        *sorted(moved),
    )


def settle_jobs(window: Window, job_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Each job's state from its clock intervals since its last quality check (window.entries as
    they are after the re-derivation): the jobs whose state moves, (before, after)."""
    moved: dict[int, tuple[str, str]] = {}
    for job_id in sorted(job_ids):
        job = window.jobs.get(job_id)
        if job is None:
            continue
        since = window.last_qc.get(job_id)
        intervals = [
            clockbook.Interval(
                key=r["on_key"] or str(r["id"]),
                job=job_id,
                start=r["started_at"],
                end=r["ended_at"],
                reason=r["reason"],
            )
            for r in window.entries
            if r["job"] == job_id and (since is None or r["started_at"] >= since)
        ]
        before = workshop.JobState(job["state"])
        after = clockbook.job_state_after(before, intervals)
        if after is not before:
            moved[job_id] = (before.value, after.value)
    return moved


# --- Entries as people see them ---------------------------------------------------------------------


def effective(row: dict[str, Any]) -> tuple[datetime, datetime | None]:
    """An entry's times as payroll sees them: a correction wins over what the tablets said."""
    started = row.get("corrected_started_at") or row["started_at"]
    ended = row.get("corrected_ended_at") or row["ended_at"]
    return started, ended


def flags_of(row: dict[str, Any]) -> list[str]:
    return list(_flags(row.get("flags") or ""))


def review_of(row: dict[str, Any]) -> list[str]:
    """Why a foreman should look at this entry (clockbook.REVIEW_FLAGS order); empty: nothing odd."""
    flags = flags_of(row)
    return [f for f in clockbook.REVIEW_FLAGS if f in flags]


def needs_review(row: dict[str, Any]) -> bool:
    return bool(review_of(row)) and row.get("reviewed_at") is None


def queued(row: dict[str, Any]) -> datetime | None:
    """ClockEntry.review_queued for the entry as `row` has it: its start while it waits for a
    foreman's review (the review list's order), None when it does not."""
    return row["started_at"] if needs_review(row) else None  # type: ignore[no-any-return]
