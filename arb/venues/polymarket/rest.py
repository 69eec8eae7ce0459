# Design note: the Polymarket CLOB REST client.
#
# Problem: every call can fail in ways that mean very different things for money. A refused
# connection means nothing was sent; a read timeout after an order POST means the order may be
# live; a 5xx may have been processed; a 425 or a 503 "cancel-only" means the venue is pausing
# trading and a two-leg entry must not start. HMAC signatures cover the exact body bytes, so an
# HTTP library that re-serialises JSON breaks auth.
#
# Naive approach: ``httpx`` with ``json=`` and ``raise_for_status()``: re-serialised bodies (401),
# every failure looks the same, and a timed-out order gets retried under a new hash.
#
# Chosen approach: one ``_request`` that takes the body as bytes (serialised once by the caller,
# signed and sent as ``content=``) and classifies every outcome into the venue contract:
#   connect failure / pool timeout (nothing sent)      -> Transient
#   read/write timeout, reset, protocol error, 5xx     -> OutcomeUnknown for mutations,
#                                                         Transient for reads (re-reading is safe)
#   429 (throttled before processing)                  -> Transient, and a back-off window
#                                                         in which reads wait and orders are
#                                                         refused unsent
#   425, 503 cancel-only / post-only / disabled        -> TradingPaused (a Rejected)
#   401, 403 (bad key, signature, clock, geoblock)     -> AuthError
#   other 4xx                                          -> Rejected with the venue's text and code
# Response bodies are parsed without floats and turned into small frozen records here, so
# venue-shaped JSON never leaves the package. Books are sorted locally (order not guaranteed).
#
# Venue facts (venues.md B3, B5): paths and shapes of B5; L2 HMAC over the path without the query
# string; cursors start at "MA==" and end at "LTE="; error bodies are {"error": "..."}.
from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import attrs
import httpx
import trio

from arb.book import Level
from arb.domain import Side, Venue
from arb.fees import PolyFeeSchedule
from arb.money import SCALE, MoneyError, Price, Qty, parse_fixed, parse_qty
from arb.venues.polymarket import wire
from arb.venues.polymarket.auth import ApiCredentials, l1_headers, l2_headers
from arb.venues.polymarket.errors import PauseKind, TradingPaused
from arb.venues.polymarket.signing import PolymarketSigner
from arb.venues.protocol import AuthError, OutcomeUnknown, Rejected, Transient

POLYMARKET_CLOB_URL = "https://clob.polymarket.com"
FIRST_CURSOR = "MA=="
END_CURSOR = "LTE="
MAX_PAGES = 200
"""Upper bound on pages followed by the list-everything helpers."""
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_ERROR_CODE_RE = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")
_V = Venue.POLYMARKET
THROTTLE_FIRST_S = 0.25
THROTTLE_MAX_S = 8.0
"""After a 429 the client backs off 0.25 s, doubling per further 429 up to 8 s."""


@attrs.frozen
class RestBook:
    """``GET /book``: levels sorted best first (bids descending, asks ascending)."""

    token_id: str
    market: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    tick: Price | None
    min_order_size: Qty | None
    neg_risk: bool
    timestamp_ms: int | None
    hash: str | None


@attrs.frozen
class ClobToken:
    token_id: str
    outcome: str


@attrs.frozen
class ClobMarketInfo:
    """``GET /clob-markets/{condition_id}`` (compact keys decoded)."""

    condition_id: str
    tokens: tuple[ClobToken, ...]
    tick: Price
    min_order_size: Qty | None
    neg_risk: bool
    fee: PolyFeeSchedule | None
    """None when the venue did not publish ``fd`` (an unknown fee: do not trade the pair)."""
    accepting_orders: bool
    seconds_delay: int
    taker_delay: bool
    """``itode``: marketable orders are held for a delay window and may come back ``delayed``."""
    clear_book_on_start: bool
    game_start_time: str | None


@attrs.frozen
class PostOrderResponse:
    """One entry of ``POST /order`` or ``POST /orders``."""

    success: bool
    error_msg: str
    order_id: str
    status: str
    """Lowercase: ``live``, ``matched``, ``delayed``, ``unmatched`` (or empty on failure)."""
    making_amount: str
    taking_amount: str
    trade_ids: tuple[str, ...]


