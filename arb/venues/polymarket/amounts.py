# Design note: (price, size) -> signed makerAmount / takerAmount.
#
# Problem: a V2 order carries no price, only two 6-decimal integer amounts; the CLOB derives the
# price from their ratio and rejects amounts with too many decimals ("invalid amounts ... max
# accuracy of N decimals"), prices off the tick grid, limit orders under the market's minimum
# size and marketable orders under $1.
#
# Naive approach: copy the official builder. It works in binary floats, so ``round_down(2.03, 2)``
# gives 2.02, and on 0.001 / 0.0001 ticks its market path produces 5-6 decimal share amounts
# that the server's FOK/FAK rule (USDC <= 2 dp, shares <= 4 dp) then rejects.
#
# Chosen approach: the same algorithm (venues.md B4.4) in exact integers. Limit orders (GTC):
# shares = floor(size, 2 dp), USDC = shares * price (exact: it has at most price_dp + 2 decimals,
# which is the amount precision the server allows). Market orders (FOK/FAK): BUY spends
# floor(USDC, 2 dp) and asks for shares = USDC / price, SELL gives floor(shares, 2 dp) for
# shares * price; the derived side gets the official "round up at amount_dp + 4 decimals, then
# down to amount_dp" adjustment, with amount_dp capped at 4 so the server's FOK/FAK precision rule
# always holds. For the 0.1 and 0.01 ticks the result equals the official client's output; on
# finer ticks it deliberately differs where the official output would be rejected. All checks
# run before anything is signed and raise ``Rejected`` with the reason the venue would give.
from __future__ import annotations

import attrs

from arb.domain import Side, TimeInForce, Venue
from arb.money import ONE, SCALE, Money, Price, Qty, Round, format_trimmed, round_to_step
from arb.venues.protocol import Rejected

SHARE_STEP = Qty(10_000)
"""Share amounts on order entry: 2 decimals."""
CENT_STEP = Money(10_000)
"""USDC amounts of market orders: 2 decimals."""
MIN_MARKETABLE_NOTIONAL = Money(SCALE)
"""Marketable (FOK/FAK) orders need at least $1."""
MARKET_MAX_DERIVED_DP = 4
"""FOK/FAK: the derived amount (shares of a BUY, USDC of a SELL) has at most 4 decimals."""


@attrs.frozen
class RoundingConfig:
    """Decimals of the price and of the derived amount for one tick size (B4.4)."""

    price_dp: int
    amount_dp: int
    size_dp: int = 2


_ROUNDING: dict[int, RoundingConfig] = {
    100_000: RoundingConfig(1, 3),  # 0.1
    10_000: RoundingConfig(2, 4),  # 0.01
    5_000: RoundingConfig(3, 5),  # 0.005
    2_500: RoundingConfig(4, 6),  # 0.0025
    1_000: RoundingConfig(3, 5),  # 0.001
    100: RoundingConfig(4, 6),  # 0.0001
}


def _reject(reason: str, code: str) -> Rejected:
    return Rejected(Venue.POLYMARKET, reason, code=code)


def rounding_config(tick: Price) -> RoundingConfig:
    """The rounding configuration of a tick size; an unknown tick is refused."""
    config = _ROUNDING.get(tick)
    if config is None:
        raise _reject(f"unsupported tick size {format_trimmed(tick)}", "INVALID_ORDER_MIN_TICK_SIZE")
    return config


def price_to_tick(price: Price, tick: Price, side: Side) -> Price:
    """Round a limit price onto the grid in the safe direction: BUY down, SELL up."""
    return Price(round_to_step(price, tick, Round.DOWN if side is Side.BUY else Round.UP))


def check_price(price: Price, tick: Price, *, token_id: str) -> None:
    """Raise ``Rejected`` unless ``tick <= price <= 1 - tick`` and ``price`` is on the grid."""
    rounding_config(tick)
    if price % tick:
        raise _reject(f"token {token_id}: price {format_trimmed(price)} is not a multiple of the "
                      f"tick {format_trimmed(tick)}", "INVALID_ORDER_MIN_TICK_SIZE")
    if not tick <= price <= ONE - tick:
        raise _reject(f"token {token_id}: price {format_trimmed(price)} is outside "
                      f"[{format_trimmed(tick)}, {format_trimmed(ONE - tick)}]",
                      "INVALID_ORDER_MIN_TICK_SIZE")


@attrs.frozen
class OrderAmounts:
    """What goes into the signed struct, plus the same numbers in project units."""

    side: Side
    maker_amount: int
    """6-decimal integer: USDC for a BUY, shares for a SELL."""
    taker_amount: int
    """6-decimal integer: shares for a BUY, USDC for a SELL."""
    price: Price
    """The limit price the amounts encode (on the tick grid)."""

    @property
    def shares(self) -> Qty:
        return Qty(self.taker_amount if self.side is Side.BUY else self.maker_amount)

    @property
    def usdc(self) -> Money:
        return Money(self.maker_amount if self.side is Side.BUY else self.taker_amount)


