"""Staff sign-in: PIN hashing, lockout, server-side sessions, guards; status-link tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from api import db, policy, settings
from api.commands import now
from api.tables import LoginThrottle, Staff, StaffSession

SESSION_COOKIE = "bayline_session"
DEVICE_COOKIE = "bayline_device"

# Growing delays once a person's PIN was wrong 5 times; capped so nobody is shut out > 15 min.
USER_FREE_FAILURES = 5
# A shared bay tablet serves many people: it gets more room before it is slowed down.
DEVICE_FREE_FAILURES = 20
# A client can drop its device cookie, not its address (a shop behind one NAT shares one: its
# tablets become known devices at their first sign-in and stop counting here).
ADDRESS_FREE_FAILURES = 20
MAX_LOCK = timedelta(minutes=15)
# Counters untouched this long are forgotten: the table cannot grow without end under attack.
THROTTLE_MEMORY = timedelta(hours=24)
# ... now and then, not on every attempt: each prune is a DELETE under the write lock.
PRUNE_EVERY = timedelta(minutes=10)
# argon2id takes 64 MiB and a core for a fraction of a second: two at once on a two-core server.
VERIFY_SLOTS = 2
# Beyond this many waiting, unknown devices are turned away at once (503) instead of queueing.
VERIFY_QUEUE = 8

_hasher = PasswordHasher()  # argon2id, the library's RFC 9106 defaults


def _peppered(pin: str) -> bytes:
    # The pepper lives outside the database: a stolen database alone cannot be brute-forced.
    return hmac.new(settings.get().secret.encode(), pin.encode(), hashlib.sha256).digest()


def hash_pin(pin: str) -> str:
    """argon2id of the peppered PIN (slow: call it in a thread)."""
    return _hasher.hash(_peppered(pin))


def verify_pin(pin_hash: str, pin: str) -> bool:
    """True when `pin` matches; constant work whether or not it does (slow: call it in a thread)."""
    try:
        return _hasher.verify(pin_hash, _peppered(pin))
    except (VerificationError, InvalidHashError):
        return False


# Verified against when the username is unknown, so timing does not reveal who exists.
_DUMMY_HASH: str | None = None


def dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_pin(secrets.token_hex(8))
    return _DUMMY_HASH


def lock_for(failures: int, free: int) -> timedelta:
    """How long to refuse attempts after `failures` in a row: 0 until `free`, then doubling."""
    if failures < free:
        return timedelta(0)
    return min(timedelta(seconds=30 * 2 ** min(failures - free, 10)), MAX_LOCK)


class VerifyGate:
    """Bounds the PIN checks running and waiting, so a flood of sign-ins cannot exhaust memory or CPU.

    A device the shop knows always waits its turn; anyone else is refused at once (`busy()`) while
    VERIFY_QUEUE attempts are already waiting.
    """

    def __init__(self, slots: int, queue: int) -> None:
        self.slots = slots
        self.queue = queue
        self.pending = 0
        self._limiter: anyio.CapacityLimiter | None = None

    def busy(self) -> bool:
        return self.pending >= self.slots + self.queue

    async def verify(self, pin_hash: str | None, pin: str) -> bool:
        """`pin` against `pin_hash`, or against a dummy hash (same work) when there is no such person."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.slots)

        def check() -> bool:
            # verify_pin looked up at call time (tests count the calls through it); the dummy hash is
            # made on first use, here in the thread rather than on the event loop.
            return verify_pin(pin_hash or dummy_hash(), pin)

        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(check, limiter=self._limiter)
        finally:
            self.pending -= 1


verify_gate = VerifyGate(VERIFY_SLOTS, VERIFY_QUEUE)


async def known_device(device: str) -> bool:
    """A device someone has signed in on before: the shop's own tablet (its cookie is unguessable)."""
    return bool(await StaffSession.exists().where(StaffSession.device_id == device))


def subject_key(staff_id: int | None, username: str) -> str:
    """The per-person counter. An unknown username gets one too, keyed by its digest: it is throttled
    like a real one, so neither answers nor timing tell who exists."""
    if staff_id is not None:
        return f"user:{staff_id}"
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"name:{digest}"


def address_key(address: str) -> str:
    return f"addr:{address}"


