"""`python -m api demo`: a realistic demo workshop for someone evaluating Bayline.

Staff with known PINs, and repair orders in every stage, written through the command path so
the event log (and later the live board and KPIs) sees them like real work. The orders are written
here (checked in hours ago, one promised for a time already past, which no write-up allows); from
there on everything goes through the very use cases a tablet's taps do, with the demo's times:
assignment, working days, job clocks, recommended work, QC and ready. So the clock history is whole
and the demo's entries can be switched, confirmed, corrected and ended like any.

It fills an empty database only: on a shop in use it would add a manager whose PIN it prints.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

from api import attendance, auth, clock, clockstore, db, events, jobs, qc, repair_orders, workshop
from api.commands import Outcome, execute, now
from api.events import NewEvent
from api.schemas import JobIn
from api.staff import create_staff
from api.tables import Customer, Event, Job, RepairOrder, Shop, Staff, Vehicle

ACTOR = "demo"  # the events' actor: how a second run knows the demo is there already

STAFF = [
    ("wang.min", "王敏 Wang Min", "manager", "4826"),
    ("li.na", "李娜 Li Na", "advisor", "3917"),
    ("chen.jie", "陈杰 Chen Jie", "advisor", "5063"),
    ("zhao.lei", "赵磊 Zhao Lei", "foreman", "7248"),
    ("liu.yang", "刘洋 Liu Yang", "technician", "6391"),
    ("sun.hao", "孙浩 Sun Hao", "technician", "8052"),
    ("zhou.qiang", "周强 Zhou Qiang", "technician", "2749"),
]


def _vin(prefix: str) -> str:
    """A valid VIN from 16 chosen characters (the check digit is computed, as a factory would)."""
    body = prefix[:8] + "0" + prefix[8:16]
    return body[:8] + workshop.vin_check_digit(body) + body[9:]


# (customer, phone, plate, make, model, colour, mileage, concerns, jobs, what happened so far)
ORDERS = [
    (
        "张伟",
        "13800138001",
        "沪A12345",
        "Volkswagen",
        "Passat",
        "white",
        45210,
        ["保养到期", "空调有异味"],
        [("Minor service 小保养", 1.0, 480), ("A/C cleaning 空调清洗", 0.5, 180)],
        "checked_in",
    ),
    (
        "Emma Clarke",
        "13900139002",
        "沪B67890",
        "BMW",
        "325Li",
        "black",
        28760,
        ["Squeak from front left when braking"],
        [("Front brake pads 前刹车片", 1.5, 1280)],
        "in_progress",
    ),
    (
        "王芳",
        "13700137003",
        "苏E88888",
        "Toyota",
        "Camry",
        "silver",
        80320,
        ["发动机故障灯亮", "怠速抖动"],
        [("Diagnose engine light 故障诊断", 1.0, 300), ("Spark plugs 火花塞", 0.8, 560)],
        "quality_check",
    ),
    (
        "刘洋洋",
        "13600136004",
        "沪C24680",
        "Honda",
        "CR-V",
        "blue",
        60125,
        ["Tyre pressure warning"],
        [("Tyre rotation 轮胎换位", 0.5, 120)],
        "ready",
    ),
    (
        "陈静",
        "13500135005",
        "浙A13579",
        "Buick",
        "GL8",
        "grey",
        102400,
        ["右后门异响"],
        [("Rear door rattle 后门异响", 1.2, 400)],
        "recommendation",
    ),
]

# What each story's technician did, in minutes before the demo is made: (job, start, stop, reason).
# One technician's clocks never overlap (Sun Hao paused the door for approval before the brakes).
TAPS: dict[str, list[tuple[int, int, int | None, str | None]]] = {
    "in_progress": [(0, 45, None, None)],
    "quality_check": [(0, 120, 85, "finished"), (1, 80, 40, "finished")],
    "ready": [(0, 100, 70, "finished")],
    "recommendation": [(0, 70, 50, "waiting_approval")],
}
DAY_STARTED = timedelta(hours=3, minutes=10)  # "Start my day" of each technician, before any job
QC_SIGNED = timedelta(minutes=15)
READY = timedelta(minutes=10)


async def create() -> str:
    """Fill the demo workshop into an empty database (the engine is running). A second run finds
    its own demo and changes nothing; a database in use is refused with workshop.Conflict."""

    async def handler() -> Outcome:
        at = now()
        staff = await Staff.count()
        orders = await RepairOrder.count()
        if staff or orders:
            if await Event.exists().where(Event.actor == ACTOR):
                return Outcome(200, {"created": False})
            raise workshop.Conflict(
                f"This database is in use ({staff} staff, {orders} repair orders): the demo fills only "
                "an empty database; give it a new DATA_DIR (or DATABASE_URL).",
                code="demo.shop_in_use",
            )
        if not await Shop.exists():
            await Shop(
                name="Bayline 演示店 Demo Motors", timezone="Asia/Shanghai", language="zh-CN", created_at=at
            ).save()
        people = {}
        for username, name, role, pin in STAFF:
            people[username] = await create_staff(username, name, role, auth.hash_pin(pin))
        techs = [people["liu.yang"], people["sun.hao"], people["zhou.qiang"]]
        announced: list[NewEvent] = []
        for person in techs:
            announced += (await attendance.start_day(int(person.id), at - DAY_STARTED, now())).events
        for n, (cust, phone, plate, make, model, color, km, concerns, work, story) in enumerate(ORDERS):
            customer = Customer(name=cust, phone=phone, language="en" if cust.isascii() else "zh-CN")
            await customer.save()
            vehicle = Vehicle(
                plate=plate,
                vin=_vin(f"LSV{n}A2B3C4D5E6FG"),
                make=make,
                model=model,
                year=2019 + n,
                color=color,
            )
            await vehicle.save()
            nonce, _, token_hash = auth.new_status_link()
            checked_in = at - timedelta(hours=3 - n * 0.4)
            promised = at + timedelta(hours=1 + n) if story != "in_progress" else at - timedelta(minutes=20)
            ro = RepairOrder(
                # Numbered by the shop's day like any order, so the first real one never collides.
                number=await repair_orders.next_number(checked_in),
                customer=customer.id,
                vehicle=vehicle.id,
                mileage=km,
                fuel_level=(n * 3) % 9,
                concerns=json.dumps(concerns, ensure_ascii=False),
                promised_at=promised,
                first_promised_at=promised,
                status_nonce=nonce,
                status_token_hash=token_hash,
                created_by=people["li.na"].id,
                created_at=checked_in,
            )
            await ro.save()
            job_ids = []
            for title, hours, price in work:
                state, approval = workshop.new_job(needs_approval=False)
                job = Job(
                    repair_order=ro.id,
                    title=title,
                    estimated_minutes=int(hours * 60),
                    price_cents=price * 100,
                    needs_approval=False,
                    approval=approval,
                    state=state.value,
                    created_at=checked_in,
                )
                await job.save()
                job_ids.append(int(job.id))
            advisor = int(people["li.na"].id)
            stage = workshop.Stage.CHECKED_IN
            announced.append(events.ro_created(ro.id, ro.number, plate, stage, job_ids, advisor))
            tech = int(techs[n % len(techs)].id)
            for job_id in job_ids:
                announced += (await jobs.assign(job_id, tech)).events
            for index, started, stopped, reason in TAPS.get(story, []):
                announced += await _clock(tech, job_ids[index], at, started, stopped, reason)
            if story == "ready":
                announced += await _pass_qc_and_ready(ro.id, job_ids, int(people["zhao.lei"].id), at)
            if story == "recommendation":
                extra = JobIn(
                    title="Replace door check strap 更换车门限位器",
                    estimated_hours=Decimal("0.8"),
                    price=Decimal(360),
                )
                announced += (await repair_orders.add_work(ro.id, extra, needs_approval=True))[1]
        return Outcome(201, {"created": True}, announced)

    reply = await execute(handler, actor=ACTOR)
    if not reply.body["created"]:
        return "The demo workshop is already there (sign in as any demo person below).\n" + _pins()
    return "Demo workshop created. Sign in as:\n" + _pins()


async def _clock(
    tech: int, job_id: int, at: datetime, started: int, stopped: int | None, reason: str | None
) -> list[NewEvent]:
    """A start (and a stop) as the technician's tablet sends them: tapped then, sent now."""
    tapped = at - timedelta(minutes=started)
    announced = (
        await clock.start_job(
            tech, job_id, key=clockstore.new_key(), device_time=tapped, sent=now(), switch=True, actor=ACTOR
        )
    ).events
    if stopped is not None:
        assert reason is not None
        tapped = at - timedelta(minutes=stopped)
        stop = await clock.stop_job(
            tech, job_id, reason, key=clockstore.new_key(), device_time=tapped, sent=now(), actor=ACTOR
        )
        announced += stop.events
    return announced


async def _pass_qc_and_ready(ro_id: int, job_ids: list[int], checker: int, at: datetime) -> list[NewEvent]:
    """The foreman passes each job's quality check, then the car is ready (by the workshop's rules)."""
    announced = []
    for job_id in job_ids:
        items = [{"item_id": None, "name": "Work done to standard", "result": "pass", "note": ""}]
        announced += (await qc.check(job_id, checker, items, at=at - QC_SIGNED)).events
    announced += (await repair_orders.mark_ready(ro_id, at=at - READY)).events
    return announced


def _pins() -> str:
    return "\n".join(f"  {name:<22} {role:<11} username {u:<11} PIN {pin}" for u, name, role, pin in STAFF)


async def fill() -> str:
    """`python -m api demo`: create() with the engine prepared (the pool on PostgreSQL)."""
    return await db.with_engine(create)
