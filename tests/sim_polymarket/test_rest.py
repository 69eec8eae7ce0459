"""The CLOB REST front end through httpx's ASGI transport: auth, shapes, errors, faults."""
from __future__ import annotations

import json

import httpx
import pytest
import trio
from py_clob_client_v2.clob_types import ApiCreds, RequestArgs
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.signer import Signer

from arb.domain import Side
from arb.money import parse_price, parse_qty
from arb.sim.polymarket.core import Exchange
from arb.sim.polymarket.faults import TradingMode
from arb.sim.polymarket.rest import ClobApp

from .conftest import ALICE_KEY, BOB_KEY, GRIZZLIES, LAKERS, NBA_CID, T0_MS, Trader

P = parse_price
Q = parse_qty
NOW_S = T0_MS // 1000


@pytest.fixture
def app(exchange: Exchange) -> ClobApp:
    return ClobApp(exchange, clock_ms=lambda: exchange.now_ms, page_size=2)


@pytest.fixture
async def http(app: ClobApp):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://clob.test") as client:
        yield client


def l2(trader: Trader, method: str, path: str, body: str | None = None, *,
       ts: int = NOW_S, key: str = ALICE_KEY) -> dict[str, str]:
    creds = ApiCreds(trader.creds.api_key, trader.creds.secret, trader.creds.passphrase)
    return create_level_2_headers(Signer(key, 137), creds,
                                  RequestArgs(method=method, request_path=path,
                                              serialized_body=body), timestamp=ts)


def order_body(trader: Trader, request) -> str:
    o = request.order
    return json.dumps({"order": {
        "salt": o.salt, "maker": o.maker, "signer": o.signer, "tokenId": o.token_id,
        "makerAmount": str(o.maker_amount), "takerAmount": str(o.taker_amount),
        "side": "BUY" if o.side is Side.BUY else "SELL", "expiration": str(o.expiration_s),
        "signatureType": o.signature_type, "timestamp": str(o.timestamp_ms),
        "metadata": "0x" + o.metadata.hex(), "builder": "0x" + o.builder.hex(),
        "signature": o.signature}, "owner": request.owner,
        "orderType": request.order_type.value, "deferExec": False,
        "postOnly": request.post_only}, separators=(",", ":"))


async def test_l1_create_then_derive(http: httpx.AsyncClient, exchange: Exchange) -> None:
    signer = Signer(BOB_KEY, 137)
    headers = create_level_1_headers(signer, nonce=3, timestamp=NOW_S)
    created = await http.post("/auth/api-key", headers=headers)
    assert created.status_code == 200
    assert set(created.json()) == {"apiKey", "secret", "passphrase"}
    again = await http.post("/auth/api-key", headers=headers)
    assert (again.status_code, again.json()) == (400, {"error": "Could not create api key"})
    derived = await http.get("/auth/derive-api-key", headers=headers)
    assert derived.json() == created.json()
    other_nonce = create_level_1_headers(signer, nonce=4, timestamp=NOW_S)
    assert (await http.get("/auth/derive-api-key", headers=other_nonce)).status_code == 400
    forged = {**headers, "POLY_ADDRESS": Signer(ALICE_KEY, 137).address()}
    bad = await http.post("/auth/api-key", headers=forged)
    assert (bad.status_code, bad.json()) == (401, {"error": "Invalid L1 Request headers"})
    stale = create_level_1_headers(signer, nonce=5, timestamp=NOW_S - 301)
    assert (await http.post("/auth/api-key", headers=stale)).status_code == 401


