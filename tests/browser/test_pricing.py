"""A finding priced with a part, on the screens (issue 13 items 5 and 6), in real Chromium, in both
languages: the advisor prices it on the order detail (#/ro/<id>) in one step, the customer's phone
shows the finding's photo, the words and the price live and approves; the technician's "waiting for
parts" stop names the line, and the part marked arrived shows on the technician's tablet live."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADVISOR, MANAGER, PHONE, LiveServer
from tests.browser.ui import add_staff, sign_in, sign_in_to, staff_post, write_up

WORDS = {
    "en": {"phrase": "Brake pads worn", "total": "Total ¥680.00", "approved": "Approved by the customer"},
    "zh-CN": {"phrase": "刹车片磨损", "total": "合计 ¥680.00", "approved": "客户已同意"},
}
ARRIVED = {"en": "Part arrived: Front brake pads", "zh-CN": "配件已到：Front brake pads"}
APPROVE = {"en": "Approve", "zh-CN": "同意"}
LOCALES = {"en": "en-US", "zh-CN": "zh-CN"}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (180, 60, 40)).save(out, "JPEG", quality=85)
    return out.getvalue()


def upload_finding_photo(page: Page, base: str, ro_id: int, job_id: int, finding_id: int) -> dict[str, Any]:
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"{base}/api/repair-orders/{ro_id}/photos",
        multipart={
            "file": {"name": "f.jpg", "mimeType": "image/jpeg", "buffer": jpeg()},
            "kind": "finding",
            "panel": f"finding:{finding_id}",
            "job_id": str(job_id),
        },
        headers={"x-csrftoken": csrf, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.ok, response.text()
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_advisor_prices_a_finding_customer_approves_part_arrives(
    live_server: LiveServer, new_tablet: Any, shots: Path, lang: str
) -> None:
    base = live_server.url
    suffix = "e" if lang == "en" else "z"
    tech_person = {
        "username": f"gao.{suffix}",
        "name": f"高{suffix}",
        "role": "technician",
        "pin": "7315" if lang == "en" else "8642",
    }
    locale = LOCALES[lang]

    # ---- the shop: a technician, an order of a customer reading `lang`, its job assigned (API) ----
    manager = new_tablet(locale=locale).new_page()
    manager.goto(base + "/")
    sign_in(manager, MANAGER)
    tech = add_staff(manager, base, tech_person)
    ro = write_up(
        manager,
        base,
        customer={"name": "Ann Lee" if lang == "en" else "林娜", "phone": "13911112222", "language": lang},
        vehicle={"plate": f"沪D1{suffix.upper()}357", "make": "Toyota", "model": "Camry", "color": "Grey"},
        concern="Noise when braking",
        job="Minor service",
        promised_hour=16,
    )
    job = ro["jobs"][0]
    staff_post(manager, f"{base}/api/jobs/{job['id']}/assign", {"technician_id": tech["id"]})

    # ---- the technician's tablet: a finding with a photo (its own screen is tested elsewhere) ----
    bay = new_tablet(locale=locale).new_page()
    bay.goto(base + "/")
    sign_in_to(bay, tech_person, "my-jobs")
    finding = staff_post(
        bay, f"{base}/api/jobs/{job['id']}/findings", {"text": "Front pads 2 mm", "phrase": "brake_pads_worn"}
    )
    photo = upload_finding_photo(bay, base, ro["id"], job["id"], finding["id"])

    # ---- the customer's phone, open before anything is priced ----
    phone = new_tablet(locale=locale, **PHONE).new_page()
    phone.goto(base + ro["status_url"] + f"?lang={lang}")
    expect(phone.get_by_test_id("live")).to_be_visible()
    expect(phone.get_by_test_id("recommended")).to_have_count(0)

    # ---- the advisor prices it on the order detail: words, 1.5 h × ¥200, one part ----
    office = new_tablet(locale=locale).new_page()
    office.goto(base + "/")
    sign_in(office, ADVISOR)
    office.goto(f"{base}/#/ro/{ro['id']}")
    form = office.locator(f'[data-testid="pricing-form"][data-finding="{finding["id"]}"]')
    expect(form).to_be_visible()
    expect(form.get_by_test_id("pricing-words")).to_have_value(WORDS[lang]["phrase"])
    form.get_by_test_id("pricing-hours").fill("1.5")
    expect(form.get_by_test_id("pricing-labour")).to_have_value("300.00")
    form.get_by_test_id("pricing-add-part").click()
    form.get_by_test_id("part-name").fill("Front brake pads")
    form.get_by_test_id("part-number").fill("1K0698151")
    form.get_by_test_id("part-price").fill("380")
    expect(form.get_by_test_id("pricing-total")).to_have_text(WORDS[lang]["total"])
    office.screenshot(path=str(shots / f"pricing-form-{lang}.png"))
    form.get_by_test_id("pricing-send").click()
    priced = office.locator(f'[data-testid="priced-finding"][data-finding="{finding["id"]}"]')
    expect(priced).to_have_attribute("data-approval", "pending")

    # ---- the phone shows the card live: the photo, the words, labour + part, the total ----
    card = phone.get_by_test_id("recommended")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("rec-words")).to_have_text(WORDS[lang]["phrase"])
    expect(card.get_by_test_id("rec-price")).to_have_text("¥680.00")
    expect(card.get_by_test_id("rec-lines")).to_contain_text("Front brake pads")
    expect(card.get_by_test_id("rec-lines")).to_contain_text("¥300.00")
    expect(card.locator(f'img[src$="/photos/{photo["id"]}/thumb"]')).to_be_visible()
    phone.screenshot(path=str(shots / f"pricing-phone-{lang}.png"), full_page=True)
    card.get_by_role("button", name=APPROVE[lang]).tap()
    expect(phone.get_by_test_id("recommended")).to_have_count(0)

    # ---- the advisor's screen hears the decision ----
    expect(priced).to_have_attribute("data-approval", "approved")
    expect(priced.get_by_test_id("pricing-state")).to_have_text(WORDS[lang]["approved"])

    # ---- the technician stops waiting for the part, and names it ----
    new_job = office.locator('[data-testid="parts-job"]').filter(has_text=WORDS[lang]["phrase"])
    part_line = new_job.get_by_test_id("part-line")
    expect(part_line).to_have_attribute("data-state", "needed")
    staff_post(
        manager, f"{base}/api/jobs/{priced_job(office, base, ro['id'])}/assign", {"technician_id": tech["id"]}
    )
    card_on_bay = bay.locator('[data-testid="job-card"]').filter(has_text="Front brake pads")
    expect(card_on_bay.get_by_test_id("job-part")).to_have_attribute("data-state", "needed")
    card_on_bay.get_by_test_id("start-job").tap()
    card_on_bay.get_by_test_id("stop-job").tap()
    bay.get_by_test_id("stop-reason-waiting_parts").tap()
    bay.get_by_test_id("part-pick").tap()
    expect(card_on_bay.get_by_test_id("part-awaited")).to_be_visible()

    # ---- the office marks it arrived: the technician's tablet says so at once ----
    part_line.get_by_test_id("part-arrived").click()
    expect(part_line).to_have_attribute("data-state", "arrived")
    expect(card_on_bay.get_by_test_id("part-arrived")).to_have_text(ARRIVED[lang])
    bay.screenshot(path=str(shots / f"pricing-bay-{lang}.png"))


def priced_job(page: Page, base: str, ro_id: int) -> int:
    """The recommended job the pricing made (read with the advisor's session)."""
    response = page.request.get(f"{base}/api/repair-orders/{ro_id}")
    assert response.ok, response.text()
    (job,) = [j for j in response.json()["jobs"] if j.get("approval")]
    return int(job["id"])
