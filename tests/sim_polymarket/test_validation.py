"""Order validation: the venue's order of checks and its error texts (venues.md B4.4, B5.2, E)."""
from __future__ import annotations

import attrs
import pytest

from arb.domain import Side
from arb.money import parse_price, parse_qty
from arb.sim.polymarket.core import Exchange, OrderError, PostOrder
from arb.sim.polymarket.model import OrderType
from arb.sim.polymarket.runner import open_funded_account

from .conftest import ARS_YES, BOB_KEY, LAKERS, NBA_CID, T0_MS, Trader, make_trader, nba_event

P = parse_price
Q = parse_qty


def _error(trader: Trader, request: PostOrder) -> str:
    with pytest.raises(OrderError) as info:
        trader.post(request)
    return info.value.message


def test_owner_must_be_the_api_key(alice: Trader, bob: Trader) -> None:
    request = attrs.evolve(alice.limit(LAKERS, Side.BUY, "0.5", "10"), owner=bob.creds.api_key)
    assert _error(alice, request) == "the order owner has to be the owner of the API KEY"


def test_signer_must_be_the_api_key_address_before_the_signature_is_checked(
        alice: Trader, bob: Trader) -> None:
    request = bob.limit(LAKERS, Side.BUY, "0.555", "10")  # also off tick and signed by bob
    request = attrs.evolve(request, owner=alice.creds.api_key)
    assert _error(alice, request) == (
        "the order signer address has to be the address of the API KEY")


def test_bad_signature_is_refused_before_price_checks(alice: Trader) -> None:
    order = alice.signed(LAKERS, Side.BUY, 5_550_000, 10_000_000, key=BOB_KEY)  # off tick too
    order = attrs.evolve(order, signer=alice.address, maker=alice.address)
    request = PostOrder(order, owner=alice.creds.api_key, order_type=OrderType.GTC)
    assert _error(alice, request) == "invalid signature"
    tampered = alice.limit(LAKERS, Side.BUY, "0.50", "10")
    tampered = attrs.evolve(tampered, order=attrs.evolve(tampered.order, taker_amount=20_000_000))
    assert _error(alice, tampered) == "invalid signature"


def test_neg_risk_market_needs_the_neg_risk_exchange(alice: Trader) -> None:
    wrong = alice.limit(ARS_YES, Side.BUY, "0.50", "10", neg_risk=False)
    assert _error(alice, wrong) == "invalid signature"
    assert alice.post(alice.limit(ARS_YES, Side.BUY, "0.50", "10", neg_risk=True)).status == "live"


def test_tick_size_and_price_range(alice: Trader) -> None:
    assert "INVALID_ORDER_MIN_TICK_SIZE" in _error(alice, alice.limit(LAKERS, Side.BUY,
                                                                      "0.555", "10"))
    assert "breaks minimum tick size rule: 0.01" in _error(
        alice, alice.limit(LAKERS, Side.BUY, "0.555", "10"))
    assert "Price (1) is outside [0.01, 0.99]" in _error(alice, alice.signed_limit_raw(
        LAKERS, Side.BUY, 10_000_000, 10_000_000))


@pytest.mark.parametrize(("side", "order_type", "maker", "taker", "text"), [
    (Side.BUY, OrderType.GTC, 11_782_401, 21_040_000,  # float dust: 0.56000005
     "invalid amounts, the buy orders maker amount supports a max accuracy of 4 decimals, "
     "taker amount a max of 2 decimals"),
    (Side.SELL, OrderType.GTC, 10_001_000, 5_000_500,
     "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals, "
     "taker amount a max of 4 decimals"),
    (Side.BUY, OrderType.FOK, 5_555_000, 10_100_000,
     "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 "
     "decimals, taker amount a max of 4 decimals"),
    (Side.SELL, OrderType.FAK, 10_000_000, 5_000_010,
     "invalid amounts, the market sell orders maker amount supports a max accuracy of 2 "
     "decimals, taker amount a max of 4 decimals"),
])
def test_precision_family(alice: Trader, side: Side, order_type: OrderType, maker: int,
                          taker: int, text: str) -> None:
    exchange = alice.exchange
    exchange.fund(alice.address, tokens={LAKERS: Q("100")})
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("100"))
    exchange.place_house_order(LAKERS, Side.BUY, P("0.40"), Q("100"))
    request = PostOrder(alice.signed(LAKERS, side, maker, taker), owner=alice.creds.api_key,
                        order_type=order_type)
    assert _error(alice, request) == text


