"""Request budgets for the customer's status link, counted where every worker sees them.

Guessing a 256-bit link is pointless; the budgets keep floods cheap without locking customers out:

- per address, unknown or expired links: an address over its budget is refused *before* the lookup
  (so it learns nothing more about which links exist), except for links it already opened;
- per link, requests from all addresses together: one link hammered cannot take the server down.

Counts live in Redis when REDIS_URL is set (every worker and host shares them), else in this process.
While Redis is unreachable, each worker counts on its own (logged) rather than refusing customers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from api import settings, statuslink
from api.auth import token_hash

log = logging.getLogger("bayline.ratelimit")

WINDOW = 60  # seconds; a window starts at the first request it counts (never aligned to the clock)
MISSES_PER_ADDRESS = 30  # a person mistypes a link a few times, a flood makes thousands of guesses
HITS_PER_LINK = 300  # a page, its photos and live refreshes, on a few phones of one family
KNOWN_FOR = 24 * 3600  # an address that opened a link keeps using it through a flood from its network


class Counter(Protocol):
    async def add(self, key: str, window: float) -> tuple[int, float]:
        """Count one more in `key`'s window (started by its first count): (count, seconds left)."""
        ...

    async def peek(self, key: str) -> tuple[int, float]:
        """(count, seconds left) of `key`'s window without counting; (0, 0) when there is none."""
        ...

    async def mark(self, key: str, ttl: float) -> None: ...

    async def marked(self, key: str) -> bool: ...


class MemoryCounter:
    """One process's counts. Expired windows are swept as keys are added, so a flood from many
    addresses costs memory for one window at most."""

    SWEEP_EVERY = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[int, float]] = {}  # key → (count, expires at)
        self._adds = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: str) -> tuple[int, float] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry

    def _sweep(self) -> None:
        self._adds += 1
        if self._adds % self.SWEEP_EVERY == 0:
            now = self._clock()
            for key in [k for k, (_, until) in self._entries.items() if until <= now]:
                del self._entries[key]

    async def add(self, key: str, window: float) -> tuple[int, float]:
        self._sweep()
        entry = self._live(key)
        count, until = (entry[0] + 1, entry[1]) if entry else (1, self._clock() + window)
        self._entries[key] = (count, until)
        return count, until - self._clock()

    async def peek(self, key: str) -> tuple[int, float]:
        entry = self._live(key)
        return (entry[0], entry[1] - self._clock()) if entry else (0, 0.0)

    async def mark(self, key: str, ttl: float) -> None:
        self._sweep()
        self._entries[key] = (1, self._clock() + ttl)

    async def marked(self, key: str) -> bool:
        return self._live(key) is not None


# INCR and the window's expiry in one step, so no worker can leave a counter that never expires.
_ADD = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class RedisCounter:
    """Counts shared by every worker through Redis; this process's own counts while Redis is away."""

    def __init__(self, url: str, prefix: str = "bayline:rl:") -> None:
        from redis.asyncio import Redis

        # Short timeouts: a customer's page must not wait long for a broker that is down.
        self.redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self.prefix = prefix
        self.fallback = MemoryCounter()
        self._script = self.redis.register_script(_ADD)
        self._warned_at = -math.inf

    def _away(self) -> None:
        if time.monotonic() - self._warned_at > 60:
            self._warned_at = time.monotonic()
            log.warning(
                "Redis unreachable: status-link budgets are counted per worker meanwhile", exc_info=True
            )

    async def add(self, key: str, window: float) -> tuple[int, float]:
        from redis.exceptions import RedisError

        try:
            count, ttl_ms = await self._script(keys=[self.prefix + key], args=[int(window * 1000)])
        except (RedisError, OSError):
            self._away()
            return await self.fallback.add(key, window)
        return int(count), int(ttl_ms) / 1000

    async def peek(self, key: str) -> tuple[int, float]:
        from redis.exceptions import RedisError

        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(self.prefix + key)
                pipe.pttl(self.prefix + key)
                raw, ttl_ms = await pipe.execute()
        except (RedisError, OSError):
            self._away()
            return await self.fallback.peek(key)
        return (int(raw), max(int(ttl_ms), 0) / 1000) if raw is not None else (0, 0.0)

    async def mark(self, key: str, ttl: float) -> None:
        from redis.exceptions import RedisError

        try:
            await self.redis.set(self.prefix + key, 1, px=int(ttl * 1000))
        except (RedisError, OSError):
            self._away()
            await self.fallback.mark(key, ttl)

    async def marked(self, key: str) -> bool:
        from redis.exceptions import RedisError

        try:
            return bool(await self.redis.exists(self.prefix + key))
        except (RedisError, OSError):
            self._away()
            return await self.fallback.marked(key)

    async def close(self) -> None:
        await self.redis.aclose()


@dataclass
class Refused:
    """Over a budget: answer 429 and say when to come back."""

    retry_after: int


def _refused(seconds_left: float) -> Refused:
    return Refused(max(1, min(WINDOW, math.ceil(seconds_left))))


class StatusLinkLimiter:
    """The status link's budgets (module constants, read at each call) over one Counter."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    @staticmethod
    def _known(address: str, token: str) -> str:
        return f"known:{token_hash(token)[:32]}:{address}"

    async def before_lookup(self, address: str, token: str) -> Refused | None:
        """Refuse an address that has been guessing, unless this is a link it already uses."""
        misses, left = await self.counter.peek(f"miss:{address}")
        if misses < MISSES_PER_ADDRESS or await self.counter.marked(self._known(address, token)):
            return None
        return _refused(left)

    async def missed(self, address: str) -> None:
        await self.counter.add(f"miss:{address}", WINDOW)

    async def found(self, address: str, token: str, link: int) -> Refused | None:
        """Count a request to a real link; remember the address as one that uses it."""
        hits, left = await self.counter.add(f"link:{link}", WINDOW)
        if hits > HITS_PER_LINK:
            return _refused(left)
        await self.counter.mark(self._known(address, token), KNOWN_FOR)
        return None


_limiter: StatusLinkLimiter | None = None
_loop: Any = None


def limiter() -> StatusLinkLimiter:
    """The process's limiter: Redis-backed when REDIS_URL is set, in memory otherwise."""
    global _limiter, _loop
    loop = asyncio.get_running_loop()
    # A Redis connection belongs to the loop that opened it (tests run apps on several loops).
    if _limiter is None or (isinstance(_limiter.counter, RedisCounter) and _loop is not loop):
        url = settings.get().redis_url
        _limiter = StatusLinkLimiter(RedisCounter(url) if url else MemoryCounter())
        _loop = loop
    return _limiter


async def aclose() -> None:
    """Close the Redis connection (app shutdown) and forget the limiter."""
    global _limiter
    counter = _limiter.counter if _limiter else None
    _limiter = None
    if isinstance(counter, RedisCounter):
        await counter.close()


def reset() -> None:
    """Forget every count (tests)."""
    global _limiter
    _limiter = None


async def admit(address: str, token: str) -> tuple[dict[str, Any] | None, Refused | None]:
    """Every use of a status link (page, JSON, photo, live stream): the repair order it opens, or why not.

    A guessing address is refused before the lookup, so it learns nothing about which links exist.
    """
    limits = limiter()
    refused = await limits.before_lookup(address, token)
    if refused is not None:
        return None, refused
    ro = await statuslink.resolve(token)
    if ro is None:
        await limits.missed(address)
        return None, None
    return ro, await limits.found(address, token, int(ro["id"]))
