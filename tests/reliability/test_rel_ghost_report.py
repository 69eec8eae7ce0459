"""Reliability row 13: a ghost fill, then the venue's order report that still counts it.

Polymarket keeps a FAILED trade in the order's report (``size_matched`` and its trade ids). A
leg whose trade was voided and that then hears "executed, fully filled" over that trade is done
with less than its quantity: CANCELLED with the real filled quantity, never FILLED (which would
tell the owner the hedge is complete). Found by ``tests/test_orders.py``'s property test.
"""
from __future__ import annotations

from arb.domain import Instrument, Side, TimeInForce
from arb.money import parse_money, parse_price, parse_qty
from arb.orders import (
    Acked,
    Executed,
    FillApplied,
    FillVoided,
    LegFinished,
    LegState,
    Sent,
    new_leg,
    transition,
)

POLY_YES = Instrument.polymarket("0xcond", "71321045679252212594626385532706912750332728571942")
PRICE = parse_price("0.45")
TEN = parse_qty("10")


def _run(leg, *events):
    effects = []
    for event in events:
        step = transition(leg, event)
        assert step.accepted, step.refused
        leg = step.leg
        effects.extend(step.effects)
    return leg, effects


def _leg():
    return new_leg("p-1", POLY_YES, Side.BUY, PRICE, TEN, TimeInForce.GTC, "0xhash")


def test_executed_report_over_a_voided_trade_is_cancelled_with_the_real_quantity():
    leg, effects = _run(_leg(), Sent(), Acked("0xhash"),
                        FillApplied("t-1", parse_qty("1"), PRICE, parse_money("0"), True),
                        FillVoided("t-1"),
                        Executed("0xhash", TEN, ("t-1", "t-2")))
    assert leg.state is LegState.CANCELLED
    assert leg.filled_qty == parse_qty("9") and leg.booked_qty == 0
    assert [e for e in effects if isinstance(e, LegFinished)] == [
        LegFinished(LegState.CANCELLED, parse_qty("9"))]


def test_executed_report_after_the_void_cancelled_a_filled_leg_is_accepted():
    leg, _ = _run(_leg(), Sent(), Acked("0xhash"),
                  FillApplied("t-1", TEN, PRICE, parse_money("0"), True),
                  FillVoided("t-1"))
    assert leg.state is LegState.CANCELLED and leg.filled_qty == 0
    step = transition(leg, Executed("0xhash", TEN, ("t-1",)))
    assert step.accepted and step.leg.state is LegState.CANCELLED
    assert step.leg.filled_qty == 0 and step.effects == ()


def test_executed_without_voids_is_filled():
    leg, _ = _run(_leg(), Sent(), Acked("0xhash"), Executed("0xhash", TEN, ("t-1",)))
    assert leg.state is LegState.FILLED and leg.filled_qty == TEN
