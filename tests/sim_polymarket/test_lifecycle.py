"""Trade lifecycle, ghost fills, taker delay, heartbeats (reliability.md rows 12, 13)."""
from __future__ import annotations

import pytest

from arb.domain import Side
from arb.money import parse_price, parse_qty
from arb.sim.polymarket.core import Exchange, OrderError, taker_fee
from arb.sim.polymarket.model import (
    COLLATERAL,
    OrderEvent,
    OrderStatus,
    OrderType,
    TradeEvent,
    TradeStatus,
)

from .conftest import BOB_KEY, GRIZZLIES, LAKERS, NBA_CID, T0_MS, Trader, make_trader

P = parse_price
Q = parse_qty


def _trade_statuses(events: list, trade_id: str) -> list[tuple[str, int]]:
    return [(e.trade.status.value, e.timestamp_ms - T0_MS) for e in events
            if isinstance(e, TradeEvent) and e.trade.id == trade_id]


def test_matched_mined_confirmed_on_schedule(exchange: Exchange, alice: Trader) -> None:
    events: list = []
    exchange.add_listener(events.append)
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    [trade_id] = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10")).trade_ids
    exchange.advance(T0_MS + 1_999)
    assert exchange.trade(trade_id).status is TradeStatus.MATCHED
    assert exchange.trade(trade_id).transaction_hash == ""
    exchange.advance(T0_MS + 2_000)
    assert exchange.trade(trade_id).transaction_hash.startswith("0x")
    exchange.advance(T0_MS + 10_000)
    assert _trade_statuses(events, trade_id) == [
        ("MATCHED", 0), ("MINED", 2_000), ("CONFIRMED", 10_000)]


def test_ghost_fill_reverts_balances_and_fee(exchange: Exchange, alice: Trader) -> None:
    events: list = []
    exchange.add_listener(events.append)
    exchange.faults.ghost_next_trades = 1
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    [trade_id] = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10")).trade_ids
    account = exchange.account(alice.address)
    assert account.token_balance(LAKERS) == Q("10")
    assert account.collateral == Q("1000") - Q("5") - taker_fee(Q("10"), P("0.5"), 50_000, 1, 5)
    exchange.advance(T0_MS + 6_000)
    assert _trade_statuses(events, trade_id) == [
        ("MATCHED", 0), ("RETRYING", 6_000), ("FAILED", 6_000)]
    assert account.token_balance(LAKERS) == 0 and account.collateral == Q("1000")
    assert exchange.house.collateral == 0 and exchange.house.token_balance(LAKERS) == 0
    assert exchange.fees_collected == 0
    # The next trade settles normally: the fault was for one trade only.
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    [second] = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10")).trade_ids
    exchange.advance(T0_MS + 20_000)
    assert exchange.trade(second).status is TradeStatus.CONFIRMED


def test_ghost_fill_status_steps_with_separate_advances(exchange: Exchange,
                                                        alice: Trader) -> None:
    exchange.faults.ghost_next_trades = 1
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    [trade_id] = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10")).trade_ids
    exchange.advance(T0_MS + 2_500)
    assert exchange.trade(trade_id).status is TradeStatus.RETRYING
    assert exchange.account(alice.address).token_balance(LAKERS) == Q("10")
    exchange.advance(T0_MS + 6_000)
    assert exchange.trade(trade_id).status is TradeStatus.FAILED


def test_taker_delay_answers_delayed_then_matches(exchange: Exchange, alice: Trader) -> None:
    events: list = []
    exchange.add_listener(events.append)
    exchange.set_taker_delay(NBA_CID, 250)
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    result = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10", order_type=OrderType.FOK))
    assert (result.status, result.trade_ids) == ("delayed", ())
    assert result.error_msg == "order match delayed due to market conditions"
    assert exchange.order(result.order_id).status is OrderStatus.DELAYED
    assert exchange.available(alice.address, COLLATERAL) == Q("995")  # reserved while delayed
    exchange.advance(T0_MS + 249)
    assert exchange.order(result.order_id).status is OrderStatus.DELAYED
    exchange.advance(T0_MS + 250)
    order = exchange.order(result.order_id)
    assert order.status is OrderStatus.MATCHED and len(order.associate_trades) == 1
    kinds = [(e.kind.value, e.order.status.value) for e in events
             if isinstance(e, OrderEvent) and e.order.id == result.order_id]
    assert kinds == [("PLACEMENT", "DELAYED"), ("UPDATE", "MATCHED")]


