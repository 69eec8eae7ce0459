"""Conformance with Kalshi's official Python SDK (``kalshi_python_sync`` 3.2.0), unchanged.

The SDK authenticates (RSA-PSS over ts + METHOD + /trade-api/v2 path) and reads the exchange
status, balance, series and events into its typed models. Its ``Market`` and
``GetMarketOrderbookResponse`` models predate Kalshi's 2026 fixed-point migration: they require
legacy fields the venue no longer sends (``yes_bid``, ``volume``, ``tick_size``,
``response_price_units``; ``orderbook`` instead of ``orderbook_fp``), so the typed market and
order-book calls cannot work against any server that follows the current OpenAPI (3.28). The
tests show that failure explicitly, check that the same bytes satisfy the current spec, and read
markets and the order book through the SDK's raw-response variants (same auth, same request).
The same staleness affects its Order, Fill and MarketPosition models, and the SDK has no V2
order entry at all (only the retired legacy ``POST /portfolio/orders``).
"""
from __future__ import annotations

import json

import kalshi_python_sync as sdk
import pydantic
import pytest
import trio

from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.core import NewOrder
from arb.sim.kalshi.sample import GAME_EVENT, SAC


@pytest.fixture
def client_factory(kalshi_server, creds):
    def make(key_id: str | None = None):
        config = sdk.Configuration(host=kalshi_server.rest)
        config.api_key_id = key_id or creds.key_id
        config.private_key_pem = creds.private_key_pem
        return sdk.KalshiClient(config)
    return make


@pytest.fixture
def book(wall_exchange):
    mm = wall_exchange.register_account(cash=parse_money("1000"))
    wall_exchange.place_order(mm, NewOrder(SAC, "bid", parse_price("0.42"), parse_qty("10")))
    wall_exchange.place_order(mm, NewOrder(SAC, "ask", parse_price("0.44"), parse_qty("17")))


async def in_thread(fn):
    return await trio.to_thread.run_sync(fn)


async def raw_json(fn) -> tuple[int, object]:
    """Call an SDK ``*_without_preload_content`` method and read the body, all off the Trio
    thread (the server runs on it)."""
    def call() -> tuple[int, bytes]:
        response = fn()
        return response.status, response.data
    status, data = await in_thread(call)
    return status, json.loads(data)


async def test_sdk_authenticates_and_reads_typed_models(client_factory):
    client = client_factory()
    status = await in_thread(client.get_exchange_status)
    assert status.trading_active is True
    balance = await in_thread(client.get_balance)
    assert balance.balance == 50_000  # cents: the account holds $500
    series = await in_thread(lambda: client.get_series(series_ticker="KXNBAGAME"))
    assert series.series.fee_type == "quadratic_with_maker_fees"
    events = await in_thread(lambda: client.get_events(series_ticker="KXNBAGAME"))
    assert [e.title for e in events.events] == ["Houston at Sacramento"]


async def test_sdk_with_unknown_key_gets_401(client_factory):
    client = client_factory(key_id="not-a-key")
    with pytest.raises(sdk.exceptions.UnauthorizedException):
        await in_thread(client.get_balance)


async def test_sdk_reads_markets_and_orderbook_raw(client_factory, book):
    client = client_factory()
    status, body = await raw_json(lambda: client.get_market_orderbook_without_preload_content(
        ticker=SAC))
    assert status == 200
    assert body == {"orderbook_fp": {"yes_dollars": [["0.4200", "10.00"]],
                                                     "no_dollars": [["0.5600", "17.00"]]}}
    _, body = await raw_json(lambda: client.get_markets_without_preload_content(
        event_ticker=GAME_EVENT))
    markets = body["markets"]
    assert [m["yes_ask_dollars"] for m in markets] == ["0.4400", "1.0000"]


async def test_sdk_typed_market_models_are_stale_not_the_server(client_factory, book,
                                                                openapi_validate):
    client = client_factory()
    with pytest.raises(pydantic.ValidationError) as err:
        await in_thread(lambda: client.get_market(ticker=SAC))
    missing = {e["loc"][0] for e in err.value.errors() if e["type"] in ("missing", "string_type",
                                                                        "int_type", "float_type")}
    assert {"yes_bid", "tick_size", "response_price_units"} <= missing
    _, body = await raw_json(lambda: client.get_market_without_preload_content(ticker=SAC))
    openapi_validate("GetMarketResponse", body)

    with pytest.raises(pydantic.ValidationError, match="orderbook"):
        await in_thread(lambda: client.get_market_orderbook(ticker=SAC))
    _, body = await raw_json(lambda: client.get_market_orderbook_without_preload_content(
        ticker=SAC))
    openapi_validate("GetMarketOrderbookResponse", body)


async def test_sdk_portfolio_models_are_stale_and_legacy_order_entry_is_retired(
        client_factory, wall_exchange, creds, book):
    from arb.domain import TimeInForce

    wall_exchange.place_order(creds.user_id, NewOrder(SAC, "bid", parse_price("0.44"),
                                                      parse_qty("2"), TimeInForce.IOC))
    client = client_factory()
    # Integer fields removed from the venue in March 2026 are still required by the SDK models.
    for call, field in ((client.get_orders, "yes_price"), (client.get_fills, "count"),
                        (client.get_positions, "position")):
        with pytest.raises(pydantic.ValidationError) as err:
            await in_thread(call)
        assert field in {e["loc"][0] for e in err.value.errors()}
    status, body = await raw_json(client.get_fills_without_preload_content)
    assert status == 200 and body["fills"][0]["count_fp"] == "2.00"
    # The SDK only knows the legacy order endpoint, which the venue retired in June 2026.
    with pytest.raises(sdk.exceptions.BadRequestException, match="switch to the V2"):
        await in_thread(lambda: client.create_order(
            ticker=SAC, side="yes", action="buy", count=1, yes_price=30, client_order_id="x"))
