"""Reliability row 5: the order POST fails after the venue acted on it.

Two real faults on loopback: a 5xx answered after the simulated exchange placed (and filled) the
order, and a TCP connection reset by a proxy between client and simulator after the request went
through (the response is swallowed). Each time: ``OutcomeUnknown`` (never a reject, never
"nothing happened"), the order found by its client id / order hash, resending the same prepared
order creates no second order, and the venue's positions count the fill once.
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
from arb.sim.kalshi.faults import faults_of
from arb.sim.kalshi.runner import serve_kalshi_sim
from arb.sim.kalshi.sample import SAC, sample_exchange
from arb.sim.listing import PolyEvent, PolyMarket, PolyToken
from arb.sim.polymarket.core import Exchange, ExchangeConfig
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import open_funded_account, serve_polymarket_sim
from arb.venues.kalshi.adapter import open_kalshi_adapter
from arb.venues.kalshi.auth import KalshiSigner
from arb.venues.polymarket.adapter import open_polymarket_adapter
from arb.venues.polymarket.signing import PolymarketSigner
from arb.venues.protocol import OrderRequest, OrderStatus, OutcomeUnknown

pytestmark = pytest.mark.timeout(30)
P, Q = parse_price, parse_qty
PM_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
PM_CID = "0x" + "05" * 32
PM_YES, PM_NO = "3" * 77, "4" * 77


class ResetProxy:
    """A loopback TCP proxy that can swallow the next response(s) and drop the connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.reset_next = 0
        self.resets = 0

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(trio.serve_listeners, self._handle, listeners))
            task_status.started(port)

    async def _handle(self, client: trio.SocketStream) -> None:
        upstream = await trio.open_tcp_stream("127.0.0.1", self.upstream_port)
        async with client, upstream, trio.open_nursery() as pipes:
            async def forward(source, sink, responses: bool) -> None:
                try:
                    while data := await source.receive_some(65536):
                        if responses and self.reset_next:
                            self.reset_next -= 1
                            self.resets += 1
                            pipes.cancel_scope.cancel()
                            return
                        await sink.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                pipes.cancel_scope.cancel()

            pipes.start_soon(forward, client, upstream, False)
            pipes.start_soon(forward, upstream, client, True)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


async def _kalshi(nursery):
    exchange = sample_exchange()
    urls = await nursery.start(partial(serve_kalshi_sim, exchange))
    creds = create_api_account(exchange, cash=parse_money("500"))
    house = exchange.register_account(cash=parse_money("100000"))
    exchange.place_order(house, NewOrder(SAC, "ask", P("0.56"), Q("10")))
    signer = KalshiSigner(creds.key_id, creds.private_key())
    return exchange, urls, signer


def _kalshi_buy(cid: str) -> OrderRequest:
    return OrderRequest(cid, Instrument.kalshi(SAC, Outcome.YES), Side.BUY, P("0.60"), Q("2"),
                        TimeInForce.IOC)


async def _kalshi_resolves_once(adapter, prepared) -> None:
    found = await adapter.get_order(client_id=prepared.request.client_id)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_qty == Q("2")
    again = await adapter.submit(prepared)  # same client id: the venue refuses a second order
    assert again.venue_order_id == found.venue_order_id and again.filled_qty == Q("2")
    positions = await adapter.positions()
    assert [(p.instrument, p.qty) for p in positions] == [
        (Instrument.kalshi(SAC, Outcome.YES), Q("2"))]
    fills = (await adapter.fills()).fills
    assert [(f.venue_order_id, f.qty) for f in fills] == [(found.venue_order_id, Q("2"))]


async def test_kalshi_5xx_after_the_order_was_placed(nursery):
    exchange, urls, signer = await _kalshi(nursery)
    async with open_kalshi_adapter(urls.rest, signer, request_timeout=2.0) as adapter:
        await adapter.load_market_rules([SAC])
        faults_of(exchange).fail_next_orders_after_accept(1, 502)
        prepared = adapter.prepare(_kalshi_buy("r5-k-502"))
        with pytest.raises(OutcomeUnknown, match="502"):
            await adapter.submit(prepared)
        await _kalshi_resolves_once(adapter, prepared)


