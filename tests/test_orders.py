"""The leg state machine: every legal path, refusals, and properties over random event streams."""
from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.domain import Instrument, Outcome, Side, TimeInForce
from arb.money import ONE_CONTRACT, Money, Price, Qty, parse_price, parse_qty
from arb.orders import (
    Acked,
    Cancelled,
    Delayed,
    Executed,
    FillApplied,
    FillBooked,
    FillConfirmed,
    FillReverted,
    FillVoided,
    Leg,
    LegFinished,
    LegState,
    NotFound,
    Rejected,
    ResolutionNeeded,
    SendFailed,
    Sent,
    TimedOut,
    Withdrawn,
    event_from_result,
    new_leg,
    transition,
)
from arb.venues.protocol import FillStatus, OrderResult, OrderStatus

KALSHI_NO = Instrument.kalshi("KXNBAGAME-26NOV25LALBOS-LAL", Outcome.NO)
PRICE = parse_price("0.45")
TEN = parse_qty("10")


def leg(tif: TimeInForce = TimeInForce.IOC, qty: Qty = TEN) -> Leg:
    return new_leg("c-1", KALSHI_NO, Side.BUY, PRICE, qty, tif)


def fill(trade_id: str, qty: str, *, provisional: bool = False, order: str | None = None,
         price: Price = PRICE) -> FillApplied:
    return FillApplied(trade_id, parse_qty(qty), price, Money(10_000), provisional, order)


def run(start: Leg, *events):
    """Apply events in order; every one must be accepted. Returns the leg and all effects."""
    effects = []
    current = start
    for event in events:
        step = transition(current, event)
        assert step.accepted, step.refused
        effects.extend(step.effects)
        current = step.leg
    return current, effects


# --- legal paths ---------------------------------------------------------------------------

def test_ioc_filled_answer_then_late_fill_reports():
    done, effects = run(leg(), Sent(), Executed("o-1", TEN))
    assert done.state is LegState.FILLED and done.filled_qty == TEN and done.booked_qty == 0
    assert not done.settled  # the fill records are still to come
    assert effects == [LegFinished(LegState.FILLED, TEN)]
    done, effects = run(done, fill("t-1", "4", order="o-1"), fill("t-2", "6", order="o-1"))
    assert done.state is LegState.FILLED and done.booked_qty == TEN and done.settled
    assert [type(e) for e in effects] == [FillBooked, FillBooked]


def test_fills_before_the_http_answer():
    done, effects = run(leg(), Sent(), fill("t-1", "4"), fill("t-2", "6"), Executed("o-1", TEN))
    assert done.state is LegState.FILLED and done.venue_order_id == "o-1"
    assert effects[-1] == LegFinished(LegState.FILLED, TEN)
    assert [type(e) for e in effects] == [FillBooked, FillBooked, LegFinished]


def test_ioc_partial_then_late_fill_on_cancelled_leg_is_applied():
    done, effects = run(leg(), Sent(), Cancelled("o-1", parse_qty("3"), "ioc remainder"))
    assert done.state is LegState.CANCELLED and done.filled_qty == parse_qty("3")
    assert effects == [LegFinished(LegState.CANCELLED, parse_qty("3"))]
    late, effects = run(done, fill("t-1", "3", order="o-1"))
    assert late.state is LegState.CANCELLED and late.booked_qty == parse_qty("3")
    assert effects == [FillBooked(late.fills[0])]
    assert late.settled


def test_gtc_rests_fills_partially_and_is_cancelled():
    current, effects = run(leg(TimeInForce.GTC), Sent(), Acked("o-1"))
    assert current.state is LegState.ACKNOWLEDGED and effects == []
    current, _ = run(current, fill("t-1", "2.5", order="o-1"))
    assert current.state is LegState.PARTIALLY_FILLED and current.remaining_qty == parse_qty("7.5")
    current, effects = run(current, Cancelled("o-1", parse_qty("2.5"), "cancelled by us"))
    assert current.state is LegState.CANCELLED and current.reason == "cancelled by us"
    assert effects == [LegFinished(LegState.CANCELLED, parse_qty("2.5"))]


