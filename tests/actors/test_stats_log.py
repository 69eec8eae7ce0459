"""Issue 8 wiring: risk denials in the trade log (by reason, throttled) and readable from risk,
detections by path, repair losses booked once (also when a repair is cancelled midway), and the
periodic stats block built from the actors' counters, the ledger and the latency ring."""
from __future__ import annotations

import attrs
import trio
import trio.testing
from actor_fakes import (
    DEFAULT_LIMITS,
    Act,
    Answer,
    build_bot,
    contracts,
    flatten_on_trade,
    keep_fresh,
    make_books,
    make_pair,
    open_rig,
    quote,
    spec,
    touch,
    usd,
    virtual_ms,
)

from actors.execution import ExecutionParams
from actors.market import MarketParams
from actors.messages import DenyReason, ExecutionOutcome
from actors.stats_log import StatsLog, serve_stats_log
from actors.unwind import RepairParams
from arb.domain import Venue
from arb.money import Money, parse_money
from arb.stats import FeedStats, LatencyRing


async def test_denials_are_logged_as_aborted_attempts_and_counted(tmp_path, autojump_clock):
    limits = attrs.evolve(DEFAULT_LIMITS, max_trade=usd(2))  # a 10-lot costs about $9
    async with open_rig(tmp_path, limits=limits) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, MarketParams(scan_interval_s=1.0))

        async def fresh():
            while True:
                touch(books)
                await trio.sleep(0.25)

        rig.nursery.start_soon(fresh)
        await rig.nursery.start(actor.serve)
        await trio.sleep(130.5)  # scans at t = 1, 2, ..., 130: every one denied
        stats = rig.risk.statistics()
        assert stats.denials == {DenyReason.TRADE_TOO_LARGE: 130} and stats.granted == 0
        assert stats.requests == 130 and stats.approval_rate == 0.0
        assert actor.denied == {DenyReason.TRADE_TOO_LARGE: 130}
        assert actor.detected == {"scan": 130}
        # In the trade log: the first denial, then one per reason per minute (t = 1, 61, 121).
        log = sorted(rig.ledger.trade_log(), key=lambda e: e.record.started_ms)
        assert [e.record.started_ms for e in log] == [1000, 61000, 121000]
        for entry in log:
            assert entry.record.outcome == "denied"
            assert entry.record.reason.startswith("trade_too_large: $")
            assert entry.detection is not None and entry.legs == ()
        # Limits raised: the next detection, made on a book change, is granted and trades.
        rig.risk.limits = DEFAULT_LIMITS
        quote(books, poly_yes_ask=40, kalshi_no_ask=50, router=rig.router)
        await trio.sleep(0.1)
        stats = rig.risk.statistics()
        assert stats.granted == 1 and stats.approval_rate == 1 / 131
        assert actor.detected == {"scan": 130, "event": 1}
        assert actor.outcomes == {ExecutionOutcome.HEDGED: 1}


async def test_repair_cancelled_midway_still_books_its_loss(tmp_path, autojump_clock):
    """A breaker trip (here: the actor's scope cancelled) in the middle of the unwind ladder:
    the loss already realised reaches risk's daily loss and the ledger, once."""
    async with open_rig(tmp_path) as rig:
        pair = make_pair()
        books = make_books(pair)
        quote(books, poly_yes_ask=40, kalshi_no_ask=50)
        actor = rig.market(pair, books, MarketParams(scan_interval_s=1000.0))
        rig.kalshi.script(Answer(Act.FILL, qty=contracts(0)),   # entry FOK killed
                          Answer(Act.FILL, qty=contracts(0)))   # completion: no liquidity
        rig.poly.script(Answer(),                                # entry fills 10
                        Answer(Act.FILL, qty=contracts(4)),      # unwind sells 4 at 0.38
                        Answer(Act.REST))                        # the next one hangs
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.serve)
            rig.router.book_changed(Venue.KALSHI, pair.kalshi.ticker)
            await trio.sleep(10.0)
            nursery.cancel_scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        # 4 bought at 0.40 + fee 0.048, sold at 0.38 less fee 0.04712: 1.648 - 1.47288.
        loss = parse_money("0.17512")
        assert rig.risk.daily_loss == loss
        [entry] = rig.ledger.trade_log()
        assert entry.record.realised_pnl == Money(-loss)  # booked once, by record_unwind
        assert [(u.qty, u.pnl) for u in entry.unwinds] == [(contracts(4), Money(-loss))]
        assert actor.outcomes == {ExecutionOutcome.EXPOSED: 1}


