"""The simulated Kalshi websocket: commands, frames (checked against the AsyncAPI spec), faults."""
from __future__ import annotations

import json
from functools import partial
from urllib.parse import urlsplit

import pytest
import trio
import trio_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Ping, Request

from arb.domain import TimeInForce
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi import ws as ws_module
from arb.sim.kalshi.core import NewOrder
from arb.sim.kalshi.faults import faults_of
from arb.sim.kalshi.runner import serve_kalshi_sim
from arb.sim.kalshi.sample import HOU, SAC, TOTAL
from arb.sim.kalshi.ws import open_memory_kalshi_ws

WS_PATH = "/trade-api/ws/v2"


async def recv(conn) -> dict:
    with trio.fail_after(2):
        return json.loads(await conn.get_message())


async def nothing_within(conn, seconds: float = 5) -> bool:
    with trio.move_on_after(seconds):
        await conn.get_message()
        return False
    return True


async def drain(conn) -> list[dict]:
    """Every frame that arrives until the connection is quiet for 0.2 s."""
    frames = []
    while True:
        with trio.move_on_after(0.2):
            frames.append(json.loads(await conn.get_message()))
            continue
        return frames


async def command(conn, **frame) -> None:
    await conn.send_message(json.dumps(frame))


@pytest.fixture
def mm(wall_exchange):
    return wall_exchange.register_account(cash=parse_money("100000"))


def place(exchange, user, side, price, count, ticker=SAC, tif=TimeInForce.GTC, **kw):
    return exchange.place_order(user, NewOrder(ticker, side, parse_price(price), parse_qty(count),
                                               tif, **kw))


@pytest.fixture
async def conn(wall_exchange, creds, signer):
    async with open_memory_kalshi_ws(wall_exchange, signer(creds, "GET", WS_PATH)) as c:
        yield c


async def test_snapshot_then_contiguous_deltas(conn, wall_exchange, mm, asyncapi_validate):
    place(wall_exchange, mm, "bid", "0.42", "10")
    place(wall_exchange, mm, "ask", "0.44", "17")
    await command(conn, id=1, cmd="subscribe",
                  params={"channels": ["orderbook_delta"], "market_tickers": [SAC, HOU]})
    ack = await recv(conn)
    asyncapi_validate("subscribedResponsePayload", ack)
    assert ack == {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}}
    snap_sac, snap_hou = await recv(conn), await recv(conn)
    for frame in (snap_sac, snap_hou):
        asyncapi_validate("orderbookSnapshotPayload", frame)
    assert (snap_sac["seq"], snap_hou["seq"]) == (1, 2)
    assert snap_sac["msg"]["yes_dollars_fp"] == [["0.4200", "10.00"]]
    assert snap_sac["msg"]["no_dollars_fp"] == [["0.5600", "17.00"]]
    # Empty sides are absent keys, not empty lists.
    assert "yes_dollars_fp" not in snap_hou["msg"] and "no_dollars_fp" not in snap_hou["msg"]

    place(wall_exchange, mm, "bid", "0.43", "2")
    taker = wall_exchange.register_account(cash=parse_money("100"))
    place(wall_exchange, taker, "bid", "0.44", "5", tif=TimeInForce.IOC)
    place(wall_exchange, mm, "bid", "0.10", "1", ticker=TOTAL)  # not subscribed
    deltas = [await recv(conn), await recv(conn)]
    for frame in deltas:
        asyncapi_validate("orderbookDeltaPayload", frame)
    assert [f["seq"] for f in deltas] == [3, 4]
    assert [(f["msg"]["side"], f["msg"]["price_dollars"], f["msg"]["delta_fp"]) for f in deltas] \
        == [("yes", "0.4300", "2.00"), ("no", "0.5600", "-5.00")]
    assert all(f["sid"] == 1 and f["msg"]["market_ticker"] == SAC for f in deltas)
    assert "client_order_id" not in deltas[0]["msg"]  # someone else's order
    assert await nothing_within(conn, 0.2)


