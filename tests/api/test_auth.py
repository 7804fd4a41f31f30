"""Staff sign-in: PINs, lockout, sessions (fixation), CSRF, logout."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api import auth, db, messages, policy, settings
from api.commands import now
from api.tables import Event, LoginThrottle, StaffSession
from tests.api.test_photos_api import new_ro, upload
from tests.factories import PIN, client, client_at, make_staff, signed_in
from tests.test_photos import upright_reference, with_gps_and_orientation


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
    """The real PIN check, counting how often it ran and how many ran at once (threads).

    A test can hold every check until it says so: clear `release`, then set it.
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, pin_hash: str, pin: str) -> bool:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            assert self.release.wait(timeout=60), "a held PIN check was never released"
            return bool(self.real(pin_hash, pin))
        finally:
            with self.lock:
                self.running -= 1


async def until(condition: Any, timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (checked between other tasks' steps), failing after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)


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
    # A client that sends no cookie has no device to count: its address and the names it tried.
    assert await LoginThrottle.count() <= auth.ADDRESS_FREE_FAILURES + 1
    assert await LoginThrottle.count().where(LoginThrottle.key.like("device:%")) == 0
    async with client_at(app, "198.51.100.4") as elsewhere:
        assert (await elsewhere.post(LOGIN, json={"username": "ghost", "pin": "9731"})).status_code == 401


async def test_a_cookieless_flood_leaves_few_rows_and_a_locked_address_writes_nothing(
    app: Any, clean: None, verifier: Verifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = []
    for _ in range(60):
        async with client(app) as c:  # a fresh cookie jar each time: no device cookie is ever sent back
            codes.append((await c.post(LOGIN, json={"username": "ghost", "pin": "9731"})).status_code)
    assert codes[: auth.USER_FREE_FAILURES] == [401] * auth.USER_FREE_FAILURES, codes
    assert set(codes[auth.USER_FREE_FAILURES :]) == {429}, codes
    assert verifier.calls == auth.USER_FREE_FAILURES
    rows = {r["key"] for r in await LoginThrottle.select(LoginThrottle.key)}
    assert len(rows) <= 3, rows  # the address and the name it tried, not one row per attempt

    # The address is locked now: what it sends next is refused before any write (no write lock taken,
    # so a flood does not hold up clock taps), whatever name it tries.
    before = sorted(tuple(r.values()) for r in await LoginThrottle.select())
    transactions = 0
    real = db.write_transaction

    def counting(engine: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return real(engine)

    monkeypatch.setattr(db, "write_transaction", counting)
    for i in range(10):
        async with client(app) as c:
            r = await c.post(LOGIN, json={"username": f"other{i}", "pin": "9731"})
            assert r.status_code == 429 and r.json()["code"] == "auth.locked", r.text
    assert transactions == 0
    assert sorted(tuple(r.values()) for r in await LoginThrottle.select()) == before
    assert verifier.calls == auth.USER_FREE_FAILURES


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
    # A dual-stack server sees an IPv4 proxy as ::ffff:10.0.0.2: the same proxy.
    assert client_address(scope("::ffff:10.0.0.2", "203.0.113.5")) == "203.0.113.5"
    assert client_address(scope("::ffff:10.0.0.2", "203.0.113.5, ::ffff:10.0.0.9")) == "203.0.113.5"
    assert client_address(scope("::ffff:198.51.100.1", "203.0.113.5")) == "198.51.100.1"
    # One IPv6 subscriber holds a whole /64: counted as one address.
    a = client_address(scope("fd00::1", "2001:db8:1:2:aaaa::1"))
    b = client_address(scope("2001:db8:1:2:bbbb::7"))
    assert a == b != client_address(scope("2001:db8:1:3::1"))


async def test_the_server_leaves_the_forwarded_address_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """X-Forwarded-For is walked in one place (api/clientaddr.py). Were uvicorn's proxy_headers on too,
    it would rewrite the peer by rules of its own first, and the app would walk the header again."""
    import argparse

    import uvicorn

    from api import __main__ as cli
    from api.clientaddr import client_address

    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    monkeypatch.setattr(settings, "_settings", dataclasses.replace(settings.get(), trusted_proxies=proxies))
    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(kw))
    cli.serve(argparse.Namespace(no_migrate=True, port=None, host="127.0.0.1", workers=1))

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(client_address(scope))

    options = {k: v for k, v in started.items() if k not in ("factory", "log_level")}
    config = uvicorn.Config(app, log_config=None, **options)  # the server as serve() configures it
    config.load()
    for forwarded, expected in (("nonsense, 10.0.0.5", "10.0.0.5"), ("203.0.113.5, 10.0.0.5", "203.0.113.5")):
        scope = {
            "type": "http",
            "client": ("10.0.0.2", 1234),
            "headers": [(b"x-forwarded-for", forwarded.encode())],
        }
        seen.clear()
        await config.loaded_app(scope, None, None)
        assert seen == [expected], (forwarded, seen)


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


async def test_old_throttle_rows_are_pruned_now_and_then(
    app: Any, clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def plant() -> None:
        at = now()
        for key, age in (
            ("device:long-gone", timedelta(hours=25)),
            ("device:yesterday", timedelta(hours=20)),
        ):
            await LoginThrottle.delete().where(LoginThrottle.key == key)
            await LoginThrottle(key=key, failures=3, locked_until=None, updated_at=at - age).save()

    async def keys_after_an_attempt(address: str) -> set[str]:
        async with client_at(app, address) as c:
            assert (await c.post(LOGIN, json={"username": "someone", "pin": "9731"})).status_code == 401
        return {r["key"] for r in await LoginThrottle.select(LoginThrottle.key)}

    monkeypatch.setattr(auth, "pruning", auth.Pruning(auth.PRUNE_EVERY))  # as in a process just started
    await plant()
    keys = await keys_after_an_attempt("198.51.100.7")
    assert "device:long-gone" not in keys and "device:yesterday" in keys
    # Not on every attempt: a flood would run that DELETE under the write lock each time.
    await plant()
    for i in range(3):
        assert "device:long-gone" in await keys_after_an_attempt(f"198.51.100.{10 + i}")
    # A while later, the next attempt prunes again.
    auth.pruning.last = time.monotonic() - auth.PRUNE_EVERY.total_seconds()
    assert "device:long-gone" not in await keys_after_an_attempt("198.51.100.20")


async def test_a_flood_of_sign_ins_keeps_pin_checks_bounded(
    app: Any, clean: None, verifier: Verifier
) -> None:
    person = await make_staff("technician")
    right = {"username": person["username"], "pin": PIN}
    gate = auth.verify_gate
    full = gate.slots + gate.queue  # checks running plus checks waiting
    async with client_at(app, "192.168.1.30") as tablet:
        assert (await tablet.post(LOGIN, json=right)).status_code == 200  # a tablet the shop knows
        tablet.headers["x-csrftoken"] = tablet.cookies["csrftoken"]

        async def stranger(i: int) -> httpx.Response:
            async with client_at(app, f"10.{i // 200}.{i % 200}.9") as c:
                return await c.post(LOGIN, json={"username": f"ghost{i}", "pin": "9731"})

        verifier.release.clear()  # every PIN check now waits until released
        try:
            waiting = [asyncio.create_task(stranger(i)) for i in range(full)]
            await until(lambda: gate.pending == full)
            # The gate is full: more strangers are turned away at once, without waiting for a check.
            turned_away = await asyncio.wait_for(
                asyncio.gather(*(stranger(full + i) for i in range(20))), timeout=30
            )
            # The shop's tablet is never turned away: it queues for its turn.
            mine = asyncio.create_task(tablet.post(LOGIN, json=right))
            await until(lambda: gate.pending == full + 1)
        finally:
            verifier.release.set()
        answers = await asyncio.wait_for(asyncio.gather(*waiting), timeout=60)
        assert (await asyncio.wait_for(mine, timeout=60)).status_code == 200
    assert [r.status_code for r in answers] == [401] * full
    assert [r.status_code for r in turned_away] == [503] * 20
    busy = turned_away[0]
    assert int(busy.headers["retry-after"]) >= 1 and busy.json()["code"] == "auth.busy"
    assert verifier.peak == auth.VERIFY_SLOTS, verifier.peak
    assert verifier.calls == 1 + full + 1  # the first sign-in, the strangers let in, the tablet


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


# --- sessions and refusals ----------------------------------------------------------------------


async def test_a_session_is_usable_by_one_rule_for_requests_and_live_feeds(app: Any, clean: None) -> None:
    """A request (load_session) and a live feed (live_sessions) agree on which sessions still count."""
    from api.tables import Staff

    idle = timedelta(minutes=settings.get().session_idle_minutes)
    active = await make_staff("advisor")
    leaver = await make_staff("advisor")
    await Staff.update({Staff.active: False}).where(Staff.id == leaver["id"])
    at = now()
    cases = {  # token → (person, last seen, ended, usable)
        "fresh-session-token": (active, at, None, True),
        "nearly-idle-session": (active, at - idle + timedelta(minutes=2), None, True),
        "idle-session-token-": (active, at - idle - timedelta(minutes=1), None, False),
        "ended-session-token": (active, at, at, False),
        "deactivated-persons": (leaver, at, None, False),
    }
    ids: dict[str, int] = {}
    for token, (person, seen, ended, _) in cases.items():
        row = StaffSession(
            token_hash=auth.token_hash(token),
            staff=person["id"],
            device_id="tablet-0001",
            created_at=seen,
            last_seen_at=seen,
            ended_at=ended,
        )
        await row.save()
        ids[token] = int(row.id)
    live = await auth.live_sessions(ids.values())
    for token, (*_, usable) in cases.items():
        assert (ids[token] in live) is usable, token
        assert (await auth.load_session(token) is not None) is usable, token


async def test_a_refusal_by_role_says_what_and_who_in_both_languages(app: Any, clean: None) -> None:
    advisor, _ = await signed_in(app, "advisor")
    technician, _ = await signed_in(app, "technician")
    async with contextlib.aclosing(advisor), contextlib.aclosing(technician):
        ro = await new_ro(advisor)
        r = await upload(technician, ro["id"], with_gps_and_orientation(upright_reference(), 1), panel="m1")
        assert r.status_code == 403, r.text
        body = r.json()
        assert body["code"] == "auth.not_allowed"
        assert body["params"] == {"operation": "walkaround.edit", "role": "technician"}
        zh = messages.text(body["code"], body["params"], "zh-CN")
        en = messages.text(body["code"], body["params"], "en")
        assert zh is not None and "维修技师" in zh and "环车检查" in zh, zh
        assert en is not None and "Technician" in en and "walk-around" in en, en
        # A route's guard refuses the same way.
        r = await technician.get("/api/staff")
        assert r.status_code == 403 and r.json()["code"] == "auth.not_allowed"
        assert r.json()["params"]["operation"] == "staff.list"
    # Every operation of the policy table has its words, in both languages.
    for lang, texts in messages.dictionaries().items():
        missing = [op for op in policy.POLICY if not texts.get(f"error.operation.{op}", "").strip()]
        assert not missing, (lang, missing)


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


async def test_a_route_can_opt_out_of_the_csrf_check(app: Any, clean: None) -> None:
    """Litestar's `exclude_from_csrf` route option holds for a signed-in browser too."""
    from litestar import Litestar, post
    from litestar.config.csrf import CSRFConfig
    from litestar.middleware import DefineMiddleware

    from api.csrf import SessionCSRFMiddleware

    @post("/hook", exclude_from_csrf=True, status_code=200)
    async def hook() -> dict[str, bool]:
        return {"ok": True}

    @post("/guarded", status_code=200)
    async def guarded() -> dict[str, bool]:
        return {"ok": True}

    config = CSRFConfig(secret=settings.get().secret)
    small = Litestar(
        [hook, guarded],
        middleware=[auth.SessionMiddleware, DefineMiddleware(SessionCSRFMiddleware, config=config)],
    )
    signed, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(signed), client(small) as c:
        c.cookies.set(auth.SESSION_COOKIE, signed.cookies[auth.SESSION_COOKIE])
        assert (await c.post("/guarded")).status_code == 403
        assert (await c.post("/hook")).status_code == 200
