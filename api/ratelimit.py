"""Request budgets for the customer's status link, counted where every worker sees them.

Guessing a 256-bit link is pointless; the budgets keep floods cheap without locking customers out.
Everything is counted per *address* (client_address: an IPv6 /64 counts as one) and per *link*:

- an address's wrong or expired links (misses): over its budget, the address is refused *before*
  the lookup (so it learns nothing more about which links exist), except on links it already uses;
- an address's requests to one link it uses: a budget of its own for each (link, address) pair.
  Whoever hammers a link, even from the customer's own Wi-Fi, exhausts only their own pair: the
  customer's phones each have theirs;
- new addresses joining a link: at most NEW_ADDRESSES_PER_LINK per window. An address is "known"
  on a link from its first request that was let in, for KNOWN_FOR (renewed by use). Only a flood
  from more fresh addresses than that, every window, can make a new phone of the customer wait, and
  only until the window ends (Retry-After says how long; the page retries by itself); phones that
  already opened the link never wait for it. Without this cap, known pairs would be the per-pair
  budget times however many addresses a flood has.

One round trip per request: a Lua script before the lookup checks and counts everything, including
joining a link (undone when the link turns out not to exist). Only a wrong or expired link costs a
second script, counting the miss. Counts live in Redis when REDIS_URL is set (every worker and host
shares them), else in this process. When Redis does not answer within REDIS_TIMEOUT, the worker
counts on its own (logged) for REDIS_RETRY_AFTER rather than refusing customers or making them wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from api import settings, statuslink
from api.auth import token_hash

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("bayline.ratelimit")

WINDOW = 60  # seconds; a window starts at the first request it counts (never aligned to the clock)
MISSES_PER_ADDRESS = 30  # a person mistypes a link a few times, a flood makes thousands of guesses
HITS_PER_LINK = 300  # per link and address: a page, its photos, live refreshes; a family on one Wi-Fi
NEW_ADDRESSES_PER_LINK = 30  # a family's phones, each switching Wi-Fi ↔ mobile, in one minute: far fewer
KNOWN_FOR = 24 * 3600  # an address that opened a link keeps using it through a flood from its network
REDIS_TIMEOUT = 0.25  # the whole exchange with Redis for one request (a LAN round trip is under 1 ms)
REDIS_RETRY_AFTER = 5.0  # seconds each worker counts on its own after Redis failed to answer

Resolve = Callable[[str], Awaitable[dict[str, Any] | None]]


class Verdict(enum.IntEnum):
    """What the check before the lookup decided (the Lua scripts return these numbers)."""

    KNOWN = 0  # the address uses this link: counted in its own budget
    JOINED = 1  # a new address, let in and marked known (undone by `missed` if the link is wrong)
    REFUSED = 2


@dataclass(frozen=True)
class Keys:
    """One request's keys: its address's misses, and the (link, address) and link counts."""

    miss: str
    known: str
    hits: str
    joins: str

    @classmethod
    def of(cls, address: str, token: str) -> Keys:
        link = token_hash(token)[:32]  # the link, not its repair order: known before any lookup
        return cls(f"miss:{address}", f"known:{link}:{address}", f"hits:{link}:{address}", f"joins:{link}")


def _budgets() -> list[int]:
    """Read at each call, so that tests and the benchmark may change the module's constants."""
    return [
        WINDOW * 1000,
        KNOWN_FOR * 1000,
        MISSES_PER_ADDRESS,
        HITS_PER_LINK,
        NEW_ADDRESSES_PER_LINK,
    ]


class MemoryCounter:
    """One process's counts. Expired windows are swept as keys are added, so a flood from many
    addresses costs memory for one window at most. `check` and `missed` are the Lua scripts below,
    step for step."""

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
        """Count one more in `key`'s window (started by its first count): (count, seconds left)."""
        self._sweep()
        entry = self._live(key)
        count, until = (entry[0] + 1, entry[1]) if entry else (1, self._clock() + window)
        self._entries[key] = (count, until)
        return count, until - self._clock()

    async def peek(self, key: str) -> tuple[int, float]:
        """(count, seconds left) of `key`'s window without counting; (0, 0) when there is none."""
        entry = self._live(key)
        return (entry[0], entry[1] - self._clock()) if entry else (0, 0.0)

    def _mark(self, key: str, ttl: float) -> None:
        self._sweep()
        self._entries[key] = (1, self._clock() + ttl)

    async def check(self, keys: Keys) -> tuple[Verdict, float]:
        window_ms, known_ms, misses, hits, joins = _budgets()
        if self._live(keys.known) is not None:
            self._mark(keys.known, known_ms / 1000)
            count, left = await self.add(keys.hits, window_ms / 1000)
            return (Verdict.REFUSED, left) if count > hits else (Verdict.KNOWN, 0.0)
        for key, budget in ((keys.miss, misses), (keys.joins, joins)):
            count, left = await self.peek(key)
            if count >= budget:
                return Verdict.REFUSED, left
        await self.add(keys.joins, window_ms / 1000)
        self._mark(keys.known, known_ms / 1000)
        await self.add(keys.hits, window_ms / 1000)
        return Verdict.JOINED, 0.0

    async def missed(self, keys: Keys) -> None:
        window_ms, *_ = _budgets()
        for key in (keys.known, keys.hits):
            self._entries.pop(key, None)
        await self.add(keys.miss, window_ms / 1000)