async def test_l2_hmac_over_raw_body_and_path_without_query(http: httpx.AsyncClient,
                                                            alice: Trader) -> None:
    ok = await http.get("/data/orders", params={"market": NBA_CID},
                        headers=l2(alice, "GET", "/data/orders"))
    assert ok.status_code == 200 and ok.json()["data"] == []
    signed_with_query = l2(alice, "GET", f"/data/orders?market={NBA_CID}")
    denied = await http.get("/data/orders", params={"market": NBA_CID}, headers=signed_with_query)
    assert (denied.status_code, denied.json()) == (401, {"error": "Unauthorized/Invalid api key"})
    body = json.dumps({"orderID": "0x" + "11" * 32})  # spaces after ':' as Python emits
    assert (await http.request("DELETE", "/order", content=body,
                               headers=l2(alice, "DELETE", "/order", body))).status_code == 200
    compact = body.replace(": ", ":")
    assert (await http.request("DELETE", "/order", content=compact,
                               headers=l2(alice, "DELETE", "/order", body))).status_code == 401
    wrong_pass = {**l2(alice, "GET", "/data/orders"), "POLY_PASSPHRASE": "00" * 32}
    assert (await http.get("/data/orders", headers=wrong_pass)).status_code == 401
    skewed = l2(alice, "GET", "/data/orders", ts=NOW_S - 400)
    response = await http.get("/data/orders", headers=skewed)
    assert response.status_code == 401 and "400 s away from server time" in response.json()["error"]


async def test_post_order_success_and_error_bodies(http: httpx.AsyncClient,
                                                   exchange: Exchange, alice: Trader) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    body = order_body(alice, alice.limit(LAKERS, Side.BUY, "0.50", "10", ))
    response = await http.post("/order", content=body, headers=l2(alice, "POST", "/order", body))
    data = response.json()
    assert response.status_code == 200
    assert {k: data[k] for k in ("success", "errorMsg", "status", "makingAmount",
                                 "takingAmount")} == {
        "success": True, "errorMsg": "", "status": "matched", "makingAmount": "5",
        "takingAmount": "10"}
    assert data["orderID"].startswith("0x") and len(data["tradeIDs"]) == 1
    off_tick = order_body(alice, alice.limit(LAKERS, Side.BUY, "0.555", "10"))
    response = await http.post("/order", content=off_tick,
                               headers=l2(alice, "POST", "/order", off_tick))
    assert response.status_code == 400
    assert response.json()["error"].startswith("INVALID_ORDER_MIN_TICK_SIZE")


async def test_order_shape_errors(http: httpx.AsyncClient, alice: Trader) -> None:
    v2 = json.loads(order_body(alice, alice.limit(LAKERS, Side.BUY, "0.50", "10")))
    v1 = {**v2, "order": {**{k: v for k, v in v2["order"].items()
                             if k not in ("timestamp", "metadata", "builder")},
                          "taker": "0x" + "00" * 20, "nonce": "0", "feeRateBps": "0"}}
    missing = {**v2, "order": {k: v for k, v in v2["order"].items() if k != "signature"}}
    bad_side = {**v2, "order": {**v2["order"], "side": 0}}
    cases = [(v1, "invalid order version, please use the latest clob-client"),
             (missing, "Invalid order payload: missing signature"),
             (bad_side, "Invalid order payload: side must be \"BUY\" or \"SELL\", got 0")]
    for payload, text in cases:
        body = json.dumps(payload)
        response = await http.post("/order", content=body,
                                   headers=l2(alice, "POST", "/order", body))
        assert (response.status_code, response.json()) == (400, {"error": text})
    not_json = "{"
    response = await http.post("/order", content=not_json,
                               headers=l2(alice, "POST", "/order", not_json))
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]


async def test_batch_orders_limit_and_mixed_results(http: httpx.AsyncClient,
                                                    alice: Trader) -> None:
    good = json.loads(order_body(alice, alice.limit(LAKERS, Side.BUY, "0.40", "10")))
    bad = json.loads(order_body(alice, alice.limit(LAKERS, Side.BUY, "0.405", "10")))
    body = json.dumps([good, bad])
    response = await http.post("/orders", content=body,
                               headers=l2(alice, "POST", "/orders", body))
    first, second = response.json()
    assert first["success"] is True and first["status"] == "live"
    assert second["success"] is False and "INVALID_ORDER_MIN_TICK_SIZE" in second["errorMsg"]
    too_many = json.dumps([good] * 16)
    response = await http.post("/orders", content=too_many,
                               headers=l2(alice, "POST", "/orders", too_many))
    assert response.status_code == 400 and "max 15" in response.json()["error"]


