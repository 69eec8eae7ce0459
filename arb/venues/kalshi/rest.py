# Design note: the Kalshi REST client and its error classification.
#
# Problem: with real money, the worst bug is misreading *whether an order exists*. A timeout, a
# reset or a 5xx after the bytes left may hide a filled order; a 409 on our client_order_id means
# our earlier attempt DID reach the venue; a 403 HTML page from CloudFront is not an order reject
# but a geoblock or bad handshake; 429 means nothing was processed.
#
# Naive approach: ``response.raise_for_status()`` and retry everything a few times. That resends
# orders whose outcome is unknown (duplicates, or with a fresh id: double exposure), turns a 409
# into a "reject" and releases the risk of a live order, and hammers the venue on 429.
#
# Chosen: one ``_send`` path for every call. It awaits the local token bucket, signs (fresh
# timestamp per attempt), sends under our own deadline on Trio's clock, and classifies:
#   * connect failure, connect/pool timeout, bad URL      -> Transient (nothing left the client)
#   * our deadline, read/write errors, protocol errors    -> OutcomeUnknown (the venue may act)
#   * 429                                                 -> bucket drained, jittered backoff,
#                                                            bounded retries, then Transient
#   * 401 / 403                                           -> AuthError, plain-language cause
#   * 5xx, or 4xx whose body is not a venue error object  -> OutcomeUnknown
#   * other 4xx with a JSON error body                    -> Rejected (code and message kept)
# ``create_order`` adds the 409 rule: the order exists, so it is looked up by client_order_id
# (listing the market's orders) and returned as found; never reported as a reject. Outer
# cancellation (the caller's scope) propagates as ``trio.Cancelled``: callers must treat a
# cancelled submit as UNKNOWN, exactly like ``OutcomeUnknown`` (the intent is already persisted).
#
# Venue facts (venues.md A2, A4-A6, A9): every path is under ``/trade-api/v2`` and signed without
# its query string; V2 create ``POST /portfolio/events/orders`` answers 201; cancel ``DELETE
# /portfolio/events/orders/{id}`` (2 tokens); batch cancel ``DELETE
# /portfolio/events/orders/batched`` (2 per order); ``GET /portfolio/orders`` lists (no client id
# filter); cursor pagination ends on an empty cursor; error bodies are ``{code, message,
# details}`` (maybe wrapped in ``error``), a 429 is ``{"error": "too many requests"}``.
from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import orjson
import trio
from loguru import logger

from arb.domain import Outcome, Venue
from arb.money import MoneyError, Qty, parse_qty
from arb.venues.kalshi.auth import REST_PREFIX, KalshiSigner
from arb.venues.kalshi.directory import OrderDirectory
from arb.venues.kalshi.grid import MarketRules, parse_market_rules
from arb.venues.kalshi.limiter import (
    BATCH_CANCEL_COST_PER_ORDER,
    CANCEL_COST,
    DEFAULT_COST,
    Bucket,
    KalshiRateLimiter,
    Tier,
)
from arb.venues.kalshi.parse import (
    KalshiBalance,
    KalshiOrder,
    OrderIntent,
    RestOrderbook,
    WireError,
    error_text,
    loads,
    parse_balance,
    parse_create_response,
    parse_exchange_status,
    parse_fill,
    parse_order,
    parse_positions,
    parse_rest_orderbook,
)
from arb.venues.protocol import (
    AuthError,
    FillPage,
    OrderResult,
    OutcomeUnknown,
    Position,
    PreparedOrder,
    Rejected,
    Transient,
    VenuePaused,
    VenueStatus,
)

PROD_URL = "https://external-api.kalshi.com"
DEMO_URL = "https://external-api.demo.kalshi.co"

_K = Venue.KALSHI
_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                 httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError)
_MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_BATCH_CANCEL_MAX = 20


@attrs.frozen
class CancelResult:
    order_id: str
    client_id: str | None
    reduced_by: Qty
    """Contracts removed from the book (the remaining count at cancel time)."""


