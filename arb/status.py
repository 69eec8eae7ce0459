# Design note: the status snapshot.
#
# The running bot publishes one immutable snapshot about once a second; the dashboard, `arb
# status`, the Prometheus endpoint and the demo summary all read that snapshot and nothing else,
# so no viewer can ever block or slow trading (viewers read a file or a loopback endpoint; the
# bot never waits for them). The snapshot is written atomically (temp file + rename) so a reader
# never sees half a file. Money travels as exact decimal strings, never floats.
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import attrs

from arb.money import format_fixed, parse_money

STATUS_FILE = "status.json"


@attrs.frozen
class Quote:
    """One leg's best ask on one venue, with the size there and the book's age."""

    venue: str
    label: str
    """What is bought: e.g. "Lakers" (Polymarket token) or "KXNBAGAME-…-LAL NO"."""
    ask: int | None
    size: int | None
    age_s: float | None


@attrs.frozen
class PairRow:
    pair_id: str
    league: str
    title: str
    start_time: str
    state: str
    """watching | executing | disabled | blacklisted | stale."""
    quotes: tuple[Quote, ...]
    best_kind: str | None
    combined_cost: int | None
    """Per contract, all-in (prices + fees), micro-dollars."""
    net_edge_bps: int | None
    position: str = ""


@attrs.frozen
class FeedRow:
    venue: str
    state: str
    epoch: int
    subscribed: int
    messages: int
    reconnects: int
    gaps: int
    books_with_data: int


@attrs.frozen
class OpportunityRow:
    ts: str
    pair_id: str
    kind: str
    edge_bps: int
    action: str
    """executed | filtered | denied | expired | paper."""
    reason: str
    confidence: str


@attrs.frozen
class RiskRow:
    state: str
    reason: str
    exposure: int
    daily_realised: int
    approvals: int
    denials: int
    top_denials: tuple[tuple[str, int], ...]


@attrs.frozen
class StatusSnapshot:
    name: str
    mode: str
    target: str
    ts: str
    uptime_s: float
    pairs: tuple[PairRow, ...] = ()
    feeds: tuple[FeedRow, ...] = ()
    risk: RiskRow | None = None
    opportunities: tuple[OpportunityRow, ...] = ()
    open_pairs: tuple[tuple[str, int, int], ...] = ()
    """(pair id, hedged contracts, locked-in profit micro-dollars)."""
    alerts: tuple[str, ...] = ()
    realised_pnl: int = 0
    latency_us: tuple[tuple[str, float], ...] = ()
    """Named percentiles of tick-to-decision latency, e.g. (("p50", 12.0), ("p99", 80.0))."""
    counters: tuple[tuple[str, int], ...] = ()


_MONEY_FIELDS = {"ask", "size", "combined_cost", "exposure", "daily_realised", "realised_pnl"}


def _encode(value: Any, key: str = "") -> Any:
    if attrs.has(type(value)):
        return {f.name: _encode(getattr(value, f.name), f.name) for f in attrs.fields(type(value))}
    if isinstance(value, tuple):
        return [_encode(v, key) for v in value]
    if key in _MONEY_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return format_fixed(value, 6)
    return value


def to_json(snapshot: StatusSnapshot) -> str:
    return json.dumps(_encode(snapshot), separators=(",", ":"))


def _decode(cls: type, data: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in attrs.fields(attrs.resolve_types(cls)):
        if f.name not in data:
            continue
        raw = data[f.name]
        kwargs[f.name] = _decode_value(f.type, raw, f.name)
    return cls(**kwargs)


_ROW_TYPES = {"pairs": PairRow, "feeds": FeedRow, "opportunities": OpportunityRow,
              "quotes": Quote}


def _decode_value(typ: Any, raw: Any, name: str) -> Any:
    if raw is None:
        return None
    if name in _ROW_TYPES:
        return tuple(_decode(_ROW_TYPES[name], r) for r in raw)
    if name == "risk":
        return _decode(RiskRow, raw)
    if name in _MONEY_FIELDS:
        return parse_money(raw, what=name)
    if isinstance(raw, list):
        return tuple(tuple(x) if isinstance(x, list) else x for x in raw)
    return raw


def from_json(text: str) -> StatusSnapshot:
    return _decode(StatusSnapshot, json.loads(text))


def write_snapshot(state_dir: Path, snapshot: StatusSnapshot) -> Path:
    """Atomically replace ``state_dir/status.json``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / STATUS_FILE
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".status-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        fh.write(to_json(snapshot))
    os.replace(tmp, target)
    return target


def read_snapshot(state_dir: Path) -> StatusSnapshot | None:
    path = Path(state_dir) / STATUS_FILE
    try:
        return from_json(path.read_text())
    except FileNotFoundError:
        return None


def prometheus_text(snapshot: StatusSnapshot) -> str:
    """Render the snapshot as Prometheus exposition text."""
    lines = [
        "# TYPE arb_uptime_seconds gauge", f"arb_uptime_seconds {snapshot.uptime_s:.3f}",
        "# TYPE arb_realised_pnl_dollars gauge",
        f"arb_realised_pnl_dollars {format_fixed(snapshot.realised_pnl, 6)}",
        "# TYPE arb_pairs gauge", f"arb_pairs {len(snapshot.pairs)}",
    ]
    if snapshot.risk is not None:
        lines += ["# TYPE arb_exposure_dollars gauge",
                  f"arb_exposure_dollars {format_fixed(snapshot.risk.exposure, 6)}",
                  "# TYPE arb_breaker_state gauge"]
        for state in ("ACTIVE", "REDUCING", "HALTED"):
            lines.append(f'arb_breaker_state{{state="{state}"}} '
                         f"{1 if snapshot.risk.state.upper() == state else 0}")
        lines.append("# TYPE arb_risk_denials_total counter")
        for reason, count in snapshot.risk.top_denials:
            lines.append(f'arb_risk_denials_total{{reason="{_label(reason)}"}} {count}')
    lines.append("# TYPE arb_feed_messages_total counter")
    for feed in snapshot.feeds:
        lines.append(f'arb_feed_messages_total{{venue="{feed.venue}"}} {feed.messages}')
    lines.append("# TYPE arb_feed_reconnects_total counter")
    for feed in snapshot.feeds:
        lines.append(f'arb_feed_reconnects_total{{venue="{feed.venue}"}} {feed.reconnects}')
    lines.append("# TYPE arb_tick_to_decision_microseconds gauge")
    for name, value in snapshot.latency_us:
        lines.append(f'arb_tick_to_decision_microseconds{{quantile="{name}"}} {value:.1f}')
    for name, value in snapshot.counters:
        metric = f"arb_{_label(name)}_total"
        lines += [f"# TYPE {metric} counter", f"{metric} {value}"]
    return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower())
