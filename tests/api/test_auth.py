"""Staff sign-in: PINs, lockout, sessions (fixation), CSRF, logout."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from api import auth
from api.tables import Event, LoginThrottle, StaffSession
from tests.factories import PIN, client, make_staff, signed_in


async def test_login_me_logout(app: Any, clean: None) -> None:
    person = await make_staff("advisor")
    async with client(app) as c:
        assert (await c.get("/api/auth/me")).status_code == 401
        r = await c.post("/api/auth/login", json={"username": person["username"].upper(), "pin": PIN})
        assert r.status_code == 200
        assert r.json()["user"] == {k: person[k] for k in ("id", "username", "name", "role")}
        cookie = r.headers.get_list("set-cookie")
        session = next(h for h in cookie if h.startswith(auth.SESSION_COOKIE))
        assert "HttpOnly" in session and "SameSite=strict" in session
        assert (await c.get("/api/auth/me")).json()["user"]["id"] == person["id"]
        c.headers["x-csrftoken"] = c.cookies["csrftoken"]
        assert (await c.post("/api/auth/logout")).status_code == 204
        assert (await c.get("/api/auth/me")).status_code == 401


async def test_wrong_pin_and_unknown_user_answer_alike(app: Any, clean: None) -> None:
    person = await make_staff("technician")
    async with client(app) as c:
        a = await c.post("/api/auth/login", json={"username": person["username"], "pin": "9731"})
        b = await c.post("/api/auth/login", json={"username": "nobody", "pin": "9731"})
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"] == "Wrong username or PIN."


async def test_pin_of_letters_is_422_with_a_message(app: Any, clean: None) -> None:
    async with client(app) as c:
        r = await c.post("/api/auth/login", json={"username": "x", "pin": "abcd"})
    assert r.status_code == 422 and "4 to 8 digits" in r.json()["detail"]


def _session_from(response: Any) -> str:
    header = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE + "=")
    )
    return header.split(";")[0].split("=", 1)[1]


async def test_session_fixation_planted_cookie_is_never_adopted(app: Any, clean: None) -> None:
    person = await make_staff("advisor")
    seen = set()
    for _ in range(20):
        async with client(app) as c:
            planted = "planted-session-id-0123456789abcdef"
            c.cookies.set(auth.SESSION_COOKIE, planted)
            await c.get("/api/health")  # the page load that hands out the CSRF cookie
            c.headers["x-csrftoken"] = c.cookies["csrftoken"]
            r = await c.post("/api/auth/login", json={"username": person["username"], "pin": PIN})
            assert r.status_code == 200
            new = _session_from(r)
            assert new != planted and new not in seen
            seen.add(new)
    # Logging in twice from one browser: the first session dies.
    async with client(app) as c:
        first = _session_from(
            await c.post("/api/auth/login", json={"username": person["username"], "pin": PIN})
        )
        c.headers["x-csrftoken"] = c.cookies["csrftoken"]
        r = await c.post("/api/auth/login", json={"username": person["username"], "pin": PIN})
        second = _session_from(r)
        assert first != second
    async with client(app) as old:
        old.cookies.set(auth.SESSION_COOKIE, first)
        assert (await old.get("/api/auth/me")).status_code == 401
    assert await StaffSession.count().where(StaffSession.token_hash == first) == 0  # only hashes stored
    assert await StaffSession.count().where(StaffSession.token_hash == auth.token_hash(first)) == 1


async def test_lockout_bounds_guesses_and_a_manager_unlocks(app: Any, clean: None) -> None:
    victim = await make_staff("technician")
    manager, _ = await signed_in(app, "manager")
    evaluated = 0
    real_verify = auth.verify_pin

    def counting_verify(pin_hash: str, pin: str) -> bool:
        nonlocal evaluated
        evaluated += 1
        return real_verify(pin_hash, pin)

    auth.verify_pin = counting_verify  # type: ignore[assignment]
    try:
        codes: list[int] = []

        # Many devices (fresh cookie jars) so only the per-user counter can stop them.
        async def guess(i: int) -> None:
            async with client(app) as c:
                r = await c.post(
                    "/api/auth/login", json={"username": victim["username"], "pin": f"{9000 + i}"}
                )
                codes.append(r.status_code)
                if r.status_code == 429:
                    assert int(r.headers["retry-after"]) >= 1

        for batch in range(10):
            await asyncio.gather(*(guess(batch * 100 + i) for i in range(100)))
        assert evaluated <= 10, evaluated
        assert codes.count(429) >= 990
        async with client(app) as c:
            r = await c.post("/api/auth/login", json={"username": victim["username"], "pin": PIN})
            assert r.status_code == 429, "the right PIN is refused while locked"
        assert await Event.count().where(Event.type == "staff.locked_out") == 1
        r = await manager.post(f"/api/staff/{victim['id']}/unlock")
        assert r.status_code == 200
        async with client(app) as c:
            r = await c.post("/api/auth/login", json={"username": victim["username"], "pin": PIN})
            assert r.status_code == 200
    finally:
        auth.verify_pin = real_verify  # type: ignore[assignment]
        await manager.aclose()


async def test_lockout_never_exceeds_15_minutes() -> None:
    assert auth.lock_for(4, 5).total_seconds() == 0
    assert auth.lock_for(5, 5).total_seconds() == 30
    assert auth.lock_for(6, 5).total_seconds() == 60
    assert max(auth.lock_for(n, 5).total_seconds() for n in range(200)) == 15 * 60


async def test_one_device_guessing_is_slowed_per_device(app: Any, clean: None) -> None:
    # Enough people that no single one reaches the per-user limit: only the device counter can stop it.
    people = [await make_staff("technician") for _ in range(8)]
    async with client(app) as c:
        codes = []
        for i in range(auth.DEVICE_FREE_FAILURES + 3):
            who = people[i % 8]["username"]
            codes.append((await c.post("/api/auth/login", json={"username": who, "pin": "9731"})).status_code)
    assert codes[: auth.DEVICE_FREE_FAILURES] == [401] * auth.DEVICE_FREE_FAILURES
    assert codes[-1] == 429
    assert await LoginThrottle.count().where(LoginThrottle.key.like("device:%")) == 1


async def test_csrf_header_is_required_with_the_session_cookie(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        del c.headers["x-csrftoken"]
        r = await c.post("/api/auth/logout")
        assert r.status_code == 403
        c.headers["x-csrftoken"] = "forged"
        assert (await c.post("/api/auth/logout")).status_code == 403
        assert (await c.get("/api/auth/me")).status_code == 200  # still signed in: nothing happened


async def test_security_headers_on_every_response(app: Any, clean: None) -> None:
    async with client(app) as c:
        for path in ("/api/health", "/api/auth/me", "/", "/nope"):
            r = await c.get(path)
            assert "default-src 'self'" in r.headers["content-security-policy"], path
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"]
        assert (await c.get("/api/health")).headers["cache-control"] == "no-store"
        # The outbox trusts only answers marked as our API's (refusals too), never the shell's.
        assert (await c.get("/api/auth/me")).headers["x-bayline-api"] == "1"
        assert (await c.get("/api/nope")).headers["x-bayline-api"] == "1"
        assert "x-bayline-api" not in (await c.get("/")).headers
