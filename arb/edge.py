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
# - the peak of L is where the combined marginal cost reaches $1 per contract: found by walking
#   the two ladders' level boundaries (integer compares, no search over sizes).
# - capital only grows with size, and L(q)/q only falls (concave, L(0) = 0); the per-contract and
#   basis-point limits are both "P(q) >= k*q" (profit/capital >= b is profit/q >= b/(1+b) since
#   payout = q). So max cost and those limits cap the size from above and the $1 notional from
#   below; each is found by binary search on exact integers only when the peak violates it.
# - from that start, sizes are scanned outward, each evaluated exactly with both venues' real
#   rounding; a direction stops as soon as floor(L(q)), an upper bound of P(q) that only falls
#   from there on, cannot beat the best profit found (or the minimum profit). This yields the
#   exact optimum in a handful of evaluations when the edge is real (checked against brute force
#   in tests/test_edge.py). If a leg's marginal cost ever fell between levels (fee rates far
#   above today's) L would not be concave: the scan then simply walks down from the largest
#   allowed size. ``MAX_SCAN`` bounds the evaluations per kind for pathological flat regions;
#   the reported profit is always exact for the reported size.
#
# Re-evaluation on every book update: the answer for a kind is a pure function of the pair
# (frozen), the params (frozen) and, per leg, the ask levels that cover ``max_qty`` (plus the
# Polymarket tick and minimum size). Each (pair, kind) remembers its last legs and answer in a
# bounded memo (``_MEMO_LIMIT``, oldest dropped first), keyed by ``id(pair)`` and holding the pair
# so the id cannot be reused. An update that leaves those levels equal (one on a level deeper
# than ``max_qty``, the other outcome's side, another book) reuses the answer, restamped with
# the books' ``received_at``; one that changes a leg rebuilds only that leg and re-sizes exactly,
# and when the answer comes out the same its attrs objects are reused. Equality of the levels is
# checked by value, not by the books' update counters, so no book mutation can make it stale.
# Only the levels read are compared: the cover is read 4 levels at a time, and Kalshi legs as the
# stored bids, converted to asks only when a leg is rebuilt. Each pair also keeps its fee rates
# and, per price, the fee rate and marginal cost (``_RATES_LIMIT`` pairs, ``_PRICES_REMEMBERED``
# prices per venue). The scan carries cost, fee and L numerators from size to size inside a
# level instead of recomputing them (Python big-int arithmetic at SCALE**4 is what a re-sizing
# costs: ~5-9 exact sizes near the peak on these books).
# Measured (scripts/bench_core.py, 15-level books, 2-core VM, median / p99): no-arb pair ~2.2 /
# ~4 us per update + evaluation; arb present, updates anywhere in the books ~7 / ~35 us (was
# ~58-65 / ~100 us); every update on the arb's top 3 levels (most re-size): Kalshi ~10-11 /
# ~40-55 us, Polymarket ~31 / ~60-75 us (was ~58-66 / ~95-130 us). The p99 is a re-sizing.
# Legs are ALWAYS the same number of contracts (never equal dollars). Prices, sizes and money are
# integers at SCALE; the unrounded L is computed with a common denominator, never in float.
#
# Venue facts relied on (docs/venues.md A3, A8, B4.4, B7, C; design.md section 1):
# - Kalshi: asks are implied from the other outcome's bids; whole contracts unless the market
#   allows fractional (0.01) counts; prices on the market's price_ranges grid; fee per order =
#   fees.fee_upper_bound over one fill per level walked (each fill's fee up to $0.0001, the
#   order's total up to the cent) plus the cent rounding of the balance debit: never below what
#   the exchange's per-fill model debits for those fills (tests/test_fees.py).
# - Polymarket: taker fee per match rounded up to 0.00001 (fees.poly_fee); prices on the tick and
#   within [tick, 1 - tick]; at least ``min_order_size`` shares and $1 notional; a FOK/FAK buy is
#   rejected unless price x size has <= 2 decimals, so only such sizes are chosen (shares on the
#   0.01 grid).
# - A crossed book (Polymarket bid >= ask; Kalshi YES bid + NO bid >= 1) cannot rest at the
#   venue: it is stale or broken, so the kinds that use it are skipped, except
#   ``kalshi_same_market``, which can only arise from a crossed Kalshi book and is reported as the
#   alarm design.md asks for.
# - Cross-venue kinds depend on the pair's orientation, so they need ``pair.tradable``; same-venue
#   kinds do not.
from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import partial

