# Design note: order books for one Kalshi market and one Polymarket token.
#
# Problem: the feeds apply thousands of small updates per second and, after every one, edge
# detection wants the best level of several books and occasionally a depth walk. A wrong book is
# worse than none: public bots froze books at the snapshot (deltas read from the wrong fields),
# only let the best price move one way (Polymarket "BUY"/"SELL" filtered as "ASK"), scaled sizes by
# price and wrapped them at 16 bits, or rounded 0.995 into 0.99 and traded phantom edge.
#
# Naive approaches: a dict scanned with max() on every read is O(n) on the hot path; a numpy
# array indexed by tick breaks on sub-cent and per-market grids and on tick_size_change; a
# balanced tree is overkill for the 10-50 levels a sports book holds.
#
# Chosen: each side of a book is a ``_Ladder``: a dict price -> size plus the same prices in an
# ascending Python list kept sorted with ``bisect``. The best bid is the list's last element and
# the best ask its first, so best-level reads are O(1); an insert or delete is a bisect plus a
# short memmove, which at <= 50 levels costs well under a microsecond. Depth walks read the list
# in order. Numpy is deliberately not used anywhere here. Measured on 30 levels: bisect + list
# insert + delete ~0.12 us against ~8.7 us for np.searchsorted + np.insert + np.delete (each
# allocates a new array), and a best-level read is 0.03 us from a list against 0.09 us from an
# array (boxing to a Python int). A whole applied update costs ~0.4 us (scripts/bench_core.py).
#
# Every price and size is an int at SCALE (arb.money): distinct sub-cent levels stay distinct
# and sizes are contracts/shares, never scaled by price. Validation happens before mutation, and
# any bad update raises BookError and marks the book invalid, so nobody reads a half-applied
# book. While invalid, updates other than a snapshot are counted and dropped: only a snapshot
# can re-establish the truth.
#
# Venue facts relied on (docs/venues.md):
# - Kalshi books are bids only (A4.2): ``yes`` = bids to buy YES, ``no`` = bids to buy NO; the
#   YES ask is 1 - best NO bid with that level's size, and vice versa.
# - Kalshi WS deltas are signed size changes, level deleted when <= 0 (A7.4). A result below zero
#   means we missed a message, so it is a desync, not something to clamp.
# - With ``use_yes_price: true`` NO-side levels arrive in YES-leg prices (a NO bid at q shows as
#   1 - q); the default is NO-leg prices (A7.4). The book converts once, at the edge, and stores
#   NO bids in NO prices.
# - Polymarket ``book`` snapshots give bids and asks with no guaranteed order; ``price_change``
#   gives the NEW TOTAL size at a level, ``side`` BUY = bid level, SELL = ask level, "0" deletes
#   (B6.1). A crossed book can show up transiently between messages, so it is flagged, not
#   rejected.
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

import attrs

from arb.domain import Outcome, Side
from arb.money import SCALE, Price, Qty, format_trimmed

Level = tuple[Price, Qty]


class BookError(ValueError):
    """A bad book update; the book it was applied to is now invalid."""


@attrs.define(eq=False)
class _Ladder:
    """One side of a book: price -> size, with the prices kept sorted ascending."""

    sizes: dict[int, int] = attrs.Factory(dict)
    prices: list[int] = attrs.Factory(list)
    """Ascending; the same keys as ``sizes``."""

    def replace(self, sizes: dict[int, int]) -> None:
        self.sizes = sizes
        self.prices = sorted(sizes)

    def set(self, price: int, size: int) -> None:
        """Set a level's total size; a size of zero deletes it."""
        sizes = self.sizes
        if size:
            if price not in sizes:
                prices = self.prices
                prices.insert(bisect_left(prices, price), price)
            sizes[price] = size
        elif price in sizes:
            del sizes[price]
            prices = self.prices
            del prices[bisect_left(prices, price)]

    def highest(self) -> Level | None:
        prices = self.prices
        if not prices:
            return None
        price = prices[-1]
        return Price(price), Qty(self.sizes[price])

    def lowest(self) -> Level | None:
        prices = self.prices
        if not prices:
            return None
        price = prices[0]
        return Price(price), Qty(self.sizes[price])

    def descending(self, depth: int | None) -> list[Level]:
        sizes = self.sizes
        prices = self.prices
        chosen = prices[::-1] if depth is None else prices[:-depth - 1:-1] if depth > 0 else []
        return [(Price(p), Qty(sizes[p])) for p in chosen]

    def ascending(self, depth: int | None) -> list[Level]:
        sizes = self.sizes
        chosen = self.prices if depth is None else self.prices[:max(depth, 0)]
        return [(Price(p), Qty(sizes[p])) for p in chosen]


