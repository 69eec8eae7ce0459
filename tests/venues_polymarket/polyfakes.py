"""Scripted in-memory Polymarket websocket peers for feed tests (no network, virtual clock)."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio
import trio.lowlevel

from arb.domain import Venue
from arb.venues.protocol import FeedHealth


@attrs.define(eq=False)
class FakeConn:
    server: FakeMarketServer
    index: int
    sent: list[str] = attrs.field(factory=list)
    closed: bool = False
    _send: trio.MemorySendChannel[str] | None = None
    _recv: trio.MemoryReceiveChannel[str] | None = None

    def __attrs_post_init__(self) -> None:
        self._send, self._recv = trio.open_memory_channel(1000)

    def push(self, payload: Any) -> None:
        """Server -> client frame (objects and lists are JSON-encoded)."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._send.send_nowait(text)

    async def send_message(self, message: str | bytes) -> None:
        if self.closed:
            raise trio.ClosedResourceError("fake connection closed")
        self.sent.append(message)
        await self.server.on_client_message(self, message)

    async def get_message(self) -> str:
        try:
            return await self._recv.receive()
        except trio.EndOfChannel:
            raise trio.ClosedResourceError("closed by fake server") from None

    async def aclose(self) -> None:
        self.closed = True

    def close_from_server(self) -> None:
        self.closed = True
        self._send.close()

    def subscriptions(self) -> list[dict]:
        return [json.loads(m) for m in self.sent if m != "PING"]


def level(price: str, size: str) -> dict:
    return {"price": price, "size": size}


@attrs.define(eq=False)
class FakeMarketServer:
    """Answers subscribes with `book` snapshots (as one array frame) and PING with PONG.

    ``frozen``: keep answering PING but send no data (the silent-freeze fault).
    ``refuse``: refuse that many connection attempts with OSError.
    """

    books: dict[str, dict] = attrs.field(factory=dict)
    frozen: bool = False
    refuse: int = 0
    conns: list[FakeConn] = attrs.field(factory=list)
    attempts: int = 0

    def set_book(self, token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
                 **extra: Any) -> None:
        self.books[token] = {"event_type": "book", "market": "0xcond", "asset_id": token,
                             "bids": [level(p, s) for p, s in bids],
                             "asks": [level(p, s) for p, s in asks],
                             "timestamp": "1767225600000", "hash": "h", **extra}

    @asynccontextmanager
    async def connect(self, url: str) -> AsyncIterator[FakeConn]:
        self.attempts += 1
        await trio.lowlevel.checkpoint()
        if self.refuse > 0:
            self.refuse -= 1
            raise OSError("connection refused (fake)")
        conn = FakeConn(self, len(self.conns))
        self.conns.append(conn)
        try:
            yield conn
        finally:
            conn.closed = True

    async def on_client_message(self, conn: FakeConn, message: str) -> None:
        if message == "PING":
            conn.push("PONG")
            return
        frame = json.loads(message)
        if self.frozen:
            return
        if frame.get("type") == "market" or frame.get("operation") == "subscribe":
            snaps = [self.books[t] for t in frame["assets_ids"] if t in self.books]
            if snaps:
                conn.push(snaps)


async def wait_until(predicate: Callable[[], bool], *, step: float = 0.1,
                     limit: float = 600.0) -> None:
    """Poll ``predicate`` on the (virtual) clock; fail after ``limit`` seconds."""
    for _ in range(int(limit / step)):
        if predicate():
            return
        await trio.sleep(step)
    raise AssertionError(f"condition not reached within {limit} s")


@attrs.define(eq=False)
class Recorder:
    """A BookListener that records what it is told."""

    changed: list[str] = attrs.field(factory=list)
    health: list[FeedHealth] = attrs.field(factory=list)

    def book_changed(self, venue: Venue, key: str) -> None:
        assert venue is Venue.POLYMARKET
        self.changed.append(key)

    def feed_health(self, health: FeedHealth) -> None:
        self.health.append(health)

    def states(self) -> list[str]:
        return [h.state.value for h in self.health]