import attrs

from arb.book import KalshiBook, Level, PolyBook
from arb.domain import Instrument, Outcome, Side, Venue
from arb.fees import CENTICENT, POLY_FEE_UNIT, FeeError, check_poly_schedule, kalshi_rate
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
_KALSHI_FILL_FEE_STEP = CENTICENT
_POLY_FEE_STEP = POLY_FEE_UNIT


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


_PRICES_REMEMBERED = 256
"""Per pair and venue, the prices whose fee rate and marginal cost ``_Rates.at`` keeps (a
cent grid has 99; on a finer one, trading stays within a few dozen prices of the spread)."""


@attrs.define(eq=False)
class _Rates:
    """A pair's fee rates, ready for exact arithmetic at the common scale SCALE**z, and its
    Kalshi price grid, with the per-price results remembered (prices sit on a grid, so a few
    hundred cover a market)."""

    kalshi_rate: int
    """Kalshi taker rate at SCALE**2 (fees.kalshi_rate)."""
    poly_rate: int
    poly_exp: int
    scale: int
    """SCALE**z, z = the larger fee exponent: one micro-dollar of exact (unrounded) money."""
    price_mult: int
    """SCALE**(z - 1): a price x qty (at SCALE**2) to the common scale."""
    kalshi_fee_mult: int
    poly_fee_mult: int
    """A fee rate x qty to the common scale."""
    kalshi_fee_div: int
    poly_fee_div: int
    """A fee rate x qty to the venue's per-fill fee unit ($0.0001, $0.00001)."""
    kalshi_grid: tuple[PriceBand, ...]
    _kalshi_at: dict[int, tuple[int, int]] = attrs.field(factory=dict, init=False)
    _poly_at: dict[int, tuple[int, int]] = attrs.field(factory=dict, init=False)
    _kalshi_limits: dict[int, int | None] = attrs.field(factory=dict, init=False)

    @classmethod
    def of(cls, pair: MarketPair) -> _Rates:
        schedule = pair.poly.fees
        check_poly_schedule(schedule)
        poly_fee_exp = 1 + 2 * schedule.exponent
        z = max(_KALSHI_FEE_EXP, poly_fee_exp)
        return cls(kalshi_rate(pair.kalshi.fees), schedule.rate, schedule.exponent, SCALE ** z,
                   SCALE ** (z - 1), SCALE ** (z - _KALSHI_FEE_EXP), SCALE ** (z - poly_fee_exp),
                   SCALE ** _KALSHI_FEE_EXP * _KALSHI_FILL_FEE_STEP,
                   SCALE ** poly_fee_exp * _POLY_FEE_STEP, pair.kalshi.grid)

    def at(self, kalshi: bool, price: int) -> tuple[int, int]:
        """(fee rate, marginal cost) at ``price``: the exact fee per micro-contract over the
        venue's fee scale, and price plus fee of one more micro-contract at SCALE**z."""
        known = self._kalshi_at if kalshi else self._poly_at
        found = known.get(price)
        if found is None:
            if kalshi:
                rate = self.kalshi_rate * price * (SCALE - price)
                fee = rate * self.kalshi_fee_mult
            else:
                rate = self.poly_rate * (price * (SCALE - price)) ** self.poly_exp
                fee = rate * self.poly_fee_mult
            found = rate, price * self.price_mult + fee
            if len(known) >= _PRICES_REMEMBERED:
                known.clear()
            known[price] = found
        return found

    def kalshi_limit(self, price: int) -> int | None:
        """``price`` rounded up onto the Kalshi market's grid (None: outside every band)."""
        known = self._kalshi_limits
        if price in known:
            return known[price]
        limit = _round_up_on_grid(price, self.kalshi_grid)
        if len(known) >= _PRICES_REMEMBERED:
            known.clear()
        known[price] = limit
        return limit