def test_gtc_acked_answer_overtaken_by_fills():
    current, _ = run(leg(TimeInForce.GTC), Sent(), fill("t-1", "10", order="o-1"))
    assert current.state is LegState.FILLED
    stale, effects = run(current, Acked("o-1"))
    assert stale.state is LegState.FILLED and effects == []


def test_gtc_acked_with_partial_fill_on_entry():
    current, _ = run(leg(TimeInForce.GTC), Sent(), Acked("o-1", parse_qty("4"), ("t-1",)))
    assert current.state is LegState.PARTIALLY_FILLED and current.filled_qty == parse_qty("4")
    current, _ = run(current, fill("t-1", "4"), fill("t-2", "6"))
    assert current.state is LegState.FILLED and current.settled


def test_rejection_before_and_after_sending():
    refused, effects = run(leg(), Rejected("price off the tick grid"))
    assert refused.state is LegState.REJECTED and effects == [LegFinished(LegState.REJECTED, 0)]
    refused, _ = run(leg(), Sent(), Rejected("not enough balance / allowance"))
    assert refused.state is LegState.REJECTED
    assert refused.reason == "not enough balance / allowance"


def test_transient_failure_returns_to_pending_then_resend_or_withdraw():
    current, _ = run(leg(), Sent(), SendFailed("connection refused"))
    assert current.state is LegState.PENDING and current.reason == "connection refused"
    resent, _ = run(current, Sent(), Executed("o-1", TEN))
    assert resent.state is LegState.FILLED
    withdrawn, effects = run(current, Withdrawn("edge gone"))
    assert withdrawn.state is LegState.NOT_PLACED
    assert effects == [LegFinished(LegState.NOT_PLACED, 0)]


@pytest.mark.parametrize("evidence, state", [
    (Executed("o-1", TEN), LegState.FILLED),
    (Cancelled("o-1", Qty(0), "ioc unfilled"), LegState.CANCELLED),
    (Cancelled("o-1", parse_qty("3")), LegState.CANCELLED),
    (NotFound("no order with this client id"), LegState.NOT_PLACED),
    (Delayed("o-1"), LegState.DELAYED),
])
def test_unknown_is_left_only_through_venue_evidence(evidence, state):
    unknown, effects = run(leg(), Sent(), TimedOut("read timeout after 5 s"))
    assert unknown.state is LegState.UNKNOWN
    assert effects == [ResolutionNeeded(LegState.UNKNOWN, "read timeout after 5 s")]
    # Another timeout (a failed query) changes nothing.
    again, effects = run(unknown, TimedOut("query timed out"))
    assert again.state is LegState.UNKNOWN and effects == []
    for not_evidence in (Sent(), SendFailed("x"), Withdrawn("x"), Rejected("x")):
        step = transition(unknown, not_evidence)
        assert not step.accepted and step.leg.state is LegState.UNKNOWN
    resolved, _ = run(unknown, evidence)
    assert resolved.state is state


def test_unknown_partial_fill_keeps_it_unknown_full_fill_resolves_it():
    unknown, _ = run(leg(), Sent(), TimedOut("reset"))
    partial, effects = run(unknown, fill("t-1", "3", order="o-1"))
    assert partial.state is LegState.UNKNOWN and partial.venue_order_id == "o-1"
    assert [type(e) for e in effects] == [FillBooked]
    # The fill proves the order exists: "not found" is no longer believable.
    assert not transition(partial, NotFound("query empty")).accepted
    full, effects = run(partial, fill("t-2", "7"))
    assert full.state is LegState.FILLED
    assert effects[-1] == LegFinished(LegState.FILLED, TEN)


