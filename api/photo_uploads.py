"""Photos as the service keeps them: the pipeline (package `photos`) run off the event loop, files
kept only when a row names them, and adding a photo to a repair order as a use case.

No web imports: the routes read the upload and send files (api/httpfiles.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from piccolo.engine import engine_finder

import photos
from api import db, events, readmodels, settings, statuslink, workshop
from api.commands import Outcome, now
from api.tables import Job, Photo, Walkaround

# Two cores: more concurrent decodes only queue inside Pillow and grow memory.
_ingest_slots = anyio.CapacityLimiter(2)


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


def check_form(kind: str, note: str, panel: str) -> None:
    """A photo's fields, before any work on its image."""
    workshop.check_photo_kind(kind)
    if len(note) > 500:
        raise workshop.Invalid(
            "note: at most 500 characters.", code="field.too_long", params={"max_length": 500}, field="note"
        )
    if len(panel) > 40:
        raise workshop.Invalid(
            "panel: at most 40 characters.", code="field.too_long", params={"max_length": 40}, field="panel"
        )


async def _photo(photo_id: int) -> dict[str, Any]:
    row = await Photo.select().where(Photo.id == photo_id).first()
    if row is None:
        raise workshop.NotFound(
            f"There is no photo {photo_id}.", code="photo.not_found", params={"id": photo_id}
        )
    return row


async def _walkaround_open(ro_id: int) -> None:
    """Walk-around photos are part of what the customer signs: none are added after the signature."""
    row = await Walkaround.select(Walkaround.signed_at).where(Walkaround.repair_order == ro_id).first()
    workshop.check_walkaround_open(row["signed_at"] if row else None)


async def may_add(ro_id: int, kind: str) -> None:
    """404 or 409 before spending CPU on the image (checked again inside the command)."""
    await readmodels.require_repair_order(ro_id)
    if kind == "walkaround":
        await _walkaround_open(ro_id)


async def add(
    ro_id: int, stored: photos.Ingested, kind: str, note: str, panel: str, job_id: int | None, by: int
) -> Outcome:
    """Add an ingested photo to a repair order (its files are kept at the commit)."""
    await may_add(ro_id, kind)
    if job_id is not None and not await Job.exists().where((Job.id == job_id) & (Job.repair_order == ro_id)):
        raise workshop.NotFound(
            f"This repair order has no job {job_id}.", code="job.not_in_order", params={"id": job_id}
        )
    await keep(stored)
    row = Photo(
        repair_order=ro_id,
        job=job_id,
        kind=kind,
        note=note.strip(),
        panel=panel.strip(),
        display=stored.display,
        thumb=stored.thumb,
        width=stored.width,
        height=stored.height,
        taken_by=by,
        created_at=now(),
    )
    await row.save()
    out = readmodels.photo_out(await _photo(int(row.id)))
    out["created_at"] = out["created_at"].isoformat()
    return Outcome(201, out, [events.photo_added(ro_id, out, by)])


async def path(photo_id: int, thumb: bool) -> Path:
    """Where a photo's display copy (or thumbnail) is, for signed-in staff."""
    row = await _photo(photo_id)
    return store().path(row["thumb" if thumb else "display"])


async def customer_path(token: str, photo_id: int, thumb: bool) -> Path:
    """A photo through the status link: only this repair order's, only kinds the customer may see."""
    ro = await statuslink.resolve(token)
    row = await Photo.select().where(Photo.id == photo_id).first()
    if (
        ro is None
        or row is None
        or row["repair_order"] != ro["id"]
        or row["kind"] not in workshop.CUSTOMER_PHOTO_KINDS
    ):
        raise workshop.NotFound("This photo is not part of this status link.", code="photo.not_in_link")
    return store().path(row["thumb" if thumb else "display"])
