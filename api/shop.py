"""The shop's own settings (name, time zone, language, opening hours), written by the first-run
setup; a manager changes them in /admin."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from api import settings, workshop
from api.tables import RepairOrder, Shop

# Until a manager says otherwise: a dealer's service desk, open every day.
DEFAULT_HOURS: dict[str, Any] = {"opens": "08:30", "closes": "18:00", "days": [1, 2, 3, 4, 5, 6, 7]}
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DAYS = re.compile(r"^(?!.*(.).*\1)[1-7]{1,7}$")  # each of 1 (Monday) … 7 (Sunday) at most once


def check_hours(opens: str, closes: str, open_days: str) -> None:
    """Opening hours as stored: HH:MM to a later HH:MM the same day, on one or more days."""
    for label, field, value in (("Opening time", "opens", opens), ("Closing time", "closes", closes)):
        if not isinstance(value, str) or not _CLOCK.fullmatch(value):
            raise workshop.Invalid(
                f"{label} must be HH:MM on a 24-hour clock, e.g. 08:30, got {value!r}.",
                code="shop.time_format",
                field=field,
            )
    if closes <= opens:
        raise workshop.Invalid(
            f"The shop must close after it opens: {opens} to {closes} is no opening time.",
            code="shop.hours_order",
            params={"opens": opens, "closes": closes},
            field="closes",
        )
    if not isinstance(open_days, str) or not _DAYS.fullmatch(open_days):
        raise workshop.Invalid(
            f"Open days are digits 1 (Monday) to 7 (Sunday), each once, e.g. 123456; got {open_days!r}.",
            code="shop.days_format",
            field="open_days",
        )


def hours_out(row: dict[str, Any]) -> dict[str, Any]:
    """The hours the screens use: a row that is somehow unusable gives the default, never none."""
    try:
        check_hours(row["opens"], row["closes"], row["open_days"])
    except workshop.Invalid:
        return dict(DEFAULT_HOURS)
    return {"opens": row["opens"], "closes": row["closes"], "days": sorted(int(d) for d in row["open_days"])}


async def current() -> dict[str, Any] | None:
    row = await Shop.select(
        Shop.name, Shop.timezone, Shop.language, Shop.opens, Shop.closes, Shop.open_days
    ).first()
    if row is None:
        return None
    return {
        "name": row["name"],
        "timezone": row["timezone"],
        "language": row["language"],
        "hours": hours_out(row),
    }


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
