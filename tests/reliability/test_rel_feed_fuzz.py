"""Reliability rows 3 and 32: a parser bug on a new or mangled message must not crash a feed.

Seeded fuzzing of the real Kalshi and Polymarket feeds (virtual clock, scripted in-memory venue):
valid frames of every kind the venues send, mutated (keys dropped, values replaced by other JSON
types, unknown types, truncated text), interleaved with valid deltas. The feed task must never
raise, and once the venue sends fresh snapshots every book must equal the venue's again.
"""
from __future__ import annotations

import copy
import json
import random
from collections import OrderedDict
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
import trio_websocket

from arb.domain import Outcome, Side, TimeInForce
from arb.money import parse_price, parse_qty
from arb.venues.kalshi.directory import OrderDirectory
from arb.venues.kalshi.feed import FeedConfig, serve_kalshi_feed
from arb.venues.kalshi.parse import OrderIntent
from arb.venues.polymarket.auth import ApiCredentials
from arb.venues.polymarket.feed import PolyFeedConfig, serve_polymarket_feed
from arb.venues.polymarket.user_feed import serve_polymarket_user_feed
from arb.venues.protocol import Fill, OrderResult

P, Q = parse_price, parse_qty
SEEDS = range(6)
FRAMES = 400
A = "KXNBAGAME-26JAN09MILLAL-LAL"
B = "KXNBAGAME-26JAN09MILLAL-MIL"
YES, NO = "1" * 77, "2" * 77
ODD_VALUES = (None, True, 0, -1, 1.5, "", "x", "0.4x", [], [1, "2"], {}, {"a": 1}, "NaN",
              "1e309", "-0.5000", "99999999999999999999")


