"""Reliability row 12 (the restart half): a Polymarket leg answered ``delayed`` is pending, not
zero-filled, and that marker survives a restart of the process (a real SQLite ledger file,
closed and reopened); the fill that arrives later lands on the same leg.
"""
from __future__ import annotations

import datetime

from arb.domain import Instrument, Side, TimeInForce, Venue
from arb.ledger import Intent, Ledger
from arb.money import parse_money, parse_price, parse_qty
from arb.orders import Delayed, FillApplied, LegState, Sent, new_leg, transition
from arb.venues.protocol import Fill, FillStatus, OrderResult, OrderStatus

POLY_YES = Instrument.polymarket("0xcond", "71321045679252212594626385532706912750332728571942")
HASH = "0x" + "ab" * 32
NOON_MS = int(datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC).timestamp() * 1000)


def test_delayed_leg_stays_unresolved_across_a_restart_then_takes_its_fill(tmp_path):
    path = tmp_path / "live.sqlite"
    with Ledger.open(path, mode="live") as first:
        first.record_intent(Intent("p-1", "x-1", "KX-LAL|0xcond", "nba:LALBOS", "b", POLY_YES,
                                   Side.BUY, parse_price("0.45"), parse_qty("10"),
                                   TimeInForce.IOC, HASH))
        leg = transition(new_leg("p-1", POLY_YES, Side.BUY, parse_price("0.45"),
                                 parse_qty("10"), TimeInForce.IOC, HASH), Sent()).leg
        step = transition(leg, Delayed(HASH))
        assert step.accepted and step.leg.state is LegState.DELAYED
        first.record_leg(step.leg, result=OrderResult(HASH, "p-1", OrderStatus.DELAYED,
                                                      parse_qty("0"), None, parse_money("0")))

    with Ledger.open(path, mode="live") as second:
        assert [s.intent.client_id for s in second.unresolved_intents()] == ["p-1"]
        stored = second.intent("p-1")
        assert stored.state is LegState.DELAYED and stored.venue_order_id == HASH
        rebuilt = second.leg("p-1")
        assert rebuilt.state is LegState.DELAYED and rebuilt.filled_qty == 0
        assert second.positions() == {}  # delayed is not a fill, nor a zero-fill verdict

        second.record_fill(Fill(Venue.POLYMARKET, "t-1", HASH, None, POLY_YES, Side.BUY,
                                parse_price("0.45"), parse_qty("10"), parse_money("0.12"),
                                True, FillStatus.CONFIRMED, NOON_MS))
        assert second.fills()[0].client_id == "p-1"  # linked to the leg by the order hash
        assert second.positions() == {POLY_YES: parse_qty("10")}
        applied = transition(rebuilt, FillApplied("t-1", parse_qty("10"), parse_price("0.45"),
                                                  parse_money("0.12"), True))
        assert applied.accepted and applied.leg.filled_qty == parse_qty("10")
        assert applied.leg.state is LegState.FILLED
