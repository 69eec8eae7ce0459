"""Matching semantics of the simulated Kalshi core (V2 order entry on a single YES book)."""
from __future__ import annotations

import pytest

from arb.domain import TimeInForce
from arb.money import parse_money, parse_price, parse_qty
from arb.sim.kalshi.core import BookChanged, KalshiExchange, NewOrder, OrderUpdated
from arb.sim.kalshi.errors import KalshiApiError
from arb.sim.kalshi.sample import HOU, SAC, TOTAL


def order(side: str, price: str, count: str, tif: TimeInForce = TimeInForce.GTC,
          ticker: str = SAC, **kw) -> NewOrder:
    return NewOrder(ticker, side, parse_price(price), parse_qty(count), tif, **kw)


@pytest.fixture
def trader(exchange: KalshiExchange) -> str:
    return exchange.register_account(cash=parse_money("1000"))


def test_no_bid_rests_as_yes_ask_and_book_reports_bids_only(exchange, house):
    exchange.place_order(house, order("bid", "0.42", "10"))
    exchange.place_order(house, order("bid", "0.41", "5"))
    # Buy NO at 0.56 is V2 side=ask at price 1 - 0.56 = 0.44.
    exchange.place_order(house, order("ask", "0.44", "17"))
    yes, no = exchange.orderbook(SAC)
    assert yes == [(parse_price("0.41"), parse_qty("5")), (parse_price("0.42"), parse_qty("10"))]
    assert no == [(parse_price("0.56"), parse_qty("17"))]
    book = exchange.markets[SAC].book
    assert book.best_ask() == parse_price("0.44")


def test_cross_at_resting_price_with_price_time_priority(exchange, house, trader):
    other = exchange.register_account(cash=parse_money("1000"))
    first = exchange.place_order(house, order("ask", "0.44", "3")).order
    second = exchange.place_order(other, order("ask", "0.44", "3")).order
    exchange.place_order(house, order("ask", "0.45", "10"))
    result = exchange.place_order(trader, order("bid", "0.50", "8", TimeInForce.IOC))
    assert result.fill_count == parse_qty("8")
    # 3 + 3 at 0.44, then 2 at 0.45: the resting prices, never the taker's 0.50.
    assert result.fill_value == parse_money("0.44") * 6 + parse_money("0.45") * 2
    assert first.status == "executed" and second.status == "executed"
    fills = exchange.accounts[trader].fills
    assert [(f.price, f.count, f.is_taker) for f in fills] == [
        (parse_price("0.44"), parse_qty("3"), True), (parse_price("0.44"), parse_qty("3"), True),
        (parse_price("0.45"), parse_qty("2"), True)]
    assert exchange.accounts[trader].positions[SAC].position == parse_qty("8")


def test_buy_no_crosses_a_yes_bid(exchange, house, trader):
    exchange.place_order(house, order("bid", "0.42", "10"))
    # Buy NO at 0.60 = ask at 0.40; meets the YES bid at 0.42, so the NO costs 0.58.
    result = exchange.place_order(trader, order("ask", "0.40", "4", TimeInForce.IOC))
    assert result.fill_count == parse_qty("4")
    fill = exchange.accounts[trader].fills[0]
    assert fill.price == parse_price("0.42") and fill.outcome_side == "no"
    assert exchange.accounts[trader].positions[SAC].position == -parse_qty("4")
    assert exchange.accounts[house].positions[SAC].position == parse_qty("4")


def test_ioc_cancels_the_rest_and_gtc_rests_it(exchange, house, trader):
    exchange.place_order(house, order("ask", "0.44", "3"))
    ioc = exchange.place_order(trader, order("bid", "0.44", "5", TimeInForce.IOC))
    assert (ioc.fill_count, ioc.order.remaining, ioc.order.status) == (
        parse_qty("3"), 0, "canceled")
    exchange.place_order(house, order("ask", "0.44", "3"))
    gtc = exchange.place_order(trader, order("bid", "0.44", "5"))
    assert (gtc.fill_count, gtc.order.remaining, gtc.order.status) == (
        parse_qty("3"), parse_qty("2"), "resting")
    assert exchange.orderbook(SAC)[0] == [(parse_price("0.44"), parse_qty("2"))]


def test_fok_all_or_nothing(exchange, house, trader):
    exchange.place_order(house, order("ask", "0.44", "3"))
    fok = exchange.place_order(trader, order("bid", "0.45", "5", TimeInForce.FOK))
    assert fok.fill_count == 0 and fok.order.status == "canceled"
    assert exchange.orderbook(SAC)[1] == [(parse_price("0.56"), parse_qty("3"))]
    assert exchange.accounts[trader].cash == parse_money("1000")
    fok = exchange.place_order(trader, order("bid", "0.45", "3", TimeInForce.FOK))
    assert fok.fill_count == parse_qty("3") and fok.order.status == "executed"


