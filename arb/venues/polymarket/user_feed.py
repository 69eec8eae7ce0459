# Design note: the Polymarket user websocket (our orders and trades).
#
# Problem: order outcomes on Polymarket arrive late and in steps. A `delayed` order resolves
# later; a trade is reported MATCHED, then MINED, then CONFIRMED, or RETRYING then FAILED (a
# "ghost fill" that never settled). Losing one of these events loses track of real exposure.
#
# Naive approach: treat the first MATCHED as final and drop events when the consumer is slow.
#
# Chosen approach: every `order` event becomes an ``OrderResult`` and every `trade` event the
# ``Fill``s that are ours (taker or maker side), with MATCHED/MINED/RETRYING -> PROVISIONAL,
# CONFIRMED -> CONFIRMED, FAILED -> FAILED, on a bounded Trio channel. The reader waits when
# the channel is full rather than drop a fill (the channel's buffer is the caller's choice; a
# consumer that stops also stops this socket's reads, which the venue will eventually close).
# Reconnects use jittered capped backoff; each new epoch is reported through ``health`` so the
# consumer reconciles against ``/data/trades``, because events sent while disconnected are gone.
# The subscribe frame carries the API secret: it is never logged.
#
# Venue facts (venues.md B6.2): subscribe {"auth": {apiKey, secret, passphrase}, "markets":
# [condition ids], "type": "user"}; `order` events with type PLACEMENT/UPDATE/CANCELLATION and
# status LIVE/MATCHED/DELAYED/UNMATCHED/CANCELED; `trade` events re-emitted per status.
from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import trio
from loguru import logger

from arb.domain import Venue
from arb.venues.polymarket import wire
from arb.venues.polymarket.auth import ApiCredentials
from arb.venues.polymarket.convert import (
    FeeFn,
    UnknownStatus,
    fills_from_trade,
    no_fee,
    result_from_order,
)
from arb.venues.polymarket.rest import parse_order, parse_trade
from arb.venues.polymarket.ws import (
    CLOSED_ERRORS,
    CONNECT_ERRORS,
    USER_WS_URL,
    Backoff,
    ConnectFn,
    FeedDown,
    WsConnection,
    default_connect,
)
from arb.venues.protocol import FeedHealth, FeedState, Fill, OrderResult

_V = Venue.POLYMARKET
_TYPE_STATUS = {"PLACEMENT": "LIVE", "CANCELLATION": "CANCELED"}


class ConsumerGone(Exception):
    """The consumer of user events closed its channel: the feed stops."""


@attrs.frozen
class UserFeedConfig:
    url: str = USER_WS_URL
    ping_interval: float = 10.0
    backoff: Backoff = Backoff()


@attrs.frozen
class UserFeedStatistics:
    epoch: int
    frames: int
    orders: int
    fills: int
    ignored: int
    malformed: int
    reconnects: int


def order_event_result(event: dict, client_ids: Callable[[str], str | None]) -> OrderResult:
    """An `order` event as an ``OrderResult`` (status inferred from ``type`` when absent)."""
    if not event.get("status"):
        kind = str(event.get("type", "")).upper()
        status = _TYPE_STATUS.get(kind)
        if kind == "UPDATE":
            matched = wire.qty(event, "size_matched", "order event")
            status = "MATCHED" if matched >= wire.qty(event, "original_size",
                                                      "order event") else "LIVE"
        if status is None:
            raise wire.WireError(f"polymarket order event {event.get('id')!r}: no status "
                                 f"and unknown type {kind!r}")
        event = {**event, "status": status}
    order = parse_order(event)
    return result_from_order(order, client_id=client_ids(order.order_id))


