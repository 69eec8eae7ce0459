"""Regressions from public bots that went live before us (reliability.md), at the book/fee/edge
layer. Each test is named after the bug it would have caught."""
from __future__ import annotations

from datetime import UTC, datetime

from arb.book import KalshiBook, PolyBook
from arb.domain import Outcome, Side
from arb.edge import EdgeParams, Kind, evaluate
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule, kalshi_fee
from arb.money import CENT, SCALE, parse_price, parse_qty, parse_signed_qty
from arb.pairs import KalshiSide, MarketPair, PolySide, PriceBand, Verdict

ONE = SCALE


def lv(price: str, qty: str):
    return parse_price(price), parse_qty(qty)


def make_pair(*, poly_rate=50_000, tick=CENT, min_order_size=ONE, grid=None):
    kalshi = KalshiSide("KXNBAGAME-26JAN01DALLAL-LAL", "KXNBAGAME-26JAN01DALLAL", "KXNBAGAME",
                        KalshiFeeSchedule(), **({"grid": grid} if grid else {}))
    poly = PolySide("0xcond", "tok-lal", "tok-dal", "Lakers", "Mavericks",
                    PolyFeeSchedule(poly_rate), tick=tick, min_order_size=min_order_size)
    return MarketPair(pair_id="p", league="nba", event_key="e", market_type="moneyline",
                      start_time=datetime(2026, 1, 1, tzinfo=UTC), kalshi=kalshi, poly=poly,
                      verdict=Verdict.EQUIVALENT, reason="test")


def poly_book(token: str, *, bids=(), asks=(), tick=CENT, min_order_size=ONE) -> PolyBook:
    book = PolyBook(token, tick=tick, min_order_size=min_order_size)
    book.apply_snapshot(list(bids), list(asks), received_at=0.0)
    return book


def apply_wire_delta(book: KalshiBook, msg: dict) -> None:
    """Apply a current-format ``orderbook_delta`` msg the way a feed must: price_dollars,
    delta_fp and side (venues.md A7.4)."""
    book.apply_delta(Outcome(msg["side"]), parse_price(msg["price_dollars"]),
                     parse_signed_qty(msg["delta_fp"]), received_at=float(msg["ts_ms"]) / 1000,
                     venue_ts_ms=msg["ts_ms"])


def test_kalshi_deltas_move_the_book_not_frozen_at_snapshot():
    book = KalshiBook("KX", no_in_yes_prices=False)
    book.apply_snapshot([lv("0.41", "10"), lv("0.42", "13")], [lv("0.56", "17")],
                        received_at=0.0)
    assert book.best_ask(Outcome.YES) == lv("0.44", "17")
    apply_wire_delta(book, {"market_ticker": "KX", "price_dollars": "0.5600", "delta_fp": "-17.00",
                            "side": "no", "ts_ms": 1_000})
    assert book.best_ask(Outcome.YES) is None
    apply_wire_delta(book, {"market_ticker": "KX", "price_dollars": "0.5500", "delta_fp": "4.50",
                            "side": "no", "ts_ms": 2_000})
    assert book.best_ask(Outcome.YES) == lv("0.45", "4.5")
    apply_wire_delta(book, {"market_ticker": "KX", "price_dollars": "0.4200", "delta_fp": "-13.00",
                            "side": "yes", "ts_ms": 3_000})
    assert book.best_bid(Outcome.YES) == lv("0.41", "10")
    assert book.best_ask(Outcome.NO) == lv("0.59", "10")
    assert book.venue_ts_ms == 3_000 and book.updates == 4


def test_kalshi_no_side_deltas_under_both_use_yes_price_conventions():
    # The same NO bid (buy NO at 0.56 = sell YES at 0.44) arrives at 0.56 by default and at 0.44
    # with use_yes_price=true. Both books must show a YES ask at 0.44 after the delta.
    for no_in_yes_prices, wire_price in ((False, "0.5600"), (True, "0.4400")):
        book = KalshiBook("KX", no_in_yes_prices=no_in_yes_prices)
        book.apply_snapshot([lv("0.42", "13")], [], received_at=0.0)
        apply_wire_delta(book, {"price_dollars": wire_price, "delta_fp": "17.00", "side": "no",
                                "ts_ms": 1})
        assert book.best_bid(Outcome.NO) == lv("0.56", "17")
        assert book.best_ask(Outcome.YES) == lv("0.44", "17")
        # The YES side is untouched by a NO delta.
        assert book.bids(Outcome.YES) == [lv("0.42", "13")]


def test_poly_buy_is_bids_sell_is_asks_and_best_moves_both_ways():
    book = poly_book("tok", bids=[lv("0.40", "10")], asks=[lv("0.45", "10"), lv("0.47", "5")])
    book.apply_level(Side.SELL, parse_price("0.44"), parse_qty("3"), received_at=1.0)
    assert book.best_ask() == lv("0.44", "3")  # down
    book.apply_level(Side.SELL, parse_price("0.44"), 0, received_at=2.0)
    book.apply_level(Side.SELL, parse_price("0.45"), 0, received_at=3.0)
    assert book.best_ask() == lv("0.47", "5")  # up: a level removed
    book.apply_level(Side.BUY, parse_price("0.41"), parse_qty("2"), received_at=4.0)
    assert book.best_bid() == lv("0.41", "2")  # up
    book.apply_level(Side.BUY, parse_price("0.41"), 0, received_at=5.0)
    book.apply_level(Side.BUY, parse_price("0.40"), 0, received_at=6.0)
    assert book.best_bid() is None  # down to empty
    # size is the NEW TOTAL at the level, not a delta
    book.apply_level(Side.SELL, parse_price("0.47"), parse_qty("8"), received_at=7.0)
    assert book.asks() == [lv("0.47", "8")]


