"""The whole bot in live mode against the simulated exchanges on loopback, in-process: injected
arbitrage is detected and executed with real signed orders, the ledger's positions equal what
the exchanges hold, nothing stays open; a breaker trip mid-execution cancels everything."""
from __future__ import annotations

import trio
from e2e_rig import open_bot, poll_until, small_world

from actors.messages import ErrorOccurred
from arb.commands.demo import position_drift, venue_open_orders, venue_positions
from arb.commands.reconcile import drift, register_ledger_markets
from arb.config import Target
from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.ledger import Ledger
from arb.money import CENT, SCALE, Price, Qty
from arb.sim.world import serve_world
from arb.venues.connect import endpoints_for, open_venues, secrets_for
from arb.venues.protocol import OrderRequest

HEDGED = "hedged"


async def test_live_bot_executes_injected_arbs_and_its_ledger_matches_the_simulators(tmp_path):
    world = small_world(3, seconds=40, arb_every_s=3.0)
    sim_dir, bot_dir = tmp_path / "sim", tmp_path / "bot"
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, sim_dir)
        async with open_bot(nursery, world, sim_dir, bot_dir) as running:
            bot = running.bot
            assert {p.league for p in bot.pairs} == {"nba", "epl"}
            await poll_until(lambda: any(e.outcome == HEDGED for e in bot.ledger.executions()),
                             within_s=35, every_s=0.25)
            shutdown = await running.stop()
        assert shutdown.reconciled is not None
        with Ledger.open(bot_dir / "ledger-live.sqlite3", mode="live") as ledger:
            # Detected on pairs the world displaced; every hedged execution filled both legs.
            windows = {(a.kalshi_ticker, a.condition_id) for a in world.plan.arbs}
            detected = {tuple(pid.split("|")) for pid in bot.tap.detections}
            assert detected & windows
            hedged = [e for e in ledger.executions() if e.outcome == HEDGED]
            assert hedged
            for entry in ledger.trade_log():
                if entry.record.outcome == HEDGED:
                    a, b = entry.legs
                    assert a.filled_qty == b.filled_qty > 0
            # Positions from the ledger's fills == the exchanges' own books of the bot accounts.
            ours = {i: q for i, q in ledger.positions().items() if q}
            assert ours == venue_positions(world)
            assert position_drift(ledger, world) == []
            assert venue_open_orders(world) == {"kalshi": 0, "polymarket": 0}
            assert ledger.unresolved_intents() == []
            # `arb reconcile`'s comparison over fresh adapters finds nothing either.
            async with open_venues(endpoints_for(Target.SIM, sim_dir),
                                   secrets_for(Target.SIM, sim_dir),
                                   chain_id=world.poly.config.chain_id) as venues:
                await register_ledger_markets(ledger, venues.poly)
                adapters = {Venue.KALSHI: venues.kalshi, Venue.POLYMARKET: venues.poly}
                # Polymarket reports bought shares once the trade is MINED (~2 s after it).
                with trio.move_on_after(10):
                    while lines := await drift(ledger, adapters):  # noqa: ASYNC110
                        await trio.sleep(0.5)
            assert lines == []
        nursery.cancel_scope.cancel()


async def test_breaker_trip_mid_execution_cancels_every_order_on_both_simulators(tmp_path):
    world = small_world(5, seconds=60, arb_every_s=3.0)
    sim_dir, bot_dir = tmp_path / "sim", tmp_path / "bot"
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, sim_dir)
        async with open_bot(nursery, world, sim_dir, bot_dir) as running:
            bot = running.bot
            pair = bot.pairs[0]
            await poll_until(lambda: bot.supervisor.startup_report is not None, within_s=10)
            # Resting orders of the bot's accounts, far from the market: only a cancel removes
            # them.
            kalshi, poly = bot.venues[Venue.KALSHI], bot.venues[Venue.POLYMARKET]
            await kalshi.submit(kalshi.prepare(OrderRequest(
                "rest-k1", Instrument.kalshi(pair.kalshi.ticker, Outcome.YES), Side.BUY,
                Price(2 * CENT), Qty(5 * SCALE), TimeInForce.GTC)))
            await poly.submit(poly.prepare(OrderRequest(
                "rest-p1", pair.poly.instrument(pair.poly.yes_token), Side.BUY,
                Price(2 * CENT), Qty(10 * SCALE), TimeInForce.GTC)))
            assert venue_open_orders(world) == {"kalshi": 1, "polymarket": 1}
            # Trip the breaker while an execution is in flight.
            await poll_until(lambda: any(e.outcome is None for e in bot.ledger.executions()),
                             within_s=40, every_s=0.01)
            for _ in range(bot.config.settings.risk.max_consecutive_errors):
                await bot.supervisor.desk.risk.cast(
                    ErrorOccurred(pair.pair_id, Venue.KALSHI, "injected venue error"))
            with trio.fail_after(20):
                await running.finished.wait()
            shutdown = running.shutdown
        assert shutdown is not None and shutdown.halted
        assert "breaker halted" in shutdown.reason
        assert shutdown.cancelled.get(Venue.KALSHI, 0) >= 1
        assert shutdown.cancelled.get(Venue.POLYMARKET, 0) >= 1
        assert venue_open_orders(world) == {"kalshi": 0, "polymarket": 0}
        with Ledger.open(bot_dir / "ledger-live.sqlite3", mode="live") as ledger:
            assert ledger.risk_state().state.value == "halted"
            # The interrupted execution was finished by its actor's shielded cleanup.
            assert all(e.outcome is not None for e in ledger.executions())
            assert position_drift(ledger, world) == []
        nursery.cancel_scope.cancel()
