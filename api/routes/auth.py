"""Staff sign-in on shared tablets: pick yourself, enter your PIN."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody

from api import auth, cookies, sessions, workshop
from api import staff as staff_admin
from api.clientaddr import client_address
from api.commands import execute, now
from api.httpcommand import run
from api.schemas import LoginIn, PinChoiceIn, UserOut
from api.tables import Staff

_WRONG = "Wrong username or PIN."
BUSY_RETRY_SECONDS = 2


def _too_many(until: Any, device: str, managers: list[str] | None = None) -> Response[dict[str, Any]]:
    """429. `managers`: the first names of who can lift the lock, when it is on the person (the
    tiles show every active name and role already, so this tells a stranger nothing new)."""
    wait = max(1, int((until - now()).total_seconds()) + 1)
    params: dict[str, Any] = {"seconds": wait}
    who = "a manager"
    if managers:
        params["managers"] = managers
        who = ", ".join(managers)
    return Response(
        {
            "status_code": 429,
            "detail": f"Too many wrong PINs. Try again in {wait} s, or ask {who} to unlock you.",
            "code": "auth.locked",
            "params": params,
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
            managers = await staff_admin.unlockers() if charged.body.get("person") else None
            return _too_many(datetime.fromisoformat(charged.body["until"]), device, managers)

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

    @post("/pin", status_code=200)
    async def choose_pin(self, request: Request, data: JSONBody[PinChoiceIn]) -> Response[Any]:
        """After signing in with a one-time PIN (`must_choose_pin`), the person's own: not an easy
        one, not the one-time one. The only thing such a session may do; then it is like any other."""
        token = auth.session_token(request)
        person = await auth.pending_session(token) if token else None
        if person is None:
            if isinstance(request.scope.get("user"), auth.StaffUser):
                raise workshop.Conflict("Your PIN is already chosen.", code="auth.pin_chosen")
            raise NotAuthorizedException("Sign in with the one-time PIN first.")
        workshop.check_pin(data.pin)
        row = await Staff.select(Staff.pin_hash).where(Staff.id == person.id).first()
        if row is not None and await auth.verify_gate.verify(row["pin_hash"], data.pin):
            raise workshop.Invalid(
                "Choose a PIN of your own, not the one-time PIN you were given.",
                code="auth.pin_one_time",
                field="pin",
            )
        pin_hash = await sync_to_thread(auth.hash_pin, data.pin)
        handler = functools.partial(sessions.choose_pin, person.id, pin_hash)
        return await run(
            request, handler, actor=f"staff:{person.id}", payload={"pin": auth.token_hash(data.pin)}
        )

    @get("/me")
    async def me(self, request: Request) -> UserOut:
        """Who is signed in on this browser (401 when nobody)."""
        return UserOut.model_validate({"user": auth.current_user(request).public()})

    @post("/logout", status_code=204)
    async def logout(self, request: Request) -> Response[None]:
        """End this browser's session (the tablet's outbox keeps what is still unsent)."""
        user = request.scope.get("user")
        token = auth.session_token(request)
        if not isinstance(user, auth.StaffUser) and token:
            user = await auth.pending_session(token)  # gave up choosing a PIN: that session ends too
        if isinstance(user, auth.StaffUser):
            end = functools.partial(sessions.end_session, user.id, user.session_id)
            await execute(end, actor=f"staff:{user.id}")
        response: Response[None] = Response(None, status_code=204)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response