async def test_kalshi_connection_reset_after_the_request_was_sent(nursery):
    _, urls, signer = await _kalshi(nursery)
    proxy = ResetProxy(_port(urls.rest))
    port = await nursery.start(proxy.serve)
    async with open_kalshi_adapter(f"http://127.0.0.1:{port}", signer,
                                   request_timeout=2.0) as adapter:
        await adapter.load_market_rules([SAC])
        prepared = adapter.prepare(_kalshi_buy("r5-k-reset"))
        proxy.reset_next = 1
        with pytest.raises(OutcomeUnknown):
            await adapter.submit(prepared)
        assert proxy.resets == 1
        await _kalshi_resolves_once(adapter, prepared)


def _poly_exchange() -> Exchange:
    start = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    market = PolyMarket(
        condition_id=PM_CID, question_id="0x" + "c3" * 32, slug="nba-reset-2026-01-04",
        question="Home vs. Away", description="Resolves ...",
        tokens=(PolyToken(PM_YES, "Home"), PolyToken(PM_NO, "Away")),
        sports_market_type="moneyline", game_start_time=start)
    exchange = Exchange(config=ExchangeConfig(mined_after_ms=30, confirmed_after_ms=80))
    exchange.advance(wall_clock_ms())
    exchange.add_event(PolyEvent(id="990005", slug="nba-reset-2026-01-04", title="Reset",
                                 tags=("sports", "nba", "games"), start_time=start,
                                 markets=(market,)))
    exchange.place_house_order(PM_YES, Side.SELL, P("0.55"), Q("20"))
    open_funded_account(exchange, PM_KEY, collateral=100_000_000)
    return exchange


async def test_polymarket_connection_reset_after_the_order_was_posted(nursery):
    exchange = _poly_exchange()
    urls = await nursery.start(serve_polymarket_sim, exchange)
    proxy = ResetProxy(_port(urls.clob))
    port = await nursery.start(proxy.serve)
    async with open_polymarket_adapter(PolymarketSigner.from_private_key(PM_KEY),
                                       base_url=f"http://127.0.0.1:{port}") as adapter:
        await adapter.load_market(PM_CID)
        prepared = adapter.prepare(OrderRequest(
            "r5-p-reset", Instrument.polymarket(PM_CID, PM_YES), Side.BUY, P("0.55"), Q("10"),
            TimeInForce.IOC))
        proxy.reset_next = 1
        with pytest.raises(OutcomeUnknown):
            await adapter.submit(prepared)
        assert proxy.resets == 1
        found = await adapter.get_order(prepared.venue_order_id)
        assert found is not None and found.filled_qty == Q("10")
        # Resending the same signed order: the venue answers INVALID_ORDER_DUPLICATED. The order
        # exists, so this is its result, never a Rejected (which says it does not exist).
        again = await adapter.submit(prepared)
        assert again.venue_order_id == prepared.venue_order_id
        assert again.filled_qty == Q("10") and again.status is found.status
        for _ in range(100):
            positions = await adapter.positions()
            if positions:
                break
            await trio.sleep(0.01)
        assert [(p.instrument.token, p.qty) for p in positions] == [(PM_YES, Q("10"))]
        assert len(exchange.trades_of(adapter.signer.address)) == 1


async def test_polymarket_batch_resent_after_an_unknown_outcome_reports_the_orders(nursery):
    exchange = _poly_exchange()
    urls = await nursery.start(serve_polymarket_sim, exchange)
    async with open_polymarket_adapter(PolymarketSigner.from_private_key(PM_KEY),
                                       base_url=urls.clob) as adapter:
        await adapter.load_market(PM_CID)
        taker = adapter.prepare(OrderRequest(
            "r5-p-b1", Instrument.polymarket(PM_CID, PM_YES), Side.BUY, P("0.55"), Q("5"),
            TimeInForce.IOC))
        resting = adapter.prepare(OrderRequest(
            "r5-p-b2", Instrument.polymarket(PM_CID, PM_YES), Side.BUY, P("0.40"), Q("5"),
            TimeInForce.GTC))
        first = await adapter.submit_batch([taker, resting])
        again = await adapter.submit_batch([taker, resting])  # as after a lost answer
        assert [r.venue_order_id for r in again] == [taker.venue_order_id,
                                                     resting.venue_order_id]
        assert [(r.status, r.filled_qty) for r in again] == [
            (OrderStatus.FILLED, Q("5")), (OrderStatus.RESTING, 0)]
        assert [(r.status, r.filled_qty) for r in first] == [(r.status, r.filled_qty)
                                                            for r in again]
        assert len(exchange.orders_of(adapter.signer.address)) == 1  # one resting, no copy
        assert len(exchange.trades_of(adapter.signer.address)) == 1
