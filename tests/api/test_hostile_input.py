"""Hostile input: ids past 64 bits, deep JSON, NUL characters, absurd dates, JSON under another type.

Each answer is a specific 4xx carrying a `code`, nothing is stored, and no traceback or ERROR reaches
the log. The id test walks the app's own route table, so a new `{id}` route is covered the day it
is added. Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import logging
import typing
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from piccolo.engine import engine_finder
from PIL import Image

from api.schemas import Strict
from api.tables import Shop
from tests.conftest import TABLES_IN_DELETE_ORDER
from tests.factories import client, in_hours, ro_body, signed_in

HUGE = 2**64 + 7  # past every database integer (PostgreSQL BIGINT and SQLite INTEGER are 64-bit)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


@dataclass
class World:
    manager: httpx.AsyncClient
    floor: httpx.AsyncClient  # a foreman: clocks, findings, confirmations
    anonymous: httpx.AsyncClient
    ro: dict[str, Any]
    token: str
    foreman_id: int


@pytest.fixture
async def world(app: Litestar, clean: None) -> AsyncIterator[World]:
    manager, _ = await signed_in(app, "manager")
    floor, foreman = await signed_in(app, "foreman")
    async with contextlib.aclosing(manager), contextlib.aclosing(floor), client(app) as anonymous:
        r = await manager.post("/api/repair-orders", json=ro_body())
        assert r.status_code == 201, r.text
        ro = r.json()
        yield World(manager, floor, anonymous, ro, ro["status_url"].removeprefix("/s/"), foreman["id"])


async def stored() -> dict[str, int]:
    """Rows per table: a refused request leaves every count as it was."""
    engine = engine_finder()
    assert engine is not None
    counts = {}
    for table in TABLES_IN_DELETE_ORDER:
        rows = await engine.run_ddl(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - constant names
        counts[table] = int(rows[0]["n"])
    return counts


def no_trouble_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def refused(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A specific 4xx with a JSON body naming a code and saying what is wrong."""
    assert r.status_code in statuses, (r.request.method, r.request.url.path, r.status_code, r.text[:300])
    body: dict[str, Any] = r.json()
    assert body.get("code") and body.get("detail"), body
    return body