def _snapshot_side(levels: Iterable[Level], *, lo_ok: bool, hi_ok: bool, convert: bool,
                   where: str) -> dict[int, int]:
    """Validate snapshot levels into a dict; zero sizes are skipped, duplicates rejected."""
    out: dict[int, int] = {}
    for level in levels:
        try:
            price, size = level
        except (TypeError, ValueError):
            raise BookError(f"{where}: level {level!r} is not a (price, size) pair") from None
        _check_price(price, lo_ok=lo_ok, hi_ok=hi_ok, where=where)
        _check_int(size, "size", where)
        if size < 0:
            raise BookError(f"{where}: negative size {format_trimmed(size)} at price "
                            f"{format_trimmed(price)}")
        if size == 0:
            continue
        if convert:
            price = SCALE - price
        if price in out:
            raise BookError(f"{where}: duplicate level at price {format_trimmed(price)}")
        out[price] = size
    return out


def _check_int(value: object, name: str, where: str) -> None:
    if type(value) is not int:
        raise BookError(f"{where}: {name} must be an int in micro-units, got {value!r}")


def _check_price(price: object, *, lo_ok: bool, hi_ok: bool, where: str) -> None:
    _check_int(price, "price", where)
    if price < 0 or price > SCALE or (price == 0 and not lo_ok) or (price == SCALE and not hi_ok):
        bounds = f"{'[' if lo_ok else '('}0, 1{']' if hi_ok else ')'}"
        raise BookError(f"{where}: price {price} micro-dollars is outside {bounds}")


@attrs.define(eq=False)
class Liveness:
    """When the connection a book is fed from last delivered market data.

    A quiet book on a live connection is not stale: Kalshi's per-subscription ``seq`` proves no
    delta was missed up to the connection's latest frame, and a Polymarket socket that keeps
    delivering data (with its silent-freeze watchdog and best bid/ask cross-checks) vouches for
    the books it carries. The feed that owns the connection updates ``last_data`` on every data
    frame and invalidates the books itself on a gap, a freeze or a reconnect.
    """

    last_data: float = 0.0


class _BookState:
    """What both book kinds share: validity and how current they are known to be."""

    valid: bool
    invalid_reason: str
    received_at: float
    liveness: Liveness | None

    def invalidate(self, reason: str) -> None:
        """Mark the book unusable until the next snapshot (gap, stale feed, reconnect)."""
        self.valid = False
        self.invalid_reason = reason

    def current_as_of(self) -> float:
        """The latest feed time this book is known to be current: its own last update, or the
        last data frame of the connection that vouches for it, whichever is later."""
        if self.liveness is None:
            return self.received_at
        return max(self.received_at, self.liveness.last_data)


