"""The one-time setup as a use case: the shop and its first manager, closed for good once a manager
exists. Runs inside api.commands.execute. No web imports.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from api import auth, events, workshop
from api.commands import Outcome, now
from api.schemas import SetupIn
from api.staff import create_staff
from api.tables import Shop, Staff, StaffSession

# The zones a Chinese dealer group is likely to pick first, then every other one.
_FIRST_ZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Urumqi", "Asia/Singapore"]


async def needed() -> bool:
    """Whether this installation still needs its setup (no manager yet)."""
    return not await Staff.exists().where(Staff.role == "manager")


def zones() -> list[str]:
    """The time zones to choose from, the likely ones first."""
    return _FIRST_ZONES + sorted(z for z in available_timezones() if z not in _FIRST_ZONES and "/" in z)


def check(data: SetupIn) -> None:
    """What can be refused before any work: the zone and the manager's PIN."""
    try:
        ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise workshop.Invalid(
            f"Unknown time zone {data.timezone!r}: pick one from the list.",
            code="setup.timezone_unknown",
            field="timezone",
        ) from None
    workshop.check_pin(data.manager.pin, field="manager.pin")


async def set_up(data: SetupIn, pin_hash: str, token: str, device: str) -> Outcome:
    """Create the shop and its first manager, signed in with session `token` on `device`."""
    # Checked inside the write transaction: two browsers racing cannot both set up.
    if not await needed():
        raise workshop.Conflict("This workshop is already set up: sign in instead.", code="setup.done")
    at = now()
    await Shop.delete(force=True)
    await Shop(name=data.shop_name, timezone=data.timezone, language=data.language, created_at=at).save()
    m = data.manager
    row = await create_staff(m.username, m.name, "manager", pin_hash)
    await StaffSession(
        token_hash=auth.token_hash(token),
        staff=row.id,
        device_id=device,
        created_at=at,
        last_seen_at=at,
    ).save()
    user = {"id": row.id, "username": row.username, "name": row.name, "role": row.role}
    return Outcome(201, {"user": user}, [events.shop_set_up(data.shop_name, int(row.id))])
