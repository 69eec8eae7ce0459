"""Kalshi's token-bucket rate limits (venues.md A9, since 23 Apr 2026).

Every request costs tokens (default 10; V2 cancel 2; batch create 10 per order; batch cancel 2
per order). Two buckets per member, Read and Write (order create/cancel/amend/decrease), refill
continuously. Basic tier: Read 200 tokens/s with 2 s of capacity, Write 100 tokens/s with 1 s.
A request that does not fit is refused whole with 429 ``{"error":"too many requests"}``, no
Retry-After header, no penalty.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import attrs

DEFAULT_COST = 10
CANCEL_COST = 2
BATCH_CREATE_COST_PER_ORDER = 10
BATCH_CANCEL_COST_PER_ORDER = 2
LEGACY_ORDER_COST = 100
"""Legacy ``/portfolio/orders`` mutations cost 10x the V2 ones (since 4 Jun 2026)."""
MAX_CLIENTS = 10_000
"""Buckets kept at most; the least recently used is forgotten (it refills to full anyway)."""


@attrs.frozen
class Tier:
    read_per_s: int
    read_capacity: int
    write_per_s: int
    write_capacity: int


BASIC = Tier(read_per_s=200, read_capacity=400, write_per_s=100, write_capacity=100)
ADVANCED = Tier(read_per_s=300, read_capacity=600, write_per_s=300, write_capacity=600)


@attrs.define(eq=False)
class TokenBucket:
    rate: float
    """Tokens per second."""
    capacity: float
    tokens: float
    stamp: float

    def try_take(self, cost: int, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True


@attrs.define(eq=False)
class RateLimiter:
    """Read and Write buckets per client key (API key id, or the peer address when anonymous)."""

    tier: Tier = BASIC
    clock: Callable[[], float] = time.monotonic
    enabled: bool = True
    _buckets: dict[tuple[str, bool], TokenBucket] = attrs.Factory(dict)

    def allow(self, client: str, *, write: bool, cost: int) -> bool:
        """Charge ``cost`` tokens to the client's Read or Write bucket; False means answer 429."""
        if not self.enabled:
            return True
        now = self.clock()
        key = (client, write)
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            rate = self.tier.write_per_s if write else self.tier.read_per_s
            capacity = self.tier.write_capacity if write else self.tier.read_capacity
            bucket = TokenBucket(rate=rate, capacity=capacity, tokens=capacity, stamp=now)
            if len(self._buckets) >= MAX_CLIENTS:
                del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = bucket
        return bucket.try_take(cost, now)
