"""Markets added and removed while the bot runs (discovery refresh, operator decisions):
a new market trades, a removal waits for the execution in flight to reach a terminal state,
a disabled market is removed at once, ``set_markets`` reconciles the whole set, and no
reservation is ever left behind."""
from __future__ import annotations

import attrs
import trio
import trio.testing
from actor_fakes import Act, Answer, build_bot, flatten_on_trade, keep_fresh, spec

from actors.messages import ExecutionOutcome
from actors.supervisor import MarketChanges, MarketSpec, SupervisorParams
from arb.orders import LegState
from arb.pairs import Verdict


async def run_until(bot, stop_at: float, *tasks) -> object:
    """Run the supervisor with ``tasks`` beside it; an operator stop at ``stop_at``."""
    async def stop_later():
        await trio.sleep(stop_at)
        bot.supervisor.request_stop("operator stop")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_later)
        for task in tasks:
            nursery.start_soon(task)
        shutdown = await bot.supervisor.run(handle_signals=False)
        nursery.cancel_scope.cancel()
    return shutdown


def executions_of(bot, pair_id: str):
    return [r for r in bot.ledger.executions() if r.start.pair_id == pair_id]


async def test_market_added_while_running_starts_trading(tmp_path, autojump_clock):
    first, later = spec(1, "AAA"), spec(2, "BBB")
    bot = build_bot(tmp_path, [first])
    flatten_on_trade(bot, [first, later])
    seen: dict[str, object] = {}
    with bot.ledger:
        async def add_at_2():
            await trio.sleep(2.0)
            seen["subscribers_before"] = bot.supervisor.router.statistics().subscribers
            seen["added"] = await bot.supervisor.add_market(later)
            seen["again"] = await bot.supervisor.add_market(later)
            await trio.testing.wait_all_tasks_blocked()
            seen["subscribers_after"] = bot.supervisor.router.statistics().subscribers

        shutdown = await run_until(bot, 10.0, keep_fresh([first, later]), add_at_2)
        assert seen == {"subscribers_before": 1, "added": True, "again": False,
                        "subscribers_after": 2}
        sup = bot.supervisor
        assert sup.actors[later.pair.pair_id].outcomes == {ExecutionOutcome.HEDGED: 1}
        # Added at t=2 with nothing pending in its mailbox: its first scan (1 s later) trades.
        [record] = executions_of(bot, later.pair.pair_id)
        assert record.started_ms == 3000 and record.outcome == "hedged"
        assert [s.pair.pair_id for s in sup.market_specs()] == [first.pair.pair_id,
                                                                later.pair.pair_id]
        assert sup.risk.statistics().open_reservations == 0
        assert shutdown.reason == "operator stop"


async def test_market_added_before_the_startup_barrier_starts_with_the_others(tmp_path,
                                                                             autojump_clock):
    early, dropped = spec(1, "AAA"), spec(2, "BBB")
    bot = build_bot(tmp_path, [dropped])
    flatten_on_trade(bot, [early, dropped])
    with bot.ledger:
        assert await bot.supervisor.add_market(early)
        assert await bot.supervisor.remove_market(dropped.pair.pair_id, "operator removed")
        await run_until(bot, 5.0, keep_fresh([early, dropped]))
        [record] = bot.ledger.executions()
        assert record.start.pair_id == early.pair.pair_id
        assert record.started_ms == 1000 and record.outcome == "hedged"


async def test_removal_mid_execution_waits_for_the_terminal_state(tmp_path, autojump_clock):
    s = spec(1, "AAA")  # stays arbitrageable: any new entry would show as a third submit
    bot = build_bot(tmp_path, [s])
    bot.kalshi.script(Answer(Act.DELAYED, ready_after_s=5.0))
    removed: dict[str, object] = {}
    with bot.ledger:
        async def remove_at_2():
            await trio.sleep(2.0)
            actor = bot.supervisor.actors[s.pair.pair_id]
            removed["open_at_request"] = bot.supervisor.risk.statistics().open_reservations
            removed["result"] = await bot.supervisor.remove_market(s.pair.pair_id,
                                                                   "Kalshi market settled")
            removed["at"] = trio.current_time()
            removed["outcomes"] = dict(actor.outcomes)
            removed["stop_reason"] = actor.stop_reason
            removed["open_after"] = bot.supervisor.risk.statistics().open_reservations
            removed["subscribers"] = bot.supervisor.router.statistics().subscribers

        await run_until(bot, 20.0, keep_fresh([s]), remove_at_2)
        # The execution started at t=1 (first scan); the Kalshi leg was DELAYED and executes 5 s
        # later, found by the runner's query at t=6: only then does the removal return.
        assert removed == {"open_at_request": 1, "result": True, "at": 6.0,
                           "outcomes": {ExecutionOutcome.HEDGED: 1},
                           "stop_reason": "Kalshi market settled", "open_after": 0,
                           "subscribers": 0}
        assert bot.ledger.intent("s1-b").state is LegState.FILLED
        assert sorted(e[2] for e in bot.timeline if e[1].endswith("submit")) == ["s1-a", "s1-b"]
        sup = bot.supervisor
        assert s.pair.pair_id not in sup.actors and sup.market_specs() == ()
        assert [(r.pair_id, r.reason, r.at) for r in sup.removals] == [
            (s.pair.pair_id, "Kalshi market settled", 6.0)]
        assert "market_removed" in bot.kinds()
        assert await sup.remove_market(s.pair.pair_id, "again") is False