def throttle_keys(device: str | None, address: str, subject: str, known: bool) -> list[tuple[str, int]]:
    """The counters one sign-in attempt is charged to, in order, with their free failures.

    `device` is the device cookie the client sent (None: it sent none). A known device is counted
    apart: per device, and per person on known devices. Strangers who lock a person out (or fill the
    shop's address) cannot stop that person on the shop's own tablet.

    Anyone else is charged to their address first, which a client cannot drop: once it is locked
    nothing more is written for that address. A device is counted only when its cookie came back; a
    device id minted for a client that sends none would be a new row per attempt, counting nothing.
    """
    if known and device is not None:
        return [(f"device:{device}", DEVICE_FREE_FAILURES), (f"{subject}:known", USER_FREE_FAILURES)]
    keys = [(address_key(address), ADDRESS_FREE_FAILURES)]
    if device is not None:
        keys.append((f"device:{device}", DEVICE_FREE_FAILURES))
    keys.append((subject, USER_FREE_FAILURES))
    return keys


async def throttle_state(key: str) -> LoginThrottle | None:
    return await LoginThrottle.objects().where(LoginThrottle.key == key).first()


async def locked_until(key: str) -> datetime | None:
    """When the lock on `key` ends, if it is locked now (a read: no write lock is taken)."""
    row = await LoginThrottle.select(LoginThrottle.locked_until).where(LoginThrottle.key == key).first()
    until = row["locked_until"] if row is not None else None
    return until if until is not None and until > now() else None


class Pruning:
    """When this process next drops old throttle counters: at most once per `every`."""

    def __init__(self, every: timedelta) -> None:
        self.every = every
        self.last: float | None = None

    def due(self) -> bool:
        at = time.monotonic()
        if self.last is not None and at - self.last < self.every.total_seconds():
            return False
        self.last = at
        return True


pruning = Pruning(PRUNE_EVERY)


async def forget_old_throttles() -> None:
    """Drop counters nobody touched for THROTTLE_MEMORY (any lock on them ended long ago)."""
    await LoginThrottle.delete().where(LoginThrottle.updated_at < now() - THROTTLE_MEMORY)


async def charge_attempt(key: str, free: int) -> tuple[datetime | None, bool]:
    """Count one attempt against `key` before its PIN is evaluated (inside a write transaction).

    Returns (locked_until if it is still locked — the attempt is then refused, nothing charged —,
    whether this attempt started a lockout). Charging first means parallel guesses can never be
    evaluated beyond the limit.
    """
    at = now()
    row = await throttle_state(key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, locked_until=None, updated_at=at)
    if row.locked_until is not None and row.locked_until > at:
        return row.locked_until, False
    row.failures = int(row.failures) + 1
    lock = lock_for(int(row.failures), free)
    row.locked_until = at + lock if lock else None
    row.updated_at = at
    await row.save()
    return None, bool(lock) and int(row.failures) == free


async def clear_throttle(key: str) -> None:
    await LoginThrottle.delete().where(LoginThrottle.key == key)


async def refund_attempt(key: str, free: int) -> None:
    """Take back one charged attempt that turned out right (an address counts failures only)."""
    row = await throttle_state(key)
    if row is None:
        return
    row.failures = max(0, int(row.failures) - 1)
    if not lock_for(int(row.failures), free):
        row.locked_until = None
    await row.save()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


# --- status links -----------------------------------------------------------------------------


