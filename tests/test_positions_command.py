"""``arb positions`` on a real SQLite ledger with fills: hedged pairs grouped, exposure called out."""
from __future__ import annotations

import json

from arb.cli import main
from arb.commands.positions import build_report
from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.ledger import Intent, Ledger
from arb.money import parse_money, parse_price, parse_qty
from arb.tradelog import ledger_path
from arb.venues.protocol import Fill, FillStatus

P1 = "KXNBAGAME-26NOV25LALBOS-LAL|0xcond"
P2 = "KXNBAGAME-26NOV25NYKMIA-NYK|0xnyk"
POLY_YES = Instrument.polymarket("0xcond", "tok-lal")
KALSHI_NO = Instrument.kalshi("KXNBAGAME-26NOV25LALBOS-LAL", Outcome.NO)
NYK_YES = Instrument.kalshi("KXNBAGAME-26NOV25NYKMIA-NYK", Outcome.YES)
NYK_POLY_NO = Instrument.polymarket("0xnyk", "tok-mia")
MANUAL = Instrument.kalshi("KXNHLGAME-26NOV25BOSNYR-BOS", Outcome.YES)


def fill(ledger: Ledger, trade: str, instrument: Instrument, price: str, qty: str, fee: str,
         client_id: str | None, *, side: Side = Side.BUY,
         status: FillStatus = FillStatus.CONFIRMED) -> None:
    ledger.record_fill(Fill(instrument.venue, trade, f"o-{client_id or trade}", client_id,
                            instrument, side, parse_price(price), parse_qty(qty),
                            parse_money(fee), True, status, 1))


def intent(ledger: Ledger, execution_id: str, pair_id: str, leg: str,
           instrument: Instrument, qty: str = "10") -> str:
    client_id = f"{execution_id}-{leg}"
    ledger.record_intent(Intent(client_id, execution_id, pair_id, "event", leg, instrument,
                                Side.BUY, parse_price("0.50"), parse_qty(qty), TimeInForce.IOC))
    return client_id


def build(path) -> None:
    with Ledger.open(path, mode="live") as ledger:
        a = intent(ledger, "x1", P1, "a", POLY_YES)
        b = intent(ledger, "x1", P1, "b", KALSHI_NO)
        fill(ledger, "t1", POLY_YES, "0.43", "10", "0.01", a)
        fill(ledger, "t2", KALSHI_NO, "0.45", "10", "0.08", b)
        a = intent(ledger, "x2", P1, "a", POLY_YES, "5")
        b = intent(ledger, "x2", P1, "b", KALSHI_NO, "5")
        fill(ledger, "t3", POLY_YES, "0.44", "5", "0.01", a)
        fill(ledger, "t4", KALSHI_NO, "0.46", "2", "0.01", b)
        fill(ledger, "t5", KALSHI_NO, "0.46", "3", "0", b, status=FillStatus.FAILED)  # ghost
        # Pair 2: the Kalshi leg filled, the Polymarket leg only provisionally, partly.
        a = intent(ledger, "x3", P2, "a", NYK_YES, "4")
        b = intent(ledger, "x3", P2, "b", NYK_POLY_NO, "4")
        fill(ledger, "t6", NYK_YES, "0.30", "4", "0.02", a)
        fill(ledger, "t7", NYK_POLY_NO, "0.65", "1.5", "0", b, status=FillStatus.PROVISIONAL)
        # A trade reconciliation found with no intent of ours (a manual trade).
        fill(ledger, "t8", MANUAL, "0.50", "2", "0", None)
        # Bought and fully sold: flat, so not listed.
        fill(ledger, "t9", Instrument.kalshi("KXOLD", Outcome.YES), "0.5", "1", "0", None)
        fill(ledger, "t10", Instrument.kalshi("KXOLD", Outcome.YES), "0.6", "1", "0", None,
             side=Side.SELL)


