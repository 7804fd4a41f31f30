"""Photo upload and serving over HTTP, the walk-around record and the customer's view of photos."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from api import settings
from api.tables import Event, Photo, RepairOrder, Walkaround
from tests.factories import client, ro_body, signed_in
from tests.test_photos import bad_corpus, upright_reference, with_gps_and_orientation


def photo_files() -> list[Path]:
    root = settings.get().photos_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def new_ro(c: httpx.AsyncClient) -> dict[str, Any]:
    r = await c.post("/api/repair-orders", json=ro_body())
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def upload(
    c: httpx.AsyncClient, ro_id: int, data: bytes, key: str | None = None, **fields: str
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    files = {"file": (fields.pop("filename", "photo.jpg"), data, "image/jpeg")}
    return await c.post(
        f"/api/repair-orders/{ro_id}/photos",
        files=files,
        data={"kind": "walkaround", **fields},
        headers=headers,
    )


async def test_upload_is_upright_clean_served_and_replayed_once(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), client(app) as anonymous:
        ro = await new_ro(c)
        before = set(photo_files())
        raw = upright_reference().transpose(Image.Transpose.ROTATE_90)  # what the sensor saw
        data = with_gps_and_orientation(raw, 6)
        first = await upload(c, ro["id"], data, key="walk-1", panel="m1", filename="../../x.jpg")
        again = await upload(c, ro["id"], data, key="walk-1", panel="m1", filename="../../x.jpg")
        assert first.status_code == again.status_code == 201, first.text
        assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
        body = first.json()
        assert {"id", "url", "thumb_url", "width", "height"} <= set(body)
        assert (body["width"], body["height"]) == (600, 400)
        assert await Photo.count() == 1 and await Event.count().where(Event.type == "photo.added") == 1
        shown = await c.get(body["url"])
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
        assert b"Exif" not in shown.content and b"<script>" not in shown.content
        assert "private" in shown.headers["cache-control"]
        assert (await c.get(body["thumb_url"])).status_code == 200
        assert (await anonymous.get(body["url"])).status_code == 401
        # The client's file name went nowhere: only content-hash names exist, all under PHOTOS_DIR.
        added = set(photo_files()) - before
        assert len(added) <= 2 and all(len(p.stem) == 64 for p in photo_files())
        assert not (settings.get().data_dir / "x.jpg").exists()
        ro_full = (await c.get(f"/api/repair-orders/{ro['id']}")).json()
        assert [p["id"] for p in ro_full["photos"]] == [body["id"]]


async def test_bad_files_over_http_change_nothing(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        ro = await new_ro(c)
        before = photo_files()
        corpus = bad_corpus()
        # Every kind of bad file, and a sample of the truncated ones.
        sample = [item for item in corpus if not item[0].startswith("truncated")] + [
            item for item in corpus if item[0].startswith("truncated")
        ][::10]
        for name, body, statuses in sample:
            r = await upload(c, ro["id"], body)
            expected = statuses | ({413} if len(body) > 10_000_000 else set())
            assert r.status_code in expected, (name, r.status_code, r.text)
            assert r.json()["detail"], name
        assert await Photo.count() == 0 and await Event.count().where(Event.type == "photo.added") == 0
        assert photo_files() == before
        r = await upload(c, ro["id"], with_gps_and_orientation(upright_reference(), 1), kind="selfie")
        assert r.status_code == 422 and "kind" in r.json()["detail"]
        r = await c.post(f"/api/repair-orders/{ro['id']}/photos", data={"kind": "walkaround"})
        assert r.status_code in (400, 422)
        # Still up and still taking good photos.
        assert (
            await upload(c, ro["id"], with_gps_and_orientation(upright_reference(), 1))
        ).status_code == 201


async def test_customer_sees_own_walkaround_photos_only(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), client(app) as phone:
        ro, other = await new_ro(c), await new_ro(c)
        walk = (await upload(c, ro["id"], with_gps_and_orientation(upright_reference(), 1))).json()
        qc_data = with_gps_and_orientation(upright_reference().rotate(45), 1)
        qc = (await upload(c, ro["id"], qc_data, kind="qc")).json()
        token = ro["status_url"].removeprefix("/s/")
        other_token = other["status_url"].removeprefix("/s/")
        status = (await phone.get(f"/api/status/{token}")).json()
        assert [p["id"] for p in status["photos"]] == [walk["id"]]
        url = status["photos"][0]["thumb_url"]
        assert url == f"/s/{token}/photos/{walk['id']}/thumb"
        assert (await phone.get(url)).status_code == 200
        assert (await phone.get(f"/s/{token}/photos/{walk['id']}")).status_code == 200
        # Not through another car's link, not QC evidence, not the staff URL.
        assert (await phone.get(f"/s/{other_token}/photos/{walk['id']}")).status_code == 404
        assert (await phone.get(f"/s/{token}/photos/{qc['id']}")).status_code == 404
        assert (await phone.get(walk["url"])).status_code == 401
        page = (await phone.get(f"/s/{token}")).text
        assert f"/s/{token}/photos/{walk['id']}/thumb" in page and 'loading="lazy"' in page


def signature_png() -> bytes:
    img = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    img.paste((20, 20, 20, 255), (50, 90, 550, 110))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


async def test_walkaround_marks_then_signature_closes_it(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        ro = await new_ro(c)
        url = f"/api/repair-orders/{ro['id']}/walkaround"
        marks = [
            {"id": "m1", "view": "left", "x": 0.3, "y": 0.5, "type": "dent", "note": "后门凹陷"},
            {"id": "m2", "view": "front", "x": 0.8, "y": 0.2, "type": "scratch"},
        ]
        r = await c.put(url, json={"marks": marks, "fuel_level": 3, "mileage": 45300})
        assert r.status_code == 200, r.text
        assert [m["id"] for m in r.json()["marks"]] == ["m1", "m2"] and r.json()["fuel_level"] == 3
        bad = await c.put(url, json={"marks": [{**marks[0], "x": 2}]})
        assert bad.status_code == 422
        dup = await c.put(url, json={"marks": [marks[0], marks[0]]})
        assert dup.status_code == 422 and "own id" in dup.json()["detail"]
        files = {"file": ("sig.png", signature_png(), "image/png")}
        unsigned = await c.post(f"{url}/signature", files=files, data={"signed_by": " "})
        assert unsigned.status_code == 422
        signed = await c.post(f"{url}/signature", files=files, data={"signed_by": "张伟"})
        assert signed.status_code == 201, signed.text
        assert signed.json()["signed_by"] == "张伟" and signed.json()["signed_at"]
        image = await c.get(f"{url}/signature")
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        # What the customer signed is the record.
        assert (await c.put(url, json={"marks": []})).status_code == 409
        assert (await c.post(f"{url}/signature", files=files, data={"signed_by": "张伟"})).status_code == 409
        row = await Walkaround.select().where(Walkaround.repair_order == ro["id"]).first()
        assert row is not None and '"m1"' in row["marks"]
        fuel = await RepairOrder.select(RepairOrder.fuel_level).where(RepairOrder.id == ro["id"]).first()
        assert fuel == {"fuel_level": 3}


async def test_refused_uploads_leave_no_files_behind(app: Any, clean: None) -> None:
    """Refusals that come after the image was processed (in the command) remove its files too."""
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c):
        ro, other = await new_ro(c), await new_ro(c)
        before = set(photo_files())

        def added() -> set[Path]:
            return set(photo_files()) - before

        picture = upright_reference()
        picture.paste((17, 99, 201), (200, 150, 260, 210))  # bytes no other test stores
        data = with_gps_and_orientation(picture, 1)
        # A job of another repair order: 404 from inside the command.
        r = await upload(c, ro["id"], data, job_id=str(other["jobs"][0]["id"]))
        assert r.status_code == 404, r.text
        assert added() == set()
        # An Idempotency-Key already used for a different request: 422.
        assert (await upload(c, ro["id"], data, key="same-key", kind="qc")).status_code == 201
        kept = added()
        assert len(kept) == 2
        other_photo = with_gps_and_orientation(picture.rotate(90), 1)
        r = await upload(c, ro["id"], other_photo, key="same-key", kind="qc")
        assert r.status_code == 422 and "different request" in r.json()["detail"]
        # Queued by someone else on this tablet: 401, kept on the tablet, nothing kept here.
        r = await c.post(
            f"/api/repair-orders/{ro['id']}/photos",
            files={"file": ("p.jpg", other_photo, "image/jpeg")},
            data={"kind": "walkaround"},
            headers={"Acting-Staff": "999999"},
        )
        assert r.status_code == 401, r.text
        assert added() == kept
        # Signing keeps the signature image only (no thumbnail nobody shows); a second signature is
        # refused and leaves nothing.
        url = f"/api/repair-orders/{ro['id']}/walkaround/signature"
        first = io.BytesIO()
        Image.new("RGB", (600, 200), (240, 240, 240)).save(first, "PNG")
        files = {"file": ("sig.png", first.getvalue(), "image/png")}
        assert (await c.post(url, files=files, data={"signed_by": "张伟"})).status_code == 201
        signed = added()
        assert len(signed - kept) == 1
        again = io.BytesIO()
        Image.new("RGB", (600, 200), (250, 250, 250)).save(again, "PNG")  # a different signature
        files = {"file": ("sig.png", again.getvalue(), "image/png")}
        r = await c.post(url, files=files, data={"signed_by": "张伟"})
        assert r.status_code == 409, r.text
        assert added() == signed
        assert await Photo.count() == 1
