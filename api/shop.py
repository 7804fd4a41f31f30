"""The shop's own settings (name, time zone, language), written once by the first-run setup."""

from __future__ import annotations

from api import settings
from api.tables import Shop


async def current() -> dict[str, str] | None:
    row = await Shop.select(Shop.name, Shop.timezone, Shop.language).first()
    return row


async def timezone() -> str:
    """The zone every time is shown in: the setup's choice, else SHOP_TIMEZONE."""
    row = await current()
    return row["timezone"] if row else settings.get().shop_timezone
