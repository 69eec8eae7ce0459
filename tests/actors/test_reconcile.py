"""Reconciliation: crash-restart intent resolution (#15), drift against the venues (#18),
missing reports never read as flat, stray orders, and the startup barrier in the risk actor."""
from __future__ import annotations

import trio
from actor_fakes import (
    Answer,
    FakeOrder,
    contracts,
    make_books,
    make_pair,
    open_rig,
    quote,
    usd,
)

from actors.market import MarketParams
from actors.messages import AcknowledgeDrift, BreakerState, ExecutionOutcome
from actors.reconcile import net_kalshi
from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.ledger import ExecutionStart, Intent
from arb.money import Money, Price
from arb.orders import LegState
from arb.venues.protocol import OrderRequest, OrderStatus

K_NO = Instrument.kalshi("KXNBAGAME-26JAN01AAA-T1", Outcome.NO)


def write_intent(ledger, cid: str, qty: int = 10) -> Intent:
    intent = Intent(cid, "x1", "pair-1", "event-1", "b", K_NO, Side.BUY, Price(500_000),
                    contracts(qty), TimeInForce.FOK)
    ledger.record_execution(ExecutionStart("x1", "pair-1", "poly_yes_kalshi_no", contracts(qty),
                                           Money(0), 1_000_000, 1_000_000))
    ledger.record_intent(intent)
    return intent


async def test_intent_sent_before_a_crash_is_resolved_by_client_id(tmp_path, autojump_clock):
    """Reliability #15: the process died after sending; the venue filled the order. On restart
    the intent is found, resolved by our client id, and positions equal the venue's."""
    async with open_rig(tmp_path, reconcile_first=False) as rig:
        intent = write_intent(rig.ledger, "x1-b")
        request = OrderRequest("x1-b", K_NO, Side.BUY, intent.price, intent.qty, intent.tif)
        order = FakeOrder("k-77", request, OrderStatus.RESTING)
        rig.kalshi.orders["k-77"] = order
        rig.kalshi._execute(order, contracts(10))
        rig.kalshi._finish(order)
        rig.kalshi.user = None  # the fill is only learnt through the fills query
        report = await rig.reconciler.reconcile()
        await rig.settle(0.1)
        assert report.clean and report.resolved == ("x1-b",)
        stored = rig.ledger.intent("x1-b")
        assert stored.state is LegState.FILLED and stored.venue_order_id == "k-77"
        assert rig.ledger.positions() == {K_NO: contracts(10)}
        assert rig.kalshi.submits == 0  # never re-sent
        assert rig.risk.reconciled and rig.risk.effective_state() is BreakerState.ACTIVE
        # Risk counts the exposure found, for the pair and event of the intent.
        assert rig.risk.statistics().committed == usd(5) + Money(180_000)


async def test_unsent_intent_becomes_not_placed_only_after_its_lifetime(tmp_path,
                                                                         autojump_clock):
    async with open_rig(tmp_path, reconcile_first=False) as rig:
        write_intent(rig.ledger, "x1-b")
        first = await rig.reconciler.reconcile()
        assert not first.clean
        assert first.drift == (f"{K_NO} x1-b: still unknown (no answer recorded before the "
                               "restart)",)
        await rig.settle(0.1)
        assert rig.risk.effective_state() is BreakerState.REDUCING
        await trio.sleep(3.0)
        second = await rig.reconciler.reconcile()
        assert second.clean and second.resolved == ("x1-b",)
        assert rig.ledger.intent("x1-b").state is LegState.NOT_PLACED
        await rig.settle(0.1)
        assert rig.risk.effective_state() is BreakerState.ACTIVE