async def test_use_yes_price_reports_no_side_on_yes_scale(conn, wall_exchange, mm):
    place(wall_exchange, mm, "ask", "0.44", "17")
    place(wall_exchange, mm, "ask", "0.47", "3")
    await command(conn, id=1, cmd="subscribe", params={
        "channels": ["orderbook_delta"], "market_ticker": SAC, "use_yes_price": True})
    await recv(conn)
    snap = await recv(conn)
    assert snap["msg"]["no_dollars_fp"] == [["0.4400", "17.00"], ["0.4700", "3.00"]]
    place(wall_exchange, mm, "ask", "0.45", "1")
    delta = await recv(conn)
    assert (delta["msg"]["side"], delta["msg"]["price_dollars"]) == ("no", "0.4500")


async def test_update_subscription_and_list(conn, wall_exchange, mm, asyncapi_validate):
    await command(conn, id=1, cmd="subscribe",
                  params={"channels": ["orderbook_delta"], "market_tickers": [SAC]})
    await recv(conn), await recv(conn)
    await command(conn, id=2, cmd="update_subscription",
                  params={"sids": [1], "market_tickers": [HOU], "action": "add_markets"})
    ok = await recv(conn)
    asyncapi_validate("okResponsePayload", ok)
    assert ok == {"id": 2, "type": "ok", "sid": 1, "seq": 1,
                  "msg": {"market_tickers": [SAC, HOU]}}
    snap = await recv(conn)
    assert (snap["type"], snap["seq"], snap["msg"]["market_ticker"]) == (
        "orderbook_snapshot", 2, HOU)
    await command(conn, id=3, cmd="update_subscription",
                  params={"sid": 1, "market_tickers": [SAC], "action": "get_snapshot"})
    assert (await recv(conn))["type"] == "ok"
    snap = await recv(conn)
    assert (snap["type"], snap["seq"], snap["msg"]["market_ticker"]) == (
        "orderbook_snapshot", 3, SAC)
    await command(conn, id=4, cmd="update_subscription",
                  params={"sids": [1], "market_tickers": [SAC], "action": "delete_markets"})
    assert (await recv(conn))["msg"] == {"market_tickers": [HOU]}
    place(wall_exchange, mm, "bid", "0.30", "1")  # SAC: no longer subscribed
    place(wall_exchange, mm, "bid", "0.31", "1", ticker=HOU)
    delta = await recv(conn)
    assert (delta["seq"], delta["msg"]["market_ticker"]) == (4, HOU)

    await command(conn, id=5, cmd="subscribe", params={"channels": ["fill", "user_orders"]})
    sids = [(await recv(conn))["msg"]["sid"] for _ in range(2)]
    assert sids == [2, 3]
    await command(conn, id=6, cmd="list_subscriptions")
    listing = await recv(conn)
    asyncapi_validate("listSubscriptionsResponsePayload", listing)
    assert listing["msg"] == [{"channel": "orderbook_delta", "sid": 1},
                              {"channel": "fill", "sid": 2}, {"channel": "user_orders", "sid": 3}]
    await command(conn, id=7, cmd="unsubscribe", params={"sids": [1]})
    gone = await recv(conn)
    asyncapi_validate("unsubscribedResponsePayload", gone)
    assert gone == {"id": 7, "type": "unsubscribed", "sid": 1, "seq": 4}
    place(wall_exchange, mm, "bid", "0.32", "1", ticker=HOU)
    assert await nothing_within(conn, 0.2)


