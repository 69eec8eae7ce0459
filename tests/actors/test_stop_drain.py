"""The graceful stop (issue 7.8, reliability #16): a signal or an operator stop takes no new
entry and lets the execution in flight, its repair included, reach a terminal state within
``drain_s``; a repair that cannot finish is cut at that bound and reported, never silently; a
breaker trip still cancels at once (also in the middle of a drain); a second signal still
exits at once."""
from __future__ import annotations

import functools

import trio
import trio.testing
from actor_fakes import FAST_SUPERVISION, Act, Answer, build_bot, contracts, keep_fresh, spec

from actors.execution import ExecutionParams
from actors.market import MarketParams
from actors.messages import ErrorOccurred, ExecutionOutcome
from actors.unwind import RepairParams
from arb.domain import Instrument, Venue
from arb.money import Money, parse_money
from arb.orders import LegState

BALANCE = "INVALID_ORDER_NOT_ENOUGH_BALANCE"
LADDER = MarketParams(execution=ExecutionParams(repair=RepairParams(
    max_loss_per_contract=parse_money("0.20"), settlement_wait_s=2.0)))


def one_sided(bot, *unwind: Answer) -> None:
    """The first execution: Kalshi's entry and completion fill nothing, Polymarket buys 10;
    then ``unwind`` answers the Polymarket repair orders."""
    bot.kalshi.script(Answer(Act.FILL, qty=contracts(0)), Answer(Act.FILL, qty=contracts(0)))
    bot.poly.script(Answer(), *unwind)


async def run_with(bot, *tasks):
    async with trio.open_nursery() as nursery:
        for task in tasks:
            nursery.start_soon(task)
        shutdown = await bot.supervisor.run(handle_signals=False)
        nursery.cancel_scope.cancel()
    return shutdown


def at(t: float, action):
    async def run():
        await trio.sleep(t)
        action()
    return run


def unwind_submits(bot) -> list[float]:
    return [t for t, op, cid in bot.timeline if op.endswith("submit") and "unwind" in cid]


async def test_stop_mid_repair_lets_the_ladder_finish(tmp_path, autojump_clock):
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s], market=LADDER)
    refused = Answer(Act.REJECT, reason="not enough balance / allowance", code=BALANCE)
    one_sided(bot, refused, refused, Answer(Act.FILL, qty=contracts(4)),
              Answer(Act.FILL, qty=contracts(0)), Answer())
    with bot.ledger:
        shutdown = await run_with(bot, keep_fresh([s]),
                                  at(1.5, lambda: bot.supervisor.request_stop("operator stop")))
        # The execution started at t=1; the ladder waited out two settlement refusals (2 s
        # each) and sold at t=5. The stop at t=1.5 waited for it, and no longer.
        assert unwind_submits(bot) == [1.0, 3.0, 5.0, 5.0, 5.0]
        assert trio.current_time() == 5.0 < 1.5 + FAST_SUPERVISION.drain_s
        assert shutdown.reason == "operator stop" and not shutdown.halted
        assert shutdown.drain_cut == ()
        actor = bot.supervisor.actors[s.pair.pair_id]
        assert actor.outcomes == {ExecutionOutcome.UNWOUND: 1}
        # Exposure 0: the ledger and both venues are flat, and the stop's pass agrees.
        assert bot.ledger.positions() == {}
        assert await bot.poly.positions() == [] and await bot.kalshi.positions() == []
        assert shutdown.reconciled is not None and shutdown.reconciled.clean
        # The loss is booked once: risk's daily loss, and one realised-P&L entry (the unwind).
        # 4 sold at 0.38, 6 at 0.37 against 0.40 + fee (see test_execution's ladder test).
        loss = parse_money("0.49705")
        assert bot.supervisor.risk.daily_loss == loss
        [entry] = bot.ledger.trade_log()  # no new entry after the stop
        assert entry.record.outcome == "unwound" and entry.record.realised_pnl == Money(-loss)
        assert [(u.qty, u.pnl) for u in entry.unwinds] == [(contracts(10), Money(-loss))]
        assert bot.supervisor.risk.statistics().open_reservations == 0
        assert "stop_draining" in bot.kinds() and "unwind_done" in bot.kinds()
        assert "stop_drain_cut" not in bot.kinds() and "unwind_failed" not in bot.kinds()


