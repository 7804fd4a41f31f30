"""Staff in the app: a manager adds people (a PIN they set, or a one-time PIN the person replaces at
first sign-in), deactivates and reactivates them, resets a PIN, unlocks; a lockout names who can lift
it; nobody deactivates themself or the last active manager."""

from __future__ import annotations

import contextlib
import functools
import json
import re
from typing import Any

import pytest

from api import staff
from api.commands import execute
from api.tables import Event, IdempotencyRecord, Staff, StaffSession
from tests.factories import PIN, client, make_staff, signed_in


def _data(row: dict[str, Any]) -> dict[str, Any]:
    return row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])


async def _events(kind: str) -> list[dict[str, Any]]:
    return [_data(r) for r in await Event.select().where(Event.type == kind).order_by(Event.seq)]


@pytest.fixture
async def manager(app: Any, clean: None) -> Any:
    c, person = await signed_in(app, "manager", name="王敏 Wang Min")
    async with contextlib.aclosing(c):
        c.person = person  # type: ignore[attr-defined]
        yield c


async def _login(app: Any, username: str, pin: str) -> tuple[Any, Any]:
    c = client(app)
    r = await c.post("/api/auth/login", json={"username": username, "pin": pin})
    if "csrftoken" in c.cookies:
        c.headers["x-csrftoken"] = c.cookies["csrftoken"]
    return c, r


