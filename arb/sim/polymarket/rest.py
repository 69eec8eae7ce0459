# Design note: the CLOB REST front end as a bare ASGI app.
#
# Problem: the bot's client and the official py-clob-client-v2 must both work against the
# simulator unchanged, so paths, headers, auth, status codes and error bodies must be the
# venue's. A web framework would re-parse bodies (breaking the HMAC-over-raw-bytes rule) and add
# behaviour of its own; the surface is small enough to route by hand.
#
# Each request: read the raw body; advance the exchange to the injected clock; consume an
# injected REST failure if one matches; route; authenticate (L1 ClobAuth signature or L2 HMAC
# over ``ts + METHOD + path + raw body``, the path without its query); call the core; render.
# Errors are ``{"error": "..."}`` with the venue's status (400 order rejects, 401 auth, 404,
# 425 matching-engine restart, 429, 503 trading disabled / cancel-only).
#
# The same app serves the websocket channels (``/ws/market``, ``/ws/user``), handing each
# connection to ``arb.sim.polymarket.ws`` through an ASGI adapter, so one port carries REST and
# websockets (the real venue splits them across hosts; the bot only sees URLs).
from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import attrs
import trio

from arb.domain import Side
from arb.money import SCALE, format_trimmed
from arb.sim.polymarket import render
from arb.sim.polymarket.auth import (
    CTF_EXCHANGE_V2,
    NEG_RISK_CTF_EXCHANGE_V2,
    ApiCredentials,
    SignatureError,
    checksum,
    hmac_matches,
    recover_clob_auth,
)
from arb.sim.polymarket.core import (
    AuthFailure,
    Exchange,
    OrderError,
    OrderResult,
    PostOrder,
    SignedOrder,
)
from arb.sim.polymarket.faults import TradingMode
from arb.sim.polymarket.jsonwire import JsonError, dumps, loads, number
from arb.sim.polymarket.model import COLLATERAL, OrderType
from arb.sim.polymarket.ws import serve_asgi_websocket