@attrs.define(eq=False)
class KalshiRestClient:
    """Authenticated Kalshi Trade API v2 calls returning project values. Use ``open_kalshi_rest``."""

    http: httpx.AsyncClient
    signer: KalshiSigner | None
    limiter: KalshiRateLimiter
    directory: OrderDirectory = attrs.field(factory=OrderDirectory)
    request_timeout: float = 10.0
    """Deadline for one HTTP exchange; past it the outcome is unknown."""
    max_pages: int = 50
    """Bound on cursor pages followed by the listing helpers."""

    # -- plumbing ------------------------------------------------------------------------------

    async def _send(self, method: str, path: str, *, what: str,
                    params: Mapping[str, Any] | None = None, content: bytes | None = None,
                    bucket: Bucket = Bucket.READ, cost: int = DEFAULT_COST,
                    shard: int = 0) -> httpx.Response:
        full_path = REST_PREFIX + path
        for attempt in range(self.limiter.max_retries + 1):
            await self.limiter.acquire(bucket, cost, shard)
            headers = self.signer.headers(method, full_path) if self.signer else {}
            if content is not None:
                headers["Content-Type"] = "application/json"
            request = self.http.build_request(method, full_path, params=params, content=content,
                                              headers=headers)
            try:
                with trio.move_on_after(self.request_timeout) as deadline:
                    response = await self.http.send(request)
            except _NOTHING_SENT as exc:
                raise Transient(_K, f"{what}: could not connect ({type(exc).__name__}: {exc})") \
                    from exc
            except _MAYBE_SENT as exc:
                raise OutcomeUnknown(
                    _K, f"{what}: connection failed after sending ({type(exc).__name__}: {exc})"
                ) from exc
            if deadline.cancelled_caught:
                raise OutcomeUnknown(_K, f"{what}: no answer within {self.request_timeout:g} s")
            if response.status_code != 429:
                return response
            delay = self.limiter.backoff(bucket, attempt, shard)
            if attempt == self.limiter.max_retries:
                break
            logger.warning("kalshi {}: HTTP 429, retry {} in {:.3f} s", what, attempt + 1, delay)
            await trio.sleep(delay)
        raise Transient(_K, f"{what}: rate limited (HTTP 429) {self.limiter.max_retries + 1} "
                            "times; nothing was processed", status=429)

    def _fail(self, response: httpx.Response, what: str) -> Exception:
        """The protocol error for a non-2xx answer."""
        status = response.status_code
        try:
            body = loads(response.content, what=what)
        except WireError:
            body = None
        code, message = error_text(body)
        shown = message or response.text[:200].strip() or response.reason_phrase
        if status == 401:
            return AuthError(
                _K, f"{what}: HTTP 401 authentication failed ({shown}). Check the key id and "
                    f"private key, and the system clock: Kalshi rejects timestamps that are not "
                    f"current Unix milliseconds{self._skew_note(response)}",
                status=status, code=code)
        if status == 403:
            if body is None or "cloudfront" in response.text.lower():
                reason = ("HTTP 403 from the edge (CloudFront), not from the API: a geoblocked "
                          "region, a wrong host, or a malformed signed request")
            else:
                reason = (f"HTTP 403 forbidden ({shown}): the API key lacks permission for this "
                          "call (read-only key, or missing trade scope)")
            return AuthError(_K, f"{what}: {reason}", status=status, code=code)
        if status >= 500:
            return OutcomeUnknown(_K, f"{what}: HTTP {status} ({shown}); the venue may have "
                                      "acted", status=status, code=code)
        if 400 <= status < 500 and "paused" in f"{code} {message}".lower():
            return VenuePaused(_K, f"{what}: HTTP {status} {code or ''} {message}: Kalshi is not "
                                   "trading (pause or maintenance)".rstrip(),
                               status=status, code=code)
        if 400 <= status < 500 and isinstance(body, Mapping) and (code or message):
            return Rejected(_K, f"{what}: HTTP {status} {code or ''} {message}".rstrip(),
                            status=status, code=code)
        return OutcomeUnknown(_K, f"{what}: unexpected HTTP {status} ({shown})", status=status,
                              code=code)

    @staticmethod
    def _skew_note(response: httpx.Response) -> str:
        skew = _clock_skew_ms(response)
        return "" if skew is None else f" (our clock differs from Kalshi's by about {skew} ms)"

    async def _json(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        response = await self._send(method, path, what=what, **kwargs)
        if not 200 <= response.status_code < 300:
            raise self._fail(response, what)
        return _decode(response, what)

    async def _pages(self, path: str, key: str, *, what: str,
                     params: Mapping[str, Any]) -> AsyncIterator[list[Any]]:
        cursor: str | None = None
        for _ in range(self.max_pages):
            query = dict(params)
            if cursor:
                query["cursor"] = cursor
            body = await self._json("GET", path, what=what, params=query)
            items = body.get(key) if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                raise OutcomeUnknown(_K, f"{what}: response has no '{key}' list")
            yield items
            cursor = body.get("cursor") or None
            if not cursor:
                return
        logger.warning("kalshi {}: stopped after {} pages", what, self.max_pages)

    # -- market data ---------------------------------------------------------------------------

    async def exchange_status(self) -> VenueStatus:
        what = "exchange status"
        response = await self._send("GET", "/exchange/status", what=what)
        if response.status_code != 200:
            raise self._fail(response, what)
        return _wire(what, parse_exchange_status, _decode(response, what),
                     clock_skew_ms=_clock_skew_ms(response))

    async def orderbook(self, ticker: str, depth: int = 0) -> RestOrderbook:
        what = f"orderbook {ticker}"
        body = await self._json("GET", f"/markets/{ticker}/orderbook", what=what,
                                params={"depth": depth} if depth else None)
        return _wire(what, parse_rest_orderbook, body, ticker)

    async def market_rules(self, ticker: str) -> MarketRules:
        what = f"market {ticker}"
        body = await self._json("GET", f"/markets/{ticker}", what=what)
        market = body.get("market") if isinstance(body, Mapping) else None
        if not isinstance(market, Mapping):
            raise OutcomeUnknown(_K, f"{what}: response has no 'market' object")
        return _wire(what, parse_market_rules, market)

    # -- orders --------------------------------------------------------------------------------

    async def create_order(self, order: PreparedOrder, *, ticker: str, outcome: Outcome,
                           shard: int | None) -> OrderResult:
        """Send a prepared V2 order. A 409 on our client id resolves to the existing order."""
        req = order.request
        what = f"create order {req.client_id} on {ticker}"
        response = await self._send("POST", "/portfolio/events/orders", what=what,
                                    content=order.payload, bucket=Bucket.WRITE,
                                    shard=shard or 0)
        if response.status_code == 409:
            return await self._resolve_duplicate(order, ticker=ticker, outcome=outcome,
                                                 response=response)
        if response.status_code not in (200, 201):
            raise self._fail(response, what)
        try:
            body = _decode(response, what)
            result = parse_create_response(body, client_id=req.client_id, ticker=ticker,
                                           outcome=outcome, sent_qty=order.qty, tif=req.tif)
        except (WireError, OutcomeUnknown) as exc:
            raise OutcomeUnknown(_K, f"{what}: accepted (HTTP {response.status_code}) but the "
                                     f"answer is unreadable: {exc}") from exc
        self.directory.link(req.client_id, result.venue_order_id)
        return result

    async def _resolve_duplicate(self, order: PreparedOrder, *, ticker: str, outcome: Outcome,
                                 response: httpx.Response) -> OrderResult:
        req = order.request
        what = f"create order {req.client_id} on {ticker}"
        _code, message = error_text(_maybe_json(response))
        logger.warning("kalshi {}: HTTP 409 ({}): our client_order_id already exists; looking "
                       "it up", what, message or "conflict")
        found = await self.find_order(req.client_id, ticker=ticker)
        if found is None:
            raise OutcomeUnknown(_K, f"{what}: HTTP 409 says client_order_id {req.client_id} "
                                     "exists but the order listing does not show it yet",
                                 status=409)
        expected = OrderIntent(ticker, outcome, req.side, req.tif).exposure
        if found.ticker != ticker or found.exposure is not expected:
            raise Rejected(_K, f"{what}: client_order_id {req.client_id} already belongs to "
                               f"order {found.order_id} on {found.ticker} "
                               f"({found.exposure.value} exposure); ours was not placed",
                           status=409)
        self.directory.link(req.client_id, found.order_id)
        return found.to_result()

    async def cancel_order(self, order_id: str, *, ticker: str | None = None,
                           shard: int | None = None) -> CancelResult | None:
        """Cancel one order; None when Kalshi no longer knows it as open (404)."""
        what = f"cancel order {order_id}"
        params: dict[str, Any] = {}
        if shard is not None:
            params["exchange_index"] = shard
        elif ticker is not None:
            params["market_ticker"] = ticker
        response = await self._send("DELETE", f"/portfolio/events/orders/{order_id}", what=what,
                                    params=params or None, bucket=Bucket.WRITE, cost=CANCEL_COST,
                                    shard=shard or 0)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, what)
        body = _decode(response, what)
        return _wire(what, _cancel_result, body, what)

    async def batch_cancel(self, orders: Sequence[tuple[str, str | None]], *,
                           shard: int | None = None) -> list[CancelResult]:
        """Cancel (order_id, ticker) pairs in batches; returns the ones Kalshi cancelled."""
        done: list[CancelResult] = []
        for start in range(0, len(orders), _BATCH_CANCEL_MAX):
            chunk = orders[start:start + _BATCH_CANCEL_MAX]
            items = []
            for order_id, ticker in chunk:
                item: dict[str, Any] = {"order_id": order_id}
                if shard is not None:
                    item["exchange_index"] = shard
                elif ticker is not None:
                    item["market_ticker"] = ticker
                items.append(item)
            what = f"batch cancel of {len(chunk)} orders"
            body = await self._json("DELETE", "/portfolio/events/orders/batched", what=what,
                                    content=orjson.dumps({"orders": items}), bucket=Bucket.WRITE,
                                    cost=BATCH_CANCEL_COST_PER_ORDER * len(chunk),
                                    shard=shard or 0)
            results = body.get("orders") if isinstance(body, Mapping) else None
            if not isinstance(results, list):
                raise OutcomeUnknown(_K, f"{what}: response has no 'orders' list")
            for item in results:
                if isinstance(item, Mapping) and item.get("error"):
                    code, message = error_text(item.get("error"))
                    logger.info("kalshi {}: order {} not cancelled: {} {}", what,
                                item.get("order_id"), code, message)
                    continue
                done.append(_wire(what, _cancel_result, item, what))
        return done

    async def get_order(self, order_id: str) -> KalshiOrder | None:
        what = f"get order {order_id}"
        response = await self._send("GET", f"/portfolio/orders/{order_id}", what=what)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, what)
        body = _decode(response, what)
        order = body.get("order") if isinstance(body, Mapping) else None
        intent = self.directory.lookup(order_id)
        return _wire(what, parse_order, order, intent=intent)

    async def list_orders(self, *, ticker: str | None = None,
                          status: str | None = None) -> list[KalshiOrder]:
        params: dict[str, Any] = {"limit": 1000}
        if ticker:
            params["ticker"] = ticker
        if status:
            params["status"] = status
        what = f"list orders{' ' + ticker if ticker else ''}"
        out = []
        async for page in self._pages("/portfolio/orders", "orders", what=what, params=params):
            for item in page:
                intent = self.directory.lookup(item.get("order_id"), item.get("client_order_id")) \
                    if isinstance(item, Mapping) else None
                out.append(_wire(what, parse_order, item, intent=intent))
        return out

    async def find_order(self, client_id: str, *, ticker: str | None = None) -> KalshiOrder | None:
        """Find our order by client_order_id (Kalshi has no direct lookup: list and filter)."""
        if ticker is None:
            intent = self.directory.lookup(client_id=client_id)
            ticker = intent.ticker if intent else None
        for order in await self.list_orders(ticker=ticker):
            if order.client_id == client_id:
                return order
        return None

    # -- portfolio -----------------------------------------------------------------------------

    async def fills(self, cursor: str | None = None, *, ticker: str | None = None,
                    order_id: str | None = None, limit: int = 200) -> FillPage:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if ticker:
            params["ticker"] = ticker
        if order_id:
            params["order_id"] = order_id
        what = "fills"
        body = await self._json("GET", "/portfolio/fills", what=what, params=params)
        items = body.get("fills") if isinstance(body, Mapping) else None
        if not isinstance(items, list):
            raise OutcomeUnknown(_K, f"{what}: response has no 'fills' list")
        fills = []
        for item in items:
            intent = self.directory.lookup(item.get("order_id"), item.get("client_order_id")) \
                if isinstance(item, Mapping) else None
            fills.append(_wire(what, parse_fill, item, intent=intent))
        fills.sort(key=lambda f: (f.ts_ms, f.trade_id))
        return FillPage(tuple(fills), body.get("cursor") or None)

    async def positions(self) -> list[Position]:
        out: list[Position] = []
        async for page in self._pages("/portfolio/positions", "market_positions",
                                      what="positions", params={"limit": 1000}):
            out.extend(_wire("positions", parse_positions, page))
        return out

    async def balance(self, exchange_index: int | None = None) -> KalshiBalance:
        what = "balance" if exchange_index is None else f"balance shard {exchange_index}"
        params = None if exchange_index is None else {"exchange_index": exchange_index}
        body = await self._json("GET", "/portfolio/balance", what=what, params=params)
        return _wire(what, parse_balance, body)