async def test_added_without_a_pin_they_choose_their_own_at_first_sign_in(app: Any, manager: Any) -> None:
    body = {"username": "liu.yang", "name": "刘洋 Liu Yang", "role": "technician"}
    headers = {"Idempotency-Key": "add-liu"}
    r = await manager.post("/api/staff", json=body, headers=headers)
    assert r.status_code == 201, r.text
    added = r.json()
    one_time = added["one_time_pin"]
    assert re.fullmatch(r"[0-9]{6}", one_time) and added["pin_pending"] is True
    # A replay adds nobody and never shows the PIN again; the PIN is stored nowhere in clear.
    again = await manager.post("/api/staff", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["one_time_pin"] is None
    assert again.json()["id"] == added["id"]
    assert await Staff.count().where(Staff.username == "liu.yang") == 1
    for record in await IdempotencyRecord.select(IdempotencyRecord.body):
        assert one_time not in record["body"]
    for event in await Event.select(Event.data):
        assert one_time not in json.dumps(_data(event))
    listed = {p["username"]: p for p in (await manager.get("/api/staff")).json()}
    assert listed["liu.yang"]["pin_pending"] is True

    tablet, r = await _login(app, "liu.yang", one_time)
    async with contextlib.aclosing(tablet):
        assert r.status_code == 200 and r.json()["must_choose_pin"] is True
        # The one-time session is good for nothing but choosing a PIN.
        assert (await tablet.get("/api/auth/me")).status_code == 401
        assert (await tablet.get("/api/me/jobs")).status_code == 401
        weak = await tablet.post("/api/auth/pin", json={"pin": "1234"})
        assert weak.status_code == 422 and weak.json()["code"] == "pin.weak"
        same = await tablet.post("/api/auth/pin", json={"pin": one_time})
        assert same.status_code == 422 and same.json()["code"] == "auth.pin_one_time"
        chosen = await tablet.post("/api/auth/pin", json={"pin": "7391"})
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["user"]["username"] == "liu.yang"
        # The same session now works like any other.
        assert (await tablet.get("/api/auth/me")).json()["user"]["username"] == "liu.yang"
        again = await tablet.post("/api/auth/pin", json={"pin": "7392"})
        assert again.status_code == 409 and again.json()["code"] == "auth.pin_chosen"
    assert [e["staff_id"] for e in await _events("staff.pin_chosen")] == [added["id"]]

    old, r = await _login(app, "liu.yang", one_time)
    await old.aclose()
    assert r.status_code == 401
    new, r = await _login(app, "liu.yang", "7391")
    await new.aclose()
    assert r.status_code == 200 and "must_choose_pin" not in r.json()


async def test_a_pin_chosen_only_with_a_one_time_session(app: Any, manager: Any) -> None:
    async with client(app) as anonymous:
        await anonymous.get("/api/health")
        anonymous.headers["x-csrftoken"] = anonymous.cookies["csrftoken"]
        assert (await anonymous.post("/api/auth/pin", json={"pin": "7391"})).status_code == 401
    r = await manager.post("/api/auth/pin", json={"pin": "7391"})
    assert r.status_code == 409 and r.json()["code"] == "auth.pin_chosen"


async def test_a_manager_may_set_the_pin_and_weak_ones_are_refused(app: Any, manager: Any) -> None:
    body = {"username": "zhao.lei", "name": "赵磊", "role": "customer_care"}
    r = await manager.post("/api/staff", json={**body, "pin": "1111"})
    assert r.status_code == 422 and r.json()["code"] == "pin.weak"
    r = await manager.post("/api/staff", json={**body, "pin": "12a4"})
    assert r.status_code == 422
    assert await Staff.count().where(Staff.username == "zhao.lei") == 0
    r = await manager.post("/api/staff", json={**body, "pin": "5820"})
    assert r.status_code == 201 and "one_time_pin" not in r.json() and r.json()["pin_pending"] is False
    c, r = await _login(app, "zhao.lei", "5820")
    async with contextlib.aclosing(c):
        assert r.status_code == 200 and r.json()["user"]["role"] == "customer_care"
        assert (await c.get("/api/auth/me")).json()["user"]["role"] == "customer_care"
    taken = await manager.post("/api/staff", json={**body, "pin": "5820"})
    assert taken.status_code == 409 and taken.json()["code"] == "staff.username_taken"


async def test_deactivating_ends_their_sessions_and_reactivating_lets_them_back(
    app: Any, manager: Any
) -> None:
    tech, person = await signed_in(app, "technician")
    async with contextlib.aclosing(tech):
        assert (await tech.get("/api/auth/me")).status_code == 200
        r = await manager.post(f"/api/staff/{person['id']}/deactivate")
        assert r.status_code == 200 and r.json()["active"] is False
        assert (await tech.get("/api/auth/me")).status_code == 401
    assert [e["staff_id"] for e in await _events("staff.deactivated")] == [person["id"]]
    (ended,) = await _events("staff.signed_out")
    assert ended["staff_id"] == person["id"]
    assert (
        await StaffSession.count()
        .where(StaffSession.staff == person["id"])
        .where(StaffSession.ended_at.is_null())
        == 0
    )
    # Twice is harmless (a second manager, or a replay with a new key).
    assert (await manager.post(f"/api/staff/{person['id']}/deactivate")).status_code == 200
    assert len(await _events("staff.deactivated")) == 1

    c, r = await _login(app, person["username"], PIN)
    await c.aclose()
    assert r.status_code == 401
    active = {p["id"] for p in (await manager.get("/api/staff")).json()}
    everyone = {p["id"]: p for p in (await manager.get("/api/staff?inactive=true")).json()}
    assert person["id"] not in active and everyone[person["id"]]["active"] is False

    r = await manager.post(f"/api/staff/{person['id']}/activate")
    assert r.status_code == 200 and r.json()["active"] is True
    c, r = await _login(app, person["username"], PIN)
    await c.aclose()
    assert r.status_code == 200
    assert len(await _events("staff.activated")) == 1


async def test_nobody_deactivates_themself_or_the_last_manager(app: Any, manager: Any) -> None:
    me = manager.person["id"]
    r = await manager.post(f"/api/staff/{me}/deactivate")
    assert r.status_code == 409 and r.json()["code"] == "staff.deactivate_self"
    # Through the API the one acting is a manager too; the rule still holds for any caller.
    with pytest.raises(Exception) as refused:
        await execute(functools.partial(staff.deactivate, me, 0), actor="test")
    assert getattr(refused.value, "extra", {}).get("code") == "staff.last_manager"
    other = await make_staff("manager")
    assert (await manager.post(f"/api/staff/{other['id']}/deactivate")).status_code == 200
    assert await Staff.count().where(Staff.role == "manager").where(Staff.active.eq(True)) == 1
    r = await manager.post("/api/staff/999999/deactivate")
    assert r.status_code == 404 and r.json()["code"] == "staff.not_found"


async def test_a_reset_pin_is_one_time_ends_sessions_and_lifts_the_lock(app: Any, manager: Any) -> None:
    tech, person = await signed_in(app, "technician")
    async with contextlib.aclosing(tech):
        r = await manager.post(f"/api/staff/{person['id']}/reset-pin", json={})
        assert r.status_code == 200, r.text
        one_time = r.json()["one_time_pin"]
        assert re.fullmatch(r"[0-9]{6}", one_time) and r.json()["pin_pending"] is True
        assert (await tech.get("/api/auth/me")).status_code == 401
    c, r = await _login(app, person["username"], PIN)
    await c.aclose()
    assert r.status_code == 401
    c, r = await _login(app, person["username"], one_time)
    async with contextlib.aclosing(c):
        assert r.json()["must_choose_pin"] is True
        assert (await c.post("/api/auth/pin", json={"pin": "6047"})).status_code == 200
    (reset,) = await _events("staff.pin_reset")
    assert reset == {**reset, "staff_id": person["id"], "pin_pending": True}

    # Set by the manager: no one-time PIN, signs in at once.
    r = await manager.post(f"/api/staff/{person['id']}/reset-pin", json={"pin": "3958"})
    assert r.status_code == 200 and "one_time_pin" not in r.json()
    c, r = await _login(app, person["username"], "3958")
    await c.aclose()
    assert r.status_code == 200 and "must_choose_pin" not in r.json()
    r = await manager.post(f"/api/staff/{manager.person['id']}/reset-pin", json={})
    assert r.status_code == 409 and r.json()["code"] == "staff.reset_self"


async def test_a_lockout_names_the_managers_who_can_lift_it(app: Any, manager: Any) -> None:
    await make_staff("manager", name="李娜 Li Na")
    victim = await make_staff("technician")
    async with client(app) as c:
        codes = []
        for guess in range(6):
            r = await c.post(
                "/api/auth/login", json={"username": victim["username"], "pin": f"{9100 + guess}"}
            )
            codes.append(r.status_code)
        assert codes[-1] == 429, codes
        body = r.json()
        assert body["code"] == "auth.locked"
        assert sorted(body["params"]["managers"]) == ["李娜", "王敏"]
        assert "王敏" in body["detail"]
        # An unknown name locks alike and answers alike: the answer tells nobody who exists.
        for guess in range(6):
            r = await c.post("/api/auth/login", json={"username": "nobody.here", "pin": f"{9200 + guess}"})
        assert r.status_code == 429 and sorted(r.json()["params"]["managers"]) == ["李娜", "王敏"]
    listed = {p["id"]: p for p in (await manager.get("/api/staff")).json()}
    assert listed[victim["id"]]["locked_until"] is not None
    assert (await manager.post(f"/api/staff/{victim['id']}/unlock")).status_code == 200
    c, r = await _login(app, victim["username"], PIN)
    await c.aclose()
    assert r.status_code == 200


async def test_foremen_see_the_team_and_change_nothing(app: Any, manager: Any) -> None:
    foreman, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(foreman):
        assert (await foreman.get("/api/staff?inactive=true")).status_code == 200
        me = manager.person["id"]
        for action in ("deactivate", "activate", "reset-pin", "unlock"):
            assert (await foreman.post(f"/api/staff/{me}/{action}", json={})).status_code == 403
        r = await foreman.post("/api/staff", json={"username": "x.y", "name": "X", "role": "advisor"})
        assert r.status_code == 403
