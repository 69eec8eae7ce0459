# Design note: listing Polymarket sports games from Gamma.
#
# Problem: Gamma is the only place that says which tokens belong to which game, but its shapes
# are hostile: ``outcomes`` and ``clobTokenIds`` are JSON *strings* inside the JSON; moneyline
# outcomes are team nicknames, not Yes/No, so ``clobTokenIds[0]`` is not "YES" (a public bot
# shipped that bug); prices, ticks and lines are bare JSON numbers that a default parser turns into
# floats; one game event holds hundreds of props; ``gameStartTime`` is UTC ("2026-01-12 02:00:00+00")
# while the slug carries the local date.
# Choice: decode with ``parse_float=Decimal``; decode ``outcomes``/``clobTokenIds`` and pair them BY
# INDEX into ``PolyOutcome(label, token_id)`` values, refusing anything but exactly two of each;
# ticks, sizes and fee rates go through ``arb.money`` into integers. A malformed market becomes a
# ``ListingProblem`` naming the event, market and field (the rest of the event still counts); a
# malformed page raises ``GammaError``. Pages are walked with limit/offset up to ``max_pages``.
# Venue facts (venues.md B8, B9; data/real/gamma_events_nba_2026-01.json): fields listed in B8;
# ``feesEnabled`` false means no taker fee; ``feeSchedule{rate, exponent}`` when enabled; a
# missing or null ``feesEnabled`` is an unknown fee (a problem), never read as "no fee".
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import httpx

from arb.discovery.fields import decimal_text, text, utc_time
from arb.discovery.listings import (
    ListingProblem,
    PolyEventListing,
    PolyMarketListing,
    PolyOutcome,
)
from arb.domain import Venue
from arb.fees import PolyFeeSchedule
from arb.money import MoneyError, Price, Qty, parse_fixed, parse_price, parse_qty
from arb.venues.protocol import Transient

EVENTS_PATH = "/events"
PAGE_LIMIT = 100
MAX_PAGES = 20


class GammaError(ValueError):
    """A Gamma response or record is malformed (names the event, market and field)."""


@attrs.frozen
class GammaPage:
    events: tuple[PolyEventListing, ...]
    problems: tuple[ListingProblem, ...]


def _time(raw: Mapping[str, Any], field: str, where: str) -> datetime | None:
    return utc_time(raw.get(field), where=where, field=field, error=GammaError)


