"""Edge detection: worked cases, venue rules, and a brute-force cross-check of optimality."""
from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from arb.book import KalshiBook, PolyBook
from arb.domain import Instrument, Outcome, Side, Venue
from arb.edge import EdgeParams, Kind, best, evaluate
from arb.fees import (
    FeeError,
    KalshiFeeSchedule,
    PolyFeeSchedule,
    fee_upper_bound,
    poly_fees,
)
from arb.money import CENT, SCALE, parse_money, parse_price, parse_qty
from arb.pairs import KalshiSide, MarketPair, PolySide, PriceBand, Verdict

ONE = SCALE


def make_pair(*, fractional: bool = False, kalshi_fees: KalshiFeeSchedule | None = None,
              poly_rate: int = 50_000, tick: int = CENT, min_order_size: int = 5 * ONE,
              verdict: Verdict = Verdict.EQUIVALENT,
              grid: tuple[PriceBand, ...] | None = None) -> MarketPair:
    kalshi = KalshiSide("KXNBAGAME-26JAN01DALLAL-LAL", "KXNBAGAME-26JAN01DALLAL", "KXNBAGAME",
                        kalshi_fees or KalshiFeeSchedule(), fractional=fractional,
                        **({"grid": grid} if grid else {}))
    poly = PolySide("0xcond", "tok-lal", "tok-dal", "Lakers", "Mavericks",
                    PolyFeeSchedule(poly_rate), tick=tick, min_order_size=min_order_size)
    return MarketPair(pair_id=MarketPair.make_id(kalshi.ticker, poly.condition_id),
                      league="nba", event_key="nba:2026-01-01:DAL@LAL", market_type="moneyline",
                      start_time=datetime(2026, 1, 1, tzinfo=UTC), kalshi=kalshi, poly=poly,
                      verdict=verdict, reason="test pair")


def books(pair: MarketPair, *, k_yes_asks=(), k_no_asks=(), p_yes_asks=(), p_no_asks=(),
          p_yes_bids=(), p_no_bids=()):
    """Books from the ASK side we want to buy from; Kalshi bids are derived (1 - ask)."""
    kb = KalshiBook(pair.kalshi.ticker, no_in_yes_prices=False)
    kb.apply_snapshot([(ONE - p, q) for p, q in k_no_asks], [(ONE - p, q) for p, q in k_yes_asks],
                      received_at=10.0)
    pyb = PolyBook(pair.poly.yes_token, tick=pair.poly.tick, min_order_size=pair.poly.min_order_size)
    pyb.apply_snapshot(list(p_yes_bids), list(p_yes_asks), received_at=11.0)
    pnb = PolyBook(pair.poly.no_token, tick=pair.poly.tick, min_order_size=pair.poly.min_order_size)
    pnb.apply_snapshot(list(p_no_bids), list(p_no_asks), received_at=12.0)
    return kb, pyb, pnb


def lv(price: str, qty: str):
    return parse_price(price), parse_qty(qty)


def by_kind(found):
    return {o.kind: o for o in found}


def test_no_edge_on_a_normal_book():
    pair = make_pair()
    kb, pyb, pnb = books(pair, k_yes_asks=[lv("0.45", "100")], k_no_asks=[lv("0.57", "100")],
                         p_yes_asks=[lv("0.46", "100")], p_no_asks=[lv("0.56", "100")])
    assert evaluate(pair, kb, pyb, pnb, EdgeParams()) == []
    assert best(pair, kb, pyb, pnb, EdgeParams()) is None


