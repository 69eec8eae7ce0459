# Design note: the paper venue.
#
# Problem: paper trading must test the strategy that live trading runs: the same books, fees,
# order-entry rules, risk gates and ledger format, so that paper P&L predicts live P&L. It must
# also be incapable of trading: a paper bot that can reach an order endpoint is one config typo
# away from spending real money (design.md 5.7, reliability.md #31).
#
# Naive approaches: fill every order at its limit price (paper P&L then ignores depth, slippage
# and fees); fill against the top of book only; "mock" the live adapter's HTTP client (the order
# path and its credentials are then one flag away from being live).
#
# Chosen approach: a ``VenueAdapter`` that holds no HTTP client, socket or credentials at all (it
# does not import one). Taker orders (IOC/FOK) are matched against the *current* book of the
# instrument, read through a callable at the moment of submit: a BUY walks the asks best first
# up to its limit, a SELL walks the bids; each level taken is one fill at that level's price.
# Fees come from ``arb.fees`` exactly as the venue charges them (Kalshi: per-fill trade fee with
# the per-order rounding accumulator; Polymarket: taker ``C*r*p(1-p)`` per match, added to the
# cash paid). Order-entry rules are the live adapters' own (Kalshi price grid and count step,
# Polymarket tick, size and amount precision), so an order paper accepts is one live accepts.
# Liquidity we take is consumed virtually: each taken level remembers the size it had and how
# much we took, and until the feed changes that level's size the taken part is not available
# again, so two legs or two attempts cannot both fill the same contracts. Consumption is keyed
# by the resting level itself: on Kalshi's bids-only book, buying NO at p and selling YES at 1 - p
# take the same YES bids and share one entry.
#
# Left out, deliberately: resting (GTC) orders are refused, since without the venue's trade tape
# a paper fill of a resting order would be invented; queue position; Polymarket's taker delay and
# settlement (paper fills are CONFIRMED at once); the effect of our fills on the public book;
# Polymarket's cross-token matching (a YES buy filled against a NO bid): each token's book is
# walked on its own, as the feed presents it.
#
# Venue facts relied on: Kalshi asks are the other outcome's bids at 1 - price; Kalshi IOC
# answers carry the filled count after the remainder is cancelled; Polymarket FOK that cannot
# fill completely is refused with FOK_ORDER_NOT_FILLED_ERROR and fills nothing.
from __future__ import annotations

import collections
import hashlib
import time
from collections.abc import Callable, Sequence

import attrs
import orjson
import trio

from arb.book import KalshiBook, PolyBook
from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.fees import (
    FeeError,
    KalshiFeeAccumulator,
    KalshiFeeSchedule,
    PolyFeeSchedule,
    poly_fee,
)
from arb.money import ONE, Money, Price, Qty, Round, complement, div_round, format_trimmed
from arb.venues.kalshi.grid import GridError, MarketRules
from arb.venues.polymarket.amounts import amounts_for
from arb.venues.protocol import (
    Balance,
    Fill,
    FillPage,
    FillStatus,
    OpenOrder,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Position,
    PreparedOrder,
    Rejected,
    VenueStatus,
)

RETAINED_ORDERS = 10_000
"""Orders and fills kept for queries; older ones live only in the ledger."""
FILLS_PAGE = 200

BookLookup = Callable[[str], KalshiBook | PolyBook | None]
"""Book key (Kalshi market ticker, Polymarket token id) -> the live book, None if not tracked."""
FeeLookup = Callable[[Instrument], KalshiFeeSchedule | PolyFeeSchedule | None]
"""Instrument -> its fee schedule; None when unknown (the order is refused, never guessed)."""
RulesLookup = Callable[[str], MarketRules]
"""Kalshi market ticker -> its price grid and count step."""


_LevelKey = tuple[str, str, int]
"""(book key, ladder, price in that ladder's terms): one resting level of the venue's book."""


@attrs.frozen
class _Take:
    price: Price
    qty: Qty
    level: _LevelKey
    level_size: Qty
    """The level's size when we took from it (to tell when the feed has changed it)."""


@attrs.frozen
class PaperStatistics:
    orders: int
    fills: int
    refused: int
    consumed_levels: int


