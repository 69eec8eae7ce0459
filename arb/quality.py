# Design note: opportunity quality.
#
# Problem: a detected edge is a promise made by two books that were true some milliseconds ago.
# The operator wants each detection graded before money moves (net edge after fees in basis
# points and dollars, how old each book is, how likely both legs fill, how much of the price
# comes from walking past the best levels) and wants the grades checked against what happened.
#
# Naive approaches: gate on gross top-of-book spread (ignores fees and depth); a "confidence"
# computed from ad-hoc floats nobody can reproduce; a fill probability that is never compared
# with outcomes, so nobody knows whether 80% means 80%.
#
# Chosen approach: everything money-like comes from ``arb.edge.Opportunity`` at the size that
# will be traded (integers; basis points rounded conservatively). The fill model is deliberately
# small, monotone and explicit (``FillModel``): each leg's chance halves per ``age_half_life_s``
# of book age, and falls linearly with the size taken relative to the size at the best level
# (``best_level_penalty_pct`` for taking all of the best level, ``depth_penalty_pct`` for every
# further multiple of it); both legs must fill, so the two legs' chances multiply. Confidence is
# a grade from fill probability, net edge and book age (``ConfidenceModel``). ``QualityGate``
# applies the operator's minimums and names the first one that fails with a stable identifier.
# ``calibration`` compares predicted fill probabilities with recorded outcomes (buckets and a
# Brier score, exact fractions) so the model's parameters can be tuned from the trade log.
from __future__ import annotations

import enum
from collections.abc import Iterable
from fractions import Fraction

import attrs

from arb.config import EdgeSettings
from arb.edge import Opportunity
from arb.money import SCALE, Money, Round, div, div_round, format_fixed

EDGE_BELOW_MIN = "edge_below_min"
STALE_BOOK = "stale_book"
LOW_CONFIDENCE = "low_confidence"
LOW_FILL_PROBABILITY = "low_fill_probability"
SLIPPAGE_ABOVE_MAX = "slippage_above_max"
GATE_REASONS = (STALE_BOOK, EDGE_BELOW_MIN, SLIPPAGE_ABOVE_MAX, LOW_FILL_PROBABILITY,
                LOW_CONFIDENCE)
"""Every reason ``QualityGate.check`` can give, in the order the checks run."""


class Confidence(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]


_CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}