def _mutate(frame, rng: random.Random):
    """A copy of ``frame`` with one to three random structural mutations."""
    frame = copy.deepcopy(frame)
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(_containers(frame))
        if isinstance(target, dict) and target:
            key = rng.choice(list(target))
            if rng.random() < 0.3:
                del target[key]
            else:
                target[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif isinstance(target, list) and target:
            target[rng.randrange(len(target))] = copy.deepcopy(rng.choice(ODD_VALUES))
    if rng.random() < 0.1 and isinstance(frame, dict):
        frame["type" if "type" in frame else "event_type"] = rng.choice(
            ("orderbook_v3", "market_lifecycle_v9", "new_thing", "", 7))
    return frame


def _containers(node) -> list:
    """Every dict and list inside ``node`` (itself included), depth first."""
    if isinstance(node, dict):
        return [node] + [c for value in node.values() for c in _containers(value)]
    if isinstance(node, list):
        return [node] + [c for value in node for c in _containers(value)]
    return []


def _text(frame, rng: random.Random) -> str:
    text = json.dumps(frame)
    return text[: rng.randrange(1, len(text))] if rng.random() < 0.05 else text


# --- Kalshi --------------------------------------------------------------------------------

PRIVATE_SIDS = {"fill": 2, "user_orders": 3}


def _kalshi_fill(trade_id: str) -> dict:
    return {"type": "fill", "sid": 2, "msg": {
        "trade_id": trade_id, "order_id": "o1", "market_ticker": A, "exchange_index": 0,
        "is_taker": True, "side": "no", "action": "buy", "outcome_side": "no",
        "book_side": "ask", "yes_price_dollars": "0.6000", "count_fp": "3.00",
        "fee_cost": "0.0600", "ts_ms": 5, "client_order_id": "c-7",
        "post_position_fp": "-3.00", "purchased_side": "no"}}


KALSHI_USER_ORDER = {"type": "user_order", "sid": 3, "msg": {
    "order_id": "o1", "user_id": "u", "ticker": A, "status": "canceled",
    "outcome_side": "no", "book_side": "ask", "yes_price_dollars": "0.6000",
    "fill_count_fp": "3.00", "remaining_count_fp": "0.00", "initial_count_fp": "5.00",
    "taker_fill_cost_dollars": "1.2000", "maker_fill_cost_dollars": "0.0000",
    "taker_fees_dollars": "0.0600", "maker_fees_dollars": "0.0000",
    "client_order_id": "c-7", "created_ts_ms": 1}}


class KalshiVenue:
    """Answers subscribe / get_snapshot like Kalshi; the test pushes anything else."""

    def __init__(self) -> None:
        self.books = {A: ([["0.4100", "10.00"], ["0.4200", "13.00"]], [["0.4500", "17.00"]]),
                      B: ([["0.5500", "5.00"]], [])}
        self.conns: list[KalshiConn] = []

    @asynccontextmanager
    async def connect(self):
        conn = KalshiConn(self)
        self.conns.append(conn)
        yield conn


class KalshiConn:
    def __init__(self, venue: KalshiVenue) -> None:
        self.venue = venue
        self._send, self._recv = trio.open_memory_channel[str](10_000)
        self.sid = 1
        self.seq = 0

    async def send_message(self, message: str) -> None:
        cmd = json.loads(message)
        params = cmd.get("params", {})
        if cmd["cmd"] == "subscribe":
            for channel in params["channels"]:
                sid = PRIVATE_SIDS.get(channel, self.sid)
                self.push({"id": cmd["id"], "type": "subscribed",
                           "msg": {"channel": channel, "sid": sid}})
                if channel == "orderbook_delta":
                    for ticker in params["market_tickers"]:
                        self.snapshot(ticker)
        elif cmd["cmd"] == "update_subscription":
            self.push({"id": cmd["id"], "type": "ok", "sid": self.sid, "seq": self.seq,
                       "msg": {}})
            if params["action"] in ("get_snapshot", "add_markets"):
                for ticker in params["market_tickers"]:
                    self.snapshot(ticker)
        else:
            self.push({"id": cmd["id"], "type": "ok", "msg": []})

    async def get_message(self) -> str:
        try:
            return await self._recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise trio_websocket.ConnectionClosed(trio_websocket.CloseReason(1006, "x")) from None

    async def aclose(self) -> None:
        self._send.close()

    def push(self, frame) -> None:
        self._send.send_nowait(frame if isinstance(frame, str) else json.dumps(frame))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def snapshot_frame(self, ticker: str) -> dict:
        yes, no = self.venue.books[ticker]
        msg = {"market_ticker": ticker, "market_id": "m", "yes_dollars_fp": yes}
        if no:
            msg["no_dollars_fp"] = sorted([[f"{1 - float(p):.4f}", q] for p, q in no])
        return {"type": "orderbook_snapshot", "sid": self.sid, "seq": self.next_seq(), "msg": msg}

    def snapshot(self, ticker: str) -> None:
        self.push(self.snapshot_frame(ticker))

    def delta_frame(self, ticker: str, price: str, delta: str) -> dict:
        return {"type": "orderbook_delta", "sid": self.sid, "seq": self.next_seq(),
                "msg": {"market_ticker": ticker, "market_id": "m", "price_dollars": price,
                        "delta_fp": delta, "side": "yes", "ts_ms": 1767225600123}}


def _kalshi_templates(conn: KalshiConn) -> list[dict]:
    return [
        conn.snapshot_frame(A), conn.delta_frame(A, "0.4100", "1.00"),
        {"type": "orderbook_delta", "sid": conn.sid, "seq": conn.seq + 1,
         "msg": {"market_ticker": B, "price_dollars": "0.5500", "delta_fp": "-1.00",
                 "side": "no"}},
        {"type": "error", "sid": conn.sid, "msg": {"code": 6, "msg": "Already subscribed"}},
        {"type": "ok", "sid": conn.sid, "seq": conn.seq, "msg": {"market_tickers": [A]}},
        {"type": "subscribed", "msg": {"channel": "ticker", "sid": 99}},
        _kalshi_fill("t-fuzz"), KALSHI_USER_ORDER,
        {"type": "market_lifecycle_v2", "sid": 8, "msg": {"market_ticker": A}},
    ]


@pytest.mark.parametrize("seed", SEEDS)
async def test_kalshi_feed_survives_mangled_frames_and_heals(seed, autojump_clock):
    rng = random.Random(seed)
    venue = KalshiVenue()
    listener = _Sink()
    config = FeedConfig(probe_after=30, stale_after=60, resnapshot_after=2.0,
                        backoff_base=0.1, backoff_cap=1.0)
    send, receive = trio.open_memory_channel[Fill | OrderResult](1000)
    events: list = []

    async def drain() -> None:
        async for event in receive:
            events.append(event)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        directory = OrderDirectory()
        directory.remember("c-7", OrderIntent(A, Outcome.NO, Side.BUY, TimeInForce.IOC))
        feed = await nursery.start(partial(serve_kalshi_feed, venue.connect, [A, B], listener,
                                           user_events=send, directory=directory,
                                           config=config, rng=random.Random(seed)))
        for _ in range(FRAMES):
            conn = venue.conns[-1]
            if rng.random() < 0.3:
                conn.push(conn.delta_frame(A, "0.4200", "0.00"))  # valid, changes nothing
            else:
                conn.push(_text(_mutate(rng.choice(_kalshi_templates(conn)), rng), rng))
            if rng.random() < 0.1:
                await trio.sleep(0.01)
        await trio.sleep(1)
        conn = venue.conns[-1]
        conn.snapshot(A)
        conn.snapshot(B)
        conn.push(_kalshi_fill("t-last"))
        await trio.sleep(5)  # resnapshots for anything still invalid
        assert all(isinstance(e, Fill | OrderResult) for e in events)
        assert [e.trade_id for e in events if isinstance(e, Fill)][-1] == "t-last"
        stats = feed.statistics()
        assert stats.malformed + stats.unknown_types + stats.gaps > 0
        assert feed.book(A).valid and feed.book(B).valid
        assert feed.book(A).bids(Outcome.YES) == [(P("0.42"), Q("13")), (P("0.41"), Q("10"))]
        assert feed.book(A).bids(Outcome.NO) == [(P("0.45"), Q("17"))]
        assert feed.book(B).bids(Outcome.YES) == [(P("0.55"), Q("5"))]
        nursery.cancel_scope.cancel()


# --- Polymarket ----------------------------------------------------------------------------


class PolyVenue:
    def __init__(self) -> None:
        self.books = {
            YES: {"event_type": "book", "market": "0xc", "asset_id": YES,
                  "bids": [{"price": "0.40", "size": "10"}], "asks": [{"price": "0.45",
                                                                       "size": "7"}],
                  "timestamp": "1767225600000", "hash": "h", "tick_size": "0.01"},
            NO: {"event_type": "book", "market": "0xc", "asset_id": NO,
                 "bids": [{"price": "0.55", "size": "7"}], "asks": [{"price": "0.60",
                                                                     "size": "10"}],
                 "timestamp": "1767225600000", "hash": "h", "tick_size": "0.01"}}
        self.conns: list[PolyConn] = []

    @asynccontextmanager
    async def connect(self, url: str):
        conn = PolyConn(self)
        self.conns.append(conn)
        yield conn


class PolyConn:
    def __init__(self, venue: PolyVenue) -> None:
        self.venue = venue
        self._send, self._recv = trio.open_memory_channel[str](10_000)

    async def send_message(self, message: str) -> None:
        if message == "PING":
            self.push("PONG")
            return
        frame = json.loads(message)
        if frame.get("type") == "market" or frame.get("operation") == "subscribe":
            self.push([self.venue.books[t] for t in frame["assets_ids"] if t in self.venue.books])

    async def get_message(self) -> str:
        try:
            return await self._recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise trio.ClosedResourceError("closed") from None

    async def aclose(self) -> None:
        self._send.close()

    def push(self, frame) -> None:
        self._send.send_nowait(frame if isinstance(frame, str) else json.dumps(frame))


def _poly_templates(venue: PolyVenue) -> list:
    change = {"event_type": "price_change", "market": "0xc", "timestamp": "1767225601000",
              "price_changes": [{"asset_id": YES, "price": "0.41", "size": "0", "side": "BUY",
                                 "hash": "x", "best_bid": "0.40", "best_ask": "0.45"}]}
    return [venue.books[YES], venue.books[NO], change, [change, venue.books[NO]],
            {"event_type": "tick_size_change", "asset_id": YES, "market": "0xc",
             "old_tick_size": "0.01", "new_tick_size": "0.001", "timestamp": "1"},
            {"event_type": "last_trade_price", "asset_id": YES, "price": "0.45", "size": "1",
             "side": "BUY", "fee_rate_bps": "", "timestamp": "1"},
            {"event_type": "best_bid_ask", "asset_id": NO, "best_bid": "0.55"}]


@pytest.mark.parametrize("seed", SEEDS)
async def test_polymarket_feed_survives_mangled_frames_and_heals(seed, autojump_clock):
    rng = random.Random(seed)
    venue = PolyVenue()
    listener = _Sink()
    config = PolyFeedConfig(probe_after=30, max_silence=60, snapshot_timeout=2.0,
                            resync_min_interval=0.1)
    async with trio.open_nursery() as nursery:
        feed = await nursery.start(serve_polymarket_feed, [YES, NO], listener, venue.connect,
                                   config, random.Random(seed))
        for _ in range(FRAMES):
            conn = venue.conns[-1]
            conn.push(_text(_mutate(rng.choice(_poly_templates(venue)), rng), rng))
            if rng.random() < 0.1:
                await trio.sleep(0.01)
        await trio.sleep(1)
        venue.conns[-1].push([venue.books[YES], venue.books[NO]])
        await trio.sleep(5)
        stats = feed.statistics()
        assert stats.malformed + stats.ignored + stats.mismatches > 0
        for token in (YES, NO):
            book = feed.books[token]
            raw = venue.books[token]
            assert book.valid, (token, book.invalid_reason)
            assert book.bids() == [(P(lv["price"]), Q(lv["size"])) for lv in raw["bids"]]
            assert book.asks() == [(P(lv["price"]), Q(lv["size"])) for lv in raw["asks"]]
        nursery.cancel_scope.cancel()


class _Sink:
    def book_changed(self, venue, key) -> None:
        pass

    def feed_health(self, health) -> None:
        pass


def test_mutations_are_seeded_and_leave_the_template_alone() -> None:
    template = {"a": {"b": [1, 2]}, "c": "d"}
    first = _mutate(template, random.Random(1))
    assert first == _mutate(template, random.Random(1)) and first != template
    assert template == {"a": {"b": [1, 2]}, "c": "d"}


# --- Polymarket user channel ---------------------------------------------------------------

USER_CREDS = ApiCredentials("key-1", "c2VjcmV0", "pass-1")
FUNDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
COND = "0x" + "cd" * 32


def _poly_trade(trade_id: str, status: str) -> dict:
    return {"event_type": "trade", "type": "TRADE", "id": trade_id, "taker_order_id": "0xours",
            "market": COND, "asset_id": YES, "side": "BUY", "size": "12.5", "price": "0.41",
            "status": status, "match_time": "1767225600", "trader_side": "TAKER",
            "owner": USER_CREDS.api_key, "maker_address": FUNDER,
            "maker_orders": [{"order_id": "0xtheirs", "owner": "other", "maker_address": "0x1",
                              "matched_amount": "12.5", "price": "0.41", "asset_id": YES,
                              "outcome": "Yes", "side": "SELL"}]}


def _poly_order(status: str, kind: str) -> dict:
    return {"event_type": "order", "type": kind, "id": "0xours", "owner": USER_CREDS.api_key,
            "market": COND, "asset_id": YES, "side": "BUY", "original_size": "12.5",
            "size_matched": "12.5", "price": "0.41", "associate_trades": [],
            "order_type": "FAK", "status": status, "timestamp": "1767225600000"}


class UserVenue(PolyVenue):
    @asynccontextmanager
    async def connect(self, url: str):
        conn = UserConn(self)
        self.conns.append(conn)
        yield conn


class UserConn(PolyConn):
    async def send_message(self, message: str) -> None:
        if message == "PING":
            self.push("PONG")


@pytest.mark.parametrize("seed", SEEDS)
async def test_polymarket_user_feed_survives_mangled_events(seed, autojump_clock):
    rng = random.Random(seed)
    venue = UserVenue()
    send, receive = trio.open_memory_channel[Fill | OrderResult](1000)
    events: list = []
    ours = OrderedDict([("0xours", "cid-7")])  # as PolymarketAdapter.client_id_of reads it

    async def drain() -> None:
        async for event in receive:
            events.append(event)

    templates = [_poly_trade("tr-1", "MATCHED"), _poly_trade("tr-1", "FAILED"),
                 _poly_order("", "PLACEMENT"), _poly_order("MATCHED", "UPDATE"),
                 _poly_order("", "CANCELLATION"), [_poly_trade("tr-2", "MINED")]]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        feed = await nursery.start(partial(
            serve_polymarket_user_feed, USER_CREDS, FUNDER, send, markets=[COND],
            client_ids=ours.get, connect=venue.connect, rng=random.Random(seed)))
        for _ in range(FRAMES):
            venue.conns[-1].push(_text(_mutate(rng.choice(templates), rng), rng))
            if rng.random() < 0.1:
                await trio.sleep(0.01)
        venue.conns[-1].push(_poly_trade("tr-last", "CONFIRMED"))
        await trio.sleep(1)
        assert feed.statistics().malformed + feed.statistics().ignored > 0
        assert all(isinstance(e, Fill | OrderResult) for e in events)
        last = events[-1]
        assert isinstance(last, Fill) and last.trade_id == "tr-last"
        assert last.client_id == "cid-7" and last.qty == Q("12.5")
        nursery.cancel_scope.cancel()
