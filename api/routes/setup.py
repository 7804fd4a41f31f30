"""First-run setup (shop + first manager), closed for good once a manager exists; shop info.

Use case: api/setup.py."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.concurrency import sync_to_thread
from litestar.params import JSONBody

from api import auth, cookies, settings, setup, shop
from api.auth import current_user, requires
from api.commands import execute
from api.httpcommand import run
from api.schemas import SetupIn, ShopSettingsIn


class SetupController(Controller):
    path = "/api"
    tags = ["setup"]

    @get("/setup")
    async def status(self) -> dict[str, Any]:
        """Whether this installation still needs its one-time setup, and the choices it offers."""
        needed = await setup.needed()
        return {
            "needed": needed,
            "shop": await shop.current(),
            "default_timezone": settings.get().shop_timezone,
            "timezones": setup.zones() if needed else [],
        }

    @post("/setup", status_code=201)
    async def setup(self, data: JSONBody[SetupIn]) -> Response[dict[str, Any]]:
        """Create the shop and its first manager, and sign the manager in. Works once."""
        setup.check(data)
        pin_hash = await sync_to_thread(auth.hash_pin, data.manager.pin)
        token = auth.new_token()
        device = auth.new_token()[:32]
        reply = await execute(functools.partial(setup.set_up, data, pin_hash, token, device), actor="setup")
        return Response(reply.body, status_code=201, cookies=cookies.session_cookies(token, device))

    @get("/shop")
    async def shop_info(self, request: Request) -> dict[str, Any]:
        """The shop's name, time zone, default language and opening hours (public: the sign-in
        screen shows the name; the promise quick choices keep inside the hours). Signed-in staff
        also get the settlement's settings, address, phone and tax id."""
        signed_in = isinstance(request.scope.get("user"), auth.StaffUser)
        row = await (shop.staff_view() if signed_in else shop.current())
        # No name before the setup: the top bar then shows the product name once, not twice.
        return row or {
            "name": "",
            "timezone": await shop.timezone(),
            "language": "zh-CN",
            "hours": dict(shop.DEFAULT_HOURS),
            **(shop.staff_defaults() if signed_in else {}),
        }

    @put("/shop/settings", guards=[requires("shop.settings")], status_code=200)
    async def change_settings(self, request: Request, data: JSONBody[ShopSettingsIn]) -> Response[Any]:
        """A manager changes the shop's settings (fields left out stay as they are); open screens
        get them through shop.updated."""
        user = current_user(request)
        fields = data.model_dump(exclude_none=True)
        handler = functools.partial(shop.settings_for, user.id, fields)
        return await run(request, handler, actor=f"staff:{user.id}", payload=fields)
