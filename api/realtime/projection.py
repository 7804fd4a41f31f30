"""What each stream may carry. The customer's stream is a projection: only what the status page shows
(each event type's customer fields are in the catalogue, api/events.py).

No web imports: pure functions over event rows, shared by the WebSocket replay, the live fan-out
and the status JSON.
"""

from __future__ import annotations

import json
from typing import Any

from api import events


def message(row: dict[str, Any], customer: bool) -> dict[str, Any] | None:
    """The stream message for an event row, or None when this stream must not carry it."""
    data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
    if customer:
        data = events.for_customer(row["type"], data)  # the catalogue says what may leave the building
        if data is None:
            return None
    at = row["at"]
    return {
        "seq": row["seq"],
        "type": row["type"],
        "at": at.isoformat() if hasattr(at, "isoformat") else at,
        "ro": row["repair_order"],
        "data": data,
    }
