"""The runaway-timer guard: at the configured time of day (shop time), job clocks still running
from before it are stopped and flagged, and open working days are closed, for people to check.

Runs in every worker; each stop is a command keyed by person and cutoff, so two workers doing
the same sweep apply it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from api import attendance, clockbook, commands, settings, shop
from api.tables import Attendance, ClockEntry

log = logging.getLogger("bayline.autostop")
SWEEP_SECONDS = 60
MAX_PASSES = 7  # evenings settled per sweep; older ones the next minute


async def sweep(at: datetime | None = None) -> int:
    """Stop what ran past a cutoff, each at the first cutoff after it started; returns how many
    people it stopped."""
    config = settings.get()
    current = at or commands.now()
    zone = ZoneInfo(await shop.timezone())  # the zone chosen at setup, like every shown time
    latest = clockbook.autostop_cutoff(current, config.autostop_at, zone)
    stopped: set[int] = set()
    # A clock forgotten two evenings ago stops at that evening's cutoff, not at the latest one;
    # a person with items from several evenings is settled one evening per pass.
    for _ in range(MAX_PASSES):
        running = await ClockEntry.select(ClockEntry.id, ClockEntry.technician, ClockEntry.started_at).where(
            ClockEntry.ended_at.is_null() & (ClockEntry.started_at < latest)
        )
        days = await Attendance.select(Attendance.id, Attendance.staff, Attendance.clock_in_at).where(
            Attendance.clock_out_at.is_null() & (Attendance.clock_in_at < latest)
        )
        oldest: dict[int, datetime] = {}
        for person, since in [(r["technician"], r["started_at"]) for r in running] + [
            (r["staff"], r["clock_in_at"]) for r in days
        ]:
            oldest[person] = min(since, oldest.get(person, since))
        if not oldest:
            break
        for person, since in sorted(oldest.items()):
            cutoff = clockbook.cutoff_after(since, config.autostop_at, zone)
            # The key names what is being closed, so two workers sweeping the same state apply it
            # once, while an item opened (late tap) after a sweep still gets its own stop.
            ids = sorted(r["id"] for r in running if r["technician"] == person)
            day_ids = sorted(r["id"] for r in days if r["staff"] == person)
            key = f"autostop:{person}:{cutoff.isoformat()}:{ids}:{day_ids}"
            await commands.execute(
                functools.partial(attendance.close_at_cutoff, person, cutoff, current, key),
                actor="system",
                key=key,
                request_hash=key,
            )
            stopped.add(person)
            log.info("runaway-timer guard stopped clocks of staff %d at %s", person, cutoff.isoformat())
    return len(stopped)


async def _loop() -> None:
    while True:
        try:
            await sweep()
        except Exception:  # keep guarding after a database hiccup; the next sweep retries
            log.exception("runaway-timer sweep failed")
        await asyncio.sleep(SWEEP_SECONDS)


def start() -> asyncio.Task[None]:
    return asyncio.create_task(_loop(), name="bayline-autostop")


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