def test_crash_restart_pending_intent_becomes_unknown():
    unknown, effects = run(leg(), TimedOut("restart: intent found without an answer"))
    assert unknown.state is LegState.UNKNOWN and isinstance(effects[0], ResolutionNeeded)
    gone, _ = run(unknown, NotFound("venue has no order with client id c-1"))
    assert gone.state is LegState.NOT_PLACED


def test_resting_order_whose_cancel_timed_out_is_unknown():
    current, effects = run(leg(TimeInForce.GTC), Sent(), Acked("o-1"), TimedOut("cancel timeout"))
    assert current.state is LegState.UNKNOWN
    assert not transition(current, NotFound("?")).accepted  # it was acknowledged
    current, _ = run(current, Cancelled("o-1", Qty(0)))
    assert current.state is LegState.CANCELLED


def test_polymarket_delayed_then_filled():
    current, effects = run(leg(), Sent(), Delayed("0xhash"))
    assert current.state is LegState.DELAYED and current.filled_qty == 0
    assert effects == [ResolutionNeeded(LegState.DELAYED, "delayed by the venue")]
    current, _ = run(current, fill("t-1", "6", provisional=True))
    assert current.state is LegState.PARTIALLY_FILLED
    current, _ = run(current, fill("t-2", "4", provisional=True))
    assert current.state is LegState.FILLED and current.provisional_qty == TEN
    assert not current.settled
    current, effects = run(current, fill("t-1", "6"), fill("t-2", "4"))
    assert effects == [FillConfirmed("t-1"), FillConfirmed("t-2")]
    assert current.confirmed_qty == TEN and current.settled


def test_polymarket_delayed_then_killed_unfilled():
    current, _ = run(leg(), Sent(), Delayed("0xhash"), Cancelled("0xhash", Qty(0), "unmatched"))
    assert current.state is LegState.CANCELLED and current.filled_qty == 0


def test_ghost_fill_reverts_a_filled_leg_to_cancelled():
    current, _ = run(leg(), Sent(), Executed("0xhash", TEN, ("t-1",)),
                     fill("t-1", "10", provisional=True))
    assert current.state is LegState.FILLED
    current, effects = run(current, FillVoided("t-1"))
    assert current.state is LegState.CANCELLED
    assert current.filled_qty == 0 and current.booked_qty == 0 and current.settled
    assert effects == [FillReverted(attrs.evolve(current.fills[0], status=FillStatus.PROVISIONAL)),
                       LegFinished(LegState.CANCELLED, Qty(0))]
    # Voiding again is a no-op; the failed trade cannot come back.
    again, effects = run(current, FillVoided("t-1"))
    assert again == current and effects == []
    assert not transition(current, fill("t-1", "10")).accepted
    # A later query still listing the failed trade does not resurrect its quantity.
    stale, _ = run(current, Cancelled("0xhash", TEN - 1, trade_ids=("t-1",)))
    assert stale.filled_qty == 0


def test_ghost_fill_on_a_resting_leg():
    current, _ = run(leg(TimeInForce.GTC), Sent(), Acked("0xhash"),
                     fill("t-1", "4", provisional=True))
    assert current.state is LegState.PARTIALLY_FILLED
    current, effects = run(current, FillVoided("t-1"))
    assert current.state is LegState.ACKNOWLEDGED and current.filled_qty == 0
    assert [type(e) for e in effects] == [FillReverted]


def test_duplicate_fill_is_a_no_op():
    once, _ = run(leg(), Sent(), fill("t-1", "3"))
    twice = transition(once, fill("t-1", "3"))
    assert twice.accepted and twice.leg == once and twice.effects == ()


