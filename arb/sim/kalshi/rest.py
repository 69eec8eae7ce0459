# Design note: the simulated Kalshi REST front end (an ASGI app).
#
# Problem: the bot's Kalshi client and Kalshi's official SDK must run against the simulator
# unchanged: same paths under /trade-api/v2, same JSON shapes (fixed-point strings), same auth,
# same status codes and error bodies, same rate limiting, and the faults a real venue shows.
# Naive approach: a web framework with automatic validation. Its error bodies, status codes and
# coercions (a number accepted where Kalshi wants a string) are not the venue's, and a stack
# trace or a hang on bad input would hide client bugs.
# Chosen approach: a small hand-written ASGI router. Each request goes through, in order:
# injected faults (5xx/429), authentication (portfolio and order endpoints; public market data
# is served anonymously, as the real venue does), the token bucket, strict parsing (unknown
# fields, wrong types, off-grid prices -> 400 with the venue's ``{code, message, details}``),
# then the core. Every exception the core raises is a
# ``KalshiApiError`` that maps to the venue's status and body; anything else is a 500 with the
# same shape, never a trace. The websocket scope on the same app is handed to ``ws.py``.
# Venue facts relied on: venues.md A2, A4-A6, A9; OpenAPI 3.28 response schemas.
from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import attrs
import trio

from arb.domain import TimeInForce
from arb.money import MoneyError, Price, parse_price, parse_qty
from arb.sim.kalshi import errors, ratelimit
from arb.sim.kalshi.auth import DEFAULT_WINDOW_MS, KEY_HEADER, authenticate
from arb.sim.kalshi.core import (
    CANCELED,
    EXECUTED,
    RESTING,
    KalshiExchange,
    NewOrder,
    SimAccount,
    cents_floor,
    dollars,
)
from arb.sim.kalshi.errors import KalshiApiError, bad_request, not_found
from arb.sim.kalshi.faults import faults_of
from arb.sim.kalshi.ratelimit import RateLimiter
from arb.sim.kalshi.wire import (
    average,
    dumps,
    event_json,
    event_positions_json,
    fill_json,
    fp,
    market_json,
    order_json,
    orderbook_levels,
    position_json,
    series_json,
)

log = logging.getLogger("arb.sim.kalshi.rest")

PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"
MAX_BODY = 1 << 20
TIF = {"good_till_canceled": TimeInForce.GTC, "immediate_or_cancel": TimeInForce.IOC,
       "fill_or_kill": TimeInForce.FOK}
ORDER_FIELDS = {"ticker", "client_order_id", "side", "count", "price", "expiration_time",
                "time_in_force", "post_only", "self_trade_prevention_type",
                "cancel_order_on_pause", "reduce_only", "subaccount", "order_group_id",
                "exchange_index"}
AMEND_FIELDS = {"ticker", "side", "price", "count", "client_order_id", "updated_client_order_id",
                "exchange_index"}
ORDER_REQUIRED = ("ticker", "side", "count", "price", "time_in_force",
                  "self_trade_prevention_type")
MAX_BATCH = 20
"""Orders per batch call (Basic tier write budget: 100 tokens at 10 per order is 10; Kalshi
scales the maximum with the tier, the whole batch must fit the bucket anyway)."""
TOO_MANY = {"error": "too many requests"}


@attrs.frozen
class Reply:
    status: int
    body: Any
    hang: bool = False
    """Answer nothing, ever (the injected 'order placed, response lost' fault)."""


@attrs.frozen
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: bytes
    account: SimAccount | None

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def q_int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        if not re.fullmatch(r"-?\d+", raw) or not lo <= int(raw) <= hi:
            raise bad_request(f"invalid {name}", f"{name}={raw!r}, expected an integer "
                              f"{lo}..{hi}")
        return int(raw)

    def q_bool(self, name: str) -> bool:
        raw = self.q(name)
        if raw in (None, "", "false"):
            return False
        if raw == "true":
            return True
        raise bad_request(f"invalid {name}", f"{name}={raw!r}, expected true or false")

    @property
    def user(self) -> SimAccount:
        assert self.account is not None
        return self.account


Handler = Callable[[Request], Reply]


