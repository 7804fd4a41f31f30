"""The memory of closed sockets, given back to the system once a burst of closes is over.

A connection is freed as it closes (connections.py, streams.let_go), but freed memory stays in the
process: the C allocator keeps it in its heap for the next allocation, and this process's RSS stayed
at its high-water mark after 5,000 status pages closed at once (a network blip, a shop's evening).
`malloc_trim(0)` hands the heap's free pages back (glibc; elsewhere nothing is done). It runs in a
thread of its own: ctypes releases the GIL during the call, so the event loop carries on.

Before it, when few sockets remain open, one full garbage collection: it also empties the
interpreter's free lists (tuples, dicts, floats kept for reuse), whose blocks are scattered over the
pages the closed sockets used and would keep them resident. It is skipped while many sockets are
open: its pause grows with the objects alive (~0.65 s with 5,000 open sockets), and this app keeps
full collections rare on purpose (app.py). The free pages are still trimmed.

`python -m api serve` runs with PYTHONMALLOC=malloc for the same reason: the interpreter's own
allocator returns memory only in whole 1 MiB arenas, and a few long-lived objects made during a
burst (in C extensions' free lists, caches) kept most of its arenas: 50–70 MiB of 5,000 closed
sockets stayed resident, where glibc gives back every free 4 KiB page.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger("bayline.realtime")

BURST = 256  # closed sockets (30–70 KiB each) worth a trim; one closing now and then is left alone
QUIET_SECONDS = float(os.environ.get("WS_RECLAIM_SECONDS") or 2.0)  # no close for this long: burst over
LONGEST_SECONDS = 30.0  # closes that never pause (steady churn) are reclaimed this often at most
FULL_COLLECT_BELOW = 200  # open sockets: above this, a full collection's pause is not worth it


def _libc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


_malloc_trim = _libc_trim()


def trim_in_background() -> None:
    """Return the C heap's free pages to the system (glibc only), from a thread of its own."""
    if _malloc_trim is not None:
        threading.Thread(target=_malloc_trim, args=(0,), name="ws-memory", daemon=True).start()


class Reclaimer:
    """Counts closed sockets and gives their memory back when a burst of closes is over.

    `open_sockets` says how many remain open. `clock`, `collect` and `give_back` exist for tests: with
    a fake clock, `due()` is the whole decision and `reclaim()` the whole action; the loop's timer
    only calls `check()`.
    """

    def __init__(
        self,
        open_sockets: Callable[[], int],
        give_back: Callable[[], None] = trim_in_background,
        collect: Callable[[], object] = gc.collect,
        clock: Callable[[], float] = time.monotonic,
        burst: int = BURST,
        quiet: float = QUIET_SECONDS,
        longest: float = LONGEST_SECONDS,
        collect_below: int = FULL_COLLECT_BELOW,
    ) -> None:
        self._open_sockets = open_sockets
        self._give_back = give_back
        self._collect = collect
        self._clock = clock
        self.burst = burst
        self.quiet = quiet
        self.longest = longest
        self.collect_below = collect_below
        self.closed_since = 0  # sockets closed since memory was last given back
        self._first = 0.0
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def closed(self) -> None:
        """A socket has closed."""
        now = self._clock()
        if self.closed_since == 0:
            self._first = now
        self.closed_since += 1
        self._last = now
        if self.closed_since >= self.burst and self._timer is None:
            self._schedule(self.quiet)

    def due(self) -> bool:
        """A burst's worth has closed, and the closes have paused (or gone on for LONGEST_SECONDS)."""
        if self.closed_since < self.burst:
            return False
        now = self._clock()
        return now - self._last >= self.quiet or now - self._first >= self.longest

    def check(self) -> None:
        """The timer: reclaim if due, else look again when it can next be."""
        self._timer = None
        if self.due():
            self.reclaim()
        elif self.closed_since >= self.burst:
            now = self._clock()
            self._schedule(max(0.0, min(self._last + self.quiet, self._first + self.longest) - now))

    def reclaim(self) -> None:
        closed, self.closed_since = self.closed_since, 0
        still_open = self._open_sockets()
        if still_open < self.collect_below:
            self._collect()
        log.debug("giving back the memory of %d closed sockets (%d open)", closed, still_open)
        self._give_back()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # closed outside a loop (tests): the next close in a loop schedules it
            return
        self._timer = loop.call_later(delay, self.check)
