"""Edge's shortcuts: a capital bound that skips the exact max_cost check, and the per-price
fee rates each pair remembers.

``_best_size`` skips ``capital_ok`` when the exact (unrounded) cost plus fees, plus
``_rounding_allowance``, fits ``max_cost``. That is only sound if the allowance really bounds
every rounding the venues apply, which this checks on random ladders of both venues, sub-cent
prices and fractional sizes, with fee rates up to the schedule's maximum."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from test_edge import make_pair

from arb import edge
from arb.book import PolyBook
from arb.fees import (
    KalshiFeeSchedule,
    kalshi_fee_numerator,
    kalshi_rate,
    poly_fee_numerator,
)
from arb.money import CENT, SCALE
from arb.pairs import PriceBand

ladder = st.lists(st.tuples(st.integers(1, 999), st.integers(1, 5_000)), min_size=1, max_size=6,
                  unique_by=lambda level: level[0])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["poly+kalshi", "kalshi+kalshi", "poly+poly"]), ladder, ladder,
       st.sampled_from([0, 30_000, 50_000, SCALE]), st.sampled_from([SCALE // 2, SCALE]),
       st.data())
def test_rounding_allowance_bounds_capital_above_exact_cost(kinds, first, second, poly_rate,
                                                            kalshi_multiplier, data):
    pair = make_pair(fractional=True, poly_rate=poly_rate,
                     kalshi_fees=KalshiFeeSchedule(multiplier=kalshi_multiplier))
    rates = edge._Rates.of(pair)
    book = PolyBook("tok", tick=1_000, min_order_size=SCALE)
    legs = []
    for venue, raw in zip(kinds.split("+"), (first, second), strict=True):
        levels = [(price * 1_000, size * 10_000) for price, size in sorted(raw)]
        if venue == "kalshi":  # built from the other outcome's bids, best (highest) first
            legs.append(edge._kalshi_leg(rates, [(SCALE - p, size) for p, size in levels]))
        else:
            legs.append(edge._poly_leg(rates, book, levels))
    a, b = legs
    step = 10_000
    search = edge._Search(a, b, step, edge.EdgeParams(), rates.scale)
    units = data.draw(st.integers(1, min(a.liquidity, b.liquidity) // step))
    q = units * step
    pa, pb = a.price(q), b.price(q)
    capital = pa[2] + pa[3] + pb[2] + pb[3]
    exact = -(-(q * rates.scale - search.exact(units)) // rates.scale)
    assert exact <= capital <= exact + edge._rounding_allowance(a, b)


def test_remembered_per_price_rates_match_the_fee_formulas_and_stay_bounded():
    pair = make_pair(poly_rate=30_000, kalshi_fees=KalshiFeeSchedule(multiplier=SCALE // 2))
    rates = edge._Rates.of(pair)
    z = 4  # the common scale's exponent: Kalshi's SCALE**4 and Polymarket's SCALE**3 (e = 1)
    prices = list(range(100, SCALE, 100))  # 9,999 prices: the memory is cleared several times
    assert len(prices) > 2 * edge._PRICES_REMEMBERED
    for _ in range(2):  # the second pass reads what the first remembered
        for price in prices:
            k_rate = kalshi_fee_numerator(kalshi_rate(pair.kalshi.fees), price, 1)
            assert rates.at(True, price) == (k_rate, price * SCALE ** (z - 1) + k_rate)
            p_rate = poly_fee_numerator(pair.poly.fees, price, 1)
            assert rates.at(False, price) == (p_rate, price * SCALE ** (z - 1) + p_rate * SCALE)
        assert len(rates._kalshi_at) <= edge._PRICES_REMEMBERED
        assert len(rates._poly_at) <= edge._PRICES_REMEMBERED


def test_remembered_kalshi_limits_match_the_grid_and_stay_bounded():
    grid = (PriceBand(0, 100_000, 1_000), PriceBand(100_000, 900_000, CENT),
            PriceBand(900_000, SCALE, 1_000))
    rates = edge._Rates.of(make_pair(grid=grid))
    prices = list(range(500, SCALE, 500))  # 1,999 prices: the memory is cleared several times
    assert len(prices) > 2 * edge._PRICES_REMEMBERED
    random.Random(5).shuffle(prices)  # neighbours (often the same limit) are not read in a row
    for _ in range(2):
        for price in prices:
            band = next(b for b in grid if b.start <= price <= b.end)
            expected = band.start + -(-(price - band.start) // band.step) * band.step
            assert rates.kalshi_limit(price) == (expected if expected <= band.end else None)
        assert len(rates._kalshi_limits) <= edge._PRICES_REMEMBERED
