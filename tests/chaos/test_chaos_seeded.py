"""Seeded chaos: the real bot in live mode against the simulated world on loopback while a seeded
schedule of faults hits both venues and its market actors; after a graceful stop the venues and
the ledger must agree, nothing may be open or reserved, no order may have reached a venue twice
or without its intent, sibling pairs must have kept trading, and a fresh bot on the same ledger
must reconcile clean."""
from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

import attrs
import pytest
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from chaos_rig import (  # noqa: E402
    ALL_FAULTS,
    PAIR_FAULTS,
    ChaosLog,
    armed_order_faults,
    crashable_detector,
    draw_schedule,
    serve_chaos,
)
from e2e_rig import (  # noqa: E402
    intents_in,
    kalshi_client_ids,
    open_bot,
    poll_until,
    small_world,
)

from actors.messages import ExecutionOutcome  # noqa: E402
from arb.commands.demo import demo_settings, position_drift, venue_open_orders  # noqa: E402
from arb.ledger import Ledger  # noqa: E402
from arb.sim.world import SimWorld, serve_world  # noqa: E402

SEEDS = (11, 23, 47)
WINDOW_S = 12.0
"""Faults are drawn within this many seconds after the startup barrier."""
RECOVERY_S = 30.0
"""Bound for the bot to consume the armed order faults and hedge again after the window."""
SENT = {o.value for o in ExecutionOutcome} - {ExecutionOutcome.EXPIRED.value,
                                               ExecutionOutcome.ABORTED.value}
"""Outcomes of executions that sent orders."""


def _settings(world: SimWorld):
    base = demo_settings(world)
    return attrs.evolve(
        base,
        supervisor=attrs.evolve(base.supervisor, reconcile_interval_s=3.0),
        execution=attrs.evolve(base.execution, drain_s=25.0))


def test_schedules_are_fixed_and_draw_every_fault_kind():
    for seed in SEEDS:
        schedule = draw_schedule(seed, window_s=WINDOW_S, pairs=8)
        assert schedule == draw_schedule(seed, window_s=WINDOW_S, pairs=8)
        assert {f.kind for f in schedule} == set(ALL_FAULTS)
        targets = [f.pair_index for f in schedule if f.kind in PAIR_FAULTS]
        assert len(set(targets)) == len(PAIR_FAULTS)
    assert len({draw_schedule(s, window_s=WINDOW_S, pairs=8) for s in SEEDS}) == len(SEEDS)


def _check_venues_against_ledger(world: SimWorld, ledger_file: Path) -> None:
    intents = intents_in(ledger_file)
    # No client id reached Kalshi twice; every Kalshi order had its intent in the ledger.
    sent = kalshi_client_ids(world)
    assert [cid for cid, n in collections.Counter(sent).items() if n > 1] == []
    assert set(sent) <= set(intents), set(sent) - set(intents)
    # Every Polymarket order of the bot's address is an order hash exactly one intent holds.
    hashes = collections.Counter(h for h in intents.values() if h)
    assert [h for h, n in hashes.items() if n > 1] == []
    poly_orders = world.poly.orders_of(world.poly_address, open_only=False)
    assert {o.id for o in poly_orders} <= set(hashes), {o.id for o in poly_orders} - set(hashes)
    assert sent and poly_orders, "the bot traded on both venues"
    # Positions from the ledger's fills == the exchanges' books of the bot's accounts.
    with Ledger.open(ledger_file, mode="live") as ledger:
        assert position_drift(ledger, world) == []
    assert venue_open_orders(world) == {"kalshi": 0, "polymarket": 0}


