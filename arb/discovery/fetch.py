"""Fetch both venues' listings for a set of leagues and match them: one discovery run.

Async but event-loop agnostic (plain ``await`` on the venue clients); the caller owns the loop,
the clock and the retry policy. A ``Transient`` from either venue propagates: a discovery that
saw only part of a venue must not be mistaken for "these games are gone".
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
import httpx

from arb.discovery.leagues import League, LeagueCatalog
from arb.discovery.listings import KalshiEventListing, ListingProblem, PolyEventListing
from arb.discovery.matcher import MatchResult, match
from arb.discovery.overrides import Overrides
from arb.fees import KalshiFeeSchedule
from arb.venues.kalshi.catalog import open_kalshi_catalog
from arb.venues.polymarket.gamma import open_gamma

LOOKBACK = timedelta(hours=6)
"""Games that started this long ago are still listed (in-play markets)."""


@attrs.frozen
class Listings:
    kalshi: tuple[KalshiEventListing, ...]
    poly: tuple[PolyEventListing, ...]
    kalshi_fees: dict[str, KalshiFeeSchedule]
    problems: tuple[ListingProblem, ...]


async def fetch_listings(leagues: Sequence[League], *, kalshi_url: str, gamma_url: str,
                         now: datetime, horizon: timedelta,
                         kalshi_transport: httpx.AsyncBaseTransport | None = None,
                         gamma_transport: httpx.AsyncBaseTransport | None = None) -> Listings:
    """Open Kalshi events of every series of ``leagues`` (with series fees) and Gamma events of
    their tags starting in ``[now - LOOKBACK, now + horizon]``."""
    kalshi: list[KalshiEventListing] = []
    fees: dict[str, KalshiFeeSchedule] = {}
    poly: dict[str, PolyEventListing] = {}
    problems: list[ListingProblem] = []
    async with open_kalshi_catalog(kalshi_url, transport=kalshi_transport) as catalog:
        for league in leagues:
            for _, series in league.kalshi_series:
                page = await catalog.open_events(series)
                kalshi.extend(page.events)
                problems.extend(page.problems)
                if page.events:
                    fees[series] = (await catalog.series(series)).fees
    async with open_gamma(gamma_url, transport=gamma_transport) as gamma:
        for league in leagues:
            for tag in league.poly_tags:
                page = await gamma.events(tag, start=now - LOOKBACK, end=now + horizon)
                problems.extend(page.problems)
                for event in page.events:
                    poly.setdefault(event.slug, event)
    return Listings(tuple(kalshi), tuple(poly.values()), fees, tuple(problems))


def match_listings(catalog: LeagueCatalog, listings: Listings,
                   overrides: Overrides | None = None) -> MatchResult:
    return match(catalog, listings.kalshi, listings.poly, kalshi_fees=listings.kalshi_fees,
                 overrides=overrides, problems=listings.problems)