@attrs.frozen
class CancelResponse:
    canceled: tuple[str, ...]
    not_canceled: tuple[tuple[str, str], ...]
    """(order id, reason) pairs, e.g. ``already canceled or matched``."""


@attrs.frozen
class WireOrder:
    """An order record of ``/data/order/{id}`` or ``/data/orders``."""

    order_id: str
    status: str
    """Normalised to upper case without an ``ORDER_STATUS_`` prefix: LIVE, MATCHED, ..."""
    market: str
    asset_id: str
    side: Side
    original_size: Qty
    size_matched: Qty
    price: Price
    order_type: str
    associate_trades: tuple[str, ...]


@attrs.frozen
class WireMakerOrder:
    order_id: str
    owner: str
    maker_address: str
    matched_amount: Qty
    price: Price
    asset_id: str
    side: Side


@attrs.frozen
class WireTrade:
    """A trade of ``/data/trades`` or of the user channel."""

    trade_id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: Side
    size: Qty
    price: Price
    status: str
    """MATCHED, MINED, CONFIRMED, RETRYING or FAILED."""
    match_time_ms: int
    trader_side: str
    """TAKER or MAKER: our role in this trade."""
    owner: str
    maker_address: str
    maker_orders: tuple[WireMakerOrder, ...]
    transaction_hash: str | None


@attrs.frozen
class TradesPage:
    trades: tuple[WireTrade, ...]
    next_cursor: str | None
    """None once the venue answered the end cursor."""


@attrs.frozen
class BalanceAllowance:
    balance: int
    """Micro-units (pUSD or shares)."""
    allowances: tuple[tuple[str, int], ...]


def _side(value: Any, what: str) -> Side:
    if isinstance(value, str) and value.upper() in ("BUY", "SELL"):
        return Side.BUY if value.upper() == "BUY" else Side.SELL
    raise wire.WireError(f"polymarket {what}: side {value!r} is neither BUY nor SELL")


