"""Find, vehicle history, the write-up's lookup, returning customers and assignment at write-up."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from piccolo.engine import engine_finder

from api.tables import Customer, Job, Settlement, Staff, Vehicle
from tests import queryplans, sqlcount
from tests.api.test_query_plans import explained
from tests.conftest import BACKEND
from tests.factories import in_hours, make_staff, ro_body, signed_in, vin


async def _create(c: Any, **overrides: Any) -> dict[str, Any]:
    r = await c.post("/api/repair-orders", json=ro_body(**overrides))
    assert r.status_code == 201, r.text
    return r.json()


def _ids(reply: Any) -> list[int]:
    assert reply.status_code == 200, reply.text
    return [hit["id"] for hit in reply.json()["items"]]


async def _decline(c: Any, ro: dict[str, Any], title: str, price: int = 900) -> int:
    """A recommendation the customer declines on their status page."""
    r = await c.post(
        f"/api/repair-orders/{ro['id']}/jobs",
        json={"title": title, "estimated_hours": 1, "price": price, "needs_approval": True},
    )
    assert r.status_code == 201, r.text
    token = ro["status_url"].removeprefix("/s/")
    d = await c.post(f"/api/status/{token}/approvals", json={"job_id": r.json()["id"], "decision": "decline"})
    assert d.status_code == 200, d.text
    return int(r.json()["id"])


async def _deliver(c: Any, ro: dict[str, Any]) -> None:
    await Job.update({Job.state: "qc_passed"}).where(Job.repair_order == ro["id"])
    assert (await c.post(f"/api/repair-orders/{ro['id']}/ready")).status_code == 200
    assert (await c.post(f"/api/repair-orders/{ro['id']}/deliver")).status_code == 200


async def test_search_by_plate_phone_name_number_and_vin_tail(advisor: Any) -> None:
    wang = await _create(
        advisor,
        customer={"name": "Wang Fang", "phone": "+86 139-1234-5678", "language": "en"},
        vehicle={"plate": "沪A12345", "vin": vin("LSVAU2180N218329"), "make": "VW", "model": "Passat"},
    )
    li = await _create(
        advisor,
        customer={"name": "李娜", "phone": "13700001111"},
        vehicle={"plate": "京B77821", "make": "Toyota", "model": "Camry"},
    )
    assert _ids(await advisor.get("/api/search", params={"q": "a12"})) == [wang["id"]]
    assert _ids(await advisor.get("/api/search", params={"q": " 沪a 123 "})) == [wang["id"]]
    assert _ids(await advisor.get("/api/search", params={"q": "7782"})) == [li["id"]]  # plate digits
    assert _ids(await advisor.get("/api/search", params={"q": "1234"})) == [wang["id"]]  # phone and plate
    assert _ids(await advisor.get("/api/search", params={"q": "5678"})) == [wang["id"]]  # last digits
    assert _ids(await advisor.get("/api/search", params={"q": "0000111"})) == [li["id"]]  # middle digits
    assert _ids(await advisor.get("/api/search", params={"q": "fang"})) == [wang["id"]]
    assert _ids(await advisor.get("/api/search", params={"q": "李"})) == [li["id"]]
    assert _ids(await advisor.get("/api/search", params={"q": li["number"]})) == [li["id"]]
    tail = wang["vehicle"]["vin"][-6:]
    assert _ids(await advisor.get("/api/search", params={"q": tail.lower()})) == [wang["id"]]
    assert _ids(await advisor.get("/api/search", params={"q": "nobody"})) == []
    hit = (await advisor.get("/api/search", params={"q": "Wang"})).json()["items"][0]
    assert hit["plate"] == "沪A12345" and hit["make"] == "VW" and hit["phone"] == "+86 139-1234-5678"
    assert hit["stage"] == "checked_in" and hit["delivered_at"] is None
    assert hit["vehicle_id"] > 0 and hit["customer_id"] > 0


async def test_delivered_orders_are_found_newest_first(advisor: Any) -> None:
    first = await _create(advisor, vehicle={"plate": "粤C11111"}, mileage=1000)
    await _deliver(advisor, first)
    second = await _create(advisor, vehicle={"plate": "粤C11111"}, mileage=2000)
    found = (await advisor.get("/api/search", params={"q": "c111"})).json()["items"]
    assert [h["id"] for h in found] == [second["id"], first["id"]]
    assert found[1]["stage"] == "delivered" and found[1]["delivered_at"] is not None
    assert found[0]["vehicle_id"] == found[1]["vehicle_id"]  # the plate's row is reused


async def test_bad_queries_are_refused_with_a_code(advisor: Any) -> None:
    for q in ("", "   ", "x" * 41):
        r = await advisor.get("/api/search", params={"q": q})
        assert r.status_code == 422 and r.json()["code"] == "search.query", r.text
    r = await advisor.get("/api/vehicles/lookup")
    assert r.status_code == 422 and r.json()["code"] == "lookup.query"
    r = await advisor.get("/api/vehicles/999999/history")
    assert r.status_code == 404 and r.json()["code"] == "vehicle.not_found"


async def test_history_lists_visits_with_findings_mileage_out_and_declined_work(
    app: Any, advisor: Any
) -> None:
    tech, person = await signed_in(app, "technician")
    first = await _create(advisor, mileage=30000)
    declined = await _decline(advisor, first, "Rear brake pads")
    job = first["jobs"][0]["id"]
    assert (
        await advisor.post(f"/api/jobs/{job}/assign", json={"technician_id": person["id"]})
    ).status_code == 200
    f = await tech.post(f"/api/jobs/{job}/findings", json={"text": "Rear pads at 3 mm"})
    assert f.status_code == 201, f.text
    await Settlement(repair_order=first["id"], mileage_out=30012).save()
    second = await _create(advisor, mileage=41000)
    vehicle = (await advisor.get("/api/search", params={"q": "A12345"})).json()["items"][0]["vehicle_id"]
    r = await advisor.get(f"/api/vehicles/{vehicle}/history")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["vehicle"]["plate"] == "沪A12345"
    assert [v["id"] for v in body["visits"]] == [second["id"], first["id"]]
    old = body["visits"][1]
    assert old["mileage_in"] == 30000 and old["mileage_out"] == 30012
    assert [w["title"] for w in old["work"]] == ["Minor service", "A/C cleaning"]
    assert old["work"][0]["price_fen"] == 48000 and old["work"][0]["technician"] == person["name"]
    assert [d["id"] for d in old["declined"]] == [declined]
    assert [x["text"] for x in old["findings"]] == ["Rear pads at 3 mm"]
    await tech.aclose()


async def test_lookup_by_plate_or_phone_gives_the_last_visit(advisor: Any) -> None:
    first = await _create(advisor, mileage=30000)
    declined = await _decline(advisor, first, "Wiper blades", price=120)
    for params in ({"plate": "沪a 12345"}, {"phone": "138 0013 8000"}, {"phone": "+8613800138000"}):
        r = await advisor.get("/api/vehicles/lookup", params=params)
        assert r.status_code == 200, r.text
        [known] = r.json()["items"]
        assert known["vehicle"]["plate"] == "沪A12345" and known["customer"]["name"] == "张伟"
        assert known["last_mileage"] == 30000 and known["last_visit"]["id"] == first["id"]
        assert [d["id"] for d in known["declined"]] == [declined] and known["declined"][0][
            "price_fen"
        ] == 12000
    assert (await advisor.get("/api/vehicles/lookup", params={"plate": "沪Z00000"})).json()["items"] == []


async def test_returning_customer_reuses_and_updates_rows(advisor: Any) -> None:
    first = await _create(advisor, mileage=30000)
    known = (await advisor.get("/api/vehicles/lookup", params={"plate": "沪A12345"})).json()["items"][0]
    body = ro_body(
        vehicle_id=known["vehicle"]["id"],
        customer_id=known["customer"]["id"],
        mileage=31000,
        customer={"name": "张伟 Zhang Wei", "phone": "13800138000", "language": "en"},
        vehicle={"plate": "沪A12345", "color": "black"},
    )
    r = await advisor.post("/api/repair-orders", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["vehicle"]["color"] == "black" and r.json()["vehicle"]["vin"] == first["vehicle"]["vin"]
    assert r.json()["vehicle"]["make"] == "Volkswagen"  # left empty: what was known stays
    assert await Vehicle.count() == 1 and await Customer.count() == 1
    customer = await Customer.select().first()
    assert customer is not None
    assert customer["name"] == "张伟 Zhang Wei" and customer["language"] == "en"
    # A known plate without ids reuses the vehicle; another phone is another customer.
    r = await advisor.post(
        "/api/repair-orders",
        json=ro_body(mileage=32000, customer={"name": "Liu", "phone": "13911112222"}),
    )
    assert r.status_code == 201, r.text
    assert await Vehicle.count() == 1 and await Customer.count() == 2
    # Unknown ids are refused, nothing written.
    for key, code in (("vehicle_id", "vehicle.not_found"), ("customer_id", "customer.not_found")):
        r = await advisor.post("/api/repair-orders", json=ro_body(**{key: 999999}))
        assert r.status_code == 404 and r.json()["code"] == code, r.text
    assert len((await advisor.get("/api/repair-orders")).json()["items"]) == 3


async def test_lower_mileage_needs_confirmation(advisor: Any) -> None:
    first = await _create(advisor, mileage=30000)
    await Settlement(repair_order=first["id"], mileage_out=30050).save()
    vehicle = (await advisor.get("/api/vehicles/lookup", params={"plate": "沪A12345"})).json()["items"][0]
    assert vehicle["last_mileage"] == 30050
    body = ro_body(vehicle_id=vehicle["vehicle"]["id"], mileage=30040)
    r = await advisor.post("/api/repair-orders", json=body)
    assert r.status_code == 422 and r.json()["code"] == "ro.mileage_lower", r.text
    assert r.json()["params"] == {"last": 30050}
    assert len((await advisor.get("/api/repair-orders")).json()["items"]) == 1
    r = await advisor.post("/api/repair-orders", json={**body, "mileage_confirmed": True})
    assert r.status_code == 201, r.text


async def test_jobs_assigned_and_carried_forward_at_write_up(app: Any, advisor: Any) -> None:
    tech = await make_staff("technician")
    first = await _create(advisor)
    declined = await _decline(advisor, first, "Wiper blades")
    r = await advisor.get("/api/technicians")
    assert r.status_code == 200 and tech["id"] in [t["id"] for t in r.json()["items"]]
    jobs = [
        {"title": "Wiper blades", "estimated_hours": 0.2, "price": 120, "carried_from_job_id": declined},
        {"title": "Oil service", "estimated_hours": 1, "technician_id": tech["id"]},
    ]
    r = await advisor.post("/api/repair-orders", json=ro_body(jobs=jobs, promised_at=in_hours(3)))
    assert r.status_code == 201, r.text
    out = r.json()["jobs"]
    assert out[0]["state"] == "pending" and out[1]["state"] == "assigned"
    assert out[1]["technician"] == {"id": tech["id"], "name": tech["name"]}
    # Carrying work that was not declined, or giving a job to someone who cannot take it: refused.
    wrong = [{"title": "x", "estimated_hours": 1, "carried_from_job_id": first["jobs"][0]["id"]}]
    r = await advisor.post("/api/repair-orders", json=ro_body(jobs=wrong))
    assert r.status_code == 422 and r.json()["code"] == "ro.carry_invalid", r.text
    gone = await make_staff("technician")
    await Staff.update({Staff.active: False}).where(Staff.id == gone["id"])
    office = await make_staff("advisor")
    for person, code in (
        (gone["id"], "job.assign_inactive"),
        (office["id"], "job.assign_role"),
        (999999, "job.technician_invalid"),
    ):
        body = ro_body(jobs=[{"title": "x", "estimated_hours": 1, "technician_id": person}])
        r = await advisor.post("/api/repair-orders", json=body)
        assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert len((await advisor.get("/api/repair-orders")).json()["items"]) == 2


# --- Query plans: Find, history and lookup never read a history table in full -----------------------


@pytest.fixture
async def plans() -> AsyncIterator[Any]:
    engine = engine_finder()
    assert engine is not None
    queryplans.install(engine)
    if BACKEND == "postgresql":
        found = await queryplans.PostgresPlans.open(os.environ["DATABASE_URL"], generic=True)
        yield found
        await found.close()
    else:
        from api import settings

        sqlite = queryplans.SqlitePlans(str(settings.get().sqlite_path))
        yield sqlite
        sqlite.close()


async def test_find_history_and_lookup_read_by_index(advisor: Any, plans: Any) -> None:
    ro = await _create(advisor)
    await _decline(advisor, ro, "Wiper blades")
    vehicle = (await advisor.get("/api/search", params={"q": "A12"})).json()["items"][0]["vehicle_id"]
    requests = [
        ("/api/search", {"q": "A12"}),
        ("/api/search", {"q": "8000"}),
        ("/api/search", {"q": ro["number"]}),
        (f"/api/vehicles/{vehicle}/history", {}),
        ("/api/vehicles/lookup", {"plate": "沪A12345"}),
        ("/api/vehicles/lookup", {"phone": "13800138000"}),
    ]
    for path, params in requests:
        with queryplans.capturing() as statements:
            r = await advisor.get(path, params=params)
        assert r.status_code == 200, r.text
        shown, scans = await explained(plans, statements)
        assert not scans, f"{path} {params}:\n" + "\n".join(shown)
    with queryplans.capturing() as statements:
        r = await advisor.post("/api/repair-orders", json=ro_body(vehicle_id=vehicle, mileage=50000))
    assert r.status_code == 201, r.text
    shown, scans = await explained(plans, statements)
    assert not scans, "\n".join(shown)


async def test_write_up_statements_new_and_returning(advisor: Any) -> None:
    """A returning car keeps the new-order budget of tests/api/test_sql_budget.py (8); a new
    customer with a new car costs one more (the lookup of what is known finds nothing)."""
    engine = engine_finder()
    assert engine is not None
    sqlcount.install(engine)
    advisor.headers["Idempotency-Key"] = "warm-up"
    await _create(advisor, vehicle={"plate": "浙A00001"})  # the same kind of request once, not counted
    counts = {}
    for name, body in (
        ("new", ro_body(vehicle={"plate": "浙A00002"}, customer={"name": "Ma", "phone": "13500000002"})),
        (
            "returning",
            ro_body(vehicle={"plate": "浙A00002"}, customer={"name": "Ma", "phone": "13500000002"}),
        ),
    ):
        advisor.headers["Idempotency-Key"] = name
        with sqlcount.counting() as statements:
            r = await advisor.post("/api/repair-orders", json=body)
        assert r.status_code == 201, r.text
        counts[name] = len(statements)
    print(f"\nSQL statements per write-up ({BACKEND}): {counts}")
    assert counts["returning"] <= 8 and counts["new"] <= 9, counts
