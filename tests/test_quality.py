"""Opportunity quality: exact edge and cost at the traded size, fill model, gate, calibration."""
from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import attrs
import pytest

from arb.book import KalshiBook, PolyBook
from arb.config import EdgeSettings
from arb.domain import Instrument, Outcome, Side
from arb.edge import EdgeLeg, EdgeParams, Kind, Opportunity, best
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule
from arb.money import SCALE, Money, parse_money, parse_price, parse_qty
from arb.pairs import KalshiSide, MarketPair, PolySide, Verdict
from arb.quality import (
    EDGE_BELOW_MIN,
    GATE_REASONS,
    LOW_CONFIDENCE,
    LOW_FILL_PROBABILITY,
    SLIPPAGE_ABOVE_MAX,
    STALE_BOOK,
    Attempt,
    Confidence,
    ConfidenceModel,
    FillModel,
    FillOutcome,
    QualityGate,
    assess,
    calibration,
    slippage_bps,
)

POLY_YES = Instrument.polymarket("0xcond", "tok-lal")
KALSHI_NO = Instrument.kalshi("KXNBAGAME-26JAN01DALLAL-LAL", Outcome.NO)


def lv(price: str, qty: str):
    return parse_price(price), parse_qty(qty)


def opportunity() -> Opportunity:
    """10 contracts: Polymarket YES walks 6 @ 0.43 then 4 @ 0.44; Kalshi NO 10 @ 0.45."""
    a = EdgeLeg(POLY_YES, Side.BUY, parse_price("0.44"), parse_qty("10"), parse_money("4.34"),
                parse_money("0.05"), parse_price("0.43"), parse_qty("6"),
                (lv("0.43", "6"), lv("0.44", "4")))
    b = EdgeLeg(KALSHI_NO, Side.BUY, parse_price("0.45"), parse_qty("10"), parse_money("4.50"),
                parse_money("0.08"), parse_price("0.45"), parse_qty("20"), (lv("0.45", "10"),))
    return Opportunity("KXNBAGAME-26JAN01DALLAL-LAL|0xcond", Kind.POLY_YES_KALSHI_NO,
                       parse_qty("10"), (a, b), parse_money("8.84"), parse_money("0.13"),
                       parse_money("10"), parse_money("1.03"), 1148, received_at=100.0)


def test_assessment_is_exact_at_the_traded_size():
    a = assess(opportunity(), now=100.0)
    assert a.profit == parse_money("1.03") and a.capital == parse_money("8.97")
    assert a.edge_bps == 1148  # 1.03 / 8.97 = 0.114827...
    assert a.combined_cost == parse_money("0.897")
    assert a.book_ages_s == (0.0, 0.0)
    # Leg A takes 10/6 of its best level: 100 - 10 - 20 * 4/6 = 76.67; leg B half of it: 95.
    assert a.leg_fill_pct == (76, 95)
    assert a.fill_probability_pct == 72  # 76.67 * 95 / 100 = 72.83
    # Walked 4 contracts one cent past the best: $0.04 of $8.97 = 44.6 bp, rounded up.
    assert a.slippage_bps == slippage_bps(opportunity()) == 45
    assert a.confidence is Confidence.MEDIUM  # fill below the 80% a High grade needs


def test_per_leg_book_ages_and_the_grades():
    a = assess(opportunity(), now=101.0, received_at=(100.5, 99.0))
    assert a.book_ages_s == (0.5, 2.0)
    # Ages halve each leg's chance per second: 76.67 * 2^-0.5 and 95 * 2^-2.
    assert a.leg_fill_pct == (54, 23)
    assert a.fill_probability_pct == 12 and a.confidence is Confidence.LOW
    small = attrs.evolve(opportunity(), legs=tuple(
        attrs.evolve(leg, size_at_best=parse_qty("100")) for leg in opportunity().legs))
    high = assess(small, now=100.0)
    assert high.leg_fill_pct == (99, 99) and high.fill_probability_pct == 98
    assert high.confidence is Confidence.HIGH
    older = assess(small, now=100.6)  # older than the 0.5 s a High grade allows
    assert older.fill_probability_pct < high.fill_probability_pct
    assert older.confidence is not Confidence.HIGH


