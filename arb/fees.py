"""Kalshi and Polymarket fee schedules with each venue's exact rounding."""
from __future__ import annotations

import attrs

from arb.money import SCALE


@attrs.frozen
class KalshiFeeSchedule:
    """A Kalshi series' fee parameters (``GET /series/{t}``: ``fee_type``, ``fee_multiplier``)."""

    fee_type: str = "quadratic"
    """``quadratic`` (taker only), ``quadratic_with_maker_fees``, ``quadratic_with_combo_maker_fees``, ``flat``."""
    multiplier: int = SCALE
    """``fee_multiplier`` at SCALE (1.0 -> 1_000_000)."""


@attrs.frozen
class PolyFeeSchedule:
    """A Polymarket market's taker fee: ``C * rate * (p * (1 - p)) ** exponent``; makers pay 0."""

    rate: int
    """At SCALE (0.05 -> 50_000). Read per market (Gamma ``feeSchedule.rate``, CLOB ``fd.r``)."""
    exponent: int = 1