def one_sided(bot, *, unwind: list[Answer]) -> None:
    """The next execution: Kalshi entry and completion fill nothing, Polymarket buys 10."""
    bot.kalshi.script(Answer(Act.FILL, qty=contracts(0)), Answer(Act.FILL, qty=contracts(0)))
    bot.poly.script(Answer(), *unwind)


async def test_stats_blocks_follow_the_bot_window_by_window(tmp_path, autojump_clock):
    hedged, unwound, stranded = spec(1, "AAA"), spec(2, "BBB"), spec(3, "CCC")
    repair = RepairParams(ladder_attempts=3)
    bot = build_bot(tmp_path, [hedged],
                    market=MarketParams(execution=ExecutionParams(repair=repair)))
    flatten_on_trade(bot, [hedged, unwound, stranded])
    ring = LatencyRing(8)
    feed = FeedStats("kalshi", True, 3, 3, 120, 1)
    blocks = []
    with bot.ledger:
        async def drive():
            stats = StatsLog(bot.supervisor, bot.ledger, ring, feeds=(lambda: feed,),
                             clock_ms=virtual_ms, scan_in_thread=False)
            await trio.sleep(5.5)  # off the actors' whole-second scans: no ties
            ring.add(100.0)
            ring.add(300.0)
            blocks.append(await stats.take())                   # t=5.5: A hedged at t=1
            one_sided(bot, unwind=[Answer()])                    # sold back all 10
            await bot.supervisor.add_market(unwound)             # trades at t=6.5
            await trio.sleep(15.0)
            blocks.append(await stats.take())                   # t=20.5
            one_sided(bot, unwind=[Answer(Act.FILL, qty=contracts(0))] * 3)
            await bot.supervisor.add_market(stranded)            # t=21.5: exposed, REDUCING
            await trio.sleep(19.25)
            quote(stranded.books, poly_yes_ask=40, kalshi_no_ask=50)  # arb again at t=39.75
            await trio.sleep(4.5)
            blocks.append(await stats.take())                   # t=44.25

        fresh = keep_fresh([hedged, unwound, stranded])

        async def stop_later():
            await trio.sleep(50.0)
            bot.supervisor.request_stop("operator stop")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(fresh)
            nursery.start_soon(drive)
            nursery.start_soon(stop_later)
            await bot.supervisor.run(handle_signals=False)
            nursery.cancel_scope.cancel()
        first, second, third = blocks
        assert (first.window_s, first.detections, first.approvals, first.trades) == (
            5.5, (("scan", 1),), 1, (("hedged", 1),))
        assert first.denials == () and first.realised_pnl == 0 and first.stranded_exposure == 0
        assert first.latency_us == (("p50", 100.0), ("p90", 300.0), ("p99", 300.0))
        assert first.latency_samples == 2 and first.feeds == (feed,)
        # 10 bought at 0.40 + fee 0.12 = 4.12; the ladder starts at the lower of the best bid
        # (0.58 once our buy took the ask) and the entry price: all 10 sold at 0.40 less fee
        # 0.12 = 3.88.
        loss = parse_money("0.24")
        assert (second.window_s, second.detections, second.approvals, second.trades) == (
            15.0, (("scan", 1),), 1, (("unwound", 1),))
        assert second.realised_pnl == second.daily_pnl == second.unwind_pnl == Money(-loss)
        assert second.unwound_exposure == usd(4)  # entry price 0.40 x 10 shed
        assert second.stranded_exposure == 0
        # The ladder gave up: 10 still held at 0.412 each; risk REDUCING denies the new arb at
        # the scans of t = 40.5 .. 43.5.
        assert (third.trades, third.approvals, third.denials) == (
            (("exposed", 1),), 1, (("breaker", 4),))
        assert third.stranded_exposure == parse_money("4.12")
        assert third.realised_pnl == 0 and third.daily_pnl == Money(-loss)
        assert third.unwind_pnl == 0 and third.unwound_exposure == 0
        assert third.detections == (("scan", 5),) and third.window_s == 23.75


async def test_serve_stats_log_writes_a_block_every_interval(tmp_path, autojump_clock):
    bot = build_bot(tmp_path, [])
    with bot.ledger:
        async with trio.open_nursery() as nursery:
            stats = StatsLog(bot.supervisor, bot.ledger, LatencyRing(4), clock_ms=virtual_ms, scan_in_thread=False)
            await nursery.start(serve_stats_log, stats, 10.0)
            await trio.sleep(35.0)
            nursery.cancel_scope.cancel()
        assert stats.blocks == 3 and stats.latest is not None
        assert stats.latest.window_s == 10.0 and stats.latest.trades == ()
