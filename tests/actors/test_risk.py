"""The risk actor: atomic reservations, every limit with its reason, the breaker and its
persistence across a restart (reliability #27), over a real SQLite ledger."""
from __future__ import annotations

import datetime

import trio
import trio.testing
from actor_fakes import DEFAULT_LIMITS, contracts, usd

from actors.alerts import AlertHub
from actors.messages import (
    AcknowledgeDrift,
    BalanceObserved,
    BreakerState,
    Denied,
    DenyReason,
    ErrorOccurred,
    ExecutionFinished,
    ExecutionOutcome,
    Granted,
    Halt,
    LegFilled,
    LegOutcomeUnknown,
    LegPlan,
    LegResolved,
    LossRealised,
    Reconciled,
    Reserve,
    ResetBreaker,
    SetTradingEnabled,
    VenueStatusObserved,
)
from actors.risk import RiskActor, RiskLimits, open_risk_channel
from arb.domain import Instrument, Outcome, Side, Venue
from arb.ledger import Ledger
from arb.money import Money, Price
from arb.venues.protocol import VenueStatus

K_NO = Instrument.kalshi("KX-T1", Outcome.NO)
P_YES = Instrument.polymarket("0xc", "tok-yes")


def plan(cost_k: Money, cost_p: Money) -> tuple[LegPlan, ...]:
    return (LegPlan(K_NO, Side.BUY, Price(500_000), contracts(1), cost_k),
            LegPlan(P_YES, Side.BUY, Price(400_000), contracts(1), cost_p))


class Harness:
    """A risk actor driven synchronously through ``handle`` (no other task in between)."""

    def __init__(self, ledger: Ledger, limits: RiskLimits = DEFAULT_LIMITS,
                 today: datetime.date = datetime.date(2026, 1, 1),
                 process_id: str | None = None) -> None:
        self.day = today
        _, inbox = open_risk_channel()
        self.halt_send, self.halts = trio.open_memory_channel[Halt](1)
        self.alerts = AlertHub()
        self.risk = RiskActor(limits, ledger, inbox, self.halt_send, self.alerts,
                              today=lambda: self.day, process_id=process_id)
        self.risk._restore()

    def open_market(self) -> None:
        for venue in Venue:
            self.risk.handle(VenueStatusObserved(VenueStatus(venue, True, True)))
            self.risk.handle(BalanceObserved(venue, usd(1000)))
        self.risk.handle(Reconciled(True))

    def reserve(self, eid: str, pair: str = "p1", event: str = "e1",
                legs: tuple[LegPlan, ...] | None = None) -> Granted | Denied:
        send, receive = trio.open_memory_channel[Granted | Denied](1)
        self.risk.handle(Reserve(eid, pair, event, legs or plan(usd(5), usd(4)), send))
        return receive.receive_nowait()


def open_ledger(tmp_path) -> Ledger:
    return Ledger.open(tmp_path / "ledger.sqlite", mode="paper")


async def test_entries_wait_for_reconciliation_status_and_balances(tmp_path):
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger)
        assert h.reserve("x1") == Denied("x1", DenyReason.NOT_RECONCILED,
                                         "startup reconciliation pending")
        h.risk.handle(Reconciled(True))
        assert h.reserve("x2").reason is DenyReason.VENUE_INACTIVE
        for venue in Venue:
            h.risk.handle(VenueStatusObserved(VenueStatus(venue, True, True)))
        assert h.reserve("x3").reason is DenyReason.BALANCE_UNKNOWN
        for venue in Venue:
            h.risk.handle(BalanceObserved(venue, usd(1000)))
        assert h.reserve("x4") == Granted("x4")
        assert h.risk.statistics().denials == {
            DenyReason.NOT_RECONCILED: 1, DenyReason.VENUE_INACTIVE: 1,
            DenyReason.BALANCE_UNKNOWN: 1}