@attrs.define(eq=False)
class PaperVenue:
    """A paper ``VenueAdapter`` for one venue, filling taker orders against the live books."""

    venue: Venue
    books: BookLookup
    fee_schedule: FeeLookup
    cash: Money
    """Available paper cash; buys spend it (fees included), sells return it."""
    kalshi_rules: RulesLookup = attrs.field(default=lambda ticker: MarketRules.default(),
                                            kw_only=True)
    clock_ms: Callable[[], int] = attrs.field(default=lambda: time.time_ns() // 1_000_000,
                                              kw_only=True)
    _orders: collections.OrderedDict[str, OrderResult] = attrs.field(
        factory=collections.OrderedDict, init=False)
    _order_by_client: dict[str, str] = attrs.field(factory=dict, init=False)
    _fills: collections.deque[Fill] = attrs.field(
        factory=lambda: collections.deque(maxlen=RETAINED_ORDERS), init=False)
    _fill_seq: int = attrs.field(default=0, init=False)
    """Number of fills ever made (the fills cursor is this sequence number)."""
    _positions: dict[Instrument, Qty] = attrs.field(factory=dict, init=False)
    _consumed: dict[_LevelKey, tuple[Qty, Qty]] = attrs.field(factory=dict, init=False)
    """Resting level -> (its size when seen, quantity we took from it)."""
    _order_seq: int = attrs.field(default=0, init=False)
    _refused: int = attrs.field(default=0, init=False)

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Round to the venue's grid exactly as the live adapter does; no network involved.

        Raises:
            Rejected: wrong venue, a resting (GTC) order, or a venue order-entry rule broken.
        """
        inst = request.instrument
        what = f"paper order {request.client_id} {request.side.value} {inst}"
        if inst.venue is not self.venue:
            raise self._refuse(f"{what}: not a {self.venue.value} instrument")
        if not request.client_id:
            raise self._refuse(f"{what}: empty client id")
        if request.tif is TimeInForce.GTC:
            raise self._refuse(f"{what}: paper fills taker orders (IOC/FOK) only")
        if self.venue is Venue.KALSHI:
            price, qty = self._kalshi_rounding(request, what)
            venue_order_id = None
        else:
            book = self._poly_book(inst, what)
            try:
                amounts = amounts_for(request.side, request.price, request.qty, book.tick,
                                      request.tif, min_order_size=book.min_order_size,
                                      token_id=inst.token)
            except Rejected:
                self._refused += 1
                raise
            price, qty = amounts.price, amounts.shares
            venue_order_id = None
        payload = orjson.dumps({
            "client_id": request.client_id, "market": inst.market, "token": inst.token,
            "side": request.side.value, "price": format_trimmed(price),
            "qty": format_trimmed(qty), "tif": request.tif.value, "paper": True})
        if self.venue is Venue.POLYMARKET:
            # Like the live order hash, the id is known before anything is "sent".
            venue_order_id = "0x" + hashlib.sha256(payload).hexdigest()
        return PreparedOrder(request, venue_order_id, price, qty, payload)

    async def submit(self, order: PreparedOrder) -> OrderResult:
        """Match against the current book; raises Rejected when nothing can happen.

        IOC fills what the book holds within the limit (possibly nothing: CANCELLED). FOK fills
        completely or is refused whole.
        """
        await trio.lowlevel.checkpoint()
        request = order.request
        inst = request.instrument
        what = f"paper order {request.client_id} {request.side.value} {inst}"
        if request.client_id in self._order_by_client:
            raise self._refuse(f"{what}: duplicate client id", code="DUPLICATE_CLIENT_ID")
        schedule = self.fee_schedule(inst)
        if schedule is None:
            raise self._refuse(f"{what}: fee schedule unknown, not trading it")
        levels = self._levels(inst, request.side, what)
        takes = self._walk(levels, request.side, order.price, order.qty)
        taken = sum(t.qty for t in takes)
        if request.tif is TimeInForce.FOK and taken < order.qty:
            raise self._refuse(f"{what}: FOK for {format_trimmed(order.qty)} but only "
                               f"{format_trimmed(taken)} within {format_trimmed(order.price)}",
                               code="FOK_ORDER_NOT_FILLED_ERROR")
        if request.side is Side.SELL and taken > self._positions.get(inst, Qty(0)):
            raise self._refuse(f"{what}: selling {format_trimmed(taken)} but holding "
                               f"{format_trimmed(self._positions.get(inst, Qty(0)))}",
                               code="NOT_ENOUGH_BALANCE")
        charges = self._charges(schedule, takes, request.side, what)
        cash_change = sum(change for _fee, change in charges)
        if self.cash + cash_change < 0:
            raise self._refuse(f"{what}: not enough balance: needs "
                               f"{format_trimmed(-cash_change)}, has {format_trimmed(self.cash)}",
                               code="NOT_ENOUGH_BALANCE")

        self._order_seq += 1
        venue_order_id = order.venue_order_id or f"paper-{self.venue.value}-{self._order_seq}"
        now = self.clock_ms()
        trade_ids = []
        for take, (fee, _change) in zip(takes, charges, strict=True):
            self._fill_seq += 1
            trade_id = f"paper-{self.venue.value}-t{self._fill_seq}"
            trade_ids.append(trade_id)
            self._fills.append(Fill(self.venue, trade_id, venue_order_id, request.client_id,
                                    inst, request.side, take.price, take.qty, fee, True,
                                    FillStatus.CONFIRMED, now))
            used = self._consumed.get(take.level, (take.level_size, Qty(0)))[1]
            self._consumed[take.level] = (take.level_size, Qty(used + take.qty))
        self.cash = Money(self.cash + cash_change)
        signed = taken if request.side is Side.BUY else -taken
        held = self._positions.get(inst, Qty(0)) + signed
        if held:
            self._positions[inst] = Qty(held)
        else:
            self._positions.pop(inst, None)

        notional = sum(t.price * t.qty for t in takes)
        avg = (Price(div_round(notional, taken, Round.UP if request.side is Side.BUY
                               else Round.DOWN)) if taken else None)
        result = OrderResult(venue_order_id, request.client_id,
                             OrderStatus.FILLED if taken == order.qty else OrderStatus.CANCELLED,
                             Qty(taken), avg, Money(sum(fee for fee, _ in charges)),
                             tuple(trade_ids))
        self._remember(result)
        return result

    async def cancel(self, venue_order_id: str, instrument: Instrument) -> None:
        """Paper orders never rest: a known order is already finished, which is not an error."""
        await trio.lowlevel.checkpoint()
        if venue_order_id not in self._orders:
            raise Rejected(self.venue, f"paper cancel {venue_order_id} on {instrument}: "
                                       f"no such order")

    async def cancel_all(self) -> int:
        await trio.lowlevel.checkpoint()
        return 0

    async def get_order(self, venue_order_id: str | None = None, *,
                        client_id: str | None = None) -> OrderResult | None:
        await trio.lowlevel.checkpoint()
        if venue_order_id is None and client_id is not None:
            venue_order_id = self._order_by_client.get(client_id)
        return None if venue_order_id is None else self._orders.get(venue_order_id)

    async def open_orders(self) -> Sequence[OpenOrder]:
        await trio.lowlevel.checkpoint()
        return ()

    async def fills(self, cursor: str | None = None) -> FillPage:
        """Fills oldest first; ``cursor`` is the sequence number of the last fill already seen."""
        await trio.lowlevel.checkpoint()
        seen = int(cursor) if cursor else 0
        oldest = self._fill_seq - len(self._fills)
        start = max(seen, oldest) - oldest
        page = tuple(self._fills)[start:start + FILLS_PAGE]
        next_seq = oldest + start + len(page)
        return FillPage(page, str(next_seq) if next_seq < self._fill_seq else None)

    async def positions(self) -> Sequence[Position]:
        await trio.lowlevel.checkpoint()
        return [Position(inst, qty) for inst, qty in self._positions.items()]

    async def balance(self) -> Balance:
        await trio.lowlevel.checkpoint()
        return Balance(self.venue, self.cash, self.cash)

    async def status(self) -> VenueStatus:
        await trio.lowlevel.checkpoint()
        return VenueStatus(self.venue, reachable=True, trading_active=True, detail="paper")

    def statistics(self) -> PaperStatistics:
        return PaperStatistics(orders=self._order_seq, fills=self._fill_seq,
                               refused=self._refused, consumed_levels=len(self._consumed))

    # --- matching ----------------------------------------------------------------------------

    def _levels(self, inst: Instrument, side: Side, what: str
                ) -> list[tuple[Price, Qty, _LevelKey]]:
        """The levels an order takes from, best first, each with the resting level it is.

        Kalshi keeps bids only: buying NO takes the YES bids (at 1 - price) that selling YES
        also takes, so both map to the same resting level and share its consumption.
        """
        if self.venue is Venue.KALSHI:
            key = inst.market
            book = self.books(key)
            if not isinstance(book, KalshiBook) or not book.valid:
                raise self._refuse(f"{what}: {_book_problem(book, KalshiBook)}")
            outcome = inst.kalshi_outcome
            if side is Side.SELL:
                return [(price, size, (key, f"bid-{outcome.value}", price))
                        for price, size in book.bids(outcome)]
            other = Outcome.NO if outcome is Outcome.YES else Outcome.YES
            return [(price, size, (key, f"bid-{other.value}", complement(price)))
                    for price, size in book.asks(outcome)]
        book = self._poly_book(inst, what)
        if side is Side.BUY:
            return [(price, size, (inst.token, "ask", price)) for price, size in book.asks()]
        return [(price, size, (inst.token, "bid", price)) for price, size in book.bids()]

    def _walk(self, levels: list[tuple[Price, Qty, _LevelKey]], side: Side, limit: Price,
              qty: Qty) -> list[_Take]:
        """Take levels best first within ``limit`` until ``qty``, net of what we consumed."""
        takes: list[_Take] = []
        remaining = qty
        for price, size, level in levels:
            if remaining <= 0 or (price > limit if side is Side.BUY else price < limit):
                break
            seen, used = self._consumed.get(level, (size, 0))
            if seen != size:
                # The feed changed this level since we took from it: it is fresh again.
                del self._consumed[level]
                used = 0
            available = size - used
            if available <= 0:
                continue
            take = min(available, remaining)
            takes.append(_Take(price, Qty(take), level, size))
            remaining -= take
        return takes

    def _charges(self, schedule: KalshiFeeSchedule | PolyFeeSchedule, takes: list[_Take],
                 side: Side, what: str) -> list[tuple[Money, Money]]:
        """(fee, cash change) of each fill, exactly as the venue charges them."""
        charges = []
        try:
            if isinstance(schedule, KalshiFeeSchedule):
                accumulator = KalshiFeeAccumulator(schedule)
                for take in takes:
                    charge = accumulator.charge_fill(take.price, take.qty, buy=side is Side.BUY,
                                                     maker=False)
                    charges.append((charge.net_fee, charge.balance_change))
            else:
                for take in takes:
                    fee = poly_fee(schedule, take.price, take.qty)
                    notional = take.price * take.qty
                    if side is Side.BUY:
                        change = -div_round(notional, ONE, Round.UP) - fee
                    else:
                        change = div_round(notional, ONE, Round.DOWN) - fee
                    charges.append((fee, Money(change)))
        except FeeError as exc:
            raise self._refuse(f"{what}: {exc}") from None
        return charges

    # --- helpers -----------------------------------------------------------------------------

    def _kalshi_rounding(self, request: OrderRequest, what: str) -> tuple[Price, Qty]:
        inst = request.instrument
        try:
            outcome = inst.kalshi_outcome
        except ValueError:
            raise self._refuse(f"{what}: token must be 'yes' or 'no'") from None
        if not 0 < request.price < ONE:
            raise self._refuse(f"{what}: limit {format_trimmed(request.price)} is outside (0, 1)")
        rules = self.kalshi_rules(inst.market)
        # Same as the live adapter: round the YES-leg price, down for a bid, up for an ask.
        bid = (outcome is Outcome.YES) == (request.side is Side.BUY)
        yes_limit = request.price if outcome is Outcome.YES else complement(request.price)
        try:
            yes_price = rules.round_price(yes_limit, Round.DOWN if bid else Round.UP)
        except GridError as exc:
            raise self._refuse(f"{what}: {exc}") from None
        qty = rules.round_count(request.qty)
        if qty <= 0:
            raise self._refuse(f"{what}: size {format_trimmed(request.qty)} rounds to zero "
                               f"contracts (step {format_trimmed(rules.count_step)})")
        return (yes_price if outcome is Outcome.YES else complement(yes_price)), qty

    def _poly_book(self, inst: Instrument, what: str) -> PolyBook:
        book = self.books(inst.token)
        if not isinstance(book, PolyBook) or not book.valid:
            raise self._refuse(f"{what}: {_book_problem(book, PolyBook)}")
        return book

    def _refuse(self, reason: str, *, code: str | None = None) -> Rejected:
        self._refused += 1
        return Rejected(self.venue, reason, code=code)

    def _remember(self, result: OrderResult) -> None:
        self._orders[result.venue_order_id] = result
        if result.client_id is not None:
            self._order_by_client[result.client_id] = result.venue_order_id
        while len(self._orders) > RETAINED_ORDERS:
            _, dropped = self._orders.popitem(last=False)
            if dropped.client_id is not None:
                self._order_by_client.pop(dropped.client_id, None)


def _book_problem(book: object, expected: type) -> str:
    if book is None:
        return "no book for this instrument"
    if not isinstance(book, expected):
        return f"the book is a {type(book).__name__}, not a {expected.__name__}"
    return f"book not valid ({book.invalid_reason})"
