"""REST client and adapter: exact bytes, HMAC, error classification, parsing, order outcomes."""
from __future__ import annotations

import json
from collections.abc import Callable

import attrs
import httpx
import pytest
import trio

from arb.domain import Instrument, Side, TimeInForce
from arb.fees import PolyFeeSchedule
from arb.money import parse_price, parse_qty
from arb.venues.polymarket.adapter import PolymarketAdapter, TokenSpec
from arb.venues.polymarket.auth import ApiCredentials, hmac_signature
from arb.venues.polymarket.errors import PauseKind, TradingPaused
from arb.venues.polymarket.rest import PolymarketRest, open_polymarket_rest
from arb.venues.polymarket.signing import PolymarketSigner
from arb.venues.protocol import (
    AuthError,
    FillStatus,
    OrderRequest,
    OrderStatus,
    OutcomeUnknown,
    Rejected,
    Transient,
)

P, Q = parse_price, parse_qty
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
CREDS = ApiCredentials("11111111-2222-4333-8444-555555555555",
                       "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=", "passphrase-hex")
COND = "0x" + "cd" * 32
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
Handler = Callable[[httpx.Request], httpx.Response]


@attrs.define(eq=False)
class FakeClob(httpx.AsyncBaseTransport):
    """An in-memory CLOB: routes (method, path) to handlers, verifies L2 HMAC on raw bytes."""

    routes: dict[tuple[str, str], Handler] = attrs.field(factory=dict)
    requests: list[httpx.Request] = attrs.field(factory=list)
    failure: Exception | None = None
    delay: float = 0.0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure
        if self.delay:
            await trio.sleep(self.delay)
        if "POLY_API_KEY" in request.headers:
            expected = hmac_signature(CREDS.secret_bytes(), request.headers["POLY_TIMESTAMP"],
                                      request.method, request.url.path, body)
            if request.headers["POLY_SIGNATURE"] != expected:
                return httpx.Response(401, json={"error": "Unauthorized/Invalid api key"})
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(404, json={"error": "not found"})
        return handler(request)


def answer(status: int, payload: object) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(payload, str):
            return httpx.Response(status, text=payload)
        return httpx.Response(status, content=json.dumps(payload).encode())
    return handler


def _signer() -> PolymarketSigner:
    return PolymarketSigner.from_private_key(KEY, chain_id=137)


def _adapter(rest: PolymarketRest) -> PolymarketAdapter:
    adapter = PolymarketAdapter(rest, _signer(), wall_clock=lambda: 1767225600.0)
    adapter.register_token(TokenSpec(COND, TOKEN, tick=P("0.01"), min_order_size=Q("5"),
                                     neg_risk=False,
                                     fee=PolyFeeSchedule(rate=50_000, exponent=1)))
    return adapter


def _request(tif: TimeInForce = TimeInForce.GTC, side: Side = Side.BUY, price: str = "0.56",
             qty: str = "21.04") -> OrderRequest:
    return OrderRequest("cid-1", Instrument.polymarket(COND, TOKEN), side, P(price), Q(qty), tif)