async def test_drift_is_shown_and_gates_entries_until_acknowledged(tmp_path, autojump_clock):
    """Reliability #18: the venue holds a position the ledger does not know (a manual trade or
    a missed fill): the venue is authoritative, the drift is shown, entries stay off until an
    operator acknowledges it."""
    async with open_rig(tmp_path, reconcile_first=False) as rig:
        # A fill the fills endpoint does report is recorded, and positions then agree.
        request = OrderRequest("manual", K_NO, Side.BUY, Price(450_000), contracts(3),
                               TimeInForce.GTC)
        order = FakeOrder("k-9", request, OrderStatus.RESTING)
        rig.kalshi.orders["k-9"] = order
        rig.kalshi.user = None
        rig.kalshi._execute(order, contracts(3))
        rig.kalshi._finish(order)
        report = await rig.reconciler.reconcile()
        assert report.clean and rig.ledger.positions() == {K_NO: contracts(3)}
        # A position without any fill report is drift.
        other = Instrument.kalshi("KXOTHER", Outcome.YES)
        rig.kalshi.extra_positions[other] = contracts(2)
        report = await rig.reconciler.reconcile()
        await rig.settle(0.1)
        assert report.drift == (f"{other}: venue holds 2, ledger 0",)
        assert "reconcile_drift" in rig.kinds()
        assert rig.risk.effective_state() is BreakerState.REDUCING
        await rig.desk.risk.cast(AcknowledgeDrift("alice"))
        await rig.settle(0.1)
        assert rig.risk.effective_state() is BreakerState.ACTIVE


async def test_missing_position_report_is_never_flat(tmp_path, autojump_clock):
    async with open_rig(tmp_path, reconcile_first=False) as rig:
        rig.poly.positions_fail = True
        report = await rig.reconciler.reconcile()
        assert report.drift == ("polymarket: positions unavailable (positions endpoint "
                                "unavailable); not assuming flat",)
        await rig.settle(0.1)
        assert rig.risk.effective_state() is BreakerState.REDUCING


async def test_stray_open_order_of_ours_is_cancelled_foreign_one_is_drift(tmp_path,
                                                                          autojump_clock):
    async with open_rig(tmp_path, reconcile_first=False) as rig:
        write_intent(rig.ledger, "x1-b")
        ours = OrderRequest("x1-b", K_NO, Side.BUY, Price(500_000), contracts(10),
                            TimeInForce.FOK)
        rig.kalshi.orders["k-1"] = FakeOrder("k-1", ours, OrderStatus.RESTING)
        theirs = OrderRequest("web-ui", K_NO, Side.BUY, Price(100_000), contracts(1),
                              TimeInForce.GTC)
        rig.kalshi.orders["k-2"] = FakeOrder("k-2", theirs, OrderStatus.RESTING)
        report = await rig.reconciler.reconcile()
        # A FOK order cannot rest: the report is refused (and alerted), the leg stays
        # unresolved, and the order is cancelled as a stray of ours. The foreign one is drift.
        assert report.cancelled == ("k-1",)
        assert rig.kalshi.orders["k-1"].status is OrderStatus.CANCELLED
        assert rig.kalshi.orders["k-2"].status is OrderStatus.RESTING
        assert report.drift == (
            f"{K_NO} x1-b: still unknown (no answer recorded before the restart)",
            f"kalshi: open order k-2 on {K_NO} is not ours")
        assert "reconcile_refused" in rig.kinds()
        again = await rig.reconciler.reconcile()
        assert again.resolved == ("x1-b",)
        assert rig.ledger.intent("x1-b").state is LegState.CANCELLED


async def test_periodic_pass_leaves_legs_in_flight_alone(tmp_path, autojump_clock):
    """A pass while an order is on the wire neither resolves it behind its runner's back nor
    reports its not-yet-recorded fills as drift."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, MarketParams(scan_interval_s=1000.0))
        await rig.nursery.start(actor.serve)
        rig.kalshi.script(Answer(latency_s=5.0))
        rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
        await trio.sleep(1.0)
        report = await rig.reconciler.reconcile()
        assert report.clean and report.resolved == ()
        assert rig.ledger.intent("tT1-1-b").state is LegState.SENT
        await rig.settle()
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}
        assert (await rig.reconciler.reconcile()).clean


def test_kalshi_positions_are_compared_netted():
    yes = Instrument.kalshi("KX-1", Outcome.YES)
    no = Instrument.kalshi("KX-1", Outcome.NO)
    poly = Instrument.polymarket("0xc", "tok")
    assert net_kalshi({yes: contracts(10), no: contracts(4), poly: contracts(3)}) == {
        yes: contracts(6), poly: contracts(3)}
    assert net_kalshi({yes: contracts(2), no: contracts(5)}) == {no: contracts(3)}
    assert net_kalshi({yes: contracts(5), no: contracts(5)}) == {}
