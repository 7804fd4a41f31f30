"""Uploaded bytes → a display JPEG (long side ≤ 2048) and a 320 px thumbnail, upright, without metadata.

CPU-bound and blocking: callers run it in a worker thread, never on the event loop.

Order matters for speed and safety (research/performance-notes.md §1): identify the format from the
header, check the pixel count before any decoding, let the JPEG decoder scale by 1/2, 1/4 or 1/8
while decoding (draft), and only then rotate — on the small image, one transpose, its metadata left
behind. The thumbnail comes from the upright display pixels: one box reduction to about its size,
then a short bilinear step.
"""

from __future__ import annotations

import io
import traceback
import warnings
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

from photos.memory import RETURNER
from photos.store import Store

MAX_BYTES = 10_000_000  # a tablet's upload is ≤ 2048 px, ~1 MB; a full 50 MP phone original is ~15 MB
MAX_PIXELS = 64_000_000  # JPEG: 50 MP phone cameras pass; 90 MP "bombs" of a few KB do not
# PNG and WebP have no scaled decode: every pixel is decoded (1–4 bytes each, then RGB copies). A 64 MP
# PNG of 7.8 KB took 0.9 s and 380 MB; 16 MP still takes any tablet's or phone's screenshot.
MAX_PIXELS_FULL_DECODE = 16_000_000
DISPLAY_MAX = 2048
THUMB_MAX = 320
DISPLAY_QUALITY = 85
THUMB_QUALITY = 80
FORMATS = ("JPEG", "PNG", "WEBP")
ORIENTATION = 0x0112  # the EXIF tag
# What each EXIF orientation needs to come out upright (as ImageOps.exif_transpose does it). Doing the
# one transpose ourselves skips exif_transpose's rewriting of EXIF and XMP, which we drop anyway.
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# ISO-BMFF brands of HEIC/HEIF/AVIF files (iPhones): recognisable, but not accepted.
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis", b"avif")


class PhotoError(ValueError):
    """A photo that cannot be taken; `status` is the HTTP status a caller should answer with."""

    status = 422


class TooLarge(PhotoError):
    status = 413


class NotAnImage(PhotoError):
    status = 415


class Unsupported(PhotoError):
    status = 415


class TooManyPixels(PhotoError):
    status = 422


class Corrupt(PhotoError):
    status = 422


@dataclass(frozen=True)
class Ingested:
    display: str  # store names
    thumb: str
    width: int  # of the display copy, upright
    height: int
    source_format: str
    # The derivatives by name, for keep(): a request's files can be written again (idempotently).
    files: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)


