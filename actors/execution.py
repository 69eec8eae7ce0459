# Design note: one arbitrage execution.
#
# Problem: two orders on two venues must go out together, each reach a terminal state, and the
# result (hedged, one-sided, unknown) must be handled without ever trading a naked leg by design
# or leaving a reservation held by nobody.
#
# Naive approach: send leg A, then leg B, then "cancel the unfilled one". It doubles the leg risk
# window, and a failure or cancellation between the two awaits leaves A naked and unrecorded.
#
# Chosen approach: prepare (sign) both legs and write both intents first; if either cannot be
# built, withdraw both and send nothing. Then both legs run concurrently as child tasks of this
# execution's nursery, each driven to a terminal state by its ``LegRunner``. Afterwards:
# - a leg still UNKNOWN or DELAYED: UNRESOLVED. Nothing is unwound (a delayed leg may still fill;
#   unwinding its partner then would create the naked position). The leg's reservation stays and
#   its event stays blocked until venue evidence resolves it.
# - equal filled quantities: HEDGED (MISSED when both are zero).
# - unequal: only the excess is repaired (``actors.unwind``).
# The caller owns the reservation and sends ``ExecutionFinished`` on every path.
#
# Venue facts relied on: Kalshi IOC/FOK (``time_in_force``) and Polymarket FAK/FOK orders never
# rest, so a finished leg has no order left on the book.
from __future__ import annotations

import attrs
import trio

from actors.alerts import Alert, Severity
from actors.books import PairBooks
from actors.legs import LegRunner, OrderDesk, OrderTag
from actors.messages import ErrorOccurred, ExecutionOutcome, LegPlan
from actors.unwind import Repair, RepairParams, taker_fee
from arb import orders
from arb.book import Level
from arb.domain import TimeInForce, Venue
from arb.edge import Opportunity
from arb.money import Money, Price, Qty, Round, format_trimmed, mul
from arb.pairs import MarketPair
from arb.venues.protocol import OrderRequest, Rejected


@attrs.frozen
class ExecutionParams:
    kalshi_tif: TimeInForce = TimeInForce.FOK
    poly_tif: TimeInForce = TimeInForce.FOK
    repair: RepairParams = RepairParams()

    def tif(self, venue: Venue) -> TimeInForce:
        return self.kalshi_tif if venue is Venue.KALSHI else self.poly_tif


def plan_legs(pair: MarketPair, opportunity: Opportunity) -> tuple[LegPlan, ...]:
    """The reservation for ``opportunity``: each leg as if it all filled at its limit price,
    with the larger of the detected fee and the taker fee at the limit price.

    Raises:
        FeeError: the pair's fee schedule cannot be priced.
    """
    return tuple(
        LegPlan(leg.instrument, leg.side, leg.limit_price, leg.qty,
                Money(mul(leg.limit_price, leg.qty, Round.UP)
                      + max(leg.fee, taker_fee(pair, leg.instrument, leg.limit_price, leg.qty))))
        for leg in opportunity.legs)


def fill_limit(asks: list[Level], qty: Qty) -> Price | None:
    """The worst price needed to buy ``qty`` from ``asks`` (best first); None if too thin."""
    left = qty
    for price, size in asks:
        left -= size
        if left <= 0:
            return price
    return None


def still_valid(planned: Opportunity, books: PairBooks) -> bool:
    """True if every planned leg can still be bought in full at no worse than its planned limit
    price on the current books.

    Then the planned profit still stands (an all-in cost only rises with the price), whatever
    a fresh detection would now prefer: more depth appearing behind the planned levels does not
    expire a plan that is still there to take.
    """
    for leg in planned.legs:
        needed = fill_limit(books.asks(leg.instrument), leg.qty)
        if needed is None or needed > leg.limit_price:
            return False
    return True


