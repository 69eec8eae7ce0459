"""``arb positions``: what the ledger holds per venue and instrument, hedged pairs grouped.

Positions are derived from the ledger's fills (never a stored number). Two instruments are a
hedge when one execution bought them as its two entry legs (the intents say which pair and leg a
fill belongs to); each such set is matched for the smaller quantity, and whatever is left over
is unhedged exposure and called out. Cost basis is the size-weighted buy price plus fees.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

import attrs
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from arb.domain import Instrument, Side
from arb.ledger import Ledger, LedgerError, LedgerMode
from arb.money import SCALE, Money, Qty, Round, div_round, format_fixed, mul
from arb.tradelog import add_ledger_arguments, open_existing_ledger
from arb.venues.protocol import FillStatus

NAME = "positions"
HELP = "positions per venue and instrument from the ledger's fills; hedged pairs and exposure"


@attrs.frozen
class Holding:
    instrument: Instrument
    qty: Qty
    """Net contracts (buys minus sells), provisional fills included."""
    provisional_qty: Qty
    """The part of ``qty`` from fills the venue has not confirmed yet."""
    avg_cost: Money | None
    """Per contract, buy prices plus fees, rounded up; None without buys."""


@attrs.frozen
class HedgedPair:
    pair_id: str
    legs: tuple[Instrument, Instrument]
    qty: Qty
    locked_pnl: Money
    """$1 per hedged contract minus both legs' cost basis (rounded down)."""


@attrs.frozen
class Exposure:
    instrument: Instrument
    qty: Qty
    pair_id: str | None
    cost: Money
    """Dollars at risk: quantity times cost basis (rounded up); zero for a short."""


@attrs.frozen
class PositionReport:
    mode: LedgerMode
    holdings: tuple[Holding, ...]
    hedged: tuple[HedgedPair, ...]
    unhedged: tuple[Exposure, ...]

    @property
    def unhedged_cost(self) -> Money:
        return Money(sum(e.cost for e in self.unhedged))


def build_report(ledger: Ledger) -> PositionReport:
    """Holdings, hedged pairs and unhedged exposure from the ledger's fills and intents."""
    held = ledger.positions()
    confirmed = ledger.positions(confirmed_only=True)
    bought_qty: dict[Instrument, int] = defaultdict(int)
    bought_cost: dict[Instrument, int] = defaultdict(int)
    entry_legs: dict[str, dict[str, Instrument]] = defaultdict(dict)
    pair_of_execution: dict[str, str] = {}
    pair_of_instrument: dict[Instrument, str] = {}
    for fill in ledger.fills():
        if fill.status is FillStatus.FAILED:
            continue
        if fill.side is Side.BUY:
            bought_qty[fill.instrument] += fill.qty
            bought_cost[fill.instrument] += fill.price * fill.qty + fill.fee * SCALE
        stored = ledger.intent(fill.client_id) if fill.client_id else None
        if stored is None:
            continue
        intent = stored.intent
        pair_of_instrument.setdefault(fill.instrument, intent.pair_id)
        if intent.leg in ("a", "b"):
            entry_legs[intent.execution_id][intent.leg] = intent.instrument
            pair_of_execution[intent.execution_id] = intent.pair_id
    avg_cost = {inst: Money(div_round(bought_cost[inst], bought_qty[inst], Round.UP))
                for inst in bought_qty}
    holdings = tuple(Holding(inst, qty, Qty(qty - confirmed.get(inst, 0)), avg_cost.get(inst))
                     for inst, qty in sorted(held.items(), key=lambda kv: str(kv[0])))
    remaining = dict(held)
    hedges: dict[tuple[str, Instrument, Instrument], int] = defaultdict(int)
    sets = sorted({(pair_of_execution[x], *sorted((legs["a"], legs["b"]), key=str))
                   for x, legs in entry_legs.items() if len(legs) == 2}, key=str)
    for pair_id, a, b in sets:
        qty = min(remaining.get(a, 0), remaining.get(b, 0))
        if qty > 0:
            hedges[(pair_id, a, b)] += qty
            remaining[a] -= qty
            remaining[b] -= qty
    hedged = tuple(
        HedgedPair(pair_id, (a, b), Qty(qty), Money(
            qty - mul(avg_cost.get(a, 0), qty, Round.UP) - mul(avg_cost.get(b, 0), qty, Round.UP)))
        for (pair_id, a, b), qty in hedges.items())
    unhedged = tuple(
        Exposure(inst, Qty(qty), pair_of_instrument.get(inst),
                 Money(mul(avg_cost.get(inst, 0), qty, Round.UP) if qty > 0 else 0))
        for inst, qty in sorted(remaining.items(), key=lambda kv: str(kv[0])) if qty)
    return PositionReport(ledger.mode, holdings, hedged, unhedged)


