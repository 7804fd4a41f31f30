"""Staff sign-in: PIN hashing, lockout, server-side sessions, guards; status-link tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from api import policy, settings
from api.commands import now
from api.tables import LoginThrottle, Staff, StaffSession

SESSION_COOKIE = "bayline_session"
DEVICE_COOKIE = "bayline_device"

# Growing delays once a person's PIN was wrong 5 times; capped so nobody is shut out > 15 min.
USER_FREE_FAILURES = 5
# A shared bay tablet serves many people: it gets more room before it is slowed down.
DEVICE_FREE_FAILURES = 20
MAX_LOCK = timedelta(minutes=15)

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


async def throttle_state(key: str) -> LoginThrottle | None:
    return await LoginThrottle.objects().where(LoginThrottle.key == key).first()


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


async def load_session(token: str) -> StaffUser | None:
    """The signed-in person for a session cookie value, or None (unknown, ended or idle too long)."""
    row = (
        await StaffSession.select(
            StaffSession.id,
            StaffSession.last_seen_at,
            StaffSession.staff.id,
            StaffSession.staff.username,
            StaffSession.staff.name,
            StaffSession.staff.role,
            StaffSession.staff.active,
        )
        .where(StaffSession.token_hash == token_hash(token))
        .where(StaffSession.ended_at.is_null())
        .first()
    )
    if row is None or not row["staff.active"]:
        return None
    at = now()
    if at - row["last_seen_at"] > timedelta(minutes=settings.get().session_idle_minutes):
        return None
    if at - row["last_seen_at"] > timedelta(minutes=1):
        # Sliding idle timeout; written at most once a minute to keep reads cheap.
        await StaffSession.update({StaffSession.last_seen_at: at}).where(StaffSession.id == row["id"])
    return StaffUser(
        id=row["staff.id"],
        username=row["staff.username"],
        name=row["staff.name"],
        role=row["staff.role"],
        session_id=row["id"],
    )


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


def requires(operation: str):  # type: ignore[no-untyped-def]
    """A guard: the signed-in person's role must allow `operation` (POLICY, deny by default)."""
    if operation not in policy.POLICY:
        raise ValueError(f"unknown operation {operation!r}")

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if not policy.allowed(user.role, operation):
            raise PermissionDeniedException(
                f"A {user.role} cannot do this ({operation}); ask a manager if you need it."
            )

    guard.operation = operation  # type: ignore[attr-defined]
    return guard


async def active_staff(username: str) -> Staff | None:
    return (
        await Staff.objects()
        .where(Staff.username == username.strip().lower())
        .where(Staff.active.eq(True))
        .first()
    )
