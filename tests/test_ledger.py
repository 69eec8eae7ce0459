"""The SQLite ledger on real files: idempotent fills, derived positions, durability, migrations."""
from __future__ import annotations

import datetime
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.domain import Instrument, Outcome, Side, TimeInForce, Venue
from arb.ledger import (
    LATEST_VERSION,
    MIGRATIONS,
    ExecutionStart,
    FillConflict,
    Intent,
    Ledger,
    LedgerDamaged,
    LedgerError,
    LedgerMode,
    LedgerModeMismatch,
    RiskRecord,
    RiskState,
    migrate,
    schema_version,
)
from arb.money import Money, Price, Qty, parse_money, parse_price, parse_qty
from arb.orders import (
    Cancelled,
    Executed,
    FillApplied,
    FillVoided,
    LegState,
    Sent,
    TimedOut,
    new_leg,
    transition,
)
from arb.venues.protocol import Fill, FillStatus, OrderResult, OrderStatus

REPO = Path(__file__).resolve().parents[1]
KALSHI_NO = Instrument.kalshi("KXNBAGAME-26NOV25LALBOS-LAL", Outcome.NO)
POLY_YES = Instrument.polymarket("0xcond", "71321045679252212594626385532706912750332728571942")
DAY = datetime.date(2026, 11, 25)
NOON_MS = int(datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC).timestamp() * 1000)


class Clock:
    def __init__(self) -> None:
        self.now = NOON_MS

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "paper.sqlite", mode="paper", clock_ms=Clock()) as opened:
        yield opened


def intent(client_id: str = "c-1", instrument: Instrument = KALSHI_NO,
           venue_order_id: str | None = None) -> Intent:
    return Intent(client_id, "x-1", "KXNBAGAME-26NOV25LALBOS-LAL|0xcond", "nba:LALBOS", "a",
                  instrument, Side.BUY, parse_price("0.45"), parse_qty("10"), TimeInForce.IOC,
                  venue_order_id)


def fill(trade_id: str, qty: str = "10", *, instrument: Instrument = KALSHI_NO,
         side: Side = Side.BUY, status: FillStatus = FillStatus.CONFIRMED,
         order: str = "o-1", client_id: str | None = "c-1", price: str = "0.45") -> Fill:
    return Fill(instrument.venue, trade_id, order, client_id, instrument, side,
                parse_price(price), parse_qty(qty), parse_money("0.18"), True, status, NOON_MS)


# --- intents and order history -----------------------------------------------------------

def test_intent_is_pending_and_unresolved_until_final(ledger):
    ledger.record_intent(intent())
    stored = ledger.intent("c-1")
    assert stored.state is LegState.PENDING and stored.intent == intent()
    assert [s.intent.client_id for s in ledger.unresolved_intents()] == ["c-1"]

    leg = new_leg("c-1", KALSHI_NO, Side.BUY, parse_price("0.45"), parse_qty("10"),
                  TimeInForce.IOC)
    leg = transition(leg, Sent()).leg
    ledger.record_leg(leg)
    result = OrderResult("o-1", "c-1", OrderStatus.CANCELLED, parse_qty("4"),
                         parse_price("0.44"), parse_money("0.07"))
    leg = transition(leg, Cancelled("o-1", parse_qty("4"), "ioc remainder")).leg
    ledger.record_leg(leg, result=result)
    assert ledger.unresolved_intents() == []
    stored = ledger.intent("c-1")
    assert stored.state is LegState.CANCELLED and stored.venue_order_id == "o-1"
    assert stored.reported_qty == parse_qty("4")
    history = ledger.order_history("c-1")
    assert [h.state for h in history] == [LegState.PENDING, LegState.SENT, LegState.CANCELLED]
    assert history[-1].filled_qty == parse_qty("4")
    assert history[-1].avg_price == parse_price("0.44")
    assert history[-1].detail == "ioc remainder"


def test_duplicate_intent_refused(ledger):
    ledger.record_intent(intent())
    with pytest.raises(LedgerError, match="c-1"):
        ledger.record_intent(intent())