@attrs.define(eq=False)
class Execution:
    """One attempt: two legs, their repair, and the outcome so far."""

    desk: OrderDesk
    tag: OrderTag
    pair: MarketPair
    books: PairBooks
    opportunity: Opportunity
    params: ExecutionParams
    runners: list[LegRunner] = attrs.field(factory=list)
    outcome: ExecutionOutcome = ExecutionOutcome.ABORTED
    detail: str = ""
    exposure_reported: bool = False
    """The repair ran to its end and reported any exposure left itself."""
    repair: Repair | None = None
    """The repair of a one-sided fill, once started."""

    def legs(self) -> list[orders.Leg]:
        return [r.leg for r in self.runners]

    async def run(self) -> ExecutionOutcome:
        """Stage, send, settle and repair; returns (and records in ``outcome``) the result."""
        try:
            for name, leg in zip("ab", self.opportunity.legs, strict=True):
                request = OrderRequest(f"{self.tag.execution_id}-{name}", leg.instrument,
                                       leg.side, leg.limit_price, leg.qty,
                                       self.params.tif(leg.instrument.venue))
                self.runners.append(self.desk.stage(self.tag, name, request))
        except Rejected as err:
            self._withdraw(f"{err.venue.value} refused to build the order: {err.reason}")
            await self.desk.risk.cast(ErrorOccurred(self.pair.pair_id, err.venue, err.reason))
            return self.outcome
        quantities = {r.prepared.qty for r in self.runners}
        if len(quantities) != 1:
            self._withdraw("legs round to different quantities: "
                           + ", ".join(format_trimmed(q) for q in sorted(quantities)))
            return self.outcome
        async with trio.open_nursery() as nursery:
            for runner in self.runners:
                nursery.start_soon(runner.run)
        self.outcome = await self._settle()
        return self.outcome

    def _withdraw(self, reason: str) -> None:
        self.detail = reason
        for runner in self.runners:
            runner.apply(orders.Withdrawn(reason))

    async def _settle(self) -> ExecutionOutcome:
        a, b = self.legs()
        open_legs = [leg for leg in (a, b) if not leg.terminal]
        if open_legs:
            self.detail = "; ".join(f"{leg.instrument} {leg.client_id} is {leg.state.value}"
                                    for leg in open_legs)
            self.desk.alerts.publish(Alert(
                "leg_unresolved", Severity.CRITICAL,
                f"{self.pair.pair_id}: {self.detail}; reservation kept, event "
                f"{self.pair.event_key} blocked until resolved",
                (("execution", self.tag.execution_id),)))
            return ExecutionOutcome.UNRESOLVED
        if a.filled_qty == b.filled_qty == 0:
            self.detail = "; ".join(f"{leg.instrument} {leg.state.value} {leg.reason}".strip()
                                    for leg in (a, b))
            return ExecutionOutcome.MISSED
        if a.filled_qty == b.filled_qty:
            self.detail = f"both legs filled {format_trimmed(a.filled_qty)}"
            return ExecutionOutcome.HEDGED
        over, under = (a, b) if a.filled_qty > b.filled_qty else (b, a)
        runner = self.runners[0] if over is a else self.runners[1]
        entry = runner.prepared.price if runner.price_paid is None else runner.price_paid
        repair = Repair(self.desk, self.tag, self.pair, self.books, self.params.repair,
                        over, under, entry)
        self.repair = repair
        result = await repair.run()
        self.exposure_reported = True
        self.detail = (f"one-sided: completed {format_trimmed(result.completed)}, sold "
                       f"{format_trimmed(result.sold)}, left {format_trimmed(result.left)}, "
                       f"loss ${format_trimmed(result.loss)}")
        return result.outcome

    def unreported_exposure(self) -> tuple[orders.Leg, Qty] | None:
        """For an execution stopped (an error, or cancelled by the stop path) after a one-sided
        fill and before its repair reported: the leg that filled more and how much of its excess
        is still held, net of every repair order's fills. None when there is none, or when the
        repair ran to its end (it reports what is left itself)."""
        legs = self.legs()
        if self.exposure_reported or len(legs) != 2 or not all(leg.terminal for leg in legs):
            return None  # an entry leg still UNKNOWN is for reconciliation, not a known excess
        a, b = legs
        over, under = (a, b) if a.filled_qty >= b.filled_qty else (b, a)
        left = (self.repair.left() if self.repair is not None
                else Qty(over.filled_qty - under.filled_qty))
        return (over, left) if left > 0 else None

    def final_outcome(self) -> ExecutionOutcome:
        """The outcome to report on the way out, also after an error or a cancellation."""
        legs = self.legs()
        if any(not leg.terminal for leg in legs):
            return ExecutionOutcome.UNRESOLVED
        if self.outcome is ExecutionOutcome.ABORTED and legs:
            sent = [leg for leg in legs if leg.state is not orders.LegState.NOT_PLACED]
            if sent and len({leg.filled_qty for leg in legs}) > 1:
                return (ExecutionOutcome.EXPOSED if self.unreported_exposure() is not None
                        else ExecutionOutcome.UNWOUND)
            if sent:
                return (ExecutionOutcome.HEDGED if any(leg.filled_qty for leg in legs)
                        else ExecutionOutcome.MISSED)
        return self.outcome