async def test_one_reservation_per_market_and_event_released_on_finish(tmp_path):
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger)
        h.open_market()
        assert h.reserve("x1", "p1", "e1") == Granted("x1")
        assert h.reserve("x2", "p1", "e1").reason is DenyReason.MARKET_BUSY
        assert h.reserve("x3", "p2", "e1").reason is DenyReason.EVENT_BUSY
        assert h.reserve("x4", "p3", "e2") == Granted("x4")
        h.risk.handle(ExecutionFinished("x1", ExecutionOutcome.EXPIRED))
        assert h.reserve("x5", "p2", "e1") == Granted("x5")
        assert h.risk.statistics().open_reservations == 2


async def test_unknown_leg_keeps_reservation_and_blocks_event_until_resolved(tmp_path):
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger)
        h.open_market()
        assert h.reserve("x1", "p1", "e1") == Granted("x1")
        h.risk.handle(LegOutcomeUnknown("x1", "x1-a", Venue.POLYMARKET, "timeout"))
        h.risk.handle(ExecutionFinished("x1", ExecutionOutcome.UNRESOLVED))
        assert h.risk.statistics().reserved == usd(9)
        assert h.reserve("x2", "p2", "e1").reason is DenyReason.EVENT_BLOCKED
        assert h.reserve("x3", "p3", "e2") == Granted("x3")
        h.risk.handle(LegResolved("x1", "x1-a"))
        assert h.reserve("x4", "p2", "e1") == Granted("x4")


async def test_exposure_limits_are_checked_on_traded_size(tmp_path):
    limits = RiskLimits(max_market=usd(10), max_event=usd(12), max_total=usd(40),
                        max_venue=usd(6), min_trade=usd(1), max_trade=usd(15),
                        max_daily_loss=usd(50))
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger, limits)
        h.open_market()
        assert h.reserve("x0", legs=plan(usd(10), usd(6))).reason is DenyReason.TRADE_TOO_LARGE
        assert h.reserve("x0", legs=plan(Money(300_000), Money(300_000))).reason \
            is DenyReason.TRADE_TOO_SMALL
        assert h.reserve("x1", "p1", "e1", plan(usd(3.5), usd(3.5))) == Granted("x1")
        # Only 3 contracts traded on each leg: 3 x 0.50 + 3 x 0.40 committed, the rest freed.
        h.risk.handle(LegFilled("x1", "p1", "e1", "x1-b", K_NO, Side.BUY, contracts(3),
                                Price(500_000), Money(0)))
        h.risk.handle(LegFilled("x1", "p1", "e1", "x1-a", P_YES, Side.BUY, contracts(3),
                                Price(400_000), Money(0)))
        h.risk.handle(ExecutionFinished("x1", ExecutionOutcome.HEDGED))
        stats = h.risk.statistics()
        assert stats.committed == usd(2.7) and stats.reserved == 0
        # Market: 2.70 committed + 7.30 = 10.00 is within the limit, 7.31 is not.
        assert h.reserve("x2", "p1", "e1", plan(usd(4), usd(3.3))) == Granted("x2")
        h.risk.handle(ExecutionFinished("x2", ExecutionOutcome.EXPIRED))
        denied = h.reserve("x3", "p1", "e1", plan(usd(4), usd(3.31)))
        assert denied.reason is DenyReason.MARKET_LIMIT
        assert denied.detail == "market p1: $2.70 + $7.31 > $10.00"
        # Event: another market of the same game; 2.70 + 9.00 fits, 2.70 + 9.40 does not.
        assert h.reserve("x4", "p9", "e1", plan(usd(4.5), usd(4.5))) == Granted("x4")
        h.risk.handle(ExecutionFinished("x4", ExecutionOutcome.EXPIRED))
        assert h.reserve("x5", "p8", "e1", plan(usd(4.7), usd(4.7))).reason \
            is DenyReason.EVENT_LIMIT
        # Venue: Kalshi holds 1.50; 1.50 + 4.60 > 6.00.
        assert h.reserve("x6", "p7", "e7", plan(usd(4.6), usd(0.5))).reason \
            is DenyReason.VENUE_LIMIT


