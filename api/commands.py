"""The one way state changes: transaction + idempotency + event rows + publish.

Every state-changing route calls `execute` with a handler. The handler reads, asks `workshop`
what may happen (a DomainError aborts everything), writes its change and returns an `Outcome`
with the response and the events to append. `execute` appends the events (global, strictly
rising `seq`), stores the response under the Idempotency-Key, commits, and only then publishes
a hint so live streams read the new events from the database.
"""

from __future__ import annotations

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
    """
    received = now()
    engine = engine_finder()
    assert engine is not None
    scoped = _scoped(actor, key) if key else None
    async with db.write_transaction(engine):
        if scoped is not None:
            previous = await IdempotencyRecord.objects().where(IdempotencyRecord.scoped_key == scoped).first()
            if previous is not None:
                if previous.request_hash != request_hash:
                    raise IdempotencyMismatch(
                        "This Idempotency-Key was already used for a different request: "
                        "send a new key for a new action."
                    )
                return Reply(previous.status_code, json.loads(previous.body), replayed=True)
        outcome = await handler()
        at = now()
        # The tablet's stamp goes on every event and on the ledger row of the action.
        stamped: dict[str, Any] = {
            "device_id": stamp.device_id if stamp else None,
            "device_seq": stamp.seq if stamp else None,
            "device_at": stamp.at if stamp else None,
        }
        rows = [
            Event(
                type=event.type,
                at=at,
                repair_order=event.ro,
                actor=actor,
                data=json.dumps(event.data, default=str, ensure_ascii=False),
                **stamped,
                received_at=received,
            )
            for event in outcome.events
        ]
        committed: list[dict[str, Any]] = []
        if rows:
            # One INSERT for all of them. Rows get their seq in VALUES order; RETURNING's own order
            # is not promised, so the seqs are sorted before they are matched to the events.
            inserted = await Event.insert(*rows).returning(Event.seq)
            seqs = sorted(int(r["seq"]) for r in inserted)
            committed = [
                {"seq": seq, "type": row.type, "at": at, "repair_order": event.ro, "data": row.data}
                for seq, row, event in zip(seqs, rows, outcome.events, strict=True)
            ]
        if scoped is not None and 200 <= outcome.status_code < 300:
            await IdempotencyRecord(
                scoped_key=scoped,
                request_hash=request_hash,
                status_code=outcome.status_code,
                body=json.dumps(outcome.body, default=str, ensure_ascii=False),
                created_at=at,
                actor=actor,
                **stamped,
            ).save()
    committed_at = time.monotonic()
    if committed:
        hints.publish(committed)
    return Reply(
        outcome.status_code, outcome.body, replayed=False, headers=outcome.headers, committed=committed_at
    )


async def forget_old_keys() -> int:
    """Drop idempotency records past their keep time (run at start-up)."""
    cutoff = now() - IDEMPOTENCY_KEEP
    engine = engine_finder()
    assert engine is not None
    async with db.write_transaction(engine):
        old = await IdempotencyRecord.count().where(IdempotencyRecord.created_at < cutoff)
        await IdempotencyRecord.delete().where(IdempotencyRecord.created_at < cutoff)
    return int(old)
