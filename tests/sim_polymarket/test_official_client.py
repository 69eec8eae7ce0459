"""Conformance: the official py-clob-client-v2, unchanged, against the simulator on loopback.

The client is synchronous (httpx), so each step runs in a worker thread while the simulator
serves on a real port. The simulator runs on the wall clock because the client signs with
wall-clock timestamps. The client's own API takes floats for prices and sizes; those floats stay
inside the official client and never reach the simulator's arithmetic.
"""
from __future__ import annotations

from functools import partial

import pytest
import trio
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderPayload,
    PartialCreateOrderOptions,
    TradeParams,
)
from py_clob_client_v2.clob_types import (
    OrderType as ClientOrderType,
)
from py_clob_client_v2.exceptions import PolyApiException

from arb.domain import Side
from arb.money import Qty, parse_price, parse_qty
from arb.sim.polymarket.core import Exchange, ExchangeConfig
from arb.sim.polymarket.model import COLLATERAL
from arb.sim.polymarket.rest import wall_clock_ms
from arb.sim.polymarket.runner import open_funded_account, serve_polymarket_sim

from .conftest import ALICE_KEY, LAKERS, NBA_CID, epl_event, nba_event

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def live_exchange() -> Exchange:
    ex = Exchange(config=ExchangeConfig(mined_after_ms=30, confirmed_after_ms=80))
    ex.advance(wall_clock_ms())
    ex.add_event(nba_event())
    ex.add_event(epl_event())
    for price, size in (("0.55", "20"), ("0.56", "50")):
        ex.place_house_order(LAKERS, Side.SELL, parse_price(price), parse_qty(size))
    ex.place_house_order(LAKERS, Side.BUY, parse_price("0.50"), parse_qty("30"))
    return ex


