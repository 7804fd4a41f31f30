"""The web side of the command path: Idempotency-Key and device headers → commands.execute → Response.

Routes call `run` with a use case (api/<noun>.py) as the handler; nothing here decides anything.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from litestar import Request, Response
from litestar.exceptions import ClientException, NotAuthorizedException

from api import clock, clockstore, commands, inputs
from api.auth import RECEIVED

IDEMPOTENCY_HEADER = "idempotency-key"
# Sent by the tablet's outbox with every queued action (README "Offline"): who did it, on which
# device, its place in that device's queue, and when it was done on the device's clock.
ACTING_STAFF_HEADER = "acting-staff"
DEVICE_ID_HEADER = "device-id"
DEVICE_SEQ_HEADER = "device-seq"
DEVICE_TIME_HEADER = "device-time"
DEVICE_SENT_AT_HEADER = "device-sent-at"


def idempotency_key(request: Request, key: str | None = None) -> str | None:
    """The request's Idempotency-Key: 1–255 printable ASCII characters, or None when absent.

    `key` is for plain HTML forms, which carry it in a hidden field instead of a header.
    """
    if key is None:
        key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(" " <= c <= "~" for c in key):
        raise ClientException(
            "Idempotency-Key must be 1 to 255 printable characters.",
            extra={"code": "request.idempotency_key"},
        )
    return key


def device_stamp(request: Request) -> commands.DeviceStamp | None:
    """The outbox's device headers, checked; None when the request did not come from an outbox."""
    device_id = request.headers.get(DEVICE_ID_HEADER)
    if device_id is None:
        return None
    if not 1 <= len(device_id) <= 64 or not all(" " < c <= "~" for c in device_id):
        raise ClientException(
            "Device-Id must be 1 to 64 printable characters without spaces.",
            extra={"code": "request.device_id"},
        )
    seq: int | None = None
    raw_seq = request.headers.get(DEVICE_SEQ_HEADER)
    if raw_seq is not None:
        if not raw_seq.isascii() or not raw_seq.isdigit() or len(raw_seq) > 15:
            raise ClientException(
                "Device-Seq must be a whole number (the action's place in the device's queue).",
                extra={"code": "request.device_seq"},
            )
        seq = int(raw_seq)
    at = _header_time(request, DEVICE_TIME_HEADER, "Device-Time")
    return commands.DeviceStamp(device_id=device_id, seq=seq, at=at)


def _header_time(request: Request, name: str, label: str) -> datetime | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ClientException(
            f"{label} must be an ISO 8601 time with a UTC offset.", extra={"code": "request.device_time"}
        ) from None
    return inputs.check_header_time(label, at)


def device_sent_at(request: Request, in_body: datetime | None) -> datetime | None:
    """The tablet's clock when this very attempt left it: the `Device-Sent-At` header, set afresh
    on every retry by the outbox (the body stays the same, so the retry stays the same request),
    or else the body's `device_sent_at` from a client that sends once."""
    return _header_time(request, DEVICE_SENT_AT_HEADER, "Device-Sent-At") or in_body


def check_acting_staff(request: Request, actor: str) -> None:
    """An action queued on a shared tablet is sent only under the session of the person who did it.

    The outbox names that person; when someone else is signed in now, refuse with 401 so the tablet
    keeps the action and asks that person to sign in (never credit it to whoever holds the tablet).
    """
    acting = request.headers.get(ACTING_STAFF_HEADER)
    if acting is None:
        return
    if actor != f"staff:{acting}":
        raise NotAuthorizedException(
            "This action was recorded by another staff member: they must sign in to send it.",
            extra={"acting_staff": acting, "code": "auth.acting_staff"},
        )


async def run(
    request: Request,
    handler: Callable[[], Awaitable[commands.Outcome]],
    *,
    actor: str,
    payload: Any = None,
    key: str | None = None,
) -> Response[Any]:
    """Execute a command for this request and turn its reply into a Response."""
    started = request.scope.get("state", {}).get(RECEIVED) or time.monotonic()
    check_acting_staff(request, actor)
    key = idempotency_key(request, key)
    stamp = device_stamp(request)
    request_hash = commands.fingerprint(request.method, request.url.path, payload)
    reply = await commands.execute(handler, actor=actor, key=key, request_hash=request_hash, stamp=stamp)
    headers = dict(reply.headers)
    if reply.replayed:
        headers["Idempotent-Replayed"] = "true"
    if reply.committed is not None:
        # Standard Server-Timing (browser dev tools show it): from the request reaching us until the
        # change was durable.
        headers["Server-Timing"] = f"commit;dur={(reply.committed - started) * 1000:.2f}"
    return Response(reply.body, status_code=reply.status_code, headers=headers)


def tap_key(request: Request, staff_id: int, suffix: str = "") -> str:
    """A clock tap's identity from its Idempotency-Key (a fresh one without a key): a replay is one tap."""
    key = request.headers.get(IDEMPOTENCY_HEADER)  # checked by `run`, before any handler runs
    return clock.tap_key(staff_id, key, suffix) if key else clockstore.new_key()
