"""Piccolo tables: the Table is the repository (no extra layer).

JSON payloads are kept in Text columns and (de)serialised by us so that SQLite and PostgreSQL
behave the same. Money is integer cents and effort integer minutes: no float or Decimal drift
between backends.

Indexes that serve history-bound queries (several columns, partial) are made in raw SQL by
migration 0013, which also dropped the single-column indexes they replace: those columns say
`index=False` here so that an auto migration never brings them back.
"""

from typing import TYPE_CHECKING

from piccolo.columns import (
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.readable import Readable
from piccolo.table import Table


class Shop(Table):
    """The one workshop this installation serves (a single row, written by the first-run setup)."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    name = Varchar(length=120, help_text="Shown on screens and on the customer's page")
    timezone = Varchar(length=64, help_text="IANA zone; every time on screen is shown in it")
    language = Varchar(length=8, help_text="Default UI language: zh-CN or en")
    # Opening hours: the promise quick choices on the tablets land inside them (a promise typed
    # outside them is still accepted: the customer may have agreed to it).
    opens = Varchar(length=5, default="08:30", help_text="Opening time, HH:MM (24-hour clock)")
    closes = Varchar(length=5, default="18:00", help_text="Closing time, HH:MM (24-hour clock)")
    open_days = Varchar(
        length=7,
        default="1234567",
        help_text="Days open: 1 = Monday … 7 = Sunday (123456: Monday to Saturday)",
    )
    created_at = Timestamptz()
    # What the settlement and the print view need (the manager's settings screen). Money in fen.
    address = Varchar(length=200, default="", help_text="Printed on the settlement")
    phone = Varchar(length=32, default="", help_text="The shop's phone, printed on the settlement")
    tax_id = Varchar(length=40, default="", help_text="纳税人识别号, printed on the settlement")
    labour_rate_fen = Integer(default=20000, help_text="Labour price per sold hour, in fen")
    tax_rate_bp = Integer(default=1300, help_text="Tax inside the prices, basis points (1300 = 13 %)")
    discount_threshold_fen = Integer(default=50000, help_text="A larger discount needs a manager")
    ready_rule = Varchar(
        length=8, default="manual", help_text="manual: a tap marks ready; auto: the last QC pass does"
    )
    next_service_months = Integer(default=6, help_text="Next service due after this many months")
    next_service_km = Integer(default=5000, help_text="… or after this many more kilometres")
    # The follow-up call after delivery (回访, migration 0018): its window in open days after the
    # delivery day, the calls before it closes as unreachable, and the score that needs a complaint.
    followup_from_days = Integer(default=2, help_text="Follow-up call due from this open day after delivery")
    followup_to_days = Integer(default=5, help_text="… until this open day after delivery")
    followup_max_tries = Integer(default=3, help_text="Calls without reaching the customer before giving up")
    followup_low_score = Integer(default=6, help_text="A score at or below this needs a complaint")


class Staff(Table):
    """A person who signs in on the tablets."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    username = Varchar(length=40, unique=True, index=True)
    name = Varchar(length=80, help_text="Display name; customers see the first word only")
    role = Varchar(
        length=16, help_text="advisor, technician, foreman, manager or customer_care (api.policy.ROLES)"
    )
    pin_hash = Varchar(length=255, help_text="argon2id of HMAC(secret, PIN)")
    active = Boolean(default=True)
    # The manager added this person (or reset their PIN) without choosing one: the person picks
    # their own PIN at the next sign-in, after the one-time PIN the manager gave them.
    pin_pending = Boolean(default=False)
    created_at = Timestamptz()


class StaffSession(Table):
    """A server-side sign-in. Only the hash of the cookie value is stored."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    token_hash = Varchar(length=64, unique=True, index=False)
    staff = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=False)
    # Indexed: a device with a past sign-in is one the shop knows (api/auth.py known_device).
    device_id = Varchar(length=64, default="", index=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)


class LoginThrottle(Table):
    """Failed PIN attempts per user and per device, counted in the database (survives restarts)."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    key = Varchar(
        length=100,
        unique=True,
        index=True,
        help_text="device:<id>, addr:<address>, user:<id> or name:<digest> (+ :known on known devices)",
    )
    failures = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(index=True)  # rows idle for a day are pruned


class Customer(Table):
    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial
    name = Varchar(length=80)
    phone = Varchar(length=32)
    language = Varchar(length=8, default="zh-CN")


class Vehicle(Table):
    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial
    plate = Varchar(length=16, index=True)
    vin = Varchar(length=17, null=True, default=None)
    make = Varchar(length=40, default="")
    model = Varchar(length=60, default="")
    year = Integer(null=True, default=None)
    color = Varchar(length=30, default="")