def test_precision_follows_the_tick(exchange: Exchange) -> None:
    exchange.add_event(attrs.evolve(nba_event(tick=1_000), id="2", markets=(attrs.evolve(
        nba_event().markets[0], condition_id="0x" + "77" * 32, tick_size=P("0.001"),
        tokens=(attrs.evolve(nba_event().markets[0].tokens[0], token_id="7"),
                attrs.evolve(nba_event().markets[0].tokens[1], token_id="8"))),)))
    alice = make_trader(exchange, BOB_KEY)
    # limit BUY 100 @ 0.523 on tick 0.001 (venues.md B4.4 row): 5 decimals of pUSD accepted
    ok = PostOrder(alice.signed("7", Side.BUY, 52_300_000, 100_000_000),
                   owner=alice.creds.api_key, order_type=OrderType.GTC)
    assert alice.post(ok).status == "live"
    bad = PostOrder(alice.signed("7", Side.BUY, 10_460_001, 20_000_000),
                    owner=alice.creds.api_key, order_type=OrderType.GTC)
    assert "max accuracy of 5 decimals" in _error(alice, bad)


def test_market_order_amounts_from_the_official_table_are_accepted(alice: Trader) -> None:
    exchange = alice.exchange
    exchange.place_house_order(LAKERS, Side.SELL, P("0.60"), Q("200"))
    # market BUY $100 @ 0.6 -> 100000000 / 166666600 (venues.md B4.4)
    request = PostOrder(alice.signed(LAKERS, Side.BUY, 100_000_000, 166_666_600),
                        owner=alice.creds.api_key, order_type=OrderType.FOK)
    result = alice.post(request)
    assert result.status == "matched" and result.taking_amount == 166_666_600
    assert result.making_amount == 99_999_960  # shares x 0.60, rounded down


def test_minimum_sizes(alice: Trader) -> None:
    text = _error(alice, alice.limit(LAKERS, Side.BUY, "0.50", "4.99"))
    assert text.startswith("INVALID_ORDER_MIN_SIZE") and "Size (4.99) lower than the minimum: 5" in text
    alice.exchange.place_house_order(LAKERS, Side.SELL, P("0.10"), Q("100"))
    market_small = PostOrder(alice.signed(LAKERS, Side.BUY, 990_000, 9_900_000),
                             owner=alice.creds.api_key, order_type=OrderType.FOK)
    assert "Amount ($0.99) lower than the minimum: $1" in _error(alice, market_small)
    crossing_small = alice.limit(LAKERS, Side.BUY, "0.10", "9")
    assert "lower than the minimum: $1" in _error(alice, crossing_small)


def test_post_only(alice: Trader) -> None:
    alice.exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("100"))
    assert _error(alice, alice.limit(LAKERS, Side.BUY, "0.50", "10", post_only=True)) == (
        "invalid post-only order: order crosses book")
    assert "only GTC and GTD" in _error(alice, alice.limit(
        LAKERS, Side.BUY, "0.50", "10", post_only=True, order_type=OrderType.FOK))
    assert alice.post(alice.limit(LAKERS, Side.BUY, "0.49", "10", post_only=True)).status == "live"


def test_gtd_needs_expiration_beyond_the_safety_minute(alice: Trader) -> None:
    now_s = T0_MS // 1000
    text = _error(alice, alice.limit(LAKERS, Side.BUY, "0.50", "10", order_type=OrderType.GTD,
                                     expiration=now_s + 60))
    assert text.startswith("INVALID_ORDER_EXPIRATION")
    result = alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10", order_type=OrderType.GTD,
                                    expiration=now_s + 90))
    assert result.status == "live"
    alice.exchange.advance(T0_MS + 29_000)
    assert alice.exchange.orders_of(alice.address) != []
    alice.exchange.advance(T0_MS + 30_000)  # leaves the book 60 s before its expiration
    assert alice.exchange.orders_of(alice.address) == []


def test_balance_and_allowance(exchange: Exchange) -> None:
    poor = make_trader(exchange, BOB_KEY, collateral=Q("4.99"))
    assert _error(poor, poor.limit(LAKERS, Side.BUY, "0.50", "10")) == (
        "not enough balance / allowance")
    assert _error(poor, poor.limit(LAKERS, Side.SELL, "0.50", "10")) == (
        "not enough balance / allowance")
    exchange.fund(poor.address, collateral=Q("0.01"))
    exchange.account(poor.address).collateral_approved = False
    assert _error(poor, poor.limit(LAKERS, Side.BUY, "0.50", "10")) == (
        "not enough balance / allowance")
    exchange.account(poor.address).collateral_approved = True
    assert poor.post(poor.limit(LAKERS, Side.BUY, "0.50", "10")).status == "live"


