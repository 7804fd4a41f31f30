"""An order's timeline: its events from the event log, oldest first, each with who did it.

The screen turns each event into words in the reader's language (web/js/ro-detail.js); here they
are the log's rows as they were recorded: type, time, actor and payload. One statement, by the
event table's index on repair_order. No web imports.
"""

from __future__ import annotations

import json
from typing import Any

from api import readmodels, sqlread

# The person behind `staff:<id>` (the command path's actor), matched as text: staff is a short table.
_EVENTS = (
    "SELECT +e.seq AS seq, e.type AS type, e.at AS at, e.device_at AS device_at, e.actor AS actor,"
    " e.data AS data, s.name AS name"
    " FROM event e LEFT JOIN staff s ON e.actor = 'staff:' || CAST(s.id AS TEXT)"
    " WHERE e.repair_order = {} ORDER BY e.seq"
)


def _actor(actor: str, name: str | None) -> dict[str, Any] | None:
    """{id, name} for a staff member; None for the customer or the system (see `by`)."""
    kind, _, ident = actor.partition(":")
    if kind != "staff" or not ident.isdigit():
        return None
    return {"id": int(ident), "name": name}


def _by(actor: str) -> str:
    """Who acted, by kind: staff, customer or system."""
    kind = actor.partition(":")[0]
    return kind if kind in ("staff", "customer") else "system"


async def timeline(ro_id: int) -> dict[str, Any]:
    """{events: [{seq, type, at, device_at, actor, by, data}]} of the order, by seq (NotFound: no
    such order). `at` is when the server recorded it; `device_at` when it was done on a tablet
    whose outbox sent it later (None otherwise)."""
    rows = await sqlread.rows(_EVENTS, ro_id)
    if not rows:
        await readmodels.current_stage(ro_id)  # NotFound when there is no such order
    return {
        "events": [
            {
                "seq": int(r["seq"]),
                "type": r["type"],
                "at": r["at"],
                "device_at": r["device_at"],
                "actor": _actor(r["actor"] or "", r["name"]),
                "by": _by(r["actor"] or ""),
                "data": json.loads(r["data"] or "{}"),
            }
            for r in rows
        ]
    }