class RepairOrder(Table):
    """维修委托书: one visit of one vehicle. Its stage is derived from its jobs (workshop.stage)."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    number = Varchar(length=20, unique=True, help_text="Human number, YYMMDD-NNN in shop time")
    customer = ForeignKey(references=Customer, null=False)
    vehicle = ForeignKey(references=Vehicle, null=False)
    mileage = Integer()
    fuel_level = Integer(null=True, default=None, help_text="Eighths of a tank, 0-8")
    concerns = Text(default="[]", help_text="JSON list of the customer's own words")
    promised_at = Timestamptz()
    first_promised_at = Timestamptz(help_text="The promise as first given: on-time KPIs use it")
    status_nonce = Varchar(length=64, help_text="Input of the status token; a new one revokes")
    status_token_hash = Varchar(length=64, unique=True, index=False)
    created_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz()
    ready_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)


class RoCounter(Table, tablename="ro_counter"):
    """The last repair-order number handed out per shop day (api/repair_orders.py next_number).

    Raised in the transaction that saves the order, so the next number costs one row whatever the
    number of orders already written (a scan of `number LIKE 'YYMMDD-%'` grew with them)."""

    day = Varchar(length=6, primary_key=True, help_text="YYMMDD in the shop's time zone")
    n = Integer(help_text="The day's last number handed out")


class Job(Table):
    """A line of work on a repair order."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    repair_order = ForeignKey(references=RepairOrder, null=False, index=True)
    title = Varchar(length=200)
    estimated_minutes = Integer(help_text="Sold time")
    price_cents = Integer(null=True, default=None)
    needs_approval = Boolean(default=False)
    approval = Varchar(length=10, null=True, default=None, help_text="pending/approved/declined")
    state = Varchar(length=16, help_text="workshop.JobState")
    technician = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True, default=None)
    pause_reason = Varchar(length=20, null=True, default=None)
    rework_count = Integer(default=0)
    created_at = Timestamptz()
    # The words the customer reads for this work (a priced finding: the finding's phrase in the
    # customer's language, edited by the advisor); empty: the title is shown.
    customer_text = Varchar(length=300, default="")


class PartLine(Table, tablename="part_line"):
    """A part (配件) a job needs: needed → ordered → arrived → fitted. Prices in fen, tax included.

    No stock is kept here; a parts department can later own these lines (reserve, issue, return)
    through the same states."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    job = ForeignKey(references=Job, null=False, index=True)
    repair_order = ForeignKey(references=RepairOrder, null=False, index=True)
    name = Varchar(length=120)
    part_number = Varchar(length=40, default="")
    quantity = Integer(help_text="Units, at least 1")
    unit_price_fen = Integer(help_text="Price of one unit in fen, tax included")
    state = Varchar(length=10, default="needed", help_text="needed, ordered, arrived or fitted")
    expected_at = Timestamptz(null=True, default=None, help_text="When an ordered part should arrive")
    old_part_returned = Boolean(null=True, default=None, help_text="旧件: given back to the customer?")
    created_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Settlement(Table):
    """Hand-over and settlement (交车 / 结算) of one repair order: the draft, then what was signed.

    Amounts are frozen at hand-over (later changes of rates do not rewrite a settled bill)."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    repair_order = ForeignKey(references=RepairOrder, null=False, unique=True)
    discount_fen = Integer(default=0)
    discount_reason = Varchar(length=200, default="")
    discount_state = Varchar(
        length=10, default="none", help_text="none, pending (a manager must approve) or approved"
    )
    discount_approved_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True)
    discount_approved_at = Timestamptz(null=True, default=None)
    payment_method = Varchar(
        length=16, null=True, default=None, help_text="cash, card, wechat, alipay or transfer"
    )
    labour_fen = Integer(default=0)
    parts_fen = Integer(default=0)
    tax_rate_bp = Integer(default=0)
    tax_fen = Integer(default=0)
    total_fen = Integer(default=0)
    mileage_out = Integer(null=True, default=None)
    next_service_on = Varchar(length=10, null=True, default=None, help_text="YYYY-MM-DD, shop time")
    next_service_km = Integer(null=True, default=None)
    signature = Varchar(length=80, null=True, default=None, help_text="photo-store name of the signature")
    signed_by = Varchar(length=120, default="")
    handed_over_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True)
    handed_over_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()