def _fixed(value: int | None) -> str | None:
    return None if value is None else format_fixed(value, 6)


def report_dict(report: PositionReport) -> dict:
    """JSON-ready; sizes and money as exact decimal strings."""
    def instrument(inst: Instrument) -> dict[str, str]:
        return {"venue": inst.venue.value, "market": inst.market, "token": inst.token}

    return {
        "mode": report.mode.value,
        "holdings": [instrument(h.instrument) | {
            "qty": _fixed(h.qty), "provisional_qty": _fixed(h.provisional_qty),
            "avg_cost": _fixed(h.avg_cost)} for h in report.holdings],
        "hedged": [{"pair_id": h.pair_id, "legs": [instrument(i) for i in h.legs],
                    "qty": _fixed(h.qty), "locked_pnl": _fixed(h.locked_pnl)}
                   for h in report.hedged],
        "unhedged": [instrument(e.instrument) | {
            "pair_id": e.pair_id, "qty": _fixed(e.qty), "cost": _fixed(e.cost)}
            for e in report.unhedged],
        "unhedged_cost": _fixed(report.unhedged_cost),
    }


def _qty(value: int) -> str:
    return format_fixed(value, 2, Round.DOWN if value >= 0 else Round.UP)


def _usd(value: int) -> str:
    return ("-$" if value < 0 else "$") + format_fixed(
        abs(value), 2, Round.UP if value < 0 else Round.DOWN)


def render(report: PositionReport) -> Group:
    holdings = Table(title=f"Positions ({report.mode.value} ledger, from fills)")
    for column in ("venue", "market", "token", "qty", "provisional", "avg cost"):
        holdings.add_column(column, overflow="fold")
    for h in report.holdings:
        holdings.add_row(h.instrument.venue.value, h.instrument.market, h.instrument.token,
                         _qty(h.qty), _qty(h.provisional_qty) if h.provisional_qty else "",
                         "-" if h.avg_cost is None else format_fixed(h.avg_cost, 4, Round.UP))
    hedged = Table(title="Hedged pairs")
    for column in ("pair", "legs", "contracts", "locked P&L"):
        hedged.add_column(column, overflow="fold")
    for h in report.hedged:
        hedged.add_row(h.pair_id, "\n".join(str(i) for i in h.legs), _qty(h.qty),
                       _usd(h.locked_pnl))
    parts: list = [holdings, hedged]
    if report.unhedged:
        exposure = Table(title=Text("UNHEDGED EXPOSURE", style="bold red"))
        for column in ("instrument", "pair", "qty", "at risk"):
            exposure.add_column(column, overflow="fold")
        for e in report.unhedged:
            exposure.add_row(str(e.instrument), e.pair_id or "-", _qty(e.qty), _usd(e.cost))
        parts += [exposure, Text(f"unhedged exposure {_usd(report.unhedged_cost)} on "
                                 f"{len(report.unhedged)} instruments", style="bold red")]
    else:
        parts.append(Text("no unhedged exposure", style="green"))
    return Group(*parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_ledger_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    try:
        with open_existing_ledger(args) as ledger:
            report = build_report(ledger)
    except LedgerError as exc:
        print(f"arb positions: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report_dict(report), indent=1))
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
        console.print(render(report))
    return 0