def test_sizes_are_contracts_not_scaled_by_price_nor_wrapped_at_16_bits():
    book = KalshiBook("KX", no_in_yes_prices=False)
    book.apply_snapshot([lv("0.42", "70000")], [lv("0.55", "123456.78")], received_at=0.0)
    assert book.best_bid(Outcome.YES) == lv("0.42", "70000")
    assert book.best_ask(Outcome.YES) == lv("0.45", "123456.78")
    book.apply_delta(Outcome.YES, parse_price("0.42"), parse_qty("65536"), received_at=1.0)
    assert book.best_bid(Outcome.YES)[1] == parse_qty("135536")
    # Edge sizes with the full depth: 2,000 contracts available on both sides, max 1,500.
    pair = make_pair()
    kb = KalshiBook(pair.kalshi.ticker, no_in_yes_prices=False)
    kb.apply_snapshot([lv("0.52", "2000")], [], received_at=0.0)  # NO ask 0.48 x 2000
    yes = poly_book("tok-lal", asks=[lv("0.45", "2000")])
    opps = evaluate(pair, kb, yes, poly_book("tok-dal"),
                    EdgeParams(max_qty=1_500 * ONE, max_cost=10_000 * ONE))
    assert [o.qty for o in opps] == [1_500 * ONE]


def test_sub_cent_levels_stay_apart_and_create_no_phantom_edge():
    grid = (PriceBand(0, parse_price("0.01"), 100), PriceBand(parse_price("0.01"),
            parse_price("0.99"), 1_000), PriceBand(parse_price("0.99"), ONE, 100))
    pair = make_pair(tick=1_000, grid=grid, poly_rate=0)
    yes = poly_book("tok-lal", tick=1_000, asks=[lv("0.995", "100"), lv("0.99", "50")])
    assert yes.asks() == [lv("0.99", "50"), lv("0.995", "100")]
    kb = KalshiBook(pair.kalshi.ticker, no_in_yes_prices=True)
    # NO levels in YES-leg prices: 0.01 and 0.005 are NO bids at 0.99 and 0.995.
    kb.apply_snapshot([lv("0.99", "10"), lv("0.995", "20")], [lv("0.01", "7"), lv("0.005", "8")],
                      received_at=0.0)
    assert kb.bids(Outcome.YES) == [lv("0.995", "20"), lv("0.99", "10")]
    assert kb.asks(Outcome.NO) == [lv("0.005", "20"), lv("0.01", "10")]
    assert kb.bids(Outcome.NO) == [lv("0.995", "8"), lv("0.99", "7")]
    assert kb.asks(Outcome.YES) == [lv("0.005", "8"), lv("0.01", "7")]
    # Polymarket YES 0.995 + Kalshi NO 0.005 = 1.000 exactly: no edge. Had 0.995 collapsed to
    # 0.99, the same books would show one, as a real 0.99 ask does.
    kb.apply_snapshot([lv("0.995", "20")], [], received_at=1.0)
    no = poly_book("tok-dal", tick=1_000)
    at_995 = poly_book("tok-lal", tick=1_000, asks=[lv("0.995", "100")])
    assert evaluate(pair, kb, at_995, no, EdgeParams()) == []
    at_99 = poly_book("tok-lal", tick=1_000, asks=[lv("0.99", "100")])
    (opp,) = evaluate(pair, kb, at_99, no, EdgeParams())
    assert (opp.qty, opp.profit) == (20 * ONE, parse_price("0.09"))


def test_legs_are_equal_shares_not_equal_dollars():
    pair = make_pair()
    kb = KalshiBook(pair.kalshi.ticker, no_in_yes_prices=False)
    kb.apply_snapshot([lv("0.80", "500")], [], received_at=0.0)  # NO ask 0.20
    yes = poly_book("tok-lal", asks=[lv("0.70", "500")])
    (opp,) = evaluate(pair, kb, yes, poly_book("tok-dal"), EdgeParams(max_qty=100 * ONE))
    poly_leg, kalshi_leg = opp.legs
    assert poly_leg.qty == kalshi_leg.qty == opp.qty == 100 * ONE
    assert poly_leg.cost == 70 * ONE and kalshi_leg.cost == 20 * ONE
    assert sum(q for _, q in poly_leg.fills) == sum(q for _, q in kalshi_leg.fills) == opp.qty


def test_fee_rounding_makes_a_one_contract_arb_negative():
    # Asks 0.48 + 0.50 = 0.98: two cents gross per contract. Kalshi rounds 1 contract's 0.0175
    # fee up to 0.02, so one contract makes nothing; four contracts pay 0.07 and make 0.01.
    assert kalshi_fee(KalshiFeeSchedule(), parse_price("0.50"), parse_qty("1")) == 2 * CENT
    pair = make_pair(poly_rate=0)
    kb = KalshiBook(pair.kalshi.ticker, no_in_yes_prices=False)
    kb.apply_snapshot([lv("0.50", "100")], [], received_at=0.0)  # NO ask 0.50
    yes = poly_book("tok-lal", asks=[lv("0.48", "100")])
    no = poly_book("tok-dal")
    assert evaluate(pair, kb, yes, no, EdgeParams(max_qty=ONE)) == []
    (opp,) = evaluate(pair, kb, yes, no, EdgeParams(max_qty=4 * ONE))
    assert opp.kind is Kind.POLY_YES_KALSHI_NO
    assert (opp.qty, opp.profit, opp.legs[1].fee) == (4 * ONE, CENT, 7 * CENT)
    # With Polymarket's sports fee too, no size is profitable at all.
    taxed = make_pair(poly_rate=50_000)
    assert evaluate(taxed, kb, yes, no, EdgeParams()) == []
