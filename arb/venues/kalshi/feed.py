# Design note: the Kalshi websocket feed (order books + our fills and orders).
#
# Problem: a Kalshi book is a snapshot followed by signed deltas; one lost, repeated or misread
# frame leaves a book that looks fine and is wrong, and a wrong book fires phantom arbs with real
# money. The socket itself fails in every way: drops, terminal subscription errors (10, 17, 25),
# sequence gaps, malformed frames, and silent freezes where the TCP connection lives on.
#
# Naive approach: apply every delta as it comes and reconnect when the socket closes. Gaps go
# unnoticed, a duplicated delta doubles a level, a frozen socket shows a stale book forever, and a
# parser exception kills the task and every book with it.
#
# Chosen: one task per connection owns the ``KalshiBook`` of every subscribed ticker and applies
# frames itself. Per ``sid`` it keeps the last ``seq``: a delta with ``seq <= last`` is a
# duplicate (ignored, counted); ``seq > last + 1`` is a gap: every book on that sid is invalidated
# and re-requested with ``update_subscription``/``get_snapshot`` (falling back to unsubscribe +
# subscribe when the venue refuses that action). A snapshot is always a reset point for its own
# ticker. A frame that does not parse is logged with the market, counted, and its book is
# invalidated and re-snapshotted; the feed keeps running. Terminal errors resubscribe (bounded per
# connection, then reconnect). Staleness: after ``probe_after`` seconds without a data frame the
# feed asks for one snapshot (so the probe travels the data path, not just the command path);
# after ``stale_after`` seconds without data every book is invalid and the connection is replaced.
# Every (re)connect bumps the epoch and invalidates every book until its new snapshot arrives.
# Reconnects back off exponentially with jitter and a cap, and give up (``FeedDown``) after a
# bounded number of consecutive failures; a 401/403 handshake raises ``AuthError`` at once.
#
# Listeners are told synchronously (``book_changed`` after each applied update, ``feed_health``
# on every state change) and must not block. Our fills and order updates go to a bounded Trio
# channel; if the consumer stalls longer than ``user_event_timeout`` the event is dropped, counted
# and logged (REST fills remain the source of truth for reconciliation), so market data never
# waits on a slow consumer.
#
# Venue facts (venues.md A7): subscribe ``orderbook_delta`` with ``market_tickers`` (required)
# and ``use_yes_price`` (we send true: the announced future default; NO levels then arrive in
# YES-leg prices); ``fill``/``user_orders`` without a market filter cover every market;
# snapshots carry ``yes_dollars_fp``/``no_dollars_fp`` (absent when empty), deltas
# ``price_dollars``/``delta_fp``/``side``/``ts_ms``; ``seq`` is per sid, do not assume it starts
# at 1; acks (``ok``/``unsubscribed``) may carry the sid's current seq and are not data.
from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any, Protocol

import attrs
import trio
import trio_websocket
from loguru import logger

from arb.book import BookError, KalshiBook, Liveness
from arb.domain import Outcome, Venue
from arb.money import MoneyError, parse_price, parse_signed_qty
from arb.venues.kalshi.auth import KalshiSigner
from arb.venues.kalshi.directory import OrderDirectory
from arb.venues.kalshi.parse import WireError, parse_fill, parse_levels, parse_order
from arb.venues.protocol import (
    AuthError,
    BookListener,
    FeedHealth,
    FeedState,
    Fill,
    OrderResult,
)

USE_YES_PRICE = True
"""Sent explicitly on every orderbook subscription; books are built with ``no_in_yes_prices``."""
ORDERBOOK = "orderbook_delta"
PRIVATE = ("fill", "user_orders")
TERMINAL_CODES = frozenset({10, 17, 25})
_K = Venue.KALSHI
_DATA_TYPES = frozenset({"orderbook_snapshot", "orderbook_delta", "fill", "user_order"})
_MAX_LOGGED_TYPES = 64


class WsConnection(Protocol):
    """The subset of ``trio_websocket.WebSocketConnection`` the feed uses."""

    async def send_message(self, message: str) -> None: ...

    async def get_message(self) -> str | bytes: ...

    async def aclose(self) -> None: ...


