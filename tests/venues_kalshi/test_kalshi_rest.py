"""Kalshi REST client: signed requests, error classification, 429 backoff, 409 resolution."""
from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import trio

from arb.domain import Instrument, Outcome, Side, TimeInForce
from arb.money import parse_money, parse_price, parse_qty
from arb.venues.kalshi.adapter import KalshiAdapter
from arb.venues.kalshi.auth import HEADER_SIGNATURE, HEADER_TIMESTAMP, verify_signature
from arb.venues.kalshi.limiter import KalshiRateLimiter, Tier
from arb.venues.kalshi.rest import open_kalshi_rest
from arb.venues.protocol import (
    AuthError,
    OrderRequest,
    OrderStatus,
    OutcomeUnknown,
    Rejected,
    Transient,
)

P = parse_price
Q = parse_qty
T = "KXNBAGAME-25NOV28DALLAL-LAL"
ORDERS = "/trade-api/v2/portfolio/events/orders"


@asynccontextmanager
async def adapter_for(handler: Callable, signer, **limiter_kwargs):
    limiter = KalshiRateLimiter.for_tier(Tier.BASIC, **limiter_kwargs)
    async with open_kalshi_rest("https://kalshi.test", signer, limiter=limiter,
                                transport=httpx.MockTransport(handler),
                                request_timeout=5.0) as rest:
        yield KalshiAdapter(rest)


def _json(status: int, body, headers=None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def _order(cid="c-1", outcome=Outcome.YES, side=Side.BUY, price="0.56", qty="10",
           tif=TimeInForce.IOC) -> OrderRequest:
    return OrderRequest(cid, Instrument.kalshi(T, outcome), side, P(price), Q(qty), tif)


def _listed(cid: str, outcome_side: str, status="executed") -> dict:
    return {"order_id": "o-9", "user_id": "u", "client_order_id": cid, "ticker": T,
            "outcome_side": outcome_side, "book_side": "bid" if outcome_side == "yes" else "ask",
            "type": "limit", "status": status, "yes_price_dollars": "0.5600",
            "no_price_dollars": "0.4400", "fill_count_fp": "10.00", "remaining_count_fp": "0.00",
            "initial_count_fp": "10.00", "taker_fill_cost_dollars": "5.6000",
            "maker_fill_cost_dollars": "0.0000", "taker_fees_dollars": "0.1700",
            "maker_fees_dollars": "0.0000"}


async def test_requests_are_signed_over_path_without_query(kalshi_signer, kalshi_key):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(200, {"market_positions": [{"ticker": T, "position_fp": "-4.00"}],
                           "event_positions": [], "cursor": ""})

    async with adapter_for(handler, kalshi_signer) as adapter:
        positions = await adapter.positions()
    assert [(p.instrument.token, p.qty) for p in positions] == [("no", Q("4"))]
    request = seen[0]
    assert request.url.path == "/trade-api/v2/portfolio/positions"
    assert request.url.params["limit"] == "1000"
    ts = int(request.headers[HEADER_TIMESTAMP])
    assert verify_signature(kalshi_key.public_key(), request.headers[HEADER_SIGNATURE], ts, "GET",
                            "/trade-api/v2/portfolio/positions")


async def test_submit_sends_prepared_bytes_and_parses_201(kalshi_signer):
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        assert request.method == "POST" and request.url.path == ORDERS
        assert request.headers["content-type"] == "application/json"
        return _json(201, {"order_id": "o-1", "client_order_id": "c-1", "fill_count": "10.00",
                           "remaining_count": "0.00", "average_fill_price": "0.5500",
                           "average_fee_paid": "0.0173", "ts_ms": 1})

    async with adapter_for(handler, kalshi_signer) as adapter:
        prepared = adapter.prepare(_order())
        result = await adapter.submit(prepared)
        assert adapter.directory.lookup(order_id="o-1") is not None
    assert bodies == [prepared.payload]
    assert result.status is OrderStatus.FILLED and result.avg_price == P("0.55")
    assert result.fee == parse_money("0.173")


@pytest.mark.parametrize("status,body,exc,match", [
    (400, {"code": "MARKET_INACTIVE", "message": "market is closed"}, Rejected,
     "HTTP 400 MARKET_INACTIVE market is closed"),
    (400, {"error": {"code": "insufficient_balance", "message": "no money"}}, Rejected,
     "insufficient_balance"),
    (401, {"code": "unauthorized", "message": "bad signature"}, AuthError, "system clock"),
    (403, {"code": "forbidden", "message": "read-only key"}, AuthError, "read-only key"),
    (500, {"code": "internal", "message": "oops"}, OutcomeUnknown, "HTTP 500"),
    (503, None, OutcomeUnknown, "HTTP 503"),
    (404, None, OutcomeUnknown, "unexpected HTTP 404"),
])
async def test_error_classification(kalshi_signer, status, body, exc, match):
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, content=b"<html>Service Unavailable</html>")
        return _json(status, body)

    async with adapter_for(handler, kalshi_signer) as adapter:
        with pytest.raises(exc, match=match) as info:
            await adapter.submit(adapter.prepare(_order()))
    assert info.value.status == status
    if exc is Rejected:
        assert not isinstance(info.value, AuthError)