def _micro_int(value: Any, what: str) -> int:
    """A 1e6-scaled integer given as a string or number (balance-allowance)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise wire.WireError(f"polymarket {what}: {value!r} is not an integer amount")
    try:
        scaled = parse_fixed(value, what=f"polymarket {what}")
    except MoneyError as exc:
        raise wire.WireError(str(exc)) from None
    return scaled // SCALE


def parse_book(data: Any, *, what: str = "book") -> RestBook:
    token = wire.text(data, "asset_id", what)
    what = f"book {token}"

    def levels(name: str, descending: bool) -> tuple[Level, ...]:
        raw = wire.need(data, name, what)
        if not isinstance(raw, list):
            raise wire.WireError(f"polymarket {what}: {name} is not a list")
        out = [(wire.price(lv, "price", f"{what} {name}"), wire.qty(lv, "size", f"{what} {name}"))
               for lv in raw]
        return tuple(sorted(out, reverse=descending))

    tick = wire.opt_price(data, "tick_size", what)
    min_size = None
    if isinstance(data, dict) and data.get("min_order_size") not in (None, ""):
        min_size = wire.qty(data, "min_order_size", what)
    ts = None
    if isinstance(data, dict) and data.get("timestamp") not in (None, ""):
        ts = wire.timestamp_ms(data, "timestamp", what)
    return RestBook(
        token_id=token, market=wire.opt_text(data, "market", what) or "",
        bids=levels("bids", True), asks=levels("asks", False), tick=tick,
        min_order_size=min_size, neg_risk=wire.flag(data, "neg_risk", what),
        timestamp_ms=ts, hash=wire.opt_text(data, "hash", what),
    )


def parse_clob_market(data: Any, condition_id: str) -> ClobMarketInfo:
    what = f"clob-market {condition_id}"
    raw_tokens = wire.need(data, "t", what)
    if not isinstance(raw_tokens, list) or not raw_tokens:
        raise wire.WireError(f"polymarket {what}: no tokens in 't'")
    tokens = tuple(ClobToken(wire.text(t, "t", what), wire.opt_text(t, "o", what) or "")
                   for t in raw_tokens if t)
    fee = None
    fd = data.get("fd")
    if isinstance(fd, dict) and fd.get("r") is not None:
        rate = wire.qty(fd, "r", f"{what} fd")
        exponent = wire.integer(fd, "e", f"{what} fd") if fd.get("e") is not None else 1
        fee = PolyFeeSchedule(rate=int(rate), exponent=exponent)
    min_size = wire.qty(data, "mos", what) if data.get("mos") is not None else None
    return ClobMarketInfo(
        condition_id=wire.opt_text(data, "c", what) or condition_id, tokens=tokens,
        tick=wire.price(data, "mts", what), min_order_size=min_size,
        neg_risk=wire.flag(data, "nr", what), fee=fee,
        accepting_orders=wire.flag(data, "ao", what, default=True),
        seconds_delay=wire.integer(data, "sd", what) if data.get("sd") is not None else 0,
        taker_delay=wire.flag(data, "itode", what),
        clear_book_on_start=wire.flag(data, "cbos", what),
        game_start_time=wire.opt_text(data, "gst", what),
    )


def parse_post_response(data: Any) -> PostOrderResponse:
    what = "order response"
    if not isinstance(data, dict) or "success" not in data:
        raise wire.WireError(f"polymarket {what}: expected an object with 'success', got "
                             f"{data!r:.200}")
    ids = data.get("tradeIDs") if isinstance(data, dict) else None
    return PostOrderResponse(
        success=wire.flag(data, "success", what),
        error_msg=wire.opt_text(data, "errorMsg", what) or "",
        order_id=wire.opt_text(data, "orderID", what) or "",
        status=(wire.opt_text(data, "status", what) or "").lower(),
        making_amount=wire.opt_text(data, "makingAmount", what) or "0",
        taking_amount=wire.opt_text(data, "takingAmount", what) or "0",
        trade_ids=tuple(str(t) for t in ids) if isinstance(ids, list) else (),
    )


def parse_cancel_response(data: Any) -> CancelResponse:
    canceled = data.get("canceled") if isinstance(data, dict) else None
    not_canceled = data.get("not_canceled") if isinstance(data, dict) else None
    if not isinstance(canceled, list) and canceled is not None:
        raise wire.WireError(f"polymarket cancel response: canceled = {canceled!r} is not a list")
    pairs = tuple((str(k), str(v)) for k, v in (not_canceled or {}).items()) \
        if isinstance(not_canceled, dict) else ()
    return CancelResponse(tuple(str(c) for c in canceled or ()), pairs)


def normalise_order_status(value: str) -> str:
    value = value.upper()
    return value.removeprefix("ORDER_STATUS_")


def parse_order(data: Any) -> WireOrder:
    order_id = wire.text(data, "id", "order")
    what = f"order {order_id}"
    trades = data.get("associate_trades") or []
    return WireOrder(
        order_id=order_id, status=normalise_order_status(wire.text(data, "status", what)),
        market=wire.opt_text(data, "market", what) or "",
        asset_id=wire.text(data, "asset_id", what),
        side=_side(wire.need(data, "side", what), what),
        original_size=wire.qty(data, "original_size", what),
        size_matched=wire.qty(data, "size_matched", what) if data.get("size_matched") not in (
            None, "") else Qty(0),
        price=wire.price(data, "price", what),
        order_type=wire.opt_text(data, "order_type", what) or "",
        associate_trades=tuple(str(t) for t in trades) if isinstance(trades, list) else (),
    )


def parse_trade(data: Any) -> WireTrade:
    trade_id = wire.text(data, "id", "trade")
    what = f"trade {trade_id}"
    makers = []
    raw_makers = data.get("maker_orders") or []
    if not isinstance(raw_makers, list):
        raise wire.WireError(f"{what}: maker_orders is {type(raw_makers).__name__}, not a list")
    for raw in raw_makers:
        mo_id = wire.text(raw, "order_id", f"{what} maker order")
        mwhat = f"{what} maker order {mo_id}"
        makers.append(WireMakerOrder(
            order_id=mo_id, owner=wire.opt_text(raw, "owner", mwhat) or "",
            maker_address=wire.opt_text(raw, "maker_address", mwhat) or "",
            matched_amount=wire.qty(raw, "matched_amount", mwhat),
            price=wire.price(raw, "price", mwhat),
            asset_id=wire.opt_text(raw, "asset_id", mwhat) or wire.text(data, "asset_id", what),
            side=_side(raw.get("side", data.get("side")), mwhat),
        ))
    match_time = data.get("match_time") or data.get("timestamp") or "0"
    return WireTrade(
        trade_id=trade_id, taker_order_id=wire.opt_text(data, "taker_order_id", what) or "",
        market=wire.opt_text(data, "market", what) or "",
        asset_id=wire.text(data, "asset_id", what),
        side=_side(wire.need(data, "side", what), what),
        size=wire.qty(data, "size", what), price=wire.price(data, "price", what),
        status=wire.text(data, "status", what).upper(),
        match_time_ms=wire.timestamp_ms({"t": match_time}, "t", what),
        trader_side=(wire.opt_text(data, "trader_side", what) or "TAKER").upper(),
        owner=wire.opt_text(data, "owner", what) or "",
        maker_address=wire.opt_text(data, "maker_address", what) or "",
        maker_orders=tuple(makers),
        transaction_hash=wire.opt_text(data, "transaction_hash", what),
    )


def _page(data: Any, what: str) -> tuple[list, str | None]:
    """The rows and next cursor of a paginated answer; Transient when the shape is wrong."""
    rows = data.get("data") if isinstance(data, dict) else None
    if rows is None and isinstance(data, dict) and "data" in data:
        rows = []
    if not isinstance(rows, list):
        raise Transient(_V, f"{what}: expected {{data: [...], next_cursor}}, got {data!r:.200}")
    nxt = data.get("next_cursor")
    return rows, (str(nxt) if nxt not in (None, "") else None)


def _error_text(response: httpx.Response) -> str:
    try:
        data = wire.loads(response.content, what="error body")
    except wire.WireError:
        snippet = response.text[:200].strip().replace("\n", " ")
        return f"HTTP {response.status_code} non-JSON body: {snippet!r}"
    if isinstance(data, dict):
        for key in ("error", "errorMsg", "message"):
            if data.get(key):
                return str(data[key])
    return str(data)[:200]


def _error_code(message: str) -> str | None:
    match = _ERROR_CODE_RE.search(message)
    return match.group(1) if match else None


def classify_status(response: httpx.Response, *, what: str, mutating: bool) -> Exception:
    """The contract error for a non-2xx response (see the design note)."""
    status = response.status_code
    message = _error_text(response)
    reason = f"{what}: HTTP {status}: {message}"
    lowered = message.lower()
    if status == 425:
        return TradingPaused(PauseKind.MATCHING_ENGINE_RESTART, reason, status=status)
    if status == 503 and "cancel-only" in lowered:
        return TradingPaused(PauseKind.CANCEL_ONLY, reason, status=status)
    if status == 503 and "post-only" in lowered:
        return TradingPaused(PauseKind.POST_ONLY, reason, status=status)
    if status == 503 and "trading is currently disabled" in lowered:
        return TradingPaused(PauseKind.TRADING_DISABLED, reason, status=status)
    if status in (401, 403):
        hint = " (geoblocked or forbidden)" if status == 403 else " (key, signature or clock)"
        return AuthError(_V, reason + hint, status=status, code=_error_code(message))
    if status == 429:
        return Transient(_V, reason, status=status, code="RATE_LIMITED")
    if 400 <= status < 500:
        return Rejected(_V, reason, status=status, code=_error_code(message))
    cls = OutcomeUnknown if mutating else Transient
    return cls(_V, reason, status=status)


@attrs.define(eq=False)
class PolymarketRest:
    """Async CLOB REST client. Build it with :func:`open_polymarket_rest`.

    L1 calls need ``signer``; L2 calls need ``signer`` and ``creds`` (set after key derivation).
    """

    _http: httpx.AsyncClient
    signer: PolymarketSigner | None = None
    creds: ApiCredentials | None = attrs.field(default=None)
    wall_clock: Callable[[], float] = time.time
    """Local wall clock in seconds; ``clock_offset_s`` corrects it towards the server's."""
    clock_offset_s: int = 0
    throttled_until: float = 0.0
    """Trio time before which no request is sent after a 429 (reliability row 6)."""
    _throttle_s: float = attrs.field(default=0.0, alias="_throttle_s")
    throttled: int = 0
    """Requests refused locally (orders) or held back (reads) by the 429 pacing."""

    def _timestamp(self) -> int:
        return int(self.wall_clock()) + self.clock_offset_s

    async def _pace(self, what: str, mutating: bool) -> None:
        """After a 429, hold reads until the back-off window passes and refuse writes at once:
        a taker leg sent seconds late would trade a book that has moved, so it is better not
        sent (``Transient``: provably nothing reached the venue). No retry storm either way."""
        now = trio.current_time()
        if now >= self.throttled_until:
            return
        self.throttled += 1
        if mutating:
            raise Transient(_V, f"{what}: not sent, rate limited for another "
                                f"{self.throttled_until - now:.2f} s after HTTP 429",
                            status=429, code="RATE_LIMITED")
        await trio.sleep_until(self.throttled_until)

    def _note_throttle(self, status: int) -> None:
        if status == 429:
            self._throttle_s = min(max(self._throttle_s * 2, THROTTLE_FIRST_S), THROTTLE_MAX_S)
            self.throttled_until = trio.current_time() + self._throttle_s
        else:
            self._throttle_s = 0.0

    async def _request(self, method: str, path: str, *, what: str, mutating: bool,
                       params: dict[str, str] | None = None, body: bytes = b"",
                       auth: int = 0, nonce: int = 0) -> httpx.Response:
        await self._pace(what, mutating)
        headers = {"Content-Type": "application/json"} if body else {}
        if auth == 1:
            headers.update(l1_headers(self._need_signer(), timestamp_s=self._timestamp(),
                                      nonce=nonce))
        elif auth == 2:
            if self.creds is None:
                raise AuthError(_V, f"{what}: no API credentials (derive them first)")
            headers.update(l2_headers(self._need_signer(), self.creds,
                                      timestamp_s=self._timestamp(), method=method, path=path,
                                      body=body))
        try:
            response = await self._http.request(method, path, params=params,
                                                content=body or None, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Transient(_V, f"{what}: not sent ({type(exc).__name__}: {exc})") from exc
        except httpx.TransportError as exc:
            cls = OutcomeUnknown if mutating else Transient
            raise cls(_V, f"{what}: sent, no answer ({type(exc).__name__}: {exc})") from exc
        self._note_throttle(response.status_code)
        if not 200 <= response.status_code < 300:
            raise classify_status(response, what=what, mutating=mutating)
        return response

    def _need_signer(self) -> PolymarketSigner:
        if self.signer is None:
            raise AuthError(_V, "this call needs a private key (L1) and none was configured")
        return self.signer

    async def _json(self, method: str, path: str, *, what: str, mutating: bool = False,
                    **kwargs: Any) -> Any:
        response = await self._request(method, path, what=what, mutating=mutating, **kwargs)
        if not response.content.strip():
            return None
        try:
            return wire.loads(response.content, what=what)
        except wire.WireError as exc:
            cls = OutcomeUnknown if mutating else Transient
            raise cls(_V, str(exc), status=response.status_code) from None

    # -- public market data ------------------------------------------------------------------

    async def server_time(self) -> int:
        """``GET /time``: the venue's Unix time in seconds."""
        data = await self._json("GET", "/time", what="server time")
        if isinstance(data, dict):
            data = data.get("time", data.get("timestamp"))
        try:
            return int(data)
        except (TypeError, ValueError):
            raise Transient(_V, f"server time: unexpected answer {data!r}") from None

    async def sync_clock(self) -> int:
        """Align auth timestamps with the server's clock; returns the skew in ms (server - local)."""
        before = self.wall_clock()
        server = await self.server_time()
        after = self.wall_clock()
        local = (before + after) / 2
        self.clock_offset_s = round(server - local)
        return round((server - local) * 1000)

    async def book(self, token_id: str) -> RestBook:
        data = await self._json("GET", "/book", what=f"book {token_id}",
                                params={"token_id": token_id})
        return self._parsed(parse_book, data)

    async def books(self, token_ids: list[str]) -> list[RestBook]:
        body = wire.dumps([{"token_id": t} for t in token_ids])
        data = await self._json("POST", "/books", what="books", body=body)
        if not isinstance(data, list):
            raise Transient(_V, f"books: expected a list, got {type(data).__name__}")
        return [self._parsed(parse_book, b) for b in data]

    async def tick_size(self, token_id: str) -> Price:
        data = await self._json("GET", "/tick-size", what=f"tick size {token_id}",
                                params={"token_id": token_id})
        return self._parsed(wire.price, data, "minimum_tick_size", f"tick size {token_id}")

    async def neg_risk(self, token_id: str) -> bool:
        data = await self._json("GET", "/neg-risk", what=f"neg risk {token_id}",
                                params={"token_id": token_id})
        return self._parsed(wire.flag, data, "neg_risk", f"neg risk {token_id}")

    async def clob_market(self, condition_id: str) -> ClobMarketInfo:
        data = await self._json("GET", f"/clob-markets/{condition_id}",
                                what=f"clob-market {condition_id}")
        return self._parsed(parse_clob_market, data, condition_id)

    @staticmethod
    def _parsed(parser: Callable[..., Any], *args: Any) -> Any:
        try:
            return parser(*args)
        except wire.WireError as exc:
            raise Transient(_V, str(exc)) from None

    # -- API keys (L1) -----------------------------------------------------------------------

    async def create_api_key(self, nonce: int = 0) -> ApiCredentials:
        data = await self._json("POST", "/auth/api-key", what="create API key", auth=1,
                                nonce=nonce, mutating=True)
        return self._creds(data)

    async def derive_api_key(self, nonce: int = 0) -> ApiCredentials:
        data = await self._json("GET", "/auth/derive-api-key", what="derive API key", auth=1,
                                nonce=nonce)
        return self._creds(data)

    async def create_or_derive_api_key(self, nonce: int = 0) -> ApiCredentials:
        """Create a key set for ``nonce``, or derive it when it already exists; stores it."""
        try:
            creds = await self.create_api_key(nonce)
        except (Rejected, OutcomeUnknown):
            # Exists already (or the answer was lost): derive. A bad L1 signature fails there
            # too, with its own AuthError.
            creds = await self.derive_api_key(nonce)
        self.creds = creds
        return creds

    @staticmethod
    def _creds(data: Any) -> ApiCredentials:
        try:
            return ApiCredentials(wire.text(data, "apiKey", "API key"),
                                  wire.text(data, "secret", "API key"),
                                  wire.text(data, "passphrase", "API key"))
        except wire.WireError as exc:
            raise AuthError(_V, str(exc)) from None

    # -- trading (L2) ------------------------------------------------------------------------

    async def post_order(self, body: bytes) -> PostOrderResponse:
        """``POST /order`` with the exact signed body bytes."""
        data = await self._json("POST", "/order", what="post order", body=body, auth=2,
                                mutating=True)
        try:
            return parse_post_response(data)
        except wire.WireError as exc:
            raise OutcomeUnknown(_V, f"post order: {exc}") from None

    async def post_orders(self, body: bytes) -> list[PostOrderResponse]:
        """``POST /orders`` (at most 15 orders): one response per order, in order."""
        data = await self._json("POST", "/orders", what="post orders", body=body, auth=2,
                                mutating=True)
        if not isinstance(data, list):
            raise OutcomeUnknown(_V, f"post orders: expected a list, got {data!r:.200}")
        try:
            return [parse_post_response(d) for d in data]
        except wire.WireError as exc:
            raise OutcomeUnknown(_V, f"post orders: {exc}") from None

    async def cancel_order(self, order_id: str) -> CancelResponse:
        data = await self._json("DELETE", "/order", what=f"cancel {order_id}", auth=2,
                                body=wire.dumps({"orderID": order_id}), mutating=True)
        return self._cancel_parsed(data, f"cancel {order_id}")

    async def cancel_orders(self, order_ids: list[str]) -> CancelResponse:
        data = await self._json("DELETE", "/orders", what="cancel orders", auth=2,
                                body=wire.dumps(order_ids), mutating=True)
        return self._cancel_parsed(data, "cancel orders")

    async def cancel_all(self) -> CancelResponse:
        data = await self._json("DELETE", "/cancel-all", what="cancel all", auth=2,
                                mutating=True)
        return self._cancel_parsed(data, "cancel all")

    @staticmethod
    def _cancel_parsed(data: Any, what: str) -> CancelResponse:
        try:
            return parse_cancel_response(data)
        except wire.WireError as exc:
            raise OutcomeUnknown(_V, f"{what}: {exc}") from None

    async def order(self, order_id: str) -> WireOrder | None:
        """``GET /data/order/{id}``; None when the venue does not know the order."""
        try:
            data = await self._json("GET", f"/data/order/{order_id}", what=f"order {order_id}",
                                    auth=2)
        except Rejected as exc:
            if exc.status == 404 and not isinstance(exc, AuthError):
                return None
            raise
        if not data:
            return None
        return self._parsed(parse_order, data)

    async def open_orders(self, *, market: str | None = None,
                          asset_id: str | None = None) -> list[WireOrder]:
        """Every open order (all pages of ``/data/orders``)."""
        params = {k: v for k, v in (("market", market), ("asset_id", asset_id)) if v}
        out: list[WireOrder] = []
        cursor = FIRST_CURSOR
        for _ in range(MAX_PAGES):
            data = await self._json("GET", "/data/orders", what="open orders", auth=2,
                                    params={**params, "next_cursor": cursor})
            rows, nxt = _page(data, "open orders")
            out.extend(self._parsed(parse_order, o) for o in rows)
            cursor = nxt or END_CURSOR
            if cursor == END_CURSOR:
                return out
        raise Transient(_V, f"open orders: more than {MAX_PAGES} pages")

    async def trades(self, cursor: str | None = None, *, trade_id: str | None = None,
                     market: str | None = None, asset_id: str | None = None,
                     after: int | None = None) -> TradesPage:
        """One page of ``/data/trades`` from ``cursor`` (None: the first page)."""
        params = {k: str(v) for k, v in (("id", trade_id), ("market", market),
                                         ("asset_id", asset_id), ("after", after)) if v}
        params["next_cursor"] = cursor or FIRST_CURSOR
        data = await self._json("GET", "/data/trades", what="trades", auth=2, params=params)
        rows, nxt = _page(data, "trades")
        trades = tuple(self._parsed(parse_trade, t) for t in rows)
        return TradesPage(trades, None if nxt in (None, END_CURSOR) else nxt)

    async def balance_allowance(self, asset_type: str = "COLLATERAL",
                                token_id: str | None = None) -> BalanceAllowance:
        """``GET /balance-allowance`` for pUSD (``COLLATERAL``) or one token (``CONDITIONAL``)."""
        signer = self._need_signer()
        params = {"asset_type": asset_type, "signature_type": str(int(signer.signature_type))}
        if token_id:
            params["token_id"] = token_id
        what = f"balance {asset_type} {token_id or ''}".strip()
        data = await self._json("GET", "/balance-allowance", what=what, auth=2, params=params)
        try:
            balance = _micro_int(wire.need(data, "balance", what), f"{what} balance")
            raw = data.get("allowances") or {}
            allowances = tuple((str(k), _micro_int(v, f"{what} allowance"))
                               for k, v in raw.items()) if isinstance(raw, dict) else ()
        except wire.WireError as exc:
            raise Transient(_V, str(exc)) from None
        return BalanceAllowance(balance, allowances)


@asynccontextmanager
async def open_polymarket_rest(base_url: str = POLYMARKET_CLOB_URL, *,
                               signer: PolymarketSigner | None = None,
                               creds: ApiCredentials | None = None,
                               transport: httpx.AsyncBaseTransport | None = None,
                               http_timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                               wall_clock: Callable[[], float] = time.time,
                               ) -> AsyncIterator[PolymarketRest]:
    """A REST client over one pooled ``httpx.AsyncClient``.

    Args:
        transport: e.g. ``httpx.ASGITransport(app)`` for in-memory tests.
    """
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport,
                                 timeout=http_timeout,
                                 headers={"User-Agent": "arb-polymarket/1",
                                          "Accept": "application/json"}) as http:
        yield PolymarketRest(http, signer, creds, wall_clock)


def qty_from_display(value: str, what: str) -> Qty:
    """An amount of a POST /order answer (display units, e.g. ``"21.04"``)."""
    try:
        return parse_qty(value, what=f"polymarket {what}")
    except MoneyError as exc:
        raise OutcomeUnknown(_V, str(exc)) from None

