"""The walk-around on a tablet, in real Chromium: mark a dent, photograph it, the customer signs,
and the customer's status page shows the photo."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import ADVISOR, PHONE, LiveServer
from tests.browser.ui import sign_in, write_up


def camera_jpeg() -> bytes:
    """A 3000×2000 'camera' photo: big enough that the tablet has to downscale it before upload."""
    img = Image.new("RGB", (3000, 2000), (90, 110, 130))
    img.paste((200, 40, 40), (0, 0, 1000, 700))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_mark_a_dent_photograph_it_sign_and_the_customer_sees_it(
    live_server: LiveServer, new_tablet: Any, shots: Path
) -> None:
    tablet = new_tablet(locale="en-US")
    page = tablet.new_page()
    page.goto(live_server.url + "/")
    sign_in(page, ADVISOR)
    ro = write_up(
        page,
        live_server.url,
        customer={"name": "刘强", "phone": "13700001111", "language": "zh-CN"},
        vehicle={"plate": "沪C24680", "make": "Honda", "model": "Accord"},
        concern="左后门有凹陷",
        job="Body check",
        promised_hour=15,
    )
    card = page.locator(f'[data-testid="ro-card"][data-number="{ro["number"]}"]')
    card.get_by_test_id("walkaround-button").tap()
    expect(page.get_by_test_id("walkaround")).to_be_visible()

    # Tap the left side of the outline, near the rear door: a mark appears; call it a dent.
    left = page.get_by_test_id("car-left")
    box = left.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.55)
    mark = page.get_by_test_id("mark-item")
    expect(mark).to_have_count(1)
    mark.get_by_test_id("type-dent").tap()
    expect(mark).to_have_attribute("data-type", "dent")

    # Attach a photo through the file chooser; progress shows, then the server's thumbnail.
    uploads: list[int] = []
    # Bytes sent, from the request's Content-Length (Playwright exposes no Blob body for multipart).
    page.on(
        "requestfinished",
        lambda r: (
            uploads.append(int(r.all_headers().get("content-length", 0)))
            if r.url.endswith("/photos")
            else None
        ),
    )
    with page.expect_file_chooser() as chooser:
        mark.get_by_test_id("photo-add").tap()
    chooser.value.set_files(
        files=[{"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg()}]
    )
    expect(mark.get_by_test_id("photo-thumb")).to_have_count(1, timeout=20_000)
    expect(mark.get_by_test_id("photo-pending")).to_have_count(0)
    assert uploads and 0 < uploads[0] < len(camera_jpeg())  # downscaled on the tablet before upload

    # Fuel, then the customer signs on the pad.
    page.locator('[data-testid="walk-fuel"][data-eighths="5"]').tap()
    pad = page.get_by_test_id("sign-pad")
    pad.scroll_into_view_if_needed()
    pbox = pad.bounding_box()
    assert pbox is not None
    page.mouse.move(pbox["x"] + 30, pbox["y"] + pbox["height"] * 0.6)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(pbox["x"] + 30 + step * 25, pbox["y"] + pbox["height"] * (0.6 - 0.04 * (step % 3)))
    page.mouse.up()
    expect(page.get_by_test_id("sign-name")).to_have_value("刘强")
    page.get_by_test_id("sign-button").tap()
    expect(page.get_by_test_id("signed-by")).to_contain_text("刘强")
    expect(page.get_by_test_id("signature-image")).to_be_visible()
    expect(mark.get_by_test_id("mark-remove")).to_have_count(0)  # signed: no more edits
    page.screenshot(path=str(shots / "walkaround-signed.png"), full_page=True)

    walk = page.request.get(f"{live_server.url}/api/repair-orders/{ro['id']}/walkaround").json()
    assert [m["type"] for m in walk["marks"]] == ["dent"] and walk["signed_by"] == "刘强"
    assert len(walk["photos"]) == 1 and walk["photos"][0]["panel"] == walk["marks"][0]["id"]

    # The customer's page shows the walk-around photo (lazy thumbnail linking to the large one).
    phone = new_tablet(locale="zh-CN", **PHONE).new_page()
    phone.goto(live_server.url + ro["status_url"])
    thumb = phone.locator(".photos img")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("loading", "lazy")
    thumb.scroll_into_view_if_needed()
    expect(thumb).to_have_js_property("complete", True)
    assert phone.evaluate("document.querySelector('.photos img').naturalWidth") == 320


def test_photo_that_could_not_upload_survives_a_reload(live_server: LiveServer, new_tablet: Any) -> None:
    """Wi-Fi dead zone: the upload fails, the photo waits in IndexedDB; after a reload it goes up once."""
    tablet = new_tablet(locale="zh-CN")
    page = tablet.new_page()
    page.goto(live_server.url + "/")
    sign_in(page, ADVISOR)
    ro = write_up(
        page,
        live_server.url,
        customer={"name": "周敏", "phone": "13600002222"},
        vehicle={"plate": "沪D13579", "make": "BYD", "model": "Han"},
        concern="前保险杠刮擦",
        job="Bumper check",
        promised_hour=17,
    )
    page.goto(f"{live_server.url}/#/walkaround/{ro['id']}")
    front = page.get_by_test_id("car-front")
    front.scroll_into_view_if_needed()  # below the fold on a landscape tablet
    box = front.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.7)
    mark = page.get_by_test_id("mark-item")
    mark.get_by_test_id("type-scratch").tap()
    expect(mark).to_have_attribute("data-type", "scratch")
    page.wait_for_timeout(800)  # the mark is saved (debounced) before the network goes

    page.route("**/photos", lambda route: route.abort("internetdisconnected"))
    with page.expect_file_chooser() as chooser:
        mark.get_by_test_id("photo-add").tap()
    chooser.value.set_files(files=[{"name": "bumper.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg()}])
    expect(mark.get_by_test_id("photo-pending")).to_have_count(1)
    expect(mark.get_by_test_id("photo-pending").get_by_role("progressbar")).to_be_visible()
    page.unroute("**/photos")

    page.reload()
    mark = page.get_by_test_id("mark-item")
    expect(mark.get_by_test_id("photo-thumb")).to_have_count(1, timeout=20_000)
    expect(mark.get_by_test_id("photo-pending")).to_have_count(0)
    walk = page.request.get(f"{live_server.url}/api/repair-orders/{ro['id']}/walkaround").json()
    assert len(walk["photos"]) == 1  # stored exactly once


def test_live_viewfinder_takes_photos_for_a_mark(live_server: LiveServer, new_tablet: Any) -> None:
    """Where getUserMedia exists (Chromium's synthetic camera here), photos come from the viewfinder."""
    tablet = new_tablet(locale="en-US")
    page = tablet.new_page()
    page.goto(live_server.url + "/")
    sign_in(page, ADVISOR)
    ro = write_up(
        page,
        live_server.url,
        customer={"name": "Anna Lee", "phone": "13500003333", "language": "en"},
        vehicle={"plate": "沪E11223", "make": "Tesla", "model": "Model 3"},
        concern="Chip in windscreen",
        job="Glass check",
        promised_hour=12,
    )
    page.goto(f"{live_server.url}/#/walkaround/{ro['id']}")
    top = page.get_by_test_id("car-top")
    top.scroll_into_view_if_needed()
    box = top.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.33, box["y"] + box["height"] * 0.5)
    mark = page.get_by_test_id("mark-item")
    mark.get_by_test_id("type-chip").tap()
    mark.get_by_test_id("camera-open").tap()
    expect(page.get_by_test_id("camera-dialog")).to_be_visible()
    # (wait_for_function would eval a string, which the app's CSP rightly forbids: poll instead)
    for _ in range(100):
        if page.evaluate("() => document.querySelector('[data-testid=viewfinder]').videoWidth") > 0:
            break
        page.wait_for_timeout(100)
    page.get_by_test_id("shutter").tap()
    page.get_by_test_id("shutter").tap()
    expect(page.get_by_test_id("shots")).to_have_text("2")
    page.get_by_test_id("camera-done").tap()
    expect(page.get_by_test_id("camera-dialog")).to_have_count(0)
    expect(mark.get_by_test_id("photo-thumb")).to_have_count(2, timeout=20_000)


