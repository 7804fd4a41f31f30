"""The workshop floor in real Chromium: a technician clocks a job on the bay tablet, a foreman fails its
quality check on another tablet, and the technician's screen and the customer's phone follow live."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.browser.conftest import MANAGER, PHONE, LiveServer
from tests.browser.ui import add_staff, poll, sign_in, sign_in_to, staff_post, write_up

TECH = {"username": "wang.gong", "name": "王工", "role": "technician", "pin": "7391"}
FOREMAN = {"username": "chen.qiang", "name": "陈强", "role": "foreman", "pin": "6284"}
FAIL_NOTE = "Left front caliper bolt not torqued"
# For the tests below: a technician whose day is checked in Chinese, and a foreman who works jobs too.
TECH_ZH = {"username": "zhou.gong", "name": "周工", "role": "technician", "pin": "8352"}
WORKING_FOREMAN = {"username": "sun.li", "name": "孙力", "role": "foreman", "pin": "9146"}


def photo_jpeg() -> bytes:
    img = Image.new("RGB", (2400, 1600), (60, 60, 60))
    img.paste((220, 200, 40), (200, 200, 1400, 900))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def current_stage(phone: Page) -> str:
    return str(phone.locator('[data-testid="stages"] li[aria-current="step"]').get_attribute("data-stage"))


def until(page: Page, condition: Any, timeout_ms: int = 10_000) -> None:
    """Wait (letting the page and its routes run) until `condition()` holds."""
    for _ in range(timeout_ms // 100):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError("the condition did not come true in time")


def tap(locator: Any) -> None:
    """Scroll into view, then tap. A screen repainted by a live event may swap the element between
    the two (the locator finds the new one on the next try)."""
    for attempt in range(5):
        try:
            locator.scroll_into_view_if_needed()
            break
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or attempt == 4:
                raise
    locator.tap()


def test_technician_clocks_a_job_foreman_fails_qc_and_everyone_sees_it_live(
    live_server: LiveServer, new_tablet: Any, shots: Path
) -> None:
    # ---- the office: staff, a repair order, the job assigned (through the API) ----
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    tech = add_staff(office, live_server.url, TECH)
    add_staff(office, live_server.url, FOREMAN)
    ro = write_up(
        office,
        live_server.url,
        customer={"name": "周杰", "phone": "13722223333", "language": "zh-CN"},
        vehicle={"plate": "沪C24680", "make": "Honda", "model": "Accord", "color": "Silver"},
        concern="Squeal from the front when braking",
        job="Replace front brake pads",
        promised_hour=15,
    )
    job = ro["jobs"][0]
    staff_post(office, f"{live_server.url}/api/jobs/{job['id']}/assign", {"technician_id": tech["id"]})

    phone = new_tablet(locale="zh-CN", **PHONE).new_page()
    phone.goto(live_server.url + ro["status_url"])
    assert current_stage(phone) == "checked_in"
    phone.evaluate("window.__notReloaded = true")

    # ---- the bay tablet: the technician lands on their jobs ----
    bay = new_tablet(locale="en-US").new_page()
    bay.goto(live_server.url + "/")
    sign_in_to(bay, TECH, "my-jobs")
    expect(bay).to_have_url(f"{live_server.url}/#/my-jobs")
    expect(bay.get_by_test_id("nav")).to_be_hidden()  # one screen only: no menu to hunt through
    expect(bay.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
    card = bay.locator(f'[data-testid="job-card"][data-job="{job["id"]}"]')
    expect(card).to_be_visible()
    expect(card).to_contain_text("沪C24680")
    expect(card).to_contain_text("Honda · Accord · Silver")
    expect(card).to_contain_text(ro["number"])
    expect(card.get_by_test_id("concerns")).to_contain_text("Squeal from the front when braking")
    expect(card.locator(".job-name")).to_have_text("Replace front brake pads")
    expect(card).to_have_attribute("data-state", "assigned")

    # Gloves: the one action on a card is big.
    start = card.get_by_test_id("start-job")
    box = start.bounding_box()
    assert box is not None and box["height"] >= 64 and box["width"] >= 200, box

    # Start of the working day.
    tap(bay.get_by_test_id("clock-in"))
    expect(bay.get_by_test_id("shift-bar")).to_have_attribute("data-on-shift", "true")
    expect(bay.get_by_test_id("clock-out")).to_be_visible()

    # Start the job: the timer runs and ticks every second.
    tap(start)
    expect(card).to_have_attribute("data-running", "true")
    expect(card).to_have_attribute("data-state", "in_progress")
    watch = card.get_by_test_id("stopwatch")
    expect(watch).to_have_text("0:00:01", timeout=5_000)
    expect(watch).to_have_text("0:00:02", timeout=5_000)
    expect(card.get_by_test_id("sold-bar")).to_have_attribute("data-level", "ok")
    bay.screenshot(path=str(shots / "my-jobs-running.png"), full_page=True)

    # The customer's phone follows: the car is being worked on.
    expect(phone.locator('[data-testid="stages"] li[aria-current="step"]')).to_have_attribute(
        "data-stage", "in_progress"
    )

    # Stop as finished: one tap on a big reason.
    tap(card.get_by_test_id("stop-job"))
    dialog = bay.get_by_test_id("stop-dialog")
    expect(dialog).to_be_visible()
    reason = dialog.get_by_test_id("stop-reason-finished")
    reason_box = reason.bounding_box()
    assert reason_box is not None and reason_box["height"] >= 64, reason_box
    reason.tap()
    expect(dialog).to_have_count(0)
    expect(card).to_have_attribute("data-state", "finished")
    expect(card).to_have_attribute("data-running", "false")
    expect(card.get_by_test_id("waiting-qc")).to_be_visible()
    expect(phone.locator('[data-testid="stages"] li[aria-current="step"]')).to_have_attribute(
        "data-stage", "quality_check"
    )
    bay.evaluate("window.__notReloaded = true")

    # ---- the foreman's tablet (in Chinese): QC queue, one item failed with a note ----
    foreman_ctx = new_tablet(locale="zh-CN")
    desk = foreman_ctx.new_page()
    desk.goto(live_server.url + "/")
    sign_in(desk, FOREMAN)
    tap(desk.get_by_test_id("nav-qc"))
    queued = desk.locator(f'[data-testid="qc-job"][data-job="{job["id"]}"]')
    expect(queued).to_contain_text("Replace front brake pads")
    expect(queued).to_contain_text(TECH["name"])
    tap(queued)
    expect(desk).to_have_url(f"{live_server.url}/#/qc/{job['id']}")
    items = desk.get_by_test_id("qc-item")
    expect(items.first).to_be_visible()
    count = items.count()
    assert count >= 5, count
    first_item_name = items.first.locator(".qc-item-name").inner_text()

    # Signing with items open is refused on the tablet, and says why.
    tap(desk.get_by_test_id("qc-sign"))
    expect(desk.get_by_test_id("qc-error")).to_contain_text(str(count))

    tap(items.first.get_by_test_id("qc-fail"))
    for i in range(1, count):
        tap(items.nth(i).get_by_test_id("qc-pass" if i % 4 else "qc-na"))
    # A fail without a note is refused with words, before anything is sent.
    tap(desk.get_by_test_id("qc-sign"))
    expect(desk.get_by_test_id("qc-error")).to_be_visible()
    expect(items.first.get_by_test_id("field-error")).to_be_visible()
    note = items.first.get_by_test_id("qc-note")
    note.fill(FAIL_NOTE)
    seg = items.first.get_by_test_id("qc-fail")
    seg_box = seg.bounding_box()
    assert seg_box is not None and seg_box["height"] >= 64, seg_box
    desk.screenshot(path=str(shots / "qc-checklist-zh.png"), full_page=True)
    tap(desk.get_by_test_id("qc-sign"))
    expect(desk).to_have_url(f"{live_server.url}/#/qc")
    expect(desk.get_by_test_id("qc-queue")).to_be_visible()
    expect(queued).to_have_count(0)

    # ---- the bay tablet shows the job back, without a reload ----
    expect(bay.locator("#toast")).to_contain_text("Sent back by QC")
    expect(card).to_have_attribute("data-state", "rework")
    banner = card.get_by_test_id("rework-banner")
    expect(banner).to_contain_text("Sent back by QC")
    expect(banner.get_by_test_id("rework-item")).to_contain_text(FAIL_NOTE)
    # The foreman's tablet showed the item in Chinese; this tablet shows it in its own language.
    template = office.request.get(f"{live_server.url}/api/qc-templates/default").json()
    first = template["items"][0]
    assert first_item_name == first["name_zh"]
    expect(banner.get_by_test_id("rework-item").locator("strong")).to_have_text(first["name_en"])
    expect(card.get_by_test_id("start-job")).to_contain_text("Start rework")
    assert bay.evaluate("window.__notReloaded") is True
    bay.screenshot(path=str(shots / "my-jobs-sent-back.png"), full_page=True)

    # ...and the customer's phone went from quality check back to work, live.
    expect(phone.locator('[data-testid="stages"] li[aria-current="step"]')).to_have_attribute(
        "data-stage", "in_progress"
    )
    assert phone.evaluate("window.__notReloaded") is True

    # The technician ends the day; nothing is running, so nothing waits for review.
    tap(bay.get_by_test_id("clock-out"))
    tap(bay.get_by_test_id("end-day-ok"))
    expect(bay.get_by_test_id("clock-in")).to_be_visible()
    poll(bay, "() => !!document.querySelector('[data-testid=review-panel]')?.hidden")


def test_switching_jobs_a_finding_with_a_photo_and_the_end_of_day_check(
    live_server: LiveServer, new_tablet: Any, shots: Path
) -> None:
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    tech = add_staff(office, live_server.url, TECH_ZH)
    later = write_up(
        office,
        live_server.url,
        customer={"name": "马丽", "phone": "13633334444", "language": "zh-CN"},
        vehicle={"plate": "沪D13579", "make": "Buick", "model": "GL8"},
        concern="空调不凉",
        job="空调检查",
        promised_hour=17,
    )
    sooner = write_up(
        office,
        live_server.url,
        customer={"name": "黄伟", "phone": "13655556666", "language": "zh-CN"},
        vehicle={"plate": "沪E97531", "make": "BYD", "model": "Han"},
        concern="刹车异响",
        job="刹车检查",
        promised_hour=10,
    )
    for ro in (later, sooner):
        staff_post(
            office, f"{live_server.url}/api/jobs/{ro['jobs'][0]['id']}/assign", {"technician_id": tech["id"]}
        )
    job_a, job_b = sooner["jobs"][0], later["jobs"][0]

    bay = new_tablet(locale="zh-CN").new_page()
    bay.goto(live_server.url + "/")
    sign_in_to(bay, TECH_ZH, "my-jobs")
    cards = bay.get_by_test_id("job-card")
    expect(cards).to_have_count(2)
    # Soonest promise first, whatever order they were assigned in.
    expect(cards.first).to_have_attribute("data-job", str(job_a["id"]))
    card_a = bay.locator(f'[data-testid="job-card"][data-job="{job_a["id"]}"]')
    card_b = bay.locator(f'[data-testid="job-card"][data-job="{job_b["id"]}"]')

    tap(bay.get_by_test_id("clock-in"))
    expect(bay.get_by_test_id("clock-out")).to_have_text("下班打卡")
    tap(card_a.get_by_test_id("start-job"))
    expect(card_a).to_have_attribute("data-running", "true")

    # Starting B while A runs: first the reason A stops, then A stops and B starts.
    tap(card_b.get_by_test_id("start-job"))
    dialog = bay.get_by_test_id("stop-dialog")
    expect(dialog).to_contain_text("刹车检查")
    expect(dialog).to_contain_text("空调检查")
    dialog.get_by_test_id("stop-reason-waiting_parts").tap()
    expect(card_b).to_have_attribute("data-running", "true")
    expect(card_a).to_have_attribute("data-running", "false")
    expect(card_a).to_have_attribute("data-state", "paused")
    expect(bay.locator('[data-testid="job-card"][data-running="true"]')).to_have_count(1)

    # A finding with one tap on a phrase and a photo; it is on the card and the photo is stored with it.
    tap(card_b.get_by_test_id("finding-button"))
    finding = bay.get_by_test_id("finding-dialog")
    expect(finding).to_be_visible()
    finding.get_by_test_id("phrase-cabin_filter_dirty").tap()
    expect(finding.get_by_test_id("finding-text")).to_have_value("空调滤清器脏")
    finding.get_by_test_id("finding-photo-input").set_input_files(
        files=[{"name": "filter.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}]
    )
    expect(finding.get_by_test_id("finding-photo")).to_have_count(1)
    finding.get_by_test_id("finding-save").tap()
    expect(finding).to_have_count(0)
    expect(card_b.get_by_test_id("finding")).to_have_text("!空调滤清器脏")
    photos: list[dict[str, Any]] = []
    for _ in range(100):
        ro = office.request.get(f"{live_server.url}/api/repair-orders/{later['id']}").json()
        photos = [p for p in ro.get("photos", []) if p["kind"] == "finding"]
        if photos:
            break
        bay.wait_for_timeout(100)
    assert len(photos) == 1, photos
    mine = bay.request.get(f"{live_server.url}/api/me/jobs").json()
    (found,) = next(j for j in mine["jobs"] if j["id"] == job_b["id"])["findings"]
    assert (found["text"], found["phrase"]) == ("空调滤清器脏", "cabin_filter_dirty")
    assert photos[0]["job_id"] == job_b["id"]
    assert photos[0]["panel"] == f"finding:{found['id']}", photos[0]
    assert photos[0]["note"] == "空调滤清器脏"

    # End of the day with B still running: its clock stops by itself and waits to be checked.
    tap(bay.get_by_test_id("clock-out"))
    expect(bay.get_by_test_id("end-day")).to_contain_text("空调检查")
    bay.get_by_test_id("end-day-ok").tap()
    expect(bay.get_by_test_id("clock-in")).to_be_visible()
    review = bay.get_by_test_id("review-panel")
    expect(review).to_be_visible()
    entry = review.get_by_test_id("review-entry")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("空调检查")
    expect(card_b).to_have_attribute("data-running", "false")
    bay.screenshot(path=str(shots / "my-jobs-please-check-zh.png"), full_page=True)

    # Correcting needs a reason, said before anything is sent.
    tap(entry.get_by_test_id("review-correct"))
    expect(entry.get_by_test_id("correct-time")).to_be_visible()
    tap(entry.get_by_test_id("correct-save"))
    expect(entry.get_by_test_id("field-error")).to_have_text("请填写更正原因。")
    entry.get_by_role("button", name="取消").tap()
    tap(entry.get_by_test_id("review-confirm"))
    expect(review).to_be_hidden()


def test_a_foreman_who_worked_on_a_job_is_told_plainly_that_someone_else_must_check_it(
    live_server: LiveServer, new_tablet: Any
) -> None:
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    foreman = add_staff(office, live_server.url, WORKING_FOREMAN)
    ro = write_up(
        office,
        live_server.url,
        customer={"name": "Tom Li", "phone": "13677778888", "language": "en"},
        vehicle={"plate": "沪F24681", "make": "Ford", "model": "Focus"},
        concern="Wipers smear",
        job="Replace wiper blades",
        promised_hour=12,
    )
    job = ro["jobs"][0]
    staff_post(office, f"{live_server.url}/api/jobs/{job['id']}/assign", {"technician_id": foreman["id"]})

    desk = new_tablet(locale="en-US").new_page()
    desk.goto(live_server.url + "/")
    sign_in(desk, WORKING_FOREMAN)
    # Foremen work jobs too: their jobs screen is in the menu, next to the board and QC.
    expect(desk.get_by_test_id("nav-today")).to_be_visible()
    tap(desk.get_by_test_id("nav-my-jobs"))
    card = desk.locator(f'[data-testid="job-card"][data-job="{job["id"]}"]')
    tap(card.get_by_test_id("start-job"))
    expect(card).to_have_attribute("data-running", "true")
    tap(card.get_by_test_id("stop-job"))
    desk.get_by_test_id("stop-reason-finished").tap()
    expect(card).to_have_attribute("data-state", "finished")

    tap(desk.get_by_test_id("nav-qc"))
    tap(desk.locator(f'[data-testid="qc-job"][data-job="{job["id"]}"]'))
    items = desk.get_by_test_id("qc-item")
    expect(items.first).to_be_visible()
    for i in range(items.count()):
        tap(items.nth(i).get_by_test_id("qc-pass"))
    tap(desk.get_by_test_id("qc-sign"))
    expect(desk.get_by_test_id("qc-error")).to_have_text(
        "You worked on this job, so you cannot sign its quality check. Ask another foreman or advisor."
    )
    expect(desk).to_have_url(f"{live_server.url}/#/qc/{job['id']}")


TECH_RACE = {"username": "qian.gong", "name": "钱工", "role": "technician", "pin": "6173"}


def test_a_view_read_before_a_tap_landed_never_flips_the_card_back(
    live_server: LiveServer, new_tablet: Any
) -> None:
    """Poor Wi-Fi: the screen's refresh was answered just before the stop tap reached the server and
    arrives after it. The card stays stopped; it never shows the job running again, not for a moment
    (the tablet knows which of its taps that answer already holds)."""
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    tech = add_staff(office, live_server.url, TECH_RACE)
    ro = write_up(
        office,
        live_server.url,
        customer={"name": "郑洁", "phone": "13677778888", "language": "zh-CN"},
        vehicle={"plate": "沪F24680", "make": "Honda", "model": "Accord"},
        concern="Wipers smear",
        job="Wiper blades",
        promised_hour=15,
    )
    job_id = ro["jobs"][0]["id"]
    staff_post(office, f"{live_server.url}/api/jobs/{job_id}/assign", {"technician_id": tech["id"]})

    bay = new_tablet(locale="en-US").new_page()
    bay.goto(live_server.url + "/")
    sign_in_to(bay, TECH_RACE, "my-jobs")
    card = bay.locator(f'[data-testid="job-card"][data-job="{job_id}"]')
    tap(card.get_by_test_id("start-job"))
    expect(card).to_have_attribute("data-running", "true")

    # Every value the card shows from here on, however briefly.
    bay.evaluate(
        """(job) => {
          window.runningSeen = [];
          const note = () => {
            const v = document.querySelector(`[data-testid="job-card"][data-job="${job}"]`)?.dataset.running;
            if (v !== window.runningSeen.at(-1)) window.runningSeen.push(v);
          };
          new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true});
          note();
        }""",
        job_id,
    )
    # The next refresh is answered now (job running) and delivered only after the stop landed.
    held: list[tuple[Any, Any]] = []

    def hold_first(route: Any) -> None:
        if held:
            route.continue_()  # later refreshes go through
        else:
            held.append((route, route.fetch()))

    bay.route("**/api/me/jobs*", hold_first)
    bay.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    until(bay, lambda: bool(held))
    tap(card.get_by_test_id("stop-job"))
    bay.get_by_test_id("stop-reason-break").tap()
    ended = f"SELECT count(*) FROM clock_entry WHERE job = {job_id} AND ended_at IS NOT NULL"
    until(bay, lambda: live_server.query(ended)[0][0] == 1)
    expect(card).to_have_attribute("data-running", "false")
    route, stale = held[0]
    assert stale.json()["jobs"][0]["running_since"] is not None, "the held answer predates the stop"
    route.fulfill(response=stale)
    bay.wait_for_timeout(1500)  # the stale answer is painted (or not), then a fresh one follows
    expect(card).to_have_attribute("data-running", "false")
    seen = bay.evaluate("window.runningSeen")
    assert seen[0] == "true" and "true" not in seen[seen.index("false") :], seen