def test_report_groups_hedges_and_calls_out_exposure(tmp_path):
    path = tmp_path / "ledger-live.sqlite3"
    build(path)
    with Ledger.open(path, mode="live") as ledger:
        report = build_report(ledger)
    holdings = {h.instrument: h for h in report.holdings}
    assert set(holdings) == {POLY_YES, KALSHI_NO, NYK_YES, NYK_POLY_NO, MANUAL}
    assert holdings[POLY_YES].qty == parse_qty("15")
    assert holdings[KALSHI_NO].qty == parse_qty("12")  # the ghost fill does not count
    # (10 x 0.43 + 5 x 0.44 + 0.02 fees) / 15 = 0.4346666... rounded up
    assert holdings[POLY_YES].avg_cost == parse_money("0.434667")
    # (10 x 0.45 + 2 x 0.46 + 0.09 fees) / 12 = 0.4591666...
    assert holdings[KALSHI_NO].avg_cost == parse_money("0.459167")
    assert holdings[NYK_POLY_NO].provisional_qty == parse_qty("1.5")
    assert holdings[NYK_YES].provisional_qty == 0

    hedged = {h.pair_id: h for h in report.hedged}
    assert set(hedged) == {P1, P2}
    assert hedged[P1].qty == parse_qty("12") and set(hedged[P1].legs) == {POLY_YES, KALSHI_NO}
    # 12 - 12 x 0.434667 - 12 x 0.459167 = 12 - 5.216004 - 5.510004
    assert hedged[P1].locked_pnl == parse_money("1.273992")
    assert hedged[P2].qty == parse_qty("1.5")

    unhedged = {e.instrument: e for e in report.unhedged}
    assert set(unhedged) == {POLY_YES, NYK_YES, MANUAL}
    assert unhedged[POLY_YES].qty == parse_qty("3") and unhedged[POLY_YES].pair_id == P1
    assert unhedged[POLY_YES].cost == parse_money("1.304001")
    assert unhedged[NYK_YES].qty == parse_qty("2.5") and unhedged[NYK_YES].pair_id == P2
    assert unhedged[MANUAL].pair_id is None and unhedged[MANUAL].cost == parse_money("1")
    assert report.unhedged_cost == parse_money("1.304001") + parse_money("0.7625") + \
        parse_money("1")  # NYK: 2.5 x (1.20 + 0.02) / 4 = 0.305 per contract


def test_positions_command_json_and_table(tmp_path, capsys):
    build(ledger_path(tmp_path, "live"))
    assert main(["positions", "--state-dir", str(tmp_path), "--mode", "live", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "live"
    p1 = next(h for h in out["hedged"] if h["pair_id"] == P1)
    assert (p1["qty"], p1["locked_pnl"]) == ("12.000000", "1.273992")
    assert {"venue": "kalshi", "market": "KXNBAGAME-26NOV25LALBOS-LAL", "token": "no"} \
        in p1["legs"]
    assert out["unhedged_cost"] == "3.066501"
    manual = next(e for e in out["unhedged"] if e["market"] == MANUAL.market)
    assert manual == {"venue": "kalshi", "market": MANUAL.market, "token": "yes",
                      "pair_id": None, "qty": "2.000000", "cost": "1.000000"}

    assert main(["positions", "--ledger", str(ledger_path(tmp_path, "live"))]) == 0
    table = capsys.readouterr().out
    assert "Positions (live ledger" in table and "UNHEDGED EXPOSURE" in table
    assert "unhedged exposure $3.06 on 3 instruments" in table
    assert "$1.27" in table and Venue.POLYMARKET.value in table


def test_positions_on_a_flat_or_missing_ledger(tmp_path, capsys):
    assert main(["positions", "--state-dir", str(tmp_path)]) == 1
    assert "no paper ledger at" in capsys.readouterr().err
    Ledger.open(ledger_path(tmp_path, "paper"), mode="paper").close()
    assert main(["positions", "--state-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"mode": "paper", "holdings": [], "hedged": [], "unhedged": [],
                   "unhedged_cost": "0.000000"}
    assert main(["positions", "--state-dir", str(tmp_path)]) == 0
    assert "no unhedged exposure" in capsys.readouterr().out
