"""A whole workshop day on the screens (issue 13, "Tests"), in real Chromium, once in zh-CN and once
in en: tablets for the advisor, the foreman and two technicians, the customer's phone.

Only what happened before the day is seeded through the API (staff, and the car's previous visit:
recommended work the customer declined, then delivered). From then on every step is a tap on a
screen; the API is only read, for assertions:

write-up of the returning customer with the declined work carried forward → walk-around (a mark,
the signature) → dispatch on #/dispatch → the technician starts the job on "My jobs" and records a
finding with a photo → the advisor prices it with a part on the order detail → the customer approves
on the phone, seeing the photo and the words → the foreman dispatches the approved job to a second
technician, who stops waiting for the part → the part arrives (that tablet says so) → work → QC
fail, rework, pass → ready → hand-over with settlement and signature → the print view → the
delivered order found again by plate on #/find.

Time: the server keeps its wall clock; the suite's control over it is tests/conftest.py's AUTOSTOP_AT
(the nightly guard's cutoff half a day away, inherited by the live server), so no running job clock
is stopped under the test whatever the hour. Every time here is relative to now (the promise is
tomorrow 16:00 in the shop's zone, the tablets' zone too) and nothing sleeps: each step waits on
what the screen shows, with Playwright's expect.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, FilePayload, Locator, Page, expect

from tests.browser.conftest import PHONE, LiveServer, live_server_at
from tests.browser.test_technician import tap
from tests.browser.ui import LOCALE, TEXT, enter_pin, tap_tile, tomorrow_at, valid_vin

MANAGER = {"username": "day.manager", "name": "赵敏", "role": "manager", "pin": "5063"}
ADVISOR = {"username": "day.advisor", "name": "李娜", "role": "advisor", "pin": "4826"}
FOREMAN = {"username": "day.foreman", "name": "马强", "role": "foreman", "pin": "6284"}
# Technicians of their own per language: each day starts and ends their working day afresh.
TECHS = {
    "zh-CN": (
        {"username": "day.wang", "name": "王工", "role": "technician", "pin": "7391"},
        {"username": "day.liu", "name": "刘工", "role": "technician", "pin": "8352"},
    ),
    "en": (
        {"username": "day.wu", "name": "Wu Lei", "role": "technician", "pin": "7493"},
        {"username": "day.he", "name": "He Bo", "role": "technician", "pin": "8526"},
    ),
}

# Per language: the customer (who reads that language too), the car, and the words the screens say.
DAY: dict[str, dict[str, Any]] = {
    "zh-CN": {
        "customer": "陈先生",
        "phone": "13912340001",
        "plate": "苏E10001",
        "vin": "LSVAB2C30D4E5F6G1",
        "concern": "雨刮异响，刹车有点软",
        "known": "老客户车辆",
        "carried": "已加入",
        "phrase": "刹车片磨损",
        "approve": "同意",
        "approved": "客户已同意",
        "arrived": "配件已到：Front brake pads",
        "print": "结算单",
        "paid": "实付金额",
        "wechat": "微信支付",
        "find": "查找",
    },
    "en": {
        "customer": "Mr Chen",
        "phone": "13912340002",
        "plate": "苏E20002",
        "vin": "LSVAB2C30D4E5F6G2",
        "concern": "Wipers squeak, brake pedal feels soft",
        "known": "Known vehicle",
        "carried": "Carried forward",
        "phrase": "Brake pads worn",
        "approve": "Approve",
        "approved": "Approved by the customer",
        "arrived": "Part arrived: Front brake pads",
        "print": "Settlement",
        "paid": "Total paid",
        "wechat": "WeChat Pay",
        "find": "Find",
    },
}
DECLINED = "Wiper blades"  # last visit's recommendation (0.2 h, ¥160) the customer said no to
PART = "Front brake pads"


@pytest.fixture(scope="module")
def server(browser: Any) -> Iterator[LiveServer]:
    """One server for both languages (each day has its own customer, car and plate). The staff are
    added by the manager through POST /api/staff: four more `python -m api staff add` processes
    would cost seconds each on a busy machine."""
    with live_server_at([MANAGER]) as live:
        context = browser.new_context()
        try:
            _login(context, live.url, MANAGER)
            for person in (ADVISOR, FOREMAN, *TECHS["zh-CN"], *TECHS["en"]):
                _api_post(context, f"{live.url}/api/staff", person)
        finally:
            context.close()
        yield live


# ---------- before the day (API) ----------


def _api_post(context: BrowserContext, url: str, body: dict[str, Any]) -> dict[str, Any]:
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    response = context.request.post(
        url, data=body, headers={"x-csrftoken": csrf, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.ok, f"{url}: {response.status} {response.text()}"
    result: dict[str, Any] = response.json()
    return result


def _login(context: BrowserContext, base: str, person: dict[str, str]) -> None:
    login = context.request.post(
        f"{base}/api/auth/login", data={"username": person["username"], "pin": person["pin"]}
    )
    assert login.ok, login.text()


def _previous_visit(context: BrowserContext, base: str, day: dict[str, Any], lang: str) -> dict[str, Any]:
    """Last visit of the same car: wiper blades recommended, declined by the customer, delivered."""
    _login(context, base, ADVISOR)
    ro = _api_post(
        context,
        f"{base}/api/repair-orders",
        {
            "customer": {"name": day["customer"], "phone": day["phone"], "language": lang},
            "vehicle": {
                "plate": day["plate"],
                "vin": valid_vin(day["vin"]),
                "make": "Volkswagen",
                "model": "Passat",
            },
            "mileage": 42000,
            "concerns": ["保养" if lang == "zh-CN" else "Service due"],
            "promised_at": tomorrow_at(17).isoformat(),
            "jobs": [],
        },
    )
    job = _api_post(
        context,
        f"{base}/api/repair-orders/{ro['id']}/jobs",
        {"title": DECLINED, "estimated_hours": 0.2, "price": 160, "needs_approval": True},
    )
    token = ro["status_url"].removeprefix("/s/")
    decided = context.request.post(
        f"{base}/api/status/{token}/approvals", data={"job_id": job["id"], "decision": "decline"}
    )
    assert decided.ok, decided.text()
    _api_post(context, f"{base}/api/repair-orders/{ro['id']}/ready", {})
    _api_post(context, f"{base}/api/repair-orders/{ro['id']}/deliver", {})
    return ro


# ---------- small steps ----------


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (170, 60, 40)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _scribble(page: Page, pad: Locator) -> None:
    """A signature: one stroke across the pad with the mouse."""
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] * 0.6)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 30 + step * 25, box["y"] + box["height"] * (0.6 - 0.05 * (step % 3)))
    page.mouse.up()


def _morning(new_tablet: Any, base: str, lang: str, people: list[tuple[dict[str, str], str]]) -> list[Page]:
    """Everyone signs in on their own tablet, side by side: all the shells load at once and the PINs
    are checked (argon2, slow on purpose) together; then each lands on its screen (`landing`)."""
    pages: list[Page] = []
    for _ in people:
        page: Page = new_tablet(locale=LOCALE[lang]).new_page()
        page.goto(base + "/", wait_until="commit")
        pages.append(page)
    for page, (person, _) in zip(pages, people, strict=True):
        tap_tile(page, person["username"])
        enter_pin(page, person["pin"])
    for page, (person, landing) in zip(pages, people, strict=True):
        expect(page.get_by_test_id(landing)).to_be_visible()
        expect(page.get_by_test_id("current-user")).to_contain_text(person["name"])
    return pages


def _dispatch(desk: Page, job_id: int, tech_id: int) -> None:
    """On #/dispatch: tap the waiting job, then the technician's column."""
    job = desk.get_by_test_id("dispatch-unassigned").locator(f'[data-job="{job_id}"]')
    tap(job)
    expect(job).to_have_attribute("aria-pressed", "true")
    tap(desk.locator(f'[data-testid="dispatch-tech"][data-tech="{tech_id}"] h3'))
    queued = desk.locator(
        f'[data-testid="dispatch-tech"][data-tech="{tech_id}"] [data-testid="dispatch-queued"][data-job="{job_id}"]'
    )
    expect(queued).to_be_visible()
    expect(queued.get_by_test_id("dispatch-not-sent")).to_have_count(0)  # the server has it


