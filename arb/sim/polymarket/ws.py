# Design note: the simulated market and user websocket channels.
#
# Problem: the bot's feed must be tested both on a real socket and under Trio's virtual clock,
# where sockets cannot run. Writing the session logic against hypercorn's ASGI messages would
# tie it to real I/O; writing it against trio_websocket would tie it to a TCP stream.
#
# Chosen: the session logic (``serve_market_session``, ``serve_user_session``) talks to a minimal
# connection with trio_websocket's method names (``send_message``, ``get_message``, ``aclose``)
# and raises ``trio_websocket.ConnectionClosed`` when the peer is gone. Two transports implement
# it: ``AsgiWebSocket`` (hypercorn, real loopback socket) and ``MemoryWebSocket`` (a pair of
# bounded memory channels; ``open_memory_market_ws`` / ``open_memory_user_ws`` yield the client
# end), so a client feed can be wired to the simulator with no sockets at all.
#
# Each session registers a synchronous listener on the exchange; the listener renders frames at
# once (the book is read at the moment of the event) and puts them on a bounded outbox without
# blocking. A session whose outbox overflows is closed, as a venue drops a slow consumer; its
# client must reconnect and resnapshot. A writer task drains the outbox to the connection.
#
# Venue facts relied on (venues.md B6): market subscribe ``{"assets_ids": [...], "type":
# "market"}`` first; initial ``book`` snapshots as one JSON array; later ``{"operation":
# "subscribe"|"unsubscribe", "assets_ids": [...]}``; a duplicate subscribe is ignored (no new
# snapshot); text ``PING`` -> ``PONG``; after a trade the venue sends ``book`` frames, otherwise
# ``price_change`` with the new total size per level; with ``custom_feature_enabled`` also a
# ``best_bid_ask`` frame per asset whose best prices moved. User channel: ``{"auth": {apiKey, secret,
# passphrase}, "markets": [condition ids], "type": "user"}``, then ``order`` and ``trade``
# events, a trade re-emitted at each status. Silent freeze (fault): data frames are dropped but
# PONGs still flow.
#
# URLs (runner): ``ws://127.0.0.1:<port>/ws/market`` and ``ws://127.0.0.1:<port>/ws/user``.
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import attrs
import trio
from trio_websocket import CloseReason, ConnectionClosed

from arb.sim.polymarket import render
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.jsonwire import JsonError, dumps, loads
from arb.sim.polymarket.model import (
    BookChanged,
    ExchangeEvent,
    LastTradePrice,
    OrderEvent,
    TickSizeChanged,
    TradeEvent,
)

OUTBOX_SIZE = 1_000
"""Frames a session may have waiting before it is dropped as a slow consumer."""
MEMORY_CHANNEL_SIZE = 1_000
MAX_ASSETS_PER_CONNECTION = 500
CLOSE_POLICY = 1008
CLOSE_DROPPED = 1011


class MessageConnection(Protocol):
    """The subset of ``trio_websocket.WebSocketConnection`` the sessions use."""

    async def send_message(self, message: str) -> None: ...

    async def get_message(self) -> str: ...

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None: ...


def _closed(code: int = 1000, reason: str | None = None) -> ConnectionClosed:
    return ConnectionClosed(CloseReason(code, reason))


@attrs.define(eq=False)
class MemoryWebSocket:
    """One end of an in-memory websocket: text frames over two bounded channels."""

    _send: trio.MemorySendChannel[str]
    _receive: trio.MemoryReceiveChannel[str]
    closed: bool = False

    async def send_message(self, message: str) -> None:
        if self.closed:
            raise _closed(reason="closed locally")
        try:
            await self._send.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise _closed(reason="peer closed") from None

    async def get_message(self) -> str:
        if self.closed:
            raise _closed(reason="closed locally")
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise _closed(reason="peer closed") from None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        if not self.closed:
            self.closed = True
            await self._send.aclose()
            await self._receive.aclose()


def memory_websocket_pair() -> tuple[MemoryWebSocket, MemoryWebSocket]:
    """(client end, server end) of an in-memory websocket."""
    c2s_send, c2s_receive = trio.open_memory_channel[str](MEMORY_CHANNEL_SIZE)
    s2c_send, s2c_receive = trio.open_memory_channel[str](MEMORY_CHANNEL_SIZE)
    return MemoryWebSocket(c2s_send, s2c_receive), MemoryWebSocket(s2c_send, c2s_receive)