def test_a_walk_around_done_with_the_wifi_down_reaches_the_server_whole(
    live_server: LiveServer, new_tablet: Any
) -> None:
    """Marks, a photo and the customer's signature made offline are kept on the tablet (the map
    stays as drawn, signed and closed) and arrive in order, once each, when the network returns."""
    tablet = new_tablet(locale="en-US")
    page = tablet.new_page()
    page.goto(live_server.url + "/")
    sign_in(page, ADVISOR)
    ro = write_up(
        page,
        live_server.url,
        customer={"name": "Grace Wu", "phone": "13600004444", "language": "en"},
        vehicle={"plate": "沪F24680", "make": "Audi", "model": "A6L"},
        concern="Door scratch",
        job="Paint check",
        promised_hour=15,
    )
    page.goto(f"{live_server.url}/#/walkaround/{ro['id']}")
    expect(page.get_by_test_id("sign-panel")).to_be_visible()
    tablet.set_offline(True)

    left = page.get_by_test_id("car-left")
    left.scroll_into_view_if_needed()
    box = left.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    mark = page.get_by_test_id("mark-item")
    mark.get_by_test_id("type-dent").tap()
    expect(page.get_by_test_id("outbox-badge")).to_have_attribute("data-count", "1", timeout=5_000)
    with page.expect_file_chooser() as chooser:
        mark.get_by_test_id("photo-add").tap()
    chooser.value.set_files(files=[{"name": "door.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg()}])
    expect(mark.get_by_test_id("photo-pending")).to_have_count(1)

    pad = page.get_by_test_id("sign-pad")
    pad.scroll_into_view_if_needed()
    pbox = pad.bounding_box()
    assert pbox is not None
    page.mouse.move(pbox["x"] + 30, pbox["y"] + pbox["height"] * 0.5)
    page.mouse.down()
    for step in range(1, 10):
        page.mouse.move(pbox["x"] + 30 + step * 25, pbox["y"] + pbox["height"] * (0.5 - 0.05 * (step % 3)))
    page.mouse.up()
    page.get_by_test_id("sign-name").fill("Grace Wu")
    page.get_by_test_id("sign-button").tap()
    expect(page.get_by_test_id("signature-pending")).to_be_visible()
    expect(mark.get_by_test_id("type-scratch")).to_be_disabled()  # signed: the map is closed here too
    # The map was saved twice (the dent, then again before signing), then the photo and the signature.
    expect(page.get_by_test_id("outbox-badge")).to_have_attribute("data-count", "4")
    walk = page.request.get(f"{live_server.url}/api/repair-orders/{ro['id']}/walkaround")
    assert walk.json()["marks"] == [] and walk.json()["signed_at"] is None  # (the test's own request)

    tablet.set_offline(False)
    expect(page.get_by_test_id("outbox-badge")).to_be_hidden(timeout=30_000)
    expect(page.get_by_test_id("signature-pending")).to_have_count(0, timeout=10_000)
    walk = page.request.get(f"{live_server.url}/api/repair-orders/{ro['id']}/walkaround").json()
    assert [m["type"] for m in walk["marks"]] == ["dent"]
    assert walk["signed_by"] == "Grace Wu" and walk["signed_at"]
    assert [p["panel"] for p in walk["photos"]] == [walk["marks"][0]["id"]]