def _cancel_result(body: Any, what: str) -> CancelResult:
    if not isinstance(body, Mapping) or not isinstance(body.get("order_id"), str):
        raise WireError(f"kalshi {what}: answer has no 'order_id'")
    try:
        reduced = parse_qty(body.get("reduced_by", "0"), what=f"kalshi {what} reduced_by")
    except MoneyError as exc:
        raise WireError(str(exc)) from None
    client = body.get("client_order_id")
    return CancelResult(body["order_id"], client if isinstance(client, str) and client else None,
                        reduced)


def _wire(what: str, parse: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a parser; a malformed 2xx answer is OutcomeUnknown (we cannot tell what happened)."""
    try:
        return parse(*args, **kwargs)
    except WireError as exc:
        raise OutcomeUnknown(_K, f"{what}: malformed answer: {exc}") from exc


def _decode(response: httpx.Response, what: str) -> Any:
    try:
        return loads(response.content, what=what)
    except WireError as exc:
        raise OutcomeUnknown(_K, f"{what}: HTTP {response.status_code} with a non-JSON body",
                             status=response.status_code) from exc


def _maybe_json(response: httpx.Response) -> Any:
    try:
        return loads(response.content, what="error body")
    except WireError:
        return None


def _clock_skew_ms(response: httpx.Response) -> int | None:
    """Kalshi's clock minus ours from the ``Date`` header (1 s resolution), if present."""
    date = response.headers.get("date")
    if not date:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return int(server.timestamp() * 1000) - time.time_ns() // 1_000_000


@asynccontextmanager
async def open_kalshi_rest(base_url: str, signer: KalshiSigner | None, *,
                           limiter: KalshiRateLimiter | None = None,
                           transport: httpx.AsyncBaseTransport | None = None,
                           directory: OrderDirectory | None = None,
                           request_timeout: float = 10.0) -> AsyncIterator[KalshiRestClient]:
    """An authenticated client for ``base_url`` (scheme and host, e.g. ``PROD_URL``; a trailing
    ``/trade-api/v2`` is accepted and not doubled).

    ``transport`` replaces the network (``httpx.ASGITransport(app=...)`` or a MockTransport in
    tests). The default limiter assumes the Basic tier.
    """
    base_url = base_url.rstrip("/")
    if base_url.endswith(REST_PREFIX):
        base_url = base_url[:-len(REST_PREFIX)]
    async with httpx.AsyncClient(base_url=base_url, transport=transport,
                                 timeout=httpx.Timeout(None, connect=request_timeout / 2,
                                                       pool=request_timeout / 2),
                                 follow_redirects=False,
                                 headers={"Accept": "application/json"}) as http:
        yield KalshiRestClient(http, signer, limiter or KalshiRateLimiter.for_tier(Tier.BASIC),
                               directory or OrderDirectory(), request_timeout=request_timeout)