def _json_list(raw: Mapping[str, Any], field: str, where: str) -> list[str]:
    value = raw.get(field)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise GammaError(f"{where}: {field} {raw.get(field)!r} is not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GammaError(f"{where}: {field} must be a list of strings, got {raw.get(field)!r}")
    return value


def _str(raw: Mapping[str, Any], field: str, where: str, *, required: bool = True) -> str:
    return text(raw, field, where, error=GammaError, required=required)


def _bool(raw: Mapping[str, Any], field: str, where: str, default: bool) -> bool:
    value = raw.get(field, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise GammaError(f"{where}: field {field!r} must be true/false, got {value!r}")
    return value


def _number(value: Any, what: str) -> int:
    try:
        return parse_fixed(value, what=what)
    except MoneyError as exc:
        raise GammaError(str(exc)) from None


def _fees(raw: Mapping[str, Any], where: str) -> PolyFeeSchedule:
    enabled = raw.get("feesEnabled")
    if enabled is None:
        raise GammaError(f"{where}: feesEnabled is missing; the fee is unknown")
    if not _bool(raw, "feesEnabled", where, False):
        return PolyFeeSchedule(rate=0)
    schedule = raw.get("feeSchedule")
    if not isinstance(schedule, Mapping) or schedule.get("rate") is None:
        raise GammaError(f"{where}: feesEnabled is true but feeSchedule.rate is missing "
                         f"({schedule!r}); the fee is unknown")
    rate = _number(schedule["rate"], f"{where} feeSchedule.rate")
    exponent = schedule.get("exponent", 1)
    if isinstance(exponent, Decimal) and exponent == exponent.to_integral_value():
        exponent = int(exponent)
    if isinstance(exponent, bool) or not isinstance(exponent, int) or exponent < 1:
        raise GammaError(f"{where}: feeSchedule.exponent {exponent!r} is not a positive integer")
    return PolyFeeSchedule(rate=rate, exponent=exponent)


def parse_market(raw: Any, *, where: str) -> PolyMarketListing:
    if not isinstance(raw, Mapping):
        raise GammaError(f"{where}: a market must be an object, got {raw!r}")
    condition_id = _str(raw, "conditionId", where)
    where = f"{where} market {raw.get('slug') or condition_id}"
    labels = _json_list(raw, "outcomes", where)
    tokens = _json_list(raw, "clobTokenIds", where)
    if len(labels) != 2 or len(tokens) != 2:
        raise GammaError(f"{where}: expected 2 outcomes and 2 clobTokenIds, got {labels!r} "
                         f"and {len(tokens)} token ids")
    if len(set(tokens)) != 2 or len({label.casefold() for label in labels}) != 2:
        raise GammaError(f"{where}: duplicate outcome label or token id: {labels!r}")
    tick_raw = raw.get("orderPriceMinTickSize", "0.01")
    size_raw = raw.get("orderMinSize", 5)
    try:
        tick = parse_price(tick_raw, what=f"{where} orderPriceMinTickSize")
        min_size = parse_qty(size_raw, what=f"{where} orderMinSize")
    except MoneyError as exc:
        raise GammaError(str(exc)) from None
    if not 0 < tick < Price(500_000):
        raise GammaError(f"{where}: orderPriceMinTickSize {tick_raw!r} is not a valid tick")
    return PolyMarketListing(
        condition_id=condition_id,
        slug=_str(raw, "slug", where),
        question=_str(raw, "question", where, required=False),
        description=_str(raw, "description", where, required=False),
        outcomes=(PolyOutcome(labels[0], tokens[0]), PolyOutcome(labels[1], tokens[1])),
        sports_market_type=_str(raw, "sportsMarketType", where, required=False),
        game_start_time=_time(raw, "gameStartTime", where),
        tick=tick,
        min_order_size=Qty(min_size),
        fees=_fees(raw, where),
        neg_risk=_bool(raw, "negRisk", where, False),
        neg_risk_other=_bool(raw, "negRiskOther", where, False),
        line=decimal_text(raw.get("line"), where=where, field="line", error=GammaError),
        group_item_title=_str(raw, "groupItemTitle", where, required=False),
        active=_bool(raw, "active", where, True),
        closed=_bool(raw, "closed", where, False),
        accepting_orders=_bool(raw, "acceptingOrders", where, True),
    )


def _event_date(raw: Mapping[str, Any], where: str) -> date | None:
    value = raw.get("eventDate")
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise GammaError(f"{where}: eventDate {value!r} is not YYYY-MM-DD") from None


def parse_event(raw: Any, *, where: str = "gamma") -> tuple[PolyEventListing, tuple[ListingProblem, ...]]:
    """One Gamma event -> (listing with its parseable markets, problems for the rest)."""
    if not isinstance(raw, Mapping):
        raise GammaError(f"{where}: an event must be an object, got {raw!r}")
    slug = _str(raw, "slug", where)
    where = f"{where} event {slug}"
    markets_raw = raw.get("markets") or []
    if not isinstance(markets_raw, list):
        raise GammaError(f"{where}: markets must be a list")
    markets, problems = [], []
    for m in markets_raw:
        try:
            markets.append(parse_market(m, where=where))
        except GammaError as exc:
            ident = (m.get("slug") or m.get("conditionId")) if isinstance(m, Mapping) else None
            problems.append(ListingProblem("polymarket", str(ident or slug), str(exc)))
    tags_raw = raw.get("tags") or []
    if not isinstance(tags_raw, list):
        raise GammaError(f"{where}: tags must be a list")
    tags = tuple(str(t["slug"]) for t in tags_raw if isinstance(t, Mapping) and t.get("slug"))
    event = PolyEventListing(
        id=str(raw.get("id") or ""),
        slug=slug,
        title=_str(raw, "title", where, required=False),
        tags=tags,
        markets=tuple(markets),
        start_time=_time(raw, "startTime", where),
        event_date=_event_date(raw, where),
        neg_risk=_bool(raw, "negRisk", where, False),
        closed=_bool(raw, "closed", where, False),
    )
    return event, tuple(problems)


def parse_events(body: Any, *, where: str = "gamma /events") -> GammaPage:
    """A Gamma ``/events`` response (a JSON list) -> events and per-record problems."""
    if not isinstance(body, list):
        raise GammaError(f"{where}: expected a JSON list of events, got {type(body).__name__}")
    events, problems = [], []
    for raw in body:
        try:
            event, bad = parse_event(raw, where=where)
        except GammaError as exc:
            ident = raw.get("slug") if isinstance(raw, Mapping) else None
            problems.append(ListingProblem("polymarket", str(ident or "?"), str(exc)))
            continue
        events.append(event)
        problems.extend(bad)
    return GammaPage(tuple(events), tuple(problems))


def loads(content: bytes | str, *, what: str) -> Any:
    """Decode Gamma JSON with every non-integer number as Decimal."""
    try:
        return json.loads(content, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise GammaError(f"gamma {what}: response is not JSON: {exc}") from None


@attrs.define(eq=False)
class GammaClient:
    """Public Gamma listing calls (no auth)."""

    http: httpx.AsyncClient
    max_pages: int = MAX_PAGES
    page_limit: int = PAGE_LIMIT

    async def events(self, tag_slug: str, *, start: datetime | None = None,
                     end: datetime | None = None) -> GammaPage:
        """Open events tagged ``tag_slug`` whose ``startTime`` falls in [start, end], all pages.

        The window (Gamma ``start_time_min``/``start_time_max``) is only a server-side hint; the
        matcher applies its own time checks.

        Raises:
            GammaError: a malformed page or more than ``max_pages`` full pages.
            Transient: network failure, 429 or 5xx.
        """
        events: list[PolyEventListing] = []
        problems: list[ListingProblem] = []
        for page in range(self.max_pages):
            params: dict[str, Any] = {"tag_slug": tag_slug, "closed": "false",
                                      "limit": self.page_limit, "offset": page * self.page_limit}
            if start is not None:
                params["start_time_min"] = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if end is not None:
                params["start_time_max"] = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            what = f"/events tag {tag_slug} page {page + 1}"
            try:
                response = await self.http.get(EVENTS_PATH, params=params)
            except httpx.HTTPError as exc:
                raise Transient(Venue.POLYMARKET, f"gamma {what}: {type(exc).__name__}: {exc}") from exc
            if response.status_code >= 500 or response.status_code == 429:
                raise Transient(Venue.POLYMARKET, f"gamma {what}: HTTP {response.status_code}",
                                status=response.status_code)
            if response.status_code != 200:
                raise GammaError(f"gamma {what}: HTTP {response.status_code}: "
                                 f"{response.text[:200]}")
            body = loads(response.content, what=what)
            got = parse_events(body, where=f"gamma {what}")
            events.extend(got.events)
            problems.extend(got.problems)
            if len(body) < self.page_limit:
                return GammaPage(tuple(events), tuple(problems))
        raise GammaError(f"gamma /events tag {tag_slug}: more than {self.max_pages} pages; "
                         f"refusing to continue")


@asynccontextmanager
async def open_gamma(base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                     request_timeout: float = 10.0,
                     max_pages: int = MAX_PAGES,
                     page_limit: int = PAGE_LIMIT) -> AsyncIterator[GammaClient]:
    """A Gamma client for ``base_url`` (e.g. ``https://gamma-api.polymarket.com``)."""
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport,
                                 timeout=request_timeout,
                                 headers={"Accept": "application/json"}) as http:
        yield GammaClient(http, max_pages, page_limit)
