# Design note: Kalshi and Polymarket fees with each venue's exact rounding.
#
# Problem: fees decide whether an "arb" is one. Both venues charge a quadratic fee
# ``rate * C * p * (1 - p)`` but round differently, and a one-contract arb that looks like +1 cent
# gross is -1 cent after Kalshi rounds its 0.0175 fee up to 0.02. Floats cannot hold 0.07 or
# 0.0175 exactly, so float fees round the wrong way near cent boundaries.
#
# Chosen: every fee is computed as one exact integer numerator (all factors at SCALE) and rounded
# once, with an explicit direction, to the venue's unit. No float anywhere.
#
# Venue facts relied on (docs/venues.md A8, B7):
# - Kalshi taker: ``ceil_to_cent(0.07 * m * C * P * (1 - P))`` per order, m = the series'
#   ``fee_multiplier`` (third-party reading, marked UNCERTAIN in A8.1: it scales the whole fee).
# - Kalshi maker, only for fee types that carry maker fees: ``quadratic_with_maker_fees`` charges
#   0.0175 (the 0.25 maker multiplier of the taker 0.07). Our reading of
#   ``quadratic_with_combo_maker_fees`` ("the same with a 0.5 maker multiplier instead of 0.25"):
#   maker rate 0.07 * 0.5 = 0.035, taker unchanged. ``quadratic`` has no maker fee.
# - Kalshi ``flat`` is the "specific trading fees" table of the fee-schedule PDF, which venues.md
#   does not reproduce: we refuse it with FeeError rather than guess (a pair with an unknown fee
#   is not traded, reliability.md #22).
# - Kalshi's exchange actually charges per fill (A8.2, and its source, docs.kalshi.com
#   getting_started/fee_rounding): the model fee rounded up to $0.0001, then the balance change
#   floored to the member's precision ($0.01, or $0.0001 for direct members), the floor's
#   overpayment kept in a per-order accumulator that refunds one cent whenever it reaches $0.01.
#   The page's three worked tables are tests. Two readings: "once the accumulated rounding
#   exceeds $0.01" is taken as "reaches" (then the order's total equals a single equivalent fill,
#   the page's stated purpose); and the rebate is never deferred, so a fill of sub-cent revenue
#   can show a slightly negative net fee, which the page's parenthetical "always >= $0.00" rules
#   out but its own mechanics and purpose require (its tables never hit that case).
#   ``KalshiFeeAccumulator`` implements it for the simulator and the paper venue.
# - For edge, ``fee_upper_bound``: the order's per-fill trade fees (each rounded up to $0.0001)
#   summed and rounded up to the whole cent. With the accumulator above an order's total debit is
#   ceil_cent(cost + trade fees) <= ceil_cent(cost) + fee_upper_bound, with equality for whole-
#   cent prices and whole contracts (property-tested). It equals venues.md's "ceil_to_cent per
#   order" for one fill; for several fills it can be one cent higher, which the plain per-order
#   round-up would miss. Each extra match at one price level may add up to $0.0001 more, so
#   ``fills`` should list the expected matches (one per level is what edge assumes).
# - Polymarket (V2, B7): takers pay ``C * r * (p * (1 - p)) ** e`` per match, makers nothing. The
#   rounding is UNCERTAIN; we round UP to 5 decimals (0.00001 pUSD, as nautilus does): never
#   below a venue that rounds to nearest or up at 5 decimals; one that rounded up at 4 decimals
#   (the older docs' precision) could charge up to $0.00009 more per match. We treat the fee as
#   paid in pUSD (the V2 client adds it to the USDC amount of market buys); older docs took buy
#   fees in shares, which would leave a buyer slightly short of the shares ordered.
from __future__ import annotations

from collections.abc import Iterable

import attrs

from arb.money import CENT, SCALE, Money, Price, Qty, Round, div_round, format_trimmed

KALSHI_TAKER_RATE = 70_000
"""0.07 at SCALE."""
KALSHI_MAKER_RATE = 17_500
"""0.0175 at SCALE: 0.25 x the taker rate."""
KALSHI_COMBO_MAKER_RATE = 35_000
"""0.035 at SCALE: 0.5 x the taker rate (``quadratic_with_combo_maker_fees``)."""
KALSHI_FEE_TYPES = ("quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees")
"""The fee types we can price; anything else (``flat``, new names) raises FeeError."""

KALSHI_FEE_DENOMINATOR = SCALE ** 4
"""Divides ``kalshi_fee_numerator`` (rate at SCALE**2, qty, P, 1-P at SCALE) to micro-dollars."""
CENTICENT = Money(100)
"""$0.0001 in micro-dollars: Kalshi's trade-fee precision and direct members' balance unit."""
POLY_FEE_UNIT = Money(10)
"""$0.00001 in micro-dollars: the precision we round Polymarket fees up to."""


