"""The Kalshi websocket feed under Trio's virtual clock, against a scripted fake server."""
from __future__ import annotations

import json
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
import trio_websocket

from arb.domain import Outcome, Side, TimeInForce, Venue
from arb.money import parse_price, parse_qty
from arb.venues.kalshi.directory import OrderDirectory
from arb.venues.kalshi.feed import FeedConfig, FeedDown, serve_kalshi_feed
from arb.venues.kalshi.parse import OrderIntent
from arb.venues.protocol import AuthError, FeedState, Fill, OrderResult, OrderStatus

P = parse_price
Q = parse_qty
A = "KXNBAGAME-25NOV28DALLAL-LAL"
B = "KXNBAGAME-25NOV28DALLAL-DAL"


class FakeServer:
    """Kalshi-like server behaviour shared by every connection the feed opens."""

    def __init__(self) -> None:
        self.books: dict[str, tuple[list, list]] = {
            A: ([["0.4100", "10.00"], ["0.4200", "13.00"]], [["0.4400", "17.00"]]),
            B: ([["0.5500", "5.00"]], []),
        }
        self.connections: list[FakeConnection] = []
        self.refuse: list[Exception] = []
        self.answer_snapshots = True
        self.known = {A, B, "KXNBAGAME-25NOV28DALLAL-NEW"}

    @asynccontextmanager
    async def connect(self):
        if self.refuse:
            raise self.refuse.pop(0)
        conn = FakeConnection(self)
        self.connections.append(conn)
        yield conn

    @property
    def conn(self) -> FakeConnection:
        return self.connections[-1]


class FakeConnection:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self._send, self._recv = trio.open_memory_channel[str](1000)
        self.commands: list[dict] = []
        self.next_sid = 1
        self.seq: dict[int, int] = {}
        self.ob_sid: int | None = None
        self.tickers: list[str] = []

    # -- trio_websocket-like client methods --
    async def send_message(self, message: str) -> None:
        cmd = json.loads(message)
        self.commands.append(cmd)
        self._respond(cmd)

    async def get_message(self) -> str:
        try:
            return await self._recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise trio_websocket.ConnectionClosed(
                trio_websocket.CloseReason(1006, "dropped")) from None

    async def aclose(self) -> None:
        self._send.close()

    # -- test controls --
    def push(self, frame) -> None:
        self._send.send_nowait(frame if isinstance(frame, str) else json.dumps(frame))

    def drop(self) -> None:
        self._send.close()

    def kill_orderbook(self, code: int) -> int:
        """The venue ends the orderbook subscription with a terminal error."""
        sid, self.ob_sid = self.ob_sid, None
        self.push({"type": "error", "sid": sid, "msg": {"code": code, "msg": "terminal"}})
        return sid

    def next_seq(self, sid: int, skip: int = 0) -> int:
        self.seq[sid] = self.seq.get(sid, 0) + 1 + skip
        return self.seq[sid]

    def snapshot(self, ticker: str) -> None:
        assert self.ob_sid is not None
        yes, no = self.server.books[ticker]
        msg = {"market_ticker": ticker, "market_id": "m"}
        if yes:
            msg["yes_dollars_fp"] = yes
        if no:  # we subscribe with use_yes_price: NO levels in YES-leg prices, ascending
            msg["no_dollars_fp"] = sorted(
                [[f"{1 - float(p):.4f}", q] for p, q in no])
        self.push({"type": "orderbook_snapshot", "sid": self.ob_sid,
                   "seq": self.next_seq(self.ob_sid), "msg": msg})

    def delta(self, ticker: str, side: str, price: str, delta: str, *, skip: int = 0,
              seq: int | None = None) -> None:
        assert self.ob_sid is not None
        frame = {"type": "orderbook_delta", "sid": self.ob_sid,
                 "seq": seq if seq is not None else self.next_seq(self.ob_sid, skip),
                 "msg": {"market_ticker": ticker, "market_id": "m", "price_dollars": price,
                         "delta_fp": delta, "side": side, "ts_ms": 1767225600123}}
        self.push(frame)

    def _respond(self, cmd: dict) -> None:
        cid, params = cmd.get("id"), cmd.get("params", {})
        if cmd["cmd"] == "subscribe":
            for channel in params["channels"]:
                sid = self.next_sid
                self.next_sid += 1
                if channel == "orderbook_delta":
                    missing = [t for t in params["market_tickers"] if t not in self.server.known]
                    if missing:
                        self.next_sid -= 1
                        self.push({"id": cid, "type": "error",
                                   "msg": {"code": 16, "msg": "Market not found"}})
                        continue
                    assert params["use_yes_price"] is True
                    if self.ob_sid is not None:  # repeated subscribe adds markets
                        self.next_sid -= 1
                        sid = self.ob_sid
                    self.ob_sid = sid
                    self.tickers = list(params["market_tickers"])
                self.push({"id": cid, "type": "subscribed", "msg": {"channel": channel,
                                                                     "sid": sid}})
                if channel == "orderbook_delta":
                    for t in self.tickers:
                        self.snapshot(t)
        elif cmd["cmd"] == "update_subscription":
            action, tickers = params["action"], params["market_tickers"]
            self.push({"id": cid, "type": "ok", "sid": params["sids"][0],
                       "seq": self.seq.get(params["sids"][0], 0), "msg": {}})
            if action == "add_markets":
                self.tickers += tickers
            elif action == "delete_markets":
                self.tickers = [t for t in self.tickers if t not in tickers]
            if action in ("add_markets", "get_snapshot") and self.server.answer_snapshots:
                for t in tickers:
                    self.snapshot(t)
        elif cmd["cmd"] == "unsubscribe":
            self.push({"id": cid, "type": "error", "msg": {"code": 7, "msg": "Unknown sid"}})
        elif cmd["cmd"] == "list_subscriptions":
            self.push({"id": cid, "type": "ok", "msg": []})