def test_post_only_rejected_when_crossing_and_rests_otherwise(exchange, house, trader):
    exchange.place_order(house, order("ask", "0.44", "3"))
    with pytest.raises(KalshiApiError) as err:
        exchange.place_order(trader, order("bid", "0.44", "1", post_only=True))
    assert err.value.status == 400 and err.value.code == "post_only_cross"
    rested = exchange.place_order(trader, order("bid", "0.43", "1", post_only=True))
    assert rested.order.status == "resting"


def test_stp_taker_at_cross_keeps_partial_fills_and_cancels_taker(exchange, house, trader):
    exchange.place_order(house, order("ask", "0.44", "2"))
    own = exchange.place_order(trader, order("ask", "0.45", "5")).order
    result = exchange.place_order(trader, order("bid", "0.46", "10"))
    assert result.fill_count == parse_qty("2")
    assert result.order.status == "canceled" and result.order.remaining == 0
    assert own.status == "resting" and own.remaining == parse_qty("5")


def test_stp_maker_cancels_own_resting_and_keeps_matching(exchange, house, trader):
    own = exchange.place_order(trader, order("ask", "0.44", "5")).order
    exchange.place_order(house, order("ask", "0.45", "5"))
    result = exchange.place_order(trader, order("bid", "0.46", "4", TimeInForce.IOC,
                                                self_trade_prevention="maker"))
    assert own.status == "canceled"
    assert result.fill_count == parse_qty("4")
    assert exchange.accounts[trader].fills[0].price == parse_price("0.45")


def test_duplicate_client_order_id_is_409(exchange, trader):
    exchange.place_order(trader, order("bid", "0.30", "1", client_order_id="c-1"))
    with pytest.raises(KalshiApiError) as err:
        exchange.place_order(trader, order("bid", "0.31", "1", client_order_id="c-1"))
    assert err.value.status == 409


@pytest.mark.parametrize(("ticker", "price", "count", "detail"), [
    (SAC, "0.425", "1", "price"),            # off the cent grid
    (SAC, "0.42", "1.5", "fractional"),      # fractional on a whole-contract market
    (TOTAL, "0.4215", "1", "price"),         # finer than the deci-cent grid
    (TOTAL, "0.42", "0", "count"),           # zero count
])
def test_grid_and_count_checks(exchange, trader, ticker, price, count, detail):
    with pytest.raises(KalshiApiError) as err:
        exchange.place_order(trader, order("bid", price, count, ticker=ticker))
    assert err.value.status == 400
    assert detail in (err.value.message + err.value.details)


def test_fine_grid_and_fractional_counts_accepted_where_enabled(exchange, house, trader):
    exchange.place_order(house, order("ask", "0.421", "2.5", ticker=TOTAL))
    result = exchange.place_order(trader, order("bid", "0.421", "1.25", TimeInForce.IOC,
                                                ticker=TOTAL))
    assert result.fill_count == parse_qty("1.25")
    assert exchange.orderbook(TOTAL)[1] == [(parse_price("0.579"), parse_qty("1.25"))]


def test_insufficient_balance_is_400(exchange, house):
    poor = exchange.register_account(cash=parse_money("5"))
    with pytest.raises(KalshiApiError) as err:
        exchange.place_order(poor, order("bid", "0.50", "20"))
    assert (err.value.status, err.value.code) == (400, "insufficient_balance")
    exchange.place_order(poor, order("bid", "0.50", "8"))
    # The resting order's collateral is reserved: a second one no longer fits.
    with pytest.raises(KalshiApiError):
        exchange.place_order(poor, order("bid", "0.50", "2"))


def test_trading_pause_rejects_orders_but_allows_cancels(exchange, trader):
    resting = exchange.place_order(trader, order("bid", "0.30", "1")).order
    exchange.set_trading_active(False)
    with pytest.raises(KalshiApiError) as err:
        exchange.place_order(trader, order("bid", "0.30", "1"))
    assert err.value.status == 400 and err.value.code == "trading_is_paused"
    _, reduced = exchange.cancel_order(trader, resting.order_id)
    assert reduced == parse_qty("1")
    exchange.set_trading_active(True)
    exchange.place_order(trader, order("bid", "0.30", "1"))


def test_closed_market_rejects_orders_and_cancels(exchange, clock, trader):
    resting = exchange.place_order(trader, order("bid", "0.30", "1", ticker=HOU)).order
    clock.now_ms = exchange.markets[HOU].close_ms
    with pytest.raises(KalshiApiError) as err:
        exchange.place_order(trader, order("bid", "0.30", "1", ticker=HOU))
    assert err.value.code == "MARKET_INACTIVE"
    assert resting.status == "canceled"
    with pytest.raises(KalshiApiError) as err:
        exchange.cancel_order(trader, resting.order_id)
    assert err.value.code == "MARKET_INACTIVE"


