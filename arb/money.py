# Design note: fixed-point money.
#
# Problem: venues send prices and sizes as decimal strings ("0.5600", "10.00", "0.0025") and, in
# old payloads, integer cents. Binary floats cannot hold 0.1 exactly, so a float-based bot drifts:
# 0.995 and 0.99 can collapse, a fee rounded "up" can round down, sizes accumulate phantom dust.
#
# Choice: every price, quantity and amount of money is a plain Python ``int`` at one scale,
# SCALE = 10**6 ("micro-units"). 10**6 is USDC/pUSD's base unit and holds every tick of both
# venues (Kalshi 0.0001 grids, Polymarket 0.0001/0.0025/0.001 ticks, 0.01 contract counts)
# exactly. ``Price``, ``Qty`` and ``Money`` are ``typing.NewType`` over int: free at run time
# (the hot path stays plain integer arithmetic) while the type checker keeps units apart.
#
# Parsing goes straight from the venue's string to an int by digit manipulation; a float never
# appears. Anything that cannot be represented exactly at SCALE is an error, never silently
# rounded. Every multiplication and division takes an explicit ``Round``: round UP what we pay,
# DOWN what we receive.
from __future__ import annotations

import enum
import re
from decimal import Decimal
from typing import NewType

SCALE = 1_000_000
"""Micro-units per whole unit (one dollar, one contract, one share)."""
SCALE_DIGITS = 6

Price = NewType("Price", int)
"""Probability price in micro-dollars per contract: 0 .. SCALE inclusive."""
Qty = NewType("Qty", int)
"""Contracts or shares in micro-units (1 contract = SCALE)."""
Money = NewType("Money", int)
"""Signed amount in micro-dollars."""