async def test_submit_sends_exactly_the_prepared_bytes_and_signs_them() -> None:
    clob = FakeClob()
    clob.routes[("POST", "/order")] = lambda r: httpx.Response(200, json={
        "success": True, "errorMsg": "", "orderID": json.loads(r.content)["order"]["signature"]
        and prepared.venue_order_id, "status": "live", "makingAmount": "",
        "takingAmount": "", "tradeIDs": []})
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        prepared = adapter.prepare(_request())
        result = await adapter.submit(prepared)
    sent = clob.requests[-1]
    assert sent.content == prepared.payload
    body = json.loads(prepared.payload)
    assert body["order"]["makerAmount"] == "11782400"
    assert body["order"]["takerAmount"] == "21040000"
    assert body["orderType"] == "GTC"
    assert body["owner"] == CREDS.api_key
    assert sent.headers["POLY_ADDRESS"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert result.status is OrderStatus.RESTING
    assert result.venue_order_id == prepared.venue_order_id
    assert result.client_id == "cid-1"
    assert adapter.client_id_of(prepared.venue_order_id) == "cid-1"


async def test_prepare_rounds_price_safely_and_refuses_unknown_tokens() -> None:
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=FakeClob()) as rest:
        adapter = _adapter(rest)
        buy = adapter.prepare(_request(price="0.567"))
        sell = adapter.prepare(_request(side=Side.SELL, price="0.561"))
        assert buy.price == P("0.56") and sell.price == P("0.57")
        ioc = adapter.prepare(_request(tif=TimeInForce.IOC, qty="10"))
        assert json.loads(ioc.payload)["orderType"] == "FAK"
        assert ioc.qty == Q("10")  # 5.60 / 0.56 exactly
        other = OrderRequest("c", Instrument.polymarket(COND, "42"), Side.BUY, P("0.5"),
                             Q("10"), TimeInForce.GTC)
        with pytest.raises(Rejected, match="token 42 is not registered"):
            adapter.prepare(other)
        adapter.update_tick(TOKEN, P("0.001"))
        assert adapter.prepare(_request(price="0.567")).price == P("0.567")


@pytest.mark.parametrize(("answer_body", "status", "filled", "avg"), [
    ({"success": True, "status": "matched", "makingAmount": "11.7824",
      "takingAmount": "21.04", "tradeIDs": ["t1"]}, OrderStatus.FILLED, "21.04", "0.56"),
    ({"success": True, "status": "matched", "makingAmount": "5.5",
      "takingAmount": "10", "tradeIDs": ["t1"]}, OrderStatus.CANCELLED, "10", "0.55"),
    ({"success": True, "status": "delayed", "errorMsg": "order match delayed due to market "
      "conditions", "makingAmount": "0", "takingAmount": "0"}, OrderStatus.DELAYED, "0", None),
    ({"success": True, "status": "unmatched", "makingAmount": "0", "takingAmount": "0"},
     OrderStatus.CANCELLED, "0", None),
])
async def test_fak_answers(answer_body: dict, status: OrderStatus, filled: str,
                           avg: str | None) -> None:
    clob = FakeClob()
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        prepared = adapter.prepare(_request(tif=TimeInForce.IOC))
        clob.routes[("POST", "/order")] = answer(200, {**answer_body,
                                                       "orderID": prepared.venue_order_id})
        result = await adapter.submit(prepared)
    assert result.status is status
    assert result.filled_qty == Q(filled)
    assert result.avg_price == (P(avg) if avg else None)
    if status is OrderStatus.FILLED:
        assert result.trade_ids == ("t1",)
        assert result.fee == 259_213  # 21.04 * 0.05 * 0.56 * 0.44 = 0.2592128, rounded up
    assert status is not OrderStatus.DELAYED or result.filled_qty == 0


async def test_fok_killed_is_a_cancelled_result_not_an_error() -> None:
    clob = FakeClob()
    clob.routes[("POST", "/order")] = answer(400, {
        "error": "FOK_ORDER_NOT_FILLED_ERROR: order couldn't be fully filled. FOK orders are "
                 "fully filled or killed."})
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        result = await adapter.submit(adapter.prepare(_request(tif=TimeInForce.FOK)))
    assert result.status is OrderStatus.CANCELLED and result.filled_qty == 0