async def test_cursor_pagination(http: httpx.AsyncClient, alice: Trader) -> None:
    for price in ("0.30", "0.31", "0.32", "0.33", "0.34"):
        alice.post(alice.limit(LAKERS, Side.BUY, price, "5"))
    cursors, seen, cursor = [], [], "MA=="
    while cursor != "LTE=":
        cursors.append(cursor)
        page = (await http.get("/data/orders", params={"next_cursor": cursor},
                               headers=l2(alice, "GET", "/data/orders"))).json()
        seen += [o["price"] for o in page["data"]]
        cursor = page["next_cursor"]
    assert cursors == ["MA==", "Mg==", "NA=="]
    assert sorted(seen) == ["0.3", "0.31", "0.32", "0.33", "0.34"]
    bad = await http.get("/data/orders", params={"next_cursor": "%%%"},
                         headers=l2(alice, "GET", "/data/orders"))
    assert bad.status_code == 400


async def test_cancels_and_trades_queries(http: httpx.AsyncClient, exchange: Exchange,
                                          alice: Trader, bob: Trader) -> None:
    first = alice.post(alice.limit(LAKERS, Side.BUY, "0.40", "10")).order_id
    second = alice.post(alice.limit(GRIZZLIES, Side.BUY, "0.40", "10")).order_id
    body = json.dumps([first, "0xunknown"])
    response = await http.request("DELETE", "/orders", content=body,
                                  headers=l2(alice, "DELETE", "/orders", body))
    assert response.json() == {"canceled": [first], "not_canceled": {"0xunknown": "order not found"}}
    body = json.dumps({"asset_id": GRIZZLIES})
    response = await http.request("DELETE", "/cancel-market-orders", content=body,
                                  headers=l2(alice, "DELETE", "/cancel-market-orders", body))
    assert response.json()["canceled"] == [second]
    single = json.dumps({"orderID": first})
    response = await http.request("DELETE", "/order", content=single,
                                  headers=l2(alice, "DELETE", "/order", single))
    assert response.json()["not_canceled"] == {first: "already canceled or matched"}
    order = (await http.get(f"/data/order/{first}",
                            headers=l2(alice, "GET", f"/data/order/{first}"))).json()
    assert order["status"] == "CANCELED" and order["order_type"] == "GTC"
    foreign = await http.get(f"/data/order/{first}",
                             headers=l2(bob, "GET", f"/data/order/{first}", key=BOB_KEY))
    assert foreign.status_code == 404
    # Alice's resting bid is hit by Bob: each sees the trade from their own side.
    alice.post(alice.limit(LAKERS, Side.BUY, "0.45", "10"))
    exchange.fund(bob.address, tokens={LAKERS: Q("10")})
    bob.post(bob.limit(LAKERS, Side.SELL, "0.45", "10"))
    mine = (await http.get("/data/trades", headers=l2(alice, "GET", "/data/trades"))).json()
    theirs = (await http.get("/data/trades",
                             headers=l2(bob, "GET", "/data/trades", key=BOB_KEY))).json()
    assert [t["trader_side"] for t in mine["data"]] == ["MAKER"]
    assert [t["trader_side"] for t in theirs["data"]] == ["TAKER"]
    trade = theirs["data"][0]
    assert (trade["side"], trade["size"], trade["price"], trade["status"]) == (
        "SELL", "10", "0.45", "MATCHED")
    assert trade["maker_orders"][0]["maker_address"] == alice.address


async def test_injected_rest_faults(http: httpx.AsyncClient, exchange: Exchange,
                                    alice: Trader) -> None:
    exchange.faults.fail_next_rest_calls(425, 2, "/order")
    body = order_body(alice, alice.limit(LAKERS, Side.BUY, "0.40", "10"))
    statuses = []
    for _ in range(3):
        response = await http.post("/order", content=body,
                                   headers=l2(alice, "POST", "/order", body))
        statuses.append(response.status_code)
    assert statuses == [425, 425, 200]
    exchange.faults.fail_next_rest_calls(429, 1)
    response = await http.get("/book", params={"token_id": LAKERS})
    assert (response.status_code, response.json()) == (429, {"error": "Too Many Requests"})
    assert (await http.get("/book", params={"token_id": LAKERS})).status_code == 200


