"""Market actor + execution under the virtual clock, against scriptable fake venues.

Books, edge detection, fees, the leg state machine and the ledger are the real modules; only the
venues are fakes.
"""
from __future__ import annotations

import trio
import trio.testing
from actor_fakes import (
    Act,
    Answer,
    cents,
    contracts,
    make_books,
    make_pair,
    open_rig,
    quote,
    touch,
)

from actors.execution import ExecutionParams
from actors.market import MarketParams, edge_detector
from actors.messages import DenyReason, ExecutionOutcome
from actors.unwind import RepairParams
from arb.domain import Instrument, Outcome, Side, Venue
from arb.edge import EdgeParams
from arb.money import ONE, Money, Price, parse_money
from arb.orders import LegState
from arb.venues.protocol import FeedHealth, FeedState

ONLY_CHANGES = MarketParams(scan_interval_s=1000.0)
"""Detection only on mailbox changes, so a test controls exactly when an actor looks."""


def no_arb(books, router=None):
    quote(books, poly_yes_ask=60, kalshi_no_ask=50, router=router)


async def test_hedged_execution_writes_intents_before_sending(tmp_path, autojump_clock):
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, size=10)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        assert trio.current_time() == 0.0
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, size=10, router=rig.router)
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}
        assert sorted(e[1] for e in rig.submits()) == ["kalshi submit", "polymarket submit"]
        # Both intents are in the ledger and finished; both legs bought 10 contracts.
        for leg in ("a", "b"):
            stored = rig.ledger.intent(f"tT1-1-{leg}")
            assert stored is not None and stored.state is LegState.FILLED
        k_no = Instrument.kalshi(pair.kalshi.ticker, Outcome.NO)
        p_yes = Instrument.polymarket(pair.poly.condition_id, pair.poly.yes_token)
        assert rig.ledger.positions() == {k_no: contracts(10), p_yes: contracts(10)}
        stats = rig.risk.statistics()
        assert stats.open_reservations == 0 and stats.blocked_events == ()
        assert stats.committed == (cents(50) * 10 + cents(40) * 10
                                   + parse_money("0.18") + parse_money("0.12"))
        [record] = rig.ledger.executions()
        assert record.outcome == "hedged"


async def test_burst_of_identical_signals_gives_one_execution(tmp_path, autojump_clock):
    """Reliability #19: a burst in one instant is conflated; exactly one execution."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        for _ in range(100):
            rig.router.book_changed(Venue.POLYMARKET, pair.poly.yes_token)
            rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert actor.triggers["change"] == 1
        assert actor.mailbox.conflated == 198
        assert rig.kalshi.submits == 1 and rig.poly.submits == 1


async def test_signal_racing_an_execution_is_dropped(tmp_path, autojump_clock):
    """Reliability #19 with a forced interleaving: a second signal lands while the first
    execution waits on the venue; it becomes one later step that sees no edge left."""
    seq = trio.testing.Sequencer()
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.kalshi.script(Answer(latency_s=1.0))

        async def second_signal():
            async with seq(0):
                await trio.sleep(0.5)
                assert rig.kalshi.submits == 1
                rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
            async with seq(1):
                # Our fills take the liquidity: the books show it before the answer arrives.
                await trio.sleep(0.4)
                no_arb(books)

        rig.nursery.start_soon(second_signal)
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await trio.sleep(3.0)
        assert rig.kalshi.submits == 1 and rig.poly.submits == 1
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}
        assert actor.triggers["change"] == 2


async def test_two_outcomes_of_one_event_execute_once(tmp_path, autojump_clock):
    """Reliability #20: sibling markets of one game both arb in the same instant."""
    async with open_rig(tmp_path) as rig:
        home, away = make_pair(1), make_pair(2)
        books = {p.pair_id: make_books(p) for p in (home, away)}
        actors = {}
        for p in (home, away):
            quote(books[p.pair_id], poly_yes_ask=40, kalshi_no_ask=50)
            actors[p.pair_id] = rig.market(p, books[p.pair_id], ONLY_CHANGES)
            await rig.nursery.start(actors[p.pair_id].serve)
        rig.kalshi.script(Answer(latency_s=0.5))
        for p in (home, away):
            rig.router.book_changed(Venue.KALSHI, p.kalshi.ticker)
        await rig.settle()
        outcomes = [a.outcomes.get(ExecutionOutcome.HEDGED, 0) for a in actors.values()]
        denied = [a.denied.get(DenyReason.EVENT_BUSY, 0) for a in actors.values()]
        assert sorted(outcomes) == [0, 1] and sorted(denied) == [0, 1]
        assert rig.kalshi.submits == 1 and rig.poly.submits == 1
        assert rig.risk.statistics().denials == {DenyReason.EVENT_BUSY: 1}