class PromiseChange(Table):
    """Every move of the promised time, with its reason (shown to the customer)."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    repair_order = ForeignKey(references=RepairOrder, null=False, index=True)
    previous_at = Timestamptz()
    promised_at = Timestamptz()
    reason = Varchar(length=300)
    changed_at = Timestamptz()
    changed_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True)


class ClockEntry(Table):
    """Time a technician spent on a job. At most one open entry per technician (partial index)."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    job = ForeignKey(references=Job, null=False, index=True)
    technician = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=False, index=False)
    started_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    reason = Varchar(length=20, null=True, default=None)
    device_started_at = Timestamptz(null=True, default=None)
    device_ended_at = Timestamptz(null=True, default=None)
    auto_stopped = Boolean(default=False)
    # Entries are derived from ClockEvent rows (api.clockbook.fold); the key of the start event
    # names an entry across re-derivations, so confirmations and corrections stay attached.
    on_key = Varchar(length=64, null=True, default=None)  # unique index in migration 0006
    flags = Varchar(length=120, default="", help_text="Comma list: switched, late_stop, clock_skew, …")
    confirmed_at = Timestamptz(null=True, default=None)
    # A foreman's correction overrides the derived times without touching them (re-derivation
    # keeps working on what the tablets said; reports use the corrected times).
    corrected_started_at = Timestamptz(null=True, default=None)
    corrected_ended_at = Timestamptz(null=True, default=None)
    corrected = Boolean(default=False)
    # When a foreman or manager looked at a tap flagged for review (its flags stay, as evidence);
    # who did is in ClockCorrection. A new review reason arriving later clears it again.
    reviewed_at = Timestamptz(null=True, default=None)
    # The entry's start while it waits on the foreman's review list (a review reason among its
    # flags, nobody reviewed it yet), NULL otherwise: the list reads only waiting entries, in order,
    # from a partial index (migration 0014). api.clockstore and api.clock_entries keep it.
    review_queued = Timestamptz(null=True, default=None)


class ClockEvent(Table):
    """Every accepted clock tap (append-only). ClockEntry rows are folded from these."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    key = Varchar(length=64, unique=True, help_text="sha256 of the actor's Idempotency-Key, or a server id")
    technician = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=False, index=False)
    job = ForeignKey(references=Job, null=True, default=None)
    kind = Varchar(length=10, help_text="on, off or stop_all")
    at = Timestamptz(index=True, help_text="Effective time: the tap on the server's clock")
    reason = Varchar(length=20, null=True, default=None)
    device_at = Timestamptz(null=True, default=None)
    device_sent_at = Timestamptz(null=True, default=None)
    received_at = Timestamptz()
    skewed = Boolean(default=False)
    actor = Varchar(length=40, default="")
    review = Varchar(length=60, default="", help_text="Comma list: why a foreman should look (clockbook)")


class ClockCorrection(Table):
    """Audit of confirmations and corrections of clock entries: who, why, before and after."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    entry_key = Varchar(length=64, index=True, help_text="ClockEntry.on_key")
    kind = Varchar(length=10, help_text="confirm or correct")
    by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=False)
    reason = Varchar(length=300, default="")
    before = Text(default="{}", help_text="JSON {started_at, ended_at}")
    after = Text(default="{}", help_text="JSON {started_at, ended_at}")
    at = Timestamptz()


class Attendance(Table):
    """A technician's working day: clock-in to clock-out. Utilisation = job time ÷ this time."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    staff = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=False, index=False)
    clock_in_at = Timestamptz()
    clock_out_at = Timestamptz(null=True, default=None)
    device_in_at = Timestamptz(null=True, default=None)
    device_out_at = Timestamptz(null=True, default=None)
    auto_closed = Boolean(default=False)
    opened_by = Varchar(length=16, default="person", help_text="person (Start my day) or job_start")


class Finding(Table):
    """Something a technician found on the car: becomes recommended work once an advisor prices it."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    job = ForeignKey(references=Job, null=False, index=True)
    repair_order = ForeignKey(references=RepairOrder, null=False, index=True)
    text = Varchar(length=500)
    phrase = Varchar(length=40, default="", help_text="Key of the phrase-list entry it started from")
    created_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=False)
    created_at = Timestamptz()
    recommended_job = ForeignKey(references=Job, null=True, default=None)


class QcTemplate(Table):
    """A QC checklist: the default is seeded from PRODUCT.md's delivery checks; managers edit in /admin."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    name = Varchar(length=120)
    is_default = Boolean(default=False)
    active = Boolean(default=True)
    created_at = Timestamptz()

    @classmethod
    def get_readable(cls) -> Readable:
        # /admin shows an item's template by name instead of its id.
        return Readable(template="%s", columns=[cls.name])


class QcTemplateItem(Table):
    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    template = ForeignKey(references=QcTemplate, null=False, index=True)
    position = Integer(default=0)
    name_en = Varchar(length=120)
    name_zh = Varchar(length=120)
    active = Boolean(default=True)


class QcRecord(Table):
    """A signed quality check of one job."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    job = ForeignKey(references=Job, null=False, index=True)
    signer = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=False)
    passed = Boolean()
    items = Text(default="[]", help_text="JSON list of {name, result, note}")
    signed_at = Timestamptz()