@attrs.define(eq=False)
class AsgiWebSocket:
    """A ``MessageConnection`` over an accepted ASGI websocket."""

    _receive: Callable[[], Awaitable[dict]]
    _send: Callable[[dict], Awaitable[None]]
    closed: bool = False

    async def send_message(self, message: str) -> None:
        if self.closed:
            raise _closed(reason="closed")
        await self._send({"type": "websocket.send", "text": message})

    async def get_message(self) -> str:
        if self.closed:
            raise _closed(reason="closed")
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            raise _closed(message.get("code", 1005), "client disconnected")
        if message.get("text") is not None:
            return message["text"]
        return (message.get("bytes") or b"").decode("utf-8", errors="replace")

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        if not self.closed:
            self.closed = True
            await self._send({"type": "websocket.close", "code": code, "reason": reason or ""})


@attrs.define(eq=False)
class _Outbox:
    """Bounded frame queue of one session; data frames can be silenced by the freeze fault."""

    send: trio.MemorySendChannel[tuple[bool, str]]
    cancel_scope: trio.CancelScope | None = None
    close: tuple[int, str] = (1000, "")
    """Close code and reason sent when the session ends."""

    def put(self, text: str, *, data: bool = True) -> None:
        if self.close[0] != 1000:
            return
        try:
            self.send.send_nowait((data, text))
        except trio.WouldBlock:
            self.stop(CLOSE_POLICY, "slow consumer: outbox full")

    def stop(self, code: int, reason: str) -> None:
        self.close = (code, reason)
        if self.cancel_scope is not None:
            self.cancel_scope.cancel()


async def _run_session(exchange: Exchange, conn: MessageConnection,
                       on_text: Callable[[str, _Outbox], None],
                       listener: Callable[[ExchangeEvent, _Outbox], None],
                       silence: Callable[[], bool]) -> None:
    send, receive = trio.open_memory_channel[tuple[bool, str]](OUTBOX_SIZE)
    outbox = _Outbox(send)

    async def write() -> None:
        async for is_data, text in receive:
            if is_data and silence():
                continue
            await conn.send_message(text)

    with trio.CancelScope() as scope:
        outbox.cancel_scope = scope
        remove_listener = exchange.add_listener(lambda event: listener(event, outbox))
        remove_drop = exchange.faults.on_drop_sockets(
            lambda: outbox.stop(CLOSE_DROPPED, "simulated drop"))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(write)
                while True:
                    text = await conn.get_message()
                    if text == "PING":
                        outbox.put("PONG", data=False)
                    else:
                        on_text(text, outbox)
        except* ConnectionClosed:
            pass
        finally:
            remove_listener()
            remove_drop()
    with trio.move_on_after(1, shield=True):
        await conn.aclose(*outbox.close)


