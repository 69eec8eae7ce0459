"""Parsing of recorded/spec Kalshi REST bodies and WS frames into project values."""
from __future__ import annotations

import calendar

import pytest

from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.money import parse_money, parse_price, parse_qty
from arb.venues.kalshi.parse import (
    OrderIntent,
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
from arb.venues.protocol import FillStatus, OrderStatus

P = parse_price
Q = parse_qty


def test_rest_orderbook_fp_is_bids_only_ascending():
    body = loads('{"orderbook_fp":{"yes_dollars":[["0.4100","10.00"],["0.4200","13.00"]],'
                 '"no_dollars":[["0.5500","20.00"],["0.5600","17.00"]]}}', what="t")
    book = parse_rest_orderbook(body, "KXNBAGAME-25NOV28DALLAL-LAL")
    assert book.yes == ((P("0.41"), Q("10")), (P("0.42"), Q("13")))
    assert book.no[-1] == (P("0.56"), Q("17"))


def test_rest_orderbook_sub_cent_and_fractional_levels_stay_distinct():
    body = loads('{"orderbook_fp":{"yes_dollars":[["0.9900","1.50"],["0.9950","0.01"]],'
                 '"no_dollars":[]}}', what="t")
    book = parse_rest_orderbook(body, "T")
    assert book.yes == ((990_000, 1_500_000), (995_000, 10_000))
    assert book.no == ()


def test_rest_orderbook_legacy_integer_shape():
    body = loads('{"orderbook":{"yes":[[41,10],[42,13]],"no":[[55,20],[56,17]]}}', what="t")
    book = parse_rest_orderbook(body, "T")
    assert book.yes == ((P("0.41"), Q("10")), (P("0.42"), Q("13")))


def test_rest_orderbook_bad_level_names_market_and_field():
    body = loads('{"orderbook_fp":{"yes_dollars":[["0.41","ten"]],"no_dollars":[]}}', what="t")
    with pytest.raises(WireError, match=r"kalshi orderbook MKT-1 yes_dollars count.*'ten'"):
        parse_rest_orderbook(body, "MKT-1")


def test_numbers_never_become_floats():
    body = loads('{"a": 0.1, "b": 3}', what="t")
    assert type(body["a"]).__name__ == "Decimal"
    with pytest.raises(WireError, match="not JSON"):
        loads(b"<html>", what="t")


def test_exchange_status():
    s = parse_exchange_status({"exchange_active": True, "trading_active": False,
                               "exchange_estimated_resume_time": "2026-11-26T10:00:00Z"},
                              clock_skew_ms=12)
    assert s.reachable and not s.trading_active and s.clock_skew_ms == 12
    assert "trading paused" in s.detail and "2026-11-26" in s.detail
    with pytest.raises(WireError, match="'trading_active' is missing"):
        parse_exchange_status({"exchange_active": True}, clock_skew_ms=None)


def test_create_response_ioc_partial_is_cancelled_with_fee_and_avg():
    body = {"order_id": "o1", "client_order_id": "c-1", "fill_count": "5.00",
            "remaining_count": "0.00", "average_fill_price": "0.5800",
            "average_fee_paid": "0.0100", "ts_ms": 1767225600123}
    r = parse_create_response(body, client_id="c-1", ticker="T", outcome=Outcome.YES,
                              sent_qty=Q("10"), tif=TimeInForce.IOC)
    assert r.status is OrderStatus.CANCELLED
    assert r.filled_qty == Q("5") and r.avg_price == P("0.58") and r.fee == parse_money("0.05")


def test_create_response_no_outcome_converts_yes_leg_average():
    body = {"order_id": "o1", "fill_count": "2.50", "remaining_count": "0.00",
            "average_fill_price": "0.5750", "ts_ms": 1}
    r = parse_create_response(body, client_id="c", ticker="T", outcome=Outcome.NO,
                              sent_qty=Q("2.5"), tif=TimeInForce.FOK)
    assert r.status is OrderStatus.FILLED and r.avg_price == P("0.425")
    assert r.client_id == "c"


def test_create_response_gtc_resting_and_fok_killed():
    rest = parse_create_response({"order_id": "o", "fill_count": "0.00",
                                  "remaining_count": "10.00", "ts_ms": 1},
                                 client_id="c", ticker="T", outcome=Outcome.YES,
                                 sent_qty=Q("10"), tif=TimeInForce.GTC)
    assert rest.status is OrderStatus.RESTING and rest.avg_price is None
    killed = parse_create_response({"order_id": "o", "fill_count": "0.00",
                                    "remaining_count": "0.00", "ts_ms": 1},
                                   client_id="c", ticker="T", outcome=Outcome.YES,
                                   sent_qty=Q("10"), tif=TimeInForce.FOK)
    assert killed.status is OrderStatus.CANCELLED and killed.filled_qty == 0


def test_create_response_missing_fill_count_is_an_error():
    with pytest.raises(WireError, match="create-order T: field 'fill_count' is missing"):
        parse_create_response({"order_id": "o", "remaining_count": "1.00"}, client_id="c",
                              ticker="T", outcome=Outcome.YES, sent_qty=Q("1"),
                              tif=TimeInForce.IOC)


ORDER = {
    "order_id": "ee58", "user_id": "u", "client_order_id": "my-order-1",
    "ticker": "FED-23DEC-T3.00", "outcome_side": "no", "book_side": "ask", "type": "limit",
    "status": "executed", "yes_price_dollars": "0.5700", "no_price_dollars": "0.4300",
    "fill_count_fp": "10.00", "remaining_count_fp": "0.00", "initial_count_fp": "10.00",
    "taker_fill_cost_dollars": "4.2000", "maker_fill_cost_dollars": "0.0000",
    "taker_fees_dollars": "0.1800", "maker_fees_dollars": "0.0000",
}


def test_order_without_intent_reads_as_buy_of_exposure():
    o = parse_order(ORDER)
    assert (o.outcome, o.side, o.price) == (Outcome.NO, Side.BUY, P("0.43"))
    r = o.to_result()
    assert r.status is OrderStatus.FILLED and r.filled_qty == Q("10")
    assert r.avg_price == P("0.42") and r.fee == parse_money("0.18")


def test_order_with_sell_yes_intent_is_expressed_as_sell_yes():
    intent = OrderIntent("FED-23DEC-T3.00", Outcome.YES, Side.SELL, TimeInForce.IOC)
    o = parse_order(ORDER, intent=intent)
    assert (o.outcome, o.side, o.price) == (Outcome.YES, Side.SELL, P("0.57"))
    assert o.to_result().avg_price == P("0.58")  # 1 - 0.42: received per YES contract


def test_order_intent_with_other_exposure_is_ignored():
    intent = OrderIntent("FED-23DEC-T3.00", Outcome.YES, Side.BUY, TimeInForce.IOC)
    o = parse_order(ORDER, intent=intent)
    assert (o.outcome, o.side) == (Outcome.NO, Side.BUY)


def test_ws_user_order_legacy_direction_fields():
    msg = {"order_id": "ee58", "user_id": "u", "ticker": "FED-23DEC-T3.00", "status": "resting",
           "side": "yes", "is_yes": True, "yes_price_dollars": "0.3500", "fill_count_fp": "0.00",
           "remaining_count_fp": "10.00", "initial_count_fp": "10.00",
           "taker_fill_cost_dollars": "0.0000", "maker_fill_cost_dollars": "0.0000",
           "client_order_id": "my-order-1", "created_ts_ms": 1733047200000, "action": "buy"}
    o = parse_order(msg, kind="user_order")
    assert o.status is OrderStatus.RESTING and o.outcome is Outcome.YES and o.price == P("0.35")
    open_order = o.to_open_order()
    assert open_order.qty == Q("10") and open_order.filled_qty == 0


def test_order_unknown_status_names_market():
    bad = dict(ORDER, status="pending")
    with pytest.raises(WireError, match=r"kalshi order FED-23DEC-T3.00: unknown order status"):
        parse_order(bad)


WS_FILL = {"trade_id": "d91b", "order_id": "ee58", "market_ticker": "HIGHNY-22DEC23-B53.5",
           "exchange_index": 2, "is_taker": True, "side": "yes", "yes_price_dollars": "0.750",
           "count_fp": "278.00", "action": "buy", "ts": 1671899397, "ts_ms": 1671899397000,
           "post_position_fp": "500.00", "purchased_side": "yes", "subaccount": 3,
           "outcome_side": "yes", "book_side": "bid", "fee_cost": "1.2300",
           "client_order_id": "c-9"}


def test_ws_fill():
    f = parse_fill(WS_FILL)
    assert f.venue is Venue.KALSHI and f.trade_id == "d91b" and f.venue_order_id == "ee58"
    assert f.instrument == Instrument.kalshi("HIGHNY-22DEC23-B53.5", Outcome.YES)
    assert f.side is Side.BUY and f.price == P("0.75") and f.qty == Q("278")
    assert f.fee == parse_money("1.23") and f.is_taker and f.ts_ms == 1671899397000
    assert f.status is FillStatus.CONFIRMED and f.client_id == "c-9"


def test_rest_fill_buy_no_fractional():
    d = {"fill_id": "f1", "trade_id": "f1", "order_id": "o1", "ticker": "T", "market_ticker": "T",
         "outcome_side": "no", "book_side": "ask", "count_fp": "2.37",
         "yes_price_dollars": "0.5650", "no_price_dollars": "0.4350", "is_taker": False,
         "created_time": "2026-11-25T14:00:00Z", "fee_cost": "0.0000", "exchange_index": 0}
    f = parse_fill(d)
    assert f.instrument.token == "no" and f.price == P("0.435") and f.qty == Q("2.37")
    assert f.ts_ms == calendar.timegm((2026, 11, 25, 14, 0, 0)) * 1000 and not f.is_taker


def test_fill_missing_count_is_named():
    d = dict(WS_FILL)
    del d["count_fp"]
    with pytest.raises(WireError, match=r"fill HIGHNY-22DEC23-B53.5: field 'count_fp' is missing"):
        parse_fill(d)


def test_fill_legacy_integer_count_is_refused():
    d = dict(WS_FILL, count_fp=None, count=278)
    with pytest.raises(WireError, match="count_fp"):
        parse_fill(d)


def test_positions_signed():
    items = [{"ticker": "A", "position_fp": "12.50"}, {"ticker": "B", "position_fp": "-3.00"},
             {"ticker": "C", "position_fp": "0.00"}]
    out = parse_positions(items)
    assert [(p.instrument.market, p.instrument.token, p.qty) for p in out] == [
        ("A", "yes", Q("12.5")), ("B", "no", Q("3"))]


def test_balance_dollars_preferred_and_shards():
    b = parse_balance({"balance": 12345, "balance_dollars": "123.4567", "portfolio_value": 500,
                       "updated_ts": 1, "balance_breakdown": [
                           {"exchange_index": 0, "balance": "100.0000"},
                           {"exchange_index": 3, "balance": "23.4567"}]})
    assert b.available == parse_money("123.4567")
    assert b.shard(3) == parse_money("23.4567") and b.shard(1) is None
    assert b.to_balance().total == parse_money("128.4567")


def test_balance_legacy_cents():
    assert parse_balance({"balance": 12345}).available == parse_money("123.45")
    with pytest.raises(WireError, match="balance"):
        parse_balance({"balance": "12345"})


@pytest.mark.parametrize("body,expected", [
    ({"code": "MARKET_INACTIVE", "message": "market closed", "details": ""},
     ("MARKET_INACTIVE", "market closed")),
    ({"error": {"code": "invalid_price", "message": "off grid"}}, ("invalid_price", "off grid")),
    ({"error": "too many requests"}, (None, "too many requests")),
    ("text", (None, "")),
])
def test_error_text(body, expected):
    assert error_text(body) == expected
