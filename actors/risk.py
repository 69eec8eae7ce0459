# Design note: the risk actor and its breaker.
#
# Problem: many market actors want to trade at once, against shared limits (per market, per
# event, per venue, total, balances, daily loss, order rate), and a loss or error anywhere must
# be able to stop everything. Naive approach: each market actor checks a shared dict of exposure
# before sending. Two actors then read the same headroom in the same instant and both send
# (check-then-act race), reservations leak when an execution dies between check and release, and
# losses from unwinds are never seen by whoever owns the daily-loss limit.
#
# Chosen approach: one actor owns every number. Market actors *call* ``Reserve`` and get
# ``Granted`` or ``Denied(reason)``; the check and the reservation happen in one message handler
# with no await in between, so they are atomic. One reservation per execution, held until the
# execution's ``ExecutionFinished``; fills (``LegFilled``) convert it into committed exposure at
# the size actually traded, and every realised loss, from any path, arrives as ``LossRealised``.
# A leg reported ``LegOutcomeUnknown`` keeps its execution's reservation past
# ``ExecutionFinished`` and blocks its event until ``LegResolved``. At most one reservation per
# market and per event is open at a time, which is the one-execution-in-flight rule.
#
# Breaker: ACTIVE -> REDUCING -> HALTED, only ever escalated automatically (daily loss and
# consecutive errors halt; consecutive losses, an over-limit fill and a failed unwind reduce),
# persisted in the ledger on every change, and reset by ``ResetBreaker`` only, never by a
# timer. A reconciliation with drift is a separate gate (REDUCING until a clean pass or an
# operator acknowledgement), so a clean pass never clears a breaker an operator must reset.
#
# Committed exposure is rebuilt from the ledger's fills of instruments still held at startup
# and after every reconciliation pass that finds no execution in flight.
#
# Several processes (one per sport) on one account: with a ``process_id``, the total and
# per-venue limits are account-wide. A grant publishes this process's new total and per-venue
# exposure to the ledger's shared exposure table, whose write lock makes "read everybody's sum,
# check, write mine" atomic across processes; any decrease is published after each message.
#
# Settled markets: reconciliation marks their instruments settled in the ledger, which leaves
# them out of ``Ledger.positions``; the next exposure rebuild (a ``Reconciled`` with nothing in
# flight) then no longer counts them.
from __future__ import annotations

import collections
import datetime
from collections.abc import Callable

import attrs
import trio

from actors.alerts import Alert, AlertHub, Severity
from actors.messages import (
    AcknowledgeDrift,
    BalanceObserved,
    BreakerState,
    Denied,
    DenyReason,
    ErrorOccurred,
    ExecutionFinished,
    ExecutionOutcome,
    FillReverted,
    Granted,
    Halt,
    LegFilled,
    LegOutcomeUnknown,
    LegResolved,
    LossRealised,
    Reconciled,
    Reserve,
    ResetBreaker,
    RiskMessage,
    SetTradingEnabled,
    UnwindFailed,
    VenueStatusObserved,
)
from arb.domain import Side, Venue
from arb.ledger import Ledger, RiskRecord
from arb.money import Money, Round, format_fixed, mul
from arb.venues.protocol import FillStatus, VenueStatus

INBOX_SIZE = 256
"""Casts are small and the risk actor never awaits while handling one; 256 absorbs bursts."""
CALL_TIMEOUT_S = 5.0
"""A reservation call that takes longer means the risk actor is wedged: a core failure."""


def usd(amount: int) -> str:
    return "$" + format_fixed(amount, 2, Round.UP if amount >= 0 else Round.DOWN)


@attrs.frozen
class RiskLimits:
    """Every limit the risk actor enforces. Money limits are dollars at risk (cost incl. fees)."""

    max_market: Money
    max_event: Money
    max_total: Money
    max_venue: Money
    min_trade: Money
    max_trade: Money
    max_daily_loss: Money
    max_consecutive_errors: int = 5
    max_consecutive_losses: int = 3
    max_orders_per_minute: int = 60
    max_trades_per_hour: int = 60
    enabled: bool = True


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


@attrs.define(eq=False)
class _Reservation:
    pair_id: str
    event_key: str
    legs_cost: dict[Venue, Money]
    finished: bool = False
    lost: bool = False
    unknown: set[str] = attrs.field(factory=set)