def test_fill_model_is_monotone_in_age_and_size():
    model = FillModel()
    best_size = parse_qty("10")
    by_age = [model.leg_pct(age / 10, parse_qty("5"), best_size) for age in range(50)]
    assert all(x >= y for x, y in zip(by_age, by_age[1:], strict=False))
    assert by_age[0] > by_age[-1]
    by_size = [model.leg_pct(0.1, parse_qty(str(q)), best_size) for q in range(1, 80)]
    assert all(x >= y for x, y in zip(by_size, by_size[1:], strict=False))
    assert by_size[-1] == 0  # far deeper than the book's best level: clamped at zero
    assert model.leg_pct(0.0, parse_qty("1"), 0) == 0
    with pytest.raises(ValueError, match="age_half_life_s"):
        FillModel(age_half_life_s=0)
    with pytest.raises(ValueError, match="depth_penalty_pct"):
        FillModel(depth_penalty_pct=101)


def _pair() -> MarketPair:
    kalshi = KalshiSide("KXNBAGAME-26JAN01DALLAL-LAL", "KXNBAGAME-26JAN01DALLAL", "KXNBAGAME",
                        KalshiFeeSchedule())
    poly = PolySide("0xcond", "tok-lal", "tok-dal", "Lakers", "Mavericks",
                    PolyFeeSchedule(50_000))
    return MarketPair(MarketPair.make_id(kalshi.ticker, poly.condition_id), "nba", "nba:x",
                      "moneyline", datetime(2026, 1, 1, tzinfo=UTC), kalshi, poly,
                      Verdict.EQUIVALENT, "test pair")


def _books(pair: MarketPair):
    kb = KalshiBook(pair.kalshi.ticker, no_in_yes_prices=False)
    # YES bids 0.55 / 0.53 are NO asks 0.45 / 0.47; the NO bid 0.40 is a YES ask of 0.60.
    kb.apply_snapshot([(SCALE - parse_price("0.45"), parse_qty("20")),
                       (SCALE - parse_price("0.47"), parse_qty("100"))], [lv("0.40", "100")],
                      received_at=10.0)
    pyb = PolyBook("tok-lal", tick=pair.poly.tick, min_order_size=pair.poly.min_order_size)
    pyb.apply_snapshot([], [lv("0.43", "30"), lv("0.44", "100")], received_at=11.0)
    pnb = PolyBook("tok-dal", tick=pair.poly.tick, min_order_size=pair.poly.min_order_size)
    pnb.apply_snapshot([], [lv("0.62", "100")], received_at=12.0)
    return kb, pyb, pnb


def test_real_detection_graded_on_the_size_it_trades():
    pair = _pair()
    full = best(pair, *_books(pair), EdgeParams())
    capped = best(pair, *_books(pair), EdgeParams(max_qty=parse_qty("15")))
    assert full is not None and capped is not None and capped.qty == parse_qty("15") < full.qty
    for opp in (full, capped):
        a = assess(opp, now=12.0)
        assert a.qty == opp.qty and a.capital == opp.cost + opp.fees
        assert a.profit == opp.qty - a.capital  # $1 per contract payout, after every fee
        assert a.edge_bps == opp.edge_bps == a.profit * 10_000 // a.capital
        assert a.combined_cost * opp.qty // SCALE >= a.capital  # rounded up, never under
        assert (a.combined_cost - 1) * opp.qty // SCALE < a.capital
        assert a.book_ages_s == (2.0, 2.0)  # oldest book (Kalshi, t=10) for both legs
    # The smaller size stays inside the best levels: no slippage, better fill odds.
    assert slippage_bps(capped) == 0 < slippage_bps(full)
    assert assess(capped, now=12.0).fill_probability_pct > assess(full, now=12.0) \
        .fill_probability_pct


