"""Token buckets on Trio's virtual clock: documented tiers, exact waits, FIFO, 429 backoff."""
from __future__ import annotations

import random

import pytest
import trio

from arb.venues.kalshi.limiter import (
    CANCEL_COST,
    Bucket,
    BucketSpec,
    KalshiRateLimiter,
    Tier,
    TokenBucket,
    tier_buckets,
)


def test_documented_tiers():
    assert tier_buckets(Tier.BASIC) == (BucketSpec(200, 400), BucketSpec(100, 100))
    assert tier_buckets(Tier.ADVANCED) == (BucketSpec(300, 600), BucketSpec(300, 600))
    assert tier_buckets(Tier.PRESTIGE) == (BucketSpec(10000, 10000), BucketSpec(8000, 16000))


async def test_write_bucket_burst_then_exact_refill_wait(autojump_clock):
    limiter = KalshiRateLimiter.for_tier(Tier.BASIC)
    for _ in range(10):  # Basic write: 100 tokens of burst = 10 orders at once
        await limiter.acquire(Bucket.WRITE)
    assert trio.current_time() == 0
    await limiter.acquire(Bucket.WRITE)
    assert trio.current_time() == pytest.approx(0.1)
    await limiter.acquire(Bucket.WRITE, CANCEL_COST)
    assert trio.current_time() == pytest.approx(0.12)
    stats = limiter.statistics()
    assert stats.acquired == 12 and stats.waited == 2
    assert stats.wait_seconds == pytest.approx(0.12)


async def test_shards_have_their_own_write_buckets(autojump_clock):
    limiter = KalshiRateLimiter.for_tier(Tier.BASIC)
    for _ in range(10):
        await limiter.acquire(Bucket.WRITE, shard=0)
    await limiter.acquire(Bucket.WRITE, shard=3)
    assert trio.current_time() == 0
    with pytest.raises(ValueError, match="outside 0..63"):
        await limiter.acquire(Bucket.WRITE, shard=64)


async def test_waiters_are_served_in_arrival_order(autojump_clock):
    bucket = TokenBucket(BucketSpec(rate=10, capacity=10))
    await bucket.acquire(10)
    order = []

    async def take(name, cost):
        await bucket.acquire(cost)
        order.append((name, trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take, "big", 10)
        await trio.sleep(0.01)
        nursery.start_soon(take, "small", 1)
    assert [name for name, _ in order] == ["big", "small"]
    assert order[0][1] == pytest.approx(1.0) and order[1][1] == pytest.approx(1.1)


async def test_cost_above_capacity_is_refused():
    with pytest.raises(ValueError, match="split the batch"):
        await TokenBucket(BucketSpec(100, 100)).acquire(110)


async def test_backoff_is_bounded_jittered_and_drains(autojump_clock):
    limiter = KalshiRateLimiter.for_tier(Tier.BASIC, rng=random.Random(7), backoff_base=0.05,
                                         backoff_cap=2.0)
    delays = [limiter.backoff(Bucket.READ, attempt) for attempt in range(10)]
    for attempt, delay in enumerate(delays):
        ceiling = min(2.0, 0.05 * 2 ** attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 2.0
    assert limiter.bucket(Bucket.READ).available() == 0
    assert limiter.statistics().throttled == 10
