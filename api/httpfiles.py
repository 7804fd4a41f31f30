"""The HTTP side of files: uploads read with a cap, stored files sent with cache headers."""

from __future__ import annotations

from pathlib import Path

from litestar.datastructures import UploadFile
from litestar.response import File

import photos
from api import workshop

# Multipart framing around a photo of at most photos.MAX_BYTES; anything bigger is a 413 at the edge.
MAX_UPLOAD_BODY = photos.MAX_BYTES + 64 * 1024
# Content-hash names never change meaning: the browser may keep them (privately) for a week.
CACHE = "private, max-age=604800, immutable"


async def read_upload(file: UploadFile) -> bytes:
    """The uploaded bytes, one more than the limit at most (the pipeline refuses that)."""
    try:
        return await file.read(photos.MAX_BYTES + 1)
    finally:
        await file.close()


def send_file(path: Path) -> File:
    if not path.is_file():
        raise workshop.NotFound("This photo file is missing from the photo store.", code="photo.file_missing")
    return File(
        path=path,
        media_type="image/jpeg",
        content_disposition_type="inline",
        headers={"Cache-Control": CACHE},
    )
