"""Trade log on a real SQLite ledger: migration 4, the trade-log view, CSV, ``arb trades``."""
from __future__ import annotations

import csv
import datetime
import io
import sqlite3

import pytest

from arb.cli import main
from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.ledger import (
    LATEST_VERSION,
    MIGRATIONS,
    DetectedLeg,
    Detection,
    ExecutionStart,
    Intent,
    Ledger,
    LedgerError,
    LedgerMode,
    migrate,
    schema_version,
)
from arb.money import parse_money, parse_price, parse_qty
from arb.orders import Leg, LegState
from arb.quality import FillOutcome, calibration
from arb.tradelog import (
    CSV_COLUMNS,
    calibration_attempts,
    expected_pnl_hedged,
    fill_outcome,
    hedged_qty,
    ledger_path,
    parse_since,
    write_csv,
)
from arb.venues.protocol import Fill, FillStatus

PAIR = "KXNBAGAME-26NOV25LALBOS-LAL|0xcond"
KALSHI_NO = Instrument.kalshi("KXNBAGAME-26NOV25LALBOS-LAL", Outcome.NO)
POLY_YES = Instrument.polymarket("0xcond", "tok-lal")
T0 = int(datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC).timestamp() * 1000)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        self.now += 1000
        return self.now


def start(execution_id: str, size: str = "10") -> ExecutionStart:
    return ExecutionStart(execution_id, PAIR, "poly_yes_kalshi_no", parse_qty(size),
                          parse_money("0.456789"), 720_000, 800_000)


def detection(size: str = "10", fill_pct: int = 72) -> Detection:
    return Detection(
        parse_money("0.456789"), 487, parse_money("0.954322"), "medium", fill_pct, 45,
        (DetectedLeg("a", POLY_YES, Side.BUY, "Lakers", parse_price("0.44"), parse_qty(size),
                     parse_price("0.43"), parse_qty("6"), 120),
         DetectedLeg("b", KALSHI_NO, Side.BUY, "KXNBAGAME-26NOV25LALBOS-LAL NO",
                     parse_price("0.45"), parse_qty(size), parse_price("0.45"),
                     parse_qty("20.5"), 870)))


def send(ledger: Ledger, execution_id: str, leg: str, instrument: Instrument, side: Side,
         price: str, qty: str, fills: list[tuple[str, str]], state: LegState) -> None:
    """An intent, its fills (price, qty) and its final state."""
    client_id = f"{execution_id}-{leg}"
    ledger.record_intent(Intent(client_id, execution_id, PAIR, "nba:LAL@BOS", leg, instrument,
                                side, parse_price(price), parse_qty(qty), TimeInForce.IOC))
    order_id = f"order-{client_id}"
    for n, (fill_price, fill_qty) in enumerate(fills):
        ledger.record_fill(Fill(instrument.venue, f"{client_id}-t{n}", order_id, client_id,
                                instrument, side, parse_price(fill_price), parse_qty(fill_qty),
                                parse_money("0.01"), True, FillStatus.CONFIRMED, T0))
    ledger.record_leg(Leg(client_id, instrument, side, parse_price(price), parse_qty(qty),
                          TimeInForce.IOC, state=state, venue_order_id=order_id))


