"""What each venue lists, as the project's own frozen values (no venue JSON past the adapters).

``arb.venues.kalshi.catalog`` and ``arb.venues.polymarket.gamma`` produce these; the matcher reads
them. Times are timezone-aware UTC. Prices, sizes and fee rates are integers at ``arb.money.SCALE``.
"""
from __future__ import annotations

from datetime import date, datetime

import attrs

from arb.fees import KalshiFeeSchedule, PolyFeeSchedule
from arb.money import CENT, Price, Qty
from arb.pairs import PriceBand

WHOLE_CENTS = (PriceBand(Price(0), Price(1_000_000), Price(CENT)),)


@attrs.frozen
class KalshiMarketListing:
    ticker: str
    event_ticker: str
    yes_sub_title: str
    no_sub_title: str
    status: str
    """Response vocabulary: initialized, inactive, active, closed, determined, finalized, ..."""
    rules_primary: str = ""
    rules_secondary: str = ""
    close_time: datetime | None = None
    expected_expiration_time: datetime | None = None
    occurrence_datetime: datetime | None = None
    floor_strike: str | None = None
    """The line of a spread/total market as a decimal string ("218.5"), when Kalshi gives one."""
    grid: tuple[PriceBand, ...] = WHOLE_CENTS
    fractional: bool = False


@attrs.frozen
class KalshiEventListing:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    markets: tuple[KalshiMarketListing, ...]
    strike_date: datetime | None = None


@attrs.frozen
class KalshiSeriesListing:
    ticker: str
    fees: KalshiFeeSchedule


@attrs.frozen
class PolyOutcome:
    label: str
    """The outcome label exactly as listed ("Lakers", "Yes", "Over")."""
    token_id: str


@attrs.frozen
class PolyMarketListing:
    condition_id: str
    slug: str
    question: str
    description: str
    outcomes: tuple[PolyOutcome, PolyOutcome]
    """In venue order: ``clobTokenIds[i]`` paired with ``outcomes[i]``; index 0 is NOT "YES"."""
    sports_market_type: str
    game_start_time: datetime | None
    tick: Price
    min_order_size: Qty
    fees: PolyFeeSchedule
    neg_risk: bool = False
    neg_risk_other: bool = False
    line: str | None = None
    """Decimal string ("-3.5", "245.5") for spreads and totals."""
    group_item_title: str = ""
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True

    def outcome(self, label: str) -> PolyOutcome | None:
        """The outcome with exactly this label (case-insensitive), or None."""
        found = [o for o in self.outcomes if o.label.casefold() == label.casefold()]
        return found[0] if len(found) == 1 else None


@attrs.frozen
class PolyEventListing:
    id: str
    slug: str
    title: str
    tags: tuple[str, ...]
    markets: tuple[PolyMarketListing, ...]
    start_time: datetime | None = None
    event_date: date | None = None
    """Gamma ``eventDate``: the local calendar date, which can differ from the UTC date."""
    neg_risk: bool = False
    closed: bool = False


@attrs.frozen
class ListingProblem:
    """A listed record that could not be parsed: reported to the operator, never dropped silently."""

    venue: str
    """``kalshi`` or ``polymarket``."""
    ident: str
    """Event or market ticker, slug or condition id."""
    reason: str