def _positive_number(_inst: object, attribute: attrs.Attribute, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _percent(_inst: object, attribute: attrs.Attribute, value: int) -> None:
    if type(value) is not int or not 0 <= value <= 100:
        raise ValueError(f"{attribute.name} must be an int percent 0..100, got {value!r}")


def _non_negative_int(_inst: object, attribute: attrs.Attribute, value: int) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative int, got {value!r}")


@attrs.frozen
class FillModel:
    """Chance that one leg fills its whole size; monotone in book age and in size taken."""

    age_half_life_s: float = attrs.field(default=1.0, validator=_positive_number)
    """The chance halves for every this many seconds of book age."""
    best_level_penalty_pct: int = attrs.field(default=10, validator=_percent)
    """Points lost for taking the whole best level (others race for it too)."""
    depth_penalty_pct: int = attrs.field(default=20, validator=_percent)
    """Points lost for each further multiple of the best level's size walked into the book."""

    def leg_pct(self, age_s: float, qty: int, size_at_best: int) -> Fraction:
        """One leg's fill chance in percent (exact fraction, 0..100)."""
        if size_at_best <= 0:
            return Fraction(0)
        ratio = Fraction(qty, size_at_best)
        depth = (100 - self.best_level_penalty_pct * min(ratio, Fraction(1))
                 - self.depth_penalty_pct * max(ratio - 1, Fraction(0)))
        age = Fraction(0.5 ** (max(age_s, 0.0) / self.age_half_life_s))
        return max(Fraction(0), depth) * age


@attrs.frozen
class ConfidenceModel:
    """Thresholds of the confidence grade: High needs all three ``high_*``, Medium both
    ``medium_*``; anything else is Low."""

    high_fill_pct: int = attrs.field(default=80, validator=_percent)
    high_edge_bps: int = attrs.field(default=150, validator=_non_negative_int)
    high_max_age_s: float = attrs.field(default=0.5, validator=_positive_number)
    medium_fill_pct: int = attrs.field(default=50, validator=_percent)
    medium_edge_bps: int = attrs.field(default=50, validator=_non_negative_int)

    def grade(self, fill_pct: int, edge_bps: int, oldest_age_s: float) -> Confidence:
        if (fill_pct >= self.high_fill_pct and edge_bps >= self.high_edge_bps
                and oldest_age_s <= self.high_max_age_s):
            return Confidence.HIGH
        if fill_pct >= self.medium_fill_pct and edge_bps >= self.medium_edge_bps:
            return Confidence.MEDIUM
        return Confidence.LOW


@attrs.frozen
class Assessment:
    """The quality of one opportunity at the size it would trade."""

    pair_id: str
    kind: str
    qty: int
    profit: Money
    """Net profit after all fees at ``qty`` (dollars, at SCALE)."""
    capital: Money
    """Both legs' cost plus fees."""
    edge_bps: int
    """profit / capital x 10_000, rounded down."""
    combined_cost: Money
    """All-in cost per contract, rounded up."""
    book_ages_s: tuple[float, float]
    """Age of each leg's book, in leg order."""
    leg_fill_pct: tuple[int, int]
    fill_probability_pct: int
    """Both legs filling completely, rounded down."""
    slippage_bps: int
    """Price walked beyond each leg's best level, summed, over capital; rounded up."""
    confidence: Confidence

    @property
    def oldest_age_s(self) -> float:
        return max(self.book_ages_s)


def slippage_bps(opportunity: Opportunity) -> int:
    """Combined price walked beyond the best levels, in basis points of capital (rounded up)."""
    walked = sum((price - leg.best_price) * size
                 for leg in opportunity.legs for price, size in leg.fills)
    if walked == 0:
        return 0
    return div_round(walked * 10_000, opportunity.capital * SCALE, Round.UP)


def assess(opportunity: Opportunity, *, now: float,
           received_at: tuple[float, float] | None = None,
           fill_model: FillModel = FillModel(),
           confidence_model: ConfidenceModel = ConfidenceModel()) -> Assessment:
    """Grade ``opportunity`` at its own size.

    Args:
        now: the clock the books' ``received_at`` use (seconds).
        received_at: when each leg's book was last updated, in leg order; defaults to the
            opportunity's oldest book time for both.
    """
    times = received_at or (opportunity.received_at, opportunity.received_at)
    ages = (max(0.0, now - times[0]), max(0.0, now - times[1]))
    legs_pct = tuple(fill_model.leg_pct(age, leg.qty, leg.size_at_best)
                     for age, leg in zip(ages, opportunity.legs, strict=True))
    fill_pct = int(legs_pct[0] * legs_pct[1] / 100)
    capital = opportunity.capital
    edge_bps = opportunity.profit * 10_000 // capital if capital > 0 else 0
    return Assessment(
        pair_id=opportunity.pair_id, kind=str(opportunity.kind.value), qty=opportunity.qty,
        profit=opportunity.profit, capital=capital, edge_bps=edge_bps,
        combined_cost=Money(div(capital, opportunity.qty, Round.UP)), book_ages_s=ages,
        leg_fill_pct=(int(legs_pct[0]), int(legs_pct[1])), fill_probability_pct=fill_pct,
        slippage_bps=slippage_bps(opportunity),
        confidence=confidence_model.grade(fill_pct, edge_bps, max(ages)))


@attrs.frozen
class GateResult:
    passed: bool
    reason: str
    """One of ``GATE_REASONS``; empty when passed."""
    detail: str
    """The numbers behind the reason, for the log."""


PASS = GateResult(True, "", "")


@attrs.frozen
class QualityGate:
    """The operator's minimums; ``check`` names the first one an assessment fails."""

    min_edge_bps: int = attrs.field(default=50, validator=_non_negative_int)
    max_book_age_s: float = attrs.field(default=2.0, validator=_positive_number)
    max_slippage_bps: int = attrs.field(default=200, validator=_non_negative_int)
    min_confidence: Confidence = attrs.field(default=Confidence.MEDIUM, converter=Confidence)
    min_fill_probability_pct: int = attrs.field(default=50, validator=_percent)

    @classmethod
    def from_settings(cls, edge: EdgeSettings) -> QualityGate:
        return cls(edge.min_edge_bps, edge.max_book_age_s, edge.max_slippage_bps,
                   Confidence(edge.min_confidence), edge.min_fill_probability_pct)

    def check(self, a: Assessment) -> GateResult:
        if a.oldest_age_s > self.max_book_age_s:
            return GateResult(False, STALE_BOOK, f"book ages {a.book_ages_s[0]:.3f}s/"
                              f"{a.book_ages_s[1]:.3f}s, max {self.max_book_age_s}s")
        if a.edge_bps < self.min_edge_bps:
            return GateResult(False, EDGE_BELOW_MIN,
                              f"edge {a.edge_bps} bp < {self.min_edge_bps} bp")
        if a.slippage_bps > self.max_slippage_bps:
            return GateResult(False, SLIPPAGE_ABOVE_MAX,
                              f"slippage {a.slippage_bps} bp > {self.max_slippage_bps} bp")
        if a.fill_probability_pct < self.min_fill_probability_pct:
            return GateResult(False, LOW_FILL_PROBABILITY,
                              f"fill probability {a.fill_probability_pct}% < "
                              f"{self.min_fill_probability_pct}%")
        if a.confidence.rank < self.min_confidence.rank:
            return GateResult(False, LOW_CONFIDENCE,
                              f"confidence {a.confidence} < {self.min_confidence}")
        return PASS


# --- calibration ---------------------------------------------------------------------------

class FillOutcome(enum.StrEnum):
    FILLED = "filled"
    """Both legs filled the whole size."""
    PARTIAL = "partial"
    """Something filled, not everything."""
    NONE = "none"


@attrs.frozen
class Attempt:
    """One execution that sent orders: what was predicted and what happened."""

    predicted_pct: int = attrs.field(validator=_percent)
    outcome: FillOutcome = attrs.field(converter=FillOutcome)


@attrs.frozen
class CalibrationBucket:
    low_pct: int
    high_pct: int
    """Inclusive bounds of the predicted probability."""
    attempts: int
    filled: int
    partial: int
    none: int
    mean_predicted: Fraction
    """Mean predicted probability (0..1) of the attempts in this bucket."""

    @property
    def fill_rate(self) -> Fraction:
        """Realised rate of complete fills (0..1)."""
        return Fraction(self.filled, self.attempts)


@attrs.frozen
class CalibrationReport:
    attempts: int
    buckets: tuple[CalibrationBucket, ...]
    """Only buckets with attempts, lowest first."""
    brier: Fraction | None
    """Mean of (predicted - outcome)^2 with outcome 1 for a complete fill, else 0; None
    without attempts. 0 is perfect; always predicting 50% scores 0.25."""

    def text(self) -> str:
        if not self.attempts:
            return "calibration: no attempts that sent orders"
        lines = [f"calibration over {self.attempts} attempts "
                 f"(Brier score {_fraction(self.brier, 4)}; 0 is perfect, 0.25 is a coin flip)",
                 f"{'predicted':>10} {'attempts':>8} {'filled':>6} {'partial':>7} "
                 f"{'none':>4} {'mean pred':>9} {'fill rate':>9}"]
        for b in self.buckets:
            lines.append(f"{b.low_pct:>4}-{b.high_pct:<3}% {b.attempts:>8} {b.filled:>6} "
                         f"{b.partial:>7} {b.none:>4} {_fraction(b.mean_predicted * 100, 1):>8}%"
                         f" {_fraction(b.fill_rate * 100, 1):>8}%")
        return "\n".join(lines)


def _fraction(value: Fraction | None, decimals: int) -> str:
    if value is None:
        return "-"
    scaled = value * SCALE
    return format_fixed(scaled.numerator // scaled.denominator, decimals, Round.DOWN)


def calibration(attempts: Iterable[Attempt], *, bucket_pct: int = 10) -> CalibrationReport:
    """Bucket attempts by predicted probability (``bucket_pct`` wide; 100 joins the top
    bucket) and compare with what filled."""
    if not 1 <= bucket_pct <= 100:
        raise ValueError(f"bucket_pct must be 1..100, got {bucket_pct}")
    count = -(-100 // bucket_pct)
    groups: dict[int, list[Attempt]] = {}
    squared = Fraction(0)
    total = 0
    for attempt in attempts:
        groups.setdefault(min(attempt.predicted_pct // bucket_pct, count - 1), []).append(attempt)
        hit = 1 if attempt.outcome is FillOutcome.FILLED else 0
        squared += (Fraction(attempt.predicted_pct, 100) - hit) ** 2
        total += 1
    buckets = []
    for index in sorted(groups):
        group = groups[index]
        low = index * bucket_pct
        high = 100 if index == count - 1 else low + bucket_pct - 1
        counts = {o: sum(1 for a in group if a.outcome is o) for o in FillOutcome}
        buckets.append(CalibrationBucket(
            low, high, len(group), counts[FillOutcome.FILLED], counts[FillOutcome.PARTIAL],
            counts[FillOutcome.NONE],
            Fraction(sum(a.predicted_pct for a in group), 100 * len(group))))
    return CalibrationReport(total, tuple(buckets), squared / total if total else None)