def build_ledger(path) -> Ledger:
    """Four executions: hedged, one-sided and unwound, expired (nothing sent), denied."""
    ledger = Ledger.open(path, mode="paper", clock_ms=Clock())
    ledger.record_attempt(start("x-hedged"), detection())
    send(ledger, "x-hedged", "a", POLY_YES, Side.BUY, "0.44", "10",
         [("0.43", "6"), ("0.44", "4")], LegState.FILLED)
    send(ledger, "x-hedged", "b", KALSHI_NO, Side.BUY, "0.45", "10", [("0.45", "10")],
         LegState.FILLED)
    ledger.add_realised_pnl("x-hedged", parse_money("0.456789"), "hedged pair")
    ledger.finish_execution("x-hedged", "hedged", "both legs filled 10")

    ledger.record_attempt(start("x-onesided"), detection(fill_pct=35))
    send(ledger, "x-onesided", "a", POLY_YES, Side.BUY, "0.44", "10", [("0.44", "10")],
         LegState.FILLED)
    # A failed (ghost) trade never counts toward what a leg filled.
    send(ledger, "x-onesided", "b", KALSHI_NO, Side.BUY, "0.45", "10", [("0.45", "4")],
         LegState.CANCELLED)
    ledger.record_fill(Fill(Venue.KALSHI, "ghost", "order-x-onesided-b", "x-onesided-b",
                            KALSHI_NO, Side.BUY, parse_price("0.45"), parse_qty("1"),
                            parse_money("0"), True, FillStatus.FAILED, T0))
    send(ledger, "x-onesided", "unwind-1", POLY_YES, Side.SELL, "0.41", "6",
         [("0.42", "5"), ("0.41", "1")], LegState.FILLED)
    ledger.record_unwind("x-onesided", POLY_YES, parse_qty("6"), parse_money("-0.123457"),
                         "leg b filled 4 of 10")
    ledger.finish_execution("x-onesided", "unwound", "one-sided: sold 6")

    ledger.record_aborted(start("x-expired"), detection(), "expired", "edge gone on re-price")
    ledger.record_aborted(start("x-denied"), None, "denied", "event_busy")
    return ledger


def test_trade_log_view(tmp_path):
    with build_ledger(tmp_path / "ledger-paper.sqlite3") as ledger:
        entries = {e.record.start.execution_id: e for e in ledger.trade_log()}
        assert [e.record.start.execution_id for e in ledger.trade_log()] == [
            "x-denied", "x-expired", "x-onesided", "x-hedged"]  # newest first
        hedged = entries["x-hedged"]
        assert hedged.mode is LedgerMode.PAPER and hedged.detection == detection()
        a, b = hedged.legs
        assert (a.leg, a.filled_qty, a.fee) == ("a", parse_qty("10"), parse_money("0.02"))
        assert a.avg_price == parse_price("0.434")  # (6 x 0.43 + 4 x 0.44) / 10
        assert b.avg_price == parse_price("0.45") and b.state is LegState.FILLED
        assert hedged_qty(hedged) == parse_qty("10")
        assert hedged.record.realised_pnl == parse_money("0.456789")
        assert fill_outcome(hedged) is FillOutcome.FILLED

        one = entries["x-onesided"]
        assert [leg.filled_qty for leg in one.legs] == [parse_qty("10"), parse_qty("4")]
        assert hedged_qty(one) == parse_qty("4")
        # Expected profit scaled to the 4 contracts actually hedged (rounded down).
        assert expected_pnl_hedged(one) == parse_money("0.182715")
        (repair,) = one.repairs
        assert (repair.leg, repair.side, repair.filled_qty) == ("unwind-1", Side.SELL,
                                                                parse_qty("6"))
        assert repair.avg_price == 418_333  # 2.51 / 6 = 0.4183333..., sells round down
        (unwind,) = one.unwinds
        assert unwind.pnl == parse_money("-0.123457") and unwind.reason == "leg b filled 4 of 10"
        assert one.record.realised_pnl == parse_money("-0.123457")  # booked once, by the unwind
        assert [p.reason for p in one.pnl_entries] == ["unwind: leg b filled 4 of 10"]
        assert fill_outcome(one) is FillOutcome.PARTIAL

        expired = entries["x-expired"]
        assert expired.record.outcome == "expired" and expired.legs == ()
        assert expired.record.finished_ms is not None and fill_outcome(expired) is None
        denied = entries["x-denied"]
        assert denied.detection is None and denied.record.reason == "event_busy"
        # Daily loss sees the unwind's loss and the hedged profit, nothing else.
        assert ledger.daily_realised_pnl(datetime.date(2026, 11, 25)) == parse_money("0.333332")


