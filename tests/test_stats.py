"""The periodic stats block: content of the text and dict, bounded latency percentiles."""
from __future__ import annotations

import json

import pytest

from arb.edge import Kind
from arb.money import parse_money
from arb.stats import FeedStats, LatencyRing, StatsInput, counts, render_stats, stats_dict


def sample() -> StatsInput:
    ring = LatencyRing(capacity=100)
    for micros in range(1, 101):
        ring.add(float(micros))
    return StatsInput(
        window_s=60.0, detections={"event": 10, "scan": 2},
        filtered={"stale_book": 2, "edge_below_min": 3}, approvals=4,
        denials={"event_busy": 1}, trades={"hedged": 2, "unwound": 1},
        realised_pnl=parse_money("1.234567"), daily_pnl=parse_money("-0.505"),
        latency_us=ring.percentiles(), latency_samples=len(ring),
        stranded_exposure=parse_money("0"), unwound_exposure=parse_money("6.00"),
        unwind_pnl=parse_money("-0.123457"),
        feeds=(FeedStats("kalshi", True, 12, 10, 3400, 1),
               FeedStats("polymarket", False, 24, 24, 9100, 3)))


def test_stats_block_text():
    text = render_stats(sample())
    lines = text.splitlines()
    assert lines[0] == "stats over the last 60s"
    assert "  detections: 12 (event 10, scan 2)" in lines
    assert "  filtered: 5 (edge_below_min 3, stale_book 2)" in lines
    assert "  risk: 4 approved, 1 (event_busy 1) denied" in lines
    assert "  trades: 3 (hedged 2, unwound 1)" in lines
    # Gains rounded down, losses rounded up in magnitude: the block never flatters.
    assert "  P&L: realised $1.23 in window, -$0.51 today" in lines
    assert "  detection latency: p50 50us p90 90us p99 99us (100 samples)" in lines
    assert "  books with data: kalshi 10/12, polymarket 24/24" in lines
    assert "  exposure: stranded $0.00, unwound $6.00 (unwind P&L -$0.13)" in lines
    assert lines[-1] == ("  feeds: kalshi connected, subscribed 12, messages 3400, reconnects 1; "
                         "polymarket DISCONNECTED, subscribed 24, messages 9100, reconnects 3")


def test_stats_dict_is_exact_and_json_ready():
    d = stats_dict(sample())
    assert json.loads(json.dumps(d)) == d
    assert d["detections"] == {"event": 10, "scan": 2}
    assert d["filtered"] == {"edge_below_min": 3, "stale_book": 2}
    assert d["realised_pnl"] == "1.234567" and d["daily_pnl"] == "-0.505000"
    assert d["unwind_pnl"] == "-0.123457" and d["unwound_exposure"] == "6.000000"
    assert d["latency_us"] == {"p50": 50.0, "p90": 90.0, "p99": 99.0}
    assert d["books_with_data"] == {"kalshi": 10, "polymarket": 24}
    assert d["feeds"][1] == {"venue": "polymarket", "connected": False, "subscribed": 24,
                             "books_with_data": 24, "messages": 9100, "reconnects": 3}


def test_empty_block():
    text = render_stats(StatsInput(window_s=30.0))
    assert "detections: 0" in text and "detection latency: no samples" in text
    assert "feeds: none" in text and "books with data: no feeds" in text


def test_latency_ring_is_bounded_and_keeps_the_newest():
    ring = LatencyRing(capacity=10)
    assert ring.percentiles() == ()
    for micros in range(1000):
        ring.add(float(micros))
    assert len(ring) == 10
    assert ring.percentiles((1, 50, 100)) == (("p1", 990.0), ("p50", 994.0), ("p100", 999.0))
    ring.clear()
    assert len(ring) == 0 and ring.percentiles() == ()
    ring.add(7.5)
    assert ring.percentiles((50, 99)) == (("p50", 7.5), ("p99", 7.5))
    with pytest.raises(ValueError, match="capacity"):
        LatencyRing(capacity=0)
    with pytest.raises(ValueError, match="non-negative"):
        ring.add(-1.0)
    with pytest.raises(ValueError, match="non-negative"):
        ring.add(float("nan"))
    with pytest.raises(ValueError, match="percentile"):
        ring.percentiles((0,))


def test_counts_are_validated_and_values_stay_frozen():
    assert counts({"b": 1, "a": 2}) == (("a", 2), ("b", 1))
    assert counts({Kind.POLY_SAME_MARKET: 3}) == (("poly_same_market", 3),)  # enums by value
    with pytest.raises(ValueError, match="'scan'"):
        StatsInput(window_s=1.0, detections={"scan": -1})
    a, b = StatsInput(window_s=1.0, trades={"hedged": 1}), StatsInput(1.0, trades=[("hedged", 1)])
    assert a == b and hash(a) == hash(b)