def test_cross_venue_edge_walks_depth_with_equal_contracts():
    pair = make_pair()
    kb, pyb, pnb = books(pair, k_yes_asks=[lv("0.60", "100")],
                         k_no_asks=[lv("0.45", "20"), lv("0.50", "100")],
                         p_yes_asks=[lv("0.43", "30"), lv("0.44", "100")],
                         p_no_asks=[lv("0.58", "100")])
    found = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))
    assert set(found) == {Kind.POLY_YES_KALSHI_NO}
    opp = found[Kind.POLY_YES_KALSHI_NO]
    poly_leg, kalshi_leg = opp.legs
    assert opp.qty == poly_leg.qty == kalshi_leg.qty == 120 * ONE  # Kalshi NO depth runs out
    assert poly_leg.instrument == Instrument.polymarket("0xcond", "tok-lal")
    assert kalshi_leg.instrument == Instrument.kalshi(pair.kalshi.ticker, Outcome.NO)
    assert poly_leg.side is kalshi_leg.side is Side.BUY
    assert poly_leg.fills == (lv("0.43", "30"), lv("0.44", "90"))
    assert kalshi_leg.fills == (lv("0.45", "20"), lv("0.50", "100"))
    assert poly_leg.limit_price == parse_price("0.44")
    assert kalshi_leg.limit_price == parse_price("0.50")
    assert (poly_leg.best_price, poly_leg.size_at_best) == lv("0.43", "30")
    assert poly_leg.cost == parse_money("52.5") and kalshi_leg.cost == parse_money("59")
    # Kalshi: 0.07 * (20*.45*.55 + 100*.25) = 2.0965 -> 2.10; Poly: 0.05 * (30*.43*.57 +
    # 90*.44*.56) = 1.47645.
    assert kalshi_leg.fee == parse_money("2.10")
    assert poly_leg.fee == parse_money("1.47645")
    assert opp.profit == parse_money("4.92355")
    assert opp.payout == 120 * ONE
    assert opp.cost + opp.fees + opp.profit == opp.payout
    assert opp.edge_bps == opp.profit * 10_000 // opp.capital
    assert opp.received_at == 10.0
    assert kalshi_leg.venue is Venue.KALSHI and poly_leg.venue is Venue.POLYMARKET


def test_kalshi_yes_poly_no_uses_the_no_token():
    pair = make_pair()
    kb, pyb, pnb = books(pair, k_yes_asks=[lv("0.40", "50")], k_no_asks=[lv("0.62", "50")],
                         p_yes_asks=[lv("0.62", "50")], p_no_asks=[lv("0.55", "10")])
    opp = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))[Kind.KALSHI_YES_POLY_NO]
    kalshi_leg, poly_leg = opp.legs
    assert kalshi_leg.instrument.kalshi_outcome is Outcome.YES
    assert poly_leg.instrument.token == "tok-dal"
    assert opp.qty == 10 * ONE


def test_profit_is_maximised_not_size():
    # Second Poly level is a loss per contract: the best size stops at the first level.
    pair = make_pair()
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "1000")], k_yes_asks=[lv("0.60", "1")],
                         p_yes_asks=[lv("0.45", "40"), lv("0.52", "500")],
                         p_no_asks=[lv("0.60", "1")])
    opp = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))[Kind.POLY_YES_KALSHI_NO]
    assert opp.qty == 40 * ONE


def test_limits_cap_the_size():
    pair = make_pair()
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "1000")], k_yes_asks=[lv("0.60", "1")],
                         p_yes_asks=[lv("0.40", "1000")], p_no_asks=[lv("0.60", "1")])
    opp = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams(max_qty=25 * ONE)))[
        Kind.POLY_YES_KALSHI_NO]
    assert opp.qty == 25 * ONE
    opp = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams(max_cost=20 * ONE)))[
        Kind.POLY_YES_KALSHI_NO]
    assert opp.capital <= 20 * ONE
    assert opp.qty == 21 * ONE  # 21 * 0.90 + fees 0.37 + 0.2 = 19.47; 22 -> 20.39


def test_min_profit_and_bps_filters():
    pair = make_pair()
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "10")], k_yes_asks=[lv("0.60", "1")],
                         p_yes_asks=[lv("0.45", "10")], p_no_asks=[lv("0.60", "1")])
    opp = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))[Kind.POLY_YES_KALSHI_NO]
    assert opp.qty == 10 * ONE
    assert evaluate(pair, kb, pyb, pnb, EdgeParams(min_profit=opp.profit + 1)) == []
    # A stricter return on capital is met at a smaller size (fee rounding favours 9 here).
    stricter = evaluate(pair, kb, pyb, pnb, EdgeParams(min_edge_bps=opp.edge_bps + 1))
    assert [(o.qty, o.edge_bps > opp.edge_bps) for o in stricter] == [(9 * ONE, True)]
    assert evaluate(pair, kb, pyb, pnb, EdgeParams(min_edge_bps=1_000)) == []
    per_contract = opp.profit * ONE // opp.qty
    for o in evaluate(pair, kb, pyb, pnb, EdgeParams(min_profit_per_contract=per_contract + 1)):
        assert o.profit * ONE >= (per_contract + 1) * o.qty
    assert evaluate(pair, kb, pyb, pnb, EdgeParams(min_profit_per_contract=5 * CENT)) == []


