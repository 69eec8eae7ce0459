"""Edge's memo of the last evaluation per (pair, kind): reused only while its inputs are equal.

Each check compares ``evaluate`` on the long-lived pair (memo hits and partial reuse) with
``evaluate`` on an equal but distinct pair object, which the memo has never seen and so is
computed from scratch."""
from __future__ import annotations

import attrs
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_edge import books, lv, make_pair

from arb import edge
from arb.book import KalshiBook, PolyBook
from arb.domain import Outcome, Side
from arb.edge import EdgeParams, Kind, evaluate
from arb.money import CENT, SCALE

ONE = SCALE


def fresh(pair, kb, pyb, pnb, params):
    """The evaluation with nothing remembered: a distinct (equal) pair object."""
    return evaluate(attrs.evolve(pair), kb, pyb, pnb, params)


def arb_books(pair):
    return books(pair, k_yes_asks=[lv("0.60", "50")],
                 k_no_asks=[lv("0.50", "20"), lv("0.52", "30"), lv("0.55", "40")],
                 p_yes_asks=[lv("0.43", "15"), lv("0.45", "25"), lv("0.47", "100")],
                 p_no_asks=[lv("0.58", "50")])


def test_a_covered_level_change_is_seen_and_a_deeper_one_reuses_the_result():
    pair = make_pair(min_order_size=ONE)
    params = EdgeParams(max_qty=30 * ONE)
    kb, pyb, pnb = arb_books(pair)
    (first,) = evaluate(pair, kb, pyb, pnb, params)
    assert first.kind is Kind.POLY_YES_KALSHI_NO
    assert len(first.legs[0].fills) == len(first.legs[1].fills) == 2  # both walk two levels
    # A level beyond what 30 contracts walk: same inputs, the remembered result, restamped.
    pyb.apply_level(Side.SELL, lv("0.47", "1")[0], 7 * ONE, received_at=20.0)
    kb.apply_delta(Outcome.YES, ONE - lv("0.55", "1")[0], 5 * ONE, received_at=21.0)
    (again,) = evaluate(pair, kb, pyb, pnb, params)
    assert again.legs is first.legs
    assert again.received_at == 20.0 != first.received_at
    assert [again] == fresh(pair, kb, pyb, pnb, params)
    # The best Polymarket level shrinks: a different size and profit, not the stale one.
    pyb.apply_level(Side.SELL, lv("0.43", "1")[0], 2 * ONE, received_at=22.0)
    (moved,) = evaluate(pair, kb, pyb, pnb, params)
    assert moved.legs[0].fills[0] == lv("0.43", "2")
    assert moved.profit < first.profit
    assert [moved] == fresh(pair, kb, pyb, pnb, params)
    # The Kalshi NO leg's best level (YES bid 0.50) grows: seen as well.
    kb.apply_delta(Outcome.YES, lv("0.50", "1")[0], 10 * ONE, received_at=23.0)
    (grown,) = evaluate(pair, kb, pyb, pnb, params)
    assert grown.qty > 20 * ONE and grown.legs[1].fills == ((lv("0.50", "1")[0], grown.qty),)
    assert [grown] == fresh(pair, kb, pyb, pnb, params)


def test_a_change_to_a_level_read_but_not_walked_keeps_the_result_objects():
    pair = make_pair(min_order_size=ONE)
    params = EdgeParams(max_qty=50 * ONE)
    # 10 Polymarket contracts at 0.40 make money; the 0.60 level (read to cover 50) does not.
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "100")], k_yes_asks=[lv("0.70", "1")],
                         p_yes_asks=[lv("0.40", "10"), lv("0.60", "100")],
                         p_no_asks=[lv("0.70", "1")])
    (first,) = evaluate(pair, kb, pyb, pnb, params)
    assert first.qty == 10 * ONE
    pyb.apply_level(Side.SELL, lv("0.60", "1")[0], 80 * ONE, received_at=30.0)
    (again,) = evaluate(pair, kb, pyb, pnb, params)  # re-sized: the same answer, restamped
    assert again.legs is first.legs and again.received_at == 10.0
    assert [again] == fresh(pair, kb, pyb, pnb, params)
    # The level the answer walks changes: new legs with the new fill.
    pyb.apply_level(Side.SELL, lv("0.40", "1")[0], 8 * ONE, received_at=31.0)
    (moved,) = evaluate(pair, kb, pyb, pnb, params)
    assert moved.qty == 8 * ONE and moved.legs[0].fills == (lv("0.40", "8"),)
    assert moved.legs[1] is not first.legs[1]
    assert [moved] == fresh(pair, kb, pyb, pnb, params)


