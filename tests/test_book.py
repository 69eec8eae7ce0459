"""Order books: reference-model property tests, validation, and the best/depth views."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from arb.book import BookError, KalshiBook, PolyBook
from arb.domain import Outcome, Side
from arb.money import CENT, SCALE, parse_price, parse_qty

ONE = SCALE


def lv(price: str, qty: str):
    return parse_price(price), parse_qty(qty)


# Kalshi: reference model = a plain dict per outcome in that outcome's own prices.

# A small pool of prices (sub-cent ones included) so deltas hit existing levels; any tick.
kalshi_prices = st.one_of(
    st.sampled_from([10_000, 420_000, 440_000, 560_000, 990_000, 995_000, 5_000, 999_900]),
    st.integers(min_value=1, max_value=9_999).map(lambda t: t * 100))
kalshi_sizes = st.integers(min_value=0, max_value=5_000).map(lambda c: c * 10_000)
kalshi_levels = st.dictionaries(kalshi_prices, kalshi_sizes, max_size=12)
kalshi_deltas = st.lists(st.tuples(st.sampled_from(Outcome), kalshi_prices,
                                   st.integers(-400, 3_000).map(lambda c: c * 10_000)),
                         max_size=60)


def wire(price: int, outcome: Outcome, no_in_yes_prices: bool) -> int:
    """A price as the feed sends it under the given convention."""
    return SCALE - price if outcome is Outcome.NO and no_in_yes_prices else price


def assert_kalshi_equals(book: KalshiBook, model: dict[Outcome, dict[int, int]]) -> None:
    for outcome in Outcome:
        bids = sorted(((p, q) for p, q in model[outcome].items() if q > 0), reverse=True)
        assert book.bids(outcome) == bids
        assert book.best_bid(outcome) == (bids[0] if bids else None)
        other = model[Outcome.NO if outcome is Outcome.YES else Outcome.YES]
        asks = sorted((SCALE - p, q) for p, q in other.items() if q > 0)
        assert book.asks(outcome) == asks
        assert book.best_ask(outcome) == (asks[0] if asks else None)
        assert book.bids(outcome, 2) == bids[:2]
        assert book.asks(outcome, 1) == asks[:1]


@given(kalshi_levels, kalshi_levels, kalshi_deltas, st.booleans())
def test_kalshi_book_matches_reference_model(yes, no, deltas, no_in_yes_prices):
    book = KalshiBook("KX-T", no_in_yes_prices=no_in_yes_prices)
    book.apply_snapshot(list(yes.items()),
                        [(wire(p, Outcome.NO, no_in_yes_prices), q) for p, q in no.items()],
                        received_at=1.0, venue_ts_ms=5)
    model = {Outcome.YES: {p: q for p, q in yes.items() if q},
             Outcome.NO: {p: q for p, q in no.items() if q}}
    assert book.valid and book.updates == 1
    assert_kalshi_equals(book, model)
    for step, (outcome, price, delta) in enumerate(deltas, start=2):
        new = model[outcome].get(price, 0) + delta
        if new < 0:
            event("desync detected")
            with pytest.raises(BookError, match="out of sync"):
                book.apply_delta(outcome, wire(price, outcome, no_in_yes_prices), delta,
                                 received_at=float(step))
            assert not book.valid and "out of sync" in book.invalid_reason
            return
        book.apply_delta(outcome, wire(price, outcome, no_in_yes_prices), delta,
                         received_at=float(step), venue_ts_ms=step)
        if new:
            model[outcome][price] = new
        else:
            model[outcome].pop(price, None)
        assert book.received_at == float(step) and book.venue_ts_ms == step
    event("whole sequence applied")
    assert book.valid
    assert book.updates == 1 + len(deltas)
    assert_kalshi_equals(book, model)
    yes_bid, no_bid = book.best_bid(Outcome.YES), book.best_bid(Outcome.NO)
    assert book.crossed == bool(yes_bid and no_bid and yes_bid[0] + no_bid[0] >= SCALE)


def test_kalshi_no_side_conventions_store_the_same_book():
    # NO bid at 0.56 (REST no_dollars) == 0.44 in YES-leg prices (use_yes_price=true).
    plain = KalshiBook("KX-T", no_in_yes_prices=False)
    plain.apply_snapshot([lv("0.42", "13")], [lv("0.56", "17")], received_at=0.0)
    yes_priced = KalshiBook("KX-T", no_in_yes_prices=True)
    yes_priced.apply_snapshot([lv("0.42", "13")], [lv("0.44", "17")], received_at=0.0)
    for book in (plain, yes_priced):
        assert book.best_bid(Outcome.NO) == lv("0.56", "17")
        assert book.best_ask(Outcome.YES) == lv("0.44", "17")
        assert book.best_ask(Outcome.NO) == lv("0.58", "13")


@pytest.mark.parametrize("price", [0, SCALE, -1, SCALE + 1])
def test_kalshi_price_outside_open_interval_invalidates(price):
    book = KalshiBook("KX-T", no_in_yes_prices=False)
    book.apply_snapshot([lv("0.42", "13")], [], received_at=0.0)
    with pytest.raises(BookError, match="outside"):
        book.apply_delta(Outcome.YES, price, ONE, received_at=1.0)
    assert not book.valid and "KX-T" in book.invalid_reason
    book2 = KalshiBook("KX-T", no_in_yes_prices=True)
    with pytest.raises(BookError, match="KX-T snapshot no"):
        book2.apply_snapshot([], [(price, ONE)], received_at=0.0)
    assert not book2.valid


@pytest.mark.parametrize("level", [(0.42, ONE), (Decimal("0.42"), ONE), (420_000, 1.5),
                                   (420_000,), "0.42", (420_000, -ONE), (True, ONE)])
def test_kalshi_malformed_snapshot_levels_rejected(level):
    book = KalshiBook("KX-T", no_in_yes_prices=False)
    book.apply_snapshot([lv("0.30", "1")], [], received_at=0.0)
    with pytest.raises(BookError):
        book.apply_snapshot([level], [], received_at=1.0)
    assert not book.valid
    # The previous contents are not half-replaced; a good snapshot repairs the book.
    book.apply_snapshot([lv("0.31", "2")], [], received_at=2.0)
    assert book.valid and book.bids(Outcome.YES) == [lv("0.31", "2")]


def test_kalshi_duplicate_snapshot_level_rejected():
    book = KalshiBook("KX-T", no_in_yes_prices=False)
    with pytest.raises(BookError, match="duplicate"):
        book.apply_snapshot([lv("0.30", "1"), lv("0.30", "2")], [], received_at=0.0)
    assert not book.valid


def test_kalshi_float_delta_rejected():
    book = KalshiBook("KX-T", no_in_yes_prices=False)
    book.apply_snapshot([lv("0.30", "1")], [], received_at=0.0)
    with pytest.raises(BookError, match="delta"):
        book.apply_delta(Outcome.YES, parse_price("0.30"), 1.0, received_at=1.0)
    assert not book.valid


def test_kalshi_deltas_before_snapshot_or_after_invalidate_are_dropped_and_counted():
    book = KalshiBook("KX-T", no_in_yes_prices=False)
    assert not book.valid and book.invalid_reason == "no snapshot yet"
    book.apply_delta(Outcome.YES, parse_price("0.30"), ONE, received_at=1.0)
    assert book.dropped == 1 and book.bids(Outcome.YES) == [] and book.updates == 0
    book.apply_snapshot([lv("0.30", "1")], [], received_at=2.0)
    book.invalidate("seq gap on sid 2")
    assert not book.valid and book.invalid_reason == "seq gap on sid 2"
    book.apply_delta(Outcome.YES, parse_price("0.30"), ONE, received_at=3.0)
    assert book.dropped == 2 and book.bids(Outcome.YES) == [lv("0.30", "1")]
    book.apply_snapshot([lv("0.35", "4")], [], received_at=4.0)
    assert book.valid and book.invalid_reason == "" and book.received_at == 4.0


def test_kalshi_zero_size_snapshot_levels_ignored():
    book = KalshiBook("KX-T", no_in_yes_prices=False)
    book.apply_snapshot([lv("0.30", "0"), lv("0.31", "2")], [], received_at=0.0)
    assert book.bids(Outcome.YES) == [lv("0.31", "2")]


# Polymarket: reference model = plain dicts of bids and asks.

poly_prices = st.integers(min_value=0, max_value=1_000).map(lambda t: t * 1_000)
poly_sizes = st.integers(min_value=0, max_value=100_000).map(lambda c: c * 10_000)
poly_levels = st.dictionaries(poly_prices, poly_sizes, max_size=15)
poly_changes = st.lists(st.tuples(st.sampled_from(Side), poly_prices, poly_sizes), max_size=60)


@given(poly_levels, poly_levels, poly_changes, st.randoms(use_true_random=False))
def test_poly_book_matches_reference_model(bids, asks, changes, rnd):
    book = PolyBook("tok", tick=CENT, min_order_size=5 * ONE)
    bid_list, ask_list = list(bids.items()), list(asks.items())
    rnd.shuffle(bid_list)
    rnd.shuffle(ask_list)
    book.apply_snapshot(bid_list, ask_list, received_at=1.0)
    model = {Side.BUY: {p: q for p, q in bids.items() if q},
             Side.SELL: {p: q for p, q in asks.items() if q}}
    for step, (side, price, size) in enumerate(changes, start=2):
        book.apply_level(side, price, size, received_at=float(step), venue_ts_ms=step)
        if size:
            model[side][price] = size
        else:
            model[side].pop(price, None)
    expected_bids = sorted(model[Side.BUY].items(), reverse=True)
    expected_asks = sorted(model[Side.SELL].items())
    assert book.bids() == expected_bids
    assert book.asks() == expected_asks
    assert book.bids(3) == expected_bids[:3]
    assert book.asks(3) == expected_asks[:3]
    assert book.best_bid() == (expected_bids[0] if expected_bids else None)
    assert book.best_ask() == (expected_asks[0] if expected_asks else None)
    assert book.crossed == bool(expected_bids and expected_asks
                                and expected_bids[0][0] >= expected_asks[0][0])
    assert book.valid and book.updates == 1 + len(changes)


@pytest.mark.parametrize(("price", "size"), [(-1, ONE), (SCALE + 1, ONE), (500_000, -1),
                                             (0.5, ONE), (500_000, 2.0)])
def test_poly_bad_level_invalidates(price, size):
    book = PolyBook("tok", tick=CENT, min_order_size=5 * ONE)
    book.apply_snapshot([lv("0.40", "10")], [lv("0.42", "10")], received_at=0.0)
    with pytest.raises(BookError, match="tok"):
        book.apply_level(Side.SELL, price, size, received_at=1.0)
    assert not book.valid
    book.apply_level(Side.SELL, parse_price("0.41"), ONE, received_at=2.0)
    assert book.dropped == 1 and book.asks() == [lv("0.42", "10")]


def test_poly_bad_snapshot_invalidates():
    book = PolyBook("tok", tick=CENT, min_order_size=5 * ONE)
    with pytest.raises(BookError, match="tok book asks"):
        book.apply_snapshot([lv("0.40", "10")], [(SCALE + 10_000, ONE)], received_at=0.0)
    assert not book.valid


def test_poly_crossed_book_is_kept_and_flagged():
    book = PolyBook("tok", tick=CENT, min_order_size=5 * ONE)
    book.apply_snapshot([lv("0.40", "10")], [lv("0.42", "10")], received_at=0.0)
    assert not book.crossed
    book.apply_level(Side.BUY, parse_price("0.42"), ONE, received_at=1.0)
    assert book.crossed and book.valid
    book.apply_level(Side.SELL, parse_price("0.42"), 0, received_at=2.0)
    assert not book.crossed


def test_poly_tick_change_and_validation():
    book = PolyBook("tok", tick=CENT, min_order_size=5 * ONE)
    book.set_tick(1_000)
    assert book.tick == 1_000
    for bad in (0, SCALE, -CENT, 0.01):
        with pytest.raises(BookError, match="tick"):
            book.set_tick(bad)
    with pytest.raises(BookError, match="tick"):
        PolyBook("tok", tick=0, min_order_size=ONE)
    with pytest.raises(BookError, match="min_order_size"):
        PolyBook("tok", tick=CENT, min_order_size=5.0)


def test_depth_zero_and_empty_sides():
    book = PolyBook("tok", tick=CENT, min_order_size=ONE)
    book.apply_snapshot([], [], received_at=0.0)
    assert book.best_bid() is None and book.best_ask() is None and not book.crossed
    book.apply_snapshot([lv("0.40", "1")], [lv("0.41", "1")], received_at=1.0)
    assert book.bids(0) == [] and book.asks(0) == []
    kb = KalshiBook("KX-T", no_in_yes_prices=False)
    kb.apply_snapshot([], [], received_at=0.0)
    assert kb.best_ask(Outcome.YES) is None and kb.asks(Outcome.NO, 0) == []


bad_kalshi_price = st.one_of(st.integers(max_value=0), st.integers(min_value=SCALE))
bad_poly_price = st.one_of(st.integers(max_value=-1), st.integers(min_value=SCALE + 1))


@given(kalshi_levels, st.sampled_from(Outcome), bad_kalshi_price, st.integers(), st.booleans())
def test_kalshi_out_of_range_input_always_invalidates(levels, outcome, price, delta, in_snapshot):
    book = KalshiBook("KX-T", no_in_yes_prices=False)
    book.apply_snapshot(list(levels.items()), [], received_at=0.0)
    with pytest.raises(BookError, match="outside"):
        if in_snapshot:
            book.apply_snapshot([(price, ONE)], list(levels.items()), received_at=1.0)
        else:
            book.apply_delta(outcome, price, delta, received_at=1.0)
    assert not book.valid and book.invalid_reason


@given(poly_levels, st.sampled_from(Side), bad_poly_price, poly_sizes, st.booleans())
def test_poly_out_of_range_input_always_invalidates(levels, side, price, size, in_snapshot):
    book = PolyBook("tok", tick=CENT, min_order_size=ONE)
    book.apply_snapshot(list(levels.items()), [], received_at=0.0)
    with pytest.raises(BookError, match="outside"):
        if in_snapshot:
            book.apply_snapshot(list(levels.items()), [(price, size)], received_at=1.0)
        else:
            book.apply_level(side, price, size, received_at=1.0)
    assert not book.valid and book.invalid_reason