def status_token(nonce: str) -> str:
    """The customer's link token: HMAC(secret, nonce). Only its hash and the nonce are stored,
    so a copy of the database alone yields no working link, yet staff can show the link again."""
    mac = hmac.new(settings.get().secret.encode(), f"status:{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def new_status_link() -> tuple[str, str, str]:
    """(nonce, token, token hash) for a new repair order."""
    nonce = secrets.token_hex(16)
    token = status_token(nonce)
    return nonce, token, token_hash(token)


# --- sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffUser:
    id: int
    username: str
    name: str
    role: str
    session_id: int

    def public(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "name": self.name, "role": self.role}


# Whether a session may still be used: not ended, the person active and not still to choose their
# own PIN, not idle too long. The one statement of that rule (each request, and every live feed).
# Written out rather than built with the ORM: building this join took 1.4 ms per request on a busy
# two-core machine, the text below 17 µs.
_SESSION_COLUMNS = (
    "SELECT s.id AS id, s.last_seen_at AS last_seen_at, st.id AS staff_id, st.username AS username,"
    " st.name AS name, st.role AS role"
    " FROM staff_session s JOIN staff st ON st.id = s.staff"
)
_OPEN = "s.ended_at IS NULL AND st.active = {} AND s.last_seen_at > {}"
# A session opened with a one-time PIN is good for nothing but choosing one's own PIN
# (`pending_session`): every other request, and every live feed, sees no one signed in.
_USABLE = f"st.pin_pending = {{}} AND {_OPEN}"


def _idle_cutoff(at: datetime) -> datetime:
    return at - timedelta(minutes=settings.get().session_idle_minutes)


async def live_sessions(ids: Collection[int]) -> set[int]:
    """Which of these sessions may still be used (see _USABLE)."""
    cutoff = _idle_cutoff(now())
    wanted = sorted(ids)
    alive: set[int] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        listed = ", ".join("{}" for _ in chunk)
        rows = await StaffSession.raw(
            f"{_SESSION_COLUMNS} WHERE s.id IN ({listed}) AND {_USABLE}", *chunk, False, True, cutoff
        )
        alive.update(int(r["id"]) for r in rows)
    return alive


async def load_session(token: str) -> StaffUser | None:
    """The signed-in person for a session cookie value, or None (unknown, or no longer usable).

    One statement per request: the idle-time touch below is written at most once a minute."""
    at = now()
    with db.short_reads():  # one row by a unique index: not worth a hand-off to a reader thread
        rows = await StaffSession.raw(
            f"{_SESSION_COLUMNS} WHERE s.token_hash = {{}} AND {_USABLE}",
            token_hash(token),
            False,
            True,
            _idle_cutoff(at),
        )
    if not rows:
        return None
    row = rows[0]
    if at - row["last_seen_at"] > timedelta(minutes=1):
        # Sliding idle timeout; written at most once a minute to keep reads cheap.
        await StaffSession.update({StaffSession.last_seen_at: at}).where(StaffSession.id == row["id"])
    return StaffUser(
        id=row["staff_id"], username=row["username"], name=row["name"], role=row["role"], session_id=row["id"]
    )


async def pending_session(token: str) -> StaffUser | None:
    """The session of someone signed in with a one-time PIN, still to choose their own (None:
    no such session, or it is usable as any other)."""
    rows = await StaffSession.raw(
        f"{_SESSION_COLUMNS} WHERE s.token_hash = {{}} AND st.pin_pending = {{}} AND {_OPEN}",
        token_hash(token),
        True,
        True,
        _idle_cutoff(now()),
    )
    if not rows:
        return None
    row = rows[0]
    return StaffUser(
        id=row["staff_id"], username=row["username"], name=row["name"], role=row["role"], session_id=row["id"]
    )


def session_token(connection: ASGIConnection) -> str | None:
    token = connection.cookies.get(SESSION_COOKIE)
    return token if token and len(token) < 200 else None


RECEIVED = "bayline.received"  # scope state key: time.monotonic() when the request reached us


class SessionMiddleware:
    """Puts the signed-in StaffUser (or None) in scope["user"] for HTTP and WebSocket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            # The first thing our code sees of a request: the base of its Server-Timing figure.
            scope.setdefault("state", {})[RECEIVED] = time.monotonic()
            scope["user"] = None
            token = _cookie(scope, SESSION_COOKIE)
            if token and len(token) < 200:
                scope["user"] = await load_session(token)
        await self.app(scope, receive, send)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


def current_user(connection: ASGIConnection) -> StaffUser:
    user = connection.scope.get("user")
    if not isinstance(user, StaffUser):
        raise NotAuthorizedException("Sign in first.")
    return user


def check_allowed(user: StaffUser, operation: str) -> None:
    """403 unless the person's role allows `operation` (POLICY, deny by default)."""
    if not policy.allowed(user.role, operation):
        # The screens say what was refused, in the person's language (error.operation.<operation>).
        raise PermissionDeniedException(
            f"A {user.role} cannot do this ({operation}); ask a manager if you need it.",
            extra={"code": "auth.not_allowed", "params": {"operation": operation, "role": user.role}},
        )


def requires(operation: str):  # type: ignore[no-untyped-def]
    """A guard: the signed-in person's role must allow `operation` (POLICY, deny by default)."""
    if operation not in policy.POLICY:
        raise ValueError(f"unknown operation {operation!r}")

    # async: Litestar runs a plain function guard in its thread pool, a thread hand-off per request
    # for a dictionary look-up.
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        check_allowed(current_user(connection), operation)

    guard.operation = operation  # type: ignore[attr-defined]
    return guard


async def active_staff(username: str) -> Staff | None:
    return (
        await Staff.objects()
        .where(Staff.username == username.strip().lower())
        .where(Staff.active.eq(True))
        .first()
    )
