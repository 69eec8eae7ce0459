# Design note: driving one order to a terminal state.
#
# Problem: an order's evidence arrives from the submit answer, the user stream's fills and later
# queries, in any order, and the request itself can time out or be cancelled mid-flight. Every
# piece must reach the ledger and the risk actor exactly once, including on cancellation.
#
# Naive approach: ``result = await submit(); if error: filled = 0``. A timeout or a cancellation
# after sending then reads as "nothing happened" while the order may have filled, and the fill
# never reaches risk.
#
# Chosen approach: ``LegRunner`` owns one ``arb.orders.Leg`` value and feeds every piece of
# evidence through the pure ``transition``; every change is written to the ledger (synchronous) and
# queued risk casts, flushed after each step and, on the way out, under a shielded, time-bounded
# scope. Exposure is told to risk as the change in the leg's best-knowledge filled quantity, so a
# report and its fill records are never counted twice and a ghost fill is taken back out. A leg
# still SENT when its task is cancelled becomes UNKNOWN: its reservation stays and its event stays
# blocked until venue evidence (a query here, or reconciliation later) resolves it. UNKNOWN and
# DELAYED legs are queried on a bounded schedule; "not found" only counts as evidence after the
# order's lifetime has passed. The runner never resends under a new id.
#
# Venue facts relied on: IOC/FOK orders never rest (a resting answer is refused by the state
# machine and the order is cancelled at once); Kalshi fills are final, Polymarket trades are
# provisional until CONFIRMED and may turn FAILED.
from __future__ import annotations

from collections.abc import Mapping

import attrs
import trio

from actors.alerts import Alert, AlertHub, Severity
from actors.fills import FillRouter, FillWatch
from actors.messages import (
    ErrorOccurred,
    FillReverted,
    LegFilled,
    LegOutcomeUnknown,
    LegResolved,
    RiskMessage,
    VenueStatusObserved,
)
from actors.risk import RiskClient
from arb import orders
from arb.domain import Venue
from arb.ledger import Intent, Ledger
from arb.money import Money, Price, Qty, Round, div_round
from arb.venues.protocol import (
    AuthError,
    Fill,
    FillStatus,
    OrderRequest,
    OrderResult,
    OutcomeUnknown,
    PreparedOrder,
    Rejected,
    Transient,
    VenueAdapter,
    VenuePaused,
    VenueStatus,
)

CLEANUP_S = 5.0
"""Time allowed, shielded, to tell risk and the venue what a cancelled leg left behind."""


@attrs.frozen
class LegParams:
    transient_retries: int = 1
    """Re-sends with the same ids after a Transient error (nothing reached the venue)."""
    transient_backoff_s: float = 0.2
    poll_s: float = 0.5
    """Between queries of an UNKNOWN, DELAYED or resting order."""
    unknown_budget_s: float = 10.0
    """How long an UNKNOWN leg is queried before it is left to reconciliation."""
    delayed_budget_s: float = 15.0
    """How long a DELAYED leg is waited for before it is left to reconciliation."""
    not_found_after_s: float = 3.0
    """A query finding nothing counts as "never placed" only this long after sending."""
    confirm_budget_s: float = 30.0
    """How long provisional trades are waited for (CONFIRMED or FAILED) on ``confirm_venues``."""
    confirm_venues: frozenset[Venue] = frozenset({Venue.POLYMARKET})


