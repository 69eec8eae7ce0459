"""The simulated Kalshi REST API over a real loopback server, checked against the OpenAPI spec."""
from __future__ import annotations

import json

import httpx
import pytest

from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.core import NewOrder
from arb.sim.kalshi.sample import GAME_EVENT, HOU, SAC, TOTAL

PREFIX = "/trade-api/v2"


@pytest.fixture
async def api(kalshi_server):
    async with httpx.AsyncClient(base_url=kalshi_server.rest, timeout=5) as client:
        yield client


@pytest.fixture
def seeded(wall_exchange):
    """A resting book on SAC: YES bids 0.41 x5, 0.42 x10; NO bids 0.55 x20, 0.56 x17."""
    mm = wall_exchange.register_account(cash=parse_money("100000"))
    for side, price, count in (("bid", "0.41", "5"), ("bid", "0.42", "10"),
                               ("ask", "0.45", "20"), ("ask", "0.44", "17")):
        wall_exchange.place_order(mm, NewOrder(SAC, side, parse_price(price), parse_qty(count)))
    return mm


def auth_get(api, creds, signer, path, **params):
    return api.get(path, params=params, headers=signer(creds, "GET", PREFIX + path))


async def test_public_market_data_without_auth(api, seeded, openapi_validate):
    r = await api.get("/exchange/status")
    assert r.status_code == 200 and r.json()["trading_active"] is True
    openapi_validate("ExchangeStatus", r.json())

    r = await api.get("/series/KXNBAGAME")
    openapi_validate("GetSeriesResponse", r.json())
    assert r.json()["series"]["fee_type"] == "quadratic_with_maker_fees"
    assert '"fee_multiplier":1' in r.text
    r = await api.get("/series", params={"tags": "Basketball"})
    openapi_validate("GetSeriesListResponse", r.json())
    assert len(r.json()["series"]) == 2

    r = await api.get("/events", params={"series_ticker": "KXNBAGAME", "status": "open",
                                         "with_nested_markets": "true"})
    openapi_validate("GetEventsResponse", r.json())
    (event,) = r.json()["events"]
    assert event["title"] == "Houston at Sacramento"
    assert [m["ticker"] for m in event["markets"]] == [SAC, HOU]

    r = await api.get(f"/events/{GAME_EVENT}")
    openapi_validate("GetEventResponse", r.json())
    assert len(r.json()["markets"]) == 2

    r = await api.get(f"/markets/{SAC}")
    openapi_validate("GetMarketResponse", r.json())
    market = r.json()["market"]
    assert (market["yes_bid_dollars"], market["yes_ask_dollars"]) == ("0.4200", "0.4400")
    assert market["yes_ask_size_fp"] == "17.00"
    assert market["price_ranges"] == [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
    assert "yes_bid" not in market and "volume" not in market


async def test_markets_filters_and_cursor(api, openapi_validate):
    seen, cursor = [], ""
    while True:
        r = await api.get("/markets", params={"limit": 2, "cursor": cursor})
        openapi_validate("GetMarketsResponse", r.json())
        seen += [m["ticker"] for m in r.json()["markets"]]
        cursor = r.json()["cursor"]
        if not cursor:
            break
    assert seen == [SAC, HOU, TOTAL]
    r = await api.get("/markets", params={"tickers": f"{TOTAL},{HOU}"})
    assert [m["ticker"] for m in r.json()["markets"]] == [HOU, TOTAL]
    r = await api.get("/markets", params={"event_ticker": GAME_EVENT, "status": "open"})
    assert len(r.json()["markets"]) == 2
    r = await api.get("/markets", params={"status": "settled"})
    assert r.json() == {"markets": [], "cursor": ""}
    r = await api.get("/markets", params={"limit": 5000})
    assert r.status_code == 400 and "limit" in r.json()["details"]


async def test_orderbook_bids_only_ascending_best_last(api, seeded, openapi_validate):
    r = await api.get(f"/markets/{SAC}/orderbook")
    openapi_validate("GetMarketOrderbookResponse", r.json())
    assert r.json() == {"orderbook_fp": {
        "yes_dollars": [["0.4100", "5.00"], ["0.4200", "10.00"]],
        "no_dollars": [["0.5500", "20.00"], ["0.5600", "17.00"]]}}
    r = await api.get(f"/markets/{SAC}/orderbook", params={"depth": 1})
    assert r.json()["orderbook_fp"]["yes_dollars"] == [["0.4200", "10.00"]]
    r = await api.get("/markets/orderbooks", params={"tickers": [SAC, HOU]})
    openapi_validate("GetMarketOrderbooksResponse", r.json())
    assert [b["ticker"] for b in r.json()["orderbooks"]] == [SAC, HOU]
    assert r.json()["orderbooks"][0]["orderbook_fp"]["no_dollars"][-1] == ["0.5600", "17.00"]
    r = await api.get(f"/markets/{HOU}/orderbook")
    assert r.json() == {"orderbook_fp": {"yes_dollars": [], "no_dollars": []}}
    r = await api.get("/markets/NOPE/orderbook")
    assert r.status_code == 404
    openapi_validate("ErrorResponse", r.json())


async def test_portfolio_requires_auth(api):
    r = await api.get("/portfolio/balance")
    assert r.status_code == 401
    assert set(r.json()) == {"code", "message", "details"}


async def test_order_lifecycle(api, creds, signer, seeded, openapi_validate):
    r = await auth_get(api, creds, signer, "/portfolio/balance")
    openapi_validate("GetBalanceResponse", r.json())
    assert (r.json()["balance"], r.json()["balance_dollars"]) == (50000, "500.0000")

    # Buy NO at 0.60: side=ask at 0.40 meets the YES bids at 0.42 then 0.41.
    body = {"ticker": SAC, "side": "ask", "count": "12", "price": "0.40",
            "time_in_force": "immediate_or_cancel", "self_trade_prevention_type":
            "taker_at_cross", "client_order_id": "leg-1"}
    path = "/portfolio/events/orders"
    r = await api.post(path, json=body, headers=signer(creds, "POST", PREFIX + path))
    assert r.status_code == 201, r.text
    openapi_validate("CreateOrderV2Response", r.json())
    created = r.json()
    assert (created["fill_count"], created["remaining_count"]) == ("12.00", "0.00")
    # 10 at 0.42 + 2 at 0.41 (YES prices) -> average 0.418333 YES.
    assert created["average_fill_price"] == "0.418333"
    assert created["client_order_id"] == "leg-1"

    r = await auth_get(api, creds, signer, f"/portfolio/orders/{created['order_id']}")
    openapi_validate("GetOrderResponse", r.json())
    order = r.json()["order"]
    assert (order["status"], order["outcome_side"], order["book_side"]) == (
        "executed", "no", "ask")

    r = await auth_get(api, creds, signer, "/portfolio/fills", limit=1)
    openapi_validate("GetFillsResponse", r.json())
    assert len(r.json()["fills"]) == 1 and r.json()["cursor"]
    r2 = await auth_get(api, creds, signer, "/portfolio/fills", cursor=r.json()["cursor"])
    fills = r.json()["fills"] + r2.json()["fills"]
    assert sorted(f["yes_price_dollars"] for f in fills) == ["0.4100", "0.4200"]
    assert all(f["is_taker"] and f["outcome_side"] == "no" for f in fills)

    r = await auth_get(api, creds, signer, "/portfolio/positions")
    openapi_validate("GetPositionsResponse", r.json())
    (pos,) = r.json()["market_positions"]
    assert pos["position_fp"] == "-12.00"

    # A resting bid, then cancel it.
    body = {"ticker": HOU, "side": "bid", "count": "3", "price": "0.20",
            "time_in_force": "good_till_canceled", "self_trade_prevention_type": "maker"}
    r = await api.post(path, json=body, headers=signer(creds, "POST", PREFIX + path))
    order_id = r.json()["order_id"]
    assert r.json()["remaining_count"] == "3.00" and "average_fill_price" not in r.json()
    r = await auth_get(api, creds, signer, "/portfolio/orders", status="resting")
    openapi_validate("GetOrdersResponse", r.json())
    assert [o["order_id"] for o in r.json()["orders"]] == [order_id]
    cancel_path = f"{path}/{order_id}"
    r = await api.delete(cancel_path, headers=signer(creds, "DELETE", PREFIX + cancel_path))
    assert r.status_code == 200
    openapi_validate("CancelOrderV2Response", r.json())
    assert r.json()["reduced_by"] == "3.00"
    r = await api.delete(cancel_path, headers=signer(creds, "DELETE", PREFIX + cancel_path))
    assert r.status_code == 404


async def test_batch_create_and_cancel(api, creds, signer, openapi_validate):
    path = "/portfolio/events/orders/batched"
    orders = [{"ticker": HOU, "side": "bid", "count": "1", "price": p,
               "time_in_force": "good_till_canceled", "self_trade_prevention_type": "maker"}
              for p in ("0.10", "0.11", "0.105")]
    r = await api.post(path, json={"orders": orders}, headers=signer(creds, "POST", PREFIX + path))
    assert r.status_code == 201
    openapi_validate("BatchCreateOrdersV2Response", r.json())
    results = r.json()["orders"]
    assert [("error" in o) for o in results] == [False, False, True]
    ids = [{"order_id": o["order_id"]} for o in results[:2]] + [{"order_id": "nope"}]
    r = await api.request("DELETE", path, content=json.dumps({"orders": ids}),
                          headers=signer(creds, "DELETE", PREFIX + path))
    assert r.status_code == 200
    openapi_validate("BatchCancelOrdersV2Response", r.json())
    assert [o["reduced_by"] for o in r.json()["orders"]] == ["1.00", "1.00", "0.00"]
    assert r.json()["orders"][2]["error"]["code"] == "not_found"


@pytest.mark.parametrize(("body", "status", "detail"), [
    ("{not json", 400, "JSON"),
    ('{"ticker": "X"}', 400, "missing"),
    (json.dumps({"ticker": SAC, "side": "bid", "count": "1", "price": "0.40",
                 "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "maker",
                 "colour": "red"}), 400, "colour"),
    (json.dumps({"ticker": SAC, "side": "bid", "count": "1", "price": 0.40,
                 "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "maker"}),
     400, "price must be a string"),
    (json.dumps({"ticker": SAC, "side": "bid", "count": "1", "price": "0.405",
                 "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "maker"}),
     400, "price"),
    (json.dumps({"ticker": SAC, "side": "buy", "count": "1", "price": "0.40",
                 "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "maker"}),
     400, "side"),
    (json.dumps({"ticker": SAC, "side": "bid", "count": "1.234", "price": "0.40",
                 "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "maker"}),
     400, "count"),
    (json.dumps({"ticker": "KXNOPE-1", "side": "bid", "count": "1", "price": "0.40",
                 "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "maker"}),
     404, "KXNOPE-1"),
    (json.dumps({"ticker": SAC, "side": "bid", "count": "1", "price": "0.40",
                 "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "maker",
                 "expiration_time": 4102444800}), 400, "good_till_canceled"),
])
async def test_bad_order_input_gets_venue_error(api, creds, signer, openapi_validate,
                                                body, status, detail):
    path = "/portfolio/events/orders"
    r = await api.post(path, content=body, headers={
        **signer(creds, "POST", PREFIX + path), "content-type": "application/json"})
    assert r.status_code == status, r.text
    openapi_validate("ErrorResponse", r.json())
    assert detail in r.json()["message"] + r.json()["details"]


async def test_duplicate_client_order_id_409(api, creds, signer):
    path = "/portfolio/events/orders"
    body = {"ticker": HOU, "side": "bid", "count": "1", "price": "0.10", "client_order_id": "x",
            "time_in_force": "good_till_canceled", "self_trade_prevention_type": "maker"}
    r1 = await api.post(path, json=body, headers=signer(creds, "POST", PREFIX + path))
    r2 = await api.post(path, json=body, headers=signer(creds, "POST", PREFIX + path))
    assert (r1.status_code, r2.status_code) == (201, 409)


async def test_unknown_path_and_method(api):
    assert (await api.get("/nope")).status_code == 404
    assert (await api.put("/exchange/status")).status_code == 405


async def test_amend_and_decrease(api, creds, signer, wall_exchange, openapi_validate):
    path = "/portfolio/events/orders"

    async def post(p, body):
        return await api.post(p, json=body, headers=signer(creds, "POST", PREFIX + p))

    r = await post(path, {"ticker": HOU, "side": "bid", "count": "10", "price": "0.20",
                          "client_order_id": "a-1", "time_in_force": "good_till_canceled",
                          "self_trade_prevention_type": "maker"})
    order_id = r.json()["order_id"]
    r = await post(f"{path}/{order_id}/decrease", {"reduce_by": "4"})
    assert r.status_code == 200, r.text
    openapi_validate("DecreaseOrderV2Response", r.json())
    assert r.json()["remaining_count"] == "6.00"
    r = await post(f"{path}/{order_id}/decrease", {"reduce_by": "1", "reduce_to": "1"})
    assert r.status_code == 400

    # A maker offers YES at 0.30; amending our bid up to 0.30 trades 2 and rests the rest.
    mm = wall_exchange.register_account(cash=parse_money("1000"))
    wall_exchange.place_order(mm, NewOrder(HOU, "ask", parse_price("0.30"), parse_qty("2")))
    r = await post(f"{path}/{order_id}/amend", {"ticker": HOU, "side": "bid", "price": "0.30",
                                                "count": "6", "client_order_id": "a-1",
                                                "updated_client_order_id": "a-2"})
    assert r.status_code == 200, r.text
    openapi_validate("AmendOrderV2Response", r.json())
    assert (r.json()["fill_count"], r.json()["remaining_count"]) == ("2.00", "4.00")
    assert r.json()["client_order_id"] == "a-2"
    r = await api.get(f"/markets/{HOU}/orderbook")
    assert r.json()["orderbook_fp"]["yes_dollars"] == [["0.3000", "4.00"]]
    r = await post(f"{path}/{order_id}/amend", {"ticker": SAC, "side": "bid", "price": "0.30",
                                                "count": "6"})
    assert r.status_code == 400 and "must match" in r.json()["message"]
    r = await post(f"{path}/{order_id}/decrease", {"reduce_to": "0"})
    assert r.json()["remaining_count"] == "0.00"
    r = await auth_get(api, creds, signer, f"/portfolio/orders/{order_id}")
    assert r.json()["order"]["status"] == "canceled"
