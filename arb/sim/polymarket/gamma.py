# Design note: a Gamma (market metadata) subset for the simulated venue.
#
# Problem: discovery code is written against real Gamma payloads, whose traps matter more than
# their content: ``outcomes``, ``outcomePrices`` and ``clobTokenIds`` are JSON-encoded strings,
# token order follows ``outcomes`` (team names for US sports, never "Yes first"),
# ``gameStartTime`` is "YYYY-MM-DD HH:MM:SS+00" in UTC while the slug and ``eventDate`` carry the
# local date, numbers such as ``orderPriceMinTickSize`` are JSON numbers.
#
# Chosen: render every field that is present on every record of the real January 2026 NBA file
# (``data/real/gamma_events_nba_2026-01.json``; a test compares the key sets and JSON types),
# plus the newer fee fields (``feesEnabled``, ``feeSchedule``) and, on ``/markets``, the
# ``events[]`` back-reference. Live fields (``bestBid``, ``bestAsk``, ``acceptingOrders``,
# ``outcomePrices``, ``orderPriceMinTickSize``) are read from the exchange at request time.
# Served as its own ASGI app (its own port: Gamma is another host on the real venue).
#
# Endpoints: ``GET /events`` (filters ``slug``, ``id``, ``tag_slug``, ``tag_id``, ``active``,
# ``closed``, ``archived``, ``start_date_min/max`` on ``startDate``, ``end_date_min/max`` on
# ``endDate`` (the game start for sports), ``limit`` (default 100, max 500), ``offset``),
# ``/events/slug/{slug}``, ``/events/{id}``, ``GET /markets`` (``slug``, ``condition_ids``,
# ``clob_token_ids``, ``active``, ``closed``, ``limit``, ``offset``), ``/markets/slug/{slug}``.
# Tag ids: the real ids for the tags in the real file (sports 1, nba 745, games 100639,
# basketball 28); other tags get a stable simulator id derived from the slug.
from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote

import attrs

from arb.money import SCALE, format_trimmed
from arb.sim.listing import PolyEvent
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.jsonwire import dumps, number
from arb.sim.polymarket.model import Market
from arb.sim.polymarket.rest import answer_lifespan

REAL_TAG_IDS = {"sports": "1", "nba": "745", "games": "100639", "basketball": "28"}
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
LISTED_BEFORE_GAME = timedelta(days=7)
UMA_RESOLVER = "0x65070BE91477460D8A7AeEb94ef92fe056C2f2A7"
SUBMITTER = "0x91430CaD2d3975766499717fA0D66A78D814E5c5"


def tag_id(slug: str) -> str:
    if slug in REAL_TAG_IDS:
        return REAL_TAG_IDS[slug]
    return str(200_000 + int(hashlib.sha256(slug.encode()).hexdigest(), 16) % 100_000)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _game_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def _local_date(event: PolyEvent) -> str:
    tail = event.slug.rsplit("-", 3)
    if len(tail) == 4 and all(p.isdigit() for p in tail[1:]):
        return "-".join(tail[1:])
    return event.start_time.strftime("%Y-%m-%d")


def _tags(event: PolyEvent) -> list[dict[str, Any]]:
    return [{"id": tag_id(slug), "label": slug.upper() if len(slug) <= 4 else slug.title(),
             "slug": slug, "forceShow": False, "createdAt": "2023-10-24T22:37:50.31Z",
             "updatedAt": "2025-12-18T02:44:02.245397Z", "requiresTranslation": False}
            for slug in event.tags]


def _league(event: PolyEvent) -> str:
    return event.slug.split("-", 1)[0]


