"""Staff sign-in on shared tablets: pick yourself, enter your PIN."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody

from api import auth, cookies, sessions
from api.clientaddr import client_address
from api.commands import execute, now
from api.schemas import LoginIn, UserOut
from api.tables import Staff

_WRONG = "Wrong username or PIN."
BUSY_RETRY_SECONDS = 2


def _too_many(until: Any, device: str) -> Response[dict[str, Any]]:
    wait = max(1, int((until - now()).total_seconds()) + 1)
    return Response(
        {
            "status_code": 429,
            "detail": f"Too many wrong PINs. Try again in {wait} s, or ask a manager to unlock you.",
            "code": "auth.locked",
            "params": {"seconds": wait},
            "retry_after": wait,
        },
        status_code=429,
        headers={"Retry-After": str(wait)},
        cookies=[cookies.device_cookie(device)],
    )


def _busy(device: str) -> Response[dict[str, Any]]:
    return Response(
        {
            "status_code": 503,
            "detail": "Many sign-ins at once: try again in a moment.",
            "code": "auth.busy",
            "retry_after": BUSY_RETRY_SECONDS,
        },
        status_code=503,
        headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
        cookies=[cookies.device_cookie(device)],
    )


class AuthController(Controller):
    path = "/api/auth"
    tags = ["staff sign-in"]

    @get("/staff")
    async def tiles(self) -> dict[str, list[dict[str, str]]]:
        """Who can sign in on this tablet: names and roles for the "who are you?" tiles."""
        rows = (
            await Staff.select(Staff.username, Staff.name, Staff.role)
            .where(Staff.active.eq(True))
            .order_by(Staff.name)
        )
        return {"staff": rows}

    @post("/login", status_code=200)
    async def login(self, request: Request, data: JSONBody[LoginIn]) -> Response[Any]:
        """Sign in with username + PIN. A fresh session id every time; a planted one is never used."""
        sent = request.cookies.get(auth.DEVICE_COOKIE) or ""
        if not (8 <= len(sent) <= 64 and sent.replace("-", "").replace("_", "").isalnum()):
            sent = ""
        # A client without a device cookie gets one (so a tablet's guesses add up from now on), but
        # is counted by its address alone: a device id minted here would count nothing.
        device = sent or auth.new_token()[:32]
        known = bool(sent) and await auth.known_device(sent)
        address = client_address(request.scope)
        if not known:
            # A locked address is refused with one read: a flood from it takes no write lock.
            until = await auth.locked_until(auth.address_key(address))
            if until is not None:
                return _too_many(until, device)
        staff = await auth.active_staff(data.username)
        # Known and unknown usernames take the same path and the same work from here on.
        subject = auth.subject_key(staff.id if staff is not None else None, data.username)
        keys = auth.throttle_keys(sent or None, address, subject, known)

        # 1. Charge the attempt before evaluating it (own transaction, committed even on failure).
        charge = functools.partial(sessions.charge, keys, staff, subject, known)
        charged = await execute(charge, actor=f"device:{device}")
        if charged.status_code == 429:
            return _too_many(datetime.fromisoformat(charged.body["until"]), device)

        # 2. Evaluate the PIN in a thread (argon2 is deliberately slow), a bounded number at once.
        if not known and auth.verify_gate.busy():
            return _busy(device)
        ok = await auth.verify_gate.verify(staff.pin_hash if staff is not None else None, data.pin)
        if not ok or staff is None:
            # The device cookie goes out with failures too, so a tablet's guesses add up.
            return Response(
                {"status_code": 401, "detail": _WRONG, "code": "auth.wrong_pin"},
                status_code=401,
                cookies=[cookies.device_cookie(device)],
            )

        # 3. Success: clear the counters, end the old session of this browser, open a new one.
        token = auth.new_token()
        old_token = request.cookies.get(auth.SESSION_COOKIE)

        sign_in = functools.partial(sessions.open_session, keys, staff, token, device, old_token)
        reply = await execute(sign_in, actor=f"staff:{staff.id}")
        return Response(
            reply.body,
            status_code=200,
            cookies=cookies.session_cookies(token, device),
        )

    @get("/me")
    async def me(self, request: Request) -> UserOut:
        """Who is signed in on this browser (401 when nobody)."""
        return UserOut.model_validate({"user": auth.current_user(request).public()})

    @post("/logout", status_code=204)
    async def logout(self, request: Request) -> Response[None]:
        """End this browser's session (the tablet's outbox keeps what is still unsent)."""
        user = request.scope.get("user")
        if isinstance(user, auth.StaffUser):
            end = functools.partial(sessions.end_session, user.id, user.session_id)
            await execute(end, actor=f"staff:{user.id}")
        response: Response[None] = Response(None, status_code=204)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response