def test_final_state_cannot_become_live_again(ledger):
    ledger.record_intent(intent())
    leg = new_leg("c-1", KALSHI_NO, Side.BUY, parse_price("0.45"), parse_qty("10"),
                  TimeInForce.IOC)
    sent = transition(leg, Sent()).leg
    done = transition(sent, Cancelled("o-1", Qty(0))).leg
    ledger.record_leg(done)
    with pytest.raises(LedgerError, match="final"):
        ledger.record_leg(transition(sent, TimedOut("stale copy")).leg)
    assert ledger.intent("c-1").state is LegState.CANCELLED


def test_leg_rebuilt_from_intent_and_fills_after_restart(tmp_path):
    path = tmp_path / "live.sqlite"
    with Ledger.open(path, mode=LedgerMode.LIVE) as first:
        first.record_intent(intent("p-1", POLY_YES, venue_order_id="0xhash"))
        leg = transition(new_leg("p-1", POLY_YES, Side.BUY, parse_price("0.45"),
                                 parse_qty("10"), TimeInForce.IOC, "0xhash"), Sent()).leg
        first.record_leg(leg)
        # Polymarket fills carry no client id: the ledger links them by the order hash.
        first.record_fill(fill("t-1", "6", instrument=POLY_YES, order="0xhash", client_id=None,
                               status=FillStatus.PROVISIONAL))
    with Ledger.open(path, mode="live") as second:
        rebuilt = second.leg("p-1")
        assert rebuilt.state is LegState.SENT and rebuilt.venue_order_id == "0xhash"
        assert rebuilt.booked_qty == parse_qty("6") and rebuilt.provisional_qty == parse_qty("6")
        assert second.fills()[0].client_id == "p-1"
        # The rebuilt leg keeps working with the state machine: the same fill is a no-op.
        again = transition(rebuilt, FillApplied("t-1", parse_qty("6"), parse_price("0.45"),
                                                parse_money("0.18"), True))
        assert again.accepted and again.leg == rebuilt


def test_restarted_leg_still_voids_a_ghost_fill_out_of_the_venue_report(tmp_path):
    path = tmp_path / "live.sqlite"
    with Ledger.open(path, mode="live") as first:
        first.record_intent(intent("p-1", POLY_YES, venue_order_id="0xhash"))
        leg = new_leg("p-1", POLY_YES, Side.BUY, parse_price("0.45"), parse_qty("10"),
                      TimeInForce.IOC, "0xhash")
        for event in (Sent(), Executed("0xhash", parse_qty("10"), ("t-1",))):
            leg = transition(leg, event).leg
            first.record_leg(leg)
    with Ledger.open(path, mode="live") as second:
        rebuilt = second.leg("p-1")
        assert rebuilt.reported_trade_ids == {"t-1"} and rebuilt.filled_qty == parse_qty("10")
        step = transition(rebuilt, FillApplied("t-1", parse_qty("10"), parse_price("0.45"),
                                               Money(0), True))
        voided = transition(step.leg, FillVoided("t-1")).leg
        assert voided.state is LegState.CANCELLED and voided.filled_qty == 0


# --- fills and positions -----------------------------------------------------------------

def test_fills_are_idempotent_and_positions_derived(ledger):
    assert ledger.record_fill(fill("t-1", "4")) is True
    assert ledger.record_fill(fill("t-1", "4")) is False
    assert ledger.record_fill(fill("t-2", "6")) is True
    assert ledger.positions() == {KALSHI_NO: parse_qty("10")}
    ledger.record_fill(fill("t-3", "2.5", side=Side.SELL, order="o-2"))
    assert ledger.positions() == {KALSHI_NO: parse_qty("7.5")}
    ledger.record_fill(fill("t-4", "7.5", side=Side.SELL, order="o-2"))
    assert ledger.positions() == {}  # flat instruments are left out
    assert len(ledger.fills()) == 4


def test_provisional_then_confirmed(ledger):
    assert ledger.record_fill(fill("t-1", instrument=POLY_YES, status=FillStatus.PROVISIONAL))
    assert ledger.positions() == {POLY_YES: parse_qty("10")}
    assert ledger.positions(confirmed_only=True) == {}
    assert ledger.record_fill(fill("t-1", instrument=POLY_YES, status=FillStatus.CONFIRMED))
    assert ledger.positions(confirmed_only=True) == {POLY_YES: parse_qty("10")}
    # A late MATCHED re-emission after CONFIRMED is stale and changes nothing.
    assert not ledger.record_fill(fill("t-1", instrument=POLY_YES,
                                       status=FillStatus.PROVISIONAL))
    assert ledger.fills()[0].status is FillStatus.CONFIRMED


