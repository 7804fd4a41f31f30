"""What the customer signed is the record: a signed walk-around takes no more photos."""

from __future__ import annotations

import contextlib
from typing import Any

from api.tables import Event, Photo
from tests.api.test_photos_api import new_ro, signature_png, upload
from tests.factories import client, signed_in
from tests.test_photos import upright_reference, with_gps_and_orientation


async def test_a_signed_walkaround_refuses_photos(app: Any, clean: None) -> None:
    c, _ = await signed_in(app, "advisor")
    async with contextlib.aclosing(c), client(app) as phone:
        ro = await new_ro(c)
        photo = with_gps_and_orientation(upright_reference(), 1)
        before = await upload(c, ro["id"], photo, panel="m1")
        assert before.status_code == 201, before.text
        files = {"file": ("sig.png", signature_png(), "image/png")}
        signed = await c.post(
            f"/api/repair-orders/{ro['id']}/walkaround/signature", files=files, data={"signed_by": "张伟"}
        )
        assert signed.status_code == 201, signed.text

        late = await upload(
            c, ro["id"], with_gps_and_orientation(upright_reference().rotate(90), 1), panel="m2"
        )
        assert late.status_code == 409, late.text
        assert late.json()["code"] == "walkaround.signed" and "signed" in late.json()["detail"]
        assert await Photo.count() == 1 and await Event.count().where(Event.type == "photo.added") == 1
        token = ro["status_url"].removeprefix("/s/")
        shown = (await phone.get(f"/api/status/{token}")).json()["photos"]
        assert [p["id"] for p in shown] == [before.json()["id"]]
        walk = (await c.get(f"/api/repair-orders/{ro['id']}/walkaround")).json()
        assert [p["id"] for p in walk["photos"]] == [before.json()["id"]]
        # Photos of the work itself are not part of the walk-around: still welcome.
        qc = await upload(c, ro["id"], with_gps_and_orientation(upright_reference().rotate(45), 1), kind="qc")
        assert qc.status_code == 201, qc.text
