"""The real Kalshi client against the simulated exchange on loopback (HTTP + websocket).

The simulator checks RSA-PSS signatures with the account's public key, meters token buckets, and
speaks the V2 wire format; these tests drive it only through our adapter and feed.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

import attrs
import pytest
import trio

from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.auth import create_api_account
from arb.sim.kalshi.core import KalshiExchange, NewOrder
from arb.sim.kalshi.faults import faults_of
from arb.sim.kalshi.runner import KalshiSimUrls, serve_kalshi_sim
from arb.sim.kalshi.sample import HOU, SAC, TOTAL, sample_exchange
from arb.venues.kalshi.adapter import KalshiAdapter, open_kalshi_adapter
from arb.venues.kalshi.auth import KalshiSigner
from arb.venues.kalshi.feed import FeedConfig, KalshiFeed, kalshi_ws_connector, serve_kalshi_feed
from arb.venues.protocol import (
    AuthError,
    FeedState,
    Fill,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OutcomeUnknown,
)

P = parse_price
Q = parse_qty
TIMEOUT = 10.0


class Listener:
    """Records feed callbacks and lets a test wait for a condition they make true."""

    def __init__(self) -> None:
        self.health: list = []
        self._changed = trio.Event()

    def book_changed(self, venue: Venue, key: str) -> None:
        self._poke()

    def feed_health(self, health) -> None:
        self.health.append(health)
        self._poke()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        with trio.fail_after(TIMEOUT):
            while not condition():
                await self._changed.wait()


@attrs.define
class Sim:
    exchange: KalshiExchange
    urls: KalshiSimUrls
    signer: KalshiSigner
    house: str
    user: str

    def house_order(self, ticker: str, book_side: str, price: str, count: str) -> None:
        self.exchange.place_order(self.house, NewOrder(ticker, book_side, P(price), Q(count)))


@pytest.fixture
async def sim(nursery) -> Sim:
    exchange = sample_exchange()
    urls = await nursery.start(partial(serve_kalshi_sim, exchange))
    creds = create_api_account(exchange, cash=parse_money("500"))
    house = exchange.register_account(cash=parse_money("100000"))
    sim = Sim(exchange, urls, KalshiSigner(creds.key_id, creds.private_key()), house,
              creds.user_id)
    sim.house_order(SAC, "ask", "0.56", "10")   # YES offered at 0.56 (a NO bid at 0.44)
    sim.house_order(SAC, "bid", "0.40", "10")   # YES bid at 0.40
    sim.house_order(HOU, "bid", "0.42", "7")
    return sim


@pytest.fixture
async def adapter(sim) -> KalshiAdapter:
    async with open_kalshi_adapter(sim.urls.rest, sim.signer, request_timeout=2.0) as adapter:
        await adapter.load_market_rules([SAC, HOU, TOTAL])
        yield adapter


async def _start_feed(nursery, sim: Sim, adapter: KalshiAdapter, **kwargs):
    listener = Listener()
    send, receive = trio.open_memory_channel[Fill | OrderResult](100)
    feed: KalshiFeed = await nursery.start(partial(
        serve_kalshi_feed, kalshi_ws_connector(sim.urls.ws, sim.signer), [SAC, HOU], listener,
        user_events=send, directory=adapter.directory,
        config=FeedConfig(backoff_base=0.05, **kwargs)))
    return feed, listener, receive


def _ioc(cid: str, outcome: Outcome, price: str, qty: str,
         tif: TimeInForce = TimeInForce.IOC, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(cid, Instrument.kalshi(SAC, outcome), side, P(price), Q(qty), tif)


async def test_status_balance_and_rules(sim, adapter):
    status = await adapter.status()
    assert status.reachable and status.trading_active
    assert (await adapter.balance()).available == parse_money("500")
    rules = adapter.market_rules(TOTAL)
    assert rules.fractional and rules.on_grid(P("0.555")) and rules.exchange_index == 0
    book = await adapter.rest.orderbook(SAC)
    assert book.yes[-1] == (P("0.40"), Q("10")) and book.no[-1] == (P("0.44"), Q("10"))


async def test_bad_key_is_an_auth_error(sim):
    from cryptography.hazmat.primitives.asymmetric import rsa
    stranger = KalshiSigner(sim.signer.key_id,
                            rsa.generate_private_key(public_exponent=65537, key_size=2048))
    async with open_kalshi_adapter(sim.urls.rest, stranger) as adapter:
        with pytest.raises(AuthError, match="401"):
            await adapter.balance()


async def test_orders_fills_positions_and_feed(sim, adapter, nursery):
    feed, listener, events = await _start_feed(nursery, sim, adapter)
    book = feed.book(SAC)
    assert book.best_ask(Outcome.YES) == (P("0.56"), Q("10"))
    assert book.best_bid(Outcome.YES) == (P("0.40"), Q("10"))
    assert feed.book(HOU).best_bid(Outcome.YES) == (P("0.42"), Q("7"))

    # IOC buy YES: fills 5 at the resting 0.56.
    ioc = await adapter.submit(adapter.prepare(_ioc("ioc-1", Outcome.YES, "0.60", "5")))
    assert ioc.status is OrderStatus.FILLED and ioc.filled_qty == Q("5")
    assert ioc.avg_price == P("0.56") and ioc.fee > 0
    await listener.wait_for(lambda: book.best_ask(Outcome.YES) == (P("0.56"), Q("5")))

    fill = await events.receive()
    while not isinstance(fill, Fill):
        fill = await events.receive()
    assert fill.venue_order_id == ioc.venue_order_id and fill.client_id == "ioc-1"
    assert fill.qty == Q("5") and fill.price == P("0.56") and fill.is_taker

    # FOK for more than is offered: killed, nothing filled, book untouched.
    fok = await adapter.submit(adapter.prepare(_ioc("fok-1", Outcome.YES, "0.60", "10",
                                                    TimeInForce.FOK)))
    assert fok.status is OrderStatus.CANCELLED and fok.filled_qty == 0
    assert book.best_ask(Outcome.YES) == (P("0.56"), Q("5"))

    # Buy NO resting (GTC): V2 ask at 0.70 for a NO bid at 0.30, then cancel it.
    resting = await adapter.submit(adapter.prepare(_ioc("gtc-1", Outcome.NO, "0.30", "3",
                                                        TimeInForce.GTC)))
    assert resting.status is OrderStatus.RESTING
    await listener.wait_for(lambda: book.best_bid(Outcome.NO) == (P("0.44"), Q("5"))
                            and (P("0.30"), Q("3")) in book.bids(Outcome.NO))
    open_orders = await adapter.open_orders()
    assert [(o.client_id, o.instrument.token, o.price, o.qty) for o in open_orders] == [
        ("gtc-1", "no", P("0.30"), Q("3"))]
    await adapter.cancel(resting.venue_order_id, Instrument.kalshi(SAC, Outcome.NO))
    await adapter.cancel(resting.venue_order_id, Instrument.kalshi(SAC, Outcome.NO))  # idempotent
    after = await adapter.get_order(resting.venue_order_id)
    assert after is not None and after.status is OrderStatus.CANCELLED
    await listener.wait_for(lambda: (P("0.30"), Q("3")) not in book.bids(Outcome.NO))

    page = await adapter.fills()
    assert [(f.trade_id, f.qty, f.price) for f in page.fills] == [(fill.trade_id, Q("5"),
                                                                   P("0.56"))]
    positions = await adapter.positions()
    assert [(p.instrument, p.qty) for p in positions] == [(Instrument.kalshi(SAC, Outcome.YES),
                                                           Q("5"))]
    balance = await adapter.balance()
    assert balance.available == parse_money("500") - parse_money("2.80") - ioc.fee

    # Re-sending the same client id is a 409: resolved to the existing order, not a reject.
    again = await adapter.submit(adapter.prepare(_ioc("ioc-1", Outcome.YES, "0.60", "5")))
    assert again.venue_order_id == ioc.venue_order_id and again.status is OrderStatus.FILLED
    assert (await adapter.positions())[0].qty == Q("5")

    assert await adapter.cancel_all() == 0
    assert feed.statistics().gaps == 0 and feed.statistics().malformed == 0


async def test_unknown_outcomes_resolve_by_query(sim, adapter):
    faults = faults_of(sim.exchange)
    faults.fail_next_rest(1, 503)
    with pytest.raises(OutcomeUnknown, match="HTTP 503"):
        await adapter.submit(adapter.prepare(_ioc("u-1", Outcome.YES, "0.60", "1")))
    assert await adapter.get_order(client_id="u-1") is None  # the venue never saw it

    faults.hang_next_orders(1)  # placed and filled, but the answer never comes
    with pytest.raises(OutcomeUnknown, match="no answer within 2 s"):
        await adapter.submit(adapter.prepare(_ioc("u-2", Outcome.YES, "0.60", "2")))
    found = await adapter.get_order(client_id="u-2")
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_qty == Q("2")

    faults.fail_next_rest(2, 429)
    result = await adapter.submit(adapter.prepare(_ioc("u-3", Outcome.YES, "0.60", "1")))
    assert result.status is OrderStatus.FILLED
    assert adapter.rest.limiter.statistics().throttled == 2


async def test_feed_recovers_from_gap_terminal_error_and_drop(sim, adapter, nursery):
    feed, listener, _ = await _start_feed(nursery, sim, adapter)
    faults = faults_of(sim.exchange)
    book = feed.book(SAC)

    faults.skip_next_seq(3)
    sim.house_order(SAC, "bid", "0.41", "2")
    await listener.wait_for(lambda: feed.statistics().gaps == 1 and book.valid
                            and book.best_bid(Outcome.YES) == (P("0.41"), Q("2")))

    faults.repeat_next_seq(1)
    sim.house_order(SAC, "bid", "0.41", "1")
    sim.house_order(SAC, "bid", "0.39", "1")
    await listener.wait_for(lambda: book.bids(Outcome.YES, 3) == [
        (P("0.41"), Q("3")), (P("0.40"), Q("10")), (P("0.39"), Q("1"))])
    assert feed.statistics().duplicates == 1

    assert faults.send_terminal_error(code=25) == 1
    await listener.wait_for(lambda: feed.statistics().resubscribes == 1 and book.valid
                            and feed.health.state is FeedState.LIVE)

    assert faults.drop_websockets() == 1
    await listener.wait_for(lambda: feed.statistics().epoch == 2 and book.valid
                            and feed.book(HOU).valid)
    sim.house_order(HOU, "bid", "0.43", "1")
    await listener.wait_for(lambda: feed.book(HOU).best_bid(Outcome.YES) == (P("0.43"), Q("1")))
    rest = await adapter.rest.orderbook(SAC)
    assert book.bids(Outcome.YES) == list(reversed(rest.yes))
    assert book.bids(Outcome.NO) == list(reversed(rest.no))


async def test_feed_frozen_is_replaced(sim, adapter, nursery):
    feed, listener, _ = await _start_feed(nursery, sim, adapter, probe_after=0.2,
                                          stale_after=0.6)
    faults = faults_of(sim.exchange)
    faults.freeze_feeds(True)
    await listener.wait_for(lambda: feed.statistics().stale >= 1)
    assert not feed.book(SAC).valid
    faults.freeze_feeds(False)
    await listener.wait_for(lambda: feed.book(SAC).valid and feed.statistics().epoch >= 2)
    assert FeedState.STALE in [h.state for h in listener.health]



async def test_trading_pause_is_a_venue_paused_refusal(sim, adapter):
    """Reliability row 9: a Kalshi trading pause refuses entries with VenuePaused; resumes."""
    from arb.sim.kalshi.faults import faults_of
    from arb.venues.protocol import VenuePaused

    faults_of(sim.exchange).pause_trading(True)
    assert not (await adapter.status()).trading_active
    with pytest.raises(VenuePaused):
        await adapter.submit(adapter.prepare(_ioc("pause-1", Outcome.YES, "0.56", "1")))
    faults_of(sim.exchange).pause_trading(False)
    result = await adapter.submit(adapter.prepare(_ioc("pause-2", Outcome.YES, "0.56", "1")))
    assert result.filled_qty == Q("1")


async def test_a_quiet_book_is_vouched_for_by_its_gap_free_connection(sim, adapter, nursery):
    """A market with no changes stays current while the connection delivers gap-free data;
    it is not 'stale' just because nobody traded it (its age is the connection's)."""
    feed, listener, _ = await _start_feed(nursery, sim, adapter)
    quiet = feed.book(HOU)
    own_update = quiet.received_at
    await trio.sleep(0.3)
    sim.house_order(SAC, "bid", "0.39", "3")          # a delta on the other market only
    await listener.wait_for(lambda: feed.book(SAC).best_bid(Outcome.YES) == (P("0.40"), Q("10"))
                            and quiet.current_as_of() > own_update)
    assert quiet.received_at == own_update
    assert quiet.current_as_of() - own_update >= 0.3
