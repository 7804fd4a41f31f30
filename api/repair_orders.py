"""Repair orders as use cases: write-up, added work, promises, ready and delivery.

Each runs inside a command (api.commands.execute): it loads what it needs, asks `workshop`, writes,
and returns an Outcome with the events from the catalogue. No web imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.columns import Column

from api import events, followups, readmodels, search, settings, shop, sqlread, workshop
from api.auth import new_status_link
from api.commands import Outcome, now
from api.events import NewEvent
from api.schemas import JobCreate, JobIn, RepairOrderCreate, RepairOrderEdit, RepairOrderOut
from api.tables import Customer, Job, PromiseChange, RepairOrder, RoCounter, Vehicle, Walkaround


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 100)


def _minutes(hours: Decimal) -> int:
    return int(round(hours * 60))


def as_json(body: dict[str, Any] | None) -> dict[str, Any]:
    """Datetimes → ISO strings, so the stored idempotent reply equals the first one byte for byte."""
    return RepairOrderOut.model_validate(body).model_dump(mode="json")


async def stage_events(ro_id: int, before: workshop.Stage, job_ids: Iterable[int] = ()) -> list[NewEvent]:
    """A stage.changed event when the change just written moved the repair order's stage."""
    after = await readmodels.current_stage(ro_id)
    if after is before:
        return []
    return [events.stage_changed(ro_id, before, after, job_ids)]


def _job(ro_id: int, job: Any, needs_approval: bool, at: datetime) -> Job:
    state, approval = workshop.new_job(needs_approval)
    return Job(
        repair_order=ro_id,
        title=job.title,
        estimated_minutes=_minutes(job.estimated_hours),
        price_cents=_cents(job.price),
        needs_approval=needs_approval,
        approval=approval.value if approval else None,
        state=state.value,
        created_at=at,
    )


# Raise the day's counter and read the new number back, in one statement. The day is the shop's
# (YYMMDD in its time zone), so the statement also checks the zone it was computed in: the zone
# the shop was last seen with (it is fixed once the shop is set up), or SHOP_TIMEZONE before setup.
# On a mismatch it writes nothing and returns no row; the zone is then read and the day computed
# again. Plain SQL, the same on SQLite and PostgreSQL.
_NEXT_NUMBER = (
    "INSERT INTO ro_counter (day, n) SELECT {}, 1"
    " WHERE COALESCE((SELECT timezone FROM shop LIMIT 1), {}) = {}"
    " ON CONFLICT (day) DO UPDATE SET n = ro_counter.n + 1"
    " RETURNING n"
)
_zone_seen: str | None = None


async def next_number(at: datetime) -> str:
    """YYMMDD-NNN for a repair order written at `at`, counted per day in the shop's time zone.

    Call it inside the command that saves the order: the counter row is raised in its transaction,
    so two orders never get one number and a refused order hands none out."""
    global _zone_seen
    unset = settings.get().shop_timezone  # the zone before the shop is set up (shop.timezone)
    zone = _zone_seen or unset
    for _ in range(2):
        day = at.astimezone(ZoneInfo(zone)).strftime("%y%m%d")
        rows = await RoCounter.raw(_NEXT_NUMBER, day, unset, zone)
        if rows:
            return f"{day}-{int(rows[0]['n']):03d}"
        zone = _zone_seen = await shop.timezone()
    raise RuntimeError("the shop's time zone changed while a repair order was numbered")


