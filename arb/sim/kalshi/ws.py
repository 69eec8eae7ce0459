# Design note: the simulated Kalshi websocket (``/trade-api/ws/v2``).
#
# Problem: the bot keeps order books from ``orderbook_snapshot`` + ``orderbook_delta`` frames with
# per-subscription ``seq``, and learns its fills and order states from private channels. The
# simulator must produce exactly the venue's frames and command replies, and must be able to
# misbehave on demand (gaps, duplicates, silent freezes, terminal errors, drops), both over a
# real socket and in memory under Trio's virtual clock.
# Naive approach: write frames straight to the socket from the matching code. A slow client
# would then block the exchange, a snapshot taken while deltas are in flight could double-count,
# and tests would need real sockets and wall-clock time.
# Chosen approach: one ``KalshiWsSession`` per connection, written against a three-method
# connection (``send_message``/``get_message``/``aclose``, the names of
# trio_websocket.WebSocketConnection), so the same code runs behind hypercorn (ASGI) and behind
# an in-memory pair of channels. The exchange calls the session's listener synchronously; the
# listener renders frames, assigns ``seq`` and puts them on a bounded outbound queue without
# waiting. A subscription's snapshot is taken in the same synchronous step that registers it, so
# no delta can fall between. If the queue is full the affected subscription dies with error 25
# ("subscription buffer overflow"), as on the venue: memory stays bounded and the client learns
# it must resubscribe. Fault hooks (``faults.py``) act on sessions directly.
# Sequence rules chosen where the venue is vague (venues.md A7.5): snapshots and deltas consume
# ``seq`` (starting at 1 per sid); ``ok``/``unsubscribed`` replies carry the sid's current seq
# without consuming one; a frozen feed still consumes seq, so the client sees a gap afterwards.
# Pings: hypercorn sends Ping control frames (``serve_asgi(ping_interval=10)``); the in-memory
# transport has no control frames.
from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import attrs
import trio
import trio_websocket

from arb.money import ONE
from arb.sim.kalshi.auth import DEFAULT_WINDOW_MS, authenticate
from arb.sim.kalshi.core import (
    BookChanged,
    ExchangeEvent,
    FillHappened,
    KalshiExchange,
    MarketLifecycle,
    OrderUpdated,
    SimAccount,
    TradeHappened,
    dollars,
)
from arb.sim.kalshi.errors import KalshiApiError
from arb.sim.kalshi.faults import faults_of
from arb.sim.kalshi.rest import WS_PATH, KalshiSimApp
from arb.sim.kalshi.wire import dumps, fp, iso, price4

log = logging.getLogger("arb.sim.kalshi.ws")

OUTBOUND_FRAMES = 10_000
"""Frames a session may have queued for a slow client before subscriptions overflow."""
TRANSPORT_FRAMES = 256
"""Capacity of each direction of the in-memory transport."""
CLOSE_TIMEOUT_S = 1.0
ORDERBOOK = "orderbook_delta"
CHANNELS = {ORDERBOOK, "ticker", "trade", "fill", "market_positions", "market_lifecycle_v2",
            "multivariate_market_lifecycle", "communications", "order_group_updates",
            "user_orders", "cfbenchmarks_value", "pyth_value"}
SUPPORTED = {ORDERBOOK, "ticker", "trade", "fill", "user_orders", "market_positions",
             "market_lifecycle_v2"}
ERROR_TEXT = {
    1: "Unable to process message", 2: "Params required", 3: "Channels required",
    4: "Subscription IDs required", 5: "Unknown command", 6: "Already subscribed",
    7: "Unknown subscription ID", 8: "Unknown channel name", 9: "Authentication required",
    10: "Channel error", 11: "Invalid parameter", 12: "Exactly one subscription ID is required",
    13: "Unsupported action", 14: "Market Ticker required", 15: "Action required",
    16: "Market not found", 17: "Internal error", 25: "Subscription buffer overflow",
}


class WsConnection(Protocol):
    """The part of ``trio_websocket.WebSocketConnection`` a session uses."""

    async def send_message(self, message: str) -> None: ...

    async def get_message(self) -> str: ...

    async def aclose(self) -> None: ...


class ClientGone(Exception):
    """The client side of a connection went away."""


class CommandError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(f"{code} {ERROR_TEXT.get(code, '')}: {detail}")
        self.code = code
        self.detail = detail


