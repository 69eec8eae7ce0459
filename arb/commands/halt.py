"""``arb halt``: stop trading now and keep it stopped until ``arb resume``.

Writes HALTED (with the reason) into the state directory's ledger(s); a running bot sees it
within about a second and takes its stop path (cancel entries, cancel every open order,
reconcile). A bot started later restores HALTED and does not trade.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from actors.control import halt
from arb.ledger import Ledger, LedgerError, LedgerMode
from arb.tradelog import ledger_path

NAME = "halt"
HELP = "halt trading (a running bot stops within ~1 s); only `arb resume` clears it"


def add_state_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=Path("state"),
                        help="the bot's state directory (default: ./state)")
    parser.add_argument("--mode", choices=[m.value for m in LedgerMode], default=None,
                        help="only this mode's ledger (default: every ledger in the state dir)")


def ledgers_of(args: argparse.Namespace) -> list[Path]:
    """The ledger files the arguments select; LedgerError when there is none."""
    modes = [LedgerMode(args.mode)] if args.mode else list(LedgerMode)
    paths = [ledger_path(args.state_dir, m) for m in modes]
    found = [p for p in paths if p.is_file()]
    if not found:
        raise LedgerError(f"no ledger in {args.state_dir} (looked for "
                          f"{', '.join(p.name for p in paths)})")
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_state_arguments(parser)
    parser.add_argument("--reason", default="", help="why (recorded in the breaker history)")


def run(args: argparse.Namespace) -> int:
    try:
        for path in ledgers_of(args):
            with Ledger.open(path, mode=Ledger.read_mode(path)) as ledger:
                halt(ledger, args.reason)
            print(f"halted {path}")
    except LedgerError as err:
        print(f"arb halt: {err}", file=sys.stderr)
        return 2
    return 0