async def test_cancel_only_and_disabled_windows(http: httpx.AsyncClient, exchange: Exchange,
                                                alice: Trader) -> None:
    resting = alice.post(alice.limit(LAKERS, Side.BUY, "0.40", "10")).order_id
    exchange.faults.set_trading_mode(TradingMode.CANCEL_ONLY, until_ms=T0_MS + 5_000)
    body = order_body(alice, alice.limit(LAKERS, Side.BUY, "0.41", "10"))
    response = await http.post("/order", content=body, headers=l2(alice, "POST", "/order", body))
    assert response.status_code == 503 and "cancel-only" in response.json()["error"]
    cancel = json.dumps({"orderID": resting})
    response = await http.request("DELETE", "/order", content=cancel,
                                  headers=l2(alice, "DELETE", "/order", cancel))
    assert response.json()["canceled"] == [resting]
    exchange.faults.set_trading_mode(TradingMode.DISABLED)
    response = await http.request("DELETE", "/cancel-all", headers=l2(alice, "DELETE",
                                                                      "/cancel-all"))
    assert response.status_code == 503 and "disabled" in response.json()["error"]
    exchange.faults.set_trading_mode(TradingMode.CANCEL_ONLY, until_ms=T0_MS + 5_000)
    exchange.advance(T0_MS + 5_000)
    response = await http.post("/order", content=body, headers=l2(alice, "POST", "/order", body,
                                                                  ts=NOW_S + 5))
    assert response.status_code == 200


async def test_accepted_order_whose_response_hangs(http: httpx.AsyncClient, exchange: Exchange,
                                                   alice: Trader, autojump_clock) -> None:
    exchange.faults.hang_next_order_responses = 1
    body = order_body(alice, alice.limit(LAKERS, Side.BUY, "0.40", "10"))
    with trio.move_on_after(30) as scope:
        await http.post("/order", content=body, headers=l2(alice, "POST", "/order", body))
    assert scope.cancelled_caught
    assert [o.price for o in exchange.orders_of(alice.address)] == [P("0.40")]


async def test_public_market_data(http: httpx.AsyncClient, exchange: Exchange) -> None:
    exchange.place_house_order(LAKERS, Side.BUY, P("0.40"), Q("10"))
    exchange.place_house_order(LAKERS, Side.BUY, P("0.41"), Q("5"))
    exchange.place_house_order(LAKERS, Side.SELL, P("0.45"), Q("7"))
    exchange.place_house_order(LAKERS, Side.SELL, P("0.47"), Q("8"))
    book = (await http.get("/book", params={"token_id": LAKERS})).json()
    assert book["bids"] == [{"price": "0.4", "size": "10"}, {"price": "0.41", "size": "5"}]
    assert book["asks"] == [{"price": "0.47", "size": "8"}, {"price": "0.45", "size": "7"}]
    assert (book["tick_size"], book["min_order_size"], book["neg_risk"]) == ("0.01", "5", False)
    other = (await http.post("/books", json=[{"token_id": GRIZZLIES}])).json()[0]
    assert other["bids"][-1] == {"price": "0.55", "size": "7"}
    assert other["asks"][-1] == {"price": "0.59", "size": "5"}
    assert (await http.get("/price", params={"token_id": LAKERS, "side": "BUY"})).json() == {
        "price": "0.41"}
    assert (await http.get("/midpoint", params={"token_id": LAKERS})).json() == {"mid": "0.43"}
    assert (await http.get("/tick-size", params={"token_id": LAKERS})).text == (
        '{"minimum_tick_size":0.01}')
    assert (await http.get("/neg-risk", params={"token_id": LAKERS})).json() == {
        "neg_risk": False}
    assert (await http.get("/fee-rate", params={"token_id": LAKERS})).json() == {
        "base_fee": 500}
    compact = (await http.get(f"/clob-markets/{NBA_CID}")).text
    assert '"mts":0.01' in compact and '"fd":{"r":0.05,"e":1,"to":true}' in compact
    assert (await http.get(f"/markets-by-token/{GRIZZLIES}")).json()["condition_id"] == NBA_CID
    market = (await http.get(f"/markets/{NBA_CID}")).json()
    assert [t["outcome"] for t in market["tokens"]] == ["Lakers", "Grizzlies"]
    assert (await http.get("/time")).json() == NOW_S
    assert (await http.get("/version")).json() == {"version": 2}
    missing = await http.get("/book", params={"token_id": "123"})
    assert missing.status_code == 404 and "error" in missing.json()
    assert (await http.get("/nope")).status_code == 404