async def test_repair_that_cannot_finish_is_cut_at_the_bound_and_reported(tmp_path,
                                                                          autojump_clock):
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s], market=LADDER)
    one_sided(bot, Answer(Act.FILL, qty=contracts(4)), Answer(Act.REST))  # the next one hangs
    with bot.ledger:
        shutdown = await run_with(bot, keep_fresh([s]),
                                  at(2.0, lambda: bot.supervisor.request_stop("operator stop")))
        drain_s = FAST_SUPERVISION.drain_s
        assert trio.current_time() == 2.0 + drain_s  # cut at the bound; the cleanup is quick
        assert shutdown.drain_cut == ("s1",) and not shutdown.halted
        assert shutdown.cancelled == {Venue.KALSHI: 0, Venue.POLYMARKET: 1}
        actor = bot.supervisor.actors[s.pair.pair_id]
        assert actor.outcomes == {ExecutionOutcome.EXPOSED: 1}
        # What is left is reported net of the 4 already sold: 6, not the original 10.
        p_yes = Instrument.polymarket(s.pair.poly.condition_id, s.pair.poly.yes_token)
        [entry] = bot.ledger.trade_log()
        assert entry.record.outcome == "exposed"
        assert entry.record.reason == (
            f"stopped before its one-sided fill was repaired: 6 of {p_yes} still held "
            "(outcome unknown: s1-unwind3)")
        risk = bot.supervisor.risk.statistics()
        assert risk.breaker.value == "reducing" and "exposure left 6.00 contracts" in risk.reason
        alerts = {a.kind: a.text for a in bot.supervisor.alerts.history()}
        assert "s1" in alerts["stop_drain_cut"] and f"{drain_s:.0f}s drain bound" in alerts[
            "stop_drain_cut"]
        assert "6 of" in alerts["unwind_failed"]
        # The realised part of the loss is booked once; the hung order was cancelled by the
        # stop's cancel-all and resolved by its reconciliation; the ledger holds the 6.
        loss = parse_money("0.17512")
        assert bot.supervisor.risk.daily_loss == loss
        assert entry.record.realised_pnl == Money(-loss)
        assert bot.ledger.intent("s1-unwind3").state is LegState.CANCELLED
        assert bot.ledger.positions() == {p_yes: contracts(6)}
        assert shutdown.reconciled is not None and shutdown.reconciled.clean


async def test_breaker_trip_during_a_drain_cancels_at_once(tmp_path, autojump_clock):
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s])
    bot.kalshi.script(Answer(Act.REST))  # the execution's Kalshi leg never answers

    async def trip():
        for i in range(5):
            await bot.risk_client.cast(ErrorOccurred("ops", Venue.KALSHI, f"err {i}"))

    with bot.ledger:
        shutdown = await run_with(
            bot, keep_fresh([s]),
            at(2.0, lambda: bot.supervisor.request_stop("operator stop")),
            functools.partial(_after, 4.0, trip))
        assert trio.current_time() == 4.0  # the drain (bound 2 + 20) ended with the trip
        assert shutdown.halted and shutdown.reason == (
            "operator stop, then breaker halted: 5 consecutive errors, last: err 4 (ops)")
        assert shutdown.drain_cut == ("s1",)
        assert bot.kalshi.cancel_all_calls == 1 and shutdown.reconciled is not None
        assert "a breaker halt" in {a.kind: a.text
                                    for a in bot.supervisor.alerts.history()}["stop_drain_cut"]


async def _after(t: float, coro) -> None:
    await trio.sleep(t)
    await coro()


async def test_second_signal_during_a_drain_exits_at_once(tmp_path, autojump_clock):
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s])
    bot.kalshi.script(Answer(Act.REST))  # the execution's Kalshi leg never answers
    with bot.ledger:
        shutdown = await run_with(bot, keep_fresh([s]),
                                  at(2.0, lambda: bot.supervisor.on_signal("SIGTERM")),
                                  at(5.0, lambda: bot.supervisor.on_signal("SIGINT")))
        assert trio.current_time() == 5.0  # no wait for the drain bound, no cleanup
        assert shutdown.reason == "signal SIGTERM" and not shutdown.halted
        assert shutdown.drain_cut == ("s1",)
        assert shutdown.cancelled == {} and shutdown.reconciled is None
        assert bot.kalshi.cancel_all_calls == 0 and bot.poly.cancel_all_calls == 0
        # The cut leg is recorded UNKNOWN, to be resolved at the next start.
        assert bot.ledger.intent("s1-b").state is LegState.UNKNOWN
        assert "a second signal" in {a.kind: a.text
                                     for a in bot.supervisor.alerts.history()}["stop_drain_cut"]
