# Design note: the venue contract.
#
# Every adapter (Kalshi, Polymarket, paper, in-memory fakes) implements ``Venue`` below, and the
# actors only ever see these types: venue-shaped JSON never leaves ``arb/venues/<venue>/``.
#
# Orders are split into ``prepare`` (synchronous: choose ids, round to the grid, build and sign
# the request) and ``submit`` (the network round trip). The split exists so that the write-ahead
# intent can be persisted with every id the venue will know the order by (Kalshi's
# ``client_order_id``, Polymarket's EIP-712 order hash) *before* any byte leaves, and so that
# signing and request building can be measured apart from the network.
#
# Error policy (after nautilus_trader): exactly three outcomes for a failed call.
#   Rejected        - the venue definitively refused; nothing rests, nothing filled. Safe to
#                     release the risk reservation.
#   Transient       - provably nothing reached the venue (connect refused, 429 before sending,
#                     DNS failure). Safe to retry with the same ids.
#   OutcomeUnknown  - the request may have reached the venue (timeout, reset, 5xx, cancellation
#                     after sending). The order is UNKNOWN until venue evidence resolves it; it
#                     is never re-sent under a new id.
from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import attrs

from arb.domain import Instrument, Side, TimeInForce, Venue
from arb.money import Money, Price, Qty