async def test_insufficient_balance_counts_reservations_and_alerts_once(tmp_path):
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger)
        h.open_market()
        h.risk.handle(BalanceObserved(Venue.POLYMARKET, usd(6)))
        assert h.reserve("x1", "p1", "e1") == Granted("x1")
        denied = h.reserve("x2", "p2", "e2")
        assert denied.reason is DenyReason.INSUFFICIENT_BALANCE
        assert denied.detail == "polymarket: $4.00 needed, $2.00 free"
        assert h.reserve("x3", "p3", "e3").reason is DenyReason.INSUFFICIENT_BALANCE
        assert [a.kind for a in h.alerts.history()] == ["rebalance_needed"]


async def test_order_and_trade_rates(tmp_path, autojump_clock):
    limits = RiskLimits(max_market=usd(500), max_event=usd(500), max_total=usd(500),
                        max_venue=usd(500), min_trade=usd(1), max_trade=usd(100),
                        max_daily_loss=usd(50), max_orders_per_minute=4,
                        max_trades_per_hour=3)
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger, limits)
        h.open_market()
        for i in range(2):
            assert h.reserve(f"x{i}", f"p{i}", f"e{i}") == Granted(f"x{i}")
        assert h.reserve("x2", "p2", "e2").reason is DenyReason.ORDER_RATE
        await trio.sleep(61)
        assert h.reserve("x3", "p3", "e3") == Granted("x3")
        await trio.sleep(61)
        assert h.reserve("x4", "p4", "e4").reason is DenyReason.TRADE_RATE
        await trio.sleep(3600)
        assert h.reserve("x5", "p5", "e5") == Granted("x5")


async def test_daily_loss_from_unwinds_halts_and_rolls_over(tmp_path):
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger)
        h.open_market()
        assert h.reserve("x1") == Granted("x1")
        h.risk.handle(LossRealised("x1", "p1", usd(30), "one-sided fill repair"))
        assert h.risk.breaker is BreakerState.ACTIVE
        h.risk.handle(LossRealised("x1", "p1", usd(20), "one-sided fill repair"))
        assert h.risk.breaker is BreakerState.HALTED
        assert "daily loss $50.00 reached limit $50.00" in h.risk.reason
        assert h.halts.receive_nowait() == Halt(h.risk.reason)
        assert ledger.risk_state().daily_loss == usd(50)
        h.day = datetime.date(2026, 1, 2)
        h.risk.handle(SetTradingEnabled(True, "op"))
        assert h.risk.daily_loss == 0
        assert h.risk.breaker is BreakerState.HALTED  # a new day is not a reset


async def test_breaker_persists_across_restart_and_needs_an_operator(tmp_path):
    """Reliability #27: N consecutive errors halt; the state survives a restart; only an
    operator resets it, never a timer."""
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger)
        h.open_market()
        for i in range(DEFAULT_LIMITS.max_consecutive_errors):
            h.risk.handle(ErrorOccurred("p1", Venue.KALSHI, f"500 on order {i}"))
        assert h.risk.breaker is BreakerState.HALTED
        assert h.risk.reason == "5 consecutive errors, last: 500 on order 4 (p1)"
        assert [c.new.value for c in ledger.breaker_history()] == ["active", "halted"]
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger)
        h.open_market()
        assert h.risk.breaker is BreakerState.HALTED
        assert h.halts.receive_nowait().reason.startswith("breaker restored HALTED: 5 consecutive")
        assert h.reserve("x1").reason is DenyReason.BREAKER
        h.risk.handle(ResetBreaker("alice", "venue fixed"))
        assert h.reserve("x2") == Granted("x2")
        assert h.risk.consecutive_errors == 0
    with open_ledger(tmp_path) as ledger:
        assert ledger.risk_state().state is BreakerState.ACTIVE
        assert [c.new.value for c in ledger.breaker_history()] == ["active", "halted", "active"]


