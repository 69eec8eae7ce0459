# Design note: Kalshi rate limiting.
#
# Problem: Kalshi meters every request in tokens from two continuously refilled buckets (Read and
# Write); over budget it answers HTTP 429 with no Retry-After. A client that fires and then
# retries on 429 in a tight loop turns one burst into a retry storm, and every 429 on an order is
# latency on a leg that is racing the book.
#
# Naive approach: retry 429s immediately, or sleep a fixed time. Both keep hitting the limit
# (the venue's bucket did not refill) and several tasks retrying in lockstep amplify it.
#
# Chosen: a local mirror of the venue's buckets. Each request awaits its documented cost before it
# is sent, so in steady state the venue never sees us over budget. Waiters are served in FIFO
# order (a fair ``trio.Lock``), so a large batch cannot starve small orders forever and small
# orders cannot starve a batch. When a 429 still arrives (another process shares the key, or our
# tier is lower than configured), the bucket is drained to zero, which slows every other task too,
# and the failed request waits a bounded, jittered exponential backoff before its single retry
# slot; after ``max_retries`` the caller gets ``Transient`` (nothing was processed).
#
# Venue facts (venues.md A9): default cost 10 tokens; V2 cancel 2; batch create 10 per order;
# batch cancel 2 per order. Per-second budgets (read/write): Basic 200/100, Advanced 300/300,
# Expert 600/600, Premier 1000/1000, Paragon 2000/2000, Prime 4000/4000, Prestige 10000/8000.
# Capacity: Read = 2 s of budget for Basic/Advanced, 1 s above; Write = 1 s for Basic, 2 s above.
# Writes to shard >= 1 bill that shard's own write bucket.
from __future__ import annotations

import enum
import random

import attrs
import trio

DEFAULT_COST = 10
CANCEL_COST = 2
BATCH_CREATE_COST_PER_ORDER = 10
BATCH_CANCEL_COST_PER_ORDER = 2


class Tier(enum.Enum):
    BASIC = "basic"
    ADVANCED = "advanced"
    EXPERT = "expert"
    PREMIER = "premier"
    PARAGON = "paragon"
    PRIME = "prime"
    PRESTIGE = "prestige"


_BUDGETS: dict[Tier, tuple[int, int]] = {
    Tier.BASIC: (200, 100),
    Tier.ADVANCED: (300, 300),
    Tier.EXPERT: (600, 600),
    Tier.PREMIER: (1000, 1000),
    Tier.PARAGON: (2000, 2000),
    Tier.PRIME: (4000, 4000),
    Tier.PRESTIGE: (10000, 8000),
}


class Bucket(enum.Enum):
    READ = "read"
    WRITE = "write"


@attrs.frozen
class BucketSpec:
    rate: float
    """Tokens refilled per second."""
    capacity: float
    """Maximum tokens held (the burst)."""


def tier_buckets(tier: Tier) -> tuple[BucketSpec, BucketSpec]:
    """(read, write) bucket specs for a usage tier, from the documented budgets."""
    read, write = _BUDGETS[tier]
    small = tier in (Tier.BASIC, Tier.ADVANCED)
    read_capacity = read * (2 if small else 1)
    write_capacity = write * (1 if tier is Tier.BASIC else 2)
    return BucketSpec(read, read_capacity), BucketSpec(write, write_capacity)


@attrs.frozen
class LimiterStatistics:
    acquired: int
    """Requests that passed the limiter."""
    waited: int
    """Requests that had to wait for tokens."""
    wait_seconds: float
    """Total time spent waiting for tokens."""
    throttled: int
    """429 answers received."""


@attrs.define(eq=False)
class TokenBucket:
    """A continuously refilled token bucket on Trio's clock; FIFO among waiters."""

    spec: BucketSpec
    _tokens: float = attrs.field(init=False)
    _updated: float | None = attrs.field(default=None, init=False)
    _lock: trio.Lock = attrs.field(factory=trio.Lock, init=False)

    def __attrs_post_init__(self) -> None:
        self._tokens = self.spec.capacity

    def _refill(self) -> float:
        now = trio.current_time()
        if self._updated is not None:
            self._tokens = min(self.spec.capacity,
                               self._tokens + (now - self._updated) * self.spec.rate)
        self._updated = now
        return now

    def available(self) -> float:
        self._refill()
        return self._tokens

    async def acquire(self, cost: int) -> float:
        """Wait until ``cost`` tokens are available and take them; returns seconds waited.

        Raises:
            ValueError: the cost can never fit (larger than the bucket's capacity).
        """
        if cost > self.spec.capacity:
            raise ValueError(f"request costs {cost} tokens but the bucket holds at most "
                             f"{self.spec.capacity:g}; split the batch")
        start = trio.current_time()
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= cost:
                    self._tokens -= cost
                    return trio.current_time() - start
                await trio.sleep((cost - self._tokens) / self.spec.rate)

    def drain(self) -> None:
        """Empty the bucket (the venue said 429: our mirror was optimistic)."""
        self._refill()
        self._tokens = min(self._tokens, 0.0)


@attrs.define(eq=False)
class KalshiRateLimiter:
    """The Read bucket plus one Write bucket per shard, and the 429 backoff policy."""

    read_spec: BucketSpec
    write_spec: BucketSpec
    max_retries: int = 3
    """429 retries per request before giving up with Transient."""
    backoff_base: float = 0.05
    backoff_cap: float = 2.0
    rng: random.Random = attrs.field(factory=random.Random)
    _read: TokenBucket = attrs.field(init=False)
    _write: dict[int, TokenBucket] = attrs.field(factory=dict, init=False)
    _acquired: int = attrs.field(default=0, init=False)
    _waited: int = attrs.field(default=0, init=False)
    _wait_seconds: float = attrs.field(default=0.0, init=False)
    _throttled: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self._read = TokenBucket(self.read_spec)

    @classmethod
    def for_tier(cls, tier: Tier, **kwargs: object) -> KalshiRateLimiter:
        read, write = tier_buckets(tier)
        return cls(read, write, **kwargs)  # type: ignore[arg-type]

    def bucket(self, kind: Bucket, shard: int = 0) -> TokenBucket:
        if kind is Bucket.READ:
            return self._read
        bucket = self._write.get(shard)
        if bucket is None:
            if not 0 <= shard < 64:
                raise ValueError(f"kalshi exchange_index {shard} is outside 0..63")
            bucket = self._write[shard] = TokenBucket(self.write_spec)
        return bucket

    async def acquire(self, kind: Bucket, cost: int = DEFAULT_COST, shard: int = 0) -> None:
        waited = await self.bucket(kind, shard).acquire(cost)
        self._acquired += 1
        if waited > 0:
            self._waited += 1
            self._wait_seconds += waited

    def backoff(self, kind: Bucket, attempt: int, shard: int = 0) -> float:
        """Record a 429: drain the bucket and return the jittered delay before retry ``attempt``.

        ``attempt`` counts from 0. The delay is ``min(cap, base * 2**attempt)`` scaled by a
        random factor in [0.5, 1.0], so concurrent retries spread out.
        """
        self._throttled += 1
        self.bucket(kind, shard).drain()
        return min(self.backoff_cap, self.backoff_base * (2 ** attempt)) * (
            0.5 + 0.5 * self.rng.random())

    def statistics(self) -> LimiterStatistics:
        return LimiterStatistics(self._acquired, self._waited, self._wait_seconds,
                                 self._throttled)
