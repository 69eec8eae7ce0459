"""Fees as the simulated Kalshi exchange charges them (venues.md A8)."""
from __future__ import annotations

from arb.domain import TimeInForce
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.core import NewOrder
from arb.sim.kalshi.fees import TAKER_COEFFICIENT, charge_fill, fee_coefficient, trade_fee
from arb.sim.kalshi.sample import SAC, TOTAL


def test_trade_fee_worked_numbers():
    # 10 contracts at 0.50: taker 0.175 exactly; maker (0.0175) 0.04375 -> 0.0438 (centicent up).
    assert trade_fee(TAKER_COEFFICIENT, 1_000_000, parse_qty("10"), parse_price("0.50")) == \
        parse_money("0.175")
    maker = fee_coefficient("quadratic_with_maker_fees", is_taker=False)
    assert trade_fee(maker, 1_000_000, parse_qty("10"), parse_price("0.50")) == \
        parse_money("0.0438")
    assert fee_coefficient("quadratic", is_taker=False) == 0
    # 1 contract at 0.055: 0.07 * 0.055 * 0.945 = 0.00363825 -> 0.0037.
    assert trade_fee(TAKER_COEFFICIENT, 1_000_000, parse_qty("1"), parse_price("0.055")) == \
        parse_money("0.0037")
    # The series multiplier scales the table.
    assert trade_fee(TAKER_COEFFICIENT, 500_000, parse_qty("100"), parse_price("0.50")) == \
        parse_money("0.875")


def test_rounding_fee_floors_balance_to_the_cent():
    # Docs example: balance change -0.0635 floors to -0.07; rounding fee 0.0065.
    charge = charge_fill(parse_money("-0.06"), parse_money("0.0035"), 0)
    assert charge.balance_change == parse_money("-0.07")
    assert charge.rounding_fee == parse_money("0.0065")
    assert charge.net_fee == parse_money("0.01")


def test_accumulator_rebates_a_cent_and_converges_to_one_fill():
    # Three 1-lot fills at 0.055 vs one 3-lot fill: same total cash.
    acc, total = 0, 0
    for _ in range(3):
        fee = trade_fee(TAKER_COEFFICIENT, 1_000_000, parse_qty("1"), parse_price("0.055"))
        charge = charge_fill(-parse_money("0.055"), fee, acc)
        acc, total = charge.accumulator, total + charge.balance_change
    fee = trade_fee(TAKER_COEFFICIENT, 1_000_000, parse_qty("3"), parse_price("0.055"))
    single = charge_fill(-parse_money("0.165"), fee, 0)
    assert total == single.balance_change == parse_money("-0.18")
    # Eight rounding overpayments of 0.0013 reach a cent: one rebate.
    acc, rebates = 0, 0
    for _ in range(8):
        charge = charge_fill(-parse_money("0.055"), parse_money("0.0037"), acc)
        acc, rebates = charge.accumulator, rebates + charge.rebate
    assert rebates == parse_money("0.01") and acc == parse_money("0.0004")


def test_fills_carry_fee_cost_and_move_cash_exactly(exchange, house):
    trader = exchange.register_account(cash=parse_money("100"))
    exchange.place_order(house, NewOrder(SAC, "ask", parse_price("0.44"), parse_qty("17")))
    result = exchange.place_order(trader, NewOrder(SAC, "bid", parse_price("0.50"),
                                                   parse_qty("10"), TimeInForce.IOC))
    # Taker: 10 x 0.44 = 4.40; fee 0.07*10*0.44*0.56 = 0.1725; 4.5725 floors to 4.58.
    taker_fill = exchange.accounts[trader].fills[0]
    assert taker_fill.fee_cost == parse_money("0.18") and result.fees == parse_money("0.18")
    assert exchange.accounts[trader].cash == parse_money("95.42")
    # Maker (NO at 0.56, maker fees on this series): 5.60 + 0.0432 -> 5.65.
    maker_fill = exchange.accounts[house].fills[0]
    assert not maker_fill.is_taker and maker_fill.fee_cost == parse_money("0.05")
    assert exchange.accounts[house].cash == parse_money("100000") - parse_money("5.65")


def test_no_maker_fee_on_plain_quadratic_series(exchange, house):
    trader = exchange.register_account(cash=parse_money("100"))
    exchange.place_order(house, NewOrder(TOTAL, "ask", parse_price("0.40"), parse_qty("10")))
    exchange.place_order(trader, NewOrder(TOTAL, "bid", parse_price("0.40"), parse_qty("10"),
                                          TimeInForce.IOC))
    maker_fill = exchange.accounts[house].fills[0]
    assert maker_fill.fee_cost == 0
    # The maker bought 10 NO at 0.60: exactly 6.00, cent-aligned, so no rounding fee.
    assert exchange.accounts[house].cash == parse_money("100000") - parse_money("6")


def test_partial_fills_share_one_accumulator(exchange, house):
    trader = exchange.register_account(cash=parse_money("100"))
    for _ in range(4):
        exchange.place_order(house, NewOrder(TOTAL, "ask", parse_price("0.055"), parse_qty("1")))
    exchange.place_order(trader, NewOrder(TOTAL, "bid", parse_price("0.055"), parse_qty("4"),
                                          TimeInForce.IOC))
    fills = exchange.accounts[trader].fills
    assert len(fills) == 4
    paid = parse_money("100") - exchange.accounts[trader].cash
    fee = trade_fee(TAKER_COEFFICIENT, 1_000_000, parse_qty("4"), parse_price("0.055"))
    single = charge_fill(-parse_money("0.22"), fee, 0)
    # Per-fill: each 0.0587 floors to 0.06 (4 x 0.0013 = 0.0052 accumulated, no rebate yet).
    assert paid == parse_money("0.24")
    assert -single.balance_change == parse_money("0.24")
    assert sum(f.fee_cost for f in fills) == paid - parse_money("0.22")
