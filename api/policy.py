"""Who may do what: one table of role × operation, deny by default. No web imports."""

from __future__ import annotations

ROLES = ("advisor", "technician", "foreman", "manager")

_OFFICE = frozenset({"advisor", "foreman", "manager"})
_MANAGER = frozenset({"manager"})

POLICY: dict[str, frozenset[str]] = {
    "ro.create": _OFFICE,
    "ro.list": _OFFICE,
    "ro.read": _OFFICE,
    "ro.add_job": _OFFICE,
    "ro.promise": _OFFICE,
    "ro.ready": _OFFICE,
    "ro.deliver": _OFFICE,
    "job.assign": _OFFICE,
    "job.clock": frozenset({"technician", "foreman"}),
    "job.qc": _OFFICE,
    "photo.add": frozenset({"advisor", "technician", "foreman", "manager"}),
    "photo.read": frozenset({"advisor", "technician", "foreman", "manager"}),
    "walkaround.edit": _OFFICE,
    "staff.list": frozenset({"foreman", "manager"}),
    "staff.create": _MANAGER,
    "staff.unlock": _MANAGER,
}


def allowed(role: str, operation: str) -> bool:
    """True when `role` may perform `operation`; unknown roles and operations are denied."""
    return role in POLICY.get(operation, frozenset())