@attrs.frozen
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    private: bool
    write: bool = False
    cost: Callable[[Request], int] = lambda req: ratelimit.DEFAULT_COST


def _page(items: list[Any], req: Request, default: int, maximum: int,
          min_limit: int = 1) -> tuple[list[Any], str]:
    """Cursor pagination: the cursor is an opaque offset; empty cursor on the last page."""
    limit = req.q_int("limit", default, min_limit, maximum) or default
    cursor = req.q("cursor") or ""
    offset = 0
    if cursor:
        try:
            decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
            if not decoded.startswith("o:"):
                raise ValueError(decoded)
            offset = int(decoded[2:])
        except (ValueError, UnicodeDecodeError):
            raise bad_request("invalid cursor", f"cursor {cursor!r}") from None
    page = items[offset:offset + limit]
    more = offset + limit < len(items)
    next_cursor = base64.urlsafe_b64encode(f"o:{offset + limit}".encode()).decode() if more else ""
    return page, next_cursor


def _parse_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body, parse_float=Decimal, parse_int=int)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("invalid JSON body", f"{what}: {exc}") from None
    if not isinstance(data, dict):
        raise bad_request("invalid JSON body", f"{what}: expected an object")
    return data


def _expect(data: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = data[name]
    if isinstance(value, bool) and kind is not bool:
        raise bad_request(f"invalid {name}", f"{what}: {name} must be {_kind(kind)}, got {value!r}")
    if not isinstance(value, kind):
        raise bad_request(f"invalid {name}", f"{what}: {name} must be {_kind(kind)}, "
                          f"got {type(value).__name__} {value!r}")
    return value


def _kind(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_fields(data: dict[str, Any], allowed: set[str], required: tuple[str, ...],
                  what: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise bad_request("unknown fields", f"{what}: unknown field(s) {', '.join(unknown)}")
    missing = [f for f in required if f not in data]
    if missing:
        raise bad_request("missing required fields", f"{what}: missing {', '.join(missing)}")


def parse_new_order(data: dict[str, Any], what: str = "order") -> NewOrder:
    """Strictly parse a ``CreateOrderV2Request`` object."""
    _check_fields(data, ORDER_FIELDS, ORDER_REQUIRED, what)
    ticker = _expect(data, "ticker", str, what)
    side = _expect(data, "side", str, what)
    if side not in ("bid", "ask"):
        raise bad_request("invalid side", f"{what}: side must be bid or ask, got {side!r}")
    count_text = _expect(data, "count", str, what)
    price_text = _expect(data, "price", str, what)
    if not re.fullmatch(r"\d+(\.\d{0,2})?", count_text):
        raise bad_request("invalid count", f"{what}: count {count_text!r} must be a decimal "
                          "string with at most 2 decimals")
    if not re.fullmatch(r"\d*\.\d{1,4}|\d+", price_text):
        raise bad_request("invalid price", f"{what}: price {price_text!r} must be a dollar "
                          "string with at most 4 decimals")
    try:
        price: Price = parse_price(price_text, what="price")
        count = parse_qty(count_text, what="count")
    except MoneyError as exc:
        raise bad_request("invalid number", f"{what}: {exc}") from None
    tif_text = _expect(data, "time_in_force", str, what)
    if tif_text not in TIF:
        raise bad_request("invalid time_in_force", f"{what}: time_in_force {tif_text!r}")
    stp = _expect(data, "self_trade_prevention_type", str, what)
    flags = {}
    for name in ("post_only", "reduce_only", "cancel_order_on_pause"):
        flags[name] = _expect(data, name, bool, what) if name in data else False
    client_id = _expect(data, "client_order_id", str, what) if "client_order_id" in data else None
    expiration = _expect(data, "expiration_time", int, what) if "expiration_time" in data else None
    subaccount = _expect(data, "subaccount", int, what) if "subaccount" in data else 0
    if "exchange_index" in data and _expect(data, "exchange_index", int, what) not in (-1, 0):
        raise bad_request("invalid exchange_index",
                          f"{what}: the simulator has one shard (0); use 0 or -1 for {ticker}")
    if subaccount != 0:
        raise bad_request("invalid subaccount", f"{what}: only the primary account (0) exists")
    return NewOrder(ticker=ticker, book_side=side, price=price, count=count,
                    time_in_force=TIF[tif_text], self_trade_prevention=stp,
                    client_order_id=client_id, post_only=flags["post_only"],
                    reduce_only=flags["reduce_only"],
                    cancel_order_on_pause=flags["cancel_order_on_pause"],
                    expiration_s=expiration, subaccount=subaccount)


@attrs.define(eq=False)
class KalshiSimApp:
    """ASGI app: the REST API under ``/trade-api/v2`` and the websocket at ``/trade-api/ws/v2``."""

    exchange: KalshiExchange
    limiter: RateLimiter = attrs.Factory(RateLimiter)
    auth_window_ms: int = DEFAULT_WINDOW_MS
    websocket_handler: Callable[..., Awaitable[None]] | None = None
    """Set by ``ws.py``'s ``kalshi_app``; None answers websocket upgrades with 404."""
    _routes: list[Route] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        public = [
            ("GET", r"/exchange/status", self.exchange_status),
            ("GET", r"/series", self.list_series),
            ("GET", r"/series/(?P<ticker>[^/]+)", self.get_series),
            ("GET", r"/events", self.list_events),
            ("GET", r"/events/(?P<ticker>[^/]+)", self.get_event),
            ("GET", r"/markets", self.list_markets),
            ("GET", r"/markets/orderbooks", self.get_orderbooks),
            ("GET", r"/markets/(?P<ticker>[^/]+)/orderbook", self.get_orderbook),
            ("GET", r"/markets/(?P<ticker>[^/]+)", self.get_market),
        ]
        for method, pattern, handler in public:
            self._routes.append(Route(method, re.compile(pattern), handler, private=False))
        private: list[tuple[str, str, Handler, bool, Callable[[Request], int]]] = [
            ("GET", r"/portfolio/balance", self.get_balance, False, _default_cost),
            ("GET", r"/portfolio/orders", self.list_orders, False, _default_cost),
            ("GET", r"/portfolio/orders/(?P<order_id>[^/]+)", self.get_order, False,
             _default_cost),
            ("GET", r"/portfolio/fills", self.list_fills, False, _default_cost),
            ("GET", r"/portfolio/positions", self.list_positions, False, _default_cost),
            ("POST", r"/portfolio/events/orders/batched", self.batch_create, True,
             _batch_cost(ratelimit.BATCH_CREATE_COST_PER_ORDER)),
            ("DELETE", r"/portfolio/events/orders/batched", self.batch_cancel, True,
             _batch_cost(ratelimit.BATCH_CANCEL_COST_PER_ORDER)),
            ("POST", r"/portfolio/events/orders", self.create_order, True, _default_cost),
            ("DELETE", r"/portfolio/events/orders/(?P<order_id>[^/]+)", self.cancel_order, True,
             lambda req: ratelimit.CANCEL_COST),
            ("POST", r"/portfolio/events/orders/(?P<order_id>[^/]+)/amend", self.amend_order,
             True, _default_cost),
            ("POST", r"/portfolio/events/orders/(?P<order_id>[^/]+)/decrease",
             self.decrease_order, True, _default_cost),
        ]
        legacy = [("POST", r"/portfolio/orders"), ("POST", r"/portfolio/orders/batched"),
                  ("DELETE", r"/portfolio/orders/batched"),
                  ("DELETE", r"/portfolio/orders/(?P<order_id>[^/]+)"),
                  ("POST", r"/portfolio/orders/(?P<order_id>[^/]+)/(amend|decrease)")]
        for method, pattern in legacy:
            private.append((method, pattern, self.legacy_order_entry, True,
                            lambda req: ratelimit.LEGACY_ORDER_COST))
        for method, pattern, handler, write, cost in private:
            self._routes.append(Route(method, re.compile(pattern), handler, private=True,
                                      write=write, cost=cost))

    # -- ASGI --

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "websocket":
            if self.websocket_handler is None or scope["path"] != WS_PATH:
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.websocket_handler(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                    send: Callable[[dict], Awaitable[None]]) -> None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await _respond(send, 413, KalshiApiError(413, errors.BAD_REQUEST,
                                                         "request body too large").body())
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client") or ("memory", 0)
        reply = self.handle(scope["method"], scope["path"], scope.get("query_string", b""),
                            headers, b"".join(chunks), peer=str(client[0]))
        if reply.hang:
            await trio.sleep_forever()
        await _respond(send, reply.status, reply.body)

    # -- request pipeline (synchronous; usable without ASGI) --

    def handle(self, method: str, path: str, query_string: bytes, headers: dict[str, str],
               body: bytes, *, peer: str = "local") -> Reply:
        """Answer one request: faults, routing, auth, rate limit, then the endpoint."""
        faults = faults_of(self.exchange)
        injected = faults.take_rest_failure()
        if injected == 429:
            return Reply(429, TOO_MANY)
        if injected is not None:
            return Reply(injected, KalshiApiError(injected, errors.INTERNAL if injected == 500
                                                  else errors.UNAVAILABLE,
                                                  "injected server error").body())
        try:
            return self._route(method, path, query_string, headers, body, peer)
        except KalshiApiError as exc:
            return Reply(exc.status, exc.body())
        except Exception:
            log.exception("kalshi sim: unhandled error on %s %s", method, path)
            return Reply(500, KalshiApiError(500, errors.INTERNAL, "internal server error").body())

    def _route(self, method: str, path: str, query_string: bytes, headers: dict[str, str],
               body: bytes, peer: str) -> Reply:
        if not path.startswith(PREFIX + "/"):
            raise not_found("path not found", f"{method} {path}")
        sub = path[len(PREFIX):]
        allowed = False
        for route in self._routes:
            match = route.pattern.fullmatch(sub)
            if match is None:
                continue
            if route.method != method:
                allowed = True
                continue
            try:
                query = parse_qs(query_string.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                raise bad_request("invalid query string", repr(query_string)) from None
            account = None
            if route.private:
                account = authenticate(self.exchange, headers, method, path,
                                       window_ms=self.auth_window_ms)
            req = Request(method, path, match.groupdict(), query, body, account)
            client = account.user_id if account else headers.get(KEY_HEADER) or peer
            if not self.limiter.allow(client, write=route.write, cost=route.cost(req)):
                return Reply(429, TOO_MANY)
            return route.handler(req)
        if allowed:
            raise KalshiApiError(405, errors.BAD_REQUEST, "method not allowed", f"{method} {path}")
        raise not_found("path not found", f"{method} {path}")

    # -- public market data --

    def exchange_status(self, req: Request) -> Reply:
        ex = self.exchange
        return Reply(200, {
            "exchange_active": ex.exchange_active, "trading_active": ex.trading_active,
            "intra_exchange_transfers_active": ex.exchange_active,
            "exchange_estimated_resume_time": None,
            "exchange_index_statuses": [{
                "exchange_index": 0, "description": "default", "exchange_active":
                ex.exchange_active, "trading_active": ex.trading_active,
                "intra_exchange_transfers_active": ex.exchange_active}],
        })

    def list_series(self, req: Request) -> Reply:
        category, tags = req.q("category"), req.q("tags")
        wanted = {t for t in (tags or "").split(",") if t}
        items = [series_json(s) for s in self.exchange.series.values()
                 if (not category or s.category == category)
                 and (not wanted or wanted & set(s.tags))]
        return Reply(200, {"series": items})

    def get_series(self, req: Request) -> Reply:
        series = self.exchange.series.get(req.params["ticker"])
        if series is None:
            raise not_found("series not found", f"series_ticker {req.params['ticker']!r}")
        return Reply(200, {"series": series_json(series)})

    def _event_status_ok(self, event_ticker: str, status: str | None) -> bool:
        if not status:
            return True
        event = self.exchange.events[event_ticker]
        statuses = {self.exchange.market_status(self.exchange.markets[m.ticker])
                    for m in event.markets}
        return bool(statuses & _STATUS_FILTER[status])

    def list_events(self, req: Request) -> Reply:
        status = req.q("status") or None
        if status is not None and status not in ("unopened", "open", "closed", "settled"):
            raise bad_request("invalid status", f"status={status!r}")
        series = req.q("series_ticker")
        tickers = {t for t in (req.q("tickers") or "").split(",") if t}
        nested = req.q_bool("with_nested_markets")
        items = [e for e in self.exchange.events.values()
                 if (not series or e.series_ticker == series)
                 and (not tickers or e.event_ticker in tickers)
                 and self._event_status_ok(e.event_ticker, status)]
        page, cursor = _page(items, req, default=200, maximum=200)
        return Reply(200, {"events": [event_json(self.exchange, e, nested=nested) for e in page],
                           "cursor": cursor})

    def get_event(self, req: Request) -> Reply:
        event = self.exchange.events.get(req.params["ticker"])
        if event is None:
            raise not_found("event not found", f"event_ticker {req.params['ticker']!r}")
        nested = req.q_bool("with_nested_markets")
        markets = [market_json(self.exchange, self.exchange.markets[m.ticker])
                   for m in event.markets]
        return Reply(200, {"event": event_json(self.exchange, event, nested=nested),
                           "markets": [] if nested else markets})

    def list_markets(self, req: Request) -> Reply:
        status = req.q("status") or None
        if status is not None and status not in _MARKET_STATUS_FILTER:
            raise bad_request("invalid status", f"status={status!r}")
        event, series = req.q("event_ticker"), req.q("series_ticker")
        if event and "," in event:
            raise bad_request("invalid event_ticker", "only a single event ticker is supported")
        tickers = {t for t in (req.q("tickers") or "").split(",") if t}
        items = []
        for market in self.exchange.markets.values():
            if event and market.listing.event_ticker != event:
                continue
            if series and market.series.ticker != series:
                continue
            if tickers and market.ticker not in tickers:
                continue
            if status and self.exchange.market_status(market) not in _MARKET_STATUS_FILTER[status]:
                continue
            items.append(market)
        page, cursor = _page(items, req, default=100, maximum=1000, min_limit=0)
        return Reply(200, {"markets": [market_json(self.exchange, m) for m in page],
                           "cursor": cursor})

    def get_market(self, req: Request) -> Reply:
        market = self.exchange.market(req.params["ticker"])
        return Reply(200, {"market": market_json(self.exchange, market)})

    def get_orderbook(self, req: Request) -> Reply:
        depth = req.q_int("depth", 0, 0, 100)
        yes, no = self.exchange.orderbook(req.params["ticker"])
        return Reply(200, {"orderbook_fp": {"yes_dollars": orderbook_levels(yes, depth),
                                            "no_dollars": orderbook_levels(no, depth)}})

    def get_orderbooks(self, req: Request) -> Reply:
        tickers = req.query.get("tickers", [])
        if not 1 <= len(tickers) <= 100:
            raise bad_request("invalid tickers", "tickers: give 1 to 100 (tickers=A&tickers=B)")
        books = []
        for ticker in tickers:
            yes, no = self.exchange.orderbook(ticker)
            books.append({"ticker": ticker, "orderbook_fp": {
                "yes_dollars": orderbook_levels(yes, 0), "no_dollars": orderbook_levels(no, 0)}})
        return Reply(200, {"orderbooks": books})

    # -- portfolio --

    def get_balance(self, req: Request) -> Reply:
        ex, acct = self.exchange, req.user
        available = ex.available(acct)
        return Reply(200, {
            "balance": cents_floor(available),
            "balance_dollars": dollars(available),
            "portfolio_value": cents_floor(ex.portfolio_value(acct)),
            "updated_ts": acct.updated_ms // 1000,
            "balance_breakdown": [{"exchange_index": 0, "balance": dollars(available)}],
        })

    def list_orders(self, req: Request) -> Reply:
        status = req.q("status") or None
        if status is not None and status not in (RESTING, CANCELED, EXECUTED):
            raise bad_request("invalid status", f"status={status!r}")
        ticker = req.q("ticker")
        events = {t for t in (req.q("event_ticker") or "").split(",") if t}
        if len(events) > 10:
            raise bad_request("too many event tickers", "event_ticker takes at most 10")
        min_ts = req.q_int("min_ts", 0, 0, 2**62)
        max_ts = req.q_int("max_ts", 2**62, 0, 2**62)
        items = [o for o in reversed(list(req.user.orders.values()))
                 if (not status or o.status == status) and (not ticker or o.ticker == ticker)
                 and (not events or self.exchange.markets[o.ticker].listing.event_ticker
                      in events)
                 and min_ts <= o.created_ms // 1000 <= max_ts]
        page, cursor = _page(items, req, default=100, maximum=1000)
        return Reply(200, {"orders": [order_json(o) for o in page], "cursor": cursor})

    def get_order(self, req: Request) -> Reply:
        order = self.exchange.find_order(req.user.user_id, req.params["order_id"])
        return Reply(200, {"order": order_json(order)})

    def list_fills(self, req: Request) -> Reply:
        ticker, order_id = req.q("ticker"), req.q("order_id")
        min_ts = req.q_int("min_ts", 0, 0, 2**62)
        max_ts = req.q_int("max_ts", 2**62, 0, 2**62)
        items = [f for f in reversed(req.user.fills)
                 if (not ticker or f.ticker == ticker) and (not order_id or f.order_id == order_id)
                 and min_ts <= f.ts_ms // 1000 <= max_ts]
        page, cursor = _page(items, req, default=100, maximum=1000)
        return Reply(200, {"fills": [fill_json(f) for f in page], "cursor": cursor})

    def list_positions(self, req: Request) -> Reply:
        acct = req.user
        ticker, event = req.q("ticker"), req.q("event_ticker")
        filters = {f for f in (req.q("count_filter") or "").split(",") if f}
        if filters - {"position", "total_traded"}:
            raise bad_request("invalid count_filter", f"count_filter={req.q('count_filter')!r}")
        items = []
        for pos in acct.positions.values():
            if ticker and pos.ticker != ticker:
                continue
            if event and self.exchange.markets[pos.ticker].listing.event_ticker != event:
                continue
            if "position" in filters and pos.position == 0:
                continue
            if "total_traded" in filters and pos.total_traded == 0:
                continue
            if self.exchange.markets[pos.ticker].status == "finalized":
                continue
            items.append(pos)
        page, cursor = _page(items, req, default=100, maximum=1000)
        return Reply(200, {
            "market_positions": [position_json(p) for p in page],
            "event_positions": event_positions_json(self.exchange, acct, [p.ticker for p in page]),
            "cursor": cursor})

    # -- order entry (V2) --

    def _create(self, user_id: str, data: dict[str, Any], what: str) -> dict[str, Any]:
        result = self.exchange.place_order(user_id, parse_new_order(data, what))
        order = result.order
        body: dict[str, Any] = {
            "order_id": order.order_id, "client_order_id": order.client_order_id,
            "fill_count": fp(result.fill_count), "remaining_count": fp(order.remaining),
            "ts_ms": order.updated_ms}
        if result.fill_count:
            body["average_fill_price"] = average(result.fill_value, result.fill_count)
            body["average_fee_paid"] = average(result.fees, result.fill_count)
        return body

    def create_order(self, req: Request) -> Reply:
        data = _parse_json(req.body, "order")
        body = self._create(req.user.user_id, data, "order")
        return Reply(201, body, hang=faults_of(self.exchange).take_hang())

    def amend_order(self, req: Request) -> Reply:
        data = _parse_json(req.body, "amend")
        _check_fields(data, AMEND_FIELDS, ("ticker", "side", "price", "count"), "amend")
        terms = parse_new_order({
            **{k: data[k] for k in ("ticker", "side", "price", "count")},
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "taker_at_cross"}, "amend")
        updated = (_expect(data, "updated_client_order_id", str, "amend")
                   if "updated_client_order_id" in data else None)
        if "client_order_id" in data:
            current = self.exchange.find_order(req.user.user_id, req.params["order_id"])
            if _expect(data, "client_order_id", str, "amend") != current.client_order_id:
                raise bad_request("client_order_id does not match the order",
                                  f"order {current.order_id} has {current.client_order_id!r}")
        order = self.exchange.amend_order(
            req.user.user_id, req.params["order_id"], ticker=terms.ticker,
            book_side=terms.book_side, price=terms.price, count=terms.count,
            updated_client_order_id=updated)
        body: dict[str, Any] = {
            "order_id": order.order_id, "client_order_id": order.client_order_id,
            "remaining_count": fp(order.remaining), "fill_count": fp(order.filled),
            "ts_ms": order.updated_ms}
        if order.filled:
            body["average_fill_price"] = average(order.fill_value, order.filled)
            body["average_fee_paid"] = average(order.taker_fees + order.maker_fees, order.filled)
        return Reply(200, body)

    def decrease_order(self, req: Request) -> Reply:
        data = _parse_json(req.body, "decrease")
        _check_fields(data, {"reduce_by", "reduce_to", "exchange_index", "market_ticker"}, (),
                      "decrease")
        amounts = {}
        for name in ("reduce_by", "reduce_to"):
            if name in data:
                text = _expect(data, name, str, "decrease")
                if not re.fullmatch(r"\d+(\.\d{0,2})?", text):
                    raise bad_request(f"invalid {name}", f"{name} {text!r} must be a count "
                                      "string with at most 2 decimals")
                amounts[name] = parse_qty(text, what=name)
        order = self.exchange.decrease_order(req.user.user_id, req.params["order_id"], **amounts)
        return Reply(200, {"order_id": order.order_id, "client_order_id": order.client_order_id,
                           "remaining_count": fp(order.remaining), "ts_ms": order.updated_ms})

    def legacy_order_entry(self, req: Request) -> Reply:
        """The pre-V2 order mutations, retired in June 2026 (venues.md A5.2)."""
        raise bad_request("Please switch to the V2 endpoints",
                          f"{req.method} {req.path} is retired; use /portfolio/events/orders")

    def cancel_order(self, req: Request) -> Reply:
        order, reduced = self.exchange.cancel_order(req.user.user_id, req.params["order_id"])
        return Reply(200, {"order_id": order.order_id, "client_order_id": order.client_order_id,
                           "reduced_by": fp(reduced), "ts_ms": order.updated_ms})

    def batch_create(self, req: Request) -> Reply:
        orders = _batch_items(req, "orders")
        results = []
        for i, item in enumerate(orders):
            what = f"orders[{i}]"
            try:
                if not isinstance(item, dict):
                    raise bad_request("invalid order", f"{what}: expected an object")
                results.append(self._create(req.user.user_id, item, what))
            except KalshiApiError as exc:
                entry: dict[str, Any] = {"error": exc.body()}
                if isinstance(item, dict) and isinstance(item.get("client_order_id"), str):
                    entry["client_order_id"] = item["client_order_id"]
                results.append(entry)
        return Reply(201, {"orders": results})

    def batch_cancel(self, req: Request) -> Reply:
        items = _batch_items(req, "orders")
        results = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("order_id"), str):
                results.append({"order_id": "", "reduced_by": fp(0), "error": bad_request(
                    "invalid order", f"orders[{i}]: order_id (string) required").body()})
                continue
            try:
                order, reduced = self.exchange.cancel_order(req.user.user_id, item["order_id"])
                results.append({"order_id": order.order_id,
                                "client_order_id": order.client_order_id,
                                "reduced_by": fp(reduced), "ts_ms": order.updated_ms})
            except KalshiApiError as exc:
                results.append({"order_id": item["order_id"], "reduced_by": fp(0),
                                "error": exc.body()})
        return Reply(200, {"orders": results})


_STATUS_FILTER = {
    "unopened": {"initialized"}, "open": {"active"},
    "closed": {"closed", "determined", "disputed", "amended"}, "settled": {"finalized"},
}
_MARKET_STATUS_FILTER = {**_STATUS_FILTER, "paused": {"inactive"}}


def _default_cost(req: Request) -> int:
    return ratelimit.DEFAULT_COST


def _batch_items(req: Request, key: str) -> list[Any]:
    data = _parse_json(req.body, "batch")
    items = data.get(key)
    if set(data) != {key} or not isinstance(items, list) or not items:
        raise bad_request("invalid batch", f"body must be {{{key!r}: [...]}} with at least one "
                          "item and no other fields")
    if len(items) > MAX_BATCH:
        raise bad_request("batch too large", f"{len(items)} items, at most {MAX_BATCH}")
    return items


def _batch_cost(per_item: int) -> Callable[[Request], int]:
    def cost(req: Request) -> int:
        try:
            items = json.loads(req.body).get("orders")
            return per_item * max(1, len(items)) if isinstance(items, list) else per_item
        except (ValueError, AttributeError):
            return per_item
    return cost


async def _respond(send: Callable[[dict], Awaitable[None]], status: int, body: Any) -> None:
    payload = dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
