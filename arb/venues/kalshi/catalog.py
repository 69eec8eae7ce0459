# Design note: listing Kalshi's open sports events.
#
# Problem: discovery needs every open event of a series with its markets, rules text, times and
# price grid, from a public endpoint that pages with an opaque cursor. A client that reads only
# the first page silently misses games; one that follows cursors forever hangs on a venue bug
# that repeats a cursor.
# Choice: ``GET /trade-api/v2/events?series_ticker=..&status=open&with_nested_markets=true&limit=200``
# and follow ``cursor`` until it is empty or absent, at most ``max_pages`` pages, refusing a
# repeated cursor. Each event and market is parsed here into ``arb.discovery.listings`` values;
# a malformed record raises ``CatalogError`` naming the series, event, market and field, so no
# venue JSON leaves this package and nothing is defaulted silently. JSON is decoded with
# ``parse_float=Decimal`` (no float ever touches a number).
# Venue facts (venues.md A4.1, A11): events limit max 200; empty/absent cursor = last page; market
# fields ``yes_sub_title``, ``rules_primary``, ``expected_expiration_time``, ``occurrence_datetime``,
# ``price_ranges``, ``fractional_trading_enabled``, ``floor_strike``; series ``fee_type`` and
# ``fee_multiplier`` (a JSON number).
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import httpx

from arb.discovery.fields import decimal_text, text, utc_time
from arb.discovery.listings import (
    WHOLE_CENTS,
    KalshiEventListing,
    KalshiMarketListing,
    KalshiSeriesListing,
    ListingProblem,
)
from arb.domain import Venue
from arb.fees import KalshiFeeSchedule
from arb.money import MoneyError, parse_fixed
from arb.venues.kalshi.grid import GridError, parse_price_ranges
from arb.venues.protocol import Transient

EVENTS_PATH = "/trade-api/v2/events"
SERIES_PATH = "/trade-api/v2/series/{ticker}"
PAGE_LIMIT = 200
MAX_PAGES = 50


class CatalogError(ValueError):
    """A Kalshi listing response is malformed (names series, event, market and field)."""


def _time(raw: Mapping[str, Any], field: str, where: str) -> datetime | None:
    return utc_time(raw.get(field), where=where, field=field, error=CatalogError)


def _str(raw: Mapping[str, Any], field: str, where: str, *, required: bool = True) -> str:
    return text(raw, field, where, error=CatalogError, required=required)


def parse_market(raw: Any, *, where: str) -> KalshiMarketListing:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where}: a market must be an object, got {raw!r}")
    ticker = _str(raw, "ticker", where)
    where = f"{where} market {ticker}"
    ranges = raw.get("price_ranges")
    try:
        grid = parse_price_ranges(ranges, where=where) if ranges else WHOLE_CENTS
    except GridError as exc:
        raise CatalogError(str(exc)) from None
    return KalshiMarketListing(
        ticker=ticker,
        event_ticker=_str(raw, "event_ticker", where),
        yes_sub_title=_str(raw, "yes_sub_title", where, required=False),
        no_sub_title=_str(raw, "no_sub_title", where, required=False),
        status=_str(raw, "status", where),
        rules_primary=_str(raw, "rules_primary", where, required=False),
        rules_secondary=_str(raw, "rules_secondary", where, required=False),
        close_time=_time(raw, "close_time", where),
        expected_expiration_time=_time(raw, "expected_expiration_time", where),
        occurrence_datetime=_time(raw, "occurrence_datetime", where),
        floor_strike=decimal_text(raw.get("floor_strike"), where=where, field="floor_strike",
                                  error=CatalogError),
        grid=grid,
        fractional=raw.get("fractional_trading_enabled") is True,
    )


def parse_event(raw: Any, *, where: str = "kalshi") -> KalshiEventListing:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where}: an event must be an object, got {raw!r}")
    event_ticker = _str(raw, "event_ticker", where)
    where = f"{where} event {event_ticker}"
    markets_raw = raw.get("markets") or []
    if not isinstance(markets_raw, list):
        raise CatalogError(f"{where}: markets must be a list")
    markets = tuple(parse_market(m, where=where) for m in markets_raw)
    for market in markets:
        if market.event_ticker != event_ticker:
            raise CatalogError(f"{where}: nested market {market.ticker} names event "
                               f"{market.event_ticker}")
    return KalshiEventListing(
        event_ticker=event_ticker,
        series_ticker=_str(raw, "series_ticker", where),
        title=_str(raw, "title", where),
        sub_title=_str(raw, "sub_title", where, required=False),
        markets=markets,
        strike_date=_time(raw, "strike_date", where),
    )


@attrs.frozen
class EventsPage:
    events: tuple[KalshiEventListing, ...]
    problems: tuple[ListingProblem, ...]
    """Events that could not be parsed, each with its reason (the rest still count)."""
    cursor: str
    """The next page's cursor; empty on the last page."""