async def test_price_move_between_detection_and_send_expires(tmp_path, autojump_clock):
    """Reliability #21: re-pricing after the reservation finds the edge gone: expired."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        detect = edge_detector(EdgeParams())
        calls = []

        def moving_detector(p, b):
            found = detect(p, b)
            calls.append(found is not None)
            if len(calls) == 1:
                no_arb(b)  # the market moves right after the first detection
            return found

        actor = rig.market(pair, books, ONLY_CHANGES)
        actor.detect = moving_detector
        await rig.nursery.start(actor.serve)
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert calls == [True]      # re-pricing reads the books, not a fresh detection
        assert actor.expired == 1 and actor.outcomes == {ExecutionOutcome.EXPIRED: 1}
        assert rig.timeline == [] and rig.ledger.unresolved_intents() == []
        assert rig.risk.statistics().open_reservations == 0
        assert rig.risk.consecutive_errors == 0


async def test_more_depth_after_detection_does_not_expire_the_plan(tmp_path, autojump_clock):
    """Liquidity that appears behind the planned levels between detection and send (a venue
    publishing a new ladder level by level) leaves the plan takeable: it is executed, not
    expired because a fresh detection would now size differently."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, size=10)
        detect = edge_detector(EdgeParams())
        calls = []

        def deepening_detector(p, b):
            found = detect(p, b)
            calls.append(found)
            if len(calls) == 1:
                # more size at worse (still profitable) prices behind both planned levels
                b.poly_yes.apply_level(Side.SELL, cents(42), contracts(50),
                                       received_at=trio.current_time())
                b.kalshi.apply_delta(Outcome.YES, Price(ONE - cents(52)), contracts(50),
                                     received_at=trio.current_time())
            return found

        actor = rig.market(pair, books, ONLY_CHANGES)
        actor.detect = deepening_detector
        await rig.nursery.start(actor.serve)
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert calls[0] is not None and calls[0].qty == contracts(10)
        assert detect(pair, books) is not None and detect(pair, books).qty > contracts(10)
        assert actor.expired == 0
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}


async def test_stale_book_blocks_detection(tmp_path, autojump_clock):
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, MarketParams(max_book_age_s=2.0, scan_interval_s=1.0))
        await rig.nursery.start(actor.serve)
        await trio.sleep(0.9)
        touch(books)
        await trio.sleep(0.6)  # the first periodic scan (t = 1.0) finds and takes the edge
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}
        assert actor.triggers == {"scan": 1}
        no_arb(books)
        await trio.sleep(5.0)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        books.kalshi.received_at = trio.current_time() - 3.0
        await trio.sleep(1.0)
        assert actor.skipped["stale_book"] >= 1
        assert rig.kalshi.submits == 1


