"""Photo ingest benchmark: Bayline's pipeline against floors and alternatives measured in the same run.

    .venv/bin/python tests/bench/bench_photos.py
    (pyvips is optional: `.venv/bin/pip install pyvips pyvips-binary` to include it)

On a camera-like 12 MP JPEG made here (4032×3024, noise and gradients, EXIF orientation 6, a GPS block):
  * floor: Pillow decode at half scale (`draft()`), nothing else: the decode any ingest of this photo
    must do (its display copy is the 2016 × 1512 half-scale image);
  * ours: photos.ingest (identify, pixel check, draft decode, rotate, display + 320 px thumbnail,
    metadata-free JPEG encodes), into memory and into the real folder store (fsync + rename);
  * ours for the first photo after a quiet time: its pixel memory was given back to the system before
    (photos/memory.py), so every page is faulted in again;
  * naive Pillow: full decode, exif_transpose, resize, same outputs;
  * pyvips doing the same work (shrink-on-load + autorotate), when installed;
  * the same photo stored upright (orientation 1): what the 90° turn costs;
  * extra peak memory per photo (separate processes, ru_maxrss);
  * WebSocket ping p99 against a real server while 8 such photos are uploaded at once.
Times are CPU time of this process (user + system, page faults included; pyvips's own threads too),
median of ROUNDS after a warm-up. The floor and the ingests run in the same rounds, one after the
other, and their ratio is the median of the per-round ratios: the machine is shared, and a change in
its load then hits both alike (wall time mostly measured who else was running, so the folder
store's wait for fsync does not show).
"""

from __future__ import annotations

import asyncio
import io
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageOps  # noqa: E402

import photos  # noqa: E402
import photos.memory  # noqa: E402

ROUNDS = 15