ONE = Price(SCALE)
ZERO_PRICE = Price(0)
CENT = Money(SCALE // 100)
"""One US cent in micro-dollars."""
ONE_CONTRACT = Qty(SCALE)


class MoneyError(ValueError):
    """A number from a venue or config could not be parsed or is out of range."""


class Round(enum.Enum):
    """Rounding direction for any operation that can lose precision."""

    UP = "up"
    """Toward +infinity: what we pay, fees, sizes we must not exceed from below."""
    DOWN = "down"
    """Toward -infinity: what we receive, sizes we can afford."""


_DECIMAL_RE = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?$")


def parse_fixed(text: str | int | Decimal, *, what: str = "number", signed: bool = False) -> int:
    """Parse a decimal string (or int, or Decimal) exactly into micro-units.

    Accepts ``"0.56"``, ``"10.00"``, ``".5"``, ``"3"``, ints (whole units) and finite Decimals.
    Rejects floats, exponents, NaN/Infinity, empty strings, stray characters, more than six
    significant decimals (unless the extra digits are zeros) and, unless ``signed``, negatives.

    Raises:
        MoneyError: naming ``what`` and the offending text.
    """
    if isinstance(text, bool):
        raise MoneyError(f"{what}: expected a decimal string, got a boolean {text!r}")
    if isinstance(text, int):
        value = text * SCALE
    elif isinstance(text, Decimal):
        if not text.is_finite():
            raise MoneyError(f"{what}: {text!r} is not a finite number")
        scaled = text.scaleb(SCALE_DIGITS)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{what}: {text} has more than {SCALE_DIGITS} decimals")
        value = int(scaled)
    elif isinstance(text, str):
        m = _DECIMAL_RE.match(text.strip()) if text else None
        if m is None or (not m.group(2) and not m.group(3)):
            raise MoneyError(f"{what}: {text!r} is not a decimal number")
        sign, whole, frac = m.group(1), m.group(2) or "0", m.group(3) or ""
        if len(frac) > SCALE_DIGITS:
            if frac[SCALE_DIGITS:].strip("0"):
                raise MoneyError(f"{what}: {text!r} has more than {SCALE_DIGITS} decimals")
            frac = frac[:SCALE_DIGITS]
        value = int(whole) * SCALE + int(frac.ljust(SCALE_DIGITS, "0"))
        if sign == "-":
            value = -value
    else:
        raise MoneyError(f"{what}: expected a decimal string, got {type(text).__name__} {text!r}")
    if value < 0 and not signed:
        raise MoneyError(f"{what}: {text!r} is negative")
    return value


def parse_price(text: str | int | Decimal, *, what: str = "price") -> Price:
    """Parse a probability price in dollars (``"0.5600"``); must lie in [0, 1]."""
    value = parse_fixed(text, what=what)
    if value > SCALE:
        raise MoneyError(f"{what}: {text!r} is above 1")
    return Price(value)


def parse_qty(text: str | int | Decimal, *, what: str = "quantity") -> Qty:
    """Parse a non-negative contract or share count (``"10.00"``, ``"21.04"``)."""
    return Qty(parse_fixed(text, what=what))


def parse_signed_qty(text: str | int | Decimal, *, what: str = "quantity") -> Qty:
    """Parse a signed count (Kalshi ``delta_fp``, ``position_fp``)."""
    return Qty(parse_fixed(text, what=what, signed=True))


def parse_money(text: str | int | Decimal, *, what: str = "amount") -> Money:
    """Parse a signed dollar amount (``"-0.0635"``, ``"12.50"``)."""
    return Money(parse_fixed(text, what=what, signed=True))


def price_from_cents(cents: int, *, what: str = "price") -> Price:
    """Convert a legacy integer-cents price (Kalshi ``yes_price``: 1..99) to a Price."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise MoneyError(f"{what}: legacy cents must be an int, got {cents!r}")
    if not 0 <= cents <= 100:
        raise MoneyError(f"{what}: {cents} cents is outside 0..100")
    return Price(cents * CENT)


def money_from_cents(cents: int, *, what: str = "amount") -> Money:
    """Convert a signed integer number of cents (Kalshi ``balance``) to Money."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise MoneyError(f"{what}: cents must be an int, got {cents!r}")
    return Money(cents * CENT)


def qty_from_units(units: int, *, what: str = "quantity") -> Qty:
    """Convert a legacy whole-contract integer count to a Qty."""
    if isinstance(units, bool) or not isinstance(units, int) or units < 0:
        raise MoneyError(f"{what}: expected a non-negative int, got {units!r}")
    return Qty(units * SCALE)


def div_round(numerator: int, denominator: int, rounding: Round) -> int:
    """Integer division with an explicit rounding direction (floor or ceiling)."""
    if denominator == 0:
        raise ZeroDivisionError("div_round by zero")
    if rounding is Round.DOWN:
        return numerator // denominator
    return -((-numerator) // denominator)


def mul(a: int, b: int, rounding: Round) -> int:
    """Product of two scaled values, rescaled: ``a * b / SCALE``.

    ``mul(price, qty, Round.UP)`` is the cost of ``qty`` contracts at ``price``.
    """
    return div_round(a * b, SCALE, rounding)


def div(a: int, b: int, rounding: Round) -> int:
    """Quotient of two scaled values, rescaled: ``a * SCALE / b``."""
    return div_round(a * SCALE, b, rounding)


def round_to_step(value: int, step: int, rounding: Round) -> int:
    """Round a scaled value to a multiple of ``step`` (a tick or a lot size)."""
    if step <= 0:
        raise MoneyError(f"step must be positive, got {step}")
    return div_round(value, step, rounding) * step


def complement(price: Price) -> Price:
    """1 - price: the NO price of a YES price and vice versa."""
    return Price(SCALE - price)


def format_fixed(value: int, decimals: int, rounding: Round | None = None) -> str:
    """Render micro-units as a decimal string with exactly ``decimals`` places.

    Without ``rounding`` the value must be exactly representable, else MoneyError: the caller
    states the direction whenever precision may be lost.
    """
    if not 0 <= decimals <= SCALE_DIGITS:
        raise MoneyError(f"decimals must be 0..{SCALE_DIGITS}, got {decimals}")
    step = 10 ** (SCALE_DIGITS - decimals)
    if value % step:
        if rounding is None:
            raise MoneyError(f"{value} micro-units do not fit {decimals} decimals")
        value = round_to_step(value, step, rounding)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), SCALE)
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(SCALE_DIGITS, '0')[:decimals]}"


def format_trimmed(value: int) -> str:
    """Render micro-units with the shortest exact decimal form (``"0.56"``, ``"5"``)."""
    text = format_fixed(value, SCALE_DIGITS)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_decimal(value: int) -> Decimal:
    """Exact Decimal view of micro-units, for display and for third-party libraries only."""
    return Decimal(value).scaleb(-SCALE_DIGITS)


def decimals_of(step: int) -> int:
    """Number of decimals needed to print multiples of ``step`` exactly (0.01 -> 2)."""
    for d in range(SCALE_DIGITS + 1):
        if step % (10 ** (SCALE_DIGITS - d)) == 0:
            return d
    raise MoneyError(f"step {step} is finer than one micro-unit")