def test_only_what_max_qty_can_take_from_the_last_level_read_is_an_input():
    pair = make_pair(min_order_size=ONE)
    params = EdgeParams(max_qty=30 * ONE)
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.50", "100")], k_yes_asks=[lv("0.70", "1")],
                         p_yes_asks=[lv("0.40", "10"), lv("0.45", "100")],
                         p_no_asks=[lv("0.70", "1")])
    (first,) = evaluate(pair, kb, pyb, pnb, params)
    memo = edge._memos[(id(pair), Kind.POLY_YES_KALSHI_NO)]
    poly_leg = memo.a
    assert poly_leg.levels == [lv("0.40", "10"), lv("0.45", "20")]  # 30 can take 20 at 0.45
    pyb.apply_level(Side.SELL, lv("0.45", "1")[0], 80 * ONE, received_at=50.0)
    (again,) = evaluate(pair, kb, pyb, pnb, params)
    assert memo.a is poly_leg and again.legs is first.legs  # no re-sizing at all
    assert [again] == fresh(pair, kb, pyb, pnb, params)
    # The best level is never cut: its whole size is reported (size_at_best).
    assert first.legs[1].size_at_best == 100 * ONE
    kb.apply_delta(Outcome.YES, lv("0.50", "1")[0], 5 * ONE, received_at=51.0)
    (grown,) = evaluate(pair, kb, pyb, pnb, params)
    assert grown.legs[1].size_at_best == 105 * ONE
    assert [grown] == fresh(pair, kb, pyb, pnb, params)


def test_same_fills_with_another_limit_or_best_size_make_new_legs():
    pair = make_pair(min_order_size=ONE)
    params = EdgeParams(max_qty=50 * ONE)
    # Kalshi's 20 contracts cap the size; 0.455 x 20 = 9.10 is valid on either tick.
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.40", "20")], k_yes_asks=[lv("0.70", "1")],
                         p_yes_asks=[lv("0.455", "100")], p_no_asks=[lv("0.70", "1")])
    pyb.set_tick(1_000)
    (first,) = evaluate(pair, kb, pyb, pnb, params)
    assert (first.qty, first.legs[0].limit_price) == (20 * ONE, lv("0.455", "1")[0])
    pyb.set_tick(CENT)  # the same fills, sent at 0.46
    (coarse,) = evaluate(pair, kb, pyb, pnb, params)
    assert coarse.legs[0].fills == first.legs[0].fills
    assert coarse.legs[0].limit_price == lv("0.46", "1")[0]
    assert coarse.legs[1] is first.legs[1]  # the Kalshi leg is unchanged
    assert [coarse] == fresh(pair, kb, pyb, pnb, params)
    # Less size at the best Polymarket level, still more than the 20 taken.
    pyb.apply_level(Side.SELL, lv("0.455", "1")[0], 60 * ONE, received_at=40.0)
    (thinner,) = evaluate(pair, kb, pyb, pnb, params)
    assert thinner.legs[0].fills == coarse.legs[0].fills
    assert thinner.legs[0].size_at_best == 60 * ONE
    assert [thinner] == fresh(pair, kb, pyb, pnb, params)