def _derived(numerator: int, denominator: int, amount_dp: int) -> int:
    """Official adjustment of an exact ratio ``numerator / denominator`` (in units), in micro.

    ``round_up`` at ``amount_dp + 4`` decimals, then ``round_down`` at ``amount_dp`` decimals when
    that still has too many: equal to ``floor(ceil(x * 10**(dp+4)) / 10**4)`` at ``dp`` decimals.
    """
    fine = -((-numerator * 10 ** (amount_dp + 4)) // denominator)
    return (fine // 10**4) * 10 ** (6 - amount_dp)


def limit_amounts(side: Side, price: Price, size: Qty, tick: Price, *, token_id: str = "?"
                  ) -> OrderAmounts:
    """Amounts of a limit (GTC/GTD) order of ``size`` shares at ``price`` (official algorithm)."""
    check_price(price, tick, token_id=token_id)
    shares = round_to_step(size, SHARE_STEP, Round.DOWN)
    usdc = shares * price // SCALE  # exact: shares has 2 dp, price <= 4 dp
    if side is Side.BUY:
        return OrderAmounts(side, usdc, shares, price)
    return OrderAmounts(side, shares, usdc, price)


def market_amounts(side: Side, price: Price, amount: int, tick: Price, *, token_id: str = "?"
                   ) -> OrderAmounts:
    """Amounts of a marketable (FOK/FAK) order.

    Args:
        amount: USDC to spend for a BUY (``Money``), shares to sell for a SELL (``Qty``).
        price: the worst acceptable price (on the grid).
    """
    config = rounding_config(tick)
    check_price(price, tick, token_id=token_id)
    amount_dp = min(config.amount_dp, MARKET_MAX_DERIVED_DP)
    if side is Side.BUY:
        usdc = round_to_step(amount, CENT_STEP, Round.DOWN)
        return OrderAmounts(side, usdc, _derived(usdc, price, amount_dp), price)
    shares = round_to_step(amount, SHARE_STEP, Round.DOWN)
    return OrderAmounts(side, shares, _derived(shares * price, SCALE * SCALE, amount_dp), price)


def amounts_for(side: Side, price: Price, qty: Qty, tick: Price, tif: TimeInForce, *,
                min_order_size: Qty, token_id: str) -> OrderAmounts:
    """Amounts for ``qty`` shares at limit ``price`` with the path ``tif`` needs, fully checked.

    GTC uses the limit path and must reach ``min_order_size`` shares. IOC (FAK) and FOK use the
    market path: a BUY spends ``floor(qty * price, 2 dp)`` USDC (so it never asks for more than
    ``qty`` shares), a SELL gives ``floor(qty, 2 dp)`` shares; both need $1 of notional.

    Raises:
        Rejected: off-grid or out-of-range price, unsupported tick, below the minimum size or
            notional, or precision the server would refuse.
    """
    if tif is TimeInForce.GTC:
        amounts = limit_amounts(side, price, qty, tick, token_id=token_id)
        if amounts.shares < min_order_size or amounts.shares == 0:
            raise _reject(f"token {token_id}: size {format_trimmed(amounts.shares)} is lower than "
                          f"the minimum {format_trimmed(min_order_size)}", "INVALID_ORDER_MIN_SIZE")
        return amounts
    if side is Side.BUY:
        amounts = market_amounts(side, price, qty * price // SCALE, tick, token_id=token_id)
    else:
        amounts = market_amounts(side, price, qty, tick, token_id=token_id)
    notional = amounts.usdc if side is Side.BUY else amounts.shares * price // SCALE
    if notional < MIN_MARKETABLE_NOTIONAL or amounts.shares == 0:
        raise _reject(f"token {token_id}: marketable order notional ${format_trimmed(notional)} "
                      f"is below the $1 minimum", "INVALID_ORDER_MIN_SIZE")
    check_market_precision(amounts, token_id=token_id)
    return amounts


def _decimals(micro: int) -> int:
    for d in range(7):
        if micro % 10 ** (6 - d) == 0:
            return d
    raise AssertionError("unreachable: micro-units have at most 6 decimals")


def check_market_precision(amounts: OrderAmounts, *, token_id: str) -> None:
    """The server's FOK/FAK rule: maker amount <= 2 decimals, taker amount <= 4 decimals."""
    maker_dp, taker_dp = _decimals(amounts.maker_amount), _decimals(amounts.taker_amount)
    if maker_dp > 2 or taker_dp > MARKET_MAX_DERIVED_DP:
        side = "buy" if amounts.side is Side.BUY else "sell"
        raise _reject(f"token {token_id}: invalid amounts, the market {side} orders maker amount "
                      f"supports a max accuracy of 2 decimals, taker amount a max of 4 decimals "
                      f"(got {maker_dp} and {taker_dp})", "INVALID_ORDER_AMOUNTS")
