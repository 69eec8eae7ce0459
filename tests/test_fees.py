"""Fees: the worked numbers of venues.md A8/B7, exact rounding against an independent Decimal
model, and the bookkeeping of Kalshi's per-fill accumulator."""
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.fees import (
    CENTICENT,
    FeeError,
    KalshiFeeAccumulator,
    KalshiFeeSchedule,
    PolyFeeSchedule,
    fee_upper_bound,
    kalshi_fee,
    kalshi_trade_fee,
    poly_fee,
    poly_fees,
)
from arb.money import CENT, SCALE, parse_money, parse_price, parse_qty, to_decimal

TAKER_ONLY = KalshiFeeSchedule("quadratic")
WITH_MAKER = KalshiFeeSchedule("quadratic_with_maker_fees")
COMBO = KalshiFeeSchedule("quadratic_with_combo_maker_fees")
SPORTS = PolyFeeSchedule(rate=50_000)


def dollars(text: str) -> int:
    return parse_money(text)


# Worked numbers (venues.md A8.1, B7).

def test_kalshi_taker_10_at_50_cents_is_18_cents():
    assert kalshi_fee(TAKER_ONLY, parse_price("0.50"), parse_qty("10")) == dollars("0.18")


def test_kalshi_maker_10_at_50_cents_is_5_cents_on_maker_fee_series():
    assert kalshi_fee(WITH_MAKER, parse_price("0.50"), parse_qty("10"), maker=True) == \
        dollars("0.05")


def test_kalshi_taker_100_at_50_cents_is_175():
    assert kalshi_fee(TAKER_ONLY, parse_price("0.50"), parse_qty("100")) == dollars("1.75")


def test_kalshi_maker_is_free_on_taker_only_series():
    assert kalshi_fee(TAKER_ONLY, parse_price("0.50"), parse_qty("10"), maker=True) == 0


def test_kalshi_combo_maker_rate_is_half_the_taker_rate():
    # 0.035 * 10 * 0.25 = 0.0875 -> 0.09
    assert kalshi_fee(COMBO, parse_price("0.50"), parse_qty("10"), maker=True) == dollars("0.09")
    assert kalshi_fee(COMBO, parse_price("0.50"), parse_qty("10")) == dollars("0.18")


def test_kalshi_multiplier_scales_the_fee():
    half = KalshiFeeSchedule("quadratic", multiplier=500_000)
    # 0.07 * 0.5 * 10 * 0.25 = 0.0875 -> 0.09
    assert kalshi_fee(half, parse_price("0.50"), parse_qty("10")) == dollars("0.09")
    assert kalshi_fee(KalshiFeeSchedule(multiplier=0), parse_price("0.50"), parse_qty("10")) == 0


def test_kalshi_one_contract_at_50_cents_rounds_up_to_2_cents():
    assert kalshi_fee(TAKER_ONLY, parse_price("0.50"), parse_qty("1")) == dollars("0.02")


@pytest.mark.parametrize("fee_type", ["flat", "bogus", ""])
def test_kalshi_unpriceable_fee_types_refused(fee_type):
    with pytest.raises(FeeError, match=repr(fee_type)):
        kalshi_fee(KalshiFeeSchedule(fee_type), parse_price("0.50"), parse_qty("1"))


def test_kalshi_negative_multiplier_refused():
    with pytest.raises(FeeError, match="fee_multiplier"):
        kalshi_fee(KalshiFeeSchedule(multiplier=-1), parse_price("0.5"), parse_qty("1"))


def test_poly_sports_100_at_50_cents_is_125():
    assert poly_fee(SPORTS, parse_price("0.50"), parse_qty("100")) == dollars("1.25")


def test_poly_other_published_rates():
    assert poly_fee(PolyFeeSchedule(30_000), parse_price("0.5"), parse_qty("100")) == \
        dollars("0.75")
    assert poly_fee(PolyFeeSchedule(70_000), parse_price("0.5"), parse_qty("100")) == \
        dollars("1.75")
    # Early-2026 crypto schedule: rate 0.25, exponent 2 -> 1.5625% at p = 0.5.
    assert poly_fee(PolyFeeSchedule(250_000, exponent=2), parse_price("0.5"),
                    parse_qty("100")) == dollars("1.5625")


def test_poly_makers_pay_nothing():
    assert poly_fee(SPORTS, parse_price("0.5"), parse_qty("100"), maker=True) == 0


def test_poly_rounds_up_at_five_decimals():
    # 1 * 0.05 * 0.51 * 0.49 = 0.012495 -> 0.01250
    assert poly_fee(SPORTS, parse_price("0.51"), parse_qty("1")) == dollars("0.0125")
    # 7 * 0.05 * 0.33 * 0.67 = 0.077385 -> 0.07739
    assert poly_fee(SPORTS, parse_price("0.33"), parse_qty("7")) == dollars("0.07739")
    # exact values stay exact
    assert poly_fee(SPORTS, parse_price("0.5"), parse_qty("2")) == dollars("0.025")


