"""Book-change routing: latest value wins per key, health fan-out to every affected actor."""
from __future__ import annotations

import trio
import trio.testing

from actors.router import BookRouter, Changes
from arb.domain import Venue
from arb.venues.protocol import FeedHealth, FeedState

K1, K2 = (Venue.KALSHI, "KX-1"), (Venue.KALSHI, "KX-2")
Y1, N1 = (Venue.POLYMARKET, "yes-1"), (Venue.POLYMARKET, "no-1")


async def test_changes_conflate_per_key_and_count_drops():
    router = BookRouter()
    box = router.subscribe(frozenset({K1, Y1, N1}))
    for _ in range(1000):
        router.book_changed(*K1)
    router.book_changed(*Y1)
    router.book_changed(Venue.POLYMARKET, "someone-else")
    assert box.take_nowait() == Changes(frozenset({K1, Y1}), ())
    assert box.conflated == 999 and box.notified == 1001
    stats = router.statistics()
    assert (stats.notified, stats.unrouted, stats.conflated, stats.subscribers) == (
        1002, 1, 999, 1)
    assert box.take_nowait() == Changes(frozenset(), ())


async def test_waiter_wakes_once_for_a_burst(autojump_clock):
    router = BookRouter()
    box = router.subscribe(frozenset({K1}))
    woke: list[tuple[float, Changes]] = []

    async def consumer():
        while True:
            changes = await box.wait_changes()
            woke.append((trio.current_time(), changes))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(50):
            router.book_changed(*K1)
        await trio.sleep(1.0)
        router.book_changed(*K1)
        await trio.sleep(1.0)
        nursery.cancel_scope.cancel()
    assert woke == [(0.0, Changes(frozenset({K1}), ())), (1.0, Changes(frozenset({K1}), ()))]


async def test_health_reaches_every_affected_subscriber_latest_wins():
    router = BookRouter()
    a = router.subscribe(frozenset({K1, Y1}))
    b = router.subscribe(frozenset({K2, N1}))
    stale = FeedHealth(Venue.KALSHI, FeedState.STALE, 3)
    live = FeedHealth(Venue.KALSHI, FeedState.LIVE, 4)
    gap = FeedHealth(Venue.POLYMARKET, FeedState.GAP, 1, keys=("no-1",))
    router.feed_health(stale)
    router.feed_health(live)
    router.feed_health(gap)
    assert a.take_nowait().health == (live,)
    assert b.take_nowait().health == (live, gap)


async def test_unsubscribed_mailbox_gets_nothing():
    router = BookRouter()
    a = router.subscribe(frozenset({K1}))
    b = router.subscribe(frozenset({K1}))
    router.unsubscribe(a)
    router.unsubscribe(a)
    router.book_changed(*K1)
    router.feed_health(FeedHealth(Venue.KALSHI, FeedState.DOWN, 1))
    assert a.take_nowait() == Changes(frozenset(), ())
    changes = b.take_nowait()
    assert changes.keys == frozenset({K1}) and changes.health[0].state is FeedState.DOWN
    assert router.statistics().subscribers == 1