def test_poly_minimums_block_small_sizes():
    pair = make_pair(min_order_size=5 * ONE)
    # Only 4 contracts on the Kalshi side: below Polymarket's 5-share minimum.
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "4")], k_yes_asks=[lv("0.60", "1")],
                         p_yes_asks=[lv("0.40", "100")], p_no_asks=[lv("0.60", "1")])
    assert evaluate(pair, kb, pyb, pnb, EdgeParams()) == []
    # $1 notional: 5 shares at 0.10 is $0.50, so at least 10 shares are needed.
    pair = make_pair(min_order_size=1 * ONE)
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "9")], k_yes_asks=[lv("0.60", "1")],
                         p_yes_asks=[lv("0.10", "100")], p_no_asks=[lv("0.60", "1")])
    assert evaluate(pair, kb, pyb, pnb, EdgeParams()) == []
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "10")], k_yes_asks=[lv("0.60", "1")],
                         p_yes_asks=[lv("0.10", "100")], p_no_asks=[lv("0.60", "1")])
    assert by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))[Kind.POLY_YES_KALSHI_NO].qty == \
        10 * ONE


def test_fok_precision_picks_a_size_with_two_decimal_notional():
    # Tick 0.001: 0.455 * q has <= 2 decimals only for even q, so 29 available -> 28.
    pair = make_pair(tick=1_000, min_order_size=ONE)
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.40", "29")], k_yes_asks=[lv("0.70", "1")],
                         p_yes_asks=[lv("0.455", "30")], p_no_asks=[lv("0.70", "1")])
    opp = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))[Kind.POLY_YES_KALSHI_NO]
    assert opp.qty == 28 * ONE
    assert (opp.legs[0].limit_price * opp.qty) % (CENT * ONE) == 0


def test_fractional_kalshi_allows_hundredths():
    pair = make_pair(fractional=True, min_order_size=ONE)
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "7.5")], k_yes_asks=[lv("0.70", "1")],
                         p_yes_asks=[lv("0.30", "100")], p_no_asks=[lv("0.70", "1")])
    opp = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))[Kind.POLY_YES_KALSHI_NO]
    assert opp.qty == parse_qty("7.5")
    whole = make_pair(fractional=False, min_order_size=ONE)
    kb, pyb, pnb = books(whole, k_no_asks=[lv("0.50", "7.5")], k_yes_asks=[lv("0.70", "1")],
                         p_yes_asks=[lv("0.30", "100")], p_no_asks=[lv("0.70", "1")])
    assert by_kind(evaluate(whole, kb, pyb, pnb, EdgeParams()))[Kind.POLY_YES_KALSHI_NO].qty == \
        7 * ONE


def test_kalshi_limit_price_rounded_up_onto_the_grid():
    grid = (PriceBand(0, parse_price("0.10"), 1_000), PriceBand(parse_price("0.10"),
            parse_price("0.90"), CENT), PriceBand(parse_price("0.90"), ONE, 1_000))
    pair = make_pair(grid=grid)
    # A NO ask of 0.505 is off the 0.01 grid in the middle band: the limit is sent at 0.51.
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.505", "10")], k_yes_asks=[lv("0.70", "1")],
                         p_yes_asks=[lv("0.40", "100")], p_no_asks=[lv("0.70", "1")])
    opp = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))[Kind.POLY_YES_KALSHI_NO]
    assert opp.legs[1].limit_price == parse_price("0.51")
    assert opp.legs[1].fills == (lv("0.505", "10"),)