def test_ledger_refuses_bad_detail(tmp_path):
    with build_ledger(tmp_path / "l.sqlite3") as ledger:
        with pytest.raises(LedgerError, match="x-hedged"):
            ledger.record_detection("x-hedged", detection())  # already has one
        with pytest.raises(LedgerError, match="no execution x-nope"):
            ledger.record_unwind("x-nope", POLY_YES, parse_qty("1"), parse_money("-1"), "r")
        with pytest.raises(LedgerError, match="size 0"):
            ledger.record_unwind("x-hedged", POLY_YES, parse_qty("0"), parse_money("-1"), "r")
        with pytest.raises(LedgerError, match="x-expired"):
            ledger.record_aborted(start("x-expired"), None, "expired", "again")
        ledger.record_execution(start("x-late"))
        ledger.record_detection("x-late", detection())
        late = ledger.trade_log(limit=1)[0]
        assert late.record.start.execution_id == "x-late" and late.detection == detection()
        assert late.record.outcome is None


def test_version_3_file_migrates_and_reads(tmp_path):
    path = tmp_path / "v3.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=3) == 3
    conn.execute("INSERT INTO meta (key, value) VALUES ('mode', 'live')")
    conn.execute("INSERT INTO executions (execution_id, pair_id, kind, size, predicted_edge, "
                 "fill_probability, confidence, started_ms, outcome, reason, finished_ms) "
                 "VALUES ('x-old', 'p', 'poly_same_market', 5000000, 10000, 900000, 1000000, "
                 f"{T0}, 'hedged', '', {T0})")
    conn.close()
    assert Ledger.read_mode(path) is LedgerMode.LIVE
    with Ledger.open(path, mode="live") as ledger:
        assert schema_version(ledger._conn) == LATEST_VERSION == MIGRATIONS[-1][0]
        (old,) = ledger.trade_log()
        assert old.detection is None and old.legs == () and old.unwinds == ()
        row = next(csv.DictReader(io.StringIO(_csv([old]))))
        assert row["expected_pnl"] == "0.010000" and row["edge_bps"] == ""


def _csv(entries) -> str:
    out = io.StringIO()
    write_csv(entries, out)
    return out.getvalue()


def test_csv_columns_and_exact_money(tmp_path):
    with build_ledger(tmp_path / "l.sqlite3") as ledger:
        text = _csv(ledger.trade_log())
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    rows = {r["execution_id"]: r for r in reader}
    assert len(rows) == 4
    h = rows["x-hedged"]
    assert h["time_utc"] == "2026-11-25T12:00:01.000Z" and h["mode"] == "paper"
    assert (h["pair_id"], h["kind"], h["outcome"]) == (PAIR, "poly_yes_kalshi_no", "hedged")
    assert (h["size"], h["hedged_qty"], h["edge_bps"]) == ("10.000000", "10.000000", "487")
    assert (h["expected_pnl"], h["expected_pnl_hedged"], h["realised_pnl"]) == (
        "0.456789", "0.456789", "0.456789")
    assert (h["confidence"], h["fill_probability_pct"], h["slippage_bps"]) == ("medium", "72",
                                                                                "45")
    assert h["combined_cost"] == "0.954322"
    assert (h["leg_a_venue"], h["leg_a_instrument"], h["leg_a_outcome"]) == (
        "polymarket", "0xcond:tok-lal", "Lakers")
    assert (h["leg_a_limit_price"], h["leg_a_best_price"], h["leg_a_size_at_best"]) == (
        "0.440000", "0.430000", "6.000000")
    assert (h["leg_a_filled_qty"], h["leg_a_avg_price"], h["leg_a_fee"]) == (
        "10.000000", "0.434000", "0.020000")
    assert (h["leg_b_outcome"], h["leg_b_size_at_best"], h["leg_b_book_age_ms"]) == (
        "KXNBAGAME-26NOV25LALBOS-LAL NO", "20.500000", "870")
    o = rows["x-onesided"]
    assert (o["hedged_qty"], o["expected_pnl_hedged"], o["realised_pnl"]) == (
        "4.000000", "0.182715", "-0.123457")
    assert (o["unwind_qty"], o["unwind_pnl"], o["unwind_reason"]) == (
        "6.000000", "-0.123457", "leg b filled 4 of 10")
    assert "unwind-1 sell polymarket:0xcond:tok-lal 6.000000/6.000000 @ 0.418333" \
        in o["repair_orders"]
    e = rows["x-expired"]
    assert (e["outcome"], e["reason"], e["leg_a_filled_qty"]) == (
        "expired", "edge gone on re-price", "")
    assert e["leg_a_limit_price"] == "0.440000"  # as detected, though never sent
    d = rows["x-denied"]
    assert (d["outcome"], d["reason"], d["confidence"], d["leg_a_venue"]) == (
        "denied", "event_busy", "", "")


