"""Paper mode never touches an order endpoint; `arb halt` stops a running bot within about a
second and keeps it stopped across a restart until `arb resume`."""
from __future__ import annotations

import httpx
import trio
from e2e_rig import CountingLimiter, open_bot, poll_until, serve_counted_world, small_world

from arb.cli import main as arb_main
from arb.config import Mode
from arb.ledger import Ledger, RiskState
from arb.sim.world import serve_world
from arb.status import read_snapshot


async def test_paper_mode_trades_on_live_books_and_never_calls_an_order_endpoint(tmp_path):
    world = small_world(4, seconds=60, arb_every_s=2.0)
    limiter = CountingLimiter()
    sim_dir, bot_dir = tmp_path / "sim", tmp_path / "bot"
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_counted_world, world, sim_dir, limiter)
        async with open_bot(nursery, world, sim_dir, bot_dir, mode=Mode.PAPER) as running:
            bot = running.bot
            assert {type(v).__name__ for v in bot.venues.values()} == {"PaperVenue"}
            await poll_until(lambda: any(e.outcome == "hedged"
                                         for e in bot.ledger.executions()),
                             within_s=40, every_s=0.25)
            shutdown = await running.stop()
        assert not shutdown.halted
        assert (bot_dir / "ledger-paper.sqlite3").is_file()
        assert not (bot_dir / "ledger-live.sqlite3").exists()
        user = world.kalshi.account_for_key(world.kalshi_key_id).user_id
        # The counter sees the bot's traffic (anonymous market-data reads by discovery) ...
        assert sum(n for (client, write), n in limiter.requests.items() if not write) > 0
        # ... and not one write request, nor any request authenticated as the bot's account.
        assert [k for k in limiter.requests if k[1]] == []
        assert [k for k in limiter.requests if k[0] == user] == []
        assert world.kalshi.account(user).orders == {}
        # Polymarket: no API key was ever derived for the bot's address, so no order could be
        # authenticated; and the exchange holds none.
        assert world.poly.api_keys_of(world.poly_address) == []
        assert world.poly.orders_of(world.poly_address, open_only=False) == []
        with Ledger.open(bot_dir / "ledger-paper.sqlite3", mode="paper") as ledger:
            assert ledger.positions(), "paper fills are booked in the paper ledger"
        nursery.cancel_scope.cancel()


async def test_operator_halt_stops_a_running_bot_and_only_resume_clears_it(tmp_path):
    world = small_world(6, seconds=60, arb_every_s=3.0)
    sim_dir, bot_dir = tmp_path / "sim", tmp_path / "bot"
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, sim_dir)
        async with open_bot(nursery, world, sim_dir, bot_dir) as running:
            await poll_until(lambda: running.bot.supervisor.startup_report is not None,
                             within_s=10)
            # The status publisher serves the latest snapshot on loopback (JSON and metrics).
            publisher = running.bot.publisher
            await poll_until(lambda: publisher.published >= 2, within_s=5)
            async with httpx.AsyncClient() as http:
                status = (await http.get(f"{publisher.url}/status")).json()
                metrics = (await http.get(f"{publisher.url}/metrics")).text
            assert status["mode"] == "live" and status["target"] == "sim"
            assert len(status["pairs"]) == len(running.bot.pairs)
            assert all(len(p["quotes"]) == 4 for p in status["pairs"])
            assert {f["venue"]: f["state"] for f in status["feeds"]} == {
                "kalshi": "live", "polymarket": "live"}
            assert all(f["subscribed"] == f["books_with_data"] > 0 for f in status["feeds"])
            assert status["risk"]["state"] == "active"
            assert f"arb_pairs {len(running.bot.pairs)}" in metrics
            assert 'arb_breaker_state{state="ACTIVE"} 1' in metrics
            assert read_snapshot(bot_dir) is not None
            halted_at = trio.current_time()
            assert arb_main(["halt", "--state-dir", str(bot_dir), "--reason", "e2e check"]) == 0
            with trio.fail_after(5):
                await running.finished.wait()
            assert trio.current_time() - halted_at < 2.0
            shutdown = running.shutdown
        assert shutdown is not None and shutdown.halted
        assert "operator halt: e2e check" in shutdown.reason
        with Ledger.open(bot_dir / "ledger-live.sqlite3", mode="live") as ledger:
            assert ledger.risk_state().state is RiskState.HALTED
        # A new run restores HALTED from the ledger and stops before trading.
        async with open_bot(nursery, world, sim_dir, bot_dir) as again:
            with trio.fail_after(15):
                await again.finished.wait()
        assert again.shutdown is not None and again.shutdown.halted
        assert "breaker restored HALTED" in again.shutdown.reason
        assert again.bot.risk.statistics().granted == 0
        # `arb reconcile` against the simulators: nothing open, no drift (exit 0).
        # (in a worker thread: the command runs its own Trio loop)
        assert await trio.to_thread.run_sync(arb_main, [
            "reconcile", "--state-dir", str(bot_dir), "--mode", "live", "--target", "sim",
            "--sim-state", str(sim_dir)]) == 0
        assert arb_main(["resume", "--state-dir", str(bot_dir)]) == 0
        with Ledger.open(bot_dir / "ledger-live.sqlite3", mode="live") as ledger:
            assert ledger.risk_state().state is RiskState.ACTIVE
        async with open_bot(nursery, world, sim_dir, bot_dir) as resumed:
            await poll_until(lambda: resumed.bot.supervisor.startup_report is not None,
                             within_s=10)
            await trio.sleep(1.0)
            assert not resumed.finished.is_set()
            shutdown = await resumed.stop()
        assert not shutdown.halted
        nursery.cancel_scope.cancel()