@pytest.mark.parametrize(("frame", "code"), [
    ("not json", 1),
    (json.dumps({"id": 1, "cmd": "dance"}), 5),
    (json.dumps({"id": 1, "cmd": "subscribe"}), 2),
    (json.dumps({"id": 1, "cmd": "subscribe", "params": {}}), 3),
    (json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["weather"]}}), 8),
    (json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}), 14),
    (json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"],
                                                          "market_ticker": "KXNOPE"}}), 16),
    (json.dumps({"id": 1, "cmd": "unsubscribe", "params": {}}), 4),
    (json.dumps({"id": 1, "cmd": "unsubscribe", "params": {"sids": [9]}}), 7),
    (json.dumps({"id": 1, "cmd": "update_subscription", "params": {"sids": [1]}}), 15),
    (json.dumps({"id": 1, "cmd": "update_subscription",
                 "params": {"sids": [1], "action": "replace"}}), 13),
    (json.dumps({"id": 1, "cmd": "update_subscription",
                 "params": {"sids": [1, 2], "action": "add_markets"}}), 12),
    (json.dumps({"id": 1, "cmd": "update_subscription",
                 "params": {"sid": 9, "action": "add_markets", "market_ticker": SAC}}), 7),
])
async def test_command_errors(conn, asyncapi_validate, frame, code):
    await conn.send_message(frame)
    reply = await recv(conn)
    asyncapi_validate("errorResponsePayload", reply)
    assert reply["type"] == "error" and reply["msg"]["code"] == code


async def test_already_subscribed_is_error_6_and_new_tickers_are_added(conn):
    params = {"channels": ["orderbook_delta"], "market_tickers": [SAC]}
    await command(conn, id=1, cmd="subscribe", params=params)
    await recv(conn), await recv(conn)
    await command(conn, id=2, cmd="subscribe", params=params)
    assert (await recv(conn))["msg"]["code"] == 6
    await command(conn, id=3, cmd="subscribe",
                  params={"channels": ["orderbook_delta"], "market_tickers": [SAC, HOU]})
    assert (await recv(conn)) == {"id": 3, "type": "subscribed",
                                  "msg": {"channel": "orderbook_delta", "sid": 1}}
    snap = await recv(conn)
    assert (snap["seq"], snap["msg"]["market_ticker"]) == (2, HOU)


async def test_private_fill_and_user_order_channels(wall_exchange, creds, signer, mm,
                                                    asyncapi_validate):
    me = creds.user_id
    async with open_memory_kalshi_ws(wall_exchange, signer(creds, "GET", WS_PATH)) as conn:
        await command(conn, id=1, cmd="subscribe",
                      params={"channels": ["fill", "user_orders", "trade", "ticker"]})
        assert [(await recv(conn))["msg"]["channel"] for _ in range(4)] == [
            "fill", "user_orders", "trade", "ticker"]
        place(wall_exchange, mm, "ask", "0.44", "5")
        ticker = await recv(conn)
        asyncapi_validate("tickerPayload", ticker)
        assert ticker["msg"]["yes_ask_dollars"] == "0.4400"
        other = wall_exchange.register_account(cash=parse_money("100"))
        place(wall_exchange, other, "bid", "0.44", "1", tif=TimeInForce.IOC)  # not mine
        # Book change and trade: public ticker + trade frames; nothing private.
        assert [f["type"] for f in await drain(conn)] == ["ticker", "trade", "ticker"]
        place(wall_exchange, me, "ask", "0.40", "2", client_order_id="mine-1",
              tif=TimeInForce.IOC)  # buy NO: hits nothing (no YES bids)
        place(wall_exchange, me, "bid", "0.44", "2", client_order_id="mine-2",
              tif=TimeInForce.IOC)
        frames = await drain(conn)
        assert [f["type"] for f in frames] == [
            "user_order", "ticker", "fill", "trade", "ticker", "user_order"]
        by_type: dict[str, list] = {}
        for f in frames:
            by_type.setdefault(f["type"], []).append(f)
        (fill,) = by_type["fill"]
        asyncapi_validate("fillPayload", fill)
        assert (fill["msg"]["count_fp"], fill["msg"]["yes_price_dollars"]) == ("2.00", "0.4400")
        assert fill["msg"]["is_taker"] and fill["msg"]["client_order_id"] == "mine-2"
        assert fill["msg"]["post_position_fp"] == "2.00"
        # 0.07 x 2 x 0.44 x 0.56 = 0.0345; 0.88 + 0.0345 floors the balance by 0.92.
        assert fill["msg"]["fee_cost"] == "0.0400"
        orders = by_type["user_order"]
        for f in orders:
            asyncapi_validate("userOrderPayload", f)
        assert [(o["msg"]["client_order_id"], o["msg"]["status"]) for o in orders] == [
            ("mine-1", "canceled"), ("mine-2", "executed")]
        asyncapi_validate("tradePayload", by_type["trade"][0])


