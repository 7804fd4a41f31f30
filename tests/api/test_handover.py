"""Ready, settlement, hand-over and the printed settlement through the API; every refusal changes nothing."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime
from typing import Any

from api.tables import Event, Job, PartLine, RepairOrder, Settlement, Shop
from tests.api.test_photos_api import signature_png
from tests.factories import client, make_staff, ro_body, signed_in

SIGNATURE = "data:image/png;base64," + base64.b64encode(signature_png()).decode()


async def _shop(**fields: Any) -> None:
    await Shop(
        name="Bayline Motors",
        timezone="Asia/Shanghai",
        language="zh-CN",
        created_at=datetime.now(UTC),
        address="上海市浦东新区 1 号",
        phone="021-5555 0101",
        tax_id="91310000MA1FL0XX1X",
        **fields,
    ).save()


async def _order(c: Any, *, ready: bool = True) -> dict[str, Any]:
    """An order with labour ¥480 + ¥120 and one parts line 2 × ¥95.50; ready unless told."""
    body = ro_body(
        jobs=[
            {"title": "Minor service", "estimated_hours": 1.5, "price": 480},
            {"title": "A/C cleaning", "estimated_hours": 0.5, "price": 120},
        ]
    )
    r = await c.post("/api/repair-orders", json=body)
    assert r.status_code == 201, r.text
    ro = r.json()
    job = ro["jobs"][0]["id"]
    await Job.update({Job.customer_text: "常规保养（机油、机滤）"}).where(Job.id == job)
    now = datetime.now(UTC)
    await PartLine(
        job=job, repair_order=ro["id"], name="Oil filter", quantity=2, unit_price_fen=9550,
        state="fitted", created_at=now, updated_at=now,
    ).save()  # fmt: skip
    if ready:
        await Job.update({Job.state: "qc_passed"}).where(Job.repair_order == ro["id"])
        r = await c.post(f"/api/repair-orders/{ro['id']}/ready")
        assert r.status_code == 200, r.text
    return ro


def _handover(**overrides: Any) -> dict[str, Any]:
    return {
        "mileage_out": 45230,
        "payment_method": "wechat",
        "signed_by": "张伟",
        "signature": SIGNATURE,
    } | overrides


async def _snapshot(ro_id: int) -> tuple[Any, ...]:
    """Everything a refused command must leave as it was."""
    return (
        await Event.count(),
        await Settlement.select().where(Settlement.repair_order == ro_id),
        await RepairOrder.select(RepairOrder.ready_at, RepairOrder.delivered_at).where(
            RepairOrder.id == ro_id
        ),
        await PartLine.select(PartLine.old_part_returned).where(PartLine.repair_order == ro_id),
    )


async def test_the_settlement_adds_up_with_tax_inside(app: Any, clean: None) -> None:
    await _shop(tax_rate_bp=1300)
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        ro = await _order(c)
        s = (await c.get(f"/api/repair-orders/{ro['id']}/settlement")).json()
    assert [j["labour_fen"] for j in s["jobs"]] == [48000, 12000]
    assert (
        s["jobs"][0]["customer_text"] == "常规保养（机油、机滤）"
        and s["jobs"][1]["customer_text"] == "A/C cleaning"
    )
    assert [(p["name"], p["line_fen"]) for p in s["parts"]] == [("Oil filter", 19100)]
    assert (s["labour_fen"], s["parts_fen"], s["discount_fen"], s["total_fen"]) == (60000, 19100, 0, 79100)
    # 79100 × 1300 / 11300 = 9100.0 → ¥91.00 of it is tax.
    assert (s["tax_fen"], s["net_fen"], s["tax_rate_bp"]) == (9100, 70000, 1300)
    assert s["discount_state"] == "none" and s["payment_method"] is None and s["handed_over_at"] is None
    assert s["next_service_km"] == 45210 + 5000 and s["next_service_on"]


async def test_discounts_small_large_and_refused(app: Any, clean: None) -> None:
    await _shop(discount_threshold_fen=5000)
    c, _ = await signed_in(app, "advisor")
    boss, manager = await signed_in(app, "manager", username="boss")
    async with contextlib.aclosing(c), contextlib.aclosing(boss):
        ro = await _order(c)
        url = f"/api/repair-orders/{ro['id']}/settlement"
        before = await _snapshot(ro["id"])
        for body, status, code in (
            ({"discount_fen": 80000, "discount_reason": "VIP"}, 422, "settlement.discount_too_high"),
            ({"discount_fen": 1000}, 422, "settlement.discount_reason"),
            ({"discount_fen": 1000, "discount_reason": "x", "payment_method": "bitcoin"}, 422, "settlement.payment_method"),
            ({"discount_fen": -1, "discount_reason": "x"}, 422, None),
        ):  # fmt: skip
            r = await c.put(url, json=body)
            assert r.status_code == status, r.text
            if code:
                assert r.json()["code"] == code
        assert await _snapshot(ro["id"]) == before
        r = await c.put(
            url, json={"discount_fen": 3000, "discount_reason": "老客户", "payment_method": "cash"}
        )
        assert r.status_code == 200 and r.json()["discount_state"] == "approved", r.text
        assert r.json()["total_fen"] == 79100 - 3000 and r.json()["payment_method"] == "cash"
        r = await c.put(url, json={"discount_fen": 9100, "discount_reason": "Waiting time"})
        assert r.json()["discount_state"] == "pending" and r.json()["discount_needs_approval"] is True
        r = await c.post(f"{url}/approve-discount")
        assert r.status_code == 403  # an advisor cannot approve
        hand = await c.post(f"/api/repair-orders/{ro['id']}/handover", json=_handover())
        assert hand.status_code == 409 and hand.json()["code"] == "settlement.discount_pending", hand.text
        r = await boss.post(f"{url}/approve-discount")
        assert r.status_code == 200, r.text
        assert (
            r.json()["discount_state"] == "approved"
            and r.json()["discount_approved_by"]["id"] == manager["id"]
        )
        assert r.json()["discount_approved_at"]
        again = await boss.post(f"{url}/approve-discount")
        assert again.status_code == 409 and again.json()["code"] == "settlement.no_pending_discount"
        # The same discount saved again keeps its approval; a new amount needs a new one.
        r = await c.put(url, json={"discount_fen": 9100, "discount_reason": "Waiting time"})
        assert r.json()["discount_state"] == "approved"
        types = [e["type"] for e in await Event.select(Event.type).order_by(Event.seq)]
        assert types.count("settlement.updated") == 3 and types.count("discount.approved") == 1


async def test_hand_over_freezes_the_bill_and_delivers(app: Any, clean: None) -> None:
    await _shop()
    c, me = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), client(app) as phone:
        ro = await _order(c)
        url = f"/api/repair-orders/{ro['id']}"
        await c.put(f"{url}/settlement", json={"discount_fen": 1100, "discount_reason": "优惠"})
        part = (await c.get(f"{url}/settlement")).json()["parts"][0]["id"]
        r = await c.post(
            f"{url}/handover",
            json=_handover(old_parts_returned={str(part): True}, next_service_km=50000),
            headers={"Idempotency-Key": "handover-1"},
        )
        assert r.status_code == 200, r.text
        s = r.json()
        assert s["stage"] == "delivered" and s["handed_over_by"]["id"] == me["id"]
        assert (s["total_fen"], s["discount_fen"], s["payment_method"]) == (78000, 1100, "wechat")
        assert s["mileage_out"] == 45230 and s["next_service_km"] == 50000 and s["signed_by"] == "张伟"
        assert s["parts"][0]["old_part_returned"] is True
        assert s["next_service_on"] and s["signature_url"]
        replay = await c.post(
            f"{url}/handover",
            json=_handover(old_parts_returned={str(part): True}, next_service_km=50000),
            headers={"Idempotency-Key": "handover-1"},
        )
        assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
        sig = await c.get(s["signature_url"])
        assert sig.status_code == 200 and sig.headers["content-type"] == "image/jpeg"
        # Frozen: a later price change does not alter what the customer paid.
        await Job.update({Job.price_cents: 1}).where(Job.repair_order == ro["id"])
        assert (await c.get(f"{url}/settlement")).json()["total_fen"] == 78000
        types = [e["type"] for e in await Event.select(Event.type).where(Event.repair_order == ro["id"])]
        assert "ro.handed_over" in types and types[-1] == "stage.changed"
        assert (await c.get(url)).json()["stage"] == "delivered"
        # The customer's page: the summary, in JSON and HTML.
        token = ro["status_url"].removeprefix("/s/")
        view = (await phone.get(f"/api/status/{token}")).json()
        summary = view["settlement"]
        assert summary["total_fen"] == 78000 and summary["payment_method"] == "wechat"
        assert summary["work"] == ["常规保养（机油、机滤）", "A/C cleaning"]
        assert summary["parts"] == [{"name": "Oil filter", "quantity": 2}]
        page = (await phone.get(f"/s/{token}?lang=en")).text
        assert "¥780.00" in page and "WeChat Pay" in page and "Oil filter" in page
        # A second hand-over, a price change, a discount: refused, nothing changed.
        before = await _snapshot(ro["id"])
        again = await c.post(f"{url}/handover", json=_handover())
        assert again.status_code == 409 and again.json()["code"] == "handover.already_done"
        r = await c.put(f"{url}/settlement", json={"discount_fen": 0})
        assert r.status_code == 409 and r.json()["code"] == "handover.already_done"
        assert await _snapshot(ro["id"]) == before


async def test_hand_over_refusals_change_nothing(app: Any, clean: None) -> None:
    await _shop()
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        early = await _order(c, ready=False)
        r = await c.post(f"/api/repair-orders/{early['id']}/handover", json=_handover())
        assert r.status_code == 409 and r.json()["code"] == "handover.not_ready", r.text
        ro = await _order(c)
        url = f"/api/repair-orders/{ro['id']}/handover"
        before = await _snapshot(ro["id"])
        for body, status, code in (
            (_handover(mileage_out=45000), 422, "handover.mileage_below_in"),
            (_handover(payment_method="cheque"), 422, "settlement.payment_method"),
            (_handover(signed_by="  "), 422, "handover.signer_required"),
            (_handover(signature="data:image/png;base64,@@@"), 422, "handover.signature"),
            (_handover(signature="data:image/png;base64," + base64.b64encode(b"not a png").decode()), 415, "photo.not_an_image"),
            (_handover(old_parts_returned={"999999": True}), 422, "handover.unknown_part"),
            (_handover(mileage_out=-5), 422, None),
        ):  # fmt: skip
            r = await c.post(url, json=body)
            assert r.status_code == status, (body, r.text)
            if code:
                assert r.json()["code"] == code, r.text
        assert await _snapshot(ro["id"]) == before
        assert (await c.get(f"{url}/signature")).json()["code"] == "handover.not_signed"
        missing = await c.post("/api/repair-orders/999999/handover", json=_handover())
        assert missing.status_code == 404
        # The contract's plain delivery still works as it did (and closes the settlement).
        assert (await c.post(f"/api/repair-orders/{ro['id']}/deliver")).status_code == 200
        assert (await c.post(url, json=_handover())).json()["code"] == "handover.already_done"


async def test_a_discount_above_a_shrunk_bill_is_refused_at_hand_over(app: Any, clean: None) -> None:
    await _shop()
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        ro = await _order(c)
        await c.put(
            f"/api/repair-orders/{ro['id']}/settlement", json={"discount_fen": 20000, "discount_reason": "x"}
        )
        await Job.update({Job.price_cents: 0}).where(Job.repair_order == ro["id"])
        r = await c.post(f"/api/repair-orders/{ro['id']}/handover", json=_handover())
        assert r.status_code == 422 and r.json()["code"] == "settlement.discount_too_high", r.text
        assert await RepairOrder.select(RepairOrder.delivered_at).where(
            RepairOrder.id == ro["id"]
        ).first() == {"delivered_at": None}


async def test_ready_automatically_when_the_shop_says_so(app: Any, clean: None) -> None:
    await _shop(ready_rule="auto")
    c, _ = await signed_in(app, "advisor")
    foreman, _ = await signed_in(app, "foreman", username="qc")
    async with contextlib.aclosing(c), contextlib.aclosing(foreman):
        ro = await _order(c, ready=False)
        first, second = (j["id"] for j in ro["jobs"])
        await Job.update({Job.state: "finished"}).where(Job.repair_order == ro["id"])
        items = {"items": [{"name": "Road test", "result": "pass"}]}
        assert (await foreman.post(f"/api/jobs/{first}/qc", json=items)).status_code == 200
        assert (await c.get(f"/api/repair-orders/{ro['id']}")).json()["stage"] == "quality_check"
        r = await foreman.post(f"/api/jobs/{second}/qc", json=items)
        assert r.status_code == 200, r.text
        assert (await c.get(f"/api/repair-orders/{ro['id']}")).json()["stage"] == "ready"
        staged = await Event.select(Event.data).where(Event.type == "stage.changed").order_by(Event.seq)
        assert '"to": "ready"' in staged[-1]["data"]


async def test_manual_shops_stay_at_quality_check(app: Any, clean: None) -> None:
    await _shop()
    c, _ = await signed_in(app, "advisor")
    foreman, _ = await signed_in(app, "foreman", username="qc")
    async with contextlib.aclosing(c), contextlib.aclosing(foreman):
        ro = await _order(c, ready=False)
        await Job.update({Job.state: "finished"}).where(Job.repair_order == ro["id"])
        for job in ro["jobs"]:
            await foreman.post(f"/api/jobs/{job['id']}/qc", json={"items": [{"name": "x", "result": "pass"}]})
        assert (await c.get(f"/api/repair-orders/{ro['id']}")).json()["stage"] == "quality_check"


async def test_print_view_in_both_sizes_and_languages(app: Any, clean: None) -> None:
    await _shop()
    c, _ = await signed_in(app, "advisor")
    tech, _ = await signed_in(app, "technician", username="tech")
    async with contextlib.aclosing(c), contextlib.aclosing(tech):
        ro = await _order(c)
        await c.post(f"/api/repair-orders/{ro['id']}/handover", json=_handover(payment_method="alipay"))
        url = f"/print/repair-orders/{ro['id']}"
        zh = await c.get(url, params={"size": "a5", "lang": "zh-CN"})
        assert zh.status_code == 200 and zh.headers["content-type"].startswith("text/html")
        assert "size: A5" in zh.text and "结算单" in zh.text and "支付宝" in zh.text and "¥791.00" in zh.text
        assert (
            "91310000MA1FL0XX1X" in zh.text
            and "上海市浦东新区 1 号" in zh.text
            and "handover/signature" in zh.text
        )
        assert "sha256-" in zh.headers["content-security-policy"] and "<script" not in zh.text
        en = await c.get(url, params={"size": "a4", "lang": "en"})
        assert (
            "size: A4" in en.text
            and "Settlement" in en.text
            and "Alipay" in en.text
            and "Oil filter" in en.text
        )
        assert (await c.get(url, params={"size": "letter"})).json()["code"] == "print.size"
        assert (await tech.get(url)).status_code == 403
    await make_staff("manager", username="m2")
    async with client(app) as anonymous:
        assert (await anonymous.get(url)).status_code == 401