# What the write-up knows already (one statement): the vehicle asked for (by id, else the newest
# row with the plate), its last visit's mileage (out, when it was settled), and the customer asked
# for (by id, else the one of that last visit).
_CUSTOMER = "(SELECT x.{} FROM customer x WHERE x.id = COALESCE(d.want, lr.customer))"
# The customer's fields by primary key, one scalar subquery each: as a join, PostgreSQL may read
# the whole customer index on small estimates (seen in the plan test on CI).
_KNOWN = (
    "SELECT +v.id AS id, v.plate, v.vin, v.make, v.model, +v.year AS year, v.color,"  # noqa: S608 (our names)
    " +lr.id AS last_id, +lr.mileage AS mileage, +s.mileage_out AS mileage_out,"
    f" +{_CUSTOMER.format('id')} AS customer_id, {_CUSTOMER.format('name')} AS name,"
    f" {_CUSTOMER.format('phone')} AS phone, {_CUSTOMER.format('language')} AS language"
    " FROM (SELECT CAST({{}} AS INTEGER) AS want) d"
    " LEFT JOIN vehicle v ON v.id = {vehicle}"
    " LEFT JOIN repair_order lr ON lr.id = (SELECT r.id FROM repair_order r WHERE r.vehicle = v.id"
    " ORDER BY r.created_at DESC, r.id DESC LIMIT 1)"
    " LEFT JOIN settlement s ON s.repair_order = lr.id"
)
_KNOWN_BY_ID = _KNOWN.format(vehicle="{}")
_KNOWN_BY_PLATE = _KNOWN.format(vehicle="(SELECT max(same.id) FROM vehicle same WHERE same.plate = {})")


async def _known(data: RepairOrderCreate) -> dict[str, Any]:
    if data.vehicle_id is not None:
        row = (await sqlread.rows(_KNOWN_BY_ID, data.customer_id, data.vehicle_id))[0]
        if row["id"] is None:
            raise workshop.NotFound(
                f"Vehicle {data.vehicle_id} does not exist.",
                code="vehicle.not_found",
                params={"id": data.vehicle_id},
            )
    else:
        row = (await sqlread.rows(_KNOWN_BY_PLATE, data.customer_id, data.vehicle.plate))[0]
    if data.customer_id is not None and row["customer_id"] is None:
        raise workshop.NotFound(
            f"Customer {data.customer_id} does not exist.",
            code="customer.not_found",
            params={"id": data.customer_id},
        )
    return row


def _check_mileage(data: RepairOrderCreate, known: dict[str, Any]) -> None:
    """Below the last reading only when the advisor confirmed it (a new instrument cluster, a typo
    then). Asked only when the write-up chose the known vehicle (it showed the last mileage): a
    plate merely matched, as a write-up queued offline, is taken as typed."""
    if data.vehicle_id is None or known["last_id"] is None or data.mileage_confirmed:
        return
    last = search.last_mileage(known)
    if data.mileage < last:
        raise workshop.Invalid(
            f"The mileage is below the last one recorded ({last} km): confirm it if it is right.",
            code="ro.mileage_lower",
            params={"last": last},
            field="mileage",
        )


async def _assignees(data: RepairOrderCreate) -> dict[int, dict[str, Any]]:
    """The people jobs are given to at write-up, checked as an assignment is (one statement, when any)."""
    ids = sorted({j.technician_id for j in data.jobs if j.technician_id is not None})
    if not ids:
        return {}
    found = await sqlread.rows(
        f"SELECT +id AS id, name, role, active FROM staff WHERE id IN ({sqlread.marks(ids)})",  # noqa: S608
        *ids,
    )
    people = {int(r["id"]): r for r in found}
    for person in ids:
        if person not in people:
            raise workshop.Invalid(
                f"Staff member {person} is not an active technician.",
                code="job.technician_invalid",
                params={"id": person},
                field="technician_id",
            )
        row = people[person]
        workshop.check_assignee(row["name"], row["role"], bool(row["active"]))
    return people


async def _carried(data: RepairOrderCreate, plate: str) -> dict[int, dict[str, Any]]:
    """The declined recommendations carried forward: each must be this vehicle's, and declined."""
    ids = sorted({j.carried_from_job_id for j in data.jobs if j.carried_from_job_id is not None})
    if not ids:
        return {}
    found = await sqlread.rows(
        "SELECT +j.id AS id, j.approval, j.customer_text, v.plate FROM job j"  # noqa: S608 (placeholders)
        " JOIN repair_order ro ON ro.id = j.repair_order JOIN vehicle v ON v.id = ro.vehicle"
        f" WHERE j.id IN ({sqlread.marks(ids)})",
        *ids,
    )
    jobs = {int(r["id"]): r for r in found}
    for job_id in ids:
        row = jobs.get(job_id)
        if row is None or row["plate"] != plate or row["approval"] != workshop.Approval.DECLINED.value:
            raise workshop.Invalid(
                f"Job {job_id} is not work this vehicle's customer declined.",
                code="ro.carry_invalid",
                params={"id": job_id},
                field="carried_from_job_id",
            )
    return jobs


