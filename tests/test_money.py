from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.money import (
    CENT,
    SCALE,
    MoneyError,
    Round,
    complement,
    decimals_of,
    div,
    format_fixed,
    format_trimmed,
    money_from_cents,
    mul,
    parse_money,
    parse_price,
    parse_qty,
    parse_signed_qty,
    price_from_cents,
    qty_from_units,
    round_to_step,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5600", 560_000),
        ("0.56", 560_000),
        ("0.995", 995_000),
        ("0.99", 990_000),
        ("0.0025", 2_500),
        ("1", SCALE),
        ("1.0000", SCALE),
        ("0", 0),
        (".5", 500_000),
        ("0.123400", 123_400),
        ("0.12340000", 123_400),
    ],
)
def test_parse_price_exact(text, expected):
    assert parse_price(text) == expected


def test_sub_cent_prices_stay_apart():
    assert parse_price("0.995") != parse_price("0.99")
    assert parse_price("0.995") - parse_price("0.99") == 5_000


@pytest.mark.parametrize("bad", ["abc", "-0.1", "1.5", "NaN", "nan", "", "  ", "inf", "1e-3",
                                 "0.1234567", "0,5", "0.5.1", "+", ".", "--1"])
def test_parse_price_rejects(bad):
    with pytest.raises(MoneyError) as err:
        parse_price(bad, what="yes_bid_dollars")
    assert "yes_bid_dollars" in str(err.value)


def test_parse_rejects_float_and_bool():
    with pytest.raises(MoneyError):
        parse_price(0.5)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        parse_qty(True)  # type: ignore[arg-type]


def test_parse_decimal_and_int():
    assert parse_price(Decimal("0.42")) == 420_000
    assert parse_qty(3) == 3 * SCALE
    with pytest.raises(MoneyError):
        parse_price(Decimal("NaN"))
    with pytest.raises(MoneyError):
        parse_qty(Decimal("0.0000001"))


def test_counts_and_signed_values():
    assert parse_qty("10.00") == 10 * SCALE
    assert parse_qty("21.04") == 21_040_000
    assert parse_signed_qty("-3.00") == -3 * SCALE
    with pytest.raises(MoneyError):
        parse_qty("-3.00")
    assert parse_money("-0.0635") == -63_500


def test_legacy_integers():
    assert price_from_cents(42) == 420_000
    assert money_from_cents(-1234) == -12_340_000
    assert qty_from_units(10) == 10 * SCALE
    with pytest.raises(MoneyError):
        price_from_cents(101)
    with pytest.raises(MoneyError):
        price_from_cents(True)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        qty_from_units(-1)


def test_rounding_directions():
    # 21.04 shares at 0.56 = 11.7824 exactly
    assert mul(560_000, 21_040_000, Round.UP) == 11_782_400
    # 1/3 of a dollar
    assert div(SCALE, 3 * SCALE, Round.DOWN) == 333_333
    assert div(SCALE, 3 * SCALE, Round.UP) == 333_334
    assert round_to_step(1_754, CENT, Round.UP) == CENT
    assert round_to_step(1_754, CENT, Round.DOWN) == 0
    assert round_to_step(-63_500, CENT, Round.DOWN) == -70_000
    assert complement(parse_price("0.42")) == 580_000


def test_format():
    assert format_fixed(560_000, 4) == "0.5600"
    assert format_fixed(10 * SCALE, 2) == "10.00"
    assert format_fixed(-63_500, 4) == "-0.0635"
    with pytest.raises(MoneyError):
        format_fixed(560_001, 4)
    assert format_fixed(560_001, 4, Round.UP) == "0.5601"
    assert format_trimmed(560_000) == "0.56"
    assert format_trimmed(5 * SCALE) == "5"
    assert decimals_of(CENT) == 2
    assert decimals_of(2_500) == 4


@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(0, 6))
def test_format_parse_round_trip(value, decimals):
    text = format_fixed(value, decimals, Round.DOWN)
    parsed = parse_money(text)
    assert parsed <= value
    assert value - parsed < 10 ** (6 - decimals)
    assert parse_money(format_fixed(value, 6)) == value


@given(st.integers(0, SCALE))
def test_price_round_trip(value):
    assert parse_price(format_trimmed(value)) == value