# KEYS: miss, known, hits, joins. ARGV: window ms, known ms, misses, hits, joins (as _budgets()).
# Returns {verdict, ms left}. A counter gets its expiry with its first count, in the same step.
_CHECK = """
local function add(key)
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  return n, ttl
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  local n, ttl = add(KEYS[3])
  if n > tonumber(ARGV[4]) then return {2, ttl} end
  return {0, 0}
end
local function full(key, budget)
  if tonumber(redis.call('GET', key) or '0') >= tonumber(budget) then
    return math.max(redis.call('PTTL', key), 0)
  end
end
local left = full(KEYS[1], ARGV[3]) or full(KEYS[4], ARGV[5])
if left then return {2, left} end
add(KEYS[4])
redis.call('SET', KEYS[2], 1, 'PX', ARGV[2])
add(KEYS[3])
return {1, 0}
"""

# KEYS: miss, known, hits. ARGV: window ms. The link was wrong or has expired: no longer known there.
_MISSED = """
redis.call('DEL', KEYS[2], KEYS[3])
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 0
"""


class RedisCounter:
    """Counts shared by every worker through Redis; this process's own counts while Redis is away."""

    def __init__(self, url: str, prefix: str = "bayline:rl:") -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries: redis-py's default retries a timed-out command ten times, each waiting again.
        self.redis: Redis = Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self.prefix = prefix
        self.fallback = MemoryCounter()
        self._check = self.redis.register_script(_CHECK)
        self._missed = self.redis.register_script(_MISSED)
        self._away_until = -math.inf
        self._warned_at = -math.inf

    async def _run(self, script: Any, keys: Keys, count: int, args: list[int]) -> Any:
        """One script, one deadline (connecting and a NOSCRIPT reload included); None if Redis did
        not answer in time, after which this worker does not ask it again for a while."""
        from redis.exceptions import RedisError

        if time.monotonic() < self._away_until:
            return None
        names = [keys.miss, keys.known, keys.hits, keys.joins][:count]
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                return await script(keys=[self.prefix + name for name in names], args=args)
        except (RedisError, OSError, TimeoutError):
            self._away_until = time.monotonic() + REDIS_RETRY_AFTER
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning(
                    "Redis unreachable: status-link budgets are counted per worker meanwhile", exc_info=True
                )
            return None

    async def check(self, keys: Keys) -> tuple[Verdict, float]:
        answer = await self._run(self._check, keys, 4, _budgets())
        if answer is None:
            return await self.fallback.check(keys)
        verdict, left_ms = answer
        return Verdict(int(verdict)), int(left_ms) / 1000

    async def missed(self, keys: Keys) -> None:
        if await self._run(self._missed, keys, 3, _budgets()[:1]) is None:
            await self.fallback.missed(keys)

    async def close(self) -> None:
        await self.redis.aclose()


Counter = MemoryCounter | RedisCounter


@dataclass
class Refused:
    """Over a budget: answer 429 and say when to come back."""

    retry_after: int


class StatusLinkLimiter:
    """The status link's budgets (module constants, read at each call) over one counter."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    async def admit(
        self, address: str, token: str, resolve: Resolve
    ) -> tuple[dict[str, Any] | None, Refused | None]:
        """The repair order behind `token` (looked up with `resolve`), or why not."""
        keys = Keys.of(address, token)
        verdict, left = await self.counter.check(keys)
        if verdict is Verdict.REFUSED:
            return None, Refused(max(1, min(WINDOW, math.ceil(left))))
        ro = await resolve(token)
        if ro is None:
            await self.counter.missed(keys)
        return ro, None


_limiter: StatusLinkLimiter | None = None
_loop: asyncio.AbstractEventLoop | None = None
_closing: set[concurrent.futures.Future[None]] = set()


def _retire(limiter: StatusLinkLimiter | None, loop: asyncio.AbstractEventLoop | None) -> None:
    """Close a Redis client this process no longer uses, on its own loop (its connections belong to
    it). A server runs one loop for its whole life, so only tests move between loops; a loop that has
    already ended cannot run the close, and its connections go when they are collected."""
    counter = limiter.counter if limiter else None
    if not isinstance(counter, RedisCounter) or loop is None:
        return
    if loop.is_running() and not loop.is_closed():
        closing = asyncio.run_coroutine_threadsafe(counter.close(), loop)
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)


def limiter() -> StatusLinkLimiter:
    """The process's limiter: Redis-backed when REDIS_URL is set, in memory otherwise."""
    global _limiter, _loop
    loop = asyncio.get_running_loop()
    # A Redis connection belongs to the loop that opened it (tests run apps on several loops).
    if _limiter is None or (isinstance(_limiter.counter, RedisCounter) and _loop is not loop):
        _retire(_limiter, _loop)
        url = settings.get().redis_url
        _limiter = StatusLinkLimiter(RedisCounter(url) if url else MemoryCounter())
        _loop = loop
    return _limiter


async def aclose() -> None:
    """Close the Redis connection (app shutdown) and forget the limiter."""
    global _limiter
    current, _limiter = _limiter, None
    if current is not None and isinstance(current.counter, RedisCounter):
        if _loop is asyncio.get_running_loop():
            await current.counter.close()
        else:
            _retire(current, _loop)


def reset() -> None:
    """Forget every count (tests)."""
    global _limiter
    current, _limiter = _limiter, None
    _retire(current, _loop)


async def admit(address: str, token: str) -> tuple[dict[str, Any] | None, Refused | None]:
    """Every use of a status link (page, JSON, photo, live stream): the repair order it opens, or why not.

    A guessing address is refused before the lookup, so it learns nothing about which links exist.
    """
    return await limiter().admit(address, token, statuslink.resolve)