def test_ghost_fill_voided_and_position_reverted(ledger):
    ledger.record_fill(fill("t-1", "10", instrument=POLY_YES, status=FillStatus.PROVISIONAL))
    ledger.record_fill(fill("t-2", "5", instrument=POLY_YES, status=FillStatus.CONFIRMED))
    assert ledger.positions(Venue.POLYMARKET) == {POLY_YES: parse_qty("15")}
    assert ledger.record_fill(fill("t-1", "10", instrument=POLY_YES, status=FillStatus.FAILED))
    assert ledger.positions() == {POLY_YES: parse_qty("5")}
    assert ledger.void_fill(Venue.POLYMARKET, "t-1") is False  # already failed
    # The failed trade is kept (both trade ids stay visible) but never counts again.
    assert not ledger.record_fill(fill("t-1", "10", instrument=POLY_YES,
                                       status=FillStatus.PROVISIONAL))
    assert ledger.positions() == {POLY_YES: parse_qty("5")}
    with pytest.raises(FillConflict, match="t-1"):
        ledger.record_fill(fill("t-1", "10", instrument=POLY_YES, status=FillStatus.CONFIRMED))


def test_void_fill_direct_and_confirmed_fill_cannot_fail(ledger):
    ledger.record_fill(fill("t-1", instrument=POLY_YES, status=FillStatus.PROVISIONAL))
    assert ledger.void_fill(Venue.POLYMARKET, "t-1") is True
    assert ledger.positions() == {}
    assert ledger.void_fill(Venue.POLYMARKET, "never-seen") is False
    ledger.record_fill(fill("t-2", instrument=POLY_YES))
    with pytest.raises(FillConflict, match="confirmed"):
        ledger.void_fill(Venue.POLYMARKET, "t-2")
    with pytest.raises(FillConflict, match="t-2"):
        ledger.record_fill(fill("t-2", instrument=POLY_YES, status=FillStatus.FAILED))
    assert ledger.positions() == {POLY_YES: parse_qty("10")}


def test_same_trade_id_on_the_other_venue_is_another_trade(ledger):
    ledger.record_fill(fill("t-1"))
    assert ledger.record_fill(fill("t-1", instrument=POLY_YES))
    assert ledger.positions() == {KALSHI_NO: parse_qty("10"), POLY_YES: parse_qty("10")}


def test_trade_reported_with_different_facts_is_a_conflict(ledger):
    ledger.record_fill(fill("t-1", "4"))
    with pytest.raises(FillConflict, match="qty 4000000 -> 5000000"):
        ledger.record_fill(fill("t-1", "5"))
    assert ledger.positions() == {KALSHI_NO: parse_qty("4")}


def test_bad_fill_rejected_with_its_name(ledger):
    bad = attrs.evolve(fill("t-9"), venue=Venue.POLYMARKET)
    with pytest.raises(LedgerError, match="t-9"):
        ledger.record_fill(bad)


# --- trade log, P&L, risk state, alerts ----------------------------------------------------

def test_trade_log_and_daily_realised_pnl(ledger):
    start = ExecutionStart("x-1", "pair", "poly_yes_kalshi_no", parse_qty("10"),
                           parse_money("0.35"), 900_000, 800_000)
    ledger.record_execution(start)
    ledger.add_realised_pnl("x-1", parse_money("-0.12"), "unwind of leg a at 0.43")
    ledger.add_realised_pnl("x-1", parse_money("0.02"), "residual pair settled")
    ledger.finish_execution("x-1", "unwound", "leg b filled zero")
    [record] = ledger.executions()
    assert record.start == start and record.outcome == "unwound"
    assert record.realised_pnl == parse_money("-0.10") and record.finished_ms is not None
    assert ledger.daily_realised_pnl(DAY) == parse_money("-0.10")
    assert ledger.daily_realised_pnl(DAY + datetime.timedelta(days=1)) == 0
    with pytest.raises(LedgerError, match="x-404"):
        ledger.add_realised_pnl("x-404", Money(1), "nothing")