class Event(Table):
    """The event log: audit trail, KPI source and every live update. `seq` rises strictly."""

    seq = BigSerial(primary_key=True)
    type = Varchar(length=40)
    at = Timestamptz()
    repair_order = Integer(null=True, default=None, index=True)
    actor = Varchar(length=40, default="", help_text="staff:<id>, customer, system")
    data = Text(default="{}")
    # Where a tablet's action came from (the outbox sends these): its device, its per-device sequence
    # and when the person did it; received_at is when the server got it (the audit's clock).
    device_id = Varchar(length=64, null=True, default=None)
    device_seq = Integer(null=True, default=None)
    device_at = Timestamptz(null=True, default=None)
    received_at = Timestamptz(null=True, default=None)


class IdempotencyRecord(Table):
    """The first response to an Idempotency-Key, replayed for repeats (kept at least 7 days)."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    scoped_key = Varchar(length=64, unique=True, index=False, help_text="sha256(scope, key)")
    request_hash = Varchar(length=64)
    status_code = Integer()
    body = Text()
    created_at = Timestamptz(index=True)
    # The ledger of accepted actions: who did it, and for a tablet's outbox which device, its
    # sequence number and when the person acted, so "each action once, in order" can be checked.
    actor = Varchar(length=64, null=True, default=None)
    device_id = Varchar(length=64, null=True, default=None)
    device_seq = Integer(null=True, default=None)
    device_at = Timestamptz(null=True, default=None)


class Survey(Table):
    """The customer's 1–10 rating after delivery (the 2–5 day follow-up), once per repair order."""

    if TYPE_CHECKING:
        id: Serial

    repair_order = ForeignKey(references=RepairOrder, null=False, unique=True)
    score = Integer(help_text="1 = very unsatisfied … 10 = very satisfied")
    comment = Text(default="")
    submitted_at = Timestamptz()


class Photo(Table):
    """A stored photo: walk-around damage, a technician's finding, or QC evidence.

    `display` and `thumb` are names in the photo store (content hashes), never client file names.
    """

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    repair_order = ForeignKey(references=RepairOrder, null=False, index=True)
    job = ForeignKey(references=Job, null=True, default=None)
    kind = Varchar(length=16, help_text="walkaround | finding | qc")
    note = Varchar(length=500, default="")
    panel = Varchar(length=40, default="", help_text="Where on the car (damage-map mark id or panel)")
    display = Varchar(length=80)
    thumb = Varchar(length=80)
    width = Integer()
    height = Integer()
    taken_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz()


class Walkaround(Table):
    """The check-in walk-around: damage marks on the vehicle outline, and the customer's signature."""

    if TYPE_CHECKING:  # Piccolo adds `id`; declared here for type checkers only
        id: Serial

    repair_order = ForeignKey(references=RepairOrder, null=False, unique=True)
    marks = Text(default="[]", help_text="JSON: [{id, view, x, y, type, note}]")
    signature = Varchar(length=80, null=True, default=None, help_text="photo-store name of the signature")
    signed_by = Varchar(length=120, default="", help_text="The customer's name as they wrote it")
    signed_at = Timestamptz(null=True, default=None)
    updated_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True)
    updated_at = Timestamptz()


class FollowUp(Table, tablename="follow_up"):
    """The call after delivery (回访): one per delivered order, due in a window of shop days."""

    if TYPE_CHECKING:
        id: Serial

    repair_order = ForeignKey(references=RepairOrder, null=False, unique=True)
    delivered_at = Timestamptz()
    due_from = Timestamptz(help_text="Start of the window (local midnight of its first shop day)")
    due_until = Timestamptz(help_text="End of the window, exclusive")
    call_back_at = Timestamptz(null=True, default=None, help_text="When the customer asked to be called")
    tries = Integer(default=0, help_text="Calls that did not reach the customer")
    state = Varchar(length=12, default="open", help_text="open, done or unreachable")
    complaint_suggested = Boolean(default=False, help_text="A low score or a fault not fixed")
    closed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class FollowUpCall(Table, tablename="follow_up_call"):
    """One call made for a follow-up: reached or not, and the customer's answers when reached."""

    if TYPE_CHECKING:
        id: Serial

    follow_up = ForeignKey(references=FollowUp, null=False)
    reached = Boolean()
    answers = Text(default="{}", help_text="JSON of the script's answers")
    call_back_at = Timestamptz(null=True, default=None)
    called_by = ForeignKey(references=Staff, on_delete=OnDelete.restrict, null=True)
    called_at = Timestamptz()
