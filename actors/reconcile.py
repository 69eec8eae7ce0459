# Design note: reconciliation against the venues.
#
# Problem: after a crash, a restart or a breaker trip, the ledger may not match the venues: an
# order sent just before a SIGKILL, a fill missed while the user stream was down, a manual trade,
# a ghost fill that failed after the execution stopped waiting. Trading on a wrong picture of our
# positions turns every later decision into a guess.
#
# Naive approach: read positions at startup and trust the ledger if the venue returns nothing. A
# missing or failed position report is then read as "flat", and unresolved orders are forgotten
# (or worse, re-sent under a new id).
#
# Chosen approach, per venue, every pass:
# 1. status and balance go to the risk actor (it gates entries on both);
# 2. our fills are paged from the last cursor (bounded pages) into the fill router, which records
#    them idempotently and hands them to any leg still waiting;
# 3. every unresolved intent in the ledger that no live leg is following (a leg's own runner
#    resolves it while it runs) is looked up by venue order id / client id and fed
#    through the leg state machine; "not found" counts only after the order's lifetime. Legs that
#    become terminal are reported to risk (``LegResolved``); legs still open stay as drift;
# 4. open orders of ours that should not exist (IOC/FOK never rest) are cancelled; others are
#    drift (a manual order is shown, never touched);
# 5. venue positions are compared with the ledger's, instrument by instrument (Kalshi netted
#    YES against NO per market, as the venue reports it), except those with an order in flight
#    (their fills may be in transit). A failed position report is drift ("not assuming flat"),
#    never an empty map.
# 6. settlement: a market the app reported ended (``note_ended``: discovery saw it closed or
#    settled) whose instruments the ledger holds while the venue reports nothing on that market
#    any more was settled by the venue (Kalshi paid out; Polymarket resolved). Its instruments
#    are marked settled in the ledger (``Ledger.record_settlement``), which takes them out of
#    ledger positions and so out of risk's exposure, instead of being reported as drift. A
#    position that vanishes on a market nobody reported ended is still drift (fail closed).
# The pass ends with ``Reconciled(clean, drift)`` to risk: the first one opens the startup
# barrier, any drift keeps entries off (REDUCING) until a clean pass or an operator ack, and risk
# rebuilds committed exposure from the ledger's fills (which now include what was found).
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import attrs
import trio

from actors.alerts import Alert, AlertHub, Severity
from actors.fills import FillRouter
from actors.messages import (
    BalanceObserved,
    LegResolved,
    Reconciled,
    VenueStatusObserved,
)
from actors.risk import RiskClient
from arb import orders
from arb.domain import Instrument, Outcome, Venue
from arb.ledger import Ledger, StoredIntent
from arb.money import Qty, format_trimmed
from arb.venues.protocol import OrderResult, OutcomeUnknown, Rejected, Transient, VenueAdapter

ADAPTER_ERRORS = (Transient, OutcomeUnknown, Rejected)
ENDED_KEPT = 10_000
"""Ended markets remembered for settlement (a season of games; the oldest go first)."""


def net_kalshi(positions: Mapping[Instrument, Qty]) -> dict[Instrument, Qty]:
    """Kalshi nets YES against NO in one market (holding both shows as their difference);
    the ledger books them apart. Both sides are compared in the netted form."""
    out: dict[Instrument, Qty] = {}
    net: dict[str, int] = {}
    for instrument, qty in positions.items():
        if instrument.venue is not Venue.KALSHI:
            out[instrument] = qty
            continue
        sign = 1 if instrument.kalshi_outcome is Outcome.YES else -1
        net[instrument.market] = net.get(instrument.market, 0) + sign * qty
    for ticker, qty in net.items():
        if qty:
            outcome = Outcome.YES if qty > 0 else Outcome.NO
            out[Instrument.kalshi(ticker, outcome)] = Qty(abs(qty))
    return out


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.frozen
class ReconcileParams:
    interval_s: float = 30.0
    max_fill_pages: int = 50
    """Fill pages read per venue and pass; the cursor carries the rest to the next pass."""
    not_found_after_s: float = 10.0
    """An order the venue does not know counts as never placed only this long after its intent."""


@attrs.frozen
class PassReport:
    clean: bool
    drift: tuple[str, ...]
    resolved: tuple[str, ...]
    """Client ids resolved in this pass."""
    cancelled: tuple[str, ...]
    """Venue order ids of stray open orders of ours cancelled in this pass."""
    settled: tuple[str, ...] = ()
    """Instruments marked settled in this pass."""


