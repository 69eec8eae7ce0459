"""Kalshi trading fees as the simulated exchange charges them, fill by fill.

Design note.
Problem: Kalshi's published formula (``0.07 * C * P * (1 - P)``, rounded up to a cent) describes
the whole-order fee, but the exchange charges per fill: a large order that fills in ten slices
must not pay ten rounded-up cents, and balances must stay cent-aligned after every fill.
Naive approach: round each fill's fee up to the next cent. Over many small fills that overcharges
by up to a cent per fill, so the simulator would disagree with the venue (and with our own edge
arithmetic) exactly where partial fills happen.
Chosen approach (venues.md A8.2, docs.kalshi.com/getting_started/fee_rounding):
  1. trade fee = model fee rounded UP to $0.0001 (a centicent);
  2. balance_change = revenue - trade_fee (revenue is negative for the buyer);
  3. the balance moves by floor(balance_change) to the member's precision ($0.01 here);
  4. rounding_fee = balance_change - floor(balance_change) accumulates on the ORDER; whenever
     the accumulator reaches $0.01, a $0.01 rebate is paid back and the accumulator drops by
     $0.01 (the docs say "exceeds"; at exactly one cent the member has overpaid a whole cent,
     which the single-fill equivalence the docs promise requires returning).
  net fee per fill = trade fee + rounding fee - rebate; ``fee_cost`` on a fill is that net fee.
Model fee: ``coefficient * fee_multiplier * C * P * (1 - P)``. Takers pay 0.07 on every fee type;
makers pay 0.0175 (0.07 x 0.25) on ``quadratic_with_maker_fees`` and 0.035 (0.07 x 0.5) on
``quadratic_with_combo_maker_fees``, nothing otherwise. ``flat`` (the "specific trading fees"
table, not published in machine-readable form) is modelled as the quadratic table scaled by the
series ``fee_multiplier``; this is an assumption. All arithmetic is on integers at SCALE.
"""
from __future__ import annotations

import attrs

from arb.money import CENT, SCALE, Money, Price, Qty, Round, div_round

CENTICENT = Money(100)
"""$0.0001 in micro-dollars."""
TAKER_COEFFICIENT = 70_000
"""0.07 at SCALE."""
MAKER_COEFFICIENTS = {
    "quadratic": 0,
    "flat": 0,
    "quadratic_with_maker_fees": 17_500,
    "quadratic_with_combo_maker_fees": 35_000,
}
"""Maker coefficient at SCALE per series fee type."""
BALANCE_PRECISION = Money(CENT)
"""Non-direct members' balances are kept cent-aligned."""


def fee_coefficient(fee_type: str, *, is_taker: bool) -> int:
    """The fee table's coefficient at SCALE for a taker or maker fill on a series fee type."""
    if fee_type not in MAKER_COEFFICIENTS:
        raise ValueError(f"unknown Kalshi fee_type {fee_type!r}")
    return TAKER_COEFFICIENT if is_taker else MAKER_COEFFICIENTS[fee_type]


def trade_fee(coefficient: int, multiplier: int, count: Qty, price: Price) -> Money:
    """Model fee of one fill, rounded up to the centicent.

    ``coefficient * multiplier * count * price * (1 - price)`` with every factor at SCALE.
    """
    numerator = coefficient * multiplier * count * price * (SCALE - price)
    micro = div_round(numerator, SCALE**4, Round.UP)
    return Money(div_round(micro, CENTICENT, Round.UP) * CENTICENT)


@attrs.frozen
class FillCharge:
    """What one fill does to a member's cash."""

    trade_fee: Money
    rounding_fee: Money
    rebate: Money
    balance_change: Money
    """Signed, cent-aligned: what the member's cash moves by (revenue minus net fee)."""
    accumulator: Money
    """The order's rounding accumulator after this fill."""

    @property
    def net_fee(self) -> Money:
        return Money(self.trade_fee + self.rounding_fee - self.rebate)


def charge_fill(revenue: Money, fee: Money, accumulator: Money) -> FillCharge:
    """Apply the centicent + per-order accumulator rounding of one fill.

    Args:
        revenue: signed cash from the contracts themselves (negative when buying).
        fee: the trade fee, already rounded up to the centicent.
        accumulator: the order's rounding accumulator before this fill.
    """
    exact = revenue - fee
    floored = div_round(exact, BALANCE_PRECISION, Round.DOWN) * BALANCE_PRECISION
    rounding = exact - floored
    acc = accumulator + rounding
    rebate = 0
    while acc >= BALANCE_PRECISION:
        acc -= BALANCE_PRECISION
        rebate += BALANCE_PRECISION
    return FillCharge(trade_fee=fee, rounding_fee=Money(rounding), rebate=Money(rebate),
                      balance_change=Money(floored + rebate), accumulator=Money(acc))


def order_fee_bound(count: Qty, price: Price, multiplier: int) -> Money:
    """Upper bound on the fees one order can pay: taker table rounded up to a cent, plus a cent.

    Used to reserve collateral for an order before it trades.
    """
    fee = trade_fee(TAKER_COEFFICIENT, multiplier, count, price)
    return Money(div_round(fee, CENT, Round.UP) * CENT + CENT)