async def test_balance_allowance_and_heartbeat(http: httpx.AsyncClient, exchange: Exchange,
                                               alice: Trader) -> None:
    alice.post(alice.limit(LAKERS, Side.BUY, "0.40", "10"))
    path = "/balance-allowance"
    response = (await http.get(path, params={"asset_type": "COLLATERAL", "signature_type": 0},
                               headers=l2(alice, "GET", path))).json()
    assert response["balance"] == str(1_000_000_000 - 4_000_000)
    assert set(response["allowances"].values()) == {str(2**256 - 1)}
    bad = await http.get(path, params={"asset_type": "NFT"}, headers=l2(alice, "GET", path))
    assert bad.status_code == 400
    body = json.dumps({"heartbeat_id": ""}, separators=(",", ":"))
    hb = (await http.post("/v1/heartbeats", content=body,
                          headers=l2(alice, "POST", "/v1/heartbeats", body))).json()
    assert hb["heartbeat_id"]
    exchange.advance(T0_MS + 10_001)
    assert exchange.orders_of(alice.address) == []


async def test_post_only_window_after_a_restart(http: httpx.AsyncClient, exchange: Exchange,
                                                alice: Trader) -> None:
    exchange.faults.fail_next_rest_calls(425, 1, "/order")
    exchange.faults.set_trading_mode(TradingMode.POST_ONLY, until_ms=T0_MS + 1_000)
    taker = order_body(alice, alice.limit(LAKERS, Side.BUY, "0.40", "10"))
    maker = order_body(alice, alice.limit(LAKERS, Side.BUY, "0.41", "10", post_only=True))
    first = await http.post("/order", content=taker, headers=l2(alice, "POST", "/order", taker))
    assert first.status_code == 425
    second = await http.post("/order", content=taker, headers=l2(alice, "POST", "/order", taker))
    assert second.status_code == 503 and "post-only" in second.json()["error"]
    third = await http.post("/order", content=maker, headers=l2(alice, "POST", "/order", maker))
    assert third.json()["status"] == "live"


async def test_batch_prices_spread_and_last_trade(http: httpx.AsyncClient, exchange: Exchange,
                                                  alice: Trader) -> None:
    exchange.place_house_order(LAKERS, Side.BUY, P("0.40"), Q("10"))
    exchange.place_house_order(LAKERS, Side.SELL, P("0.44"), Q("10"))
    prices = (await http.post("/prices", json=[{"token_id": LAKERS, "side": "BUY"},
                                               {"token_id": GRIZZLIES, "side": "SELL"}])).json()
    assert prices == {LAKERS: {"BUY": "0.4"}, GRIZZLIES: {"SELL": "0.6"}}
    assert (await http.post("/midpoints", json=[{"token_id": GRIZZLIES}])).json() == {
        GRIZZLIES: "0.58"}
    assert (await http.get("/spread", params={"token_id": LAKERS})).json() == {"spread": "0.04"}
    assert (await http.get("/last-trade-price", params={"token_id": LAKERS})).json() == {
        "price": "", "side": ""}
    alice.post(alice.limit(GRIZZLIES, Side.BUY, "0.60", "5"))  # mints against the 0.40 bid
    assert (await http.get("/last-trade-price", params={"token_id": LAKERS})).json() == {
        "price": "0.4", "side": "SELL"}