NEG_RISK_ADAPTER_V2 = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"
MAX_BATCH_ORDERS = 15
MAX_CANCEL_IDS = 1000
MAX_BOOKS_PER_REQUEST = 500
MAX_BODY_BYTES = 1_000_000
INITIAL_CURSOR = "MA=="
END_CURSOR = "LTE="
V1_ORDER_ERROR = "invalid order version, please use the latest clob-client"
UNAUTHORIZED = "Unauthorized/Invalid api key"
INVALID_L1 = "Invalid L1 Request headers"
TRADING_DISABLED = "Trading is currently disabled. Check polymarket.com for updates"
CANCEL_ONLY = "Trading is currently cancel-only. New orders are not accepted"
POST_ONLY = "Trading is currently post-only. Only post-only orders are accepted"
FAULT_TEXTS = {
    425: "Too Early: the matching engine is restarting, retry shortly",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_V1_ONLY_FIELDS = ("nonce", "feeRateBps", "taker")
_V2_FIELDS = ("salt", "maker", "signer", "tokenId", "makerAmount", "takerAmount", "side",
              "expiration", "signatureType", "timestamp", "metadata", "builder", "signature")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.frozen
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@attrs.frozen
class Response:
    status: int
    body: Any
    hang: bool = False
    """Fault: the work is done but the response is never sent."""


def _error(status: int, message: str) -> Response:
    return Response(status, {"error": message})


@attrs.define(eq=False)
class ClobApp:
    """ASGI app: CLOB REST plus the two websocket channels of one ``Exchange``."""

    exchange: Exchange
    clock_ms: Callable[[], int] = wall_clock_ms
    """Exchange time source; advanced before every request."""
    max_clock_skew_s: int | None = 300
    """Reject L1/L2 timestamps further than this from the clock (None: no check)."""
    page_size: int = 500
    """Items per page of ``/data/orders`` and ``/data/trades``."""

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
        elif scope["type"] == "websocket":
            self.exchange.advance(self.clock_ms())
            await serve_asgi_websocket(self.exchange, scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict]],
                    send: Callable[[dict], Awaitable[None]]) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _send_json(send, _error(413, "Payload exceeds the limit"))
                return
            if not message.get("more_body", False):
                break
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode(),
                                                   keep_blank_values=True).items()}
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        request = Request(scope["method"].upper(), raw_path.decode("latin-1"), query, headers,
                          body)
        response = self.handle(request)
        if response.hang:
            await trio.sleep_forever()
        await _send_json(send, response)

    def handle(self, request: Request) -> Response:
        """Answer one request synchronously (the whole REST surface, testable without I/O)."""
        self.exchange.advance(self.clock_ms())
        injected = self.exchange.faults.take_rest_failure(request.path)
        if injected is not None:
            return _error(injected, FAULT_TEXTS.get(injected, f"HTTP {injected}"))
        route = _ROUTES.get((request.method, request.path))
        args: tuple[str, ...] = ()
        if route is None:
            for (method, prefix), handler in _PREFIX_ROUTES.items():
                if request.method == method and request.path.startswith(prefix):
                    route, args = handler, (request.path[len(prefix):],)
                    break
        if route is None:
            return _error(404, f"no route for {request.method} {request.path}")
        try:
            return route(self, request, *args)
        except HttpError as exc:
            return _error(exc.status, exc.message)
        except OrderError as exc:
            return _error(exc.status, exc.message)
        except AuthFailure as exc:
            return _error(exc.status, exc.message)
        except JsonError as exc:
            return _error(400, str(exc))

    # --- auth ----------------------------------------------------------------------------

    def _check_skew(self, timestamp: str) -> None:
        if not timestamp.isdigit():
            raise HttpError(401, f"{UNAUTHORIZED}: POLY_TIMESTAMP {timestamp!r} is not seconds")
        if self.max_clock_skew_s is not None:
            skew = abs(int(timestamp) - self.exchange.now_ms // 1000)
            if skew > self.max_clock_skew_s:
                raise HttpError(401, f"{UNAUTHORIZED}: POLY_TIMESTAMP is {skew} s away from "
                                     f"server time (max {self.max_clock_skew_s} s)")

    def _l1(self, request: Request) -> tuple[str, int]:
        h = request.headers
        try:
            address, signature = h["poly_address"], h["poly_signature"]
            timestamp, nonce = h["poly_timestamp"], int(h.get("poly_nonce", "0"))
        except (KeyError, ValueError):
            raise HttpError(401, INVALID_L1) from None
        self._check_skew(timestamp)
        try:
            recovered = recover_clob_auth(address, timestamp, nonce, signature,
                                          self.exchange.config.chain_id)
            claimed = checksum(address)
        except SignatureError:
            raise HttpError(401, INVALID_L1) from None
        if recovered != claimed:
            raise HttpError(401, INVALID_L1)
        return claimed, nonce

    def _l2(self, request: Request) -> ApiCredentials:
        h = request.headers
        try:
            address, signature = h["poly_address"], h["poly_signature"]
            timestamp, api_key, passphrase = (h["poly_timestamp"], h["poly_api_key"],
                                              h["poly_passphrase"])
        except KeyError:
            raise HttpError(401, UNAUTHORIZED) from None
        creds = self.exchange.credentials(api_key)
        if creds is None or creds.passphrase != passphrase:
            raise HttpError(401, UNAUTHORIZED)
        try:
            if checksum(address) != creds.address:
                raise HttpError(401, UNAUTHORIZED)
        except SignatureError:
            raise HttpError(401, UNAUTHORIZED) from None
        self._check_skew(timestamp)
        if not hmac_matches(creds.secret, timestamp, request.method, request.path,
                            request.body, signature):
            raise HttpError(401, UNAUTHORIZED)
        return creds

    def _trading_mode(self) -> TradingMode:
        return self.exchange.faults.effective_trading_mode(self.exchange.now_ms)

    # --- public market data --------------------------------------------------------------

    def ok(self, request: Request) -> Response:
        return Response(200, "OK")

    def server_time(self, request: Request) -> Response:
        return Response(200, self.exchange.now_ms // 1000)

    def version(self, request: Request) -> Response:
        return Response(200, {"version": 2})

    def _token(self, token_id: str | None) -> str:
        if not token_id:
            raise HttpError(400, "Invalid payload: token_id is required")
        if self.exchange.market_for_token(token_id) is None:
            raise HttpError(404, "No orderbook exists for the requested token id")
        return token_id

    def book(self, request: Request) -> Response:
        return Response(200, render.book_summary(self.exchange,
                                                 self._token(request.query.get("token_id"))))

    def books(self, request: Request) -> Response:
        return Response(200, [render.book_summary(self.exchange, self._token(i.get("token_id")))
                              for i in self._book_params(request)])

    def price(self, request: Request) -> Response:
        token_id = self._token(request.query.get("token_id"))
        side = request.query.get("side", "")
        if side not in ("BUY", "SELL"):
            raise HttpError(400, f"Invalid side {side!r}: expected BUY or SELL")
        market = self.exchange.market_for_token(token_id)
        bid, ask = market.book.best(market.token_index(token_id))
        best = bid if side == "BUY" else ask
        if best is None:
            raise HttpError(404, f"No orderbook exists for the requested token id "
                                 f"({'bids' if side == 'BUY' else 'asks'} are empty)")
        return Response(200, {"price": format_trimmed(best)})

    def midpoint(self, request: Request) -> Response:
        token_id = self._token(request.query.get("token_id"))
        market = self.exchange.market_for_token(token_id)
        bid, ask = market.book.best(market.token_index(token_id))
        if bid is None or ask is None:
            raise HttpError(404, "No orderbook exists for the requested token id")
        return Response(200, {"mid": format_trimmed((bid + ask) // 2)})

    def spread(self, request: Request) -> Response:
        token_id = self._token(request.query.get("token_id"))
        market = self.exchange.market_for_token(token_id)
        bid, ask = market.book.best(market.token_index(token_id))
        if bid is None or ask is None:
            raise HttpError(404, "No orderbook exists for the requested token id")
        return Response(200, {"spread": format_trimmed(ask - bid)})

    def last_trade_price(self, request: Request) -> Response:
        token_id = self._token(request.query.get("token_id"))
        market = self.exchange.market_for_token(token_id)
        last = market.last_trade[market.token_index(token_id)]
        if last is None:
            return Response(200, {"price": "", "side": ""})
        return Response(200, {"price": format_trimmed(last[0]), "side": render.side_text(last[1])})

    def prices(self, request: Request) -> Response:
        out: dict[str, dict[str, str]] = {}
        for item in self._book_params(request):
            side = item.get("side")
            if side not in ("BUY", "SELL"):
                raise HttpError(400, f"Invalid side {side!r}: expected BUY or SELL")
            token_id = self._token(item.get("token_id"))
            market = self.exchange.market_for_token(token_id)
            bid, ask = market.book.best(market.token_index(token_id))
            best = bid if side == "BUY" else ask
            out.setdefault(token_id, {})[side] = render.optional_price(best)
        return Response(200, out)

    def midpoints(self, request: Request) -> Response:
        out: dict[str, str] = {}
        for item in self._book_params(request):
            token_id = self._token(item.get("token_id"))
            market = self.exchange.market_for_token(token_id)
            bid, ask = market.book.best(market.token_index(token_id))
            out[token_id] = "" if bid is None or ask is None else format_trimmed((bid + ask) // 2)
        return Response(200, out)

    def _book_params(self, request: Request) -> list[dict[str, Any]]:
        items = loads(request.body or b"[]", what=f"POST {request.path} body")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise HttpError(400, "Invalid payload: expected a list of {token_id, side?}")
        if len(items) > MAX_BOOKS_PER_REQUEST:
            raise HttpError(400, "Payload exceeds the limit")
        return items

    def tick_size(self, request: Request) -> Response:
        market = self.exchange.market_for_token(self._token(request.query.get("token_id")))
        return Response(200, {"minimum_tick_size": number(market.tick)})

    def neg_risk(self, request: Request) -> Response:
        market = self.exchange.market_for_token(self._token(request.query.get("token_id")))
        return Response(200, {"neg_risk": market.neg_risk})

    def fee_rate(self, request: Request) -> Response:
        market = self.exchange.market_for_token(self._token(request.query.get("token_id")))
        return Response(200, {"base_fee": market.fee_rate * 10_000 // SCALE})

    def clob_market(self, request: Request, condition_id: str) -> Response:
        market = self.exchange.markets.get(condition_id)
        if market is None:
            raise HttpError(404, f"market {condition_id} not found")
        return Response(200, render.clob_market_compact(market))

    def market(self, request: Request, condition_id: str) -> Response:
        market = self.exchange.markets.get(condition_id)
        if market is None:
            raise HttpError(404, f"market {condition_id} not found")
        return Response(200, render.clob_market(market))

    def market_by_token(self, request: Request, token_id: str) -> Response:
        market = self.exchange.market_for_token(self._token(token_id))
        return Response(200, {"condition_id": market.condition_id,
                              "primary_token_id": market.token_id(0),
                              "secondary_token_id": market.token_id(1)})

    # --- keys ----------------------------------------------------------------------------

    def create_api_key(self, request: Request) -> Response:
        address, nonce = self._l1(request)
        return Response(200, _creds_body(self.exchange.create_api_key(address, nonce)))

    def derive_api_key(self, request: Request) -> Response:
        address, nonce = self._l1(request)
        return Response(200, _creds_body(self.exchange.derive_api_key(address, nonce)))

    def api_keys(self, request: Request) -> Response:
        creds = self._l2(request)
        return Response(200, {"apiKeys": self.exchange.api_keys_of(creds.address)})

    def closed_only(self, request: Request) -> Response:
        self._l2(request)
        return Response(200, {"closed_only": False})

    # --- orders --------------------------------------------------------------------------

    def post_order(self, request: Request) -> Response:
        creds = self._l2(request)
        self._require_order_entry()
        order = _parse_post_order(loads(request.body, what="POST /order body"))
        self._require_post_only(order)
        result = self.exchange.post_order(order, api_key=creds.api_key)
        return Response(200, _order_result_body(result),
                        hang=self.exchange.faults.take("hang_next_order_responses"))

    def post_orders(self, request: Request) -> Response:
        creds = self._l2(request)
        self._require_order_entry()
        payload = loads(request.body, what="POST /orders body")
        if not isinstance(payload, list):
            raise HttpError(400, "Invalid order payload: expected a list of orders")
        if len(payload) > MAX_BATCH_ORDERS:
            raise HttpError(400, f"Too many orders in payload: {len(payload)}, max "
                                 f"{MAX_BATCH_ORDERS}")
        out = []
        for item in payload:
            try:
                order = _parse_post_order(item)
                self._require_post_only(order)
                result = self.exchange.post_order(order, api_key=creds.api_key)
                out.append(_order_result_body(result))
            except (OrderError, HttpError) as exc:
                out.append({"success": False, "errorMsg": exc.message, "orderID": "",
                            "status": "", "makingAmount": "", "takingAmount": "",
                            "tradeIDs": []})
        return Response(200, out, hang=self.exchange.faults.take("hang_next_order_responses"))

    def _require_order_entry(self) -> None:
        mode = self._trading_mode()
        if mode is TradingMode.DISABLED:
            raise HttpError(503, TRADING_DISABLED)
        if mode is TradingMode.CANCEL_ONLY:
            raise HttpError(503, CANCEL_ONLY)

    def _require_post_only(self, order: PostOrder) -> None:
        if self._trading_mode() is TradingMode.POST_ONLY and not order.post_only:
            raise HttpError(503, POST_ONLY)

    def _require_cancels(self) -> None:
        if self._trading_mode() is TradingMode.DISABLED:
            raise HttpError(503, TRADING_DISABLED)

    def cancel_order(self, request: Request) -> Response:
        creds = self._l2(request)
        self._require_cancels()
        payload = loads(request.body, what="DELETE /order body")
        if not isinstance(payload, dict) or not isinstance(payload.get("orderID"), str):
            raise HttpError(400, "Invalid payload: expected {\"orderID\": \"0x...\"}")
        return Response(200, _cancel_body(self.exchange.cancel_orders(creds.address,
                                                                      [payload["orderID"]])))

    def cancel_orders(self, request: Request) -> Response:
        creds = self._l2(request)
        self._require_cancels()
        payload = loads(request.body, what="DELETE /orders body")
        if not isinstance(payload, list) or not all(isinstance(i, str) for i in payload):
            raise HttpError(400, "Invalid payload: expected a list of order ids")
        if len(payload) > MAX_CANCEL_IDS:
            raise HttpError(400, f"Too many order ids: {len(payload)}, max {MAX_CANCEL_IDS}")
        return Response(200, _cancel_body(self.exchange.cancel_orders(creds.address, payload)))

    def cancel_all(self, request: Request) -> Response:
        creds = self._l2(request)
        self._require_cancels()
        return Response(200, _cancel_body(self.exchange.cancel_all(creds.address)))

    def cancel_market_orders(self, request: Request) -> Response:
        creds = self._l2(request)
        self._require_cancels()
        payload = loads(request.body or b"{}", what="DELETE /cancel-market-orders body")
        if not isinstance(payload, dict):
            raise HttpError(400, "Invalid payload: expected {market?, asset_id?}")
        market, asset = payload.get("market") or None, payload.get("asset_id") or None
        if market is None and asset is None:
            raise HttpError(400, "Invalid payload: market or asset_id is required")
        return Response(200, _cancel_body(self.exchange.cancel_all(
            creds.address, condition_id=market, asset_id=asset)))

    def heartbeat(self, request: Request) -> Response:
        creds = self._l2(request)
        payload = loads(request.body or b"{}", what="POST /v1/heartbeats body")
        hb_id = payload.get("heartbeat_id", "") if isinstance(payload, dict) else None
        if not isinstance(hb_id, str):
            raise HttpError(400, "Invalid payload: heartbeat_id must be a string")
        return Response(200, {"heartbeat_id": self.exchange.heartbeat(creds.api_key, hb_id)})

    # --- queries -------------------------------------------------------------------------

    def get_order(self, request: Request, order_id: str) -> Response:
        creds = self._l2(request)
        if not self.exchange.order_owned_by(order_id, creds.address):
            raise HttpError(404, f"order {order_id} not found")
        return Response(200, render.open_order(self.exchange.order(order_id)))

    def open_orders(self, request: Request) -> Response:
        creds = self._l2(request)
        q = request.query
        rows = [render.open_order(o) for o in self.exchange.orders_of(creds.address)
                if (not q.get("market") or o.condition_id == q["market"])
                and (not q.get("asset_id") or o.asset_id == q["asset_id"])
                and (not q.get("id") or o.id == q["id"])]
        return Response(200, self._page(rows, q.get("next_cursor")))

    def trades(self, request: Request) -> Response:
        creds = self._l2(request)
        q = request.query
        after = _int_param(q, "after")
        before = _int_param(q, "before")
        maker = q.get("maker_address")
        rows = [render.trade(t, creds.address)
                for t in reversed(self.exchange.trades_of(creds.address))
                if (not q.get("market") or t.condition_id == q["market"])
                and (not q.get("asset_id") or t.asset_id == q["asset_id"])
                and (not q.get("id") or t.id == q["id"])
                and (not maker or maker.lower() in {t.maker_address.lower(), *(
                    m.maker_address.lower() for m in t.maker_orders)})
                and (after is None or t.match_ms // 1000 > after)
                and (before is None or t.match_ms // 1000 < before)]
        return Response(200, self._page(rows, q.get("next_cursor")))

    def _page(self, rows: list[Any], cursor: str | None) -> dict[str, Any]:
        cursor = cursor or INITIAL_CURSOR
        if cursor == END_CURSOR:
            return {"limit": self.page_size, "count": 0, "next_cursor": END_CURSOR, "data": []}
        try:
            offset = int(base64.b64decode(cursor, validate=True).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise HttpError(400, f"invalid next_cursor {cursor!r}") from None
        if offset < 0:
            raise HttpError(400, f"invalid next_cursor {cursor!r}")
        page = rows[offset:offset + self.page_size]
        end = offset + len(page)
        next_cursor = END_CURSOR if end >= len(rows) else base64.b64encode(
            str(end).encode()).decode()
        return {"limit": self.page_size, "count": len(page), "next_cursor": next_cursor,
                "data": page}

    def balance_allowance(self, request: Request) -> Response:
        creds = self._l2(request)
        q = request.query
        account = self.exchange.account(creds.address)
        asset_type = q.get("asset_type", "")
        spenders = (CTF_EXCHANGE_V2, NEG_RISK_CTF_EXCHANGE_V2, NEG_RISK_ADAPTER_V2)
        if asset_type == "COLLATERAL":
            return Response(200, render.balance_allowance(
                self.exchange.available(creds.address, COLLATERAL),
                account.collateral_approved, spenders))
        if asset_type in ("CONDITIONAL", "CONDITIONAL-V2"):
            token_id = self._token(q.get("token_id"))
            return Response(200, render.balance_allowance(
                self.exchange.available(creds.address, token_id),
                account.conditional_approved, spenders))
        raise HttpError(400, f"Invalid asset_type {asset_type!r}: expected COLLATERAL or "
                             "CONDITIONAL")


def _int_param(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if not value:
        return None
    if not value.isdigit():
        raise HttpError(400, f"invalid {name} {value!r}: expected Unix seconds")
    return int(value)


def _creds_body(creds: ApiCredentials) -> dict[str, str]:
    return {"apiKey": creds.api_key, "secret": creds.secret, "passphrase": creds.passphrase}


def _order_result_body(result: OrderResult) -> dict[str, Any]:
    return {"success": True, "errorMsg": result.error_msg, "orderID": result.order_id,
            "status": result.status, "makingAmount": format_trimmed(result.making_amount),
            "takingAmount": format_trimmed(result.taking_amount),
            "tradeIDs": list(result.trade_ids)}


def _cancel_body(result: Any) -> dict[str, Any]:
    return {"canceled": list(result.canceled), "not_canceled": result.not_canceled}


def _uint(value: Any, field: str, *, as_string: bool) -> int:
    ok_type = isinstance(value, str) if as_string else (
        isinstance(value, int) and not isinstance(value, bool))
    if not ok_type or (as_string and not value.isdigit()):
        kind = "a decimal string" if as_string else "a JSON integer"
        raise HttpError(400, f"Invalid order payload: {field} must be {kind}, got {value!r}")
    number_ = int(value)
    if number_ >= 2**256:
        raise HttpError(400, f"Invalid order payload: {field} {value} exceeds uint256")
    return number_


def _bytes32(value: Any, field: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise HttpError(400, f"Invalid order payload: {field} must be 0x + 64 hex, got {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise HttpError(400, f"Invalid order payload: {field} {value!r} is not hex") from None


def _parse_post_order(payload: Any) -> PostOrder:
    """Check the JSON shape of one order wrapper (V1 shapes get the venue's version error)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("order"), dict):
        raise HttpError(400, "Invalid order payload: expected {order, owner, orderType}")
    order = payload["order"]
    if any(f in order for f in _V1_ONLY_FIELDS) or "timestamp" not in order:
        raise HttpError(400, V1_ORDER_ERROR)
    missing = [f for f in _V2_FIELDS if f not in order]
    if missing:
        raise HttpError(400, f"Invalid order payload: missing {', '.join(missing)}")
    side = order["side"]
    if side not in ("BUY", "SELL"):
        raise HttpError(400, f"Invalid order payload: side must be \"BUY\" or \"SELL\", "
                             f"got {side!r}")
    try:
        order_type = OrderType(payload.get("orderType", "GTC"))
    except ValueError:
        raise HttpError(400, f"Invalid order payload: orderType {payload.get('orderType')!r} "
                             "is not GTC, GTD, FOK or FAK") from None
    owner = payload.get("owner")
    if not isinstance(owner, str):
        raise HttpError(400, "Invalid order payload: owner must be the API key string")
    for flag in ("postOnly", "deferExec"):
        if not isinstance(payload.get(flag, False), bool):
            raise HttpError(400, f"Invalid order payload: {flag} must be a boolean")
    for field in ("maker", "signer", "signature"):
        if not isinstance(order[field], str):
            raise HttpError(400, f"Invalid order payload: {field} must be a string")
    if isinstance(order["salt"], Decimal):
        raise HttpError(400, "Invalid order payload: salt must be a JSON integer")
    signed = SignedOrder(
        salt=_uint(order["salt"], "salt", as_string=False),
        maker=order["maker"], signer=order["signer"],
        token_id=str(_uint(order["tokenId"], "tokenId", as_string=True)),
        maker_amount=_uint(order["makerAmount"], "makerAmount", as_string=True),
        taker_amount=_uint(order["takerAmount"], "takerAmount", as_string=True),
        side=Side.BUY if side == "BUY" else Side.SELL,
        signature_type=_uint(order["signatureType"], "signatureType", as_string=False),
        timestamp_ms=_uint(order["timestamp"], "timestamp", as_string=True),
        metadata=_bytes32(order["metadata"], "metadata"),
        builder=_bytes32(order["builder"], "builder"),
        expiration_s=_uint(order["expiration"], "expiration", as_string=True),
        signature=order["signature"])
    return PostOrder(signed, owner=owner, order_type=order_type,
                     post_only=payload.get("postOnly", False),
                     defer_exec=payload.get("deferExec", False))


async def _send_json(send: Callable[[dict], Awaitable[None]], response: Response) -> None:
    body = dumps(response.body).encode()
    await send({"type": "http.response.start", "status": response.status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def answer_lifespan(receive: Callable[[], Awaitable[dict]],
                    send: Callable[[dict], Awaitable[None]]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


_Handler = Callable[..., Response]
_ROUTES: dict[tuple[str, str], _Handler] = {
    ("GET", "/"): ClobApp.ok,
    ("GET", "/ok"): ClobApp.ok,
    ("GET", "/time"): ClobApp.server_time,
    ("GET", "/version"): ClobApp.version,
    ("GET", "/book"): ClobApp.book,
    ("POST", "/books"): ClobApp.books,
    ("GET", "/price"): ClobApp.price,
    ("GET", "/midpoint"): ClobApp.midpoint,
    ("POST", "/prices"): ClobApp.prices,
    ("POST", "/midpoints"): ClobApp.midpoints,
    ("GET", "/spread"): ClobApp.spread,
    ("GET", "/last-trade-price"): ClobApp.last_trade_price,
    ("GET", "/tick-size"): ClobApp.tick_size,
    ("GET", "/neg-risk"): ClobApp.neg_risk,
    ("GET", "/fee-rate"): ClobApp.fee_rate,
    ("POST", "/auth/api-key"): ClobApp.create_api_key,
    ("GET", "/auth/derive-api-key"): ClobApp.derive_api_key,
    ("GET", "/auth/api-keys"): ClobApp.api_keys,
    ("GET", "/auth/ban-status/closed-only"): ClobApp.closed_only,
    ("POST", "/order"): ClobApp.post_order,
    ("POST", "/orders"): ClobApp.post_orders,
    ("DELETE", "/order"): ClobApp.cancel_order,
    ("DELETE", "/orders"): ClobApp.cancel_orders,
    ("DELETE", "/cancel-all"): ClobApp.cancel_all,
    ("DELETE", "/cancel-market-orders"): ClobApp.cancel_market_orders,
    ("POST", "/v1/heartbeats"): ClobApp.heartbeat,
    ("GET", "/data/orders"): ClobApp.open_orders,
    ("GET", "/data/trades"): ClobApp.trades,
    ("GET", "/balance-allowance"): ClobApp.balance_allowance,
    ("GET", "/balance-allowance/update"): ClobApp.balance_allowance,
}
_PREFIX_ROUTES: dict[tuple[str, str], _Handler] = {
    ("GET", "/clob-markets/"): ClobApp.clob_market,
    ("GET", "/markets-by-token/"): ClobApp.market_by_token,
    ("GET", "/markets/"): ClobApp.market,
    ("GET", "/data/order/"): ClobApp.get_order,
}