@attrs.define(eq=False)
class _Leg:
    """A leg's ask ladder prepared for exact evaluation at any size."""

    kalshi: bool
    source: list[Level]
    """The book levels this leg was prepared from, as the book gave them (the cover of
    ``max_qty``): Polymarket asks, or the Kalshi bids of the other outcome."""
    levels: list[Level]
    """The ask levels, best first."""
    tick: int
    """The Polymarket book's tick the limits were rounded to (0 for Kalshi)."""
    prices: list[int]
    limits: list[int | None]
    """Per level: the limit price to send when that level is the worst walked (None: off-grid
    or out of the venue's range, so sizes reaching it are not allowed)."""
    cum_qty: list[int]
    """Size of the levels before each index (cum_qty[0] = 0, cum_qty[-1] = liquidity)."""
    cum_cost: list[int]
    """Cost at SCALE**2 (price x qty) of the levels before each index."""
    fee_rates: list[int]
    fee_div: int
    """``fee_rates`` x qty / ``fee_div`` is the fee in units of ``fee_step``."""
    fee_step: int
    """Each fill's fee is rounded up to this: $0.0001 (Kalshi), $0.00001 (Polymarket)."""
    cum_fee: list[int]
    """Rounded fees of the levels before each index (one fill per level)."""
    marginal: list[int]
    """Exact cost per micro-contract at each level (price + fee) at the pair's common scale."""
    cum_marginal: list[int]
    convex: bool
    """True when the marginal cost never falls from one level to the next."""
    poly_min_qty: int

    @property
    def liquidity(self) -> int:
        return self.cum_qty[-1]

    def same_input(self, source: list[Level], tick: int, poly_min_qty: int) -> bool:
        """Whether preparing ``source`` under this tick and minimum would give this leg."""
        return self.source == source and self.tick == tick and self.poly_min_qty == poly_min_qty

    def price(self, qty: int) -> _Priced:
        """(level index, limit price, cost, fee) of buying ``qty`` with the venue's rounding."""
        cum_qty = self.cum_qty
        level = bisect_left(cum_qty, qty) - 1
        partial = qty - cum_qty[level]
        cost = -(-(self.cum_cost[level] + self.prices[level] * partial) // SCALE)
        fee = self.cum_fee[level] - (-(self.fee_rates[level] * partial) // self.fee_div) \
            * self.fee_step
        if self.kalshi:
            fee = -(-fee // CENT) * CENT - cost % -CENT
        return level, self.limits[level], cost, fee

    def exact(self, qty: int) -> int:
        """Unrounded cost plus fees of ``qty`` at the common scale."""
        level = bisect_left(self.cum_qty, qty) - 1
        return self.cum_marginal[level] + self.marginal[level] * (qty - self.cum_qty[level])


def _round_up_on_grid(price: int, bands: Sequence[PriceBand]) -> int | None:
    for band in bands:
        if band.start <= price <= band.end:
            rounded = band.start - ((band.start - price) // band.step) * band.step
            return rounded if rounded <= band.end else None
    return None


_COVER_DEPTH = 4
"""Ask levels read first; sports books rarely need more to reach ``max_qty``."""


def _cover(read: Callable[[int | None], list[Level]], max_qty: int) -> list[Level]:
    """The best levels (from ``read(depth)``) whose sizes reach ``max_qty`` (all of them if the
    book is thinner), reading the book a few levels at a time (~0.2 us per level read).

    A last level past the first is cut to what ``max_qty`` can take: no size reaches beyond, so
    its remaining size changes nothing (the best level's size is reported, so it stays whole),
    and an update that only moves that remainder leaves the leg's input, and memo, as it was."""
    depth = _COVER_DEPTH
    while True:
        levels = read(depth)
        total = 0
        for index, (price, size) in enumerate(levels):
            total += size
            if total >= max_qty:
                if index and total > max_qty:
                    return [*levels[:index], (price, Qty(size - (total - max_qty)))]
                return levels[:index + 1]
        if len(levels) < depth:
            return levels
        depth *= 4


def _kalshi_leg(rates: _Rates, other_bids: list[Level]) -> _Leg:
    """A Kalshi leg from the other outcome's bids (best first): an ask at 1 - each bid price."""
    levels = [(Price(SCALE - price), size) for price, size in other_bids]
    limit = rates.kalshi_limit
    return _build_leg(True, rates, other_bids, levels, 0, [limit(p) for p, _ in levels], 0)


def _poly_leg(rates: _Rates, book: PolyBook, levels: list[Level]) -> _Leg:
    tick = book.tick
    limits: list[int | None] = []
    for price, _ in levels:
        rounded = -(-price // tick) * tick
        limits.append(rounded if tick <= rounded <= SCALE - tick else None)
    return _build_leg(False, rates, levels, levels, tick, limits, book.min_order_size)


def _build_leg(kalshi: bool, rates: _Rates, source: list[Level], levels: list[Level], tick: int,
               limits: list[int | None], poly_min_qty: int) -> _Leg:
    if kalshi:
        fee_div, fee_step = rates.kalshi_fee_div, _KALSHI_FILL_FEE_STEP
    else:
        fee_div, fee_step = rates.poly_fee_div, _POLY_FEE_STEP
    at = rates.at
    prices: list[int] = []
    fee_rates: list[int] = []
    marginal: list[int] = []
    cum_qty, cum_cost, cum_fee, cum_marginal = [0], [0], [0], [0]
    q = cost = fee = exact = previous = 0
    convex = True
    for price, size in levels:
        rate, m = at(kalshi, price)
        if m < previous:
            convex = False
        previous = m
        prices.append(price)
        fee_rates.append(rate)
        marginal.append(m)
        q += size
        cost += price * size
        fee -= (-(rate * size) // fee_div) * fee_step
        exact += m * size
        cum_qty.append(q)
        cum_cost.append(cost)
        cum_fee.append(fee)
        cum_marginal.append(exact)
    return _Leg(kalshi, source, levels, tick, prices, limits, cum_qty, cum_cost, fee_rates, fee_div,
                fee_step, cum_fee, marginal, cum_marginal, convex, poly_min_qty)


_Priced = tuple[int, int | None, int, int]
_Found = tuple[int, int, _Priced, _Priced]
"""(profit, units, leg A priced, leg B priced)."""


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
        return q * self.scale - self.a.exact(q) - self.b.exact(q)

    def capital_ok(self, units: int) -> bool:
        q = units * self.step
        pa, pb = self.a.price(q), self.b.price(q)
        return pa[2] + pa[3] + pb[2] + pb[3] <= self.params.max_cost

    def notional_ok(self, units: int) -> bool:
        """The $1 minimum of every Polymarket leg (monotone in size). A level with no valid
        limit counts as passing here, so the lower bound is never too high; the scan still
        refuses those sizes."""
        q = units * self.step
        for leg in (self.a, self.b):
            if not leg.kalshi:
                limit = leg.price(q)[1]
                if limit is not None and limit * q < _ONE_DOLLAR_NOTIONAL:
                    return False
        return True

    def ratio_ok(self, units: int, exact: int | None = None) -> bool:
        """Whether L(q) (``exact``, when already known) allows the per-contract and
        basis-point limits (monotone in size)."""
        q = units * self.step
        if exact is None:
            exact = self.exact(units)
        params = self.params
        return (exact * SCALE >= params.min_profit_per_contract * q * self.scale
                and exact * (10_000 + params.min_edge_bps) >= params.min_edge_bps * q * self.scale)

    def peak(self, lo: int, hi: int) -> int:
        """The size in [lo, hi] maximising L: walk the merged level boundaries until the
        combined marginal cost reaches $1 per contract."""
        a_marginal, a_cum_qty, a_last = self.a.marginal, self.a.cum_qty, len(self.a.prices) - 1
        b_marginal, b_cum_qty, b_last = self.b.marginal, self.b.cum_qty, len(self.b.prices) - 1
        step, scale = self.step, self.scale
        i = j = 0
        q = 0
        end = hi * step
        while q < end and a_marginal[i] + b_marginal[j] < scale:
            next_a, next_b = a_cum_qty[i + 1], b_cum_qty[j + 1]
            q = min(next_a, next_b, end)
            if q == next_a and i < a_last:
                i += 1
            if q == next_b and j < b_last:
                j += 1
        units = min(max(q // step, lo), hi)
        if units == hi or (q < end and q % step == 0 and units * step == q
                           and q + step <= min(a_cum_qty[i + 1], b_cum_qty[j + 1])):
            return units  # the next step lies in levels costing >= $1 a contract: L falls
        if self.exact(units + 1) > self.exact(units):
            units += 1
        return units


def _last_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int:
    """Largest u in [lo, hi] with pred(u), pred true-then-false; lo - 1 if none."""
    if lo <= hi and pred(hi):
        return hi
    hi -= 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if pred(mid):
            lo = mid + 1
        else:
            hi = mid - 1
    return hi


def _first_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int:
    """Smallest u in [lo, hi] with pred(u), pred false-then-true; hi + 1 if none."""
    if lo <= hi and pred(lo):
        return lo
    lo += 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid - 1
        else:
            lo = mid + 1
    return lo


def _rounding_allowance(a: _Leg, b: _Leg) -> int:
    """Most that the venues' rounding adds to both legs' exact cost plus fees: under 2
    micro-dollars of cost, under a fee unit ($0.0001 at most) per level, and on each Kalshi leg
    under a cent of fee and a cent of cost."""
    return 2 + (len(a.prices) + len(b.prices)) * CENTICENT + 4 * CENT


def _best_size(search: _Search) -> _Found | None:
    a, b, step, params, scale = search.a, search.b, search.step, search.params, search.scale
    concave = a.convex and b.convex
    n_max = min(a.liquidity, b.liquidity, params.max_qty) // step
    lo = 1
    notional_sure = True
    for leg in (a, b):
        if not leg.kalshi:
            lo = max(lo, -(-leg.poly_min_qty // step))
            # Every limit is at least the best ask: enough notional there is enough anywhere.
            notional_sure = notional_sure and leg.prices[0] * lo * step >= _ONE_DOLLAR_NOTIONAL
    if not notional_sure:
        lo = _first_true(lo, n_max, search.notional_ok)
    if lo > n_max:
        return None
    hi = n_max
    start = search.peak(lo, hi) if concave else hi
    exact = search.exact(start)
    # Capital only grows with size, and L(q)/q only falls: both cap the size from above, so when
    # the peak breaks either, the scan starts (and ends upward) at the largest size that does not.
    # The exact check is skipped when even the rounded-up bound of the capital fits.
    if -(-(start * step * scale - exact) // scale) + _rounding_allowance(a, b) > \
            params.max_cost and not search.capital_ok(start):
        hi = start = _last_true(lo, start, search.capital_ok)
        if start < lo:
            return None
        exact = search.exact(start)
    if concave:
        # With both ratio limits at zero, ratio_ok is L >= 0, which the min_profit check implies.
        if (params.min_profit_per_contract or params.min_edge_bps) and \
                not search.ratio_ok(start, exact):
            hi = start = _last_true(lo, start, search.ratio_ok)
            if start < lo:
                return None
            exact = search.exact(start)
        if exact // scale < params.min_profit:
            return None
    return _scan(search, start, lo, hi, concave)


def _scan(search: _Search, start: int, lo: int, hi: int, concave: bool) -> _Found | None:
    """The most profitable size in [lo, hi] (ties: the smallest), scanning down from ``start``
    and then up from ``start + 1``, with every venue rule and limit checked at each size.

    The hot loop of an arb-present evaluation. Within a level of both ladders, cost, fee and
    L numerators change by a constant per step, so they are carried from size to size; the
    levels are looked up (bisect) and the numerators recomputed only when the size leaves one."""
    a, b, step, params, scale = search.a, search.b, search.step, search.params, search.scale
    max_cost, min_profit = params.max_cost, params.min_profit
    per_contract, edge_bps = params.min_profit_per_contract, params.min_edge_bps
    a_cum_qty, a_cum_cost, a_prices, a_cum_fee = a.cum_qty, a.cum_cost, a.prices, a.cum_fee
    a_rates, a_div, a_step, a_kalshi = a.fee_rates, a.fee_div, a.fee_step, a.kalshi
    a_cum_marginal, a_marginal, a_limits, a_min = a.cum_marginal, a.marginal, a.limits, \
        a.poly_min_qty
    b_cum_qty, b_cum_cost, b_prices, b_cum_fee = b.cum_qty, b.cum_cost, b.prices, b.cum_fee
    b_rates, b_div, b_step, b_kalshi = b.fee_rates, b.fee_div, b.fee_step, b.kalshi
    b_cum_marginal, b_marginal, b_limits, b_min = b.cum_marginal, b.marginal, b.limits, \
        b.poly_min_qty
    best: _Found | None = None
    best_profit, best_units = min_profit - 1, -1  # what a size must beat (no size ties "none")
    budget = MAX_SCAN
    for direction in (-1, 1):
        units = start if direction < 0 else start + 1
        dq = direction * step
        q = units * step
        # L(q) x scale below ``stop`` ends this direction: P(q) <= floor(L(q)) and L only falls
        # from here on; a smaller size wins a tie with the best, a larger one does not.
        need = min_profit if best is None else best_profit + (direction > 0)
        stop = need * scale
        a_low = a_high = b_low = b_high = 0
        a_cost_num = a_fee_num = b_cost_num = b_fee_num = exact = 0
        a_d_cost = a_d_fee = b_d_cost = b_d_fee = d_exact = a_base_fee = b_base_fee = 0
        a_limit = b_limit = None
        i = j = 0
        while lo <= units <= hi and budget > 0:
            budget -= 1
            if not (a_low < q <= a_high and b_low < q <= b_high):
                i = bisect_left(a_cum_qty, q) - 1
                j = bisect_left(b_cum_qty, q) - 1
                a_low, a_high = a_cum_qty[i], a_cum_qty[i + 1]
                b_low, b_high = b_cum_qty[j], b_cum_qty[j + 1]
                a_price, a_rate, a_m = a_prices[i], a_rates[i], a_marginal[i]
                b_price, b_rate, b_m = b_prices[j], b_rates[j], b_marginal[j]
                a_base_fee, a_limit = a_cum_fee[i], a_limits[i]
                b_base_fee, b_limit = b_cum_fee[j], b_limits[j]
                a_cost_num = a_cum_cost[i] + a_price * (q - a_low)
                b_cost_num = b_cum_cost[j] + b_price * (q - b_low)
                a_fee_num = a_rate * (q - a_low)
                b_fee_num = b_rate * (q - b_low)
                exact = (q * scale - a_cum_marginal[i] - a_m * (q - a_low)
                         - b_cum_marginal[j] - b_m * (q - b_low))
                a_d_cost, a_d_fee = a_price * dq, a_rate * dq
                b_d_cost, b_d_fee = b_price * dq, b_rate * dq
                d_exact = (scale - a_m - b_m) * dq
            if concave and exact < stop:
                break
            a_cost = -(-a_cost_num // SCALE)
            a_fee = a_base_fee - (-a_fee_num // a_div) * a_step
            if a_kalshi:
                a_fee = -(-a_fee // CENT) * CENT - a_cost % -CENT
            b_cost = -(-b_cost_num // SCALE)
            b_fee = b_base_fee - (-b_fee_num // b_div) * b_step
            if b_kalshi:
                b_fee = -(-b_fee // CENT) * CENT - b_cost % -CENT
            capital = a_cost + a_fee + b_cost + b_fee
            if capital > max_cost:
                if direction > 0:
                    break
            else:
                profit = q - capital
                if ((profit > best_profit or (profit == best_profit and units < best_units))
                        and profit * SCALE >= per_contract * q
                        and profit * 10_000 >= edge_bps * capital
                        and a_limit is not None and b_limit is not None
                        and (a_kalshi or _poly_order_ok(a_limit, q, a_min))
                        and (b_kalshi or _poly_order_ok(b_limit, q, b_min))):
                    best = (profit, units, (i, a_limit, a_cost, a_fee),
                            (j, b_limit, b_cost, b_fee))
                    best_profit, best_units = profit, units
                    stop = (profit + (direction > 0)) * scale
            units += direction
            q += dq
            a_cost_num += a_d_cost
            a_fee_num += a_d_fee
            b_cost_num += b_d_cost
            b_fee_num += b_d_fee
            exact += d_exact
    return best


def _poly_order_ok(limit: int, q: int, min_qty: int) -> bool:
    """Polymarket's order rules: the minimum size, the $1 notional and a FOK/FAK amount with
    <= 2 decimals."""
    notional = limit * q
    return q >= min_qty and notional >= _ONE_DOLLAR_NOTIONAL and notional % _POLY_USDC_STEP == 0


def _finish(pair: MarketPair, kind: Kind, instruments: tuple[Instrument, Instrument],
            search: _Search, found: _Found, received_at: float,
            previous: Opportunity | None) -> Opportunity:
    """The opportunity for ``found``; ``previous`` (the last result for this pair and kind), or
    its legs, when equal, so an update that leaves the result as it was allocates nothing."""
    profit, units, pa, pb = found
    q = units * search.step
    old_a, old_b = (None, None) if previous is None else previous.legs
    legs = (_edge_leg(instruments[0], search.a, pa, q, old_a),
            _edge_leg(instruments[1], search.b, pb, q, old_b))
    if previous is not None and legs[0] is old_a and legs[1] is old_b:
        return _restamped(previous, received_at)
    cost = pa[2] + pb[2]
    fees = pa[3] + pb[3]
    return Opportunity(pair.pair_id, kind, Qty(q), legs, Money(cost), Money(fees), Money(q),
                       Money(profit), profit * 10_000 // (cost + fees), received_at)


def _edge_leg(instrument: Instrument, leg: _Leg, priced: _Priced, qty: int,
              previous: EdgeLeg | None) -> EdgeLeg:
    """The leg buying ``qty`` as ``priced``; ``previous`` (same pair, kind and side) if equal.

    The fills decide the rest (qty, best price, and cost and fee with the pair's rounding), so
    equal fills, limit and size at best mean an equal leg."""
    level, limit, cost, fee = priced
    levels = leg.levels
    fills = (*levels[:level], (levels[level][0], Qty(qty - leg.cum_qty[level])))
    limit_price = limit or 0
    size_at_best = levels[0][1]
    if (previous is not None and previous.fills == fills
            and previous.limit_price == limit_price and previous.size_at_best == size_at_best):
        return previous
    return EdgeLeg(instrument, Side.BUY, Price(limit_price), Qty(qty), Money(cost), Money(fee),
                   levels[0][0], size_at_best, fills)


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

    Kinds whose books are invalid or crossed yield nothing, except ``kalshi_same_market``, which
    exists only on a crossed Kalshi book and is reported as the alarm it is; cross-venue kinds
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
    # A crossed Kalshi book cannot rest at the venue: it only feeds the same-market alarm.
    cross = pair.tradable and kalshi_ok and not kalshi_book.crossed
    wanted: list[tuple[Kind, bool, int, bool, int]] = []
    if cross and p_yes and k_no and p_yes[0] + k_no[0] < SCALE:
        wanted.append((Kind.POLY_YES_KALSHI_NO, False, p_yes[0], True, k_no[0]))
    if cross and k_yes and p_no and k_yes[0] + p_no[0] < SCALE:
        wanted.append((Kind.KALSHI_YES_POLY_NO, True, k_yes[0], False, p_no[0]))
    if p_yes and p_no and p_yes[0] + p_no[0] < SCALE:
        wanted.append((Kind.POLY_SAME_MARKET, False, p_yes[0], False, p_no[0]))
    if k_yes and k_no and k_yes[0] + k_no[0] < SCALE:
        wanted.append((Kind.KALSHI_SAME_MARKET, True, k_yes[0], True, k_no[0]))
    if not wanted:
        return []
    try:
        rates = _rates_of(pair)
        out = []
        for kind, a_kalshi, a_best, b_kalshi, b_best in wanted:
            if rates.at(a_kalshi, a_best)[1] + rates.at(b_kalshi, b_best)[1] >= rates.scale:
                continue  # fees included, even the first contract loses: L <= 0 everywhere
            found = _evaluate_kind(pair, rates, kind, kalshi_book, poly_yes_book, poly_no_book,
                                   params)
            if found is not None:
                out.append(found)
        return out
    except FeeError as err:
        raise FeeError(f"pair {pair.pair_id}: {err}") from None


_MEMO_LIMIT = 4096
"""Most (pair, kind) evaluations remembered; the oldest go first."""
_RATES_LIMIT = 1024
"""Most pairs whose ``_Rates`` (and their per-price memory) are kept; the oldest go first."""


@attrs.define(eq=False)
class _Memo:
    """The last evaluation of one (pair, kind): the legs it was computed from and its result.

    Both are pure functions of the pair (frozen), the params (frozen, compared by value) and
    each leg's covered ask levels with the Polymarket tick and minimum size, so they are reused
    while those are equal; only ``received_at`` is restamped."""

    pair: MarketPair
    params: EdgeParams
    instruments: tuple[Instrument, Instrument]
    a: _Leg
    b: _Leg
    found: Opportunity | None


_memos: dict[tuple[int, Kind], _Memo] = {}
"""Keyed by ``id(pair)``; the memo holds the pair, so that id cannot be reused while it lives."""
_pair_rates: dict[int, tuple[MarketPair, _Rates]] = {}


def _remember(memos: dict, key: object, value: object, limit: int) -> None:
    if key not in memos and len(memos) >= limit:
        del memos[next(iter(memos))]
    memos[key] = value


def _rates_of(pair: MarketPair) -> _Rates:
    known = _pair_rates.get(id(pair))
    if known is not None and known[0] is pair:
        return known[1]
    rates = _Rates.of(pair)
    _remember(_pair_rates, id(pair), (pair, rates), _RATES_LIMIT)
    return rates


def _evaluate_kind(pair: MarketPair, rates: _Rates, kind: Kind, kalshi_book: KalshiBook,
                   poly_yes_book: PolyBook, poly_no_book: PolyBook,
                   params: EdgeParams) -> Opportunity | None:
    max_qty = params.max_qty
    step = _KALSHI_FRACTIONAL_STEP if pair.kalshi.fractional else SCALE
    a_poly: PolyBook | None
    b_poly: PolyBook | None
    if kind is Kind.POLY_YES_KALSHI_NO:
        a_poly, b_poly = poly_yes_book, None
        a_levels = _cover(poly_yes_book.asks, max_qty)
        b_levels = _cover(partial(kalshi_book.bids, Outcome.YES), max_qty)
        received_at = min(poly_yes_book.received_at, kalshi_book.received_at)
    elif kind is Kind.KALSHI_YES_POLY_NO:
        a_poly, b_poly = None, poly_no_book
        a_levels = _cover(partial(kalshi_book.bids, Outcome.NO), max_qty)
        b_levels = _cover(poly_no_book.asks, max_qty)
        received_at = min(kalshi_book.received_at, poly_no_book.received_at)
    elif kind is Kind.POLY_SAME_MARKET:
        a_poly, b_poly = poly_yes_book, poly_no_book
        a_levels = _cover(poly_yes_book.asks, max_qty)
        b_levels = _cover(poly_no_book.asks, max_qty)
        step = _POLY_SHARE_STEP
        received_at = min(poly_yes_book.received_at, poly_no_book.received_at)
    else:
        a_poly = b_poly = None
        a_levels = _cover(partial(kalshi_book.bids, Outcome.NO), max_qty)
        b_levels = _cover(partial(kalshi_book.bids, Outcome.YES), max_qty)
        received_at = kalshi_book.received_at
    key = (id(pair), kind)
    memo = _memos.get(key)
    if memo is None or memo.pair is not pair:
        memo = None
        instruments = _instruments(pair, kind)
    else:
        instruments = memo.instruments
    a = _reuse_or_build(memo.a if memo else None, rates, a_levels, a_poly)
    b = _reuse_or_build(memo.b if memo else None, rates, b_levels, b_poly)
    if memo is not None and memo.a is a and memo.b is b and (
            memo.params is params or memo.params == params):
        return _restamped(memo.found, received_at)
    search = _Search(a, b, step, params, rates.scale)
    found = _best_size(search)
    opportunity = None if found is None else _finish(
        pair, kind, instruments, search, found, received_at, memo.found if memo else None)
    if memo is None:
        _remember(_memos, key, _Memo(pair, params, instruments, a, b, opportunity), _MEMO_LIMIT)
    else:
        memo.params, memo.a, memo.b, memo.found = params, a, b, opportunity
    return opportunity


def _reuse_or_build(leg: _Leg | None, rates: _Rates, levels: list[Level],
                    poly_book: PolyBook | None) -> _Leg:
    """``leg`` (prepared for the same pair and role) if it was prepared from the same input,
    else a new leg from ``levels``: a Polymarket book's asks when ``poly_book`` is given, else
    Kalshi bids of the other outcome."""
    if poly_book is None:
        if leg is not None and leg.same_input(levels, 0, 0):
            return leg
        return _kalshi_leg(rates, levels)
    if leg is not None and leg.same_input(levels, poly_book.tick, poly_book.min_order_size):
        return leg
    return _poly_leg(rates, poly_book, levels)


def _instruments(pair: MarketPair, kind: Kind) -> tuple[Instrument, Instrument]:
    poly, kalshi = pair.poly, pair.kalshi
    if kind is Kind.POLY_YES_KALSHI_NO:
        return poly.instrument(poly.yes_token), kalshi.instrument(Outcome.NO)
    if kind is Kind.KALSHI_YES_POLY_NO:
        return kalshi.instrument(Outcome.YES), poly.instrument(poly.no_token)
    if kind is Kind.POLY_SAME_MARKET:
        return poly.instrument(poly.yes_token), poly.instrument(poly.no_token)
    return kalshi.instrument(Outcome.YES), kalshi.instrument(Outcome.NO)


def _restamped(found: Opportunity | None, received_at: float) -> Opportunity | None:
    """A remembered result with the current books' ``received_at``."""
    if found is None or found.received_at == received_at:
        return found
    return Opportunity(found.pair_id, found.kind, found.qty, found.legs, found.cost, found.fees,
                       found.payout, found.profit, found.edge_bps, received_at)


def best(pair: MarketPair, kalshi_book: KalshiBook, poly_yes_book: PolyBook,
         poly_no_book: PolyBook, params: EdgeParams) -> Opportunity | None:
    """The most profitable opportunity of ``evaluate`` (ties: the higher edge in bps)."""
    found = evaluate(pair, kalshi_book, poly_yes_book, poly_no_book, params)
    if not found:
        return None
    return max(found, key=lambda o: (o.profit, o.edge_bps))
