"""Matching on the unified book, settlement and taker fees."""
from __future__ import annotations

import pytest

from arb.domain import Side
from arb.money import Money, parse_price, parse_qty
from arb.sim.polymarket.core import Exchange, OrderError, taker_fee
from arb.sim.polymarket.model import OrderStatus, OrderType

from .conftest import ALICE_KEY, BOB_KEY, GRIZZLIES, LAKERS, NBA_CID, Trader, make_trader

P = parse_price
Q = parse_qty


def _total_value(ex: Exchange, *addresses: str) -> int:
    """pUSD held by everyone + fees + pUSD locked in complete sets: constant under trading."""
    holders = [ex.house.address, *addresses]
    return (sum(ex.balances(a).collateral for a in holders) + ex.fees_collected
            + sum(m.complete_sets for m in ex.markets.values()))


def test_price_time_priority_and_maker_price(exchange: Exchange, alice: Trader,
                                             bob: Trader) -> None:
    first = exchange.place_house_order(LAKERS, Side.SELL, P("0.55"), Q("10")).order_id
    second = exchange.place_house_order(LAKERS, Side.SELL, P("0.55"), Q("10")).order_id
    better = exchange.place_house_order(LAKERS, Side.SELL, P("0.54"), Q("5")).order_id
    result = alice.post(alice.limit(LAKERS, Side.BUY, "0.56", "20"))
    assert result.status == "matched"
    assert result.taking_amount == Q("20")
    assert result.making_amount == Q("5") * 54 // 100 + Q("15") * 55 // 100  # maker prices
    assert [exchange.order(i).status for i in (better, first, second)] == [
        OrderStatus.MATCHED, OrderStatus.MATCHED, OrderStatus.LIVE]
    assert exchange.order(second).size_matched == Q("5")
    trades = [exchange.trade(t) for t in result.trade_ids]
    assert [(t.price, t.size) for t in trades] == [(P("0.54"), Q("5")), (P("0.55"), Q("15"))]
    assert [[m.order_id for m in t.maker_orders] for t in trades] == [[better], [first, second]]


def test_unified_book_mirrors_the_other_token(exchange: Exchange) -> None:
    exchange.place_house_order(LAKERS, Side.BUY, P("0.40"), Q("10"))
    exchange.place_house_order(GRIZZLIES, Side.BUY, P("0.55"), Q("7"))
    book = exchange.market(NBA_CID).book
    assert book.token_levels(0) == ([(P("0.40"), Q("10"))], [(P("0.45"), Q("7"))])
    assert book.token_levels(1) == ([(P("0.55"), Q("7"))], [(P("0.60"), Q("10"))])
    assert book.best(0) == (P("0.40"), P("0.45")) and book.best(1) == (P("0.55"), P("0.60"))


def test_two_buys_mint_a_complete_set(exchange: Exchange, alice: Trader, bob: Trader) -> None:
    before = _total_value(exchange, alice.address, bob.address)
    alice.post(alice.limit(LAKERS, Side.BUY, "0.40", "10"))
    result = bob.post(bob.limit(GRIZZLIES, Side.BUY, "0.60", "10", order_type=OrderType.FOK))
    assert result.status == "matched"
    a, b = exchange.account(alice.address), exchange.account(bob.address)
    assert a.token_balance(LAKERS) == Q("10") and b.token_balance(GRIZZLIES) == Q("10")
    fee = taker_fee(Q("10"), P("0.60"), 50_000, 1, 5)
    assert a.collateral == Q("1000") - Q("4")
    assert b.collateral == Q("1000") - Q("6") - fee
    assert exchange.market(NBA_CID).complete_sets == Q("10")
    assert _total_value(exchange, alice.address, bob.address) == before


def test_two_sells_merge_and_same_token_transfers(exchange: Exchange) -> None:
    alice = make_trader(exchange, ALICE_KEY, tokens={LAKERS: Q("10")})
    bob = make_trader(exchange, BOB_KEY, tokens={GRIZZLIES: Q("10")})
    exchange.market(NBA_CID).complete_sets = Q("10")  # the funded shares came from a mint
    before = _total_value(exchange, alice.address, bob.address)
    alice.post(alice.limit(LAKERS, Side.SELL, "0.45", "10"))
    result = bob.post(bob.limit(GRIZZLIES, Side.SELL, "0.55", "4", order_type=OrderType.FAK))
    assert result.making_amount == Q("4") and result.taking_amount == Q("2.2")
    assert exchange.account(bob.address).token_balance(GRIZZLIES) == Q("6")
    assert exchange.market(NBA_CID).complete_sets == Q("6")
    assert exchange.account(alice.address).collateral == Q("1000") + Q("1.8")
    # Same token: the house buys LAKERS from alice's remaining ask at her price.
    exchange.place_house_order(LAKERS, Side.BUY, P("0.50"), Q("6"))
    assert exchange.account(alice.address).token_balance(LAKERS) == Q("0")
    assert exchange.account(alice.address).collateral == Q("1000") + Q("4.5")
    assert _total_value(exchange, alice.address, bob.address) == before


