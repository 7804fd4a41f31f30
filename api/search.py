"""Find and history: repair orders by plate, phone, name, number or VIN tail; a vehicle's visits;
the known vehicle and customer at write-up; the technicians a job can be given to. Reads only.

Plates, phones, names and VINs are found through their suffixes, kept by triggers in `vehicle_key`
and `customer_key` (migration 0017 says how): every lookup is an index range, never a walk of the
shop's history. No web imports.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from api import readmodels, sqlread, workshop

LIMIT = 50  # orders Find answers with, newest first
_ENTITIES = 200  # vehicles and customers a query may match (a broader query shows their newest orders)
_VISITS = 100  # a vehicle's visits shown in its history
_LOOKUP = 5  # known vehicles offered at write-up for one plate or phone
_TOP = "\U0010ffff"  # above every character: `term < q + _TOP` keeps the terms that start with q
_NUMBER = re.compile(r"^(\d{6})-?(\d{1,3})$")


def plate_key(value: str) -> str:
    """A plate as stored (schemas.VehicleIn): no spaces, dots, dashes or middle dots, upper case."""
    return re.sub(r"[\s·.-]", "", value).upper()


def digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _name_key(value: str) -> str:
    # As the triggers keep it: spaces out, lower case (ASCII only on SQLite: CJK has no case).
    return re.sub(r"\s", "", value).lower()


def _range(kind: str, value: str) -> tuple[str, str]:
    return f"{kind}:{value}", f"{kind}:{value}{_TOP}"


def check_query(q: str) -> str:
    text = q.strip()
    if not text or len(text) > 40:
        raise workshop.Invalid(
            "Type 1 to 40 characters: a plate, phone, name, order number or the VIN's last digits.",
            code="search.query",
            params={"max": 40},
            field="q",
        )
    return text


async def _matches(text: str) -> tuple[list[int], list[int]]:
    """Ids of the vehicles and customers whose keys match (one statement)."""
    plate, phone, name = plate_key(text), digits(text), _name_key(text)
    vehicle_where, vehicle_args = ["(term >= {} AND term < {})"], list(_range("p", plate))
    if len(plate) >= 4:
        vehicle_where.append("term = {}")
        vehicle_args.append(f"v:{plate}")
    customer_where, customer_args = ["(term >= {} AND term < {})"], list(_range("n", name))
    if len(phone) >= 4 and len(phone) >= len(re.sub(r"[\s()+-]", "", text)):
        customer_where.append("(term >= {} AND term < {})")
        customer_args += _range("t", phone)
    sql = (
        "SELECT * FROM (SELECT DISTINCT vehicle AS id, 'v' AS kind FROM vehicle_key"  # noqa: S608 (placeholders)
        f" WHERE {' OR '.join(vehicle_where)} LIMIT {_ENTITIES}) vk"
        " UNION ALL SELECT * FROM (SELECT DISTINCT customer AS id, 'c' AS kind FROM customer_key"
        f" WHERE {' OR '.join(customer_where)} LIMIT {_ENTITIES}) ck"
    )
    found = await sqlread.rows(sql, *vehicle_args, *customer_args)
    vehicles = [int(r["id"]) for r in found if r["kind"] == "v"]
    customers = [int(r["id"]) for r in found if r["kind"] == "c"]
    return vehicles, customers


# The car's and the customer's fields are read per order by primary key (scalar subqueries, at most
# LIMIT orders): as joins, PostgreSQL may read the whole customer or vehicle index for a hash join
# when its estimates are small, a plan that grows with history (seen in the plan test on CI).
def _of(table: str, column: str, key: str) -> str:
    return f"(SELECT x.{column} FROM {table} x WHERE x.id = ro.{key})"  # noqa: S608 (our names only)


_ORDER_COLUMNS = (
    "+ro.id AS id, ro.number, +ro.vehicle AS vehicle_id, +ro.customer AS customer_id, +ro.mileage AS mileage,"
    " ro.created_at, ro.promised_at, ro.ready_at, ro.delivered_at, "
    + ", ".join(f"{_of('vehicle', c, 'vehicle')} AS {c}" for c in ("plate", "make", "model", "vin"))
    + f", +{_of('vehicle', 'year', 'vehicle')} AS year, {_of('vehicle', 'color', 'vehicle')} AS color, "
    + ", ".join(
        f"{_of('customer', c, 'customer')} AS {a}"
        for c, a in (("name", "customer_name"), ("phone", "phone"), ("language", "language"))
    )
)
_ORDER_FROM = "FROM repair_order ro"


def _number(text: str) -> str | None:
    """An order number as typed (261201-7, 2612017, 261201-007) → as stored, or None."""
    found = _NUMBER.match(text.replace(" ", ""))
    return f"{found.group(1)}-{int(found.group(2)):03d}" if found else None


async def search(q: str) -> dict[str, Any]:
    """Open and delivered repair orders matching `q`, newest first (at most LIMIT)."""
    text = check_query(q)
    vehicles, customers = await _matches(text)
    where: list[str] = []
    args: list[Any] = []
    if vehicles:
        where.append(f"ro.vehicle IN ({sqlread.marks(vehicles)})")
        args += vehicles
    if customers:
        where.append(f"ro.customer IN ({sqlread.marks(customers)})")
        args += customers
    number = _number(text)
    if number:
        where.append("ro.number = {}")
        args.append(number)
    if not where:
        return {"items": []}
    sql = (
        f"SELECT {_ORDER_COLUMNS} {_ORDER_FROM} WHERE {' OR '.join(where)}"  # noqa: S608 (placeholders only)
        f" ORDER BY ro.created_at DESC, ro.id DESC LIMIT {LIMIT}"
    )
    orders = await sqlread.rows(sql, *args)
    jobs = await readmodels.jobs_of([r["id"] for r in orders])
    return {"items": [_hit(r, jobs[r["id"]]) for r in orders]}


def _hit(row: dict[str, Any], jobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "number": row["number"],
        "plate": row["plate"],
        "make": row["make"],
        "model": row["model"],
        "customer_name": row["customer_name"],
        # Find is for staff (ro.search): they call the customer back, so the number is shown whole.
        "phone": row["phone"],
        "stage": readmodels.stage_of(row, jobs).value,
        "mileage": row["mileage"],
        "created_at": row["created_at"],
        "promised_at": row["promised_at"],
        "delivered_at": row["delivered_at"],
        "vehicle_id": row["vehicle_id"],
        "customer_id": row["customer_id"],
    }


# --- A vehicle's history ----------------------------------------------------------------------------

_VEHICLE = "SELECT +v.id AS id, v.plate, v.vin, v.make, v.model, +v.year AS year, v.color FROM vehicle v"


def _vehicle_out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "plate", "vin", "make", "model", "year", "color")}


async def _vehicle(vehicle_id: int) -> dict[str, Any]:
    found = await sqlread.rows(f"{_VEHICLE} WHERE v.id = {{}}", vehicle_id)
    if not found:
        raise workshop.NotFound(
            f"Vehicle {vehicle_id} does not exist.", code="vehicle.not_found", params={"id": vehicle_id}
        )
    return found[0]


async def _visits(where: str, *args: Any, limit: int = _VISITS) -> list[dict[str, Any]]:
    """Orders (newest first) with each one's mileage out from its settlement, when there is one."""
    sql = (
        f"SELECT {_ORDER_COLUMNS}, +(SELECT s.mileage_out FROM settlement s WHERE s.repair_order = ro.id)"  # noqa: S608
        f" AS mileage_out {_ORDER_FROM} WHERE {where}"
        f" ORDER BY ro.created_at DESC, ro.id DESC LIMIT {limit}"
    )
    return await sqlread.rows(sql, *args)