class VenueError(Exception):
    """Base of every adapter error; carries the venue and a plain-language reason."""

    def __init__(self, venue: Venue, reason: str, *, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(f"{venue.value}: {reason}")
        self.venue = venue
        self.reason = reason
        self.status = status
        self.code = code


class Rejected(VenueError):
    """Definitive refusal: the order does not exist at the venue."""


class Transient(VenueError):
    """Nothing reached the venue; retrying with the same ids is safe."""


class OutcomeUnknown(VenueError):
    """The request may have been processed; resolve by querying the venue, never by resending."""


class AuthError(Rejected):
    """Bad key, signature, clock skew or geoblock: fail fast and disable the venue."""


class VenuePaused(Rejected):
    """Refused because the venue is not trading (maintenance, pause, cancel-only, matching-engine
    restart). Nothing was placed; no two-leg entry may start on this venue until it trades again
    (cancels may still work)."""


@attrs.frozen
class OrderRequest:
    """What the bot wants: buy or sell ``qty`` of ``instrument`` at ``price`` or better."""

    client_id: str
    """Our idempotency id (Kalshi ``client_order_id``; a local key for Polymarket)."""
    instrument: Instrument
    side: Side
    price: Price
    """Limit price of the instrument itself (a Kalshi NO buy carries the NO price)."""
    qty: Qty
    tif: TimeInForce


@attrs.frozen
class PreparedOrder:
    """A request ready to send: built, rounded and signed, with every id known in advance."""

    request: OrderRequest
    venue_order_id: str | None
    """Known before sending where the venue derives it from the request (Polymarket hash)."""
    price: Price
    """The limit price actually sent, after rounding to the grid in the safe direction."""
    qty: Qty
    """The quantity actually sent, after rounding to the venue's precision."""
    payload: bytes
    """The exact request body that will be sent."""


class OrderStatus(enum.Enum):
    RESTING = "resting"
    """Accepted and resting on the book (GTC)."""
    FILLED = "filled"
    """Fully filled."""
    CANCELLED = "cancelled"
    """Done with ``filled_qty`` < qty (IOC remainder cancelled, FOK killed, cancelled by us)."""
    DELAYED = "delayed"
    """Polymarket taker delay: the outcome arrives later on the user channel."""


class FillStatus(enum.Enum):
    PROVISIONAL = "provisional"
    """Polymarket MATCHED/MINED/RETRYING: counts as exposure, may still fail."""
    CONFIRMED = "confirmed"
    """Final: Kalshi fills, Polymarket CONFIRMED."""
    FAILED = "failed"
    """Polymarket FAILED: the trade never settled; void it."""


@attrs.frozen
class Fill:
    """One execution of one of our orders, identified by the venue's trade id."""

    venue: Venue
    trade_id: str
    venue_order_id: str
    client_id: str | None
    instrument: Instrument
    side: Side
    price: Price
    qty: Qty
    fee: Money
    is_taker: bool
    status: FillStatus
    ts_ms: int


@attrs.frozen
class OrderResult:
    """The venue's answer to a submit, a cancel or a query."""

    venue_order_id: str
    client_id: str | None
    status: OrderStatus
    filled_qty: Qty
    avg_price: Price | None
    fee: Money
    trade_ids: tuple[str, ...] = ()


@attrs.frozen
class OpenOrder:
    venue_order_id: str
    client_id: str | None
    instrument: Instrument
    side: Side
    price: Price
    qty: Qty
    filled_qty: Qty


@attrs.frozen
class Position:
    """A holding of one instrument (always non-negative; Kalshi NO positions use token "no")."""

    instrument: Instrument
    qty: Qty


@attrs.frozen
class Balance:
    venue: Venue
    available: Money
    """Cash that can fund new buys now."""
    total: Money | None = None


@attrs.frozen
class VenueStatus:
    venue: Venue
    reachable: bool
    trading_active: bool
    """False during pauses, maintenance, cancel-only or post-only windows."""
    detail: str = ""
    clock_skew_ms: int | None = None


@attrs.frozen
class FillPage:
    fills: tuple[Fill, ...]
    cursor: str | None
    """Pass back to continue; None when exhausted."""


class VenueAdapter(Protocol):
    """Order entry and account queries. Market data comes from the venue's feed."""

    venue: Venue

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Round, build and sign; raises Rejected if the request breaks a venue rule."""
        ...

    async def submit(self, order: PreparedOrder) -> OrderResult:
        """Send; raises Rejected, Transient or OutcomeUnknown."""
        ...

    async def cancel(self, venue_order_id: str, instrument: Instrument) -> None:
        """Cancel one order; an already-finished order is not an error."""
        ...

    async def cancel_all(self) -> int:
        """Cancel every open order of this account; returns how many were cancelled."""
        ...

    async def get_order(self, venue_order_id: str | None = None, *,
                        client_id: str | None = None) -> OrderResult | None:
        """Look an order up by venue id or by our client id; None if the venue never saw it."""
        ...

    async def open_orders(self) -> Sequence[OpenOrder]:
        ...

    async def fills(self, cursor: str | None = None) -> FillPage:
        """Our fills, oldest first, from ``cursor``."""
        ...

    async def positions(self) -> Sequence[Position]:
        ...

    async def balance(self) -> Balance:
        ...

    async def status(self) -> VenueStatus:
        ...


class FeedState(enum.Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"
    """Socket open but no data for longer than the max age (silent freeze)."""
    GAP = "gap"
    """A sequence gap or malformed frame invalidated some books; re-snapshotting."""
    RECONNECTING = "reconnecting"
    DOWN = "down"


@attrs.frozen
class FeedHealth:
    venue: Venue
    state: FeedState
    epoch: int
    """Bumped on every (re)connect; books from an older epoch are never trusted."""
    detail: str = ""
    keys: tuple[str, ...] = ()
    """Book keys affected (empty: every book of this connection)."""


class BookListener(Protocol):
    """Where a feed reports changes. Both methods are synchronous and must never block.

    A feed owns its ``arb.book`` objects and applies every snapshot and delta itself (deltas
    cannot be conflated); listeners are told *which* book changed and read it. Key: the Kalshi
    market ticker or the Polymarket token id.
    """

    def book_changed(self, venue: Venue, key: str) -> None:
        ...

    def feed_health(self, health: FeedHealth) -> None:
        ...


class UserEvents(Protocol):
    """Our own order and fill events pushed by the venue (Kalshi fill/user_orders, PM user ws)."""

    def __aiter__(self) -> AsyncIterator[Fill | OrderResult]:
        ...