async def test_consecutive_losses_reduce_and_drift_gates_entries(tmp_path):
    with open_ledger(tmp_path) as ledger:
        h = Harness(ledger)
        h.open_market()
        for i in range(DEFAULT_LIMITS.max_consecutive_losses):
            assert h.reserve(f"x{i}") == Granted(f"x{i}")
            h.risk.handle(LossRealised(f"x{i}", "p1", usd(1), "unwind"))
            h.risk.handle(ExecutionFinished(f"x{i}", ExecutionOutcome.UNWOUND))
        assert h.risk.breaker is BreakerState.REDUCING
        h.risk.handle(ResetBreaker("alice"))
        h.risk.handle(Reconciled(False, ("kalshi:KX-T1:no: venue holds 3, ledger 0",)))
        denied = h.reserve("x9")
        assert denied.reason is DenyReason.BREAKER and "drift" in denied.detail
        assert h.risk.breaker is BreakerState.ACTIVE  # drift is a gate, not a breaker trip
        h.risk.handle(AcknowledgeDrift("alice"))
        assert h.reserve("x9") == Granted("x9")


async def test_cancelled_caller_never_leaks_a_reservation(tmp_path, autojump_clock):
    """The caller is cancelled after its Reserve is queued and before the risk actor answers:
    the answer cannot be delivered, so the reservation is released, not leaked."""
    with open_ledger(tmp_path) as ledger:
        client, inbox = open_risk_channel()
        halt_send, _ = trio.open_memory_channel[Halt](1)
        risk = RiskActor(DEFAULT_LIMITS, ledger, inbox, halt_send, AlertHub())
        for venue in Venue:
            await client.cast(VenueStatusObserved(VenueStatus(venue, True, True)))
            await client.cast(BalanceObserved(venue, usd(1000)))
        await client.cast(Reconciled(True))
        async with trio.open_nursery() as nursery:
            caller = trio.CancelScope()

            async def call():
                with caller:
                    await client.reserve("x1", "p1", "e1", plan(usd(5), usd(4)))

            nursery.start_soon(call)
            await trio.testing.wait_all_tasks_blocked()
            caller.cancel()  # the Reserve sits unanswered in the inbox
            await trio.testing.wait_all_tasks_blocked()
            await nursery.start(risk.serve)
            await trio.testing.wait_all_tasks_blocked()
            assert risk.granted == 1 and risk.statistics().open_reservations == 0
            assert await client.reserve("x2", "p1", "e1", plan(usd(5), usd(4))) == Granted("x2")
            nursery.cancel_scope.cancel()


async def test_processes_sharing_an_account_share_its_total_limit(tmp_path):
    """Two processes (one per sport) on one ledger file: the total limit is account-wide."""
    limits = RiskLimits(max_market=usd(10), max_event=usd(10), max_total=usd(12),
                        max_venue=usd(10), min_trade=usd(1), max_trade=usd(10),
                        max_daily_loss=usd(50))
    path = tmp_path / "shared.sqlite"
    with Ledger.open(path, mode="paper") as one, Ledger.open(path, mode="paper") as two:
        nba, nfl = Harness(one, limits, process_id="nba"), Harness(two, limits, process_id="nfl")
        nba.open_market()
        nfl.open_market()
        assert nba.reserve("a1", legs=plan(usd(5), usd(4))) == Granted("a1")
        denied = nfl.reserve("b1", legs=plan(usd(2), usd(2)))
        assert denied.reason is DenyReason.TOTAL_LIMIT
        assert denied.detail == "account-wide total would exceed $12.00"
        assert nfl.reserve("b2", legs=plan(usd(2), usd(1))) == Granted("b2")
        assert one.total_exposure("total") == usd(12)
        nba.risk.handle(ExecutionFinished("a1", ExecutionOutcome.MISSED))
        assert one.total_exposure("total") == usd(3)
        assert nfl.reserve("b3", "p2", "e2", plan(usd(2), usd(2))) == Granted("b3")