def test_taker_buy_must_cover_the_fee(exchange: Exchange) -> None:
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("10"))
    exact = make_trader(exchange, BOB_KEY, collateral=Q("5"))
    assert _error(exact, exact.limit(LAKERS, Side.BUY, "0.50", "10")) == (
        "not enough balance / allowance")
    exchange.fund(exact.address, collateral=Q("0.125"))  # 10 x 0.05 x 0.25
    assert exact.post(exact.limit(LAKERS, Side.BUY, "0.50", "10")).status == "matched"
    assert exchange.account(exact.address).collateral == 0


def test_duplicate_and_closed_market(alice: Trader) -> None:
    request = alice.limit(LAKERS, Side.BUY, "0.50", "10")
    alice.post(request)
    assert "INVALID_ORDER_DUPLICATED" in _error(alice, request)
    alice.exchange.set_accepting_orders(NBA_CID, False)
    assert _error(alice, alice.limit(LAKERS, Side.BUY, "0.40", "10")).startswith(
        "MARKET_NOT_READY")


def test_tick_change_rejects_stale_prices(alice: Trader) -> None:
    alice.exchange.set_tick_size(NBA_CID, P("0.1"))
    assert "breaks minimum tick size rule: 0.1" in _error(
        alice, alice.limit(LAKERS, Side.BUY, "0.55", "10"))
    assert alice.post(alice.limit(LAKERS, Side.BUY, "0.5", "10")).status == "live"


def test_proxy_wallet_orders_trade_from_the_funder(exchange: Exchange) -> None:
    funder = "0x" + "5a" * 20

    account = open_funded_account(exchange, BOB_KEY, collateral=Q("100"), signature_type=1,
                                  funder=funder, create_api_key=True)
    trader = Trader(exchange, BOB_KEY, account.creds)
    as_eoa = PostOrder(trader.signed(LAKERS, Side.BUY, 5_000_000, 10_000_000),
                       owner=account.creds.api_key, order_type=OrderType.GTC)
    assert _error(trader, as_eoa) == "invalid signature"
    wrong_funder = PostOrder(trader.signed(LAKERS, Side.BUY, 5_000_000, 10_000_000,
                                           funder="0x" + "6b" * 20, signature_type=1),
                             owner=account.creds.api_key, order_type=OrderType.GTC)
    assert _error(trader, wrong_funder) == "invalid POLY_PROXY signature"
    proxied = PostOrder(trader.signed(LAKERS, Side.BUY, 5_000_000, 10_000_000, funder=funder,
                                      signature_type=1),
                        owner=account.creds.api_key, order_type=OrderType.GTC)
    result = trader.post(proxied)
    assert exchange.order(result.order_id).maker_address.lower() == funder


def test_insufficient_balance_fault_hits_the_next_order_only(alice: Trader) -> None:
    alice.exchange.faults.insufficient_balance_next_orders = 1
    assert _error(alice, alice.limit(LAKERS, Side.BUY, "0.50", "10")) == (
        "not enough balance / allowance")
    assert alice.post(alice.limit(LAKERS, Side.BUY, "0.50", "10")).status == "live"


def test_adjacent_checks_fire_in_the_documented_order(exchange: Exchange) -> None:
    poor = make_trader(exchange, BOB_KEY, collateral=Q("1"))
    exchange.place_house_order(LAKERS, Side.SELL, P("0.50"), Q("100"))
    # precision before minimum size: 2.000001 pUSD for 4 shares (dust on 0.50, below 5)
    assert _error(poor, poor.signed_limit_raw(LAKERS, Side.BUY, 2_000_001, 4_000_000)
                  ).startswith("invalid amounts")
    # minimum size before post-only: 4 shares crossing, post-only
    request = poor.limit(LAKERS, Side.BUY, "0.50", "4", post_only=True)
    assert _error(poor, request).startswith("INVALID_ORDER_MIN_SIZE")
    # post-only before balance: crossing post-only from an account that cannot pay
    request = poor.limit(LAKERS, Side.BUY, "0.50", "10", post_only=True)
    assert _error(poor, request) == "invalid post-only order: order crosses book"
    # GTD expiration before balance
    request = poor.limit(LAKERS, Side.BUY, "0.40", "10", order_type=OrderType.GTD,
                         expiration=T0_MS // 1000)
    assert _error(poor, request).startswith("INVALID_ORDER_EXPIRATION")
    # balance before FOK fillability: 200 shares cannot fill and cannot be paid for
    request = poor.limit(LAKERS, Side.BUY, "0.50", "200", order_type=OrderType.FOK)
    assert _error(poor, request) == "not enough balance / allowance"