@pytest.mark.parametrize(("status", "payload", "expected", "code"), [
    (400, {"error": "INVALID_ORDER_NOT_ENOUGH_BALANCE: not enough balance / allowance"},
     Rejected, "INVALID_ORDER_NOT_ENOUGH_BALANCE"),
    (400, {"error": "invalid signature"}, Rejected, None),
    (401, {"error": "Unauthorized/Invalid api key"}, AuthError, None),
    (403, "<html><body>Access denied: geoblocked</body></html>", AuthError, None),
    (425, {"error": "Too Early"}, TradingPaused, "matching_engine_restart"),
    (503, {"error": "Trading is currently cancel-only. New orders are not accepted"},
     TradingPaused, "cancel_only"),
    (503, {"error": "Trading is currently disabled. Check status.polymarket.com"},
     TradingPaused, "trading_disabled"),
    (503, "<html>Service Unavailable</html>", OutcomeUnknown, None),
    (500, {"error": "internal"}, OutcomeUnknown, None),
    (502, "Bad gateway", OutcomeUnknown, None),
    (429, {"error": "Too Many Requests"}, Transient, "RATE_LIMITED"),
])
async def test_post_error_classification(status: int, payload: object, expected: type,
                                         code: str | None) -> None:
    clob = FakeClob()
    clob.routes[("POST", "/order")] = answer(status, payload)
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        prepared = adapter.prepare(_request())
        with pytest.raises(expected) as info:
            await adapter.submit(prepared)
    err = info.value
    assert type(err) is expected
    assert err.status == status
    assert err.code == code
    assert f"HTTP {status}" in err.reason
    if status == 403:
        assert "geoblocked" in err.reason
    if expected is TradingPaused:
        assert adapter.paused() is PauseKind(code)


@pytest.mark.parametrize(("failure", "mutating_class", "read_class"), [
    (httpx.ConnectError("refused"), Transient, Transient),
    (httpx.ConnectTimeout("slow handshake"), Transient, Transient),
    (httpx.ReadTimeout("no answer"), OutcomeUnknown, Transient),
    (httpx.RemoteProtocolError("peer reset"), OutcomeUnknown, Transient),
    (httpx.ReadError("connection reset"), OutcomeUnknown, Transient),
])
async def test_transport_failure_classification(failure: Exception, mutating_class: type,
                                                read_class: type) -> None:
    clob = FakeClob(failure=failure)
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        with pytest.raises(mutating_class):
            await adapter.submit(adapter.prepare(_request()))
        with pytest.raises(mutating_class):
            await rest.cancel_order("0xabc")
        with pytest.raises(read_class):
            await rest.book(TOKEN)


async def test_submit_is_shielded_from_outer_cancellation(autojump_clock) -> None:
    clob = FakeClob(delay=2.0)
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        prepared = adapter.prepare(_request())
        clob.routes[("POST", "/order")] = answer(200, {
            "success": True, "status": "live", "orderID": prepared.venue_order_id})
        results = []
        with trio.move_on_after(0.5):
            results.append(await adapter.submit(prepared))
        assert trio.current_time() == pytest.approx(2.0)
        assert results and results[0].status is OrderStatus.RESTING


async def test_submit_deadline_gives_outcome_unknown(autojump_clock) -> None:
    clob = FakeClob(delay=100.0)
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        with pytest.raises(OutcomeUnknown, match="no answer within 15.0 s"):
            await adapter.submit(adapter.prepare(_request()))


async def test_book_sorted_and_clob_market_parsed() -> None:
    clob = FakeClob()
    clob.routes[("GET", "/book")] = answer(200, {
        "market": COND, "asset_id": TOKEN, "timestamp": "1767225600123", "hash": "abc",
        "bids": [{"price": "0.48", "size": "10"}, {"price": "0.5", "size": "3.5"}],
        "asks": [{"price": "0.58", "size": "1"}, {"price": "0.52", "size": "2"}],
        "min_order_size": "5", "tick_size": "0.01", "neg_risk": False,
        "last_trade_price": "0.5"})
    clob.routes[("GET", f"/clob-markets/{COND}")] = answer(200, {
        "c": COND, "t": [{"t": TOKEN, "o": "Lakers"}, {"t": "99", "o": "Celtics"}],
        "mts": 0.0025, "nr": True, "fd": {"r": 0.05, "e": 1, "to": True}, "mos": 5,
        "ao": True, "sd": 0, "itode": True, "cbos": True, "gst": "2026-11-25T00:00:00Z"})
    clob.routes[("GET", "/tick-size")] = answer(200, {"minimum_tick_size": 0.001})
    async with open_polymarket_rest("http://clob", transport=clob) as rest:
        book = await rest.book(TOKEN)
        info = await rest.clob_market(COND)
        tick = await rest.tick_size(TOKEN)
    assert book.bids == ((P("0.5"), Q("3.5")), (P("0.48"), Q("10")))
    assert book.asks == ((P("0.52"), Q("2")), (P("0.58"), Q("1")))
    assert book.timestamp_ms == 1767225600123
    assert info.tick == P("0.0025") and info.neg_risk and info.taker_delay
    assert info.fee == PolyFeeSchedule(rate=50_000, exponent=1)
    assert [t.outcome for t in info.tokens] == ["Lakers", "Celtics"]
    assert tick == P("0.001")


