"""The supervisor: breaker trip mid-leg, one-for-one restarts with an intensity limit, the
signal path, core failures, and the startup barrier. The graceful drain of a stop is in
test_stop_drain.py."""
from __future__ import annotations

import os
import signal

import trio
import trio.testing
from actor_fakes import Act, Answer, build_bot, flatten_on_trade, keep_fresh, spec

from actors.messages import DenyReason, ErrorOccurred, ExecutionOutcome
from actors.supervisor import SupervisorParams, TaskSpec
from arb.domain import Instrument, Outcome, Side, Venue
from arb.ledger import LedgerError
from arb.money import Money, Price, Qty
from arb.orders import LegState
from arb.venues.protocol import Fill, FillStatus, OrderStatus


async def test_breaker_trip_mid_leg_cancels_everything_and_reconciles(tmp_path, autojump_clock):
    specs = [spec(1, "AAA"), spec(2, "BBB")]
    bot = build_bot(tmp_path, specs)
    with bot.ledger:
        bot.kalshi.script(Answer(Act.REST), Answer(Act.REST))  # both Kalshi legs rest, no answer

        async def trip():
            await trio.sleep(2.0)
            for i in range(5):
                await bot.risk_client.cast(ErrorOccurred("ops", Venue.KALSHI, f"err {i}"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trip)
            nursery.start_soon(keep_fresh(specs))
            shutdown = await bot.supervisor.run(handle_signals=False)
            nursery.cancel_scope.cancel()
        assert trio.current_time() == 2.0
        assert shutdown.halted
        assert shutdown.reason == ("breaker halted: 5 consecutive errors, last: err 4 (ops)")
        assert shutdown.cancelled == {Venue.KALSHI: 2, Venue.POLYMARKET: 0}
        assert bot.kalshi.cancel_all_calls == 1 and bot.poly.cancel_all_calls == 1
        assert not [o for v in (bot.kalshi, bot.poly) for o in v.orders.values()
                    if o.status is OrderStatus.RESTING]
        # The Kalshi legs were cancelled mid-request: UNKNOWN, never "failed"; the stop path's
        # reconciliation resolved them from the venue (cancelled, nothing filled).
        for actor in bot.supervisor.actors.values():
            assert actor.outcomes == {ExecutionOutcome.UNRESOLVED: 1}
        for cid in ("s1-b", "s2-b"):
            history = [e.state for e in bot.ledger.order_history(cid)]
            assert history[-2:] == [LegState.UNKNOWN, LegState.CANCELLED]
        assert bot.ledger.unresolved_intents() == []
        assert sorted(shutdown.reconciled.resolved) == ["s1-b", "s2-b"]
        assert shutdown.reconciled.clean  # ledger positions equal the venues'
        assert bot.supervisor.risk.statistics().open_reservations == 0
        assert "breaker_halted" in bot.kinds() and "trading_stopped" in bot.kinds()
        assert bot.ledger.risk_state().state.value == "halted"


async def test_crashing_market_restarts_then_is_disabled_siblings_trade(tmp_path,
                                                                       autojump_clock):
    def crashing(pair, books):
        raise RuntimeError("parser bug")

    bad, good = spec(1, "AAA", crashing), spec(2, "BBB")
    bot = build_bot(tmp_path, [bad, good])
    flatten_on_trade(bot, [good])
    with bot.ledger:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_fresh([bad, good]))

            async def stop_later():
                await trio.sleep(20.0)
                bot.supervisor.request_stop("operator stop")

            nursery.start_soon(stop_later)
            shutdown = await bot.supervisor.run(handle_signals=False)
            nursery.cancel_scope.cancel()
        sup = bot.supervisor
        # Scan at t=1 crashes; restart after 1 s; crashes at 1, 3, 5, 7: the fourth in 60 s
        # exceeds the limit of 3 restarts and disables the pair.
        assert sup.restarts[bad.pair.pair_id] == 4
        assert bad.pair.pair_id in sup.disabled
        assert "RuntimeError('parser bug')" in sup.disabled[bad.pair.pair_id]
        assert bot.kinds().count("market_actor_restarted") == 3
        assert bot.kinds().count("pair_disabled") == 1
        assert sup.restarts[good.pair.pair_id] == 0
        assert sup.actors[good.pair.pair_id].outcomes == {ExecutionOutcome.HEDGED: 1}
        assert not shutdown.halted and shutdown.reason == "operator stop"


async def test_a_second_signal_during_the_cleanup_exits_at_once(tmp_path, autojump_clock):
    """SIGTERM drains (at most ``drain_s``: the Kalshi leg never answers, so the execution is
    cut at the bound), then cancels everything; a venue hanging on cancel-all is abandoned by
    the second signal."""
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s], params=SupervisorParams(restart_delay_s=1.0, drain_s=2.0))
    with bot.ledger:
        bot.kalshi.script(Answer(Act.REST))
        bot.poly.cancel_all_delay_s = 100.0  # a venue that hangs on cancel-all

        async def signals():
            await trio.sleep(2.0)
            bot.supervisor.on_signal("SIGTERM")
            await trio.sleep(3.0)
            bot.supervisor.on_signal("SIGINT")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(signals)
            nursery.start_soon(keep_fresh([s]))
            shutdown = await bot.supervisor.run(handle_signals=False)
            nursery.cancel_scope.cancel()
        assert trio.current_time() == 5.0  # the second signal abandoned the cleanup
        assert shutdown.reason == "signal SIGTERM" and not shutdown.halted
        assert shutdown.drain_cut == ("s1",)  # cut at t=4, the drain bound
        assert "stop_drain_cut" in bot.kinds()
        assert shutdown.cancelled == {} and shutdown.reconciled is None
        assert bot.kalshi.cancel_all_calls == 1 and bot.poly.cancel_all_calls == 1
        stored = bot.ledger.intent("s1-b")
        assert stored.state is LegState.UNKNOWN  # recorded, to be resolved at the next start


