"""Photos: upload (through the command path), and serving them to staff (session) or a customer (token).

Use cases: api/photo_uploads.py."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import MultipartBody
from litestar.response import File

from api import inputs, photo_uploads, policy
from api.auth import check_allowed, current_user, requires
from api.httpcommand import run
from api.httpfiles import MAX_UPLOAD_BODY, read_upload, send_file


@dataclass
class PhotoForm:
    file: UploadFile
    kind: str = "walkaround"
    note: str = ""
    panel: str = ""
    job_id: int | None = None


class PhotoController(Controller):
    tags = ["photos"]

    @post(
        "/api/repair-orders/{ro_id:int}/photos",
        guards=[requires("photo.add")],
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BODY,
    )
    async def upload(
        self, request: Request, ro_id: inputs.Id, data: MultipartBody[PhotoForm]
    ) -> Response[Any]:
        """Add a photo (multipart `file`, `kind`, optional `note`, `panel`, `job_id`) → 201."""
        user = current_user(request)
        inputs.check_form(data)
        photo_uploads.check_form(data.kind, data.note, data.panel)
        check_allowed(user, policy.photo_operation(data.kind))
        body = await read_upload(data.file)
        await photo_uploads.may_add(ro_id, data.kind)  # 404/409 before spending CPU on the image
        stored = await photo_uploads.ingest(body)
        payload = {
            "ro": ro_id,
            "kind": data.kind,
            "note": data.note,
            "panel": data.panel,
            "job_id": data.job_id,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        handler = functools.partial(
            photo_uploads.add, ro_id, stored, data.kind, data.note, data.panel, data.job_id, user.id
        )
        try:
            return await run(request, handler, actor=f"staff:{user.id}", payload=payload)
        finally:
            await photo_uploads.release(stored)

    @get("/api/photos/{photo_id:int}", guards=[requires("photo.read")])
    async def display(self, photo_id: inputs.Id) -> File:
        """The display copy (long side ≤ 2048 px), for signed-in staff."""
        return send_file(await photo_uploads.path(photo_id, thumb=False))

    @get("/api/photos/{photo_id:int}/thumb", guards=[requires("photo.read")])
    async def thumb(self, photo_id: inputs.Id) -> File:
        """The 320 px thumbnail, for signed-in staff."""
        return send_file(await photo_uploads.path(photo_id, thumb=True))