def _open(data: bytes) -> Image.Image:
    if len(data) > MAX_BYTES:
        raise TooLarge(f"The photo is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB.")
    if not data:
        raise NotAnImage("The file is empty.")
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        raise Unsupported(
            "HEIC/HEIF photos are not accepted: send a JPEG (the tablet's camera button does this; "
            "on an iPhone choose Settings → Camera → Formats → Most Compatible)."
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 89 and 179 MP; we refuse well before that, below.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooManyPixels(f"The image has too many pixels (limit {MAX_PIXELS // 1_000_000} MP).") from exc
    except UnidentifiedImageError as exc:
        raise NotAnImage("This file is not a JPEG, PNG or WebP photo.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise Corrupt("The photo file is damaged and cannot be read; take it again.") from exc
    width, height = image.size
    limit = MAX_PIXELS if image.format == "JPEG" else MAX_PIXELS_FULL_DECODE
    if width < 1 or height < 1 or width * height > limit:
        kind = "" if image.format == "JPEG" else f" for a {image.format}"
        raise TooManyPixels(
            f"The image is {width}×{height} ({width * height / 1e6:.0f} MP); the limit{kind} is "
            f"{limit // 1_000_000} MP."
        )
    return image


def _draft(image: Image.Image) -> int:
    """Ask for the smallest DCT scale that still gives a long side ≥ what we keep (JPEG only).

    Returns the number of pixels the decode will produce (nothing is decoded yet).
    """
    width, height = image.size
    if image.format == "JPEG":
        scale = 1
        while scale < 8 and max(width, height) / scale > DISPLAY_MAX:
            scale *= 2
        # draft() picks the largest reduction whose result is still at least the requested size.
        image.draft("RGB", (-(-width // scale), -(-height // scale)))
    return image.width * image.height


def _decode(image: Image.Image) -> Image.Image:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Corrupt("The photo file is damaged or incomplete; take it again.") from exc
    return image


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # A fresh info dict: Pillow would otherwise carry a COM comment, XMP or ICC data over from the
    # source. Nothing but pixels leaves this function.
    image.info = {}
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def ingest(data: bytes, store: Store) -> Ingested:
    """Validate, derive and store. Raises a PhotoError (with its HTTP status) for anything unusable."""
    RETURNER.started()
    decoded = [0]  # pixels of the decode, once known
    try:
        return _ingest(data, store, decoded)
    except BaseException as exc:
        # The traceback's frames (ours and Pillow's, through the chained cause) still hold the images:
        # drop their locals, so that the memory given back below is really free.
        _clear_frames(exc)
        raise
    finally:
        # A decode larger than a display copy (a PNG, a JPEG beyond 8 × 2048 px) gives its memory back
        # at once; an ordinary photo's buffers wait for the next photo (photos/memory.py).
        RETURNER.finished(big=decoded[0] > DISPLAY_MAX * DISPLAY_MAX)


def _clear_frames(exc: BaseException | None) -> None:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def _ingest(data: bytes, store: Store, decoded: list[int]) -> Ingested:
    # Every image lives in this call and the ones below: when it returns, their pixels are free.
    image = _open(data)
    decoded[0] = _draft(image)
    return _derive(image, store)


def _derive(image: Image.Image, store: Store) -> Ingested:
    source_format = str(image.format)
    small = _decode(image)
    try:
        # getexif() also reads an orientation that only XMP carries (tiff:Orientation).
        turn = UPRIGHT.get(small.getexif().get(ORIENTATION, 1))
        # Rotate the small image (any mode transposes), then flatten to RGB.
        upright = _rgb(small.transpose(turn) if turn is not None else small)
        del small, image  # the decoded pixels: free before the encodes allocate theirs
        if max(upright.size) > DISPLAY_MAX:  # PNG/WebP, or a JPEG wider than 8 × 2048
            upright.thumbnail((DISPLAY_MAX, DISPLAY_MAX), Image.Resampling.BICUBIC)
        # Box-average by the whole factor that lands just above the thumbnail's size (6 × 6 pixels
        # from a 2016 px display: a new, small image, so no copy), then resample the last few percent:
        # bilinear, as close to a Lanczos thumbnail of the full photo as bicubic (48.8 dB against 48.3),
        # and a third cheaper.
        factor = max(1, max(upright.size) // THUMB_MAX)
        thumb = upright.reduce(factor) if factor > 1 else upright.copy()
        thumb.thumbnail((THUMB_MAX, THUMB_MAX), Image.Resampling.BILINEAR)
        display_bytes = _jpeg(upright, DISPLAY_QUALITY)
        thumb_bytes = _jpeg(thumb, THUMB_QUALITY)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError) as exc:
        # Odd modes or malformed EXIF that the header check could not see: refuse, do not crash.
        raise Corrupt("This photo could not be processed; take it again as a normal JPEG.") from exc
    # Store only once both derivatives exist: a refusal above leaves nothing behind.
    display_name, thumb_name = store.put(display_bytes), store.put(thumb_bytes)
    files = {display_name: display_bytes, thumb_name: thumb_bytes}
    return Ingested(display_name, thumb_name, upright.width, upright.height, source_format, files)


def keep(ingested: Ingested, store: Store) -> None:
    """Make sure the files of `ingested` are in `store` (written again if removed since; cheap if not)."""
    for data in ingested.files.values():
        store.put(data)