def _stop(bay: Page, card: Locator, reason: str) -> None:
    tap(card.get_by_test_id("stop-job"))
    tap(bay.get_by_test_id(f"stop-reason-{reason}"))


def _qc(desk: Page, base: str, job_id: int, *, fail_note: str | None = None) -> None:
    """The foreman's checklist for one job: every item passed, or the first failed with a note."""
    tap(desk.get_by_test_id("nav-qc"))
    tap(desk.locator(f'[data-testid="qc-job"][data-job="{job_id}"]'))
    expect(desk).to_have_url(f"{base}/#/qc/{job_id}")
    items = desk.get_by_test_id("qc-item")
    expect(items.first).to_be_visible()
    for i in range(items.count()):
        tap(items.nth(i).get_by_test_id("qc-fail" if fail_note and i == 0 else "qc-pass"))
    if fail_note:
        items.first.get_by_test_id("qc-note").fill(fail_note)
    tap(desk.get_by_test_id("qc-sign"))
    expect(desk).to_have_url(f"{base}/#/qc")
    expect(desk.locator(f'[data-testid="qc-job"][data-job="{job_id}"]')).to_have_count(0)


def _ro(page: Page, base: str, ro_id: int) -> dict[str, Any]:
    response = page.request.get(f"{base}/api/repair-orders/{ro_id}")
    assert response.ok, response.text()
    result: dict[str, Any] = response.json()
    return result