@attrs.frozen
class RiskStatistics:
    breaker: BreakerState
    """The effective state (drift makes an ACTIVE breaker REDUCING)."""
    reason: str
    daily_loss: Money
    consecutive_errors: int
    consecutive_losses: int
    reserved: Money
    committed: Money
    open_reservations: int
    blocked_events: tuple[str, ...]
    granted: int
    denials: dict[DenyReason, int]
    """Every denial since the start, by reason."""

    @property
    def requests(self) -> int:
        return self.granted + sum(self.denials.values())

    @property
    def approval_rate(self) -> float | None:
        """Granted / requested since the start (None before the first request)."""
        return self.granted / self.requests if self.requests else None


@attrs.define(eq=False)
class RiskActor:
    """The single owner of exposure, limits, realised loss and the breaker."""

    limits: RiskLimits
    ledger: Ledger
    inbox: trio.MemoryReceiveChannel[RiskMessage]
    halt: trio.MemorySendChannel[Halt]
    """To the supervisor; capacity >= 1. A pending Halt makes further ones redundant."""
    alerts: AlertHub
    today: Callable[[], datetime.date] = utc_today
    process_id: str | None = None
    """Set when several processes share the account: total and venue limits become
    account-wide through the ledger's exposure table."""
    breaker: BreakerState = BreakerState.ACTIVE
    reason: str = ""
    enabled: bool = True
    reconciled: bool = False
    drift: tuple[str, ...] = ()
    day: datetime.date = attrs.field(init=False)
    daily_loss: Money = Money(0)
    consecutive_errors: int = 0
    consecutive_losses: int = 0
    granted: int = 0
    denials: collections.Counter[DenyReason] = attrs.field(factory=collections.Counter)
    _reservations: dict[str, _Reservation] = attrs.field(factory=dict)
    _committed: dict[tuple[str, str, Venue], Money] = attrs.field(factory=dict)
    _balances: dict[Venue, Money] = attrs.field(factory=dict)
    _status: dict[Venue, VenueStatus] = attrs.field(factory=dict)
    _balance_alerted: set[Venue] = attrs.field(factory=set)
    _persisted: RiskRecord | None = None
    _intent_keys: dict[str, tuple[str, str] | None] = attrs.field(factory=dict)
    _orders: collections.deque[float] = attrs.field(init=False)
    _trades: collections.deque[float] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.day = self.today()
        self.enabled = self.limits.enabled
        self._orders = collections.deque(maxlen=max(self.limits.max_orders_per_minute, 1))
        self._trades = collections.deque(maxlen=max(self.limits.max_trades_per_hour, 1))

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Restore persisted state, then handle the inbox until it closes or we are cancelled."""
        self._restore()
        task_status.started()
        # The inbox is not closed on the way out: market actors' shielded cleanup may still
        # cast while the process stops, and a closed inbox would turn that into an error.
        async for message in self.inbox:
            self.handle(message)

    def _restore(self) -> None:
        if self.process_id is not None:
            self.ledger.clear_exposure(self.process_id)
        self._restore_exposure()
        self._publish()
        saved = self.ledger.risk_state()
        if saved is None:
            self._persist()
            return
        self._persisted = saved
        self.breaker, self.reason = saved.state, saved.reason
        self.consecutive_errors = saved.consecutive_errors
        self.consecutive_losses = saved.consecutive_losses
        if saved.day == self.day:
            self.daily_loss = saved.daily_loss
        if self.breaker is BreakerState.HALTED:
            self._send_halt(f"breaker restored HALTED: {self.reason}")

    def _restore_exposure(self) -> None:
        """Committed exposure of the instruments still held, from the ledger's fills.

        Intents never change, so their (pair, event) is cached between passes; the cache keeps
        only the client ids seen in the latest pass.
        """
        held = self.ledger.positions()
        seen: dict[str, tuple[str, str] | None] = {}
        for fill in self.ledger.fills():
            if (fill.status is FillStatus.FAILED or fill.instrument not in held
                    or fill.client_id is None):
                continue
            cid = fill.client_id
            if cid not in seen:
                if cid in self._intent_keys:
                    seen[cid] = self._intent_keys[cid]
                else:
                    stored = self.ledger.intent(cid)
                    seen[cid] = (None if stored is None
                                 else (stored.intent.pair_id, stored.intent.event_key))
            pair_event = seen[cid]
            if pair_event is None:
                continue
            key = (pair_event[0], pair_event[1], fill.venue)
            if fill.side is Side.BUY:
                change = mul(fill.price, fill.qty, Round.UP) + fill.fee
            else:
                change = -(mul(fill.price, fill.qty, Round.DOWN) - fill.fee)
            self._committed[key] = Money(max(0, self._committed.get(key, 0) + change))
        self._intent_keys = seen

    def _persist(self) -> None:
        """Write the persisted state if it changed (each write is a durable commit)."""
        record = RiskRecord(
            state=self.breaker, reason=self.reason, day=self.day, daily_loss=self.daily_loss,
            consecutive_errors=self.consecutive_errors,
            consecutive_losses=self.consecutive_losses)
        if record != self._persisted:
            self.ledger.save_risk_state(record)
            self._persisted = record

    def handle(self, message: RiskMessage) -> None:
        """Apply one message. Synchronous: nothing else runs between check and update."""
        self._roll_day()
        self._handle(message)
        if isinstance(message, LegFilled | FillReverted | LegResolved | ExecutionFinished
                      | Reconciled):
            self._publish()

    def _handle(self, message: RiskMessage) -> None:
        match message:
            case Reserve():
                reply = self._reserve(message)
                try:
                    message.reply.send_nowait(reply)
                except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                    # The caller is gone (cancelled while waiting): nothing will be sent
                    # under this reservation, so it must not stay held.
                    if isinstance(reply, Granted):
                        self._release(message.execution_id)
            case LegFilled():
                self._filled(message)
            case FillReverted():
                self._reverted(message)
            case LegOutcomeUnknown():
                res = self._reservations.get(message.execution_id)
                if res is not None:
                    res.unknown.add(message.client_id)
            case LegResolved():
                res = self._reservations.get(message.execution_id)
                if res is not None:
                    res.unknown.discard(message.client_id)
                    if res.finished and not res.unknown:
                        self._release(message.execution_id)
            case LossRealised():
                self._loss(message)
            case ErrorOccurred():
                self.consecutive_errors += 1
                if self.consecutive_errors >= self.limits.max_consecutive_errors:
                    self._escalate(BreakerState.HALTED,
                                   f"{self.consecutive_errors} consecutive errors, last: "
                                   f"{message.reason} ({message.pair_id})")
                else:
                    self._persist()
            case ExecutionFinished():
                self._finished(message)
            case UnwindFailed():
                self._escalate(BreakerState.REDUCING,
                               f"unwind failed on {message.instrument}: {message.reason}; "
                               f"exposure left {format_fixed(message.qty, 2, Round.UP)} "
                               f"contracts ({message.pair_id})")
            case BalanceObserved():
                self._balances[message.venue] = message.available
                self._balance_alerted.discard(message.venue)
            case VenueStatusObserved():
                self._status[message.status.venue] = message.status
            case Reconciled():
                self.reconciled = True
                self.drift = () if message.clean else message.drift
                if all(res.finished for res in self._reservations.values()):
                    # Fills learnt by reconciliation (after a restart, or for legs that were
                    # UNKNOWN) reach exposure here, from the ledger, never counted twice.
                    self._committed.clear()
                    self._restore_exposure()
            case AcknowledgeDrift():
                self.drift = ()
            case SetTradingEnabled():
                self.enabled = message.enabled
            case ResetBreaker():
                self.breaker, self.reason = BreakerState.ACTIVE, ""
                self.consecutive_errors = self.consecutive_losses = 0
                self._persist()
                self.alerts.publish(Alert("breaker_reset", Severity.WARNING,
                                          f"breaker reset by {message.operator}: {message.note}"))

    # --- reservations -------------------------------------------------------------------

    def _deny(self, message: Reserve, reason: DenyReason, detail: str) -> Denied:
        self.denials[reason] += 1
        return Denied(message.execution_id, reason, detail)

    def _reserve(self, m: Reserve) -> Granted | Denied:
        state = self.effective_state()
        if not self.enabled:
            return self._deny(m, DenyReason.DISABLED, "trading disabled by the operator")
        if state is not BreakerState.ACTIVE:
            return self._deny(m, DenyReason.BREAKER, f"breaker {state.value}: {self.reason_text()}")
        if not self.reconciled:
            return self._deny(m, DenyReason.NOT_RECONCILED, "startup reconciliation pending")
        for res in self._reservations.values():
            if res.event_key == m.event_key and res.unknown:
                return self._deny(m, DenyReason.EVENT_BLOCKED,
                                  f"event {m.event_key} has an unresolved leg")
            if res.pair_id == m.pair_id and not res.finished:
                return self._deny(m, DenyReason.MARKET_BUSY, f"execution in flight on {m.pair_id}")
            if res.event_key == m.event_key and not res.finished:
                return self._deny(m, DenyReason.EVENT_BUSY,
                                  f"execution in flight on event {m.event_key}")
        cost = Money(sum(leg.cost for leg in m.legs))
        if cost < self.limits.min_trade:
            return self._deny(m, DenyReason.TRADE_TOO_SMALL,
                              f"{usd(cost)} < min {usd(self.limits.min_trade)}")
        if cost > self.limits.max_trade:
            return self._deny(m, DenyReason.TRADE_TOO_LARGE,
                              f"{usd(cost)} > max {usd(self.limits.max_trade)}")
        by_venue: dict[Venue, Money] = collections.defaultdict(lambda: Money(0))
        for leg in m.legs:
            by_venue[leg.venue] = Money(by_venue[leg.venue] + leg.cost)
        for venue in by_venue:
            status = self._status.get(venue)
            if status is None or not (status.reachable and status.trading_active):
                detail = "status unknown" if status is None else status.detail or "paused"
                return self._deny(m, DenyReason.VENUE_INACTIVE, f"{venue.value}: {detail}")
        checks = (
            (DenyReason.MARKET_LIMIT, self._exposure(pair_id=m.pair_id), self.limits.max_market,
             f"market {m.pair_id}"),
            (DenyReason.EVENT_LIMIT, self._exposure(event_key=m.event_key),
             self.limits.max_event, f"event {m.event_key}"),
            (DenyReason.TOTAL_LIMIT, self._exposure(), self.limits.max_total, "total"),
        )
        for reason, used, limit, what in checks:
            if used + cost > limit:
                return self._deny(m, reason, f"{what}: {usd(used)} + {usd(cost)} > {usd(limit)}")
        for venue, venue_cost in by_venue.items():
            used = self._exposure(venue=venue)
            if used + venue_cost > self.limits.max_venue:
                return self._deny(m, DenyReason.VENUE_LIMIT,
                                  f"{venue.value}: {usd(used)} + {usd(venue_cost)} > "
                                  f"{usd(self.limits.max_venue)}")
            available = self._balances.get(venue)
            if available is None:
                return self._deny(m, DenyReason.BALANCE_UNKNOWN, f"{venue.value}: no balance yet")
            free = available - self._reserved(venue=venue)
            if venue_cost > free:
                if venue not in self._balance_alerted:
                    self._balance_alerted.add(venue)
                    self.alerts.publish(Alert(
                        "rebalance_needed", Severity.WARNING,
                        f"{venue.value}: {usd(free)} free, {usd(venue_cost)} needed for "
                        f"{m.pair_id}; rebalance needed"))
                return self._deny(m, DenyReason.INSUFFICIENT_BALANCE,
                                  f"{venue.value}: {usd(venue_cost)} needed, {usd(free)} free")
        now = trio.current_time()
        for window, horizon in ((self._orders, 60.0), (self._trades, 3600.0)):
            while window and window[0] <= now - horizon:
                window.popleft()
        orders_last_minute = len(self._orders)
        if orders_last_minute + len(m.legs) > self.limits.max_orders_per_minute:
            return self._deny(m, DenyReason.ORDER_RATE,
                              f"{orders_last_minute} orders in the last minute")
        trades_last_hour = len(self._trades)
        if trades_last_hour + 1 > self.limits.max_trades_per_hour:
            return self._deny(m, DenyReason.TRADE_RATE, f"{trades_last_hour} trades in the last hour")
        shared = self._claim_account_share(m, cost, by_venue)
        if shared is not None:
            return shared
        self._orders.extend([now] * len(m.legs))
        self._trades.append(now)
        self._reservations[m.execution_id] = _Reservation(m.pair_id, m.event_key, dict(by_venue))
        self.granted += 1
        return Granted(m.execution_id)

    def _claim_account_share(self, m: Reserve, cost: Money,
                             by_venue: dict[Venue, Money]) -> Denied | None:
        """Publish this process's exposure with the new reservation, within account limits."""
        if self.process_id is None:
            return None
        pid = self.process_id
        total = Money(self._exposure() + cost)
        if not self.ledger.publish_exposure(pid, "total", total, limit=self.limits.max_total):
            return self._deny(m, DenyReason.TOTAL_LIMIT,
                              f"account-wide total would exceed {usd(self.limits.max_total)}")
        for venue, venue_cost in by_venue.items():
            mine = Money(self._exposure(venue=venue) + venue_cost)
            if not self.ledger.publish_exposure(pid, f"venue:{venue.value}", mine,
                                                limit=self.limits.max_venue):
                self._publish()
                return self._deny(m, DenyReason.VENUE_LIMIT,
                                  f"account-wide {venue.value} would exceed "
                                  f"{usd(self.limits.max_venue)}")
        return None

    def _publish(self) -> None:
        """Publish this process's current exposure (a decrease is always written)."""
        if self.process_id is None:
            return
        self.ledger.publish_exposure(self.process_id, "total", self._exposure())
        for venue in Venue:
            self.ledger.publish_exposure(self.process_id, f"venue:{venue.value}",
                                         self._exposure(venue=venue))

    def _release(self, execution_id: str) -> None:
        self._reservations.pop(execution_id, None)

    def _reserved(self, *, pair_id: str | None = None, event_key: str | None = None,
                  venue: Venue | None = None) -> Money:
        total = 0
        for res in self._reservations.values():
            if pair_id is not None and res.pair_id != pair_id:
                continue
            if event_key is not None and res.event_key != event_key:
                continue
            total += sum(c for v, c in res.legs_cost.items() if venue is None or v is venue)
        return Money(total)

    def _exposure(self, *, pair_id: str | None = None, event_key: str | None = None,
                  venue: Venue | None = None) -> Money:
        committed = sum(
            amount for (p, e, v), amount in self._committed.items()
            if (pair_id is None or p == pair_id) and (event_key is None or e == event_key)
            and (venue is None or v is venue))
        return Money(committed + self._reserved(pair_id=pair_id, event_key=event_key, venue=venue))

    def _filled(self, m: LegFilled) -> None:
        key = (m.pair_id, m.event_key, m.instrument.venue)
        if m.side is Side.BUY:
            spent = Money(mul(m.price, m.qty, Round.UP) + m.fee)
            self._committed[key] = Money(self._committed.get(key, 0) + spent)
            if m.instrument.venue in self._balances:
                self._balances[m.instrument.venue] = Money(
                    self._balances[m.instrument.venue] - spent)
        else:
            proceeds = Money(mul(m.price, m.qty, Round.DOWN) - m.fee)
            self._committed[key] = Money(max(0, self._committed.get(key, 0) - proceeds))
            if m.instrument.venue in self._balances:
                self._balances[m.instrument.venue] = Money(
                    self._balances[m.instrument.venue] + proceeds)
        res = self._reservations.get(m.execution_id)
        if res is not None and m.side is Side.BUY:
            # The reservation covered this leg at its limit; what remains reserved is only
            # the part not yet traded, so exposure is never counted twice.
            venue = m.instrument.venue
            res.legs_cost[venue] = Money(max(0, res.legs_cost.get(venue, 0) - spent))
        for limit, used, what in (
                (self.limits.max_market, self._exposure(pair_id=m.pair_id), m.pair_id),
                (self.limits.max_event, self._exposure(event_key=m.event_key), m.event_key),
                (self.limits.max_total, self._exposure(), "total")):
            if used > limit:
                self._escalate(BreakerState.REDUCING,
                               f"exposure {usd(used)} over limit {usd(limit)} on {what}")

    def _reverted(self, m: FillReverted) -> None:
        key = (m.pair_id, m.event_key, m.instrument.venue)
        amount = Money(mul(m.price, m.qty, Round.UP))
        sign = -1 if m.side is Side.BUY else 1
        self._committed[key] = Money(max(0, self._committed.get(key, 0) + sign * amount))
        if m.instrument.venue in self._balances:
            self._balances[m.instrument.venue] = Money(
                self._balances[m.instrument.venue] - sign * amount)

    def _loss(self, m: LossRealised) -> None:
        self.daily_loss = Money(self.daily_loss + m.amount)
        res = self._reservations.get(m.execution_id)
        if res is not None and m.amount > 0:
            res.lost = True
        if self.daily_loss >= self.limits.max_daily_loss:
            self._escalate(BreakerState.HALTED,
                           f"daily loss {usd(self.daily_loss)} reached limit "
                           f"{usd(self.limits.max_daily_loss)} (last: {m.reason}, {m.pair_id})")
        else:
            self._persist()

    def _finished(self, m: ExecutionFinished) -> None:
        res = self._reservations.get(m.execution_id)
        if res is None:
            return
        res.finished = True
        if m.outcome is ExecutionOutcome.HEDGED:
            self.consecutive_errors = 0
        if res.lost:
            self.consecutive_losses += 1
        elif m.outcome is ExecutionOutcome.HEDGED:
            self.consecutive_losses = 0
        if res.lost and self.consecutive_losses >= self.limits.max_consecutive_losses:
            self._escalate(BreakerState.REDUCING,
                           f"{self.consecutive_losses} consecutive losing executions "
                           f"(last on {res.pair_id})")
        else:
            self._persist()
        if not res.unknown:
            self._release(m.execution_id)

    # --- breaker ------------------------------------------------------------------------

    def _escalate(self, state: BreakerState, reason: str) -> None:
        order = (BreakerState.ACTIVE, BreakerState.REDUCING, BreakerState.HALTED)
        if order.index(state) <= order.index(self.breaker):
            self._persist()
            return
        self.breaker, self.reason = state, reason
        self._persist()
        self.alerts.publish(Alert("breaker_" + state.value, Severity.CRITICAL,
                                  f"breaker {state.value}: {reason}"))
        if state is BreakerState.HALTED:
            self._send_halt(reason)

    def _send_halt(self, reason: str) -> None:
        try:
            self.halt.send_nowait(Halt(reason))
        except trio.WouldBlock:
            pass

    def _roll_day(self) -> None:
        today = self.today()
        if today != self.day:
            self.day, self.daily_loss = today, Money(0)
            self._persist()

    def effective_state(self) -> BreakerState:
        if self.breaker is BreakerState.ACTIVE and self.drift:
            return BreakerState.REDUCING
        return self.breaker

    def reason_text(self) -> str:
        if self.breaker is BreakerState.ACTIVE and self.drift:
            return "reconciliation drift: " + "; ".join(self.drift)
        return self.reason

    def statistics(self) -> RiskStatistics:
        return RiskStatistics(
            breaker=self.effective_state(), reason=self.reason_text(),
            daily_loss=self.daily_loss, consecutive_errors=self.consecutive_errors,
            consecutive_losses=self.consecutive_losses, reserved=self._reserved(),
            committed=Money(sum(self._committed.values())),
            open_reservations=len(self._reservations),
            blocked_events=tuple(sorted({r.event_key for r in self._reservations.values()
                                         if r.unknown})),
            granted=self.granted, denials=dict(self.denials))


