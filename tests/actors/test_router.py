"""Book-change routing: latest value wins per key, health fan-out to every affected actor."""
from __future__ import annotations

import trio
import trio.testing

from actors.fills import FillRouter, serve_user_events
from actors.router import BookRouter, Changes
from arb.domain import Instrument, Side, Venue
from arb.ledger import Ledger
from arb.money import Money, Price, Qty
from arb.venues.protocol import (
    FeedHealth,
    FeedState,
    Fill,
    FillStatus,
    OrderResult,
    OrderStatus,
)

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


async def test_user_stream_fills_reach_the_ledger_and_the_watching_leg(tmp_path):
    """A venue's user stream: fills are recorded idempotently and handed to the order's watch;
    fills of unwatched orders are only recorded."""
    inst = Instrument.polymarket("0xc", "tok")

    def fill(trade: str, order: str, status: FillStatus) -> Fill:
        return Fill(Venue.POLYMARKET, trade, order, None, inst, Side.BUY, Price(400_000),
                    Qty(5_000_000), Money(0), True, status, 0)

    events = [fill("t1", "0xh1", FillStatus.PROVISIONAL),
              OrderResult("0xh1", None, OrderStatus.FILLED, Qty(5_000_000), None, Money(0)),
              fill("t1", "0xh1", FillStatus.PROVISIONAL),
              fill("t1", "0xh1", FillStatus.FAILED),
              fill("t2", "0xother", FillStatus.CONFIRMED)]

    async def stream():
        for event in events:
            yield event

    with Ledger.open(tmp_path / "l.sqlite", mode="paper") as ledger:
        router = FillRouter(ledger)
        watch = router.watch(Venue.POLYMARKET, "c-1", "0xh1")
        await serve_user_events(stream(), router)
        assert [f.status for f in watch.take_nowait()] == [
            FillStatus.PROVISIONAL, FillStatus.PROVISIONAL, FillStatus.FAILED]
        assert (router.observed, router.duplicates, router.unwatched) == (4, 1, 1)
        assert {f.trade_id: f.status for f in ledger.fills()} == {
            "t1": FillStatus.FAILED, "t2": FillStatus.CONFIRMED}


def test_pair_books_freshness_uses_the_connections_data_clock():
    from actor_fakes import make_pair

    from actors.books import PairBooks
    from arb.book import KalshiBook, Liveness, PolyBook
    from arb.money import CENT, Price, Qty

    pair = make_pair()
    kalshi_live, poly_live = Liveness(), Liveness()
    books = PairBooks(pair,
                      KalshiBook(pair.kalshi.ticker, no_in_yes_prices=False, liveness=kalshi_live),
                      PolyBook(pair.poly.yes_token, tick=Price(CENT), min_order_size=Qty(5),
                               liveness=poly_live),
                      PolyBook(pair.poly.no_token, tick=Price(CENT), min_order_size=Qty(5),
                               liveness=poly_live))
    books.kalshi.apply_snapshot([], [], received_at=0.0)
    books.poly_yes.apply_snapshot([], [], received_at=0.0)
    books.poly_no.apply_snapshot([], [], received_at=0.0)
    assert not books.fresh(10.0, max_age=2.0)
    kalshi_live.last_data = poly_live.last_data = 9.5
    assert books.fresh(10.0, max_age=2.0)
    books.poly_no.invalidate("gap")
    assert not books.fresh(10.0, max_age=2.0)
