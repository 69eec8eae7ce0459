# Design note: the Polymarket market-data websocket feed.
#
# Problem: Polymarket's market channel has no sequence numbers. Books arrive as `book` snapshots
# (an array of them right after subscribing) and `price_change` level replacements; a socket can
# freeze silently for hours while still answering PING with PONG; frames can be malformed,
# decimals can be "", tick sizes change mid-game, and one socket should not carry more than a
# couple of hundred assets. A stale or half-applied book is how arb bots lose money.
#
# Naive approach: one socket, subscribe once, apply whatever arrives, reconnect on close. A
# frozen socket then serves a book frozen at its last update forever, a dropped message leaves a
# silently wrong book, and `price_change` sides filtered on the wrong words never apply.
#
# Chosen approach:
# - Tokens are spread over sockets of at most ``max_assets_per_socket``; each socket runs
#   connect -> subscribe -> read, with a text PING every ``ping_interval``. Every (re)connect
#   bumps the feed's epoch and invalidates that socket's books until each gets a fresh `book`.
# - The feed owns one ``arb.book.PolyBook`` per token and applies snapshots and level
#   replacements itself (side BUY = bid level, SELL = ask level, size = new total); after each
#   applied change it calls ``listener.book_changed`` (synchronous, never blocks).
# - Consistency: every `price_change` entry carries the venue's best bid/ask; after applying a
#   message the book's best levels must equal the last entry's. A mismatch, or a malformed event,
#   invalidates that book and resyncs it (unsubscribe + subscribe forces a new snapshot; a plain
#   duplicate subscribe is ignored by the venue). A frame we cannot attribute to a token
#   invalidates and resyncs every book of its socket. Unknown event types are counted and ignored.
# - Staleness watchdog: PONGs do not count as data. After ``probe_after`` seconds without data the
#   socket resubscribes one token without invalidating it (a healthy server must answer with a
#   `book`, which counts as data); after ``max_silence``
#   seconds without data the socket is declared STALE, its books invalidated, and it reconnects.
# - Reconnects use jittered capped exponential backoff; after too many consecutive failures the
#   feed reports DOWN and raises FeedDown for its supervisor.
# - Resubscription traffic is throttled to one batch per ``resync_min_interval``; a token whose
#   snapshot does not come within ``snapshot_timeout`` is resubscribed again (never a reconnect
#   loop: one unknown token must not keep tearing down a socket shared by 199 good ones).
#
# Venue facts (venues.md B6.1, D7-D10): subscribe frame {"assets_ids": [...], "type": "market"};
# later {"assets_ids": [...], "operation": "subscribe" | "unsubscribe"}; PING/PONG as text; frames
# are one event object or an array of them; `book`, `price_change` (current `price_changes[]` and
# legacy `changes[]`), `tick_size_change`, `last_trade_price`, custom-feature events.
from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

import attrs
import trio
from loguru import logger

from arb.book import BookError, Liveness, PolyBook
from arb.domain import Side, Venue
from arb.money import CENT, SCALE, Price, Qty
from arb.venues.polymarket import wire
from arb.venues.polymarket.ws import (
    CLOSED_ERRORS,
    CONNECT_ERRORS,
    MARKET_WS_URL,
    Backoff,
    ConnectFn,
    FeedDown,
    WsConnection,
    default_connect,
)
from arb.venues.protocol import BookListener, FeedHealth, FeedState

_V = Venue.POLYMARKET
_IGNORED_TYPES = frozenset({"last_trade_price", "best_bid_ask", "new_market", "market_resolved"})


@attrs.frozen
class PolyFeedConfig:
    url: str = MARKET_WS_URL
    ping_interval: float = 10.0
    probe_after: float = 20.0
    """Seconds without data before one token is resubscribed to prove the socket alive."""
    max_silence: float = 40.0
    """Seconds without data (PONGs excluded) before the socket is declared stale."""
    max_assets_per_socket: int = 200
    resync_min_interval: float = 1.0
    snapshot_timeout: float = 10.0
    """A token still without a snapshot this long after (re)subscribing is resubscribed."""
    default_tick: Price = Price(CENT)
    """Tick assumed until a token's first `book` (which carries ``tick_size``)."""
    default_min_order_size: Qty = Qty(5 * SCALE)
    backoff: Backoff = Backoff()


