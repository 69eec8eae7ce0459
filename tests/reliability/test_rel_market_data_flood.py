"""Reliability row 30: a market-data flood against a feed whose consumer never reads.

The real feeds read the simulated venues over loopback; their listener is the real
``BookRouter`` and the only subscribed market actor never takes its mailbox. The venues drop a
slow reader (Polymarket closes a session whose outbox passes 1,000 frames, Kalshi kills the
subscription with error 25), so a reader slowed by its consumer would be cut off. Memory is
traced only for the code that holds market data (feed, parser, books, router).
"""
from __future__ import annotations

import random
import tracemalloc
from datetime import UTC, datetime
from functools import partial

import pytest
import trio

from actors.router import BookRouter
from arb.domain import Outcome, Side, Venue
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.auth import create_api_account
from arb.sim.kalshi.core import NewOrder
from arb.sim.kalshi.runner import serve_kalshi_sim
from arb.sim.kalshi.sample import SAC, sample_exchange
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.core import Exchange, ExchangeConfig
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import serve_polymarket_sim
from arb.venues.kalshi.auth import KalshiSigner
from arb.venues.kalshi.feed import FeedConfig, kalshi_ws_connector, serve_kalshi_feed
from arb.venues.polymarket.feed import PolyFeedConfig, serve_polymarket_feed
from arb.venues.polymarket.ws import default_connect

pytestmark = pytest.mark.timeout(60)
P, Q = parse_price, parse_qty
YES = "5" * 77
NO = "6" * 77
CID = "0x" + "5a" * 32
BURST = 200
"""Venue changes per burst: well under the venue's 1,000-frame slow-consumer limit."""
WARM_BURSTS = 5
TRACED_BURSTS = 4
RETAINED_PER_UPDATE = 32
"""Bytes a traced update may leave behind on average: less than any per-update record."""
TRIO_EXPIRED_DEADLINES = 1_000 * 24
"""Trio prunes expired deadlines from its heap lazily (up to ~1,000 entries), and each holds a
float a feed's read timeout allocated: bounded, but visible to the trace."""
TRACED = ("*/arb/venues/polymarket/feed.py", "*/arb/book.py", "*/actors/router.py",
          "*/arb/venues/polymarket/wire.py", "*/arb/venues/kalshi/feed.py",
          "*/arb/venues/kalshi/parse.py")


def _exchange() -> Exchange:
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=CID, question_id="0x" + "c5" * 32, slug="nba-flood-2026-01-04",
        question="Flood vs. Flood", description="Resolves ...",
        tokens=(PolyToken(YES, "Home"), PolyToken(NO, "Away")),
        sports_market_type="moneyline", game_start_time=start)
    exchange = Exchange(config=ExchangeConfig())
    exchange.advance(wall_clock_ms())
    exchange.add_event(PolyEvent(id="990001", slug="nba-flood-2026-01-04", title="Flood",
                                 tags=("sports", "nba", "games"), start_time=start,
                                 markets=(market,)))
    exchange.place_house_order(YES, Side.SELL, P("0.60"), Q("100"))
    exchange.place_house_order(YES, Side.BUY, P("0.30"), Q("100"))
    return exchange


def _traced_bytes() -> int:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, pattern) for pattern in TRACED])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _venue_levels(exchange: Exchange, token: str) -> tuple[list, list]:
    market = exchange.market(CID)
    return market.book.token_levels(market.token_index(token))


async def _burst(exchange: Exchange, rng: random.Random, resting: list[str], feed) -> None:
    """BURST random book changes (new levels inside the spread, cancels), then wait until the
    feed has read them all; the wait is bounded, the venue would have dropped a slow reader."""
    before = feed.statistics().price_changes
    for _ in range(BURST):
        if resting and rng.random() < 0.5:
            exchange.cancel_house_order(resting.pop(rng.randrange(len(resting))))
        else:
            side = rng.choice((Side.BUY, Side.SELL))
            cents = rng.randrange(31, 45) if side is Side.BUY else rng.randrange(46, 60)
            result = exchange.place_house_order(YES, side, P(f"0.{cents}"),
                                                Q(str(rng.randrange(5, 500))))
            resting.append(result.order_id)
    for _ in range(10_000):
        if feed.statistics().price_changes >= before + 2 * BURST:  # one entry per token
            return
        await trio.sleep(0.001)
    raise AssertionError("the feed fell behind the venue's book changes")