def camera_jpeg(orientation: int = 6) -> bytes:
    w, h = 4032, 3024
    noise = Image.effect_noise((w, h), 24)
    grad = Image.linear_gradient("L").resize((w, h))
    across = grad.rotate(90).resize((w, h))
    img = Image.merge("RGB", (Image.blend(grad, noise, 0.35), Image.blend(across, noise, 0.25), noise))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 45.0), 3: "E", 4: (121.0, 28.0, 12.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


class MemoryStore:
    """The Store interface without a disk: isolates the CPU work."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        name = f"{len(self.files):02d}/{'0' * 64}.jpg"
        self.files[name] = data
        return name

    def path(self, name: str) -> Path:
        raise NotImplementedError

    def remove(self, name: str) -> None:
        self.files.pop(name, None)


def floor(data: bytes) -> None:
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (im.width // 2, im.height // 2))
    im.load()


def ours_memory(data: bytes) -> None:
    photos.ingest(data, MemoryStore())


def naive(data: bytes) -> None:
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    display = im.copy()
    display.thumbnail((2048, 2048))
    thumb = display.copy()
    thumb.thumbnail((320, 320))
    for image, quality in ((display, 85), (thumb, 80)):
        image.save(io.BytesIO(), "JPEG", quality=quality)


def vips_pipeline() -> Callable[[bytes], None] | None:
    try:
        import pyvips  # type: ignore[import-not-found]
    except (ImportError, OSError):
        return None

    def run(data: bytes) -> None:
        display = pyvips.Image.thumbnail_buffer(data, 2048, size="down")
        shown = display.write_to_buffer(".jpg[Q=85,keep=none]")
        pyvips.Image.thumbnail_buffer(shown, 320).write_to_buffer(".jpg[Q=80,keep=none]")

    return run


def timed(fn: Callable[[bytes], None], data: bytes) -> list[float]:
    fn(data)  # warm-up
    out = []
    for _ in range(ROUNDS):
        started = time.process_time()
        fn(data)
        out.append((time.process_time() - started) * 1000)
    return out


Case = tuple[Callable[[], object] | None, Callable[[bytes], None]]  # untimed preparation, timed work


def rounds(cases: dict[str, Case], data: bytes) -> dict[str, list[float]]:
    """Every case once per round, in order, after one warm-up round."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for n in range(ROUNDS + 1):
        for name, (prepare, fn) in cases.items():
            if prepare is not None:
                prepare()
            started = time.process_time()
            fn(data)
            if n:
                out[name].append((time.process_time() - started) * 1000)
    return out


def ratio(ms: list[float], floor_ms: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(ms, floor_ms, strict=True))


def high_water_kib() -> int:
    # VmHWM belongs to the address space, which exec replaces; ru_maxrss would be inherited from the
    # (large) parent across fork + exec and hide the child's own peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss_child(which: str, path: str) -> None:
    """Run one pipeline once in this fresh process; print the peak RSS growth in MiB."""
    data = Path(path).read_bytes()
    base = high_water_kib()
    {"ours": ours_memory, "naive": naive}[which](data)
    print((high_water_kib() - base) / 1024)


def peak_rss(which: str, path: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--rss", which, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return float(out.stdout.strip().splitlines()[-1])


async def ping_while_uploading(data: bytes) -> tuple[list[float], list[float]]:
    """50 WebSocket clients ping every 50 ms; ping p99 idle, then while 8 photos upload at once."""
    from websockets.asyncio.client import connect

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_live import Staff, bayline_server

    with bayline_server() as (port, _, _):
        staff = Staff(port)
        cookie = await staff.sign_in()
        ro = await staff.new_ro(1)
        sockets = [
            await connect(
                f"ws://127.0.0.1:{port}/ws/shop", additional_headers={"Cookie": cookie}, max_queue=None
            )
            for _ in range(50)
        ]

        async def pinger(ws: object, until: asyncio.Event, out: list[float]) -> None:
            while not until.is_set():
                started = time.perf_counter()
                waiter = await ws.ping()  # type: ignore[attr-defined]
                await asyncio.wait_for(waiter, 10)
                out.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.05)

        async def phase(work: Callable[[], object] | None, seconds: float) -> list[float]:
            stop = asyncio.Event()
            out: list[float] = []
            tasks = [asyncio.create_task(pinger(ws, stop, out)) for ws in sockets]
            if work is None:
                await asyncio.sleep(seconds)
            else:
                await work()  # type: ignore[misc]
            stop.set()
            await asyncio.gather(*tasks)
            return out

        async def upload_eight() -> None:
            async def one(i: int) -> None:
                r = await staff.http.post(
                    f"/api/repair-orders/{ro['id']}/photos",
                    files={"file": (f"p{i}.jpg", data, "image/jpeg")},
                    data={"kind": "walkaround"},
                    headers={"Idempotency-Key": f"bench-{i}-{time.time()}"},
                )
                assert r.status_code == 201, r.text

            await asyncio.gather(*(one(i) for i in range(8)))

        idle = await phase(None, 2.0)
        busy = await phase(upload_eight, 0)
        for ws in sockets:
            await ws.close()
        await staff.http.aclose()
        return idle, busy


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    data = camera_jpeg()
    print(
        f"bench_photos: 12 MP camera-like JPEG, {len(data) / 1e6:.1f} MB, orientation 6 + GPS; {ROUNDS} rounds"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = photos.FolderStore(Path(tmp))

        def ours_folder(data: bytes) -> None:
            photos.ingest(data, store)

        ms = rounds(
            {
                "floor: draft 1/2 decode": (None, floor),
                "bayline ingest (memory store)": (None, ours_memory),
                "bayline ingest (folder store, fsync)": (None, ours_folder),
                "bayline, first photo after a quiet time": (photos.memory.give_back, ours_memory),
            },
            data,
        )
    blocks: dict[str, Callable[[bytes], None]] = {"naive Pillow": naive}
    vips = vips_pipeline()
    if vips is not None:
        blocks["pyvips, same work"] = vips
    ms.update({name: timed(fn, data) for name, fn in blocks.items()})
    med = {name: statistics.median(values) for name, values in ms.items()}
    for name, values in ms.items():
        print(f"  {name:<40} median {med[name]:7.1f} ms  [{min(values):.1f}–{max(values):.1f}]")
    base = ms["floor: draft 1/2 decode"]
    ours = med["bayline ingest (memory store)"]
    print(
        f"  ingest ÷ floor           {ratio(ms['bayline ingest (memory store)'], base):5.2f}×  (goal ≤ 1.3×; "
        f"median of per-round ratios); with the folder store "
        f"{ratio(ms['bayline ingest (folder store, fsync)'], base):.2f}×"
    )
    print(
        f"  after a quiet time       {ratio(ms['bayline, first photo after a quiet time'], base):5.2f}×  "
        "(the first photo of a burst: its memory was given back, every page faults in again)"
    )
    print(
        f"  ingest ÷ naive Pillow    {ours / med['naive Pillow']:5.2f}×  (naive is {med['naive Pillow'] / ours:.1f}× slower)"
    )
    upright = rounds({"floor": (None, floor), "ours": (None, ours_memory)}, camera_jpeg(orientation=1))
    print(
        f"  the same photo upright   {ratio(upright['ours'], upright['floor']):5.2f}×  (no 90° turn: ingest "
        f"{statistics.median(upright['ours']):.1f} ms, floor {statistics.median(upright['floor']):.1f} ms)"
    )
    if vips is not None:
        print(f"  ingest ÷ pyvips          {ours / med['pyvips, same work']:5.2f}×  (goal ≤ 1.0×)")
    else:
        print("  pyvips: not installed (pip install pyvips pyvips-binary), comparison skipped")
    with tempfile.NamedTemporaryFile(suffix=".jpg") as sample:
        sample.write(data)
        sample.flush()
        sample_path = Path(sample.name)
        print(
            f"  extra peak memory per photo: ours {peak_rss('ours', sample_path):.0f} MiB (goal ≤ 40), "
            f"naive {peak_rss('naive', sample_path):.0f} MiB"
        )
    idle, busy = asyncio.run(ping_while_uploading(data))
    print(
        f"  WebSocket ping, 50 clients: idle p99 {p99(idle):.1f} ms; while 8 photos ingest p99 {p99(busy):.1f} ms "
        f"(max {max(busy):.1f}, {len(busy)} pings; goal p99 < 100 ms)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--rss":
        peak_rss_child(sys.argv[2], sys.argv[3])
    else:
        main()