def test_poly_fees_round_each_match():
    fills = [(parse_price("0.51"), parse_qty("1")), (parse_price("0.51"), parse_qty("1"))]
    assert poly_fees(SPORTS, fills) == dollars("0.025")


@pytest.mark.parametrize("schedule", [PolyFeeSchedule(-1), PolyFeeSchedule(SCALE + 1),
                                      PolyFeeSchedule(50_000, exponent=0)])
def test_poly_bad_schedules_refused(schedule):
    with pytest.raises(FeeError):
        poly_fee(schedule, parse_price("0.5"), parse_qty("1"))


# Exact rounding against an independent Decimal computation.

prices = st.integers(min_value=1, max_value=9_999).map(lambda t: t * 100)  # 0.0001 grid
counts = st.integers(min_value=1, max_value=1_000_000).map(lambda c: c * 10_000)  # 0.01 grid


def ceil_to(value: Decimal, unit: str) -> Decimal:
    return (value / Decimal(unit)).to_integral_value(ROUND_CEILING) * Decimal(unit)


@given(prices, counts, st.sampled_from([TAKER_ONLY, WITH_MAKER, COMBO]), st.booleans(),
       st.integers(min_value=0, max_value=3 * SCALE))
def test_kalshi_fee_equals_decimal_ceiling(price, qty, schedule, maker, multiplier):
    schedule = KalshiFeeSchedule(schedule.fee_type, multiplier=multiplier)
    base = {"quadratic": ("0.07", "0"), "quadratic_with_maker_fees": ("0.07", "0.0175"),
            "quadratic_with_combo_maker_fees": ("0.07", "0.035")}[schedule.fee_type]
    rate = Decimal(base[1] if maker else base[0]) * to_decimal(multiplier)
    p, c = to_decimal(price), to_decimal(qty)
    exact = rate * c * p * (1 - p)
    assert to_decimal(kalshi_fee(schedule, price, qty, maker=maker)) == ceil_to(exact, "0.01")
    assert to_decimal(kalshi_trade_fee(schedule, price, qty, maker=maker)) == \
        ceil_to(exact, "0.0001")


@given(prices, counts, st.integers(min_value=0, max_value=SCALE), st.integers(1, 3))
def test_poly_fee_equals_decimal_ceiling(price, qty, rate, exponent):
    schedule = PolyFeeSchedule(rate, exponent=exponent)
    p, c = to_decimal(price), to_decimal(qty)
    exact = c * to_decimal(rate) * (p * (1 - p)) ** exponent
    assert to_decimal(poly_fee(schedule, price, qty)) == ceil_to(exact, "0.00001")


@given(st.lists(st.tuples(prices, counts), min_size=1, max_size=5))
def test_fee_upper_bound_rounds_each_fill_to_centicents_then_the_order_to_cents(fills):
    exact = [Decimal("0.07") * to_decimal(q) * to_decimal(p) * (1 - to_decimal(p))
             for p, q in fills]
    bound = fee_upper_bound(TAKER_ONLY, fills)
    assert to_decimal(bound) == ceil_to(sum(ceil_to(f, "0.0001") for f in exact), "0.01")
    assert to_decimal(bound) >= ceil_to(sum(exact), "0.01")
    assert bound <= sum(kalshi_fee(TAKER_ONLY, p, q) for p, q in fills)


def test_fee_upper_bound_catches_what_the_plain_order_round_up_misses():
    # Three 1-lot fills at 0.39: exact fees 3 x 0.016653 = 0.049959 -> 0.05 as one order, but
    # the exchange rounds each fill's fee up to 0.0167 first: 0.0501 -> 0.06.
    fills = [(parse_price("0.39"), parse_qty("1"))] * 3
    assert kalshi_fee(TAKER_ONLY, parse_price("0.39"), parse_qty("3")) == dollars("0.05")
    assert fee_upper_bound(TAKER_ONLY, fills) == dollars("0.06")
    acc = KalshiFeeAccumulator(TAKER_ONLY)
    debit = -sum(acc.charge_fill(p, q, buy=True, maker=False).balance_change for p, q in fills)
    assert debit == dollars("1.17") + dollars("0.06")


# Kalshi's per-fill accumulator (venues.md A8.2).

def test_accumulator_three_subpenny_one_lots_cost_the_same_as_one_fill():
    price, one = parse_price("0.055"), parse_qty("1")
    split = KalshiFeeAccumulator(TAKER_ONLY)
    charges = [split.charge_fill(price, one, buy=True, maker=False) for _ in range(3)]
    # 0.07 * 0.055 * 0.945 = 0.00363825 -> trade fee 0.0037; -0.0587 floors to -0.06.
    assert [c.trade_fee for c in charges] == [dollars("0.0037")] * 3
    assert [c.rounding_fee for c in charges] == [dollars("0.0013")] * 3
    assert [c.balance_change for c in charges] == [dollars("-0.06")] * 3
    whole = KalshiFeeAccumulator(TAKER_ONLY).charge_fill(price, parse_qty("3"), buy=True,
                                                         maker=False)
    assert whole.balance_change == sum(c.balance_change for c in charges) == dollars("-0.18")