@attrs.frozen
class PolyFeedStatistics:
    sockets: int
    tokens: int
    valid_books: int
    epoch: int
    frames: int
    books: int
    price_changes: int
    tick_changes: int
    ignored: int
    malformed: int
    mismatches: int
    resyncs: int
    snapshot_timeouts: int
    reconnects: int
    stale: int
    pings: int
    pongs: int


@attrs.define(eq=False)
class _Socket:
    index: int
    desired: set[str] = attrs.field(factory=set)
    subscribed: set[str] = attrs.field(factory=set)
    resync: set[str] = attrs.field(factory=set)
    awaiting: set[str] = attrs.field(factory=set)
    """Tokens still waiting for their first snapshot in this epoch (or since a resync)."""
    awaiting_since: float | None = None
    changed: trio.Event = attrs.field(factory=trio.Event)
    epoch: int = 0
    last_data: float = 0.0
    liveness: Liveness = attrs.field(factory=Liveness)
    """Shared with this socket's books: the time of its last market-data frame."""
    data_frames: int = 0
    end_reason: str = ""
    session: trio.CancelScope | None = None
    alive: bool = True
    """False once the socket's task has returned (it had no tokens left)."""

    def poke(self) -> None:
        self.changed.set()


@attrs.define(eq=False)
class PolymarketMarketFeed:
    """The running market feed: books, subscriptions and statistics.

    Get one from ``await nursery.start(serve_polymarket_feed, tokens, listener)``.
    """

    listener: BookListener
    config: PolyFeedConfig
    connect: ConnectFn
    rng: random.Random
    books: dict[str, PolyBook] = attrs.field(factory=dict)
    """Token id -> book. Read-only for everyone but the feed; check ``book.valid`` first."""
    _sockets: list[_Socket] = attrs.field(factory=list)
    _owner: dict[str, _Socket] = attrs.field(factory=dict)
    _unseeded: set[str] = attrs.field(factory=set)
    _seeded: trio.Event = attrs.field(factory=trio.Event)
    _nursery: trio.Nursery | None = None
    _epoch: int = 0
    _counts: dict[str, int] = attrs.field(factory=dict)

    # -- public API --------------------------------------------------------------------------

    def add_tokens(self, tokens: Iterable[str]) -> None:
        """Subscribe more tokens (new sockets are opened beyond the per-socket limit)."""
        assert self._nursery is not None, "feed is not running"
        for token in tokens:
            if token in self._owner:
                continue
            sock = next((s for s in self._sockets if s.alive
                         and len(s.desired) < self.config.max_assets_per_socket), None)
            if sock is None:
                sock = _Socket(len(self._sockets))
                self._sockets.append(sock)
                self._nursery.start_soon(self._run_socket, sock)
            sock.desired.add(token)
            self._owner[token] = sock
            self.books[token] = PolyBook(token, tick=self.config.default_tick,
                                         min_order_size=self.config.default_min_order_size,
                                         liveness=sock.liveness)
            self._unseeded.add(token)
            sock.poke()
        if not self._unseeded:
            self._seeded.set()

    def remove_tokens(self, tokens: Iterable[str]) -> None:
        """Unsubscribe tokens and drop their books."""
        for token in tokens:
            sock = self._owner.pop(token, None)
            if sock is None:
                continue
            sock.desired.discard(token)
            sock.awaiting.discard(token)
            self.books.pop(token, None)
            self._unseeded.discard(token)
            sock.poke()
        if not self._unseeded:
            self._seeded.set()

    def statistics(self) -> PolyFeedStatistics:
        c = self._counts.get
        return PolyFeedStatistics(
            sockets=sum(1 for s in self._sockets if s.desired), tokens=len(self.books),
            valid_books=sum(1 for b in self.books.values() if b.valid), epoch=self._epoch,
            frames=c("frames", 0), books=c("books", 0), price_changes=c("price_changes", 0),
            tick_changes=c("tick_changes", 0), ignored=c("ignored", 0),
            malformed=c("malformed", 0), mismatches=c("mismatches", 0),
            resyncs=c("resyncs", 0), snapshot_timeouts=c("snapshot_timeouts", 0),
            reconnects=c("reconnects", 0), stale=c("stale", 0), pings=c("pings", 0),
            pongs=c("pongs", 0))

    # -- internals ---------------------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        self._counts[name] = self._counts.get(name, 0) + n

    def _health(self, sock: _Socket, state: FeedState, detail: str,
                keys: Iterable[str] = ()) -> None:
        self.listener.feed_health(FeedHealth(_V, state, sock.epoch, detail, tuple(sorted(keys))))

    def _invalidate(self, token: str, reason: str) -> None:
        book = self.books.get(token)
        if book is not None and book.valid:
            book.invalidate(reason)
            self.listener.book_changed(_V, token)

    def _request_resync(self, sock: _Socket, tokens: Iterable[str], reason: str, *,
                        invalidate: bool = True) -> None:
        """Unsubscribe + subscribe ``tokens`` to force fresh snapshots.

        ``invalidate=False`` is the liveness probe: the book is still the latest truth we
        have, and the fresh snapshot will replace it.
        """
        tokens = [t for t in tokens if t in sock.desired]
        sock.resync.update(tokens)
        self._count("resyncs", len(tokens))
        if invalidate and tokens:
            for token in tokens:
                self._invalidate(token, reason)
            self._await_snapshots(sock, tokens)
            self._health(sock, FeedState.GAP, reason, tokens)
        sock.poke()

    def _await_snapshots(self, sock: _Socket, tokens: Iterable[str]) -> None:
        if not sock.awaiting:
            sock.awaiting_since = trio.current_time()
        sock.awaiting.update(tokens)
        if not sock.awaiting:
            sock.awaiting_since = None

    async def _run_socket(self, sock: _Socket) -> None:
        failures = 0
        while True:
            if not sock.desired:
                sock.alive = False
                return
            self._epoch += 1
            sock.epoch = self._epoch
            sock.end_reason = ""
            frames_before = sock.data_frames
            self._health(sock, FeedState.CONNECTING if failures == 0 else FeedState.RECONNECTING,
                         f"socket {sock.index} connecting", sock.desired)
            try:
                async with self.connect(self.config.url) as conn:
                    await self._session(sock, conn)
            except* CONNECT_ERRORS as group:
                exc = group.exceptions[0]
                sock.end_reason = sock.end_reason or f"{type(exc).__name__}: {exc}"
            got_data = sock.data_frames > frames_before
            for token in sock.desired:
                self._invalidate(token, f"socket {sock.index} epoch {sock.epoch} ended: "
                                        f"{sock.end_reason}")
            if not sock.desired:
                sock.alive = False
                return
            failures = 0 if got_data else failures + 1
            self._count("reconnects")
            if failures >= self.config.backoff.max_failures:
                self._health(sock, FeedState.DOWN, f"{failures} failed connections: "
                                                   f"{sock.end_reason}", sock.desired)
                raise FeedDown(f"polymarket market socket {sock.index}: {failures} consecutive "
                               f"failed connections, last: {sock.end_reason}")
            logger.warning("polymarket market socket {} epoch {} ended ({}); reconnecting",
                           sock.index, sock.epoch, sock.end_reason)
            self._health(sock, FeedState.RECONNECTING, sock.end_reason, sock.desired)
            await trio.sleep(self.config.backoff.delay(failures, self.rng))

    async def _session(self, sock: _Socket, conn: WsConnection) -> None:
        """One connection's life: subscribe, then ping, watch, resubscribe and read."""
        lock = trio.Lock()
        tokens = sorted(sock.desired)
        sock.subscribed = set(tokens)
        sock.resync.clear()
        sock.changed = trio.Event()
        sock.awaiting = set()
        self._await_snapshots(sock, tokens)
        sock.last_data = trio.current_time()
        async with trio.open_nursery() as nursery:
            sock.session = nursery.cancel_scope
            await self._send(sock, conn, lock,
                             json.dumps({"assets_ids": tokens, "type": "market"}))
            nursery.start_soon(self._pinger, sock, conn, lock)
            nursery.start_soon(self._watchdog, sock)
            nursery.start_soon(self._sync_subscriptions, sock, conn, lock)
            nursery.start_soon(self._reader, sock, conn)
        sock.session = None

    def _end(self, sock: _Socket, reason: str) -> None:
        if not sock.end_reason:
            sock.end_reason = reason
        if sock.session is not None:
            sock.session.cancel()

    async def _send(self, sock: _Socket, conn: WsConnection, lock: trio.Lock, text: str) -> None:
        async with lock:
            try:
                await conn.send_message(text)
            except CLOSED_ERRORS as exc:
                self._end(sock, f"send failed: {type(exc).__name__}")

    async def _pinger(self, sock: _Socket, conn: WsConnection, lock: trio.Lock) -> None:
        while True:
            await trio.sleep(self.config.ping_interval)
            await self._send(sock, conn, lock, "PING")
            self._count("pings")

    async def _watchdog(self, sock: _Socket) -> None:
        probed = False
        step = min(self.config.probe_after, self.config.max_silence) / 4
        while True:
            await trio.sleep(step)
            silent = trio.current_time() - sock.last_data
            if silent >= self.config.max_silence:
                self._count("stale")
                reason = f"no data for {silent:.1f} s (silent socket)"
                for token in sock.desired:
                    self._invalidate(token, reason)
                self._health(sock, FeedState.STALE, reason, sock.desired)
                self._end(sock, reason)
                return
            waiting = sock.awaiting_since
            if waiting is not None and trio.current_time() - waiting >= \
                    self.config.snapshot_timeout:
                self._count("snapshot_timeouts")
                tokens = sorted(sock.awaiting)
                logger.warning("polymarket market socket {}: no snapshot for {} within {} s; "
                               "resubscribing", sock.index, tokens, self.config.snapshot_timeout)
                sock.awaiting_since = trio.current_time()
                self._request_resync(sock, tokens, "no snapshot after subscribing")
            if silent >= self.config.probe_after and not probed and sock.subscribed:
                probed = True
                self._request_resync(sock, [min(sock.subscribed)],
                                     f"liveness probe after {silent:.1f} s without data",
                                     invalidate=False)
            elif silent < self.config.probe_after:
                probed = False

    async def _sync_subscriptions(self, sock: _Socket, conn: WsConnection,
                                  lock: trio.Lock) -> None:
        while True:
            await sock.changed.wait()
            sock.changed = trio.Event()
            add = sock.desired - sock.subscribed
            remove = sock.subscribed - sock.desired
            resync = sock.resync & sock.desired & sock.subscribed
            sock.resync.clear()
            if remove | resync:
                await self._send(sock, conn, lock, json.dumps(
                    {"assets_ids": sorted(remove | resync), "operation": "unsubscribe"}))
            if add | resync:
                self._await_snapshots(sock, add)
                await self._send(sock, conn, lock, json.dumps(
                    {"assets_ids": sorted(add | resync), "operation": "subscribe"}))
            sock.subscribed = set(sock.desired)
            if not sock.desired:
                self._end(sock, "no tokens left")
                return
            await trio.sleep(self.config.resync_min_interval)

    async def _reader(self, sock: _Socket, conn: WsConnection) -> None:
        try:
            while True:
                message = await conn.get_message()
                self._on_frame(sock, message)
        except CLOSED_ERRORS as exc:
            self._end(sock, f"closed by peer: {type(exc).__name__}: {exc}")

    # -- frame handling (synchronous) --------------------------------------------------------

    def _on_frame(self, sock: _Socket, message: str | bytes) -> None:
        self._count("frames")
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        if text.strip() == "PONG":
            self._count("pongs")
            return
        sock.last_data = trio.current_time()
        sock.data_frames += 1
        try:
            payload = wire.loads(text, what=f"market frame (socket {sock.index})")
        except wire.WireError as exc:
            self._malformed(sock, None, str(exc))
            return
        events = payload if isinstance(payload, list) else [payload]
        for event in events:
            self._on_event(sock, event)
        sock.liveness.last_data = sock.last_data
        if sock.awaiting:
            sock.awaiting = {t for t in sock.awaiting if t in self.books
                             and not self.books[t].valid}
            if not sock.awaiting:
                sock.awaiting_since = None
                self._health(sock, FeedState.LIVE, f"socket {sock.index} live", sock.desired)

    def _malformed(self, sock: _Socket, token: str | None, reason: str) -> None:
        self._count("malformed")
        logger.error("polymarket market feed: malformed frame (token {}): {}", token or "?",
                     reason)
        targets = [token] if token is not None else list(sock.desired)
        self._request_resync(sock, targets, f"malformed frame: {reason}")

    def _on_event(self, sock: _Socket, event: Any) -> None:
        if not isinstance(event, dict):
            self._malformed(sock, None, f"event is {type(event).__name__}, not an object")
            return
        kind = event.get("event_type")
        if kind == "book":
            self._on_book(sock, event)
        elif kind == "price_change":
            self._on_price_change(sock, event)
        elif kind == "tick_size_change":
            self._on_tick_change(sock, event)
        else:
            self._count("ignored")
            if not isinstance(kind, str) or kind not in _IGNORED_TYPES:
                logger.debug("polymarket market feed: ignoring event type {!r}", kind)

    def _own_token(self, sock: _Socket, event: Any, what: str) -> str | None:
        """The event's asset id if it is one of this socket's tokens, else None (ignored)."""
        token = event.get("asset_id") if isinstance(event, dict) else None
        if not isinstance(token, str) or not token:
            raise wire.WireError(f"polymarket {what}: missing asset_id")
        if token not in sock.desired or token not in self.books:
            self._count("ignored")
            return None
        return token

    def _on_book(self, sock: _Socket, event: dict) -> None:
        try:
            token = self._own_token(sock, event, "book")
        except wire.WireError as exc:
            self._malformed(sock, None, str(exc))
            return
        if token is None:
            return
        book = self.books[token]
        now = trio.current_time()
        try:
            what = f"book {token}"
            bids = [(wire.price(lv, "price", what), wire.qty(lv, "size", what))
                    for lv in _levels(event, "bids", what)]
            asks = [(wire.price(lv, "price", what), wire.qty(lv, "size", what))
                    for lv in _levels(event, "asks", what)]
            tick = wire.opt_price(event, "tick_size", what)
            min_size = (wire.qty(event, "min_order_size", what)
                        if event.get("min_order_size") not in (None, "") else None)
            ts = (wire.timestamp_ms(event, "timestamp", what)
                  if event.get("timestamp") not in (None, "") else None)
            if tick is not None:
                book.set_tick(tick)
            if min_size is not None:
                book.min_order_size = min_size
            book.apply_snapshot(bids, asks, received_at=now, venue_ts_ms=ts)
        except (wire.WireError, BookError) as exc:
            self._malformed(sock, token, str(exc))
            return
        self._count("books")
        self._unseeded.discard(token)
        if not self._unseeded:
            self._seeded.set()
        self.listener.book_changed(_V, token)

    def _on_price_change(self, sock: _Socket, event: dict) -> None:
        entries = event.get("price_changes")
        legacy = entries is None
        if legacy:
            changes = event.get("changes")
            if not isinstance(changes, list):
                self._malformed(sock, _own_or_none(sock, event),
                                "price_change without price_changes")
                return
            entries = [{**c, "asset_id": event.get("asset_id")} for c in changes]
        if not isinstance(entries, list):
            self._malformed(sock, None, "price_changes is not a list")
            return
        ts = None
        if event.get("timestamp") not in (None, ""):
            try:
                ts = wire.timestamp_ms(event, "timestamp", "price_change")
            except wire.WireError as exc:
                self._malformed(sock, None, str(exc))
                return
        now = trio.current_time()
        last: dict[str, dict] = {}
        failed: set[str] = set()
        for entry in entries:
            try:
                token = self._own_token(sock, entry, "price_change")
            except wire.WireError as exc:
                self._malformed(sock, None, str(exc))
                return
            if token is None or token in failed:
                continue
            what = f"price_change {token}"
            try:
                side = _book_side(entry.get("side"), what)
                price = wire.price(entry, "price", what)
                size = wire.qty(entry, "size", what)
                self.books[token].apply_level(side, price, size, received_at=now,
                                              venue_ts_ms=ts)
            except (wire.WireError, BookError) as exc:
                failed.add(token)
                self._malformed(sock, token, str(exc))
                continue
            self._count("price_changes")
            last[token] = entry
        for token, entry in last.items():
            if token in failed:
                continue
            book = self.books[token]
            if not legacy and book.valid:
                mismatch = _best_mismatch(book, entry)
                if mismatch:
                    self._count("mismatches")
                    logger.warning("polymarket market feed: token {} {}; resyncing", token,
                                   mismatch)
                    self._request_resync(sock, [token], mismatch)
                    continue
            self.listener.book_changed(_V, token)

    def _on_tick_change(self, sock: _Socket, event: dict) -> None:
        try:
            token = self._own_token(sock, event, "tick_size_change")
            if token is None:
                return
            tick = wire.price(event, "new_tick_size", f"tick_size_change {token}")
            self.books[token].set_tick(tick)
        except wire.WireError as exc:
            self._malformed(sock, _own_or_none(sock, event), str(exc))
            return
        except BookError as exc:
            self._malformed(sock, token, str(exc))
            return
        self._count("tick_changes")
        self.listener.book_changed(_V, token)