async def test_lifecycle_channel(conn, wall_exchange, asyncapi_validate):
    await command(conn, id=1, cmd="subscribe", params={"channels": ["market_lifecycle_v2"]})
    await recv(conn)
    wall_exchange.set_market_status(HOU, "inactive")
    wall_exchange.set_market_status(HOU, "active")
    wall_exchange.settle(SAC, "yes")
    frames = [await recv(conn) for _ in range(4)]
    for f in frames:
        asyncapi_validate("marketLifecycleV2Payload", f)
    assert [f["msg"]["event_type"] for f in frames] == [
        "deactivated", "activated", "determined", "settled"]
    assert frames[2]["msg"]["result"] == "yes"


# ---- faults ----------------------------------------------------------------------------------


async def subscribed_book(conn) -> None:
    await command(conn, id=1, cmd="subscribe",
                  params={"channels": ["orderbook_delta"], "market_ticker": SAC})
    await recv(conn), await recv(conn)


async def test_skip_and_repeat_seq(conn, wall_exchange, mm):
    await subscribed_book(conn)
    faults = faults_of(wall_exchange)
    faults.skip_next_seq()
    place(wall_exchange, mm, "bid", "0.30", "1")
    assert (await recv(conn))["seq"] == 3  # 2 was skipped: a gap
    faults.repeat_next_seq()
    place(wall_exchange, mm, "bid", "0.31", "1")
    first, second = await recv(conn), await recv(conn)
    assert first == second and first["seq"] == 4
    place(wall_exchange, mm, "bid", "0.32", "1")
    assert (await recv(conn))["seq"] == 5


async def test_silent_freeze_keeps_socket_open_and_consumes_seq(conn, wall_exchange, mm,
                                                                autojump_clock):
    await subscribed_book(conn)
    faults = faults_of(wall_exchange)
    faults.freeze_feeds()
    place(wall_exchange, mm, "bid", "0.30", "1")
    assert await nothing_within(conn, 30)
    await command(conn, id=2, cmd="list_subscriptions")  # commands still answered
    assert (await recv(conn))["type"] == "ok"
    faults.freeze_feeds(False)
    place(wall_exchange, mm, "bid", "0.31", "1")
    assert (await recv(conn))["seq"] == 3  # seq 2 was lost in the freeze


async def test_terminal_error_kills_the_subscription(conn, wall_exchange, mm, asyncapi_validate):
    await subscribed_book(conn)
    assert faults_of(wall_exchange).send_terminal_error(code=25) == 1
    error = await recv(conn)
    asyncapi_validate("errorResponsePayload", error)
    assert error == {"type": "error", "sid": 1,
                     "msg": {"code": 25, "msg": "Subscription buffer overflow"}}
    place(wall_exchange, mm, "bid", "0.30", "1")
    assert await nothing_within(conn, 0.2)
    await command(conn, id=2, cmd="list_subscriptions")
    assert (await recv(conn))["msg"] == []


async def test_drop_every_websocket(conn, wall_exchange):
    await subscribed_book(conn)
    assert faults_of(wall_exchange).drop_websockets() == 1
    with pytest.raises(trio_websocket.ConnectionClosed) as err:
        with trio.fail_after(2):
            while True:
                await conn.get_message()
    assert err.value.reason.code == 1006