async def test_ledger_failure_is_a_core_failure(tmp_path, autojump_clock):
    def broken_ledger(pair, books):
        raise LedgerError("disk I/O error")

    bot = build_bot(tmp_path, [spec(1, "AAA", broken_ledger), spec(2, "BBB")])
    with bot.ledger:
        shutdown = await bot.supervisor.run(handle_signals=False)
        assert trio.current_time() == 1.0
        assert shutdown.halted and shutdown.core_failure is not None
        assert "disk I/O error" in shutdown.core_failure
        assert shutdown.reason.startswith("core failure: market KXNBAGAME-26JAN01AAA-T1")
        assert bot.kalshi.cancel_all_calls == 1 and bot.poly.cancel_all_calls == 1
        assert "core_failure" in bot.kinds()


async def test_no_entries_before_the_startup_reconciliation(tmp_path, autojump_clock):
    """Design 5.6: the market actors start only after the first full reconciliation pass, and
    a venue position the ledger does not know keeps entries off (REDUCING) until acknowledged."""
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s])
    with bot.ledger:
        manual = Fill(Venue.KALSHI, "manual-1", "m-1", None,
                      Instrument.kalshi("KXOTHER", Outcome.YES), Side.BUY, Price(300_000),
                      Qty(2_000_000), Money(0), False, FillStatus.CONFIRMED, 0)
        bot.kalshi.trades.append(manual)
        bot.kalshi.positions_fail = True

        async def stop_later():
            await trio.sleep(5.0)
            bot.supervisor.request_stop("operator stop")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_later)
            nursery.start_soon(keep_fresh([s]))
            shutdown = await bot.supervisor.run(handle_signals=False)
            nursery.cancel_scope.cancel()
        report = bot.supervisor.startup_report
        assert report is not None and not report.clean
        assert "kalshi: positions unavailable (positions endpoint unavailable); not assuming " \
               "flat" in report.drift
        actor = bot.supervisor.actors[s.pair.pair_id]
        assert actor.denied[DenyReason.BREAKER] >= 4 and set(actor.denied) == {
            DenyReason.BREAKER}
        assert bot.kalshi.submits == 0 and bot.poly.submits == 0
        assert shutdown.reason == "operator stop"


async def test_feed_restarts_with_capped_jittered_backoff_then_is_disabled(tmp_path,
                                                                          autojump_clock):
    """Reliability #4/#32: a failing feed reconnects with jittered exponential backoff (no
    spin), and past its restart budget is disabled with an alert; trading is unaffected."""
    failures: list[float] = []

    async def broken_feed():
        failures.append(trio.current_time())
        raise ConnectionRefusedError("venue refuses connections")

    params = SupervisorParams(feed_backoff_initial_s=1.0, feed_backoff_max_s=8.0,
                              feed_restart_limit=4, restart_window_s=60.0)
    bot = build_bot(tmp_path, [], params=params)
    bot.supervisor.feeds = (TaskSpec("kalshi-ws", Venue.KALSHI, broken_feed),)
    with bot.ledger:
        async def stop_later():
            await trio.sleep(60.0)
            bot.supervisor.request_stop("operator stop")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_later)
            await bot.supervisor.run(handle_signals=False)
    gaps = [b - a for a, b in zip(failures, failures[1:], strict=False)]
    assert len(failures) == 5 and failures[0] == 0.0
    for gap, full in zip(gaps, (1.0, 2.0, 4.0, 8.0), strict=True):
        assert full / 2 <= gap <= full
    assert "kalshi-ws" in bot.supervisor.disabled
    assert bot.kinds().count("feed_restarted") == 4 and bot.kinds().count("feed_disabled") == 1


async def test_real_sigterm_takes_the_stop_path(tmp_path, autojump_clock):
    """An OS SIGTERM (delivered once the bot runs, so its receiver is installed) stops
    trading through the same path as a trip: cancel-all on both venues, then reconcile."""
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s])
    with bot.ledger:
        async def kill_when_running():
            while bot.supervisor.startup_report is None:  # noqa: ASYNC110 (state, no event)
                await trio.sleep(0.01)
            await trio.sleep(1.0)
            os.kill(os.getpid(), signal.SIGTERM)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(kill_when_running)
            shutdown = await bot.supervisor.run(handle_signals=True)
        assert shutdown.reason == "signal SIGTERM" and not shutdown.halted
        assert shutdown.cancelled == {Venue.KALSHI: 0, Venue.POLYMARKET: 0}
        assert shutdown.reconciled is not None
