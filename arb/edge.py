# Design note: edge detection at actual size.
#
# Problem: for one pair and its current books, find the quantity that maximises the guaranteed
# profit of buying both sides of the outcome, after each venue's fees and rounding, within the
# operator's limits and each venue's order rules. Top-of-book arithmetic lies in both directions:
# it ignores depth (the best level may hold 3 contracts) and rounding (Kalshi rounds each order's
# fee up to the cent, so a 1-contract "arb" at +1 cent gross is -1 cent net).
#
# Naive approaches: (1) size = min(top sizes): misses depth and lets rounding eat the edge;
# (2) try every size: exact but thousands of fee evaluations per book update; (3) "walk while
# the marginal level is profitable": profit is not monotone in size because of rounding, so the
# walk stops too early or too late.
#
# Chosen: split profit into an exact, unrounded part and the rounding. With L(q) = payout - cost -
# exact fees (no rounding), the real profit is P(q) = L(q) - R(q) with 0 <= R(q) < ~2 cents.
# Asks are walked cheapest first and each leg's marginal cost per contract (price plus the fee's
# marginal rate) rises level by level, so L is concave and piecewise linear with L(0) = 0. Hence:
# - early exit: if the best asks already sum to >= 1 (or the exact fee-inclusive slope at size 0
#   is <= 0), L <= 0 everywhere and there is no edge. This is the hot path.
# - the per-contract and basis-point limits become "P(q) >= k*q" (profit/capital >= b is
#   profit/q >= b/(1+b) because payout = q), and L(q)/q only falls with q, so they cap q from
#   above; notional minimums cap it from below; both found by binary search on exact integers.
# - the peak of L is found by binary search on its exact slope; then sizes are scanned outward from
#   the peak, each evaluated exactly with both venues' real rounding, and a direction stops as
#   soon as L(q) (an upper bound of P) cannot beat the best profit found: exact optimum with a
#   handful of evaluations when the edge is real. A scan budget caps pathological flat regions;
#   the reported profit is always exact for the reported size.
# Legs are ALWAYS the same number of contracts (never equal dollars). Prices, sizes and money are
# integers at SCALE; the unrounded L is computed with a common denominator, never in float.
#
# Venue facts relied on (docs/venues.md A3, A8, B4.4, B7, C; design.md section 1):
# - Kalshi: asks are implied from the other outcome's bids; whole contracts unless the market
#   allows fractional (0.01) counts; prices on the market's price_ranges grid; fee per order
#   rounded up to the cent (fees.fee_upper_bound) plus the cent rounding of the balance debit.
# - Polymarket: taker fee per match rounded up to 0.00001 (fees.poly_fee); prices on the tick and
#   within [tick, 1 - tick]; at least ``min_order_size`` shares and $1 notional; a FOK/FAK buy is
#   rejected unless price x size has <= 2 decimals, so only such sizes are chosen (shares on the
#   0.01 grid).
# - A crossed Polymarket book (bid >= ask) cannot exist at the venue: it is stale, so kinds that
#   use it are skipped. A crossed Kalshi book is what ``kalshi_same_market`` detects (an alarm).
# - Cross-venue kinds depend on the pair's orientation, so they need ``pair.tradable``; same-venue
#   kinds do not.
from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Callable, Sequence

import attrs

from arb.book import KalshiBook, Level, PolyBook
from arb.domain import Instrument, Outcome, Side, Venue
from arb.fees import FeeError, check_poly_schedule, kalshi_rate
from arb.money import CENT, SCALE, Money, Price, Qty
from arb.pairs import MarketPair, PriceBand

MAX_SCAN = 4096
"""Most exact evaluations spent scanning around the peak, per kind (flat-profit regions only)."""

_POLY_SHARE_STEP = 10_000
"""Polymarket sizes are chosen on a 0.01-share grid."""
_POLY_USDC_STEP = CENT * SCALE
"""A FOK/FAK buy's price x size must be a multiple of $0.01 (at SCALE**2)."""
_KALSHI_FRACTIONAL_STEP = 10_000
_ONE_DOLLAR_NOTIONAL = SCALE * SCALE
_KALSHI_FEE_EXP = 4
"""kalshi_fee_numerator / SCALE**4 = micro-dollars."""


