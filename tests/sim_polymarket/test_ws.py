"""Websocket channels: frames, subscriptions, freeze and drop faults, user events."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
import trio
import trio_websocket

from arb.domain import Side
from arb.money import parse_price, parse_qty
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.runner import serve_polymarket_sim, trio_clock_ms
from arb.sim.polymarket.ws import open_memory_market_ws, open_memory_user_ws

from .conftest import GRIZZLIES, LAKERS, NBA_CID, T0_MS, Trader

P = parse_price
Q = parse_qty


async def recv(ws) -> object:
    with trio.fail_after(1):
        return json.loads(await ws.get_message(), parse_float=Decimal)


async def nothing_within(ws, seconds: float) -> bool:
    with trio.move_on_after(seconds):
        await ws.get_message()
        return False
    return True


async def test_market_snapshot_then_price_changes(exchange: Exchange, alice: Trader,
                                                  autojump_clock) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.55"), Q("20"))
    async with open_memory_market_ws(exchange) as ws:
        await ws.send_message(json.dumps({"assets_ids": [LAKERS, GRIZZLIES], "type": "market"}))
        snapshot = await recv(ws)
        assert isinstance(snapshot, list) and [b["asset_id"] for b in snapshot] == [
            LAKERS, GRIZZLIES]
        assert snapshot[0]["event_type"] == "book"
        assert snapshot[0]["asks"] == [{"price": "0.55", "size": "20"}]
        assert snapshot[1]["bids"] == [{"price": "0.45", "size": "20"}]
        alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10"))
        change = await recv(ws)
        assert change["event_type"] == "price_change" and change["market"] == NBA_CID
        entries = [{k: e[k] for k in ("asset_id", "price", "size", "side", "best_bid",
                                      "best_ask")} for e in change["price_changes"]]
        assert entries == [
            {"asset_id": LAKERS, "price": "0.5", "size": "10", "side": "BUY",
             "best_bid": "0.5", "best_ask": "0.55"},
            {"asset_id": GRIZZLIES, "price": "0.5", "size": "10", "side": "SELL",
             "best_bid": "0.45", "best_ask": "0.5"}]
        order = exchange.orders_of(alice.address)[0].id
        exchange.cancel_orders(alice.address, [order])
        removed = await recv(ws)
        assert [(e["size"], e["best_bid"]) for e in removed["price_changes"]] == [
            ("0", ""), ("0", "0.45")]


async def test_trade_sends_book_and_last_trade_price(exchange: Exchange, alice: Trader,
                                                     autojump_clock) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.55"), Q("20"))
    async with open_memory_market_ws(exchange) as ws:
        await ws.send_message(json.dumps({"assets_ids": [LAKERS], "type": "market"}))
        await recv(ws)
        alice.post(alice.limit(LAKERS, Side.BUY, "0.55", "5"))
        frames = [await recv(ws), await recv(ws)]
        kinds = {f["event_type"]: f for f in frames}
        assert kinds["last_trade_price"]["price"] == "0.55"
        assert kinds["last_trade_price"]["size"] == "5" and kinds["last_trade_price"]["side"] == "BUY"
        assert kinds["book"]["asks"] == [{"price": "0.55", "size": "15"}]
        assert kinds["book"]["last_trade_price"] == "0.55"


async def test_subscribe_unsubscribe_duplicate_and_ping(exchange: Exchange,
                                                        autojump_clock) -> None:
    async with open_memory_market_ws(exchange) as ws:
        await ws.send_message(json.dumps({"assets_ids": [LAKERS], "type": "market"}))
        assert len(await recv(ws)) == 1
        await ws.send_message(json.dumps({"operation": "subscribe", "assets_ids": [LAKERS]}))
        await ws.send_message("PING")
        with trio.fail_after(1):
            assert await ws.get_message() == "PONG", "duplicate subscribe sends no snapshot"
        await ws.send_message(json.dumps({"operation": "unsubscribe", "assets_ids": [LAKERS]}))
        await ws.send_message(json.dumps({"operation": "subscribe", "assets_ids": [LAKERS]}))
        assert [b["asset_id"] for b in await recv(ws)] == [LAKERS]
        exchange.set_tick_size(NBA_CID, P("0.001"))
        tick = await recv(ws)
        assert (tick["event_type"], tick["old_tick_size"], tick["new_tick_size"]) == (
            "tick_size_change", "0.01", "0.001")
        await ws.send_message("{bad json")
        assert "not valid JSON" in (await recv(ws))["error"]


async def test_silent_freeze_keeps_pongs_and_drops_data(exchange: Exchange,
                                                        autojump_clock) -> None:
    async with open_memory_market_ws(exchange) as ws:
        await ws.send_message(json.dumps({"assets_ids": [LAKERS], "type": "market"}))
        await recv(ws)
        exchange.faults.market_ws_frozen = True
        exchange.place_house_order(LAKERS, Side.BUY, P("0.40"), Q("10"))
        await ws.send_message("PING")
        with trio.fail_after(1):
            assert await ws.get_message() == "PONG"
        assert await nothing_within(ws, 60)
        exchange.faults.market_ws_frozen = False
        exchange.place_house_order(LAKERS, Side.BUY, P("0.41"), Q("10"))
        change = await recv(ws)
        assert [e["price"] for e in change["price_changes"]] == ["0.41"]


async def test_drop_sockets_closes_every_session(exchange: Exchange, alice: Trader,
                                                 autojump_clock) -> None:
    async with open_memory_market_ws(exchange) as market, open_memory_user_ws(exchange) as user:
        await market.send_message(json.dumps({"assets_ids": [LAKERS], "type": "market"}))
        await recv(market)
        await user.send_message(json.dumps({"auth": {
            "apiKey": alice.creds.api_key, "secret": alice.creds.secret,
            "passphrase": alice.creds.passphrase}, "type": "user"}))
        await trio.sleep(0.1)
        exchange.faults.drop_sockets()
        for ws in (market, user):
            with pytest.raises(trio_websocket.ConnectionClosed), trio.fail_after(1):
                await ws.get_message()


async def test_user_channel_orders_and_trade_statuses(exchange: Exchange, alice: Trader,
                                                      bob: Trader, autojump_clock) -> None:
    async with open_memory_user_ws(exchange) as ws:
        await ws.send_message(json.dumps({"auth": {
            "apiKey": alice.creds.api_key, "secret": alice.creds.secret,
            "passphrase": alice.creds.passphrase}, "markets": [NBA_CID], "type": "user"}))
        await trio.sleep(0.1)
        bob.post(bob.limit(LAKERS, Side.BUY, "0.30", "10"))  # someone else's: not sent
        exchange.faults.ghost_next_trades = 1
        exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
        alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10"))
        placement, trade, update = await recv(ws), await recv(ws), await recv(ws)
        assert (placement["event_type"], placement["type"], placement["status"]) == (
            "order", "PLACEMENT", "LIVE")
        assert (trade["event_type"], trade["status"], trade["trader_side"]) == (
            "trade", "MATCHED", "TAKER")
        assert trade["owner"] == alice.creds.api_key and trade["size"] == "10"
        assert (update["type"], update["status"], update["size_matched"]) == (
            "UPDATE", "MATCHED", "10")
        exchange.advance(T0_MS + 6_000)
        assert [(await recv(ws))["status"] for _ in range(2)] == ["RETRYING", "FAILED"]


async def test_user_channel_rejects_bad_auth(exchange: Exchange, alice: Trader,
                                             autojump_clock) -> None:
    async with open_memory_user_ws(exchange) as ws:
        await ws.send_message(json.dumps({"auth": {
            "apiKey": alice.creds.api_key, "secret": "wrong",
            "passphrase": alice.creds.passphrase}, "type": "user"}))
        assert "invalid auth" in (await recv(ws))["error"]
        with pytest.raises(trio_websocket.ConnectionClosed), trio.fail_after(1):
            await ws.get_message()


async def test_slow_consumer_is_dropped(exchange: Exchange, autojump_clock) -> None:
    async with open_memory_market_ws(exchange) as ws:
        await ws.send_message(json.dumps({"assets_ids": [LAKERS], "type": "market"}))
        for i in range(2_100):  # never read: the memory pipe and then the outbox fill up
            exchange.place_house_order(LAKERS, Side.BUY, P("0.40"), Q("5"))
            if i % 100 == 0:
                await trio.sleep(0.01)
        with pytest.raises(trio_websocket.ConnectionClosed), trio.fail_after(5):
            while True:
                await ws.get_message()


async def test_real_socket_with_trio_websocket(exchange: Exchange, alice: Trader,
                                               autojump_clock) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.55"), Q("20"))
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(lambda task_status: serve_polymarket_sim(
            exchange, clock_ms=trio_clock_ms(T0_MS), task_status=task_status))
        assert urls.market_ws.startswith("ws://127.0.0.1:") and urls.market_ws.endswith(
            "/ws/market")
        async with trio_websocket.open_websocket_url(urls.market_ws) as ws:
            await ws.send_message(json.dumps({"assets_ids": [LAKERS], "type": "market"}))
            [book] = json.loads(await ws.get_message())
            assert book["asks"] == [{"price": "0.55", "size": "20"}]
            await ws.send_message("PING")
            assert await ws.get_message() == "PONG"
        async with trio_websocket.open_websocket_url(urls.user_ws) as ws:
            await ws.send_message(json.dumps({"auth": {
                "apiKey": alice.creds.api_key, "secret": alice.creds.secret,
                "passphrase": alice.creds.passphrase}, "type": "user"}))
            await trio.sleep(0.05)
            alice.post(alice.limit(LAKERS, Side.BUY, "0.40", "10"))
            assert json.loads(await ws.get_message())["type"] == "PLACEMENT"
        nursery.cancel_scope.cancel()


async def test_drop_on_a_real_socket_closes_with_1011(exchange: Exchange,
                                                      autojump_clock) -> None:
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(lambda task_status: serve_polymarket_sim(
            exchange, clock_ms=trio_clock_ms(T0_MS), task_status=task_status))
        async with trio_websocket.open_websocket_url(urls.market_ws) as ws:
            await ws.send_message(json.dumps({"assets_ids": [LAKERS], "type": "market"}))
            await ws.get_message()
            exchange.faults.drop_sockets()
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason.code == 1011
        nursery.cancel_scope.cancel()


async def test_custom_feature_best_bid_ask(exchange: Exchange, autojump_clock) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.55"), Q("20"))
    async with open_memory_market_ws(exchange) as ws:
        await ws.send_message(json.dumps({"assets_ids": [LAKERS], "type": "market",
                                          "custom_feature_enabled": True}))
        await recv(ws)
        exchange.place_house_order(LAKERS, Side.BUY, P("0.50"), Q("10"))
        assert (await recv(ws))["event_type"] == "price_change"
        best = await recv(ws)
        assert {k: best[k] for k in ("event_type", "best_bid", "best_ask", "spread")} == {
            "event_type": "best_bid_ask", "best_bid": "0.5", "best_ask": "0.55",
            "spread": "0.05"}


async def test_client_leaving_before_auth_ends_the_session_quietly(exchange: Exchange,
                                                                   autojump_clock) -> None:
    async with open_memory_user_ws(exchange) as ws:
        await ws.aclose()
    async with open_memory_market_ws(exchange) as ws:
        await ws.aclose()
    assert exchange.statistics().listeners == 0