async def test_cloudfront_403_html_is_a_geoblock_auth_error(kalshi_signer):
    def handler(request):
        return httpx.Response(403, content=b"<HTML><BODY>Request blocked. Generated by "
                                           b"cloudfront (CloudFront)</BODY></HTML>")

    async with adapter_for(handler, kalshi_signer) as adapter:
        with pytest.raises(AuthError, match="CloudFront"):
            await adapter.balance()


@pytest.mark.parametrize("error,exc", [
    (httpx.ConnectError("refused"), Transient),
    (httpx.ConnectTimeout("slow connect"), Transient),
    (httpx.ReadTimeout("slow read"), OutcomeUnknown),
    (httpx.RemoteProtocolError("reset mid-response"), OutcomeUnknown),
    (httpx.ReadError("connection reset"), OutcomeUnknown),
    (httpx.WriteError("broken pipe"), OutcomeUnknown),
])
async def test_transport_errors(kalshi_signer, error, exc):
    def handler(request):
        raise error

    async with adapter_for(handler, kalshi_signer) as adapter:
        with pytest.raises(exc):
            await adapter.submit(adapter.prepare(_order()))


async def test_no_answer_within_deadline_is_unknown(kalshi_signer, autojump_clock):
    async def handler(request):
        await trio.sleep(60)
        return _json(201, {})

    async with adapter_for(handler, kalshi_signer) as adapter:
        start = trio.current_time()
        with pytest.raises(OutcomeUnknown, match="no answer within 5 s"):
            await adapter.submit(adapter.prepare(_order()))
        assert trio.current_time() - start == pytest.approx(5.0)


async def test_accepted_but_unreadable_answer_is_unknown(kalshi_signer):
    def handler(request):
        return httpx.Response(201, content=b"{not json")

    async with adapter_for(handler, kalshi_signer) as adapter:
        with pytest.raises(OutcomeUnknown, match="HTTP 201"):
            await adapter.submit(adapter.prepare(_order()))


async def test_429_backs_off_then_succeeds(kalshi_signer, autojump_clock):
    calls = []

    def handler(request):
        calls.append(trio.current_time())
        if len(calls) <= 2:
            return _json(429, {"error": "too many requests"})
        return _json(200, {"balance": 100, "balance_dollars": "1.0000", "portfolio_value": 0,
                           "updated_ts": 1})

    async with adapter_for(handler, kalshi_signer) as adapter:
        balance = await adapter.balance()
        stats = adapter.rest.limiter.statistics()
    assert balance.available == parse_money("1")
    assert stats.throttled == 2
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    # jittered exponential backoff: attempt 0 in [0.025, 0.05], attempt 1 in [0.05, 0.1], plus
    # the wait for the drained bucket to refill 10 tokens at 200/s (0.05 s).
    assert 0.025 <= gaps[0] <= 0.05 + 0.05 + 1e-9
    assert 0.05 <= gaps[1] <= 0.1 + 0.05 + 1e-9


async def test_429_forever_gives_transient_after_bounded_retries(kalshi_signer, autojump_clock):
    calls = []

    def handler(request):
        calls.append(request)
        return _json(429, {"error": "too many requests"})

    async with adapter_for(handler, kalshi_signer, max_retries=3) as adapter:
        with pytest.raises(Transient, match="rate limited") as info:
            await adapter.submit(adapter.prepare(_order()))
    assert info.value.status == 429
    assert len(calls) == 4


async def test_409_duplicate_resolves_to_the_existing_order(kalshi_signer):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return _json(409, {"code": "order_already_exists", "message": "duplicate"})
        assert request.url.path == "/trade-api/v2/portfolio/orders"
        assert request.url.params["ticker"] == T
        return _json(200, {"orders": [_listed("other", "yes"), _listed("c-1", "yes")],
                           "cursor": ""})

    async with adapter_for(handler, kalshi_signer) as adapter:
        result = await adapter.submit(adapter.prepare(_order()))
    assert result.venue_order_id == "o-9" and result.client_id == "c-1"
    assert result.status is OrderStatus.FILLED and result.filled_qty == Q("10")
    assert result.avg_price == P("0.56") and result.fee == parse_money("0.17")


async def test_409_but_order_not_listed_is_unknown_not_rejected(kalshi_signer):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return _json(409, {"code": "conflict", "message": "duplicate"})
        return _json(200, {"orders": [], "cursor": ""})

    async with adapter_for(handler, kalshi_signer) as adapter:
        with pytest.raises(OutcomeUnknown, match="409"):
            await adapter.submit(adapter.prepare(_order()))


async def test_409_for_an_order_with_other_terms_is_a_reject(kalshi_signer):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return _json(409, {"code": "conflict", "message": "duplicate"})
        return _json(200, {"orders": [_listed("c-1", "no")], "cursor": ""})

    async with adapter_for(handler, kalshi_signer) as adapter:
        with pytest.raises(Rejected, match="already belongs to order o-9"):
            await adapter.submit(adapter.prepare(_order()))