class Kind(enum.StrEnum):
    POLY_YES_KALSHI_NO = "poly_yes_kalshi_no"
    KALSHI_YES_POLY_NO = "kalshi_yes_poly_no"
    POLY_SAME_MARKET = "poly_same_market"
    KALSHI_SAME_MARKET = "kalshi_same_market"


def _non_negative(_inst: object, attribute: attrs.Attribute, value: int) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"EdgeParams.{attribute.name} must be a non-negative int, got {value!r}")


def _positive(_inst: object, attribute: attrs.Attribute, value: int) -> None:
    if type(value) is not int or value <= 0:
        raise ValueError(f"EdgeParams.{attribute.name} must be a positive int, got {value!r}")


@attrs.frozen
class EdgeParams:
    """Limits an opportunity must satisfy; sizes and money at SCALE."""

    min_profit: Money = attrs.field(default=Money(1), validator=_positive)
    """Smallest absolute profit worth reporting (default: anything above zero)."""
    min_profit_per_contract: Money = attrs.field(default=Money(0), validator=_non_negative)
    max_qty: Qty = attrs.field(default=Qty(1_000 * SCALE), validator=_positive)
    """Most contracts per leg."""
    max_cost: Money = attrs.field(default=Money(1_000 * SCALE), validator=_positive)
    """Most capital (both legs' cost plus fees) per opportunity."""
    min_edge_bps: int = attrs.field(default=0, validator=_non_negative)
    """Smallest profit / capital, in basis points."""


@attrs.frozen
class EdgeLeg:
    """One leg: buy ``qty`` of ``instrument`` up to ``limit_price`` (the worst level walked)."""

    instrument: Instrument
    side: Side
    limit_price: Price
    """The price to send: the worst level walked, rounded up onto the venue's grid."""
    qty: Qty
    cost: Money
    """Sum of price x size over the levels walked."""
    fee: Money
    """Venue fee at this size with the venue's rounding (Kalshi: the whole-cent order bound plus
    the cent rounding of the balance debit)."""
    best_price: Price
    size_at_best: Qty
    fills: tuple[Level, ...]
    """The levels walked, (price, size taken), best first."""

    @property
    def venue(self) -> Venue:
        return self.instrument.venue


@attrs.frozen
class Opportunity:
    """A fee-inclusive arbitrage at one size; both legs buy ``qty`` contracts."""

    pair_id: str
    kind: Kind
    qty: Qty
    legs: tuple[EdgeLeg, EdgeLeg]
    cost: Money
    fees: Money
    payout: Money
    """What the pair pays at settlement: $1 per contract."""
    profit: Money
    """payout - cost - fees."""
    edge_bps: int
    """profit / (cost + fees) in basis points, rounded down."""
    received_at: float
    """Feed time of the oldest book update this opportunity relies on."""

    @property
    def capital(self) -> Money:
        return Money(self.cost + self.fees)


@attrs.define(eq=False)
class _Leg:
    """A leg's ask ladder prepared for exact evaluation at any size."""

    instrument: Instrument
    kalshi: bool
    prices: list[int]
    limits: list[int | None]
    """Per level: the limit price to send when that level is the worst walked (None: off-grid
    or out of the venue's range, so sizes reaching it are not allowed)."""
    cum_qty: list[int]
    cum_cost: list[int]
    """Cost at SCALE**2 (price x qty) of the full levels before each index."""
    fee_rates: list[int]
    """Exact fee per micro-contract at each level, over ``SCALE**fee_exp``."""
    cum_fee: list[int]
    """Kalshi: exact fee numerators of full levels; Polymarket: rounded fees of full levels."""
    fee_exp: int
    poly_min_qty: int
    received_at: float
    marginal: list[int] = attrs.Factory(list)
    """Exact marginal cost per micro-contract at each level, at the kind's common scale."""
    cum_marginal: list[int] = attrs.Factory(list)

    @property
    def liquidity(self) -> int:
        return self.cum_qty[-1]


