"""The trade log as the operator reads it: one row per execution, as a table or as CSV.

Rows come from ``Ledger.trade_log`` (what was expected, legs as detected, what each leg filled,
repairs and their P&L). The CSV header is stable (``CSV_COLUMNS``), money, prices and sizes are
exact decimal strings with six places, and an empty cell means "not known". This module also
builds the ``Detection`` the market actor records, names the ledger file of a state directory
(``ledger_path``) and turns the log into calibration attempts for ``arb.quality``.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from rich.table import Table

from arb.domain import Instrument, Venue
from arb.edge import Opportunity
from arb.ledger import (
    DetectedLeg,
    Detection,
    Ledger,
    LedgerError,
    LedgerMode,
    LegOutcome,
    TradeLogEntry,
)
from arb.money import SCALE, Money, Qty, Round, format_fixed
from arb.pairs import MarketPair
from arb.quality import Assessment, Attempt, FillOutcome

ENTRY_LEGS = ("a", "b")
_LEG_FIELDS = ("venue", "instrument", "outcome", "limit_price", "best_price", "size_at_best",
               "book_age_ms", "filled_qty", "avg_price", "fee")
CSV_COLUMNS = (
    "time_utc", "execution_id", "mode", "pair_id", "kind", "outcome", "reason", "size",
    "hedged_qty", "edge_bps", "expected_pnl", "expected_pnl_hedged", "realised_pnl",
    "confidence", "fill_probability_pct", "slippage_bps", "combined_cost",
    *(f"leg_{leg}_{name}" for leg in ENTRY_LEGS for name in _LEG_FIELDS),
    "repair_orders", "unwind_qty", "unwind_pnl", "unwind_reason",
)
"""The CSV header; append only, so scripts reading columns by name or position keep working."""


def ledger_path(state_dir: str | Path, mode: LedgerMode | str) -> Path:
    """The ledger file of ``mode`` in a state directory: ``DIR/ledger-<mode>.sqlite3``."""
    return Path(state_dir) / f"ledger-{LedgerMode(mode).value}.sqlite3"


def add_ledger_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ledger PATH`` or ``--state-dir DIR --mode paper|live``, for read-only commands."""
    parser.add_argument("--ledger", type=Path, default=None, help="ledger file to read")
    parser.add_argument("--state-dir", type=Path, default=Path("state"),
                        help="the bot's state directory (default: ./state)")
    parser.add_argument("--mode", choices=[m.value for m in LedgerMode], default="paper",
                        help="which ledger of the state directory (default: paper)")


def open_existing_ledger(args: argparse.Namespace) -> Ledger:
    """Open the ledger the arguments name, in the mode its file records; never create one.

    Raises:
        LedgerError: no ledger there, or it cannot be opened (named in the message).
    """
    path = args.ledger or ledger_path(args.state_dir, args.mode)
    if args.ledger is None and not path.is_file():
        raise LedgerError(f"no {args.mode} ledger at {path} (state dir {args.state_dir})")
    return Ledger.open(path, mode=Ledger.read_mode(path))


def outcome_label(pair: MarketPair, instrument: Instrument) -> str:
    """What an instrument of ``pair`` pays on, for people: the Polymarket outcome label, or
    the Kalshi ticker with YES/NO."""
    if instrument.venue is Venue.POLYMARKET:
        if instrument.token == pair.poly.yes_token:
            return pair.poly.yes_label
        if instrument.token == pair.poly.no_token:
            return pair.poly.no_label
        raise ValueError(f"pair {pair.pair_id}: token {instrument.token} is not one of its own")
    return f"{instrument.market} {instrument.token.upper()}"


def detection(pair: MarketPair, opportunity: Opportunity, assessment: Assessment) -> Detection:
    """The ledger's record of a detection (``Ledger.record_attempt`` / ``record_aborted``)."""
    legs = tuple(
        DetectedLeg(name, leg.instrument, leg.side, outcome_label(pair, leg.instrument),
                    leg.limit_price, leg.qty, leg.best_price, leg.size_at_best,
                    round(age * 1000))
        for name, leg, age in zip(ENTRY_LEGS, opportunity.legs, assessment.book_ages_s,
                                  strict=True))
    return Detection(assessment.profit, assessment.edge_bps, assessment.combined_cost,
                     str(assessment.confidence), assessment.fill_probability_pct,
                     assessment.slippage_bps, legs)