async def test_malformed_book_is_a_clear_transient_error() -> None:
    clob = FakeClob()
    clob.routes[("GET", "/book")] = answer(200, {
        "asset_id": TOKEN, "bids": [{"price": "0.5x", "size": "1"}], "asks": []})
    async with open_polymarket_rest("http://clob", transport=clob) as rest:
        with pytest.raises(Transient, match=f"book {TOKEN} bids price"):
            await rest.book(TOKEN)


async def test_open_orders_follow_cursors_and_queries_sign_path_only() -> None:
    clob = FakeClob()
    pages = {"MA==": ("MTAw", "0xa"), "MTAw": ("LTE=", "0xb")}

    def orders(request: httpx.Request) -> httpx.Response:
        nxt, oid = pages[request.url.params["next_cursor"]]
        return httpx.Response(200, json={"data": [{
            "id": oid, "status": "LIVE", "market": COND, "asset_id": TOKEN, "side": "BUY",
            "original_size": "10", "size_matched": "2.5", "price": "0.5",
            "associate_trades": [], "order_type": "GTC"}], "next_cursor": nxt})
    clob.routes[("GET", "/data/orders")] = orders
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        open_orders = await adapter.open_orders()
    assert [o.venue_order_id for o in open_orders] == ["0xa", "0xb"]
    assert open_orders[0].filled_qty == Q("2.5")
    assert len(clob.requests) == 2  # both pages passed the HMAC check over the bare path


async def test_get_order_status_mapping_and_unknown_order() -> None:
    clob = FakeClob()
    records = {
        "0x1": {"status": "ORDER_STATUS_MATCHED", "size_matched": "10", "order_type": "FAK"},
        "0x2": {"status": "MATCHED", "size_matched": "4", "order_type": "FAK"},
        "0x3": {"status": "LIVE", "size_matched": "4", "order_type": "GTC"},
        "0x4": {"status": "CANCELED", "size_matched": "0", "order_type": "GTC"},
        "0x5": {"status": "DELAYED", "size_matched": "0", "order_type": "FOK"},
    }

    def lookup(request: httpx.Request) -> httpx.Response:
        oid = request.url.path.rsplit("/", 1)[1]
        if oid not in records:
            return httpx.Response(404, json={"error": "order not found"})
        return httpx.Response(200, json={
            "id": oid, "market": COND, "asset_id": TOKEN, "side": "BUY", "original_size": "10",
            "price": "0.5", "associate_trades": ["t"], **records[oid]})
    for oid in [*records, "0x9"]:
        clob.routes[("GET", f"/data/order/{oid}")] = lookup
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        got = {oid: await adapter.get_order(oid) for oid in records}
        assert await adapter.get_order("0x9") is None
        with pytest.raises(ValueError, match="no order hash known"):
            await adapter.get_order(client_id="never-prepared")
    assert got["0x1"].status is OrderStatus.FILLED
    assert got["0x2"].status is OrderStatus.CANCELLED and got["0x2"].filled_qty == Q("4")
    assert got["0x3"].status is OrderStatus.RESTING
    assert got["0x4"].status is OrderStatus.CANCELLED
    assert got["0x5"].status is OrderStatus.DELAYED


