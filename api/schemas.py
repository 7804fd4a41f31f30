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
# The roles of api.policy.ROLES (customer care, 客服专员, reads orders and histories).
Role = Literal["advisor", "technician", "foreman", "manager", "customer_care"]

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
    active: bool = True
    pin_pending: bool = False  # still to choose their own PIN after a one-time one


def _pin_or_none(value: str | None) -> str | None:
    return None if value is None else _pin(value)


class StaffCreate(Strict):
    username: Username
    name: Text80
    role: Role
    # None: the person chooses their own at first sign-in, after a one-time PIN (api/staff.py).
    pin: str | None = None

    _check_pin = field_validator("pin")(_pin_or_none)


class PinResetIn(Strict):
    """A manager's PIN reset: a PIN they set, or none (a one-time PIN, the person chooses)."""

    pin: str | None = None

    _check_pin = field_validator("pin")(_pin_or_none)


class PinChoiceIn(Strict):
    """The person's own PIN, chosen after signing in with a one-time PIN."""

    pin: str

    _check_pin = field_validator("pin")(_pin)


class ShopSettingsIn(Strict):
    """A manager's change of the shop's settings: fields left out stay as they are. The numbers'
    ranges are the domain's (api/shop.py), each with its own code."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None = None
    language: Language | None = None
    opens: str | None = None
    closes: str | None = None
    open_days: str | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    tax_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    labour_rate_fen: int | None = None
    tax_rate_bp: int | None = None
    discount_threshold_fen: int | None = None
    ready_rule: str | None = None
    next_service_months: int | None = None
    next_service_km: int | None = None


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


class WriteUpJob(JobIn):
    """A job as written up: optionally given to a technician at once, or carried forward from work
    the customer declined on an earlier visit."""

    technician_id: int | None = Field(default=None, ge=1, le=inputs.MAX_INT, description="assign at write-up")
    carried_from_job_id: int | None = Field(
        default=None, ge=1, le=inputs.MAX_INT, description="a declined recommendation of an earlier visit"
    )


class RepairOrderCreate(Strict):
    customer: CustomerIn
    vehicle: VehicleIn
    vehicle_id: int | None = Field(
        default=None, ge=1, description="a known vehicle: reused, its details updated"
    )
    customer_id: int | None = Field(
        default=None, ge=1, description="a known customer: reused, details updated"
    )
    mileage_confirmed: bool = Field(
        default=False, description="the mileage is below the known vehicle's last one, and that is right"
    )
    mileage: int = Field(ge=0, le=2_000_000)
    fuel_level: int | None = Field(default=None, ge=0, le=8, description="eighths of a tank")
    concerns: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]] = (
        Field(default_factory=list, max_length=30)
    )
    promised_at: datetime  # with a UTC offset (Strict)
    jobs: list[WriteUpJob] = Field(default_factory=list, max_length=60)


Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{5,20}$")]


class CustomerEdit(Strict):
    """The customer's fields to change (those sent; the others stay)."""

    name: Text80 | None = None
    phone: Phone | None = None
    language: Language | None = None


class VehicleEdit(Strict):
    """The vehicle's fields to change (those sent; the others stay). The plate stays: it names the car."""

    vin: str | None = None  # "" or null clears it
    make: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    model: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = None
    year: int | None = Field(default=None, ge=1950, le=2100)  # null clears it
    color: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)] | None = None

    @field_validator("vin")
    @classmethod
    def _vin(cls, value: str | None) -> str | None:
        return VehicleIn._vin(value)  # the same check as at write-up; "" clears


class RepairOrderEdit(Strict):
    """PATCH /api/repair-orders/{id}: what may still change before delivery; only the fields sent
    change. Mileage and fuel only until the customer signs the walk-around."""

    customer: CustomerEdit | None = None
    vehicle: VehicleEdit | None = None
    concerns: (
        list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]] | None
    ) = Field(default=None, max_length=30)
    mileage: int | None = Field(default=None, ge=0, le=2_000_000)
    fuel_level: int | None = Field(default=None, ge=0, le=8, description="eighths of a tank; null clears")


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
    price_fen: int | None = None  # the price in fen (`price` in yuan, kept for the contract)
    customer_text: str = ""  # the work in the customer's words (a priced finding's)
    pause_reason: str | None = None  # why a paused job stopped (its last clock entry's reason)
    # The order's read only (job events carry the fields above):
    clocked_minutes: int = Field(default=0, description="whole minutes by anyone; corrections win")
    parts: list[PartOut] = []
    qc: list[QcOut] = []  # every quality check, oldest first
    finding_id: int | None = Field(default=None, description="the finding this job was priced from")


class PartOut(BaseModel):
    """A parts line (配件) of a job."""

    id: int
    name: str
    part_number: str
    quantity: int
    unit_price_fen: int
    line_fen: int
    state: str  # needed, ordered, arrived, fitted
    expected_at: datetime | None
    old_part_returned: bool | None


class QcOut(BaseModel):
    passed: bool
    items: list[dict[str, object]]  # {name, result, note, …} as the checker signed them
    signer_name: str | None
    signed_at: datetime


class SettlementOut(BaseModel):
    """The settlement row (交车 / 结算) as far as it is written: a draft, then frozen at hand-over."""

    discount_fen: int
    labour_fen: int
    parts_fen: int
    tax_rate_bp: int
    tax_fen: int
    total_fen: int
    mileage_out: int | None
    next_service_km: int | None
    discount_reason: str
    discount_state: str  # none, pending (a manager must approve), approved
    payment_method: str | None
    next_service_on: str | None  # YYYY-MM-DD, shop time
    signed_by: str
    handed_over_by_name: str | None
    handed_over_at: datetime | None


