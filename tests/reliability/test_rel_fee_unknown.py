"""Reliability row 22: a fee rate missing or changed.

Unknown fee: a Gamma market that does not say whether fees are enabled is a named problem, never
a fee-free listing (the sports taker fee went from 0 to 0.05 in 2026; reading a missing field as
"no fee" would make phantom edge out of every fee). A changed rate changes the edge.
"""
from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arb.book import KalshiBook, PolyBook
from arb.edge import EdgeParams, Kind, evaluate
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule
from arb.money import CENT, SCALE, parse_price, parse_qty
from arb.pairs import KalshiSide, MarketPair, PolySide, Verdict
from arb.venues.polymarket.gamma import GammaError, parse_event, parse_market
from arb.venues.polymarket.gamma import loads as gamma_loads

ONE = SCALE
P, Q = parse_price, parse_qty


@pytest.fixture
def real_event(shared_dir: Path) -> dict:
    events = gamma_loads((shared_dir / "data/real/gamma_events_nba_2026-01.json").read_bytes(),
                         what="real gamma events")
    return next(e for e in events if any(m.get("sportsMarketType") == "moneyline"
                                         for m in e["markets"]))


def _moneyline(event: dict) -> dict:
    return next(m for m in event["markets"] if m.get("sportsMarketType") == "moneyline")


def test_real_market_with_fees_disabled_is_fee_free(real_event) -> None:
    market = _moneyline(real_event)
    assert market["feesEnabled"] is False
    assert parse_market(market, where="gamma").fees == PolyFeeSchedule(rate=0)


@pytest.mark.parametrize("fees_enabled", ["missing", None])
def test_missing_fees_enabled_is_an_unknown_fee_naming_the_market(real_event, fees_enabled
                                                                  ) -> None:
    market = copy.deepcopy(_moneyline(real_event))
    if fees_enabled == "missing":
        del market["feesEnabled"]
    else:
        market["feesEnabled"] = fees_enabled
    with pytest.raises(GammaError, match="feesEnabled") as caught:
        parse_market(market, where="gamma")
    assert market["slug"] in str(caught.value) and "fee is unknown" in str(caught.value)


def test_event_keeps_its_other_markets_and_reports_the_unknown_fee(real_event) -> None:
    event = copy.deepcopy(real_event)
    broken = _moneyline(event)
    del broken["feesEnabled"]
    listing, problems = parse_event(event)
    assert broken["conditionId"] not in {m.condition_id for m in listing.markets}
    assert len(listing.markets) == len(event["markets"]) - 1
    assert [p.ident for p in problems if "fee is unknown" in p.reason] == [broken["slug"]]


def test_enabled_fees_read_from_the_schedule_and_a_new_rate_changes_the_edge(real_event) -> None:
    market = copy.deepcopy(_moneyline(real_event))
    market["feesEnabled"] = True
    market["feeSchedule"] = gamma_loads('{"rate": 0.03, "exponent": 1}', what="schedule")
    assert parse_market(market, where="gamma").fees == PolyFeeSchedule(rate=30_000)
    market["feeSchedule"] = gamma_loads('{"rate": 0.05}', what="schedule")
    assert parse_market(market, where="gamma").fees == PolyFeeSchedule(rate=50_000)

    # Poly YES ask 0.45 + Kalshi NO ask 0.52: 3 cents gross per contract. At 0.03, 100
    # contracts: 3 - Kalshi 0.07*0.52*0.48*100 = 1.7472 -> 1.75 - Polymarket 0.7425 = 0.5075.
    # At 0.05 the best size is 99: 2.97 - Kalshi 1.729728 -> 1.73 - Polymarket 1.225125 ->
    # 1.22513 (5 dp, up) = 0.01487 (100 would make 0.0125). At 0.06 every size loses.
    profits = {}
    for rate in (30_000, 50_000, 60_000):
        pair, kalshi, yes, no = _pair_and_books(rate)
        found = {o.kind: o for o in evaluate(pair, kalshi, yes, no,
                                             EdgeParams(max_qty=100 * ONE, min_profit=1))}
        opp = found.get(Kind.POLY_YES_KALSHI_NO)
        profits[rate] = None if opp is None else (opp.qty, opp.profit)
    assert profits[30_000] == (100 * ONE, 50 * CENT + 7_500)
    assert profits[50_000] == (99 * ONE, CENT + 4_870)
    assert profits[60_000] is None


def _pair_and_books(poly_rate: int):
    kalshi = KalshiSide("KXNBAGAME-26JAN01DALLAL-LAL", "KXNBAGAME-26JAN01DALLAL", "KXNBAGAME",
                        KalshiFeeSchedule())
    poly = PolySide("0xcond", "tok-lal", "tok-dal", "Lakers", "Mavericks",
                    PolyFeeSchedule(poly_rate), tick=CENT, min_order_size=5 * ONE)
    pair = MarketPair(pair_id=MarketPair.make_id(kalshi.ticker, poly.condition_id),
                      league="nba", event_key="nba:2026-01-01:DAL@LAL", market_type="moneyline",
                      start_time=datetime(2026, 1, 1, tzinfo=UTC), kalshi=kalshi, poly=poly,
                      verdict=Verdict.EQUIVALENT, reason="row 22")
    book = KalshiBook(kalshi.ticker, no_in_yes_prices=False)
    book.apply_snapshot([(P("0.48"), Q("100"))], [], received_at=1.0)  # YES bid .48 = NO ask .52
    yes = PolyBook("tok-lal", tick=CENT, min_order_size=5 * ONE)
    yes.apply_snapshot([], [(P("0.45"), Q("100"))], received_at=1.0)
    no = PolyBook("tok-dal", tick=CENT, min_order_size=5 * ONE)
    no.apply_snapshot([], [], received_at=1.0)
    return pair, book, yes, no