def _trade(status: str, trader_side: str = "TAKER", **extra: object) -> dict:
    signer = _signer()
    return {"id": "trade-1", "taker_order_id": "0xtaker", "market": COND, "asset_id": TOKEN,
            "side": "BUY", "size": "10", "price": "0.55", "status": status,
            "match_time": "1767225600", "trader_side": trader_side, "owner": CREDS.api_key,
            "maker_address": signer.funder, "fee_rate_bps": "0", "transaction_hash": "",
            "maker_orders": [
                {"order_id": "0xmine", "owner": CREDS.api_key, "maker_address": signer.funder,
                 "matched_amount": "4", "price": "0.55", "asset_id": TOKEN, "side": "SELL"},
                {"order_id": "0xtheirs", "owner": "someone-else", "maker_address": "0x" + "1" * 40,
                 "matched_amount": "6", "price": "0.55", "asset_id": TOKEN, "side": "SELL"}],
            **extra}


async def test_fills_taker_maker_and_ghost_lifecycle() -> None:
    clob = FakeClob()
    statuses = iter(["MATCHED", "FAILED"])

    def trades(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        return httpx.Response(200, json={"data": [_trade(status), _trade(status, "MAKER")],
                                         "next_cursor": "LTE="})
    clob.routes[("GET", "/data/trades")] = trades
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        first = await adapter.fills()
        second = await adapter.fills()
    assert first.cursor is None
    taker, maker = sorted(first.fills, key=lambda f: f.is_taker, reverse=True)
    assert taker.trade_id == "trade-1" and taker.is_taker and taker.status is FillStatus.PROVISIONAL
    assert taker.qty == Q("10") and taker.side is Side.BUY and taker.ts_ms == 1767225600000
    assert taker.fee == 123_750  # 10 * 0.05 * 0.55 * 0.45
    assert maker.trade_id == "trade-1:0xmine" and not maker.is_taker
    assert maker.qty == Q("4") and maker.side is Side.SELL and maker.fee == 0
    assert {f.trade_id for f in second.fills} == {f.trade_id for f in first.fills}
    assert all(f.status is FillStatus.FAILED for f in second.fills)


async def test_create_or_derive_falls_back_to_derive() -> None:
    clob = FakeClob()
    clob.routes[("POST", "/auth/api-key")] = answer(400, {"error": "Could not create api key"})
    clob.routes[("GET", "/auth/derive-api-key")] = answer(200, {
        "apiKey": CREDS.api_key, "secret": CREDS.secret, "passphrase": CREDS.passphrase})
    async with open_polymarket_rest("http://clob", signer=_signer(), transport=clob,
                                    wall_clock=lambda: 1767225600.0) as rest:
        creds = await rest.create_or_derive_api_key(nonce=3)
    assert creds == CREDS and rest.creds == CREDS
    derive = clob.requests[-1]
    assert derive.headers["POLY_NONCE"] == "3"
    assert derive.headers["POLY_TIMESTAMP"] == "1767225600"
    assert derive.headers["POLY_SIGNATURE"] == _signer().sign_clob_auth(1767225600, 3)


async def test_status_reports_skew_and_pause() -> None:
    clob = FakeClob()
    clob.routes[("GET", "/time")] = answer(200, 1767225605)
    clob.routes[("POST", "/order")] = answer(425, {"error": "matching engine restarting"})
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob, wall_clock=lambda: 1767225600.0) as rest:
        adapter = _adapter(rest)
        status = await adapter.status()
        assert status.reachable and status.trading_active
        assert status.clock_skew_ms == 5000 and rest.clock_offset_s == 5
        with pytest.raises(TradingPaused):
            await adapter.submit(adapter.prepare(_request()))
        status = await adapter.status()
        assert not status.trading_active and status.detail == "matching_engine_restart"
        assert clob.requests[-2].headers["POLY_TIMESTAMP"] == "1767225605"


