"""Reliability row 14 at the venue: an unwind sell right after the buy meets Polymarket's
settlement lag ("not enough balance / allowance").

Against the simulated venue on loopback (settlement lag on, trades MINED after 300 ms): the
refusal is a definitive ``Rejected`` carrying the venue's text (what ``actors/unwind.py``'s
``is_settlement_lag`` reads), nothing is placed, and the SAME price succeeds once the buy's
trade has settled, so no price walk-down is needed.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import trio

from arb.domain import Instrument, Side, TimeInForce
from arb.money import parse_price, parse_qty
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.core import Exchange, ExchangeConfig
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import open_funded_account, serve_polymarket_sim
from arb.venues.polymarket.adapter import open_polymarket_adapter
from arb.venues.polymarket.signing import PolymarketSigner
from arb.venues.protocol import (
    OrderRequest,
    OrderStatus,
    OutcomeUnknown,
    Rejected,
    Transient,
    VenuePaused,
)

pytestmark = pytest.mark.timeout(30)
P, Q = parse_price, parse_qty
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
CID = "0x" + "14" * 32
YES, NO = "8" * 77, "9" * 76 + "1"


def _exchange() -> Exchange:
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=CID, question_id="0x" + "c7" * 32, slug="nba-lag-2026-01-04",
        question="Home vs. Away", description="Resolves ...",
        tokens=(PolyToken(YES, "Home"), PolyToken(NO, "Away")),
        sports_market_type="moneyline", game_start_time=start)
    exchange = Exchange(config=ExchangeConfig(mined_after_ms=300, confirmed_after_ms=600))
    exchange.advance(wall_clock_ms())
    exchange.add_event(PolyEvent(id="990014", slug="nba-lag-2026-01-04", title="Lag",
                                 tags=("sports", "nba", "games"), start_time=start,
                                 markets=(market,)))
    exchange.place_house_order(YES, Side.SELL, P("0.55"), Q("10"))
    exchange.place_house_order(YES, Side.BUY, P("0.50"), Q("50"))
    open_funded_account(exchange, KEY, collateral=100_000_000)
    return exchange


def _order(cid: str, side: Side, price: str) -> OrderRequest:
    return OrderRequest(cid, Instrument.polymarket(CID, YES), side, P(price), Q("10"),
                        TimeInForce.IOC)


async def test_quick_unwind_is_refused_definitively_then_the_same_price_fills(nursery):
    exchange = _exchange()
    urls = await nursery.start(serve_polymarket_sim, exchange)
    async with open_polymarket_adapter(PolymarketSigner.from_private_key(KEY),
                                       base_url=urls.clob) as adapter:
        await adapter.load_market(CID)
        bought = await adapter.submit(adapter.prepare(_order("r14-buy", Side.BUY, "0.55")))
        assert bought.status is OrderStatus.FILLED and bought.filled_qty == Q("10")

        unwind = adapter.prepare(_order("r14-sell-1", Side.SELL, "0.50"))
        with pytest.raises(Rejected) as refused:
            await adapter.submit(unwind)
        assert not isinstance(refused.value, VenuePaused)
        assert not isinstance(refused.value, Transient | OutcomeUnknown)
        assert "not enough balance / allowance" in refused.value.reason
        assert await adapter.get_order(unwind.venue_order_id) is None

        for _ in range(300):  # the venue's settlement (MINED), on the wall clock
            if exchange.available(adapter.signer.address, YES) == Q("10"):
                break
            await trio.sleep(0.01)
        else:
            raise AssertionError("the buy never settled")
        again = await adapter.submit(adapter.prepare(_order("r14-sell-2", Side.SELL, "0.50")))
        assert again.status is OrderStatus.FILLED and again.avg_price == P("0.50")
        assert again.filled_qty == Q("10")