def test_event_from_result_maps_every_status():
    def result(status, filled, ids=()):
        return OrderResult("o-1", "c-1", status, filled, None, Money(0), ids)
    assert event_from_result(result(OrderStatus.RESTING, Qty(0)), qty=TEN) == Acked("o-1")
    assert event_from_result(result(OrderStatus.DELAYED, Qty(0)), qty=TEN) == Delayed("o-1")
    assert event_from_result(result(OrderStatus.FILLED, TEN, ("t",)), qty=TEN) == \
        Executed("o-1", TEN, ("t",))
    assert event_from_result(result(OrderStatus.CANCELLED, ONE_CONTRACT), qty=TEN,
                             reason="ioc") == Cancelled("o-1", ONE_CONTRACT, "ioc")
    # A "cancelled" answer that filled everything is an execution.
    assert event_from_result(result(OrderStatus.CANCELLED, TEN), qty=TEN) == Executed("o-1", TEN)


def test_new_leg_rejects_impossible_orders():
    with pytest.raises(ValueError, match="quantity"):
        new_leg("c", KALSHI_NO, Side.BUY, PRICE, Qty(0), TimeInForce.IOC)
    with pytest.raises(ValueError, match="price"):
        new_leg("c", KALSHI_NO, Side.BUY, Price(0), TEN, TimeInForce.IOC)
    with pytest.raises(ValueError, match="client id"):
        new_leg("", KALSHI_NO, Side.BUY, PRICE, TEN, TimeInForce.IOC)


# --- refusals ------------------------------------------------------------------------------

ILLEGAL = [
    ("send twice", (Sent(),), Sent()),
    ("report before sending", (), Executed("o-1", TEN)),
    ("fail delivery before sending", (), SendFailed("x")),
    ("withdraw a sent order", (Sent(),), Withdrawn("x")),
    ("reject a resting order", (Sent(), ), Acked("o-1")),  # IOC cannot rest
    ("reject after a fill", (Sent(), FillApplied("t", TEN - 1, PRICE, Money(0), False)),
     Rejected("late")),
    ("overfill", (Sent(), FillApplied("t", TEN - 1, PRICE, Money(0), False)),
     FillApplied("t2", parse_qty("2"), PRICE, Money(0), False)),
    ("executed short", (Sent(),), Executed("o-1", parse_qty("9"))),
    ("report for another order", (Sent(), Cancelled("o-1", Qty(0))), Cancelled("o-2", Qty(0))),
    ("fill for another order", (Sent(), Cancelled("o-1", Qty(0))),
     FillApplied("t", ONE_CONTRACT, PRICE, Money(0), False, "o-2")),
    ("cancel a filled order", (Sent(), Executed("o-1", TEN)), Cancelled("o-1", Qty(0))),
    ("execute a cancelled order", (Sent(), Cancelled("o-1", Qty(0))), Executed("o-1", TEN)),
    ("timeout after finishing", (Sent(), Executed("o-1", TEN)), TimedOut("x")),
    ("fill a rejected order", (Rejected("no"),),
     FillApplied("t", ONE_CONTRACT, PRICE, Money(0), False)),
    ("fill a withdrawn order", (Withdrawn("no"),),
     FillApplied("t", ONE_CONTRACT, PRICE, Money(0), False)),
    ("void an unknown trade", (Sent(),), FillVoided("t-9")),
    ("void a confirmed trade", (Sent(), FillApplied("t", ONE_CONTRACT, PRICE, Money(0), False)),
     FillVoided("t")),
    ("same trade, other size", (Sent(), FillApplied("t", ONE_CONTRACT, PRICE, Money(0), True)),
     FillApplied("t", ONE_CONTRACT * 2, PRICE, Money(0), True)),
    ("zero-size fill", (Sent(),), FillApplied("t", Qty(0), PRICE, Money(0), False)),
    ("fill above $1", (Sent(),), FillApplied("t", ONE_CONTRACT, Price(1_000_001), Money(0), False)),
    ("not found after a report", (Sent(), Delayed("o-1"), TimedOut("x")), NotFound("x")),
    ("delay a partly filled order", (Sent(), FillApplied("t", ONE_CONTRACT, PRICE, Money(0), False)),
     Delayed("o-1")),
]