async def test_balance_and_positions() -> None:
    clob = FakeClob()

    def balance(request: httpx.Request) -> httpx.Response:
        kind = request.url.params["asset_type"]
        assert request.url.params["signature_type"] == "0"
        value = "125500000" if kind == "COLLATERAL" else "7000000"
        return httpx.Response(200, json={"balance": value, "allowances": {"0xE111": "1000"}})
    clob.routes[("GET", "/balance-allowance")] = balance
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        cash = await adapter.balance()
        positions = await adapter.positions()
    assert cash.available == 125_500_000
    assert [(p.instrument.token, p.qty) for p in positions] == [(TOKEN, Q("7"))]


async def test_fills_pages_follow_the_cursor_to_the_end_marker() -> None:
    clob = FakeClob()
    pages = {"MA==": ("NTA=", "MATCHED"), "NTA=": ("LTE=", "CONFIRMED")}
    seen: list[str] = []

    def trades(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params["next_cursor"]
        seen.append(cursor)
        nxt, status = pages[cursor]
        return httpx.Response(200, json={"data": [_trade(status)], "next_cursor": nxt})
    clob.routes[("GET", "/data/trades")] = trades
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        first = await adapter.fills()
        second = await adapter.fills(first.cursor)
    assert seen == ["MA==", "NTA="]
    assert first.cursor == "NTA=" and second.cursor is None
    assert [f.status for f in second.fills if f.is_taker] == [FillStatus.CONFIRMED]


@pytest.mark.parametrize("payload", ["", "<html>ok</html>", [], {"orderID": "0x1"}])
async def test_unreadable_order_answer_is_unknown_not_rejected(payload: object) -> None:
    clob = FakeClob()
    clob.routes[("POST", "/order")] = answer(200, payload)
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        with pytest.raises(OutcomeUnknown):
            await adapter.submit(adapter.prepare(_request()))


async def test_malformed_pages_are_transient() -> None:
    clob = FakeClob()
    clob.routes[("GET", "/data/trades")] = answer(200, {"next_cursor": "LTE="})
    clob.routes[("GET", "/data/orders")] = answer(200, [1, 2])
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        with pytest.raises(Transient, match="trades: expected"):
            await rest.trades()
        with pytest.raises(Transient, match="open orders: expected"):
            await rest.open_orders()


async def test_after_a_429_orders_are_refused_unsent_and_reads_wait(autojump_clock) -> None:
    """Reliability row 6: a 429 opens a back-off window; no retry storm: order posts in it are
    refused locally (nothing reaches the venue), reads wait for it; the window doubles on
    repeated 429s and clears after a success."""
    clob = FakeClob()
    statuses = [429, 429, 200]
    book = {"market": COND, "asset_id": TOKEN, "timestamp": "1", "hash": "h", "bids": [],
            "asks": [], "min_order_size": "5", "tick_size": "0.01", "neg_risk": False,
            "last_trade_price": "0.5"}

    def book_route(request: httpx.Request) -> httpx.Response:
        status = statuses.pop(0)
        if status == 429:
            return httpx.Response(429, json={"error": "Too Many Requests"})
        return httpx.Response(200, content=json.dumps(book).encode())

    clob.routes[("GET", "/book")] = book_route
    async with open_polymarket_rest("http://clob", signer=_signer(), creds=CREDS,
                                    transport=clob) as rest:
        adapter = _adapter(rest)
        with pytest.raises(Transient):
            await rest.book(TOKEN)
        assert rest.throttled_until == trio.current_time() + 0.25
        sent = len(clob.requests)
        with pytest.raises(Transient, match="not sent, rate limited"):
            await adapter.submit(adapter.prepare(_request(tif=TimeInForce.IOC, qty="10")))
        assert len(clob.requests) == sent            # the order never left
        start = trio.current_time()
        with pytest.raises(Transient):
            await rest.book(TOKEN)                   # waited, then a second 429
        assert trio.current_time() - start == 0.25
        assert rest.throttled_until == trio.current_time() + 0.5
        await rest.book(TOKEN)                       # waits 0.5 s, then succeeds
        assert trio.current_time() - start == 0.75
        assert rest.throttled_until <= trio.current_time()
        assert rest.throttled == 3