def _levels(event: dict, name: str, what: str) -> list:
    raw = event.get(name, [])
    if not isinstance(raw, list):
        raise wire.WireError(f"polymarket {what}: {name} is not a list")
    return raw


def _book_side(value: Any, what: str) -> Side:
    if value == "BUY":
        return Side.BUY
    if value == "SELL":
        return Side.SELL
    raise wire.WireError(f"polymarket {what}: side {value!r} is neither BUY nor SELL")


def _best_mismatch(book: PolyBook, entry: dict) -> str:
    """Compare the book's best levels with the venue's; '' when consistent or not given."""
    for name, level in (("best_bid", book.best_bid()), ("best_ask", book.best_ask())):
        if name not in entry:
            continue
        raw = entry[name]
        ours = level[0] if level else None
        theirs = None
        if raw not in ("", None):
            try:
                theirs = wire.price(entry, name, "price_change")
            except wire.WireError:
                return f"{name} {raw!r} is not a price"
        if theirs == 0 and ours is None:
            theirs = None  # an empty side is also sent as "0"
        if theirs != ours:
            return f"{name} mismatch: venue {raw!r}, book {ours}"
    return ""


def _own_or_none(sock: _Socket, event: dict) -> str | None:
    token = event.get("asset_id")
    return token if isinstance(token, str) and token in sock.desired else None


async def serve_polymarket_feed(tokens: Iterable[str], listener: BookListener,
                                connect: ConnectFn = default_connect,
                                config: PolyFeedConfig = PolyFeedConfig(),
                                rng: random.Random | None = None, *,
                                task_status: trio.TaskStatus[PolymarketMarketFeed]
                                = trio.TASK_STATUS_IGNORED) -> None:
    """Run the market feed until cancelled.

    ``started(feed)`` is called once every requested token has received its first `book`
    (wrap the ``nursery.start`` in a timeout: an unknown token never gets one).

    Raises:
        FeedDown: a socket failed to connect ``config.backoff.max_failures`` times in a row.
    """
    feed = PolymarketMarketFeed(listener, config, connect, rng or random.Random())
    async with trio.open_nursery() as nursery:
        feed._nursery = nursery
        feed.add_tokens(tokens)
        await feed._seeded.wait()
        task_status.started(feed)
