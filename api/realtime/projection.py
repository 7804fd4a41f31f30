"""What each stream may carry. The customer's stream is a projection: only what the status page shows.

No web imports: pure functions over event rows, shared by the WebSocket replay, the live fan-out
and the status JSON.
"""

from __future__ import annotations

import json
from typing import Any

from api.workshop import CUSTOMER_PHOTO_KINDS

# Event types a customer sees, and for each the data fields that may leave the building.
CUSTOMER_FIELDS: dict[str, tuple[str, ...]] = {
    "stage.changed": ("from", "to"),
    "promise.changed": ("promised_at", "previous_at", "reason"),
    "job.added": ("job",),
    "job.updated": ("job",),
    "approval.requested": ("job_id", "title", "price"),
    "approval.decided": ("job_id", "decision"),
    "photo.added": ("id", "kind"),  # staff URLs need a session: the page fetches its own
    "survey.submitted": ("score",),
}
CUSTOMER_JOB_FIELDS = ("id", "title", "state", "approval", "price", "needs_approval")


def _customer_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    out = {k: data[k] for k in CUSTOMER_FIELDS[event_type] if k in data}
    if isinstance(out.get("job"), dict):
        out["job"] = {k: out["job"].get(k) for k in CUSTOMER_JOB_FIELDS}
    return out


def message(row: dict[str, Any], customer: bool) -> dict[str, Any] | None:
    """The stream message for an event row, or None when this stream must not carry it."""
    data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
    if customer:
        if row["type"] not in CUSTOMER_FIELDS:
            return None
        if row["type"] == "photo.added" and data.get("kind") not in CUSTOMER_PHOTO_KINDS:
            return None  # QC evidence stays internal
        data = _customer_data(row["type"], data)
    at = row["at"]
    return {
        "seq": row["seq"],
        "type": row["type"],
        "at": at.isoformat() if hasattr(at, "isoformat") else at,
        "ro": row["repair_order"],
        "data": data,
    }
