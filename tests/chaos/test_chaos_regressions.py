"""Bugs the seeded chaos runs found, pinned at the layer where they were fixed."""
from __future__ import annotations

from arb.domain import Instrument, Outcome, Side, TimeInForce
from arb.money import SCALE, parse_price
from arb.venues.kalshi.directory import OrderDirectory
from arb.venues.kalshi.parse import OrderIntent, parse_fill

TICKER = "KXEPLGAME-26NOV25LEEWOL-LEE"


def _fill(**extra: object) -> dict[str, object]:
    # A sell of YES at 0.28 as Kalshi reports it: exposure NO, YES price 0.28.
    return {"trade_id": "t-1", "order_id": "o-1", "market_ticker": TICKER, "side": "no",
            "action": "buy", "outcome_side": "no", "yes_price_dollars": "0.2800",
            "count_fp": "5.00", "fee_cost": "0.01", "is_taker": True, "ts_ms": 1_000, **extra}


def test_a_rest_fill_of_an_order_whose_create_answer_was_lost_is_read_in_our_terms():
    # seed 47: the create answer of a YES sell was a 502 after the venue placed it, so the
    # directory never learned its order id. The websocket fill (both ids) was booked as
    # "sell YES"; the REST fill (order id only) was read as "buy NO" and the ledger refused
    # the trade as a conflict, killing the stop path's reconciliation.
    directory = OrderDirectory()
    directory.remember("c-1", OrderIntent(TICKER, Outcome.YES, Side.SELL, TimeInForce.IOC))
    ws = parse_fill(_fill(client_order_id="c-1"), intent=directory.lookup("o-1", "c-1"))
    rest = parse_fill(_fill(), intent=directory.lookup("o-1"))
    assert [(f.instrument, f.side, f.price, f.qty) for f in (ws, rest)] == [(
        Instrument.kalshi(TICKER, Outcome.YES), Side.SELL, parse_price("0.28"), 5 * SCALE)] * 2
    assert (rest.instrument, rest.side, rest.price) == (
        Instrument.kalshi(TICKER, Outcome.YES), Side.SELL, parse_price("0.28"))


def test_an_unknown_client_id_links_nothing():
    directory = OrderDirectory()
    assert directory.lookup("o-1", "c-unknown") is None
    assert directory.lookup("o-1") is None
