"""Who may do what: one table of role × operation, deny by default. No web imports."""

from __future__ import annotations

# customer_care (客服专员): calls customers after delivery and handles complaints (PRODUCT.md); reads
# orders and vehicle histories, changes nothing in the workshop.
ROLES = ("advisor", "technician", "foreman", "manager", "customer_care")

_OFFICE = frozenset({"advisor", "foreman", "manager"})
_MANAGER = frozenset({"manager"})
_FLOOR = frozenset({"technician", "foreman"})  # people who clock time on jobs
_READERS = _OFFICE | {"customer_care"}  # who looks orders and vehicles up

POLICY: dict[str, frozenset[str]] = {
    "ro.create": _OFFICE,
    "ro.list": _OFFICE,
    "ro.read": _READERS,
    "ro.search": _READERS,
    "vehicle.history": _READERS,
    "ro.add_job": _OFFICE,
    "ro.promise": _OFFICE,
    "ro.ready": _OFFICE,
    "ro.deliver": _OFFICE,
    "job.assign": _OFFICE,
    "dispatch.read": _OFFICE,
    # Parts lines on jobs (配件): the office adds and orders them and records arrival; the person at
    # the car records a part as fitted.
    "part.edit": _OFFICE,
    "part.fit": _OFFICE | _FLOOR,
    # Hand-over and settlement (交车 / 结算); a discount above the shop's threshold needs a manager.
    "ro.handover": _OFFICE,
    "ro.print": _OFFICE,
    "discount.approve": _MANAGER,
    "shop.settings": _MANAGER,
    # The follow-up call after delivery (回访): customer care's work; advisors and managers may call too.
    "care.read": frozenset({"customer_care", "advisor", "manager"}),
    "care.call": frozenset({"customer_care", "advisor", "manager"}),
    "job.clock": _FLOOR,
    "job.qc": _OFFICE,
    "qc.read": _OFFICE,
    "me.jobs": _FLOOR,
    "attendance.clock": _FLOOR,
    "attendance.read": frozenset({"foreman", "manager"}),
    "clock.confirm": _FLOOR,
    # Technicians only their own auto-stopped, unconfirmed entries (checked in the route).
    "clock.correct": frozenset({"technician", "foreman", "manager"}),
    # Clock taps flagged as late or out of place (api.clockbook.REVIEW_FLAGS): never one's own.
    "clock.review": frozenset({"foreman", "manager"}),
    "finding.add": _FLOOR,
    "finding.recommend": _OFFICE,
    "photo.add": frozenset({"advisor", "technician", "foreman", "manager"}),
    "photo.read": frozenset({"advisor", "technician", "foreman", "manager", "customer_care"}),
    # The damage map, the signature, and walk-around photos: they are part of what the customer signs.
    "walkaround.edit": _OFFICE,
    "staff.list": frozenset({"foreman", "manager"}),
    "staff.create": _MANAGER,
    "staff.unlock": _MANAGER,
    "staff.edit": _MANAGER,  # deactivate, reactivate, reset a PIN
}


# A photo of these kinds is part of another record: adding one is changing that record.
PHOTO_KIND_OPERATIONS: dict[str, str] = {"walkaround": "walkaround.edit"}


def photo_operation(kind: str) -> str:
    """The operation that adding a photo of `kind` needs (beyond `photo.add`, the route's guard)."""
    return PHOTO_KIND_OPERATIONS.get(kind, "photo.add")


def allowed(role: str, operation: str) -> bool:
    """True when `role` may perform `operation`; unknown roles and operations are denied."""
    return role in POLICY.get(operation, frozenset())
