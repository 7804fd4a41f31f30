"""Health: 200 once the database answers (GET with details; HEAD for monitors and load balancers)."""

from __future__ import annotations

from typing import Any

from litestar import get, head
from litestar.exceptions import HTTPException

from api import __version__, settings
from api.tables import Event


async def _last_seq() -> int:
    """The newest event's seq (0 when none); 503 when the database does not answer."""
    try:
        last = await Event.select(Event.seq).order_by(Event.seq, ascending=False).first()
    except Exception as exc:  # noqa: BLE001 - any database failure means "not healthy"
        raise HTTPException(
            status_code=503, detail=f"The database does not answer: {type(exc).__name__}"
        ) from None
    return int(last["seq"]) if last else 0


@get("/api/health", tags=["health"])
async def health() -> dict[str, Any]:
    """200 {"status": "ok"} when the database answers, else 503."""
    seq = await _last_seq()
    return {
        "status": "ok",
        "version": __version__,
        "database": "sqlite" if settings.get().is_sqlite else "postgresql",
        "seq": seq,
    }


@head("/api/health", tags=["health"])
async def health_head() -> None:
    """The same check without a body: 200 when the database answers, else 503."""
    await _last_seq()