def test_calibration_from_the_ledger(tmp_path):
    with build_ledger(tmp_path / "l.sqlite3") as ledger:
        attempts = calibration_attempts(ledger.trade_log())
    # Only executions that sent orders: the hedged one (72%, filled), the one-sided (35%).
    assert sorted((a.predicted_pct, a.outcome) for a in attempts) == [
        (35, FillOutcome.PARTIAL), (72, FillOutcome.FILLED)]
    report = calibration(attempts)
    assert report.attempts == 2 and len(report.buckets) == 2


def test_ledger_path_and_since():
    assert str(ledger_path("/var/arb", "live")) == "/var/arb/ledger-live.sqlite3"
    assert ledger_path("s", LedgerMode.PAPER).name == "ledger-paper.sqlite3"
    with pytest.raises(ValueError):
        ledger_path("s", "demo")
    now = datetime.datetime(2026, 11, 25, 14, tzinfo=datetime.UTC)
    assert parse_since("2h", now) == T0
    assert parse_since("2026-11-25T12:00", now) == T0
    assert parse_since("2026-11-25T13:00+01:00", now) == T0
    assert parse_since("1d", now) == T0 - 22 * 3600 * 1000
    with pytest.raises(ValueError, match="--since 'yesterday'"):
        parse_since("yesterday", now)


def test_arb_trades_command(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    build_ledger(ledger_path(state, "paper")).close()
    assert main(["trades", "--state-dir", str(state), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["execution_id"] for r in rows] == ["x-denied", "x-expired", "x-onesided",
                                                 "x-hedged"]
    assert main(["trades", "--ledger", str(ledger_path(state, "paper")), "--csv", "--limit",
                 "1"]) == 0
    assert [r["execution_id"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] \
        == ["x-denied"]
    assert main(["trades", "--state-dir", str(state), "--csv", "--since",
                 "2026-11-25T12:00:03"]) == 0
    since = [r["execution_id"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    assert since == ["x-denied", "x-expired", "x-onesided"]

    assert main(["trades", "--state-dir", str(state)]) == 0
    table = capsys.readouterr().out
    assert "Trade log (paper, 4 executions" in table
    for text in ("hedged", "unwound", "expired", "event_busy", "Lakers", "filled 10.00 @ 0.4340",
                 "-$0.13", "unwind 6.00"):
        assert text in table, text

    assert main(["trades", "--state-dir", str(state), "--calibration"]) == 0
    report = capsys.readouterr().out
    assert report.startswith("paper ledger") and "calibration over 2 attempts" in report


def test_arb_trades_errors(tmp_path, capsys):
    assert main(["trades", "--state-dir", str(tmp_path), "--mode", "live"]) == 1
    err = capsys.readouterr().err
    assert "no live ledger at" in err and "ledger-live.sqlite3" in err
    assert not (tmp_path / "ledger-live.sqlite3").exists()  # never created by a reader
    assert main(["trades", "--ledger", str(tmp_path / "missing.sqlite3")]) == 1
    assert "no ledger at" in capsys.readouterr().err
    (tmp_path / "junk.sqlite3").write_text("not a database")
    assert main(["trades", "--ledger", str(tmp_path / "junk.sqlite3")]) == 1
    assert "junk.sqlite3" in capsys.readouterr().err
    assert main(["trades", "--state-dir", str(tmp_path), "--since", "soon"]) == 2
    assert "--since 'soon'" in capsys.readouterr().err
    assert main(["trades", "--state-dir", str(tmp_path), "--limit", "0"]) == 2
    # The file names its own mode: a live ledger read through --ledger says live.
    live = tmp_path / "ledger-live.sqlite3"
    Ledger.open(live, mode="live").close()
    assert main(["trades", "--ledger", str(live), "--calibration"]) == 0
    assert capsys.readouterr().out.startswith("live ledger")
    with pytest.raises(SystemExit):
        main(["trades", "--csv", "--calibration"])
