"""Order preparation: V2 side mapping, safe-direction grid rounding, counts, exact JSON bytes."""
from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.money import ONE, Price, Qty, Round, parse_price, parse_qty
from arb.pairs import PriceBand
from arb.venues.kalshi.adapter import KalshiAdapter, book_side
from arb.venues.kalshi.directory import OrderDirectory
from arb.venues.kalshi.grid import GridError, MarketRules, parse_market_rules
from arb.venues.kalshi.limiter import KalshiRateLimiter, Tier
from arb.venues.kalshi.rest import KalshiRestClient
from arb.venues.protocol import OrderRequest, Rejected

P = parse_price
Q = parse_qty
T = "KXNBAGAME-25NOV28DALLAL-LAL"

# tapered_deci_cent: 0.001 below 0.10 and above 0.90, 0.01 between.
TAPERED = MarketRules((PriceBand(P("0"), P("0.10"), P("0.001")),
                       PriceBand(P("0.10"), P("0.90"), P("0.01")),
                       PriceBand(P("0.90"), P("1"), P("0.001"))))
CENTI_EDGES = MarketRules((PriceBand(P("0"), P("0.01"), P("0.0001")),
                           PriceBand(P("0.01"), P("0.99"), P("0.001")),
                           PriceBand(P("0.99"), P("1"), P("0.0001"))), fractional=True,
                          exchange_index=3)


@pytest.fixture
def adapter() -> KalshiAdapter:
    rest = KalshiRestClient(httpx.AsyncClient(), None, KalshiRateLimiter.for_tier(Tier.BASIC),
                            OrderDirectory())
    return KalshiAdapter(rest)


def _req(outcome, side, price, qty="10", tif=TimeInForce.IOC, cid="c-1", ticker=T):
    return OrderRequest(cid, Instrument.kalshi(ticker, outcome), side, P(price), Q(qty), tif)


@pytest.mark.parametrize("outcome,side,expected", [
    (Outcome.YES, Side.BUY, "bid"), (Outcome.YES, Side.SELL, "ask"),
    (Outcome.NO, Side.BUY, "ask"), (Outcome.NO, Side.SELL, "bid")])
def test_book_side_table(outcome, side, expected):
    assert book_side(outcome, side) == expected


def test_buy_yes_exact_bytes(adapter):
    prepared = adapter.prepare(_req(Outcome.YES, Side.BUY, "0.56"))
    assert prepared.payload == (
        b'{"ticker":"KXNBAGAME-25NOV28DALLAL-LAL","client_order_id":"c-1","side":"bid",'
        b'"count":"10.00","price":"0.5600","time_in_force":"immediate_or_cancel",'
        b'"self_trade_prevention_type":"taker_at_cross"}')
    assert prepared.price == P("0.56") and prepared.qty == Q("10")
    assert prepared.venue_order_id is None


def test_buy_no_maps_to_ask_at_one_minus_q(adapter):
    prepared = adapter.prepare(_req(Outcome.NO, Side.BUY, "0.43", tif=TimeInForce.FOK))
    body = json.loads(prepared.payload)
    assert body["side"] == "ask" and body["price"] == "0.5700"
    assert body["time_in_force"] == "fill_or_kill"
    assert prepared.price == P("0.43")


def test_buy_no_off_grid_never_pays_above_limit(adapter):
    # NO limit 0.435 on whole cents: the YES ask at 0.565 rounds UP to 0.57, i.e. NO at 0.43.
    prepared = adapter.prepare(_req(Outcome.NO, Side.BUY, "0.435"))
    assert json.loads(prepared.payload)["price"] == "0.5700"
    assert prepared.price == P("0.43")


def test_buy_yes_off_grid_rounds_down_and_sell_yes_rounds_up(adapter):
    assert adapter.prepare(_req(Outcome.YES, Side.BUY, "0.5699")).price == P("0.56")
    assert adapter.prepare(_req(Outcome.YES, Side.SELL, "0.5601")).price == P("0.57")
    # sell NO at q: bid YES at 1-q rounded down, so NO received >= q.
    assert adapter.prepare(_req(Outcome.NO, Side.SELL, "0.4301")).price == P("0.44")


