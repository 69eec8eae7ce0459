"""Bugs the seeded chaos runs found, pinned at the layer where they were fixed."""
from __future__ import annotations

import attrs
import pytest

from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.ledger import FillConflict, Intent, Ledger
from arb.money import CENT, SCALE, parse_price, parse_qty
from arb.sim.kalshi.faults import faults_of
from arb.sim.world import build_world
from arb.venues.kalshi.directory import OrderDirectory
from arb.venues.kalshi.parse import OrderIntent, parse_fill
from arb.venues.protocol import Fill, FillStatus

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


def _sell_yes_intent(ledger: Ledger) -> Instrument:
    yes = Instrument.kalshi(TICKER, Outcome.YES)
    ledger.record_intent(Intent("c-1", "x-1", f"{TICKER}|0xcond", "epl:LEEWOL", "unwind-1", yes,
                                Side.SELL, parse_price("0.28"), parse_qty("5"),
                                TimeInForce.IOC, "o-1"))
    return yes


def _kalshi_fill(instrument: Instrument, side: Side, price: str) -> Fill:
    return Fill(Venue.KALSHI, "t-1", "o-1", None, instrument, side, parse_price(price),
                parse_qty("5"), 0, True, FillStatus.CONFIRMED, 1_000)


def test_a_kalshi_fill_reread_after_a_restart_is_the_same_trade_in_our_terms(tmp_path):
    # seed 47, restart: a fresh process's adapter no longer knows the order, so the REST fill
    # of our YES sell reads "buy NO at 0.72"; the ledger held it as "sell YES at 0.28" and
    # refused it as a conflict, failing the restarted bot's startup reconciliation.
    with Ledger.open(tmp_path / "live.sqlite3", mode="live") as ledger:
        yes = _sell_yes_intent(ledger)
        assert ledger.record_fill(_kalshi_fill(yes, Side.SELL, "0.28"))
        mirrored = _kalshi_fill(Instrument.kalshi(TICKER, Outcome.NO), Side.BUY, "0.72")
        assert ledger.record_fill(mirrored) is False
        assert ledger.positions() == {yes: -parse_qty("5")}
        # A different trade on the same order, also first seen in the other terms, is booked in
        # ours (no NO position appears beside the YES one).
        assert ledger.record_fill(attrs.evolve(mirrored, trade_id="t-2"))
        assert ledger.positions() == {yes: -parse_qty("10")}
        # Economics that are not the mirror image are still a conflict.
        with pytest.raises(FillConflict):
            ledger.record_fill(_kalshi_fill(Instrument.kalshi(TICKER, Outcome.NO), Side.BUY,
                                            "0.70"))


def test_a_client_balance_fault_is_not_taken_by_the_house_market_maker():
    # Chaos draws `poly-no-balance` (reject the next client order for balance): the house
    # market maker's next quote took it, raised, and the exception ended the simulated world.
    world = build_world(5, leagues=("nba",))
    world.poly.faults.insufficient_balance_next_orders = 1
    token = world.slate.pairs[0].yes_token
    world.poly.place_house_order(token, Side.BUY, parse_price("0.01"), parse_qty("10"))
    assert world.poly.faults.insufficient_balance_next_orders == 1


def test_the_house_market_maker_waits_out_a_kalshi_trading_pause():
    # Chaos draws `kalshi-pause`: the house's next Kalshi quote was refused (trading paused),
    # and the exception ended the simulated world.
    world = build_world(5, leagues=("nba",))
    maker, game = world.maker, world.maker.games[0]
    resting = world.kalshi.account(maker.kalshi_house).resting
    maker.quote_all()
    quoted = len(resting)
    assert quoted > 0
    faults_of(world.kalshi).pause_trading(True)
    maker.fair[game.pairs[0].kalshi_ticker] += 5 * CENT  # every level moves: cancel, requote
    maker.requote(game)
    assert len(resting) < quoted
    faults_of(world.kalshi).pause_trading(False)
    maker.requote(game)
    assert len(resting) == quoted
