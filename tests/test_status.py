from rich.console import Console

from arb.cli import main
from arb.dashboard import render
from arb.status import (
    FeedRow,
    OpportunityRow,
    PairRow,
    Quote,
    RiskRow,
    StatusSnapshot,
    from_json,
    prometheus_text,
    read_snapshot,
    to_json,
    write_snapshot,
)


def _snapshot() -> StatusSnapshot:
    return StatusSnapshot(
        name="nba", mode="paper", target="sim", ts="2026-11-25T14:00:00Z", uptime_s=12.5,
        pairs=(PairRow(
            pair_id="KXNBAGAME-26JAN08HOUSAC-SAC|0xabc", league="nba", title="HOU @ SAC",
            start_time="2026-01-09T03:00:00Z", state="watching",
            quotes=(Quote("kalshi", "SAC YES", 450_000, 120_000_000, 0.4),
                    Quote("polymarket", "Rockets", 530_000, 80_000_000, 2.7)),
            best_kind="kalshi_yes_poly_no", combined_cost=963_112, net_edge_bps=50,
            position="10 hedged"),),
        feeds=(FeedRow("kalshi", "live", 2, 10, 5321, 1, 0, 10),
               FeedRow("polymarket", "stale", 1, 20, 811, 0, 0, 18)),
        risk=RiskRow("REDUCING", "reconciliation drift", 150_000_000, -3_250_000, 7, 3,
                     (("event_exposure", 2), ("stale_book", 1))),
        opportunities=(OpportunityRow("14:00:01", "KXNBAGAME-26JAN08HOUSAC-SAC|0xabc",
                                      "kalshi_yes_poly_no", 61, "executed", "", "High"),),
        open_pairs=(("KXNBAGAME-26JAN08HOUSAC-SAC|0xabc", 10_000_000, 120_000),),
        alerts=("14:00:02 one-sided fill on KXNBAGAME-26JAN08HOUSAC-SAC",),
        realised_pnl=1_234_567, latency_us=(("p50", 14.0), ("p99", 95.5)),
        counters=(("detections_event", 40), ("detections_scan", 2)),
    )


def test_snapshot_json_round_trip_keeps_money_exact():
    snap = _snapshot()
    text = to_json(snap)
    assert '"realised_pnl":"1.234567"' in text
    assert from_json(text) == snap


def test_atomic_write_and_read(tmp_path):
    assert read_snapshot(tmp_path) is None
    write_snapshot(tmp_path, _snapshot())
    assert read_snapshot(tmp_path) == _snapshot()
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_prometheus_text():
    text = prometheus_text(_snapshot())
    assert 'arb_breaker_state{state="REDUCING"} 1' in text
    assert 'arb_breaker_state{state="HALTED"} 0' in text
    assert "arb_realised_pnl_dollars 1.234567" in text
    assert 'arb_feed_reconnects_total{venue="kalshi"} 1' in text
    assert 'arb_risk_denials_total{reason="event_exposure"} 2' in text
    assert "arb_detections_scan_total 2" in text


def test_dashboard_renders_every_panel_headless():
    console = Console(record=True, width=200, color_system=None)
    console.print(render(_snapshot()))
    out = console.export_text()
    for expected in ("breaker REDUCING", "reconciliation drift", "HOU @ SAC", "Rockets",
                     "0.5300x80.00", "(2.7s)", "0.9632", "kalshi_yes_poly_no", "executed",
                     "one-sided fill", "event_exposure 2", "p99 96us", "$1.23", "Feeds",
                     "stale", "locked $0.12"):
        assert expected in out, expected


def test_status_command(tmp_path, capsys):
    assert main(["status", "--state-dir", str(tmp_path)]) == 1
    assert "no status snapshot" in capsys.readouterr().err
    write_snapshot(tmp_path, _snapshot())
    assert main(["status", "--state-dir", str(tmp_path), "--json"]) == 0
    assert from_json(capsys.readouterr().out) == _snapshot()


def test_a_render_bug_is_shown_not_raised(monkeypatch):
    import arb.dashboard as dashboard

    def broken(snap):
        raise ValueError("boom")

    monkeypatch.setattr(dashboard, "_pairs_table", broken)
    console = Console(record=True, width=120, color_system=None)
    console.print(dashboard.safe_render(_snapshot()))
    assert "dashboard render failed: ValueError: boom" in console.export_text()