@attrs.define(eq=False)
class KalshiBook(_BookState):
    """The bids-only book of one Kalshi market, both outcomes, each stored in its own prices."""

    ticker: str
    no_in_yes_prices: bool = attrs.field(kw_only=True)
    """True when the feed subscribed with ``use_yes_price=true``: NO levels and deltas arrive in
    YES-leg prices (a NO bid at q is reported at 1 - q) and are converted on the way in."""
    liveness: Liveness | None = attrs.field(default=None, kw_only=True)
    """The feeding connection's data clock; None for a book nobody vouches for."""
    valid: bool = attrs.field(default=False, init=False)
    """False before the first snapshot, after ``invalidate`` and after a BookError."""
    invalid_reason: str = attrs.field(default="no snapshot yet", init=False)
    received_at: float = attrs.field(default=0.0, init=False)
    """Feed clock (Trio seconds) of the last applied update."""
    venue_ts_ms: int | None = attrs.field(default=None, init=False)
    updates: int = attrs.field(default=0, init=False)
    """Applied updates (snapshots and deltas)."""
    dropped: int = attrs.field(default=0, init=False)
    """Deltas received while invalid and therefore not applied (only a snapshot repairs)."""
    _yes: _Ladder = attrs.field(factory=_Ladder, init=False)
    _no: _Ladder = attrs.field(factory=_Ladder, init=False)

    def _fail(self, message: str) -> BookError:
        self.valid = False
        self.invalid_reason = message
        return BookError(message)

    def apply_snapshot(self, yes: Iterable[Level], no: Iterable[Level], *, received_at: float,
                       venue_ts_ms: int | None = None) -> None:
        """Replace both sides; the book becomes valid.

        Raises:
            BookError: a price outside (0, 1), a negative size, a duplicate price or a non-int
                value; the book is then invalid.
        """
        where = f"kalshi {self.ticker} snapshot"
        try:
            yes_sizes = _snapshot_side(yes, lo_ok=False, hi_ok=False, convert=False,
                                       where=f"{where} yes")
            no_sizes = _snapshot_side(no, lo_ok=False, hi_ok=False,
                                      convert=self.no_in_yes_prices, where=f"{where} no")
        except BookError as err:
            raise self._fail(str(err)) from None
        self._yes.replace(yes_sizes)
        self._no.replace(no_sizes)
        self.valid = True
        self.invalid_reason = ""
        self.received_at = received_at
        self.venue_ts_ms = venue_ts_ms
        self.updates += 1

    def apply_delta(self, outcome: Outcome, price: Price, delta: Qty, *, received_at: float,
                    venue_ts_ms: int | None = None) -> None:
        """Add a signed size change to one level; the level is deleted when it reaches zero.

        ``price`` is in the feed's convention (see ``no_in_yes_prices``). Ignored (and counted in
        ``dropped``) while the book is invalid.

        Raises:
            BookError: a price outside (0, 1), a non-int value, or a delta that would drive the
                level below zero (a missed message); the book is then invalid.
        """
        if type(price) is not int or not 0 < price < SCALE or type(delta) is not int:
            where = f"kalshi {self.ticker} delta {outcome.value}"
            try:
                _check_price(price, lo_ok=False, hi_ok=False, where=where)
                _check_int(delta, "delta", where)
            except BookError as err:
                raise self._fail(str(err)) from None
        if not self.valid:
            self.dropped += 1
            return
        if outcome is Outcome.YES:
            ladder = self._yes
        else:
            ladder = self._no
            if self.no_in_yes_prices:
                price = Price(SCALE - price)
        new_size = ladder.sizes.get(price, 0) + delta
        if new_size < 0:
            raise self._fail(
                f"kalshi {self.ticker} delta {outcome.value}: {format_trimmed(delta)} at "
                f"{format_trimmed(price)} leaves {format_trimmed(new_size)} contracts "
                f"(book out of sync)")
        ladder.set(price, new_size)
        self.received_at = received_at
        self.venue_ts_ms = venue_ts_ms
        self.updates += 1

    def best_bid(self, outcome: Outcome) -> Level | None:
        """Best bid to buy ``outcome``, in that outcome's own prices."""
        return (self._yes if outcome is Outcome.YES else self._no).highest()

    def best_ask(self, outcome: Outcome) -> Level | None:
        """Best price to buy ``outcome`` now: 1 - the other outcome's best bid, with its size."""
        ladder = self._no if outcome is Outcome.YES else self._yes
        prices = ladder.prices
        if not prices:
            return None
        price = prices[-1]
        return Price(SCALE - price), Qty(ladder.sizes[price])

    def bids(self, outcome: Outcome, depth: int | None = None) -> list[Level]:
        """Bids for ``outcome``, best (highest) first, at most ``depth`` levels."""
        return (self._yes if outcome is Outcome.YES else self._no).descending(depth)

    def asks(self, outcome: Outcome, depth: int | None = None) -> list[Level]:
        """Implied asks for ``outcome``, best (lowest) first, at most ``depth`` levels."""
        other = self._no if outcome is Outcome.YES else self._yes
        return [(Price(SCALE - p), q) for p, q in other.descending(depth)]

    @property
    def crossed(self) -> bool:
        """True when the YES and NO best bids sum to 1 or more (cannot rest on Kalshi)."""
        yes, no = self._yes.prices, self._no.prices
        return bool(yes and no and yes[-1] + no[-1] >= SCALE)