def _same_phone(a: str | None, b: str) -> bool:
    return a is not None and search.digits(a) == search.digits(b)


async def _customer(data: RepairOrderCreate, known: dict[str, Any]) -> Customer:
    """The known customer (by id, or the last visit's when the phone is the same), updated from the
    write-up; a new row otherwise."""
    given: dict[Any, Any] = data.customer.model_dump()
    reuse = data.customer_id is not None or (
        known["id"] is not None and _same_phone(known["phone"], data.customer.phone)
    )
    if not reuse or known["customer_id"] is None:
        customer = Customer(**given)
        await customer.save()
        return customer
    customer = Customer(id=known["customer_id"], **given, _exists_in_db=True)
    if any(known[k] != given[k] for k in ("name", "phone", "language")):
        await Customer.update(given).where(Customer.id == known["customer_id"])
    return customer


async def _vehicle(data: RepairOrderCreate, known: dict[str, Any]) -> Vehicle:
    """The known vehicle updated from the write-up (a VIN, make, model, year or colour left empty
    keeps what was known); a new row when the plate is new."""
    given = data.vehicle.model_dump()
    if known["id"] is None:
        vehicle = Vehicle(**given)
        await vehicle.save()
        return vehicle
    merged: dict[Any, Any] = {k: known[k] if v in (None, "") else v for k, v in given.items()}
    if any(known[k] != merged[k] for k in merged):
        await Vehicle.update(merged).where(Vehicle.id == known["id"])
    return Vehicle(id=known["id"], **merged, _exists_in_db=True)


async def create(data: RepairOrderCreate, by: int) -> Outcome:
    """Write up a repair order: customer, vehicle, concerns, jobs with estimates, promise.

    A known vehicle (by `vehicle_id`, else by its plate) and customer (by `customer_id`, else the
    vehicle's last customer when the phone is the same) are reused and updated, so the history joins
    up. Jobs may be given to a technician at once and may carry forward declined work. Seven
    statements for a returning car (the number, what is known, the vehicle's update, the order,
    its jobs; a customer or vehicle changed or new adds one each); the reply is built from what was
    written (nothing is read back)."""
    at = now()
    workshop.check_promise(data.promised_at, at)
    number = await next_number(at)
    known = await _known(data)
    _check_mileage(data, known)
    people = await _assignees(data)
    carried = await _carried(data, data.vehicle.plate)
    customer = await _customer(data, known)
    vehicle = await _vehicle(data, known)
    nonce, token, token_hash = new_status_link()
    promised_at = data.promised_at.astimezone(UTC)  # as the database gives it back
    concerns = json.dumps(data.concerns, ensure_ascii=False)
    ro = RepairOrder(
        number=number,
        customer=customer.id,
        vehicle=vehicle.id,
        mileage=data.mileage,
        fuel_level=data.fuel_level,
        concerns=concerns,
        promised_at=promised_at,
        first_promised_at=promised_at,
        status_nonce=nonce,
        status_token_hash=token_hash,
        created_by=by,
        created_at=at,
    )
    await ro.save()
    jobs = []
    for given in data.jobs:
        job = _job(ro.id, given, False, at)
        if given.technician_id is not None:
            job.technician = given.technician_id
            job.state = workshop.assign(workshop.JobFacts(0, job.title, workshop.JobState(job.state))).value
        if given.carried_from_job_id is not None:
            # The words the customer was offered then, so they read the same work again.
            job.customer_text = carried[given.carried_from_job_id]["customer_text"] or ""
        jobs.append(job)
    if jobs:
        inserted = await Job.insert(*jobs).returning(Job.id)
        # Ids are given in VALUES order; RETURNING's own order is not promised.
        for job, job_id in zip(jobs, sorted(int(r["id"]) for r in inserted), strict=True):
            job.id = job_id
    job_rows = [
        {**job.to_dict(), "technician.name": people[job.technician]["name"] if job.technician else None}
        for job in jobs
    ]
    stage = workshop.stage(readmodels.job_facts(job_rows), ready=False, delivered=False)
    body = {
        "id": ro.id,
        "number": number,
        "stage": stage.value,
        "promised_at": promised_at,
        "first_promised_at": promised_at,
        "status_url": f"/s/{token}",
        "customer": {"name": customer.name, "phone": customer.phone, "language": customer.language},
        "vehicle": {
            "plate": vehicle.plate,
            "vin": vehicle.vin,
            "make": vehicle.make,
            "model": vehicle.model,
            "year": vehicle.year,
            "color": vehicle.color,
        },
        "mileage": data.mileage,
        "fuel_level": data.fuel_level,
        "concerns": json.loads(concerns),
        "jobs": [readmodels.job_out(row) for row in job_rows],
        "promise_history": [],
        "photos": [],
        "findings": [],
        "created_at": at,
        "ready_at": None,
        "delivered_at": None,
    }
    event = events.ro_created(ro.id, number, vehicle.plate, stage, [int(job.id) for job in jobs], by)
    # Jobs given out at write-up reach their technicians' tablets as any assignment does.
    assigned = [events.job_assigned(ro.id, out) for out in body["jobs"] if out["technician"]]
    return Outcome(201, as_json(body), [event, *assigned])