class WalkaroundSummary(BaseModel):
    marks: int  # how many damage marks
    signed_at: datetime | None
    signed_by: str | None


class Attention(BaseModel):
    """What the board card flags on an order."""

    findings_to_price: list[int] = []  # ids of findings not priced yet
    waiting_parts: bool = False  # a job paused for parts, or a part line awaited with a date
    parts_expected_at: datetime | None = None  # the first awaited part's expected arrival
    discount_pending: bool = False  # a discount waits for a manager


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
    settlement: SettlementOut | None = None  # None until hand-over or settlement is started
    walkaround: WalkaroundSummary | None = None  # None until the walk-around is saved
    attention: Attention = Field(default_factory=Attention)


class RepairOrderList(BaseModel):
    items: list[RepairOrderOut]


class DeviceTimes(Strict):
    """When a tap happened and when it was sent, both on the tablet's own clock (optional): the
    clock and attendance taps (api/routes/jobs.py, api/routes/attendance.py)."""

    device_time: datetime | None = Field(default=None, description="the tablet's clock when tapped")
    device_sent_at: datetime | None = Field(
        default=None, description="the tablet's clock when sent: corrects a wrong tablet clock"
    )


# --- Priced findings and parts lines (配件): api/findings.py, api/parts.py -------------------------

PART_QUANTITY_MAX = 9_999
FEN_MAX = 1_000_000_000  # ¥10 million: past any workshop's line, inside every integer column


def _quantity(value: int) -> int:
    if not 1 <= value <= PART_QUANTITY_MAX:
        raise PydanticCustomError(
            "part.quantity", "A quantity is a whole number from 1 to {max}.", {"max": PART_QUANTITY_MAX}
        )
    return value


def _fen(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise PydanticCustomError("price.negative", "A price cannot be negative.")
    if value is not None and value > FEN_MAX:
        raise PydanticCustomError("price.too_high", "That price is too high.")
    return value


PartName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
PartNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]


class PartIn(Strict):
    """A parts line: what the part is, how many, the price of one in fen (tax included)."""

    name: PartName
    part_number: PartNumber = ""
    quantity: int = Field(description="units, at least 1")
    unit_price_fen: int = Field(description="price of one unit in fen (1/100 yuan), tax included")
    expected_at: datetime | None = Field(default=None, description="when an ordered part should arrive")

    _check_quantity = field_validator("quantity")(_quantity)
    _check_price = field_validator("unit_price_fen")(_fen)


class PartChange(Strict):
    """A change of a parts line: its state (needed → ordered → arrived), or its fields while it is
    not fitted. Only the fields sent change; `expected_at: null` clears the expected time."""

    state: Literal["needed", "ordered", "arrived"] | None = None
    expected_at: datetime | None = None
    name: PartName | None = None
    part_number: PartNumber | None = None
    quantity: int | None = None
    unit_price_fen: int | None = None

    @field_validator("quantity")
    @classmethod
    def _check_quantity(cls, value: int | None) -> int | None:
        return None if value is None else _quantity(value)

    _check_price = field_validator("unit_price_fen")(_fen)


class RecommendIn(Strict):
    """Pricing a finding (one step: the job the customer approves, with its parts lines).

    The first body (title, estimated_hours, price in yuan) still works; labour_hours × the shop's
    labour rate prices the labour when neither labour_fen nor price is given."""

    title: Title | None = Field(default=None, description="staff's name of the work; default: the finding")
    estimated_hours: Hours | None = Field(default=None, description="sold hours (same as labour_hours)")
    price: Money | None = Field(default=None, description="labour price in yuan (first body)")
    customer_text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = Field(
        default=None, description="words the customer reads; default: the finding's phrase in their language"
    )
    labour_hours: Hours | None = Field(default=None, description="sold hours of labour")
    labour_fen: int | None = Field(default=None, description="labour price in fen; default hours × rate")
    parts: list[PartIn] = Field(default_factory=list, max_length=30)

    _check_labour = field_validator("labour_fen")(_fen)


class TimelineEvent(BaseModel):
    seq: int
    type: str  # an event type of the catalogue (api/events.py)
    at: datetime  # when the server recorded it
    device_at: datetime | None  # when it was done on a tablet that sent it later
    actor: dict[str, object] | None  # {id, name} of the staff member; None for the customer or system
    by: str  # staff, customer or system
    data: dict[str, object]  # the event's payload as recorded


class Timeline(BaseModel):
    """GET /api/repair-orders/{id}/timeline: the order's events, oldest first."""

    events: list[TimelineEvent]


class FollowUpAnswersIn(Strict):
    """The follow-up script's answers (回访); the ranges are checked by the use case (own codes)."""

    overall: int = Field(description="Overall satisfaction, 1–10")
    fixed: bool = Field(description="Was the fault fixed (确认故障是否彻底排除)")
    on_time: bool = Field(description="Ready when promised")
    explained: bool = Field(description="Were the work and the bill explained")
    recommend: int = Field(description="Would recommend us, 0–10")
    comment: str = Field(default="", max_length=1000)
    reminder_confirmed: bool = Field(default=False, description="Next service reminder confirmed")


class FollowUpCallIn(Strict):
    """POST /api/follow-ups/{id}/calls: reached (with answers) or not (with a call back time)."""

    reached: bool
    call_back_at: datetime | None = Field(default=None, description="Not reached: when to call again")
    answers: FollowUpAnswersIn | None = None
