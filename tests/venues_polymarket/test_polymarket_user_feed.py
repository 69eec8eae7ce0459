"""User channel: order results and fill lifecycle (MATCHED -> CONFIRMED, MATCHED -> FAILED)."""
from __future__ import annotations

import functools
import json

import attrs
import trio
import trio.testing
from polyfakes import FakeMarketServer

from arb.domain import Side
from arb.money import parse_qty
from arb.venues.polymarket.auth import ApiCredentials
from arb.venues.polymarket.user_feed import UserFeedConfig, serve_polymarket_user_feed
from arb.venues.polymarket.ws import Backoff
from arb.venues.protocol import FeedHealth, FeedState, Fill, FillStatus, OrderResult, OrderStatus

Q = parse_qty
CREDS = ApiCredentials("key-1", "c2VjcmV0", "pass-1")
FUNDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
COND, TOKEN = "0x" + "cd" * 32, "123456"


@attrs.define(eq=False)
class UserServer(FakeMarketServer):
    subscribe_frames: list[dict] = attrs.field(factory=list)

    async def on_client_message(self, conn, message: str) -> None:
        if message == "PING":
            conn.push("PONG")
            return
        self.subscribe_frames.append(json.loads(message))


def _trade(status: str) -> dict:
    return {"event_type": "trade", "type": "TRADE", "id": "tr-9", "taker_order_id": "0xours",
            "market": COND, "asset_id": TOKEN, "side": "BUY", "size": "12.5", "price": "0.41",
            "status": status, "match_time": "1767225600", "trader_side": "TAKER",
            "owner": CREDS.api_key, "maker_address": FUNDER, "maker_orders": []}


def _order(status: str, kind: str = "UPDATE", matched: str = "0") -> dict:
    return {"event_type": "order", "type": kind, "id": "0xours", "owner": CREDS.api_key,
            "market": COND, "asset_id": TOKEN, "side": "BUY", "original_size": "12.5",
            "size_matched": matched, "price": "0.41", "associate_trades": [],
            "order_type": "FAK", "status": status, "timestamp": "1767225600000"}


async def _start(nursery, server, send, health=None):
    return await nursery.start(functools.partial(
        serve_polymarket_user_feed, CREDS, FUNDER, send, markets=[COND],
        client_ids=lambda oid: "cid-7" if oid == "0xours" else None,
        health=health or (lambda h: None), connect=server.connect,
        config=UserFeedConfig(backoff=Backoff(base=1.0, cap=2.0))))


async def test_subscribe_frame_and_ghost_fill_lifecycle(autojump_clock) -> None:
    server = UserServer()
    send, recv = trio.open_memory_channel[Fill | OrderResult](16)
    async with trio.open_nursery() as nursery:
        await _start(nursery, server, send)
        assert server.subscribe_frames == [{
            "auth": {"apiKey": "key-1", "secret": "c2VjcmV0", "passphrase": "pass-1"},
            "markets": [COND], "type": "user"}]
        conn = server.conns[0]
        conn.push([_order("DELAYED", "PLACEMENT")])
        conn.push(_trade("MATCHED"))
        conn.push(_order("MATCHED", matched="12.5"))
        conn.push(_trade("MINED"))
        conn.push(_trade("RETRYING"))
        conn.push(_trade("FAILED"))
        got = [await recv.receive() for _ in range(6)]
        nursery.cancel_scope.cancel()
    delayed, matched, done, mined, retrying, failed = got
    assert isinstance(delayed, OrderResult) and delayed.status is OrderStatus.DELAYED
    assert delayed.client_id == "cid-7"
    assert isinstance(matched, Fill) and matched.status is FillStatus.PROVISIONAL
    assert matched.qty == Q("12.5") and matched.side is Side.BUY and matched.is_taker
    assert matched.client_id == "cid-7" and matched.venue_order_id == "0xours"
    assert isinstance(done, OrderResult) and done.status is OrderStatus.FILLED
    assert done.filled_qty == Q("12.5")
    assert mined.status is FillStatus.PROVISIONAL and retrying.status is FillStatus.PROVISIONAL
    assert failed.status is FillStatus.FAILED
    assert len({f.trade_id for f in (matched, mined, retrying, failed)}) == 1


async def test_confirmed_and_cancellation(autojump_clock) -> None:
    server = UserServer()
    send, recv = trio.open_memory_channel[Fill | OrderResult](16)
    async with trio.open_nursery() as nursery:
        await _start(nursery, server, send)
        conn = server.conns[0]
        conn.push(_trade("CONFIRMED"))
        conn.push({**_order("", "CANCELLATION", matched="3"), "order_type": "GTC"})
        confirmed, cancelled = await recv.receive(), await recv.receive()
        nursery.cancel_scope.cancel()
    assert confirmed.status is FillStatus.CONFIRMED
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.filled_qty == Q("3")


async def test_malformed_and_unknown_events_are_skipped(autojump_clock) -> None:
    server = UserServer()
    send, recv = trio.open_memory_channel[Fill | OrderResult](16)
    async with trio.open_nursery() as nursery:
        feed = await _start(nursery, server, send)
        conn = server.conns[0]
        conn.push("not json")
        conn.push({**_trade("MATCHED"), "size": "lots"})
        conn.push(_trade("WEIRD_STATUS"))
        conn.push({"event_type": "notification"})
        conn.push(_trade("CONFIRMED"))
        fill = await recv.receive()
        stats = feed.statistics()
        nursery.cancel_scope.cancel()
    assert fill.status is FillStatus.CONFIRMED
    assert stats.malformed == 3 and stats.ignored == 1


async def test_reconnect_reports_new_epoch_for_reconciliation(autojump_clock) -> None:
    server = UserServer()
    health: list[FeedHealth] = []
    send, recv = trio.open_memory_channel[Fill | OrderResult](16)
    async with trio.open_nursery() as nursery:
        feed = await _start(nursery, server, send, health.append)
        server.conns[0].push(_trade("MATCHED"))
        await recv.receive()
        server.conns[0].close_from_server()
        await trio.sleep(3)
        assert len(server.conns) == 2
        assert len(server.subscribe_frames) == 2
        assert feed.statistics().epoch == 2
        server.conns[1].push(_trade("CONFIRMED"))
        assert (await recv.receive()).status is FillStatus.CONFIRMED
        nursery.cancel_scope.cancel()
    assert any(h.state is FeedState.RECONNECTING and "reconcile" in h.detail for h in health)
    assert [h.epoch for h in health if h.state is FeedState.LIVE] == [1, 2]


async def test_slow_consumer_blocks_instead_of_dropping(autojump_clock) -> None:
    server = UserServer()
    send, recv = trio.open_memory_channel[Fill | OrderResult](1)
    async with trio.open_nursery() as nursery:
        await _start(nursery, server, send)
        for status in ("MATCHED", "MINED", "CONFIRMED"):
            server.conns[0].push(_trade(status))
        await trio.sleep(5)
        got = [await recv.receive() for _ in range(3)]
        nursery.cancel_scope.cancel()
    assert [f.status for f in got] == [FillStatus.PROVISIONAL, FillStatus.PROVISIONAL,
                                       FillStatus.CONFIRMED]


async def test_feed_stops_when_the_consumer_closes(autojump_clock) -> None:
    server = UserServer()
    send, recv = trio.open_memory_channel[Fill | OrderResult](0)
    async with trio.open_nursery() as nursery:
        await _start(nursery, server, send)
        await recv.aclose()
        server.conns[0].push(_trade("MATCHED"))
    assert len(server.conns) == 1  # returned instead of reconnecting
