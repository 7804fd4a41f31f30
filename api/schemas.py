"""Request and response models (written by hand: Piccolo's generated ones break OpenAPI)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from api import inputs, workshop

Language = Literal["zh-CN", "en"]
Role = Literal["advisor", "technician", "foreman", "manager"]

Text80 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9._-]{2,40}$"),
]
Hours = Annotated[Decimal, Field(ge=0, le=200, decimal_places=2)]
Money = Annotated[Decimal, Field(ge=0, le=10_000_000, decimal_places=2)]


class Strict(BaseModel):
    """The base of every request body: unknown fields refused, and every value storable.

    The check runs on each field's parsed value, nested lists and dicts included (nested models
    check themselves), so a new field or model cannot forget it: NUL characters (PostgreSQL text
    cannot hold them), integers past 64 bits, times without an offset or outside 1970–2099
    (api/inputs.py says why).
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable(cls, value: object) -> object:
        message = inputs.problem(value)
        if message:
            raise ValueError(message)
        return value


def coded(exc: workshop.DomainError) -> PydanticCustomError:
    """A domain refusal inside a validator, keeping its code and params (api/errors.py reads them)."""
    code, params = exc.extra.get("code"), exc.extra.get("params")
    return PydanticCustomError(str(code), exc.message, params if isinstance(params, dict) else None)


def _pin(value: str) -> str:
    if not re.fullmatch(r"[0-9]{4,8}", value):
        raise PydanticCustomError("pin.format", "A PIN is 4 to 8 digits (0–9 only).")
    return value


class LoginIn(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    pin: str

    _check_pin = field_validator("pin")(_pin)


class StaffOut(BaseModel):
    id: int
    username: str
    name: str
    role: Role


class UserOut(BaseModel):
    user: StaffOut


class StaffListItem(StaffOut):
    locked_until: datetime | None = None


class StaffCreate(Strict):
    username: Username
    name: Text80
    role: Role
    pin: str

    _check_pin = field_validator("pin")(_pin)


class SetupManager(Strict):
    username: Username
    name: Text80
    pin: str

    _check_pin = field_validator("pin")(_pin)


class SetupIn(Strict):
    shop_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    timezone: str
    language: Language = "zh-CN"
    manager: SetupManager


class CustomerIn(Strict):
    name: Text80
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{5,20}$")]
    language: Language = "zh-CN"


class VehicleIn(Strict):
    plate: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=16)]
    vin: str | None = None
    make: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    model: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] = ""
    year: int | None = Field(default=None, ge=1950, le=2100)
    color: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)] = ""

    @field_validator("plate")
    @classmethod
    def _plate(cls, value: str) -> str:
        return re.sub(r"[\s·.-]", "", value).upper()

    @field_validator("vin")
    @classmethod
    def _vin(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return workshop.normalize_vin(value)
        except workshop.Invalid as exc:
            raise coded(exc) from None


class JobIn(Strict):
    title: Title
    estimated_hours: Hours
    price: Money | None = None


class JobCreate(JobIn):
    needs_approval: bool = False


class RepairOrderCreate(Strict):
    customer: CustomerIn
    vehicle: VehicleIn
    mileage: int = Field(ge=0, le=2_000_000)
    fuel_level: int | None = Field(default=None, ge=0, le=8, description="eighths of a tank")
    concerns: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]] = (
        Field(default_factory=list, max_length=30)
    )
    promised_at: datetime  # with a UTC offset (Strict)
    jobs: list[JobIn] = Field(default_factory=list, max_length=60)


class PromiseIn(Strict):
    promised_at: datetime  # with a UTC offset (Strict)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


class JobOut(BaseModel):
    id: int
    title: str
    state: str
    approval: str | None
    needs_approval: bool
    estimated_hours: float
    price: float | None
    technician: dict[str, object] | None
    rework_count: int


class PromiseOut(BaseModel):
    promised_at: datetime
    previous_at: datetime
    reason: str
    at: datetime


class RepairOrderOut(BaseModel):
    id: int
    number: str
    stage: str
    promised_at: datetime
    first_promised_at: datetime
    status_url: str
    customer: dict[str, object]
    vehicle: dict[str, object]
    mileage: int
    fuel_level: int | None
    concerns: list[str]
    jobs: list[JobOut]
    promise_history: list[PromiseOut]
    photos: list[dict[str, object]]
    findings: list[dict[str, object]] = []  # technicians' findings, each with its photos
    created_at: datetime
    ready_at: datetime | None
    delivered_at: datetime | None


class RepairOrderList(BaseModel):
    items: list[RepairOrderOut]


class DeviceTimes(Strict):
    """When a tap happened and when it was sent, both on the tablet's own clock (optional): the
    clock and attendance taps (api/routes/jobs.py, api/routes/attendance.py)."""

    device_time: datetime | None = Field(default=None, description="the tablet's clock when tapped")
    device_sent_at: datetime | None = Field(
        default=None, description="the tablet's clock when sent: corrects a wrong tablet clock"
    )
