"""What a simulated exchange lists: plain values shared by the slate generator and both cores.

The slate (``arb/sim/slate.py``) builds these; the Kalshi core loads ``KalshiSeries`` and
``KalshiEvent``; the Polymarket core and its Gamma front end load ``PolyEvent``. Times are
timezone-aware UTC datetimes. Prices, sizes and fee rates are integers at ``arb.money.SCALE``.
"""
from __future__ import annotations

from datetime import datetime

import attrs

from arb.money import CENT, ONE, Price, Qty


@attrs.frozen
class PriceRange:
    """One band of a Kalshi price grid (``price_ranges[]``): ``start <= p <= end`` in ``step``s."""

    start: Price
    end: Price
    step: Price


LINEAR_CENT = (PriceRange(Price(0), ONE, Price(CENT)),)


@attrs.frozen
class KalshiSeries:
    ticker: str
    title: str
    category: str = "Sports"
    tags: tuple[str, ...] = ()
    fee_type: str = "quadratic"
    """``quadratic``, ``quadratic_with_maker_fees``, ``quadratic_with_combo_maker_fees``, ``flat``."""
    fee_multiplier: int = 1_000_000
    """At SCALE: 1_000_000 is 1.0."""


@attrs.frozen
class KalshiMarket:
    ticker: str
    event_ticker: str
    yes_sub_title: str
    no_sub_title: str
    rules_primary: str
    open_time: datetime
    close_time: datetime
    expected_expiration_time: datetime
    occurrence_datetime: datetime | None = None
    rules_secondary: str = ""
    price_level_structure: str = "linear_cent"
    price_ranges: tuple[PriceRange, ...] = LINEAR_CENT
    fractional_trading_enabled: bool = False
    status: str = "active"
    """Response vocabulary: initialized, inactive, active, closed, determined, finalized."""
    can_close_early: bool = True
    exchange_index: int = 0


@attrs.frozen
class KalshiEvent:
    event_ticker: str
    series_ticker: str
    title: str
    """E.g. "Houston at Sacramento" (away at home) or "Reg Time: PSG vs Arsenal"."""
    sub_title: str
    mutually_exclusive: bool
    markets: tuple[KalshiMarket, ...]
    strike_date: datetime | None = None


@attrs.frozen
class PolyToken:
    token_id: str
    """A large decimal string, as on the venue."""
    outcome: str
    """The outcome label: a team name ("Lakers"), "Yes"/"No", "Over"/"Under"."""


@attrs.frozen
class PolyMarket:
    condition_id: str
    """0x + 64 hex."""
    question_id: str
    slug: str
    question: str
    description: str
    """The full resolution rules text."""
    tokens: tuple[PolyToken, PolyToken]
    """In venue order: ``clobTokenIds[i]`` belongs to ``outcomes[i]``."""
    sports_market_type: str
    """``moneyline``, ``spreads``, ``totals``, ``both_teams_to_score``, ..."""
    game_start_time: datetime
    tick_size: Price = Price(CENT)
    min_order_size: Qty = Qty(5_000_000)
    neg_risk: bool = False
    neg_risk_market_id: str | None = None
    line: str | None = None
    group_item_title: str = ""
    fee_rate: int = 50_000
    """Taker fee rate ``r`` at SCALE (0.05 -> 50_000)."""
    fee_exponent: int = 1
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True


@attrs.frozen
class PolyEvent:
    id: str
    slug: str
    """``{league}-{team1}-{team2}-{YYYY-MM-DD}``; the date may be local, a day off from UTC."""
    title: str
    tags: tuple[str, ...]
    """Tag slugs, e.g. ("sports", "nba", "games")."""
    start_time: datetime
    markets: tuple[PolyMarket, ...]
    neg_risk: bool = False