class Recorder:
    def __init__(self) -> None:
        self.changed: list[str] = []
        self.health: list = []
        self.times: list[float] = []

    def book_changed(self, venue: Venue, key: str) -> None:
        assert venue is Venue.KALSHI
        self.changed.append(key)

    def feed_health(self, health) -> None:
        self.health.append(health)
        self.times.append(trio.current_time())

    @property
    def states(self) -> list[FeedState]:
        return [h.state for h in self.health]


async def _start(nursery, server, tickers=(A, B), **kwargs):
    listener = Recorder()
    feed = await nursery.start(partial(serve_kalshi_feed, server.connect, tickers, listener,
                                       **kwargs))
    return feed, listener


async def test_started_after_snapshots_with_yes_price_convention(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, listener = await _start(nursery, server)
        sub = server.conn.commands[0]
        assert sub["cmd"] == "subscribe" and sub["params"] == {
            "channels": ["orderbook_delta"], "market_tickers": [A, B], "use_yes_price": True}
        book = feed.book(A)
        assert book.valid
        assert book.best_bid(Outcome.YES) == (P("0.42"), Q("13"))
        assert book.best_bid(Outcome.NO) == (P("0.44"), Q("17"))
        assert book.best_ask(Outcome.YES) == (P("0.56"), Q("17"))
        assert set(listener.changed) == {A, B}
        assert listener.health[-1].state is FeedState.LIVE and listener.health[-1].epoch == 1
        nursery.cancel_scope.cancel()


async def test_delta_applied_duplicate_ignored(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, listener = await _start(nursery, server)
        conn = server.conn
        conn.delta(A, "yes", "0.4200", "-3.00")
        conn.delta(A, "no", "0.5500", "2.50")  # NO bid at 0.45 in YES-leg prices
        await trio.sleep(0.1)
        assert feed.book(A).best_bid(Outcome.YES) == (P("0.42"), Q("10"))
        assert feed.book(A).best_bid(Outcome.NO) == (P("0.45"), Q("2.5"))
        last = conn.seq[conn.ob_sid]
        conn.delta(A, "yes", "0.4200", "-3.00", seq=last)  # replayed frame
        await trio.sleep(0.1)
        assert feed.book(A).best_bid(Outcome.YES) == (P("0.42"), Q("10"))
        assert feed.statistics().duplicates == 1 and feed.statistics().gaps == 0
        assert listener.changed[-2:] == [A, A]
        nursery.cancel_scope.cancel()


async def test_gap_invalidates_and_asks_for_snapshots(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, listener = await _start(nursery, server)
        conn = server.conn
        server.answer_snapshots = False
        conn.delta(A, "yes", "0.4100", "1.00", skip=2)
        await trio.sleep(0.1)
        assert not feed.book(A).valid and not feed.book(B).valid
        gap = [h for h in listener.health if h.state is FeedState.GAP][-1]
        assert set(gap.keys) == {A, B}
        ask = conn.commands[-1]
        assert ask["cmd"] == "update_subscription" and ask["params"] == {
            "sids": [conn.ob_sid], "market_tickers": [A, B], "action": "get_snapshot"}
        assert feed.statistics().gaps == 1
        # The delta that revealed the gap was not applied.
        conn.snapshot(A)
        conn.snapshot(B)
        await trio.sleep(0.1)
        assert feed.book(A).valid and feed.book(B).valid
        assert feed.book(A).best_bid(Outcome.YES) == (P("0.42"), Q("13"))
        assert listener.health[-1].state is FeedState.LIVE
        nursery.cancel_scope.cancel()


async def test_snapshot_not_arriving_is_requested_again(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, _ = await _start(nursery, server, config=FeedConfig(resnapshot_after=5.0,
                                                                   probe_after=60,
                                                                   stale_after=120))
        conn = server.conn
        server.answer_snapshots = False
        conn.delta(B, "yes", "0.5500", "1.00", skip=1)
        await trio.sleep(0.1)
        asks = [c for c in conn.commands if c["cmd"] == "update_subscription"]
        assert len(asks) == 1
        server.answer_snapshots = True
        await trio.sleep(10.1)
        asks = [c for c in conn.commands if c["cmd"] == "update_subscription"]
        assert len(asks) == 2 and set(asks[1]["params"]["market_tickers"]) == {A, B}
        assert feed.book(A).valid and feed.book(B).valid
        nursery.cancel_scope.cancel()


async def test_terminal_error_resubscribes(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, listener = await _start(nursery, server)
        conn = server.conn
        old_sid = conn.kill_orderbook(25)
        await trio.sleep(0.1)
        subscribes = [c for c in conn.commands if c["cmd"] == "subscribe"]
        assert len(subscribes) == 2 and subscribes[1]["params"]["market_tickers"] == [A, B]
        assert conn.ob_sid != old_sid
        assert feed.book(A).valid and feed.statistics().resubscribes == 1
        assert FeedState.GAP in listener.states and listener.states[-1] is FeedState.LIVE
        # Frames still in flight on the dead sid are ignored.
        conn.push({"type": "orderbook_delta", "sid": old_sid, "seq": 99, "msg": {
            "market_ticker": A, "price_dollars": "0.4200", "delta_fp": "-13.00", "side": "yes"}})
        await trio.sleep(0.1)
        assert feed.book(A).best_bid(Outcome.YES) == (P("0.42"), Q("13"))
        nursery.cancel_scope.cancel()


async def test_reconnect_bumps_epoch_and_waits_for_snapshots(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, listener = await _start(nursery, server, config=FeedConfig(backoff_base=1.0))
        first = server.conn
        server.books[A] = ([["0.3000", "1.00"]], [])
        first.drop()
        await trio.sleep(0.01)
        assert not feed.book(A).valid and len(server.connections) == 1
        await trio.sleep(1.1)  # backoff: base 1.0 with jitter in [0.5, 1.0]
        assert len(server.connections) == 2
        assert feed.statistics().epoch == 2 and feed.statistics().reconnects == 1
        assert feed.book(A).valid and feed.book(A).best_bid(Outcome.YES) == (P("0.3"), Q("1"))
        states = listener.states
        assert FeedState.RECONNECTING in states and states[-1] is FeedState.LIVE
        assert listener.health[-1].epoch == 2
        nursery.cancel_scope.cancel()


async def test_stale_feed_is_replaced_at_stale_after(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, listener = await _start(nursery, server,
                                      config=FeedConfig(probe_after=10, stale_after=30))
        start = trio.current_time()
        first = server.conn
        server.answer_snapshots = False  # socket open, commands acked, no data: a silent freeze
        await trio.sleep(29.9)
        assert len(server.connections) == 1 and feed.book(A).valid
        await trio.sleep(1.1)
        assert len(server.connections) == 2
        stale_at = listener.times[listener.states.index(FeedState.STALE)]
        assert stale_at - start == pytest.approx(30.0)
        probes = [c for c in first.commands if c["cmd"] == "update_subscription"]
        assert len(probes) == 2 and all(c["params"]["action"] == "get_snapshot" for c in probes)
        assert feed.statistics().stale == 1
        nursery.cancel_scope.cancel()


async def test_quiet_market_answering_probes_is_not_stale(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, _ = await _start(nursery, server, config=FeedConfig(probe_after=10, stale_after=30))
        await trio.sleep(120)
        assert len(server.connections) == 1 and feed.statistics().stale == 0
        assert feed.book(A).valid and feed.book(B).valid
        nursery.cancel_scope.cancel()


async def test_malformed_frames_skip_and_heal(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, listener = await _start(nursery, server)
        conn = server.conn
        server.answer_snapshots = False
        conn.push("{not json")
        conn.push({"type": "market_lifecycle_v3", "msg": {}})
        conn.delta(A, "yes", "0.4x", "1.00")
        await trio.sleep(0.1)
        stats = feed.statistics()
        assert stats.malformed == 2 and stats.unknown_types == 1 and stats.gaps == 0
        assert not feed.book(A).valid and feed.book(B).valid
        assert "price_dollars" in feed.book(A).invalid_reason
        assert conn.commands[-1]["params"] == {"sids": [conn.ob_sid], "market_tickers": [A],
                                               "action": "get_snapshot"}
        assert listener.health[-1].state is FeedState.GAP and listener.health[-1].keys == (A,)
        conn.delta(B, "yes", "0.5500", "1.00")  # the feed keeps running for other books
        conn.snapshot(A)
        await trio.sleep(0.1)
        assert feed.book(A).valid and feed.book(B).best_bid(Outcome.YES) == (P("0.55"), Q("6"))
        assert listener.health[-1].state is FeedState.LIVE
        nursery.cancel_scope.cancel()


async def test_legacy_integer_delta_is_rejected_not_misread(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, _ = await _start(nursery, server)
        conn = server.conn
        conn.push({"type": "orderbook_delta", "sid": conn.ob_sid,
                   "seq": conn.next_seq(conn.ob_sid),
                   "msg": {"market_ticker": A, "price": 42, "delta": -3, "side": "yes"}})
        await trio.sleep(0.1)
        assert feed.statistics().malformed == 1
        assert feed.book(A).valid  # re-snapshotted right away by the fake server
        assert feed.book(A).best_bid(Outcome.YES) == (P("0.42"), Q("13"))
        nursery.cancel_scope.cancel()


async def test_out_of_sync_delta_invalidates_book(autojump_clock):
    server = FakeServer()
    async with trio.open_nursery() as nursery:
        feed, _ = await _start(nursery, server)
        conn = server.conn
        server.answer_snapshots = False
        conn.delta(A, "yes", "0.4100", "-11.00")
        await trio.sleep(0.1)
        assert not feed.book(A).valid and feed.statistics().book_errors == 1
        assert conn.commands[-1]["params"]["action"] == "get_snapshot"
        nursery.cancel_scope.cancel()


async def test_add_and_remove_tickers_while_running(autojump_clock):
    server = FakeServer()
    new = "KXNBAGAME-25NOV28DALLAL-NEW"
    server.books[new] = ([["0.1000", "1.00"]], [])
    async with trio.open_nursery() as nursery:
        feed, listener = await _start(nursery, server)
        conn = server.conn
        feed.add_tickers([new])
        feed.remove_tickers([B])
        await trio.sleep(0.1)
        updates = [c["params"] for c in conn.commands if c["cmd"] == "update_subscription"]
        assert {"sids": [conn.ob_sid], "market_tickers": [B], "action": "delete_markets"} in updates
        assert {"sids": [conn.ob_sid], "market_tickers": [new], "action": "add_markets"} in updates
        assert feed.book(new).valid and feed.book(B) is None
        assert feed.tickers == (A, new)
        assert listener.health[-1].state is FeedState.LIVE
        nursery.cancel_scope.cancel()


async def test_unknown_market_is_dropped_and_does_not_block_start(autojump_clock):
    server = FakeServer()
    bad = "KXNBAGAME-25NOV28DALLAL-XXX"
    async with trio.open_nursery() as nursery:
        feed, _ = await _start(nursery, server, tickers=(A, bad))
        assert feed.tickers == (A,) and feed.book(A).valid
        subscribes = [c["params"]["market_tickers"] for c in server.conn.commands
                      if c["cmd"] == "subscribe"]
        assert subscribes == [[A, bad], [A], [bad]]
        nursery.cancel_scope.cancel()


async def test_private_fills_and_orders_reach_the_channel(autojump_clock):
    server = FakeServer()
    send, receive = trio.open_memory_channel[Fill | OrderResult](10)
    directory = OrderDirectory()
    directory.remember("c-7", OrderIntent(A, Outcome.YES, Side.SELL, TimeInForce.IOC))
    async with trio.open_nursery() as nursery:
        feed, _ = await _start(nursery, server, user_events=send, directory=directory)
        conn = server.conn
        assert conn.commands[0]["params"] == {"channels": ["fill", "user_orders"]}
        conn.push({"type": "fill", "sid": 1, "msg": {
            "trade_id": "t1", "order_id": "o1", "market_ticker": A, "exchange_index": 0,
            "is_taker": True, "side": "no", "action": "buy", "outcome_side": "no",
            "book_side": "ask", "yes_price_dollars": "0.6000", "count_fp": "3.00",
            "fee_cost": "0.0600", "ts_ms": 5, "client_order_id": "c-7",
            "post_position_fp": "-3.00", "purchased_side": "no"}})
        conn.push({"type": "user_order", "sid": 2, "msg": {
            "order_id": "o1", "user_id": "u", "ticker": A, "status": "canceled",
            "outcome_side": "no", "book_side": "ask", "yes_price_dollars": "0.6000",
            "fill_count_fp": "3.00", "remaining_count_fp": "0.00", "initial_count_fp": "5.00",
            "taker_fill_cost_dollars": "1.2000", "maker_fill_cost_dollars": "0.0000",
            "taker_fees_dollars": "0.0600", "maker_fees_dollars": "0.0000",
            "client_order_id": "c-7", "created_ts_ms": 1}})
        fill = await receive.receive()
        order = await receive.receive()
        assert isinstance(fill, Fill) and fill.side is Side.SELL
        assert fill.instrument.token == "yes" and fill.price == P("0.6") and fill.qty == Q("3")
        assert isinstance(order, OrderResult) and order.status is OrderStatus.CANCELLED
        assert order.filled_qty == Q("3") and order.avg_price == P("0.6")
        assert feed.statistics().user_events_dropped == 0
        nursery.cancel_scope.cancel()


async def test_slow_consumer_drops_user_events_after_timeout(autojump_clock):
    server = FakeServer()
    send, _receive = trio.open_memory_channel[Fill | OrderResult](0)
    async with trio.open_nursery() as nursery:
        feed, _ = await _start(nursery, server, user_events=send,
                               config=FeedConfig(user_event_timeout=1.0))
        conn = server.conn
        conn.push({"type": "fill", "sid": 1, "msg": {
            "trade_id": "t1", "order_id": "o1", "market_ticker": A, "is_taker": True,
            "outcome_side": "yes", "book_side": "bid", "yes_price_dollars": "0.6000",
            "count_fp": "3.00", "fee_cost": "0.0600", "ts_ms": 5}})
        conn.delta(A, "yes", "0.4200", "1.00")
        await trio.sleep(0.5)
        assert feed.book(A).best_bid(Outcome.YES) == (P("0.42"), Q("13"))
        await trio.sleep(1.0)
        assert feed.statistics().user_events_dropped == 1
        assert feed.book(A).best_bid(Outcome.YES) == (P("0.42"), Q("14"))
        nursery.cancel_scope.cancel()


async def test_handshake_401_fails_fast(autojump_clock):
    server = FakeServer()
    server.refuse.append(trio_websocket.ConnectionRejected(401, (), b'{"code":"unauthorized"}'))
    listener = Recorder()
    with pytest.raises(AuthError, match="HTTP 401"):
        await serve_kalshi_feed(server.connect, [A], listener)
    assert listener.states[-1] is FeedState.DOWN


async def test_refused_connections_back_off_with_cap_then_give_up(autojump_clock):
    server = FakeServer()
    server.refuse.extend(OSError("connection refused") for _ in range(10))
    listener = Recorder()
    start = trio.current_time()
    config = FeedConfig(backoff_base=1.0, backoff_cap=4.0, max_failures=6)
    with pytest.raises(FeedDown, match="6 consecutive failed connections"):
        await serve_kalshi_feed(server.connect, [A], listener, config=config)
    elapsed = trio.current_time() - start
    # delays before attempts 2..6: 1, 2, 4, 4, 4 seconds, each jittered into [50%, 100%]
    assert 7.5 <= elapsed <= 15.0
    assert listener.states[-1] is FeedState.DOWN
    assert listener.states.count(FeedState.RECONNECTING) == 5


async def test_added_ticker_without_snapshot_is_asked_again(autojump_clock):
    server = FakeServer()
    new = "KXNBAGAME-25NOV28DALLAL-NEW"
    server.books[new] = ([["0.1000", "1.00"]], [])
    async with trio.open_nursery() as nursery:
        feed, _ = await _start(nursery, server, config=FeedConfig(resnapshot_after=5.0,
                                                                   probe_after=60,
                                                                   stale_after=120))
        conn = server.conn
        server.answer_snapshots = False
        feed.add_tickers([new])
        await trio.sleep(1)
        assert not feed.book(new).valid
        server.answer_snapshots = True
        await trio.sleep(5)
        asks = [c["params"] for c in conn.commands if c["cmd"] == "update_subscription"]
        assert asks[-1] == {"sids": [conn.ob_sid], "market_tickers": [new],
                            "action": "get_snapshot"}
        assert feed.book(new).valid
        nursery.cancel_scope.cancel()