class FeeError(ValueError):
    """A fee schedule we cannot price; the pair must not be traded until it is fixed."""


@attrs.frozen
class KalshiFeeSchedule:
    """A Kalshi series' fee parameters (``GET /series/{t}``: ``fee_type``, ``fee_multiplier``)."""

    fee_type: str = "quadratic"
    """``quadratic`` (taker only), ``quadratic_with_maker_fees``, ``quadratic_with_combo_maker_fees``, ``flat``."""
    multiplier: int = SCALE
    """``fee_multiplier`` at SCALE (1.0 -> 1_000_000)."""


@attrs.frozen
class PolyFeeSchedule:
    """A Polymarket market's taker fee: ``C * rate * (p * (1 - p)) ** exponent``; makers pay 0."""

    rate: int
    """At SCALE (0.05 -> 50_000). Read per market (Gamma ``feeSchedule.rate``, CLOB ``fd.r``)."""
    exponent: int = 1


def kalshi_rate(schedule: KalshiFeeSchedule, *, maker: bool = False) -> int:
    """The effective rate (base rate x ``fee_multiplier``) at SCALE**2: what multiplies
    ``C * P * (1 - P)``. Exact for any multiplier at SCALE.

    Raises:
        FeeError: an unsupported fee type (``flat``, unknown) or a negative multiplier.
    """
    fee_type = schedule.fee_type
    if fee_type not in KALSHI_FEE_TYPES:
        raise FeeError(
            f"kalshi fee_type {fee_type!r} cannot be priced (supported: "
            f"{', '.join(KALSHI_FEE_TYPES)}); the flat 'specific trading fees' table is not "
            f"documented, so pairs with it are not traded")
    multiplier = schedule.multiplier
    if type(multiplier) is not int or multiplier < 0:
        raise FeeError(f"kalshi fee_multiplier {multiplier!r} must be a non-negative int at SCALE")
    if not maker:
        base = KALSHI_TAKER_RATE
    elif fee_type == "quadratic_with_maker_fees":
        base = KALSHI_MAKER_RATE
    elif fee_type == "quadratic_with_combo_maker_fees":
        base = KALSHI_COMBO_MAKER_RATE
    else:
        base = 0
    return base * multiplier


def kalshi_fee_numerator(rate: int, price: int, qty: int) -> int:
    """Exact model fee ``rate * qty * P * (1 - P)`` (rate from ``kalshi_rate``), in micro-dollars
    times SCALE**4 (divide by ``KALSHI_FEE_DENOMINATOR``)."""
    return rate * qty * price * (SCALE - price)


def _ceil_micro_to(numerator: int, denominator: int, unit: int) -> Money:
    """``numerator / denominator`` micro-dollars rounded up to a multiple of ``unit``."""
    return Money(div_round(numerator, denominator * unit, Round.UP) * unit)


def _check_level(price: object, qty: object, what: str) -> None:
    if type(price) is not int or not 0 <= price <= SCALE:
        raise FeeError(f"{what}: price {price!r} is not an int in [0, SCALE]")
    if type(qty) is not int or qty < 0:
        raise FeeError(f"{what}: quantity {qty!r} is not a non-negative int")


def kalshi_fee(schedule: KalshiFeeSchedule, price: Price, qty: Qty, *,
               maker: bool = False) -> Money:
    """Published per-order fee at one price: the model fee rounded up to the cent.

    10 @ 0.50 taker = $0.18, maker (maker-fee series) = $0.05; 100 @ 0.50 taker = $1.75.
    """
    _check_level(price, qty, "kalshi fee")
    rate = kalshi_rate(schedule, maker=maker)
    return _ceil_micro_to(kalshi_fee_numerator(rate, price, qty), KALSHI_FEE_DENOMINATOR, CENT)


def fee_upper_bound(schedule: KalshiFeeSchedule, fills: Iterable[tuple[Price, Qty]], *,
                    maker: bool = False) -> Money:
    """Safe Kalshi fee for one order: each fill's trade fee (rounded up to $0.0001, as the
    exchange does) summed, then rounded up to the whole cent (venues.md A8.2). For a single fill
    this is the published ``ceil_to_cent(0.07 * C * P * (1 - P))``."""
    total = 0
    for price, qty in fills:
        total += kalshi_trade_fee(schedule, price, qty, maker=maker)
    return Money(div_round(total, CENT, Round.UP) * CENT)


def kalshi_trade_fee(schedule: KalshiFeeSchedule, price: Price, qty: Qty, *,
                     maker: bool = False) -> Money:
    """One fill's trade fee as the exchange computes it: model fee rounded up to $0.0001."""
    _check_level(price, qty, "kalshi trade fee")
    rate = kalshi_rate(schedule, maker=maker)
    return _ceil_micro_to(kalshi_fee_numerator(rate, price, qty), KALSHI_FEE_DENOMINATOR, CENTICENT)