Connector = Callable[[], AbstractAsyncContextManager[WsConnection]]
"""Opens one websocket connection (signed fresh on every call)."""


class FeedDown(Exception):
    """The feed gave up after too many consecutive failed connections."""


class _Reconnect(Exception):
    """End this connection and start a new one (stale, or too many resubscribes)."""


@attrs.frozen
class FeedConfig:
    probe_after: float = 10.0
    """Seconds without a data frame before asking for a snapshot to prove the feed is alive."""
    stale_after: float = 30.0
    """Seconds without a data frame before every book is invalid and the socket is replaced."""
    resnapshot_after: float = 5.0
    """A requested snapshot that has not arrived after this long is requested again."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_failures: int = 100
    """Consecutive connections that never went live before ``FeedDown``."""
    max_resubscribes: int = 10
    """Terminal-error resubscriptions per connection before reconnecting instead."""
    user_event_timeout: float = 1.0


@attrs.frozen
class FeedStatistics:
    epoch: int
    messages: int
    gaps: int
    duplicates: int
    reconnects: int
    malformed: int
    book_errors: int
    """Deltas the book refused (out of sync: a level driven below zero)."""
    resubscribes: int
    stale: int
    unknown_types: int
    user_events_dropped: int


@attrs.frozen
class _Command:
    action: str
    tickers: tuple[str, ...] = ()
    sid: int | None = None


def kalshi_ws_connector(url: str, signer: KalshiSigner, *, connect_timeout: float = 10.0,
                        message_queue_size: int = 4096) -> Connector:
    """Connect to ``url`` with trio_websocket, signing the handshake on every attempt."""
    def connect() -> AbstractAsyncContextManager[WsConnection]:
        headers = [(k.encode(), v.encode()) for k, v in signer.websocket_headers().items()]
        return trio_websocket.open_websocket_url(
            url, extra_headers=headers, connect_timeout=connect_timeout,
            disconnect_timeout=2.0, message_queue_size=message_queue_size,
            max_message_size=16 * 1024 * 1024)
    return connect


_CONNECTION_ERRORS = (trio_websocket.ConnectionClosed, trio_websocket.HandshakeError, OSError,
                      trio.BrokenResourceError, trio.ClosedResourceError, _Reconnect)


@attrs.define(eq=False)
class KalshiFeed:
    """Live state of one Kalshi websocket feed; created and driven by ``serve_kalshi_feed``."""

    connect: Connector
    listener: BookListener
    user_events: trio.MemorySendChannel[Fill | OrderResult] | None = None
    directory: OrderDirectory | None = None
    config: FeedConfig = FeedConfig()
    rng: random.Random = attrs.field(factory=random.Random)

    _wanted: dict[str, None] = attrs.field(factory=dict, init=False)
    _books: dict[str, KalshiBook] = attrs.field(factory=dict, init=False)
    _invalid: set[str] = attrs.field(factory=set, init=False)
    _wake: trio.Event = attrs.field(factory=trio.Event, init=False)
    _health: FeedHealth | None = attrs.field(default=None, init=False)
    _started: bool = attrs.field(default=False, init=False)
    _task_status: Any = attrs.field(default=None, init=False)
    _seen_types: set[str] = attrs.field(factory=set, init=False)
    # per connection
    _conn: WsConnection | None = attrs.field(default=None, init=False)
    _send_lock: trio.Lock = attrs.field(factory=trio.Lock, init=False)
    _next_id: int = attrs.field(default=1, init=False)
    _pending: dict[int, _Command] = attrs.field(factory=dict, init=False)
    _ob_sid: int | None = attrs.field(default=None, init=False)
    _ob_subscribing: bool = attrs.field(default=False, init=False)
    _private_sids: set[int] = attrs.field(factory=set, init=False)
    _private_ready: bool = attrs.field(default=False, init=False)
    _requested: set[str] = attrs.field(factory=set, init=False)
    _last_seq: dict[int, int] = attrs.field(factory=dict, init=False)
    _snapshot_asked: dict[str, float] = attrs.field(factory=dict, init=False)
    _last_data: float = attrs.field(default=0.0, init=False)
    _liveness: Liveness = attrs.field(factory=Liveness, init=False)
    """Shared with every book: the time of the last data frame on a gap-free connection."""
    _probe_index: int = attrs.field(default=0, init=False)
    _resubscribes_here: int = attrs.field(default=0, init=False)
    _went_live: bool = attrs.field(default=False, init=False)
    # counters
    _epoch: int = attrs.field(default=0, init=False)
    _messages: int = attrs.field(default=0, init=False)
    _gaps: int = attrs.field(default=0, init=False)
    _duplicates: int = attrs.field(default=0, init=False)
    _reconnects: int = attrs.field(default=0, init=False)
    _malformed: int = attrs.field(default=0, init=False)
    _book_errors: int = attrs.field(default=0, init=False)
    _resubscribes: int = attrs.field(default=0, init=False)
    _stale: int = attrs.field(default=0, init=False)
    _unknown_types: int = attrs.field(default=0, init=False)
    _user_dropped: int = attrs.field(default=0, init=False)

    # -- public --------------------------------------------------------------------------------

    def book(self, ticker: str) -> KalshiBook | None:
        return self._books.get(ticker)

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(self._wanted)

    @property
    def health(self) -> FeedHealth | None:
        return self._health

    def add_tickers(self, tickers: Iterable[str]) -> None:
        """Start maintaining books for ``tickers`` (subscribed on the live connection)."""
        for ticker in tickers:
            if ticker not in self._wanted:
                self._wanted[ticker] = None
                self._books[ticker] = KalshiBook(ticker, no_in_yes_prices=USE_YES_PRICE,
                                                liveness=self._liveness)
                self._invalid.add(ticker)
        self._wake.set()

    def remove_tickers(self, tickers: Iterable[str]) -> None:
        """Stop maintaining books for ``tickers`` (unsubscribed on the live connection)."""
        for ticker in tickers:
            if ticker in self._wanted:
                del self._wanted[ticker]
                book = self._books.pop(ticker)
                book.invalidate("unsubscribed")
                self._invalid.discard(ticker)
                self._snapshot_asked.pop(ticker, None)
        self._wake.set()
        self._check_live()

    def statistics(self) -> FeedStatistics:
        return FeedStatistics(self._epoch, self._messages, self._gaps, self._duplicates,
                              self._reconnects, self._malformed, self._book_errors,
                              self._resubscribes, self._stale, self._unknown_types,
                              self._user_dropped)

    # -- connection loop -----------------------------------------------------------------------

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self._task_status = task_status
        failures = 0
        while True:
            self._epoch += 1
            if self._epoch > 1:
                self._reconnects += 1
            self._invalidate(self._wanted, f"connection epoch {self._epoch}: awaiting snapshot")
            self._report(FeedState.CONNECTING, f"connecting (epoch {self._epoch})")
            reason = "connection ended"
            refused: int | None = None
            self._went_live = False
            try:
                async with self.connect() as conn:
                    await self._session(conn)
            except* trio_websocket.ConnectionRejected as group:
                refused = getattr(group.exceptions[0], "status_code", None)
                reason = f"handshake refused: HTTP {refused}"
            except* _CONNECTION_ERRORS as group:
                exc = group.exceptions[0]
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._conn = None
            if refused in (401, 403):
                self._report(FeedState.DOWN, f"websocket handshake refused: HTTP {refused}")
                raise AuthError(_K, f"websocket handshake refused with HTTP {refused}: check the "
                                    "API key, the system clock (ms timestamps), the host and the "
                                    "region (CloudFront 403)", status=refused)
            failures = 0 if self._went_live else failures + 1
            self._invalidate(self._wanted, f"disconnected: {reason}")
            if failures >= self.config.max_failures:
                self._report(FeedState.DOWN, f"gave up after {failures} failed connections: "
                                             f"{reason}")
                raise FeedDown(f"kalshi feed: {failures} consecutive failed connections; last: "
                               f"{reason}")
            delay = min(self.config.backoff_cap,
                        self.config.backoff_base * 2 ** max(failures - 1, 0))
            delay *= 0.5 + 0.5 * self.rng.random()
            logger.warning("kalshi feed: {}; reconnecting in {:.2f} s", reason, delay)
            self._report(FeedState.RECONNECTING, f"{reason}; retry in {delay:.2f} s")
            await trio.sleep(delay)

    async def _session(self, conn: WsConnection) -> None:
        self._conn = conn
        self._pending.clear()
        self._ob_sid = None
        self._ob_subscribing = False
        self._private_sids.clear()
        self._private_ready = self.user_events is None
        self._requested.clear()
        self._last_seq.clear()
        self._snapshot_asked.clear()
        self._resubscribes_here = 0
        self._last_data = trio.current_time()
        if self.user_events is not None:
            await self._subscribe_private()
        await self._sync_subscriptions()
        self._check_live()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._control_loop)
            await self._read_loop(conn)

    async def _read_loop(self, conn: WsConnection) -> None:
        probes = 0
        while True:
            silence_budget = (self.config.probe_after * (probes + 1))
            deadline = self._last_data + min(silence_budget, self.config.stale_after)
            text: str | bytes | None = None
            with trio.move_on_at(deadline):
                text = await conn.get_message()
            if text is not None:
                before = self._last_data
                await self._handle(text)
                if self._last_data != before:
                    probes = 0
                continue
            if trio.current_time() - self._last_data >= self.config.stale_after:
                self._stale += 1
                self._invalidate(self._wanted, f"no data for {self.config.stale_after:g} s")
                self._report(FeedState.STALE, f"no data for {self.config.stale_after:g} s")
                raise _Reconnect(f"no data for {self.config.stale_after:g} s")
            probes += 1
            await self._probe()

    async def _control_loop(self) -> None:
        """Apply ticker changes and re-ask for snapshots that did not come."""
        while True:
            with trio.move_on_after(self.config.resnapshot_after):
                await self._wake.wait()
            self._wake = trio.Event()
            await self._sync_subscriptions()
            now = trio.current_time()
            overdue = [t for t, asked in self._snapshot_asked.items()
                       if now - asked >= self.config.resnapshot_after and t in self._invalid]
            if overdue and self._ob_sid is not None:
                await self._ask_snapshots(overdue, force=True)

    # -- commands ------------------------------------------------------------------------------

    async def _send(self, payload: dict[str, Any], command: _Command | None = None) -> int:
        conn = self._conn
        if conn is None:
            raise _Reconnect("no connection")
        cmd_id = self._next_id
        self._next_id += 1
        if command is not None:
            self._pending[cmd_id] = command
        async with self._send_lock:
            await conn.send_message(json.dumps({"id": cmd_id, **payload}))
        return cmd_id

    async def _subscribe_private(self) -> None:
        await self._send({"cmd": "subscribe", "params": {"channels": list(PRIVATE)}},
                         _Command("subscribe_private"))

    async def _sync_subscriptions(self) -> None:
        """Bring the venue's orderbook subscription in line with the wanted tickers."""
        if self._conn is None:
            return
        to_add = [t for t in self._wanted if t not in self._requested]
        if self._ob_sid is None:
            if self._ob_subscribing or not to_add:
                return
            self._ob_subscribing = True
            self._requested.update(to_add)
            self._mark_asked(to_add)
            await self._send({"cmd": "subscribe", "params": {
                "channels": [ORDERBOOK], "market_tickers": to_add,
                "use_yes_price": USE_YES_PRICE}}, _Command("subscribe", tuple(to_add)))
            return
        to_remove = [t for t in self._requested if t not in self._wanted]
        if to_remove:
            self._requested.difference_update(to_remove)
            await self._send({"cmd": "update_subscription", "params": {
                "sids": [self._ob_sid], "market_tickers": to_remove,
                "action": "delete_markets"}}, _Command("delete_markets", tuple(to_remove)))
        if to_add:
            self._requested.update(to_add)
            self._mark_asked(to_add)
            await self._send({"cmd": "update_subscription", "params": {
                "sids": [self._ob_sid], "market_tickers": to_add, "action": "add_markets"}},
                _Command("add_markets", tuple(to_add), self._ob_sid))

    def _mark_asked(self, tickers: Iterable[str]) -> None:
        """A subscription asks for snapshots too: if they do not come, ask again later."""
        now = trio.current_time()
        for ticker in tickers:
            self._snapshot_asked[ticker] = now

    async def _ask_snapshots(self, tickers: Iterable[str], *, force: bool = False) -> None:
        now = trio.current_time()
        wanted = [t for t in tickers if t in self._wanted
                  and (force or t not in self._snapshot_asked)]
        if not wanted or self._ob_sid is None:
            return
        for ticker in wanted:
            self._snapshot_asked[ticker] = now
        await self._send({"cmd": "update_subscription", "params": {
            "sids": [self._ob_sid], "market_tickers": wanted, "action": "get_snapshot"}},
            _Command("get_snapshot", tuple(wanted), self._ob_sid))

    async def _probe(self) -> None:
        """Ask for something that travels the data path: one book's snapshot (or, with no
        books, the subscription list)."""
        subscribed = [t for t in self._wanted if t in self._requested]
        if self._ob_sid is not None and subscribed:
            ticker = subscribed[self._probe_index % len(subscribed)]
            self._probe_index += 1
            await self._ask_snapshots([ticker], force=True)
        else:
            await self._send({"cmd": "list_subscriptions"}, _Command("probe"))

    async def _resubscribe_orderbook(self, reason: str, *, dead_sid: int | None) -> None:
        self._resubscribes += 1
        self._resubscribes_here += 1
        if self._resubscribes_here > self.config.max_resubscribes:
            raise _Reconnect(f"{self._resubscribes_here} resubscriptions on one connection")
        old = self._ob_sid
        self._ob_sid = None
        self._ob_subscribing = False
        if old is not None:
            self._last_seq.pop(old, None)
        self._requested.clear()
        self._snapshot_asked.clear()
        self._invalidate(self._wanted, reason)
        self._report_gap(reason, tuple(self._wanted))
        if old is not None and old != dead_sid:
            await self._send({"cmd": "unsubscribe", "params": {"sids": [old]}},
                             _Command("unsubscribe", sid=old))
        await self._sync_subscriptions()

    # -- frames --------------------------------------------------------------------------------

    async def _handle(self, text: str | bytes) -> None:
        self._messages += 1
        try:
            frame = json.loads(text, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            self._malformed += 1
            logger.error("kalshi feed: malformed frame (not JSON), skipped: {!r}",
                         text[:200])
            return
        if not isinstance(frame, dict):
            self._malformed += 1
            logger.error("kalshi feed: malformed frame (not an object), skipped: {!r}",
                         text[:200])
            return
        kind = frame.get("type")
        if not isinstance(kind, str | None):
            self._malformed += 1
            logger.error("kalshi feed: malformed frame (type is not a string), skipped: {!r}",
                         text[:200])
            return
        if kind in _DATA_TYPES:
            self._last_data = trio.current_time()
            if kind == "orderbook_snapshot" or kind == "orderbook_delta":
                self._liveness.last_data = self._last_data
        if kind == "orderbook_snapshot" or kind == "orderbook_delta":
            await self._on_book_frame(kind, frame)
        elif kind == "fill" or kind == "user_order":
            await self._on_user_frame(kind, frame)
        elif kind == "subscribed":
            await self._on_subscribed(frame)
        elif kind == "error":
            await self._on_error(frame)
        elif kind in ("ok", "unsubscribed"):
            self._pending.pop(_command_id(frame), None)
        else:
            self._unknown_types += 1
            if len(self._seen_types) < _MAX_LOGGED_TYPES and str(kind) not in self._seen_types:
                self._seen_types.add(str(kind))
                logger.warning("kalshi feed: ignoring unknown message type {!r}", kind)

    async def _on_book_frame(self, kind: str, frame: dict[str, Any]) -> None:
        sid, seq, msg = frame.get("sid"), frame.get("seq"), frame.get("msg")
        ticker = msg.get("market_ticker") if isinstance(msg, dict) else None
        if not isinstance(ticker, str):
            ticker = None
        if not _is_int(sid) or not _is_int(seq) or not isinstance(msg, dict) or ticker is None:
            await self._malformed_frame(kind, ticker, "missing sid, seq, msg or market_ticker")
            return
        if sid != self._ob_sid:
            logger.debug("kalshi feed: {} for {} on stale sid {} ignored", kind, ticker, sid)
            return
        last = self._last_seq.get(sid)
        if kind == "orderbook_snapshot":
            if last is not None and seq < last:
                self._duplicates += 1
                return
            if last is not None and seq > last + 1:
                await self._gap(sid, last, seq, exclude=ticker)
            self._last_seq[sid] = seq if last is None else max(seq, last)
            self._apply_snapshot(ticker, msg)
            return
        if last is not None and seq <= last:
            self._duplicates += 1
            return
        self._last_seq[sid] = seq
        if last is not None and seq > last + 1:
            await self._gap(sid, last, seq)
            return
        await self._apply_delta(ticker, msg)

    def _apply_snapshot(self, ticker: str, msg: dict[str, Any]) -> None:
        book = self._books.get(ticker)
        if book is None:
            return
        where = f"kalshi snapshot {ticker}"
        try:
            if "yes_dollars_fp" not in msg and "no_dollars_fp" not in msg and (
                    "yes" in msg or "no" in msg or "yes_dollars" in msg or "no_dollars" in msg):
                raise WireError(f"{where}: legacy snapshot fields (yes/no) without "
                                "yes_dollars_fp/no_dollars_fp")
            yes = parse_levels(msg.get("yes_dollars_fp", []), f"{where} yes_dollars_fp")
            no = parse_levels(msg.get("no_dollars_fp", []), f"{where} no_dollars_fp")
            book.apply_snapshot(yes, no, received_at=trio.current_time(),
                                venue_ts_ms=msg.get("ts_ms") if _is_int(msg.get("ts_ms"))
                                else None)
        except (WireError, BookError) as exc:
            self._malformed += 1
            book.invalidate(str(exc))
            self._invalid.add(ticker)
            logger.error("kalshi feed: bad snapshot for {}: {}", ticker, exc)
            self._report_gap(f"bad snapshot: {exc}", (ticker,))
            return
        self._snapshot_asked.pop(ticker, None)
        self._invalid.discard(ticker)
        self.listener.book_changed(_K, ticker)
        self._check_live()

    async def _apply_delta(self, ticker: str, msg: dict[str, Any]) -> None:
        book = self._books.get(ticker)
        if book is None:
            return
        try:
            side = msg.get("side")
            if side not in ("yes", "no"):
                raise WireError(f"field 'side' must be 'yes' or 'no', got {side!r}")
            if "price_dollars" not in msg or "delta_fp" not in msg:
                raise WireError("fields 'price_dollars' and 'delta_fp' are required (legacy "
                                "'price'/'delta' are not accepted)")
            price = parse_price(msg["price_dollars"], what="price_dollars")
            delta = parse_signed_qty(msg["delta_fp"], what="delta_fp")
        except (WireError, MoneyError) as exc:
            await self._malformed_frame("orderbook_delta", ticker, str(exc))
            return
        ts = msg.get("ts_ms")
        try:
            book.apply_delta(Outcome(side), price, delta, received_at=trio.current_time(),
                             venue_ts_ms=ts if _is_int(ts) else None)
        except BookError as exc:
            self._book_errors += 1
            logger.error("kalshi feed: delta refused by book {}: {}", ticker, exc)
            self._invalid.add(ticker)
            self._report_gap(f"book out of sync: {exc}", (ticker,))
            await self._ask_snapshots([ticker])
            return
        if book.valid:
            self.listener.book_changed(_K, ticker)

    async def _malformed_frame(self, kind: str, ticker: str | None, problem: str) -> None:
        self._malformed += 1
        logger.error("kalshi feed: malformed {} for {}: {}; skipped", kind, ticker or "?",
                     problem)
        if ticker is not None and ticker in self._books:
            self._books[ticker].invalidate(f"malformed {kind}: {problem}")
            self._invalid.add(ticker)
            self._report_gap(f"malformed {kind}: {problem}", (ticker,))
            await self._ask_snapshots([ticker])

    async def _gap(self, sid: int, last: int, seq: int, *, exclude: str | None = None) -> None:
        self._gaps += 1
        affected = [t for t in self._wanted if t in self._requested and t != exclude]
        logger.warning("kalshi feed: seq gap on sid {} ({} -> {}); re-snapshotting {} books", sid,
                       last, seq, len(affected))
        self._invalidate(affected, f"seq gap {last} -> {seq}")
        self._report_gap(f"seq gap {last} -> {seq} on sid {sid}", tuple(affected))
        await self._ask_snapshots(affected, force=True)

    async def _on_user_frame(self, kind: str, frame: dict[str, Any]) -> None:
        msg = frame.get("msg")
        if self.user_events is None:
            return
        try:
            if not isinstance(msg, dict):
                raise WireError(f"kalshi {kind}: 'msg' is not an object")
            order_id, client_id = msg.get("order_id"), msg.get("client_order_id")
            intent = self.directory.lookup(
                order_id if isinstance(order_id, str) else None,
                client_id if isinstance(client_id, str) else None) \
                if self.directory is not None else None
            event: Fill | OrderResult
            if kind == "fill":
                event = parse_fill(msg, intent=intent)
            else:
                event = parse_order(msg, kind="user_order", intent=intent).to_result()
        except WireError as exc:
            self._malformed += 1
            logger.error("kalshi feed: malformed {} skipped: {}", kind, exc)
            return
        delivered = False
        try:
            self.user_events.send_nowait(event)
            delivered = True
        except trio.WouldBlock:
            with trio.move_on_after(self.config.user_event_timeout):
                try:
                    await self.user_events.send(event)
                    delivered = True
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        if delivered:
            return
        self._user_dropped += 1
        logger.error("kalshi feed: {} for order {} dropped: consumer not keeping up (REST "
                     "reconciliation will recover it)", kind, msg.get("order_id"))

    async def _on_subscribed(self, frame: dict[str, Any]) -> None:
        msg = frame.get("msg") if isinstance(frame.get("msg"), dict) else {}
        channel, sid = msg.get("channel"), msg.get("sid")
        self._pending.pop(_command_id(frame), None)
        if not _is_int(sid):
            self._malformed += 1
            logger.error("kalshi feed: 'subscribed' without a sid: {}", frame)
            return
        if channel == ORDERBOOK:
            if self._ob_sid != sid:
                self._last_seq.pop(sid, None)
            self._ob_sid = sid
            self._ob_subscribing = False
            await self._sync_subscriptions()
        elif channel in PRIVATE:
            self._private_sids.add(sid)
            if len(self._private_sids) >= len(PRIVATE):
                self._private_ready = True
                self._check_live()

    async def _on_error(self, frame: dict[str, Any]) -> None:
        msg = frame.get("msg") if isinstance(frame.get("msg"), dict) else {}
        code = msg.get("code") if _is_int(msg.get("code")) else None
        text = msg.get("msg", "")
        command = self._pending.pop(_command_id(frame), None)
        sid = frame.get("sid") if _is_int(frame.get("sid")) else (
            command.sid if command is not None else None)
        if code in TERMINAL_CODES:
            logger.warning("kalshi feed: terminal error {} ({}) on sid {}; resubscribing", code,
                           text, sid)
            orderbook = sid is None or sid == self._ob_sid
            if (sid is None or not orderbook) and self.user_events is not None:
                self._private_sids.discard(sid)
                self._private_ready = False
                await self._subscribe_private()
            if orderbook:
                await self._resubscribe_orderbook(f"subscription error {code}: {text}",
                                                  dead_sid=sid)
            return
        action = command.action if command is not None else None
        if code == 16 and command is not None and command.tickers:
            await self._market_not_found(command, msg, text)
        elif action == "get_snapshot":
            logger.warning("kalshi feed: get_snapshot refused ({} {}); resubscribing instead",
                           code, text)
            await self._resubscribe_orderbook(f"get_snapshot refused: {text}",
                                              dead_sid=None)
        elif code == 6 and action == "subscribe_private":
            self._private_ready = True
            self._check_live()
        elif action in ("subscribe", "subscribe_private"):
            logger.error("kalshi feed: subscribe refused: {} {}", code, text)
            if action == "subscribe":
                self._ob_subscribing = False
                self._requested.difference_update(command.tickers if command else ())
        elif code == 7 and action == "unsubscribe":
            logger.debug("kalshi feed: sid {} already gone", sid)
        else:
            logger.warning("kalshi feed: venue error {} {} for {}", code, text, action)

    async def _market_not_found(self, command: _Command, msg: Mapping[str, Any],
                                text: str) -> None:
        if command.action == "subscribe":
            self._ob_subscribing = False
        self._requested.difference_update(command.tickers)
        named = msg.get("market_ticker")
        if isinstance(named, str) and named in command.tickers:
            bad = [named]
        elif len(command.tickers) == 1:
            bad = list(command.tickers)
        else:
            bad = []
        for ticker in bad:
            logger.error("kalshi feed: market {} not found; dropping it from the feed ({})",
                         ticker, text)
            self.remove_tickers([ticker])
        if bad:
            await self._sync_subscriptions()
            return
        # Not told which ticker: retry one by one so the bad one is isolated. State changes
        # come before the sends so the control loop cannot request the same tickers again.
        sid = self._ob_sid
        self._requested.update(command.tickers)
        self._mark_asked(command.tickers)
        self._ob_subscribing = sid is None
        for ticker in command.tickers:
            if sid is None:
                await self._send({"cmd": "subscribe", "params": {
                    "channels": [ORDERBOOK], "market_tickers": [ticker],
                    "use_yes_price": USE_YES_PRICE}}, _Command("subscribe", (ticker,)))
            else:
                await self._send({"cmd": "update_subscription", "params": {
                    "sids": [sid], "market_tickers": [ticker], "action": "add_markets"}},
                    _Command("add_markets", (ticker,), sid))

    # -- state ---------------------------------------------------------------------------------

    def _invalidate(self, tickers: Iterable[str], reason: str) -> None:
        for ticker in tickers:
            book = self._books.get(ticker)
            if book is not None:
                book.invalidate(reason)
                self._invalid.add(ticker)

    def _report(self, state: FeedState, detail: str, keys: tuple[str, ...] = ()) -> None:
        health = FeedHealth(_K, state, self._epoch, detail, keys)
        previous = self._health
        if previous is not None and (previous.state, previous.epoch, previous.keys) == (
                health.state, health.epoch, health.keys):
            return
        self._health = health
        self.listener.feed_health(health)

    def _report_gap(self, detail: str, keys: tuple[str, ...]) -> None:
        if keys:
            self._report(FeedState.GAP, detail, tuple(sorted(set(keys) | self._invalid)))

    def _check_live(self) -> None:
        if self._conn is None or self._invalid or not self._private_ready:
            return
        self._went_live = True
        self._report(FeedState.LIVE, f"{len(self._wanted)} books live")
        if not self._started:
            self._started = True
            self._task_status.started(self)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _command_id(frame: Mapping[str, Any]) -> int | None:
    """The command id a frame answers; None when absent or not an integer."""
    value = frame.get("id")
    return value if _is_int(value) else None


async def serve_kalshi_feed(connect: Connector, tickers: Iterable[str], listener: BookListener,
                            *, user_events: trio.MemorySendChannel[Fill | OrderResult] | None = None,
                            directory: OrderDirectory | None = None,
                            config: FeedConfig = FeedConfig(), rng: random.Random | None = None,
                            task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Maintain Kalshi books for ``tickers`` until cancelled.

    Start it with ``feed = await nursery.start(serve_kalshi_feed, ...)``: it reports ready (and
    returns the ``KalshiFeed`` handle) once every requested book has its first snapshot and, when
    ``user_events`` is given, the private ``fill``/``user_orders`` channels are subscribed.

    Raises:
        AuthError: the websocket handshake was refused with 401/403.
        FeedDown: ``config.max_failures`` consecutive connections failed.
    """
    feed = KalshiFeed(connect, listener, user_events, directory, config,
                      rng or random.Random())
    feed.add_tickers(tickers)
    await feed.run(task_status)
