"""Photos: upload (through the command path), and serving them to staff (session) or a customer (token)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import MultipartBody
from litestar.response import File
from piccolo.engine import engine_finder

import photos
from api import db, inputs, policy, readmodels, settings, statuslink, workshop
from api.auth import check_allowed, current_user, requires
from api.commands import NewEvent, Outcome, now
from api.routes.base import run
from api.tables import Job, Photo, Walkaround

# Multipart framing around a photo of at most photos.MAX_BYTES; anything bigger is a 413 at the edge.
MAX_UPLOAD_BODY = photos.MAX_BYTES + 64 * 1024
# Two cores: more concurrent decodes only queue inside Pillow and grow memory.
_ingest_slots = anyio.CapacityLimiter(2)
# Content-hash names never change meaning: the browser may keep them (privately) for a week.
CACHE = "private, max-age=604800, immutable"


def store() -> photos.FolderStore:
    return photos.FolderStore(settings.get().photos_dir)


async def ingest(data: bytes) -> photos.Ingested:
    """The pipeline in a worker thread: a 12 MP decode must never stall the event loop."""
    return await anyio.to_thread.run_sync(photos.ingest, data, store(), limiter=_ingest_slots)


async def keep(stored: photos.Ingested) -> None:
    """Inside the command that will name `stored`'s files: make sure they exist at its commit.

    They were written before the command, outside its lock; the clean-up of a refused upload of the
    same picture (content-hash names) may have removed them in between.
    """
    await anyio.to_thread.run_sync(photos.keep, stored, store())


async def release(stored: photos.Ingested) -> None:
    """After the command: remove those of `stored`'s files that no row names.

    A refused upload (after its image was processed) and the thumbnail of a signature leave nothing
    behind. Under the command lock, so a concurrent command cannot be between keep() and commit.
    """
    engine = engine_finder()
    assert engine is not None
    async with db.write_transaction(engine):
        for name in stored.files:
            named = await Photo.exists().where((Photo.display == name) | (Photo.thumb == name))
            if not named and not await Walkaround.exists().where(Walkaround.signature == name):
                store().remove(name)


async def read_upload(file: UploadFile) -> bytes:
    try:
        return await file.read(photos.MAX_BYTES + 1)
    finally:
        await file.close()


@dataclass
class PhotoForm:
    file: UploadFile
    kind: str = "walkaround"
    note: str = ""
    panel: str = ""
    job_id: int | None = None


def _check_form(form: PhotoForm) -> None:
    inputs.check_form(form)
    workshop.check_photo_kind(form.kind)
    if len(form.note) > 500:
        raise workshop.Invalid("note: at most 500 characters.")
    if len(form.panel) > 40:
        raise workshop.Invalid("panel: at most 40 characters.")


def send_file(path: Path) -> File:
    if not path.is_file():
        raise workshop.NotFound("This photo file is missing from the photo store.")
    return File(
        path=path,
        media_type="image/jpeg",
        content_disposition_type="inline",
        headers={"Cache-Control": CACHE},
    )


async def _photo(photo_id: int) -> dict[str, Any]:
    row = await Photo.select().where(Photo.id == photo_id).first()
    if row is None:
        raise workshop.NotFound(f"There is no photo {photo_id}.")
    return row


async def _walkaround_open(ro_id: int) -> None:
    """Walk-around photos are part of what the customer signs: none are added after the signature."""
    row = await Walkaround.select(Walkaround.signed_at).where(Walkaround.repair_order == ro_id).first()
    workshop.check_walkaround_open(row["signed_at"] if row else None)


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
        _check_form(data)
        check_allowed(user, policy.photo_operation(data.kind))
        body = await read_upload(data.file)
        await readmodels.require_repair_order(ro_id)  # 404 before spending CPU on the image
        if data.kind == "walkaround":
            await _walkaround_open(ro_id)  # 409 before spending CPU on it (and again when writing)
        stored = await ingest(body)
        payload = {
            "ro": ro_id,
            "kind": data.kind,
            "note": data.note,
            "panel": data.panel,
            "job_id": data.job_id,
            "sha256": hashlib.sha256(body).hexdigest(),
        }

        async def handler() -> Outcome:
            await readmodels.require_repair_order(ro_id)
            if data.kind == "walkaround":
                await _walkaround_open(ro_id)
            if data.job_id is not None and not await Job.exists().where(
                (Job.id == data.job_id) & (Job.repair_order == ro_id)
            ):
                raise workshop.NotFound(f"This repair order has no job {data.job_id}.")
            await keep(stored)
            row = Photo(
                repair_order=ro_id,
                job=data.job_id,
                kind=data.kind,
                note=data.note.strip(),
                panel=data.panel.strip(),
                display=stored.display,
                thumb=stored.thumb,
                width=stored.width,
                height=stored.height,
                taken_by=user.id,
                created_at=now(),
            )
            await row.save()
            out = readmodels.photo_out(await _photo(int(row.id)))
            out["created_at"] = out["created_at"].isoformat()
            event = {k: out[k] for k in ("id", "kind", "panel", "job_id", "url", "thumb_url")}
            return Outcome(201, out, [NewEvent("photo.added", ro_id, event)])

        try:
            return await run(request, handler, actor=f"staff:{user.id}", payload=payload)
        finally:
            await release(stored)

    @get("/api/photos/{photo_id:int}", guards=[requires("photo.read")])
    async def display(self, photo_id: inputs.Id) -> File:
        """The display copy (long side ≤ 2048 px), for signed-in staff."""
        return send_file(store().path((await _photo(photo_id))["display"]))

    @get("/api/photos/{photo_id:int}/thumb", guards=[requires("photo.read")])
    async def thumb(self, photo_id: inputs.Id) -> File:
        """The 320 px thumbnail, for signed-in staff."""
        return send_file(store().path((await _photo(photo_id))["thumb"]))


async def customer_photo(token: str, photo_id: int, thumb: bool) -> File:
    """A photo through the status link: only this repair order's, only kinds the customer may see."""
    ro = await statuslink.resolve(token)
    row = await Photo.select().where(Photo.id == photo_id).first()
    if (
        ro is None
        or row is None
        or row["repair_order"] != ro["id"]
        or row["kind"] not in workshop.CUSTOMER_PHOTO_KINDS
    ):
        raise workshop.NotFound("This photo is not part of this status link.")
    return send_file(store().path(row["thumb" if thumb else "display"]))