# Earlier write-ups made a new vehicle row per visit: a plate's rows are one car's history.
async def _same_plate(plate: str, limit: int = _VISITS) -> list[dict[str, Any]]:
    """The visits of every vehicle row with this plate. The rows are found first (by the plate's
    index), then their orders by (vehicle, created_at): as one statement with a subquery,
    PostgreSQL could walk the whole orders index on small estimates."""
    same = await sqlread.rows("SELECT +id AS id FROM vehicle WHERE plate = {}", plate)
    if not same:
        return []
    ids = [int(r["id"]) for r in same]
    return await _visits(f"ro.vehicle IN ({sqlread.marks(ids)})", *ids, limit=limit)


async def _findings(ro_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not ro_ids:
        return grouped
    sql = (
        "SELECT +f.id AS id, +f.repair_order AS repair_order, +f.job AS job, f.text, f.phrase, f.created_at"  # noqa: S608
        f" FROM finding f WHERE f.repair_order IN ({sqlread.marks(ro_ids)})"
    )
    # Ordered here, not by the database: ORDER BY id let PostgreSQL walk the whole primary key.
    for row in sorted(await sqlread.rows(sql, *ro_ids), key=lambda r: int(r["id"])):
        grouped[row["repair_order"]].append(
            {
                "id": row["id"],
                "job_id": row["job"],
                "text": row["text"],
                "phrase": row["phrase"] or None,
                "created_at": row["created_at"],
            }
        )
    return grouped


def _work(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": job["id"],
        "title": job["title"],
        "customer_text": job.get("customer_text") or "",
        "state": job["state"],
        "approval": job["approval"],
        "estimated_hours": round(job["estimated_minutes"] / 60, 2),
        "price_fen": job["price_cents"],
        "technician": job.get("technician.name"),
    }


def _declined(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_work(j) for j in jobs if j["approval"] == workshop.Approval.DECLINED.value]


async def history(vehicle_id: int) -> dict[str, Any]:
    """The vehicle and every visit, newest first: mileage in and out, the work done, what the
    technicians found and the recommended work the customer declined."""
    vehicle = await _vehicle(vehicle_id)
    orders = await _same_plate(vehicle["plate"])
    ids = [r["id"] for r in orders]
    jobs = await readmodels.jobs_of(ids)
    findings = await _findings(ids)
    visits = []
    for row in orders:
        its_jobs = jobs[row["id"]]
        visits.append(
            {
                "id": row["id"],
                "number": row["number"],
                "stage": readmodels.stage_of(row, its_jobs).value,
                "created_at": row["created_at"],
                "delivered_at": row["delivered_at"],
                "mileage_in": row["mileage"],
                "mileage_out": row["mileage_out"],
                "customer": {"id": row["customer_id"], "name": row["customer_name"], "phone": row["phone"]},
                "work": [_work(j) for j in its_jobs if j["approval"] != workshop.Approval.DECLINED.value],
                "declined": _declined(its_jobs),
                "findings": findings[row["id"]],
            }
        )
    return {"vehicle": _vehicle_out(vehicle), "visits": visits}


# --- The write-up: a known plate or phone -----------------------------------------------------------


def last_mileage(order: dict[str, Any]) -> int:
    """The highest reading of a visit: mileage out when it was settled, else mileage in."""
    return max(order["mileage"], order.get("mileage_out") or 0)


async def lookup(plate: str | None, phone: str | None) -> dict[str, Any]:
    """Known vehicles for a plate (exact) or a phone (its last 7 digits or more): each with the
    customer of its last visit, the last mileage and the work declined then."""
    if plate is not None and plate_key(plate):
        orders = await _same_plate(plate_key(plate), limit=1)
    elif phone is not None and len(digits(phone)) >= 7:
        typed = digits(phone)
        # The phone ends with what was typed; typed with a country code (+86), its last 11 digits
        # (a mainland mobile number) are the number as it was stored without one.
        customers = await sqlread.rows(
            "SELECT DISTINCT customer FROM customer_key WHERE term IN ({}, {}) LIMIT 20",
            f"t:{typed}",
            f"t:{typed[-11:]}",
        )
        ids = [int(r["customer"]) for r in customers]
        orders = await _visits(f"ro.customer IN ({sqlread.marks(ids)})", *ids, limit=20) if ids else []
    else:
        raise workshop.Invalid(
            "Give a plate, or a phone number of 7 digits or more.", code="lookup.query", field="plate"
        )
    newest: dict[str, dict[str, Any]] = {}
    for row in orders:  # newest first: a plate's first row is its last visit
        if len(newest) < _LOOKUP:
            newest.setdefault(row["plate"], row)
    last = list(newest.values())
    jobs = await readmodels.jobs_of([r["id"] for r in last])
    return {"items": [_known(r, jobs[r["id"]]) for r in last]}


def _known(row: dict[str, Any], jobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "vehicle": {
            "id": row["vehicle_id"],
            "plate": row["plate"],
            "vin": row["vin"],
            "make": row["make"],
            "model": row["model"],
            "year": row["year"],
            "color": row["color"],
        },
        "customer": {
            "id": row["customer_id"],
            "name": row["customer_name"],
            "phone": row["phone"],
            "language": row["language"],
        },
        "last_mileage": last_mileage(row),
        "last_visit": {
            "id": row["id"],
            "number": row["number"],
            "created_at": row["created_at"],
            "delivered_at": row["delivered_at"],
        },
        "declined": _declined(jobs),
    }


async def technicians() -> dict[str, Any]:
    """The people a job can be given to at write-up: active technicians and foremen."""
    roles = sorted(workshop.ASSIGNEE_ROLES)
    found = await sqlread.rows(
        f"SELECT +id AS id, name, role FROM staff WHERE active = {{}} AND role IN ({sqlread.marks(roles)})"  # noqa: S608
        " ORDER BY name",
        True,
        *roles,
    )
    return {"items": [{"id": r["id"], "name": r["name"], "role": r["role"]} for r in found]}