@attrs.frozen
class RiskClient:
    """The market actors' handle on the risk actor: one call and typed casts."""

    inbox: trio.MemorySendChannel[RiskMessage]

    async def reserve(self, execution_id: str, pair_id: str, event_key: str,
                      legs: tuple) -> Granted | Denied:
        """Call ``Reserve``; raises ``trio.TooSlowError`` if the risk actor does not answer.

        If the caller is cancelled while waiting, the reply channel is closed without a
        checkpoint: a reply not yet sent makes the risk actor release the reservation itself,
        and one already sent but not read is released here with ``ExecutionFinished``.
        """
        send, receive = trio.open_memory_channel[Granted | Denied](1)
        reply: Granted | Denied | None = None
        try:
            with trio.fail_after(CALL_TIMEOUT_S):
                await self.inbox.send(Reserve(execution_id, pair_id, event_key, legs, send))
                reply = await receive.receive()
            return reply
        finally:
            late = None
            if reply is None:
                try:
                    late = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    late = None
            receive.close()
            if isinstance(late, Granted):
                with trio.move_on_after(CALL_TIMEOUT_S, shield=True):
                    await self.inbox.send(ExecutionFinished(
                        execution_id, ExecutionOutcome.ABORTED, "caller cancelled"))

    async def cast(self, message: RiskMessage) -> None:
        await self.inbox.send(message)


def open_risk_channel() -> tuple[RiskClient, trio.MemoryReceiveChannel[RiskMessage]]:
    """A bounded risk inbox: the client for the actors and the receive end for ``RiskActor``."""
    send, receive = trio.open_memory_channel[RiskMessage](INBOX_SIZE)
    return RiskClient(send), receive
