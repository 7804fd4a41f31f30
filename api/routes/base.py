"""The web side of the command path: Idempotency-Key header → commands.execute → Response."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import ClientException

from api import commands, readmodels, workshop
from api.auth import RECEIVED

IDEMPOTENCY_HEADER = "idempotency-key"


def idempotency_key(request: Request, key: str | None = None) -> str | None:
    """The request's Idempotency-Key: 1–255 printable ASCII characters, or None when absent.

    `key` is for plain HTML forms, which carry it in a hidden field instead of a header.
    """
    if key is None:
        key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(" " <= c <= "~" for c in key):
        raise ClientException("Idempotency-Key must be 1 to 255 printable characters.")
    return key


async def stage_events(ro_id: int, before: workshop.Stage) -> list[commands.NewEvent]:
    """A stage.changed event when the change just written moved the repair order's stage."""
    after = await readmodels.current_stage(ro_id)
    if after is before:
        return []
    return [commands.NewEvent("stage.changed", ro_id, {"from": before.value, "to": after.value})]


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
    key = idempotency_key(request, key)
    request_hash = commands.fingerprint(request.method, request.url.path, payload)
    reply = await commands.execute(handler, actor=actor, key=key, request_hash=request_hash)
    headers = dict(reply.headers)
    if reply.replayed:
        headers["Idempotent-Replayed"] = "true"
    if reply.committed is not None:
        # Standard Server-Timing (browser dev tools show it): from the request reaching us until the
        # change was durable.
        headers["Server-Timing"] = f"commit;dur={(reply.committed - started) * 1000:.2f}"
    return Response(reply.body, status_code=reply.status_code, headers=headers)
