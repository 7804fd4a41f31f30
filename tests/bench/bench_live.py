"""Live fan-out benchmark: Bayline's streams against a raw `websockets` broadcast server, same run.

    .venv/bin/python tests/bench/bench_live.py            # 1,000 and 5,000 board subscribers
    .venv/bin/python tests/bench/bench_live.py --quick    # 200 and 1,000 (a smoke run)

What it measures (servers pinned to CPU 0, this client process to CPU 1, loopback):
  * the floor: a bare `websockets` server; one control message → `websockets.broadcast()` to N sockets;
  * Bayline's shop board: N staff sockets on /ws/shop of a real `python -m api serve` (SQLite);
    one `POST /api/repair-orders/{id}/promise` (transaction + idempotency key + event row) → every board;
    both servers run at once with their N sockets each, and the events alternate between them;
  * customer push: 5,000 status pages (5 per repair order on 1,000 repair orders) on /ws/status/{token};
    a promise change on one repair order → its 5 pages;
  * the status page's first response on the wire (gzip) against the 14 KB initial window.
Latency = receive time in this process (monotonic clock, taken when the bytes arrive) − the time just
before the publish. Receiving uses a minimal WebSocket framing client written here, so that the client
(~10 µs per message) is not what is measured. Ratios are ours ÷ the floor in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-0123456789abcdefghijklmnop"
PIN = "4826"
EVENTS = 30
INITIAL_WINDOW = 14 * 1024


# ---------- a minimal receiving WebSocket client ----------


class Receiver(asyncio.Protocol):
    """Handshake, then parse server frames; note the arrival time of the first text frame per round."""

    def __init__(self, request: bytes, bench: Round) -> None:
        self.request = request
        self.bench = bench
        self.buf = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.round = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[:12])
            del self.buf[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                if not self.open.done():
                    self.open.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.upgraded = True
            self.open.set_result(None)
        while len(self.buf) >= 2:
            opcode, length, start = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
            if length == 126:
                if len(self.buf) < 4:
                    return
                length, start = int.from_bytes(self.buf[2:4], "big"), 4
            elif length == 127:
                if len(self.buf) < 10:
                    return
                length, start = int.from_bytes(self.buf[2:10], "big"), 10
            if len(self.buf) < start + length:
                return
            payload = bytes(self.buf[start : start + length])
            del self.buf[: start + length]
            if opcode == 0x9 and self.transport:  # ping → masked pong (zero mask key)
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode == 0x1 and payload != b'{"type":"ping"}':
                self.bench.arrived(self, now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError("closed before upgrade"))


class Round:
    """One published event and who has received it."""

    def __init__(self) -> None:
        self.number = 0
        self.expected: set[Receiver] = set()
        self.t0 = 0.0
        self.arrivals: list[float] = []
        self.done = asyncio.Event()
        self.armed = False

    def arm(self, expected: set[Receiver]) -> None:
        self.number += 1
        self.arrivals = []
        self.expected = set(expected)
        self.done.clear()
        self.armed = True
        self.t0 = time.monotonic()

    def arrived(self, receiver: Receiver, now: float) -> None:
        if not self.armed or receiver not in self.expected or receiver.round == self.number:
            return
        receiver.round = self.number
        self.arrivals.append(now)
        self.expected.discard(receiver)
        if not self.expected:
            self.armed = False
            self.done.set()


async def open_receivers(port: int, paths: list[str], bench: Round, headers: str = "") -> list[Receiver]:
    loop = asyncio.get_running_loop()
    out: list[Receiver] = []

    async def one(path: str) -> Receiver:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        ).encode()
        _, receiver = await loop.create_connection(lambda: Receiver(request, bench), "127.0.0.1", port)
        await asyncio.wait_for(receiver.open, 30)
        return receiver

    for start in range(0, len(paths), 100):
        out += await asyncio.gather(*(one(p) for p in paths[start : start + 100]))
    return out


def close_all(receivers: list[Receiver]) -> None:
    for r in receivers:
        if r.transport:
            r.transport.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------- servers ----------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin_cpu0() -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {0})


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def raw_server() -> Iterator[int]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-raw-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, "--raw-server", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=pin_cpu0,  # noqa: PLW1509 (no threads in this process yet)
        )
    try:
        wait_port(port, process, log)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def run_raw_server(port: int) -> None:
    """The floor: the websockets library's own server and broadcast(), nothing else."""
    import uvloop
    import websockets
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path == "/pub":
            async for message in ws:
                broadcast(subscribers, message)
            return
        subscribers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            subscribers.discard(ws)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
            await asyncio.Future()

    del websockets
    uvloop.run(main())