def test_risk_state_persisted_across_reopen_with_history(tmp_path):
    path = tmp_path / "paper.sqlite"
    with Ledger.open(path, mode="paper") as first:
        assert first.risk_state() is None
        first.save_risk_state(RiskRecord(RiskState.ACTIVE, "start", DAY, Money(0)))
        first.save_risk_state(RiskRecord(RiskState.ACTIVE, "loss", DAY, parse_money("3.5"), 1, 2))
        first.set_risk_state(RiskState.HALTED, "daily loss 50.00 reached")
    with Ledger.open(path, mode="paper") as second:
        assert second.risk_state() == RiskRecord(RiskState.HALTED, "daily loss 50.00 reached",
                                                 DAY, parse_money("3.5"), 1, 2)
        history = [(h.old, h.new, h.reason) for h in second.breaker_history()]
        assert history == [(None, RiskState.ACTIVE, "start"),
                           (RiskState.ACTIVE, RiskState.HALTED, "daily loss 50.00 reached")]


def test_alerts_recorded(ledger):
    ledger.record_alert("critical", "ghost_fill", "trade t-1 failed after MATCHED",
                        venue=Venue.POLYMARKET, market="0xcond")
    [alert] = ledger.alerts()
    assert (alert.severity, alert.kind, alert.venue, alert.market) == (
        "critical", "ghost_fill", Venue.POLYMARKET, "0xcond")


# --- modes, damage, migrations ---------------------------------------------------------

def test_paper_and_live_files_refuse_the_other_mode(tmp_path):
    Ledger.open(tmp_path / "paper.sqlite", mode="paper").close()
    Ledger.open(tmp_path / "live.sqlite", mode="live").close()
    with pytest.raises(LedgerModeMismatch, match="paper ledger"):
        Ledger.open(tmp_path / "paper.sqlite", mode="live")
    with pytest.raises(LedgerModeMismatch, match="live ledger"):
        Ledger.open(tmp_path / "live.sqlite", mode="paper")
    with pytest.raises(ValueError):
        Ledger.open(tmp_path / "x.sqlite", mode="demo")


