# Design note: repairing a one-sided fill.
#
# Problem: the two legs of an arbitrage are sent together but fill independently. When one leg
# fills more than the other, the excess is a naked directional position. Public bots lost money
# here in three ways: they "unwound" a completed pair (both legs filled) as if it were naked; they
# unwound with a single fire-and-forget order that was never recorded; and they never booked the
# unwind loss against the daily limit.
#
# Naive approach: sell the whole filled leg at the best bid, once. It unwinds the hedged part too,
# walks through a thin book at any price, and on Polymarket's "not enough balance / allowance"
# (the shares of a just-matched buy are not settled yet) it walks the price down for nothing.
#
# Chosen approach:
# - Only the excess is repaired: hedged = min(filled A, filled B); excess = the larger minus it.
# - First try to complete: buy the missing instrument at its current best ask (IOC) if the
#   all-in loss of the completed pair (both costs plus taker fees minus the $1 payout) stays
#   within ``completion_loss_cap`` per contract.
# - Whatever is still excess is sold through a bounded ladder: start at the best bid (or one step
#   under the entry price when there is none), one ``price_step`` lower per attempt, never below
#   ``entry - max_loss_per_contract``, at most ``ladder_attempts`` prices. A "not enough balance /
#   allowance" refusal retries at the SAME price after ``settlement_wait_s``, at most
#   ``settlement_retries`` times, before the ladder moves on.
# - Every repair order is a normal leg: intent written first, driven to a terminal state, fills to
#   risk. If one ends UNKNOWN the repair stops (the remaining excess is unknowable).
# - The realised loss is booked once, also when the repair is cancelled midway (shielded):
#   ``LossRealised`` to risk (daily loss) and ``Ledger.record_unwind`` (the realised-P&L entry
#   with the size repaired; never ``add_realised_pnl`` as well, which would count it twice). An
#   excess left over is reported as ``UnwindFailed`` (risk goes REDUCING) and alerted.
#
# Venue facts relied on: Kalshi and Polymarket both accept IOC (Polymarket FAK) limit orders that
# never rest; Polymarket refuses sells of unsettled shares with INVALID_ORDER_NOT_ENOUGH_BALANCE
# ("not enough balance / allowance"), which clears once the buy's trade settles.
from __future__ import annotations

import attrs
import trio

from actors.alerts import Alert, Severity
from actors.books import PairBooks
from actors.legs import CLEANUP_S, LegRunner, OrderDesk, OrderTag
from actors.messages import ExecutionOutcome, LossRealised, UnwindFailed
from arb import orders
from arb.domain import Instrument, Side, TimeInForce, Venue
from arb.fees import kalshi_fee, poly_fee
from arb.money import CENT, Money, Price, Qty, Round, format_trimmed, mul
from arb.pairs import MarketPair
from arb.venues.protocol import OrderRequest, Rejected

SETTLEMENT_CODES = frozenset({"INVALID_ORDER_NOT_ENOUGH_BALANCE"})


@attrs.frozen
class RepairParams:
    completion_loss_cap: Price = Price(2 * CENT)
    """Largest all-in loss per contract accepted to complete the missing leg."""
    price_step: Price = Price(CENT)
    max_loss_per_contract: Price = Price(10 * CENT)
    """The ladder's floor is the entry price minus this."""
    ladder_attempts: int = 6
    settlement_retries: int = 3
    settlement_wait_s: float = 2.0


@attrs.frozen
class RepairResult:
    outcome: ExecutionOutcome
    completed: Qty
    sold: Qty
    left: Qty
    loss: Money
    """Realised loss booked (positive = lost)."""


def taker_fee(pair: MarketPair, instrument: Instrument, price: Price, qty: Qty) -> Money:
    """The taker fee of one order of ``qty`` at ``price`` on the pair's venue for ``instrument``."""
    if instrument.venue is Venue.KALSHI:
        return kalshi_fee(pair.kalshi.fees, price, qty)
    return poly_fee(pair.poly.fees, price, qty)