@attrs.define(eq=False)
class PolymarketUserFeed:
    creds: ApiCredentials
    funder: str
    send_channel: trio.MemorySendChannel[Fill | OrderResult]
    markets: tuple[str, ...]
    client_ids: Callable[[str], str | None]
    fee_for: FeeFn
    health: Callable[[FeedHealth], None]
    connect: ConnectFn
    config: UserFeedConfig
    rng: random.Random
    epoch: int = 0
    _counts: dict[str, int] = attrs.field(factory=dict)

    def statistics(self) -> UserFeedStatistics:
        c = self._counts.get
        return UserFeedStatistics(self.epoch, c("frames", 0), c("orders", 0), c("fills", 0),
                                  c("ignored", 0), c("malformed", 0), c("reconnects", 0))

    def _count(self, name: str, n: int = 1) -> None:
        self._counts[name] = self._counts.get(name, 0) + n

    def _subscribe_frame(self) -> str:
        return json.dumps({
            "auth": {"apiKey": self.creds.api_key, "secret": self.creds.secret,
                     "passphrase": self.creds.passphrase},
            "markets": list(self.markets), "type": "user"})

    async def run(self, task_status: trio.TaskStatus[PolymarketUserFeed]) -> None:
        failures = 0
        started = False
        while True:
            self.epoch += 1
            reason = ""
            got_data = False
            self.health(FeedHealth(_V, FeedState.CONNECTING if failures == 0 else
                                   FeedState.RECONNECTING, self.epoch, "user channel"))
            try:
                async with self.connect(self.config.url) as conn:
                    await conn.send_message(self._subscribe_frame())
                    self.health(FeedHealth(_V, FeedState.LIVE, self.epoch, "user channel"))
                    if not started:
                        started = True
                        task_status.started(self)
                    got_data = await self._session(conn)
            except* CONNECT_ERRORS as group:
                exc = group.exceptions[0]
                reason = f"{type(exc).__name__}: {exc}"
            failures = 0 if got_data else failures + 1
            self._count("reconnects")
            if failures >= self.config.backoff.max_failures:
                self.health(FeedHealth(_V, FeedState.DOWN, self.epoch, reason))
                raise FeedDown(f"polymarket user channel: {failures} consecutive failed "
                               f"connections, last: {reason}")
            logger.warning("polymarket user channel epoch {} ended ({}); reconnecting",
                           self.epoch, reason or "closed")
            self.health(FeedHealth(_V, FeedState.RECONNECTING, self.epoch,
                                   f"user channel lost ({reason or 'closed'}): reconcile trades"))
            await trio.sleep(self.config.backoff.delay(failures, self.rng))

    async def _session(self, conn: WsConnection) -> bool:
        """One connection's life; returns whether any data arrived.

        Raises:
            ConsumerGone: the receiving end of ``send_channel`` was closed.
        """
        got_data = False
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pinger, conn, nursery.cancel_scope)
            while True:
                try:
                    message = await conn.get_message()
                except CLOSED_ERRORS:
                    break
                self._count("frames")
                text = message.decode("utf-8", "replace") if isinstance(message, bytes) \
                    else message
                if text.strip() == "PONG":
                    continue
                got_data = True
                for item in self._events(text):
                    try:
                        await self.send_channel.send(item)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        raise ConsumerGone("polymarket user channel: the event consumer "
                                           "closed its channel") from None
            nursery.cancel_scope.cancel()
        return got_data

    async def _pinger(self, conn: WsConnection, session: trio.CancelScope) -> None:
        while True:
            await trio.sleep(self.config.ping_interval)
            try:
                await conn.send_message("PING")
            except CLOSED_ERRORS:
                session.cancel()
                return

    def _events(self, text: str) -> list[Fill | OrderResult]:
        try:
            payload = wire.loads(text, what="user frame")
        except wire.WireError as exc:
            self._count("malformed")
            logger.error("polymarket user channel: {}", exc)
            return []
        out: list[Fill | OrderResult] = []
        for event in payload if isinstance(payload, list) else [payload]:
            out.extend(self._event(event))
        return out

    def _event(self, event: Any) -> list[Fill | OrderResult]:
        kind = event.get("event_type") if isinstance(event, dict) else None
        try:
            if kind == "order":
                self._count("orders")
                return [order_event_result(event, self.client_ids)]
            if kind == "trade":
                fills = fills_from_trade(parse_trade(event), api_key=self.creds.api_key,
                                         funder=self.funder, client_ids=self.client_ids,
                                         fee_for=self.fee_for)
                self._count("fills", len(fills))
                return list(fills)
        except (wire.WireError, UnknownStatus) as exc:
            self._count("malformed")
            ident = event.get("id") if isinstance(event, dict) else None
            logger.error("polymarket user channel: malformed {} event {}: {}", kind, ident, exc)
            return []
        self._count("ignored")
        return []


async def serve_polymarket_user_feed(
        creds: ApiCredentials, funder: str,
        send_channel: trio.MemorySendChannel[Fill | OrderResult], *,
        markets: Iterable[str] = (),
        client_ids: Callable[[str], str | None] = lambda order_id: None,
        fee_for: FeeFn = no_fee,
        health: Callable[[FeedHealth], None] = lambda h: None,
        connect: ConnectFn = default_connect, config: UserFeedConfig = UserFeedConfig(),
        rng: random.Random | None = None,
        task_status: trio.TaskStatus[PolymarketUserFeed] = trio.TASK_STATUS_IGNORED) -> None:
    """Stream our order results and fills into ``send_channel`` until cancelled.

    ``started(feed)`` once the first subscription is sent. ``client_ids`` maps an order hash to
    our client id (``PolymarketAdapter.client_id_of``); ``fee_for`` estimates taker fees.

    Returns when the receiving end of ``send_channel`` is closed.

    Raises:
        FeedDown: too many consecutive failed connections.
    """
    feed = PolymarketUserFeed(creds, funder, send_channel, tuple(markets), client_ids, fee_for,
                              health, connect, config, rng or random.Random())
    try:
        await feed.run(task_status)
    except* ConsumerGone:
        logger.info("polymarket user channel: the event consumer closed its channel; stopped")