def test_tick_minimum_size_and_params_are_part_of_the_input():
    pair = make_pair(min_order_size=ONE)
    params = EdgeParams(max_qty=30 * ONE)
    kb, pyb, pnb = books(pair, k_no_asks=[lv("0.40", "29")], k_yes_asks=[lv("0.70", "1")],
                         p_yes_asks=[lv("0.455", "30")], p_no_asks=[lv("0.70", "1")])
    pyb.set_tick(1_000)
    (opp,) = evaluate(pair, kb, pyb, pnb, params)
    assert opp.qty == 28 * ONE  # 0.455 x q needs <= 2 decimals: even q only
    # The same levels on a coarser tick: the limit becomes 0.46, any whole size is valid.
    pyb.set_tick(CENT)
    (opp,) = evaluate(pair, kb, pyb, pnb, params)
    assert (opp.qty, opp.legs[0].limit_price) == (29 * ONE, lv("0.46", "1")[0])
    assert [opp] == fresh(pair, kb, pyb, pnb, params)
    # A minimum order size above the Kalshi depth: nothing, though no level moved.
    pyb.min_order_size = 30 * ONE
    assert evaluate(pair, kb, pyb, pnb, params) == [] == fresh(pair, kb, pyb, pnb, params)
    pyb.min_order_size = ONE
    # Equal params (another object) reuse the result; different ones do not.
    (opp,) = evaluate(pair, kb, pyb, pnb, params)
    (same,) = evaluate(pair, kb, pyb, pnb, EdgeParams(max_qty=30 * ONE))
    assert same is opp
    (capped,) = evaluate(pair, kb, pyb, pnb, EdgeParams(max_qty=10 * ONE))
    assert capped.qty == 10 * ONE


def test_the_memo_is_bounded():
    params = EdgeParams()
    for _ in range(edge._MEMO_LIMIT + 10):
        pair = make_pair(min_order_size=ONE)
        kb, pyb, pnb = arb_books(pair)
        assert evaluate(pair, kb, pyb, pnb, params)
    assert len(edge._memos) <= edge._MEMO_LIMIT
    assert len(edge._pair_rates) <= edge._RATES_LIMIT


updates = st.lists(st.one_of(
    st.tuples(st.just("kalshi"), st.sampled_from(list(Outcome)), st.integers(40, 60),
              st.integers(-30, 30)),
    st.tuples(st.just("poly"), st.booleans(), st.sampled_from(list(Side)), st.integers(76, 124),
              st.integers(0, 30)),
    st.tuples(st.just("tick"), st.booleans(), st.sampled_from([1_000, CENT])),
    st.tuples(st.just("min"), st.booleans(), st.sampled_from([ONE, 5 * ONE, 12 * ONE])),
    st.tuples(st.just("params"), st.sampled_from([3, 20, 60]), st.sampled_from([0, 200]))),
    min_size=1, max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(updates)
def test_remembered_evaluations_equal_fresh_ones_through_any_update_sequence(steps):
    pair = make_pair(min_order_size=ONE, fractional=True)
    kb = KalshiBook(pair.kalshi.ticker, no_in_yes_prices=False)
    kb.apply_snapshot([(p * CENT, 10 * ONE) for p in (44, 45, 46)],
                      [(p * CENT, 10 * ONE) for p in (49, 50, 51)], received_at=0.0)
    pyb = PolyBook(pair.poly.yes_token, tick=CENT, min_order_size=ONE)
    # Half-cent asks: the tick decides their limit price and which sizes Polymarket accepts.
    pyb.apply_snapshot([(40 * CENT, 10 * ONE)],
                       [(h * CENT // 2, 10 * ONE) for h in (85, 86, 89)], received_at=0.0)
    pnb = PolyBook(pair.poly.no_token, tick=CENT, min_order_size=ONE)
    pnb.apply_snapshot([(40 * CENT, 10 * ONE)],
                       [(h * CENT // 2, 10 * ONE) for h in (105, 106, 109)], received_at=0.0)
    params = EdgeParams(max_qty=20 * ONE)
    for now, step in enumerate(steps, start=1):
        what = step[0]
        if what == "kalshi":
            _, outcome, cents, delta = step
            price = cents * CENT
            left = kb.bids(outcome)
            have = dict(left).get(price, 0)
            kb.apply_delta(outcome, price, max(delta * ONE, -have), received_at=float(now))
        elif what == "poly":
            _, yes, side, half_cents, size = step
            (pyb if yes else pnb).apply_level(side, half_cents * CENT // 2, size * ONE,
                                              received_at=float(now))
        elif what == "tick":
            (pyb if step[1] else pnb).set_tick(step[2])
        elif what == "min":
            (pyb if step[1] else pnb).min_order_size = step[2]
        else:
            params = EdgeParams(max_qty=step[1] * ONE, min_edge_bps=step[2])
        found = evaluate(pair, kb, pyb, pnb, params)
        assert found == fresh(pair, kb, pyb, pnb, params)
        event(f"{len(found)} kinds found")
