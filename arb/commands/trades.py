"""``arb trades``: the trade log from the ledger, as a table, as CSV, or as a calibration report."""
from __future__ import annotations

import argparse
import datetime
import sys

from rich.console import Console

from arb.ledger import LedgerError
from arb.quality import calibration
from arb.tradelog import (
    add_ledger_arguments,
    calibration_attempts,
    open_existing_ledger,
    parse_since,
    render_table,
    write_csv,
)

PIPE_WIDTH = 220
"""Table width when the output is not a terminal (a pager or a file), so columns stay readable."""
NAME = "trades"
HELP = "trade log: executions, legs, fills, unwinds and aborted attempts from the ledger"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_ledger_arguments(parser)
    parser.add_argument("--since", default=None,
                        help="only executions started since: 30m, 6h, 2d or an ISO date/time")
    parser.add_argument("--limit", type=int, default=200, help="most executions (default 200)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true",
                        help="CSV for spreadsheets and awk (stable header, exact decimals)")
    output.add_argument("--calibration", action="store_true",
                        help="predicted fill probability against what filled")


def run(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        print(f"arb trades: --limit must be positive, got {args.limit}", file=sys.stderr)
        return 2
    try:
        since_ms = 0 if args.since is None else parse_since(
            args.since, datetime.datetime.now(datetime.UTC))
    except ValueError as exc:
        print(f"arb trades: {exc}", file=sys.stderr)
        return 2
    try:
        with open_existing_ledger(args) as ledger:
            entries = ledger.trade_log(since_ms=since_ms, limit=args.limit)
            mode = ledger.mode
    except LedgerError as exc:
        print(f"arb trades: {exc}", file=sys.stderr)
        return 1
    if args.csv:
        write_csv(entries, sys.stdout)
    elif args.calibration:
        print(f"{mode.value} ledger")
        print(calibration(calibration_attempts(entries)).text())
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=PIPE_WIDTH)
        console.print(render_table(entries, mode))
    return 0
