"""Websocket plumbing shared by the Polymarket market and user feeds.

The transport is injectable: a connect factory ``connect(url)`` returns an async context
manager whose connection has ``send_message``, ``get_message`` and ``aclose`` (the
``trio_websocket.WebSocketConnection`` methods). A closed connection raises
``trio_websocket.ConnectionClosed`` (or ``trio.ClosedResourceError`` / ``BrokenResourceError``);
a refused connection raises ``OSError`` or ``trio_websocket.HandshakeError``.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import attrs
import trio
import trio_websocket

MARKET_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
USER_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
"""The first frame after subscribing is an array of full books: far above trio-websocket's
1 MiB default for 200 busy assets."""

CLOSED_ERRORS = (trio_websocket.ConnectionClosed, trio.ClosedResourceError,
                 trio.BrokenResourceError)
CONNECT_ERRORS = (OSError, trio_websocket.HandshakeError) + CLOSED_ERRORS


class WsConnection(Protocol):
    async def send_message(self, message: str | bytes) -> None: ...

    async def get_message(self) -> str | bytes: ...

    async def aclose(self) -> None: ...


ConnectFn = Callable[[str], AbstractAsyncContextManager[WsConnection]]


def default_connect(url: str) -> AbstractAsyncContextManager[WsConnection]:
    """``trio_websocket.open_websocket_url`` with limits suited to Polymarket."""
    return trio_websocket.open_websocket_url(
        url, max_message_size=MAX_MESSAGE_BYTES, message_queue_size=64,
        connect_timeout=10, disconnect_timeout=2)


class FeedDown(Exception):
    """A feed gave up after too many consecutive failed connections."""


@attrs.frozen
class Backoff:
    """Jittered, capped exponential backoff: ``uniform(0.5, 1) * min(cap, base * 2**n)``."""

    base: float = 0.5
    cap: float = 30.0
    max_failures: int = 40
    """Consecutive failures after which the feed raises FeedDown (its supervisor decides)."""

    def delay(self, failures: int, rng: random.Random) -> float:
        return min(self.cap, self.base * 2 ** min(failures, 30)) * rng.uniform(0.5, 1.0)
