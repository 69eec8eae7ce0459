"""Authentication failures, the token-bucket rate limiter and REST fault hooks."""
from __future__ import annotations

import time

import httpx
import pytest
import trio_websocket
from cryptography.hazmat.primitives import serialization

from arb.money import parse_money
from arb.sim.kalshi.auth import create_api_account, load_public_key
from arb.sim.kalshi.faults import faults_of
from arb.sim.kalshi.ratelimit import RateLimiter
from arb.sim.kalshi.sample import HOU
from arb.sim.kalshi.ws import kalshi_app, open_memory_kalshi_ws

PREFIX = "/trade-api/v2"
BALANCE = PREFIX + "/portfolio/balance"
ORDERS = PREFIX + "/portfolio/events/orders"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def order_body(price: str = "0.10") -> dict:
    return {"ticker": HOU, "side": "bid", "count": "1", "price": price,
            "time_in_force": "good_till_canceled", "self_trade_prevention_type": "maker"}


@pytest.fixture
async def memory_api(wall_exchange):
    monotonic = FakeMonotonic()
    app = kalshi_app(wall_exchange, limiter=RateLimiter(clock=monotonic))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://kalshi-sim") as client:
        client.monotonic = monotonic
        yield client


async def test_auth_failures_are_401(kalshi_server, creds, signer):
    now = int(time.time() * 1000)
    cases = {
        "good": signer(creds, "GET", BALANCE),
        "wrong path signed": signer(creds, "GET", PREFIX + "/portfolio/orders"),
        "path without prefix": signer(creds, "GET", "/portfolio/balance"),
        "stale": signer(creds, "GET", BALANCE, ts_ms=now - 60_000),
        "future": signer(creds, "GET", BALANCE, ts_ms=now + 60_000),
        "seconds": signer(creds, "GET", BALANCE, ts_ms=now // 1000),
        "unknown key": {**signer(creds, "GET", BALANCE), "KALSHI-ACCESS-KEY": "no-such-key"},
        "garbage signature": {**signer(creds, "GET", BALANCE), "KALSHI-ACCESS-SIGNATURE": "!!"},
        "missing header": {k: v for k, v in signer(creds, "GET", BALANCE).items()
                           if k != "KALSHI-ACCESS-TIMESTAMP"},
    }
    async with httpx.AsyncClient(base_url=kalshi_server.rest) as client:
        statuses = {}
        details = {}
        for name, headers in cases.items():
            r = await client.get("/portfolio/balance", headers=headers)
            statuses[name] = r.status_code
            details[name] = r.json().get("details", "")
        # The query string is not signed.
        r = await client.get("/portfolio/orders", params={"limit": 5},
                             headers=signer(creds, "GET", PREFIX + "/portfolio/orders"))
        assert r.status_code == 200
    assert statuses == {name: 200 if name == "good" else 401 for name in cases}
    assert "seconds instead of milliseconds" in details["seconds"]
    assert "no-such-key" in details["unknown key"]


async def test_websocket_handshake_rejected_before_accept(kalshi_server, wall_exchange, creds,
                                                         signer):
    stale = signer(creds, "GET", "/trade-api/ws/v2", ts_ms=int(time.time() * 1000) - 120_000)
    with pytest.raises(trio_websocket.ConnectionRejected) as err:
        async with trio_websocket.open_websocket_url(kalshi_server.ws,
                                                     extra_headers=list(stale.items())):
            pass
    assert err.value.status_code == 401
    assert b"outside the 30 s window" in err.value.body
    # Signed for the REST prefix instead of the websocket path: rejected in memory too.
    with pytest.raises(trio_websocket.ConnectionRejected) as err:
        async with open_memory_kalshi_ws(wall_exchange, signer(creds, "GET", "/trade-api/v2")):
            pass
    assert err.value.status_code == 401


def test_registering_a_pem_public_key(wall_exchange):
    creds = create_api_account(wall_exchange, key_bits=1024)
    public_pem = creds.private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    uid = wall_exchange.register_account(cash=parse_money("1"), key_id="k2",
                                         public_key=load_public_key(public_pem))
    assert wall_exchange.account_for_key("k2").user_id == uid
    with pytest.raises(ValueError, match="already registered"):
        wall_exchange.register_account(cash=0, key_id="k2", public_key=load_public_key(public_pem))


async def test_write_bucket_429_and_refill(memory_api, creds, signer):
    api = memory_api
    statuses = []
    for i in range(11):
        r = await api.post(ORDERS, json=order_body(f"0.{10 + i}"),
                           headers=signer(creds, "POST", ORDERS))
        statuses.append(r.status_code)
    # Basic write bucket: 100 tokens, 10 per order.
    assert statuses == [201] * 10 + [429]
    assert r.json() == {"error": "too many requests"} and "retry-after" not in r.headers
    # Reads use their own bucket.
    assert (await api.get(BALANCE, headers=signer(creds, "GET", BALANCE))).status_code == 200
    # 100 tokens/s: 0.1 s later exactly one more order fits.
    api.monotonic.now += 0.1
    r = await api.post(ORDERS, json=order_body("0.30"), headers=signer(creds, "POST", ORDERS))
    assert r.status_code == 201
    r = await api.post(ORDERS, json=order_body("0.31"), headers=signer(creds, "POST", ORDERS))
    assert r.status_code == 429


async def test_batch_must_fit_the_bucket_whole(memory_api, creds, signer):
    path = ORDERS + "/batched"
    orders = [order_body(f"0.{10 + i}") for i in range(11)]
    r = await memory_api.post(path, json={"orders": orders}, headers=signer(creds, "POST", path))
    assert r.status_code == 429
    r = await memory_api.post(path, json={"orders": orders[:10]},
                              headers=signer(creds, "POST", path))
    assert r.status_code == 201 and len(r.json()["orders"]) == 10


async def test_read_bucket_429(memory_api):
    statuses = [(await memory_api.get(PREFIX + "/exchange/status")).status_code
                for _ in range(41)]
    assert statuses == [200] * 40 + [429]


async def test_injected_rest_failures(memory_api, wall_exchange):
    faults = faults_of(wall_exchange)
    faults.fail_next_rest(2, 503)
    faults.fail_next_rest(1, 429)
    faults.fail_next_rest(1, 403)
    replies = [await memory_api.get(PREFIX + "/exchange/status") for _ in range(5)]
    assert [r.status_code for r in replies] == [503, 503, 429, 403, 200]
    assert replies[3].headers["content-type"] == "text/html"
    assert "cloudfront" in replies[3].text.lower()


async def test_venue_down_refuses_rest_and_websockets(memory_api, wall_exchange, creds, signer):
    faults = faults_of(wall_exchange)
    faults.refuse_connections()
    assert (await memory_api.get(PREFIX + "/exchange/status")).status_code == 503
    with pytest.raises(trio_websocket.ConnectionRejected) as err:
        async with open_memory_kalshi_ws(wall_exchange, signer(creds, "GET", "/trade-api/ws/v2")):
            pass
    assert err.value.status_code == 503
    faults.refuse_connections(False)
    assert (await memory_api.get(PREFIX + "/exchange/status")).status_code == 200


async def test_hung_order_is_placed_but_never_answered(kalshi_server, wall_exchange, creds,
                                                       signer):
    faults_of(wall_exchange).hang_next_orders(1)
    async with httpx.AsyncClient(base_url=kalshi_server.rest) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/portfolio/events/orders", json=order_body("0.12"),
                              headers=signer(creds, "POST", ORDERS), timeout=0.3)
        r = await client.get("/portfolio/orders", headers=signer(creds, "GET",
                                                                  PREFIX + "/portfolio/orders"))
        (order,) = r.json()["orders"]
        assert order["status"] == "resting" and order["yes_price_dollars"] == "0.1200"
        r = await client.post("/portfolio/events/orders", json=order_body("0.13"),
                              headers=signer(creds, "POST", ORDERS), timeout=2)
        assert r.status_code == 201


async def test_trading_pause_visible_in_status(memory_api, wall_exchange, creds, signer):
    faults_of(wall_exchange).pause_trading()
    r = await memory_api.get(PREFIX + "/exchange/status")
    assert r.json()["trading_active"] is False
    r = await memory_api.post(ORDERS, json=order_body(), headers=signer(creds, "POST", ORDERS))
    assert r.status_code == 400 and r.json()["code"] == "trading_is_paused"
    faults_of(wall_exchange).pause_trading(False)
    r = await memory_api.post(ORDERS, json=order_body(), headers=signer(creds, "POST", ORDERS))
    assert r.status_code == 201