def _request_kwargs(w: World, body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if "files" in body:
        return {"files": body["files"], "data": body["data"]}
    return {"json": body}


def bodies(w: World) -> dict[tuple[str, str], Any]:
    """A body each route with a request body would accept, so only the id can be what is wrong."""
    photo = {"files": {"file": ("p.png", png(), "image/png")}, "data": {"kind": "walkaround"}}
    return {
        ("POST", "/api/repair-orders/{ro_id:int}/jobs"): {"title": "Brake pads", "estimated_hours": 1},
        ("POST", "/api/repair-orders/{ro_id:int}/promise"): {"promised_at": in_hours(6), "reason": "parts"},
        ("PUT", "/api/repair-orders/{ro_id:int}/walkaround"): {"marks": []},
        ("POST", "/api/repair-orders/{ro_id:int}/walkaround/signature"): {
            "files": photo["files"],
            "data": {"signed_by": "张伟"},
        },
        ("POST", "/api/repair-orders/{ro_id:int}/photos"): photo,
        ("PUT", "/api/repair-orders/{ro_id:int}/settlement"): {"discount_fen": 0},
        ("PATCH", "/api/repair-orders/{ro_id:int}"): {"concerns": ["Noise from the front"]},
        ("POST", "/api/repair-orders/{ro_id:int}/handover"): {
            "mileage_out": 99999,
            "payment_method": "cash",
            "signed_by": "张伟",
            "signature": "data:image/png;base64," + base64.b64encode(png()).decode(),
        },
        ("POST", "/api/jobs/{job_id:int}/assign"): {"technician_id": w.foreman_id},
        ("POST", "/api/jobs/{job_id:int}/clock-on"): {},
        ("POST", "/api/jobs/{job_id:int}/clock-off"): {"reason": "done"},
        ("POST", "/api/jobs/{job_id:int}/qc"): {"items": [{"name": "Road test", "result": "pass"}]},
        ("POST", "/api/jobs/{job_id:int}/findings"): {"text": "Front pads at 2 mm"},
        ("POST", "/api/findings/{finding_id:int}/recommend"): {"title": "Front pads", "estimated_hours": 1},
        ("POST", "/api/jobs/{job_id:int}/parts"): {"name": "Pads", "quantity": 1, "unit_price_fen": 100},
        ("POST", "/api/parts/{part_id:int}"): {"state": "arrived"},
        ("POST", "/api/clock-entries/{entry_id:int}/correct"): {"reason": "forgot to stop"},
        ("POST", "/api/staff/{staff_id:int}/reset-pin"): {},
        ("POST", "/api/follow-ups/{follow_up_id:int}/calls"): {"reached": False},
    }


def id_routes(app: Litestar) -> list[tuple[str, str, list[str], bool]]:
    """(method, path, int parameters, takes a body) for every HTTP route with an integer in its path."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        ints = [name for name, p in route.path_parameters.items() if p.type is int]
        if not ints:
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                takes_body = "data" in handler.parsed_fn_signature.parameters
                found.append((method, route.path, ints, takes_body))
    return sorted(found)


@pytest.mark.parametrize("huge", [HUGE, 2**31], ids=["past-64-bits", "past-postgresql-integer"])
async def test_every_id_route_refuses_ids_past_64_bits(
    app: Litestar, world: World, caplog: pytest.LogCaptureFixture, huge: int
) -> None:
    w = world
    routes = id_routes(app)
    known = bodies(w)
    # The enumeration really sees the routes the issue named (and every other {id} route).
    paths = {path for _, path, _, _ in routes}
    assert "/s/{token:str}/photos/{photo_id:int}/thumb" in paths and len(routes) >= 20, routes
    before = await stored()
    for method, path, ints, takes_body in routes:
        assert not takes_body or (method, path) in known, f"give {method} {path} a valid body in bodies()"
        url = path.replace("{token:str}", w.token)
        for name in ints:
            url = url.replace(f"{{{name}:int}}", str(huge))
        # A manager may do most things; clocks, findings and confirmations are the floor's.
        r = await w.manager.request(method, url, **_request_kwargs(w, known.get((method, path))))
        if r.status_code == 403:
            r = await w.floor.request(method, url, **_request_kwargs(w, known.get((method, path))))
        body = refused(r, 400, 404)
        assert body["code"] == "request.id_out_of_range", (method, path, body)
        assert {e["field"] for e in body.get("errors", [])} & set(ints), (method, path, body)
    assert await stored() == before
    no_trouble_logged(caplog)


@pytest.mark.parametrize("huge", [HUGE, 2**31], ids=["past-64-bits", "past-postgresql-integer"])
async def test_ids_past_64_bits_in_bodies_and_forms(
    world: World, caplog: pytest.LogCaptureFixture, huge: int
) -> None:
    w = world
    job_id = w.ro["jobs"][0]["id"]
    before = await stored()
    approval = await w.anonymous.post(
        f"/api/status/{w.token}/approvals", json={"job_id": huge, "decision": "approve"}
    )
    assert refused(approval, 422)["code"] == "request.number_out_of_range"
    assign = await w.manager.post(f"/api/jobs/{job_id}/assign", json={"technician_id": huge})
    assert refused(assign, 422)["code"] == "request.number_out_of_range"
    photo = await w.manager.post(
        f"/api/repair-orders/{w.ro['id']}/photos",
        files={"file": ("p.png", png(), "image/png")},
        data={"kind": "walkaround", "job_id": str(huge)},
    )
    refused(photo, 400, 422)
    # The customer's no-JavaScript form: back to the page with its own notice, nothing decided.
    form = await w.anonymous.post(
        f"/s/{w.token}/approvals", data={"job_id": str(huge), "decision": "approve"}
    )
    assert form.status_code == 303 and "n=failed" in form.headers["location"]
    assert await stored() == before
    no_trouble_logged(caplog)


def test_every_request_body_is_a_checked_model(app: Litestar) -> None:
    """The NUL / number / date guard lives in the Strict base: a body model that skipped it, or a new
    multipart form not run through inputs.check_form, fails here before it ships."""
    checked_forms = {"PhotoForm", "SignatureForm"}  # both call inputs.check_form (tested below)
    seen = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            field = handler.parsed_fn_signature.parameters.get("data")
            if field is None:
                continue
            for kind in typing.get_args(field.annotation) or (field.annotation,):
                if kind is type(None):
                    continue
                seen.append(kind.__name__)
                if dataclasses.is_dataclass(kind):
                    assert kind.__name__ in checked_forms, (
                        f"{route.path}: check {kind.__name__} with check_form"
                    )
                else:
                    assert issubclass(kind, Strict), f"{route.path}: {kind.__name__} must derive from Strict"
    assert {"LoginIn", "ClockOnIn", "PhotoForm", "ApprovalIn"} <= set(seen), seen


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_json_is_refused_before_parsing(
    app: Litestar, clean: None, depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    before = await stored()
    async with client(app) as c:
        for content in (
            '{"username": ' + nested(depth) + ', "pin": "4826"}',
            '{"username": "a", "pin": "4826", "x": ' + '{"a": ' * depth + "1" + "}" * depth + "}",
        ):
            r = await c.post("/api/auth/login", content=content, headers={"content-type": "application/json"})
            assert refused(r, 400)["code"] == "request.json_too_deep"
    assert await stored() == before
    no_trouble_logged(caplog)


NUL = "a\x00b"


async def test_nul_characters_are_refused_in_every_string(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL cannot store NUL in text (SQLite would, silently): refused on both, by field."""
    w = world
    job_id = w.ro["jobs"][0]["id"]
    ro_id = w.ro["id"]
    before = await stored()
    attempts: list[tuple[httpx.AsyncClient, str, str, Any]] = [
        (w.anonymous, "POST", "/api/auth/login", {"username": NUL, "pin": "4826"}),
        (
            w.manager,
            "POST",
            "/api/staff",
            {"username": "li.na", "name": NUL, "role": "advisor", "pin": "4826"},
        ),
        (w.manager, "POST", "/api/repair-orders", ro_body(customer={"name": NUL, "phone": "13800138000"})),
        (w.manager, "POST", "/api/repair-orders", ro_body(concerns=["ok", NUL])),
        (
            w.manager,
            "POST",
            f"/api/repair-orders/{ro_id}/promise",
            {"promised_at": in_hours(6), "reason": NUL},
        ),
        (w.manager, "POST", f"/api/repair-orders/{ro_id}/jobs", {"title": NUL, "estimated_hours": 1}),
        (
            w.manager,
            "PUT",
            f"/api/repair-orders/{ro_id}/walkaround",
            {"marks": [{"id": "m1", "view": "left", "x": 0.5, "y": 0.5, "type": "dent", "note": NUL}]},
        ),
        (w.floor, "POST", f"/api/jobs/{job_id}/clock-off", {"reason": NUL}),
        (w.floor, "POST", f"/api/jobs/{job_id}/findings", {"text": NUL}),
        (
            w.manager,
            "POST",
            f"/api/jobs/{job_id}/qc",
            {"items": [{"name": "x", "result": "fail", "note": NUL}]},
        ),
        (w.anonymous, "POST", f"/api/status/{w.token}/survey", {"score": 9, "comment": NUL}),
        (
            w.manager,
            "POST",
            "/api/setup",
            {
                "shop_name": NUL,
                "timezone": "Asia/Shanghai",
                "manager": {"username": "boss", "name": "B", "pin": "4826"},
            },
        ),
    ]
    for who, method, url, body in attempts:
        r = await who.request(method, url, json=body)
        assert refused(r, 422)["code"] == "request.nul_character", (url, r.text)
    for fields in ({"kind": "walkaround", "note": NUL}, {"kind": "walkaround", "panel": NUL}):
        r = await w.manager.post(
            f"/api/repair-orders/{ro_id}/photos", files={"file": ("p.png", png(), "image/png")}, data=fields
        )
        assert refused(r, 422)["code"] == "request.nul_character", r.text
    r = await w.manager.post(
        f"/api/repair-orders/{ro_id}/walkaround/signature",
        files={"file": ("s.png", png(), "image/png")},
        data={"signed_by": NUL},
    )
    assert refused(r, 422)["code"] == "request.nul_character", r.text
    form = await w.anonymous.post(f"/s/{w.token}/survey", data={"score": "9", "comment": NUL})
    assert form.status_code == 303 and "n=invalid" in form.headers["location"]
    assert await stored() == before
    no_trouble_logged(caplog)


FAR_FUTURE = "9999-12-31T23:59:59-14:00"
LONG_AGO = "0001-01-01T00:00:00+14:00"


async def test_dates_out_of_any_sane_range_are_refused(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    job_id = w.ro["jobs"][0]["id"]
    r = await w.manager.post(f"/api/jobs/{job_id}/assign", json={"technician_id": w.foreman_id})
    assert r.status_code == 200, r.text
    before = await stored()
    for at in (FAR_FUTURE, LONG_AGO, "2026-11-22T09:30:00"):  # the last has no UTC offset
        for url, body in (
            (f"/api/jobs/{job_id}/clock-on", {"device_time": at}),
            (f"/api/jobs/{job_id}/clock-on", {"device_sent_at": at}),
            (f"/api/jobs/{job_id}/clock-off", {"reason": "done", "device_time": at}),
            ("/api/attendance/clock-in", {"device_time": at}),
            ("/api/attendance/clock-out", {"device_time": at}),
        ):
            r = await w.floor.post(url, json=body)
            code = "request.naive_time" if at[-6] not in "+-" else "request.date_out_of_range"
            assert refused(r, 422)["code"] == code, (url, at, r.text)
        promise = await w.manager.post(
            f"/api/repair-orders/{w.ro['id']}/promise", json={"promised_at": at, "reason": "parts"}
        )
        refused(promise, 422)
        outbox = {"Device-Id": "tablet-7", "Device-Time": at}  # the outbox's stamp of a queued tap
        r = await w.floor.post(f"/api/jobs/{job_id}/clock-on", json={}, headers=outbox)
        refused(r, 400)
    # A correction to year 1 (the entry need not exist: the time is refused before it is looked up).
    r = await w.manager.post(
        "/api/clock-entries/1/correct", json={"started_at": "0001-01-01T00:00:00Z", "reason": "typo"}
    )
    assert refused(r, 422)["code"] == "request.date_out_of_range"
    for day in ("0001-01-01", "9999-12-31"):
        r = await w.manager.get("/api/attendance/day", params={"day": day})
        assert refused(r, 400)["code"] == "request.date_out_of_range", r.text
    assert await stored() == before
    no_trouble_logged(caplog)


async def test_json_routes_refuse_other_content_types(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A JSON body under text/plain is what a cross-site form can send without a preflight: 415."""
    w = world
    before = await stored()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": content_type} if content_type else {}
        r = await w.manager.post(
            "/api/repair-orders", content=httpx.Request("POST", "/", json=ro_body()).content, headers=headers
        )
        assert refused(r, 415)["code"] == "request.json_required", (content_type, r.text)
        r = await w.anonymous.post(
            "/api/auth/login", content=b'{"username": "x", "pin": "4826"}', headers=headers
        )
        assert refused(r, 415)["code"] == "request.json_required", (content_type, r.text)
    assert await stored() == before
    # JSON with a charset, or a vendor +json type, is still JSON; a body-less POST needs no type.
    r = await w.manager.post(
        f"/api/repair-orders/{w.ro['id']}/jobs",
        content=b'{"title": "Wipers", "estimated_hours": 0.2}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201, r.text
    r = await w.floor.post(f"/api/jobs/{w.ro['jobs'][0]['id']}/clock-on")
    assert r.status_code not in (415, 500), r.text
    # The status page's no-JavaScript forms post form data to their own routes, as before.
    form = await w.anonymous.post(f"/s/{w.token}/survey", data={"score": "9", "comment": "好"})
    assert form.status_code == 303 and "n=" in form.headers["location"]
    no_trouble_logged(caplog)


ADMIN = "/admin/api/tables"
ADMIN_TABLES = ("staff", "shop", "qc_template", "qc_template_item")
INT32 = 2**31  # one past PostgreSQL INTEGER (Serial ids, foreign keys, Integer columns)


async def admin_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables /admin writes: a refused write leaves each as it was."""
    engine = engine_finder()
    assert engine is not None
    return {
        table: await engine.run_ddl(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 - constant names
        for table in ADMIN_TABLES
    }


async def test_admin_writes_refuse_hostile_values(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """/admin is piccolo_admin's CRUD, outside the API's request models: each table's writes get the
    same guards (NUL, numbers past the column, absurd dates, ids past 64 bits) as a specific 4xx."""
    w = world
    new_shop = {
        **(await w.manager.get(f"{ADMIN}/shop/new/")).json(),
        "name": "Shunda",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
    }
    for hostile in ({"name": NUL}, {"timezone": "Asia/\x00"}, {"created_at": FAR_FUTURE}):
        r = await w.manager.post(f"{ADMIN}/shop/", json={**new_shop, **hostile})
        assert refused(r, 422)["code"].startswith("request."), (hostile, r.text)
    assert await Shop.count() == 0
    r = await w.manager.post(f"{ADMIN}/shop/", json=new_shop)
    assert r.status_code == 201, r.text
    shop_id = (await w.manager.get(f"{ADMIN}/shop/")).json()["rows"][0]["id"]
    template = (await w.manager.get(f"{ADMIN}/qc_template/")).json()["rows"][0]["id"]
    item = (await w.manager.get(f"{ADMIN}/qc_template_item/", params={"template": template})).json()["rows"][
        0
    ]
    new_template = (await w.manager.get(f"{ADMIN}/qc_template/new/")).json()
    new_item = {
        **(await w.manager.get(f"{ADMIN}/qc_template_item/new/")).json(),
        "template": template,
        "name_en": "Wipers",
        "name_zh": "雨刮",
    }
    staff = f"{ADMIN}/staff/{w.foreman_id}/"
    shop = f"{ADMIN}/shop/{shop_id}/"
    template_url = f"{ADMIN}/qc_template/{template}/"
    item_url = f"{ADMIN}/qc_template_item/{item['id']}/"
    before, rows = await stored(), await admin_rows()
    attempts: list[tuple[str, str, dict[str, Any], str]] = [
        ("PATCH", staff, {"name": NUL}, "request.nul_character"),
        ("PATCH", staff, {"username": NUL}, "request.nul_character"),
        ("PATCH", shop, {"name": NUL}, "request.nul_character"),
        ("PATCH", shop, {"opens": NUL}, "request.nul_character"),
        ("PATCH", shop, {"language": NUL}, "request.nul_character"),
        ("PATCH", template_url, {"name": NUL}, "request.nul_character"),
        ("PATCH", item_url, {"name_en": NUL}, "request.nul_character"),
        ("PATCH", item_url, {"name_zh": NUL}, "request.nul_character"),
        ("POST", f"{ADMIN}/qc_template/", {**new_template, "name": NUL}, "request.nul_character"),
        ("POST", f"{ADMIN}/qc_template_item/", {**new_item, "name_zh": NUL}, "request.nul_character"),
        ("PATCH", item_url, {"position": HUGE}, "request.number_out_of_range"),
        ("PATCH", item_url, {"position": INT32}, "request.number_out_of_range"),
        ("PATCH", item_url, {"template": HUGE}, "request.number_out_of_range"),
        ("PATCH", item_url, {"template": INT32}, "request.number_out_of_range"),
        (
            "POST",
            f"{ADMIN}/qc_template_item/",
            {**new_item, "position": -INT32 - 1},
            "request.number_out_of_range",
        ),
        ("PATCH", template_url, {"created_at": LONG_AGO}, "request.date_out_of_range"),
        ("PATCH", staff, {"created_at": FAR_FUTURE}, "request.date_out_of_range"),
        (
            "POST",
            f"{ADMIN}/qc_template/",
            {**new_template, "name": "X", "created_at": LONG_AGO},
            "request.date_out_of_range",
        ),
    ]
    for method, url, body, code in attempts:
        r = await w.manager.request(method, url, json=body)
        assert refused(r, 422)["code"] == code, (method, url, body, r.text)
    for table in ADMIN_TABLES:
        for bad in (HUGE, INT32, -1):
            for method in ("GET", "PATCH", "DELETE"):
                r = await w.manager.request(
                    method, f"{ADMIN}/{table}/{bad}/", json={} if method == "PATCH" else None
                )
                assert refused(r, 400, 404)["code"] == "request.id_out_of_range", (method, table, bad, r.text)
    # The lists' filters reach the database too.
    for params in ({"name": NUL}, {"position": str(HUGE)}, {"id": str(INT32)}):
        table = "qc_template_item" if "position" in params else "qc_template"
        r = await w.manager.get(f"{ADMIN}/{table}/", params=params)
        assert r.status_code == 400 and r.json().get("code"), (params, r.text)
    assert await stored() == before and await admin_rows() == rows
    no_trouble_logged(caplog)