@attrs.define(eq=False)
class Reconciler:
    venues: Mapping[Venue, VenueAdapter]
    ledger: Ledger
    risk: RiskClient
    fills: FillRouter
    alerts: AlertHub
    params: ReconcileParams = ReconcileParams()
    clock_ms: Callable[[], int] = wall_clock_ms
    """The ledger's clock (intent ages are measured against its ``created_ms``)."""
    passes: int = 0
    _cursors: dict[Venue, str | None] = attrs.field(factory=dict)
    _ended: dict[str, None] = attrs.field(factory=dict)
    """Markets reported ended (an ordered set, oldest evicted past ``ENDED_KEPT``)."""

    def note_ended(self, markets: Iterable[str]) -> None:
        """Markets (Kalshi tickers, Polymarket condition ids) seen closed or settled; the next
        passes mark our positions in them settled once the venue stops reporting them."""
        for market in markets:
            self._ended.pop(market, None)
            self._ended[market] = None
        while len(self._ended) > ENDED_KEPT:
            del self._ended[next(iter(self._ended))]

    async def reconcile(self) -> PassReport:
        """One full pass over every venue; tells risk the result."""
        drift: list[str] = []
        resolved: list[str] = []
        cancelled: list[str] = []
        settled: list[str] = []
        for venue, adapter in self.venues.items():
            await self._venue(venue, adapter, drift, resolved, cancelled, settled)
        self.passes += 1
        report = PassReport(not drift, tuple(drift), tuple(resolved), tuple(cancelled),
                            tuple(settled))
        await self.risk.cast(Reconciled(report.clean, report.drift))
        if drift:
            self.alerts.publish(Alert("reconcile_drift", Severity.CRITICAL,
                                      f"{len(drift)} disagreement(s) with the venues: "
                                      + "; ".join(drift[:10])))
        return report

    async def _venue(self, venue: Venue, adapter: VenueAdapter, drift: list[str],
                     resolved: list[str], cancelled: list[str], settled: list[str]) -> None:
        name = venue.value
        try:
            await self.risk.cast(VenueStatusObserved(await adapter.status()))
        except ADAPTER_ERRORS as err:
            drift.append(f"{name}: status unavailable: {err.reason}")
        try:
            balance = await adapter.balance()
            await self.risk.cast(BalanceObserved(venue, balance.available))
        except ADAPTER_ERRORS as err:
            drift.append(f"{name}: balance unavailable: {err.reason}")
        try:
            await self._fills(venue, adapter)
        except ADAPTER_ERRORS as err:
            drift.append(f"{name}: fills unavailable: {err.reason}")
        for stored in self.ledger.unresolved_intents():
            # A leg still followed by its runner is resolved by that runner, not here.
            if stored.intent.venue is venue and not self.fills.is_watched(
                    venue, stored.intent.client_id):
                problem = await self._resolve(adapter, stored, resolved)
                if problem:
                    drift.append(problem)
        try:
            open_orders = await adapter.open_orders()
        except ADAPTER_ERRORS as err:
            drift.append(f"{name}: open orders unavailable: {err.reason}")
        else:
            for order in open_orders:
                ours = order.client_id is not None and self.ledger.intent(order.client_id)
                if not ours:
                    drift.append(f"{name}: open order {order.venue_order_id} on "
                                 f"{order.instrument} is not ours")
                    continue
                try:
                    await adapter.cancel(order.venue_order_id, order.instrument)
                    cancelled.append(order.venue_order_id)
                except ADAPTER_ERRORS as err:
                    drift.append(f"{name}: stray order {order.venue_order_id} not cancelled: "
                                 f"{err.reason}")
        try:
            reported = await adapter.positions()
        except ADAPTER_ERRORS as err:
            drift.append(f"{name}: positions unavailable ({err.reason}); not assuming flat")
            return
        venue_positions = net_kalshi({p.instrument: p.qty for p in reported if p.qty})
        busy = self.fills.busy_instruments()  # fills in flight: compared on a later pass
        held = self.ledger.positions(venue)
        for instrument in self._settle(held, venue_positions, busy):
            settled.append(str(instrument))
            del held[instrument]
        ledger_positions = net_kalshi(held)
        for instrument in sorted(set(venue_positions) | set(ledger_positions), key=str):
            if instrument in busy:
                continue
            theirs = venue_positions.get(instrument, Qty(0))
            ours = ledger_positions.get(instrument, Qty(0))
            if theirs != ours:
                drift.append(f"{instrument}: venue holds {format_trimmed(theirs)}, ledger "
                             f"{format_trimmed(ours)}")

    def _settle(self, held: Mapping[Instrument, Qty], venue_positions: Mapping[Instrument, Qty],
                busy: set[Instrument]) -> list[Instrument]:
        """Mark settled the ledger's instruments in ended markets the venue no longer reports
        (none of them with an order in flight); returns them."""
        still_held = {instrument.market for instrument in venue_positions}
        in_flight = {instrument.market for instrument in busy}
        out = []
        for instrument, qty in sorted(held.items(), key=lambda kv: str(kv[0])):
            market = instrument.market
            if market not in self._ended or market in still_held or market in in_flight:
                continue
            reason = f"{instrument.venue.value} market {market} ended; position no longer reported"
            self.ledger.record_settlement(instrument, qty, reason)
            self.alerts.publish(Alert("position_settled", Severity.INFO,
                                      f"{instrument}: {format_trimmed(qty)} settled ({reason})"))
            out.append(instrument)
        return out

    async def _fills(self, venue: Venue, adapter: VenueAdapter) -> None:
        cursor = self._cursors.get(venue)
        for _ in range(self.params.max_fill_pages):
            page = await adapter.fills(cursor)
            for fill in page.fills:
                self.fills.observe(fill)
            if page.cursor is None or page.cursor == cursor:
                break
            cursor = page.cursor
        self._cursors[venue] = cursor

    async def _resolve(self, adapter: VenueAdapter, stored: StoredIntent,
                       resolved: list[str]) -> str | None:
        intent = stored.intent
        cid = intent.client_id
        before = self.ledger.leg(cid)
        leg = before
        if leg.state in (orders.LegState.PENDING, orders.LegState.SENT):
            # Written (maybe sent) by a run that never recorded an answer.
            leg = self._step(leg, orders.TimedOut("no answer recorded before the restart"))
        try:
            result = await adapter.get_order(stored.venue_order_id, client_id=cid)
        except ADAPTER_ERRORS as err:
            self._save(before, leg)
            return f"{intent.instrument} {cid}: lookup failed: {err.reason}"
        if result is not None:
            leg = self._step(leg, orders.event_from_result(result, qty=leg.qty))
            if leg.state in (orders.LegState.ACKNOWLEDGED, orders.LegState.PARTIALLY_FILLED):
                try:
                    await adapter.cancel(result.venue_order_id, intent.instrument)
                except ADAPTER_ERRORS as err:
                    return f"{intent.instrument} {cid}: resting, cancel failed: {err.reason}"
        else:
            age_s = (self.clock_ms() - stored.created_ms) / 1000
            if age_s >= self.params.not_found_after_s:
                leg = self._step(leg, orders.NotFound(
                    f"{intent.venue.value} has no order {cid} {age_s:.0f}s after its intent"))
        self._save(before, leg, result)
        if leg.terminal:
            resolved.append(cid)
            await self.risk.cast(LegResolved(intent.execution_id, cid))
            return None
        return f"{intent.instrument} {cid}: still {leg.state.value} ({leg.reason})"

    def _step(self, leg: orders.Leg, event: orders.LegEvent) -> orders.Leg:
        t = orders.transition(leg, event)
        if not t.accepted:
            self.alerts.publish(Alert("reconcile_refused", Severity.WARNING, t.refused or ""))
        return t.leg

    def _save(self, before: orders.Leg, after: orders.Leg,
              result: OrderResult | None = None) -> None:
        if (after.state, after.reported_qty, after.venue_order_id) != (
                before.state, before.reported_qty, before.venue_order_id):
            self.ledger.record_leg(after, result=result, detail="reconciliation")


async def serve_reconciler(reconciler: Reconciler, *,
                           task_status: trio.TaskStatus[PassReport] = trio.TASK_STATUS_IGNORED
                           ) -> None:
    """Startup barrier, then periodic passes: reports the first pass through ``started``."""
    task_status.started(await reconciler.reconcile())
    while True:
        await trio.sleep(reconciler.params.interval_s)
        await reconciler.reconcile()

