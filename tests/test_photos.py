"""The photo pipeline on its own: orientation, metadata, and a generated corpus of bad files."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile, TiffImagePlugin

import photos
from photos import FolderStore, PhotoError, ingest

# What exif_transpose does for each orientation; the raw pixels are the inverse, so that the
# correctly rotated result is the upright reference.
TO_RAW = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # the camera turned right: raw is the upright turned left
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def upright_reference() -> Image.Image:
    """Landscape 600×400: red block top-left, green block bottom-right, blue elsewhere."""
    img = Image.new("RGB", (600, 400), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 150, 100))
    img.paste((0, 255, 0), (450, 300, 600, 400))
    return img


def jpeg(img: Image.Image, **save: object) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, **save)  # type: ignore[arg-type]
    return out.getvalue()


def with_gps_and_orientation(img: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = {1: "N", 2: (31.0, 13.0, 45.0), 3: "E", 4: (121.0, 28.0, 12.0)}
    exif[0x8825] = gps
    return jpeg(img, exif=exif.tobytes(), comment=b"<script>alert(1)</script>")


@pytest.fixture
def store(tmp_path: Path) -> FolderStore:
    return FolderStore(tmp_path / "photos")


def stored_files(store: FolderStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


def near(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 60 for a, b in zip(pixel, colour, strict=False))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_comes_out_upright(store: FolderStore, orientation: int) -> None:
    raw = upright_reference()
    if TO_RAW[orientation] is not None:
        raw = raw.transpose(TO_RAW[orientation])
    result = ingest(with_gps_and_orientation(raw, orientation), store)
    with Image.open(store.path(result.display)) as shown:
        assert shown.size == (600, 400) == (result.width, result.height)
        rgb = shown.convert("RGB")
        assert near(rgb.getpixel((20, 20)), (255, 0, 0)), orientation
        assert near(rgb.getpixel((580, 380)), (0, 255, 0)), orientation
        assert near(rgb.getpixel((580, 20)), (0, 0, 255)), orientation
    with Image.open(store.path(result.thumb)) as thumb:
        # Made from the upright display copy, so upright too: 320 × 213, the same corners.
        assert thumb.size == (photos.THUMB_MAX, 213)
        small = thumb.convert("RGB")
        assert near(small.getpixel((8, 8)), (255, 0, 0)), orientation
        assert near(small.getpixel((310, 204)), (0, 255, 0)), orientation
        assert near(small.getpixel((310, 8)), (0, 0, 255)), orientation


def test_orientation_only_in_xmp_comes_out_upright(store: FolderStore) -> None:
    raw = upright_reference().transpose(TO_RAW[6])
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    result = ingest(jpeg(raw, xmp=xmp), store)  # no EXIF block at all
    with Image.open(store.path(result.display)) as shown:
        assert (result.width, result.height) == (600, 400) and near(shown.getpixel((20, 20)), (255, 0, 0))


def test_stored_files_carry_no_exif_gps_comment_or_xmp(store: FolderStore) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>secret</rdf:RDF></x:xmpmeta>'
    source = upright_reference()
    source.info["xmp"] = xmp
    data = with_gps_and_orientation(source, 6)
    assert b"Exif" in data and b"<script>" in data
    result = ingest(data, store)
    for name in (result.display, result.thumb):
        raw = store.path(name).read_bytes()
        for marker in (b"Exif", b"GPS", b"<script>", b"xmpmeta", b"PhoneMaker", b"http://ns.adobe.com"):
            assert marker not in raw, (name, marker)
        with Image.open(store.path(name)) as img:
            assert not img.getexif() and "comment" not in img.info and "xmp" not in img.info
    with Image.open(store.path(result.thumb)) as thumb:
        assert max(thumb.size) == photos.THUMB_MAX


def test_camera_sized_jpeg_is_decoded_at_half_scale(store: FolderStore) -> None:
    big = Image.new("RGB", (4032, 3024), (120, 130, 140))
    result = ingest(jpeg(big), store)
    assert (result.width, result.height) == (2016, 1512)  # the exact 1/2 DCT size, no resample


def test_png_and_webp_with_alpha_are_accepted_on_white(store: FolderStore) -> None:
    img = Image.new("RGBA", (300, 200), (255, 0, 0, 0))
    for fmt in ("PNG", "WEBP"):
        out = io.BytesIO()
        img.save(out, fmt)
        result = ingest(out.getvalue(), store)
        with Image.open(store.path(result.display)) as shown:
            assert near(shown.convert("RGB").getpixel((10, 10)), (255, 255, 255))


def test_same_photo_twice_is_stored_once(store: FolderStore) -> None:
    data = jpeg(upright_reference())
    first, second = ingest(data, store), ingest(data, store)
    assert first == second and len(stored_files(store)) == 2


# ---------- the bad-file corpus ----------


def png_bomb(width: int, height: int) -> bytes:
    """A few KB claiming width × height pixels (greyscale): the header alone gives it away."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1) * 4, 9)  # a few rows; nobody should ever read further
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def other_format(fmt: str) -> bytes:
    out = io.BytesIO()
    img = upright_reference()
    if fmt == "TIFF":
        img.save(out, "TIFF", tiffinfo=TiffImagePlugin.ImageFileDirectory_v2())
    else:
        img.save(out, fmt)
    return out.getvalue()


