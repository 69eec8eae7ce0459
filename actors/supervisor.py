# Design note: supervision, the trading scope and the stop path.
#
# Problem: many actors with different failure policies. A crashing market actor should restart
# without touching its siblings, but not forever; a feed should reconnect with backoff; a failure
# in risk, the ledger or reconciliation means our picture of exposure is gone, so trading must
# stop rather than restart around it. And "stop" must be one path: a breaker trip, SIGINT and
# SIGTERM all end entries, cancel every open order on both venues and reconcile, bounded in
# time, with a second signal as the way out of a stuck cleanup. A graceful stop (a signal, an
# operator stop) must not cut a repair in half: a one-sided fill whose unwind ladder is waiting
# out Polymarket's settlement lag, cancelled because the run ended, is naked exposure.
#
# Naive approach: one nursery for everything. The first market actor exception then cancels
# every other actor; catching it inside each actor with ``except Exception: pass`` hides real
# failures and restarts forever.
#
# Chosen approach:
# - Root nursery: alerts, risk, feeds, user streams, reconciler (a startup barrier: trading starts
#   only after its first pass), the halt/signal watchers, and the trading task.
# - The trading task owns a ``CancelScope``; inside it, one supervision loop per pair restarts its
#   market actor one-for-one, at most ``restart_limit`` times in ``restart_window_s``, then
#   disables the pair and alerts. Ledger errors and a wedged risk actor escaping a market actor
#   are core failures, not restarts.
# - Feeds and user streams restart with capped, jittered exponential backoff, and are disabled
#   (with an alert) after ``feed_restart_limit`` failures in ``restart_window_s``.
# - Core tasks are wrapped so any exception becomes ``CoreFailure`` naming the component; the one
#   ``except*`` in ``run`` turns it into a ``Shutdown`` after a shielded cancel-all.
# - Stop. A graceful stop (a signal, an operator or app stop; anything but a breaker trip or a
#   core failure) first drains: every market actor is retired (no new entry; its loop returns
#   once the execution in flight, repair included, has reached a terminal state) and the stop
#   path waits for all of them, at most ``drain_s``. Executions still running at that bound are
#   cut (cancelled below) and reported: an alert naming them, ``Shutdown.drain_cut``, and the
#   market actor's own report of what is left (outcome EXPOSED, ``UnwindFailed``, an alert). A
#   breaker trip skips the drain, and one arriving during a drain ends it at once. Then, for
#   every stop: cancel the trading scope, wait (bounded, ``actor_cleanup_s``) for the market
#   actors' own shielded cleanup (they record UNKNOWN legs and release reservations), then,
#   shielded and bounded by ``cleanup_s``, cancel every open order on both venues and run one
#   reconciliation pass. The whole stop path is bounded by ``drain_s + cleanup_s``. A second
#   signal, in either phase, abandons what is left (the drain and the cleanup) and the process
#   exits at once.
#
# Markets at run time (discovery refresh, operator decisions), without a restart:
# - ``await add_market(spec)`` supervises a new pair (before the startup barrier it is queued and
#   starts with the others). The same pair id with an equal spec is a no-op; a different spec
#   (the pair changed: verdict, orientation, fees, grid, or new book objects) replaces the running
#   actor: the old one is removed first (below), then the new one starts with a fresh restart
#   budget. Returns False, starting nothing, once the stop path has begun.
# - ``await remove_market(pair_id, reason)`` retires the actor: it takes no new entry, and its
#   loop returns only after the current step, including an execution in flight, has finished, so
#   ``ExecutionFinished`` always reaches risk and no reservation is left held by nobody. A leg
#   still UNKNOWN when its execution ends keeps its reservation and blocks its event in risk, as
#   for any execution; reconciliation resolves it, which needs no market actor. Then the router
#   subscription is dropped, and the pair leaves ``actors`` and ``disabled`` (a disabled pair is
#   removed at once). Removal waits for all of that and returns False for an unknown pair id.
#   Restart delays are cut short by a removal; a crash during removal is not restarted.
# - ``await set_markets(specs, reason)`` reconciles the whole set at once (what the app's
#   refresh calls with the specs of every pair it wants traded): unknown pairs are added,
#   changed ones replaced, missing ones removed with ``reason``, concurrently; it waits for every
#   removal and returns the ``MarketChanges`` actually made (nothing is added once stopping).
# A market removed because it settled should also be reported to ``Reconciler.note_ended``, so
# reconciliation marks its positions settled instead of reporting drift.
# ``markets`` is only the initial list; ``market_specs()`` is the current one.
from __future__ import annotations