@attrs.define(eq=False)
class Subscription:
    sid: int
    channel: str
    tickers: list[str] | None
    """None: every market (channels that allow it)."""
    use_yes_price: bool = False
    skip_ticker_ack: bool = False
    seq: int = 0

    def covers(self, ticker: str) -> bool:
        return self.tickers is None or ticker in self.tickers


@attrs.define(eq=False)
class KalshiWsSession:
    """One authenticated websocket connection: commands in, frames out."""

    exchange: KalshiExchange
    conn: WsConnection
    account: SimAccount
    subscriptions: dict[int, Subscription] = attrs.Factory(dict)
    close_code: int = 1000
    _next_sid: int = 1
    _out_send: trio.MemorySendChannel[str] = attrs.field(init=False)
    _out_recv: trio.MemoryReceiveChannel[str] = attrs.field(init=False)
    _errors: deque[str] = attrs.Factory(deque)
    """Terminal error frames waiting for queue space (at most one per subscription)."""
    _scope: trio.CancelScope = attrs.Factory(trio.CancelScope)

    def __attrs_post_init__(self) -> None:
        self._out_send, self._out_recv = trio.open_memory_channel(OUTBOUND_FRAMES)

    async def run(self) -> None:
        """Serve the connection until the client leaves or a fault drops it; then close it."""
        faults = faults_of(self.exchange)
        unregister = faults.register_session(self)
        self.exchange.add_listener(self._on_event)
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write_loop)
                    await self._read_loop()
                    nursery.cancel_scope.cancel()
        except* ClientGone:
            pass
        finally:
            self.exchange.remove_listener(self._on_event)
            unregister()
            with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await self.conn.aclose()

    # -- fault targets --

    def drop(self) -> None:
        self.close_code = 1006
        self._scope.cancel()

    def kill_subscriptions(self, sid: int | None, code: int) -> int:
        doomed = [s for s in self.subscriptions.values()
                  if (sid is None and s.channel == ORDERBOOK) or s.sid == sid]
        for sub in doomed:
            self._kill(sub, code)
        return len(doomed)

    def _kill(self, sub: Subscription, code: int) -> None:
        self.subscriptions.pop(sub.sid, None)
        self._errors.append(dumps({"type": "error", "sid": sub.sid,
                                   "msg": {"code": code, "msg": ERROR_TEXT[code]}}))
        self._flush_errors()

    def _flush_errors(self) -> None:
        while self._errors:
            try:
                self._out_send.send_nowait(self._errors[0])
            except trio.WouldBlock:
                return
            self._errors.popleft()

    # -- loops --

    async def _read_loop(self) -> None:
        while True:
            text = await self.conn.get_message()
            await self._handle(text)

    async def _write_loop(self) -> None:
        async for text in self._out_recv:
            await self.conn.send_message(text)
            self._flush_errors()

    async def _reply(self, frame: dict[str, Any]) -> None:
        await self._out_send.send(dumps(frame))

    def _enqueue(self, sub: Subscription, frame: dict[str, Any]) -> bool:
        """Queue a data frame; on overflow the subscription dies with error 25."""
        try:
            self._out_send.send_nowait(dumps(frame))
            return True
        except trio.WouldBlock:
            self._kill(sub, 25)
            return False

    # -- commands --

    async def _handle(self, text: str) -> None:
        cmd_id: int | None = None
        try:
            try:
                data = json.loads(text)
            except ValueError:
                raise CommandError(1, "message is not JSON") from None
            if not isinstance(data, dict):
                raise CommandError(1, "message must be a JSON object")
            raw_id = data.get("id")
            if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, int)
                                       or raw_id < 0):
                raise CommandError(1, f"id must be a non-negative integer, got {raw_id!r}")
            cmd_id = raw_id or None
            cmd = data.get("cmd")
            params = data.get("params")
            if params is not None and not isinstance(params, dict):
                raise CommandError(1, "params must be an object")
            if cmd == "subscribe":
                await self._subscribe(cmd_id, params)
            elif cmd == "unsubscribe":
                await self._unsubscribe(cmd_id, params)
            elif cmd == "update_subscription":
                await self._update(cmd_id, params)
            elif cmd == "list_subscriptions":
                await self._reply(_with_id(cmd_id, {"type": "ok", "msg": [
                    {"channel": s.channel, "sid": s.sid} for s in self.subscriptions.values()]}))
            else:
                raise CommandError(5, f"unknown command {cmd!r}")
        except CommandError as exc:
            await self._reply(_with_id(cmd_id, {"type": "error", "msg": {
                "code": exc.code, "msg": ERROR_TEXT.get(exc.code, "error")
                + (f": {exc.detail}" if exc.detail else "")}}))

    def _tickers_param(self, params: dict[str, Any], *, required: bool) -> list[str] | None:
        if "market_id" in params or "market_ids" in params:
            raise CommandError(11, "market_id/market_ids are not supported by this simulator")
        single, many = params.get("market_ticker"), params.get("market_tickers")
        if single is not None and many is not None:
            raise CommandError(11, "market_ticker and market_tickers are mutually exclusive")
        if single is not None:
            if not isinstance(single, str) or not single:
                raise CommandError(11, "market_ticker must be a string")
            tickers = [single]
        elif many is not None:
            if not isinstance(many, list) or not many or not all(
                    isinstance(t, str) and t for t in many):
                raise CommandError(11, "market_tickers must be a non-empty list of strings")
            tickers = list(dict.fromkeys(many))
        elif required:
            raise CommandError(14, "market_ticker or market_tickers required")
        else:
            return None
        unknown = [t for t in tickers if t not in self.exchange.markets]
        if unknown:
            raise CommandError(16, f"unknown market(s) {', '.join(unknown)}")
        return tickers

    async def _subscribe(self, cmd_id: int | None, params: dict[str, Any] | None) -> None:
        if params is None:
            raise CommandError(2)
        channels = params.get("channels")
        if not channels:
            raise CommandError(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise CommandError(11, "channels must be a list of strings")
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            raise CommandError(8, ", ".join(unknown))
        unsupported = [c for c in channels if c not in SUPPORTED]
        if unsupported:
            raise CommandError(10, f"channel(s) {', '.join(unsupported)} not simulated")
        use_yes = params.get("use_yes_price", False)
        skip_ack = params.get("skip_ticker_ack", False)
        if not isinstance(use_yes, bool) or not isinstance(skip_ack, bool):
            raise CommandError(11, "use_yes_price and skip_ticker_ack must be booleans")
        tickers = self._tickers_param(params, required=ORDERBOOK in channels)
        for channel in channels:
            existing = next((s for s in self.subscriptions.values() if s.channel == channel), None)
            if existing is not None:
                added = [t for t in tickers or () if existing.tickers is not None
                         and t not in existing.tickers]
                if not added:
                    await self._reply(_with_id(cmd_id, {"type": "error", "msg": {
                        "code": 6, "msg": ERROR_TEXT[6] + f": {channel} sid {existing.sid}"}}))
                    continue
                await self._reply(_with_id(cmd_id, {"type": "subscribed", "msg": {
                    "channel": channel, "sid": existing.sid}}))
                self._add_markets(existing, added)
                continue
            sid = self._next_sid
            self._next_sid += 1
            await self._reply(_with_id(cmd_id, {"type": "subscribed", "msg": {
                "channel": channel, "sid": sid}}))
            sub = Subscription(sid=sid, channel=channel, tickers=None if tickers is None
                               else list(tickers), use_yes_price=use_yes, skip_ticker_ack=skip_ack)
            self.subscriptions[sid] = sub
            if channel == ORDERBOOK:
                for ticker in sub.tickers or ():
                    self._send_snapshot(sub, ticker)

    async def _unsubscribe(self, cmd_id: int | None, params: dict[str, Any] | None) -> None:
        if params is None:
            raise CommandError(2)
        sids = params.get("sids")
        if not sids:
            raise CommandError(4)
        if not isinstance(sids, list) or not all(isinstance(s, int) for s in sids):
            raise CommandError(11, "sids must be a list of integers")
        for sid in sids:
            sub = self.subscriptions.pop(sid, None)
            if sub is None:
                await self._reply(_with_id(cmd_id, {"type": "error", "msg": {
                    "code": 7, "msg": f"{ERROR_TEXT[7]}: {sid}"}}))
                continue
            await self._reply(_with_id(cmd_id, {"type": "unsubscribed", "sid": sid,
                                                "seq": max(sub.seq, 1)}))

    async def _update(self, cmd_id: int | None, params: dict[str, Any] | None) -> None:
        if params is None:
            raise CommandError(2)
        action = params.get("action")
        if action is None:
            raise CommandError(15)
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            raise CommandError(13, f"action {action!r}")
        sid_list = params.get("sids")
        if ("sid" in params) == (sid_list is not None):
            raise CommandError(12)
        if sid_list is not None and (not isinstance(sid_list, list) or len(sid_list) != 1):
            raise CommandError(12)
        sid = params["sid"] if "sid" in params else sid_list[0]
        sub = self.subscriptions.get(sid) if isinstance(sid, int) else None
        if sub is None:
            raise CommandError(7, str(sid))
        if action == "get_snapshot" and sub.channel != ORDERBOOK:
            raise CommandError(13, "get_snapshot is only for orderbook_delta")
        if sub.tickers is None:
            raise CommandError(13, f"sid {sid} covers every market")
        tickers = self._tickers_param(params, required=True) or []
        if action == "delete_markets":
            sub.tickers = [t for t in sub.tickers if t not in tickers]
        added = [t for t in tickers if t not in sub.tickers] if action == "add_markets" else []
        msg: dict[str, Any] = ({} if sub.skip_ticker_ack
                               else {"market_tickers": [*sub.tickers, *added]})
        ok = {"type": "ok", "sid": sid, "msg": msg}
        if sub.seq:
            ok["seq"] = sub.seq
        await self._reply(_with_id(cmd_id, ok))
        if action == "get_snapshot":
            if sub.sid in self.subscriptions:
                for ticker in tickers:
                    self._send_snapshot(sub, ticker)
        else:
            self._add_markets(sub, added)

    def _add_markets(self, sub: Subscription, added: list[str]) -> None:
        """Start covering ``added`` and send their snapshots in one synchronous step, so no
        delta for a new market can precede its snapshot."""
        if sub.sid not in self.subscriptions or sub.tickers is None:
            return
        sub.tickers.extend(added)
        if sub.channel == ORDERBOOK:
            for ticker in added:
                self._send_snapshot(sub, ticker)

    # -- frames --

    def _send_snapshot(self, sub: Subscription, ticker: str) -> None:
        market = self.exchange.markets[ticker]
        yes, no = self.exchange.orderbook(ticker)
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": market.market_id}
        if yes:
            msg["yes_dollars_fp"] = [[price4(p), fp(q)] for p, q in yes]
        if no:
            levels = sorted((ONE - p, q) for p, q in no) if sub.use_yes_price else no
            msg["no_dollars_fp"] = [[price4(p), fp(q)] for p, q in levels]
        self._push_seq(sub, "orderbook_snapshot", msg, delta=False)

    def _push_seq(self, sub: Subscription, kind: str, msg: dict[str, Any], *, delta: bool) -> None:
        faults = faults_of(self.exchange)
        if delta and faults.skip_seq:
            sub.seq += faults.skip_seq
            faults.skip_seq = 0
        sub.seq += 1
        if faults.feeds_frozen:
            return
        frame = {"type": kind, "sid": sub.sid, "seq": sub.seq, "msg": msg}
        if self._enqueue(sub, frame) and delta and faults.repeat_seq:
            faults.repeat_seq -= 1
            self._enqueue(sub, frame)

    def _push(self, sub: Subscription, kind: str, msg: dict[str, Any]) -> None:
        if not faults_of(self.exchange).feeds_frozen:
            self._enqueue(sub, {"type": kind, "sid": sub.sid, "msg": msg})

    def _on_event(self, event: ExchangeEvent) -> None:
        for sub in list(self.subscriptions.values()):
            if sub.sid not in self.subscriptions:
                continue
            match event:
                case BookChanged() if sub.channel == ORDERBOOK and sub.covers(event.ticker):
                    self._push_seq(sub, "orderbook_delta", self._delta_msg(sub, event), delta=True)
                case BookChanged() | TradeHappened() if (sub.channel == "ticker"
                                                         and sub.covers(event.ticker)):
                    self._push(sub, "ticker", self._ticker_msg(event.ticker, event.ts_ms))
                case TradeHappened() if sub.channel == "trade" and sub.covers(event.ticker):
                    self._push(sub, "trade", _trade_msg(event))
                case FillHappened() if (sub.channel == "fill" and sub.covers(event.fill.ticker)
                                        and event.fill.user_id == self.account.user_id):
                    self._push(sub, "fill", _fill_msg(event))
                case FillHappened() if (sub.channel == "market_positions"
                                        and sub.covers(event.fill.ticker)
                                        and event.fill.user_id == self.account.user_id):
                    self._push(sub, "market_position", self._position_msg(event.fill.ticker))
                case OrderUpdated() if (sub.channel == "user_orders"
                                        and sub.covers(event.order.ticker)
                                        and event.order.user_id == self.account.user_id):
                    self._push(sub, "user_order", _user_order_msg(event))
                case MarketLifecycle() if (sub.channel == "market_lifecycle_v2"
                                           and sub.covers(event.ticker)):
                    self._push(sub, "market_lifecycle_v2", self._lifecycle_msg(event))

    def _delta_msg(self, sub: Subscription, event: BookChanged) -> dict[str, Any]:
        price = event.price
        if event.side == "no" and sub.use_yes_price:
            price = ONE - price
        msg: dict[str, Any] = {"market_ticker": event.ticker, "market_id": event.market_id,
                               "price_dollars": price4(price), "delta_fp": fp(event.delta),
                               "side": event.side, "ts_ms": event.ts_ms}
        if event.user_id == self.account.user_id:
            msg["client_order_id"] = event.client_order_id
            if event.subaccount:
                msg["subaccount"] = event.subaccount
        return msg

    def _ticker_msg(self, ticker: str, ts_ms: int) -> dict[str, Any]:
        market = self.exchange.markets[ticker]
        book = market.book
        bid, ask = book.best_bid(), book.best_ask()
        return {
            "market_ticker": ticker, "market_id": market.market_id,
            "price_dollars": price4(market.last_price),
            "yes_bid_dollars": price4(bid or 0),
            "yes_ask_dollars": price4(ask if ask is not None else ONE),
            "yes_bid_size_fp": fp(book.bids.size_at(bid) if bid is not None else 0),
            "yes_ask_size_fp": fp(book.asks.size_at(ask) if ask is not None else 0),
            "last_trade_size_fp": fp(market.last_trade_size), "volume_fp": fp(market.volume),
            "open_interest_fp": fp(market.open_interest),
            "dollar_volume": market.traded_value // ONE,
            "dollar_open_interest": market.open_interest // ONE,
            "ts": ts_ms // 1000, "ts_ms": ts_ms, "time": iso(ts_ms),
        }

    def _position_msg(self, ticker: str) -> dict[str, Any]:
        pos = self.account.positions[ticker]
        return {"user_id": self.account.user_id, "market_ticker": ticker,
                "position_fp": fp(pos.position), "position_cost_dollars": dollars(pos.exposure),
                "realized_pnl_dollars": dollars(pos.realized_pnl),
                "fees_paid_dollars": dollars(pos.fees_paid),
                "position_fee_cost_dollars": dollars(pos.fees_paid),
                "volume_fp": fp(pos.volume)}

    def _lifecycle_msg(self, event: MarketLifecycle) -> dict[str, Any]:
        market = self.exchange.markets[event.ticker]
        msg: dict[str, Any] = {"market_ticker": event.ticker, "event_type": event.event_type}
        if event.event_type in ("activated", "deactivated"):
            msg["is_deactivated"] = event.event_type == "deactivated"
        elif event.event_type == "close_date_updated":
            msg["close_ts"] = market.close_ms // 1000
        elif event.event_type == "determined":
            msg["result"] = market.result
            msg["determination_ts"] = event.ts_ms // 1000
        elif event.event_type == "settled":
            msg["settled_ts"] = event.ts_ms // 1000
        return msg


def _with_id(cmd_id: int | None, frame: dict[str, Any]) -> dict[str, Any]:
    return {"id": cmd_id, **frame} if cmd_id else frame


def _trade_msg(event: TradeHappened) -> dict[str, Any]:
    outcome = "yes" if event.taker_book_side == "bid" else "no"
    return {"trade_id": event.trade_id, "market_ticker": event.ticker,
            "yes_price_dollars": price4(event.price), "no_price_dollars": price4(ONE - event.price),
            "count_fp": fp(event.count), "taker_outcome_side": outcome,
            "taker_book_side": event.taker_book_side, "taker_side": outcome,
            "is_block_trade": False, "ts": event.ts_ms // 1000, "ts_ms": event.ts_ms}


def _fill_msg(event: FillHappened) -> dict[str, Any]:
    fill = event.fill
    msg: dict[str, Any] = {
        "trade_id": fill.trade_id, "order_id": fill.order_id, "market_ticker": fill.ticker,
        "exchange_index": 0, "is_taker": fill.is_taker, "side": fill.outcome_side,
        "action": "buy", "outcome_side": fill.outcome_side, "book_side": fill.book_side,
        "purchased_side": fill.outcome_side, "yes_price_dollars": price4(fill.price),
        "count_fp": fp(fill.count), "fee_cost": dollars(fill.fee_cost),
        "post_position_fp": fp(fill.post_position), "client_order_id": fill.client_order_id,
        "ts": fill.ts_ms // 1000, "ts_ms": fill.ts_ms}
    if fill.subaccount:
        msg["subaccount"] = fill.subaccount
    return msg


def _user_order_msg(event: OrderUpdated) -> dict[str, Any]:
    order = event.order
    msg: dict[str, Any] = {
        "order_id": order.order_id, "user_id": order.user_id, "ticker": order.ticker,
        "status": order.status, "side": order.outcome_side, "is_yes": order.book_side == "bid",
        "outcome_side": order.outcome_side, "book_side": order.book_side,
        "yes_price_dollars": price4(order.price), "fill_count_fp": fp(order.filled),
        "remaining_count_fp": fp(order.remaining), "initial_count_fp": fp(order.initial),
        "taker_fill_cost_dollars": dollars(order.taker_fill_cost),
        "maker_fill_cost_dollars": dollars(order.maker_fill_cost),
        "taker_fees_dollars": dollars(order.taker_fees),
        "maker_fees_dollars": dollars(order.maker_fees),
        "client_order_id": order.client_order_id,
        "self_trade_prevention_type": order.self_trade_prevention,
        "created_time": iso(order.created_ms), "created_ts_ms": order.created_ms,
        "last_update_time": iso(order.updated_ms), "last_updated_ts_ms": order.updated_ms,
        "subaccount_number": order.subaccount}
    if order.expiration_ms is not None:
        msg["expiration_ts_ms"] = order.expiration_ms
        msg["expiration_time"] = iso(order.expiration_ms)
    return msg


# ---- transports ----------------------------------------------------------------------------


@attrs.define(eq=False)
class _AsgiConnection:
    receive: Callable[[], Awaitable[dict]]
    send: Callable[[dict], Awaitable[None]]
    closed: bool = False
    session: KalshiWsSession | None = None

    async def get_message(self) -> str:
        while True:
            if self.closed:
                raise ClientGone()
            message = await self.receive()
            if message["type"] == "websocket.disconnect":
                self.closed = True
                raise ClientGone()
            if message["type"] == "websocket.receive":
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                return text

    async def send_message(self, message: str) -> None:
        if self.closed:
            raise ClientGone()
        await self.send({"type": "websocket.send", "text": message})

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            code = self.session.close_code if self.session else 1000
            # 1006 cannot travel in a close frame; a dropped session closes with 1011.
            await self.send({"type": "websocket.close", "code": 1011 if code == 1006 else code})


async def serve_asgi_websocket(app: KalshiSimApp, scope: dict,
                               receive: Callable[[], Awaitable[dict]],
                               send: Callable[[dict], Awaitable[None]]) -> None:
    """ASGI websocket handler: signed handshake (401 before accept), then a session."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    try:
        _refuse_if_down(app.exchange)
        account = authenticate(app.exchange, headers, "GET", scope["path"],
                               window_ms=app.auth_window_ms)
    except KalshiApiError as exc:
        body = dumps(exc.body()).encode()
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": exc.status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    conn = _AsgiConnection(receive, send)
    session = KalshiWsSession(app.exchange, conn, account)
    conn.session = session
    await session.run()


def _refuse_if_down(exchange: KalshiExchange) -> None:
    if faults_of(exchange).refusing:
        raise KalshiApiError(503, "service_unavailable", "exchange unavailable",
                             "fault injection: connections refused")


def kalshi_app(exchange: KalshiExchange, **kwargs: Any) -> KalshiSimApp:
    """The complete ASGI app (REST + websocket) for ``exchange``.

    Clients can use it in memory with ``httpx.AsyncClient(transport=httpx.ASGITransport(app))``
    (base URL ``http://kalshi-sim/trade-api/v2``), or serve it with ``serve_kalshi_sim``.
    """
    app = KalshiSimApp(exchange, **kwargs)

    async def handler(scope: dict, receive: Callable[[], Awaitable[dict]],
                      send: Callable[[dict], Awaitable[None]]) -> None:
        await serve_asgi_websocket(app, scope, receive, send)

    app.websocket_handler = handler
    return app


@attrs.define(eq=False)
class MemoryKalshiWs:
    """Client end of an in-memory websocket to the simulator (trio_websocket's method names).

    ``get_message``/``send_message`` raise ``trio_websocket.ConnectionClosed`` once the server
    closed (or dropped) the connection, like the real library.
    """

    _outgoing: trio.MemorySendChannel[str]
    _incoming: trio.MemoryReceiveChannel[str]
    closed: trio_websocket.CloseReason | None = None

    async def send_message(self, message: str) -> None:
        if self.closed is not None:
            raise trio_websocket.ConnectionClosed(self.closed)
        try:
            await self._outgoing.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise trio_websocket.ConnectionClosed(self._reason()) from None

    async def get_message(self) -> str:
        try:
            return await self._incoming.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise trio_websocket.ConnectionClosed(self._reason()) from None

    async def aclose(self) -> None:
        if self.closed is None:
            self.closed = trio_websocket.CloseReason(1000, "client closed")
        await self._outgoing.aclose()

    def _reason(self) -> trio_websocket.CloseReason:
        if self.closed is None:
            self.closed = trio_websocket.CloseReason(1006, "connection closed by the server")
        return self.closed


@attrs.define(eq=False)
class _MemoryServerConnection:
    incoming: trio.MemoryReceiveChannel[str]
    outgoing: trio.MemorySendChannel[str]
    client: MemoryKalshiWs
    session: KalshiWsSession | None = None

    async def get_message(self) -> str:
        try:
            return await self.incoming.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise ClientGone() from None

    async def send_message(self, message: str) -> None:
        try:
            await self.outgoing.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ClientGone() from None

    async def aclose(self) -> None:
        if self.client.closed is None:
            code = self.session.close_code if self.session else 1000
            self.client.closed = trio_websocket.CloseReason(code, "closed by the server")
        await self.outgoing.aclose()


@asynccontextmanager
async def open_memory_kalshi_ws(exchange: KalshiExchange, headers: dict[str, str], *,
                                path: str = WS_PATH,
                                window_ms: int = DEFAULT_WINDOW_MS) -> AsyncIterator[MemoryKalshiWs]:
    """Connect to the simulator's websocket without sockets.

    ``headers`` are the three Kalshi auth headers, signed over ``ts + "GET" + path``. A bad
    handshake raises ``trio_websocket.ConnectionRejected`` with status 401, as over the network.
    """
    if path != WS_PATH:
        raise trio_websocket.ConnectionRejected(404, (), b"")
    try:
        _refuse_if_down(exchange)
        account = authenticate(exchange, {k.lower(): v for k, v in headers.items()}, "GET", path,
                               window_ms=window_ms)
    except KalshiApiError as exc:
        raise trio_websocket.ConnectionRejected(
            exc.status, ((b"content-type", b"application/json"),),
            dumps(exc.body()).encode()) from None
    c2s_send, c2s_recv = trio.open_memory_channel[str](TRANSPORT_FRAMES)
    s2c_send, s2c_recv = trio.open_memory_channel[str](TRANSPORT_FRAMES)
    client = MemoryKalshiWs(c2s_send, s2c_recv)
    server = _MemoryServerConnection(c2s_recv, s2c_send, client)
    session = KalshiWsSession(exchange, server, account)
    server.session = session
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.run)
            try:
                yield client
            finally:
                with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                    await client.aclose()
                nursery.cancel_scope.cancel()
    except ExceptionGroup as group:
        # An error raised by the caller's block comes out of the nursery wrapped; hand it back
        # unwrapped, as a plain context manager (and trio_websocket) would.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from group
        raise