async def test_removal_with_an_unknown_leg_leaves_it_to_reconciliation(tmp_path,
                                                                      autojump_clock):
    """A leg still UNKNOWN when its execution ends keeps its reservation after the market is
    removed; the periodic reconciliation resolves it and the reservation is released."""
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s])
    flatten_on_trade(bot, [s])
    bot.kalshi.script(Answer(Act.TIMEOUT))
    bot.kalshi.query_fail = True
    bot.kalshi.user = None  # the fill reaches us only through reconciliation
    seen: dict[str, object] = {}
    with bot.ledger:
        async def remove_at_2():
            await trio.sleep(2.0)
            await bot.supervisor.remove_market(s.pair.pair_id, "operator removed")
            seen["at"] = trio.current_time()
            risk = bot.supervisor.risk.statistics()
            seen["held"] = (risk.open_reservations, risk.blocked_events)
            bot.kalshi.query_fail = False
            await trio.sleep(30.0 - trio.current_time() + 0.5)  # the pass at t=30
            risk = bot.supervisor.risk.statistics()
            seen["after_pass"] = (risk.open_reservations, risk.blocked_events)

        await run_until(bot, 40.0, keep_fresh([s]), remove_at_2)
        # Sent at t=1; the runner queries for its 5 s budget and gives up: UNRESOLVED at t=6.
        assert seen == {"at": 6.0, "held": (1, (s.pair.event_key,)), "after_pass": (0, ())}
        assert bot.ledger.intent("s1-b").state is LegState.FILLED
        assert bot.ledger.unresolved_intents() == []


async def test_removing_a_disabled_market_and_adding_it_back(tmp_path, autojump_clock):
    def crashing(pair, books):
        raise RuntimeError("parser bug")

    bad = spec(1, "AAA", crashing)
    fixed = attrs.evolve(bad, detect=spec(1, "AAA").detect)
    bot = build_bot(tmp_path, [bad])
    flatten_on_trade(bot, [fixed])
    seen: dict[str, object] = {}
    with bot.ledger:
        async def remove_then_add():
            await trio.sleep(10.0)  # crashes at 1, 3, 5, 7: disabled at t=7
            sup = bot.supervisor
            seen["disabled"] = bad.pair.pair_id in sup.disabled
            seen["removed"] = await sup.remove_market(bad.pair.pair_id, "operator removed")
            seen["removed_at"] = trio.current_time()
            seen["still_disabled"] = bad.pair.pair_id in sup.disabled
            seen["added"] = await sup.add_market(fixed)

        await run_until(bot, 20.0, keep_fresh([bad]), remove_then_add)
        assert seen == {"disabled": True, "removed": True, "removed_at": 10.0,
                        "still_disabled": False, "added": True}
        [record] = executions_of(bot, bad.pair.pair_id)
        assert record.started_ms == 11000 and record.outcome == "hedged"
        assert bot.supervisor.risk.statistics().open_reservations == 0


async def test_set_markets_adds_replaces_and_removes(tmp_path, autojump_clock):
    a, b, c = spec(1, "AAA"), spec(2, "BBB"), spec(3, "CCC")
    bot = build_bot(tmp_path, [a, b])
    # Empty Kalshi books: nothing crosses, this test is only about which actors run.
    for s in (a, b, c):
        s.books.kalshi.apply_snapshot([], [], received_at=0.0)
    blocked_b = MarketSpec(attrs.evolve(b.pair, verdict=Verdict.REJECT,
                                        reason="removed by operator"), b.books, b.detect)
    seen: dict[str, object] = {}
    with bot.ledger:
        async def change_at_2():
            await trio.sleep(2.0)
            seen["changes"] = await bot.supervisor.set_markets([blocked_b, c],
                                                               reason="game settled")
            seen["unchanged"] = await bot.supervisor.set_markets([blocked_b, c])
            await trio.testing.wait_all_tasks_blocked()
            seen["subscribers"] = bot.supervisor.router.statistics().subscribers

        await run_until(bot, 6.0, change_at_2)
        sup = bot.supervisor
        assert seen == {"changes": MarketChanges(added=(c.pair.pair_id,),
                                                 replaced=(b.pair.pair_id,),
                                                 removed=(a.pair.pair_id,)),
                        "unchanged": MarketChanges(), "subscribers": 2}
        assert sorted(s.pair.pair_id for s in sup.market_specs()) == [b.pair.pair_id,
                                                                      c.pair.pair_id]
        assert sup.actors[b.pair.pair_id].pair.verdict is Verdict.REJECT
        assert {(r.pair_id, r.reason) for r in sup.removals} == {
            (a.pair.pair_id, "game settled"), (b.pair.pair_id, "pair changed")}


async def test_stop_during_a_pending_removal_ends_it(tmp_path, autojump_clock):
    """A removal waiting for an execution does not hold up the stop path: at the stop's drain
    bound the trading scope is cancelled, the actor's own cleanup runs, and the removal
    returns."""
    s = spec(1, "AAA")
    bot = build_bot(tmp_path, [s], params=SupervisorParams(restart_delay_s=1.0, drain_s=2.0))
    bot.kalshi.script(Answer(Act.DELAYED, ready_after_s=60.0))
    seen: dict[str, object] = {}
    with bot.ledger:
        async def remove_at_2():
            await trio.sleep(2.0)
            seen["result"] = await bot.supervisor.remove_market(s.pair.pair_id, "game ended")
            seen["at"] = trio.current_time()

        shutdown = await run_until(bot, 4.0, keep_fresh([s]), remove_at_2)
        assert seen == {"result": True, "at": 6.0}  # stop at 4, cut at the 2 s drain bound
        assert shutdown.reason == "operator stop" and shutdown.drain_cut == ("s1",)
        assert bot.supervisor.market_specs() == ()
        assert [(r.pair_id, r.reason) for r in bot.supervisor.removals] == [
            (s.pair.pair_id, "game ended")]
