"""/admin (piccolo_admin): only a signed-in manager gets in; PIN hashes never leave; CSRF holds."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api import admin, auth, policy
from api.tables import Event, QcTemplate, QcTemplateItem, Shop, Staff
from tests.factories import client, make_staff, signed_in

HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture
async def manager(app: Any, clean: None) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    c, person = await signed_in(app, "manager")
    yield c, person
    await c.aclose()


@pytest.fixture
async def templates(database: None) -> AsyncIterator[set[int]]:
    """The QC templates there before the test (the seeded default); the ones a test adds are removed."""
    before = {row["id"] for row in await QcTemplate.select(QcTemplate.id)}
    yield before
    await QcTemplateItem.delete().where(QcTemplateItem.template.not_in(list(before) or [0]))
    await QcTemplate.delete().where(QcTemplate.id.not_in(list(before) or [0]))


async def test_anonymous_is_sent_to_sign_in_or_refused(app: Any, clean: None) -> None:
    await make_staff("manager")
    async with client(app) as c:
        r = await c.get("/admin/", headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == "/"
        for method, path in [
            ("GET", "/admin/api/tables/"),
            ("GET", "/admin/api/tables/staff/"),
            ("GET", "/admin/api/user/"),
            ("GET", "/admin/public/meta/"),
            ("POST", "/admin/public/login/"),
            ("POST", "/admin/api/tables/qc_template/"),
        ]:
            r = await c.request(method, path, json={} if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.status_code)
            assert "pin_hash" not in r.text


async def test_an_ended_session_no_longer_opens_the_admin(app: Any, manager: Any) -> None:
    c, _ = manager
    assert (await c.get("/admin/api/tables/staff/")).status_code == 200
    assert (await c.post("/api/auth/logout")).status_code == 204
    assert (await c.get("/admin/api/tables/staff/")).status_code == 401


async def test_other_roles_get_403(app: Any, clean: None) -> None:
    for role in ("advisor", "technician", "foreman"):
        c, _ = await signed_in(app, role)
        async with contextlib.aclosing(c):
            r = await c.get("/admin/api/tables/staff/")
            assert r.status_code == 403 and role in r.json()["detail"]
            r = await c.patch("/admin/api/tables/staff/1/", json={"role": "manager"})
            assert r.status_code == 403
            r = await c.get("/admin/", headers=HTML)
            assert r.status_code == 403 and "text/html" in r.headers["content-type"]
            assert "ask a manager" in r.text


async def test_manager_lists_staff_and_never_sees_a_pin_hash(app: Any, manager: Any) -> None:
    c, me = manager
    tech = await make_staff("technician")
    r = await c.get("/admin/api/user/")
    assert r.status_code == 200 and r.json()["username"] == me["name"]
    r = await c.get("/admin/api/tables/staff/")
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert {row["username"] for row in rows} == {me["username"], tech["username"]}
    assert all(set(row) == {"id", "username", "name", "role", "active", "created_at"} for row in rows)
    for path in [
        "/admin/api/tables/staff/",
        f"/admin/api/tables/staff/{tech['id']}/",
        "/admin/api/tables/staff/schema/",
        "/admin/api/tables/staff/new/",
        "/admin/api/tables/",
        "/admin/api/openapi.json",
    ]:
        r = await c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert "pin_hash" not in r.text and "argon2" not in r.text, path
    r = await c.get("/admin/api/tables/staff/", params={"__visible_fields": "id,pin_hash"})
    assert r.status_code == 400 and "argon2" not in r.text


async def test_pin_hash_cannot_be_written(app: Any, manager: Any) -> None:
    c, _ = manager
    tech = await make_staff("technician")
    before = (await Staff.select(Staff.pin_hash).where(Staff.id == tech["id"]).first())["pin_hash"]
    r = await c.patch(f"/admin/api/tables/staff/{tech['id']}/", json={"pin_hash": "x"})
    assert r.status_code == 400
    after = (await Staff.select(Staff.pin_hash).where(Staff.id == tech["id"]).first())["pin_hash"]
    assert after == before and after.startswith("$argon2id$")


async def test_manager_edits_staff_with_the_apis_rules(app: Any, manager: Any) -> None:
    c, me = manager
    tech = await make_staff("technician")
    url = f"/admin/api/tables/staff/{tech['id']}/"
    r = await c.patch(url, json={"name": "  Li Wei ", "username": " liwei ", "role": "foreman"})
    assert r.status_code == 200, r.text
    row = await Staff.select().where(Staff.id == tech["id"]).first()
    assert (row["name"], row["username"], row["role"]) == ("Li Wei", "liwei", "foreman")
    assert (await c.patch(url, json={"role": "boss"})).status_code == 422
    assert (await c.patch(url, json={"username": "no spaces"})).status_code == 422
    assert (await c.patch(url, json={"name": ""})).status_code == 422
    # Created-at is a record: ignored.
    assert (await c.patch(url, json={"created_at": "2001-01-01T00:00:00+00:00"})).status_code == 200
    assert (await Staff.select(Staff.created_at).where(Staff.id == tech["id"]).first())[
        "created_at"
    ].year != 2001
    # Not added (no PIN) nor deleted (their work points at them) here.
    body = {"username": "newbie", "name": "N", "role": "advisor", "active": True}
    assert (await c.post("/admin/api/tables/staff/", json=body)).status_code == 405
    assert (await c.delete(url)).status_code == 405
    assert (await c.delete("/admin/api/tables/staff/")).status_code == 405
    assert (await c.put(url, json={**body, "created_at": "2024-01-01T00:00:00+00:00"})).status_code == 405
    assert await Staff.count() == 2


async def test_deactivating_someone_signs_them_out_and_the_last_manager_stays(app: Any, manager: Any) -> None:
    c, me = manager
    tech_client, tech = await signed_in(app, "technician")
    async with contextlib.aclosing(tech_client):
        r = await c.patch(f"/admin/api/tables/staff/{tech['id']}/", json={"active": False})
        assert r.status_code == 200, r.text
        assert (await tech_client.get("/api/auth/me")).status_code == 401
    mine = f"/admin/api/tables/staff/{me['id']}/"
    for change in ({"active": False}, {"role": "advisor"}):
        r = await c.patch(mine, json=change)
        assert r.status_code == 409 and "last active manager" in r.text
    other = await make_staff("manager")
    assert (await c.patch(mine, json={"role": "advisor"})).status_code == 200
    assert (await c.get("/admin/api/tables/staff/")).status_code == 403  # no longer a manager
    assert other["role"] == "manager"


async def test_manager_edits_qc_templates(app: Any, manager: Any, templates: set[int]) -> None:
    c, _ = manager
    # As the admin's form does: start from the defaults of /new/, fill in, post.
    new = (await c.get("/admin/api/tables/qc_template/new/")).json()
    r = await c.post(
        "/admin/api/tables/qc_template/", json={**new, "name": "Delivery check", "is_default": True}
    )
    assert r.status_code == 201, r.text
    template_id = r.json()[0]["id"]
    new = (await c.get("/admin/api/tables/qc_template_item/new/")).json()
    for position, (en, zh) in enumerate([("Lights", "灯光"), ("Tyre pressure", "胎压")]):
        body = {**new, "template": template_id, "position": position, "name_en": en, "name_zh": zh}
        r = await c.post("/admin/api/tables/qc_template_item/", json=body)
        assert r.status_code == 201, r.text
    r = await c.get("/admin/api/tables/qc_template/")
    assert [row["name"] for row in r.json()["rows"] if row["id"] not in templates] == ["Delivery check"]
    schema = (await c.get("/admin/api/tables/qc_template_item/schema/")).json()
    assert schema["extra"]["order_by"] == [
        {"column": "template", "ascending": True},
        {"column": "position", "ascending": True},
    ]
    params = {"template": template_id, "__order": "template,position"}  # what the list view asks
    r = await c.get("/admin/api/tables/qc_template_item/", params=params)
    assert [(row["position"], row["name_zh"]) for row in r.json()["rows"]] == [(0, "灯光"), (1, "胎压")]
    item = r.json()["rows"][1]["id"]
    r = await c.patch(f"/admin/api/tables/qc_template_item/{item}/", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await c.get("/admin/api/tables/grouped/")).json()["grouped"] == {
        "People": ["staff"],
        "Shop": ["shop"],
        "QC checklists": ["qc_template", "qc_template_item"],
    }


async def test_writes_need_the_csrf_token(app: Any, manager: Any, templates: set[int]) -> None:
    c, _ = manager
    for headers in ({"x-csrftoken": ""}, {"x-csrftoken": "0" * 64}):
        r = await c.post("/admin/api/tables/qc_template/", json={"name": "X"}, headers=headers)
        assert r.status_code == 403
    no_header = client(app)
    no_header.cookies = c.cookies
    async with no_header:
        r = await no_header.post("/admin/api/tables/qc_template/", json={"name": "X"})
        assert r.status_code == 403
    assert await QcTemplate.count() == len(templates)
    # A browser without the csrftoken cookie gets Bayline's (signed) one only, never a second one
    # of the same name from the admin: the PWA and the admin share it.
    fresh = client(app)
    fresh.cookies.set(auth.SESSION_COOKIE, c.cookies[auth.SESSION_COOKIE])
    async with fresh:
        r = await fresh.get("/admin/", headers=HTML)
        assert r.status_code == 200
        issued = [h for h in r.headers.get_list("set-cookie") if h.startswith("csrftoken=")]
        assert len(issued) == 1 and "SameSite=strict" in issued[0]
        fresh.headers["x-csrftoken"] = fresh.cookies["csrftoken"]
        new = (await fresh.get("/admin/api/tables/qc_template/new/")).json()
        r = await fresh.post("/admin/api/tables/qc_template/", json={**new, "name": "Y"})
        assert r.status_code == 201, r.text


async def test_the_admins_page_and_headers(app: Any, manager: Any) -> None:
    c, _ = manager
    r = await c.get("/admin", headers=HTML)
    assert r.status_code == 308 and r.headers["location"] == "/admin/"
    r = await c.get("/admin/", headers=HTML)
    assert r.status_code == 200 and '<div id="app">' in r.text
    assert r.headers["content-security-policy"] == admin.ADMIN_CSP
    assert "script-src 'self';" in admin.ADMIN_CSP
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    script = r.text.split('src="./', 1)[1].split('"', 1)[0]
    r = await c.get(f"/admin/{script}")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    r = await c.get("/admin/api/tables")  # the admin's own trailing-slash redirect keeps /admin
    assert r.status_code == 307 and r.headers["location"].endswith("/admin/api/tables/")
    # The rest of the app keeps its strict policy.
    assert "unsafe-inline" not in (await c.get("/")).headers["content-security-policy"]


async def test_piccolo_sign_in_is_not_there_and_logout_is_baylines(app: Any, manager: Any) -> None:
    c, _ = manager
    for path, body in [
        ("/admin/public/login/", {"username": "x", "password": "y"}),
        ("/admin/api/change-password/", {"current_password": "a", "new_password": "b"}),
    ]:
        r = await c.post(path, json=body)
        assert r.status_code == 403, (path, r.status_code)
    r = await c.post("/admin/public/logout/")
    assert r.status_code == 307 and r.headers["location"] == "/api/auth/logout"
    assert (await c.post(r.headers["location"])).status_code == 204
    assert (await c.get("/admin/", headers=HTML)).status_code == 303


async def test_a_broken_admin_is_switched_off_not_the_app(
    app: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _ = manager
    monkeypatch.setattr(admin, "ADMIN", None)
    assert (await c.get("/admin/api/tables/staff/")).status_code == 503
    assert (await c.get("/api/auth/me")).status_code == 200


def test_the_staff_view_is_staff_without_the_pin_hash() -> None:
    own = {c._meta.name: c for c in Staff._meta.columns}
    for column in admin.StaffAdmin._meta.columns:
        twin = own[column._meta.name]
        assert type(column) is type(twin), column._meta.name
        assert getattr(column, "length", None) == getattr(twin, "length", None), column._meta.name
    assert "pin_hash" not in {c._meta.name for c in admin.StaffAdmin._meta.columns}
    assert admin.StaffAdmin._meta.tablename == Staff._meta.tablename
    assert {r.value for r in admin.Role} == set(policy.ROLES)


async def shop_events() -> list[dict[str, Any]]:
    rows = await Event.select().where(Event.type == "shop.updated").order_by(Event.seq)
    return [{**json.loads(r["data"]), "actor": r["actor"]} for r in rows]


async def test_shop_changes_in_admin_are_commands_that_reach_the_screens(app: Any, manager: Any) -> None:
    """Issue 11 item 6: an hours change in /admin is announced (shop.updated, with the shop as the
    screens read it) so open tablets follow; the time zone stays as set up."""
    c, me = manager
    new = (await c.get("/admin/api/tables/shop/new/")).json()
    body = {**new, "name": "Shunda", "timezone": "Asia/Shanghai", "language": "zh-CN"}
    assert (await c.post("/admin/api/tables/shop/", json=body)).status_code == 201
    (added,) = await shop_events()
    assert added["shop"]["hours"] == {"opens": "08:30", "closes": "18:00", "days": [1, 2, 3, 4, 5, 6, 7]}
    assert added["staff_ids"] == [me["id"]] and added["actor"] == f"staff:{me['id']}"
    (row,) = (await c.get("/admin/api/tables/shop/")).json()["rows"]
    url = f"/admin/api/tables/shop/{row['id']}/"

    # The admin's form sends every field: the unchanged zone (and creation time) with the new hours.
    r = await c.patch(url, json={**row, "closes": "17:00", "open_days": "12345"})
    assert r.status_code == 200 and r.json()["closes"] == "17:00", r.text
    changed = (await shop_events())[-1]
    assert changed["shop"] == (await c.get("/api/shop")).json()
    assert changed["shop"]["hours"] == {"opens": "08:30", "closes": "17:00", "days": [1, 2, 3, 4, 5]}

    # Another zone would renumber the day's orders and re-cut the day reports: refused, nothing saved.
    for zone in ("Europe/Berlin", "Mars/Olympus"):
        r = await c.patch(url, json={"timezone": zone, "name": "Renamed"})
        assert r.status_code == 422 and r.json()["code"] == "shop.timezone_fixed", r.text
    shown = (await c.get("/api/shop")).json()
    assert (shown["timezone"], shown["name"]) == ("Asia/Shanghai", "Shunda")
    # Saving without a change announces nothing; a change of name is announced like the hours.
    assert (await c.patch(url, json={"closes": "17:00"})).status_code == 200
    assert len(await shop_events()) == 2
    assert (await c.patch(url, json={"created_at": "2001-01-01T00:00:00+00:00"})).status_code == 200
    assert (await c.patch(url, json={"name": " Shunda Motors "})).status_code == 200
    assert [e["shop"]["name"] for e in await shop_events()] == ["Shunda", "Shunda", "Shunda Motors"]
    assert (await Shop.select(Shop.created_at).first())["created_at"].year != 2001