# ---------- the day ----------


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_whole_workshop_day_on_the_screens(
    server: LiveServer, new_tablet: Any, shots: Path, lang: str
) -> None:
    base, day, text = server.url, DAY[lang], TEXT[lang]
    tech, tech2 = TECHS[lang]
    last = _previous_visit(new_tablet(), base, day, lang)

    # ---- the morning: advisor, foreman and two technicians sign in on their tablets ----
    office, desk, bay, bay2 = _morning(
        new_tablet,
        base,
        lang,
        [(ADVISOR, "today-list"), (FOREMAN, "today-list"), (tech, "my-jobs"), (tech2, "my-jobs")],
    )
    for tablet in (bay, bay2):
        tap(tablet.get_by_test_id("clock-in"))  # "Start my day"
        expect(tablet.get_by_test_id("shift-bar")).to_have_attribute("data-on-shift", "true")

    # ---- write-up: the plate typed, the known car used in one tap, the declined work carried ----
    tap(office.get_by_test_id("new-ro-button"))
    form = office.get_by_test_id("new-ro-form")
    form.locator('[name="vehicle.plate"]').fill(day["plate"])
    known = office.get_by_test_id("known-vehicle")
    expect(known).to_contain_text(day["known"])
    expect(known).to_contain_text(day["customer"])
    tap(known.get_by_test_id("use-known"))
    expect(form.locator('[name="customer.name"]')).to_have_value(day["customer"])
    expect(form.locator('[name="customer.phone"]')).to_have_value(day["phone"])
    expect(office.get_by_test_id("last-mileage")).to_contain_text("42,000")
    form.locator('[name="mileage"]').fill("45100")
    tap(form.locator('[data-testid="fuel-button"][data-eighths="4"]'))
    form.locator('[name="concern"]').first.fill(day["concern"])
    carry = office.get_by_test_id("carry-row").filter(has_text=DECLINED)
    tap(carry.get_by_test_id("carry-forward"))
    expect(carry.get_by_test_id("carry-forward")).to_have_text(day["carried"])
    expect(form.locator('[name="job.title"]').first).to_have_value(DECLINED)
    expect(form.locator('[name="job.price"]').first).to_have_value("160")
    promised = tomorrow_at(16)
    form.locator('[name="promised_date"]').fill(promised.strftime("%Y-%m-%d"))
    form.locator('[name="promised_time"]').fill(promised.strftime("%H:%M"))
    tap(office.get_by_test_id("submit-ro"))
    created = office.get_by_test_id("ro-created")
    expect(created).to_be_visible()
    number = created.get_attribute("data-number")
    hits = {
        h["number"]: h
        for h in office.request.get(f"{base}/api/search", params={"q": day["plate"]}).json()["items"]
    }
    assert hits[number]["vehicle_id"] == hits[last["number"]]["vehicle_id"]  # the same car, not a new one
    assert hits[number]["customer_id"] == hits[last["number"]]["customer_id"]
    ro = _ro(office, base, hits[number]["id"])
    (wipers,) = ro["jobs"]
    assert (wipers["title"], wipers["state"]) == (DECLINED, "pending")

    # The customer's phone, open from now on: it follows the day live.
    phone: Page = new_tablet(locale=LOCALE[lang], **PHONE).new_page()
    phone.goto(base + ro["status_url"])
    expect(phone.get_by_test_id("stages")).to_be_visible()

    # ---- walk-around from the board card: a dent on the left, the customer signs ----
    tap(office.get_by_role("button", name=text["newro.backToToday"]))
    card = office.locator(f'[data-testid="ro-card"][data-number="{number}"]')
    tap(card.get_by_test_id("walkaround-button"))
    left = office.get_by_test_id("car-left")
    left.scroll_into_view_if_needed()
    box = left.bounding_box()
    assert box is not None
    office.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.55)
    mark = office.get_by_test_id("mark-item")
    expect(mark).to_have_count(1)
    tap(mark.get_by_test_id("type-dent"))
    expect(mark).to_have_attribute("data-type", "dent")
    _scribble(office, office.get_by_test_id("sign-pad"))
    expect(office.get_by_test_id("sign-name")).to_have_value(day["customer"])
    tap(office.get_by_test_id("sign-button"))
    expect(office.get_by_test_id("signed-by")).to_contain_text(day["customer"])
    expect(office.get_by_test_id("signature-pending")).to_have_count(0)
    walk = office.request.get(f"{base}/api/repair-orders/{ro['id']}/walkaround").json()
    assert [m["type"] for m in walk["marks"]] == ["dent"] and walk["signed_by"] == day["customer"]

    # ---- the foreman's board has the new car (live, no reload); then dispatch ----
    expect(desk.locator(f'[data-testid="ro-card"][data-number="{number}"]')).to_contain_text(day["plate"])
    tap(desk.get_by_test_id("nav-dispatch"))
    expect(desk).to_have_url(f"{base}/#/dispatch")
    people = {p["name"]: p["id"] for p in desk.request.get(f"{base}/api/dispatch").json()["technicians"]}
    _dispatch(desk, wipers["id"], people[tech["name"]])
    wiper_card = bay.locator(f'[data-testid="job-card"][data-job="{wipers["id"]}"]')
    expect(wiper_card).to_contain_text(day["plate"])  # live, no reload

    # ---- the technician starts the job and records a finding with a photo ----
    office.goto(f"{base}/#/ro/{ro['id']}")  # the advisor keeps the order open meanwhile
    detail = office.get_by_test_id("ro-detail")
    expect(detail.get_by_test_id("detail-number")).to_have_text(number or "")
    tap(wiper_card.get_by_test_id("start-job"))
    expect(wiper_card).to_have_attribute("data-running", "true")
    tap(wiper_card.get_by_test_id("finding-button"))
    finding_dialog = bay.get_by_test_id("finding-dialog")
    tap(finding_dialog.get_by_test_id("phrase-brake_pads_worn"))
    expect(finding_dialog.get_by_test_id("finding-text")).to_have_value(day["phrase"])
    pads: FilePayload = {"name": "pads.jpg", "mimeType": "image/jpeg", "buffer": _photo()}
    finding_dialog.get_by_test_id("finding-photo-input").set_input_files(files=[pads])
    expect(finding_dialog.get_by_test_id("finding-photo")).to_have_count(1)
    tap(finding_dialog.get_by_test_id("finding-save"))
    expect(finding_dialog).to_have_count(0)
    expect(wiper_card.get_by_test_id("finding")).to_contain_text(day["phrase"])

    # ---- the advisor sees it arrive on the open order and prices it with a part ----
    expect(detail.get_by_test_id("detail-finding")).to_contain_text(day["phrase"])
    pricing = office.get_by_test_id("pricing-form")
    expect(pricing).to_have_count(1)
    finding_id = int(pricing.get_attribute("data-finding") or 0)
    expect(pricing.get_by_test_id("pricing-words")).to_have_value(day["phrase"])
    pricing.get_by_test_id("pricing-hours").fill("1.5")
    expect(pricing.get_by_test_id("pricing-labour")).to_have_value("300.00")
    tap(pricing.get_by_test_id("pricing-add-part"))
    pricing.get_by_test_id("part-name").fill(PART)
    pricing.get_by_test_id("part-number").fill("1K0698151")
    pricing.get_by_test_id("part-price").fill("380")
    expect(pricing.get_by_test_id("pricing-total")).to_contain_text("¥680.00")
    tap(pricing.get_by_test_id("pricing-send"))
    priced = office.locator(f'[data-testid="priced-finding"][data-finding="{finding_id}"]')
    expect(priced).to_have_attribute("data-approval", "pending")

    # ---- the customer's phone: the photo, the words, the price; approved ----
    rec = phone.get_by_test_id("recommended")
    expect(rec).to_be_visible()
    expect(rec.get_by_test_id("rec-words")).to_have_text(day["phrase"])
    expect(rec.get_by_test_id("rec-price")).to_have_text("¥680.00")
    expect(rec.get_by_test_id("rec-lines")).to_contain_text(PART)
    expect(rec.locator("img")).to_have_count(1)
    finding_photos = [p["id"] for p in _ro(office, base, ro["id"])["photos"] if p["kind"] == "finding"]
    assert len(finding_photos) == 1, finding_photos  # the technician's photo, stored once
    photo = rec.locator(f'img[src$="/photos/{finding_photos[0]}/thumb"]')
    expect(photo).to_be_visible()
    expect(photo).to_have_js_property("complete", True)
    assert photo.evaluate("el => el.naturalWidth") > 0
    phone.screenshot(path=str(shots / f"day-approval-{lang}.png"), full_page=True)
    tap(rec.get_by_role("button", name=day["approve"]))
    expect(phone.get_by_test_id("recommended")).to_have_count(0)
    expect(priced).to_have_attribute("data-approval", "approved")
    expect(priced.get_by_test_id("pricing-state")).to_have_text(day["approved"])
    (brakes,) = [j for j in _ro(office, base, ro["id"])["jobs"] if j.get("approval")]

    # ---- the approved job to the second technician, who waits for the part ----
    _dispatch(desk, brakes["id"], people[tech2["name"]])
    brake_card = bay2.locator(f'[data-testid="job-card"][data-job="{brakes["id"]}"]')
    expect(brake_card.get_by_test_id("job-part")).to_have_attribute("data-state", "needed")
    tap(brake_card.get_by_test_id("start-job"))
    expect(brake_card).to_have_attribute("data-running", "true")
    _stop(bay2, brake_card, "waiting_parts")
    tap(bay2.get_by_test_id("part-pick"))
    expect(brake_card.get_by_test_id("part-awaited")).to_be_visible()

    # The wiper job is done meanwhile.
    _stop(bay, wiper_card, "finished")
    expect(wiper_card).to_have_attribute("data-state", "finished")

    # ---- the part arrives: marked on the order detail, the second technician's tablet says so ----
    part_line = office.locator(
        f'[data-testid="parts-job"][data-job="{brakes["id"]}"] [data-testid="part-line"]'
    )
    expect(part_line).to_have_attribute("data-state", "needed")
    tap(part_line.get_by_test_id("part-arrived"))
    expect(part_line).to_have_attribute("data-state", "arrived")
    expect(brake_card.get_by_test_id("part-arrived")).to_have_text(day["arrived"])
    bay2.screenshot(path=str(shots / f"day-part-arrived-{lang}.png"))
    tap(brake_card.get_by_test_id("start-job"))
    expect(brake_card).to_have_attribute("data-running", "true")
    _stop(bay2, brake_card, "finished")
    expect(brake_card).to_have_attribute("data-state", "finished")

    # ---- QC: the wipers fail, are reworked and pass; the brakes pass ----
    note = "Blade not seated" if lang == "en" else "雨刮片未卡到位"
    _qc(desk, base, wipers["id"], fail_note=note)
    expect(wiper_card).to_have_attribute("data-state", "rework")
    expect(wiper_card.get_by_test_id("rework-banner")).to_contain_text(note)
    tap(wiper_card.get_by_test_id("start-job"))
    expect(wiper_card).to_have_attribute("data-running", "true")
    _stop(bay, wiper_card, "finished")
    expect(wiper_card).to_have_attribute("data-state", "finished")
    _qc(desk, base, wipers["id"])
    _qc(desk, base, brakes["id"])

    # ---- ready, in one tap on the order detail ----
    closing = office.get_by_test_id("ro-closing")
    tap(closing.get_by_test_id("mark-ready"))
    handover_link = closing.get_by_test_id("closing-handover")
    expect(handover_link).to_be_visible()
    assert _ro(office, base, ro["id"])["stage"] == "ready"

    # ---- hand-over: mileage out, payment, the customer's signature ----
    tap(handover_link)
    expect(office.get_by_test_id("handover")).to_be_visible()
    expect(office.get_by_test_id("handover-work")).to_contain_text(DECLINED)
    expect(office.get_by_test_id("handover-work")).to_contain_text(day["phrase"])  # the customer's words
    passed = re.compile(r"\bchip-on\b")
    expect(office.get_by_test_id("handover-qc")).to_have_class([passed, passed])
    expect(office.get_by_test_id("handover-part")).to_contain_text(PART)
    expect(office.get_by_test_id("handover-total")).to_have_text("¥840.00")
    office.get_by_test_id("mileage-out").fill("45130")
    tap(office.get_by_test_id("pay-wechat"))
    expect(office.get_by_test_id("pay-wechat")).to_have_attribute("aria-pressed", "true")
    _scribble(office, office.get_by_test_id("handover-pad"))
    expect(office.get_by_test_id("handover-signer")).to_have_value(day["customer"])
    tap(office.get_by_test_id("handover-submit"))
    done = office.get_by_test_id("handover-done")
    expect(done).to_contain_text(day["wechat"])
    expect(office.get_by_test_id("handover-signature")).to_be_visible()
    office.screenshot(path=str(shots / f"day-handover-{lang}.png"), full_page=True)
    bill = office.request.get(f"{base}/api/repair-orders/{ro['id']}/settlement").json()
    assert (bill["total_fen"], bill["payment_method"], bill["mileage_out"]) == (84000, "wechat", 45130)
    assert bill["handed_over_at"] and bill["signature_url"]
    assert _ro(office, base, ro["id"])["stage"] == "delivered"

    # ---- the print view ----
    with office.expect_popup() as popup:
        tap(office.get_by_test_id("print-a4"))
    printed = popup.value
    expect(printed.locator("h1")).to_contain_text(day["print"])
    expect(printed.get_by_test_id("print-total")).to_have_text("¥840.00")
    expect(printed.get_by_test_id("print-signature")).to_have_js_property("complete", True)
    printed.close()

    # The customer's page, open since the write-up, shows the bill by itself (no reload).
    expect(phone.locator('[data-testid="stages"] li[aria-current="step"]')).to_have_attribute(
        "data-stage", "delivered"
    )
    expect(phone.get_by_test_id("settlement")).to_contain_text(day["paid"])
    expect(phone.get_by_test_id("settlement-total")).to_have_text("¥840.00")

    # ---- the delivered order, found again by plate ----
    tap(office.get_by_test_id("nav-find"))
    expect(office.locator("main h1")).to_have_text(day["find"])
    office.get_by_test_id("find-input").fill(day["plate"])
    found = office.get_by_test_id("find-card").and_(office.locator(f'[data-ro-id="{ro["id"]}"]'))
    expect(found).to_have_attribute("data-stage", "delivered")
    expect(found).to_contain_text(day["plate"])
    earlier = office.get_by_test_id("find-card").and_(office.locator(f'[data-ro-id="{last["id"]}"]'))
    expect(earlier).to_have_attribute("data-stage", "delivered")

    # ---- the end of the day on both bay tablets ----
    for tablet in (bay, bay2):
        tap(tablet.get_by_test_id("clock-out"))
        tap(tablet.get_by_test_id("end-day-ok"))
        expect(tablet.get_by_test_id("clock-in")).to_be_visible()