async def test_official_client_full_round_trip(live_exchange: Exchange) -> None:
    ex = live_exchange
    account = open_funded_account(ex, ALICE_KEY, collateral=100_000_000)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_polymarket_sim, ex)
        client = ClobClient(urls.clob, chain_id=137, key=ALICE_KEY)

        async def call(fn, *args, **kwargs):
            return await trio.to_thread.run_sync(partial(fn, *args, **kwargs))

        assert await call(client.get_ok) == "OK"
        assert await call(client.get_version) == 2
        creds = await call(client.create_or_derive_api_key)
        again = await call(client.create_or_derive_api_key)
        assert again == creds, "second create must fall back to derive and return the same key"
        client.set_api_creds(creds)
        assert await call(client.get_api_keys) == {"apiKeys": [creds.api_key]}

        book = await call(client.get_order_book, LAKERS)
        assert book["market"] == NBA_CID
        assert [a["price"] for a in book["asks"]] == ["0.56", "0.55"]
        assert book["hash"] == await call(client.get_order_book_hash, dict(book))
        assert await call(client.get_tick_size, LAKERS) == "0.01"
        assert await call(client.get_neg_risk, LAKERS) is False

        # A market BUY for $11 walks the book (0.55 covers it) and fills as FOK.
        result = await call(client.create_and_post_market_order,
                            MarketOrderArgsV2(token_id=LAKERS, amount=11, side="BUY"),
                            order_type=ClientOrderType.FOK)
        assert result["success"] is True and result["status"] == "matched"
        assert result["makingAmount"] == "11" and result["takingAmount"] == "20"
        [trade_id] = result["tradeIDs"]
        assert result["transactionsHashes"], "the client resolves hashes once trades are MINED"

        # A resting limit BUY, listed, then cancelled.
        resting = await call(client.create_and_post_order,
                             OrderArgsV2(token_id=LAKERS, price=0.45, size=10, side="BUY"))
        assert resting["status"] == "live"
        opened = await call(client.get_open_orders, OpenOrderParams(market=NBA_CID))
        assert [o["id"] for o in opened] == [resting["orderID"]]
        assert opened[0]["price"] == "0.45" and opened[0]["original_size"] == "10"
        cancel = await call(client.cancel_order, OrderPayload(orderID=resting["orderID"]))
        assert cancel == {"canceled": [resting["orderID"]], "not_canceled": {}}
        assert await call(client.get_open_orders) == []

        trades = await call(client.get_trades, TradeParams(market=NBA_CID))
        assert [t["id"] for t in trades] == [trade_id]
        assert trades[0]["trader_side"] == "TAKER" and trades[0]["size"] == "20"
        assert trades[0]["status"] in ("MINED", "CONFIRMED")

        balance = await call(client.get_balance_allowance,
                             BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
        fee = 247_500  # 20 shares * 0.05 * 0.55 * 0.45 = $0.2475, taken in pUSD
        assert int(balance["balance"]) == 100_000_000 - 11_000_000 - fee
        assert ex.available(account.address, COLLATERAL) == int(balance["balance"])
        assert ex.available(account.address, LAKERS) == Qty(20_000_000)
        heartbeat = await call(client.post_heartbeat)
        assert heartbeat["heartbeat_id"]
        nursery.cancel_scope.cancel()


async def test_official_client_fak_limit_and_v1_order(live_exchange: Exchange) -> None:
    ex = live_exchange
    open_funded_account(ex, ALICE_KEY, collateral=100_000_000)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_polymarket_sim, ex)
        client = ClobClient(urls.clob, chain_id=137, key=ALICE_KEY)

        async def call(fn, *args, **kwargs):
            return await trio.to_thread.run_sync(partial(fn, *args, **kwargs))

        client.set_api_creds(await call(client.create_or_derive_api_key))
        # FAK for 30 at 0.55 takes the 20 available at that price and kills the rest.
        fak = await call(client.create_and_post_order,
                         OrderArgsV2(token_id=LAKERS, price=0.55, size=30, side="BUY"),
                         order_type=ClientOrderType.FAK)
        assert fak["status"] == "matched" and fak["takingAmount"] == "20"
        assert await call(client.get_open_orders) == []
        # A V1-signed order gets the venue's version error.
        with pytest.raises(PolyApiException) as info:
            await call(client.create_and_post_order,
                       OrderArgsV2(token_id=LAKERS, price=0.45, size=10, side="BUY"),
                       PartialCreateOrderOptions(version=1))
        assert info.value.status_code == 400
        assert info.value.error_msg == {
            "error": "invalid order version, please use the latest clob-client"}
        # Cancel-all through the client.
        live = await call(client.create_and_post_order,
                          OrderArgsV2(token_id=LAKERS, price=0.40, size=5, side="BUY"))
        assert (await call(client.cancel_all))["canceled"] == [live["orderID"]]
        nursery.cancel_scope.cancel()


async def test_official_market_buy_on_a_fine_tick_is_rejected_like_the_venue() -> None:
    """py-clob-client-v2 issue #99: on a 0.001 tick the builder gives the share amount 5
    decimals, but the venue accepts at most 4 for market orders. A faithful server must refuse
    it; this is a client bug, not a simulator gap (the bot builds its own amounts)."""
    ex = Exchange(config=ExchangeConfig(mined_after_ms=30, confirmed_after_ms=80))
    ex.advance(wall_clock_ms())
    ex.add_event(nba_event(tick=1_000))
    ex.place_house_order(LAKERS, Side.SELL, parse_price("0.523"), parse_qty("100"))
    open_funded_account(ex, ALICE_KEY, collateral=100_000_000)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_polymarket_sim, ex)
        client = ClobClient(urls.clob, chain_id=137, key=ALICE_KEY)
        creds = await trio.to_thread.run_sync(client.create_or_derive_api_key)
        client.set_api_creds(creds)
        with pytest.raises(PolyApiException) as info:
            await trio.to_thread.run_sync(partial(
                client.create_and_post_market_order,
                MarketOrderArgsV2(token_id=LAKERS, amount=10, side="BUY"),
                order_type=ClientOrderType.FOK))
        assert info.value.status_code == 400
        assert info.value.error_msg == {"error": (
            "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 "
            "decimals, taker amount a max of 4 decimals")}
        nursery.cancel_scope.cancel()