async def test_cancel_paths(kalshi_signer):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/gone"):
            return _json(404, {"code": "not_found", "message": "order not found"})
        return _json(200, {"order_id": "o-1", "client_order_id": "c-1", "reduced_by": "7.00",
                           "ts_ms": 1})

    async with adapter_for(handler, kalshi_signer) as adapter:
        await adapter.cancel("gone", Instrument.kalshi(T, Outcome.YES))
        result = await adapter.rest.cancel_order("o-1", ticker=T)
    assert result is not None and result.reduced_by == Q("7")
    assert seen[1].method == "DELETE"
    assert seen[1].url.path == f"{ORDERS}/o-1" and seen[1].url.params["market_ticker"] == T


async def test_cancel_all_lists_resting_and_batches(kalshi_signer):
    batches = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.params["status"] == "resting"
            orders = [dict(_listed(f"c-{i}", "yes", "resting"), order_id=f"o-{i}")
                      for i in range(25)]
            return _json(200, {"orders": orders, "cursor": ""})
        body = json.loads(request.content)
        batches.append(body["orders"])
        out = [{"order_id": o["order_id"], "reduced_by": "10.00", "ts_ms": 1}
               for o in body["orders"]]
        out[0] = {"order_id": body["orders"][0]["order_id"], "reduced_by": "0.00",
                  "error": {"code": "not_found", "message": "already gone"}}
        return _json(200, {"orders": out})

    async with adapter_for(handler, kalshi_signer) as adapter:
        cancelled = await adapter.cancel_all()
    assert [len(b) for b in batches] == [20, 5]
    assert batches[0][0] == {"order_id": "o-0", "market_ticker": T}
    assert cancelled == 23


async def test_get_order_by_id_and_by_client_id(kalshi_signer):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/missing"):
            return _json(404, {"code": "not_found", "message": "no such order"})
        if request.url.path.endswith("/o-9"):
            return _json(200, {"order": _listed("c-1", "yes", "resting")})
        return _json(200, {"orders": [_listed("c-1", "yes")], "cursor": ""})

    async with adapter_for(handler, kalshi_signer) as adapter:
        assert await adapter.get_order("missing") is None
        by_id = await adapter.get_order("o-9")
        by_client = await adapter.get_order(client_id="c-1")
        assert await adapter.get_order(client_id="c-404") is None
    assert by_id is not None and by_id.status is OrderStatus.RESTING
    assert by_client is not None and by_client.venue_order_id == "o-9"


async def test_positions_follow_cursor_pages(kalshi_signer):
    pages = {None: ({"ticker": "A", "position_fp": "1.00"}, "p2"),
             "p2": ({"ticker": "B", "position_fp": "-2.00"}, "")}

    def handler(request: httpx.Request) -> httpx.Response:
        item, cursor = pages[request.url.params.get("cursor")]
        return _json(200, {"market_positions": [item], "event_positions": [], "cursor": cursor})

    async with adapter_for(handler, kalshi_signer) as adapter:
        positions = await adapter.positions()
    assert [(p.instrument.market, p.instrument.token) for p in positions] == [("A", "yes"),
                                                                              ("B", "no")]


async def test_fills_page_sorted_oldest_first_with_cursor(kalshi_signer):
    def fill(i, ts):
        return {"fill_id": f"f{i}", "trade_id": f"f{i}", "order_id": "o", "ticker": T,
                "market_ticker": T, "outcome_side": "yes", "book_side": "bid", "count_fp": "1.00",
                "yes_price_dollars": "0.5000", "no_price_dollars": "0.5000", "is_taker": True,
                "fee_cost": "0.0200", "created_time": ts, "exchange_index": 0}

    def handler(request):
        return _json(200, {"fills": [fill(2, "2026-11-25T14:00:02Z"),
                                     fill(1, "2026-11-25T14:00:01Z")], "cursor": "next"})

    async with adapter_for(handler, kalshi_signer) as adapter:
        page = await adapter.fills()
    assert [f.trade_id for f in page.fills] == ["f1", "f2"] and page.cursor == "next"


async def test_status_reports_unreachable_but_raises_auth(kalshi_signer):
    def down(request):
        raise httpx.ConnectError("refused")

    async with adapter_for(down, kalshi_signer) as adapter:
        status = await adapter.status()
    assert not status.reachable and not status.trading_active and "could not connect" in \
        status.detail

    def up(request):
        return _json(200, {"exchange_active": True, "trading_active": True},
                     headers={"Date": "Wed, 25 Nov 2026 14:00:00 GMT"})

    async with adapter_for(up, kalshi_signer) as adapter:
        status = await adapter.status()
    assert status.reachable and status.trading_active and status.clock_skew_ms is not None

    def unauthorized(request):
        return _json(401, {"code": "unauthorized", "message": "timestamp expired"})

    async with adapter_for(unauthorized, kalshi_signer) as adapter:
        with pytest.raises(AuthError, match="timestamp expired"):
            await adapter.status()