def parse_events_page(body: Any, *, where: str = "kalshi /events") -> EventsPage:
    """One ``GET /events`` page. A malformed event becomes a problem; a malformed page raises."""
    if not isinstance(body, Mapping) or not isinstance(body.get("events"), list):
        raise CatalogError(f"{where}: expected an object with an 'events' list")
    cursor = body.get("cursor") or ""
    if not isinstance(cursor, str):
        raise CatalogError(f"{where}: cursor {cursor!r} is not a string")
    events, problems = [], []
    for raw in body["events"]:
        try:
            events.append(parse_event(raw, where=where))
        except CatalogError as exc:
            ident = raw.get("event_ticker") if isinstance(raw, Mapping) else None
            problems.append(ListingProblem("kalshi", str(ident or "?"), str(exc)))
    return EventsPage(tuple(events), tuple(problems), cursor)


def parse_series(body: Any, *, where: str = "kalshi /series") -> KalshiSeriesListing:
    series = body.get("series") if isinstance(body, Mapping) else None
    if not isinstance(series, Mapping):
        raise CatalogError(f"{where}: expected an object with a 'series' object")
    ticker = _str(series, "ticker", where)
    where = f"{where} {ticker}"
    fee_type = _str(series, "fee_type", where, required=False) or "quadratic"
    multiplier_raw = series.get("fee_multiplier", 1)
    try:
        multiplier = parse_fixed(multiplier_raw, what=f"{where} fee_multiplier")
    except MoneyError as exc:
        raise CatalogError(str(exc)) from None
    return KalshiSeriesListing(ticker, KalshiFeeSchedule(fee_type, multiplier))


def _decode(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 500 or response.status_code == 429:
        raise Transient(Venue.KALSHI, f"{what}: HTTP {response.status_code}",
                        status=response.status_code)
    if response.status_code != 200:
        raise CatalogError(f"kalshi {what}: HTTP {response.status_code}: {response.text[:200]}")
    try:
        return json.loads(response.content, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"kalshi {what}: response is not JSON: {exc}") from None


@attrs.define(eq=False)
class KalshiCatalogClient:
    """Public listing calls (no auth): open events of a series, and series fee parameters."""

    http: httpx.AsyncClient
    max_pages: int = MAX_PAGES
    page_limit: int = PAGE_LIMIT

    async def _get(self, path: str, params: dict[str, Any], what: str) -> Any:
        try:
            response = await self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise Transient(Venue.KALSHI, f"{what}: {type(exc).__name__}: {exc}") from exc
        return _decode(response, what)

    async def open_events(self, series_ticker: str) -> EventsPage:
        """Every open event of ``series_ticker`` with nested markets, following cursors.

        Returns all pages merged into one (events, problems; cursor empty).

        Raises:
            CatalogError: a malformed page, a repeated cursor, or more than ``max_pages`` pages.
            Transient: network failure, 429 or 5xx (nothing was changed; safe to retry later).
        """
        events: list[KalshiEventListing] = []
        problems: list[ListingProblem] = []
        cursor = ""
        seen: set[str] = set()
        for page in range(self.max_pages):
            params: dict[str, Any] = {"series_ticker": series_ticker, "status": "open",
                                      "with_nested_markets": "true", "limit": self.page_limit}
            if cursor:
                params["cursor"] = cursor
            what = f"/events series {series_ticker} page {page + 1}"
            got = parse_events_page(await self._get(EVENTS_PATH, params, what),
                                    where=f"kalshi {what}")
            events.extend(got.events)
            problems.extend(got.problems)
            cursor = got.cursor
            if not cursor:
                return EventsPage(tuple(events), tuple(problems), "")
            if cursor in seen:
                raise CatalogError(f"kalshi {what}: cursor {cursor!r} repeated")
            seen.add(cursor)
        raise CatalogError(f"kalshi /events series {series_ticker}: more than {self.max_pages} "
                           f"pages; refusing to continue")

    async def series(self, series_ticker: str) -> KalshiSeriesListing:
        what = f"/series/{series_ticker}"
        return parse_series(await self._get(SERIES_PATH.format(ticker=series_ticker), {}, what),
                            where=f"kalshi {what}")


@asynccontextmanager
async def open_kalshi_catalog(base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                              request_timeout: float = 10.0,
                              max_pages: int = MAX_PAGES,
                              page_limit: int = PAGE_LIMIT) -> AsyncIterator[KalshiCatalogClient]:
    """A listing client for ``base_url`` (scheme and host, e.g. ``https://external-api.kalshi.com``;
    a trailing ``/trade-api/v2`` is accepted and not doubled)."""
    base_url = base_url.rstrip("/").removesuffix("/trade-api/v2")
    async with httpx.AsyncClient(base_url=base_url, transport=transport,
                                 timeout=request_timeout,
                                 headers={"Accept": "application/json"}) as http:
        yield KalshiCatalogClient(http, max_pages, page_limit)
