"""Issue 11 items 5 and 14 in real Chromium: a job started before "Start my day" shows the day as
started on the bay tablet, and a foreman reviews clock taps flagged as late or out of place from
the QC screen (confirm as it is, or correct with a reason), through the outbox, in either language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import MANAGER, LiveServer
from tests.browser.ui import SHOP_ZONE, add_staff, sign_in, sign_in_to, staff_post, write_up

TECH = {"username": "review.tech", "name": "吴工 Wu", "role": "technician", "pin": "7392"}
FOREMAN = {"username": "review.boss", "name": "郑工长 Zheng", "role": "foreman", "pin": "6285"}
EARLY_TECH = {"username": "early.tech", "name": "钱工 Qian", "role": "technician", "pin": "8364"}


def _car(plate: str) -> dict[str, Any]:
    return {
        "customer": {"name": "冯先生", "phone": "13611112222", "language": "zh-CN"},
        "vehicle": {"plate": plate, "make": "Nissan", "model": "Sylphy", "color": "White"},
        "concern": "Service due",
        "job": f"Service {plate}",
        "promised_hour": 16,
    }


def _tap_at(hours_ago: float, **body: Any) -> dict[str, Any]:
    """A tap made `hours_ago` on a tablet whose clock is right, sent now (it was offline)."""
    now = datetime.now(UTC)
    return {
        **body,
        "device_time": (now - timedelta(hours=hours_ago)).isoformat(),
        "device_sent_at": now.isoformat(),
    }


def _row(page: Page, entry_id: int) -> Any:
    return page.locator(f'[data-testid="review-tap"][data-entry="{entry_id}"]')


def _until(page: Page, server: LiveServer, sql: str, expected: Any, timeout_ms: int = 10_000) -> None:
    """Wait (letting the page and its outbox run) until `sql` reads `expected` on the server."""
    rows = None
    for _ in range(timeout_ms // 100):
        rows = server.query(sql)
        if rows == expected:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{sql} gave {rows!r}, expected {expected!r}")


def test_foreman_reviews_flagged_clock_taps_on_the_qc_screen(
    live_server: LiveServer, new_tablet: Any, shots: Path
) -> None:
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    tech = add_staff(office, live_server.url, TECH)
    foreman = add_staff(office, live_server.url, FOREMAN)
    jobs = []
    for plate in ("沪D10001", "沪D10002"):
        ro = write_up(office, live_server.url, **_car(plate))
        job = ro["jobs"][0]
        staff_post(office, f"{live_server.url}/api/jobs/{job['id']}/assign", {"technician_id": tech["id"]})
        jobs.append(job["id"])

    # The technician's tablet was offline for two days: its taps arrive now, 47 and 30 hours late.
    bay = new_tablet(locale="en-US").new_page()
    bay.goto(live_server.url + "/")
    sign_in_to(bay, TECH, "my-jobs")
    entries = []
    for job_id, hours in zip(jobs, (47, 30), strict=True):
        staff_post(bay, f"{live_server.url}/api/jobs/{job_id}/clock-on", _tap_at(hours, switch=True))
        off = staff_post(
            bay, f"{live_server.url}/api/jobs/{job_id}/clock-off", _tap_at(hours - 1, reason="break")
        )
        assert "late_tap" in off["entry"]["review_reasons"], off
        entries.append(off["entry"])
    confirm_id, correct_id = (e["id"] for e in entries)

    # The foreman, in Chinese, finds them on the QC screen with why.
    boss = new_tablet(locale="zh-CN").new_page()
    boss.goto(live_server.url + "/")
    sign_in_to(boss, FOREMAN, "today-list")
    boss.get_by_test_id("nav-qc").tap()
    panel = boss.get_by_test_id("clock-review")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_contain_text("待审核的打卡")
    first = _row(boss, confirm_id)
    expect(first).to_contain_text(TECH["name"])
    expect(first.locator('[data-reason="late_tap"]')).to_have_text("发生数小时后才发送")
    expect(first.locator('[data-reason="before_job"]')).to_be_visible()
    boss.screenshot(path=str(shots / "clock-review-zh.png"), full_page=True)
    # ...and in English after the language toggle.
    boss.get_by_test_id("lang-toggle").tap()
    expect(panel.locator("h2")).to_contain_text("Clock taps to review")
    expect(first.locator('[data-reason="late_tap"]')).to_have_text("Sent hours after it happened")

    # Confirm one as it is: it leaves the list, and the server has the review (sent by the outbox).
    first.get_by_test_id("review-confirm").tap()
    expect(first).to_have_count(0)
    _until(
        boss, live_server, f"SELECT reviewed_at IS NOT NULL FROM clock_entry WHERE id = {confirm_id}", [(1,)]
    )
    outbox_sent = live_server.query(
        f"SELECT count(*) FROM idempotency_record WHERE actor = 'staff:{foreman['id']}' AND device_id IS NOT NULL"
    )
    assert outbox_sent[0][0] >= 1

    # Correct the other: the end was really ten minutes earlier; a reason is required.
    second = _row(boss, correct_id)
    second.get_by_test_id("review-correct").tap()
    new_end = datetime.fromisoformat(entries[1]["ended_at"]).astimezone(SHOP_ZONE) - timedelta(minutes=10)
    second.get_by_test_id("review-end-date").fill(new_end.strftime("%Y-%m-%d"))
    second.get_by_test_id("review-end-time").fill(new_end.strftime("%H:%M"))
    second.get_by_test_id("review-save").tap()
    expect(second.get_by_test_id("field-error")).to_be_visible()  # no reason yet
    second.screenshot(path=str(shots / "clock-review-correct.png"))
    second.get_by_test_id("review-reason").fill("Tablet offline; stopped at the coffee break")
    second.get_by_test_id("review-save").tap()
    expect(second).to_have_count(0)
    _until(
        boss,
        live_server,
        f"SELECT corrected, reviewed_at IS NOT NULL FROM clock_entry WHERE id = {correct_id}",
        [(1, 1)],
    )
    # A fresh look at the screen (a reload) agrees: nothing of these two waits any more.
    boss.reload()
    expect(boss.get_by_test_id("qc-queue")).to_be_visible()
    expect(_row(boss, confirm_id)).to_have_count(0)
    expect(_row(boss, correct_id)).to_have_count(0)


def test_a_job_started_before_start_my_day_shows_the_day_started(
    live_server: LiveServer, new_tablet: Any
) -> None:
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    tech = add_staff(office, live_server.url, EARLY_TECH)
    ro = write_up(office, live_server.url, **_car("沪D10003"))
    job = ro["jobs"][0]
    staff_post(office, f"{live_server.url}/api/jobs/{job['id']}/assign", {"technician_id": tech["id"]})

    context = new_tablet(locale="en-US")
    bay = context.new_page()
    bay.goto(live_server.url + "/")
    sign_in_to(bay, EARLY_TECH, "my-jobs")
    shift = bay.get_by_test_id("shift-bar")
    expect(shift).to_have_attribute("data-on-shift", "false")
    card = bay.locator(f'[data-testid="job-card"][data-job="{job["id"]}"]')

    # Offline (the tap waits in the outbox): the screen shows what the server will do with it.
    context.set_offline(True)
    try:
        card.get_by_test_id("start-job").tap()
        expect(card).to_have_attribute("data-running", "true")
        expect(shift).to_have_attribute("data-on-shift", "true")
        expect(bay.get_by_test_id("day-opened-by-job")).to_be_visible()
        expect(bay.get_by_test_id("clock-out")).to_be_visible()
    finally:
        context.set_offline(False)

    # Back online the tap goes up; the server opened the day with it, recorded as such.
    _until(
        bay,
        live_server,
        f"SELECT opened_by FROM attendance WHERE staff = {tech['id']} AND clock_out_at IS NULL",
        [("job_start",)],
    )
    bay.reload()
    expect(bay.get_by_test_id("shift-bar")).to_have_attribute("data-on-shift", "true")
    expect(bay.get_by_test_id("day-opened-by-job")).to_be_visible()
    expect(card).to_have_attribute("data-running", "true")