def is_settlement_lag(runner: LegRunner) -> bool:
    """The venue refused a sell because the shares just bought have not settled yet."""
    text = runner.error.lower()
    return (runner.error_code in SETTLEMENT_CODES or "not enough balance" in text
            or "allowance" in text)


@attrs.define(eq=False)
class Repair:
    """The repair of one execution's excess leg."""

    desk: OrderDesk
    tag: OrderTag
    pair: MarketPair
    books: PairBooks
    params: RepairParams
    over: orders.Leg
    """The leg that filled more."""
    under: orders.Leg
    entry_price: Price
    """Average price paid for ``over``."""
    orders_sent: int = 0
    loss: Money = Money(0)
    completed: Qty = Qty(0)
    """Excess matched by buying the missing instrument."""
    sold: Qty = Qty(0)
    """Excess sold down the ladder."""
    runners: list[LegRunner] = attrs.field(factory=list)
    """Every repair order placed, in order."""
    _booked: bool = False

    @property
    def excess(self) -> Qty:
        return Qty(self.over.filled_qty - self.under.filled_qty)

    def left(self) -> Qty:
        """Excess still held according to every repair order's fills, including an order the
        repair was cancelled in the middle of (its fills reached the ledger and risk, but not
        ``completed`` / ``sold``)."""
        return Qty(max(0, self.excess - sum(r.leg.filled_qty for r in self.runners)))

    def unknown_orders(self) -> list[str]:
        """Client ids of repair orders whose outcome is not known."""
        return [r.leg.client_id for r in self.runners if not r.leg.terminal]

    def _cost_basis(self, qty: Qty) -> Money:
        return Money(mul(self.entry_price, qty, Round.UP)
                     + taker_fee(self.pair, self.over.instrument, self.entry_price, qty))

    async def _order(self, kind: str, instrument: Instrument, side: Side, price: Price,
                     qty: Qty) -> LegRunner | None:
        """Place one IOC repair order and drive it to the end; None if it could not be built."""
        self.orders_sent += 1
        client_id = f"{self.tag.execution_id}-{kind}{self.orders_sent}"
        request = OrderRequest(client_id, instrument, side, price, qty, TimeInForce.IOC)
        try:
            runner = self.desk.stage(self.tag, f"{kind}-{self.orders_sent}", request)
        except Rejected as err:
            self.desk.alerts.publish(Alert(
                "repair_order_refused", Severity.WARNING,
                f"{instrument}: {kind} order not built: {err.reason} ({self.pair.pair_id})"))
            return None
        self.runners.append(runner)
        await runner.run()
        return runner

    async def run(self) -> RepairResult:
        excess = self.excess
        if excess <= 0:
            raise ValueError(f"{self.pair.pair_id}: nothing to repair (excess {excess})")
        self.desk.alerts.publish(Alert(
            "one_sided_fill", Severity.CRITICAL,
            f"{self.pair.pair_id}: {self.over.instrument} filled "
            f"{format_trimmed(self.over.filled_qty)}, {self.under.instrument} filled "
            f"{format_trimmed(self.under.filled_qty)}; repairing "
            f"{format_trimmed(excess)} excess",
            (("execution", self.tag.execution_id),)))
        try:
            unknown = await self._complete(excess)
            if excess - self.completed > 0 and not unknown:
                unknown = await self._ladder(Qty(excess - self.completed))
        finally:
            # Also when cancelled mid-repair (a breaker trip): what was already realised
            # reaches the daily loss and the trade log.
            with trio.move_on_after(CLEANUP_S, shield=True):
                await self._book()
        completed, sold = self.completed, self.sold
        left = Qty(excess - completed - sold)
        if unknown:
            outcome = ExecutionOutcome.UNRESOLVED
        elif left > 0:
            outcome = ExecutionOutcome.EXPOSED
            reason = (f"{format_trimmed(left)} of {self.over.instrument} still held after the "
                      f"ladder")
            await self.desk.risk.cast(UnwindFailed(self.tag.execution_id, self.pair.pair_id,
                                                   self.over.instrument, left, reason))
            self.desk.alerts.publish(Alert("unwind_failed", Severity.CRITICAL,
                                           f"{self.pair.pair_id}: {reason}"))
        else:
            outcome = ExecutionOutcome.UNWOUND
            self.desk.alerts.publish(Alert(
                "unwind_done", Severity.WARNING,
                f"{self.pair.pair_id}: excess repaired (completed {format_trimmed(completed)}, "
                f"sold {format_trimmed(sold)}), loss ${format_trimmed(self.loss)}"))
        return RepairResult(outcome, completed, sold, left, self.loss)

    async def _book(self) -> None:
        """Book the realised loss once: to risk (daily loss, consecutive losses) and, with the
        size repaired, to the ledger through ``record_unwind`` only (which is the realised-P&L
        entry; booking ``add_realised_pnl`` too would count the loss twice)."""
        if self._booked:
            return
        self._booked = True
        if self.loss > 0:
            await self.desk.risk.cast(LossRealised(self.tag.execution_id, self.pair.pair_id,
                                                   self.loss, "one-sided fill repair"))
        repaired = Qty(self.completed + self.sold)
        if repaired:
            self.desk.ledger.record_unwind(
                self.tag.execution_id, self.over.instrument, repaired, Money(-self.loss),
                f"completed {format_trimmed(self.completed)}, sold {format_trimmed(self.sold)}")

    async def _complete(self, excess: Qty) -> bool:
        """Buy the missing instrument if the completed pair's loss stays within the cap;
        adds to ``completed``; True if the order's outcome is unknown."""
        missing = self.under.instrument
        ask = self.books.best_ask(missing)
        if ask is None:
            return False
        price = ask[0]
        cost = (self._cost_basis(excess) + mul(price, excess, Round.UP)
                + taker_fee(self.pair, missing, price, excess))
        if cost - excess > mul(self.params.completion_loss_cap, excess, Round.DOWN):
            return False
        runner = await self._order("complete", missing, Side.BUY, price, excess)
        if runner is None:
            return False
        done = runner.leg.filled_qty
        if done:
            paid = mul(price, done, Round.UP) + taker_fee(self.pair, missing, price, done)
            self.loss = Money(self.loss + max(0, self._cost_basis(done) + paid - done))
            self.completed = Qty(self.completed + done)
        return not runner.leg.terminal

    async def _ladder(self, qty: Qty) -> bool:
        """Sell ``qty`` of the excess instrument down a bounded price ladder; adds to ``sold``;
        True if an order's outcome is unknown."""
        instrument = self.over.instrument
        floor = Price(max(self.params.price_step,
                          self.entry_price - self.params.max_loss_per_contract))
        bid = self.books.best_bid(instrument)
        price = Price(bid[0] if bid is not None else self.entry_price - self.params.price_step)
        price = Price(max(floor, min(price, self.entry_price)))
        sold = Qty(0)
        settlement_retries = 0
        attempts = 0
        while attempts < self.params.ladder_attempts and sold < qty:
            runner = await self._order("unwind", instrument, Side.SELL, price, Qty(qty - sold))
            if runner is None:
                break
            if not runner.leg.terminal:
                return True
            got = runner.leg.filled_qty
            if runner.leg.state is orders.LegState.REJECTED and is_settlement_lag(runner):
                if settlement_retries < self.params.settlement_retries:
                    settlement_retries += 1
                    await trio.sleep(self.params.settlement_wait_s)
                    continue
            attempts += 1
            if got:
                proceeds = mul(price, got, Round.DOWN) - taker_fee(self.pair, instrument, price,
                                                                   got)
                self.loss = Money(self.loss + max(0, self._cost_basis(got) - proceeds))
                sold = Qty(sold + got)
                self.sold = Qty(self.sold + got)
                continue
            if price <= floor:
                break
            price = Price(max(floor, price - self.params.price_step))
        return False