async def test_timeout_after_send_is_unknown_then_resolved_by_query(tmp_path, autojump_clock):
    """Reliability #5: no resend under a new id; the query finds the fill; hedged."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.poly.script(Answer(Act.TIMEOUT, latency_s=0.2))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}
        assert rig.poly.submits == 1
        history = [e.state for e in rig.ledger.order_history("tT1-1-a")]
        assert LegState.UNKNOWN in history and history[-1] is LegState.FILLED
        assert rig.risk.statistics().open_reservations == 0


async def test_unresolved_leg_keeps_reservation_and_blocks_event(tmp_path, autojump_clock):
    """Reliability #5: a leg that stays UNKNOWN keeps its reservation and blocks its event
    (a sibling market is denied) until reconciliation resolves it by client id."""
    async with open_rig(tmp_path) as rig:
        first, sibling = make_pair(1), make_pair(2)
        books1, books2 = make_books(first), make_books(sibling)
        quote(books1, poly_yes_ask=40, kalshi_no_ask=50)
        a1 = rig.market(first, books1, ONLY_CHANGES)
        a2 = rig.market(sibling, books2, ONLY_CHANGES)
        await rig.nursery.start(a1.serve)
        rig.poly.script(Answer(Act.TIMEOUT))
        rig.poly.query_fail = True
        rig.poly.user = None  # no user stream either: no venue evidence at all
        rig.router.book_changed(Venue.KALSHI, first.kalshi.ticker)
        await rig.settle()
        assert a1.outcomes == {ExecutionOutcome.UNRESOLVED: 1}
        # FAST_LEGS: the UNKNOWN leg is queried every 0.5 s for 5 s, then left to
        # reconciliation.
        queries = [e[0] for e in rig.timeline if e[1] == "polymarket query"]
        assert queries == [0.5 * i for i in range(1, 11)]
        assert rig.ledger.executions()[0].finished_ms == 5000
        assert rig.ledger.intent("tT1-1-a").state is LegState.UNKNOWN
        stats = rig.risk.statistics()
        assert stats.open_reservations == 1 and stats.blocked_events == (first.event_key,)
        assert "leg_unresolved" in rig.kinds()

        quote(books2, poly_yes_ask=40, kalshi_no_ask=50)
        await rig.nursery.start(a2.serve)
        rig.router.book_changed(Venue.KALSHI, sibling.kalshi.ticker)
        await rig.settle()
        assert a2.denied == {DenyReason.EVENT_BLOCKED: 1}

        rig.poly.query_fail = False
        report = await rig.reconciler.reconcile()
        await rig.settle()
        assert report.resolved == ("tT1-1-a",) and report.clean
        assert rig.ledger.intent("tT1-1-a").state is LegState.FILLED
        stats = rig.risk.statistics()
        assert stats.open_reservations == 0 and stats.blocked_events == ()
        quote(books2, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle()
        assert a2.outcomes == {ExecutionOutcome.HEDGED: 1}
        assert rig.poly.submits == 2  # the unknown order was never sent again


async def test_delayed_leg_is_waited_for_not_treated_as_zero(tmp_path, autojump_clock):
    """Reliability #12: Polymarket answers `delayed`; the Kalshi leg is not unwound; the pair
    waits for the outcome (by query) and ends hedged; the marker is in the ledger meanwhile."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.poly.script(Answer(Act.DELAYED, ready_after_s=3.0))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await trio.sleep(1.0)
        assert rig.ledger.intent("tT1-1-a").state is LegState.DELAYED
        assert [s.intent.client_id for s in rig.ledger.unresolved_intents()] == ["tT1-1-a"]
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}
        assert rig.ledger.intent("tT1-1-a").state is LegState.FILLED
        assert rig.kalshi.submits == 1 and rig.poly.submits == 1  # nothing unwound
        fills = [e for e in rig.timeline if e[1] == "polymarket trade"]
        assert fills and fills[0][0] == 3.0


