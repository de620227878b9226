"""Requests- and tokens-per-minute budgets of one endpoint.

``local_budget``: in this process (aiolimiter, a one-second bucket), the embedded default. ``SharedBudgets``:
kept in Redis by the ``limits`` library, so every process and machine that calls one endpoint (the steps of
one run, several runs, a backfill's partitions) takes from the same budget: two processes limited to 600
requests a minute send at most 600 in any minute together (and at most 10 in a second).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import TYPE_CHECKING, Protocol

from aiolimiter import AsyncLimiter

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio.strategies import RateLimiter


class Budget(Protocol):
    async def take(self, amount: float) -> None:
        """Waits until ``amount`` (requests or tokens) fits in the budget, and spends it."""


class _LocalBudget:
    def __init__(self, per_minute: float) -> None:
        # A one-second bucket: bursts of a minute's whole quota would trip providers' finer-grained limits.
        self._limiter = AsyncLimiter(per_minute / 60, 1)

    async def take(self, amount: float) -> None:
        # aiolimiter refuses amounts above its capacity, so large requests are charged in capacity-sized chunks.
        while amount > 0:
            chunk = min(amount, self._limiter.max_rate)
            await self._limiter.acquire(chunk)
            amount -= chunk


def local_budget(per_minute: float | None) -> Budget | None:
    return _LocalBudget(per_minute) if per_minute else None


# The guarantee's window: a minute and one second, so that a request delayed on its way by up to a second
# (network, a busy event loop) still lands in the same minute at the endpoint as the limiter counted it in.
GUARANTEE_SECONDS = 61


def windows(per_minute: float) -> list[RateLimitItem]:
    """What one budget of ``per_minute`` holds in Redis: at most ``ceil(per_minute / 60)`` a second, so that
    processes starting together do not spend a minute's quota in one burst (providers enforce finer-grained
    limits), and at most ``per_minute`` in any 61 seconds, the guarantee."""
    # Imported where a shared budget is configured, not by every step.
    from limits import RateLimitItemPerSecond

    limit = max(1, math.floor(per_minute))
    return [RateLimitItemPerSecond(math.ceil(limit / 60), 1), RateLimitItemPerSecond(limit, GUARANTEE_SECONDS)]


class _SharedBudget:
    def __init__(self, strategy: RateLimiter, per_minute: float, name: str) -> None:
        self._strategy = strategy
        self._windows = windows(per_minute)
        self._chunk = min(window.amount for window in self._windows)
        self._name = name

    async def take(self, amount: float) -> None:
        amount = math.ceil(amount)
        while amount > 0:
            chunk = min(amount, self._chunk)
            for window in self._windows:  # the short window first: it paces the long one
                while not await self._strategy.hit(window, self._name, cost=chunk):
                    stats = await self._strategy.get_window_stats(window, self._name)
                    # Until the window frees room, plus a little jitter so that waiting processes do not all
                    # come back at once.
                    wait = min(max(stats.reset_time - time.time(), 0.005), window.get_expiry())
                    await asyncio.sleep(wait + random.uniform(0, 0.005))
            amount -= chunk


class SharedBudgets:
    """The budgets of one endpoint in Redis (``redis://host:port/db``), named by ``endpoint`` under ``prefix``.

    Requests use a moving window (exact: never more than the limit in any window). Tokens use a sliding-window
    counter: a moving window stores one Redis list entry per unit, far too many for tokens; the counter's
    estimate of the previous window may let a window run a little over, which the providers' own accounting
    tolerates as well."""

    def __init__(self, url: str, prefix: str, endpoint: str) -> None:
        # Only where a shared budget is configured: redis and limits cost each step process ~0.1 s to import.
        import redis.asyncio
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

        self._pool = redis.asyncio.ConnectionPool.from_url(url)  # ours, so that close() can release it
        storage = RedisStorage(f"async+{url}", implementation="redispy", key_prefix=prefix,
                               connection_pool=self._pool)
        self._moving = MovingWindowRateLimiter(storage)
        self._sliding = SlidingWindowCounterRateLimiter(storage)
        self._endpoint = endpoint

    def requests(self, per_minute: float | None) -> Budget | None:
        return _SharedBudget(self._moving, per_minute, f"{self._endpoint}|requests") if per_minute else None

    def tokens(self, per_minute: float | None) -> Budget | None:
        return _SharedBudget(self._sliding, per_minute, f"{self._endpoint}|tokens") if per_minute else None

    async def close(self) -> None:
        await self._pool.aclose()
