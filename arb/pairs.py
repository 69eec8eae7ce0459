# Design note: what a matched pair is.
#
# A pair binds one Kalshi binary market to one Polymarket market (a condition with two tokens)
# and fixes the *orientation*: which Polymarket token pays exactly when the Kalshi YES pays
# (``poly.yes_token``) and which pays exactly when the Kalshi NO pays (``poly.no_token``). For a
# US-sports moneyline ``KXNBAGAME-...-LAL`` YES is the "Lakers" token and NO the other team's token;
# for soccer ``-ARS`` NO is the *No* token of "Will Arsenal win", never the other team (draws).
# Discovery decides orientation and the rule verdict; everything downstream trusts only pairs whose
# verdict allows trading.
from __future__ import annotations

import enum
from datetime import datetime

import attrs

from arb.domain import Instrument, Outcome
from arb.fees import KalshiFeeSchedule, PolyFeeSchedule
from arb.money import CENT, ONE, Price, Qty


class Verdict(enum.Enum):
    EQUIVALENT = "equivalent"
    """Same bet under every outcome the rules allow: tradable."""
    BASIS_RISK = "basis_risk"
    """Same game and orientation but the rules differ somewhere (ties, postponement): tradable
    only if the operator accepted this pair in config."""
    REJECT = "reject"
    """Not the same bet, or unverifiable: never traded."""


@attrs.frozen
class PriceBand:
    """``start <= p <= end`` on a grid of ``step`` (a Kalshi ``price_ranges`` entry)."""

    start: Price
    end: Price
    step: Price


@attrs.frozen
class KalshiSide:
    ticker: str
    event_ticker: str
    series_ticker: str
    fees: KalshiFeeSchedule
    grid: tuple[PriceBand, ...] = (PriceBand(Price(0), ONE, Price(CENT)),)
    fractional: bool = False
    """Whether fractional (0.01) contract counts are accepted for orders."""

    def instrument(self, outcome: Outcome) -> Instrument:
        return Instrument.kalshi(self.ticker, outcome)


@attrs.frozen
class PolySide:
    condition_id: str
    yes_token: str
    """The token that pays exactly when the Kalshi market's YES pays."""
    no_token: str
    """The token that pays exactly when the Kalshi market's NO pays."""
    yes_label: str
    no_label: str
    fees: PolyFeeSchedule
    tick: Price = Price(CENT)
    min_order_size: Qty = Qty(5_000_000)
    neg_risk: bool = False

    def instrument(self, token_id: str) -> Instrument:
        return Instrument.polymarket(self.condition_id, token_id)


@attrs.frozen
class MarketPair:
    pair_id: str
    """Stable id: ``"<kalshi ticker>|<polymarket condition id>"``."""
    league: str
    event_key: str
    """The game this pair belongs to (per-event exposure and one-execution-per-event key)."""
    market_type: str
    """``moneyline``, ``draw``, ``spread``, ``total``, ``btts``."""
    start_time: datetime
    kalshi: KalshiSide
    poly: PolySide
    verdict: Verdict
    reason: str
    """Why the verdict: shown to the operator and logged with every decision."""
    basis_risk_accepted: bool = False

    @property
    def tradable(self) -> bool:
        return self.verdict is Verdict.EQUIVALENT or (
            self.verdict is Verdict.BASIS_RISK and self.basis_risk_accepted)

    @staticmethod
    def make_id(kalshi_ticker: str, condition_id: str) -> str:
        return f"{kalshi_ticker}|{condition_id}"