def test_file_is_wal_with_full_sync(ledger):
    conn = sqlite3.connect(ledger.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert ledger._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_garbage_file_refused_as_damaged(tmp_path):
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not a database, it is a note" * 200)
    with pytest.raises(LedgerDamaged, match="damaged.*rebuild"):
        Ledger.open(path, mode="paper")
    assert path.read_bytes().startswith(b"this is not a database")


def test_corrupted_pages_refused_as_damaged(tmp_path):
    path = tmp_path / "paper.sqlite"
    with Ledger.open(path, mode="paper") as ledger:
        for i in range(300):
            ledger.record_fill(fill(f"t-{i}", "1"))
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    # Overwrite the middle of the file (index and table pages) with noise.
    for offset in range(2 * page, len(data) - page, 97):
        data[offset] = (data[offset] * 31 + 7) % 256
    path.write_bytes(bytes(data))
    with pytest.raises(LedgerDamaged, match="damaged"):
        Ledger.open(path, mode="paper")


def test_migrate_old_version_file_keeps_its_data(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO meta (key, value) VALUES ('mode', 'live')")
    conn.execute(
        "INSERT INTO fills (venue, trade_id, venue_order_id, client_id, market, token, side, "
        "price, qty, fee, is_taker, status, ts_ms, recorded_ms, updated_ms) VALUES "
        "('kalshi', 't-1', 'o-1', 'c-1', ?, 'no', 'buy', 450000, 3000000, 0, 1, 'confirmed', "
        "1, 1, 1)", (KALSHI_NO.market,))
    conn.execute(
        "INSERT INTO intents (client_id, execution_id, pair_id, event_key, leg, venue, market, "
        "token, side, price, qty, tif, venue_order_id, state, reported_qty, created_ms, "
        "updated_ms) VALUES ('c-1', 'x-1', 'pair', 'event', 'a', 'kalshi', ?, 'no', 'buy', "
        "450000, 10000000, 'ioc', 'o-1', 'cancelled', 3000000, 1, 1)", (KALSHI_NO.market,))
    conn.close()
    with Ledger.open(path, mode="live") as ledger:
        assert schema_version(ledger._conn) == LATEST_VERSION == MIGRATIONS[-1][0]
        assert ledger.positions() == {KALSHI_NO: parse_qty("3")}
        # Columns added by migration 3 have their defaults on old rows.
        old = ledger.leg("c-1")
        assert old.state is LegState.CANCELLED and old.reported_trade_ids == frozenset()
        assert old.filled_qty == old.booked_qty == parse_qty("3")
        # Tables added by migration 2 work.
        ledger.record_alert("info", "migrated", "from version 1")
        assert ledger.publish_exposure("nba", "total", parse_money("5"))


def test_migrations_are_numbered_one_by_one():
    assert [m[0] for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_migrate_version_4_settlement_markers_into_their_table(tmp_path):
    """Version 4 files kept settled instruments as ``settled:<venue>:<market>:<token>`` meta
    rows (JSON values); migration 5 moves them into ``settlements`` and leaves no marker."""
    path = tmp_path / "v4.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=4) == 4
    conn.execute("INSERT INTO meta (key, value) VALUES ('mode', 'paper')")
    for trade_id, instrument in (("t-1", KALSHI_NO), ("t-2", POLY_YES)):
        conn.execute(
            "INSERT INTO fills (venue, trade_id, venue_order_id, client_id, market, token, side, "
            "price, qty, fee, is_taker, status, ts_ms, recorded_ms, updated_ms) VALUES "
            "(?, ?, 'o-1', NULL, ?, ?, 'buy', 450000, 3000000, 0, 1, 'confirmed', 1, 1, 1)",
            (instrument.venue.value, trade_id, instrument.market, instrument.token))
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        (f"settled:kalshi:{KALSHI_NO.market}:no",
         '{"qty": 3000000, "reason": "market ended: payout", "settled_ms": 1764072000123}'))
    conn.close()
    with Ledger.open(path, mode="paper") as ledger:
        assert schema_version(ledger._conn) == 5
        [settled] = ledger.settlements()
        assert settled.instrument == KALSHI_NO and settled.qty == parse_qty("3")
        assert settled.reason == "market ended: payout" and settled.settled_ms == 1764072000123
        assert ledger.positions() == {POLY_YES: parse_qty("3")}
        assert ledger.positions(include_settled=True) == {KALSHI_NO: parse_qty("3"),
                                                          POLY_YES: parse_qty("3")}
        keys = [k for (k,) in ledger._conn.execute("SELECT key FROM meta ORDER BY key")]
        assert keys == ["mode"]
        assert ledger.record_settlement(KALSHI_NO, parse_qty("3"), "again") is False
        assert ledger.record_settlement(POLY_YES, parse_qty("3"), "resolved") is True
        assert [s.instrument for s in ledger.settlements()][0] == KALSHI_NO


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    Ledger.open(path, mode="paper").close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger.open(path, mode="paper")


# --- several processes on one account ------------------------------------------------------

def test_two_connections_share_account_wide_exposure(tmp_path):
    path = tmp_path / "live.sqlite"
    limit = parse_money("100")
    with Ledger.open(path, mode="live") as nba, Ledger.open(path, mode="live") as nfl:
        assert nba.publish_exposure("nba", "total", parse_money("60"), limit=limit)
        assert nfl.total_exposure("total") == parse_money("60")
        assert not nfl.publish_exposure("nfl", "total", parse_money("41"), limit=limit)
        assert nfl.publish_exposure("nfl", "total", parse_money("40"), limit=limit)
        assert nba.total_exposure("total") == limit
        # Decreases always go through; the freed room is visible to the other process.
        assert nba.publish_exposure("nba", "total", parse_money("10"), limit=limit)
        assert nfl.publish_exposure("nfl", "total", parse_money("90"), limit=limit)
        nba.clear_exposure("nba")
        assert nfl.total_exposure("total") == parse_money("90")


def test_concurrent_claims_never_exceed_the_limit(tmp_path):
    """Threads with their own connections race to claim room; the total never passes the cap."""
    path = tmp_path / "live.sqlite"
    Ledger.open(path, mode="live", synchronous="NORMAL").close()
    limit = parse_money("50")
    step = parse_money("1")

    def claim(process_id: str) -> None:
        with Ledger.open(path, mode="live", synchronous="NORMAL") as mine:
            amount = 0
            for _ in range(40):
                if mine.publish_exposure(process_id, "total", Money(amount + step), limit=limit):
                    amount += step

    threads = [threading.Thread(target=claim, args=(f"p{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Ledger.open(path, mode="live") as check:
        assert check.total_exposure("total") == limit


# --- durability: SIGKILL mid-transaction ---------------------------------------------------

CHILD = textwrap.dedent("""
    import sys
    from arb.domain import Instrument, Outcome, Side, TimeInForce
    from arb.ledger import Intent, Ledger
    from arb.money import parse_price, parse_qty
    from arb.venues.protocol import Fill, FillStatus, Venue

    inst = Instrument.kalshi("KXTEST-1", Outcome.YES)
    ledger = Ledger.open(sys.argv[1], mode="paper")
    i = 0
    while True:
        cid = f"c-{i}"
        ledger.record_intent(Intent(cid, f"x-{i}", "pair", "event", "a", inst, Side.BUY,
                                    parse_price("0.5"), parse_qty("1"), TimeInForce.IOC))
        print(cid, flush=True)
        ledger.record_fill(Fill(Venue.KALSHI, f"t-{i}", f"o-{i}", cid, inst, Side.BUY,
                                parse_price("0.5"), parse_qty("1"), 0, True,
                                FillStatus.CONFIRMED, 0))
        i += 1
""")


def test_intents_survive_sigkill_mid_transaction(tmp_path):
    path = tmp_path / "paper.sqlite"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                             env=env, text=True)
    returned = []
    assert child.stdout is not None
    for line in child.stdout:
        returned.append(line.strip())
        if len(returned) >= 150:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    returned.extend(line.strip() for line in child.stdout)  # ids printed before the kill
    assert child.returncode == -signal.SIGKILL

    with Ledger.open(path, mode="paper") as reopened:
        stored = {s.intent.client_id for s in reopened.unresolved_intents()}
        assert set(returned) <= stored, set(returned) - stored
        # Consistent: ids are a gapless prefix, every fill belongs to a recorded intent, and the
        # derived position equals the fills written.
        assert stored == {f"c-{i}" for i in range(len(stored))}
        fills = reopened.fills()
        assert {f.client_id for f in fills} <= stored
        assert len(fills) in (len(stored) - 1, len(stored))
        [(instrument, position)] = reopened.positions().items()
        assert position == parse_qty(str(len(fills)))
        assert reopened._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_price_and_qty_stay_integers_in_the_file(ledger):
    ledger.record_intent(intent())
    raw = ledger._conn.execute("SELECT typeof(price), typeof(qty) FROM intents").fetchone()
    assert raw == ("integer", "integer")
    assert ledger.intent("c-1").intent.price == Price(450_000)


# --- property: fills are idempotent and positions equal a reference model ------------------

fill_reports = st.lists(st.tuples(st.sampled_from(["t-1", "t-2", "t-3"]),
                                  st.sampled_from(list(FillStatus)),
                                  st.sampled_from([Side.BUY, Side.SELL])), max_size=20)


@settings(max_examples=60, deadline=None)
@given(reports=fill_reports)
def test_positions_equal_a_reference_model_under_random_fill_reports(reports):
    statuses: dict[str, FillStatus] = {}
    sides: dict[str, Side] = {}
    with tempfile.TemporaryDirectory() as tmp, \
            Ledger.open(Path(tmp) / "p.sqlite", mode="paper", synchronous="NORMAL") as ledger:
        for trade_id, status, side in reports:
            side = sides.setdefault(trade_id, side)  # a trade id keeps its facts
            report = fill(trade_id, "2", instrument=POLY_YES, side=side, status=status)
            old = statuses.get(trade_id)
            if old is None:
                expected_change, new = True, status
            elif old is status or status is FillStatus.PROVISIONAL:
                expected_change, new = False, old  # a repeat, or a stale re-emission
            elif old is FillStatus.PROVISIONAL:
                expected_change, new = True, status
            else:
                with pytest.raises(FillConflict):
                    ledger.record_fill(report)
                continue
            assert ledger.record_fill(report) is expected_change
            assert ledger.record_fill(report) is False  # the same report again: a no-op
            statuses[trade_id] = new
            net = sum((parse_qty("2") if sides[t] is Side.BUY else -parse_qty("2"))
                      for t, s in statuses.items() if s is not FillStatus.FAILED)
            assert ledger.positions() == ({POLY_YES: net} if net else {})