import collections
import random
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence

import attrs
import trio

from actors.alerts import Alert, AlertHub, Severity, serve_alerts
from actors.books import PairBooks
from actors.legs import OrderDesk
from actors.market import Detector, ExecutionIds, MarketActor, MarketParams, MarketTotals
from actors.messages import Halt
from actors.reconcile import PassReport, Reconciler, serve_reconciler
from actors.risk import RiskActor
from actors.router import BookRouter
from arb.domain import Venue
from arb.ledger import LedgerError
from arb.pairs import MarketPair
from arb.venues.protocol import OutcomeUnknown, Rejected, Transient, VenueAdapter


def first_leaf(exc: BaseException) -> BaseException:
    """The first non-group exception inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class CoreFailure(Exception):
    """A core component (risk, ledger, reconciliation, alerts) failed: trading must stop."""

    def __init__(self, component: str, cause: BaseException | str) -> None:
        super().__init__(f"{component} failed: {cause}")
        self.component = component


@attrs.frozen
class SupervisorParams:
    restart_limit: int = 3
    restart_window_s: float = 60.0
    restart_delay_s: float = 1.0
    feed_backoff_initial_s: float = 0.5
    feed_backoff_max_s: float = 30.0
    feed_restart_limit: int = 20
    drain_s: float = 20.0
    """A graceful stop waits at most this long for the executions in flight, repairs included,
    to reach a terminal state before cancelling them: room for a completion plus an unwind
    ladder with settlement-lag retries (e.g. 3 x 2 s waits and a few IOC round trips)."""
    cleanup_s: float = 15.0
    """Bound of the shielded part of the stop path, after the drain: the market actors' own
    cleanup, cancel-all and reconciliation. A stop takes at most ``drain_s + cleanup_s``."""
    actor_cleanup_s: float = 6.0
    """Within ``cleanup_s``: how long the market actors' own shielded cleanup (after the
    trading scope is cancelled) is waited for before cancel-all."""


@attrs.frozen
class MarketSpec:
    pair: MarketPair
    books: PairBooks
    detect: Detector


@attrs.frozen
class MarketChanges:
    """What ``set_markets`` did, by pair id."""

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@attrs.frozen
class MarketRemoval:
    pair_id: str
    reason: str
    at: float
    """Trio time the market actor had stopped."""


REMOVALS_KEPT = 200
"""Recent market removals kept for the status view."""


@attrs.define(eq=False)
class _MarketSlot:
    """One supervised pair: its spec, its current actor, and how it stops."""

    spec: MarketSpec
    started: bool = False
    actor: MarketActor | None = None
    stop_reason: str | None = None
    stopping: trio.Event = attrs.field(factory=trio.Event)
    stopped: trio.Event = attrs.field(factory=trio.Event)

    @property
    def pair_id(self) -> str:
        return self.spec.pair.pair_id

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stopping.set()
        if self.actor is not None:
            self.actor.retire(self.stop_reason)


@attrs.frozen
class TaskSpec:
    """A restartable task (a feed connection or a user stream); ``serve`` runs until it fails."""

    name: str
    venue: Venue
    serve: Callable[[], Awaitable[None]]


@attrs.frozen
class Shutdown:
    reason: str
    halted: bool
    """True for a breaker trip or a core failure; False for a signal or an operator stop."""
    cancelled: dict[Venue, int]
    """Orders cancelled per venue by the stop path (absent: the cancel-all failed)."""
    reconciled: PassReport | None
    core_failure: str | None = None
    drain_cut: tuple[str, ...] = ()
    """Executions a graceful stop's drain had to cancel at its bound (still running)."""