async def test_one_sided_fill_completed_within_loss_cap(tmp_path, autojump_clock):
    """Reliability #10: the missing leg is bought when the completed pair stays within the cap."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.poly.script(Answer(Act.FILL, qty=contracts(0)))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 1}
        complete = rig.ledger.intent("tT1-1-complete1")
        assert complete is not None and complete.state is LegState.FILLED
        assert complete.intent.instrument.token == pair.poly.yes_token
        assert complete.intent.qty == contracts(10)
        assert rig.risk.daily_loss == 0
        assert rig.kinds().count("one_sided_fill") == 1 and "unwind_done" in rig.kinds()


async def test_one_sided_fill_unwound_through_ladder(tmp_path, autojump_clock):
    """Reliability #10, #14: completion finds nothing; the excess is sold down a bounded ladder,
    settlement-lag refusals retry at the SAME price, the loss is booked and alerted."""
    repair = RepairParams(max_loss_per_contract=cents(20), settlement_wait_s=2.0)
    params = MarketParams(scan_interval_s=1000.0, execution=ExecutionParams(repair=repair))
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, params)
        await rig.nursery.start(actor.serve)
        balance = "INVALID_ORDER_NOT_ENOUGH_BALANCE"
        rig.kalshi.script(Answer(Act.FILL, qty=contracts(0)),   # entry FOK killed
                          Answer(Act.FILL, qty=contracts(0)))   # completion: no liquidity
        rig.poly.script(Answer(),                                # entry fills 10
                        Answer(Act.REJECT, reason="not enough balance / allowance", code=balance),
                        Answer(Act.REJECT, reason="not enough balance / allowance", code=balance),
                        Answer(Act.FILL, qty=contracts(4)),
                        Answer(Act.FILL, qty=contracts(0)),
                        Answer(Act.FILL))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 1}
        unwinds = [(o.request.price, o.request.qty, o.filled) for o in rig.poly.orders.values()
                   if "unwind" in o.request.client_id]
        sent = [(e[0], e[2]) for e in rig.submits() if "unwind" in e[2]]
        assert [t for t, _ in sent] == [0.0, 2.0, 4.0, 4.0, 4.0]
        assert unwinds == [
            (cents(38), contracts(10), contracts(4)),
            (cents(38), contracts(6), contracts(0)),
            (cents(37), contracts(6), contracts(6))]
        # cost basis 0.40 + fee, proceeds at 0.38 / 0.37 less fee (Polymarket rate 0.05):
        # 4: 1.648 - 1.47288 = 0.17512; 6: 2.472 - 2.15007 = 0.32193; total 0.49705.
        loss = parse_money("0.49705")
        assert rig.risk.daily_loss == loss
        [record] = rig.ledger.executions()
        assert record.realised_pnl == Money(-loss) and record.outcome == "unwound"
        assert "one_sided_fill" in rig.kinds() and "unwind_done" in rig.kinds()
        p_yes = Instrument.polymarket(pair.poly.condition_id, pair.poly.yes_token)
        assert p_yes not in rig.ledger.positions()
        assert rig.risk.statistics().open_reservations == 0


async def test_partial_fills_only_excess_is_unwound(tmp_path, autojump_clock):
    """Reliability #11: hedged quantity = min; only the excess is repaired."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.kalshi.script(Answer(Act.FILL, qty=contracts(10)))
        rig.poly.script(Answer(Act.FILL, qty=contracts(6)),
                        Answer(Act.FILL, qty=contracts(0)))  # completion: no liquidity
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        complete = rig.ledger.intent("tT1-1-complete1")
        assert complete.intent.qty == contracts(4)
        assert complete.intent.instrument.token == pair.poly.yes_token
        unwind = rig.ledger.intent("tT1-1-unwind2")
        assert unwind.intent.instrument == Instrument.kalshi(pair.kalshi.ticker, Outcome.NO)
        assert unwind.intent.side is Side.SELL and unwind.intent.qty == contracts(4)
        k_no = Instrument.kalshi(pair.kalshi.ticker, Outcome.NO)
        p_yes = Instrument.polymarket(pair.poly.condition_id, pair.poly.yes_token)
        assert rig.ledger.positions() == {k_no: contracts(6), p_yes: contracts(6)}
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 1}


async def test_unwind_budget_exhausted_reduces(tmp_path, autojump_clock):
    """Reliability #14: the ladder runs out: exposure reported, risk REDUCING, alert."""
    repair = RepairParams(ladder_attempts=3, settlement_retries=1)
    params = MarketParams(scan_interval_s=1000.0, execution=ExecutionParams(repair=repair))
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, params)
        await rig.nursery.start(actor.serve)
        rig.kalshi.script(Answer(Act.FILL, qty=contracts(0)),   # entry FOK killed
                          Answer(Act.FILL, qty=contracts(0)))   # completion: no liquidity
        rig.poly.script(Answer(), *[Answer(Act.FILL, qty=contracts(0))] * 3)
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.EXPOSED: 1}
        assert [o.request.price for o in rig.poly.orders.values()
                if "unwind" in o.request.client_id] == [cents(38), cents(37), cents(36)]
        stats = rig.risk.statistics()
        assert stats.breaker.value == "reducing" and "unwind failed" in stats.reason
        assert "unwind_failed" in rig.kinds()
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle()
        assert actor.denied == {DenyReason.BREAKER: 1}


