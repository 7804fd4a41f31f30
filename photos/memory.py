"""The pixel memory of photos: reused from one photo to the next, given back once photos stop coming.

A 12 MP photo's ingest needs about 25 MB of pixels (the 1/2-scale decode and its upright copy). Freed
to glibc, that memory stays in the heap of the worker thread that freed it (two concurrent 64 MP decodes
left 480 MB resident), and once it has merged into the top of that heap `malloc_trim` no longer returns
it (glibc trims only the main heap's top). Trimming in the worker right after every photo did give it
back, but then the next photo faulted every page in again: about 6,000 page faults, 11 ms of CPU per
12 MP photo, a quarter of its decode.

So Pillow keeps the blocks itself: images are allocated in blocks of BLOCK_BYTES, and up to
CACHE_BYTES of freed blocks wait in Pillow's cache for the next image, whichever thread makes it. The
cache is emptied (and the C heap trimmed) once no photo has been processed for QUIET_SECONDS, and at
once after a decode larger than a display copy. Pillow's own PILLOW_ALIGNMENT, PILLOW_BLOCK_SIZE and
PILLOW_BLOCKS_MAX win when an operator set them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Callable

from PIL import Image

QUIET_SECONDS = 30.0  # a walk-around's photos arrive seconds apart: they share one set of buffers
# Small blocks, so that a thumbnail's few hundred KB and a display copy's 12 MB draw on the same blocks
# without resizing them (Pillow's default of 16 MB makes one block per image: a thumbnail would shrink
# a cached 12 MB block and the next display copy fault its pages in again).
BLOCK_BYTES = 256 * 1024
CACHE_BYTES = 25 * 1024 * 1024  # one 12 MP photo's decode and upright copy

# Rows start on a cache line: the 90° turn of a 2016 × 1512 display copy writes each row in 32-byte runs,
# and rows at any byte offset split many of them across two lines (measured: the turn ~5 ms instead of
# ~6.7).
ALIGNMENT = 64

# Process-wide settings of Pillow, which in this service only the photo pipeline uses.
if "PILLOW_ALIGNMENT" not in os.environ:
    Image.core.set_alignment(ALIGNMENT)
if "PILLOW_BLOCK_SIZE" not in os.environ:
    Image.core.set_block_size(BLOCK_BYTES)
if "PILLOW_BLOCKS_MAX" not in os.environ:
    Image.core.set_blocks_max(CACHE_BYTES // BLOCK_BYTES)


def _libc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    return trim  # glibc only; elsewhere the allocator keeps its own policy


_malloc_trim = _libc_trim()


def give_back() -> None:
    """Free Pillow's cached blocks and hand the C heap's free pages back to the system."""
    Image.core.clear_cache()
    if _malloc_trim is not None:
        _malloc_trim(0)


class Returner:
    """Decides when photo memory is given back, and does it from one daemon thread.

    `clock` and `start_thread` exist for tests: with a fake clock, `release_if_due()` is the thread's
    whole decision, and `wake()` makes a waiting thread look at the clock again.
    """

    def __init__(
        self,
        release: Callable[[], None] = give_back,
        quiet: float = QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        start_thread: bool = True,
    ) -> None:
        self._release = release
        self._quiet = quiet
        self._clock = clock
        self._start_thread = start_thread
        self._changed = threading.Condition()
        self._busy = 0
        self._due: float | None = None
        self._thread: threading.Thread | None = None

    def started(self) -> None:
        """A photo is being processed: nothing is given back under it (it would only be faulted in again)."""
        with self._changed:
            self._busy += 1

    def finished(self, big: bool) -> None:
        """A photo is done; `big`: its buffers were larger than an ordinary photo's, give them back now."""
        with self._changed:
            self._busy -= 1
            if not big:
                # Only a thread that waits for nothing needs waking: a later due time it finds by itself
                # when its wait ends (a wake per photo cost a thread switch per photo).
                idle = self._due is None
                self._due = self._clock() + self._quiet
                self._ensure_thread()
                if idle:
                    self._changed.notify()
                return
            self._due = None
        self._release()

    def release_if_due(self) -> bool:
        """Give memory back if the quiet time has passed with no photo in flight; True when it did."""
        with self._changed:
            if self._due is None or self._busy or self._clock() < self._due:
                return False
            self._due = None
        self._release()
        return True

    def wake(self) -> None:
        """Make the waiting thread read the clock again (tests move a fake clock)."""
        with self._changed:
            self._changed.notify()

    def _ensure_thread(self) -> None:
        if self._start_thread and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(target=self._run, name="photos-memory", daemon=True)
            self._thread.start()

    def _wait(self) -> None:
        with self._changed:
            if self._due is None:
                self._changed.wait()
                return
            # A photo in flight sets a later due time when it finishes: look again a quiet time on.
            # Never longer than that either: a fake clock in tests moves without the thread noticing.
            delay = self._quiet if self._busy else self._due - self._clock()
            self._changed.wait(max(0.0, min(delay, self._quiet)))

    def _run(self) -> None:
        while True:
            self._wait()
            self.release_if_due()


RETURNER = Returner()