@attrs.define(eq=False)
class PolyBook(_BookState):
    """The book of one Polymarket outcome token: bids and asks in that token's prices."""

    token_id: str
    tick: Price = attrs.field(kw_only=True)
    min_order_size: Qty = attrs.field(kw_only=True)
    """Minimum shares for a limit order (usually 5)."""
    liveness: Liveness | None = attrs.field(default=None, kw_only=True)
    """The feeding socket's data clock; None for a book nobody vouches for."""
    valid: bool = attrs.field(default=False, init=False)
    invalid_reason: str = attrs.field(default="no snapshot yet", init=False)
    received_at: float = attrs.field(default=0.0, init=False)
    venue_ts_ms: int | None = attrs.field(default=None, init=False)
    updates: int = attrs.field(default=0, init=False)
    dropped: int = attrs.field(default=0, init=False)
    """Level updates received while invalid and therefore not applied."""
    _bids: _Ladder = attrs.field(factory=_Ladder, init=False)
    _asks: _Ladder = attrs.field(factory=_Ladder, init=False)

    def __attrs_post_init__(self) -> None:
        self._check_tick(self.tick)
        if type(self.min_order_size) is not int or self.min_order_size < 0:
            raise BookError(f"polymarket {self.token_id}: min_order_size "
                            f"{self.min_order_size!r} is not a non-negative int")

    def _check_tick(self, tick: object) -> None:
        if type(tick) is not int or not 0 < tick < SCALE:
            raise BookError(f"polymarket {self.token_id}: tick {tick!r} is not inside (0, 1)")

    def _fail(self, message: str) -> BookError:
        self.valid = False
        self.invalid_reason = message
        return BookError(message)

    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level], *, received_at: float,
                       venue_ts_ms: int | None = None) -> None:
        """Replace both sides (levels in any order); the book becomes valid.

        Raises:
            BookError: a price outside [0, 1], a negative size, a duplicate price or a non-int
                value; the book is then invalid.
        """
        where = f"polymarket {self.token_id} book"
        try:
            bid_sizes = _snapshot_side(bids, lo_ok=True, hi_ok=True, convert=False,
                                       where=f"{where} bids")
            ask_sizes = _snapshot_side(asks, lo_ok=True, hi_ok=True, convert=False,
                                       where=f"{where} asks")
        except BookError as err:
            raise self._fail(str(err)) from None
        self._bids.replace(bid_sizes)
        self._asks.replace(ask_sizes)
        self.valid = True
        self.invalid_reason = ""
        self.received_at = received_at
        self.venue_ts_ms = venue_ts_ms
        self.updates += 1

    def apply_level(self, side: Side, price: Price, size: Qty, *, received_at: float,
                    venue_ts_ms: int | None = None) -> None:
        """Set one level's NEW TOTAL size (``price_change``); zero deletes it.

        ``Side.BUY`` is a bid level, ``Side.SELL`` an ask level. Ignored (and counted in
        ``dropped``) while the book is invalid.

        Raises:
            BookError: a price outside [0, 1], a negative size or a non-int value; the book is
                then invalid.
        """
        if type(price) is not int or not 0 <= price <= SCALE or type(size) is not int or size < 0:
            where = f"polymarket {self.token_id} price_change {side.value}"
            try:
                _check_price(price, lo_ok=True, hi_ok=True, where=where)
                _check_int(size, "size", where)
            except BookError as err:
                raise self._fail(str(err)) from None
            raise self._fail(f"{where}: negative size {format_trimmed(size)} at "
                             f"{format_trimmed(price)}")
        if not self.valid:
            self.dropped += 1
            return
        (self._bids if side is Side.BUY else self._asks).set(price, size)
        self.received_at = received_at
        self.venue_ts_ms = venue_ts_ms
        self.updates += 1

    def set_tick(self, tick: Price) -> None:
        """Apply a ``tick_size_change``; resting levels are kept as the venue reports them."""
        self._check_tick(tick)
        self.tick = tick

    def best_bid(self) -> Level | None:
        return self._bids.highest()

    def best_ask(self) -> Level | None:
        return self._asks.lowest()

    def bids(self, depth: int | None = None) -> list[Level]:
        """Bids, best (highest) first, at most ``depth`` levels."""
        return self._bids.descending(depth)

    def asks(self, depth: int | None = None) -> list[Level]:
        """Asks, best (lowest) first, at most ``depth`` levels."""
        return self._asks.ascending(depth)

    @property
    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask (transient between messages)."""
        bids, asks = self._bids.prices, self._asks.prices
        return bool(bids and asks and bids[-1] >= asks[0])