async def test_ghost_fill_voided_and_rebalanced(tmp_path, autojump_clock):
    """Reliability #13: a MATCHED Polymarket trade later FAILED: voided by trade id, position
    reverted, the now one-sided Kalshi leg repaired, alert with the trade ids."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.poly.script(Answer(provisional=True))

        async def fail_later():
            await trio.sleep(4.0)
            [trade] = [f for f in rig.poly.trades]
            rig.poly.fail_trade(trade.trade_id)

        rig.nursery.start_soon(fail_later)
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await trio.sleep(1.0)
        assert actor.outcomes == {}  # waiting for the provisional trade to settle
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 1}
        ghost = [a for a in rig.alerts.history() if a.kind == "ghost_fill"]
        assert len(ghost) == 1
        assert dict(ghost[0].fields)["trade_id"] == rig.poly.trades[0].trade_id
        assert dict(ghost[0].fields)["client_id"] == "tT1-1-a"
        [failed] = [f for f in rig.ledger.fills(venue=Venue.POLYMARKET)
                    if f.client_id == "tT1-1-a"]
        assert failed.status.value == "failed"
        complete = rig.ledger.intent("tT1-1-complete1")
        assert complete is not None and complete.state is LegState.FILLED


async def test_insufficient_balance_sends_neither_leg(tmp_path, autojump_clock):
    """Reliability #26: balances minus reservations checked before any leg: nothing sent."""
    async with open_rig(tmp_path, reconcile_first=False) as rig:
        rig.poly.available = parse_money("2.00")
        await rig.reconciler.reconcile()
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert actor.denied == {DenyReason.INSUFFICIENT_BALANCE: 1}
        assert rig.timeline == [] and rig.ledger.unresolved_intents() == []
        assert rig.kinds() == ["rebalance_needed"]


async def test_venue_pause_blocks_entries(tmp_path, autojump_clock):
    """Reliability #9: a paused venue (status trading_active = false) means no entries."""
    async with open_rig(tmp_path, reconcile_first=False) as rig:
        rig.kalshi.trading_active = False
        await rig.reconciler.reconcile()
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert actor.denied == {DenyReason.VENUE_INACTIVE: 1}
        assert rig.timeline == []


async def test_first_leg_refused_counts_an_error_and_repairs(tmp_path, autojump_clock):
    """Reliability #7: a definitive refusal is not retried; the other leg's fill is repaired."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.kalshi.script(Answer(Act.REJECT, reason="MARKET_INACTIVE"))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert rig.ledger.intent("tT1-1-b").state is LegState.REJECTED
        assert rig.risk.consecutive_errors == 1
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 1}


async def test_cancelled_before_acknowledgement_leaves_unknown_leg(tmp_path, autojump_clock):
    """A cancellation while the request is in flight: the leg is UNKNOWN (never "failed"), the
    reservation stays, the event is blocked; a later reconciliation resolves it."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        rig.kalshi.script(Answer(Act.REST))
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(cancel_at, scope, 1.0)
                await nursery.start(actor.serve)
                rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        assert trio.current_time() == 1.0
        stored = rig.ledger.intent("tT1-1-b")
        assert stored.state is LegState.UNKNOWN
        await rig.settle()
        stats = rig.risk.statistics()
        assert stats.open_reservations == 1 and stats.blocked_events == (pair.event_key,)
        assert await rig.kalshi.cancel_all() == 1
        report = await rig.reconciler.reconcile()
        await rig.settle()
        assert "tT1-1-b" in report.resolved
        assert rig.ledger.intent("tT1-1-b").state is LegState.CANCELLED
        assert rig.risk.statistics().open_reservations == 0


async def cancel_at(scope: trio.CancelScope, t: float) -> None:
    await trio.sleep_until(t)
    scope.cancel()


