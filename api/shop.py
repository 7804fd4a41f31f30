"""The shop's own settings (name, time zone, language, opening hours), written by the first-run
setup; a manager changes them in /admin (`change_settings`, through the command path: the event
shop.updated brings the new opening hours to open screens at once). No web imports.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api import events, settings, workshop
from api.commands import Outcome, execute, now
from api.tables import RepairOrder, Shop

# What a manager may change on a shop in use. Not the time zone: repair-order numbers (counted per
# day) and the day reports' boundaries are reckoned in it, so moving it would renumber and re-cut
# days already begun.
SETTINGS = ("name", "language", "opens", "closes", "open_days")
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


def _check_zone(zone: Any) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise workshop.Invalid(
            f"Unknown time zone {zone!r}: use an IANA name like Asia/Shanghai.",
            code="setup.timezone_unknown",
            field="timezone",
        ) from None


def _fixed_zone() -> workshop.Invalid:
    return workshop.Invalid(
        "The time zone stays as the shop was set up: repair-order numbers and day reports are counted in it.",
        code="shop.timezone_fixed",
        field="timezone",
    )


async def change(shop_id: int, fields: Mapping[str, Any], by: int) -> Outcome:
    """(Inside a command.) A manager's change of the shop's name, language or opening hours, checked
    against the row as it is. `fields` may carry the time zone unchanged (a form sends every field),
    never a new one."""
    row = await Shop.select().where(Shop.id == shop_id).first()
    if row is None:
        raise workshop.NotFound(
            f"Shop {shop_id} does not exist.", code="shop.not_found", params={"id": shop_id}
        )
    if "timezone" in fields and fields["timezone"] != row["timezone"]:
        raise _fixed_zone()
    changed = {k: v for k, v in fields.items() if k in SETTINGS and v != row[k]}
    after = {**row, **changed}
    check_hours(after["opens"], after["closes"], after["open_days"])
    if not changed:
        return Outcome(200, await current())
    await Shop.update({getattr(Shop, k): v for k, v in changed.items()}).where(Shop.id == shop_id)
    shown = await current()
    assert shown is not None
    return Outcome(200, shown, [events.shop_updated(shown, by)])


async def add(fields: Mapping[str, Any], by: int) -> Outcome:
    """(Inside a command.) The shop's settings on an installation set up with the command line (the
    first-run setup writes them otherwise). One shop; its zone is the one the orders so far were
    numbered in (SHOP_TIMEZONE) unless there are none yet."""
    if await Shop.exists():
        raise workshop.Conflict("There is one shop: change its settings instead.", code="shop.exists")
    _check_zone(fields["timezone"])
    if fields["timezone"] != settings.get().shop_timezone and await RepairOrder.exists():
        raise _fixed_zone()
    check_hours(fields["opens"], fields["closes"], fields["open_days"])
    row = Shop(**{k: fields[k] for k in (*SETTINGS, "timezone")}, created_at=now())
    await row.save()
    shown = await current()
    assert shown is not None
    return Outcome(201, {"id": int(row.id), **shown}, [events.shop_updated(shown, by)])


async def change_settings(shop_id: int, fields: Mapping[str, Any], by: int) -> dict[str, Any]:
    """`change` through the command path, as manager `by`: the shop as the screens now see it."""
    reply = await execute(functools.partial(change, shop_id, fields, by), actor=f"staff:{by}")
    return dict(reply.body)


async def add_settings(fields: Mapping[str, Any], by: int) -> int:
    """`add` through the command path, as manager `by`: the new row's id."""
    reply = await execute(functools.partial(add, fields, by), actor=f"staff:{by}")
    return int(reply.body["id"])