def test_sub_cent_grid_keeps_0995_distinct(adapter):
    adapter.set_market_rules(T, TAPERED)
    prepared = adapter.prepare(_req(Outcome.YES, Side.BUY, "0.995"))
    assert json.loads(prepared.payload)["price"] == "0.9950"
    prepared = adapter.prepare(_req(Outcome.YES, Side.BUY, "0.5555"))
    assert prepared.price == P("0.55")
    prepared = adapter.prepare(_req(Outcome.NO, Side.BUY, "0.0055"))  # YES ask at 0.9945 -> 0.995
    assert json.loads(prepared.payload)["price"] == "0.9950" and prepared.price == P("0.005")


def test_fractional_counts_shard_and_four_decimals(adapter):
    adapter.set_market_rules(T, CENTI_EDGES)
    prepared = adapter.prepare(_req(Outcome.YES, Side.BUY, "0.9987", qty="2.379",
                                    tif=TimeInForce.GTC))
    body = json.loads(prepared.payload)
    assert body["count"] == "2.37" and body["price"] == "0.9987"
    assert body["exchange_index"] == 3 and body["cancel_order_on_pause"] is True
    assert body["time_in_force"] == "good_till_canceled"
    assert prepared.qty == Q("2.37")


def test_whole_contracts_round_down(adapter):
    assert adapter.prepare(_req(Outcome.YES, Side.BUY, "0.5", qty="9.99")).qty == Q("9")
    with pytest.raises(Rejected, match="rounds to zero"):
        adapter.prepare(_req(Outcome.YES, Side.BUY, "0.5", qty="0.5"))


@pytest.mark.parametrize("price", ["0", "1"])
def test_limit_outside_open_interval(adapter, price):
    with pytest.raises(Rejected, match=r"outside \(0, 1\)"):
        adapter.prepare(_req(Outcome.YES, Side.BUY, price))


def test_no_grid_price_on_the_safe_side(adapter):
    with pytest.raises(Rejected, match="no valid Kalshi price"):
        adapter.prepare(_req(Outcome.YES, Side.BUY, "0.005"))  # below 0.01 on whole cents


def test_not_kalshi_or_bad_token(adapter):
    poly = OrderRequest("c", Instrument.polymarket("0xabc", "123"), Side.BUY, P("0.5"), Q("1"),
                        TimeInForce.IOC)
    with pytest.raises(Rejected, match="not a Kalshi instrument"):
        adapter.prepare(poly)
    odd = OrderRequest("c", Instrument(Venue.KALSHI, T, "maybe"), Side.BUY, P("0.5"), Q("1"),
                       TimeInForce.IOC)
    with pytest.raises(Rejected, match="token must be"):
        adapter.prepare(odd)


def test_prepare_records_intent(adapter):
    adapter.prepare(_req(Outcome.YES, Side.SELL, "0.6", cid="unwind-7"))
    intent = adapter.directory.lookup(client_id="unwind-7")
    assert intent is not None and intent.side is Side.SELL and intent.exposure is Outcome.NO


@given(st.integers(1, 999_999), st.sampled_from([Round.UP, Round.DOWN]))
def test_grid_rounding_is_safe_and_on_grid(price, rounding):
    for rules in (MarketRules.default(), TAPERED, CENTI_EDGES):
        try:
            out = rules.round_price(Price(price), rounding)
        except GridError:
            continue
        assert rules.on_grid(out)
        assert (out <= price) if rounding is Round.DOWN else (out >= price)
        assert 0 < out < ONE


def test_market_rules_from_market_object():
    rules = parse_market_rules({"ticker": "X", "price_level_structure": "tapered_deci_cent",
                                "price_ranges": [
                                    {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
                                    {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
                                    {"start": "0.9000", "end": "1.0000", "step": "0.0010"}],
                                "exchange_index": 3, "fractional_trading_enabled": True})
    assert rules == MarketRules(TAPERED.grid, fractional=True, exchange_index=3)
    with pytest.raises(GridError, match="lacks 'step'"):
        parse_market_rules({"ticker": "X", "price_ranges": [{"start": "0", "end": "1"}]})
    assert parse_market_rules({"ticker": "X"}).count_step == Qty(1_000_000)