def test_gate_names_every_reason():
    a = assess(opportunity(), now=100.0)  # edge 1148, slippage 45, fill 72, MEDIUM, age 0
    assert QualityGate().check(a).passed
    cases = {
        STALE_BOOK: (QualityGate(max_book_age_s=1.0), assess(opportunity(), now=101.5)),
        EDGE_BELOW_MIN: (QualityGate(min_edge_bps=1149), a),
        SLIPPAGE_ABOVE_MAX: (QualityGate(max_slippage_bps=44), a),
        LOW_FILL_PROBABILITY: (QualityGate(min_fill_probability_pct=73), a),
        LOW_CONFIDENCE: (QualityGate(min_confidence="high"), a),
    }
    assert set(cases) == set(GATE_REASONS)
    for reason, (gate, assessment) in cases.items():
        result = gate.check(assessment)
        assert not result.passed and result.reason == reason, (reason, result)
        assert result.detail
    assert QualityGate(min_edge_bps=1148, max_slippage_bps=45, min_fill_probability_pct=72,
                       min_confidence="medium").check(a).passed
    # The stale book is named first even when everything else fails too.
    strict = QualityGate(max_book_age_s=0.1, min_edge_bps=99_999, min_confidence="high")
    assert strict.check(assess(opportunity(), now=101.0)).reason == STALE_BOOK


def test_gate_from_settings():
    gate = QualityGate.from_settings(EdgeSettings(min_edge_bps=70, max_book_age_s=1.5,
                                                  max_slippage_bps=30, min_confidence="low",
                                                  min_fill_probability_pct=40))
    assert gate == QualityGate(70, 1.5, 30, Confidence.LOW, 40)
    assert gate.check(assess(opportunity(), now=100.0)).reason == SLIPPAGE_ABOVE_MAX


def test_confidence_model_thresholds():
    model = ConfidenceModel(high_fill_pct=90, high_edge_bps=100, high_max_age_s=1.0,
                            medium_fill_pct=60, medium_edge_bps=20)
    assert model.grade(90, 100, 1.0) is Confidence.HIGH
    assert model.grade(89, 100, 0.0) is Confidence.MEDIUM
    assert model.grade(95, 500, 1.1) is Confidence.MEDIUM
    assert model.grade(60, 20, 9.0) is Confidence.MEDIUM
    assert model.grade(59, 500, 0.0) is Confidence.LOW
    assert model.grade(95, 19, 0.0) is Confidence.LOW


def test_calibration_report_on_recorded_attempts():
    attempts = [Attempt(90, "filled"), Attempt(95, FillOutcome.FILLED), Attempt(85, "none"),
                Attempt(55, "partial"), Attempt(50, "filled"), Attempt(10, "none"),
                Attempt(100, "filled")]
    report = calibration(attempts)
    assert report.attempts == 7
    rows = {(b.low_pct, b.high_pct): b for b in report.buckets}
    assert list(rows) == [(10, 19), (50, 59), (80, 89), (90, 100)]
    top = rows[(90, 100)]
    assert (top.attempts, top.filled, top.partial, top.none) == (3, 3, 0, 0)
    assert top.fill_rate == 1 and top.mean_predicted == Fraction(285, 300)
    mid = rows[(50, 59)]
    assert (mid.filled, mid.partial, mid.none, mid.fill_rate) == (1, 1, 0, Fraction(1, 2))
    assert rows[(80, 89)].fill_rate == 0
    # (0.1^2 + 0.05^2 + 0.85^2 + 0.55^2 + 0.5^2 + 0.1^2 + 0) / 7
    assert report.brier == Fraction(12975, 10000) / 7
    text = report.text()
    assert "7 attempts" in text and "Brier score 0.1853" in text
    assert "90-100%" in text and "50.0%" in text


def test_calibration_edge_cases():
    empty = calibration([])
    assert empty.brier is None and empty.buckets == () and "no attempts" in empty.text()
    perfect = calibration([Attempt(100, "filled"), Attempt(0, "none")], bucket_pct=25)
    assert perfect.brier == 0
    assert [(b.low_pct, b.high_pct) for b in perfect.buckets] == [(0, 24), (75, 100)]
    assert calibration([Attempt(50, "none")] * 4).brier == Fraction(1, 4)
    with pytest.raises(ValueError, match="predicted_pct"):
        Attempt(101, "filled")
    with pytest.raises(ValueError):
        Attempt(50, "maybe")
    with pytest.raises(ValueError, match="bucket_pct"):
        calibration([], bucket_pct=0)


def test_money_never_passes_through_float():
    a = assess(opportunity(), now=100.0)
    for value in (a.profit, a.capital, a.combined_cost):
        assert type(value) is int
    assert Money(a.profit) == parse_money("1.03")
