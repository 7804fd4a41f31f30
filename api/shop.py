"""The shop's own settings (name, time zone, language), written once by the first-run setup."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from api import settings
from api.tables import RepairOrder, Shop


async def current() -> dict[str, str] | None:
    row = await Shop.select(Shop.name, Shop.timezone, Shop.language).first()
    return row


async def timezone() -> str:
    """The zone every time is shown in: the setup's choice, else SHOP_TIMEZONE."""
    row = await current()
    return row["timezone"] if row else settings.get().shop_timezone


async def next_ro_number(at: datetime) -> str:
    """YYMMDD-NNN for a repair order written at `at`, counted per day in the shop's time zone.

    Call it inside the write transaction that saves the order, so two orders never get one number.
    """
    day = at.astimezone(ZoneInfo(await timezone())).strftime("%y%m%d")
    rows = await RepairOrder.select(RepairOrder.number).where(RepairOrder.number.like(f"{day}-%"))
    # After the highest, not after the count: a gap (demo orders an older version numbered by the
    # UTC date) must never hand out a number that is taken.
    taken = [int(tail) for r in rows if (tail := r["number"].partition("-")[2]).isdigit()]
    return f"{day}-{max(taken, default=0) + 1:03d}"
