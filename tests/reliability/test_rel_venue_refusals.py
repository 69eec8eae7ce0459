"""Reliability rows 9 and 26 at the adapter, against the simulators on loopback.

Row 9: during a Kalshi trading pause, entries are refused as ``VenuePaused`` (definitive: nothing
placed) and the status says "not trading", while cancels still work; the status flips back.
Row 26: an order beyond the balance is a definitive ``Rejected`` on both venues (never an unknown
outcome to chase) and places nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from arb.domain import Instrument, Outcome, Side, TimeInForce
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.auth import create_api_account
from arb.sim.kalshi.faults import faults_of
from arb.sim.kalshi.runner import serve_kalshi_sim
from arb.sim.kalshi.sample import SAC, sample_exchange
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import open_funded_account, serve_polymarket_sim
from arb.venues.kalshi.adapter import open_kalshi_adapter
from arb.venues.kalshi.auth import KalshiSigner
from arb.venues.polymarket.adapter import open_polymarket_adapter
from arb.venues.polymarket.signing import PolymarketSigner
from arb.venues.protocol import OrderRequest, OrderStatus, Rejected, VenuePaused

pytestmark = pytest.mark.timeout(30)
P, Q = parse_price, parse_qty
PM_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
CID = "0x" + "26" * 32
YES, NO = "6" * 77, "7" * 77


def _kalshi_order(cid: str, qty: str, tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest(cid, Instrument.kalshi(SAC, Outcome.YES), Side.BUY, P("0.30"), Q(qty),
                        tif)


async def _kalshi(nursery, cash: str):
    exchange = sample_exchange()
    urls = await nursery.start(partial(serve_kalshi_sim, exchange))
    creds = create_api_account(exchange, cash=parse_money(cash))
    return exchange, urls, KalshiSigner(creds.key_id, creds.private_key())


async def test_kalshi_pause_refuses_entries_allows_cancels_and_resumes(nursery):
    exchange, urls, signer = await _kalshi(nursery, "100")
    async with open_kalshi_adapter(urls.rest, signer) as adapter:
        await adapter.load_market_rules([SAC])
        resting = await adapter.submit(adapter.prepare(_kalshi_order("r9-rest", "2")))
        assert resting.status is OrderStatus.RESTING

        faults_of(exchange).pause_trading(True)
        status = await adapter.status()
        assert status.reachable and not status.trading_active
        with pytest.raises(VenuePaused):
            await adapter.submit(adapter.prepare(_kalshi_order("r9-entry", "1")))
        assert await adapter.get_order(client_id="r9-entry") is None
        await adapter.cancel(resting.venue_order_id, Instrument.kalshi(SAC, Outcome.YES))
        cancelled = await adapter.get_order(resting.venue_order_id)
        assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED

        faults_of(exchange).pause_trading(False)
        assert (await adapter.status()).trading_active
        again = await adapter.submit(adapter.prepare(_kalshi_order("r9-after", "1")))
        assert again.status is OrderStatus.RESTING


async def test_kalshi_order_beyond_the_balance_is_rejected_and_places_nothing(nursery):
    _, urls, signer = await _kalshi(nursery, "10")
    async with open_kalshi_adapter(urls.rest, signer) as adapter:
        await adapter.load_market_rules([SAC])
        with pytest.raises(Rejected, match="insufficient") as caught:
            await adapter.submit(adapter.prepare(_kalshi_order("r26-k", "100")))  # $30 > $10
        assert not isinstance(caught.value, VenuePaused)
        assert await adapter.get_order(client_id="r26-k") is None
        assert await adapter.open_orders() == []
        assert (await adapter.balance()).available == parse_money("10")


async def test_polymarket_order_beyond_the_balance_is_rejected_and_places_nothing(nursery):
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=CID, question_id="0x" + "c6" * 32, slug="nba-poor-2026-01-04",
        question="Home vs. Away", description="Resolves ...",
        tokens=(PolyToken(YES, "Home"), PolyToken(NO, "Away")),
        sports_market_type="moneyline", game_start_time=start)
    exchange = Exchange()
    exchange.advance(wall_clock_ms())
    exchange.add_event(PolyEvent(id="990026", slug="nba-poor-2026-01-04", title="Poor",
                                 tags=("sports", "nba", "games"), start_time=start,
                                 markets=(market,)))
    exchange.place_house_order(YES, Side.SELL, P("0.50"), Q("100"))
    open_funded_account(exchange, PM_KEY, collateral=10_000_000)  # $10
    urls = await nursery.start(serve_polymarket_sim, exchange)
    async with open_polymarket_adapter(PolymarketSigner.from_private_key(PM_KEY),
                                       base_url=urls.clob) as adapter:
        await adapter.load_market(CID)
        prepared = adapter.prepare(OrderRequest(
            "r26-p", Instrument.polymarket(CID, YES), Side.BUY, P("0.50"), Q("40"),
            TimeInForce.IOC))  # $20 > $10
        with pytest.raises(Rejected, match="not enough balance"):
            await adapter.submit(prepared)
        assert await adapter.get_order(prepared.venue_order_id) is None
        assert exchange.trades_of(adapter.signer.address) == []
        assert (await adapter.balance()).available == 10_000_000