def gamma_market(exchange: Exchange, market: Market, *, with_events: bool) -> dict[str, Any]:
    listing, event = market.listing, market.event
    bids_asks = [market.book.best(i) for i in (0, 1)]
    bid0, ask0 = bids_asks[0]
    prices = []
    for index, (bid, ask) in enumerate(bids_asks):
        last = market.last_trade[index]
        if bid is not None and ask is not None:
            prices.append(format_trimmed((bid + ask) // 2))
        elif last is not None:
            prices.append(format_trimmed(last[0]))
        else:
            prices.append("0.5")
    listed = event.start_time - LISTED_BEFORE_GAME
    body: dict[str, Any] = {
        "id": str(int(listing.condition_id[2:14], 16)),
        "question": listing.question,
        "conditionId": listing.condition_id,
        "slug": listing.slug,
        "resolutionSource": "",
        "endDate": _iso(listing.game_start_time),
        "startDate": _iso(listed),
        "image": "",
        "icon": "",
        "description": listing.description,
        "outcomes": json.dumps([t.outcome for t in listing.tokens]),
        "outcomePrices": json.dumps(prices),
        "active": listing.active,
        "closed": listing.closed,
        "marketMakerAddress": "",
        "createdAt": _iso(listed),
        "updatedAt": _iso(datetime.fromtimestamp(exchange.now_ms // 1000, UTC)),
        "new": False,
        "featured": False,
        "submitted_by": SUBMITTER,
        "archived": False,
        "resolvedBy": UMA_RESOLVER,
        "restricted": True,
        "groupItemTitle": listing.group_item_title,
        "groupItemThreshold": "0",
        "questionID": listing.question_id,
        "enableOrderBook": True,
        "orderPriceMinTickSize": number(market.tick),
        "orderMinSize": number(market.min_order_size),
        "endDateIso": listing.game_start_time.strftime("%Y-%m-%d"),
        "startDateIso": listed.strftime("%Y-%m-%d"),
        "hasReviewedDates": True,
        "gameStartTime": _game_time(listing.game_start_time),
        "secondsDelay": market.taker_delay_ms // 1000,
        "clobTokenIds": json.dumps([t.token_id for t in listing.tokens]),
        "umaBond": "500",
        "umaReward": "2",
        "customLiveness": 0,
        "acceptingOrders": market.accepting_orders,
        "negRisk": market.neg_risk,
        "negRiskRequestID": "",
        "ready": False,
        "funded": False,
        "acceptingOrdersTimestamp": _iso(listed),
        "cyom": False,
        "pagerDutyNotificationEnabled": False,
        "approved": True,
        "rewardsMinSize": 0,
        "rewardsMaxSpread": 0,
        "spread": number((ask0 - bid0) if bid0 is not None and ask0 is not None else SCALE),
        "bestAsk": number(ask0 if ask0 is not None else 0),
        "automaticallyActive": True,
        "clearBookOnStart": False,
        "manualActivation": False,
        "negRiskOther": False,
        "sportsMarketType": listing.sports_market_type,
        "umaResolutionStatuses": "[]",
        "pendingDeployment": False,
        "deploying": False,
        "deployingTimestamp": _iso(listed),
        "rfqEnabled": False,
        "holdingRewardsEnabled": False,
        "feesEnabled": market.fee_rate > 0,
        "feeSchedule": {"rate": number(market.fee_rate), "exponent": market.fee_exponent,
                        "taker_only": True, "rebate_rate": 0},
        "makerBaseFee": 0,
        "takerBaseFee": market.fee_rate * 10_000 // SCALE,
        "requiresTranslation": False,
    }
    if bid0 is not None:
        body["bestBid"] = number(bid0)
    if market.last_trade[0] is not None:
        body["lastTradePrice"] = number(market.last_trade[0][0])
    if listing.line is not None:
        body["line"] = Decimal(listing.line)
    if listing.neg_risk_market_id:
        body["negRiskMarketID"] = listing.neg_risk_market_id
    if with_events:
        body["events"] = [_event_header(event)]
    return body


def _event_header(event: PolyEvent) -> dict[str, Any]:
    return {"id": event.id, "ticker": event.slug, "slug": event.slug, "title": event.title,
            "startTime": _iso(event.start_time), "negRisk": event.neg_risk}


def gamma_event(exchange: Exchange, event: PolyEvent) -> dict[str, Any]:
    listed = event.start_time - LISTED_BEFORE_GAME
    markets = [exchange.markets[m.condition_id] for m in event.markets]
    league = _league(event)
    active = any(m.listing.active for m in markets)
    closed = all(m.listing.closed for m in markets)
    return {
        "id": event.id,
        "ticker": event.slug,
        "slug": event.slug,
        "title": event.title,
        "description": event.markets[0].description if event.markets else "",
        "resolutionSource": "",
        "startDate": _iso(listed),
        "creationDate": _iso(event.start_time),
        "endDate": _iso(event.start_time),
        "image": "",
        "icon": "",
        "active": active,
        "closed": closed,
        "archived": False,
        "new": False,
        "featured": False,
        "restricted": True,
        "openInterest": 0,
        "createdAt": _iso(listed),
        "updatedAt": _iso(datetime.fromtimestamp(exchange.now_ms // 1000, UTC)),
        "enableOrderBook": True,
        "negRisk": event.neg_risk,
        "commentCount": 0,
        "markets": [gamma_market(exchange, m, with_events=False) for m in markets],
        "series": [{"id": tag_id(f"series-{league}"), "ticker": f"{league}-2026",
                    "slug": f"{league}-2026", "title": f"{league.upper()} 2026",
                    "seriesType": "single", "recurrence": "daily", "active": True,
                    "closed": False, "archived": False, "featured": False, "restricted": True,
                    "requiresTranslation": False}],
        "tags": _tags(event),
        "cyom": False,
        "showAllOutcomes": True,
        "showMarketImages": False,
        "enableNegRisk": event.neg_risk,
        "automaticallyActive": True,
        "eventDate": _local_date(event),
        "startTime": _iso(event.start_time),
        "eventWeek": int(event.start_time.strftime("%U")),
        "seriesSlug": f"{league}-2026",
        "period": "NS",
        "negRiskAugmented": False,
        "pendingDeployment": False,
        "deploying": False,
        "gameId": int(event.id) if event.id.isdigit() else 0,
        "requiresTranslation": False,
    }


class GammaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _flag(query: dict[str, list[str]], name: str) -> bool | None:
    values = query.get(name)
    if not values:
        return None
    value = values[-1].lower()
    if value not in ("true", "false"):
        raise GammaError(422, f"{name} must be true or false, got {values[-1]!r}")
    return value == "true"


def _window(query: dict[str, list[str]], lo: str, hi: str) -> tuple[str | None, str | None]:
    def read(name: str) -> str | None:
        values = query.get(name)
        if not values:
            return None
        text = values[-1]
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise GammaError(422, f"{name} must be an ISO date or datetime, got {text!r}") \
                from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return _iso(moment)

    return read(lo), read(hi)


def _paged(rows: list[Any], query: dict[str, list[str]]) -> list[Any]:
    try:
        limit = int(query.get("limit", [str(DEFAULT_LIMIT)])[-1])
        offset = int(query.get("offset", ["0"])[-1])
    except ValueError:
        raise GammaError(422, "limit and offset must be integers") from None
    if limit < 0 or offset < 0:
        raise GammaError(422, "limit and offset must be >= 0")
    return rows[offset:offset + min(limit, MAX_LIMIT)]


@attrs.define(eq=False)
class GammaApp:
    """ASGI app serving the Gamma subset for one ``Exchange``."""

    exchange: Exchange

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        query = parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=False)
        try:
            if scope["method"] != "GET":
                raise GammaError(405, f"method {scope['method']} not allowed")
            status, body = 200, self.handle(scope["path"], query)
        except GammaError as exc:
            status, body = exc.status, {"error": exc.message}
        data = dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    def handle(self, path: str, query: dict[str, list[str]]) -> Any:
        if path == "/events":
            return _paged([gamma_event(self.exchange, e) for e in self._events(query)], query)
        if path.startswith("/events/slug/"):
            slug = unquote(path[len("/events/slug/"):])
            for event in self.exchange.events.values():
                if event.slug == slug:
                    return gamma_event(self.exchange, event)
            raise GammaError(404, f"event {slug!r} not found")
        if path.startswith("/events/"):
            event = self.exchange.events.get(path[len("/events/"):])
            if event is None:
                raise GammaError(404, f"event {path[len('/events/'):]!r} not found")
            return gamma_event(self.exchange, event)
        if path == "/markets":
            return _paged([gamma_market(self.exchange, m, with_events=True)
                           for m in self._markets(query)], query)
        if path.startswith("/markets/slug/"):
            slug = unquote(path[len("/markets/slug/"):])
            for market in self.exchange.markets.values():
                if market.listing.slug == slug:
                    return gamma_market(self.exchange, market, with_events=True)
            raise GammaError(404, f"market {slug!r} not found")
        raise GammaError(404, f"no route for GET {path}")

    def _events(self, query: dict[str, list[str]]) -> list[PolyEvent]:
        slugs = set(query.get("slug", []))
        ids = set(query.get("id", []))
        tag_slug = query.get("tag_slug", [None])[-1]
        tag = query.get("tag_id", [None])[-1]
        active, closed = _flag(query, "active"), _flag(query, "closed")
        archived = _flag(query, "archived")
        start_lo, start_hi = _window(query, "start_date_min", "start_date_max")
        end_lo, end_hi = _window(query, "end_date_min", "end_date_max")
        out = []
        for event in sorted(self.exchange.events.values(), key=lambda e: (e.start_time, e.id)):
            rendered_start = _iso(event.start_time - LISTED_BEFORE_GAME)
            rendered_end = _iso(event.start_time)
            markets = [self.exchange.markets[m.condition_id].listing for m in event.markets]
            is_active = any(m.active for m in markets)
            is_closed = all(m.closed for m in markets)
            if (slugs and event.slug not in slugs) or (ids and event.id not in ids):
                continue
            if tag_slug is not None and tag_slug not in event.tags:
                continue
            if tag is not None and tag not in {tag_id(t) for t in event.tags}:
                continue
            if active is not None and is_active != active:
                continue
            if closed is not None and is_closed != closed:
                continue
            if archived is True:
                continue
            if (start_lo and rendered_start < start_lo) or (start_hi and rendered_start > start_hi):
                continue
            if (end_lo and rendered_end < end_lo) or (end_hi and rendered_end > end_hi):
                continue
            out.append(event)
        return out

    def _markets(self, query: dict[str, list[str]]) -> list[Market]:
        slugs = set(query.get("slug", []))
        conditions = {c for v in query.get("condition_ids", []) for c in v.split(",") if c}
        tokens = {t for v in query.get("clob_token_ids", []) for t in v.split(",") if t}
        active, closed = _flag(query, "active"), _flag(query, "closed")
        out = []
        for market in self.exchange.markets.values():
            listing = market.listing
            if slugs and listing.slug not in slugs:
                continue
            if conditions and market.condition_id not in conditions:
                continue
            if tokens and not tokens & {t.token_id for t in listing.tokens}:
                continue
            if active is not None and listing.active != active:
                continue
            if closed is not None and listing.closed != closed:
                continue
            out.append(market)
        return out