@contextlib.contextmanager
def bayline_server() -> Iterator[tuple[int, Path, dict[str, str]]]:
    data = Path(tempfile.mkdtemp(prefix="bench-bayline-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PHOTOS_DIR")}
    env.update(DATA_DIR=str(data), BAYLINE_SECRET=SECRET, WS_PING_SECONDS="3600", PYTHONUNBUFFERED="1")
    cli = [sys.executable, "-m", "api"]
    subprocess.run([*cli, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [
            *cli,
            "staff",
            "add",
            "--username",
            "bench",
            "--name",
            "Bench Advisor",
            "--role",
            "advisor",
            "--pin",
            PIN,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = data / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*cli, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=pin_cpu0,  # noqa: PLW1509
        )
    try:
        wait_port(port, process, log)
        yield port, data, env
    finally:
        process.terminate()
        process.wait(15)
        shutil.rmtree(data, ignore_errors=True)


# ---------- the staff API, over plain HTTP ----------


class Staff:
    def __init__(self, port: int) -> None:
        import httpx

        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
        self.commit_ms = 0.0

    async def sign_in(self) -> str:
        r = await self.http.post("/api/auth/login", json={"username": "bench", "pin": PIN})
        r.raise_for_status()
        self.http.headers["x-csrftoken"] = self.http.cookies["csrftoken"]
        return "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.http.post(path, json=body, headers={"Idempotency-Key": os.urandom(12).hex()})
        if r.status_code >= 300:
            raise RuntimeError(f"{path}: {r.status_code} {r.text}")
        self.commit_ms = float(r.headers["server-timing"].split("dur=")[1])
        result: dict[str, Any] = r.json()
        return result

    async def new_ro(self, i: int) -> dict[str, Any]:
        promised = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
        return await self.post(
            "/api/repair-orders",
            {
                "customer": {"name": f"客户{i}", "phone": f"139{i:08d}", "language": "zh-CN"},
                "vehicle": {
                    "plate": f"沪A{i:05d}",
                    "make": "Volkswagen",
                    "model": "Passat",
                    "color": "white",
                },
                "mileage": 40000 + i,
                "concerns": ["保养"],
                "promised_at": promised,
                "jobs": [
                    {"title": "Minor service", "estimated_hours": 1.5, "price": 480},
                    {"title": "A/C cleaning", "estimated_hours": 0.5, "price": 160},
                ],
            },
        )

    async def move_promise(self, ro_id: int, step: int) -> None:
        when = datetime.now(UTC) + timedelta(hours=5, minutes=15 * (step % 40))
        await self.post(
            f"/api/repair-orders/{ro_id}/promise", {"promised_at": when.isoformat(), "reason": "等待配件到货"}
        )


# ---------- cases ----------


async def board_case(n: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """N board sockets on each server, both up at once; the events alternate between the floor and
    Bayline, so that whatever else runs on this machine meanwhile falls on both alike."""
    from websockets.asyncio.client import connect

    with raw_server() as raw_port, bayline_server() as (port, _, _):
        staff = Staff(port)
        cookie = await staff.sign_in()
        ro = await staff.new_ro(1)
        on_floor, on_ours = Round(), Round()
        floor_receivers = await open_receivers(raw_port, ["/sub"] * n, on_floor)
        receivers = await open_receivers(port, ["/ws/shop"] * n, on_ours, headers=f"Cookie: {cookie}\r\n")
        floor: list[float] = []
        push: list[float] = []
        end_to_end: list[float] = []
        command_ms: list[float] = []
        async with connect(f"ws://127.0.0.1:{raw_port}/pub", compression=None) as pub:
            message = json.dumps({"seq": 0, "type": "promise.changed", "data": {"reason": "x" * 60}})
            for i in range(EVENTS + 3):
                on_floor.arm(set(floor_receivers))
                await pub.send(message)
                await asyncio.wait_for(on_floor.done.wait(), 60)
                if i >= 3:  # warm-up rounds are not counted
                    floor += [(t - on_floor.t0) * 1000 for t in on_floor.arrivals]
                await asyncio.sleep(0.05)
                p, e, c = await rounds(staff, on_ours, lambda: (ro, set(receivers)), 1, warm_up=0, step=i)
                if i >= 3:
                    push, end_to_end, command_ms = push + p, end_to_end + e, command_ms + c
                await asyncio.sleep(0.02)
        close_all(floor_receivers)
        close_all(receivers)
        await staff.http.aclose()
        return floor, push, end_to_end, command_ms


async def rounds(
    staff: Staff, bench: Round, pick: Any, count: int, warm_up: int = 3, step: int = 0
) -> tuple[list[float], list[float], list[float]]:
    """`count` promise changes (after `warm_up` ones). Two clocks per delivery: from the COMMIT (the
    push leg, comparable to the floor's publish; the commit instant is the POST's start plus the
    server's `Server-Timing: commit;dur=`, which starts after the session check, so this errs long)
    and from before the POST (end to end, including the durable SQLite commit)."""
    push: list[float] = []
    end_to_end: list[float] = []
    command_ms: list[float] = []
    for i in range(count + warm_up):
        ro, expected = pick()
        bench.arm(expected)
        await staff.move_promise(ro["id"], step + i)
        acked = time.monotonic()
        committed = bench.t0 + staff.commit_ms / 1000
        await asyncio.wait_for(bench.done.wait(), 60)
        if i >= warm_up:
            command_ms.append((acked - bench.t0) * 1000)
            push += [(t - committed) * 1000 for t in bench.arrivals]
            end_to_end += [(t - bench.t0) * 1000 for t in bench.arrivals]
        await asyncio.sleep(0.03)
    return push, end_to_end, command_ms


async def customer_case(pages: int, per_ro: int) -> tuple[list[float], list[float], int]:
    with bayline_server() as (port, _, _):
        staff = Staff(port)
        await staff.sign_in()
        ros: list[dict[str, Any]] = []
        for start in range(0, pages // per_ro, 8):
            ros += await asyncio.gather(*(staff.new_ro(i) for i in range(start, start + 8)))
        bench = Round()
        by_ro: dict[int, list[Receiver]] = {}
        for ro in ros:
            by_ro[ro["id"]] = await open_receivers(
                port, [f"/ws/status{ro['status_url'][2:]}"] * per_ro, bench
            )
        await asyncio.sleep(1)  # let the (empty) replays settle
        rng = random.Random(7)

        def pick() -> tuple[dict[str, Any], set[Receiver]]:
            ro = rng.choice(ros)
            return ro, set(by_ro[ro["id"]])

        push, end_to_end, _ = await rounds(staff, bench, pick, EVENTS * 3)
        # The status page a customer opens first: with a recommended job and a moved promise.
        sample = ros[0]
        await staff.post(
            f"/api/repair-orders/{sample['id']}/jobs",
            {"title": "Front brake pads", "estimated_hours": 1.2, "price": 680, "needs_approval": True},
        )
        req = staff.http.build_request("GET", sample["status_url"], headers={"Accept-Encoding": "gzip"})
        resp = await staff.http.send(req, stream=True)
        wire = b"".join([c async for c in resp.aiter_raw()])
        await resp.aclose()
        for group in by_ro.values():
            close_all(group)
        await staff.http.aclose()
        return push, end_to_end, len(wire)


def summary(name: str, lat: list[float]) -> str:
    return f"{name:<34} p50 {statistics.median(lat):7.2f} ms   p99 {pct(lat, 0.99):7.2f} ms   ({len(lat)} deliveries)"


async def main(sizes: list[int], pages: int) -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {1})
    print(
        f"bench_live: {EVENTS} events per case, servers on CPU 0, client on CPU 1; "
        "board events alternate floor / Bayline"
    )
    for n in sizes:
        floor, ours, end_to_end, command = await board_case(n)
        print(summary(f"floor: websockets broadcast N={n}", floor))
        print(summary(f"bayline /ws/shop push N={n}", ours))
        print(summary("  end to end incl. the command", end_to_end))
        print(f"{'':<34} the command itself (POST → 200) p50 {statistics.median(command):.2f} ms")
        print(
            f"{'':<34} push ÷ floor: p99 {pct(ours, 0.99) / pct(floor, 0.99):.2f}×  p50 "
            f"{statistics.median(ours) / statistics.median(floor):.2f}×   (goal p99 ≤ 1.5×)"
        )
    push, end_to_end, size = await customer_case(pages, 5)
    print(summary(f"customer push, {pages} pages open", push) + "   (goal p99 ≤ 5 ms)")
    print(summary("  end to end incl. the command", end_to_end))
    print(
        f"status page first response: {size} bytes gzip = {size / INITIAL_WINDOW:.2f} of 14 KB (goal ≤ 1.00)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw-server", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.raw_server:
        run_raw_server(args.raw_server)
    else:
        sys.path.insert(0, str(ROOT))
        import uvloop

        uvloop.run(main([200, 1000] if args.quick else [1000, 5000], 1000 if args.quick else 5000))
