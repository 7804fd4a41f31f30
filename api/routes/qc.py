"""The foreman's side of QC: what waits for a check, and the checklist to check it with."""

from __future__ import annotations

from typing import Any

from litestar import get

from api import floor, qc
from api.auth import requires


@get("/api/qc/queue", guards=[requires("qc.read")], tags=["jobs"])
async def qc_queue() -> dict[str, Any]:
    """Finished jobs waiting for their quality check, the longest waiting first."""
    return await floor.qc_queue()


@get("/api/qc-templates/default", guards=[requires("qc.read")], tags=["jobs"])
async def default_template() -> dict[str, Any]:
    """The checklist QC uses (managers edit it in /admin), items in order, in both languages."""
    return await qc.default_template()