def _asset_list(message: Any, what: str) -> list[str]:
    ids = message.get("assets_ids") if isinstance(message, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise JsonError(f"{what}: assets_ids must be a list of token id strings")
    return ids


async def serve_market_session(exchange: Exchange, conn: MessageConnection) -> None:
    """Run one market-channel connection until either side closes it."""
    subscribed: set[str] = set()
    first = True
    custom_features = False

    def subscribe(ids: list[str], outbox: _Outbox) -> None:
        fresh = [i for i in dict.fromkeys(ids) if i not in subscribed
                 and exchange.market_for_token(i) is not None]
        if len(subscribed) + len(fresh) > MAX_ASSETS_PER_CONNECTION:
            outbox.put(dumps({"error": f"too many assets: max {MAX_ASSETS_PER_CONNECTION} "
                                       "per connection"}), data=False)
            return
        subscribed.update(fresh)
        if fresh:
            outbox.put(dumps([render.ws_book(exchange, i) for i in fresh]))

    def on_text(text: str, outbox: _Outbox) -> None:
        nonlocal first, custom_features
        try:
            message = loads(text, what="market channel message")
            if first:
                if not isinstance(message, dict) or str(message.get("type", "")).lower() != \
                        "market":
                    raise JsonError("first message must be {\"assets_ids\": [...], \"type\": "
                                    "\"market\"}")
                first = False
                custom_features = message.get("custom_feature_enabled") is True
                subscribe(_asset_list(message, "subscribe"), outbox)
                return
            operation = message.get("operation") if isinstance(message, dict) else None
            if operation == "subscribe":
                subscribe(_asset_list(message, "subscribe"), outbox)
            elif operation == "unsubscribe":
                subscribed.difference_update(_asset_list(message, "unsubscribe"))
            else:
                raise JsonError(f"unknown operation {operation!r}")
        except JsonError as exc:
            outbox.put(dumps({"error": str(exc)}), data=False)

    def listener(event: ExchangeEvent, outbox: _Outbox) -> None:
        match event:
            case BookChanged(traded=True):
                assets = sorted({c.asset_id for c in event.changes} & subscribed)
                for asset in assets:
                    outbox.put(dumps(render.ws_book(exchange, asset)))
            case BookChanged():
                frame = render.ws_price_change(exchange, event, subscribed)
                if frame is not None:
                    outbox.put(dumps(frame))
            case LastTradePrice() if event.asset_id in subscribed:
                outbox.put(dumps(render.ws_last_trade_price(event)))
            case TickSizeChanged() if event.asset_id in subscribed:
                outbox.put(dumps(render.ws_tick_size_change(event)))
        if custom_features and isinstance(event, BookChanged):
            for frame in render.ws_best_bid_ask(event, subscribed):
                outbox.put(dumps(frame))

    await _run_session(exchange, conn, on_text, listener,
                       lambda: exchange.faults.market_ws_frozen)


async def serve_user_session(exchange: Exchange, conn: MessageConnection) -> None:
    """Run one user-channel connection: authenticate from the first message, then stream."""
    try:
        text = await conn.get_message()
    except ConnectionClosed:
        return
    try:
        message = loads(text, what="user channel message")
        auth = message.get("auth") if isinstance(message, dict) else None
        if not isinstance(auth, dict):
            raise JsonError("first message must carry auth {apiKey, secret, passphrase}")
        creds = exchange.credentials(str(auth.get("apiKey", "")))
        if creds is None or creds.secret != auth.get("secret") or \
                creds.passphrase != auth.get("passphrase"):
            raise JsonError("invalid auth: unknown apiKey or wrong secret/passphrase")
        markets = message.get("markets") or []
        if not isinstance(markets, list) or not all(isinstance(m, str) for m in markets):
            raise JsonError("markets must be a list of condition ids")
    except JsonError as exc:
        with trio.move_on_after(1, shield=True):
            try:
                await conn.send_message(dumps({"error": str(exc)}))
            except ConnectionClosed:
                pass
            await conn.aclose(CLOSE_POLICY, "invalid auth")
        return
    wanted = set(markets)
    address, api_key = creds.address, creds.api_key

    def on_text(text: str, outbox: _Outbox) -> None:
        outbox.put(dumps({"error": "the user channel takes no messages after auth"}),
                   data=False)

    def listener(event: ExchangeEvent, outbox: _Outbox) -> None:
        match event:
            case OrderEvent() if event.order.signer == address and (
                    not wanted or event.order.condition_id in wanted):
                outbox.put(dumps(render.ws_order(event)))
            case TradeEvent() if event.trade.involves(address) and (
                    not wanted or event.trade.condition_id in wanted):
                outbox.put(dumps(render.ws_trade(event.trade, address, api_key,
                                                 event.timestamp_ms)))

    await _run_session(exchange, conn, on_text, listener, lambda: False)


async def serve_asgi_websocket(exchange: Exchange, scope: dict[str, Any],
                               receive: Callable[[], Awaitable[dict]],
                               send: Callable[[dict], Awaitable[None]]) -> None:
    """ASGI entry for ``/ws/market`` and ``/ws/user``; other paths are refused."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    path = scope.get("path", "")
    session = {"/ws/market": serve_market_session, "/ws/user": serve_user_session}.get(path)
    if session is None:
        await send({"type": "websocket.close", "code": CLOSE_POLICY})
        return
    await send({"type": "websocket.accept"})
    await session(exchange, AsgiWebSocket(receive, send))


@asynccontextmanager
async def _open_memory(exchange: Exchange, session: Callable[[Exchange, MessageConnection],
                                                             Awaitable[None]]
                       ) -> AsyncIterator[MemoryWebSocket]:
    client, server = memory_websocket_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session, exchange, server)
        try:
            yield client
        finally:
            await client.aclose()
            nursery.cancel_scope.cancel()


def open_memory_market_ws(exchange: Exchange) -> AbstractAsyncContextManager[MemoryWebSocket]:
    """``async with open_memory_market_ws(ex) as ws``: a client end wired to the market channel."""
    return _open_memory(exchange, serve_market_session)


def open_memory_user_ws(exchange: Exchange) -> AbstractAsyncContextManager[MemoryWebSocket]:
    """``async with open_memory_user_ws(ex) as ws``: a client end wired to the user channel."""
    return _open_memory(exchange, serve_user_session)