def test_same_market_kinds_and_best_by_profit():
    pair = make_pair(min_order_size=ONE)
    # Kalshi YES bid 0.55 + NO bid 0.50 >= 1: a crossed (stale) Kalshi book. It raises the
    # kalshi_same_market alarm but feeds no cross-venue kind.
    kb, pyb, pnb = books(pair, k_yes_asks=[lv("0.45", "10")], k_no_asks=[lv("0.50", "10")],
                         p_yes_asks=[lv("0.45", "10")], p_no_asks=[lv("0.50", "10")])
    assert kb.crossed
    found = by_kind(evaluate(pair, kb, pyb, pnb, EdgeParams()))
    assert set(found) == {Kind.POLY_SAME_MARKET, Kind.KALSHI_SAME_MARKET}
    assert found[Kind.KALSHI_SAME_MARKET].legs[0].instrument.kalshi_outcome is Outcome.YES
    assert found[Kind.KALSHI_SAME_MARKET].legs[1].instrument.kalshi_outcome is Outcome.NO
    assert {leg.instrument.token for leg in found[Kind.POLY_SAME_MARKET].legs} == \
        {"tok-lal", "tok-dal"}
    # Healthy Kalshi book: kalshi_yes_poly_no (found first) and poly_same_market both have 5
    # cents gross; Polymarket's lower fees make poly_same_market the most profitable: chosen by
    # profit, not by order.
    kb, pyb, pnb = books(pair, k_yes_asks=[lv("0.45", "10")], k_no_asks=[lv("0.56", "10")],
                         p_yes_asks=[lv("0.45", "10")], p_no_asks=[lv("0.50", "10")])
    found = evaluate(pair, kb, pyb, pnb, EdgeParams())
    assert [o.kind for o in found] == [Kind.KALSHI_YES_POLY_NO, Kind.POLY_SAME_MARKET]
    chosen = best(pair, kb, pyb, pnb, EdgeParams())
    assert chosen.kind is Kind.POLY_SAME_MARKET
    assert chosen.profit == max(o.profit for o in found) > found[0].profit


def test_untradable_pair_keeps_only_same_venue_kinds():
    pair = make_pair(verdict=Verdict.BASIS_RISK, min_order_size=ONE)
    kb, pyb, pnb = books(pair, k_yes_asks=[lv("0.45", "10")], k_no_asks=[lv("0.56", "10")],
                         p_yes_asks=[lv("0.40", "10")], p_no_asks=[lv("0.50", "10")])
    kinds = {o.kind for o in evaluate(pair, kb, pyb, pnb, EdgeParams())}
    assert kinds == {Kind.POLY_SAME_MARKET}
    accepted = attrs.evolve(pair, basis_risk_accepted=True)
    kinds = {o.kind for o in evaluate(accepted, kb, pyb, pnb, EdgeParams())}
    assert kinds == {Kind.POLY_SAME_MARKET, Kind.POLY_YES_KALSHI_NO, Kind.KALSHI_YES_POLY_NO}


def test_invalid_or_crossed_books_yield_nothing_for_their_kinds():
    pair = make_pair(min_order_size=ONE)
    args = dict(k_yes_asks=[lv("0.45", "10")], k_no_asks=[lv("0.56", "10")],
                p_yes_asks=[lv("0.40", "10")], p_no_asks=[lv("0.50", "10")])
    kb, pyb, pnb = books(pair, **args)
    assert {o.kind for o in evaluate(pair, kb, pyb, pnb, EdgeParams())} == {
        Kind.POLY_YES_KALSHI_NO, Kind.KALSHI_YES_POLY_NO, Kind.POLY_SAME_MARKET}
    kb.invalidate("seq gap")
    assert {o.kind for o in evaluate(pair, kb, pyb, pnb, EdgeParams())} == {Kind.POLY_SAME_MARKET}
    kb, pyb, pnb = books(pair, **args, p_yes_bids=[lv("0.41", "1")])
    assert pyb.crossed
    assert {o.kind for o in evaluate(pair, kb, pyb, pnb, EdgeParams())} == {
        Kind.KALSHI_YES_POLY_NO}
    fresh = PolyBook(pair.poly.no_token, tick=CENT, min_order_size=ONE)
    kb, pyb, _ = books(pair, **args)
    assert {o.kind for o in evaluate(pair, kb, pyb, fresh, EdgeParams())} == {
        Kind.POLY_YES_KALSHI_NO}
    # Kalshi YES bid 0.55 + NO bid 0.50: crossed, so only the same-market alarm uses it.
    kb, pyb, pnb = books(pair, **{**args, "k_no_asks": [lv("0.45", "10")]})
    assert kb.crossed
    assert {o.kind for o in evaluate(pair, kb, pyb, pnb, EdgeParams())} == {
        Kind.POLY_SAME_MARKET, Kind.KALSHI_SAME_MARKET}


def test_books_of_another_market_are_refused():
    pair = make_pair()
    kb, pyb, pnb = books(pair)
    with pytest.raises(ValueError, match="tok-dal"):
        evaluate(pair, kb, pnb, pyb, EdgeParams())


