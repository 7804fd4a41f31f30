"""Refusals a zh-CN tablet shows: each names a code (and its field and parameters) beside the English
`detail`, and the code has Chinese words in the one catalogue (web/js/i18n.js, read by api.messages)."""

from __future__ import annotations

import contextlib
import html
import re
from typing import Any

import httpx

from api import messages
from api.tables import RepairOrder, Staff
from tests.factories import in_hours, ro_body, signed_in, vin

ZH = {"Accept-Language": "zh-CN"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def chinese(code: str, params: dict[str, Any] | None) -> str:
    """The words a zh-CN screen shows for the code: Chinese, every parameter filled in."""
    words = messages.text(code, params, "zh-CN")
    assert words is not None, f"no zh-CN text for {code}"
    assert HAN.search(words) and not re.search(r"\{\w+(:[\w.]+)?\}", words), (code, words)
    return words


def refusal(r: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["detail"], body
    if field is not None:
        assert body["field"] == field, body
        placed = [e for e in body["errors"] if e["field"] == field]
        assert placed and placed[0]["code"] == code, body  # a form puts it by the field
    chinese(code, body.get("params"))
    return body


async def test_bad_vin_and_bad_phone_get_field_codes(advisor: Any) -> None:
    wrong = vin()[:8] + ("5" if vin()[8] != "5" else "6") + vin()[9:]
    r = await advisor.post(
        "/api/repair-orders", json=ro_body(vehicle={"plate": "沪A1", "vin": wrong}), headers=ZH
    )
    body = refusal(r, 422, "vin.check_digit", "vehicle.vin")
    assert body["params"] == {"expected": vin()[8]} and "check digit" in body["detail"]
    assert vin()[8] in chinese("vin.check_digit", body["params"])

    r = await advisor.post(
        "/api/repair-orders", json=ro_body(customer={"name": "张伟", "phone": "abc"}), headers=ZH
    )
    body = refusal(r, 422, "phone.invalid", "customer.phone")
    assert "pattern" not in chinese(body["code"], body["params"])
    assert await RepairOrder.count() == 0


async def test_every_field_of_a_broken_write_up_has_a_code(advisor: Any) -> None:
    body = ro_body(
        customer={"name": "", "phone": "138"},
        vehicle={"plate": "沪", "vin": "LSVAB2C3IOE5F6G78", "year": 1800},
        mileage=-5,
        fuel_level=9,
        jobs=[{"title": "x", "estimated_hours": "lots"}],
        unexpected=1,
    )
    del body["promised_at"]
    r = await advisor.post("/api/repair-orders", json=body, headers=ZH)
    assert r.status_code == 422, r.text
    got = {e["field"]: e for e in r.json()["errors"]}
    expected = {
        "customer.name": "field.too_short",
        "customer.phone": "phone.invalid",
        "vehicle.plate": "plate.invalid",
        "vehicle.vin": "vin.forbidden_letters",
        "vehicle.year": "field.at_least",
        "mileage": "field.at_least",
        "fuel_level": "field.at_most",
        "jobs.0.estimated_hours": "field.number",
        "promised_at": "field.required",
        "unexpected": "field.unknown",
    }
    assert {f: e["code"] for f, e in got.items()} == expected, got
    assert got["fuel_level"]["params"] == {"le": 8} and got["vehicle.vin"]["params"] == {
        "letters": ["I", "O"]
    }
    for error in got.values():
        chinese(error["code"], error["params"])
    assert "8" in chinese("field.at_most", got["fuel_level"]["params"])


async def test_weak_pin(app: Any, clean: None) -> None:
    manager, _ = await signed_in(app, "manager")
    async with contextlib.aclosing(manager):
        before = await Staff.count()
        person = {"username": "li.na", "name": "李娜", "role": "technician", "pin": "1234"}
        r = await manager.post("/api/staff", json=person, headers=ZH)
        refusal(r, 422, "pin.weak", "pin")
        r = await manager.post("/api/staff", json={**person, "pin": "12a4"}, headers=ZH)
        refusal(r, 422, "pin.format", "pin")
        assert await Staff.count() == before


async def test_past_promise_on_write_up_and_on_change(advisor: Any) -> None:
    r = await advisor.post("/api/repair-orders", json=ro_body(promised_at=in_hours(-2)), headers=ZH)
    refusal(r, 422, "promise.past", "promised_at")
    ro = (await advisor.post("/api/repair-orders", json=ro_body())).json()
    r = await advisor.post(
        f"/api/repair-orders/{ro['id']}/promise",
        json={"promised_at": in_hours(-1), "reason": "parts"},
        headers=ZH,
    )
    refusal(r, 422, "promise.past", "promised_at")


async def test_delivering_a_car_that_is_not_ready(advisor: Any) -> None:
    ro = (await advisor.post("/api/repair-orders", json=ro_body())).json()
    r = await advisor.post(f"/api/repair-orders/{ro['id']}/deliver", headers=ZH)
    body = refusal(r, 409, "ro.not_deliverable")
    assert body["params"] == {"stage": "checked_in"} and "ready vehicle" in body["detail"]
    assert "已接车" in chinese(body["code"], body["params"])  # the stage in Chinese, too


async def test_framework_refusals_have_codes(advisor: Any) -> None:
    r = await advisor.get("/api/no-such-thing", headers=ZH)
    refusal(r, 404, "request.not_found")
    r = await advisor.get("/api/repair-orders/999999", headers=ZH)
    refusal(r, 404, "ro.not_found")
    broken = {**ZH, "Content-Type": "application/json"}
    r = await advisor.post("/api/repair-orders", content=b'{"customer": ', headers=broken)
    refusal(r, 400, "request.json_invalid")
    ro = (await advisor.post("/api/repair-orders", json=ro_body())).json()
    r = await advisor.post(
        f"/api/repair-orders/{ro['id']}/photos",
        files={"file": ("p.jpg", b"not a photo at all", "image/jpeg")},
        data={"kind": "walkaround"},
        headers=ZH,
    )
    refusal(r, 415, "photo.not_an_image")
    anonymous = httpx.AsyncClient(transport=advisor._transport, base_url="http://testserver")
    async with anonymous:
        refusal(await anonymous.get("/api/repair-orders", headers=ZH), 401, "auth.required")
        wrong = await anonymous.post(
            "/api/auth/login", json={"username": "nobody", "pin": "4826"}, headers=ZH
        )
        refusal(wrong, 401, "auth.wrong_pin")


async def test_status_page_says_its_refusals_with_the_same_catalogue(advisor: Any) -> None:
    """The no-JavaScript page renders the codes' words itself (api.messages reads web/js/i18n.js)."""
    ro = (await advisor.post("/api/repair-orders", json=ro_body())).json()
    page = ro["status_url"].split("://", 1)[-1].split("/", 1)[-1]
    for lang in ("zh-CN", "en"):
        shown = (await advisor.get(f"/{page}", params={"n": "stale", "lang": lang})).text
        assert html.escape(str(messages.text("status.answered", {}, lang)), quote=False) in shown
    gone = await advisor.get("/s/" + "x" * 43, headers=ZH)
    assert gone.status_code == 404 and chinese("status.link_unknown", {}) in gone.text
    api = await advisor.get("/api/status/" + "x" * 43, headers=ZH)
    refusal(api, 404, "status.link_unknown")


async def test_a_lost_write_group_is_a_503_the_outbox_retries_and_nothing_is_kept(
    app: Any, clean: None, monkeypatch: Any
) -> None:
    """The database dropping the grouped transaction (I/O error, full disk) answers 503 with a code
    the screens translate and Retry-After (the outbox sends a 5xx again), not a bare 500."""
    from api import commands
    from api.command_groups import GroupLost

    async def lost(*_: Any, **__: Any) -> Any:
        raise GroupLost("The database dropped the transaction; retry.")

    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        monkeypatch.setattr(commands, "_execute", lost)
        r = await c.post("/api/repair-orders", json=ro_body(), headers=ZH)
        monkeypatch.undo()
        body = refusal(r, 503, "server.unavailable")
        assert r.headers["retry-after"] == "2" and body["detail"]
        assert await RepairOrder.count() == 0