@attrs.frozen
class KalshiFillCharge:
    """What one Kalshi fill does to the balance, per venues.md A8.2."""

    trade_fee: Money
    """Model fee rounded up to $0.0001."""
    rounding_fee: Money
    """Overpayment from flooring the balance change to the member's precision."""
    rebate: Money
    """Whole cents refunded from the order's accumulator."""
    balance_change: Money
    """Floored ``revenue - trade_fee`` plus the rebate: the exact balance movement."""

    @property
    def net_fee(self) -> Money:
        """trade fee + rounding fee - rebate."""
        return Money(self.trade_fee + self.rounding_fee - self.rebate)


@attrs.define(eq=False)
class KalshiFeeAccumulator:
    """The per-order fee accumulator of Kalshi's exact fee model (one instance per order).

    Keeps the accumulated rounding overpayment across the order's fills, maker and taker alike,
    and refunds a cent whenever it reaches $0.01, so it always ends below $0.01.
    """

    schedule: KalshiFeeSchedule
    balance_precision: Money = attrs.field(default=CENT, kw_only=True)
    """$0.01 for normal members, $0.0001 (``CENTICENT``) for direct members."""
    accumulated: Money = attrs.field(default=Money(0), init=False)
    """Rounding overpaid and not yet refunded, always below $0.01 after a fill."""

    def charge_fill(self, price: Price, qty: Qty, *, buy: bool, maker: bool) -> KalshiFillCharge:
        """Charge one fill of ``qty`` at ``price`` (the price of the contract bought or sold).

        Revenue is ``-price * qty`` for a buyer and ``+price * qty`` for a seller.
        """
        _check_level(price, qty, "kalshi fill")
        notional = price * qty
        if notional % SCALE:
            raise FeeError(f"kalshi fill {format_trimmed(qty)} @ {format_trimmed(price)}: "
                           f"notional is finer than one micro-dollar")
        revenue = -(notional // SCALE) if buy else notional // SCALE
        return self.apply(Money(revenue),
                          kalshi_trade_fee(self.schedule, price, qty, maker=maker))

    def apply(self, revenue: Money, trade_fee: Money) -> KalshiFillCharge:
        """The rounding mechanics for one fill, given its signed revenue and its trade fee
        (already rounded up to $0.0001)."""
        exact_change = revenue - trade_fee
        precision = self.balance_precision
        floored = div_round(exact_change, precision, Round.DOWN) * precision
        rounding_fee = exact_change - floored
        accumulated = self.accumulated + rounding_fee
        rebate = CENT if accumulated >= CENT else 0
        self.accumulated = Money(accumulated - rebate)
        return KalshiFillCharge(trade_fee=trade_fee, rounding_fee=Money(rounding_fee),
                                rebate=Money(rebate), balance_change=Money(floored + rebate))


def poly_fee_numerator(schedule: PolyFeeSchedule, price: int, qty: int) -> int:
    """Exact taker fee ``qty * r * (p(1-p))**e`` in micro-dollars times SCALE**(1 + 2e)."""
    return qty * schedule.rate * (price * (SCALE - price)) ** schedule.exponent


def poly_fee_denominator(schedule: PolyFeeSchedule) -> int:
    return SCALE ** (1 + 2 * schedule.exponent)


def check_poly_schedule(schedule: PolyFeeSchedule) -> None:
    """Raises FeeError unless the rate is in [0, 1] and the exponent a small positive int."""
    if type(schedule.rate) is not int or not 0 <= schedule.rate <= SCALE:
        raise FeeError(f"polymarket fee rate {schedule.rate!r} is not an int in [0, SCALE]")
    if type(schedule.exponent) is not int or not 1 <= schedule.exponent <= 4:
        raise FeeError(f"polymarket fee exponent {schedule.exponent!r} is not an int in 1..4")


def poly_fee(schedule: PolyFeeSchedule, price: Price, qty: Qty, *, maker: bool = False) -> Money:
    """Polymarket fee of one match: takers ``C * r * (p(1-p))**e`` rounded up to $0.00001;
    makers pay nothing. 100 @ 0.50 with r = 0.05 -> $1.25."""
    check_poly_schedule(schedule)
    _check_level(price, qty, "polymarket fee")
    if maker:
        return Money(0)
    return _ceil_micro_to(poly_fee_numerator(schedule, price, qty),
                          poly_fee_denominator(schedule), POLY_FEE_UNIT)


def poly_fees(schedule: PolyFeeSchedule, fills: Iterable[tuple[Price, Qty]]) -> Money:
    """Taker fees of an order that matched several levels, each match rounded on its own."""
    return Money(sum(poly_fee(schedule, price, qty) for price, qty in fills))
