"""Health: 200 once the database answers."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.exceptions import HTTPException

from api import __version__, settings
from api.tables import Event


@get("/api/health", tags=["health"])
async def health() -> dict[str, Any]:
    """200 {"status": "ok"} when the database answers, else 503."""
    try:
        last = await Event.select(Event.seq).order_by(Event.seq, ascending=False).first()
    except Exception as exc:  # noqa: BLE001 - any database failure means "not healthy"
        raise HTTPException(
            status_code=503, detail=f"The database does not answer: {type(exc).__name__}"
        ) from None
    return {
        "status": "ok",
        "version": __version__,
        "database": "sqlite" if settings.get().is_sqlite else "postgresql",
        "seq": last["seq"] if last else 0,
    }
