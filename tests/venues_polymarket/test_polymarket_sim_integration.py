"""The real client against the simulated Polymarket venue on loopback (REST + websockets).

The simulator runs on the wall clock (our orders carry wall-clock timestamps) with short
settlement delays, so every test finishes in well under a second or two.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest
import trio
from polyfakes import wait_until

from arb.domain import Instrument, Side, TimeInForce
from arb.money import parse_price, parse_qty
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.core import Exchange, ExchangeConfig
from arb.sim.polymarket.faults import TradingMode
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import open_funded_account, serve_polymarket_sim
from arb.venues.polymarket.adapter import PolymarketAdapter, open_polymarket_adapter
from arb.venues.polymarket.errors import PauseKind, TradingPaused
from arb.venues.polymarket.feed import PolyFeedConfig, serve_polymarket_feed
from arb.venues.polymarket.signing import PolymarketSigner
from arb.venues.polymarket.user_feed import serve_polymarket_user_feed
from arb.venues.protocol import (
    FeedState,
    Fill,
    FillStatus,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OutcomeUnknown,
    Rejected,
)

pytestmark = pytest.mark.timeout(60)
P, Q = parse_price, parse_qty
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
LAKERS = "40374828728556401897123405667318202986560858057991807205936503296617019557660"
GRIZZLIES = "98333126012043232639874805499592097094545421345364763701385819404466153206546"
CID = "0x9b2aad260f6b5dea10af0b03d5e4788adf261f0eea9db9616a3581e06bdaef0e"
EPL_CID = "0x" + "3c" * 32
ARS_YES = "1" * 77
ARS_NO = "2" * 77


def _event() -> PolyEvent:
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=CID, question_id="0x" + "c0" * 32, slug="nba-lal-mem-2026-01-04",
        question="Lakers vs. Grizzlies", description="If the Lakers win, ...",
        tokens=(PolyToken(LAKERS, "Lakers"), PolyToken(GRIZZLIES, "Grizzlies")),
        sports_market_type="moneyline", game_start_time=start)
    return PolyEvent(id="131070", slug="nba-lal-mem-2026-01-04", title="Lakers vs. Grizzlies",
                     tags=("sports", "nba", "games"), start_time=start, markets=(market,))


def _neg_risk_event() -> PolyEvent:
    start = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    market = PolyMarket(
        condition_id=EPL_CID, question_id="0x" + "c1" * 32, slug="epl-ars-che-2026-03-01-ars",
        question="Will Arsenal FC win on 2026-03-01?", description="Resolves Yes if ...",
        tokens=(PolyToken(ARS_YES, "Yes"), PolyToken(ARS_NO, "No")),
        sports_market_type="moneyline", game_start_time=start, neg_risk=True,
        neg_risk_market_id="0x" + "d0" * 32, tick_size=P("0.001"))
    return PolyEvent(id="200001", slug="epl-ars-che-2026-03-01", title="Arsenal vs. Chelsea",
                     tags=("sports", "epl", "games"), start_time=start, markets=(market,),
                     neg_risk=True)


@pytest.fixture
def exchange() -> Exchange:
    ex = Exchange(config=ExchangeConfig(mined_after_ms=30, confirmed_after_ms=80))
    ex.advance(wall_clock_ms())
    ex.add_event(_event())
    ex.add_event(_neg_risk_event())
    for price, size in (("0.55", "20"), ("0.56", "50")):
        ex.place_house_order(LAKERS, Side.SELL, P(price), Q(size))
    ex.place_house_order(LAKERS, Side.BUY, P("0.50"), Q("30"))
    open_funded_account(ex, KEY, collateral=100_000_000)
    return ex


def _buy(qty: str, price: str, tif: TimeInForce, cid: str = "c1") -> OrderRequest:
    return OrderRequest(cid, Instrument.polymarket(CID, LAKERS), Side.BUY, P(price), Q(qty), tif)


async def _with_venue(exchange: Exchange, body: Callable) -> None:
    signer = PolymarketSigner.from_private_key(KEY)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_polymarket_sim, exchange)
        async with open_polymarket_adapter(signer, base_url=urls.clob) as adapter:
            await adapter.load_market(CID)
            await body(adapter, urls, nursery)
        nursery.cancel_scope.cancel()


async def _wait_trade_status(adapter: PolymarketAdapter, trade_id: str, status: FillStatus
                             ) -> Fill:
    for _ in range(200):
        fills = {f.trade_id: f for f in (await adapter.fills()).fills}
        if trade_id in fills and fills[trade_id].status is status:
            return fills[trade_id]
        await trio.sleep(0.02)
    raise AssertionError(f"trade {trade_id} never reached {status}")


async def test_derive_key_book_fak_fill_and_confirmed_trade(exchange: Exchange) -> None:
    async def body(adapter: PolymarketAdapter, urls, nursery) -> None:
        assert adapter.rest.creds is not None
        async with open_polymarket_adapter(adapter.signer, base_url=urls.clob) as again:
            assert again.rest.creds == adapter.rest.creds  # create refused -> derived
        book = await adapter.rest.book(LAKERS)
        assert book.asks[0] == (P("0.55"), Q("20")) and book.bids[0] == (P("0.50"), Q("30"))
        prepared = adapter.prepare(_buy("30", "0.55", TimeInForce.IOC))
        result = await adapter.submit(prepared)
        assert result.status is OrderStatus.CANCELLED  # FAK: 20 filled, the rest killed
        assert result.filled_qty == Q("20") and result.avg_price == P("0.55")
        [trade_id] = result.trade_ids
        fill = await _wait_trade_status(adapter, trade_id, FillStatus.CONFIRMED)
        assert fill.qty == Q("20") and fill.is_taker and fill.client_id == "c1"
        assert fill.venue_order_id == prepared.venue_order_id
        assert (await adapter.get_order(prepared.venue_order_id)).filled_qty == Q("20")
        positions = await adapter.positions()
        assert [(p.instrument.token, p.qty) for p in positions] == [(LAKERS, Q("20"))]
        balance = await adapter.balance()
        assert balance.available == 100_000_000 - 11_000_000 - 247_500
        status = await adapter.status()
        assert status.reachable and status.trading_active
    await _with_venue(exchange, body)


async def test_fok_killed_and_resting_order_cancelled(exchange: Exchange) -> None:
    async def body(adapter: PolymarketAdapter, urls, nursery) -> None:
        killed = await adapter.submit(adapter.prepare(_buy("100", "0.56", TimeInForce.FOK)))
        assert killed.status is OrderStatus.CANCELLED and killed.filled_qty == 0
        resting = adapter.prepare(_buy("10", "0.45", TimeInForce.GTC, "c2"))
        assert (await adapter.submit(resting)).status is OrderStatus.RESTING
        assert [o.venue_order_id for o in await adapter.open_orders()] == [
            resting.venue_order_id]
        await adapter.cancel(resting.venue_order_id, resting.request.instrument)
        await adapter.cancel(resting.venue_order_id, resting.request.instrument)
        assert await adapter.open_orders() == []
        after = await adapter.get_order(resting.venue_order_id)
        assert after.status is OrderStatus.CANCELLED and after.client_id == "c2"
    await _with_venue(exchange, body)


async def test_batch_post_with_one_refusal_and_cancel_all(exchange: Exchange) -> None:
    async def body(adapter: PolymarketAdapter, urls, nursery) -> None:
        rest_buy = adapter.prepare(OrderRequest(
            "b1", Instrument.polymarket(CID, GRIZZLIES), Side.BUY, P("0.30"), Q("10"),
            TimeInForce.GTC))
        naked_sell = adapter.prepare(OrderRequest(
            "b2", Instrument.polymarket(CID, LAKERS), Side.SELL, P("0.60"), Q("10"),
            TimeInForce.GTC))
        first, second = await adapter.submit_batch([rest_buy, naked_sell])
        assert isinstance(first, OrderResult) and first.status is OrderStatus.RESTING
        assert isinstance(second, Rejected) and "not enough balance" in second.reason
        another = adapter.prepare(_buy("5", "0.40", TimeInForce.GTC, "b3"))
        await adapter.submit(another)
        assert await adapter.cancel_all() == 2
        assert await adapter.open_orders() == []
    await _with_venue(exchange, body)


async def test_delayed_answer_then_outcome_on_the_user_channel(exchange: Exchange) -> None:
    exchange.set_taker_delay(CID, 250)

    async def body(adapter: PolymarketAdapter, urls, nursery) -> None:
        send, recv = trio.open_memory_channel[Fill | OrderResult](64)
        await nursery.start(functools.partial(
            serve_polymarket_user_feed, adapter.rest.creds, adapter.signer.funder, send,
            client_ids=adapter.client_id_of, connect=_ws(urls.user_ws)))
        prepared = adapter.prepare(_buy("10", "0.55", TimeInForce.FOK))
        result = await adapter.submit(prepared)
        assert result.status is OrderStatus.DELAYED and result.filled_qty == 0
        fills: list[Fill] = []
        with trio.fail_after(5):
            while not any(f.status is FillStatus.CONFIRMED for f in fills):
                event = await recv.receive()
                if isinstance(event, Fill):
                    fills.append(event)
        assert {f.venue_order_id for f in fills} == {prepared.venue_order_id}
        assert fills[0].status is FillStatus.PROVISIONAL and fills[0].client_id == "c1"
        assert (await adapter.get_order(prepared.venue_order_id)).status is OrderStatus.FILLED
    await _with_venue(exchange, body)


async def test_ghost_fill_is_reported_failed(exchange: Exchange) -> None:
    exchange.faults.ghost_next_trades = 1

    async def body(adapter: PolymarketAdapter, urls, nursery) -> None:
        send, recv = trio.open_memory_channel[Fill | OrderResult](64)
        await nursery.start(functools.partial(
            serve_polymarket_user_feed, adapter.rest.creds, adapter.signer.funder, send,
            connect=_ws(urls.user_ws)))
        result = await adapter.submit(adapter.prepare(_buy("10", "0.55", TimeInForce.IOC)))
        assert result.status is OrderStatus.FILLED and result.filled_qty == Q("10")
        [trade_id] = result.trade_ids
        statuses = []
        with trio.fail_after(5):
            while FillStatus.FAILED not in statuses:
                event = await recv.receive()
                if isinstance(event, Fill) and event.trade_id == trade_id:
                    statuses.append(event.status)
        assert statuses[0] is FillStatus.PROVISIONAL and statuses[-1] is FillStatus.FAILED
        assert (await _wait_trade_status(adapter, trade_id, FillStatus.FAILED)).qty == Q("10")
        assert await adapter.positions() == []
    await _with_venue(exchange, body)


async def test_pause_signal_and_unknown_outcome_resolved_by_query(exchange: Exchange) -> None:
    async def body(adapter: PolymarketAdapter, urls, nursery) -> None:
        exchange.faults.set_trading_mode(TradingMode.CANCEL_ONLY)
        with pytest.raises(TradingPaused) as info:
            await adapter.submit(adapter.prepare(_buy("10", "0.45", TimeInForce.GTC)))
        assert info.value.kind is PauseKind.CANCEL_ONLY
        assert not (await adapter.status()).trading_active
        exchange.faults.set_trading_mode(TradingMode.NORMAL)
        exchange.faults.hang_next_order_responses = 1
        adapter.submit_deadline_s = 0.5
        hung = adapter.prepare(_buy("10", "0.45", TimeInForce.GTC, "c9"))
        with pytest.raises(OutcomeUnknown):
            await adapter.submit(hung)
        resolved = await adapter.get_order(hung.venue_order_id)
        assert resolved is not None and resolved.status is OrderStatus.RESTING
        assert resolved.client_id == "c9"
    await _with_venue(exchange, body)


def _ws(url: str):
    from arb.venues.polymarket.ws import default_connect

    return lambda _ignored: default_connect(url)


async def test_market_feed_on_loopback_follows_the_book_and_survives_a_freeze(
        exchange: Exchange) -> None:
    class Listener:
        def __init__(self) -> None:
            self.states: list[FeedState] = []
            self.changes = 0

        def book_changed(self, venue, key) -> None:
            self.changes += 1

        def feed_health(self, health) -> None:
            self.states.append(health.state)

    listener = Listener()
    config = PolyFeedConfig(probe_after=0.3, max_silence=0.6, ping_interval=0.2)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_polymarket_sim, exchange)
        with trio.fail_after(5):
            feed = await nursery.start(serve_polymarket_feed, [LAKERS, GRIZZLIES], listener,
                                       _ws(urls.market_ws), config)
        lakers = feed.books[LAKERS]
        assert lakers.best_ask() == (P("0.55"), Q("20"))
        assert feed.books[GRIZZLIES].best_bid() == (P("0.45"), Q("20"))  # 1 - 0.55 mirrored
        exchange.place_house_order(LAKERS, Side.BUY, P("0.52"), Q("7"))
        await wait_until(lambda: lakers.best_bid() == (P("0.52"), Q("7")), step=0.01, limit=5)
        assert lakers.valid and feed.statistics().mismatches == 0
        exchange.faults.market_ws_frozen = True
        await wait_until(lambda: not lakers.valid, step=0.01, limit=5)
        assert FeedState.STALE in listener.states
        exchange.faults.market_ws_frozen = False
        await wait_until(lambda: lakers.valid and feed.books[GRIZZLIES].valid, step=0.01,
                         limit=10)
        assert lakers.best_bid() == (P("0.52"), Q("7"))
        assert feed.statistics().stale >= 1 and feed.statistics().epoch >= 2
        nursery.cancel_scope.cancel()


async def test_neg_risk_market_signs_against_the_neg_risk_exchange(exchange: Exchange) -> None:
    async def body(adapter: PolymarketAdapter, urls, nursery) -> None:
        info = await adapter.load_market(EPL_CID)
        assert info.neg_risk and info.tick == P("0.001")
        assert await adapter.rest.neg_risk(ARS_YES) is True
        books = await adapter.rest.books([ARS_YES, ARS_NO])
        assert [b.token_id for b in books] == [ARS_YES, ARS_NO]
        order = adapter.prepare(OrderRequest(
            "n1", Instrument.polymarket(EPL_CID, ARS_YES), Side.BUY, P("0.4215"), Q("12"),
            TimeInForce.GTC))
        assert order.price == P("0.421")
        result = await adapter.submit(order)
        assert result.status is OrderStatus.RESTING
        assert (await adapter.get_order(order.venue_order_id)).status is OrderStatus.RESTING
        # The same order signed for the ordinary exchange is refused by the venue.
        adapter.register_token(attrs.evolve(adapter.token(ARS_YES), neg_risk=False))
        wrong = adapter.prepare(OrderRequest(
            "n2", Instrument.polymarket(EPL_CID, ARS_YES), Side.BUY, P("0.421"), Q("12"),
            TimeInForce.GTC))
        with pytest.raises(Rejected, match="invalid signature"):
            await adapter.submit(wrong)
    await _with_venue(exchange, body)
