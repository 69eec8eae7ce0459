# Design note: the periodic stats block in the log.
#
# Problem: every ``status.stats_every_s`` the operator wants one block saying what the bot saw
# and did in that window (``arb.stats`` renders it), from counters owned by many actors, some of
# which restart or are removed mid-run, without ever slowing trading.
#
# Naive approach: sum the live actors' counters at each tick and print them. Counters of an
# actor that restarted or was removed vanish (windows go negative or lose trades), and a ledger
# scan on the event loop stalls every market actor while it runs.
#
# Chosen approach: ``StatsLog`` keeps the previous cumulative readings and reports differences.
# Market counters come from ``Supervisor.market_totals()`` (ended actors included), approvals and
# denials by reason from ``RiskActor.statistics()``, latency from the ``LatencyRing`` (the
# percentiles of the samples it holds, not only this window's), feed counters from callables the
# app supplies. Money comes from the ledger: realised P&L in the window is the change of the
# UTC day's total (across midnight: the rest of the old day plus the new day's), unwinds are the
# ``record_unwind`` rows stamped inside the window (P&L, and the entry cost of the excess they
# shed), and stranded exposure is ``arb positions``' unhedged cost, computed in a worker thread
# (it reads every fill; the ledger is thread-safe and locks per query, so trading's writes
# interleave).
from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence

import attrs
import trio
from loguru import logger

from actors.market import MarketTotals
from actors.messages import DenyReason
from actors.reconcile import wall_clock_ms
from actors.supervisor import Supervisor
from arb.commands.positions import build_report
from arb.ledger import Ledger
from arb.money import Money, Round, mul
from arb.stats import FeedStats, LatencyRing, StatsInput, render_stats

UNWIND_LOOKBACK_MS = 3_600_000
"""Executions started this long before a window are searched for unwinds booked inside it
(a repair ends within minutes of its execution's start)."""


def utc_day(ms: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).date()


def _delta(now: Mapping[object, int], before: Mapping[object, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, count in now.items():
        change = count - before.get(key, 0)
        if change > 0:
            out[str(getattr(key, "value", key))] = change
    return out


@attrs.define(eq=False)
class StatsLog:
    """Builds one ``StatsInput`` per window from the running bot (construct inside Trio)."""

    supervisor: Supervisor
    ledger: Ledger
    latency: LatencyRing
    """The market actors' detection latency (``DecisionTap.latency``)."""
    feeds: Sequence[Callable[[], FeedStats]] = ()
    clock_ms: Callable[[], int] = wall_clock_ms
    """The ledger's clock (its rows are stamped with it)."""
    scan_in_thread: bool = True
    """Run the positions scan for stranded exposure in a worker thread (False: inline, for
    tests under a virtual clock, which would jump while the thread runs)."""
    latest: StatsInput | None = None
    blocks: int = 0
    _at: float = attrs.field(init=False)
    _ms: int = attrs.field(init=False)
    _day: datetime.date = attrs.field(init=False)
    _day_pnl: Money = attrs.field(init=False)
    _market: MarketTotals = attrs.field(init=False, factory=MarketTotals)
    _granted: int = attrs.field(init=False, default=0)
    _denials: dict[DenyReason, int] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._at = trio.current_time()
        self._ms = self.clock_ms()
        self._day = utc_day(self._ms)
        self._day_pnl = self.ledger.daily_realised_pnl(self._day)

    async def take(self) -> StatsInput:
        """The block since the previous ``take`` (or construction); resets the window."""
        if self.scan_in_thread:
            report = await trio.to_thread.run_sync(build_report, self.ledger)
        else:
            report = build_report(self.ledger)
        stranded = report.unhedged_cost
        now, now_ms = trio.current_time(), self.clock_ms()
        market = self.supervisor.market_totals()
        risk = self.supervisor.risk.statistics()
        filtered = _delta(market.filtered, self._market.filtered)
        if market.expired > self._market.expired:
            filtered["expired"] = market.expired - self._market.expired
        day = utc_day(now_ms)
        day_pnl = self.ledger.daily_realised_pnl(day)
        if day == self._day:
            window_pnl = day_pnl - self._day_pnl
        else:
            window_pnl = self.ledger.daily_realised_pnl(self._day) - self._day_pnl + day_pnl
        unwind_pnl, unwound = self._unwinds(self._ms, now_ms)
        block = StatsInput(
            window_s=now - self._at,
            detections=_delta(market.detected, self._market.detected),
            filtered=filtered,
            approvals=risk.granted - self._granted,
            denials=_delta(risk.denials, self._denials),
            trades=_delta(market.outcomes, self._market.outcomes),
            realised_pnl=Money(window_pnl), daily_pnl=day_pnl,
            latency_us=self.latency.percentiles(), latency_samples=len(self.latency),
            stranded_exposure=stranded, unwound_exposure=unwound, unwind_pnl=unwind_pnl,
            feeds=tuple(feed() for feed in self.feeds))
        self._at, self._ms, self._day, self._day_pnl = now, now_ms, day, day_pnl
        self._market, self._granted, self._denials = market, risk.granted, dict(risk.denials)
        self.latest = block
        self.blocks += 1
        return block

    def _unwinds(self, after_ms: int, until_ms: int) -> tuple[Money, Money]:
        """(P&L, entry cost shed) of the unwinds booked in ``(after_ms, until_ms]``."""
        pnl = shed = 0
        for entry in self.ledger.trade_log(since_ms=after_ms - UNWIND_LOOKBACK_MS):
            entry_price = {leg.instrument: leg.avg_price for leg in entry.legs}
            for unwind in entry.unwinds:
                if not after_ms < unwind.ts_ms <= until_ms:
                    continue
                pnl += unwind.pnl
                price = entry_price.get(unwind.instrument)
                if price is not None:
                    shed += mul(price, unwind.qty, Round.UP)
        return Money(pnl), Money(shed)


async def serve_stats_log(stats: StatsLog, every_s: float, *,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Log one stats block every ``every_s`` seconds until cancelled. A block that cannot be
    built is logged as an error and skipped: the stats never stop trading."""
    if not every_s > 0:
        raise ValueError(f"stats_every_s must be positive, got {every_s!r}")
    log = logger.bind(actor="stats")
    task_status.started()
    while True:
        await trio.sleep(every_s)
        try:
            block = await stats.take()
        except Exception as err:  # a stats failure is reported, never fatal to the bot
            log.error("stats block not built: {}: {}", type(err).__name__, err)
            continue
        log.info("{}", render_stats(block))

