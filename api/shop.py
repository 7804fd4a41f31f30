"""The shop's own settings (name, time zone, language, opening hours, and what the settlement and the
workshop day need: labour rate, tax, the ready rule, next-service defaults, the discount threshold),
written by the first-run setup; a manager changes them on the settings screen (PUT /api/shop/settings)
or in /admin (`change_settings`), both through the command path: the event shop.updated brings them
to open screens at once. No web imports.
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
SETTINGS = ("name", "language", "opens", "closes", "open_days", *("address", "phone", "tax_id"))
# Numbers a manager sets, each with what it may be: (lowest, highest). Highest values keep typos
# out (a rate of ¥100,000 an hour is a slip of the finger, not a price) and stay inside INTEGER.
LIMITS: dict[str, tuple[int, int]] = {
    "labour_rate_fen": (0, 10_000_000),
    "tax_rate_bp": (0, 10_000),  # 0 to 100 %: tax is inside the prices (api/money.py)
    "discount_threshold_fen": (0, 1_000_000_000),
    "next_service_months": (0, 60),  # 0: no date, only the mileage
    "next_service_km": (0, 100_000),  # 0: no mileage, only the date
}
READY_RULES = ("manual", "auto")  # a tap marks a car ready, or the last QC pass does
# What signed-in staff see beside what anyone sees (GET /api/shop): the settlement's figures and the
# shop's own contact details, which the sign-in screen has no need of.
STAFF_FIELDS = ("address", "phone", "tax_id", *LIMITS, "ready_rule")
CHANGEABLE = (*SETTINGS, *LIMITS, "ready_rule")
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


def check_settings(values: Mapping[str, Any]) -> None:
    """The settlement's figures and the ready rule, as a manager may set them."""
    for field, (low, high) in LIMITS.items():
        if field not in values:
            continue
        value = values[field]
        if not isinstance(value, int) or isinstance(value, bool):
            raise workshop.Invalid(f"{field} must be a whole number.", code="field.whole_number", field=field)
        if value < low:
            raise workshop.Invalid(
                f"{field} cannot be negative (got {value}).",
                code="shop.negative",
                params={"field": field},
                field=field,
            )
        if field == "tax_rate_bp" and value > high:
            raise workshop.Invalid(
                f"The tax rate is at most 100 % (10000 basis points), got {value}.",
                code="shop.tax_rate_range",
                params={"max": high},
                field=field,
            )
        if value > high:
            raise workshop.Invalid(
                f"{field} is at most {high}, got {value}.",
                code="shop.too_large",
                params={"field": field, "max": high},
                field=field,
            )
    if "ready_rule" in values and values["ready_rule"] not in READY_RULES:
        raise workshop.Invalid(
            f"The ready rule is manual or auto, got {values['ready_rule']!r}.",
            code="shop.ready_rule",
            params={"choices": list(READY_RULES)},
            field="ready_rule",
        )


async def staff_view() -> dict[str, Any] | None:
    """The shop as signed-in staff see it (and shop.updated carries): `current()` and STAFF_FIELDS."""
    shown = await current()
    if shown is None:
        return None
    row = await Shop.select(*(getattr(Shop, f) for f in STAFF_FIELDS)).first()
    assert row is not None
    return {**shown, **row}


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
    """(Inside a command.) A manager's change of the shop's settings (CHANGEABLE), checked against
    the row as it is. `fields` may carry the time zone unchanged (a form sends every field), never a
    new one. Answers the shop as staff see it."""
    row = await Shop.select().where(Shop.id == shop_id).first()
    if row is None:
        raise workshop.NotFound(
            f"Shop {shop_id} does not exist.", code="shop.not_found", params={"id": shop_id}
        )
    if "timezone" in fields and fields["timezone"] != row["timezone"]:
        raise _fixed_zone()
    changed = {k: v for k, v in fields.items() if k in CHANGEABLE and v != row[k]}
    after = {**row, **changed}
    check_hours(after["opens"], after["closes"], after["open_days"])
    check_settings(changed)
    if not changed:
        return Outcome(200, await staff_view())
    await Shop.update({getattr(Shop, k): v for k, v in changed.items()}).where(Shop.id == shop_id)
    shown = await staff_view()
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
    check_settings(fields)
    kept = (*SETTINGS, *LIMITS, "ready_rule", "timezone")
    row = Shop(**{k: fields[k] for k in kept if k in fields}, created_at=now())
    await row.save()
    shown = await staff_view()
    assert shown is not None
    return Outcome(201, {"id": int(row.id), **shown}, [events.shop_updated(shown, by)])


async def change_settings(shop_id: int, fields: Mapping[str, Any], by: int) -> dict[str, Any]:
    """`change` through the command path, as manager `by`: the shop as the screens now see it."""
    reply = await execute(functools.partial(change, shop_id, fields, by), actor=f"staff:{by}")
    return dict(reply.body)


def staff_defaults() -> dict[str, Any]:
    """STAFF_FIELDS as a shop without a row has them (set up with the command line): the columns'
    defaults, so the settings screen shows what the settlement would use."""
    return {f: Shop._meta.get_column_by_name(f).default for f in STAFF_FIELDS}


async def settings_for(by: int, fields: Mapping[str, Any]) -> Outcome:
    """(Inside a command.) The settings screen's change: of the one shop there is, or the first
    settings of a shop set up with the command line (in the zone its orders are numbered in)."""
    row = await Shop.select(Shop.id).first()
    if row is not None:
        return await change(int(row["id"]), fields, by)
    hours = {"opens": DEFAULT_HOURS["opens"], "closes": DEFAULT_HOURS["closes"], "open_days": "1234567"}
    first = {"name": "", "language": "zh-CN", "timezone": settings.get().shop_timezone, **hours}
    first |= staff_defaults()
    return await add({**first, **{k: v for k, v in fields.items() if k in CHANGEABLE}}, by)


async def add_settings(fields: Mapping[str, Any], by: int) -> int:
    """`add` through the command path, as manager `by`: the new row's id."""
    reply = await execute(functools.partial(add, fields, by), actor=f"staff:{by}")
    return int(reply.body["id"])