def _round_up_on_grid(price: int, bands: Sequence[PriceBand]) -> int | None:
    for band in bands:
        if band.start <= price <= band.end:
            offset = -((band.start - price) // band.step) * band.step
            rounded = band.start + offset
            return rounded if rounded <= band.end else None
    return None


def _kalshi_leg(pair: MarketPair, book: KalshiBook, outcome: Outcome, max_qty: int) -> _Leg:
    rate = kalshi_rate(pair.kalshi.fees)
    levels = _cover(book.asks(outcome), max_qty)
    grid = pair.kalshi.grid
    return _build_leg(pair.kalshi.instrument(outcome), True, levels,
                      [_round_up_on_grid(p, grid) for p, _ in levels],
                      [rate * p * (SCALE - p) for p, _ in levels], _KALSHI_FEE_EXP, 0,
                      book.received_at)


def _poly_leg(pair: MarketPair, book: PolyBook, max_qty: int) -> _Leg:
    schedule = pair.poly.fees
    check_poly_schedule(schedule)
    levels = _cover(book.asks(), max_qty)
    tick = book.tick
    limits: list[int | None] = []
    for price, _ in levels:
        rounded = -(-price // tick) * tick
        limits.append(rounded if tick <= rounded <= SCALE - tick else None)
    exponent = schedule.exponent
    rates = [schedule.rate * (p * (SCALE - p)) ** exponent for p, _ in levels]
    return _build_leg(pair.poly.instrument(book.token_id), False, levels, limits, rates,
                      1 + 2 * exponent, book.min_order_size, book.received_at)


def _cover(levels: list[Level], max_qty: int) -> list[Level]:
    """The best levels whose sizes reach ``max_qty`` (all of them if the book is thinner)."""
    total = 0
    for index, (_, size) in enumerate(levels):
        total += size
        if total >= max_qty:
            return levels[:index + 1]
    return levels


def _build_leg(instrument: Instrument, kalshi: bool, levels: list[Level],
               limits: list[int | None], fee_rates: list[int], fee_exp: int,
               poly_min_qty: int, received_at: float) -> _Leg:
    prices = [p for p, _ in levels]
    cum_qty = [0]
    cum_cost = [0]
    cum_fee = [0]
    denominator = SCALE ** fee_exp
    for (price, size), rate in zip(levels, fee_rates, strict=True):
        cum_qty.append(cum_qty[-1] + size)
        cum_cost.append(cum_cost[-1] + price * size)
        if kalshi:
            cum_fee.append(cum_fee[-1] + rate * size)
        else:
            cum_fee.append(cum_fee[-1] + _ceil_fee(rate * size, denominator))
    return _Leg(instrument, kalshi, prices, limits, cum_qty, cum_cost, fee_rates, cum_fee,
                fee_exp, poly_min_qty, received_at)


def _ceil_fee(numerator: int, denominator: int) -> int:
    """Polymarket fee rounding: up to $0.00001 (10 micro-dollars)."""
    return -(-numerator // (denominator * 10)) * 10


@attrs.frozen
class _Priced:
    """One leg priced exactly at one size."""

    level: int
    limit: int | None
    cost: int
    fee: int


def _price_leg(leg: _Leg, qty: int) -> _Priced:
    level = bisect_left(leg.cum_qty, qty) - 1
    partial = qty - leg.cum_qty[level]
    price = leg.prices[level]
    cost_num = leg.cum_cost[level] + price * partial
    cost = -(-cost_num // SCALE)
    if leg.kalshi:
        fee_num = leg.cum_fee[level] + leg.fee_rates[level] * partial
        fee = -(-fee_num // (SCALE ** _KALSHI_FEE_EXP * CENT)) * CENT
        fee += -(-cost // CENT) * CENT - cost
    else:
        fee = leg.cum_fee[level] + _ceil_fee(leg.fee_rates[level] * partial, SCALE ** leg.fee_exp)
    return _Priced(level, leg.limits[level], cost, fee)


@attrs.define(eq=False)
class _Search:
    """Exact evaluation of one kind at sizes counted in units of ``step``."""

    a: _Leg
    b: _Leg
    step: int
    params: EdgeParams
    scale: int
    """Common denominator of the unrounded profit L (SCALE**z, micro-dollars)."""

    def exact(self, units: int) -> int:
        """L(q) x scale: payout - cost - fees with no rounding."""
        q = units * self.step
        return q * self.scale - _exact_leg(self.a, q) - _exact_leg(self.b, q)

    def limits_ok(self, priced: _Priced, q: int, leg: _Leg) -> bool:
        limit = priced.limit
        if limit is None:
            return False
        if leg.kalshi:
            return True
        notional = limit * q
        return (q >= leg.poly_min_qty and notional >= _ONE_DOLLAR_NOTIONAL
                and notional % _POLY_USDC_STEP == 0)

    def profit(self, units: int) -> tuple[int, _Priced, _Priced] | None:
        """Exact profit at ``units`` if every rule and limit holds there, else None."""
        q = units * self.step
        pa, pb = _price_leg(self.a, q), _price_leg(self.b, q)
        if not (self.limits_ok(pa, q, self.a) and self.limits_ok(pb, q, self.b)):
            return None
        capital = pa.cost + pa.fee + pb.cost + pb.fee
        profit = q - capital
        params = self.params
        if (capital > params.max_cost or profit < params.min_profit
                or profit * SCALE < params.min_profit_per_contract * q
                or profit * 10_000 < params.min_edge_bps * capital):
            return None
        return profit, pa, pb

    def capital(self, units: int) -> int:
        q = units * self.step
        pa, pb = _price_leg(self.a, q), _price_leg(self.b, q)
        return pa.cost + pa.fee + pb.cost + pb.fee

    def notional_ok(self, units: int) -> bool:
        """The $1 minimum of every Polymarket leg (monotone in size)."""
        q = units * self.step
        for leg in (self.a, self.b):
            if not leg.kalshi:
                limit = _price_leg(leg, q).limit
                if limit is not None and limit * q < _ONE_DOLLAR_NOTIONAL:
                    return False
        return True

    def ratio_ok(self, units: int) -> bool:
        """Whether L(q) allows the per-contract and basis-point limits (monotone in size)."""
        q = units * self.step
        exact = self.exact(units)
        params = self.params
        return (exact * SCALE >= params.min_profit_per_contract * q * self.scale
                and exact * (10_000 + params.min_edge_bps) >= params.min_edge_bps * q * self.scale)


def _exact_leg(leg: _Leg, qty: int) -> int:
    level = bisect_left(leg.cum_qty, qty) - 1
    return leg.cum_marginal[level] + leg.marginal[level] * (qty - leg.cum_qty[level])


def _prepare_marginals(leg: _Leg, z: int) -> bool:
    """Exact marginal cost per micro-contract at scale SCALE**z; False if not non-decreasing."""
    price_mult = SCALE ** (z - 1)
    fee_mult = SCALE ** (z - leg.fee_exp)
    leg.marginal = [p * price_mult + r * fee_mult for p, r in zip(leg.prices, leg.fee_rates,
                                                                   strict=True)]
    cum = [0]
    for m, size in zip(leg.marginal, _sizes(leg), strict=True):
        cum.append(cum[-1] + m * size)
    leg.cum_marginal = cum
    return all(x <= y for x, y in zip(leg.marginal, leg.marginal[1:], strict=False))


def _sizes(leg: _Leg) -> list[int]:
    cq = leg.cum_qty
    return [cq[i + 1] - cq[i] for i in range(len(cq) - 1)]


def _last_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int:
    """Largest u in [lo, hi] with pred(u), pred true-then-false; lo - 1 if none."""
    while lo <= hi:
        mid = (lo + hi) // 2
        if pred(mid):
            lo = mid + 1
        else:
            hi = mid - 1
    return hi


def _first_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int:
    """Smallest u in [lo, hi] with pred(u), pred false-then-true; hi + 1 if none."""
    while lo <= hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid - 1
        else:
            lo = mid + 1
    return lo


def _best_size(search: _Search, concave: bool) -> tuple[int, int, _Priced, _Priced] | None:
    a, b, step, params = search.a, search.b, search.step, search.params
    n_max = min(a.liquidity, b.liquidity, params.max_qty) // step
    lo = 1
    for leg in (a, b):
        if not leg.kalshi:
            lo = max(lo, -(-leg.poly_min_qty // step))
    lo = _first_true(lo, n_max, search.notional_ok)
    hi = _last_true(lo, n_max, lambda u: search.capital(u) <= params.max_cost)
    if concave:
        hi = _last_true(lo, hi, search.ratio_ok)
    if hi < lo:
        return None
    scale = search.scale
    if concave:
        peak = _last_true(lo + 1, hi, lambda u: search.exact(u) > search.exact(u - 1))
        if search.exact(peak) // scale < params.min_profit:
            return None
    else:
        peak = hi
    best: tuple[int, int, _Priced, _Priced] | None = None
    budget = MAX_SCAN
    for direction in (-1, 1):
        units = peak if direction < 0 else peak + 1
        while lo <= units <= hi and budget > 0:
            budget -= 1
            if concave:
                # P(q) <= floor(L(q)), and L only falls from here on in this direction.
                bound = search.exact(units) // scale
                if bound < params.min_profit or (best is not None and (
                        bound < best[0] or (direction > 0 and bound == best[0]))):
                    break
            found = search.profit(units)
            if found is not None and (best is None or found[0] > best[0]
                                      or (found[0] == best[0] and units < best[1])):
                best = (found[0], units, found[1], found[2])
            units += direction
    return best


def _finish(pair: MarketPair, kind: Kind, search: _Search,
            found: tuple[int, int, _Priced, _Priced]) -> Opportunity:
    profit, units, pa, pb = found
    q = units * search.step
    legs = (_edge_leg(search.a, pa, q), _edge_leg(search.b, pb, q))
    cost = legs[0].cost + legs[1].cost
    fees = legs[0].fee + legs[1].fee
    return Opportunity(pair_id=pair.pair_id, kind=kind, qty=Qty(q), legs=legs, cost=Money(cost),
                       fees=Money(fees), payout=Money(q), profit=Money(profit),
                       edge_bps=profit * 10_000 // (cost + fees),
                       received_at=min(search.a.received_at, search.b.received_at))


def _edge_leg(leg: _Leg, priced: _Priced, qty: int) -> EdgeLeg:
    fills = []
    for index in range(priced.level + 1):
        taken = min(leg.cum_qty[index + 1], qty) - leg.cum_qty[index]
        fills.append((Price(leg.prices[index]), Qty(taken)))
    assert priced.limit is not None
    return EdgeLeg(instrument=leg.instrument, side=Side.BUY, limit_price=Price(priced.limit),
                   qty=Qty(qty), cost=Money(priced.cost), fee=Money(priced.fee),
                   best_price=Price(leg.prices[0]), size_at_best=Qty(leg.cum_qty[1]),
                   fills=tuple(fills))


def _evaluate_kind(pair: MarketPair, kind: Kind, a: _Leg, b: _Leg, step: int,
                   params: EdgeParams) -> Opportunity | None:
    if not a.prices or not b.prices:
        return None
    z = max(a.fee_exp, b.fee_exp)
    scale = SCALE ** z
    concave = _prepare_marginals(a, z) & _prepare_marginals(b, z)
    if concave and a.marginal[0] + b.marginal[0] >= scale:
        return None
    search = _Search(a, b, step, params, scale)
    found = _best_size(search, concave)
    return None if found is None else _finish(pair, kind, search, found)


def _check_books(pair: MarketPair, kalshi_book: KalshiBook, poly_yes_book: PolyBook,
                 poly_no_book: PolyBook) -> None:
    if kalshi_book.ticker != pair.kalshi.ticker:
        raise ValueError(f"pair {pair.pair_id}: Kalshi book is for {kalshi_book.ticker!r}")
    if poly_yes_book.token_id != pair.poly.yes_token:
        raise ValueError(f"pair {pair.pair_id}: YES book is for token {poly_yes_book.token_id!r},"
                         f" expected {pair.poly.yes_token!r}")
    if poly_no_book.token_id != pair.poly.no_token:
        raise ValueError(f"pair {pair.pair_id}: NO book is for token {poly_no_book.token_id!r},"
                         f" expected {pair.poly.no_token!r}")


def evaluate(pair: MarketPair, kalshi_book: KalshiBook, poly_yes_book: PolyBook,
             poly_no_book: PolyBook, params: EdgeParams) -> list[Opportunity]:
    """Every kind of arbitrage the current books allow, each at its most profitable size.

    Kinds whose books are invalid (or, for Polymarket, crossed) yield nothing; cross-venue kinds
    also need ``pair.tradable``.

    Raises:
        ValueError: a book belongs to another market or token.
        FeeError: the pair's fee schedule cannot be priced (e.g. Kalshi ``flat``), raised only
            when prices leave room for an edge; the pair must not be traded.
    """
    _check_books(pair, kalshi_book, poly_yes_book, poly_no_book)
    kalshi_ok = kalshi_book.valid
    yes_ok = poly_yes_book.valid and not poly_yes_book.crossed
    no_ok = poly_no_book.valid and not poly_no_book.crossed
    k_yes = kalshi_book.best_ask(Outcome.YES) if kalshi_ok else None
    k_no = kalshi_book.best_ask(Outcome.NO) if kalshi_ok else None
    p_yes = poly_yes_book.best_ask() if yes_ok else None
    p_no = poly_no_book.best_ask() if no_ok else None
    cross = pair.tradable
    wanted: list[Kind] = []
    if cross and p_yes and k_no and p_yes[0] + k_no[0] < SCALE:
        wanted.append(Kind.POLY_YES_KALSHI_NO)
    if cross and k_yes and p_no and k_yes[0] + p_no[0] < SCALE:
        wanted.append(Kind.KALSHI_YES_POLY_NO)
    if p_yes and p_no and p_yes[0] + p_no[0] < SCALE:
        wanted.append(Kind.POLY_SAME_MARKET)
    if k_yes and k_no and k_yes[0] + k_no[0] < SCALE:
        wanted.append(Kind.KALSHI_SAME_MARKET)
    if not wanted:
        return []
    try:
        return _evaluate_wanted(pair, kalshi_book, poly_yes_book, poly_no_book, params, wanted)
    except FeeError as err:
        raise FeeError(f"pair {pair.pair_id}: {err}") from None


def _evaluate_wanted(pair: MarketPair, kalshi_book: KalshiBook, poly_yes_book: PolyBook,
                     poly_no_book: PolyBook, params: EdgeParams,
                     wanted: list[Kind]) -> list[Opportunity]:
    max_qty = params.max_qty
    kalshi_step = _KALSHI_FRACTIONAL_STEP if pair.kalshi.fractional else SCALE
    out: list[Opportunity] = []
    for kind in wanted:
        if kind is Kind.POLY_YES_KALSHI_NO:
            a = _poly_leg(pair, poly_yes_book, max_qty)
            b = _kalshi_leg(pair, kalshi_book, Outcome.NO, max_qty)
            step = kalshi_step
        elif kind is Kind.KALSHI_YES_POLY_NO:
            a = _kalshi_leg(pair, kalshi_book, Outcome.YES, max_qty)
            b = _poly_leg(pair, poly_no_book, max_qty)
            step = kalshi_step
        elif kind is Kind.POLY_SAME_MARKET:
            a = _poly_leg(pair, poly_yes_book, max_qty)
            b = _poly_leg(pair, poly_no_book, max_qty)
            step = _POLY_SHARE_STEP
        else:
            a = _kalshi_leg(pair, kalshi_book, Outcome.YES, max_qty)
            b = _kalshi_leg(pair, kalshi_book, Outcome.NO, max_qty)
            step = kalshi_step
        found = _evaluate_kind(pair, kind, a, b, step, params)
        if found is not None:
            out.append(found)
    return out


def best(pair: MarketPair, kalshi_book: KalshiBook, poly_yes_book: PolyBook,
         poly_no_book: PolyBook, params: EdgeParams) -> Opportunity | None:
    """The most profitable opportunity of ``evaluate`` (ties: the higher edge in bps)."""
    found = evaluate(pair, kalshi_book, poly_yes_book, poly_no_book, params)
    if not found:
        return None
    return max(found, key=lambda o: (o.profit, o.edge_bps))