async def add_work(ro_id: int, job: JobIn, needs_approval: bool) -> tuple[dict[str, Any], list[NewEvent]]:
    """Add a job to a repair order (a recommendation when it needs the customer's approval)."""
    ro = await readmodels.require_repair_order(ro_id)
    before = await readmodels.current_stage(ro_id)
    workshop.can_add_work(before)
    at = now()
    row = _job(ro_id, job, needs_approval, at)
    await row.save()
    if ro["ready_at"] is not None:
        # New work on a car that was ready reopens it.
        await RepairOrder.update({RepairOrder.ready_at: None}).where(RepairOrder.id == ro_id)
    added = (await readmodels.jobs_of([ro_id]))[ro_id][-1]
    body = readmodels.job_out(added)
    out = [events.job_added(ro_id, body)]
    if needs_approval:
        out.append(events.approval_requested(ro_id, int(row.id), row.title, body["price"]))
    out += await stage_events(ro_id, before, [int(row.id)])
    return body, out


async def add_job(ro_id: int, data: JobCreate) -> Outcome:
    """Add a job; with needs_approval it is a recommendation the customer approves or declines."""
    body, out = await add_work(ro_id, data, data.needs_approval)
    return Outcome(201, body, out)


async def change_promise(ro_id: int, promised_at: datetime, reason: str, by: int) -> Outcome:
    """Move the promised time; the reason is required and the customer sees both at once."""
    ro = await readmodels.require_repair_order(ro_id)
    at = now()
    reason = workshop.change_promise(
        ro["promised_at"], promised_at, reason, at, await readmodels.current_stage(ro_id)
    )
    await PromiseChange(
        repair_order=ro_id,
        previous_at=ro["promised_at"],
        promised_at=promised_at,
        reason=reason,
        changed_at=at,
        changed_by=by,
    ).save()
    await RepairOrder.update({RepairOrder.promised_at: promised_at}).where(RepairOrder.id == ro_id)
    body = await readmodels.repair_order(ro_id)
    event = events.promise_changed(ro_id, promised_at, ro["promised_at"], reason, by)
    return Outcome(200, as_json(body), [event])


