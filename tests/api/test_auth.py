"""Staff sign-in: PINs, lockout, sessions (fixation), CSRF, logout."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import ipaddress
import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api import auth, settings
from api.commands import now
from api.tables import Event, LoginThrottle, StaffSession
from tests.factories import PIN, client, make_staff, signed_in


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    """A fresh browser (own cookie jar) connecting from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


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

        # Many devices (fresh cookie jars) on many addresses, so only the per-user counter can stop them.
        async def guess(i: int) -> None:
            async with client_at(app, f"10.1.{i // 250}.{i % 250}") as c:
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
        async with client_at(app, "192.0.2.10") as c:
            r = await c.post("/api/auth/login", json={"username": victim["username"], "pin": PIN})
            assert r.status_code == 429, "the right PIN is refused while locked"
        assert await Event.count().where(Event.type == "staff.locked_out") == 1
        r = await manager.post(f"/api/staff/{victim['id']}/unlock")
        assert r.status_code == 200
        async with client_at(app, "192.0.2.10") as c:
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


# --- throttling that a client cannot dodge, and strangers cannot turn against the shop ---------

LOGIN = "/api/auth/login"


class Verifier:
    """The real PIN check, counting how often it ran and how many ran at once (threads)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, pin_hash: str, pin: str) -> bool:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return bool(self.real(pin_hash, pin))
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def verifier(monkeypatch: pytest.MonkeyPatch) -> Verifier:
    counting = Verifier(auth.verify_pin)
    monkeypatch.setattr(auth, "verify_pin", counting)
    return counting


async def test_guesses_without_a_device_cookie_are_counted_per_address(
    app: Any, clean: None, verifier: Verifier
) -> None:
    codes = []
    for i in range(40):
        async with client(app) as c:  # a fresh cookie jar each time: no device cookie is ever sent back
            codes.append((await c.post(LOGIN, json={"username": f"ghost{i}", "pin": "9731"})).status_code)
    assert verifier.calls <= 20, verifier.calls
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    async with client_at(app, "198.51.100.4") as elsewhere:
        assert (await elsewhere.post(LOGIN, json={"username": "ghost", "pin": "9731"})).status_code == 401


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    app: Any, clean: None, verifier: Verifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # By default no proxy is trusted: a made-up X-Forwarded-For does not make a new address.
    codes = []
    for i in range(25):
        async with client(app) as c:
            r = await c.post(
                LOGIN,
                json={"username": f"ghost{i}", "pin": "9731"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            codes.append(r.status_code)
    assert codes[-1] == 429 and verifier.calls <= 20
    await LoginThrottle.delete(force=True)

    trusted = dataclasses.replace(settings.get(), trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),))
    monkeypatch.setattr(settings, "_settings", trusted)
    codes = []
    for i in range(25):
        async with client(app) as c:
            # What the client wrote itself (left) is ignored: the proxy appends the address it saw.
            forwarded = f"10.9.9.{i}, 203.0.113.7"
            r = await c.post(
                LOGIN, json={"username": f"ghost{i}", "pin": "9731"}, headers={"X-Forwarded-For": forwarded}
            )
            codes.append(r.status_code)
    assert codes[:20] == [401] * 20 and codes[-1] == 429
    async with client(app) as c:
        r = await c.post(
            LOGIN, json={"username": "ghost", "pin": "9731"}, headers={"X-Forwarded-For": "203.0.113.8"}
        )
        assert r.status_code == 401, "another client behind the same proxy is not locked out"


async def test_client_address_through_trusted_proxies_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.clientaddr import client_address

    def scope(peer: str, *forwarded: str) -> Any:
        return {"client": (peer, 1234), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}

    assert client_address(scope("198.51.100.1", "203.0.113.5")) == "198.51.100.1"
    proxies = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
    monkeypatch.setattr(settings, "_settings", dataclasses.replace(settings.get(), trusted_proxies=proxies))
    assert client_address(scope("10.0.0.2", "1.1.1.1, 203.0.113.5, 10.0.0.9")) == "203.0.113.5"
    assert client_address(scope("10.0.0.2", "1.1.1.1", "203.0.113.5")) == "203.0.113.5"
    assert client_address(scope("10.0.0.2", "not-an-address")) == "10.0.0.2"
    assert client_address(scope("10.0.0.2")) == "10.0.0.2"
    assert client_address(scope("198.51.100.1", "203.0.113.5")) == "198.51.100.1"  # not via a proxy
    # One IPv6 subscriber holds a whole /64: counted as one address.
    a = client_address(scope("fd00::1", "2001:db8:1:2:aaaa::1"))
    b = client_address(scope("2001:db8:1:2:bbbb::7"))
    assert a == b != client_address(scope("2001:db8:1:3::1"))


async def test_strangers_cannot_lock_a_person_out_of_a_tablet_the_shop_knows(
    app: Any, clean: None, verifier: Verifier
) -> None:
    person = await make_staff("technician")
    right = {"username": person["username"], "pin": PIN}
    wrong = {"username": person["username"], "pin": "9731"}
    async with client_at(app, "192.168.1.20") as tablet:
        assert (await tablet.post(LOGIN, json=right)).status_code == 200  # the shop knows this tablet now
        tablet.headers["x-csrftoken"] = tablet.cookies["csrftoken"]
        assert (await tablet.post("/api/auth/logout")).status_code == 204

        codes = []
        for i in range(30):
            async with client_at(app, f"203.0.113.{i}") as stranger:
                codes.append((await stranger.post(LOGIN, json=wrong)).status_code)
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
        async with client_at(app, "203.0.113.99") as stranger:
            assert (await stranger.post(LOGIN, json=right)).status_code == 429, "still locked for strangers"

        assert (await tablet.post(LOGIN, json=right)).status_code == 200, "the known tablet is not locked out"
        tablet.headers["x-csrftoken"] = tablet.cookies["csrftoken"]
        assert (await tablet.post("/api/auth/logout")).status_code == 204
        # A colleague guessing at the known tablet is bounded by a counter of its own.
        codes = [(await tablet.post(LOGIN, json=wrong)).status_code for _ in range(8)]
        assert codes == [401] * 5 + [429] * 3
        assert verifier.calls == 5 + 2 + 5
        # A manager sees the lockout and lifts it everywhere.
        manager, _ = await signed_in(app, "manager")
        async with contextlib.aclosing(manager):
            listed = {p["id"]: p for p in (await manager.get("/api/staff")).json()}
            assert listed[person["id"]]["locked_until"] is not None
            assert (await manager.post(f"/api/staff/{person['id']}/unlock")).status_code == 200
            listed = {p["id"]: p for p in (await manager.get("/api/staff")).json()}
            assert listed[person["id"]]["locked_until"] is None
        assert (await tablet.post(LOGIN, json=right)).status_code == 200


async def test_unknown_usernames_cost_the_same_and_are_throttled_too(
    app: Any, clean: None, verifier: Verifier
) -> None:
    person = await make_staff("advisor")
    seen = {}
    for k, name in enumerate((person["username"], "nobody.here")):
        before = verifier.calls
        codes = []
        for i in range(8):  # a new address and device each time: only the per-name counter can stop it
            async with client_at(app, f"10.{k}.0.{i}") as c:
                codes.append((await c.post(LOGIN, json={"username": name, "pin": "9731"})).status_code)
        seen[name] = (codes, verifier.calls - before)
    assert seen[person["username"]] == seen["nobody.here"] == ([401] * 5 + [429] * 3, 5)


async def test_old_throttle_rows_are_pruned(app: Any, clean: None) -> None:
    at = now()
    for key, age in (("device:long-gone", timedelta(hours=25)), ("device:yesterday", timedelta(hours=20))):
        await LoginThrottle(key=key, failures=3, locked_until=None, updated_at=at - age).save()
    async with client_at(app, "198.51.100.7") as c:
        assert (await c.post(LOGIN, json={"username": "someone", "pin": "9731"})).status_code == 401
    keys = {r["key"] for r in await LoginThrottle.select(LoginThrottle.key)}
    assert "device:long-gone" not in keys and "device:yesterday" in keys


async def test_a_flood_of_sign_ins_keeps_pin_checks_bounded(
    app: Any, clean: None, verifier: Verifier
) -> None:
    person = await make_staff("technician")
    right = {"username": person["username"], "pin": PIN}
    async with client_at(app, "192.168.1.30") as tablet:
        assert (await tablet.post(LOGIN, json=right)).status_code == 200  # a tablet the shop knows
        tablet.headers["x-csrftoken"] = tablet.cookies["csrftoken"]

        async def stranger(i: int) -> httpx.Response:
            async with client_at(app, f"10.{i // 200}.{i % 200}.9") as c:
                return await c.post(LOGIN, json={"username": f"ghost{i}", "pin": "9731"})

        flood = [asyncio.create_task(stranger(i)) for i in range(150)]
        mine = await tablet.post(LOGIN, json=right)
        answers = await asyncio.gather(*flood)
    assert mine.status_code == 200, "the shop's tablet is never turned away by a flood"
    codes = collections.Counter(r.status_code for r in answers)
    assert set(codes) <= {401, 503} and codes[503] > 0, codes
    busy = next(r for r in answers if r.status_code == 503)
    assert int(busy.headers["retry-after"]) >= 1 and busy.json()["code"] == "auth.busy"
    assert verifier.peak <= 2, verifier.peak
    assert verifier.calls == codes[401] + 2


async def test_trusted_proxies_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1, 172.16.0.0/12")
    assert settings.load().trusted_proxies == (
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("172.16.0.0/12"),
    )
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1, proxy.local")
    with pytest.raises(settings.SettingsError, match="TRUSTED_PROXIES"):
        settings.load()
    monkeypatch.delenv("TRUSTED_PROXIES")
    assert settings.load().trusted_proxies == ()


# --- CSRF ---------------------------------------------------------------------------------------


async def test_csrf_token_is_bound_to_the_session(app: Any, clean: None) -> None:
    victim, _ = await signed_in(app, "advisor")
    other, _ = await signed_in(app, "advisor")
    session = victim.cookies[auth.SESSION_COOKIE]
    async with contextlib.aclosing(victim), contextlib.aclosing(other), client(app) as stranger:
        await stranger.get("/api/health")
        minted = stranger.cookies["csrftoken"]  # a token the server hands anyone
        for token in (minted, other.cookies["csrftoken"]):
            async with client(app) as forged:
                forged.cookies.set(auth.SESSION_COOKIE, session)
                forged.cookies.set("csrftoken", token)
                r = await forged.post("/api/auth/logout", headers={"x-csrftoken": token})
                assert r.status_code == 403 and "csrf" in r.text.lower(), r.text
        assert (await victim.get("/api/auth/me")).status_code == 200, "nothing happened"
        # A tablet whose token is stale gets its session's own from any GET (web/js/api.js primes so).
        async with client(app) as same:
            same.cookies.set(auth.SESSION_COOKIE, session)
            same.cookies.set("csrftoken", minted)
            issued = (await same.get("/api/health")).headers.get_list("set-cookie")
            token = next(h for h in issued if h.startswith("csrftoken=")).split(";")[0].split("=", 1)[1]
            assert token != minted
            assert (await same.post("/api/auth/logout", headers={"x-csrftoken": token})).status_code == 204
        assert (await victim.get("/api/auth/me")).status_code == 401
