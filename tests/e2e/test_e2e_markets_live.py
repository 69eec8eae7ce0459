"""`arb markets` decisions reach a running bot without a restart (issue 8.7), and the periodic
stats block is running."""
from __future__ import annotations

import trio
from e2e_rig import open_bot, poll_until, small_world

from arb.config import Mode
from arb.markets import decisions_path, update_decisions
from arb.sim.world import serve_world


async def test_operator_removal_and_approval_take_effect_in_the_running_bot(tmp_path):
    world = small_world(12, seconds=60, arb_every_s=30.0)
    sim_dir, bot_dir = tmp_path / "sim", tmp_path / "bot"
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, sim_dir)
        async with open_bot(nursery, world, sim_dir, bot_dir, mode=Mode.PAPER) as running:
            bot = running.bot
            await poll_until(lambda: bot.supervisor.startup_report is not None, within_s=10)
            victim = sorted(p.pair_id for p in bot.pairs)[0]
            assert victim in bot.supervisor.actors
            update_decisions(decisions_path(bot_dir), lambda d: d.remove(victim, "test"))
            await poll_until(lambda: victim not in bot.supervisor.actors, within_s=5)
            assert victim not in {p.pair_id for p in bot.pairs}
            update_decisions(decisions_path(bot_dir), lambda d: d.approve(victim))
            await poll_until(lambda: victim in bot.supervisor.actors, within_s=10)
            assert victim in {p.pair_id for p in bot.pairs}
            assert not running.finished.is_set()
        nursery.cancel_scope.cancel()
