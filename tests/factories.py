"""Factories with meaningful defaults: staff, signed-in clients, repair-order bodies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import httpx
from argon2 import PasswordHasher

from api import auth, workshop
from api.commands import Outcome, execute
from api.events import NewEvent
from api.staff import create_staff

PIN = "4826"
_counter = itertools.count(1)


@lru_cache(maxsize=1)
def pin_hash() -> str:
    """The shared test PIN, hashed once with argon2id's cheapest settings.

    argon2 is slow on purpose (64 MiB and a fraction of a second per check), and a sign-in verifies
    with the settings stored in the hash: with the app's own settings every factory-made sign-in cost
    that, minutes of the suite. PINs typed in the tests themselves (setup, adding a person, choosing a
    PIN) still go through auth.hash_pin with the app's settings."""
    return PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(auth._peppered(PIN))


async def make_staff(
    role: str = "advisor", username: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """A staff member with PIN `PIN`, created through the command path like any other."""
    n = next(_counter)
    username = username or f"{role}{n}"
    name = name or f"Test {role.title()} {n}"

    async def handler() -> Outcome:
        row = await create_staff(username, name, role, pin_hash())
        return Outcome(201, {"id": row.id}, [NewEvent("staff.added", None, {"staff_id": row.id})])

    reply = await execute(handler, actor="test")
    return {"id": reply.body["id"], "username": username, "name": name, "role": role}


def client(app: Any) -> httpx.AsyncClient:
    """An in-process HTTP client with its own cookie jar (one per 'tablet')."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    """A fresh browser (own cookie jar) connecting from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def signed_in(app: Any, role: str = "advisor", **kw: Any) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    """A client signed in as a new staff member of `role`, with its CSRF header set."""
    person = await make_staff(role, **kw)
    c = client(app)
    r = await c.post("/api/auth/login", json={"username": person["username"], "pin": PIN})
    assert r.status_code == 200, r.text
    c.headers["x-csrftoken"] = c.cookies["csrftoken"]
    return c, person


def vin(prefix: str = "LSVAB2C3D4E5F6G7") -> str:
    body = prefix[:8] + "0" + prefix[8:16]
    return body[:8] + workshop.vin_check_digit(body) + body[9:]


def in_hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def tapped(at: datetime, **body: Any) -> dict[str, Any]:
    """A clock or attendance tap made at `at` on a tablet whose clock is right, sent now (e.g. after
    a time offline): no skew for the server to correct."""
    return {**body, "device_time": at.isoformat(), "device_sent_at": datetime.now(UTC).isoformat()}


def ro_body(**overrides: Any) -> dict[str, Any]:
    """A realistic repair-order write-up."""
    body: dict[str, Any] = {
        "customer": {"name": "张伟", "phone": "13800138000", "language": "zh-CN"},
        "vehicle": {
            "plate": "沪A12345",
            "vin": vin(),
            "make": "Volkswagen",
            "model": "Passat",
            "year": 2020,
            "color": "white",
        },
        "mileage": 45210,
        "fuel_level": 4,
        "concerns": ["保养到期", "空调有异味"],
        "promised_at": in_hours(4),
        "jobs": [
            {"title": "Minor service", "estimated_hours": 1.5, "price": 480},
            {"title": "A/C cleaning", "estimated_hours": 0.5},
        ],
    }
    body.update(overrides)
    return body