def test_price_improvement_goes_to_the_taker(exchange: Exchange, alice: Trader) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    result = alice.post(alice.limit(LAKERS, Side.BUY, "0.60", "10"))
    assert result.making_amount == Q("5")
    assert exchange.account(alice.address).collateral == (
        Q("1000") - Q("5") - taker_fee(Q("10"), P("0.50"), 50_000, 1, 5))


def test_fak_fills_what_it_can_and_never_rests(exchange: Exchange, alice: Trader) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("6"))
    result = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10", order_type=OrderType.FAK))
    assert result.taking_amount == Q("6")
    assert exchange.orders_of(alice.address) == []
    assert exchange.order(result.order_id).status is OrderStatus.MATCHED


def test_fok_is_all_or_nothing(exchange: Exchange, alice: Trader) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("6"))
    with pytest.raises(OrderError, match="FOK_ORDER_NOT_FILLED_ERROR"):
        alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10", order_type=OrderType.FOK))
    assert exchange.market(NBA_CID).book.best(0) == (None, P("0.50"))
    assert exchange.account(alice.address).collateral == Q("1000")


def test_resting_orders_reserve_balance(exchange: Exchange) -> None:
    alice = make_trader(exchange, ALICE_KEY, collateral=Q("10"))
    alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "16"))
    with pytest.raises(OrderError, match="^not enough balance / allowance$"):
        alice.post(alice.limit(GRIZZLIES, Side.BUY, "0.50", "5"))
    alice.post(alice.limit(GRIZZLIES, Side.BUY, "0.40", "5"))  # exactly the $2 left


@pytest.mark.parametrize(("size", "price", "rate", "exponent", "expected"), [
    ("100", "0.50", 50_000, 1, "1.25"),          # venues.md B7 worked example (sports 0.05)
    ("100", "0.50", 30_000, 1, "0.75"),          # the old sports rate
    ("100", "0.50", 250_000, 2, "1.5625"),       # crypto 2026: rate 0.25, exponent 2
    ("1", "0.01", 50_000, 1, "0.0005"),          # 0.000495 rounds half-up to 5 decimals
    ("3", "0.33", 50_000, 1, "0.03317"),         # 0.0331650 -> 0.03317 (half-up)
    ("5", "0.5", 0, 1, "0"),                     # fee-free market
])
def test_taker_fee_formula_and_rounding(size: str, price: str, rate: int, exponent: int,
                                        expected: str) -> None:
    assert taker_fee(Q(size), P(price), rate, exponent, 5) == Money(parse_qty(expected))


def test_makers_pay_no_fee_and_sell_takers_pay_from_proceeds(exchange: Exchange) -> None:
    alice = make_trader(exchange, ALICE_KEY, tokens={LAKERS: Q("100")})
    exchange.place_house_order(LAKERS, Side.BUY, P("0.50"), Q("100"))
    alice.post(alice.limit(LAKERS, Side.SELL, "0.50", "100", order_type=OrderType.FOK))
    assert exchange.account(alice.address).collateral == Q("1000") + Q("50") - Q("1.25")
    assert exchange.fees_collected == Q("1.25")
    bob = make_trader(exchange, BOB_KEY)
    bob.post(bob.limit(LAKERS, Side.BUY, "0.30", "10"))
    exchange.place_house_order(LAKERS, Side.SELL, P("0.30"), Q("10"))
    assert exchange.account(bob.address).collateral == Q("1000") - Q("3")


def test_book_events_report_new_totals_and_best_prices(exchange: Exchange, alice: Trader) -> None:
    seen = []
    exchange.add_listener(seen.append)
    alice.post(alice.limit(LAKERS, Side.BUY, "0.40", "10"))
    alice.post(alice.limit(LAKERS, Side.BUY, "0.40", "5"))
    changes = [e for e in seen if type(e).__name__ == "BookChanged"][-1].changes
    assert [(c.asset_id, c.side.value, c.price, c.size, c.best_bid, c.best_ask)
            for c in changes] == [
        (LAKERS, "BUY", P("0.40"), Q("15"), P("0.40"), None),
        (GRIZZLIES, "SELL", P("0.60"), Q("15"), None, P("0.60"))]


def test_history_is_bounded_but_open_orders_are_kept(exchange: Exchange,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from arb.sim.polymarket import core
    monkeypatch.setattr(core, "MAX_HISTORY", 10)
    keep = exchange.place_house_order(LAKERS, Side.BUY, P("0.10"), Q("5")).order_id
    gone = []
    for _ in range(12):
        order_id = exchange.place_house_order(LAKERS, Side.BUY, P("0.20"), Q("5")).order_id
        exchange.cancel_house_order(order_id)
        gone.append(order_id)
    assert exchange.order(keep) is not None
    assert exchange.order(gone[0]) is None and exchange.order(gone[-1]) is not None
    stats = exchange.statistics()
    assert stats.open_orders == 1 and stats.orders <= 11
