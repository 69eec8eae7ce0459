"""Reliability row 4: a venue refuses connections for a while.

Both simulators on loopback, both real feeds running. Kalshi goes down (REST 503, websocket
handshakes refused, open sockets dropped): its books go invalid, its feed reconnects with capped
backoff (attempts counted: no spin), its adapter reports it unreachable without raising, and the
Polymarket feed keeps following its venue meanwhile. When Kalshi comes back the books are
rebuilt from fresh snapshots.
"""
from __future__ import annotations

import random
from datetime import UTC, datetime
from functools import partial

import pytest
import trio

from arb.domain import Outcome, Side, Venue
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.auth import create_api_account
from arb.sim.kalshi.core import NewOrder
from arb.sim.kalshi.faults import faults_of
from arb.sim.kalshi.runner import serve_kalshi_sim
from arb.sim.kalshi.sample import SAC, sample_exchange
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import serve_polymarket_sim
from arb.venues.kalshi.adapter import open_kalshi_adapter
from arb.venues.kalshi.auth import KalshiSigner
from arb.venues.kalshi.feed import FeedConfig, kalshi_ws_connector, serve_kalshi_feed
from arb.venues.polymarket.feed import serve_polymarket_feed
from arb.venues.polymarket.ws import default_connect
from arb.venues.protocol import FeedState

pytestmark = pytest.mark.timeout(30)
P, Q = parse_price, parse_qty
CID = "0x" + "04" * 32
YES, NO = "2" * 77, "5" * 77
DOWN_S = 1.5
BACKOFF_CAP = 0.2


class Health:
    """Book changes and feed health per venue, and a way to wait for a condition."""

    def __init__(self) -> None:
        self.states: dict[Venue, list[FeedState]] = {Venue.KALSHI: [], Venue.POLYMARKET: []}
        self.changes: dict[Venue, int] = {Venue.KALSHI: 0, Venue.POLYMARKET: 0}

    def book_changed(self, venue: Venue, key: str) -> None:
        self.changes[venue] += 1

    def feed_health(self, health) -> None:
        self.states[health.venue].append(health.state)


async def _until(predicate, what: str, limit: float = 10.0) -> None:
    for _ in range(int(limit / 0.01)):
        if predicate():
            return
        await trio.sleep(0.01)
    raise AssertionError(f"not reached within {limit} s: {what}")


def _poly_exchange() -> Exchange:
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=CID, question_id="0x" + "c4" * 32, slug="nba-down-2026-01-04",
        question="Home vs. Away", description="Resolves ...",
        tokens=(PolyToken(YES, "Home"), PolyToken(NO, "Away")),
        sports_market_type="moneyline", game_start_time=start)
    exchange = Exchange()
    exchange.advance(wall_clock_ms())
    exchange.add_event(PolyEvent(id="990004", slug="nba-down-2026-01-04", title="Down",
                                 tags=("sports", "nba", "games"), start_time=start,
                                 markets=(market,)))
    exchange.place_house_order(YES, Side.SELL, P("0.60"), Q("10"))
    return exchange


async def test_kalshi_down_backs_off_reports_unreachable_and_polymarket_keeps_going(nursery):
    kalshi = sample_exchange()
    k_urls = await nursery.start(partial(serve_kalshi_sim, kalshi))
    creds = create_api_account(kalshi, cash=parse_money("100"))
    house = kalshi.register_account(cash=parse_money("100000"))
    kalshi.place_order(house, NewOrder(SAC, "bid", P("0.40"), Q("10")))
    signer = KalshiSigner(creds.key_id, creds.private_key())
    poly = _poly_exchange()
    p_urls = await nursery.start(serve_polymarket_sim, poly)

    attempts = []
    inner = kalshi_ws_connector(k_urls.ws, signer, connect_timeout=1.0)

    def counting_connect():
        attempts.append(trio.current_time())
        return inner()

    health = Health()
    k_feed = await nursery.start(partial(
        serve_kalshi_feed, counting_connect, [SAC], health, rng=random.Random(4),
        config=FeedConfig(backoff_base=0.05, backoff_cap=BACKOFF_CAP, max_failures=1000)))
    p_feed = await nursery.start(serve_polymarket_feed, [YES, NO], health,
                                 lambda _url: default_connect(p_urls.market_ws))
    async with open_kalshi_adapter(k_urls.rest, signer, request_timeout=2.0) as adapter:
        assert k_feed.book(SAC).valid and (await adapter.status()).reachable

        faults_of(kalshi).refuse_connections(True)
        await _until(lambda: not k_feed.book(SAC).valid, "kalshi books invalid")
        down_at = trio.current_time()
        before = len(attempts)
        status = await adapter.status()
        assert not status.reachable and not status.trading_active and status.detail

        # The other venue is unaffected: its book follows a change made during the outage.
        poly.place_house_order(YES, Side.BUY, P("0.45"), Q("7"))
        await _until(lambda: p_feed.books[YES].best_bid() == (P("0.45"), Q("7")),
                     "polymarket update during the kalshi outage")
        await trio.sleep(DOWN_S - (trio.current_time() - down_at))
        tried = len(attempts) - before
        # Jittered exponential backoff capped at 0.2 s: at most one attempt per 0.1 s (the
        # smallest capped delay), at least a few; a spinning reconnect would make hundreds.
        assert 3 <= tried <= DOWN_S / (BACKOFF_CAP / 2) + 2, tried
        assert p_feed.books[YES].valid and p_feed.statistics().reconnects == 0
        assert FeedState.RECONNECTING in health.states[Venue.KALSHI]

        faults_of(kalshi).refuse_connections(False)
        kalshi.place_order(house, NewOrder(SAC, "bid", P("0.41"), Q("3")))
        await _until(lambda: k_feed.book(SAC).valid
                     and k_feed.book(SAC).best_bid(Outcome.YES) == (P("0.41"), Q("3")),
                     "kalshi books rebuilt after the outage")
        assert health.states[Venue.KALSHI][-1] is FeedState.LIVE
        assert (await adapter.status()).reachable
    nursery.cancel_scope.cancel()
