# Design note: the market actor (one per matched pair).
#
# Problem: detect an arbitrage on three books that change thousands of times a second, and turn
# at most one detection at a time into an execution, without ever trading on a stale, gapped or
# half-updated book, and without letting a burst of identical signals become several orders.
#
# Naive approach: a callback per book update that checks the edge and fires orders. A burst of
# updates then fires a burst of executions, a slow execution blocks the feed, and a detection made
# before an await is acted on after the book has moved.
#
# Chosen approach: the actor is a single loop. It sleeps on its conflating mailbox (latest value
# wins, see ``actors.router``) or a periodic scan timer, then runs one step: gates (pair tradable,
# not blacklisted, feeds live, all three books fresh and valid, fees known), detection graded by
# the operator's quality gate (``arb.quality``), a
# reservation call to the risk actor, a re-price against the current books after that await (a
# vanished or worse edge counts as "expired", not an error), the trade-log row, and the execution
# itself, inline. Because the loop is busy while an execution runs, a second execution on this
# market cannot start; the risk actor's one-reservation-per-event rule covers sibling markets of
# the same game. ``ExecutionFinished`` is sent from a ``finally`` under a shielded, time-bounded
# scope, so the reservation is released (or, with an UNKNOWN leg, kept on purpose) on every path,
# including errors and cancellation.
#
# One-sided repairs are counted; ``mismatch_limit`` of them within ``mismatch_window_s``
# blacklists the pair for ``blacklist_s`` (entries only) and alerts.
#
# Trade log: every attempt that gets an execution id is a row: executed ones with their
# detection (``record_attempt``), expired ones and risk denials as aborted attempts with their
# reason (``record_aborted``; denials throttled per reason, see ``denial_record_s``).
# Detections are counted by path (``event`` or ``scan``). ``retire`` (market removal, or a
# graceful stop's drain) blocks new entries and ends ``serve`` once the current step, and so any
# execution in flight with its repair, is done; ``executing`` names that execution meanwhile.
# An execution cut short after a one-sided fill (an error, or the stop path cancelling it)
# reports what its repair had not yet shed, net of every repair order's fills: outcome EXPOSED,
# ``UnwindFailed`` to risk and an ``unwind_failed`` alert.
from __future__ import annotations

import collections
import enum
import itertools
import secrets
from collections.abc import Callable

import attrs
import trio

from actors.alerts import Alert, Severity
from actors.books import PairBooks
from actors.execution import Execution, ExecutionParams, plan_legs, still_valid
from actors.legs import CLEANUP_S, OrderDesk, OrderTag
from actors.messages import Denied, DenyReason, ExecutionFinished, ExecutionOutcome, UnwindFailed
from actors.router import Changes, Mailbox
from arb import edge, tradelog
from arb.domain import Venue
from arb.edge import Opportunity
from arb.fees import FeeError
from arb.ledger import Detection, ExecutionStart
from arb.money import SCALE, format_trimmed
from arb.pairs import MarketPair
from arb.quality import Confidence, QualityGate, assess
from arb.venues.protocol import FeedHealth, FeedState

Detector = Callable[[MarketPair, PairBooks], Opportunity | None]
"""Best opportunity on the pair's current books, or None (``arb.edge.best`` bound to params)."""


def edge_detector(params: edge.EdgeParams) -> Detector:
    """The production detector: ``arb.edge.best`` on the pair's three books."""
    def detect(pair: MarketPair, books: PairBooks) -> Opportunity | None:
        return edge.best(pair, books.kalshi, books.poly_yes, books.poly_no, params)
    return detect


def kind_name(kind: object) -> str:
    return str(kind.value) if isinstance(kind, enum.Enum) else str(kind)


@attrs.frozen
class MarketParams:
    max_book_age_s: float = 2.0
    scan_interval_s: float = 1.0
    """Full re-detection this often even without book changes (safety net, counted)."""
    execution: ExecutionParams = ExecutionParams()
    gate: QualityGate = QualityGate()
    """The operator's minimums on a detection (edge, book age, slippage, fill probability,
    confidence); a detection failing one is counted as filtered by its reason."""
    mismatch_limit: int = 3
    mismatch_window_s: float = 3600.0
    blacklist_s: float = 1800.0
    denial_record_s: float = 60.0
    """A risk denial goes to the trade log (an aborted attempt with its reason) the first time
    per reason and then at most once per this many seconds per reason and market; a persistent
    denial (breaker REDUCING, limit reached) would otherwise write a row every scan. Every
    denial is counted."""


class ExecutionIds:
    """Execution ids unique across processes and restarts: a random prefix and a counter."""

    def __init__(self, prefix: str | None = None) -> None:
        self._prefix = prefix if prefix is not None else secrets.token_hex(4)
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"x{self._prefix}{next(self._counter):06d}"