async def test_paused_venue_refusal_holds_entries_until_status_resumes(tmp_path,
                                                                        autojump_clock):
    """Reliability #8/#9: a "paused" refusal on one leg marks the venue inactive at once; no
    new entry until reconciliation sees it trading again."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.poly.script(Answer(Act.PAUSED, reason="425 matching engine restarting"))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 1}  # the Kalshi fill repaired
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle()
        assert actor.denied == {DenyReason.VENUE_INACTIVE: 1}
        await rig.reconciler.reconcile()
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle()
        assert actor.outcomes[ExecutionOutcome.HEDGED] == 1


async def test_unhealthy_feed_blocks_entries(tmp_path, autojump_clock):
    """Reliability #1: a stale or reconnecting feed blocks detection on its books."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.router.feed_health(FeedHealth(Venue.POLYMARKET, FeedState.STALE, 2, "silent 5s"))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle(1.0)
        assert actor.skipped == {"feed_stale": 1} and rig.timeline == []
        rig.router.feed_health(FeedHealth(Venue.POLYMARKET, FeedState.LIVE, 3))
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle(1.0)
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}


async def test_repeated_mismatches_blacklist_the_pair(tmp_path, autojump_clock):
    """Reliability #10: after N one-sided fills within the window the pair takes no entries for
    the blacklist period, with an alert; every mismatch is alerted."""
    params = MarketParams(scan_interval_s=1000.0, mismatch_limit=2, blacklist_s=100.0)
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, params)
        await rig.nursery.start(actor.serve)
        for _ in range(2):
            rig.poly.script(Answer(Act.FILL, qty=contracts(0)))
            quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
            await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 2}
        assert rig.kinds().count("one_sided_fill") == 2 and "pair_blacklisted" in rig.kinds()
        assert actor.blacklisted_until == 160.0  # second mismatch at t = 60, for 100 s
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle()
        assert actor.skipped == {"blacklisted": 1}
        await trio.sleep_until(170.0)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 2, ExecutionOutcome.HEDGED: 1}


async def test_quality_gate_filters_and_expired_attempts_are_logged(tmp_path, autojump_clock):
    """A detection on a book 1.5 s old (still within the 2 s max age) has a fill probability
    below the operator's minimum: filtered by reason, nothing reserved or sent. An expired
    attempt is in the trade log with its detection."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        await trio.sleep(1.5)
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle(1.0)
        assert actor.filtered == {"low_fill_probability": 1}
        assert rig.risk.granted == 0 and rig.timeline == []

        detect = edge_detector(EdgeParams())
        calls = []

        def moving_detector(p, b):
            found = detect(p, b)
            calls.append(found)
            if len(calls) == 1:
                no_arb(b)
            return found

        actor.detect = moving_detector
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle(1.0)
        [entry] = rig.ledger.trade_log()
        assert entry.record.outcome == "expired" and entry.detection is not None
        assert entry.detection.fill_probability_pct == 81  # 90% x 90%: each takes its best level
        assert entry.detection.confidence == "high"


async def test_transient_failure_is_resent_with_the_same_ids(tmp_path, autojump_clock):
    """Reliability #6: nothing reached the venue (429 before sending): one retry with the same
    client id after a backoff; a second failure withdraws the leg (NOT_PLACED) and counts an
    error, and the other leg's fill is repaired."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, ONLY_CHANGES)
        await rig.nursery.start(actor.serve)
        rig.poly.script(Answer(Act.TRANSIENT, reason="429 too many requests"))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await rig.settle()
        sends = [(t, cid) for t, op, cid in rig.submits() if op == "polymarket submit"]
        assert sends == [(0.0, "tT1-1-a"), (0.2, "tT1-1-a")]
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}

        rig.poly.script(Answer(Act.TRANSIENT), Answer(Act.TRANSIENT))
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await rig.settle()
        stored = rig.ledger.intent("tT1-2-a")
        assert stored.state is LegState.NOT_PLACED
        assert rig.risk.consecutive_errors == 1
        assert actor.outcomes[ExecutionOutcome.UNWOUND] == 1