@attrs.define(eq=False)
class Supervisor:
    desk: OrderDesk
    risk: RiskActor
    router: BookRouter
    reconciler: Reconciler
    alerts: AlertHub
    halts: trio.MemoryReceiveChannel[Halt]
    """The risk actor's ``halt`` channel, receive end."""
    markets: Sequence[MarketSpec]
    market_params: MarketParams = MarketParams()
    feeds: Sequence[TaskSpec] = ()
    params: SupervisorParams = SupervisorParams()
    new_id: Callable[[], str] = attrs.field(factory=ExecutionIds)
    actors: dict[str, MarketActor] = attrs.field(factory=dict)
    restarts: collections.Counter[str] = attrs.field(factory=collections.Counter)
    disabled: dict[str, str] = attrs.field(factory=dict)
    """Pair id or task name -> why it is no longer restarted."""
    trading_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    startup_report: PassReport | None = None
    """The first reconciliation pass (the startup barrier), once it has run."""
    ended: MarketTotals = attrs.field(factory=MarketTotals)
    """Counters of market actors that have ended (crashed, disabled, removed)."""
    removals: collections.deque[MarketRemoval] = attrs.field(
        factory=lambda: collections.deque(maxlen=REMOVALS_KEPT))
    _slots: dict[str, _MarketSlot] = attrs.field(factory=dict)
    _market_nursery: trio.Nursery | None = None
    _stop_reason: str | None = None
    _stop_halted: bool = False
    _stop_requested: trio.Event = attrs.field(factory=trio.Event)
    _trading_done: trio.Event = attrs.field(factory=trio.Event)
    _stop_scope: trio.CancelScope | None = None
    """The phase of the stop path running now (drain or cleanup): what a second signal ends."""
    _drain_scope: trio.CancelScope | None = None
    _abandoned: bool = False
    _signals: int = 0

    def __attrs_post_init__(self) -> None:
        for spec in self.markets:
            if spec.pair.pair_id in self._slots:
                raise ValueError(f"market {spec.pair.pair_id} is listed twice")
            self._slots[spec.pair.pair_id] = _MarketSlot(spec)

    @property
    def venues(self) -> Mapping[Venue, VenueAdapter]:
        return self.desk.venues

    def market_totals(self) -> MarketTotals:
        """Every market actor's counters since the start, ended actors included."""
        return self.ended.plus(*(slot.actor.statistics() for slot in self._slots.values()
                                 if slot.actor is not None))

    def market_specs(self) -> tuple[MarketSpec, ...]:
        """The markets supervised now (those being removed included, until they stop)."""
        return tuple(slot.spec for slot in self._slots.values())

    async def add_market(self, spec: MarketSpec, *, reason: str = "pair changed") -> bool:
        """Supervise ``spec``'s pair; replaces (after removing it with ``reason``) a running
        actor of the same pair id whose spec differs. False if nothing was started: the same
        spec is already supervised, or the stop path has begun (then nothing is removed
        either)."""
        if self._stop_requested.is_set():
            return False
        pair_id = spec.pair.pair_id
        while (slot := self._slots.get(pair_id)) is not None:
            if slot.stop_reason is None:
                if slot.spec == spec:
                    return False
                slot.stop(reason)
            await self._finish_removal(slot)
        if self._stop_requested.is_set():
            return False
        slot = _MarketSlot(spec)
        self._slots[pair_id] = slot
        if self._market_nursery is not None:
            slot.started = True
            self._market_nursery.start_soon(self._supervise_market, slot)
        return True

    async def remove_market(self, pair_id: str, reason: str) -> bool:
        """Stop supervising ``pair_id`` once its in-flight execution (if any) has finished;
        returns when it has stopped, False if the pair id is not supervised."""
        slot = self._slots.get(pair_id)
        if slot is None:
            return False
        slot.stop(reason)
        await self._finish_removal(slot)
        return True

    async def set_markets(self, specs: Sequence[MarketSpec], *,
                          reason: str = "no longer wanted") -> MarketChanges:
        """Make the supervised markets exactly ``specs``: add, replace and remove (waiting for
        every removal)."""
        wanted: dict[str, MarketSpec] = {}
        for spec in specs:
            if spec.pair.pair_id in wanted:
                raise ValueError(f"market {spec.pair.pair_id} is listed twice")
            wanted[spec.pair.pair_id] = spec
        added: list[str] = []
        replaced: list[str] = []
        removed: list[str] = []

        async def add(spec: MarketSpec, done: list[str]) -> None:
            if await self.add_market(spec):
                done.append(spec.pair.pair_id)

        async def remove(pair_id: str) -> None:
            if await self.remove_market(pair_id, reason):
                removed.append(pair_id)

        async with trio.open_nursery() as nursery:
            for pair_id, slot in list(self._slots.items()):
                if pair_id not in wanted and slot.stop_reason is None:
                    nursery.start_soon(remove, pair_id)
            for pair_id, spec in wanted.items():
                slot = self._slots.get(pair_id)
                running = slot is not None and slot.stop_reason is None
                if running and slot.spec == spec:
                    continue
                nursery.start_soon(add, spec, replaced if running else added)
        return MarketChanges(tuple(sorted(added)), tuple(sorted(replaced)),
                             tuple(sorted(removed)))

    async def _finish_removal(self, slot: _MarketSlot) -> None:
        if not slot.started:
            slot.stopped.set()
        await slot.stopped.wait()
        pair_id = slot.pair_id
        if self._slots.get(pair_id) is not slot:
            return  # another waiter already finished this removal
        del self._slots[pair_id]
        self.actors.pop(pair_id, None)
        self.disabled.pop(pair_id, None)
        reason = slot.stop_reason or "removed"
        self.removals.append(MarketRemoval(pair_id, reason, trio.current_time()))
        self.alerts.publish(Alert("market_removed", Severity.INFO, f"{pair_id}: {reason}"))

    def request_stop(self, reason: str, *, halted: bool = False) -> None:
        """Ask for the stop path (idempotent: the first reason wins). A halt during a graceful
        stop escalates it: the drain ends at once and the stop is reported halted."""
        if self._stop_reason is None:
            self._stop_reason, self._stop_halted = reason, halted
        elif halted and not self._stop_halted:
            self._stop_reason, self._stop_halted = f"{self._stop_reason}, then {reason}", True
            if self._drain_scope is not None:
                self._drain_scope.cancel()
        self._stop_requested.set()

    async def run(self, *, handle_signals: bool = True) -> Shutdown:
        """Run the bot until a stop request, a breaker trip or a core failure."""
        failure: BaseException | None = None
        shutdown: Shutdown | None = None
        try:
            async with trio.open_nursery() as root:
                await root.start(self._core, "alerts", serve_alerts, self.alerts)
                await root.start(self._core, "risk", self.risk.serve)
                for spec in self.feeds:
                    root.start_soon(self._supervise_task, spec)
                root.start_soon(self._watch_halts)
                if handle_signals:
                    root.start_soon(self._watch_signals)
                root.start_soon(self._trading)
                await self._stop_requested.wait()
                shutdown = await self._stop()
                root.cancel_scope.cancel()
        except* CoreFailure as group:
            failure = first_leaf(group)
        if shutdown is not None:
            return shutdown
        self.alerts.publish(Alert("core_failure", Severity.CRITICAL,
                                  f"trading stopped: {failure}"))
        cancelled = await self._cancel_everything()
        return Shutdown(f"core failure: {failure}", True, cancelled, None, str(failure))

    async def _core(self, name: str, serve: Callable[..., Awaitable[None]], *args: object,
                    task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await serve(*args, task_status=task_status)
        except* Exception as group:
            raise CoreFailure(name, first_leaf(group)) from None
        raise CoreFailure(name, "exited")

    async def _watch_halts(self) -> None:
        async for halt in self.halts:
            self.request_stop(f"breaker halted: {halt.reason}", halted=True)

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                self.on_signal(signal.Signals(signum).name)

    def on_signal(self, name: str) -> None:
        """First signal: the stop path. Second: abandon the drain and the cleanup, exit at
        once."""
        self._signals += 1
        if self._signals == 1:
            self.request_stop(f"signal {name}")
            return
        self._abandoned = True
        if self._stop_scope is not None:
            self._stop_scope.cancel()
        self._stop_requested.set()

    async def _trading(self) -> None:
        try:
            with self.trading_scope:
                async with trio.open_nursery() as nursery:
                    # The startup barrier: no market actor before the first full pass.
                    self.startup_report = await nursery.start(
                        self._core, "reconciliation", serve_reconciler, self.reconciler)
                    self._market_nursery = nursery
                    for slot in list(self._slots.values()):
                        if not slot.started:
                            slot.started = True
                            nursery.start_soon(self._supervise_market, slot)
        finally:
            self._market_nursery = None
            for slot in self._slots.values():
                if not slot.started:
                    slot.stopped.set()
            self._trading_done.set()

    async def _supervise_market(self, slot: _MarketSlot) -> None:
        try:
            await self._restart_market(slot)
        finally:
            slot.stopped.set()

    async def _restart_market(self, slot: _MarketSlot) -> None:
        spec, pair_id = slot.spec, slot.pair_id
        recent: collections.deque[float] = collections.deque()
        while slot.stop_reason is None:
            mailbox = self.router.subscribe(spec.books.keys)
            actor = MarketActor(spec.pair, spec.books, mailbox, spec.detect, self.desk,
                                self.market_params, self.new_id)
            self.actors[pair_id] = actor
            slot.actor = actor
            crash: BaseException | None = None
            try:
                await actor.serve()
            except* (LedgerError, trio.TooSlowError, CoreFailure) as group:
                raise CoreFailure(f"market {pair_id}", first_leaf(group)) from None
            except* Exception as group:
                crash = first_leaf(group)
            finally:
                slot.actor = None
                self.router.unsubscribe(mailbox)
                self.ended.add(actor.statistics())
            if crash is None or slot.stop_reason is not None:
                return  # retired: removal takes it from here
            self.restarts[pair_id] += 1
            now = trio.current_time()
            recent.append(now)
            while recent and recent[0] < now - self.params.restart_window_s:
                recent.popleft()
            if len(recent) > self.params.restart_limit:
                reason = (f"{len(recent)} crashes in {self.params.restart_window_s:.0f}s, last: "
                          f"{crash!r}")
                self.disabled[pair_id] = reason
                self.alerts.publish(Alert("pair_disabled", Severity.CRITICAL,
                                          f"{pair_id}: disabled after {reason}"))
                return
            self.alerts.publish(Alert("market_actor_restarted", Severity.WARNING,
                                      f"{pair_id}: crashed ({crash!r}); restarting"))
            with trio.move_on_after(self.params.restart_delay_s):
                await slot.stopping.wait()

    async def _supervise_task(self, spec: TaskSpec) -> None:
        recent: collections.deque[float] = collections.deque()
        failures = 0
        while True:
            started = trio.current_time()
            try:
                await spec.serve()
                problem = "ended"
            except Exception as exc:  # a feed failure is retried with backoff, never swallowed
                problem = repr(exc)
            self.restarts[spec.name] += 1
            now = trio.current_time()
            failures = 1 if now - started > self.params.feed_backoff_max_s else failures + 1
            recent.append(now)
            while recent and recent[0] < now - self.params.restart_window_s:
                recent.popleft()
            if len(recent) > self.params.feed_restart_limit:
                self.disabled[spec.name] = f"{len(recent)} failures, last: {problem}"
                self.alerts.publish(Alert("feed_disabled", Severity.CRITICAL,
                                          f"{spec.name} ({spec.venue.value}) disabled: {problem}"))
                return
            delay = min(self.params.feed_backoff_max_s,
                        self.params.feed_backoff_initial_s * 2 ** (failures - 1))
            self.alerts.publish(Alert("feed_restarted", Severity.WARNING,
                                      f"{spec.name} ({spec.venue.value}): {problem}; "
                                      f"reconnecting in {delay:.1f}s"))
            await trio.sleep(delay * random.uniform(0.5, 1.0))

    async def _stop(self) -> Shutdown:
        cut: tuple[str, ...] = ()
        if not self._stop_halted and not self._abandoned:
            cut = await self._drain()
        self.trading_scope.cancel()
        cancelled: dict[Venue, int] = {}
        report: PassReport | None = None
        if not self._abandoned:
            with trio.move_on_after(self.params.cleanup_s, shield=True) as scope:
                self._stop_scope = scope
                with trio.move_on_after(self.params.actor_cleanup_s):
                    await self._trading_done.wait()
                cancelled = await self._cancel_orders()
                report = await self.reconciler.reconcile()
        reason = self._stop_reason or "stop requested"
        self.alerts.publish(Alert(
            "trading_stopped", Severity.CRITICAL if self._stop_halted else Severity.WARNING,
            f"trading stopped: {reason}; cancelled "
            + ", ".join(f"{v.value} {n}" for v, n in cancelled.items())
            + ("; reconciled" if report is not None else "; cleanup incomplete")))
        return Shutdown(reason, self._stop_halted, cancelled, report, drain_cut=cut)

    async def _drain(self) -> tuple[str, ...]:
        """Graceful stop: no new entry anywhere, then wait (at most ``drain_s``) for every
        market actor to finish its execution in flight, repair included. Returns the ids of
        the executions still running at the bound (alerted)."""
        reason = self._stop_reason or "stop requested"
        slots = list(self._slots.values())
        for slot in slots:
            slot.stop(f"stopping: {reason}")
        in_flight = [slot.actor.executing for slot in slots
                     if slot.actor is not None and slot.actor.executing is not None]
        if in_flight:
            self.alerts.publish(Alert(
                "stop_draining", Severity.WARNING,
                f"{reason}: no new entries; waiting up to {self.params.drain_s:.0f}s for "
                f"{len(in_flight)} execution(s) in flight: {', '.join(in_flight)}"))
        with trio.move_on_after(self.params.drain_s) as scope:
            self._stop_scope = self._drain_scope = scope
            if self._abandoned or self._stop_halted:
                scope.cancel()
            for slot in slots:
                if slot.started:
                    await slot.stopped.wait()
        self._drain_scope = None
        cut = tuple(slot.actor.executing for slot in slots
                    if slot.actor is not None and slot.actor.executing is not None)
        if cut:
            why = ("a second signal" if self._abandoned
                   else "a breaker halt" if self._stop_halted
                   else f"the {self.params.drain_s:.0f}s drain bound")
            self.alerts.publish(Alert(
                "stop_drain_cut", Severity.CRITICAL,
                f"{reason}: {len(cut)} execution(s) still running at {why}, cancelled: "
                f"{', '.join(cut)}; see each market's outcome and the reconciliation"))
        return cut

    async def _cancel_orders(self) -> dict[Venue, int]:
        cancelled: dict[Venue, int] = {}
        for venue, adapter in self.venues.items():
            try:
                cancelled[venue] = await adapter.cancel_all()
            except (Rejected, Transient, OutcomeUnknown) as err:
                self.alerts.publish(Alert("cancel_all_failed", Severity.CRITICAL,
                                          f"{venue.value}: cancel-all failed: {err.reason}"))
        return cancelled

    async def _cancel_everything(self) -> dict[Venue, int]:
        with trio.move_on_after(self.params.cleanup_s, shield=True):
            return await self._cancel_orders()
        return {}
