"""QC sends a job back: the technician reads the failed item in their own language, with its photo."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import MANAGER, LiveServer
from tests.browser.test_technician import photo_jpeg, tap, until
from tests.browser.ui import add_staff, sign_in, sign_in_to, staff_post, write_up

TECH = {"username": "he.gong", "name": "何工", "role": "technician", "pin": "7528"}
CHECKER = {"username": "qian.jian", "name": "钱检", "role": "foreman", "pin": "6397"}
FAIL_NOTE = "右前卡钳螺栓未按扭矩拧紧"


def test_a_checker_on_chinese_fails_an_item_with_a_photo_the_technician_on_english_reads_it(
    live_server: LiveServer, new_tablet: Any
) -> None:
    office = new_tablet(locale="en-US").new_page()
    office.goto(live_server.url + "/")
    sign_in(office, MANAGER)
    tech = add_staff(office, live_server.url, TECH)
    add_staff(office, live_server.url, CHECKER)
    ro = write_up(
        office,
        live_server.url,
        customer={"name": "林峰", "phone": "13744445555", "language": "zh-CN"},
        vehicle={"plate": "沪F11223", "make": "Toyota", "model": "Camry"},
        concern="Brake pedal feels soft",
        job="Bleed the brakes",
        promised_hour=16,
    )
    job = ro["jobs"][0]
    staff_post(office, f"{live_server.url}/api/jobs/{job['id']}/assign", {"technician_id": tech["id"]})
    template = office.request.get(f"{live_server.url}/api/qc-templates/default").json()
    first = template["items"][0]
    assert first["name_en"] != first["name_zh"]

    # The technician (English tablet) works the job and finishes it.
    bay = new_tablet(locale="en-US").new_page()
    bay.goto(live_server.url + "/")
    sign_in_to(bay, TECH, "my-jobs")
    staff_post(bay, f"{live_server.url}/api/attendance/clock-in", {})
    staff_post(bay, f"{live_server.url}/api/jobs/{job['id']}/clock-on", {})
    staff_post(bay, f"{live_server.url}/api/jobs/{job['id']}/clock-off", {"reason": "finished"})

    # The checker (Chinese tablet) fails the first item with a note and a photo.
    desk = new_tablet(locale="zh-CN").new_page()
    desk.goto(live_server.url + "/")
    sign_in(desk, CHECKER)
    desk.goto(f"{live_server.url}/#/qc/{job['id']}")
    items = desk.get_by_test_id("qc-item")
    expect(items.first.locator(".qc-item-name")).to_have_text(first["name_zh"])
    tap(items.first.get_by_test_id("qc-fail"))
    items.first.get_by_test_id("qc-note").fill(FAIL_NOTE)
    items.first.get_by_test_id("qc-photo-input").set_input_files(
        files=[{"name": "caliper.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}]
    )
    expect(items.first.get_by_test_id("qc-photo-count")).to_have_text("1")
    for i in range(1, items.count()):
        tap(items.nth(i).get_by_test_id("qc-pass"))
    tap(desk.get_by_test_id("qc-sign"))
    expect(desk).to_have_url(f"{live_server.url}/#/qc")

    def qc_photo_ids() -> list[int]:
        rows = live_server.query(f"SELECT id FROM photo WHERE kind = 'qc' AND job = {job['id']}")
        return [int(r[0]) for r in rows]

    until(desk, lambda: len(qc_photo_ids()) == 1)
    (photo_id,) = qc_photo_ids()

    # The technician's card: the item in English (the screen's language), the note as written, the photo.
    card = bay.locator(f'[data-testid="job-card"][data-job="{job["id"]}"]')
    expect(card).to_have_attribute("data-state", "rework")
    item = card.get_by_test_id("rework-banner").get_by_test_id("rework-item")
    expect(item).to_have_count(1)
    expect(item.locator("strong")).to_have_text(first["name_en"])
    expect(item).to_contain_text(FAIL_NOTE)
    thumb = item.get_by_test_id("rework-photo")
    expect(thumb).to_have_count(1)
    img = thumb.locator("img")
    expect(img).to_have_attribute("src", f"/api/photos/{photo_id}/thumb")
    until(bay, lambda: bool(img.evaluate("el => el.complete && el.naturalWidth > 0")))

    # Tap: the photo large, closed with a tap.
    tap(thumb)
    large = bay.get_by_test_id("photo-large")
    expect(large).to_be_visible()
    big = large.locator("img")
    expect(big).to_have_attribute("src", f"/api/photos/{photo_id}")
    until(bay, lambda: bool(big.evaluate("el => el.complete && el.naturalWidth > 320")))
    large.get_by_test_id("photo-large-close").tap()
    expect(large).to_have_count(0)

    # The same screen switched to Chinese shows the checker's words for it.
    bay.get_by_test_id("lang-toggle").tap()
    expect(item.locator("strong")).to_have_text(first["name_zh"])