async def test_slow_client_overflows_with_error_25(wall_exchange, creds, signer, mm,
                                                   monkeypatch):
    monkeypatch.setattr(ws_module, "OUTBOUND_FRAMES", 4)
    monkeypatch.setattr(ws_module, "TRANSPORT_FRAMES", 1)
    async with open_memory_kalshi_ws(wall_exchange, signer(creds, "GET", WS_PATH)) as conn:
        await subscribed_book(conn)
        for i in range(20):  # the client reads nothing meanwhile
            place(wall_exchange, mm, "bid", f"0.{10 + i}", "1")
        frames = await drain(conn)
        # The queue (4) plus the frame the writer already holds fit; the next overflowed it and
        # killed the subscription, so the rest of the 20 deltas never come.
        delivered = [f.get("seq") for f in frames[:-1]]
        assert delivered == list(range(2, 2 + len(delivered))) and 4 <= len(delivered) <= 6
        assert frames[-1] == {"type": "error", "sid": 1,
                              "msg": {"code": 25, "msg": "Subscription buffer overflow"}}


async def test_websocket_over_loopback(kalshi_server, wall_exchange, creds, signer, mm):
    assert kalshi_server.rest.startswith("http://127.0.0.1:")
    assert kalshi_server.rest.endswith("/trade-api/v2")
    assert kalshi_server.ws == kalshi_server.rest.replace("http://", "ws://").replace(
        "/trade-api/v2", "/trade-api/ws/v2")
    headers = list(signer(creds, "GET", WS_PATH).items())
    async with trio_websocket.open_websocket_url(kalshi_server.ws, extra_headers=headers) as conn:
        await subscribed_book(conn)
        place(wall_exchange, mm, "bid", "0.30", "1")
        delta = await recv(conn)
        assert (delta["type"], delta["seq"], delta["msg"]["delta_fp"]) == (
            "orderbook_delta", 2, "1.00")
        faults_of(wall_exchange).drop_websockets()
        with pytest.raises(trio_websocket.ConnectionClosed) as err:
            with trio.fail_after(2):
                await conn.get_message()
        assert err.value.reason.code == 1011


async def test_server_sends_ping_control_frames(wall_exchange, creds, signer, nursery):
    """Over a raw socket (wsproto), the server's Ping frames are visible; the payload and the
    10 s period are configured by ``serve_kalshi_sim`` (here shortened to 0.2 s)."""
    urls = await nursery.start(partial(serve_kalshi_sim, wall_exchange, ping_interval=0.2))
    host = urlsplit(urls.ws)
    stream = await trio.open_tcp_stream(host.hostname, host.port)
    client = WSConnection(ConnectionType.CLIENT)
    headers = [(k.encode(), v.encode()) for k, v in signer(creds, "GET", WS_PATH).items()]
    await stream.send_all(client.send(Request(host=host.netloc, target=WS_PATH,
                                              extra_headers=headers)))
    seen = []
    with trio.fail_after(3):
        while not any(isinstance(e, Ping) for e in seen):
            client.receive_data(await stream.receive_some())
            seen.extend(client.events())
    assert isinstance(seen[0], AcceptConnection)
    await stream.aclose()


async def test_market_positions_channel(conn, wall_exchange, creds, mm, asyncapi_validate):
    await command(conn, id=1, cmd="subscribe",
                  params={"channels": ["market_positions"], "market_tickers": [SAC]})
    await recv(conn)
    place(wall_exchange, mm, "ask", "0.44", "5")
    place(wall_exchange, creds.user_id, "bid", "0.44", "3", tif=TimeInForce.IOC)
    frame = await recv(conn)
    asyncapi_validate("marketPositionPayload", frame)
    assert frame["type"] == "market_position"
    assert (frame["msg"]["position_fp"], frame["msg"]["position_cost_dollars"],
            frame["msg"]["volume_fp"]) == ("3.00", "1.3200", "3.00")
    place(wall_exchange, mm, "bid", "0.10", "1", ticker=HOU)  # other market, not mine
    assert await nothing_within(conn, 0.2)