def test_paused_market_is_inactive_and_reactivation_cancels_resting(exchange, house, trader):
    resting = exchange.place_order(house, order("bid", "0.30", "1")).order
    exchange.set_market_status(SAC, "inactive")
    with pytest.raises(KalshiApiError) as err:
        exchange.place_order(trader, order("bid", "0.30", "1"))
    assert err.value.code == "MARKET_INACTIVE"
    exchange.set_market_status(SAC, "active")
    assert resting.status == "canceled"


def test_expired_gtc_order_is_cancelled(exchange, clock, trader):
    expiry_s = clock.now_ms // 1000 + 60
    resting = exchange.place_order(trader, order("bid", "0.30", "1", expiration_s=expiry_s)).order
    clock.now_ms += 61_000
    exchange.tick()
    assert resting.status == "canceled"
    with pytest.raises(KalshiApiError, match="future"):
        exchange.place_order(trader, order("bid", "0.30", "1", expiration_s=expiry_s))


def test_netting_pays_out_pairs(exchange, house, trader):
    exchange.place_order(house, order("ask", "0.40", "10"))
    exchange.place_order(trader, order("bid", "0.40", "10", TimeInForce.IOC))
    cash_after_buy = exchange.accounts[trader].cash
    # Selling YES at 0.55 (= buying NO at 0.45) closes the position: the pair pays $1.
    exchange.place_order(house, order("bid", "0.55", "10"))
    exchange.place_order(trader, order("ask", "0.55", "10", TimeInForce.IOC))
    pos = exchange.accounts[trader].positions[SAC]
    assert pos.position == 0 and pos.exposure == 0
    fees = sum(f.fee_cost for f in exchange.accounts[trader].fills[1:])
    assert exchange.accounts[trader].cash == cash_after_buy + parse_money("5.50") - fees


def test_events_published_in_order(exchange, house, trader):
    seen = []
    exchange.add_listener(seen.append)
    exchange.place_order(house, order("ask", "0.44", "5"))
    exchange.place_order(trader, order("bid", "0.44", "2", TimeInForce.IOC))
    deltas = [(e.side, e.price, e.delta) for e in seen if isinstance(e, BookChanged)]
    assert deltas == [("no", parse_price("0.56"), parse_qty("5")),
                      ("no", parse_price("0.56"), -parse_qty("2"))]
    statuses = [e.order.status for e in seen if isinstance(e, OrderUpdated)]
    assert statuses == ["resting", "resting", "executed"]


def test_decrease_keeps_priority_and_amend_requeues(exchange, house, trader):
    other = exchange.register_account(cash=parse_money("1000"))
    first = exchange.place_order(house, order("ask", "0.44", "5")).order
    exchange.place_order(other, order("ask", "0.44", "5"))
    exchange.decrease_order(house, first.order_id, reduce_to=parse_qty("3"))
    exchange.place_order(trader, order("bid", "0.44", "1", TimeInForce.IOC))
    # Still first in line after shrinking.
    assert (first.filled, first.remaining) == (parse_qty("1"), parse_qty("2"))
    assert exchange.accounts[other].fills == []
    # Growing the size (total 8 = 1 filled + 7) loses priority: the other maker trades next.
    exchange.amend_order(house, first.order_id, ticker=SAC, book_side="ask",
                         price=parse_price("0.44"), count=parse_qty("8"))
    assert first.remaining == parse_qty("7")
    exchange.place_order(trader, order("bid", "0.44", "1", TimeInForce.IOC))
    assert [f.count for f in exchange.accounts[other].fills] == [parse_qty("1")]
    assert exchange.accounts[house].reserved == first.reserved > 0
    with pytest.raises(KalshiApiError):
        exchange.amend_order(house, first.order_id, ticker=SAC, book_side="ask",
                             price=parse_price("0.445"), count=parse_qty("8"))


def test_settlement_pays_winners_a_dollar(exchange, house, trader):
    exchange.place_order(house, order("ask", "0.40", "10"))
    exchange.place_order(trader, order("bid", "0.40", "10", TimeInForce.IOC))
    trader_cash, house_cash = exchange.accounts[trader].cash, exchange.accounts[house].cash
    exchange.settle(SAC, "yes")
    assert exchange.accounts[trader].cash == trader_cash + parse_money("10")
    assert exchange.accounts[house].cash == house_cash  # held NO: worth nothing
    assert exchange.markets[SAC].open_interest == 0
    assert exchange.accounts[trader].positions[SAC].position == 0
