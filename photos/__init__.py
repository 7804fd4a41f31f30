"""The photo pipeline: from uploaded bytes to stored, metadata-free derivatives. No web imports."""

from photos.ingest import (
    DISPLAY_MAX,
    MAX_BYTES,
    MAX_PIXELS,
    THUMB_MAX,
    Corrupt,
    Ingested,
    NotAnImage,
    PhotoError,
    TooLarge,
    TooManyPixels,
    Unsupported,
    ingest,
    keep,
)
from photos.store import FolderStore, Store

__all__ = [
    "DISPLAY_MAX",
    "MAX_BYTES",
    "MAX_PIXELS",
    "THUMB_MAX",
    "Corrupt",
    "FolderStore",
    "Ingested",
    "NotAnImage",
    "PhotoError",
    "Store",
    "TooLarge",
    "TooManyPixels",
    "Unsupported",
    "ingest",
    "keep",
]
