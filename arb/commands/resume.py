"""``arb resume``: clear HALTED (the only way), after checking ``arb reconcile``."""
from __future__ import annotations

import argparse
import sys

from actors.control import resume
from arb.commands.halt import add_state_arguments, ledgers_of
from arb.ledger import Ledger, LedgerError

NAME = "resume"
HELP = "clear a HALTED breaker so the bot may trade again (check `arb reconcile` first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_state_arguments(parser)
    parser.add_argument("--note", default="", help="recorded in the breaker history")


def run(args: argparse.Namespace) -> int:
    try:
        for path in ledgers_of(args):
            with Ledger.open(path, mode=Ledger.read_mode(path)) as ledger:
                previous = resume(ledger, args.note)
            was = previous.value if previous is not None else "never set"
            print(f"resumed {path} (was {was}); start the bot again to trade")
    except LedgerError as err:
        print(f"arb resume: {err}", file=sys.stderr)
        return 2
    return 0
