"""The one way state changes: transaction + idempotency + event rows + publish.

Every state-changing route calls `execute` with a handler. The handler reads, asks `workshop`
what may happen (a DomainError aborts everything), writes its change and returns an `Outcome`
with the response and the events to append. `execute` appends the events (global, strictly
rising `seq`), stores the response under the Idempotency-Key, commits, and only then publishes
a hint so live streams read the new events from the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.engine import engine_finder

from api import db
from api.events import NewEvent
from api.realtime import hints
from api.tables import Event, IdempotencyRecord

IDEMPOTENCY_KEEP = timedelta(days=30)  # the contract promises at least 7 days


class IdempotencyMismatch(Exception):
    """The same Idempotency-Key was sent before with a different request."""


class IdempotencyInFlight(Exception):
    """A request with this Idempotency-Key is still being carried out (RELIABILITY.md: 409)."""


# Keys of the commands this process is carrying out now, each with what its end sets. A repeat that
# arrives meanwhile (a tablet that gave up waiting and sent again) waits for the first a little and
# then replays its reply (RELIABILITY check 14: identical replies); one still running after that is
# told 409 "still being carried out" (RELIABILITY's rule for a request in flight), which the outbox
# keeps and sends again shortly. Across workers a repeat waits for the command lock and replays.
_in_flight: dict[str, asyncio.Event] = {}
IN_FLIGHT_WAIT = 5.0  # seconds a repeat waits for the first before it is told 409


@dataclass
class Outcome:
    """What a command answers (status + JSON body) and the events it appends."""

    status_code: int
    body: Any
    events: list[NewEvent] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceStamp:
    """Where and when a tablet's action happened (sent by the offline outbox), kept on its events."""

    device_id: str
    seq: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: Any
    replayed: bool
    headers: dict[str, str] = field(default_factory=dict)
    committed: float | None = None  # time.monotonic() right after COMMIT (None: nothing was written)


def now() -> datetime:
    """The server's clock (UTC). One place, so every row of one command agrees on 'now'."""
    return datetime.now(UTC)