def bad_corpus() -> list[tuple[str, bytes, set[int]]]:
    good = jpeg(upright_reference())
    corpus: list[tuple[str, bytes, set[int]]] = [("zero-size", b"", {415})]
    # Truncated JPEGs at many offsets: header-only cuts are "not an image", later ones "damaged".
    for cut in range(1, len(good) - 2, max(1, len(good) // 200)):
        corpus.append((f"truncated@{cut}", good[:cut], {415, 422}))
    texts = {
        "html.jpg": b"<!doctype html><html><script>alert(1)</script></html>",
        "svg.jpg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
        "pdf.jpg": b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "psd.jpg": b"8BPS\x00\x01" + b"\x00" * 20,
        "exe.jpg": b"MZ\x90\x00" + b"\x00" * 60,
        "zip.jpg": b"PK\x03\x04" + b"\x00" * 40,
        "text.jpg": "车损照片".encode() * 10,
        "heic.jpg": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
        "avif.jpg": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1",
    }
    corpus += [(name, body, {415}) for name, body in texts.items()]
    corpus += [
        (f"{fmt.lower()}.jpg", other_format(fmt), {415}) for fmt in ("GIF", "TIFF", "BMP", "ICO", "PPM")
    ]
    corpus += [
        (f"random-{i}", bytes((i * 37 + k * 11) % 256 for k in range(64 + i)), {415}) for i in range(20)
    ]
    corpus.append(("bomb-90MP.png", png_bomb(9500, 9500), {422}))
    corpus.append(("bomb-196MP.png", png_bomb(14000, 14000), {422}))
    corpus.append(("bomb-2Gpx.png", png_bomb(50000, 50000), {422}))
    corpus.append(("eleven-MB", good + b"\0" * 11_000_000, {413}))
    # A JPEG header claiming 65 000 × 65 000 (SOF patched): refused from the header.
    sof = good.find(b"\xff\xc0")
    corpus.append(
        ("huge-sof.jpg", good[: sof + 5] + struct.pack(">HH", 65000, 65000) + good[sof + 9 :], {422})
    )
    return corpus


def test_corpus_of_bad_files_is_refused_and_nothing_is_stored(store: FolderStore) -> None:
    corpus = bad_corpus()
    assert len(corpus) >= 200
    for name, body, statuses in corpus:
        with pytest.raises(PhotoError) as caught:
            ingest(body, store)
        assert caught.value.status in statuses, (name, caught.value.status, str(caught.value))
        assert str(caught.value), name
    assert stored_files(store) == []


def test_heic_message_says_send_jpeg(store: FolderStore) -> None:
    with pytest.raises(photos.Unsupported, match="send a JPEG"):
        ingest(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 100, store)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The format of every image whose pixels Pillow starts to decode (ImageFile.load, which every
    decode of an opened file goes through). A refusal from the header leaves this empty; timing it
    instead says the same thing only on an idle machine."""
    seen: list[str] = []
    load = ImageFile.ImageFile.load

    def counted(image: ImageFile.ImageFile) -> object:
        seen.append(str(image.format))
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted)
    return seen


@pytest.mark.parametrize("megapixels", [90, 196])
def test_bomb_is_refused_from_the_header_fast(
    store: FolderStore, megapixels: int, decodes: list[str]
) -> None:
    side = int((megapixels * 1_000_000) ** 0.5) + 1
    bomb = png_bomb(side, side)
    assert len(bomb) < 50_000
    started = time.perf_counter()
    with pytest.raises(photos.TooManyPixels, match="MP"):
        ingest(bomb, store)
    assert decodes == []  # refused from the header: not one pixel was decoded
    assert time.perf_counter() - started < 2.0  # generous: even a loaded 2-core runner is far below
    ingest(png_1bit(64, 64), store)
    assert "PNG" in decodes  # an image that is let in is decoded, and the spy sees it


def png_1bit(width: int, height: int) -> bytes:
    """A valid, all-black 1-bit PNG: 8000 × 8000 is 7.8 KB on the wire and 64 MP once decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = (b"\0" * (1 + (width + 7) // 8)) * height
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def test_png_is_decoded_in_full_so_its_pixel_limit_is_lower(store: FolderStore, decodes: list[str]) -> None:
    """The issue's file: 7.8 KB, 64 MP (JPEG's limit) but a PNG, which has no scaled decode."""
    bomb = png_1bit(8000, 8000)
    assert len(bomb) < 10_000
    started = time.perf_counter()
    with pytest.raises(photos.TooManyPixels, match="limit for a PNG is 16 MP"):
        ingest(bomb, store)
    assert decodes == []  # refused from the header: nothing was decoded
    assert time.perf_counter() - started < 2.0  # the file took 0.9 s decoding; this is generous
    assert stored_files(store) == []
    # A screenshot-sized PNG is still welcome (and decoded, which the spy sees).
    assert ingest(png_1bit(2560, 1600), store).width == 2048
    assert "PNG" in decodes


MEMORY_PROBE = """
import sys, tempfile, threading
from pathlib import Path
import photos
from tests.test_photos import png_1bit

def resident_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) // 1024 for l in status if l.startswith("VmRSS"))

data = png_1bit(4000, 4000)  # 16 MP: inside the limit, decoded in full
store = photos.FolderStore(Path(tempfile.mkdtemp()))
before = resident_mb()
for _ in range(2):
    # Two at once, as the server's two ingest slots do: each thread gets its own malloc heap.
    threads = [threading.Thread(target=photos.ingest, args=(data, store)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print(resident_mb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_memory_of_a_big_decode_is_given_back(tmp_path: Path) -> None:
    """A 16 MP decode peaks near 130 MB per slot; afterwards the process must shrink back."""
    root = Path(__file__).resolve().parent.parent
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    kept_mb = int(probe.stdout.strip().splitlines()[-1])
    assert kept_mb < 32, f"{kept_mb} MB still resident after the decodes"


def test_store_refuses_names_it_did_not_make(store: FolderStore) -> None:
    for name in ("../../x", "ab/../../etc/passwd", "/etc/passwd", "ab/" + "g" * 64 + ".jpg"):
        with pytest.raises(ValueError):
            store.path(name)
