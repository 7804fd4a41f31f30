"""First-run setup (shop + first manager), closed for good once a manager exists; shop info."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.params import JSONBody

from api import auth, settings, shop, workshop
from api.commands import NewEvent, Outcome, execute, now
from api.routes.auth import session_cookies
from api.schemas import SetupIn
from api.staff import create_staff
from api.tables import Shop, Staff, StaffSession

# The zones a Chinese dealer group is likely to pick first, then every other one.
_FIRST_ZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Urumqi", "Asia/Singapore"]


async def _needed() -> bool:
    return not await Staff.exists().where(Staff.role == "manager")


class SetupController(Controller):
    path = "/api"
    tags = ["setup"]

    @get("/setup")
    async def status(self) -> dict[str, Any]:
        """Whether this installation still needs its one-time setup, and the choices it offers."""
        needed = await _needed()
        zones = _FIRST_ZONES + sorted(z for z in available_timezones() if z not in _FIRST_ZONES and "/" in z)
        return {
            "needed": needed,
            "shop": await shop.current(),
            "default_timezone": settings.get().shop_timezone,
            "timezones": zones if needed else [],
        }

    @post("/setup", status_code=201)
    async def setup(self, request: Request, data: JSONBody[SetupIn]) -> Response[dict[str, Any]]:
        """Create the shop and its first manager, and sign the manager in. Works once."""
        try:
            ZoneInfo(data.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise workshop.Invalid(f"Unknown time zone {data.timezone!r}: pick one from the list.") from None
        workshop.check_pin(data.manager.pin)
        pin_hash = await sync_to_thread(auth.hash_pin, data.manager.pin)
        token = auth.new_token()
        device = auth.new_token()[:32]

        async def handler() -> Outcome:
            # Checked inside the write transaction: two browsers racing cannot both set up.
            if not await _needed():
                raise workshop.Conflict("This workshop is already set up: sign in instead.")
            at = now()
            await Shop.delete(force=True)
            await Shop(
                name=data.shop_name, timezone=data.timezone, language=data.language, created_at=at
            ).save()
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
            return Outcome(201, {"user": user}, [NewEvent("shop.set_up", None, {"name": data.shop_name})])

        reply = await execute(handler, actor="setup")
        return Response(reply.body, status_code=201, cookies=session_cookies(token, device))

    @get("/shop")
    async def shop_info(self) -> dict[str, Any]:
        """The shop's name, time zone, default language and opening hours (public: the sign-in
        screen shows the name; the promise quick choices keep inside the hours)."""
        row = await shop.current()
        # No name before the setup: the top bar then shows the product name once, not twice.
        return row or {
            "name": "",
            "timezone": await shop.timezone(),
            "language": "zh-CN",
            "hours": dict(shop.DEFAULT_HOURS),
        }