@pytest.mark.parametrize("why, setup, event", ILLEGAL, ids=[case[0] for case in ILLEGAL])
def test_illegal_transitions_are_refused_counted_and_not_applied(why, setup, event):
    before, _ = run(leg(), *setup)
    step = transition(before, event)
    assert not step.accepted and step.effects == ()
    assert "c-1" in step.refused and type(event).__name__ in step.refused
    assert step.leg == attrs.evolve(before, refused=before.refused + 1)
    assert transition(step.leg, event).leg.refused == before.refused + 2


def test_gtc_resting_order_cannot_be_acked_completely_filled():
    current, _ = run(leg(TimeInForce.GTC), Sent())
    assert not transition(current, Acked("o-1", TEN)).accepted


# --- properties over random event streams ------------------------------------------------

TRADE_IDS = ["t-1", "t-2", "t-3", "t-4"]
ORDER_IDS = ["o-1", "o-2"]
quantities = st.sampled_from([parse_qty(q) for q in ("0", "1", "2.5", "3", "5", "7.5", "10")])

fills = st.builds(FillApplied, st.sampled_from(TRADE_IDS), quantities, st.just(PRICE),
                  st.just(Money(0)), st.booleans(), st.sampled_from([None, *ORDER_IDS]))
trade_id_lists = st.lists(st.sampled_from(TRADE_IDS), max_size=2).map(tuple)
filled_reports = st.one_of(quantities, st.just(TEN))
events = st.one_of(
    # Weighted toward fills and venue reports so that streams reach the deep states.
    fills, fills, fills, st.builds(FillVoided, st.sampled_from(TRADE_IDS)),
    st.builds(Acked, st.sampled_from(ORDER_IDS), quantities, trade_id_lists),
    st.builds(Delayed, st.sampled_from(ORDER_IDS)),
    st.builds(Executed, st.sampled_from(ORDER_IDS), filled_reports, trade_id_lists),
    st.builds(Cancelled, st.sampled_from(ORDER_IDS), quantities, st.just("c"), trade_id_lists),
    st.builds(TimedOut, st.just("timeout")),
    st.sampled_from([Sent(), SendFailed("refused"), Withdrawn("gone"), Rejected("no"),
                     NotFound("none")]),
)
VENUE_EVIDENCE = (Acked, Delayed, Executed, Cancelled, NotFound, FillApplied, FillVoided)


@settings(max_examples=600, deadline=None)
@given(tif=st.sampled_from(list(TimeInForce)), sent_first=st.booleans(),
       stream=st.lists(events, max_size=25))
def test_random_event_streams_keep_the_invariants(tif, sent_first, stream):
    current = leg(tif)
    if sent_first:
        stream = [Sent(), *stream]
    refusals = 0
    for event in stream:
        step = transition(current, event)
        after = step.leg
        if not step.accepted:
            refusals += 1
            assert after == attrs.evolve(current, refused=current.refused + 1)
        # Filled never exceeds the order; booked fills never exceed it either.
        assert 0 <= after.booked_qty <= after.filled_qty <= after.qty
        # Terminal states stay terminal.
        if current.terminal:
            assert after.terminal
        # UNKNOWN is left only through venue evidence.
        if current.state is LegState.UNKNOWN and after.state is not LegState.UNKNOWN:
            assert isinstance(event, VENUE_EVIDENCE)
        # FILLED means the full quantity is known filled.
        if after.state is LegState.FILLED:
            assert after.filled_qty == after.qty
        # Trade ids are unique on the leg.
        assert len({f.trade_id for f in after.fills}) == len(after.fills)
        # Fills are idempotent: the same event again changes nothing (and is not refused).
        if step.accepted and isinstance(event, FillApplied | FillVoided):
            repeat = transition(after, event)
            assert repeat.accepted and repeat.leg == after and repeat.effects == ()
        # A terminal-state effect is emitted exactly when the leg first finishes.
        finished = [e for e in step.effects if isinstance(e, LegFinished)]
        assert len(finished) == (1 if after.terminal and after.state is not current.state
                                 else 0)
        current = after
    assert current.refused == refusals
