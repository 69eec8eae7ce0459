"""Reliability row 28: clock skew makes the venue reject the signature timestamp.

Against both simulators on loopback (each checks its auth timestamp window): the answer is an
``AuthError`` naming the clock, raised after exactly one signed attempt (never retried blindly),
an order under a rejected signature is never placed, and fixing the clock is enough to resume.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial

import pytest

from arb.domain import Instrument, Outcome, Side, TimeInForce
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.auth import create_api_account
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
from arb.venues.protocol import AuthError, OrderRequest

pytestmark = pytest.mark.timeout(30)
P, Q = parse_price, parse_qty
PM_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
PM_CID = "0x" + "28" * 32
PM_YES, PM_NO = "7" * 77, "8" * 77
TEN_MINUTES_MS = 600_000


class CountingClock:
    """A Unix-milliseconds clock off by ``skew_ms`` that counts how often it was read."""

    def __init__(self, skew_ms: int) -> None:
        self.skew_ms = skew_ms
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return time.time_ns() // 1_000_000 + self.skew_ms


def _poly_exchange() -> Exchange:
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=PM_CID, question_id="0x" + "c2" * 32, slug="nba-skew-2026-01-04",
        question="Home vs. Away", description="Resolves ...",
        tokens=(PolyToken(PM_YES, "Home"), PolyToken(PM_NO, "Away")),
        sports_market_type="moneyline", game_start_time=start)
    exchange = Exchange()
    exchange.advance(wall_clock_ms())
    exchange.add_event(PolyEvent(id="990028", slug="nba-skew-2026-01-04", title="Skew",
                                 tags=("sports", "nba", "games"), start_time=start,
                                 markets=(market,)))
    open_funded_account(exchange, PM_KEY, collateral=100_000_000)
    return exchange


async def test_kalshi_skewed_signature_is_an_auth_error_sent_once_and_places_nothing(nursery):
    exchange = sample_exchange()
    urls = await nursery.start(partial(serve_kalshi_sim, exchange))
    creds = create_api_account(exchange, cash=parse_money("100"))
    skewed = CountingClock(TEN_MINUTES_MS)
    signer = KalshiSigner(creds.key_id, creds.private_key(), clock_ms=skewed)
    good = KalshiSigner(creds.key_id, creds.private_key())
    async with open_kalshi_adapter(urls.rest, good) as healthy, \
            open_kalshi_adapter(urls.rest, signer) as adapter:
        await healthy.load_market_rules([SAC])
        await adapter.load_market_rules([SAC])  # public reads are unsigned and still work
        reads = skewed.reads
        with pytest.raises(AuthError, match="clock") as caught:
            await adapter.balance()
        assert caught.value.status == 401 and skewed.reads == reads + 1

        request = OrderRequest("skew-1", Instrument.kalshi(SAC, Outcome.YES), Side.BUY,
                               P("0.50"), Q("1"), TimeInForce.GTC)
        reads = skewed.reads
        with pytest.raises(AuthError, match="clock"):
            await adapter.submit(adapter.prepare(request))
        assert skewed.reads == reads + 1
        assert await healthy.get_order(client_id="skew-1") is None
        assert await healthy.open_orders() == []

        skewed.skew_ms = 0  # the operator fixes the clock: the same client works again
        assert (await adapter.balance()).available == parse_money("100")


async def test_polymarket_skew_found_at_startup_is_corrected_later_drift_is_an_auth_error(
        nursery):
    exchange = _poly_exchange()
    urls = await nursery.start(serve_polymarket_sim, exchange)
    offset = {"s": 900.0}

    def wall_clock() -> float:
        return time.time() + offset["s"]

    signer = PolymarketSigner.from_private_key(PM_KEY)
    async with open_polymarket_adapter(signer, base_url=urls.clob,
                                       wall_clock=wall_clock) as adapter:
        # Fifteen minutes off at startup: aligned with the venue's clock, so trading works.
        assert (await adapter.balance()).available == 100_000_000
        offset["s"] += 600.0  # the local clock jumps after startup
        with pytest.raises(AuthError, match="clock") as caught:
            await adapter.balance()
        assert caught.value.status == 401
        await adapter.rest.sync_clock()
        assert (await adapter.balance()).available == 100_000_000
