"""Route our own fills from the venues' user streams to the legs that wait for them.

Every fill is recorded in the ledger first (idempotent by venue trade id), then handed to the leg watching
its order, if any. Fills for orders nobody watches (they arrived after the leg finished, or
before a restart) are only recorded; reconciliation accounts for them. A watch is registered
before its order is sent, keyed by our client id and by the venue order id when it is known in
advance (Polymarket's order hash), so a fill that overtakes the submit answer is not lost.
"""
from __future__ import annotations

import collections
from collections.abc import AsyncIterable

import attrs
import trio

from arb.domain import Instrument, Venue
from arb.ledger import Ledger
from arb.venues.protocol import Fill, OrderResult

WATCH_CAPACITY = 256
"""Fills queued per watched order; an order has at most a few dozen trades."""


@attrs.define(eq=False)
class FillWatch:
    """The fills of one order, in arrival order, with a wakeup."""

    venue: Venue
    client_id: str
    venue_order_id: str | None
    instrument: Instrument | None = None
    overflowed: int = 0
    _queue: collections.deque[Fill] = attrs.field(factory=collections.deque)
    _wakeup: trio.Event = attrs.field(factory=trio.Event)

    def _deliver(self, fill: Fill) -> None:
        if len(self._queue) >= WATCH_CAPACITY:
            self._queue.popleft()
            self.overflowed += 1
        self._queue.append(fill)
        self._wakeup.set()

    def take_nowait(self) -> list[Fill]:
        fills = list(self._queue)
        self._queue.clear()
        self._wakeup = trio.Event()
        return fills

    async def wait(self) -> None:
        """Return once at least one fill is queued."""
        await self._wakeup.wait()


@attrs.define(eq=False)
class FillRouter:
    ledger: Ledger
    observed: int = 0
    duplicates: int = 0
    unwatched: int = 0
    _by_client: dict[tuple[Venue, str], FillWatch] = attrs.field(factory=dict)
    _by_order: dict[tuple[Venue, str], FillWatch] = attrs.field(factory=dict)

    def watch(self, venue: Venue, client_id: str, venue_order_id: str | None,
              instrument: Instrument | None = None) -> FillWatch:
        w = FillWatch(venue, client_id, venue_order_id, instrument)
        self._by_client[(venue, client_id)] = w
        if venue_order_id is not None:
            self._by_order[(venue, venue_order_id)] = w
        return w

    def learn_order_id(self, watch: FillWatch, venue_order_id: str) -> None:
        """The venue told us its id for a watched order (Kalshi: in the submit answer)."""
        watch.venue_order_id = venue_order_id
        self._by_order[(watch.venue, venue_order_id)] = watch

    def is_watched(self, venue: Venue, client_id: str) -> bool:
        """A live leg is following this order (reconciliation must leave it alone)."""
        return (venue, client_id) in self._by_client

    def busy_instruments(self) -> set[Instrument]:
        """Instruments with an order in flight: their positions may lag the venue's."""
        return {w.instrument for w in self._by_client.values() if w.instrument is not None}

    def unwatch(self, watch: FillWatch) -> None:
        self._by_client.pop((watch.venue, watch.client_id), None)
        if watch.venue_order_id is not None:
            self._by_order.pop((watch.venue, watch.venue_order_id), None)

    def observe(self, fill: Fill) -> None:
        """Journal ``fill`` and hand it to its order's watch. Synchronous, never blocks."""
        self.observed += 1
        if not self.ledger.record_fill(fill):
            self.duplicates += 1
        w = self._by_order.get((fill.venue, fill.venue_order_id))
        if w is None and fill.client_id is not None:
            w = self._by_client.get((fill.venue, fill.client_id))
        if w is None:
            self.unwatched += 1
            return
        w._deliver(fill)


async def serve_user_events(events: AsyncIterable[Fill | OrderResult], router: FillRouter, *,
                            task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                            ) -> None:
    """Pump a venue's user stream into ``router`` until the stream ends or we are cancelled.

    Order updates are not needed here: legs learn their order state from submit answers and
    queries; fills carry the trade-level truth (including Polymarket's FAILED).
    """
    task_status.started()
    async for event in events:
        if isinstance(event, Fill):
            router.observe(event)
