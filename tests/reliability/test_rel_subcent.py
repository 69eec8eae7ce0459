"""Reliability row 23 and the "0.995 and 0.99 collapsed" regression, end to end on loopback.

A Kalshi deci-cent market with fractional counts and a Polymarket 0.001-tick market: levels at
0.99 and 0.995 stay two levels in the feeds' books and in the REST books; an order off the grid
is rounded in the safe direction; fractional counts survive the round trip to the venue.
"""
from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest
import trio

from arb.domain import Instrument, Outcome, Side, TimeInForce
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.auth import create_api_account
from arb.sim.kalshi.core import NewOrder
from arb.sim.kalshi.runner import serve_kalshi_sim
from arb.sim.kalshi.sample import TOTAL, sample_exchange
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import open_funded_account, serve_polymarket_sim
from arb.venues.kalshi.adapter import open_kalshi_adapter
from arb.venues.kalshi.auth import KalshiSigner
from arb.venues.kalshi.feed import kalshi_ws_connector, serve_kalshi_feed
from arb.venues.polymarket.adapter import open_polymarket_adapter
from arb.venues.polymarket.feed import serve_polymarket_feed
from arb.venues.polymarket.signing import PolymarketSigner
from arb.venues.polymarket.ws import default_connect
from arb.venues.protocol import OrderRequest, OrderStatus

pytestmark = pytest.mark.timeout(30)
P, Q = parse_price, parse_qty
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
CID = "0x" + "23" * 32
YES, NO = "4" * 77, "3" * 77


class _Sink:
    def book_changed(self, venue, key) -> None:
        pass

    def feed_health(self, health) -> None:
        pass


async def _until(predicate, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await trio.sleep(0.01)
    raise AssertionError(f"not reached: {what}")


async def test_kalshi_deci_cent_levels_and_fractional_counts_stay_exact(nursery):
    exchange = sample_exchange()
    urls = await nursery.start(partial(serve_kalshi_sim, exchange))
    creds = create_api_account(exchange, cash=parse_money("100"))
    house = exchange.register_account(cash=parse_money("100000"))
    exchange.place_order(house, NewOrder(TOTAL, "bid", P("0.990"), Q("1.50")))
    exchange.place_order(house, NewOrder(TOTAL, "bid", P("0.995"), Q("0.01")))
    signer = KalshiSigner(creds.key_id, creds.private_key())
    feed = await nursery.start(partial(serve_kalshi_feed, kalshi_ws_connector(urls.ws, signer),
                                       [TOTAL], _Sink()))
    book = feed.book(TOTAL)
    assert book.bids(Outcome.YES) == [(P("0.995"), Q("0.01")), (P("0.99"), Q("1.5"))]
    assert book.best_ask(Outcome.NO) == (P("0.005"), Q("0.01"))
    async with open_kalshi_adapter(urls.rest, signer) as adapter:
        await adapter.load_market_rules([TOTAL])
        rest = await adapter.rest.orderbook(TOTAL)
        assert rest.yes == ((P("0.99"), Q("1.5")), (P("0.995"), Q("0.01")))
        # A buy limit off the 0.001 grid rounds DOWN (never pays more); 0.37 contracts stay 0.37.
        prepared = adapter.prepare(OrderRequest(
            "r23-k", Instrument.kalshi(TOTAL, Outcome.YES), Side.BUY, P("0.9855"), Q("0.37"),
            TimeInForce.GTC))
        assert prepared.price == P("0.985") and prepared.qty == Q("0.37")
        result = await adapter.submit(prepared)
        assert result.status is OrderStatus.RESTING
        [open_order] = await adapter.open_orders()
        assert (open_order.price, open_order.qty) == (P("0.985"), Q("0.37"))
        await _until(lambda: (P("0.985"), Q("0.37")) in book.bids(Outcome.YES),
                     "our fractional sub-cent level in the feed")
        assert book.bids(Outcome.YES)[:2] == [(P("0.995"), Q("0.01")), (P("0.99"), Q("1.5"))]


async def test_polymarket_thousandth_tick_levels_stay_apart(nursery):
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=CID, question_id="0x" + "c9" * 32, slug="nba-fine-2026-01-04",
        question="Home vs. Away", description="Resolves ...",
        tokens=(PolyToken(YES, "Home"), PolyToken(NO, "Away")),
        sports_market_type="moneyline", game_start_time=start, tick_size=P("0.001"))
    exchange = Exchange()
    exchange.advance(wall_clock_ms())
    exchange.add_event(PolyEvent(id="990023", slug="nba-fine-2026-01-04", title="Fine",
                                 tags=("sports", "nba", "games"), start_time=start,
                                 markets=(market,)))
    exchange.place_house_order(YES, Side.BUY, P("0.990"), Q("10"))
    exchange.place_house_order(YES, Side.BUY, P("0.995"), Q("6"))
    open_funded_account(exchange, KEY, collateral=100_000_000)
    urls = await nursery.start(serve_polymarket_sim, exchange)
    feed = await nursery.start(serve_polymarket_feed, [YES, NO], _Sink(),
                               lambda _url: default_connect(urls.market_ws))
    assert feed.books[YES].bids() == [(P("0.995"), Q("6")), (P("0.99"), Q("10"))]
    assert feed.books[NO].asks() == [(P("0.005"), Q("6")), (P("0.01"), Q("10"))]
    async with open_polymarket_adapter(PolymarketSigner.from_private_key(KEY),
                                       base_url=urls.clob) as adapter:
        await adapter.load_market(CID)
        rest = await adapter.rest.book(YES)
        assert rest.bids[:2] == ((P("0.995"), Q("6")), (P("0.99"), Q("10")))
        # A buy limit off the tick rounds DOWN (never pays more): 0.0036 -> 0.003, below the
        # best NO ask of 0.005, so it rests.
        prepared = adapter.prepare(OrderRequest(
            "r23-p", Instrument.polymarket(CID, NO), Side.BUY, P("0.0036"), Q("10"),
            TimeInForce.GTC))
        assert prepared.price == P("0.003")
        assert (await adapter.submit(prepared)).status is OrderStatus.RESTING
        await _until(lambda: feed.books[NO].best_bid() == (P("0.003"), Q("10")),
                     "our 0.003 bid in the feed")
        assert feed.books[YES].best_ask() == (P("0.997"), Q("10"))
        assert feed.books[YES].bids()[:2] == [(P("0.995"), Q("6")), (P("0.99"), Q("10"))]
