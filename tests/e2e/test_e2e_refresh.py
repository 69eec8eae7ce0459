"""The discovery refresh changes the traded pairs of a running bot without a restart: a pair
dropped by discovery stops its actor and its subscriptions; when it comes back it is subscribed
again, its books are seeded and its actor runs."""
from __future__ import annotations

import trio
from e2e_rig import open_bot, poll_until, small_world

from actors.app import Discovered, discover_pairs
from arb.config import Mode
from arb.sim.world import serve_world


async def test_refresh_drops_and_re_adds_a_pair_while_running(tmp_path):
    world = small_world(11, seconds=60, arb_every_s=30.0)
    sim_dir, bot_dir = tmp_path / "sim", tmp_path / "bot"
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_world, world, sim_dir)
        async with open_bot(nursery, world, sim_dir, bot_dir, mode=Mode.PAPER) as running:
            bot = running.bot
            await poll_until(lambda: bot.supervisor.startup_report is not None, within_s=10)
            found = await discover_pairs(bot.config.settings, bot.endpoints)
            everything = {p.pair_id for p in found.tradable}
            assert {p.pair_id for p in bot.pairs} == everything
            # A moneyline of a two-way game (its event has exactly two pairs).
            counts: dict[str, int] = {}
            for p in found.tradable:
                counts[p.event_key] = counts.get(p.event_key, 0) + 1
            gone = next(p for p in found.tradable if counts[p.event_key] == 2)
            kalshi_feed = bot.refresher.kalshi_feed
            changes = await bot.refresher.apply(Discovered(
                tuple(p for p in found.pairs if p.pair_id != gone.pair_id), frozenset()))
            assert changes.removed == (gone.pair_id,) and not changes.added
            assert gone.pair_id not in {p.pair_id for p in bot.pairs}
            assert gone.pair_id not in bot.books
            assert gone.pair_id not in bot.supervisor.actors
            assert gone.kalshi.ticker not in kalshi_feed.tickers
            # Its tokens stay subscribed only while another traded pair uses them (the other
            # team's moneyline trades the same two tokens).
            in_use = {t for p in bot.pairs for t in (p.poly.yes_token, p.poly.no_token)}
            for token in (gone.poly.yes_token, gone.poly.no_token):
                assert (token in bot.refresher.poly_feed.books) == (token in in_use)
            assert kalshi_feed.book(gone.kalshi.ticker) is None
            await trio.sleep(1.0)  # refreshes are minutes apart; let the feed unsubscribe
            # Discovery lists it again: subscribed, seeded and traded, same process.
            changes = await bot.refresher.apply(found)
            assert changes.added == (gone.pair_id,)
            assert gone.kalshi.ticker in kalshi_feed.tickers
            books = bot.books[gone.pair_id]
            await poll_until(books.seeded, within_s=15)
            await poll_until(lambda: gone.pair_id in bot.supervisor.actors, within_s=5)
            actor = bot.supervisor.actors[gone.pair_id]
            await poll_until(lambda: sum(actor.triggers.values()) > 0, within_s=10)
            assert not running.finished.is_set()
            # The status view follows the traded set.
            await poll_until(lambda: bot.publisher.latest is not None and len(
                bot.publisher.latest.pairs) == len(everything), within_s=5)
        nursery.cancel_scope.cancel()