async def test_polymarket_flood_with_a_consumer_that_never_reads_keeps_memory_flat() -> None:
    exchange = _exchange()
    router = BookRouter()
    mailbox = router.subscribe(frozenset({(Venue.POLYMARKET, YES), (Venue.POLYMARKET, NO)}))
    rng = random.Random(30)
    resting: list[str] = []
    config = PolyFeedConfig(ping_interval=0.5, probe_after=5.0, max_silence=10.0)
    try:
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(serve_polymarket_sim, exchange)
            with trio.fail_after(5):
                feed = await nursery.start(serve_polymarket_feed, [YES, NO], router,
                                           lambda _url: default_connect(urls.market_ws), config)
            for _ in range(WARM_BURSTS):
                await _burst(exchange, rng, resting, feed)
            tracemalloc.start(1)  # from here on, what is allocated and kept is growth
            for _ in range(TRACED_BURSTS):
                await _burst(exchange, rng, resting, feed)
            grown = _traced_bytes()
            stats = feed.statistics()
            for token in (YES, NO):
                bids, asks = _venue_levels(exchange, token)
                assert feed.books[token].valid
                assert feed.books[token].bids() == bids and feed.books[token].asks() == asks
            nursery.cancel_scope.cancel()
    finally:
        tracemalloc.stop()

    assert stats.price_changes == 2 * (WARM_BURSTS + TRACED_BURSTS) * BURST
    assert stats.epoch == 1 and stats.reconnects == 0 and stats.stale == 0
    assert stats.mismatches == 0 and stats.malformed == 0 and stats.resyncs == 0
    # The consumer never read: what waits for it is one notice per book, not one per update.
    assert router.notified >= 2 * (WARM_BURSTS + TRACED_BURSTS) * BURST
    pending = mailbox.take_nowait()
    assert pending.keys == {(Venue.POLYMARKET, YES), (Venue.POLYMARKET, NO)}
    assert mailbox.conflated >= router.notified - 2 - len(pending.health)
    # The traced updates left the market-data holders' memory where it was (levels are bounded
    # by the 28 prices used).
    assert grown < TRIO_EXPIRED_DEADLINES + RETAINED_PER_UPDATE * TRACED_BURSTS * BURST, grown


async def _kalshi_burst(exchange, house: str, rng: random.Random, resting: list[str],
                        feed) -> None:
    """BURST random Kalshi book changes, then wait (bounded) until the feed has read them."""
    before = feed.statistics().messages
    for _ in range(BURST):
        if resting and rng.random() < 0.5:
            exchange.cancel_order(house, resting.pop(rng.randrange(len(resting))))
        else:
            side = rng.choice(("bid", "ask"))
            cents = rng.randrange(31, 45) if side == "bid" else rng.randrange(46, 60)
            placed = exchange.place_order(house, NewOrder(SAC, side, P(f"0.{cents}"),
                                                          Q(str(rng.randrange(1, 500)))))
            resting.append(placed.order.order_id)
    for _ in range(10_000):
        if feed.statistics().messages >= before + BURST:  # one delta frame per change
            return
        await trio.sleep(0.001)
    raise AssertionError("the feed fell behind the venue's book changes")


async def test_kalshi_flood_with_a_consumer_that_never_reads_keeps_memory_flat() -> None:
    exchange = sample_exchange()
    creds = create_api_account(exchange, cash=parse_money("100"))
    house = exchange.register_account(cash=parse_money("10000000"))
    router = BookRouter()
    mailbox = router.subscribe(frozenset({(Venue.KALSHI, SAC)}))
    rng = random.Random(30)
    resting: list[str] = []
    try:
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(partial(serve_kalshi_sim, exchange))
            signer = KalshiSigner(creds.key_id, creds.private_key())
            with trio.fail_after(5):
                feed = await nursery.start(partial(
                    serve_kalshi_feed, kalshi_ws_connector(urls.ws, signer), [SAC], router,
                    config=FeedConfig(probe_after=5.0, stale_after=10.0)))
            for _ in range(WARM_BURSTS):
                await _kalshi_burst(exchange, house, rng, resting, feed)
            tracemalloc.start(1)
            for _ in range(TRACED_BURSTS):
                await _kalshi_burst(exchange, house, rng, resting, feed)
            grown = _traced_bytes()
            yes, no = exchange.orderbook(SAC)
            book = feed.book(SAC)
            for _ in range(1_000):  # bounded: the venue would have cut a reader this far behind
                if book.valid and (book.bids(Outcome.YES), book.bids(Outcome.NO)) == (
                        list(reversed(yes)), list(reversed(no))):
                    break
                await trio.sleep(0.005)
            assert book.valid
            assert book.bids(Outcome.YES) == list(reversed(yes))
            assert book.bids(Outcome.NO) == list(reversed(no))
            stats = feed.statistics()
            nursery.cancel_scope.cancel()
    finally:
        tracemalloc.stop()

    assert stats.epoch == 1 and stats.reconnects == 0 and stats.stale == 0
    assert stats.gaps == 0 and stats.malformed == 0 and stats.resubscribes == 0
    assert router.notified >= (WARM_BURSTS + TRACED_BURSTS) * BURST
    pending = mailbox.take_nowait()
    assert pending.keys == {(Venue.KALSHI, SAC)}
    assert mailbox.conflated >= router.notified - 1 - len(pending.health)
    assert grown < TRIO_EXPIRED_DEADLINES + RETAINED_PER_UPDATE * TRACED_BURSTS * BURST, grown
