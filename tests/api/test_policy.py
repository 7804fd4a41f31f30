"""Roles × operations: every guarded route answers exactly as the policy table says."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from PIL import Image

from api.policy import POLICY, ROLES
from tests.factories import client, make_staff, ro_body, signed_in

# One request per operation. Bodies are empty on purpose: a permitted role then gets 422/404,
# a refused one 403 before the body is read.
REQUESTS: dict[str, tuple[str, str]] = {
    "ro.create": ("POST", "/api/repair-orders"),
    "ro.list": ("GET", "/api/repair-orders"),
    "ro.read": ("GET", "/api/repair-orders/999999"),
    "ro.add_job": ("POST", "/api/repair-orders/999999/jobs"),
    "ro.promise": ("POST", "/api/repair-orders/999999/promise"),
    "ro.ready": ("POST", "/api/repair-orders/999999/ready"),
    "ro.deliver": ("POST", "/api/repair-orders/999999/deliver"),
    "job.assign": ("POST", "/api/jobs/999999/assign"),
    "job.clock": ("POST", "/api/jobs/999999/clock-on"),
    "job.qc": ("POST", "/api/jobs/999999/qc"),
    "qc.read": ("GET", "/api/qc/queue"),
    "me.jobs": ("GET", "/api/me/jobs"),
    "attendance.clock": ("POST", "/api/attendance/clock-out"),
    "attendance.read": ("GET", "/api/attendance/day"),
    "clock.confirm": ("POST", "/api/clock-entries/999999/confirm"),
    "clock.correct": ("POST", "/api/clock-entries/999999/correct"),
    "clock.review": ("GET", "/api/clock-entries/review"),
    "finding.add": ("POST", "/api/jobs/999999/findings"),
    "finding.recommend": ("POST", "/api/findings/999999/recommend"),
    "photo.add": ("POST", "/api/repair-orders/999999/photos"),
    "photo.read": ("GET", "/api/photos/999999"),
    "walkaround.edit": ("PUT", "/api/repair-orders/999999/walkaround"),
    "staff.list": ("GET", "/api/staff"),
    "staff.create": ("POST", "/api/staff"),
    "staff.unlock": ("POST", "/api/staff/999999/unlock"),
    "staff.edit": ("POST", "/api/staff/999999/deactivate"),
    "ro.search": ("GET", "/api/search?q=abc"),
    "vehicle.history": ("GET", "/api/vehicles/999999/history"),
    "dispatch.read": ("GET", "/api/dispatch"),
    "part.edit": ("POST", "/api/jobs/999999/parts"),
    "part.fit": ("POST", "/api/parts/999999/fitted"),
    "ro.handover": ("POST", "/api/repair-orders/999999/handover"),
    "ro.print": ("GET", "/print/repair-orders/999999"),
    "discount.approve": ("POST", "/api/repair-orders/999999/settlement/approve-discount"),
    "shop.settings": ("PUT", "/api/shop/settings"),
    "care.read": ("GET", "/api/follow-ups?view=due"),
    "care.call": ("POST", "/api/follow-ups/999999/calls"),
}


def test_every_guarded_route_is_in_the_policy_and_the_matrix(app: Any) -> None:
    guarded = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for guard in handler.guards or []:
                op = getattr(guard, "operation", None)
                if op:
                    guarded[op] = handler
    assert set(guarded) == set(POLICY) == set(REQUESTS)


async def test_role_matrix(app: Any, clean: None) -> None:
    checked = 0
    for role in ROLES:
        c, _ = await signed_in(app, role)
        async with contextlib.aclosing(c):
            for op, (method, path) in REQUESTS.items():
                r = await c.request(method, path, json={} if method in ("POST", "PUT") else None)
                allowed = role in POLICY[op]
                assert (r.status_code != 403) == allowed, (role, op, r.status_code, r.text)
                if not allowed:
                    assert role in r.json()["detail"]
                checked += 1
    assert checked == len(ROLES) * len(POLICY)


async def test_anonymous_gets_401_everywhere(app: Any, clean: None) -> None:
    await make_staff("manager")
    async with client(app) as c:
        for method, path in REQUESTS.values():
            r = await c.request(method, path, json={} if method in ("POST", "PUT") else None)
            assert r.status_code == 401, (path, r.status_code)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 90, 160)).save(out, "JPEG")
    return out.getvalue()


async def test_walkaround_photos_follow_the_policy(app: Any, clean: None) -> None:
    """A walk-around photo is part of the walk-around: who may add one is who may edit the walk-around
    (other photo kinds stay `photo.add`)."""
    office, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(office):
        r = await office.post("/api/repair-orders", json=ro_body())
        assert r.status_code == 201, r.text
        ro = r.json()
    for role in ROLES:
        c, _ = await signed_in(app, role)
        async with contextlib.aclosing(c):
            for kind, op in (("walkaround", "walkaround.edit"), ("qc", "photo.add")):
                r = await c.post(
                    f"/api/repair-orders/{ro['id']}/photos",
                    files={"file": ("p.jpg", _jpeg(), "image/jpeg")},
                    data={"kind": kind},
                )
                allowed = role in POLICY[op]
                assert r.status_code == (201 if allowed else 403), (role, kind, r.status_code, r.text)
                if not allowed:
                    assert role in r.json()["detail"]