async def mark_ready(ro_id: int, at: datetime | None = None) -> Outcome:
    """Ready for pick-up: only when every approved job passed QC (else a Conflict naming what is open).

    `at` is for the demo's history; a person's tap is ready now."""
    ro = await readmodels.require_repair_order(ro_id)
    jobs = (await readmodels.jobs_of([ro_id]))[ro_id]
    before = readmodels.stage_of(ro, jobs)
    workshop.mark_ready(readmodels.job_facts(jobs), before)
    await RepairOrder.update({RepairOrder.ready_at: at or now()}).where(RepairOrder.id == ro_id)
    body = await readmodels.repair_order(ro_id)
    return Outcome(200, as_json(body), await stage_events(ro_id, before))


async def deliver(ro_id: int) -> Outcome:
    """Hand the car over (from ready). The status link stays open for the follow-up survey."""
    before = await readmodels.current_stage(ro_id)  # NotFound when there is no such order
    workshop.deliver(before)
    at = now()
    await RepairOrder.update({RepairOrder.delivered_at: at}).where(RepairOrder.id == ro_id)
    body = await readmodels.repair_order(ro_id)
    # The follow-up call (回访) opens in the same command as the delivery.
    return Outcome(
        200, as_json(body), [*await stage_events(ro_id, before), *await followups.open_for(ro_id, at)]
    )


async def edit(ro_id: int, data: RepairOrderEdit, by: int) -> Outcome:
    """Correct what may still change before delivery: customer, vehicle (not its plate), concerns,
    and mileage and fuel until the customer signs the walk-around. Only the fields sent change; a
    field sent with its current value is no change (so a whole form may be sent back), and a
    request that changes nothing answers the order without an event."""
    ro = await readmodels.require_repair_order(ro_id)
    workshop.check_editable(await readmodels.current_stage(ro_id))
    changed: list[str] = []
    order_changes: dict[Any, Any] = {}
    sent = data.model_dump(exclude_unset=True)
    if sent.get("mileage") is None:
        sent.pop("mileage", None)  # an order always has its mileage in: null is no change
    for name, column in (("mileage", RepairOrder.mileage), ("fuel_level", RepairOrder.fuel_level)):
        if name in sent and sent[name] != ro[name]:
            order_changes[column] = sent[name]
            changed.append(name)
    if changed:
        signed = await Walkaround.select(Walkaround.signed_at).where(Walkaround.repair_order == ro_id).first()
        workshop.check_check_in_open(signed["signed_at"] if signed else None)
    if "concerns" in sent and sent["concerns"] is not None and sent["concerns"] != json.loads(ro["concerns"]):
        order_changes[RepairOrder.concerns] = json.dumps(sent["concerns"], ensure_ascii=False)
        changed.append("concerns")
    changed += await _edit_row(Customer, ro["customer"], "customer", sent.get("customer") or {})
    changed += await _edit_row(Vehicle, ro["vehicle"], "vehicle", sent.get("vehicle") or {})
    if order_changes:
        await RepairOrder.update(order_changes).where(RepairOrder.id == ro_id)
    body = await readmodels.repair_order(ro_id)
    assert body is not None
    out = [events.ro_updated(ro_id, changed, body, by)] if changed else []
    return Outcome(200, as_json(body), out)


async def _edit_row(
    table: type[Customer] | type[Vehicle], row_id: int, prefix: str, sent: dict[str, Any]
) -> list[str]:
    """Write the fields of `sent` that differ on the customer's or vehicle's row; their names."""
    if not sent:
        return []
    current = await table.select().where(table._meta.primary_key == row_id).first()
    assert current is not None  # an order's customer and vehicle always exist
    changes: dict[Column | str, Any] = {}
    names = []
    for name, value in sent.items():
        if name in ("name", "phone", "language") and value is None:
            continue  # a customer keeps a name, a phone and a language
        if value is None and name in ("make", "model", "color"):
            value = ""
        if current[name] != value:
            changes[table._meta.get_column_by_name(name)] = value
            names.append(f"{prefix}.{name}")
    if changes:
        await table.update(changes).where(table._meta.primary_key == row_id)
    return names