def fingerprint(method: str, path: str, payload: Any) -> str:
    """A hash of what a request asks for: the same request gives the same hash."""
    canonical = json.dumps([method, path, payload], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _scoped(scope: str, key: str) -> str:
    # Keys are per actor: two tablets (or a customer and a tablet) picking the same key never clash.
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()


# The two statements every command adds, written out: built with the ORM they cost more CPU than
# the rest of a clock tap's own statements (model instances, then a query built from them).
# Plain SQL, the same on SQLite and PostgreSQL; datetimes are bound as the ORM binds them.
_REMEMBER = (
    "INSERT INTO idempotency_record"
    " (scoped_key, request_hash, status_code, body, created_at, actor, device_id, device_seq, device_at)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})"
    " ON CONFLICT (scoped_key) DO NOTHING RETURNING id"
)
_APPEND = (
    "INSERT INTO event (type, at, repair_order, actor, data, device_id, device_seq, device_at, received_at)"
    " VALUES"
)
_EVENT_ROW = "({}, {}, {}, {}, {}, {}, {}, {}, {})"


class _Taken(Exception):
    """The command's key already has a record: undo the command's work, answer from the record."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__("idempotency key already used")
        self.record = record


async def execute(
    handler: Callable[[], Awaitable[Outcome]],
    *,
    actor: str,
    key: str | None = None,
    request_hash: str = "",
    stamp: DeviceStamp | None = None,
) -> Reply:
    """Run `handler` as one command. Replays of `key` return the first reply without a second effect.

    Domain errors raised by the handler roll the whole transaction back and are not stored, so a
    retry after the person fixes the cause is evaluated afresh.

    The key is not looked up first: nearly every key is new, so the happy path only INSERTs its
    record (ON CONFLICT DO NOTHING) at the end of the command. A replay runs the handler once more
    and finds the key taken then: its work is rolled back and the stored reply answered instead.
    When the handler refuses (a replayed clock tap finds its own tap already done), the key is
    looked up before the refusal is answered, so a replay of a success still replays it.
    A repeat sent while the first is still being carried out waits for it (up to IN_FLIGHT_WAIT,
    then IdempotencyInFlight: 409, to be sent again later) and replays its reply: it never runs
    beside it.
    """
    received = now()
    engine = engine_finder()
    assert engine is not None
    scoped = _scoped(actor, key) if key else None
    if scoped is None:
        return await _execute(handler, engine, actor, scoped, request_hash, stamp, received)
    while (first := _in_flight.get(scoped)) is not None:
        try:
            await asyncio.wait_for(first.wait(), IN_FLIGHT_WAIT)
        except TimeoutError:
            raise IdempotencyInFlight(
                "This request is still being carried out: it is sent again shortly and then answered."
            ) from None
    ended = _in_flight[scoped] = asyncio.Event()
    try:
        return await _execute(handler, engine, actor, scoped, request_hash, stamp, received)
    finally:
        del _in_flight[scoped]
        ended.set()


async def _execute(
    handler: Callable[[], Awaitable[Outcome]],
    engine: Any,
    actor: str,
    scoped: str | None,
    request_hash: str,
    stamp: DeviceStamp | None,
    received: datetime,
) -> Reply:
    try:
        async with db.write_transaction(engine):
            outcome = await handler()
            at = now()
            # The tablet's stamp goes on every event and on the ledger row of the action.
            stamped: dict[str, Any] = {
                "device_id": stamp.device_id if stamp else None,
                "device_seq": stamp.seq if stamp else None,
                "device_at": stamp.at if stamp else None,
            }
            if scoped is not None:
                await _remember(scoped, request_hash, outcome, at, actor, stamped)
            committed = await _append(outcome.events, at, actor, stamped, received)
    except _Taken as taken:
        return _replay(taken.record, request_hash)
    except Exception:
        # A refusal (or a lost group) may answer a repeat of a request that succeeded before.
        previous = await _earlier(scoped)
        if previous is None:
            raise
        return _replay(previous, request_hash)
    committed_at = time.monotonic()
    if committed:
        hints.publish(committed)
    return Reply(
        outcome.status_code, outcome.body, replayed=False, headers=outcome.headers, committed=committed_at
    )


async def _remember(
    scoped: str, request_hash: str, outcome: Outcome, at: datetime, actor: str, stamped: dict[str, Any]
) -> None:
    """Store a success under its key, in the command's transaction; raise _Taken when the key has a
    record already (its first reply is the answer, this command's work is undone)."""
    if not 200 <= outcome.status_code < 300:
        # Refusals answered as an Outcome (429) are not remembered, but a stored success still wins.
        previous = await _record(scoped)
        if previous is not None:
            raise _Taken(previous)
        return
    inserted = await IdempotencyRecord.raw(
        _REMEMBER,
        scoped,
        request_hash,
        outcome.status_code,
        json.dumps(outcome.body, default=str, ensure_ascii=False),
        at,
        actor,
        stamped["device_id"],
        stamped["device_seq"],
        stamped["device_at"],
    )
    if not inserted:
        previous = await _record(scoped)
        assert previous is not None  # commands run one at a time: nothing removed it meanwhile
        raise _Taken(previous)


async def _record(scoped: str) -> dict[str, Any] | None:
    return (
        await IdempotencyRecord.select(
            IdempotencyRecord.request_hash, IdempotencyRecord.status_code, IdempotencyRecord.body
        )
        .where(IdempotencyRecord.scoped_key == scoped)
        .first()
    )


async def _earlier(scoped: str | None) -> dict[str, Any] | None:
    """The key's record after the command failed; None without a key, or when it cannot be read
    (the command's own error is then the one to report)."""
    if scoped is None:
        return None
    try:
        return await _record(scoped)
    except Exception:  # noqa: BLE001 - e.g. the database is down: that was the command's error too
        return None


def _replay(record: dict[str, Any], request_hash: str) -> Reply:
    if record["request_hash"] != request_hash:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used for a different request: send a new key for a new action."
        )
    return Reply(record["status_code"], json.loads(record["body"]), replayed=True)


async def _append(
    events: list[NewEvent], at: datetime, actor: str, stamped: dict[str, Any], received: datetime
) -> list[dict[str, Any]]:
    """The command's events, in one INSERT; what the live streams are told about after the commit."""
    if not events:
        return []
    datas = [json.dumps(event.data, default=str, ensure_ascii=False) for event in events]
    values: list[Any] = []
    for event, data in zip(events, datas, strict=True):
        values += [event.type, at, event.ro, actor, data]
        values += [stamped["device_id"], stamped["device_seq"], stamped["device_at"], received]
    rows = ", ".join(_EVENT_ROW for _ in events)
    inserted = await Event.raw(f"{_APPEND} {rows} RETURNING seq", *values)
    # Rows get their seq in VALUES order; RETURNING's own order is not promised, so the seqs are
    # sorted before they are matched to the events.
    seqs = sorted(int(r["seq"]) for r in inserted)
    return [
        {"seq": seq, "type": event.type, "at": at, "repair_order": event.ro, "data": data}
        for seq, event, data in zip(seqs, events, datas, strict=True)
    ]


async def forget_old_keys() -> int:
    """Drop idempotency records past their keep time (run at start-up)."""
    cutoff = now() - IDEMPOTENCY_KEEP
    engine = engine_finder()
    assert engine is not None
    async with db.write_transaction(engine):
        old = await IdempotencyRecord.count().where(IdempotencyRecord.created_at < cutoff)
        await IdempotencyRecord.delete().where(IdempotencyRecord.created_at < cutoff)
    return int(old)