def test_delayed_order_unmatched_when_liquidity_leaves(exchange: Exchange,
                                                       alice: Trader) -> None:
    exchange.faults.delay_next_orders = 1
    ask = exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10")).order_id
    result = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10", order_type=OrderType.FOK))
    assert result.status == "delayed"
    exchange.cancel_house_order(ask)
    exchange.advance(T0_MS + 1)
    assert exchange.order(result.order_id).status is OrderStatus.UNMATCHED
    assert exchange.available(alice.address, COLLATERAL) == Q("1000")
    assert exchange.trades_of(alice.address) == []


def test_delayed_gtc_rests_its_remainder(exchange: Exchange, alice: Trader) -> None:
    exchange.set_taker_delay(NBA_CID, 100)
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("6"))
    result = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10"))
    assert result.status == "delayed"
    exchange.advance(T0_MS + 100)
    order = exchange.order(result.order_id)
    assert (order.status, order.size_matched) == (OrderStatus.LIVE, Q("6"))
    assert exchange.market(NBA_CID).book.best(0) == (P("0.50"), None)


def test_heartbeat_dead_man_switch(exchange: Exchange, alice: Trader) -> None:
    alice.post(alice.limit(LAKERS, Side.BUY, "0.40", "10"))
    exchange.advance(T0_MS + 60_000)
    assert len(exchange.orders_of(alice.address)) == 1, "not armed: nothing is cancelled"
    hb = exchange.heartbeat(alice.creds.api_key, "")
    exchange.advance(T0_MS + 69_000)
    assert exchange.heartbeat(alice.creds.api_key, hb) == hb
    exchange.advance(T0_MS + 79_000)
    assert len(exchange.orders_of(alice.address)) == 1
    exchange.advance(T0_MS + 79_001)
    assert exchange.orders_of(alice.address) == []


def test_settlement_lag_blocks_selling_unmined_shares(alice: Trader) -> None:
    exchange = alice.exchange
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10"))
    exchange.place_house_order(LAKERS, Side.BUY, P("0.45"), Q("10"))
    unwind = alice.limit(LAKERS, Side.SELL, "0.45", "10", order_type=OrderType.FOK)
    with pytest.raises(OrderError, match="^not enough balance / allowance$"):
        alice.post(unwind)
    assert exchange.available(alice.address, LAKERS) == 0
    exchange.advance(T0_MS + 2_000)
    assert exchange.available(alice.address, LAKERS) == Q("10")
    assert alice.post(unwind).status == "matched"


def test_sale_proceeds_settle_before_they_can_be_spent(exchange: Exchange) -> None:
    seller = make_trader(exchange, BOB_KEY, collateral=0, tokens={LAKERS: Q("10")})
    exchange.place_house_order(LAKERS, Side.BUY, P("0.60"), Q("10"))
    seller.post(seller.limit(LAKERS, Side.SELL, "0.60", "10", order_type=OrderType.FOK))
    exchange.place_house_order(GRIZZLIES, Side.SELL, P("0.50"), Q("10"))
    rebuy = seller.limit(GRIZZLIES, Side.BUY, "0.50", "5")
    with pytest.raises(OrderError, match="^not enough balance / allowance$"):
        seller.post(rebuy)
    exchange.advance(T0_MS + 2_000)
    assert seller.post(rebuy).status == "matched"


def test_ghost_fill_shares_are_never_sold_so_balances_stay_non_negative(
        exchange: Exchange, alice: Trader) -> None:
    exchange.faults.ghost_next_trades = 1
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10"))
    exchange.place_house_order(LAKERS, Side.BUY, P("0.45"), Q("10"))
    with pytest.raises(OrderError, match="not enough balance"):
        alice.post(alice.limit(LAKERS, Side.SELL, "0.45", "10"))
    exchange.advance(T0_MS + 6_000)
    assert exchange.balances(alice.address).tokens == {}
    assert exchange.balances(alice.address).collateral == Q("1000")