def test_accumulator_rebates_a_cent_once_it_reaches_one():
    acc = KalshiFeeAccumulator(TAKER_ONLY)
    price = parse_price("0.0950")
    changes = []
    for _ in range(12):
        changes.append(acc.charge_fill(price, parse_qty("1"), buy=True, maker=False))
        assert 0 <= acc.accumulated < CENT
    assert any(c.rebate == CENT for c in changes)


# The three worked tables of docs.kalshi.com getting_started/fee_rounding (their trade fees are
# illustrative, so they are given here; the mechanics are what is checked).
@pytest.mark.parametrize(("revenue", "trade_fee", "rows"), [
    ("-0.055", "0.0085", [("0.0065", "0.0065", "0", "0.0150"), ("0.0065", "0.0130", "0.01",
                                                                  "0.0050"),
                          ("0.0065", "0.0095", "0", "0.0150")]),
    ("-0.15", "0.0041", [("0.0059", "0.0059", "0", "0.0100"), ("0.0059", "0.0118", "0.01",
                                                                 "0.0000"),
                         ("0.0059", "0.0077", "0", "0.0100")]),
    ("-0.009903", "0.0005", [("0.009597", "0.009597", "0", "0.010097"),
                             ("0.009597", "0.019194", "0.01", "0.000097"),
                             ("0.009597", "0.018791", "0.01", "0.000097")]),
])
def test_accumulator_reproduces_kalshi_worked_examples(revenue, trade_fee, rows):
    acc = KalshiFeeAccumulator(TAKER_ONLY)
    for rounding, accumulator_before_rebate, rebate, net in rows:
        before = acc.accumulated
        charge = acc.apply(dollars(revenue), dollars(trade_fee))
        assert charge.rounding_fee == dollars(rounding)
        assert before + charge.rounding_fee == dollars(accumulator_before_rebate)
        assert charge.rebate == dollars(rebate)
        assert charge.net_fee == dollars(net)
        # The tables' balance column is the floored change; the rebate is credited on top.
        assert (charge.balance_change - charge.rebate) % CENT == 0


def test_accumulator_single_whole_cent_fill_matches_published_fee():
    acc = KalshiFeeAccumulator(TAKER_ONLY)
    charge = acc.charge_fill(parse_price("0.50"), parse_qty("10"), buy=True, maker=False)
    assert charge.net_fee == dollars("0.18")
    assert charge.balance_change == dollars("-5.18")


def test_accumulator_seller_receives_revenue_minus_fee():
    acc = KalshiFeeAccumulator(TAKER_ONLY)
    charge = acc.charge_fill(parse_price("0.50"), parse_qty("10"), buy=False, maker=False)
    assert charge.balance_change == dollars("4.82")


def test_accumulator_direct_member_precision_has_no_rounding_on_centicent_amounts():
    acc = KalshiFeeAccumulator(TAKER_ONLY, balance_precision=CENTICENT)
    charge = acc.charge_fill(parse_price("0.055"), parse_qty("1"), buy=True, maker=False)
    assert charge.rounding_fee == 0
    assert charge.balance_change == dollars("-0.0587")


@given(st.lists(st.tuples(prices, counts.filter(lambda q: q <= 50 * SCALE), st.booleans()),
                min_size=1, max_size=12),
       st.sampled_from([CENT, CENTICENT]), st.booleans())
def test_accumulator_bookkeeping(fills, precision, buy):
    acc = KalshiFeeAccumulator(WITH_MAKER, balance_precision=precision)
    total_change = 0
    total_trade_fee = 0
    revenue = 0
    for price, qty, maker in fills:
        charge = acc.charge_fill(price, qty, buy=buy, maker=maker)
        assert charge.balance_change % precision == 0
        assert 0 <= charge.rounding_fee < precision
        assert charge.rebate in (0, CENT)
        assert 0 <= acc.accumulated < CENT
        total_change += charge.balance_change
        total_trade_fee += charge.trade_fee
        revenue += (price * qty // SCALE) * (-1 if buy else 1)
    # Conservation: every micro-dollar of rounding not yet refunded sits in the accumulator.
    assert total_change == revenue - total_trade_fee - acc.accumulated


@given(st.lists(st.tuples(prices, counts.filter(lambda q: q <= 50 * SCALE)), min_size=1,
                max_size=8), st.booleans())
def test_fee_upper_bound_covers_the_exact_per_fill_model(fills, whole):
    """What edge assumes (cost rounded up to the cent + fee_upper_bound) is never less than what
    the exchange debits fill by fill, and equal to it for whole cents and whole contracts."""
    if whole:
        fills = [(p // CENT * CENT or CENT, q // SCALE * SCALE or SCALE) for p, q in fills]
    acc = KalshiFeeAccumulator(TAKER_ONLY)
    debit = -sum(acc.charge_fill(p, q, buy=True, maker=False).balance_change for p, q in fills)
    cost = sum(p * q for p, q in fills) // SCALE
    assumed = -(-cost // CENT) * CENT + fee_upper_bound(TAKER_ONLY, fills)
    assert debit <= assumed
    if whole:
        assert debit == assumed