@pytest.mark.parametrize("seed", SEEDS)
async def test_seeded_chaos_then_clean_stop_and_clean_restart(seed, tmp_path, monkeypatch):
    world = small_world(seed, seconds=60, arb_every_s=1.5)
    sim_dir, bot_dir = tmp_path / "sim", tmp_path / "bot"
    ledger_file = bot_dir / "ledger-live.sqlite3"
    log = ChaosLog()
    with crashable_detector(monkeypatch) as switch:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_world, world, sim_dir)
            async with open_bot(nursery, world, sim_dir, bot_dir,
                                settings=_settings(world)) as running:
                bot = running.bot
                await poll_until(lambda: bot.supervisor.startup_report is not None, within_s=20)
                schedule = draw_schedule(seed, window_s=WINDOW_S, pairs=len(bot.pairs))
                started_ms = int(time.time() * 1000)
                await nursery.start(serve_chaos, schedule, world, bot, switch, log)
                await trio.sleep(WINDOW_S)
                window_end_ms = int(time.time() * 1000)
                # After the chaos: every order fault drawn has met an order (they wait for the
                # bot's next ones) and the bot hedges again once the feeds have recovered.
                def recovered() -> bool:
                    return not armed_order_faults(world) and any(
                        e.outcome == ExecutionOutcome.HEDGED.value
                        for e in bot.ledger.executions(since_ms=window_end_ms))

                with trio.move_on_after(RECOVERY_S):
                    while not recovered():  # noqa: ASYNC110 (ledger and simulator state)
                        await trio.sleep(0.2)
                assert recovered(), (armed_order_faults(world), bot.risk.statistics(),
                                     bot.supervisor.market_totals(), bot.supervisor.disabled,
                                     [(e.start.pair_id, e.outcome) for e in
                                      bot.ledger.executions(since_ms=window_end_ms)])
                # The pair whose actor was cancelled through the supervisor trades on again.
                pairs = sorted(bot.pairs, key=lambda p: p.pair_id)
                cancelled = {pairs[f.pair_index].pair_id for f in schedule
                             if f.kind == "actor-cancel"}
                assert cancelled <= set(bot.supervisor.actors), (cancelled, bot.supervisor.actors)
                stop_ms = int(time.time() * 1000)
                shutdown = await running.stop("chaos over", within_s=60)
                risk = bot.risk.statistics()
                restarts = dict(bot.supervisor.restarts)
            assert len(log.applied) == len(schedule)
            assert not shutdown.halted, shutdown.reason
            assert shutdown.drain_cut == ()
            assert shutdown.reconciled is not None
            # No reservation held by nobody: every execution reported its end, and only a leg
            # still unknown may keep one (then reconciliation resolves it, checked below).
            assert risk.open_reservations == len(risk.blocked_events) == 0, risk
            assert risk.reserved == 0
            # A crash raised inside a market actor restarted it (supervisor one-for-one).
            for pair_id, _ in switch.fired:
                assert restarts.get(pair_id, 0) >= 1, (pair_id, restarts)
            assert any(how == "now" for _, how in switch.fired)
            with Ledger.open(ledger_file, mode="live") as ledger:
                assert ledger.unresolved_intents() == []
                assert all(e.outcome is not None for e in ledger.executions())
                # Siblings kept trading: orders were sent on pairs no pair fault hit, during
                # the chaos (the window and the recovery that followed, before the stop).
                siblings = [e for e in ledger.executions(since_ms=started_ms)
                            if e.outcome in SENT and e.start.pair_id not in log.hit_pairs
                            and e.started_ms <= stop_ms]
                assert siblings, [(e.start.pair_id, e.outcome) for e in ledger.executions()]
            _check_venues_against_ledger(world, ledger_file)
            # A fresh bot on the same ledger and the same venues reconciles clean.
            async with open_bot(nursery, world, sim_dir, bot_dir,
                                settings=_settings(world)) as again:
                await poll_until(lambda: again.bot.supervisor.startup_report is not None
                                 or again.finished.is_set(), within_s=20)
                assert not again.finished.is_set(), again.shutdown
                report = again.bot.supervisor.startup_report
                assert report.drift == (), report
                assert again.bot.ledger.unresolved_intents() == []
                assert again.bot.risk.statistics().open_reservations == 0
                second = await again.stop("restart checked", within_s=60)
            assert second.reconciled is not None and second.reconciled.drift == ()
            _check_venues_against_ledger(world, ledger_file)
            nursery.cancel_scope.cancel()
