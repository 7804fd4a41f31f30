"""`python -m api demo`: a realistic demo workshop for someone evaluating Bayline.

Staff with known PINs, and repair orders in every stage, written through the command path so
the event log (and later the live board and KPIs) sees them like real work.
"""

from __future__ import annotations

import json
from datetime import timedelta

from api import auth, db, shop, workshop
from api.commands import NewEvent, Outcome, execute, now
from api.staff import create_staff
from api.tables import ClockEntry, Customer, Job, QcRecord, RepairOrder, Shop, Staff, Vehicle

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


async def _fill() -> str:
    if await Staff.exists().where(Staff.username == "wang.min"):
        return "The demo workshop is already there (sign in as any demo person below).\n" + _pins()

    async def handler() -> Outcome:
        at = now()
        if not await Shop.exists():
            await Shop(
                name="Bayline 演示店 Demo Motors", timezone="Asia/Shanghai", language="zh-CN", created_at=at
            ).save()
        people = {}
        for username, name, role, pin in STAFF:
            people[username] = await create_staff(username, name, role, auth.hash_pin(pin))
        techs = [people["liu.yang"], people["sun.hao"], people["zhou.qiang"]]
        events = []
        for n, (cust, phone, plate, make, model, color, km, concerns, jobs, story) in enumerate(ORDERS):
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
                number=await shop.next_ro_number(checked_in),
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
                ready_at=at - timedelta(minutes=10) if story == "ready" else None,
            )
            await ro.save()
            tech = techs[n % len(techs)]
            for title, hours, price in jobs:
                state = {
                    "checked_in": workshop.JobState.ASSIGNED,
                    "in_progress": workshop.JobState.IN_PROGRESS,
                    "quality_check": workshop.JobState.FINISHED,
                    "ready": workshop.JobState.QC_PASSED,
                    "recommendation": workshop.JobState.PAUSED,
                }[story]
                job = Job(
                    repair_order=ro.id,
                    title=title,
                    estimated_minutes=int(hours * 60),
                    price_cents=price * 100,
                    needs_approval=False,
                    approval=None,
                    state=state.value,
                    technician=tech.id,
                    created_at=checked_in,
                )
                await job.save()
                if state is not workshop.JobState.ASSIGNED:
                    running = state is workshop.JobState.IN_PROGRESS and title == jobs[0][0]
                    await ClockEntry(
                        job=job.id,
                        technician=tech.id,
                        started_at=checked_in + timedelta(minutes=30),
                        ended_at=None if running else at - timedelta(minutes=40),
                        reason=None if running else "finished",
                    ).save()
                if state is workshop.JobState.QC_PASSED:
                    await QcRecord(
                        job=job.id,
                        signer=people["zhao.lei"].id,
                        passed=True,
                        items=json.dumps([{"name": "Work done to standard", "result": "pass"}]),
                        signed_at=at - timedelta(minutes=15),
                    ).save()
            if story == "recommendation":
                extra = Job(
                    repair_order=ro.id,
                    title="Replace door check strap 更换车门限位器",
                    estimated_minutes=48,
                    price_cents=36000,
                    needs_approval=True,
                    approval="pending",
                    state="recommended",
                    created_at=at,
                )
                await extra.save()
                events.append(
                    NewEvent("approval.requested", ro.id, {"job_id": extra.id, "title": extra.title})
                )
            events.append(NewEvent("ro.created", ro.id, {"number": ro.number, "plate": plate, "demo": True}))
        return Outcome(201, {}, events)

    await execute(handler, actor="demo")
    return "Demo workshop created. Sign in as:\n" + _pins()


def _pins() -> str:
    return "\n".join(f"  {name:<22} {role:<11} username {u:<11} PIN {pin}" for u, name, role, pin in STAFF)


async def fill() -> str:
    """Create the demo workshop once (a second run changes nothing and says so)."""
    return await db.with_engine(_fill)