def test_unpriceable_kalshi_fee_refused_with_pair_named():
    pair = make_pair(kalshi_fees=KalshiFeeSchedule("flat"))
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "10")], k_yes_asks=[lv("0.60", "1")],
                         p_yes_asks=[lv("0.40", "10")], p_no_asks=[lv("0.70", "1")])
    with pytest.raises(FeeError, match=r"KXNBAGAME-26JAN01DALLAL-LAL\|0xcond.*flat"):
        evaluate(pair, kb, pyb, pnb, EdgeParams())


@pytest.mark.parametrize("bad", [dict(max_qty=0), dict(min_profit=0), dict(max_cost=-1),
                                 dict(min_edge_bps=-5), dict(min_profit_per_contract=0.5)])
def test_edge_params_validated(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        EdgeParams(**bad)


# Brute force: every size on books of <= 3 levels, with an independent walk and fees.py.

def walk(levels, qty):
    fills, left = [], qty
    for price, size in levels:
        if left <= 0:
            break
        take = min(size, left)
        fills.append((price, take))
        left -= take
    return fills if left == 0 else None


def ceil_div(a, b):
    return -(-a // b)


def realised(pair, kind, kb, pyb, pnb, params, q):
    """Profit of buying ``q`` on both legs if every rule and limit allows it, else None;
    written apart from arb.edge (its own walk; fees from arb.fees)."""
    legs = {
        Kind.POLY_YES_KALSHI_NO: (("poly", pyb), ("kalshi", Outcome.NO)),
        Kind.KALSHI_YES_POLY_NO: (("kalshi", Outcome.YES), ("poly", pnb)),
        Kind.POLY_SAME_MARKET: (("poly", pyb), ("poly", pnb)),
        Kind.KALSHI_SAME_MARKET: (("kalshi", Outcome.YES), ("kalshi", Outcome.NO)),
    }[kind]
    if kind in (Kind.POLY_YES_KALSHI_NO, Kind.KALSHI_YES_POLY_NO) and kb.crossed:
        return None  # a crossed Kalshi book cannot rest at the venue: stale, not tradable
    capital = 0
    for venue, what in legs:
        levels = kb.asks(what) if venue == "kalshi" else what.asks()
        fills = walk(levels, q)
        if fills is None:
            return None
        cost = ceil_div(sum(p * t for p, t in fills), ONE)
        worst = fills[-1][0]
        if venue == "kalshi":
            band = next((b for b in pair.kalshi.grid if b.start <= worst <= b.end), None)
            if band is None or band.start + ceil_div(worst - band.start, band.step) * band.step \
                    > band.end:
                return None
            fee = fee_upper_bound(pair.kalshi.fees, fills) + ceil_div(cost, CENT) * CENT - cost
        else:
            tick = what.tick
            limit = ceil_div(worst, tick) * tick
            if not (tick <= limit <= ONE - tick) or q < what.min_order_size \
                    or limit * q < ONE * ONE or (limit * q) % (CENT * ONE):
                return None
            fee = poly_fees(pair.poly.fees, fills)
        capital += cost + fee
    profit = q - capital
    if (capital <= params.max_cost and profit >= params.min_profit
            and profit * ONE >= params.min_profit_per_contract * q
            and profit * 10_000 >= params.min_edge_bps * capital):
        return profit
    return None


def brute_force(pair, kind, kb, pyb, pnb, params):
    """Best (profit, qty) over every allowed size, or None."""
    step = 10_000 if kind is Kind.POLY_SAME_MARKET or pair.kalshi.fractional else ONE
    result = None
    for q in range(step, params.max_qty + 1, step):
        profit = realised(pair, kind, kb, pyb, pnb, params, q)
        if profit is not None and (result is None or profit > result[0]):
            result = (profit, q)
    return result


cents = st.integers(min_value=1, max_value=99)


@st.composite
def ladders(draw, *, base):
    """Up to 3 ask levels, ascending prices from ``base`` cents, small sizes."""
    n = draw(st.integers(min_value=1, max_value=3))
    prices = sorted(set(min(99, base + draw(st.integers(0, 6))) for _ in range(n)))
    return [(p * CENT, draw(st.integers(1, 12)) * ONE // draw(st.sampled_from([1, 1, 2])))
            for p in prices]


@st.composite
def scenarios(draw):
    fractional = draw(st.booleans())
    pair = make_pair(fractional=fractional,
                     min_order_size=draw(st.sampled_from([ONE, ONE, 5 * ONE])),
                     poly_rate=draw(st.sampled_from([0, 30_000, 50_000])),
                     kalshi_fees=KalshiFeeSchedule(multiplier=draw(st.sampled_from(
                         [SCALE, SCALE // 2]))))
    # Kalshi's asks sum to about $1 (slightly crossed now and then, for the same-market alarm);
    # Polymarket's are a few cents cheaper or dearer, so cross-venue edges come and go.
    yes = draw(st.integers(20, 75))
    k_yes = draw(ladders(base=yes))
    k_no = draw(ladders(base=100 - yes + draw(st.integers(-2, 4))))
    p_yes = draw(ladders(base=yes + draw(st.integers(-12, 1))))
    p_no = draw(ladders(base=max(1, 100 - yes + draw(st.integers(-12, 1)))))
    params = EdgeParams(
        min_profit=draw(st.sampled_from([1, 1, CENT, 5 * CENT])),
        min_profit_per_contract=draw(st.sampled_from([0, 0, CENT // 2, 2 * CENT])),
        max_qty=draw(st.sampled_from([3 * ONE, 8 * ONE, 40 * ONE, 40 * ONE])),
        max_cost=draw(st.sampled_from([3 * ONE, 100 * ONE])),
        min_edge_bps=draw(st.sampled_from([0, 0, 100, 400])))
    return pair, k_yes, k_no, p_yes, p_no, params


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_edge_matches_brute_force(scenario):
    pair, k_yes, k_no, p_yes, p_no, params = scenario
    kb, pyb, pnb = books(pair, k_yes_asks=k_yes, k_no_asks=k_no, p_yes_asks=p_yes,
                         p_no_asks=p_no)
    found = by_kind(evaluate(pair, kb, pyb, pnb, params))
    for kind in Kind:
        expected = brute_force(pair, kind, kb, pyb, pnb, params)
        got = found.get(kind)
        event(f"{kind}: {'edge' if expected else 'none'}")
        if expected is None:
            assert got is None, f"{kind}: reported {got} but no size realises a profit"
            continue
        assert got is not None, f"{kind}: missed {expected}"
        assert got.profit == expected[0], f"{kind}: {got.profit} at {got.qty}, brute {expected}"
        # The reported size itself realises the reported profit.
        assert realised(pair, kind, kb, pyb, pnb, params, got.qty) == got.profit
        assert got.legs[0].qty == got.legs[1].qty == got.qty
        assert got.cost + got.fees + got.profit == got.payout == got.qty


@st.composite
def deep_scenarios(draw):
    """Realistic depth (6-15 levels, up to 40 contracts each) around a thin cross-venue edge."""
    pair = make_pair(min_order_size=5 * ONE, poly_rate=draw(st.sampled_from([30_000, 50_000])))

    def ladder(base):
        n = draw(st.integers(6, 15))
        prices = sorted({min(99, base + draw(st.integers(0, 12))) for _ in range(n)})
        return [(p * CENT, draw(st.integers(1, 40)) * ONE) for p in prices]

    yes = draw(st.integers(25, 70))
    k_yes, k_no = ladder(yes + draw(st.integers(0, 2))), ladder(100 - yes + draw(st.integers(0, 2)))
    p_yes = ladder(yes - draw(st.integers(0, 9)))
    p_no = ladder(100 - yes - draw(st.integers(0, 9)))
    params = EdgeParams(min_profit=draw(st.sampled_from([1, 10 * CENT])),
                        max_qty=150 * ONE, max_cost=draw(st.sampled_from([40 * ONE, 200 * ONE])))
    return pair, k_yes, k_no, p_yes, p_no, params


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deep_scenarios())
def test_edge_matches_brute_force_on_deep_books(scenario):
    pair, k_yes, k_no, p_yes, p_no, params = scenario
    kb, pyb, pnb = books(pair, k_yes_asks=k_yes, k_no_asks=k_no, p_yes_asks=p_yes,
                         p_no_asks=p_no)
    found = by_kind(evaluate(pair, kb, pyb, pnb, params))
    for kind in (Kind.POLY_YES_KALSHI_NO, Kind.KALSHI_YES_POLY_NO):
        expected = brute_force(pair, kind, kb, pyb, pnb, params)
        event(f"deep {kind}: {'edge' if expected else 'none'}")
        got = found.get(kind)
        assert (got.profit if got else None) == (expected[0] if expected else None)