@attrs.define(eq=False)
class LegRunner:
    """One order: its intent, its state machine, its ledger rows and its risk casts."""

    intent: Intent
    prepared: PreparedOrder
    adapter: VenueAdapter
    ledger: Ledger
    risk: RiskClient
    fills: FillRouter
    alerts: AlertHub
    params: LegParams
    leg: orders.Leg = attrs.field(init=False)
    error: str = ""
    """The venue's reason when the order was refused or could not be delivered."""
    error_code: str | None = None
    refusals: int = 0
    sent_at: float | None = None
    _watch: FillWatch = attrs.field(init=False)
    _risk_qty: Qty = Qty(0)
    _price_hint: Price = attrs.field(init=False)
    _fee_due: Money = Money(0)
    _reported_avg: Price | None = None
    _told_unknown: bool = False
    _pending: list[RiskMessage] = attrs.field(factory=list)
    _cancel_sent: bool = False

    def __attrs_post_init__(self) -> None:
        p = self.prepared
        self.leg = orders.new_leg(self.intent.client_id, self.intent.instrument,
                                  self.intent.side, p.price, p.qty, self.intent.tif,
                                  p.venue_order_id)
        self._price_hint = p.price
        self._watch = self.fills.watch(self.intent.venue, self.intent.client_id,
                                       p.venue_order_id, self.intent.instrument)

    @property
    def venue(self) -> Venue:
        return self.intent.venue

    @property
    def price_paid(self) -> Price | None:
        """Average price of the booked fills, else the venue's reported average, else None."""
        live = [f for f in self.leg.fills if f.status is not FillStatus.FAILED]
        if live:
            qty = sum(f.qty for f in live)
            return Price(div_round(sum(f.price * f.qty for f in live), qty, Round.UP))
        return self._reported_avg

    def apply(self, event: orders.LegEvent, result: OrderResult | None = None) -> None:
        """Feed one piece of evidence to the state machine and queue what follows from it."""
        before = self.leg
        t = orders.transition(before, event)
        if not t.accepted:
            self.refusals += 1
            self.alerts.publish(Alert("leg_event_refused", Severity.WARNING, t.refused or "",
                                      (("pair", self.intent.pair_id),)))
            self.leg = t.leg
            return
        self.leg = t.leg
        if t.leg != before or result is not None:
            self.ledger.record_leg(t.leg, result=result, detail=type(event).__name__)
        self._sync_exposure()
        for effect in t.effects:
            match effect:
                case orders.ResolutionNeeded(reason=reason):
                    if not self._told_unknown:
                        self._told_unknown = True
                        self._pending.append(LegOutcomeUnknown(
                            self.intent.execution_id, self.intent.client_id, self.venue, reason))
                case orders.LegFinished():
                    if self._told_unknown:
                        self._told_unknown = False
                        self._pending.append(LegResolved(self.intent.execution_id,
                                                         self.intent.client_id))
                case orders.FillReverted(fill=fill):
                    self.alerts.publish(Alert(
                        "ghost_fill", Severity.CRITICAL,
                        f"{self.venue.value} trade {fill.trade_id} failed after matching: "
                        f"voided on {self.intent.instrument} ({self.intent.pair_id})",
                        (("trade_id", fill.trade_id), ("client_id", self.intent.client_id),
                         ("venue_order_id", self.leg.venue_order_id or ""),
                         ("execution", self.intent.execution_id))))

    def _sync_exposure(self) -> None:
        filled = self.leg.filled_qty
        i = self.intent
        if filled > self._risk_qty:
            self._pending.append(LegFilled(
                i.execution_id, i.pair_id, i.event_key, i.client_id, i.instrument, i.side,
                Qty(filled - self._risk_qty), self._price_hint, self._fee_due))
            self._fee_due = Money(0)
        elif filled < self._risk_qty:
            self._pending.append(FillReverted(
                i.execution_id, i.pair_id, i.event_key, i.client_id, i.instrument, i.side,
                Qty(self._risk_qty - filled), self._price_hint))
        self._risk_qty = filled

    async def flush(self) -> None:
        """Send the queued risk casts, in order. A cast interrupted by cancellation stays
        queued (a send that raises Cancelled did not deliver) for the shielded final flush."""
        while self._pending:
            await self.risk.cast(self._pending[0])
            self._pending.pop(0)

    def _on_result(self, result: OrderResult) -> None:
        if self._watch.venue_order_id is None:
            self.fills.learn_order_id(self._watch, result.venue_order_id)
        if result.avg_price is not None:
            self._price_hint = self._reported_avg = result.avg_price
        if result.fee > 0 and self._risk_qty == 0:
            self._fee_due = result.fee
        self.apply(orders.event_from_result(result, qty=self.leg.qty), result)

    def _on_fill(self, fill: Fill) -> None:
        if fill.status is FillStatus.FAILED:
            if self.leg.fill(fill.trade_id) is None:
                self.apply(orders.FillApplied(fill.trade_id, fill.qty, fill.price, fill.fee,
                                              True, fill.venue_order_id))
            self.apply(orders.FillVoided(fill.trade_id))
            return
        self.apply(orders.FillApplied(fill.trade_id, fill.qty, fill.price, fill.fee,
                                      fill.status is FillStatus.PROVISIONAL,
                                      fill.venue_order_id))

    def _drain(self) -> None:
        for fill in self._watch.take_nowait():
            self._on_fill(fill)

    async def run(self) -> orders.Leg:
        """Send, resolve and settle the order; returns the final leg (possibly still UNKNOWN)."""
        try:
            await self._send()
            await self.flush()
            await self._resolve()
            await self._settle()
        finally:
            self.fills.unwatch(self._watch)
            if self.leg.state is orders.LegState.PENDING:
                self.apply(orders.Withdrawn(self.error or "not sent"))
            elif self.leg.state is orders.LegState.SENT:
                self.apply(orders.TimedOut("cancelled before the venue answered"))
            with trio.move_on_after(CLEANUP_S, shield=True):
                if self.leg.state in (orders.LegState.ACKNOWLEDGED,
                                      orders.LegState.PARTIALLY_FILLED):
                    await self._cancel()
                    self.apply(orders.TimedOut("left resting; cancel sent on the way out"))
                await self.flush()
        return self.leg

    async def _send(self) -> None:
        for attempt in range(self.params.transient_retries + 1):
            self.apply(orders.Sent())
            self.sent_at = trio.current_time()
            try:
                result = await self.adapter.submit(self.prepared)
            except Transient as err:
                self.apply(orders.SendFailed(err.reason))
                self.error = err.reason
                if attempt == self.params.transient_retries:
                    self.apply(orders.Withdrawn(f"not delivered: {err.reason}"))
                    await self._error(err.reason)
                    return
                await trio.sleep(self.params.transient_backoff_s * 2 ** attempt)
                continue
            except Rejected as err:
                self.error, self.error_code = err.reason, err.code
                self.apply(orders.Rejected(err.reason))
                if isinstance(err, VenuePaused | AuthError):
                    # No entry may use this venue until its status says it trades again.
                    await self.risk.cast(VenueStatusObserved(VenueStatus(
                        self.venue, not isinstance(err, AuthError), False,
                        f"{type(err).__name__}: {err.reason}")))
                await self._error(err.reason)
                return
            except OutcomeUnknown as err:
                self.error = err.reason
                self.apply(orders.TimedOut(err.reason))
                return
            self._on_result(result)
            return

    async def _error(self, reason: str) -> None:
        await self.risk.cast(ErrorOccurred(self.intent.pair_id, self.venue,
                                           f"{self.intent.instrument}: {reason}"))

    async def _cancel(self) -> None:
        order_id = self.leg.venue_order_id
        if order_id is None:
            return
        try:
            await self.adapter.cancel(order_id, self.intent.instrument)
            self._cancel_sent = True
        except (Transient, OutcomeUnknown, Rejected) as err:
            self.error = err.reason

    async def _resolve(self) -> None:
        state = self.leg.state
        budget = (self.params.delayed_budget_s if state is orders.LegState.DELAYED
                  else self.params.unknown_budget_s)
        deadline = trio.current_time() + budget
        while not self.leg.terminal and trio.current_time() < deadline:
            if (self.leg.state in (orders.LegState.ACKNOWLEDGED, orders.LegState.PARTIALLY_FILLED)
                    and not self._cancel_sent):
                await self._cancel()
            self._drain()
            await self.flush()
            if self.leg.terminal:
                break
            with trio.move_on_after(min(self.params.poll_s, deadline - trio.current_time())):
                await self._watch.wait()
            self._drain()
            if not self.leg.terminal:
                await self._query()
            await self.flush()

    async def _query(self) -> None:
        try:
            result = await self.adapter.get_order(self.leg.venue_order_id,
                                                  client_id=self.intent.client_id)
        except (Transient, OutcomeUnknown, Rejected):
            return
        if result is not None:
            self._on_result(result)
            return
        sent_at = self.sent_at if self.sent_at is not None else trio.current_time()
        if (self.leg.state is orders.LegState.UNKNOWN
                and trio.current_time() - sent_at >= self.params.not_found_after_s):
            self.apply(orders.NotFound(
                f"{self.venue.value} has no order {self.intent.client_id} "
                f"{trio.current_time() - sent_at:.1f}s after sending"))

    async def _settle(self) -> None:
        if self.venue not in self.params.confirm_venues or not self.leg.terminal:
            return
        deadline = trio.current_time() + self.params.confirm_budget_s
        while trio.current_time() < deadline and not self.leg.settled:
            with trio.move_on_after(deadline - trio.current_time()):
                await self._watch.wait()
            self._drain()
            await self.flush()


@attrs.frozen
class OrderTag:
    """What every order of one execution shares."""

    execution_id: str
    pair_id: str
    event_key: str


@attrs.frozen
class OrderDesk:
    """Everything needed to place and follow orders: venues, ledger, risk, fills, alerts."""

    venues: Mapping[Venue, VenueAdapter]
    ledger: Ledger
    risk: RiskClient
    fills: FillRouter
    alerts: AlertHub
    params: LegParams = LegParams()

    def stage(self, tag: OrderTag, leg: str, request: OrderRequest) -> LegRunner:
        """Prepare (round, build, sign) ``request`` and write its intent; nothing is sent yet.

        Raises:
            Rejected: the adapter refused to build the order (nothing was recorded).
            KeyError: no adapter for the instrument's venue.
        """
        adapter = self.venues[request.instrument.venue]
        prepared = adapter.prepare(request)
        intent = Intent(request.client_id, tag.execution_id, tag.pair_id, tag.event_key, leg,
                        request.instrument, request.side, prepared.price, prepared.qty,
                        request.tif, prepared.venue_order_id)
        self.ledger.record_intent(intent)
        return LegRunner(intent, prepared, adapter, self.ledger, self.risk, self.fills,
                         self.alerts, self.params)