def hedged_qty(entry: TradeLogEntry) -> Qty:
    """Contracts held on both entry legs (the smaller fill); zero unless both legs were sent."""
    legs = [leg for leg in entry.legs if leg.leg in ENTRY_LEGS]
    if len(legs) != 2:
        return Qty(0)
    return Qty(min(leg.filled_qty for leg in legs))


def expected_pnl_hedged(entry: TradeLogEntry) -> Money | None:
    """The detection's expected profit scaled to the size actually hedged (rounded down)."""
    if entry.detection is None or entry.record.start.size <= 0:
        return None
    return Money(entry.detection.expected_pnl * hedged_qty(entry) // entry.record.start.size)


def fill_outcome(entry: TradeLogEntry) -> FillOutcome | None:
    """FILLED when both entry legs filled the whole size, PARTIAL when anything filled, NONE
    when nothing did; None when no order was sent (aborted, expired, denied)."""
    legs = [leg for leg in entry.legs if leg.leg in ENTRY_LEGS]
    if not legs:
        return None
    size = entry.record.start.size
    if len(legs) == 2 and all(leg.filled_qty >= size for leg in legs):
        return FillOutcome.FILLED
    if any(leg.filled_qty for leg in legs):
        return FillOutcome.PARTIAL
    return FillOutcome.NONE


def calibration_attempts(entries: Iterable[TradeLogEntry]) -> list[Attempt]:
    """Every execution that sent orders, with its predicted fill probability."""
    out = []
    for entry in entries:
        outcome = fill_outcome(entry)
        if outcome is None:
            continue
        if entry.detection is not None:
            predicted = entry.detection.fill_probability_pct
        else:
            predicted = entry.record.start.fill_probability * 100 // SCALE
        out.append(Attempt(max(0, min(100, predicted)), outcome))
    return out


def parse_since(text: str, now: datetime.datetime) -> int:
    """``--since``: ``30m``, ``6h``, ``2d`` before ``now``, or an ISO date / time (UTC unless
    it says otherwise); returns epoch milliseconds.

    Raises:
        ValueError: naming the text and the accepted forms.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        start = now - datetime.timedelta(seconds=int(match.group(1)) * unit)
    else:
        try:
            start = datetime.datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"--since {text!r}: expected 30m, 6h, 2d, 2026-11-25 or "
                             f"2026-11-25T14:00") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=datetime.UTC)
    return int(start.timestamp() * 1000)


def _time(ts_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ts_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fixed(value: int | None) -> str:
    return "" if value is None else format_fixed(value, 6)


def _repairs(entry: TradeLogEntry) -> str:
    return "; ".join(f"{r.leg} {r.side.value} {r.instrument} {_fixed(r.filled_qty)}/"
                     f"{_fixed(r.qty)} @ {_fixed(r.avg_price)} ({r.state.value})"
                     for r in entry.repairs)


def csv_row(entry: TradeLogEntry) -> dict[str, str]:
    """One CSV row (``CSV_COLUMNS`` keys) for one execution."""
    record, det = entry.record, entry.detection
    row = {
        "time_utc": _time(record.started_ms), "execution_id": record.start.execution_id,
        "mode": entry.mode.value, "pair_id": record.start.pair_id, "kind": record.start.kind,
        "outcome": record.outcome or "in_flight", "reason": record.reason,
        "size": _fixed(record.start.size), "hedged_qty": _fixed(hedged_qty(entry)),
        "edge_bps": "" if det is None else str(det.edge_bps),
        "expected_pnl": _fixed(det.expected_pnl if det else record.start.predicted_edge),
        "expected_pnl_hedged": _fixed(expected_pnl_hedged(entry)),
        "realised_pnl": _fixed(record.realised_pnl),
        "confidence": "" if det is None else det.confidence,
        "fill_probability_pct": "" if det is None else str(det.fill_probability_pct),
        "slippage_bps": "" if det is None else str(det.slippage_bps),
        "combined_cost": "" if det is None else _fixed(det.combined_cost),
        "repair_orders": _repairs(entry),
        "unwind_qty": _fixed(sum(u.qty for u in entry.unwinds)) if entry.unwinds else "",
        "unwind_pnl": _fixed(sum(u.pnl for u in entry.unwinds)) if entry.unwinds else "",
        "unwind_reason": "; ".join(u.reason for u in entry.unwinds),
    }
    detected = {leg.leg: leg for leg in det.legs} if det else {}
    actual: dict[str, LegOutcome] = {leg.leg: leg for leg in entry.legs}
    for name in ENTRY_LEGS:
        d, a = detected.get(name), actual.get(name)
        instrument = d.instrument if d else (a.instrument if a else None)
        values = {
            "venue": "" if instrument is None else instrument.venue.value,
            "instrument": "" if instrument is None else f"{instrument.market}:{instrument.token}",
            "outcome": "" if d is None else d.outcome_label,
            "limit_price": _fixed(d.limit_price if d else (a.limit_price if a else None)),
            "best_price": _fixed(d.best_price if d else None),
            "size_at_best": _fixed(d.size_at_best if d else None),
            "book_age_ms": "" if d is None else str(d.book_age_ms),
            "filled_qty": _fixed(a.filled_qty if a else None),
            "avg_price": _fixed(a.avg_price if a else None),
            "fee": _fixed(a.fee if a else None),
        }
        row.update({f"leg_{name}_{key}": value for key, value in values.items()})
    return row


def write_csv(entries: Iterable[TradeLogEntry], out: TextIO) -> int:
    """Write the header and one row per execution; returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for entry in entries:
        writer.writerow(csv_row(entry))
        count += 1
    return count


def _usd(value: int | None) -> str:
    return "-" if value is None else ("-$" if value < 0 else "$") + format_fixed(
        abs(value), 2, Round.DOWN if value >= 0 else Round.UP)


def _leg_cell(entry: TradeLogEntry, name: str) -> str:
    d = next((leg for leg in entry.detection.legs if leg.leg == name), None) \
        if entry.detection else None
    a = next((leg for leg in entry.legs if leg.leg == name), None)
    if d is None and a is None:
        return "-"
    instrument = d.instrument if d else a.instrument  # type: ignore[union-attr]
    parts = [f"{instrument.venue.value} {d.outcome_label if d else instrument.token}"]
    if d is not None:
        parts.append(f"lim {format_fixed(d.limit_price, 4, Round.UP)} "
                     f"(best {format_fixed(d.best_price, 4, Round.UP)} x "
                     f"{format_fixed(d.size_at_best, 2, Round.DOWN)}, {d.book_age_ms}ms)")
    if a is not None:
        avg = "-" if a.avg_price is None else format_fixed(a.avg_price, 4, Round.UP)
        parts.append(f"filled {format_fixed(a.filled_qty, 2, Round.DOWN)} @ {avg}")
    return "\n".join(parts)


def render_table(entries: list[TradeLogEntry], mode: LedgerMode) -> Table:
    """A readable table of the trade log (rich)."""
    table = Table(title=f"Trade log ({mode.value}, {len(entries)} executions, newest first)")
    for column in ("time (UTC)", "pair", "kind", "outcome", "edge bp", "size", "expected",
                   "realised", "conf", "cost/ct", "leg a", "leg b", "reason / repairs"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        record, det = entry.record, entry.detection
        notes = [record.reason] if record.reason else []
        notes += [f"unwind {format_fixed(u.qty, 2, Round.DOWN)} {u.instrument}: "
                  f"{_usd(u.pnl)} ({u.reason})" for u in entry.unwinds]
        if entry.repairs:
            notes.append(_repairs(entry))
        table.add_row(
            _time(record.started_ms)[:19], record.start.pair_id, record.start.kind,
            record.outcome or "in flight", "-" if det is None else str(det.edge_bps),
            f"{format_fixed(hedged_qty(entry), 2, Round.DOWN)}/"
            f"{format_fixed(record.start.size, 2, Round.DOWN)}",
            _usd(det.expected_pnl if det else record.start.predicted_edge),
            _usd(record.realised_pnl), "-" if det is None else det.confidence,
            "-" if det is None else format_fixed(det.combined_cost, 4, Round.UP),
            _leg_cell(entry, "a"), _leg_cell(entry, "b"), "\n".join(notes))
    return table

