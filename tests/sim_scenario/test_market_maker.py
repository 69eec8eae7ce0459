from datetime import UTC, datetime

import trio

from arb.money import SCALE
from arb.sim.kalshi.core import KalshiExchange
from arb.sim.polymarket.core import Exchange
from arb.sim.scenario import (
    POLY_YES_KALSHI_NO,
    MarketMaker,
    plan_scenario,
    run_market_maker,
    truth_json,
)
from arb.sim.slate import build_slate

NOW = datetime(2026, 11, 25, 14, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
MAX_FEES = 30_000
"""Kalshi 0.07 x p(1-p) + Polymarket 0.05 x p(1-p) never exceed 3 cents per contract."""


def _world(seed: int):
    slate = build_slate(seed, now=NOW)
    kalshi = KalshiExchange(clock=lambda: NOW_MS)
    for series in slate.series:
        kalshi.add_series(series)
    for event in slate.kalshi_events:
        kalshi.add_event(event)
    poly = Exchange(now_ms=NOW_MS)
    for event in slate.poly_events:
        poly.add_event(event)
    return slate, kalshi, poly


def _cross_costs(slate, kalshi, poly, pair):
    """Best all-in (fee-free) cost of both cross-venue directions for one truth pair."""
    yes_bids, no_bids = kalshi.orderbook(pair.kalshi_ticker)
    kalshi_yes_ask = SCALE - max(p for p, _ in no_bids)
    kalshi_no_ask = SCALE - max(p for p, _ in yes_bids)
    market = poly.market(pair.condition_id)
    yes_ask = min(market.book.token_levels(market.token_index(pair.yes_token))[1])
    no_ask = min(market.book.token_levels(market.token_index(pair.no_token))[1])
    return {"poly_yes_kalshi_no": (yes_ask[0] + kalshi_no_ask, yes_ask[1]),
            "kalshi_yes_poly_no": (no_ask[0] + kalshi_yes_ask, no_ask[1])}


async def test_windows_open_and_close_with_the_planned_edge(autojump_clock):
    slate, kalshi, poly = _world(4)
    plan = plan_scenario(slate, seed=4, seconds=40)
    assert len(plan.arbs) >= 3
    assert {a.kind for a in plan.arbs} <= {POLY_YES_KALSHI_NO, "kalshi_yes_poly_no"}
    maker = MarketMaker(kalshi, poly, slate, seed=4)
    pairs = {p.kalshi_ticker: p for p in slate.pairs}
    async with trio.open_nursery() as nursery:
        await nursery.start(run_market_maker, maker, plan)
        start = trio.current_time()
        for arb in plan.arbs:
            await trio.sleep_until(start + arb.at_s - 0.5)
            for pair in slate.pairs:
                for cost, _size in _cross_costs(slate, kalshi, poly, pair).values():
                    assert cost >= SCALE, f"unplanned arbitrage on {pair.kalshi_ticker}"
            await trio.sleep_until(start + arb.at_s + 1.0)
            cost, size = _cross_costs(slate, kalshi, poly, pairs[arb.kalshi_ticker])[arb.kind]
            assert cost + arb.edge <= SCALE, arb
            assert cost + MAX_FEES < SCALE, arb
            assert size == arb.size
        nursery.cancel_scope.cancel()
    assert maker.requotes > len(plan.arbs) * 2


def test_plan_is_seeded_and_truth_serialises():
    slate, _, _ = _world(2)
    a = plan_scenario(slate, seed=2, seconds=60)
    assert a == plan_scenario(slate, seed=2, seconds=60)
    assert a != plan_scenario(slate, seed=3, seconds=60)
    truth = truth_json(slate, a)
    assert len(truth["arbs"]) == len(a.arbs) and truth["arbs"][0]["shift"].isdigit()
    assert {p["verdict"] for p in truth["pairs"]} == {"equivalent", "basis_risk"}
    equivalent = {p.kalshi_ticker for p in slate.pairs if p.verdict == "equivalent"}
    assert all(arb.kalshi_ticker in equivalent for arb in a.arbs)


def test_a_game_with_an_open_window_holds_still():
    slate, kalshi, poly = _world(5)
    plan = plan_scenario(slate, seed=5, seconds=40)
    maker = MarketMaker(kalshi, poly, slate, seed=5)
    maker.quote_all()
    arb = plan.arbs[0]
    maker.open_window(arb)
    game = maker.game_of(arb.kalshi_ticker)
    before = {p.kalshi_ticker: kalshi.orderbook(p.kalshi_ticker) for p in game.pairs}
    for _ in range(200):
        assert maker.drift() is not game
    assert {p.kalshi_ticker: kalshi.orderbook(p.kalshi_ticker) for p in game.pairs} == before
    maker.close_window(arb)
    assert any(maker.drift() is game for _ in range(400))
