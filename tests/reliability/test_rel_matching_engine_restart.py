"""Reliability row 8: Polymarket 425 (matching-engine restart), then a post-only window.

Against the simulated venue on loopback: both refusals are ``TradingPaused`` (a definitive "not
placed" that also pauses entries on the venue), never ``OutcomeUnknown`` (which would leave an
UNKNOWN leg to chase on every attempt of the window); the adapter's status says "not trading"
through the window; nothing was placed; an accepted order ends the pause.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from arb.domain import Instrument, Side, TimeInForce
from arb.money import parse_price, parse_qty
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.faults import TradingMode
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import open_funded_account, serve_polymarket_sim
from arb.venues.polymarket.adapter import open_polymarket_adapter
from arb.venues.polymarket.errors import PauseKind, TradingPaused
from arb.venues.polymarket.signing import PolymarketSigner
from arb.venues.protocol import OrderRequest, OrderStatus, VenuePaused

pytestmark = pytest.mark.timeout(30)
P, Q = parse_price, parse_qty
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
CID = "0x" + "08" * 32
YES, NO = "9" * 77, "1" + "0" * 76


def _exchange() -> Exchange:
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=CID, question_id="0x" + "c8" * 32, slug="nba-restart-2026-01-04",
        question="Home vs. Away", description="Resolves ...",
        tokens=(PolyToken(YES, "Home"), PolyToken(NO, "Away")),
        sports_market_type="moneyline", game_start_time=start)
    exchange = Exchange()
    exchange.advance(wall_clock_ms())
    exchange.add_event(PolyEvent(id="990008", slug="nba-restart-2026-01-04", title="Restart",
                                 tags=("sports", "nba", "games"), start_time=start,
                                 markets=(market,)))
    exchange.place_house_order(YES, Side.SELL, P("0.55"), Q("50"))
    open_funded_account(exchange, KEY, collateral=100_000_000)
    return exchange


def _taker(cid: str) -> OrderRequest:
    return OrderRequest(cid, Instrument.polymarket(CID, YES), Side.BUY, P("0.55"), Q("10"),
                        TimeInForce.IOC)


async def test_restart_then_post_only_window_pauses_entries_and_places_nothing(nursery):
    exchange = _exchange()
    urls = await nursery.start(serve_polymarket_sim, exchange)
    async with open_polymarket_adapter(PolymarketSigner.from_private_key(KEY),
                                       base_url=urls.clob) as adapter:
        await adapter.load_market(CID)
        exchange.faults.fail_next_rest_calls(425, 1, "/order")
        exchange.faults.set_trading_mode(TradingMode.POST_ONLY)
        with pytest.raises(TradingPaused) as restart:
            await adapter.submit(adapter.prepare(_taker("r8-1")))
        assert restart.value.kind is PauseKind.MATCHING_ENGINE_RESTART
        assert not (await adapter.status()).trading_active

        with pytest.raises(VenuePaused) as window:
            await adapter.submit(adapter.prepare(_taker("r8-2")))
        assert isinstance(window.value, TradingPaused)
        assert "post-only" in window.value.reason
        status = await adapter.status()
        assert status.reachable and not status.trading_active
        assert exchange.trades_of(adapter.signer.address) == []
        assert exchange.orders_of(adapter.signer.address) == []

        exchange.faults.set_trading_mode(TradingMode.NORMAL)
        result = await adapter.submit(adapter.prepare(_taker("r8-3")))
        assert result.status is OrderStatus.FILLED and result.filled_qty == Q("10")
        assert (await adapter.status()).trading_active