@attrs.frozen
class MarketStatistics:
    pair_id: str
    triggers: dict[str, int]
    """Steps run per trigger: ``change`` (mailbox) or ``scan`` (timer)."""
    skipped: dict[str, int]
    detections: int
    detected: dict[str, int]
    """Detections by path: ``event`` (a book change) or ``scan`` (the safety-net timer)."""
    filtered: dict[str, int]
    denied: dict[DenyReason, int]
    expired: int
    outcomes: dict[ExecutionOutcome, int]
    mismatches: int
    blacklisted_until: float | None


@attrs.define(eq=False)
class MarketActor:
    pair: MarketPair
    books: PairBooks
    mailbox: Mailbox
    detect: Detector
    desk: OrderDesk
    params: MarketParams = MarketParams()
    new_id: Callable[[], str] = attrs.field(factory=ExecutionIds)
    detections: int = 0
    expired: int = 0
    mismatches: int = 0
    blacklisted_until: float | None = None
    stop_reason: str | None = None
    """Set by ``retire``: the market is being removed, or the bot is stopping; no new entries."""
    executing: str | None = None
    """The id of the execution in flight (granted, until its outcome is reported), if any."""
    triggers: collections.Counter[str] = attrs.field(factory=collections.Counter)
    detected: collections.Counter[str] = attrs.field(factory=collections.Counter)
    skipped: collections.Counter[str] = attrs.field(factory=collections.Counter)
    filtered: collections.Counter[str] = attrs.field(factory=collections.Counter)
    denied: collections.Counter[DenyReason] = attrs.field(factory=collections.Counter)
    outcomes: collections.Counter[ExecutionOutcome] = attrs.field(factory=collections.Counter)
    _health: dict[Venue, FeedHealth] = attrs.field(factory=dict)
    _denial_recorded: dict[DenyReason, float] = attrs.field(factory=dict)
    _recent_mismatches: collections.deque[float] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._recent_mismatches = collections.deque(maxlen=max(self.params.mismatch_limit, 1))

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Wait until all three books are seeded, report started, then run until retired.

        Returns (without reporting started if the books never seeded) once ``retire`` was
        called and no step is running: an execution in flight always finishes first.
        """
        while not self.books.seeded():
            if self.stop_reason is not None:
                return
            self._note(await self.mailbox.wait_changes())
        task_status.started()
        while self.stop_reason is None:
            trigger = "scan"
            with trio.move_on_after(self.params.scan_interval_s):
                self._note(await self.mailbox.wait_changes())
                trigger = "change"
            if self.stop_reason is not None:
                return
            await self.step(trigger)

    def retire(self, reason: str) -> None:
        """Take no new entry and let ``serve`` return once the current step (and its
        execution, if any) has finished. Idempotent: the first reason is kept."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.mailbox.wake()

    def _note(self, changes: Changes) -> None:
        for health in changes.health:
            self._health[health.venue] = health

    def blocked(self) -> str | None:
        """Why no entry may be made now, or None."""
        if self.stop_reason is not None:
            return "retiring"
        if not self.pair.tradable:
            return "not_tradable"
        now = trio.current_time()
        if self.blacklisted_until is not None:
            if now < self.blacklisted_until:
                return "blacklisted"
            self.blacklisted_until = None
        for health in self._health.values():
            if health.state is not FeedState.LIVE:
                return f"feed_{health.state.value}"
        if not self.books.fresh(now, self.params.max_book_age_s):
            return "stale_book"
        return None

    async def step(self, trigger: str) -> None:
        """One detection pass; executes at most one opportunity."""
        self.triggers[trigger] += 1
        reason = self.blocked()
        if reason is not None:
            self.skipped[reason] += 1
            return
        opportunity = self.detect(self.pair, self.books)
        if opportunity is None:
            return
        self.detections += 1
        self.detected["event" if trigger == "change" else "scan"] += 1
        assessment = assess(opportunity, now=trio.current_time(), received_at=(
            self.books.received_at(opportunity.legs[0].instrument),
            self.books.received_at(opportunity.legs[1].instrument)))
        verdict = self.params.gate.check(assessment)
        if not verdict.passed:
            self.filtered[verdict.reason] += 1
            return
        try:
            legs = plan_legs(self.pair, opportunity)
        except FeeError:
            self.skipped["fee_unknown"] += 1
            return
        execution_id = self.new_id()
        reply = await self.desk.risk.reserve(execution_id, self.pair.pair_id, self.pair.event_key,
                                             legs)
        start = ExecutionStart(
            execution_id, self.pair.pair_id, kind_name(opportunity.kind), opportunity.qty,
            opportunity.profit, assessment.fill_probability_pct * SCALE // 100,
            assessment.confidence.rank * SCALE // Confidence.HIGH.rank)
        detection = tradelog.detection(self.pair, opportunity, assessment)
        if isinstance(reply, Denied):
            self.denied[reply.reason] += 1
            self._record_denial(start, detection, reply)
            return
        tag = OrderTag(execution_id, self.pair.pair_id, self.pair.event_key)
        self.executing = execution_id
        execution = Execution(self.desk, tag, self.pair, self.books, opportunity,
                              self.params.execution)
        recorded = False
        try:
            blocked = self.blocked()
            if blocked is not None or not still_valid(opportunity, self.books):
                self.expired += 1
                execution.outcome = ExecutionOutcome.EXPIRED
                self.desk.ledger.record_aborted(
                    start, detection, "expired",
                    f"entry blocked ({blocked}) before sending" if blocked is not None
                    else "edge gone when re-priced before sending")
                return
            self.desk.ledger.record_attempt(start, detection)
            recorded = True
            await execution.run()
        finally:
            outcome = execution.final_outcome()
            self.outcomes[outcome] += 1
            left = (execution.unreported_exposure() if outcome is ExecutionOutcome.EXPOSED
                    else None)
            if left is not None:
                over, qty = left
                unknown = execution.repair.unknown_orders() if execution.repair else []
                execution.detail = (
                    f"stopped before its one-sided fill was repaired: {format_trimmed(qty)} of "
                    f"{over.instrument} still held"
                    + (f" (outcome unknown: {', '.join(unknown)})" if unknown else ""))
                self.desk.alerts.publish(Alert(
                    "unwind_failed", Severity.CRITICAL, f"{self.pair.pair_id}: {execution.detail}",
                    (("execution", execution_id),)))
            with trio.move_on_after(CLEANUP_S, shield=True):
                if left is not None:
                    await self.desk.risk.cast(UnwindFailed(
                        execution_id, self.pair.pair_id, left[0].instrument, left[1],
                        execution.detail))
                await self.desk.risk.cast(ExecutionFinished(execution_id, outcome,
                                                            execution.detail))
            if recorded:
                self.desk.ledger.finish_execution(execution_id, outcome.value, execution.detail)
            if outcome in (ExecutionOutcome.UNWOUND, ExecutionOutcome.EXPOSED):
                self._mismatch()
            self.executing = None

    def _record_denial(self, start: ExecutionStart, detection: Detection,
                       denied: Denied) -> None:
        now = trio.current_time()
        last = self._denial_recorded.get(denied.reason)
        if last is not None and now - last < self.params.denial_record_s:
            return
        self._denial_recorded[denied.reason] = now
        self.desk.ledger.record_aborted(
            start, detection, "denied",
            f"{denied.reason.value}: {denied.detail}" if denied.detail else denied.reason.value)

    def _mismatch(self) -> None:
        self.mismatches += 1
        now = trio.current_time()
        self._recent_mismatches.append(now)
        window = self._recent_mismatches
        if (len(window) == self.params.mismatch_limit
                and now - window[0] <= self.params.mismatch_window_s):
            self.blacklisted_until = now + self.params.blacklist_s
            window.clear()
            self.desk.alerts.publish(Alert(
                "pair_blacklisted", Severity.CRITICAL,
                f"{self.pair.pair_id}: {self.params.mismatch_limit} one-sided fills within "
                f"{self.params.mismatch_window_s:.0f}s; no entries for "
                f"{self.params.blacklist_s:.0f}s"))

    def statistics(self) -> MarketStatistics:
        return MarketStatistics(self.pair.pair_id, dict(self.triggers), dict(self.skipped),
                                self.detections, dict(self.detected), dict(self.filtered),
                                dict(self.denied),
                                self.expired,
                                dict(self.outcomes), self.mismatches, self.blacklisted_until)


@attrs.define(eq=False)
class MarketTotals:
    """Market actors' counters summed, so that totals survive restarts and removals."""

    detected: collections.Counter[str] = attrs.field(factory=collections.Counter)
    filtered: collections.Counter[str] = attrs.field(factory=collections.Counter)
    skipped: collections.Counter[str] = attrs.field(factory=collections.Counter)
    denied: collections.Counter[DenyReason] = attrs.field(factory=collections.Counter)
    outcomes: collections.Counter[ExecutionOutcome] = attrs.field(factory=collections.Counter)
    expired: int = 0
    mismatches: int = 0

    def add(self, part: MarketTotals | MarketStatistics) -> None:
        self.detected.update(part.detected)
        self.filtered.update(part.filtered)
        self.skipped.update(part.skipped)
        self.denied.update(part.denied)
        self.outcomes.update(part.outcomes)
        self.expired += part.expired
        self.mismatches += part.mismatches

    def plus(self, *parts: MarketTotals | MarketStatistics) -> MarketTotals:
        """A new total: this one and ``parts``."""
        out = MarketTotals()
        for part in (self, *parts):
            out.add(part)
        return out
