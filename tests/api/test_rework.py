"""What the technician's screen gets when QC sends a job back: each failed item in both languages
(whatever language the checker's tablet showed) and the photos the checker took of it."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import httpx
from PIL import Image

from api.tables import QcRecord
from tests.factories import ro_body, signed_in


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


async def qc_photo(c: httpx.AsyncClient, ro_id: int, job_id: int, item_id: int) -> dict[str, Any]:
    r = await c.post(
        f"/api/repair-orders/{ro_id}/photos",
        files={"file": ("qc.jpg", jpeg(), "image/jpeg")},
        data={"kind": "qc", "panel": f"qc:{item_id}", "job_id": str(job_id), "note": "bolt"},
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def finish(tech: httpx.AsyncClient, job_id: int) -> None:
    assert (await tech.post(f"/api/jobs/{job_id}/clock-on")).status_code == 200
    r = await tech.post(f"/api/jobs/{job_id}/clock-off", json={"reason": "finished"})
    assert r.status_code == 200, r.text


async def sent_back(tech: httpx.AsyncClient, job_id: int) -> dict[str, Any]:
    mine = (await tech.get("/api/me/jobs")).json()
    qc: dict[str, Any] = next(j for j in mine["jobs"] if j["id"] == job_id)["last_qc"]
    assert qc["passed"] is False
    return qc


async def test_the_failed_item_comes_in_both_languages_with_this_rounds_photos(app: Any, clean: None) -> None:
    advisor, _ = await signed_in(app, "advisor")
    tech, tech_person = await signed_in(app, "technician")
    checker, _ = await signed_in(app, "foreman")
    async with contextlib.aclosing(advisor), contextlib.aclosing(tech), contextlib.aclosing(checker):
        template = (await checker.get("/api/qc-templates/default")).json()
        first, second = template["items"][0], template["items"][1]
        ro = (await advisor.post("/api/repair-orders", json=ro_body())).json()
        job_id = ro["jobs"][0]["id"]
        await advisor.post(f"/api/jobs/{job_id}/assign", json={"technician_id": tech_person["id"]})
        await tech.post("/api/attendance/clock-in")
        await finish(tech, job_id)

        # The checker's tablet shows Chinese: it sends the Chinese name, and which checklist item it is.
        photo = await qc_photo(checker, ro["id"], job_id, first["id"])
        other_job_photo = await qc_photo(checker, ro["id"], ro["jobs"][1]["id"], first["id"])
        items = [
            {"item_id": first["id"], "name": first["name_zh"], "result": "fail", "note": "螺栓松动"},
            {"item_id": second["id"], "name": second["name_zh"], "result": "pass"},
        ]
        r = await checker.post(f"/api/jobs/{job_id}/qc", json={"items": items})
        assert r.status_code == 200 and r.json()["passed"] is False, r.text

        qc = await sent_back(tech, job_id)
        (item,) = qc["failed"]
        assert (item["item_id"], item["name_en"], item["name_zh"]) == (
            first["id"],
            first["name_en"],
            first["name_zh"],
        )
        assert item["note"] == "螺栓松动"
        assert [p["id"] for p in item["photos"]] == [photo["id"]]
        assert other_job_photo["id"] != photo["id"]
        assert item["photos"][0]["thumb_url"] == f"/api/photos/{photo['id']}/thumb"
        assert item["photos"][0]["url"] == f"/api/photos/{photo['id']}"
        assert (await tech.get(item["photos"][0]["thumb_url"])).status_code == 200

        # Second round, an older tablet sending names only: both labels still, and last round's
        # photo is not shown again.
        await finish(tech, job_id)
        old_style = [{"name": first["name_en"], "result": "fail", "note": "still loose"}]
        r = await checker.post(f"/api/jobs/{job_id}/qc", json={"items": old_style})
        assert r.status_code == 200, r.text
        (item,) = (await sent_back(tech, job_id))["failed"]
        assert (item["name_en"], item["name_zh"], item["note"]) == (
            first["name_en"],
            first["name_zh"],
            "still loose",
        )
        assert item["photos"] == []

        # A name no checklist knows is shown as written.
        await finish(tech, job_id)
        r = await checker.post(
            f"/api/jobs/{job_id}/qc", json={"items": [{"name": "Wipers streak", "result": "fail"}]}
        )
        (item,) = (await sent_back(tech, job_id))["failed"]
        assert (item["name"], item["name_en"], item["name_zh"]) == ("Wipers streak", None, None)

        # An item id that is not a number a checklist can have is refused, and nothing is stored.
        await finish(tech, job_id)
        records = await QcRecord.count()
        bad = [{"item_id": 2**70, "name": "x", "result": "fail"}]
        r = await checker.post(f"/api/jobs/{job_id}/qc", json={"items": bad})
        assert r.status_code == 422 and "item_id" in r.text, r.text
        assert await QcRecord.count() == records
